//! Memory per in-flight call through the gateway: a counting global allocator measures
//! the bytes alive while N calls wait on an upstream that never answers — sent by one
//! reqwest client straight to the simulator, then through `nb serve` (in this process) in
//! front of it. The difference per call is the gateway's: its server connection, the
//! parsed request, the router's state and its own upstream connection. This file holds
//! one test so no other test allocates meanwhile; `docs/benchmarks.md` quotes it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cap::Cap;
use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_cli::config::Config;
use nb_gateway::serve;

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

const BODY: &str =
    r#"{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "What is 17 + 25?"}]}"#;

async fn in_flight(n: usize, url: &str, arrived: impl Fn() -> u64) -> f64 {
    tokio::time::sleep(Duration::from_millis(100)).await;
    let start = arrived();
    let before = ALLOC.allocated() as f64;
    let client = reqwest::Client::new();
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            tokio::spawn(async move {
                let _ = client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(BODY)
                    .send()
                    .await;
            })
        })
        .collect();
    let t0 = Instant::now();
    while arrived() - start < n as u64 {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "calls did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = ALLOC.allocated() as f64;
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    drop(client);
    (after - before) / n as f64
}

#[test]
fn the_gateway_holds_a_bounded_amount_per_call_in_flight() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let chaos = ChaosServer::start(Scenario::new(vec![
            ProviderSpec::new("p", WireFormat::OpenAi, "gpt-4o-mini")
                .with_fault(Fault::always(FaultKind::Hang)),
        ]))
        .await
        .unwrap();
        let h = chaos.handle();
        let base = h.base_url("p").unwrap();
        let cfg = Config::from_toml(&format!(
            "[providers.p]\nkind = \"openai-compatible\"\nbase_url = \"{base}/v1\"\n\n[[targets]]\nprovider = \"p\"\nmodel = \"gpt-4o-mini\"\n\n[policy]\nattempt_timeout_ms = 600000\ndeadline_ms = 600000\n"
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
        let n = 500;
        let direct = in_flight(n, &format!("{base}/v1/chat/completions"), || h.requests("p")).await;
        let through = in_flight(n, &format!("http://{addr}/v1/chat/completions"), || {
            h.requests("p")
        })
        .await;
        let gateway = through - direct;
        eprintln!(
            "{n} in flight: direct {direct:.0} B/call, through nb serve {through:.0} B/call, \
             the gateway's share {gateway:.0} B/call"
        );
        // A proxy holds two connections per call (the caller's, and its own upstream),
        // as the direct pair does (the client's and the simulator's), plus the parsed
        // request and the router's state: about what the direct pair holds, not more
        // than half again.
        assert!(
            gateway < 1.5 * direct,
            "{gateway:.0} bytes per call in the gateway, {direct:.0} for a direct call"
        );
    });
}
