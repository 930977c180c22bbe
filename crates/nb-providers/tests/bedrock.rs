//! The AWS Bedrock adapter (Converse, ConverseStream) against a real loopback server.
//!
//! Shapes: the Bedrock Runtime service model, botocore 1.44.18
//! `botocore/data/bedrock-runtime/2023-09-30/service-2.json` — operations `Converse`
//! (`POST /model/{modelId}/converse`) and `ConverseStream` (`…/converse-stream`),
//! `ConverseRequest`, `ConverseResponse`, `ConverseStreamOutput` (its events and
//! exceptions), `StopReason`, `TokenUsage`, and the error shapes (`ThrottlingException`
//! 429, `ValidationException` 400, …: body `{"message"}`, type in `x-amzn-ErrorType`).
//! Signing: AWS Signature Version 4 (service `bedrock`), by `aws-sigv4`.
#![cfg(feature = "bedrock")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::wire::bedrock_event_message as frame;
use nb_providers::{AwsCredentials, Bedrock};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "session-token-SECRET-77";

fn adapter(server: &MockServer) -> Bedrock {
    Bedrock::builder(MODEL)
        .region("us-east-1")
        .base_url(server.uri())
        .credentials(AwsCredentials::new(
            "AKIDEXAMPLE",
            SECRET,
            Some(TOKEN.to_owned()),
        ))
        .build()
        .unwrap()
}

fn converse(content: serde_json::Value, stop: &str) -> serde_json::Value {
    json!({"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop,
           "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15, "cacheReadInputTokens": 4},
           "metrics": {"latencyMs": 321}})
}

/// The SigV4 `Authorization` header of a request: its credential scope and signed
/// headers, without the signature.
fn authorization(r: &Request) -> String {
    r.headers["authorization"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn sends_a_signed_documented_converse_request() {
    let server = MockServer::start().await;
    let req = ChatRequest::new(vec![
        Message::system("Be terse."),
        Message::user("6x7?"),
        Message::assistant_tool_calls(vec![ToolCall::from_raw(
            Some("tooluse_1".into()),
            "calc",
            r#"{"e":"6*7"}"#,
        )]),
        Message::tool_result("tooluse_1", "calc", "42"),
    ])
    .with_temperature(0.0)
    .with_max_tokens(20)
    .with_stop("\n\n")
    .with_tool(ToolSpec::new("calc", json!({"type": "object"})).with_description("math"))
    .with_tool_choice(ToolChoice::Auto);
    Mock::given(method("POST"))
        // The model id's `:` is percent-encoded in the path, as AWS's SDKs send it.
        .and(path(
            "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
        ))
        .and(header("content-type", "application/json"))
        .and(header("x-amz-security-token", TOKEN))
        .and(body_json(json!({
            "system": [{"text": "Be terse."}],
            "messages": [
                {"role": "user", "content": [{"text": "6x7?"}]},
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_1", "name": "calc", "input": {"e": "6*7"}}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "42"}]}}]}
            ],
            "inferenceConfig": {"maxTokens": 20, "temperature": 0.0, "stopSequences": ["\n\n"]},
            "toolConfig": {"tools": [{"toolSpec": {"name": "calc", "description": "math", "inputSchema": {"json": {"type": "object"}}}}],
                           "toolChoice": {"auto": {}}}
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-amzn-requestid", "req-bedrock-1")
                .set_body_json(converse(json!([{"text": "42"}]), "end_turn")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let resp = adapter(&server).chat(&req).await.unwrap();
    assert_eq!(resp.text, "42");
    assert_eq!(resp.finish_reason, FinishReason::Stop);
    assert_eq!(resp.usage, Some(Usage::new(12, 3).with_cached(4)));
    assert_eq!(resp.request_id.as_deref(), Some("req-bedrock-1"));

    let sent = &server.received_requests().await.unwrap()[0];
    let auth = authorization(sent);
    let date = sent.headers["x-amz-date"].to_str().unwrap();
    assert_eq!(date.len(), 16, "ISO 8601 basic: {date}");
    assert!(
        auth.starts_with(&format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{}/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature=",
            &date[..8]
        )),
        "{auth}"
    );
    let signature = auth.rsplit('=').next().unwrap();
    assert_eq!(signature.len(), 64);
    assert!(!auth.contains(SECRET));
}

#[tokio::test]
async fn tool_use_answers_and_structured_output_as_a_forced_tool() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_json(json!({
            "messages": [{"role": "user", "content": [{"text": "x"}]}],
            "toolConfig": {"tools": [{"toolSpec": {"name": "result", "description": "Answer with this structure.",
                "inputSchema": {"json": {"type": "object", "properties": {"a": {"type": "integer"}}}}}}],
                "toolChoice": {"tool": {"name": "result"}}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(converse(
            json!([{"toolUse": {"toolUseId": "tooluse_9", "name": "result", "input": {"a": 1}}}]),
            "tool_use",
        )))
        .mount(&server)
        .await;
    let req = ChatRequest::user("x").with_json_schema(
        "result",
        json!({"type": "object", "properties": {"a": {"type": "integer"}}}),
    );
    let r = adapter(&server).chat(&req).await.unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls[0].id.as_deref(), Some("tooluse_9"));
    assert_eq!(r.tool_calls[0].arguments, Some(json!({"a": 1})));
}

#[tokio::test]
async fn errors_keep_the_type_aws_names_in_a_header() {
    // Status per the service model; the type in `x-amzn-ErrorType`, the body `{"message"}`.
    for (status, ty, msg) in [
        (
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
        ),
        (
            429,
            "ModelNotReadyException",
            "Model is not ready to serve inference requests.",
        ),
        (
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
        ),
        (
            400,
            "ValidationException",
            "Input is too long for requested model.",
        ),
        (
            400,
            "ServiceQuotaExceededException",
            "Your request exceeds the service quota for your account.",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header(
                        "x-amzn-ErrorType",
                        format!("{ty}:http://internal.amazon.com/coral/com.amazon.bedrock/")
                            .as_str(),
                    )
                    .insert_header("x-amzn-requestid", "r-1")
                    .set_body_json(json!({"message": msg})),
            )
            .mount(&server)
            .await;
        let err = adapter(&server)
            .chat(&ChatRequest::user("x"))
            .await
            .unwrap_err();
        let a = api(&err);
        assert_eq!(a.status, Some(status));
        assert_eq!(a.error.r#type.as_deref(), Some(ty));
        assert_eq!(a.error.message.as_deref(), Some(msg));
        assert_eq!(a.headers.request_id.as_deref(), Some("r-1"));
        let shown = format!("{err:?}{err}");
        assert!(!shown.contains(SECRET) && !shown.contains(TOKEN));
    }
}

fn stream_body(frames: &[(&str, &str, serde_json::Value)]) -> Vec<u8> {
    frames
        .iter()
        .flat_map(|(mt, kind, payload)| frame(mt, kind, payload.to_string().as_bytes()))
        .collect()
}

fn event_stream(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/vnd.amazon.eventstream")
}

#[tokio::test]
async fn streams_text_tool_calls_and_usage_from_the_event_stream() {
    let server = MockServer::start().await;
    let body = stream_body(&[
        ("event", "messageStart", json!({"role": "assistant"})),
        (
            "event",
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "Let me "}}),
        ),
        (
            "event",
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "look."}}),
        ),
        ("event", "contentBlockStop", json!({"contentBlockIndex": 0})),
        (
            "event",
            "contentBlockStart",
            json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_2", "name": "lookup"}}}),
        ),
        (
            "event",
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"q\":"}}}),
        ),
        (
            "event",
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"x\"}"}}}),
        ),
        ("event", "contentBlockStop", json!({"contentBlockIndex": 1})),
        ("event", "messageStop", json!({"stopReason": "tool_use"})),
        (
            "event",
            "metadata",
            json!({"usage": {"inputTokens": 9, "outputTokens": 5, "totalTokens": 14}, "metrics": {"latencyMs": 10}}),
        ),
    ]);
    Mock::given(method("POST"))
        .and(path(
            "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream",
        ))
        .and(header("accept", "application/vnd.amazon.eventstream"))
        .respond_with(event_stream(body).insert_header("x-amzn-requestid", "req-s"))
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
            model: Some(MODEL.into()),
            request_id: Some("req-s".into())
        }
    );
    assert_eq!(text(&chunks), "Let me look.");
    let mut acc = StreamAccumulator::default();
    for c in &chunks {
        acc.push(c);
    }
    let r = acc.finish().unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.tool_calls[0].id.as_deref(), Some("tooluse_2"));
    assert_eq!(r.tool_calls[0].arguments, Some(json!({"q": "x"})));
    assert_eq!(r.usage, Some(Usage::new(9, 5)));
}

#[tokio::test]
async fn a_stream_exception_is_an_error_with_the_partial_text_and_a_cut_stream_is_truncated() {
    let server = MockServer::start().await;
    let body = stream_body(&[
        ("event", "messageStart", json!({"role": "assistant"})),
        (
            "event",
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "par"}}),
        ),
        (
            "exception",
            "throttlingException",
            json!({"message": "Too many tokens, please wait before trying again."}),
        ),
    ]);
    Mock::given(method("POST"))
        .respond_with(event_stream(body))
        .mount(&server)
        .await;
    let (chunks, err) = drain(
        adapter(&server)
            .stream(&ChatRequest::user("hi"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(text(&chunks), "par");
    let err = err.unwrap();
    assert_eq!(err.partial().unwrap().text, "par");
    assert_eq!(
        api(&err).error.r#type.as_deref(),
        Some("ThrottlingException")
    );

    let cut = MockServer::start().await;
    let mut body = stream_body(&[
        ("event", "messageStart", json!({"role": "assistant"})),
        (
            "event",
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": "cut"}}),
        ),
    ]);
    body.extend_from_slice(&frame("event", "messageStop", b"{\"stopReason\":\"end_turn\"}")[..10]);
    Mock::given(method("POST"))
        .respond_with(event_stream(body))
        .mount(&cut)
        .await;
    let (_, err) = drain(
        adapter(&cut)
            .stream(&ChatRequest::user("hi"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(err.unwrap().root(), &CallError::Truncated);
}

#[test]
fn credentials_come_from_a_profile_file() {
    let dir = std::env::temp_dir().join(format!("nb-bedrock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("credentials");
    std::fs::write(
        &file,
        "[default]\naws_access_key_id = AKID0\naws_secret_access_key = S0\n[work]\naws_access_key_id = AKID1\naws_secret_access_key = S1\n",
    )
    .unwrap();
    let c = AwsCredentials::from_profile_file(&file, "work").unwrap();
    assert!(format!("{c:?}").contains("AKID1"));
    assert!(!format!("{c:?}").contains("S1"));
    assert!(AwsCredentials::from_profile_file(&file, "absent").is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
