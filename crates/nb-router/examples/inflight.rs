//! The resident memory an SDK process holds per in-flight call.
//!
//! `inflight router|bare BASE_URL N` starts N calls to the OpenAI-format provider at
//! `BASE_URL` (an nb-chaos provider that never answers, named `hang`): through a
//! `SmartRouter` over the OpenAI adapter, or as bare reqwest POSTs. When the provider has
//! taken all N (its `/_chaos/stats`), it prints its RSS idle and with the calls in
//! flight, and exits. `cargo xtask bench-gateway` runs it.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use nb_core::{ChatRequest, TargetId};
use nb_providers::{ApiKey, OpenAi, Preset};
use nb_router::{Policy, SmartRouter, Target};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn taken(client: &reqwest::Client, base: &str) -> u64 {
    let Ok(r) = client.get(format!("{base}/_chaos/stats")).send().await else {
        return 0;
    };
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    v["hang"]["requests"].as_u64().unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, base, n) = match &args[..] {
        [m, b, n] => (m.clone(), b.clone(), n.parse::<usize>().expect("a count")),
        _ => panic!("usage: inflight router|bare BASE_URL N"),
    };
    let client = reqwest::Client::new();
    let stats = reqwest::Client::new();
    let mut policy = Policy::default();
    policy.attempt_timeout = Duration::from_secs(600);
    policy.deadline = Duration::from_secs(600);
    let router = SmartRouter::builder()
        .target(Target::new(
            TargetId::new("hang", "gpt-4o-mini"),
            OpenAi::builder(Preset::OpenAi, "gpt-4o-mini")
                .base_url(format!("{base}/v1"))
                .api_key(ApiKey::new("sk-bench"))
                .client(client.clone())
                .build()
                .unwrap(),
        ))
        .policy(policy)
        .build()
        .unwrap();
    let router = Arc::new(router);
    let before = taken(&stats, &base).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = rss_kib();
    let url = format!("{base}/v1/chat/completions");
    let body = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is 17 + 25? Reply with the number only."}]});
    for _ in 0..n {
        if mode == "router" {
            let router = router.clone();
            tokio::spawn(async move {
                let _ = router
                    .chat(&ChatRequest::user(
                        "What is 17 + 25? Reply with the number only.",
                    ))
                    .await;
            });
        } else {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            tokio::spawn(async move {
                let _ = client
                    .post(url)
                    .bearer_auth("sk-bench")
                    .json(&body)
                    .send()
                    .await;
            });
        }
    }
    while taken(&stats, &base).await < before + n as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy = rss_kib();
    println!(
        "{mode}: RSS idle {idle} KiB, {n} calls in flight {busy} KiB: {:.1} KiB per in-flight call",
        (busy as f64 - idle as f64) / n as f64
    );
    std::process::exit(0);
}
