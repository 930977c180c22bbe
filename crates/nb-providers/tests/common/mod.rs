//! Helpers shared by the adapter tests.
#![allow(dead_code, unreachable_pub)]

use futures_util::StreamExt;
use nb_core::{CallError, ChatChunk, ChatStream};
use wiremock::ResponseTemplate;

/// The key every test uses; it must never show up in any output.
pub const KEY: &str = "sk-test-SECRET-4242";

/// An SSE body from `(event name, data)` pairs.
pub fn sse(events: &[(Option<&str>, &str)]) -> String {
    let mut s = String::new();
    for (name, data) in events {
        if let Some(n) = name {
            s.push_str(&format!("event: {n}\n"));
        }
        s.push_str(&format!("data: {data}\n\n"));
    }
    s
}

/// A 200 response carrying an SSE body.
pub fn sse_response(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/event-stream")
        .set_body_raw(body, "text/event-stream")
}

/// Drains a stream: every chunk, and the error it ended with, if any.
pub async fn drain(mut s: ChatStream) -> (Vec<ChatChunk>, Option<CallError>) {
    let mut chunks = Vec::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(c) => chunks.push(c),
            Err(e) => {
                assert!(s.next().await.is_none(), "a stream ends after its error");
                return (chunks, Some(e));
            }
        }
    }
    (chunks, None)
}

/// The text of the chunks.
pub fn text(chunks: &[ChatChunk]) -> String {
    chunks
        .iter()
        .filter_map(|c| match c {
            ChatChunk::Text { delta } => Some(delta.as_str()),
            _ => None,
        })
        .collect()
}

/// The `Api` facts of an error (looking through a mid-stream wrapper).
pub fn api(e: &CallError) -> &nb_core::ApiError {
    match e.root() {
        CallError::Api(a) => a,
        other => panic!("expected an Api error, got {other:?}"),
    }
}
