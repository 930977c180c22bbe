//! Replicas sharing health through a real `redis-server` (started by each test on a free
//! loopback port and stopped by its own PID) over nb-chaos, by counts: an outage one
//! replica found is not paid for again by another; a revoked key is tried once
//! fleet-wide; Redis killed and restarted mid-run loses no call.
//!
//! These tests need `redis-server` (Debian: `apt-get install redis-server`; `.ci/run`
//! installs it). Without it they fail, saying so — they never pass by skipping.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nb_breaker::{
    BreakerConfig, BreakerState, CooldownPolicy, InMemoryKnowledge, OpenBackoff, SystemClock,
};
use nb_chaos::{ChaosHandle, ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_core::{ChatRequest, TargetId};
use nb_router::{Policy, SmartRouter};
use nb_store_redis::RedisKnowledge;
use nb_tests::{model_of, router_target};

/// A `redis-server` of this test's own.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start_on(port: u16) -> Self {
        let bin = std::env::var("NB_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{bin}` ({e}): these tests need a real Redis — install \
                     redis-server (Debian: apt-get install redis-server), or run `cargo xtask test`"
                )
            });
        let r = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

fn namespace() -> String {
    format!("test-{}-{:?}", std::process::id(), Instant::now()).replace([' ', '{', '}'], "")
}

fn store(url: &str, ns: &str) -> Arc<RedisKnowledge> {
    let local = InMemoryKnowledge::new(
        BreakerConfig {
            consecutive_failures: 2,
            failure_rate: None,
            backoff: OpenBackoff {
                initial: Duration::from_secs(10),
                max: Duration::from_secs(10),
                jitter: false,
            },
            ..BreakerConfig::default()
        },
        CooldownPolicy::default(),
        Arc::new(SystemClock),
    );
    Arc::new(RedisKnowledge::connect(url, ns, local).unwrap())
}

fn router(h: &ChaosHandle, k: &Arc<RedisKnowledge>) -> SmartRouter {
    SmartRouter::builder()
        .target(router_target(h, "primary", WireFormat::OpenAi))
        .target(router_target(h, "fallback", WireFormat::Gemini))
        .knowledge(k.clone())
        .policy(
            Policy::default()
                .with_attempt_timeout(Duration::from_secs(2))
                .with_deadline(Duration::from_secs(5))
                .with_recovery_probe(None),
        )
        .build()
        .unwrap()
}

async fn until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "{what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    t0.elapsed()
}

fn primary() -> TargetId {
    TargetId::new("primary", model_of(WireFormat::OpenAi))
}

const Q: &str = "What is 17 + 25? Reply with the number only.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_one_replica_found_is_not_paid_for_again_by_another() {
    let redis = Redis::start();
    let chaos = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
    ]))
    .await
    .unwrap();
    let h = chaos.handle();
    let ns = namespace();
    let (ka, kb) = (store(&redis.url(), &ns), store(&redis.url(), &ns));
    until("both replicas connected", Duration::from_secs(5), || {
        ka.stats().connected && kb.stats().connected
    })
    .await;
    let (a, b) = (router(&h, &ka), router(&h, &kb));
    let req = ChatRequest::user(Q);
    while a.health(&primary()).breaker != BreakerState::Open {
        a.chat(&req).await.unwrap();
    }
    let seen = until(
        "the other replica sees the open breaker",
        Duration::from_secs(1),
        || b.health(&primary()).breaker == BreakerState::Open,
    )
    .await;
    eprintln!("replica B saw replica A's open breaker {seen:?} after it opened");
    let mut to_primary = 0;
    for _ in 0..20 {
        let r = b.chat(&req).await.unwrap();
        assert_eq!(r.value.text.trim(), "42");
        to_primary += r
            .report
            .attempts
            .iter()
            .filter(|x| x.target == primary())
            .count();
    }
    assert!(
        to_primary <= 1,
        "{to_primary} calls from replica B to the dead target"
    );
    assert!(
        ka.stats().published >= 1 && kb.stats().merged >= 1,
        "{:?} {:?}",
        ka.stats(),
        kb.stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_tried_once_fleet_wide() {
    let redis = Redis::start();
    let chaos = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::Unauthorized)),
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
    ]))
    .await
    .unwrap();
    let h = chaos.handle();
    let ns = namespace();
    let stores: Vec<_> = (0..3).map(|_| store(&redis.url(), &ns)).collect();
    until("every replica connected", Duration::from_secs(5), || {
        stores.iter().all(|k| k.stats().connected)
    })
    .await;
    let routers: Vec<_> = stores.iter().map(|k| router(&h, k)).collect();
    let req = ChatRequest::user(Q);
    assert_eq!(routers[0].chat(&req).await.unwrap().value.text.trim(), "42");
    assert_eq!(h.requests("primary"), 1);
    until(
        "every replica sees the credential cooling down",
        Duration::from_secs(1),
        || {
            routers
                .iter()
                .all(|r| r.health(&primary()).cooling_until.is_some())
        },
    )
    .await;
    for r in &routers {
        for _ in 0..10 {
            assert_eq!(r.chat(&req).await.unwrap().value.text.trim(), "42");
        }
    }
    assert_eq!(
        h.requests("primary"),
        1,
        "the revoked key was tried once, fleet-wide"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_mid_run_loses_no_call() {
    let mut redis = Redis::start();
    let port = redis.port;
    let chaos = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::Outage).in_window(1.0, None)),
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
    ]))
    .await
    .unwrap();
    let h = chaos.handle();
    let ns = namespace();
    let (ka, kb) = (store(&redis.url(), &ns), store(&redis.url(), &ns));
    until("both replicas connected", Duration::from_secs(5), || {
        ka.stats().connected && kb.stats().connected
    })
    .await;
    let (a, b) = (router(&h, &ka), router(&h, &kb));
    let req = ChatRequest::user(Q);
    let t0 = Instant::now();
    let mut calls = 0;
    let mut restarted = false;
    redis.kill();
    while t0.elapsed() < Duration::from_secs(3) {
        if !restarted && t0.elapsed() > Duration::from_secs(2) {
            redis = Redis::start_on(port);
            restarted = true;
        }
        for r in [&a, &b] {
            let out = r
                .chat(&req)
                .await
                .expect("no call is lost while Redis is away");
            assert_eq!(out.value.text.trim(), "42", "no wrong answer");
            calls += 1;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(calls > 20);
    assert!(
        ka.stats().errors + kb.stats().errors > 0,
        "the failure was seen"
    );
    until("both replicas reconnected", Duration::from_secs(10), || {
        ka.stats().connected && kb.stats().connected
    })
    .await;
    // A's breaker opened while Redis was away; what is still current reaches B once it is
    // back (unless B found out on its own meanwhile).
    until(
        "the replicas agree the primary is open",
        Duration::from_secs(10),
        || {
            a.health(&primary()).breaker != BreakerState::Closed
                && b.health(&primary()).breaker != BreakerState::Closed
        },
    )
    .await;
    drop(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_one_replica_cached_is_served_by_another() {
    use nb_router::{CallOptions, RouteErrorKind, Vouching};
    use nb_store_redis::RedisCache;
    let redis = Redis::start();
    let chaos = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
        ProviderSpec::new("down", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
        ProviderSpec::new(
            "drift",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        )
        .with_fault(Fault::always(FaultKind::SemanticDrift)),
    ]))
    .await
    .unwrap();
    let h = chaos.handle();
    let ns = namespace();
    let replica = || {
        SmartRouter::builder()
            .target(router_target(&h, "primary", WireFormat::OpenAi))
            .target(router_target(&h, "fallback", WireFormat::Gemini))
            .target(router_target(&h, "down", WireFormat::OpenAi))
            .target(router_target(&h, "drift", WireFormat::Anthropic))
            .route(
                "wrong",
                vec![
                    TargetId::new("down", model_of(WireFormat::OpenAi)),
                    TargetId::new("drift", model_of(WireFormat::Anthropic)),
                    TargetId::new("fallback", model_of(WireFormat::Gemini)),
                ],
            )
            .vouch(Vouching::consensus(nb_semantic::Strict))
            .cache(Arc::new(RedisCache::new(&redis.url(), &ns).unwrap()))
            .cache_route("default", Duration::from_secs(60))
            .cache_route("wrong", Duration::from_secs(60))
            .build()
            .unwrap()
    };
    let (a, b) = (replica(), replica());
    let req = ChatRequest::user(Q);
    let first = a.chat(&req).await.unwrap();
    assert!(!first.report.cache_hit);
    let sent = h.requests("primary");
    let mut served = None;
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(2) {
        let r = b.chat(&req).await.unwrap();
        if r.report.cache_hit {
            served = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let served = served.expect("replica B served replica A's cached answer");
    assert_eq!(served.value.text.trim(), "42");
    assert_eq!(served.report.served_by, first.report.served_by);
    assert!(h.requests("primary") <= sent + 1);

    // An answer nobody could vouch for is refused on A, and B is never served it.
    let wrong = CallOptions::default().with_route(Some("wrong".into()));
    let e = a.chat_with(&req, &wrong).await.unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::Unvouched);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let drifted = h.requests("drift");
    match b.chat_with(&req, &wrong).await {
        Ok(r) => assert!(!r.report.cache_hit, "an unvouched answer was cached"),
        Err(e) => assert_eq!(e.kind(), RouteErrorKind::Unvouched),
    }
    assert!(
        h.requests("drift") > drifted,
        "B asked upstream: nothing was cached"
    );
}

/// Four replicas pacing one provider at 1,200 requests a minute together stay within ±5%
/// of it; four replicas pacing alone send several times as much.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_pacing_one_provider_stay_within_its_rate_together() {
    use std::collections::HashMap;
    use std::num::NonZeroU32;

    use nb_breaker::{GovernorPacer, PaceLimits};
    use nb_store_redis::RedisPacer;
    let redis = Redis::start();
    let chaos = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
        "primary",
        WireFormat::OpenAi,
        model_of(WireFormat::OpenAi),
    )]))
    .await
    .unwrap();
    let h = chaos.handle();
    let ns = namespace();
    let per_minute = 1200;
    let limits: HashMap<_, _> = [(
        primary(),
        PaceLimits {
            requests_per_minute: NonZeroU32::new(per_minute),
            tokens_per_minute: None,
        },
    )]
    .into();
    let replica = |pacer: Arc<dyn nb_breaker::Pacer>| {
        let local = InMemoryKnowledge::new(
            BreakerConfig::default(),
            CooldownPolicy::default(),
            Arc::new(SystemClock),
        )
        .with_pacer(pacer);
        SmartRouter::builder()
            .target(router_target(&h, "primary", WireFormat::OpenAi))
            .knowledge(Arc::new(local))
            .policy(Policy::default().with_deadline(Duration::from_secs(30)))
            .build()
            .unwrap()
    };
    let run = |routers: Vec<SmartRouter>, secs: f64| {
        let h = h.clone();
        async move {
            let before = h.requests("primary");
            let stop = Instant::now() + Duration::from_secs_f64(secs);
            let mut tasks = Vec::new();
            for r in routers {
                for _ in 0..4 {
                    let r = r.clone();
                    tasks.push(tokio::spawn(async move {
                        while Instant::now() < stop {
                            let _ = tokio::time::timeout(
                                stop.saturating_duration_since(Instant::now()),
                                r.chat(&ChatRequest::user(Q)),
                            )
                            .await;
                        }
                    }));
                }
            }
            for t in tasks {
                t.await.unwrap();
            }
            h.requests("primary") - before
        }
    };
    let secs = 10.0;
    let expected = f64::from(per_minute) / 60.0 * secs;
    let shared: Vec<SmartRouter> = (0..4)
        .map(|_| {
            replica(Arc::new(
                RedisPacer::connect(&redis.url(), &ns, limits.clone()).unwrap(),
            ))
        })
        .collect();
    let sent = run(shared, secs).await as f64;
    eprintln!("fleet-wide pacing: {sent} requests in {secs} s, the rate allows {expected}");
    assert!(
        (sent - expected).abs() <= expected * 0.05 + 1.0,
        "{sent} requests, {expected} allowed"
    );
    let alone: Vec<SmartRouter> = (0..4)
        .map(|_| {
            replica(Arc::new(GovernorPacer::new(
                limits.clone(),
                Arc::new(SystemClock),
            )))
        })
        .collect();
    let sent_alone = run(alone, 2.0).await as f64;
    eprintln!("pacing alone: {sent_alone} requests in 2 s");
    assert!(sent_alone > 3.0 * f64::from(per_minute) / 60.0 * 2.0);
}

/// A context window one replica learned from a rejection is known to the others: they
/// never send that target a prompt it already said it cannot take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_context_window_one_replica_learned_spares_the_others_the_rejection() {
    use nb_breaker::Knowledge as _;
    let redis = Redis::start();
    let mut small = ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi));
    small.models[0].context_window = 1000;
    let chaos = ChaosServer::start(Scenario::new(vec![
        small,
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
    ]))
    .await
    .unwrap();
    let h = chaos.handle();
    let ns = namespace();
    let (ka, kb) = (store(&redis.url(), &ns), store(&redis.url(), &ns));
    until("both replicas connected", Duration::from_secs(5), || {
        ka.stats().connected && kb.stats().connected
    })
    .await;
    let (a, b) = (router(&h, &ka), router(&h, &kb));
    let long = ChatRequest::user(format!("{Q} Context: {}", "lorem ipsum ".repeat(700)));
    let r = a.chat(&long).await.unwrap();
    assert_eq!(r.report.served_by.as_ref().unwrap().provider(), "fallback");
    assert_eq!(h.requests("primary"), 1);
    until(
        "the other replica knows the window",
        Duration::from_secs(1),
        || kb.learned_window(&primary()) == Some(1000),
    )
    .await;
    for _ in 0..5 {
        let r = b.chat(&long).await.unwrap();
        assert_eq!(r.report.served_by.as_ref().unwrap().provider(), "fallback");
    }
    assert_eq!(
        h.requests("primary"),
        1,
        "the other replica never sent the long prompt"
    );
    // A short prompt still goes to the primary.
    let r = b.chat(&ChatRequest::user(Q)).await.unwrap();
    assert_eq!(r.report.served_by.as_ref().unwrap().provider(), "primary");
}
