//! Recovery without spending user traffic on a dead target: while the primary's breaker
//! is open, background probes (never a user's call) find out when it is back, and user
//! traffic returns to it at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_core::{ChatRequest, TargetId};
use nb_router::{AttemptOutcome, Policy, RouterEvent, SmartRouter};
use nb_tests::{model_of, router_target};

// Over loopback the outcomes are asserted (traffic returns, no user call while the
// breaker is open, the probes reached the simulator); the time it takes, exactly, on
// paused time below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_on_the_primary_after_a_refused_outage_over_loopback() {
    back_on_the_primary_over_loopback(FaultKind::Outage, 0.0, 3.0).await;
}

/// A hanging target is the hard case: a probe sent before it recovered never answers,
/// so a probe's time limit follows the target's own latency (measured while it served,
/// before the hang), not the attempt timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_on_the_primary_after_a_hanging_outage_over_loopback() {
    back_on_the_primary_over_loopback(FaultKind::Hang, 0.5, 6.0).await;
}

async fn back_on_the_primary_over_loopback(fault: FaultKind, from_s: f64, outage_s: f64) {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(fault).in_window(from_s, Some(outage_s))),
        ProviderSpec::new("fallback", WireFormat::Gemini, model_of(WireFormat::Gemini)),
    ]))
    .await
    .unwrap();
    let started = Instant::now();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(router_target(&h, "primary", WireFormat::OpenAi))
        .target(router_target(&h, "fallback", WireFormat::Gemini))
        .policy(
            Policy::default()
                .with_attempt_timeout(Duration::from_secs(2))
                .with_deadline(Duration::from_secs(3)),
        )
        .build()
        .unwrap();
    let mut events = router.subscribe();
    let primary = TargetId::new("primary", model_of(WireFormat::OpenAi));
    let mut back_at = None;
    let mut user_attempts_to_primary_while_open = 0;
    let mut breaker_open = false;
    while started.elapsed() < Duration::from_secs_f64(outage_s + 30.0) {
        while let Ok(ev) = events.try_recv() {
            if let RouterEvent::Health(nb_breaker::HealthEvent::Breaker { target, transition }) = ev
            {
                if target == primary {
                    breaker_open = transition.to == nb_breaker::BreakerState::Open;
                }
            }
        }
        let routed = router
            .chat(&ChatRequest::user("What is 2 + 3?"))
            .await
            .expect("a healthy fallback answers every call");
        if breaker_open {
            user_attempts_to_primary_while_open += routed
                .report
                .attempts
                .iter()
                .filter(|a| a.target == primary)
                .count();
        }
        if routed.report.served_by.as_ref() == Some(&primary)
            && started.elapsed() > Duration::from_secs_f64(outage_s)
        {
            back_at = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let back_at = back_at.expect("traffic returned to the primary");
    let recovery = back_at.saturating_sub(Duration::from_secs_f64(outage_s));
    eprintln!("{fault:?}: back on the primary {recovery:?} after it recovered");
    assert_eq!(
        user_attempts_to_primary_while_open, 0,
        "no user call is sent to a target while its breaker is open"
    );
    // The probes themselves reached the simulator: its own count of the primary's
    // successful answers shows one before any user call came back.
    assert!(
        h.stats("primary")
            .unwrap()
            .statuses
            .get(&200)
            .copied()
            .unwrap_or(0)
            >= 1
    );
    let _ = AttemptOutcome::Success;
}

/// The same outages on tokio's paused time with in-process targets: the time from the
/// primary's recovery to the first user call it serves is exact.
#[tokio::test(start_paused = true)]
async fn back_on_the_primary_within_a_second_of_a_refused_outage_on_paused_time() {
    let recovery = back_on_the_primary_on_paused_time(nb_tests::Behaviour::Refuse, 0.0, 3.0).await;
    // The recovery probe at 3.406 s (the probes' jitter is seeded) is answered 20 ms
    // later; the next user call, at 3.44 s, is answered by the primary at 3.46 s.
    assert_eq!(recovery, Duration::from_millis(460));
    assert!(recovery <= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn back_on_the_primary_within_a_second_of_a_hanging_outage_on_paused_time() {
    let recovery = back_on_the_primary_on_paused_time(nb_tests::Behaviour::Hang, 0.5, 6.0).await;
    // Each call gives the hanging primary 1.5 s before failing over; the one sent at
    // 6.68 s is answered at 6.7 s.
    assert_eq!(recovery, Duration::from_millis(700));
    assert!(recovery <= Duration::from_secs(1));
}

/// The primary answers in 20 ms, behaves as `fault` from `from_s` to `outage_s`, then
/// answers again; the fallback answers in 20 ms. Returns how long after the primary's
/// recovery a user call was first served by it.
async fn back_on_the_primary_on_paused_time(
    fault: nb_tests::Behaviour,
    from_s: f64,
    outage_s: f64,
) -> Duration {
    use nb_tests::{Behaviour, Timed};
    let ms = Duration::from_millis(1);
    let (from, to) = (
        Duration::from_secs_f64(from_s),
        Duration::from_secs_f64(outage_s),
    );
    let primary = Timed::new(vec![
        (from, Behaviour::answer(20 * ms, "5")),
        (to, fault.clone()),
        (Duration::MAX, Behaviour::answer(20 * ms, "5")),
    ]);
    let fallback = Timed::new(vec![(Duration::MAX, Behaviour::answer(20 * ms, "5"))]);
    let started = tokio::time::Instant::now();
    let id = TargetId::new("primary", "m");
    let router = SmartRouter::builder()
        .target(nb_router::Target::new(id.clone(), primary.clone()))
        .target(nb_router::Target::new(
            TargetId::new("fallback", "m"),
            fallback.clone(),
        ))
        .policy(
            Policy::default()
                .with_attempt_timeout(Duration::from_secs(2))
                .with_deadline(Duration::from_secs(3)),
        )
        .build()
        .unwrap();
    let mut events = router.subscribe();
    let mut back_at = None;
    let mut user_attempts_to_primary_while_open = 0;
    let mut breaker_open = false;
    while started.elapsed() < to + Duration::from_secs(6) {
        while let Ok(ev) = events.try_recv() {
            if let RouterEvent::Health(nb_breaker::HealthEvent::Breaker { target, transition }) = ev
            {
                if target == id {
                    breaker_open = transition.to == nb_breaker::BreakerState::Open;
                }
            }
        }
        let routed = router
            .chat(&ChatRequest::user("What is 2 + 3?"))
            .await
            .expect("a healthy fallback answers every call");
        if breaker_open {
            user_attempts_to_primary_while_open += routed
                .report
                .attempts
                .iter()
                .filter(|a| a.target == id)
                .count();
        }
        if routed.report.served_by.as_ref() == Some(&id) && started.elapsed() > to {
            back_at = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(20 * ms).await;
    }
    let back_at = back_at.expect("traffic returned to the primary");
    assert_eq!(
        user_attempts_to_primary_while_open, 0,
        "no user call is sent to a target while its breaker is open"
    );
    back_at - to
}
