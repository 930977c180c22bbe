//! Google Vertex AI adapters against real loopback servers: the model endpoint and the
//! OAuth token endpoint (or the metadata server).
//!
//! Shapes: Vertex AI REST `projects.locations.publishers.models.generateContent` /
//! `streamGenerateContent` (Gemini's wire format) and `rawPredict` / `streamRawPredict`
//! (Anthropic's Messages format with `anthropic_version` in the body and the model in
//! the URL, as the Anthropic Python SDK's `lib/vertex/_client.py` sends it); tokens by
//! the JWT bearer grant (RFC 7523: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`,
//! `assertion`), answered `{"access_token", "expires_in", "token_type"}`; the metadata
//! server's `GET /computeMetadata/v1/instance/service-accounts/default/token` with
//! `Metadata-Flavor: Google`. The private key in `tests/data` was generated for these
//! tests and grants nothing.
#![cfg(feature = "vertex")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::{GoogleAuth, Vertex};
use serde_json::json;
use wiremock::matchers::{body_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY_PEM: &str = include_str!("data/vertex-test-key.pem");
const GEMINI: &str =
    "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-flash";
const CLAUDE: &str =
    "/v1/projects/proj-1/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929";

fn service_account(token_server: &MockServer) -> GoogleAuth {
    GoogleAuth::service_account_json(
        &json!({"type": "service_account", "project_id": "proj-1",
                "client_email": "nb@proj-1.iam.gserviceaccount.com", "private_key": KEY_PEM,
                "token_uri": format!("{}/token", token_server.uri())})
        .to_string(),
    )
    .unwrap()
}

async fn token_endpoint(server: &MockServer, token: &str, expires_in: u64, times: u64) {
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=ey",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}),
        ))
        .expect(times)
        .mount(server)
        .await;
}

fn gemini_answer(text: &str) -> serde_json::Value {
    json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
           "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1, "totalTokenCount": 6},
           "modelVersion": "gemini-2.5-flash"})
}

#[tokio::test]
async fn gemini_on_vertex_with_a_service_account_token_reused_until_it_nears_expiry() {
    let server = MockServer::start().await;
    token_endpoint(&server, "ya29.token-1", 3600, 1).await;
    Mock::given(method("POST"))
        .and(path(format!("{GEMINI}:generateContent")))
        .and(header("authorization", "Bearer ya29.token-1"))
        .and(body_json(
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(gemini_answer("hello")))
        .expect(2)
        .mount(&server)
        .await;
    let v = Vertex::gemini("proj-1", "us-central1", "gemini-2.5-flash")
        .base_url(server.uri())
        .auth(service_account(&server))
        .build()
        .unwrap();
    for _ in 0..2 {
        let r = v.chat(&ChatRequest::user("hi")).await.unwrap();
        assert_eq!(r.text, "hello");
    }
    assert!(!format!("{v:?}").contains("PRIVATE KEY"));
}

#[tokio::test]
async fn a_token_within_a_minute_of_expiry_is_refreshed_before_use() {
    // `expires_in: 60` leaves no time before the refresh margin: every call gets a new
    // token, and each new token is the one sent.
    let server = MockServer::start().await;
    token_endpoint(&server, "ya29.short", 60, 2).await;
    Mock::given(method("POST"))
        .and(path(format!("{GEMINI}:generateContent")))
        .and(header("authorization", "Bearer ya29.short"))
        .respond_with(ResponseTemplate::new(200).set_body_json(gemini_answer("ok")))
        .expect(2)
        .mount(&server)
        .await;
    let v = Vertex::gemini("proj-1", "us-central1", "gemini-2.5-flash")
        .base_url(server.uri())
        .auth(service_account(&server))
        .build()
        .unwrap();
    for _ in 0..2 {
        v.chat(&ChatRequest::user("hi")).await.unwrap();
    }
}

#[tokio::test]
async fn anthropic_on_vertex_from_the_metadata_server_whole_and_streamed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(
            "/computeMetadata/v1/instance/service-accounts/default/token",
        ))
        .and(header("metadata-flavor", "Google"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "ya29.meta", "expires_in": 3599, "token_type": "Bearer"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{CLAUDE}:rawPredict")))
        .and(header("authorization", "Bearer ya29.meta"))
        // No `model` in the body: it is in the URL; the Vertex version instead.
        .and(body_json(json!({"anthropic_version": "vertex-2023-10-16", "max_tokens": 64,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_vrtx_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "hello from vertex"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 3, "output_tokens": 4}})))
        .mount(&server)
        .await;
    let events = sse(&[
        (
            Some("message_start"),
            r#"{"type":"message_start","message":{"id":"msg_vrtx_2","model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":3,"output_tokens":1}}}"#,
        ),
        (
            Some("content_block_delta"),
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"streamed"}}"#,
        ),
        (
            Some("message_delta"),
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#,
        ),
        (Some("message_stop"), r#"{"type":"message_stop"}"#),
    ]);
    Mock::given(method("POST"))
        .and(path(format!("{CLAUDE}:streamRawPredict")))
        .and(header("authorization", "Bearer ya29.meta"))
        .and(wiremock::matchers::body_partial_json(
            json!({"anthropic_version": "vertex-2023-10-16", "stream": true}),
        ))
        .respond_with(sse_response(events))
        .mount(&server)
        .await;
    let v = Vertex::anthropic("proj-1", "us-east5", "claude-sonnet-4-5@20250929")
        .base_url(server.uri())
        .auth(GoogleAuth::MetadataServer {
            base_url: server.uri(),
        })
        .build()
        .unwrap();
    let req = ChatRequest::user("hi").with_max_tokens(64);
    let r = v.chat(&req).await.unwrap();
    assert_eq!(r.text, "hello from vertex");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    let (chunks, err) = drain(v.stream(&req).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text(&chunks), "streamed");
}

#[tokio::test]
async fn a_refused_token_is_an_auth_failure_and_model_errors_keep_their_google_facts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
        ))
        .mount(&server)
        .await;
    let v = Vertex::gemini("proj-1", "us-central1", "gemini-2.5-flash")
        .base_url(server.uri())
        .auth(service_account(&server))
        .build()
        .unwrap();
    let err = v.chat(&ChatRequest::user("hi")).await.unwrap_err();
    let a = api(&err);
    assert_eq!(a.status, Some(400));
    assert_eq!(a.error.r#type.as_deref(), Some("invalid_grant"));
    assert_eq!(a.error.message.as_deref(), Some("Invalid JWT Signature."));

    // A Google RPC error from the model endpoint, with a token given explicitly.
    let model = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {"code": 429,
            "message": "Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute_per_project_per_base_model with base model: gemini-2.5-flash.",
            "status": "RESOURCE_EXHAUSTED"}})))
        .mount(&model)
        .await;
    let v = Vertex::gemini("proj-1", "us-central1", "gemini-2.5-flash")
        .base_url(model.uri())
        .auth(GoogleAuth::token("ya29.given-SECRET"))
        .build()
        .unwrap();
    let err = v.chat(&ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(
        api(&err).error.status.as_deref(),
        Some("RESOURCE_EXHAUSTED")
    );
    assert!(!format!("{err:?}{err}{v:?}").contains("given-SECRET"));
}

#[test]
fn the_regional_global_and_multi_region_endpoints() {
    let url = |region: &str| {
        format!(
            "{:?}",
            Vertex::gemini("p", region, "gemini-2.5-flash")
                .auth(GoogleAuth::token("t"))
                .build()
                .unwrap()
        )
    };
    assert!(url("europe-west4").contains(
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    ));
    assert!(
        url("global").contains("https://aiplatform.googleapis.com/v1/projects/p/locations/global/")
    );
    assert!(
        url("us").contains("https://aiplatform.us.rep.googleapis.com/v1/projects/p/locations/us/")
    );
    assert!(
        Vertex::gemini("p", "us-central1/../x", "m")
            .auth(GoogleAuth::token("t"))
            .build()
            .is_err()
    );
}
