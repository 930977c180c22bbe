//! Router state per in-flight call, over the provider alone.
//!
//! A counting global allocator (`cap`) measures the bytes alive while N calls wait on an
//! upstream that never answers: once with the provider called directly, once through
//! the router. The difference per call is what the router holds for a call in flight
//! (its future, plan, admission, report so far, span): at most 3 KiB. Over loopback
//! HTTP (the OpenAI adapter against a hanging nb-chaos provider) the router over the
//! adapter is compared with a bare reqwest POST of the same request: at most 4 KiB more
//! per call, the target for an SDK process; the figures are printed for
//! `docs/benchmarks.md`. This file holds one test so no other test allocates meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::alloc::System;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use cap::Cap;
use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_core::{CallError, ChatRequest, ChatResponse, Provider, TargetId};
use nb_providers::{ApiKey, OpenAi, Preset};
use nb_router::{Policy, SmartRouter, Target};

#[global_allocator]
static ALLOC: Cap<System> = Cap::new(System, usize::MAX);

fn live() -> isize {
    ALLOC.allocated() as isize
}

/// An upstream that takes the call and never answers.
struct Pending(Arc<AtomicUsize>);

#[async_trait]
impl Provider for Pending {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
}

/// Bytes alive per call while `n` calls made by `call` are in flight (`entered`
/// counts the calls that reached the upstream).
async fn live_per_call<F, Fut>(n: usize, entered: &AtomicUsize, call: F) -> f64
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    entered.store(0, Ordering::SeqCst);
    // Let earlier rounds' connections and timers settle.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = live();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        tasks.push(tokio::spawn(call()));
    }
    let mut waited = 0;
    while entered.load(Ordering::SeqCst) < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
        waited += 1;
        assert!(
            waited < 6000,
            "only {} of {n} calls in flight",
            entered.load(Ordering::SeqCst)
        );
    }
    // Connections that are still being set up settle too.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = live();
    // The handles' own Vec is not the calls' state.
    let handles = (n * std::mem::size_of::<tokio::task::JoinHandle<()>>()) as isize;
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    (after - before - handles) as f64 / n as f64
}

fn router_over(provider: Arc<dyn Provider>) -> SmartRouter {
    SmartRouter::builder()
        .target(Target::shared(TargetId::new("primary", "m"), provider))
        .policy(
            Policy::default()
                .with_attempt_timeout(Duration::from_secs(600))
                .with_deadline(Duration::from_secs(600))
                .with_recovery_probe(None),
        )
        .build()
        .unwrap()
}

#[test]
fn router_state_per_in_flight_call_is_at_most_3_kib_and_the_sdk_4_kib_over_a_bare_client() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let req = Arc::new(ChatRequest::user("What is 17 + 25?"));
        let entered = Arc::new(AtomicUsize::new(0));
        let direct: Arc<dyn Provider> = Arc::new(Pending(entered.clone()));
        let router = router_over(direct.clone());
        eprintln!(
            "router.chat future: {} bytes",
            std::mem::size_of_val(&router.chat(&req))
        );
        for n in [1_000, 10_000] {
            let alone = live_per_call(n, &entered, || {
                let (p, r) = (direct.clone(), req.clone());
                async move {
                    let _ = p.chat(&r).await;
                }
            })
            .await;
            let routed = live_per_call(n, &entered, || {
                let (router, r) = (router.clone(), req.clone());
                async move {
                    let _ = router.chat(&r).await;
                }
            })
            .await;
            let added = routed - alone;
            eprintln!(
                "in process, {n} in flight: provider alone {alone:.0} B/call, \
                 router over it {routed:.0} B/call, router state {added:.0} B/call"
            );
            assert!(
                added <= 3072.0,
                "{added:.0} bytes of router state per in-flight call at {n} in flight"
            );
        }

        // The same over loopback HTTP, for the record.
        let server = ChaosServer::start(Scenario::new(vec![
            ProviderSpec::new("primary", WireFormat::OpenAi, "gpt-4o-mini")
                .with_fault(Fault::always(FaultKind::Hang)),
        ]))
        .await
        .unwrap();
        let h = server.handle();
        let adapter: Arc<dyn Provider> = Arc::new(
            OpenAi::builder(Preset::OpenAi, "gpt-4o-mini")
                .base_url(format!("{}/v1", h.base_url("primary").unwrap()))
                .api_key(ApiKey::new("sk-test"))
                .build()
                .unwrap(),
        );
        let router = router_over(adapter.clone());
        // A bare reqwest POST of the same request: what an SDK user would write without us.
        let client = reqwest::Client::new();
        let url = format!("{}/v1/chat/completions", h.base_url("primary").unwrap());
        let body = serde_json::json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "What is 17 + 25?"}],
        });
        // Calls in flight, as the simulator counts the requests it received.
        let arrived = Arc::new(AtomicUsize::new(0));
        let watch = {
            let (h, arrived) = (h.clone(), arrived.clone());
            tokio::spawn(async move {
                loop {
                    arrived.store(h.requests("primary") as usize, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            })
        };
        let n = 1_000;
        let counted = |h: &nb_chaos::ChaosHandle| h.requests("primary") as usize;
        let mut per = Vec::new();
        for way in ["bare", "adapter", "router"] {
            let base = counted(&h);
            let entered = Arc::new(AtomicUsize::new(0));
            let relay = {
                let (arrived, entered) = (arrived.clone(), entered.clone());
                tokio::spawn(async move {
                    loop {
                        entered.store(
                            arrived.load(Ordering::SeqCst).saturating_sub(base),
                            Ordering::SeqCst,
                        );
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                })
            };
            let bytes = match way {
                "bare" => {
                    live_per_call(n, &entered, || {
                        let (client, url, body) = (client.clone(), url.clone(), body.clone());
                        async move {
                            let _ = client
                                .post(url)
                                .bearer_auth("sk-test")
                                .json(&body)
                                .send()
                                .await;
                        }
                    })
                    .await
                }
                "adapter" => {
                    live_per_call(n, &entered, || {
                        let (p, r) = (adapter.clone(), req.clone());
                        async move {
                            let _ = p.chat(&r).await;
                        }
                    })
                    .await
                }
                _ => {
                    live_per_call(n, &entered, || {
                        let (router, r) = (router.clone(), req.clone());
                        async move {
                            let _ = router.chat(&r).await;
                        }
                    })
                    .await
                }
            };
            relay.abort();
            per.push(bytes);
        }
        watch.abort();
        let (bare, alone, routed) = (per[0], per[1], per[2]);
        eprintln!(
            "over loopback HTTP (client side, with the simulator in the same process), \
             {n} in flight: bare reqwest {bare:.0} B/call, adapter alone {alone:.0} B/call, \
             router over it {routed:.0} B/call; adapter state {:.0} B/call, router state \
             {:.0} B/call, the SDK over a bare client {:.0} B/call",
            alone - bare,
            routed - alone,
            routed - bare
        );
        // The target for an SDK process: at most 4 KiB per call in flight over a
        // bare client (RSS, measured by `cargo xtask bench-gateway`); the heap's share
        // is held here.
        assert!(
            routed - bare <= 4096.0,
            "the SDK holds {:.0} bytes per in-flight call over a bare reqwest client",
            routed - bare
        );
    });
}
