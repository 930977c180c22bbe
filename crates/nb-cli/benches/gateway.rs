//! What `nb serve` adds: the same chat completion sent straight to a healthy, zero-latency
//! nb-chaos OpenAI provider (the baseline) and through the gateway in front of it, both
//! on loopback, both by the same reqwest client, at concurrency 1 and 32. The gateway
//! runs in this process (its router, translation both ways, report headers), so the
//! figures are the gateway's own cost. `cargo xtask bench` reports the ratios.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
use nb_cli::config::Config;
use nb_gateway::serve;

const BODY: &str = r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is 17 + 25? Reply with the number only."}]}"#;

async fn load(n: u64, concurrency: u64, client: reqwest::Client, url: String) -> Duration {
    let start = Instant::now();
    let per = n.div_ceil(concurrency);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                for _ in 0..per {
                    let r = client
                        .post(&url)
                        .bearer_auth("sk-bench")
                        .header("content-type", "application/json")
                        .body(BODY)
                        .send()
                        .await
                        .unwrap();
                    assert!(r.status().is_success(), "{} {:?}", r.status(), r.headers());
                    black_box(r.bytes().await.unwrap());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn gateway(c: &mut Criterion) {
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap(),
    );
    let (direct, through, _chaos) = rt.block_on(async {
        let chaos = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
            "p",
            WireFormat::OpenAi,
            "gpt-4o-mini",
        )]))
        .await
        .unwrap();
        let base = chaos.base_url("p").unwrap();
        let cfg = Config::from_toml(&format!(
            "[providers.p]\nkind = \"openai-compatible\"\nbase_url = \"{base}/v1\"\n\n[[targets]]\nprovider = \"p\"\nmodel = \"gpt-4o-mini\"\n"
        ))
        .unwrap();
        let g = Arc::new(nb_cli::serve::gateway(&cfg, None).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(serve(
            listener,
            g,
            8 << 20,
            Duration::from_secs(1),
            std::future::pending(),
        ));
        (
            format!("{base}/v1/chat/completions"),
            format!("http://{addr}/v1/chat/completions"),
            chaos,
        )
    });
    let client = reqwest::Client::new();
    for concurrency in [1u64, 32] {
        let mut g = c.benchmark_group(format!("gateway/c{concurrency}"));
        g.throughput(Throughput::Elements(1));
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(4));
        for (name, url) in [("baseline_direct", &direct), ("through_nb_serve", &through)] {
            let (rt, client, url) = (rt.clone(), client.clone(), url.clone());
            g.bench_function(name, move |b| {
                b.iter_custom(|n| {
                    rt.block_on(load(
                        n,
                        concurrency.min(n.max(1)),
                        client.clone(),
                        url.clone(),
                    ))
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, gateway);
criterion_main!(benches);
