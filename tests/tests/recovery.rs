//! Recovery without spending user traffic on a dead target: while the primary's breaker
//! is open, background probes (never a user's call) find out when it is back, and user
//! traffic returns to it at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_core::{ChatRequest, TargetId};
use nb_router::{AttemptOutcome, Policy, RouterEvent, SmartRouter};
use nb_tests::{model_of, router_target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_on_the_primary_within_a_second_of_a_refused_outage() {
    back_on_the_primary_within_a_second(FaultKind::Outage, 0.0, 3.0).await;
}

/// A hanging target is the hard case: a probe sent before it recovered never answers,
/// so a probe's time limit follows the target's own latency (measured while it served,
/// before the hang), not the attempt timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_on_the_primary_within_a_second_of_a_hanging_outage() {
    back_on_the_primary_within_a_second(FaultKind::Hang, 0.5, 6.0).await;
}

async fn back_on_the_primary_within_a_second(fault: FaultKind, from_s: f64, outage_s: f64) {
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
    while started.elapsed() < Duration::from_secs_f64(outage_s + 6.0) {
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
    assert!(
        recovery <= Duration::from_secs(1),
        "{fault:?}: back on the primary {recovery:?} after it recovered"
    );
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
