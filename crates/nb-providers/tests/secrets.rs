//! An API key never appears in Debug or Display of configs, adapters, requests or errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::{Anthropic, ApiKey, Gemini, OpenAi, Preset};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn assert_clean(what: &str, s: &str) {
    assert!(!s.contains(KEY), "{what} leaks the key: {s}");
    assert!(!s.contains("SECRET"), "{what} leaks part of the key: {s}");
}

#[tokio::test]
async fn keys_never_reach_debug_display_or_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "code": "invalid_api_key"}})))
        .mount(&server)
        .await;
    let key = ApiKey::new(KEY);
    assert_clean("ApiKey Debug", &format!("{key:?}"));
    let builder = OpenAi::builder(Preset::OpenAi, "m")
        .base_url(server.uri())
        .api_key(key.clone());
    assert_clean("OpenAiBuilder Debug", &format!("{builder:?}"));
    let openai = builder.build().unwrap();
    let azure = OpenAi::builder(
        Preset::Azure {
            deployment: "d".into(),
            api_version: "v".into(),
        },
        "m",
    )
    .base_url(server.uri())
    .api_key(key.clone())
    .build()
    .unwrap();
    let ab = Anthropic::builder("c")
        .base_url(server.uri())
        .api_key(key.clone());
    assert_clean("AnthropicBuilder Debug", &format!("{ab:?}"));
    let anthropic = ab.build().unwrap();
    let gb = Gemini::builder("g")
        .base_url(server.uri())
        .api_key(key.clone());
    assert_clean("GeminiBuilder Debug", &format!("{gb:?}"));
    let gemini = gb.build().unwrap();
    let providers: Vec<(&str, Box<dyn Provider>)> = vec![
        ("openai", Box::new(openai)),
        ("azure", Box::new(azure)),
        ("anthropic", Box::new(anthropic)),
        ("gemini", Box::new(gemini)),
    ];
    let req = ChatRequest::user("hello");
    assert_clean("ChatRequest Debug", &format!("{req:?}"));
    for (name, p) in &providers {
        let err = p.chat(&req).await.unwrap_err();
        assert_clean(name, &format!("{err:?}"));
        assert_clean(name, &format!("{err}"));
        assert_clean(name, &serde_json::to_string(&err).unwrap());
        let err = match p.stream(&req).await {
            Err(e) => e,
            Ok(_) => panic!("{name}: a 401 must fail the stream call"),
        };
        assert_clean(name, &format!("{err:?}"));
    }
    // The adapters' own Debug output.
    let dbg = format!(
        "{:?} {:?} {:?}",
        OpenAi::builder(Preset::Groq, "m")
            .base_url(server.uri())
            .api_key(key.clone())
            .build()
            .unwrap(),
        Anthropic::builder("c")
            .base_url(server.uri())
            .api_key(key.clone())
            .build()
            .unwrap(),
        Gemini::builder("g")
            .base_url(server.uri())
            .api_key(key.clone())
            .build()
            .unwrap(),
    );
    assert_clean("adapter Debug", &dbg);
    assert!(dbg.contains("[redacted]"));
}

#[test]
fn config_errors_do_not_echo_keys() {
    let e = OpenAi::builder(Preset::OpenAi, "m")
        .base_url("http://203.0.113.7/v1")
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap_err();
    assert_clean("ConfigError", &format!("{e:?} {e}"));
    // A key that cannot be a header value is refused without being echoed.
    let e = OpenAi::builder(Preset::OpenAi, "m")
        .api_key(ApiKey::new("sk-SECRET\nbad"))
        .build()
        .unwrap_err();
    assert_clean("ConfigError", &format!("{e:?} {e}"));
}
