//! The vocabulary's behaviour: accumulation, the default stream, error facts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use futures_util::StreamExt;
use nb_core::*;

struct Fixed(ChatResponse);

#[async_trait]
impl Provider for Fixed {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        Ok(self.0.clone())
    }
}

#[tokio::test]
async fn default_stream_replays_the_whole_answer_and_collects_back_to_it() {
    let mut resp = ChatResponse::text("hello")
        .with_usage(Usage::new(3, 1))
        .with_model("m1");
    resp.tool_calls
        .push(ToolCall::from_raw(Some("c1".into()), "f", r#"{"a":1}"#));
    let p: std::sync::Arc<dyn Provider> = std::sync::Arc::new(Fixed(resp.clone()));
    let chunks: Vec<_> = p
        .stream(&ChatRequest::user("x"))
        .await
        .unwrap()
        .collect()
        .await;
    assert!(matches!(chunks[0], Ok(ChatChunk::Started { .. })));
    let back = collect(p.stream(&ChatRequest::user("x")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(back, resp);
}

#[tokio::test]
async fn a_stream_without_a_finish_reason_is_truncated_with_its_partial_text() {
    let s: ChatStream = Box::pin(futures_util::stream::iter(vec![
        Ok(ChatChunk::Text {
            delta: "par".into(),
        }),
        Ok(ChatChunk::Text {
            delta: "tial".into(),
        }),
    ]));
    let err = collect(s).await.unwrap_err();
    assert_eq!(err.root(), &CallError::Truncated);
    let partial = err.partial().unwrap();
    assert_eq!(partial.text, "partial");
    assert!(partial.is_committed());
}

#[test]
fn tool_call_deltas_are_joined_by_index_and_parsed_when_valid() {
    let mut acc = StreamAccumulator::default();
    for (i, id, name, args) in [
        (1, Some("b"), Some("g"), "{\"x\""),
        (0, Some("a"), Some("f"), "{}"),
        (1, None, None, ":2}"),
    ] {
        acc.push(&ChatChunk::ToolCall(ToolCallDelta {
            index: i,
            id: id.map(Into::into),
            name: name.map(Into::into),
            arguments: args.into(),
        }));
    }
    acc.push(&ChatChunk::Finish {
        reason: FinishReason::ToolCalls,
    });
    let r = acc.finish().unwrap();
    assert_eq!(r.tool_calls.len(), 2);
    assert_eq!(r.tool_calls[0].name, "f");
    assert_eq!(r.tool_calls[1].arguments_raw, "{\"x\":2}");
    assert_eq!(r.tool_calls[1].arguments, Some(serde_json::json!({"x": 2})));
}

#[test]
fn invalid_tool_arguments_are_kept_raw_and_not_parsed() {
    let c = ToolCall::from_raw(None, "f", "{\"a\": ");
    assert_eq!(c.arguments_raw, "{\"a\": ");
    assert!(c.arguments.is_none());
}

#[test]
fn header_facts_keep_only_what_matters() {
    let mut h = HeaderFacts::default();
    for (n, v) in [
        ("Retry-After", " 2 "),
        ("retry-after-ms", "1500.5"),
        ("x-should-retry", "false"),
        ("X-Request-Id", "req_1"),
        ("x-ratelimit-remaining-tokens", "0"),
        ("anthropic-ratelimit-requests-reset", "2025-08-21T12:40:59Z"),
        ("content-type", "application/json"),
        ("x-should-retry", "maybe"),
    ] {
        h.record(n, v);
    }
    assert_eq!(h.retry_after.as_deref(), Some("2"));
    assert_eq!(h.retry_after_ms.as_deref(), Some("1500.5"));
    assert_eq!(h.should_retry, Some(false));
    assert_eq!(h.request_id.as_deref(), Some("req_1"));
    assert_eq!(h.rate_limit("x-ratelimit-remaining-tokens"), Some("0"));
    assert_eq!(h.rate_limit.len(), 2);
}

#[test]
fn snippets_are_bounded_and_survive_invalid_utf8() {
    let body: Vec<u8> = std::iter::repeat_n(0xffu8, 5000).collect();
    let s = snippet(&body);
    assert!(s.len() < 2000, "{}", s.len());
    assert!(s.ends_with('…'));
    let short = snippet("é".as_bytes());
    assert_eq!(short, "é");
}

#[test]
fn errors_serialize_round_trip_and_display_their_facts() {
    let e = CallError::mid_stream(
        CallError::Api(Box::new(ApiError {
            status: None,
            headers: HeaderFacts::default(),
            error: ProviderError {
                r#type: Some("overloaded_error".into()),
                message: Some("Overloaded".into()),
                ..ProviderError::default()
            },
            body_snippet: None,
        })),
        PartialOutput {
            text: "The answer".into(),
            tool_calls: vec![],
            content_chunks: 2,
        },
    );
    let json = serde_json::to_string(&e).unwrap();
    let back: CallError = serde_json::from_str(&json).unwrap();
    assert_eq!(back, e);
    let shown = e.to_string();
    assert!(shown.contains("overloaded_error"), "{shown}");
    assert!(shown.contains("after 2 content chunks"), "{shown}");
    assert_eq!(
        e.provider_error().unwrap().message.as_deref(),
        Some("Overloaded")
    );
    let u = CallError::Unsupported {
        what: "tools".into(),
    };
    assert_eq!(
        serde_json::from_str::<CallError>(&serde_json::to_string(&u).unwrap()).unwrap(),
        u
    );
}

#[test]
fn failure_class_names_are_unique_snake_case() {
    let names: std::collections::HashSet<_> =
        FailureClass::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(names.len(), FailureClass::ALL.len());
    for c in FailureClass::ALL {
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json, format!("\"{}\"", c.as_str()));
    }
}
