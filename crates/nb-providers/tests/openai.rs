//! The OpenAI Chat Completions adapter against a real loopback server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::{ApiKey, Limits, OpenAi, Preset};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn adapter(server: &MockServer) -> OpenAi {
    OpenAi::builder(Preset::OpenAi, "gpt-4o-mini")
        .base_url(format!("{}/v1", server.uri()))
        .api_key(ApiKey::new(KEY))
        .organization("org-1")
        .build()
        .unwrap()
}

fn completion(content: serde_json::Value) -> serde_json::Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15,
                  "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 1}}
    })
}

#[tokio::test]
async fn sends_the_exact_documented_request() {
    let server = MockServer::start().await;
    let schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                        "properties": {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": false});
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
    .with_stop("\n\n")
    .with_json_schema("result", schema)
    .with_tool(ToolSpec::new("calc", json!({"type": "object"})).with_description("math"))
    .with_tool_choice(ToolChoice::Auto)
    .with_extra("user", json!("u-1"));
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(header("openai-organization", "org-1"))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "user", "content": "6x7?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "calc", "arguments": "{\"e\":\"6*7\"}"}}]},
                {"role": "tool", "content": "42", "tool_call_id": "call_1"}
            ],
            "temperature": 0.0, "max_tokens": 20, "stop": ["\n\n"],
            "response_format": {"type": "json_schema", "json_schema": {"name": "result", "strict": true,
                "schema": {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"], "additionalProperties": false}}},
            "tools": [{"type": "function", "function": {"name": "calc", "description": "math", "parameters": {"type": "object"}}}],
            "tool_choice": "auto",
            "user": "u-1"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(json!("{\"answer\":42}"))))
        .expect(1)
        .mount(&server)
        .await;
    let resp = adapter(&server).chat(&req).await.unwrap();
    assert_eq!(resp.text, "{\"answer\":42}");
    assert_eq!(resp.finish_reason, FinishReason::Stop);
    assert_eq!(resp.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert_eq!(resp.request_id.as_deref(), Some("chatcmpl-1"));
    assert_eq!(
        resp.usage,
        Some(Usage::new(12, 3).with_cached(4).with_reasoning(1))
    );
}

#[tokio::test]
async fn parses_tool_calls_keeping_invalid_arguments_raw() {
    let server = MockServer::start().await;
    let body = json!({"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}},
            {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{\"a\":"}}]}}]});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let resp = adapter(&server)
        .chat(&ChatRequest::user("x"))
        .await
        .unwrap();
    assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
    assert_eq!(resp.tool_calls[0].arguments, Some(json!({"a": 1})));
    assert_eq!(resp.tool_calls[1].arguments_raw, "{\"a\":");
    assert_eq!(resp.tool_calls[1].arguments, None);
}

#[tokio::test]
async fn a_refusal_is_a_refusal_not_a_stop() {
    let server = MockServer::start().await;
    let body = json!({"id": "x", "model": "m", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}]});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    let resp = adapter(&server)
        .chat(&ChatRequest::user("x"))
        .await
        .unwrap();
    assert_eq!(resp.finish_reason, FinishReason::Refusal);
    assert_eq!(resp.refusal.as_deref(), Some("I can't help with that."));
}

#[tokio::test]
async fn error_statuses_keep_their_facts() {
    let cases = [
        (
            429,
            json!({"error": {"message": "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Used 29937, Requested 385. Please try again in 644ms.", "type": "tokens", "param": null, "code": "rate_limit_exceeded"}}),
            Some("tokens"),
            Some("rate_limit_exceeded"),
        ),
        (
            429,
            json!({"error": {"message": "You exceeded your current quota, please check your plan and billing details.", "type": "insufficient_quota", "param": null, "code": "insufficient_quota"}}),
            Some("insufficient_quota"),
            Some("insufficient_quota"),
        ),
        (
            400,
            json!({"error": {"message": "This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens.", "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}}),
            Some("invalid_request_error"),
            Some("context_length_exceeded"),
        ),
        (
            404,
            json!({"error": {"message": "The model `gpt-5x` does not exist or you do not have access to it.", "type": "invalid_request_error", "param": null, "code": "model_not_found"}}),
            Some("invalid_request_error"),
            Some("model_not_found"),
        ),
        (
            403,
            json!({"error": {"code": "unsupported_country_region_territory", "message": "Country, region, or territory not supported", "param": null, "type": "request_forbidden"}}),
            Some("request_forbidden"),
            Some("unsupported_country_region_territory"),
        ),
        (
            503,
            json!({"error": {"message": "The server is overloaded.", "type": "service_unavailable_error", "param": null, "code": "server_is_overloaded"}}),
            Some("service_unavailable_error"),
            Some("server_is_overloaded"),
        ),
    ];
    for (status, body, ty, code) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(body)
                    .insert_header("retry-after", "2")
                    .insert_header("retry-after-ms", "1500")
                    .insert_header("x-should-retry", "false")
                    .insert_header("x-request-id", "req_abc")
                    .insert_header("x-ratelimit-remaining-tokens", "0")
                    .insert_header("x-ratelimit-reset-tokens", "6m0s"),
            )
            .mount(&server)
            .await;
        let err = adapter(&server)
            .chat(&ChatRequest::user("x"))
            .await
            .unwrap_err();
        let a = api(&err);
        assert_eq!(a.status, Some(status));
        assert_eq!(a.error.r#type.as_deref(), ty);
        assert_eq!(a.error.code.as_deref(), code);
        assert_eq!(a.headers.retry_after.as_deref(), Some("2"));
        assert_eq!(a.headers.retry_after_ms.as_deref(), Some("1500"));
        assert_eq!(a.headers.should_retry, Some(false));
        assert_eq!(a.headers.request_id.as_deref(), Some("req_abc"));
        assert_eq!(
            a.headers.rate_limit("x-ratelimit-reset-tokens"),
            Some("6m0s")
        );
        assert_eq!(
            a.headers.rate_limit("x-ratelimit-remaining-tokens"),
            Some("0")
        );
    }
}

#[tokio::test]
async fn a_5xx_with_an_html_body_keeps_a_bounded_snippet() {
    let server = MockServer::start().await;
    let html = format!(
        "<html><body><h1>502 Bad Gateway</h1>{}</body></html>",
        "x".repeat(10_000)
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_raw(html, "text/html"))
        .mount(&server)
        .await;
    let err = adapter(&server)
        .chat(&ChatRequest::user("x"))
        .await
        .unwrap_err();
    let a = api(&err);
    assert_eq!(a.status, Some(502));
    assert!(a.error.is_empty());
    let snip = a.body_snippet.as_deref().unwrap();
    assert!(snip.starts_with("<html><body><h1>502 Bad Gateway"));
    assert!(snip.len() <= SNIPPET_LIMIT + 4);
}

#[tokio::test]
async fn broken_200_bodies_are_decode_errors_with_status_and_snippet() {
    for (body, what) in [
        (
            "{\"id\": \"x\", \"choices\": [{\"message\": {\"content\": \"hi\"",
            "not a chat completion",
        ),
        (
            "{\"id\": \"x\", \"model\": \"m\", \"choices\": []}",
            "no choices",
        ),
        (
            "{\"id\": \"x\", \"choices\": [{\"index\": 0, \"finish_reason\": \"stop\"}]}",
            "no message",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(body, "application/json")
                    .insert_header("x-request-id", "r9"),
            )
            .mount(&server)
            .await;
        match adapter(&server)
            .chat(&ChatRequest::user("x"))
            .await
            .unwrap_err()
        {
            CallError::Decode(d) => {
                assert!(d.what.contains(what), "{} vs {what}", d.what);
                assert_eq!(d.status, Some(200));
                assert_eq!(d.headers.request_id.as_deref(), Some("r9"));
                assert_eq!(d.snippet, body);
            }
            other => panic!("expected Decode, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_without_reading_it_all() {
    let server = MockServer::start().await;
    let big = completion(json!("y".repeat(64 * 1024)));
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(big))
        .mount(&server)
        .await;
    let small = OpenAi::builder(Preset::OpenAi, "m")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .limits(Limits {
            max_body_bytes: 4096,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let err = small.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(
        err,
        CallError::BodyTooLarge {
            limit: 4096,
            what: "response body".into()
        }
    );
}

fn chunk(delta: serde_json::Value, finish: Option<&str>) -> String {
    json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], "usage": null}).to_string()
}

#[tokio::test]
async fn streams_text_usage_and_skips_keep_alives() {
    let server = MockServer::start().await;
    let usage =
        json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [],
                       "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}})
        .to_string();
    let body = format!(
        ": keep-alive\n\n: keep-alive\n\n{}",
        sse(&[
            (
                None,
                &chunk(json!({"role": "assistant", "content": ""}), None)
            ),
            (None, &chunk(json!({"content": "Hel"}), None)),
            (None, &chunk(json!({"content": "lo"}), None)),
            (None, &chunk(json!({}), Some("stop"))),
            (None, &usage),
            (None, "[DONE]"),
        ])
    );
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true, "stream_options": {"include_usage": true}}),
        ))
        .respond_with(sse_response(body).insert_header("x-request-id", "req_s"))
        .expect(1)
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
            model: Some("gpt-4o-mini".into()),
            request_id: Some("req_s".into())
        }
    );
    assert_eq!(text(&chunks), "Hello");
    assert!(chunks.contains(&ChatChunk::Finish {
        reason: FinishReason::Stop
    }));
    assert_eq!(chunks.last(), Some(&ChatChunk::Usage(Usage::new(5, 2))));
    // Keep-alive comments and the empty role chunk produced no chunks of their own.
    assert_eq!(chunks.len(), 5);
}

#[tokio::test]
async fn a_mid_stream_error_payload_is_an_error_with_the_partial_text() {
    let server = MockServer::start().await;
    let body = sse(&[
        (None, &chunk(json!({"content": "The answer is"}), None)),
        (
            None,
            r#"{"error": {"message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null}}"#,
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
    assert_eq!(text(&chunks), "The answer is");
    let err = err.unwrap();
    assert_eq!(api(&err).error.r#type.as_deref(), Some("server_error"));
    assert_eq!(api(&err).status, None);
    let partial = err.partial().unwrap();
    assert_eq!(partial.text, "The answer is");
    assert!(partial.is_committed());
}

#[tokio::test]
async fn a_stream_without_done_is_truncated_even_after_a_finish_reason() {
    let server = MockServer::start().await;
    let body = sse(&[
        (None, &chunk(json!({"content": "Par"}), None)),
        (None, &chunk(json!({}), Some("stop"))),
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
    assert_eq!(text(&chunks), "Par");
    let err = err.unwrap();
    assert_eq!(err.root(), &CallError::Truncated);
    assert_eq!(err.partial().unwrap().text, "Par");
}

#[tokio::test]
async fn streamed_tool_call_fragments_reassemble() {
    let server = MockServer::start().await;
    let body = sse(&[
        (
            None,
            &chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": ""}}]}),
                None,
            ),
        ),
        (
            None,
            &chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"q\":"}}]}),
                None,
            ),
        ),
        (
            None,
            &chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"rust\"}"}}]}),
                None,
            ),
        ),
        (None, &chunk(json!({}), Some("tool_calls"))),
        (None, "[DONE]"),
    ]);
    Mock::given(method("POST"))
        .respond_with(sse_response(body))
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
    assert_eq!(resp.finish_reason, FinishReason::ToolCalls);
    assert_eq!(resp.tool_calls[0].id.as_deref(), Some("call_9"));
    assert_eq!(resp.tool_calls[0].arguments, Some(json!({"q": "rust"})));
}

#[tokio::test]
async fn an_sse_line_over_the_limit_stops_the_stream() {
    let server = MockServer::start().await;
    let body = sse(&[
        (None, &chunk(json!({"content": "z".repeat(10_000)}), None)),
        (None, "[DONE]"),
    ]);
    Mock::given(method("POST"))
        .respond_with(sse_response(body))
        .mount(&server)
        .await;
    let small = OpenAi::builder(Preset::OpenAi, "m")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .limits(Limits {
            max_sse_line_bytes: 1024,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let (chunks, err) = drain(small.stream(&ChatRequest::user("x")).await.unwrap()).await;
    assert!(chunks.is_empty());
    assert_eq!(
        err.unwrap().root(),
        &CallError::BodyTooLarge {
            limit: 1024,
            what: "SSE line".into()
        }
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_transport_fact() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let gpt = OpenAi::builder(Preset::OpenAi, "m")
        .base_url(format!("http://{addr}/v1"))
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    match gpt.chat(&ChatRequest::user("x")).await.unwrap_err() {
        CallError::Transport(t) => {
            assert_eq!(t.kind, TransportKind::ConnectRefused, "{}", t.detail);
            assert!(!t.detail.contains(KEY));
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_the_response_head() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)))
        .mount(&server)
        .await;
    let gpt = OpenAi::builder(Preset::OpenAi, "m")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .timeouts(nb_providers::Timeouts {
            connect: std::time::Duration::from_secs(1),
            response_head: std::time::Duration::from_millis(100),
            ..nb_providers::Timeouts::default()
        })
        .build()
        .unwrap();
    let err = gpt.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(err, CallError::timeout(TimeoutPhase::FirstByte));
}

#[tokio::test]
async fn embeddings_send_the_documented_request_and_keep_the_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_json(json!({"model": "text-embedding-3-small", "input": ["a", "b"]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 1, "embedding": [0.0, 1.0]}, {"object": "embedding", "index": 0, "embedding": [1.0, 0.0]}],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}})))
        .expect(1)
        .mount(&server)
        .await;
    let e = nb_providers::OpenAiEmbeddings::builder("text-embedding-3-small")
        .base_url(format!("{}/v1", server.uri()))
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let v = e.embed(&["a".into(), "b".into()]).await.unwrap();
    assert_eq!(v, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);
    assert!(!format!("{e:?}").contains(KEY));
}

#[tokio::test]
async fn embeddings_errors_and_bad_bodies_are_facts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [{"embedding": [1.0, "x"]}]})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}})).insert_header("retry-after", "3"))
        .mount(&server)
        .await;
    let e = nb_providers::OpenAiEmbeddings::builder("m")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    assert!(matches!(
        e.embed(&["a".into()]).await.unwrap_err(),
        CallError::Decode(_)
    ));
    let err = e.embed(&["a".into()]).await.unwrap_err();
    assert_eq!(api(&err).headers.retry_after.as_deref(), Some("3"));
}
