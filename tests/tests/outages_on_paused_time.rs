//! Outages replayed on tokio's paused time with in-process targets: every wait, timeout
//! and probe interval is exact, however loaded the machine is.
//!
//! - a slow but healthy target comes back by the first recovery probe after its fault;
//! - a hanging outage loses no call, even with no retry budget at all: the move away
//!   from a dead target is not a retry;
//! - one overload does not take a target out of rotation;
//! - a flaky first choice (a server error on 3 calls in 10) over a healthy fallback
//!   loses no call to the retry budget: a retry the budget refuses becomes the call's
//!   free failover.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use nb_core::{ChatRequest, TargetId};
use nb_router::{Policy, RetryBudget, RouteErrorKind, RouterEvent, SmartRouter, Target};
use nb_tests::{Behaviour, Timed};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

/// A target that answers in 2.5 s, then refuses every call for 2 s, then answers in
/// 2.5 s again; alone on its route, so while its breaker is open every call fails.
#[tokio::test(start_paused = true)]
async fn a_slow_healthy_target_is_readmitted_by_the_first_probe_after_its_fault_ends() {
    let fault = (20 * S, 22 * S);
    let slow = Timed::new(vec![
        (fault.0, Behaviour::answer(2_500 * MS, "42")),
        (fault.1, Behaviour::Refuse),
        (Duration::MAX, Behaviour::answer(2_500 * MS, "42")),
    ]);
    let router = SmartRouter::builder()
        .target(Target::new(TargetId::new("slow", "m"), slow.clone()))
        .policy(
            Policy::default()
                .with_attempt_timeout(10 * S)
                .with_deadline(10 * S),
        )
        .build()
        .unwrap();
    let mut events = router.subscribe();
    let q = ChatRequest::user("What is 6 x 7?");
    let mut back = None;
    let start = tokio::time::Instant::now();
    while start.elapsed() < 60 * S && back.is_none() {
        let ok = router.chat(&q).await.is_ok();
        let now = slow.arrivals().last().map_or(Duration::ZERO, |a| a.at);
        if ok && now > fault.1 {
            back = Some(now);
        }
        tokio::time::sleep(100 * MS).await;
    }
    let back = back.expect("the slow target served users again");
    let probes: Vec<_> = slow
        .arrivals()
        .into_iter()
        .filter(|a| a.prompt == "ping")
        .collect();
    let after_fault: Vec<_> = probes.iter().filter(|p| p.at >= fault.1).collect();
    assert!(
        !after_fault.is_empty(),
        "a probe was sent after the fault ended"
    );
    // The first probe after the fault ends is answered (in 2.5 s): it closes the breaker.
    let mut passed = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let RouterEvent::RecoveryProbe { passed: p, .. } = ev {
            passed.push(p);
        }
    }
    assert_eq!(passed.iter().filter(|p| **p).count(), 1, "{passed:?}");
    assert_eq!(
        after_fault.len(),
        1,
        "readmitted within one probe after the fault: {probes:?}"
    );
    // Users are back once that probe has answered, and at most one probe interval later.
    let probe_at = after_fault[0].at;
    assert!(back >= probe_at + 2_500 * MS, "{back:?} vs {probe_at:?}");
    assert!(
        back <= probe_at + 2_500 * MS + S,
        "{back:?} vs {probe_at:?}"
    );
    // Probes were spaced out while the fault lasted: at most one in flight, and fewer
    // than one per base interval.
    let during: Vec<_> = probes.iter().filter(|p| p.at < fault.1).collect();
    assert!(during.len() <= 8, "{during:?}");
}

/// The primary hangs for 6 s; each call gives it at most 1 s. With a retry budget of
/// zero, no call is lost: the first failover of a call is never refused by the budget.
#[tokio::test(start_paused = true)]
async fn a_hanging_outage_loses_no_call_even_with_no_retry_budget() {
    let primary = Timed::new(vec![
        (2 * S, Behaviour::answer(20 * MS, "42")),
        (8 * S, Behaviour::Hang),
        (Duration::MAX, Behaviour::answer(20 * MS, "42")),
    ]);
    let fallback = Timed::new(vec![(Duration::MAX, Behaviour::answer(30 * MS, "42"))]);
    let router = SmartRouter::builder()
        .target(Target::new(TargetId::new("primary", "m"), primary.clone()))
        .target(Target::new(
            TargetId::new("fallback", "m"),
            fallback.clone(),
        ))
        .policy(
            Policy::default()
                .with_attempt_timeout(S)
                .with_deadline(3 * S)
                .with_budget(RetryBudget {
                    ratio: 0.0,
                    min_per_second: 0,
                    ..RetryBudget::default()
                }),
        )
        .build()
        .unwrap();
    let router = Arc::new(router);
    let start = tokio::time::Instant::now();
    // 600 calls from 6 concurrent callers, spread over the outage and after it.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let router = router.clone();
        tasks.push(tokio::spawn(async move {
            let mut errors = Vec::new();
            let mut on_primary_after = 0;
            for _ in 0..100 {
                match router.chat(&ChatRequest::user("What is 6 x 7?")).await {
                    Ok(r) => {
                        if r.report.served_by.as_ref().map(TargetId::provider) == Some("primary")
                            && start.elapsed() > 8 * S
                        {
                            on_primary_after += 1;
                        }
                    }
                    Err(e) => errors.push(e.kind()),
                }
                tokio::time::sleep(100 * MS).await;
            }
            (errors, on_primary_after)
        }));
    }
    let mut lost = Vec::new();
    let mut back = 0;
    for t in tasks {
        let (errors, on_primary) = t.await.unwrap();
        lost.extend(errors);
        back += on_primary;
    }
    assert_eq!(lost, Vec::<RouteErrorKind>::new(), "no call lost");
    assert!(back > 0, "the primary served again after the hang");
    assert!(!primary.arrivals().is_empty() && !fallback.arrivals().is_empty());
}

/// A single overload (529 without a hint) sends that call elsewhere, but does not cool
/// the target: the next call is served by it again.
#[tokio::test(start_paused = true)]
async fn one_overload_does_not_take_a_target_out_of_rotation() {
    use nb_core::{ApiError, CallError, HeaderFacts, ProviderError};
    let overloaded = CallError::Api(Box::new(ApiError {
        status: Some(529),
        headers: HeaderFacts::default(),
        error: ProviderError {
            r#type: Some("overloaded_error".into()),
            message: Some("Overloaded".into()),
            ..ProviderError::default()
        },
        body_snippet: None,
    }));
    let a = Timed::new(vec![
        (5 * MS, Behaviour::Fail(overloaded)),
        (Duration::MAX, Behaviour::answer(10 * MS, "42")),
    ]);
    let b = Timed::new(vec![(Duration::MAX, Behaviour::answer(10 * MS, "42"))]);
    let router = SmartRouter::builder()
        .target(Target::new(TargetId::new("a", "m"), a.clone()))
        .target(Target::new(TargetId::new("b", "m"), b))
        .build()
        .unwrap();
    let q = ChatRequest::user("What is 6 x 7?");
    let first = router.chat(&q).await.unwrap();
    assert_eq!(first.report.served_by.unwrap().provider(), "b");
    assert!(first.report.failed_over);
    let second = router.chat(&q).await.unwrap();
    assert_eq!(
        second.report.served_by.as_ref().unwrap().provider(),
        "a",
        "one overload does not cool a: {:?}",
        second.report
    );
    assert_eq!(a.arrivals().len(), 2);
}

/// A first choice that answers 500 to 3 calls in 10, in a fixed pattern.
#[derive(Clone, Default)]
struct Flaky(Arc<std::sync::atomic::AtomicU64>);

#[async_trait::async_trait]
impl nb_core::Provider for Flaky {
    async fn chat(&self, _: &ChatRequest) -> Result<nb_core::ChatResponse, nb_core::CallError> {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(10 * MS).await;
        if n % 10 < 3 {
            return Err(nb_core::CallError::Api(Box::new(nb_core::ApiError {
                status: Some(500),
                headers: nb_core::HeaderFacts::default(),
                error: nb_core::ProviderError {
                    r#type: Some("server_error".into()),
                    message: Some("The server had an error".into()),
                    ..nb_core::ProviderError::default()
                },
                body_snippet: None,
            })));
        }
        Ok(nb_core::ChatResponse::text("42"))
    }
}

#[tokio::test(start_paused = true)]
async fn a_flaky_first_choice_loses_no_call_to_the_retry_budget() {
    let fallback = Timed::new(vec![(Duration::MAX, Behaviour::answer(20 * MS, "42"))]);
    let primary = Flaky::default();
    let router = SmartRouter::builder()
        .target(Target::new(TargetId::new("flaky", "m"), primary.clone()))
        .target(Target::new(
            TargetId::new("fallback", "m"),
            fallback.clone(),
        ))
        // Breakers out of it: this is about the budget alone.
        .breaker(nb_breaker::BreakerConfig {
            consecutive_failures: 0,
            failure_rate: None,
            ..nb_breaker::BreakerConfig::default()
        })
        .build()
        .unwrap();
    let router = Arc::new(router);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let router = router.clone();
        tasks.push(tokio::spawn(async move {
            let mut lost = Vec::new();
            for _ in 0..150 {
                if let Err(e) = router.chat(&ChatRequest::user("What is 6 x 7?")).await {
                    lost.push(e.kind());
                }
                tokio::time::sleep(5 * MS).await;
            }
            lost
        }));
    }
    let mut lost = Vec::new();
    for t in tasks {
        lost.extend(t.await.unwrap());
    }
    assert_eq!(lost, Vec::<RouteErrorKind>::new(), "1,200 calls, none lost");
    let upstream =
        primary.0.load(std::sync::atomic::Ordering::Relaxed) as usize + fallback.arrivals().len();
    eprintln!("1200 calls over a 30%-flaky first choice: {upstream} upstream calls");
    assert!(upstream <= 1200 * 15 / 10, "{upstream} upstream calls");
}
