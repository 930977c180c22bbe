//! What the router adds.
//!
//! 1. In process: a full routed call (plan, admit, attempt, record, report) over a
//!    provider that answers instantly, against calling that provider directly.
//! 2. Over loopback HTTP against a healthy zero-latency nb-chaos provider: a direct
//!    reqwest call (the baseline), the OpenAI adapter alone, and the router over the
//!    adapter, at concurrency 1 and 32. `cargo xtask bench` reports the ratios.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
use nb_core::{CallError, ChatRequest, ChatResponse, Provider, TargetId};
use nb_providers::{ApiKey, OpenAi, Preset};
use nb_router::{SmartRouter, Target};

struct Instant0;

#[async_trait]
impl Provider for Instant0 {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        Ok(ChatResponse::text("42"))
    }
}

const PROMPT: &str = "What is 17 + 25? Reply with the number only.";

fn in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let direct: Arc<dyn Provider> = Arc::new(Instant0);
    let router = SmartRouter::builder()
        .target(Target::shared(
            TargetId::new("instant", "m"),
            direct.clone(),
        ))
        .target(Target::new(TargetId::new("fallback", "m"), Instant0))
        .build()
        .unwrap();
    let req = ChatRequest::user(PROMPT);
    let mut g = c.benchmark_group("router_in_process");
    g.bench_function("baseline_direct_provider", |b| {
        b.iter(|| rt.block_on(direct.chat(black_box(&req))).unwrap())
    });
    g.bench_function("smart_router", |b| {
        b.iter(|| rt.block_on(router.chat(black_box(&req))).unwrap())
    });
    g.finish();
}

async fn load<F, Fut>(n: u64, concurrency: u64, f: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let start = Instant::now();
    let per = n.div_ceil(concurrency);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move {
                for _ in 0..per {
                    f().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn loopback(c: &mut Criterion) {
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    let (base, _server) = rt.block_on(async {
        let s = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
            "p",
            WireFormat::OpenAi,
            "gpt-4o-mini",
        )]))
        .await
        .unwrap();
        (s.base_url("p").unwrap(), s)
    });
    let client = reqwest::Client::new();
    let adapter = Arc::new(
        OpenAi::builder(Preset::OpenAi, "gpt-4o-mini")
            .base_url(format!("{base}/v1"))
            .api_key(ApiKey::new("sk-bench"))
            .client(client.clone())
            .build()
            .unwrap(),
    );
    let router = SmartRouter::builder()
        .target(Target::shared(
            TargetId::new("p", "gpt-4o-mini"),
            adapter.clone(),
        ))
        .build()
        .unwrap();
    let url = format!("{base}/v1/chat/completions");
    let body = serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]});
    for concurrency in [1u64, 32] {
        let mut g = c.benchmark_group(format!("router_loopback/c{concurrency}"));
        g.throughput(Throughput::Elements(1));
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(4));
        {
            let (client, url, body, rt) = (client.clone(), url.clone(), body.clone(), rt.clone());
            g.bench_function("baseline_reqwest", move |b| {
                b.iter_custom(|n| {
                    let (client, url, body) = (client.clone(), url.clone(), body.clone());
                    rt.block_on(load(n, concurrency.min(n.max(1)), move || {
                        let (client, url, body) = (client.clone(), url.clone(), body.clone());
                        async move {
                            let r = client
                                .post(&url)
                                .bearer_auth("sk-bench")
                                .json(&body)
                                .send()
                                .await
                                .unwrap();
                            black_box(r.bytes().await.unwrap());
                        }
                    }))
                })
            });
        }
        {
            let (adapter, rt) = (adapter.clone(), rt.clone());
            g.bench_function("adapter_only", move |b| {
                b.iter_custom(|n| {
                    let adapter = adapter.clone();
                    rt.block_on(load(n, concurrency.min(n.max(1)), move || {
                        let adapter = adapter.clone();
                        async move {
                            black_box(adapter.chat(&ChatRequest::user(PROMPT)).await.unwrap());
                        }
                    }))
                })
            });
        }
        {
            let (router, rt) = (router.clone(), rt.clone());
            g.bench_function("smart_router", move |b| {
                b.iter_custom(|n| {
                    let router = router.clone();
                    rt.block_on(load(n, concurrency.min(n.max(1)), move || {
                        let router = router.clone();
                        async move {
                            black_box(router.chat(&ChatRequest::user(PROMPT)).await.unwrap());
                        }
                    }))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, in_process, loopback);
criterion_main!(benches);
