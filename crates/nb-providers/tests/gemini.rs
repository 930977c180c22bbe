//! The Gemini adapter against a real loopback server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::{ApiKey, Gemini};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn adapter(server: &MockServer) -> Gemini {
    Gemini::builder("gemini-2.5-flash")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap()
}

#[tokio::test]
async fn sends_the_exact_documented_request_with_the_key_in_a_header() {
    let server = MockServer::start().await;
    let req = ChatRequest::new(vec![
        Message::system("Be terse."),
        Message::user("Extract the city."),
        Message::assistant_tool_calls(vec![ToolCall::from_raw(None, "geo", r#"{"q":"x"}"#)]),
        Message::tool_result("0", "geo", r#"{"city":"Paris"}"#),
    ])
    .with_temperature(0.5)
    .with_max_tokens(64)
    .with_json_schema("city", json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                                     "properties": {"city": {"type": "string"}}, "required": ["city"]}))
    .with_tool(ToolSpec::new("geo", json!({"type": "object"})).with_description("geocode"))
    .with_tool_choice(ToolChoice::Tool("geo".into()));
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-flash:generateContent"))
        .and(header("x-goog-api-key", KEY))
        .and(|r: &Request| r.url.query().is_none())
        .and(body_json(json!({
            "contents": [
                {"role": "user", "parts": [{"text": "Extract the city."}]},
                {"role": "model", "parts": [{"functionCall": {"name": "geo", "args": {"q": "x"}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "geo", "response": {"city": "Paris"}}}]}
            ],
            "systemInstruction": {"parts": [{"text": "Be terse."}]},
            "generationConfig": {"temperature": 0.5, "maxOutputTokens": 64, "responseMimeType": "application/json",
                                 "responseJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
            "tools": [{"functionDeclarations": [{"name": "geo", "description": "geocode", "parametersJsonSchema": {"type": "object"}}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["geo"]}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "{\"city\":", "thought": false}, {"text": "thinking...", "thought": true}, {"text": "\"Paris\"}"}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 20, "candidatesTokenCount": 6, "thoughtsTokenCount": 4, "totalTokenCount": 30},
            "modelVersion": "gemini-2.5-flash-001", "responseId": "resp-1"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let resp = adapter(&server).chat(&req).await.unwrap();
    assert_eq!(resp.text, "{\"city\":\"Paris\"}");
    assert_eq!(resp.finish_reason, FinishReason::Stop);
    assert_eq!(resp.model.as_deref(), Some("gemini-2.5-flash-001"));
    assert_eq!(resp.usage, Some(Usage::new(20, 10).with_reasoning(4)));
}

#[tokio::test]
async fn finish_reasons_function_calls_and_blocked_prompts() {
    let server = MockServer::start().await;
    let reply = |v: serde_json::Value| ResponseTemplate::new(200).set_body_json(v);
    Mock::given(method("POST")).respond_with(reply(json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]}, "finishReason": "STOP"}]}))).up_to_n_times(1).mount(&server).await;
    Mock::given(method("POST")).respond_with(reply(json!({"candidates": [{"content": {"parts": [{"text": "cut"}]}, "finishReason": "MAX_TOKENS"}]}))).up_to_n_times(1).mount(&server).await;
    Mock::given(method("POST"))
        .respond_with(reply(
            json!({"candidates": [{"finishReason": "SAFETY", "safetyRatings": []}]}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(reply(
            json!({"candidates": [{"content": {}, "finishReason": "MALFORMED_FUNCTION_CALL"}]}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(reply(
            json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "responseId": "r-b"}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(reply(json!({"usageMetadata": {"promptTokenCount": 3}})))
        .mount(&server)
        .await;
    let g = adapter(&server);
    let r = g.chat(&ChatRequest::user("x")).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls[0].arguments, Some(json!({"a": 1})));
    assert_eq!(
        g.chat(&ChatRequest::user("x")).await.unwrap().finish_reason,
        FinishReason::Length
    );
    let r = g.chat(&ChatRequest::user("x")).await.unwrap();
    assert_eq!(
        (r.finish_reason, r.text.as_str()),
        (FinishReason::ContentFilter, "")
    );
    assert_eq!(
        g.chat(&ChatRequest::user("x")).await.unwrap().finish_reason,
        FinishReason::Other("MALFORMED_FUNCTION_CALL".into())
    );
    match g.chat(&ChatRequest::user("x")).await.unwrap_err() {
        CallError::Blocked(b) => {
            assert_eq!(b.reason, "PROHIBITED_CONTENT");
            assert_eq!(b.request_id.as_deref(), Some("r-b"));
        }
        other => panic!("expected Blocked, got {other:?}"),
    }
    assert!(
        matches!(g.chat(&ChatRequest::user("x")).await.unwrap_err(), CallError::Decode(d) if d.what.contains("no candidates"))
    );
}

#[tokio::test]
async fn google_rpc_errors_keep_retry_info_and_quota_ids() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {"code": 429, "message": "You exceeded your current quota.", "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.Help", "links": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}]}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})))
        .mount(&server)
        .await;
    let g = adapter(&server);
    let err = g.chat(&ChatRequest::user("x")).await.unwrap_err();
    let a = api(&err);
    assert_eq!(a.status, Some(429));
    assert_eq!(a.error.status.as_deref(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(a.error.retry_delay.as_deref(), Some("37s"));
    assert_eq!(
        a.error.quota_violations[0].quota_id.as_deref(),
        Some("GenerateRequestsPerMinutePerProjectPerModel-FreeTier")
    );
    let err = g.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(api(&err).error.reason.as_deref(), Some("API_KEY_INVALID"));
}

fn chunk(text: &str, finish: Option<&str>) -> String {
    let mut c = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}], "modelVersion": "gemini-2.5-flash"});
    if let Some(f) = finish {
        c["candidates"][0]["finishReason"] = json!(f);
        c["usageMetadata"] = json!({"promptTokenCount": 4, "candidatesTokenCount": 3});
    }
    c.to_string()
}

#[tokio::test]
async fn streams_with_alt_sse_and_ends_on_a_finish_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        ))
        .and(query_param("alt", "sse"))
        .and(header("x-goog-api-key", KEY))
        .respond_with(sse_response(sse(&[
            (None, &chunk("Hel", None)),
            (None, &chunk("lo", Some("STOP"))),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let resp = collect(
        adapter(&server)
            .stream(&ChatRequest::user("x"))
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(resp.text, "Hello");
    assert_eq!(resp.finish_reason, FinishReason::Stop);
    assert_eq!(resp.usage.unwrap().output_tokens, 3);
}

#[tokio::test]
async fn a_stream_that_stops_without_a_finish_reason_is_truncated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse_response(sse(&[
            (None, &chunk("Hel", None)),
            (None, &chunk("lo wor", None)),
        ])))
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
    assert_eq!(err.partial().unwrap().text, "Hello wor");
}

#[tokio::test]
async fn an_error_chunk_mid_stream_is_an_error_with_its_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse_response(sse(&[
            (None, &chunk("Hel", None)),
            (None, r#"{"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}"#),
        ])))
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
    assert_eq!(api(&err).status, Some(503));
    assert_eq!(api(&err).error.status.as_deref(), Some("UNAVAILABLE"));
    assert_eq!(err.partial().unwrap().text, "Hel");
}

#[tokio::test]
async fn a_blocked_prompt_in_the_first_stream_chunk_is_blocked() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse_response(sse(&[(None, r#"{"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 9}}"#)])))
        .mount(&server)
        .await;
    let (chunks, err) = drain(
        adapter(&server)
            .stream(&ChatRequest::user("x"))
            .await
            .unwrap(),
    )
    .await;
    assert!(chunks.is_empty());
    assert!(matches!(err.unwrap().root(), CallError::Blocked(b) if b.reason == "SAFETY"));
}
