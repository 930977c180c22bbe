//! The Anthropic Messages adapter against a real loopback server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::{Anthropic, ApiKey};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn adapter(server: &MockServer) -> Anthropic {
    Anthropic::builder("claude-sonnet-4-5")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap()
}

#[tokio::test]
async fn sends_the_exact_documented_request() {
    let server = MockServer::start().await;
    let req = ChatRequest::new(vec![
        Message::system("Be terse."),
        Message::user("Weather in Paris?"),
        Message::assistant_tool_calls(vec![ToolCall::from_raw(
            Some("toolu_1".into()),
            "weather",
            r#"{"city":"Paris"}"#,
        )]),
        Message::tool_result("toolu_1", "weather", "18C, sunny"),
        Message::user("And in one word?"),
    ])
    .with_stop("END")
    .with_json_schema(
        "w",
        json!({"$schema": "x", "type": "object", "properties": {"w": {"type": "string"}}}),
    )
    .with_tool(ToolSpec::new(
        "weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    ))
    .with_tool_choice(ToolChoice::Required);
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(body_json(json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 4096,
            "system": "Be terse.",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C, sunny"},
                    {"type": "text", "text": "And in one word?"}
                ]}
            ],
            "stop_sequences": ["END"],
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object", "properties": {"w": {"type": "string"}}}}},
            "tools": [{"name": "weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "any"}
        })))
        .respond_with(ResponseTemplate::new(200).insert_header("request-id", "req_011").set_body_json(json!({
            "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "{\"w\":"}, {"type": "text", "text": "\"sunny\"}"}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 100}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let resp = adapter(&server).chat(&req).await.unwrap();
    assert_eq!(resp.text, "{\"w\":\"sunny\"}");
    assert_eq!(resp.finish_reason, FinishReason::Stop);
    assert_eq!(resp.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(resp.request_id.as_deref(), Some("msg_01"));
    assert_eq!(
        resp.usage,
        Some(Usage::new(112, 5).with_cached(100).with_cache_write(2))
    );
}

#[tokio::test]
async fn stop_reasons_and_tool_use_map() {
    for (raw, want) in [
        ("max_tokens", FinishReason::Length),
        ("model_context_window_exceeded", FinishReason::Length),
        ("refusal", FinishReason::Refusal),
        ("stop_sequence", FinishReason::Stop),
        ("tool_use", FinishReason::ToolCalls),
        ("pause_turn", FinishReason::Other("pause_turn".into())),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "m", "type": "message", "role": "assistant", "model": "c",
                "content": [{"type": "tool_use", "id": "toolu_9", "name": "f", "input": {"x": 1}}],
                "stop_reason": raw, "usage": {"input_tokens": 1, "output_tokens": 1}
            })))
            .mount(&server)
            .await;
        let resp = adapter(&server)
            .chat(&ChatRequest::user("x"))
            .await
            .unwrap();
        assert_eq!(resp.finish_reason, want);
        assert_eq!(resp.tool_calls[0].arguments, Some(json!({"x": 1})));
        assert_eq!(resp.tool_calls[0].id.as_deref(), Some("toolu_9"));
    }
}

#[tokio::test]
async fn error_shapes_keep_type_details_and_rate_headers() {
    let cases = [
        (
            529,
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_1"}),
            "overloaded_error",
            None,
            Some("3"),
        ),
        (
            429,
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}),
            "rate_limit_error",
            None,
            Some("17"),
        ),
        (
            429,
            json!({"type": "error", "error": {"type": "rate_limit_error", "message": "You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.", "details": {"error_code": "enforced_spend_limit_reached"}}}),
            "rate_limit_error",
            Some("enforced_spend_limit_reached"),
            None,
        ),
        (
            400,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 207791 tokens > 200000 maximum"}}),
            "invalid_request_error",
            None,
            None,
        ),
        (
            401,
            json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
            "authentication_error",
            None,
            None,
        ),
        (
            402,
            json!({"type": "error", "error": {"type": "billing_error", "message": "Your credit balance is too low"}}),
            "billing_error",
            None,
            None,
        ),
    ];
    for (status, body, ty, detail, retry) in cases {
        let server = MockServer::start().await;
        let mut t = ResponseTemplate::new(status)
            .set_body_json(body)
            .insert_header("request-id", "req_xyz")
            .insert_header("anthropic-ratelimit-requests-remaining", "0")
            .insert_header("anthropic-ratelimit-requests-reset", "2025-08-21T12:40:59Z");
        if let Some(r) = retry {
            t = t.insert_header("retry-after", r);
        }
        Mock::given(method("POST"))
            .respond_with(t)
            .mount(&server)
            .await;
        let err = adapter(&server)
            .chat(&ChatRequest::user("x"))
            .await
            .unwrap_err();
        let a = api(&err);
        assert_eq!(a.status, Some(status));
        assert_eq!(a.error.r#type.as_deref(), Some(ty));
        assert_eq!(a.error.detail_code.as_deref(), detail);
        assert_eq!(a.headers.retry_after.as_deref(), retry);
        assert_eq!(a.headers.request_id.as_deref(), Some("req_xyz"));
        assert_eq!(
            a.headers.rate_limit("anthropic-ratelimit-requests-reset"),
            Some("2025-08-21T12:40:59Z")
        );
    }
}

fn start() -> (Option<&'static str>, &'static str) {
    (
        Some("message_start"),
        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1}}}"#,
    )
}

#[tokio::test]
async fn streams_named_events_ignoring_pings() {
    let server = MockServer::start().await;
    let body = sse(&[
        start(),
        (
            Some("content_block_start"),
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        ),
        (Some("ping"), r#"{"type": "ping"}"#),
        (
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
        ),
        (
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" world"}}"#,
        ),
        (
            Some("content_block_stop"),
            r#"{"type":"content_block_stop","index":0}"#,
        ),
        (
            Some("content_block_start"),
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}"#,
        ),
        (
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\": "}}"#,
        ),
        (
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"7}"}}"#,
        ),
        (
            Some("message_delta"),
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":15}}"#,
        ),
        (Some("message_stop"), r#"{"type":"message_stop"}"#),
    ]);
    Mock::given(method("POST"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(sse_response(body).insert_header("request-id", "req_s"))
        .expect(1)
        .mount(&server)
        .await;
    let stream = adapter(&server)
        .stream(&ChatRequest::user("x"))
        .await
        .unwrap();
    let resp = collect(stream).await.unwrap();
    assert_eq!(resp.text, "Hello world");
    assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
    assert_eq!(resp.tool_calls[0].arguments, Some(json!({"a": 7})));
    assert_eq!(resp.request_id.as_deref(), Some("req_s"));
    assert_eq!(resp.usage, Some(Usage::new(25, 15)));
}

#[tokio::test]
async fn an_overloaded_error_event_before_the_first_delta_is_uncommitted() {
    let server = MockServer::start().await;
    let body = sse(&[
        start(),
        (Some("ping"), r#"{"type": "ping"}"#),
        (
            Some("error"),
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ),
    ]);
    Mock::given(method("POST"))
        .respond_with(sse_response(body))
        .mount(&server)
        .await;
    let (chunks, err) = drain(
        adapter(&server)
            .stream(&ChatRequest::user("x"))
            .await
            .unwrap(),
    )
    .await;
    assert!(matches!(chunks[..], [ChatChunk::Started { .. }]));
    let err = err.unwrap();
    assert_eq!(api(&err).error.r#type.as_deref(), Some("overloaded_error"));
    assert_eq!(
        api(&err).status,
        None,
        "the 200 status says nothing about this error"
    );
    assert!(!err.partial().unwrap().is_committed());
}

#[tokio::test]
async fn an_error_event_after_a_delta_carries_the_partial_text() {
    let server = MockServer::start().await;
    let body = sse(&[
        start(),
        (
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Half an ans"}}"#,
        ),
        (
            Some("error"),
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        ),
    ]);
    Mock::given(method("POST"))
        .respond_with(sse_response(body))
        .mount(&server)
        .await;
    let (_, err) = drain(
        adapter(&server)
            .stream(&ChatRequest::user("x"))
            .await
            .unwrap(),
    )
    .await;
    let err = err.unwrap();
    assert_eq!(err.partial().unwrap().text, "Half an ans");
    assert!(err.partial().unwrap().is_committed());
}

#[tokio::test]
async fn a_stream_without_message_stop_is_truncated() {
    let server = MockServer::start().await;
    let body = sse(&[
        start(),
        (
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Cut"}}"#,
        ),
        (
            Some("message_delta"),
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#,
        ),
    ]);
    Mock::given(method("POST"))
        .respond_with(sse_response(body))
        .mount(&server)
        .await;
    let (_, err) = drain(
        adapter(&server)
            .stream(&ChatRequest::user("x"))
            .await
            .unwrap(),
    )
    .await;
    let err = err.unwrap();
    assert_eq!(err.root(), &CallError::Truncated);
    assert_eq!(err.partial().unwrap().text, "Cut");
}

#[test]
fn an_empty_key_is_a_clear_config_error() {
    let e = Anthropic::builder("c")
        .api_key(ApiKey::new("  "))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), nb_providers::ConfigErrorKind::MissingKey);
    assert_eq!(e.to_string(), "the API key given for anthropic is empty");
}
