//! Real captured provider errors, as a table (`data/real_errors/rows.jsonl`: status,
//! headers, body, and the public source each was taken from), served over loopback to
//! the real adapters and classified by the default classifier. Every row must come out
//! with its expected class, scope and retry hint. The table grows whenever a provider
//! changes a message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_core::{ChatRequest, Provider};
use nb_providers::{Anthropic, ApiKey, Gemini, OpenAi, Preset};
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn adapter(format: &str, base: &str) -> Box<dyn Provider> {
    let key = ApiKey::new("sk-test-real-errors");
    match format {
        "openai" => Box::new(
            OpenAi::builder(Preset::OpenAi, "m")
                .base_url(format!("{base}/v1"))
                .api_key(key)
                .build()
                .unwrap(),
        ),
        "anthropic" => Box::new(
            Anthropic::builder("claude-sonnet-4-5")
                .base_url(base)
                .api_key(key)
                .build()
                .unwrap(),
        ),
        "gemini" => Box::new(
            Gemini::builder("gemini-2.5-flash")
                .base_url(base)
                .api_key(key)
                .build()
                .unwrap(),
        ),
        "bedrock" => Box::new(
            nb_providers::Bedrock::builder("anthropic.claude-3-5-haiku-20241022-v1:0")
                .region("us-east-1")
                .base_url(base)
                .credentials(nb_providers::AwsCredentials::new(
                    "AKIDEXAMPLE",
                    "sk-test-real-errors",
                    None,
                ))
                .build()
                .unwrap(),
        ),
        other => panic!("unknown format {other}"),
    }
}

#[tokio::test]
async fn every_real_error_is_classified_with_its_class_scope_and_hint() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/real_errors/rows.jsonl");
    let rows: Vec<Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let server = MockServer::start().await;
    let mut wrong = Vec::new();
    let mut providers = std::collections::BTreeSet::new();
    for r in &rows {
        let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
        assert!(
            s("source").starts_with("https://"),
            "{}: a source link",
            s("id")
        );
        providers.insert(s("provider"));
        server.reset().await;
        let body = s("body");
        let content_type = if body.trim_start().starts_with('<') {
            "text/html"
        } else {
            "application/json"
        };
        let mut resp = ResponseTemplate::new(u16::try_from(r["status"].as_u64().unwrap()).unwrap())
            .set_body_raw(body.into_bytes(), content_type);
        for (k, v) in r["headers"].as_object().unwrap() {
            resp = resp.insert_header(k.as_str(), v.as_str().unwrap());
        }
        Mock::given(any()).respond_with(resp).mount(&server).await;
        let err = adapter(&s("format"), &server.uri())
            .chat(&ChatRequest::user("hi"))
            .await
            .expect_err("an error status");
        let c = nb_classify::classify(&err);
        let got = (
            c.class.as_str().to_owned(),
            c.scope.to_string(),
            c.retry_after.map(|d| u64::try_from(d.as_millis()).unwrap()),
        );
        let want = (s("class"), s("scope"), r["retry_after_ms"].as_u64());
        if got != want {
            wrong.push(format!(
                "{}: got {got:?}, want {want:?} ({})",
                s("id"),
                c.reason
            ));
        }
    }
    for p in [
        "openai",
        "azure",
        "anthropic",
        "gemini",
        "deepseek",
        "groq",
        "vllm",
        "openrouter",
        "bedrock",
    ] {
        assert!(providers.contains(p), "the table covers {p}");
    }
    assert!(
        wrong.is_empty(),
        "{} of {} rows wrong:\n{}",
        wrong.len(),
        rows.len(),
        wrong.join("\n")
    );
}
