//! The simulator on its own, spoken to with plain reqwest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use nb_chaos::tasks::Task;
use nb_chaos::*;
use serde_json::{Value, json};

fn openai_body(prompt: &str, stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}], "stream": stream, "stream_options": {"include_usage": true}})
}

async fn post(url: String, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_shipped_scenario_parses() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        Scenario::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        n += 1;
    }
    assert!(n >= 7, "expected the shipped scenarios, found {n}");
    let demo = Scenario::demo_story();
    assert_eq!(demo.providers.len(), 3, "the embedded demo story parses");
    let quick = demo.clone().scaled(0.2);
    assert_eq!(quick.phases.last().unwrap().to_s, 12.0);
    assert_eq!(quick.phase_at(3.0).unwrap().name, "rate-limit storm");
}

#[test]
fn bad_scenarios_get_specific_errors() {
    let e = Scenario::from_toml("seed = 1\n[[providers]]\nname = \"a\"\nformat = \"openai\"\nmodels = [{ name = \"m\" }]\nlatncy = { base_ms = 1 }\n").unwrap_err();
    assert!(e.to_string().contains("latncy"), "{e}");
    let e = Scenario::from_toml("[[providers]]\nname = \"a\"\nformat = \"openai\"\nmodels = [{ name = \"m\" }]\nfaults = [{ kind = \"outage\" }]\n").unwrap_err();
    assert!(e.to_string().contains("window"), "{e}");
    let e = Scenario::from_toml("[[providers]]\nname = \"a\"\nformat = \"openai\"\nmodels = [{ name = \"m\" }]\nfaults = [{ kind = \"rate_limit\", probability = 1.5 }]\n").unwrap_err();
    assert!(e.to_string().contains("probability"), "{e}");
    let e = Scenario::from_toml(
        "[[providers]]\nname = \"a\"\nformat = \"cohere\"\nmodels = [{ name = \"m\" }]\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("cohere"), "{e}");
}

#[tokio::test]
async fn healthy_providers_answer_checkable_tasks_correctly_in_every_format() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("o", WireFormat::OpenAi, "gpt-4o-mini"),
        ProviderSpec::new("a", WireFormat::Anthropic, "claude")
            .with_personality(Personality::Chatty),
        ProviderSpec::new("g", WireFormat::Gemini, "gemini-2.5-flash")
            .with_personality(Personality::Markdown),
    ]))
    .await
    .unwrap();
    let task = Task::Arithmetic {
        a: 19,
        op: '*',
        b: 3,
    };
    let o = post(
        format!("{}/v1/chat/completions", server.base_url("o").unwrap()),
        openai_body(&task.prompt(), false),
    )
    .await;
    assert!(o.headers().contains_key("x-request-id"));
    let v: Value = o.json().await.unwrap();
    assert!(
        task.check(v["choices"][0]["message"]["content"].as_str().unwrap()),
        "{v}"
    );
    let a: Value = post(
        format!("{}/v1/messages", server.base_url("a").unwrap()),
        json!({"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": task.prompt()}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(a["content"][0]["text"], "The answer is 57.");
    let g: Value = post(
        format!(
            "{}/v1beta/models/gemini-2.5-flash:generateContent",
            server.base_url("g").unwrap()
        ),
        json!({"contents": [{"role": "user", "parts": [{"text": task.prompt()}]}]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        g["candidates"][0]["content"]["parts"][0]["text"],
        "**Answer:** 57"
    );
    let stats = server.handle().all_stats();
    assert_eq!(
        stats["o"].requests + stats["a"].requests + stats["g"].requests,
        3
    );
    assert_eq!(stats["g"].by_model["gemini-2.5-flash"], 1);
}

#[tokio::test]
async fn streams_end_with_their_terminators_and_keep_alives_come_first() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("o", WireFormat::OpenAi, "gpt-4o-mini").with_fault(
            Fault::always(FaultKind::KeepAlive)
                .with_count(2)
                .with_delay_ms(1),
        ),
    ]))
    .await
    .unwrap();
    let body = post(
        format!("{}/v1/chat/completions", server.base_url("o").unwrap()),
        openai_body("hello", true),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        body.starts_with(": keep-alive\n\n: keep-alive\n\ndata: "),
        "{body}"
    );
    assert!(body.ends_with("data: [DONE]\n\n"));
    assert!(
        body.contains("\"choices\":[],"),
        "usage chunk with empty choices: {body}"
    );
}

#[tokio::test]
async fn the_same_seed_replays_the_same_faults() {
    let scenario = |seed| {
        Scenario::new(vec![
            ProviderSpec::new("p", WireFormat::OpenAi, "gpt-4o-mini")
                .with_fault(Fault::always(FaultKind::RateLimit).with_probability(0.2))
                .with_fault(Fault::always(FaultKind::ServerError).with_probability(0.1))
                .with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(0.1)),
        ])
        .with_seed(seed)
    };
    let run = |seed| async move {
        let server = ChaosServer::start(scenario(seed)).await.unwrap();
        let url = format!("{}/v1/chat/completions", server.base_url("p").unwrap());
        let client = reqwest::Client::new();
        for i in 0..150 {
            let t = Task::Arithmetic {
                a: i,
                op: '+',
                b: 1,
            };
            client
                .post(&url)
                .json(&openai_body(&t.prompt(), false))
                .send()
                .await
                .unwrap();
        }
        let log = server.handle().stats("p").unwrap().log;
        log.into_iter()
            .map(|r| (r.n, r.fault, r.status))
            .collect::<Vec<_>>()
    };
    let a = run(11).await;
    let b = run(11).await;
    let c = run(12).await;
    assert_eq!(a.len(), 150);
    assert_eq!(a, b, "same seed, same faults");
    assert_ne!(a, c, "another seed, other faults");
    let faulted = a.iter().filter(|r| r.1.is_some()).count();
    assert!(
        (20..=90).contains(&faulted),
        "about 40% faulted, got {faulted}"
    );
}

#[tokio::test]
async fn an_outage_refuses_connections_and_recovery_accepts_them_again() {
    let server = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
        "p",
        WireFormat::OpenAi,
        "gpt-4o-mini",
    )]))
    .await
    .unwrap();
    let h = server.handle();
    let url = format!("{}/v1/chat/completions", h.base_url("p").unwrap());
    let client = reqwest::Client::new();
    assert!(
        client
            .post(&url)
            .json(&openai_body("x", false))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    h.set_down("p", true);
    // The listener closes on the accept loop's next pass (every 20 ms, later on a loaded
    // machine): wait for it instead of sleeping a fixed margin.
    let addr = h.addr("p").unwrap();
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still accepting"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let err = client
        .post(&url)
        .json(&openai_body("x", false))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    h.set_down("p", false);
    let mut ok = false;
    // Real time (loopback): up to 30 s on a loaded machine.
    for _ in 0..1500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if client
            .post(&url)
            .json(&openai_body("x", false))
            .send()
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
    }
    assert!(ok, "the provider came back");
    assert_eq!(h.requests("p"), 2, "refused connections never arrive");
}

#[tokio::test]
async fn a_client_that_gives_up_on_a_hang_is_seen_as_cancelled() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("p", WireFormat::Anthropic, "claude")
            .with_fault(Fault::always(FaultKind::Hang)),
    ]))
    .await
    .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(150))
        .build()
        .unwrap();
    let err = client
        .post(format!("{}/v1/messages", server.base_url("p").unwrap()))
        .json(&json!({"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let h = server.handle();
    let mut cancelled = 0;
    // Real time (loopback): up to 30 s on a loaded machine.
    for _ in 0..1500 {
        cancelled = h.stats("p").unwrap().cancelled;
        if cancelled == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cancelled, 1, "the server saw the client go away");
}

#[tokio::test]
async fn oversized_prompts_wrong_keys_and_unknown_models_get_documented_errors() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec {
            models: vec![ModelSpec {
                name: "small".into(),
                context_window: 10,
            }],
            ..ProviderSpec::new("g", WireFormat::Gemini, "x")
        },
        ProviderSpec::new("a", WireFormat::Anthropic, "claude").with_api_key("sk-right"),
    ]))
    .await
    .unwrap();
    let g = post(
        format!(
            "{}/v1beta/models/small:generateContent",
            server.base_url("g").unwrap()
        ),
        json!({"contents": [{"role": "user", "parts": [{"text": "x".repeat(200)}]}]}),
    )
    .await;
    assert_eq!(g.status(), 400);
    let v: Value = g.json().await.unwrap();
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exceeds the maximum number of tokens allowed (10)")
    );
    let g = post(
        format!(
            "{}/v1beta/models/nope:generateContent",
            server.base_url("g").unwrap()
        ),
        json!({"contents": []}),
    )
    .await;
    assert_eq!(g.status(), 404);
    let a = reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base_url("a").unwrap()))
        .header("x-api-key", "sk-wrong")
        .json(&json!({"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(a.status(), 401);
    let v: Value = a.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    let stats: Value = reqwest::get(format!("{}/_chaos/stats", server.base_url("a").unwrap()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["a"]["faults"]["unauthorized"], 1);
    assert_eq!(stats["g"]["faults"]["context_length"], 1);
}

#[tokio::test]
async fn content_parts_are_accepted_in_their_documented_shapes_and_malformed_ones_refused() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("o", WireFormat::OpenAi, "gpt-4o"),
        ProviderSpec::new("a", WireFormat::Anthropic, "claude"),
        ProviderSpec::new("g", WireFormat::Gemini, "gemini-2.5-flash"),
    ]))
    .await
    .unwrap();
    let (o, a, g) = (
        format!("{}/v1/chat/completions", server.base_url("o").unwrap()),
        format!("{}/v1/messages", server.base_url("a").unwrap()),
        format!(
            "{}/v1beta/models/gemini-2.5-flash:generateContent",
            server.base_url("g").unwrap()
        ),
    );
    let png = "iVBORw0KGgo=";
    let ok = [
        (
            o.clone(),
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is 2 + 2?"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{png}")}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjc=", "filename": "a.pdf"}}]}]}),
        ),
        (
            a.clone(),
            json!({"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is 2 + 2?", "cache_control": {"type": "ephemeral"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png}},
            {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}]}]}),
        ),
        (
            g.clone(),
            json!({"contents": [{"role": "user", "parts": [
            {"text": "What is 2 + 2?"},
            {"inlineData": {"mimeType": "image/png", "data": png}},
            {"fileData": {"fileUri": "gs://bucket/a.pdf", "mimeType": "application/pdf"}}]}]}),
        ),
    ];
    for (url, body) in ok {
        let r = post(url.clone(), body).await;
        assert_eq!(r.status(), 200, "{url}: {}", r.text().await.unwrap());
    }
    for name in ["o", "a", "g"] {
        assert_eq!(
            server.handle().stats(name).unwrap().media_parts,
            2,
            "{name}"
        );
    }
    let bad = [
        (
            o.clone(),
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@not base64@@"}}]}]}),
        ),
        (
            o.clone(),
            json!({"model": "gpt-4o", "messages": [{"role": "tool", "content": "3"}]}),
        ),
        (
            a.clone(),
            json!({"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/bmp", "data": png}}]}]}),
        ),
        (
            g.clone(),
            json!({"contents": [{"role": "user", "parts": [{"text": "x", "inlineData": {"mimeType": "image/png", "data": png}}]}]}),
        ),
    ];
    for (url, body) in bad {
        let r = post(url.clone(), body.clone()).await;
        assert_eq!(r.status(), 400, "{url}: {body}");
    }
}
