//! The OpenAI Responses API adapter against a real loopback server.
//!
//! Shapes: the official openai-python SDK v3.63.0 (PyPI `openai`),
//! `openai/types/responses/` — `response_create_params.py`, `easy_input_message_param.py`,
//! `function_tool_param.py`, `response_input_param.py` (`FunctionCallOutput`),
//! `response_format_text_json_schema_config_param.py` (requests); `response.py`,
//! `response_output_message.py`, `response_output_text.py`,
//! `response_function_tool_call.py`, `response_reasoning_item.py`, `response_usage.py`,
//! `response_error.py` (answers); `response_*_event.py` (stream events); and
//! provider-wire-facts §2 (status and `incomplete_details` values, terminal events).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::{ApiKey, OpenAiResponses};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn adapter(server: &MockServer) -> OpenAiResponses {
    OpenAiResponses::builder("gpt-5-mini")
        .base_url(format!("{}/v1", server.uri()))
        .api_key(ApiKey::new(KEY))
        .organization("org-1")
        .build()
        .unwrap()
}

/// A `Response` object as `response.py` describes it: a reasoning item (not content), a
/// message with an `output_text` part, usage with cached and reasoning details.
fn response(output: serde_json::Value, status: &str) -> serde_json::Value {
    json!({
        "id": "resp_1", "object": "response", "created_at": 1, "model": "gpt-5-mini-2025-08-07",
        "status": status, "error": null, "incomplete_details": null,
        "output": output,
        "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                  "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 20}, "total_tokens": 42}
    })
}

fn reasoning() -> serde_json::Value {
    json!({"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking about 6x7"}],
           "encrypted_content": null, "status": "completed"})
}

fn message(text: &str) -> serde_json::Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "status": "completed",
           "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
}

#[tokio::test]
async fn sends_the_exact_documented_request() {
    let server = MockServer::start().await;
    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer"}},
                        "required": ["answer"], "additionalProperties": false});
    let req = ChatRequest::new(vec![
        Message::system("Be terse."),
        Message::user("6x7?"),
        Message::assistant_tool_calls(vec![ToolCall::from_raw(
            Some("call_1".into()),
            "calc",
            r#"{"e":"6*7"}"#,
        )]),
        Message::tool_result("call_1", "calc", "42"),
    ])
    .with_temperature(0.0)
    .with_max_tokens(20)
    .with_json_schema("result", schema)
    .with_tool(ToolSpec::new("calc", json!({"type": "object"})).with_description("math"))
    .with_tool_choice(ToolChoice::Tool("calc".into()))
    .with_extra("user", json!("u-1"));
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("openai-organization", "org-1"))
        .and(body_json(json!({
            "model": "gpt-5-mini",
            "input": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "6x7?"},
                {"type": "function_call", "call_id": "call_1", "name": "calc", "arguments": "{\"e\":\"6*7\"}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "42"}
            ],
            "store": false,
            "temperature": 0.0, "max_output_tokens": 20,
            "text": {"format": {"type": "json_schema", "name": "result", "strict": true,
                "schema": {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": false}}},
            "tools": [{"type": "function", "name": "calc", "description": "math", "parameters": {"type": "object"}, "strict": false}],
            "tool_choice": {"type": "function", "name": "calc"},
            "user": "u-1"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(response(
            json!([reasoning(), message("{\"answer\":42}")]),
            "completed",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let resp = adapter(&server).chat(&req).await.unwrap();
    assert_eq!(resp.text, "{\"answer\":42}", "reasoning is not answer text");
    assert_eq!(resp.finish_reason, FinishReason::Stop);
    assert_eq!(resp.model.as_deref(), Some("gpt-5-mini-2025-08-07"));
    assert_eq!(resp.request_id.as_deref(), Some("resp_1"));
    assert_eq!(
        resp.usage,
        Some(Usage::new(12, 30).with_cached(4).with_reasoning(20))
    );
}

#[tokio::test]
async fn function_calls_refusals_and_incomplete_answers() {
    let server = MockServer::start().await;
    let calls = response(
        json!([reasoning(),
            {"type": "function_call", "id": "fc_1", "call_id": "call_a", "name": "f", "arguments": "{\"a\":1}", "status": "completed"},
            {"type": "function_call", "id": "fc_2", "call_id": "call_b", "name": "g", "arguments": "{\"a\":", "status": "completed"}]),
        "completed",
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(calls))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let r = adapter(&server)
        .chat(&ChatRequest::user("x"))
        .await
        .unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls.len(), 2);
    assert_eq!(r.tool_calls[0].id.as_deref(), Some("call_a"));
    assert_eq!(r.tool_calls[0].arguments, Some(json!({"a": 1})));
    assert_eq!(r.tool_calls[1].arguments_raw, "{\"a\":", "kept raw");

    // ResponseOutputRefusal: `{type: "refusal", refusal}` inside the message.
    server.reset().await;
    let refusal = response(
        json!([{"id": "m", "type": "message", "role": "assistant", "status": "completed",
                "content": [{"type": "refusal", "refusal": "I can't help with that."}]}]),
        "completed",
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(refusal))
        .mount(&server)
        .await;
    let r = adapter(&server)
        .chat(&ChatRequest::user("x"))
        .await
        .unwrap();
    assert_eq!(r.finish_reason, FinishReason::Refusal);
    assert_eq!(r.refusal.as_deref(), Some("I can't help with that."));

    // `status: incomplete` with `incomplete_details.reason` (max_output_tokens,
    // content_filter).
    for (why, want) in [
        ("max_output_tokens", FinishReason::Length),
        ("content_filter", FinishReason::ContentFilter),
    ] {
        server.reset().await;
        let mut body = response(json!([message("half")]), "incomplete");
        body["incomplete_details"] = json!({"reason": why});
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
        let r = adapter(&server)
            .chat(&ChatRequest::user("x"))
            .await
            .unwrap();
        assert_eq!(r.finish_reason, want, "{why}");
        assert_eq!(r.text, "half");
    }
}

#[tokio::test]
async fn a_failed_response_in_a_200_is_classified_by_its_code() {
    // `status: failed` with `error: {code, message}` (ResponseError); HTTP says 200.
    let server = MockServer::start().await;
    let mut body = response(json!([]), "failed");
    body["error"] =
        json!({"code": "rate_limit_exceeded", "message": "Rate limit reached for gpt-5-mini"});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let err = adapter(&server)
        .chat(&ChatRequest::user("x"))
        .await
        .unwrap_err();
    let a = api(&err);
    assert_eq!(a.status, None, "the 200 is not the error's status");
    assert_eq!(a.error.code.as_deref(), Some("rate_limit_exceeded"));
    assert!(a.error.message.as_deref().unwrap().contains("Rate limit"));
}

#[tokio::test]
async fn http_errors_use_openais_error_shape() {
    // Same `{"error":{message,type,param,code}}` body as Chat Completions (wire facts §2).
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3")
                .set_body_json(json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}})),
        )
        .mount(&server)
        .await;
    let err = adapter(&server)
        .chat(&ChatRequest::user("x"))
        .await
        .unwrap_err();
    let a = api(&err);
    assert_eq!(a.status, Some(429));
    assert_eq!(a.error.r#type.as_deref(), Some("insufficient_quota"));
    assert_eq!(a.headers.retry_after.as_deref(), Some("3"));
    assert!(!format!("{err:?}{err}").contains(KEY));
}

#[tokio::test]
async fn stop_sequences_are_unsupported_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let err = adapter(&server)
        .chat(&ChatRequest::user("x").with_stop("\n"))
        .await
        .unwrap_err();
    assert!(matches!(err, CallError::Unsupported { .. }), "{err:?}");
}

fn ev(kind: &str, mut data: serde_json::Value, seq: u64) -> (String, String) {
    data["type"] = json!(kind);
    data["sequence_number"] = json!(seq);
    (kind.to_owned(), data.to_string())
}

fn sse_of(events: &[(String, String)]) -> String {
    let pairs: Vec<(Option<&str>, &str)> = events
        .iter()
        .map(|(k, d)| (Some(k.as_str()), d.as_str()))
        .collect();
    sse(&pairs)
}

fn shell(status: &str) -> serde_json::Value {
    json!({"id": "resp_9", "object": "response", "model": "gpt-5-mini-2025-08-07", "status": status, "output": []})
}

#[tokio::test]
async fn streams_text_function_calls_and_usage() {
    let server = MockServer::start().await;
    let mut done = response(json!([]), "completed");
    done["id"] = json!("resp_9");
    let events = vec![
        ev(
            "response.created",
            json!({"response": shell("in_progress")}),
            0,
        ),
        ev(
            "response.in_progress",
            json!({"response": shell("in_progress")}),
            1,
        ),
        ev(
            "response.output_item.added",
            json!({"output_index": 0, "item": {"id": "rs_1", "type": "reasoning", "summary": []}}),
            2,
        ),
        ev(
            "response.reasoning_summary_text.delta",
            json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "hmm"}),
            3,
        ),
        ev(
            "response.output_item.added",
            json!({"output_index": 1, "item": {"id": "msg_1", "type": "message", "role": "assistant", "status": "in_progress", "content": []}}),
            4,
        ),
        ev(
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "Hel", "logprobs": []}),
            5,
        ),
        ev(
            "response.output_text.delta",
            json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "lo", "logprobs": []}),
            6,
        ),
        ev(
            "response.output_text.done",
            json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "text": "Hello", "logprobs": []}),
            7,
        ),
        ev(
            "response.output_item.added",
            json!({"output_index": 2, "item": {"id": "fc_1", "type": "function_call", "call_id": "call_x", "name": "lookup", "arguments": "", "status": "in_progress"}}),
            8,
        ),
        ev(
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 2, "delta": "{\"q\":"}),
            9,
        ),
        ev(
            "response.function_call_arguments.delta",
            json!({"item_id": "fc_1", "output_index": 2, "delta": "\"x\"}"}),
            10,
        ),
        ev(
            "response.function_call_arguments.done",
            json!({"item_id": "fc_1", "output_index": 2, "arguments": "{\"q\":\"x\"}"}),
            11,
        ),
        ev("response.completed", json!({"response": done}), 12),
    ];
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(sse_response(sse_of(&events)).insert_header("x-request-id", "req_7"))
        .mount(&server)
        .await;
    let s = adapter(&server)
        .stream(&ChatRequest::user("hi"))
        .await
        .unwrap();
    let (chunks, err) = drain(s).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        chunks[0],
        ChatChunk::Started {
            model: Some("gpt-5-mini-2025-08-07".into()),
            request_id: Some("req_7".into())
        }
    );
    assert_eq!(text(&chunks), "Hello", "reasoning summaries are not text");
    let mut acc = StreamAccumulator::default();
    for c in &chunks {
        acc.push(c);
    }
    let r = acc.finish().expect("a finish reason");
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls.len(), 1);
    assert_eq!(r.tool_calls[0].id.as_deref(), Some("call_x"));
    assert_eq!(r.tool_calls[0].name, "lookup");
    assert_eq!(r.tool_calls[0].arguments, Some(json!({"q": "x"})));
    assert_eq!(
        r.usage,
        Some(Usage::new(12, 30).with_cached(4).with_reasoning(20))
    );
}

#[tokio::test]
async fn stream_failures_are_errors_with_the_partial_text() {
    // `response.failed` (ResponseFailedEvent) and `error` (ResponseErrorEvent) after
    // text: the code decides the class, the partial output is kept.
    let delta = ev(
        "response.output_text.delta",
        json!({"item_id": "m", "output_index": 0, "content_index": 0, "delta": "par", "logprobs": []}),
        1,
    );
    let mut failed = shell("failed");
    failed["error"] = json!({"code": "server_error", "message": "The server had an error"});
    for (last, code) in [
        (
            ev("response.failed", json!({"response": failed}), 2),
            "server_error",
        ),
        (
            ev(
                "error",
                json!({"code": "rate_limit_exceeded", "message": "slow down", "param": null}),
                2,
            ),
            "rate_limit_exceeded",
        ),
    ] {
        let server = MockServer::start().await;
        let events = vec![
            ev(
                "response.created",
                json!({"response": shell("in_progress")}),
                0,
            ),
            delta.clone(),
            last,
        ];
        Mock::given(method("POST"))
            .respond_with(sse_response(sse_of(&events)))
            .mount(&server)
            .await;
        let s = adapter(&server)
            .stream(&ChatRequest::user("hi"))
            .await
            .unwrap();
        let (chunks, err) = drain(s).await;
        assert_eq!(text(&chunks), "par");
        let err = err.expect("an error");
        assert_eq!(err.partial().unwrap().text, "par");
        assert_eq!(api(&err).error.code.as_deref(), Some(code));
        assert_eq!(
            api(&err).error.r#type,
            None,
            "`error` is the event's type, not the error's"
        );
    }
}

#[tokio::test]
async fn a_stream_without_a_terminal_event_is_truncated() {
    let server = MockServer::start().await;
    let events = vec![
        ev(
            "response.created",
            json!({"response": shell("in_progress")}),
            0,
        ),
        ev(
            "response.output_text.delta",
            json!({"item_id": "m", "output_index": 0, "content_index": 0, "delta": "cut", "logprobs": []}),
            1,
        ),
    ];
    Mock::given(method("POST"))
        .respond_with(sse_response(sse_of(&events)))
        .mount(&server)
        .await;
    let (_, err) = drain(
        adapter(&server)
            .stream(&ChatRequest::user("hi"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(err.unwrap().root(), &CallError::Truncated);
}
