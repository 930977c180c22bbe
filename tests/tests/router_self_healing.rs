//! The router against nb-chaos over loopback, behaviour asserted by counts (calls each
//! simulated provider received, outcomes), not by wall time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nb_breaker::{BreakerConfig, BreakerState, CooldownPolicy, HealthEvent, OpenBackoff};
use nb_chaos::tasks::Task;
use nb_chaos::{ChaosServer, Fault, FaultKind, Personality, ProviderSpec, Scenario, WireFormat};
use nb_classify::classify;
use nb_core::{
    ApiError, CallError, ChatRequest, FailureClass, HeaderFacts, ProviderError, TargetId, collect,
};
use nb_router::{Policy, RetryBudget, RouteErrorKind, RouterEvent, SmartRouter, Target};
use nb_tests::{Behaviour, Timed, model_of};
use rand::SeedableRng;

fn target(chaos: &nb_chaos::ChaosHandle, name: &str, format: WireFormat) -> Target {
    nb_tests::router_target(chaos, name, format)
}

fn quick_policy() -> Policy {
    Policy::default()
        .with_attempt_timeout(Duration::from_secs(2))
        .with_deadline(Duration::from_secs(10))
        .with_backoff_base(Duration::from_millis(5))
        .with_backoff_max(Duration::from_millis(50))
}

fn tasks(n: usize, seed: u64) -> Vec<Task> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| Task::generate(&mut rng)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flaky_primary_every_call_answered_correctly_with_few_upstream_calls() {
    // 20% 429, 10% 500, 5% hang, 5% malformed JSON (conditional probabilities, in order).
    let server = ChaosServer::start(
        Scenario::new(vec![
            ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
                .with_fault(
                    Fault::always(FaultKind::RateLimit)
                        .with_probability(0.20)
                        .with_retry_after(0.05),
                )
                .with_fault(Fault::always(FaultKind::ServerError).with_probability(0.125))
                .with_fault(Fault::always(FaultKind::Hang).with_probability(0.0715))
                .with_fault(Fault::always(FaultKind::MalformedJson).with_probability(0.077)),
            ProviderSpec::new(
                "fallback-a",
                WireFormat::Anthropic,
                model_of(WireFormat::Anthropic),
            )
            .with_personality(Personality::Chatty),
            ProviderSpec::new(
                "fallback-b",
                WireFormat::Gemini,
                model_of(WireFormat::Gemini),
            )
            .with_personality(Personality::Markdown),
        ])
        .with_seed(7),
    )
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::OpenAi))
        .target(target(&h, "fallback-a", WireFormat::Anthropic))
        .target(target(&h, "fallback-b", WireFormat::Gemini))
        .policy(quick_policy())
        .build()
        .unwrap();
    let tasks = tasks(500, 1);
    // About 250 calls a second, eight at a time: a steady stream of traffic, so the
    // primary's short cool-downs end while calls keep coming.
    let results = futures_util::stream::iter(tasks.iter().cloned())
        .then(|t| async move {
            tokio::time::sleep(Duration::from_millis(4)).await;
            t
        })
        .map(|t| {
            let r = router.clone();
            async move { (t.clone(), r.chat(&ChatRequest::user(t.prompt())).await) }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let mut wrong = 0;
    for (task, r) in &results {
        let routed = r.as_ref().unwrap_or_else(|e| panic!("call failed: {e}"));
        if !task.check(&routed.value.text) {
            wrong += 1;
        }
    }
    assert_eq!(wrong, 0, "every answer must be correct");
    let upstream: u64 = ["primary", "fallback-a", "fallback-b"]
        .iter()
        .map(|n| h.requests(n))
        .sum();
    let per_call = upstream as f64 / 500.0;
    assert!(
        per_call <= 1.5,
        "upstream calls per call {per_call:.3} > 1.5"
    );
    let primary = h.stats("primary").unwrap();
    eprintln!(
        "upstream per call {per_call:.3}; primary {} requests, faults {:?}",
        primary.requests, primary.faults
    );
    assert!(
        primary.requests >= 30,
        "the primary stayed in rotation: {} requests",
        primary.requests
    );
    assert!(
        primary.faults.len() >= 2,
        "the primary did misbehave: {:?}",
        primary.faults
    );

    let reported: usize = results
        .iter()
        .map(|(_, r)| r.as_ref().unwrap().report.upstream_calls())
        .sum();
    assert_eq!(
        reported as u64, upstream,
        "reports count every upstream call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_broken_primary_gets_at_most_one_request_per_cooldown_window() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_api_key("sk-the-right-one"),
        ProviderSpec::new(
            "fallback",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        ),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let window = Duration::from_millis(500);
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::OpenAi))
        .target(target(&h, "fallback", WireFormat::Anthropic))
        .policy(quick_policy())
        .cooldowns(CooldownPolicy {
            auth: window,
            ..CooldownPolicy::default()
        })
        .build()
        .unwrap();
    // One call first: until the primary has failed once, concurrent calls have no
    // reason to avoid it.
    let warm = router
        .chat(&ChatRequest::user("What is 2 + 2?"))
        .await
        .unwrap();
    assert!(warm.report.failed_over);
    let start = Instant::now();
    let mut calls = 0;
    while start.elapsed() < Duration::from_millis(2000) {
        let req = ChatRequest::user("What is 2 + 2?");
        let batch: Vec<_> = (0..8).map(|_| router.chat(&req)).collect();
        for r in futures_util::future::join_all(batch).await {
            assert_eq!(r.unwrap().report.served_by.unwrap().provider(), "fallback");
            calls += 1;
        }
    }
    let windows = start.elapsed().as_secs_f64() / window.as_secs_f64();
    let primary = h.requests("primary");
    assert!(calls > 50, "enough traffic to matter: {calls}");
    assert!(
        (primary as f64) <= windows.ceil() + 1.0,
        "primary got {primary} requests in {windows:.1} windows"
    );
    assert!(primary >= 1);
    assert_eq!(h.stats("primary").unwrap().faults["unauthorized"], primary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_opens_the_breaker_and_recovery_closes_it() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new(
            "primary",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        ),
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let open_for = Duration::from_millis(200);
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::Anthropic))
        .target(target(&h, "fallback", WireFormat::Gemini))
        .policy(quick_policy())
        .breaker(BreakerConfig {
            consecutive_failures: 3,
            failure_rate: None,
            backoff: OpenBackoff {
                initial: open_for,
                max: open_for,
                jitter: false,
            },
            half_open_probes: 1,
            close_after: 1,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    let mut events = router.subscribe();
    let req = ChatRequest::user("What is 3 * 3?");
    for _ in 0..10 {
        assert_eq!(
            router
                .chat(&req)
                .await
                .unwrap()
                .report
                .served_by
                .unwrap()
                .provider(),
            "primary"
        );
    }
    h.set_down("primary", true);
    nb_tests::until_down(&h, "primary", true).await;
    let outage = Instant::now();
    let mut primary_attempts = 0;
    let mut calls = 0;
    while outage.elapsed() < Duration::from_millis(1000) {
        let r = router.chat(&req).await.unwrap();
        assert_eq!(r.report.served_by.as_ref().unwrap().provider(), "fallback");
        primary_attempts += r
            .report
            .attempts
            .iter()
            .filter(|a| a.target.provider() == "primary")
            .count();
        calls += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let probes_allowed =
        (outage.elapsed().as_secs_f64() / open_for.as_secs_f64()).ceil() as usize + 1;
    assert!(calls > 50);
    assert!(
        primary_attempts <= 3 + probes_allowed,
        "{primary_attempts} attempts on a dead primary over {calls} calls"
    );
    // Open, or half-open while a background recovery probe is in flight:
    // never closed while the primary is still down.
    assert_ne!(
        router
            .health(&TargetId::new("primary", model_of(WireFormat::Anthropic)))
            .breaker,
        BreakerState::Closed
    );
    h.set_down("primary", false);
    nb_tests::until_down(&h, "primary", false).await;
    // Over loopback, on the real clock: wait (up to 30 s) for the breaker to close;
    // how soon it does is asserted exactly on paused time below.
    let back_up = Instant::now();
    while router
        .health(&TargetId::new("primary", model_of(WireFormat::Anthropic)))
        .breaker
        != BreakerState::Closed
    {
        assert!(back_up.elapsed() < Duration::from_secs(30), "never closed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut back = 0;
    for _ in 0..20 {
        if router
            .chat(&req)
            .await
            .unwrap()
            .report
            .served_by
            .unwrap()
            .provider()
            == "primary"
        {
            back += 1;
        }
    }
    assert!(back >= 19, "traffic returns to the primary: {back}/20");
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let RouterEvent::Health(HealthEvent::Breaker { transition, .. }) = e {
            seen.push((transition.from, transition.to));
        }
    }
    assert!(
        seen.contains(&(BreakerState::Closed, BreakerState::Open)),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(BreakerState::Open, BreakerState::HalfOpen)),
        "{seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&(BreakerState::HalfOpen, BreakerState::Closed)),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_respected() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi)).with_fault(
            Fault::always(FaultKind::RateLimit)
                .with_retry_after(2.0)
                .for_requests(0, Some(1)),
        ),
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::OpenAi))
        .target(target(&h, "fallback", WireFormat::Gemini))
        .policy(quick_policy())
        .build()
        .unwrap();
    let start = Instant::now();
    let mut served_by_primary_after = None;
    // Until the primary serves again (up to 30 s of real time on a loaded machine).
    while served_by_primary_after.is_none() && start.elapsed() < Duration::from_secs(30) {
        let r = router
            .chat(&ChatRequest::user("What is 1 + 1?"))
            .await
            .unwrap();
        if served_by_primary_after.is_none()
            && r.report.served_by.unwrap().provider() == "primary"
            && !r.report.failed_over
        {
            served_by_primary_after = Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = h.stats("primary").unwrap().log;
    assert_eq!(log[0].status, 429);
    let gap = log[1].at_ms - log[0].at_ms;
    assert!(
        gap >= 2000,
        "a request reached the primary {gap} ms after retry-after: 2"
    );
    assert!(
        served_by_primary_after.is_some(),
        "traffic returned after the cool-down"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_request_aborts_after_exactly_one_upstream_call() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new(
            "primary",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        )
        .with_fault(Fault::always(FaultKind::InvalidRequest)),
        ProviderSpec::new("fallback", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::Anthropic))
        .target(target(&h, "fallback", WireFormat::OpenAi))
        .policy(quick_policy())
        .build()
        .unwrap();
    let err = router.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(err.kind(), RouteErrorKind::Aborted);
    assert_eq!(h.requests("primary") + h.requests("fallback"), 1);
    let msg = err
        .last_error()
        .unwrap()
        .provider_error()
        .unwrap()
        .message
        .clone()
        .unwrap();
    assert!(
        msg.contains("temperature"),
        "the provider's own message: {msg}"
    );
    assert!(err.to_string().contains("temperature"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retry_budget_bounds_load_when_everything_fails() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("a", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::ServerError)),
        ProviderSpec::new("b", WireFormat::Gemini, model_of(WireFormat::Gemini))
            .with_fault(Fault::always(FaultKind::ServerError)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let ratio = 0.2;
    let router = SmartRouter::builder()
        .target(target(&h, "a", WireFormat::OpenAi))
        .target(target(&h, "b", WireFormat::Gemini))
        .policy(quick_policy().with_budget(RetryBudget {
            ratio,
            min_per_second: 1,
            ttl: Duration::from_secs(1),
        }))
        // Keep breakers out of it: this is about the budget.
        .breaker(BreakerConfig {
            consecutive_failures: 0,
            failure_rate: None,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    let calls = 300u64;
    let start = Instant::now();
    for _ in 0..calls {
        let e = router.chat(&ChatRequest::user("x")).await.unwrap_err();
        assert!(
            matches!(
                e.kind(),
                RouteErrorKind::BudgetExhausted | RouteErrorKind::Exhausted
            ),
            "{e}"
        );
    }
    let secs = start.elapsed().as_secs_f64().ceil() as u64;
    let upstream = h.requests("a") + h.requests("b");
    // Each call's first failover is free (the budget limits retries, not the move away
    // from a failing target); beyond it the budget holds the rest to `ratio`.
    let bound = (calls as f64 * (2.0 + f64::from(ratio))) as u64 + secs + 5;
    assert!(
        upstream <= bound,
        "{upstream} upstream calls for {calls} calls (bound {bound})"
    );
    assert!(upstream >= calls, "every call tried at least once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_fails_over_before_its_first_delta_and_surfaces_after_it() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new(
            "early",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        )
        .with_fault(Fault::always(FaultKind::MidStreamError).after_chunks(0)),
        ProviderSpec::new(
            "late",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        )
        .with_fault(Fault::always(FaultKind::MidStreamError).after_chunks(2)),
        ProviderSpec::new("fallback", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let task = Task::Extract {
        name: "Alice".into(),
        age: 34,
        city: "Lyon".into(),
    };
    let req = ChatRequest::user(task.prompt());

    let router = SmartRouter::builder()
        .target(target(&h, "early", WireFormat::Anthropic))
        .target(target(&h, "fallback", WireFormat::OpenAi))
        .policy(quick_policy())
        .build()
        .unwrap();
    let routed = router.stream(&req).await.unwrap();
    assert_eq!(
        routed.report.served_by.as_ref().unwrap().provider(),
        "fallback"
    );
    assert!(routed.report.failed_over);
    let answer = collect(routed.value).await.unwrap();
    assert!(task.check(&answer.text), "{}", answer.text);
    assert_eq!(h.requests("early"), 1);

    let router = SmartRouter::builder()
        .target(target(&h, "late", WireFormat::Anthropic))
        .target(target(&h, "fallback", WireFormat::OpenAi))
        .policy(quick_policy())
        .build()
        .unwrap();
    let routed = router.stream(&req).await.unwrap();
    assert_eq!(
        routed.report.served_by.as_ref().unwrap().provider(),
        "late",
        "committed to the first target"
    );
    let err = collect(routed.value).await.unwrap_err();
    let partial = err.partial().unwrap();
    assert!(partial.is_committed());
    assert!(!partial.text.is_empty());
    assert_eq!(classify(&err).class, FailureClass::Overloaded);
    assert_eq!(
        h.requests("fallback"),
        1,
        "no silent continuation after the commit"
    );
}

#[test]
fn dropping_a_call_closes_its_connection_and_leaves_no_task() {
    // The simulator runs on its own runtime so the test runtime holds only the client.
    let chaos_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = chaos_rt
        .block_on(ChaosServer::start(Scenario::new(vec![
            ProviderSpec::new("hang", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
                .with_fault(Fault::always(FaultKind::Hang)),
        ])))
        .unwrap();
    let h = server.handle();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let router = SmartRouter::builder()
            .target(target(&h, "hang", WireFormat::OpenAi))
            .policy(Policy::default().with_attempt_timeout(Duration::from_secs(30)))
            .build()
            .unwrap();
        let before = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        let req = ChatRequest::user("x");
        let call = router.chat(&req);
        assert!(
            tokio::time::timeout(Duration::from_millis(200), call)
                .await
                .is_err()
        );
        let mut cancelled = 0;
        // Real time (loopback): polls for up to 30 s on a loaded machine.
        for _ in 0..3000 {
            cancelled = h.stats("hang").unwrap().cancelled;
            if cancelled == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(cancelled, 1, "the simulator saw the client go away");
        let mut after = usize::MAX;
        for _ in 0..3000 {
            after = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            if after <= before {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            after <= before,
            "{after} tasks alive after the call, {before} before"
        );
    });
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_health_checks_see_recovery_without_user_traffic() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let open_for = Duration::from_millis(100);
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::OpenAi))
        .target(target(&h, "fallback", WireFormat::Gemini))
        .policy(quick_policy())
        .breaker(BreakerConfig {
            consecutive_failures: 2,
            failure_rate: None,
            backoff: OpenBackoff {
                initial: open_for,
                max: open_for,
                jitter: false,
            },
            half_open_probes: 1,
            close_after: 1,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    let primary = TargetId::new("primary", model_of(WireFormat::OpenAi));
    h.set_down("primary", true);
    nb_tests::until_down(&h, "primary", true).await;
    for _ in 0..3 {
        router
            .chat(&ChatRequest::user("What is 1 + 1?"))
            .await
            .unwrap();
    }
    // Open, or half-open if a recovery probe already started: not closed.
    assert_ne!(router.health(&primary).breaker, BreakerState::Closed);
    let checks = router.spawn_health_checks(
        Duration::from_millis(20),
        ChatRequest::user("ping").with_max_tokens(1),
    );
    h.set_down("primary", false);
    let before = h.requests("primary");
    let mut closed = false;
    // Real time (loopback): up to 30 s on a loaded machine.
    for _ in 0..1500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if router.health(&primary).breaker == BreakerState::Closed {
            closed = true;
            break;
        }
    }
    assert!(closed, "the health loop closed the breaker");
    let probes = h.requests("primary") - before;
    assert!((1..=3).contains(&probes), "{probes} probes");
    drop(checks);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        h.requests("primary") - before,
        probes,
        "a healthy target is never probed, and dropping stops the loop"
    );
}

// The same behaviours on tokio's paused time with in-process targets: every cool-down,
// breaker interval and probe is exact, so the counts are exact too.

const MS: Duration = Duration::from_millis(1);

/// `quick_policy` with the 300 ms attempt timeout it had before loopback needed room:
/// on paused time it is exact.
fn paused_policy() -> Policy {
    quick_policy().with_attempt_timeout(300 * MS)
}

fn api_error(status: u16, ty: &str, message: &str, retry_after: Option<&str>) -> CallError {
    CallError::Api(Box::new(ApiError {
        status: Some(status),
        headers: HeaderFacts {
            retry_after: retry_after.map(str::to_owned),
            ..HeaderFacts::default()
        },
        error: ProviderError {
            r#type: Some(ty.into()),
            message: Some(message.into()),
            ..ProviderError::default()
        },
        body_snippet: None,
    }))
}

fn timed_target(name: &str, timed: &Timed) -> Target {
    Target::new(TargetId::new(name, "m"), timed.clone())
}

fn user_arrivals(t: &Timed) -> Vec<Duration> {
    t.arrivals()
        .into_iter()
        .filter(|a| a.prompt != "ping")
        .map(|a| a.at)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn auth_broken_primary_gets_one_request_per_cooldown_window_on_paused_time() {
    let primary = Timed::new(vec![(
        Duration::MAX,
        Behaviour::Fail(api_error(
            401,
            "authentication_error",
            "invalid x-api-key",
            None,
        )),
    )]);
    let fallback = Timed::new(vec![(Duration::MAX, Behaviour::answer(10 * MS, "4"))]);
    let window = 500 * MS;
    let router = SmartRouter::builder()
        .target(timed_target("primary", &primary))
        .target(timed_target("fallback", &fallback))
        .policy(paused_policy())
        .cooldowns(CooldownPolicy {
            auth: window,
            ..CooldownPolicy::default()
        })
        .build()
        .unwrap();
    let warm = router
        .chat(&ChatRequest::user("What is 2 + 2?"))
        .await
        .unwrap();
    assert!(warm.report.failed_over);
    let start = tokio::time::Instant::now();
    let mut calls = 0;
    while start.elapsed() < 2000 * MS {
        let req = ChatRequest::user("What is 2 + 2?");
        let batch: Vec<_> = (0..8).map(|_| router.chat(&req)).collect();
        for r in futures_util::future::join_all(batch).await {
            assert_eq!(r.unwrap().report.served_by.unwrap().provider(), "fallback");
            calls += 1;
        }
    }
    // 200 batches of 8, one every 10 ms (the fallback's latency).
    assert_eq!(calls, 1600);
    let at = user_arrivals(&primary);
    assert!(
        at.windows(2).all(|w| w[1] - w[0] >= window),
        "at most one request per window: {at:?}"
    );
    // Exactly: the warm call, one at the end of the first 500 ms window, and one when
    // the doubled window (a key refused again) ends; none after 2 s of traffic.
    assert_eq!(at, vec![Duration::ZERO, window, 3 * window]);
}

#[tokio::test(start_paused = true)]
async fn outage_opens_the_breaker_and_recovery_closes_it_on_paused_time() {
    // Up for 1 s (the first ten calls), refusing from 1 s to 2 s, up again after.
    let (down_at, up_at) = (1000 * MS, 2000 * MS);
    let primary = Timed::new(vec![
        (down_at, Behaviour::answer(10 * MS, "9")),
        (up_at, Behaviour::Refuse),
        (Duration::MAX, Behaviour::answer(10 * MS, "9")),
    ]);
    let fallback = Timed::new(vec![(Duration::MAX, Behaviour::answer(10 * MS, "9"))]);
    let open_for = 200 * MS;
    let router = SmartRouter::builder()
        .target(timed_target("primary", &primary))
        .target(timed_target("fallback", &fallback))
        .policy(paused_policy())
        .breaker(BreakerConfig {
            consecutive_failures: 3,
            failure_rate: None,
            backoff: OpenBackoff {
                initial: open_for,
                max: open_for,
                jitter: false,
            },
            half_open_probes: 1,
            close_after: 1,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    let t0 = tokio::time::Instant::now();
    let mut events = router.subscribe();
    let req = ChatRequest::user("What is 3 * 3?");
    for _ in 0..10 {
        let r = router.chat(&req).await.unwrap();
        assert_eq!(r.report.served_by.unwrap().provider(), "primary");
    }
    tokio::time::sleep_until(t0 + down_at).await;
    let mut primary_attempts = 0;
    let mut calls = 0;
    while t0.elapsed() < up_at {
        let r = router.chat(&req).await.unwrap();
        assert_eq!(r.report.served_by.as_ref().unwrap().provider(), "fallback");
        primary_attempts += r
            .report
            .attempts
            .iter()
            .filter(|a| a.target.provider() == "primary")
            .count();
        calls += 1;
        tokio::time::sleep(5 * MS).await;
    }
    // One call every 15 ms (10 ms on the fallback, 5 ms apart) for the 1 s outage.
    assert_eq!(calls, 67);
    // Exactly: three failures open the breaker, then one user call per half-open
    // window (at 1.24, 1.51 and 1.81 s; the background recovery probes take the others).
    assert_eq!(primary_attempts, 3 + 3, "{:?}", primary.arrivals());
    assert!(primary_attempts <= 3 + (1000 / 200) + 1);
    assert_ne!(
        router.health(&TargetId::new("primary", "m")).breaker,
        BreakerState::Closed
    );
    tokio::time::sleep(open_for + 100 * MS).await;
    let mut back = 0;
    for _ in 0..20 {
        if router
            .chat(&req)
            .await
            .unwrap()
            .report
            .served_by
            .unwrap()
            .provider()
            == "primary"
        {
            back += 1;
        }
    }
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let RouterEvent::Health(HealthEvent::Breaker { transition, .. }) = e {
            seen.push((transition.from, transition.to));
        }
    }
    assert_eq!(back, 20, "traffic returns to the primary: {back}/20");
    // The first request after the primary came back was a recovery probe, and it
    // closed the breaker: no user call was spent finding out.
    let after: Vec<_> = primary
        .arrivals()
        .into_iter()
        .filter(|a| a.at >= up_at)
        .collect();
    assert_eq!(after[0].prompt, "ping", "{after:?}");
    assert!(after[1..].iter().all(|a| a.prompt != "ping"), "{after:?}");
    assert_eq!(
        seen.first(),
        Some(&(BreakerState::Closed, BreakerState::Open))
    );
    assert!(
        seen.contains(&(BreakerState::Open, BreakerState::HalfOpen)),
        "{seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&(BreakerState::HalfOpen, BreakerState::Closed)),
        "{seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_respected_on_paused_time() {
    // The first request is told "retry after 2 s"; every later one is answered.
    let primary = Timed::new(vec![
        (
            MS,
            Behaviour::Fail(api_error(
                429,
                "rate_limit_error",
                "Rate limit reached",
                Some("2"),
            )),
        ),
        (Duration::MAX, Behaviour::answer(10 * MS, "2")),
    ]);
    let fallback = Timed::new(vec![(Duration::MAX, Behaviour::answer(10 * MS, "2"))]);
    let router = SmartRouter::builder()
        .target(timed_target("primary", &primary))
        .target(timed_target("fallback", &fallback))
        .policy(paused_policy())
        .build()
        .unwrap();
    let start = tokio::time::Instant::now();
    let mut served_by_primary_after = None;
    while start.elapsed() < 2600 * MS {
        let r = router
            .chat(&ChatRequest::user("What is 1 + 1?"))
            .await
            .unwrap();
        if served_by_primary_after.is_none()
            && r.report.served_by.unwrap().provider() == "primary"
            && !r.report.failed_over
        {
            served_by_primary_after = Some(start.elapsed());
        }
        tokio::time::sleep(20 * MS).await;
    }
    // Calls every 30 ms (10 ms on the fallback, 20 ms apart): the first one at or after
    // the 2 s is at 2.01 s, and it is the primary's second request.
    let at = user_arrivals(&primary);
    assert_eq!(at[..2], [Duration::ZERO, 2010 * MS], "{at:?}");
    assert!(
        at[1] - at[0] >= 2000 * MS,
        "a request reached the primary {:?} after retry-after: 2",
        at[1] - at[0]
    );
    assert_eq!(
        served_by_primary_after,
        Some(2020 * MS),
        "traffic returned after the cool-down"
    );
}

#[tokio::test(start_paused = true)]
async fn active_health_checks_see_recovery_without_user_traffic_on_paused_time() {
    let up_at = 1000 * MS;
    let primary = Timed::new(vec![
        (up_at, Behaviour::Refuse),
        (Duration::MAX, Behaviour::answer(10 * MS, "2")),
    ]);
    let fallback = Timed::new(vec![(Duration::MAX, Behaviour::answer(10 * MS, "2"))]);
    let open_for = 100 * MS;
    let router = SmartRouter::builder()
        .target(timed_target("primary", &primary))
        .target(timed_target("fallback", &fallback))
        .policy(paused_policy())
        .breaker(BreakerConfig {
            consecutive_failures: 2,
            failure_rate: None,
            backoff: OpenBackoff {
                initial: open_for,
                max: open_for,
                jitter: false,
            },
            half_open_probes: 1,
            close_after: 1,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    let id = TargetId::new("primary", "m");
    for _ in 0..3 {
        router
            .chat(&ChatRequest::user("What is 1 + 1?"))
            .await
            .unwrap();
    }
    assert_ne!(router.health(&id).breaker, BreakerState::Closed);
    let checks = router.spawn_health_checks(20 * MS, ChatRequest::user("ping").with_max_tokens(1));
    let mut closed_at = None;
    for _ in 0..100 {
        tokio::time::sleep(20 * MS).await;
        if router.health(&id).breaker == BreakerState::Closed {
            closed_at = Some(primary.arrivals().last().unwrap().at);
            break;
        }
    }
    // Closed by the first probe after the primary came back (at 1.01 s): exactly one.
    assert_eq!(closed_at, Some(up_at + 10 * MS), "{:?}", primary.arrivals());
    let probes = primary.arrivals().iter().filter(|a| a.at >= up_at).count();
    assert_eq!(probes, 1, "{:?}", primary.arrivals());
    assert_eq!(user_arrivals(&primary).len(), 2, "no user call needed");
    let n = primary.arrivals().len();
    drop(checks);
    tokio::time::sleep(100 * MS).await;
    assert_eq!(
        primary.arrivals().len(),
        n,
        "a healthy target is never probed, and dropping stops the loop"
    );
}
