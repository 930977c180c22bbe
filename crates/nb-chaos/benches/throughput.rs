//! How many small requests a healthy, zero-latency simulated provider serves, next to a
//! bare axum server returning a body of the same size (the baseline, same process, same
//! client). The ratio says what the simulator's own work costs.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};

const PROMPT: &str = "What is 17 + 25? Reply with the number only.";

fn body() -> serde_json::Value {
    serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]})
}

async fn baseline_server() -> String {
    // The chaos server's answer to PROMPT, served verbatim by a bare axum handler.
    let canned = r#"{"id":"req_chaos_0_0","object":"chat.completion","created":1764000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"42","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0}},"system_fingerprint":"fp_chaos"}"#;
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        axum::routing::post(move |_b: axum::body::Bytes| async move {
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                canned,
            )
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    format!("http://{addr}/v1/chat/completions")
}

/// Sends `n` requests from `concurrency` tasks; returns the wall time.
async fn load(client: &reqwest::Client, url: &str, n: u64, concurrency: u64) -> Duration {
    let start = Instant::now();
    let url = Arc::new(url.to_owned());
    let per = n.div_ceil(concurrency);
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (c, u) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..per {
                let r = c.post(u.as_str()).json(&body()).send().await.unwrap();
                assert!(r.status().is_success());
                r.bytes().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (chaos_url, base_url, _server) = rt.block_on(async {
        let server = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
            "p",
            WireFormat::OpenAi,
            "gpt-4o-mini",
        )]))
        .await
        .unwrap();
        let chaos = format!("{}/v1/chat/completions", server.base_url("p").unwrap());
        (chaos, baseline_server().await, server)
    });
    let client = reqwest::Client::new();
    for concurrency in [1u64, 32] {
        let mut g = c.benchmark_group(format!("chaos_throughput/c{concurrency}"));
        g.throughput(Throughput::Elements(1));
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(4));
        for (name, url) in [("baseline_axum", &base_url), ("nb_chaos", &chaos_url)] {
            g.bench_function(name, |b| {
                b.iter_custom(|iters| {
                    rt.block_on(load(&client, url, iters, concurrency.min(iters.max(1))))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
