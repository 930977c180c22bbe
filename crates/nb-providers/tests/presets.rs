//! OpenAI-compatible presets and their quirks, each against a loopback server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::{ApiKey, ConfigErrorKind, OpenAi, Preset};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn build(preset: Preset, base: String) -> OpenAi {
    OpenAi::builder(preset, "model-x")
        .base_url(base)
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap()
}

fn ok_body(content: &str, finish: &str) -> serde_json::Value {
    json!({"id": "x", "model": "model-x", "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}]})
}

#[tokio::test]
async fn deepseek_posts_to_chat_completions_without_v1_and_reads_402() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": null, "code": "invalid_request_error"}})))
        .expect(1)
        .mount(&server)
        .await;
    let ds = build(Preset::DeepSeek, server.uri());
    let err = ds.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(api(&err).status, Some(402));
    assert_eq!(
        api(&err).error.message.as_deref(),
        Some("Insufficient Balance")
    );
}

#[tokio::test]
async fn deepseek_blank_content_is_not_a_success() {
    let server = MockServer::start().await;
    // Non-streamed: blank lines before the JSON while queued, then content of spaces.
    let body = format!("\n\n\n{}", ok_body("   ", "stop"));
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .mount(&server)
        .await;
    let ds = build(Preset::DeepSeek, server.uri());
    match ds.chat(&ChatRequest::user("x")).await.unwrap_err() {
        CallError::Decode(d) => assert!(d.what.contains("blank"), "{}", d.what),
        other => panic!("expected Decode, got {other:?}"),
    }
    // The generic preset does not second-guess an empty answer.
    let generic = build(Preset::Generic, server.uri());
    assert_eq!(
        generic.chat(&ChatRequest::user("x")).await.unwrap().text,
        "   "
    );
}

#[tokio::test]
async fn deepseek_stream_with_keep_alives_then_blank_content_fails() {
    let server = MockServer::start().await;
    let chunk = |d: serde_json::Value, f: Option<&str>| {
        json!({"id": "c", "model": "deepseek-chat", "choices": [{"index": 0, "delta": d, "finish_reason": f}]}).to_string()
    };
    let body = format!(
        ": keep-alive\n\n: keep-alive\n\n{}",
        sse(&[
            (None, &chunk(json!({"content": " "}), None)),
            (None, &chunk(json!({}), Some("stop"))),
            (None, "[DONE]"),
        ])
    );
    Mock::given(method("POST"))
        .respond_with(sse_response(body))
        .mount(&server)
        .await;
    let (_, err) = drain(
        build(Preset::DeepSeek, server.uri())
            .stream(&ChatRequest::user("x"))
            .await
            .unwrap(),
    )
    .await;
    assert!(matches!(err.unwrap().root(), CallError::Decode(_)));
}

#[tokio::test]
async fn mistral_flat_errors_and_model_length() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"object": "error", "message": "Rate limit exceeded", "type": "rate_limited", "param": null, "code": "1300"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ok_body("cut", "model_length")))
        .mount(&server)
        .await;
    let m = build(Preset::Mistral, format!("{}/v1", server.uri()));
    let err = m.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(api(&err).error.r#type.as_deref(), Some("rate_limited"));
    assert_eq!(api(&err).error.code.as_deref(), Some("1300"));
    let ok = m.chat(&ChatRequest::user("x")).await.unwrap();
    assert_eq!(ok.finish_reason, FinishReason::Length);
}

#[tokio::test]
async fn groq_498_and_tool_use_failed_mid_stream() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(498).set_body_json(json!({"error": {"message": "Flex tier capacity exceeded", "type": "capacity_exceeded", "code": "capacity_exceeded"}})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let body = sse(&[(
        Some("error"),
        r#"{"error":{"message":"Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details.","type":"invalid_request_error","code":"tool_use_failed","failed_generation":"<f>","status_code":400}}"#,
    )]);
    Mock::given(method("POST"))
        .respond_with(sse_response(body))
        .mount(&server)
        .await;
    let g = build(Preset::Groq, server.uri());
    let err = g.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(api(&err).status, Some(498));
    assert_eq!(api(&err).error.code.as_deref(), Some("capacity_exceeded"));
    let (chunks, err) = drain(g.stream(&ChatRequest::user("x")).await.unwrap()).await;
    assert!(chunks.is_empty());
    let err = err.unwrap();
    assert_eq!(api(&err).error.code.as_deref(), Some("tool_use_failed"));
    assert_eq!(api(&err).status, Some(400));
    assert!(!err.partial().unwrap().is_committed());
}

#[tokio::test]
async fn azure_uses_the_deployment_url_api_version_and_api_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/prod-gpt4o/chat/completions"))
        .and(query_param("api-version", "2024-10-21"))
        .and(header("api-key", KEY))
        .and(|r: &Request| !r.headers.contains_key("authorization"))
        .respond_with(sse_response(sse(&[
            // Azure's first chunk: empty id and model, `choices: []`, prompt filter results.
            (None, r#"{"id":"","object":"","created":0,"model":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}],"choices":[]}"#),
            (None, r#"{"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null,"content_filter_results":{}}]}"#),
            (None, r#"{"id":"c","object":"chat.completion.chunk","model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#),
            (None, "[DONE]"),
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let az = OpenAi::builder(
        Preset::Azure {
            deployment: "prod-gpt4o".into(),
            api_version: "2024-10-21".into(),
        },
        "gpt-4o",
    )
    .base_url(server.uri())
    .api_key(ApiKey::new(KEY))
    .build()
    .unwrap();
    let (chunks, err) = drain(az.stream(&ChatRequest::user("x")).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        chunks[0],
        ChatChunk::Started {
            model: Some("gpt-4o".into()),
            request_id: None
        }
    );
    assert_eq!(text(&chunks), "ok");
}

#[tokio::test]
async fn azure_prompt_content_filter_400_keeps_the_inner_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {"message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", "type": null, "param": "prompt", "code": "content_filter", "status": 400, "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {"hate": {"filtered": true, "severity": "high"}}}}})))
        .mount(&server)
        .await;
    let az = OpenAi::builder(
        Preset::Azure {
            deployment: "d".into(),
            api_version: "2024-10-21".into(),
        },
        "gpt-4o",
    )
    .base_url(server.uri())
    .api_key(ApiKey::new(KEY))
    .build()
    .unwrap();
    let err = az.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(api(&err).error.code.as_deref(), Some("content_filter"));
    assert_eq!(
        api(&err).error.detail_code.as_deref(),
        Some("ResponsibleAIPolicyViolation")
    );
}

#[tokio::test]
async fn ollama_sends_no_auth_and_reads_its_not_found_shape() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(|r: &Request| !r.headers.contains_key("authorization"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"message": "model \"llama9\" not found, try pulling it first", "type": "not_found_error", "param": null, "code": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let o = OpenAi::builder(Preset::Ollama, "llama9")
        .base_url(format!("{}/v1", server.uri()))
        .build()
        .unwrap();
    let err = o.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(api(&err).error.r#type.as_deref(), Some("not_found_error"));
    assert!(
        api(&err)
            .error
            .message
            .as_deref()
            .unwrap()
            .contains("try pulling it first")
    );
}

#[tokio::test]
async fn vllm_integer_codes_are_kept_as_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {"message": "The model `x` does not exist.", "type": "NotFoundError", "param": null, "code": 404}})))
        .mount(&server)
        .await;
    let v = OpenAi::builder(Preset::Vllm, "x")
        .base_url(server.uri())
        .build()
        .unwrap();
    let err = v.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(api(&err).error.code.as_deref(), Some("404"));
    assert_eq!(api(&err).error.r#type.as_deref(), Some("NotFoundError"));
}

#[tokio::test]
async fn gemini_openai_endpoint_reads_the_error_array() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1beta/openai/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!([{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}])))
        .expect(1)
        .mount(&server)
        .await;
    let g = build(
        Preset::GeminiOpenAi,
        format!("{}/v1beta/openai", server.uri()),
    );
    let err = g.chat(&ChatRequest::user("x")).await.unwrap_err();
    let a = api(&err);
    assert_eq!(a.status, Some(400));
    assert_eq!(a.error.status.as_deref(), Some("INVALID_ARGUMENT"));
    assert_eq!(a.error.code.as_deref(), Some("400"));
}

#[test]
fn configuration_errors_are_specific() {
    let e = OpenAi::builder(Preset::Generic, "m").build().unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::Invalid);
    assert!(e.to_string().contains("base URL"), "{e}");
    let e = OpenAi::builder(
        Preset::Azure {
            deployment: String::new(),
            api_version: "v".into(),
        },
        "m",
    )
    .base_url("https://x.openai.azure.com")
    .api_key(ApiKey::new(KEY))
    .build()
    .unwrap_err();
    assert!(e.to_string().contains("deployment"), "{e}");
    let e = OpenAi::builder(Preset::Generic, "m")
        .base_url("http://192.0.2.10/v1")
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::InsecureTransport);
    assert!(!e.to_string().contains(KEY));
}

#[test]
fn a_missing_key_names_the_variable_to_set() {
    // A variable name no test sets, so the result does not depend on the environment.
    let e = nb_providers::ApiKey::from_env("NB_TEST_SURELY_UNSET_KEY").unwrap_err();
    assert_eq!(e.kind(), ConfigErrorKind::MissingKey);
    assert!(e.to_string().contains("NB_TEST_SURELY_UNSET_KEY"), "{e}");
}
