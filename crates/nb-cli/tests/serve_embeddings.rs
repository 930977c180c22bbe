//! `nb serve` answering `POST /v1/embeddings` in OpenAI's format over nb-chaos: routed
//! over the config's embedding targets, failed over like chat (the rate-limited first
//! choice is cooled down and skipped), with the report headers; embedding targets never
//! take a chat call.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use serde_json::{Value, json};

mod support;
use support::{KEY, client, provider, start};

const MODEL: &str = "text-embedding-3-small";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_are_routed_failed_over_and_answered_in_openais_format() {
    let s = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("limited", WireFormat::OpenAi, MODEL)
            .with_api_key("sk-upstream")
            .with_fault(Fault::always(FaultKind::RateLimit).with_retry_after(30.0)),
        ProviderSpec::new("spare", WireFormat::OpenAi, MODEL).with_api_key("sk-upstream"),
        ProviderSpec::new("chat", WireFormat::OpenAi, "gpt-4o-mini"),
    ]))
    .await
    .unwrap();
    let b = |n: &str| format!("{}/v1", s.base_url(n).unwrap());
    let mut config = String::new();
    config += &provider("limited", "openai", &b("limited"));
    config += &provider("spare", "openai-compatible", &b("spare"));
    config += &provider("chat", "openai", &b("chat"));
    config += &format!(
        r#"
[[targets]]
provider = "limited"
model = "{MODEL}"
embeddings = true

[[targets]]
provider = "spare"
model = "{MODEL}"
embeddings = true

[[targets]]
provider = "chat"
model = "gpt-4o-mini"

[routes]
embed = ["limited/{MODEL}", "spare/{MODEL}"]

[[gateway.keys]]
name = "test"
env = "NB_GATEWAY_KEY"
"#
    );
    let g = start(&config, "embeddings");
    let post = |body: Value| {
        client()
            .post(format!("{}/v1/embeddings", g.base))
            .bearer_auth(KEY)
            .json(&body)
            .send()
    };

    // The shape openai-python's `CreateEmbeddingResponse` reads.
    let r = post(json!({"model": "embed", "input": ["the cat sat", "a dog ran"]}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = |n: &str| r.headers()[n].to_str().unwrap().to_owned();
    assert_eq!(h("x-nb-served-by"), format!("spare/{MODEL}"));
    assert_eq!(h("x-nb-failed-over"), "true");
    assert_eq!(
        h("x-nb-verdict"),
        "unchecked",
        "vectors are not vouched for"
    );
    assert_eq!(h("x-nb-attempts"), "2");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], MODEL);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["object"], "embedding");
    assert_eq!(data[1]["index"], 1);
    assert_eq!(data[0]["embedding"].as_array().unwrap().len(), 64);
    assert_ne!(data[0]["embedding"], data[1]["embedding"]);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    // The rate limit cooled the first choice down: the next call goes straight on.
    let r = post(json!({"model": "embed", "input": "one text"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-nb-attempts"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(s.handle().requests("limited"), 1);
    assert_eq!(s.handle().requests("spare"), 2);

    // Token arrays and other encodings are refused in OpenAI's error shape.
    for body in [
        json!({"model": "embed", "input": [[1, 2, 3]]}),
        json!({"model": "embed", "input": []}),
        json!({"model": "embed", "input": "x", "encoding_format": "base64"}),
        json!({"input": "x"}),
    ] {
        let r = post(body.clone()).await.unwrap();
        assert_eq!(r.status(), 400, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error", "{body}");
    }
    // A gateway key is needed.
    let r = client()
        .post(format!("{}/v1/embeddings", g.base))
        .json(&json!({"model": "embed", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // Embedding targets never take a chat call: the route has no chat target.
    let r = client()
        .post(format!("{}/v1/chat/completions", g.base))
        .bearer_auth(KEY)
        .json(&json!({"model": "embed", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(s.handle().requests("spare"), 2);
    assert_eq!(s.handle().requests("limited"), 1);
}
