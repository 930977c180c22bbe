//! Keys go only to their origin, and every exchange is bounded in time — with the
//! adapters used directly, no router around them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use nb_core::*;
use nb_providers::{Anthropic, ApiKey, OpenAi, Preset, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn anthropic_answer() -> serde_json::Value {
    serde_json::json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "c",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 1}
    })
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed_and_the_key_stays_home() {
    // Regression: reqwest's default policy strips only `Authorization`, so `x-api-key`
    // went along to whatever host a 307 named.
    let home = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(anthropic_answer()))
        .mount(&elsewhere)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("location", format!("{}/v1/messages", elsewhere.uri())),
        )
        .mount(&home)
        .await;
    let claude = Anthropic::builder("c")
        .base_url(home.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let err = claude.chat(&ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.status(), Some(307), "{err}");
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "nothing, and no key, reached the other origin"
    );
}

#[tokio::test]
async fn a_redirect_within_the_origin_is_followed() {
    let home = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/v2/messages"))
        .mount(&home)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(anthropic_answer()))
        .mount(&home)
        .await;
    let claude = Anthropic::builder("c")
        .base_url(home.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let answer = claude.chat(&ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.text, "ok");
    let seen = home.received_requests().await.unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].headers.get("x-api-key").unwrap(), KEY);
}

/// A server that sends a response head and then one byte every few seconds.
async fn trickling_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{";
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    if sock.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn reading_a_body_is_bounded_by_the_idle_timeout_without_a_router() {
    // Regression: once the head arrived, a 1 byte/s body kept the call pending forever.
    let gpt = OpenAi::builder(Preset::OpenAi, "m")
        .base_url(trickling_server().await)
        .api_key(ApiKey::new(KEY))
        .timeouts(Timeouts {
            body_idle: Duration::from_millis(300),
            ..Timeouts::default()
        })
        .build()
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), gpt.chat(&ChatRequest::user("x")))
        .await
        .expect("the adapter itself gave up");
    assert_eq!(got.unwrap_err(), CallError::timeout(TimeoutPhase::Idle));
}

#[tokio::test]
async fn reading_a_body_is_bounded_by_the_total_timeout_too() {
    let gpt = OpenAi::builder(Preset::OpenAi, "m")
        .base_url(trickling_server().await)
        .api_key(ApiKey::new(KEY))
        .timeouts(Timeouts {
            body_idle: Duration::from_secs(10),
            total: Duration::from_millis(500),
            ..Timeouts::default()
        })
        .build()
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), gpt.chat(&ChatRequest::user("x")))
        .await
        .expect("the adapter itself gave up");
    assert_eq!(got.unwrap_err(), CallError::timeout(TimeoutPhase::Total));
}

#[tokio::test]
async fn a_key_echoed_by_the_server_is_redacted_from_the_error() {
    // Regression: a server that echoes the request put the key into the error's
    // Display, Debug and JSON.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": {"message": format!("bad request; headers were: authorization: Bearer {KEY}"), "type": "invalid_request_error"}
        })))
        .mount(&server)
        .await;
    let gpt = OpenAi::builder(Preset::OpenAi, "m")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let err = gpt.chat(&ChatRequest::user("x")).await.unwrap_err();
    for shown in [
        format!("{err}"),
        format!("{err:?}"),
        serde_json::to_string(&err).unwrap(),
    ] {
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
