//! N healthy calls over loopback, as the `router_loopback` bench makes them, for a
//! profiler: a bare reqwest POST, the OpenAI adapter alone, or a `SmartRouter` over it,
//! each against an nb-chaos provider in the same process.
//!
//! `cargo run --release -p nb-router --example profile_loopback -- adapter 2000` makes
//! 2,000 calls (after 200 warm-up calls) on a current-thread runtime, so the server, the
//! client and the connection all run on one thread and callgrind's counts repeat run to
//! run. Instructions per call are the difference of two whole-program counts divided by
//! the difference of calls:
//!
//! ```sh
//! for n in 1000 2000; do valgrind --tool=callgrind --callgrind-out-file=cg.$n \
//!     target/release/examples/profile_loopback adapter $n; done
//! ```
//!
//! docs/benchmarks.md ("Over loopback") has the figures.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
use nb_core::{ChatRequest, Provider, TargetId};
use nb_providers::{ApiKey, OpenAi, Preset};
use nb_router::{SmartRouter, Target};

const PROMPT: &str = "What is 17 + 25? Reply with the number only.";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Mode {
    Bare,
    Adapter,
    Router,
}

struct Setup {
    client: reqwest::Client,
    url: String,
    body: serde_json::Value,
    adapter: std::sync::Arc<OpenAi>,
    router: SmartRouter,
}

async fn calls(s: &Setup, mode: Mode, n: usize) {
    for _ in 0..n {
        match mode {
            Mode::Bare => {
                let r = s
                    .client
                    .post(&s.url)
                    .bearer_auth("sk-bench")
                    .json(&s.body)
                    .send()
                    .await
                    .unwrap();
                black_box(r.bytes().await.unwrap());
            }
            Mode::Adapter => {
                black_box(s.adapter.chat(&ChatRequest::user(PROMPT)).await.unwrap());
            }
            Mode::Router => {
                black_box(s.router.chat(&ChatRequest::user(PROMPT)).await.unwrap());
            }
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        Some("bare") => Mode::Bare,
        Some("adapter") => Mode::Adapter,
        Some("router") | None => Mode::Router,
        Some(other) => panic!("mode is `bare`, `adapter` or `router`, not {other:?}"),
    };
    let n: usize = args.next().map_or(10_000, |s| s.parse().expect("a count"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_server, setup) = rt.block_on(async {
        let server = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
            "p",
            WireFormat::OpenAi,
            "gpt-4o-mini",
        )]))
        .await
        .unwrap();
        let base = server.base_url("p").unwrap();
        let client = reqwest::Client::new();
        let adapter = std::sync::Arc::new(
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
        let setup = Setup {
            client,
            url: format!("{base}/v1/chat/completions"),
            body: serde_json::json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}),
            adapter,
            router,
        };
        (server, setup)
    });
    rt.block_on(calls(&setup, mode, 200));
    let start = Instant::now();
    rt.block_on(calls(&setup, mode, n));
    let elapsed = start.elapsed();
    println!(
        "{mode:?} x{n}: {:.1} us/call",
        elapsed.as_nanos() as f64 / n as f64 / 1000.0
    );
}
