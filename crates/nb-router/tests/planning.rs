//! Planning and policies with in-process providers: strategies, context windows,
//! all-open policies, nesting, tower.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use nb_breaker::CooldownPolicy;
use nb_core::*;
use nb_router::*;

/// Answers with its own name, or fails with a fixed error; counts calls.
struct Fake {
    name: &'static str,
    fail: Option<CallError>,
    calls: AtomicU32,
}

impl Fake {
    fn ok(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            fail: None,
            calls: AtomicU32::new(0),
        })
    }
    fn failing(name: &'static str, e: CallError) -> Arc<Self> {
        Arc::new(Self {
            name,
            fail: Some(e),
            calls: AtomicU32::new(0),
        })
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Provider for Fake {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.fail {
            Some(e) => Err(e.clone()),
            None => Ok(ChatResponse::text(self.name).with_usage(Usage::new(1000, 500))),
        }
    }
}

fn api(status: u16, ty: &str, msg: &str) -> CallError {
    CallError::Api(Box::new(ApiError {
        status: Some(status),
        headers: HeaderFacts::default(),
        error: ProviderError {
            r#type: Some(ty.into()),
            message: Some(msg.into()),
            ..ProviderError::default()
        },
        body_snippet: None,
    }))
}

fn t(name: &str) -> TargetId {
    TargetId::new(name, "m")
}

#[tokio::test(start_paused = true)]
async fn weighted_order_follows_the_weights_and_the_seed() {
    let (a, b) = (Fake::ok("a"), Fake::ok("b"));
    let build = |seed| {
        SmartRouter::builder()
            .target(Target::shared(t("a"), a.clone()).with_weight(3))
            .target(Target::shared(t("b"), b.clone()).with_weight(1))
            .strategy(Strategy::Weighted)
            .seed(seed)
            .build()
            .unwrap()
    };
    let r = build(9);
    let mut served = HashMap::new();
    for _ in 0..400 {
        let x = r.chat(&ChatRequest::user("x")).await.unwrap();
        *served.entry(x.value.text).or_insert(0) += 1;
    }
    let share = f64::from(served["a"]) / 400.0;
    assert!(
        (0.68..0.82).contains(&share),
        "a served {share:.2} of calls with weight 3:1"
    );
    let first = |r: SmartRouter| async move {
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(r.chat(&ChatRequest::user("x")).await.unwrap().value.text);
        }
        v
    };
    assert_eq!(
        first(build(1)).await,
        first(build(1)).await,
        "the same seed, the same order"
    );
}

#[tokio::test(start_paused = true)]
async fn cheapest_first_and_the_report_prices_the_answer() {
    let r = SmartRouter::builder()
        .target(Target::shared(t("dear"), Fake::ok("dear")).with_cost(10.0, 30.0))
        .target(Target::shared(t("cheap"), Fake::ok("cheap")).with_cost(0.15, 0.60))
        .target(Target::shared(t("unpriced"), Fake::ok("unpriced")))
        .strategy(Strategy::Cheapest)
        .build()
        .unwrap();
    let x = r.chat(&ChatRequest::user("x")).await.unwrap();
    assert_eq!(x.value.text, "cheap");
    let cost = x.report.cost.unwrap();
    assert!(
        (cost - (1000.0 * 0.15 + 500.0 * 0.60) / 1e6).abs() < 1e-12,
        "{cost}"
    );
}

#[tokio::test(start_paused = true)]
async fn prompts_too_large_skip_small_windows_and_context_errors_go_to_larger_ones_only() {
    let small = Fake::failing(
        "small",
        api(
            400,
            "invalid_request_error",
            "prompt is too long: 9000 tokens > 8192 maximum",
        ),
    );
    let same = Fake::ok("same-size");
    let large = Fake::ok("large");
    let r = SmartRouter::builder()
        .target(Target::shared(t("small"), small.clone()).with_context_window(8192))
        .target(Target::shared(t("same"), same.clone()).with_context_window(8192))
        .target(Target::shared(t("large"), large.clone()).with_context_window(200_000))
        .build()
        .unwrap();
    // ~2 500 estimated tokens: fits everywhere by estimate, but the first target says no.
    let x = r
        .chat(&ChatRequest::user("word ".repeat(2000)))
        .await
        .unwrap();
    assert_eq!(
        x.value.text, "large",
        "the same-size window is skipped after a context error"
    );
    assert_eq!(same.calls(), 0);
    // ~50 000 estimated tokens: the small windows are skipped without a call.
    let before = small.calls();
    let x = r
        .chat(&ChatRequest::user("x".repeat(200_000)))
        .await
        .unwrap();
    assert_eq!(x.value.text, "large");
    assert_eq!(small.calls(), before);
    assert_eq!(x.report.skipped.len(), 2);
}

#[tokio::test(start_paused = true)]
async fn all_open_policies_fail_fast_or_use_the_last_resort() {
    let down = || {
        Fake::failing(
            "down",
            api(401, "authentication_error", "invalid x-api-key"),
        )
    };
    let cooldowns = CooldownPolicy {
        auth: Duration::from_secs(60),
        ..CooldownPolicy::default()
    };
    let fast = SmartRouter::builder()
        .target(Target::shared(t("a"), down()))
        .cooldowns(cooldowns)
        .policy(Policy::default().with_when_all_open(WhenAllOpen::FailFast))
        .build()
        .unwrap();
    let e = fast.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::Exhausted);
    let e = fast.chat(&ChatRequest::user("x")).await.unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::NoCandidate);
    let wait = e.retry_after().unwrap();
    // On paused time no time passed between the two calls: the whole cool-down is left.
    assert_eq!(wait, Duration::from_secs(60));
    assert!(e.to_string().contains("earliest retry"), "{e}");

    let backup = Fake::ok("backup");
    let lr = SmartRouter::builder()
        .target(Target::shared(t("a"), down()))
        .target(Target::shared(t("backup"), backup.clone()).with_tag("last-resort"))
        .route("primary-only", [t("a")])
        .cooldowns(cooldowns)
        .policy(Policy::default().with_when_all_open(WhenAllOpen::LastResort(t("backup"))))
        .build()
        .unwrap();
    let opts = CallOptions::default().with_route(Some("primary-only".into()));
    let _ = lr.chat_with(&ChatRequest::user("x"), &opts).await;
    let x = lr.chat_with(&ChatRequest::user("x"), &opts).await.unwrap();
    assert_eq!(x.value.text, "backup");
    assert!(
        x.report
            .skipped
            .iter()
            .any(|(id, why)| *id == t("backup") && *why == SkipReason::LastResort)
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_routes_and_missing_tags_are_no_route_errors() {
    let r = SmartRouter::builder()
        .target(Target::shared(t("a"), Fake::ok("a")).with_tag("eu"))
        .build()
        .unwrap();
    let e = r
        .chat_with(
            &ChatRequest::user("x"),
            &CallOptions::default().with_route(Some("nope".into())),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::NoRoute);
    let e = r
        .chat_with(
            &ChatRequest::user("x"),
            &CallOptions::default().with_require_tags(vec!["us".into()]),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::NoRoute);
    let ok = r
        .chat_with(
            &ChatRequest::user("x"),
            &CallOptions::default().with_require_tags(vec!["eu".into()]),
        )
        .await;
    assert!(ok.is_ok());
}

#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    assert!(SmartRouter::builder().build().is_err());
    let dup = SmartRouter::builder()
        .target(Target::shared(t("a"), Fake::ok("a")))
        .target(Target::shared(t("a"), Fake::ok("a")))
        .build();
    assert!(dup.unwrap_err().to_string().contains("twice"));
    let budget = SmartRouter::builder()
        .target(Target::shared(t("a"), Fake::ok("a")))
        .policy(Policy::default().with_budget(RetryBudget {
            ttl: Duration::ZERO,
            ..RetryBudget::default()
        }))
        .build();
    assert!(budget.unwrap_err().to_string().contains("ttl"));
    let route = SmartRouter::builder()
        .target(Target::shared(t("a"), Fake::ok("a")))
        .route("r", [t("ghost")])
        .build();
    assert!(route.unwrap_err().to_string().contains("ghost"));
    let zero = SmartRouter::builder()
        .target(Target::shared(t("a"), Fake::ok("a")))
        .policy(Policy::default().with_attempt_timeout(Duration::ZERO))
        .build();
    assert!(
        zero.unwrap_err()
            .to_string()
            .contains("policy.attempt_timeout")
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_into_a_total_outage_costs_one_free_failover_and_at_most_one_fifth_more() {
    // Regression: the default budget held 100 retries in reserve (10/s x 10 s), so a burst
    // into a total outage (or of hedges) cost 1.23 upstream calls per offered call on top
    // of what was free. A call's first failover is free (the budget limits retries, not
    // the move away from a failing target); everything after it draws on the budget. With
    // the breakers on, they stop the sending instead (tested in router_self_healing).
    use futures_util::StreamExt;
    let boom = || {
        api(
            500,
            "server_error",
            "The server had an error while processing your request.",
        )
    };
    let (a, b, c) = (
        Fake::failing("a", boom()),
        Fake::failing("b", boom()),
        Fake::failing("c", boom()),
    );
    let router = SmartRouter::builder()
        .target(Target::shared(t("a"), a.clone()))
        .target(Target::shared(t("b"), b.clone()))
        .target(Target::shared(t("c"), c.clone()))
        .policy(Policy::default().with_backoff_base(Duration::from_millis(1)))
        // Breakers out of it: this is about the budget alone.
        .breaker(nb_breaker::BreakerConfig {
            consecutive_failures: 0,
            failure_rate: None,
            ..nb_breaker::BreakerConfig::default()
        })
        .build()
        .unwrap();
    let offered = 500u32;
    let errors = futures_util::stream::iter(0..offered)
        .map(|_| {
            let r = router.clone();
            async move { r.chat(&ChatRequest::user("x")).await.is_err() }
        })
        .buffer_unordered(500)
        .filter(|e| std::future::ready(*e))
        .count()
        .await;
    assert_eq!(errors, offered as usize);
    let upstream = a.calls() + b.calls() + c.calls();
    assert!(
        f64::from(upstream) / f64::from(offered) <= 2.2 + 11.0 / f64::from(offered),
        "{upstream} upstream calls for {offered} offered"
    );
    assert!(upstream >= offered);
}

#[tokio::test(start_paused = true)]
async fn an_unbounded_deadline_means_no_deadline_not_a_panic() {
    // Regression: `deadline = Duration::MAX` built, then panicked on every call
    // (`Instant + Duration::MAX` overflows).
    let a = Fake::ok("a");
    let router = SmartRouter::builder()
        .target(Target::shared(t("a"), a.clone()))
        .policy(
            Policy::default()
                .with_deadline(Duration::MAX)
                .with_attempt_timeout(Duration::MAX),
        )
        .build()
        .unwrap();
    let routed = router.chat(&ChatRequest::user("hi")).await.unwrap();
    assert_eq!(routed.report.served_by, Some(t("a")));
    assert_eq!(a.calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn routers_nest_and_serve_as_tower_services() {
    use tower::{Service, ServiceExt};
    let inner = SmartRouter::builder()
        .target(Target::shared(
            t("x"),
            Fake::failing(
                "x",
                CallError::transport(TransportKind::ConnectRefused, "refused"),
            ),
        ))
        .target(Target::shared(t("y"), Fake::ok("y")))
        .build()
        .unwrap();
    let outer = SmartRouter::builder()
        .target(Target::new(t("inner-router"), inner))
        .build()
        .unwrap();
    let mut svc = outer.clone();
    let routed = svc
        .ready()
        .await
        .unwrap()
        .call(ChatRequest::user("x"))
        .await
        .unwrap();
    assert_eq!(routed.value.text, "y");
    assert_eq!(routed.report.served_by, Some(t("inner-router")));
}

#[tokio::test(start_paused = true)]
async fn hedging_takes_the_faster_answer_and_cancels_the_slower() {
    struct Slow(Duration, &'static str, Arc<AtomicU32>);
    #[async_trait]
    impl Provider for Slow {
        async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
            tokio::time::sleep(self.0).await;
            self.2.fetch_add(1, Ordering::SeqCst);
            Ok(ChatResponse::text(self.1))
        }
    }
    let finished = Arc::new(AtomicU32::new(0));
    let r = SmartRouter::builder()
        .target(Target::new(
            t("slow"),
            Slow(Duration::from_secs(2), "slow", finished.clone()),
        ))
        .target(Target::new(
            t("fast"),
            Slow(Duration::from_millis(5), "fast", finished.clone()),
        ))
        .policy(Policy::default().with_hedging(Some(Hedging {
            min_delay: Duration::from_millis(20),
            fixed_delay: None,
        })))
        .build()
        .unwrap();
    let x = r.chat(&ChatRequest::user("x")).await.unwrap();
    assert_eq!(x.value.text, "fast");
    assert_eq!(x.report.attempts.len(), 2);
    assert!(
        x.report
            .attempts
            .iter()
            .any(|a| a.role == AttemptRole::Hedge && a.outcome == AttemptOutcome::Success)
    );
    assert!(
        x.report
            .attempts
            .iter()
            .any(|a| a.role == AttemptRole::Answer && a.outcome == AttemptOutcome::Cancelled)
    );
    // On paused time: the hedge went out after exactly its 20 ms delay and answered
    // 5 ms later.
    assert_eq!(x.report.elapsed, Duration::from_millis(25));
    // Long past the slow attempt's 2 s: had it been left running, it would have finished.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the slow attempt was dropped, not left running"
    );
}

#[tokio::test(start_paused = true)]
async fn a_revoked_key_rotates_to_the_providers_next_key_before_failing_over() {
    let revoked = Fake::failing(
        "key-a",
        api(401, "authentication_error", "invalid x-api-key"),
    );
    let good = Fake::ok("key-b");
    let other = Fake::ok("other-provider");
    let r = SmartRouter::builder()
        .target(Target::shared(
            TargetId::new("anthropic", "claude").with_credential("key-a"),
            revoked.clone(),
        ))
        .target(Target::shared(
            TargetId::new("anthropic", "claude").with_credential("key-b"),
            good.clone(),
        ))
        .target(Target::shared(
            TargetId::new("openai", "gpt"),
            other.clone(),
        ))
        .build()
        .unwrap();
    let x = r.chat(&ChatRequest::user("x")).await.unwrap();
    assert_eq!(
        x.value.text, "key-b",
        "same provider and model, the next key"
    );
    for _ in 0..5 {
        assert_eq!(
            r.chat(&ChatRequest::user("x")).await.unwrap().value.text,
            "key-b"
        );
    }
    assert_eq!(
        revoked.calls(),
        1,
        "the revoked key is not retried on every call"
    );
    assert_eq!(other.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_target_without_vision_is_skipped_for_an_image_with_a_reason() {
    let (blind, seeing) = (Fake::ok("blind"), Fake::ok("seeing"));
    let router = SmartRouter::builder()
        .target(Target::shared(t("blind"), blind.clone()).without_vision())
        .target(Target::shared(t("seeing"), seeing.clone()))
        .build()
        .unwrap();
    let look = ChatRequest::new(vec![Message::user_parts(vec![
        Part::text("What is in the picture?"),
        Part::image(Media::bytes("image/png", &[0x89, b'P', b'N', b'G'])),
    ])]);
    let routed = router.chat(&look).await.unwrap();
    assert_eq!(routed.value.text, "seeing");
    assert_eq!(
        (blind.calls(), seeing.calls()),
        (0, 1),
        "never sent a request it must reject"
    );
    assert_eq!(
        routed.report.skipped,
        vec![(t("blind"), SkipReason::CannotTake { kind: "image" })]
    );
    // Text goes to the first choice as usual.
    let routed = router.chat(&ChatRequest::user("hi")).await.unwrap();
    assert_eq!(routed.value.text, "blind");
    // Nothing that can take it: a clear error naming why.
    let only_blind = SmartRouter::builder()
        .target(Target::shared(t("blind"), blind.clone()).without_vision())
        .build()
        .unwrap();
    let e = only_blind.chat(&look).await.unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::NoRoute);
    assert_eq!(
        e.report().skipped[0].1.to_string(),
        "cannot take image parts",
        "{e}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_skipped_first_choice_is_a_failover_with_its_reason_and_failures_take_time() {
    // Regression: a call whose primary was skipped (cooling down) and served by a
    // fallback reported failed_over = false and skipped = [].
    let primary = Fake::failing(
        "primary",
        api(401, "authentication_error", "invalid x-api-key"),
    );
    let fallback = Fake::ok("fallback");
    let router = SmartRouter::builder()
        .target(Target::shared(t("primary"), primary.clone()))
        .target(Target::shared(t("fallback"), fallback.clone()))
        .build()
        .unwrap();
    let first = router.chat(&ChatRequest::user("hi")).await.unwrap();
    assert!(first.report.failed_over);
    let second = router.chat(&ChatRequest::user("hi")).await.unwrap();
    assert_eq!(
        primary.calls(),
        1,
        "the revoked key cools down: not asked again"
    );
    assert!(
        second.report.failed_over,
        "served by the second planned target"
    );
    assert_eq!(
        second.report.skipped.len(),
        1,
        "{:?}",
        second.report.skipped
    );
    assert_eq!(second.report.skipped[0].0, t("primary"));
    assert!(
        matches!(second.report.skipped[0].1, SkipReason::CoolingDown { .. }),
        "{:?}",
        second.report.skipped
    );
    // A call where every target fails still says how long it took.
    let broken = SmartRouter::builder()
        .target(Target::shared(
            t("x"),
            Fake::failing("x", api(500, "server_error", "boom")),
        ))
        .policy(Policy::default().with_backoff_base(Duration::from_millis(5)))
        .build()
        .unwrap();
    let e = broken.chat(&ChatRequest::user("hi")).await.unwrap_err();
    assert!(!e.report().elapsed.is_zero(), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn a_nested_router_out_of_candidates_keeps_its_retry_hint() {
    // Regression: "no candidate, retry in 4 s" became CallError::Unsupported, which the
    // outer router classified as an invalid request.
    let inner = SmartRouter::builder()
        .target(Target::shared(
            t("only"),
            Fake::failing(
                "only",
                api(401, "authentication_error", "invalid x-api-key"),
            ),
        ))
        .policy(Policy::default().with_when_all_open(WhenAllOpen::FailFast))
        .build()
        .unwrap();
    let _ = inner.chat(&ChatRequest::user("hi")).await;
    let e = inner.chat(&ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::NoCandidate);
    let hint = e
        .retry_after()
        .expect("the inner router knows when its target returns");
    let as_call = e.into_call_error();
    let c = nb_classify::classify(&as_call);
    assert_eq!(
        (c.class, c.disposition, c.retry_after),
        (
            FailureClass::Overloaded,
            nb_classify::Disposition::FailOver,
            Some(hint)
        )
    );
}

#[tokio::test(start_paused = true)]
async fn context_windows_are_learned_from_rejections_not_required() {
    // Regression: with only some targets declaring a window, the 128k fallbacks were never
    // tried after a context rejection ("every candidate failed").
    let small = Fake::failing(
        "small",
        api(
            400,
            "invalid_request_error",
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9500 tokens.",
        ),
    );
    let (large, tiny) = (Fake::ok("large"), Fake::ok("tiny"));
    let router = SmartRouter::builder()
        .target(Target::shared(t("tiny"), tiny.clone()).with_context_window(4096))
        .target(Target::shared(t("small"), small.clone()))
        .target(Target::shared(t("large"), large.clone()))
        .build()
        .unwrap();
    let long = ChatRequest::user("lorem ipsum ".repeat(3200)); // ~9,600 tokens
    let first = router.chat(&long).await.unwrap();
    assert_eq!(
        first.value.text, "large",
        "the target with no declared window is tried"
    );
    assert_eq!(
        tiny.calls(),
        0,
        "the declared 4096 window is skipped without a call"
    );
    assert_eq!(small.calls(), 1);
    for _ in 0..3 {
        let again = router.chat(&long).await.unwrap();
        assert_eq!(again.value.text, "large");
        assert!(
            again
                .report
                .skipped
                .iter()
                .any(|(id, why)| *id == t("small")
                    && matches!(why, SkipReason::WindowTooSmall { window: 8192, .. })),
            "{:?}",
            again.report.skipped
        );
    }
    assert_eq!(
        small.calls(),
        1,
        "each target rejects a given size at most once"
    );
    // A short prompt still goes to the first choices.
    assert_eq!(
        router
            .chat(&ChatRequest::user("hi"))
            .await
            .unwrap()
            .value
            .text,
        "tiny"
    );
    // Nothing fits: the error names every target and its window.
    let nothing = SmartRouter::builder()
        .target(Target::shared(t("tiny"), tiny.clone()).with_context_window(4096))
        .target(Target::shared(t("small"), small.clone()))
        .build()
        .unwrap();
    let _ = nothing.chat(&long).await;
    let e = nothing.chat(&long).await.unwrap_err();
    let text = format!("{:?}", e.report().skipped);
    assert!(text.contains("4096") && text.contains("8192"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn usage_and_cost_count_every_upstream_call_by_purpose() {
    // Regression: usage and cost counted only the returned answer, not the vouching
    // calls (or retries, repairs, hedges) that were paid for too.
    let down = Fake::failing("a", api(503, "service_unavailable_error", "overloaded"));
    let router = SmartRouter::builder()
        .target(Target::shared(t("a"), down).with_cost(1.0, 2.0))
        .target(Target::shared(t("b"), Fake::ok("b")).with_cost(1.0, 2.0))
        .target(Target::shared(t("c"), Fake::ok("c")).with_cost(3.0, 6.0))
        .vouch(
            Vouching::consensus(nb_semantic::Strict)
                .with_tiebreak(false)
                .with_on_unvouchable(nb_router::OnUnvouchable::Refuse),
        )
        .build()
        .unwrap();
    // "b" and "c" give different answers the checker cannot decide: the failover answer
    // is refused (this router refuses what nothing could vouch for) — but both calls were
    // billed, and the report says so.
    let e = router
        .chat(&ChatRequest::user("say your name"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::Unvouched);
    let by_role = e.report().usage_by_role();
    assert_eq!(
        by_role,
        vec![
            (AttemptRole::Answer, Usage::new(1000, 500)),
            (AttemptRole::Vouch, Usage::new(1000, 500))
        ]
    );
    assert_eq!(e.report().total_usage(), Usage::new(2000, 1000));
    // b: (1000 x 1 + 500 x 2) / 1e6; c: (1000 x 3 + 500 x 6) / 1e6.
    let total = e.report().total_cost.unwrap();
    assert!((total - (0.002 + 0.006)).abs() < 1e-12, "{total}");
}
