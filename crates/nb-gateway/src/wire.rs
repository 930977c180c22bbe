//! What the two wire formats share: the translation each gives the request flow, and
//! JSON helpers.

use axum::response::Response;
use nb_core::{ChatRequest, ChatResponse, ChatStream};
use serde_json::Value;

use crate::Format;

/// One wire format's translation, for the request flow both endpoints share.
#[derive(Clone, Copy)]
pub(crate) struct Wire {
    pub(crate) format: Format,
    /// The request body as the router's request.
    pub(crate) parse: fn(&Value) -> Result<ChatRequest, String>,
    /// An answer as the format's response body (`id`, `model`, the call's report when
    /// the caller asked for it), serialized.
    pub(crate) render: fn(&ChatResponse, &str, &str, Option<Value>) -> Vec<u8>,
    /// A committed stream as the format's SSE response (`id`, `model`, the request).
    pub(crate) stream: fn(ChatStream, String, String, &Value) -> Response,
}

/// `body` as JSON bytes. (A response body of plain structs, strings and numbers always
/// serializes; should one ever fail, the caller gets an OpenAI-style error object rather
/// than a panic.)
pub(crate) fn to_json(body: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a response body did not serialize");
        br#"{"error":{"message":"the gateway could not write the answer","type":"server_error"}}"#
            .to_vec()
    })
}

/// The items of the array at `key` in `v`, numbered (none when it is absent).
pub(crate) fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// The strings of an array (other items skipped).
pub(crate) fn strings(a: &[Value]) -> Vec<String> {
    a.iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// What ends a stream in flight when the shutdown grace period runs out.
pub(crate) const SHUTTING_DOWN: &str = "the gateway is shutting down";

/// A broken stream's message for the caller: short, never the provider's own text
/// (that goes to the log).
pub(crate) fn stream_error_message(e: &nb_core::CallError) -> String {
    if let nb_core::CallError::Transport(t) = e {
        if t.detail == SHUTTING_DOWN {
            return format!("{SHUTTING_DOWN}: ask again");
        }
    }
    tracing::warn!(error = %e, "a stream broke after its first token");
    "the stream broke upstream after its first token".to_owned()
}

/// `stream`, ended by an error when `closing` turns true (the shutdown grace ran out).
pub(crate) fn until_closing(
    stream: ChatStream,
    closing: tokio::sync::watch::Receiver<bool>,
) -> ChatStream {
    use futures_util::StreamExt as _;
    Box::pin(futures_util::stream::unfold(
        Some((stream, closing)),
        |state| async move {
            let (mut s, mut rx) = state?;
            enum Next {
                Item(Option<<ChatStream as futures_util::Stream>::Item>),
                Closing,
                /// The gateway is gone: nothing will close the stream but itself.
                Orphaned,
            }
            let next = tokio::select! {
                item = s.next() => Next::Item(item),
                r = rx.wait_for(|c| *c) => if r.is_ok() { Next::Closing } else { Next::Orphaned },
            };
            let item = match next {
                Next::Item(item) => item,
                Next::Orphaned => s.next().await,
                Next::Closing => {
                    let e =
                        nb_core::CallError::transport(nb_core::TransportKind::Other, SHUTTING_DOWN);
                    return Some((Err(e), None));
                }
            };
            item.map(|i| (i, Some((s, rx))))
        },
    ))
}
