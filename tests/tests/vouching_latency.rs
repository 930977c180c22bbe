//! Vouching at the latency of one call: when the answer comes from a fallback, the
//! reference is asked at the same time, not after the answer arrives. One run, the same
//! simulated providers (60 ms per answer), vouching off and on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use nb_chaos::{ChaosServer, Fault, FaultKind, Latency, ProviderSpec, Scenario, WireFormat};
use nb_core::ChatRequest;
use nb_router::{AttemptRole, SmartRouter, Vouching};
use nb_semantic::Strict;
use nb_tests::{model_of, router_target};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vouched_failover_asks_the_reference_over_loopback() {
    let slow = |name: &str, f: WireFormat| {
        ProviderSpec::new(name, f, model_of(f)).with_latency(Latency {
            base_ms: 60,
            ..Latency::default()
        })
    };
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
        slow("fallback", WireFormat::Anthropic),
        slow("reference", WireFormat::Gemini),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let build = |vouch: bool| {
        let b = SmartRouter::builder()
            .target(router_target(&h, "primary", WireFormat::OpenAi))
            .target(router_target(&h, "fallback", WireFormat::Anthropic))
            .target(router_target(&h, "reference", WireFormat::Gemini));
        if vouch {
            b.vouch(Vouching::consensus(Strict)).build().unwrap()
        } else {
            b.build().unwrap()
        }
    };
    let (plain, vouched) = (build(false), build(true));
    let req = ChatRequest::user("What is 17 + 25? Reply with the number only.");
    let (mut p, mut v) = (Vec::new(), Vec::new());
    for _ in 0..15 {
        let a = plain.chat(&req).await.unwrap();
        assert!(a.report.failed_over);
        p.push(a.report.elapsed);
        let b = vouched.chat(&req).await.unwrap();
        assert!(
            b.report.verdict.is_some(),
            "the failover answer was vouched for"
        );
        assert!(
            b.report
                .attempts
                .iter()
                .any(|a| a.role == AttemptRole::Vouch),
            "{:?}",
            b.report.attempts
        );
        v.push(b.report.elapsed);
    }
    // Printed only: on the real clock the ratio depends on the machine's load. That the
    // reference is asked beside the failover (a ratio of exactly 1) is asserted on
    // paused time below.
    let (pm, vm) = (median(p), median(v));
    let ratio = vm.as_secs_f64() / pm.as_secs_f64();
    eprintln!("p50 unvouched {pm:?}, vouched {vm:?}: {ratio:.2}x");
}

/// When the failover attempt fails, the reference asked beside it has already answered:
/// that answer is served (and vouched for by another target) instead of being thrown
/// away and the call ending with "every candidate failed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_answer_is_served_when_the_failover_attempt_beside_it_fails() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
        ProviderSpec::new(
            "fallback",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        )
        .with_fault(Fault::always(FaultKind::Overloaded)),
        ProviderSpec::new(
            "reference",
            WireFormat::Gemini,
            model_of(WireFormat::Gemini),
        ),
        ProviderSpec::new("third", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(router_target(&h, "primary", WireFormat::OpenAi))
        .target(router_target(&h, "fallback", WireFormat::Anthropic))
        .target(router_target(&h, "reference", WireFormat::Gemini))
        .target(router_target(&h, "third", WireFormat::OpenAi))
        .vouch(Vouching::consensus(Strict))
        .build()
        .unwrap();
    let r = router
        .chat(&ChatRequest::user(
            "What is 17 + 25? Reply with the number only.",
        ))
        .await
        .expect("the reference's answer is served");
    assert_eq!(r.value.text.trim(), "42");
    let served = r.report.served_by.as_ref().unwrap();
    assert_eq!(served.provider(), "reference", "{}", r.report);
    let line = r
        .report
        .attempts
        .iter()
        .find(|a| a.target == *served)
        .unwrap();
    assert_eq!(line.role, AttemptRole::Answer, "{}", r.report);
    // Asked once: its answer was not thrown away and asked for again.
    assert_eq!(h.requests("reference"), 1);
    // And vouched for by a target that had not answered yet.
    let verdict = r.report.verdict.as_ref().expect("vouched");
    assert_eq!(h.requests("third"), 1, "{verdict:?}");
}

/// The same on tokio's paused time with in-process targets answering in exactly 60 ms:
/// the vouched failover takes exactly as long as the unvouched one.
#[tokio::test(start_paused = true)]
async fn a_vouched_failover_costs_exactly_one_call_of_latency_on_paused_time() {
    use nb_core::TargetId;
    use nb_router::Target;
    use nb_tests::{Behaviour, Timed};
    let answer = Behaviour::answer(Duration::from_millis(60), "42");
    let build = |vouch: bool| {
        let b = SmartRouter::builder()
            .target(Target::new(
                TargetId::new("primary", "m"),
                Timed::new(vec![(Duration::MAX, Behaviour::Refuse)]),
            ))
            .target(Target::new(
                TargetId::new("fallback", "m"),
                Timed::new(vec![(Duration::MAX, answer.clone())]),
            ))
            .target(Target::new(
                TargetId::new("reference", "m"),
                Timed::new(vec![(Duration::MAX, answer.clone())]),
            ));
        if vouch {
            b.vouch(Vouching::consensus(Strict)).build().unwrap()
        } else {
            b.build().unwrap()
        }
    };
    let (plain, vouched) = (build(false), build(true));
    let req = ChatRequest::user("What is 17 + 25? Reply with the number only.");
    for _ in 0..15 {
        let a = plain.chat(&req).await.unwrap();
        assert!(a.report.failed_over);
        let b = vouched.chat(&req).await.unwrap();
        assert!(b.report.verdict.is_some());
        assert!(
            b.report
                .attempts
                .iter()
                .any(|a| a.role == AttemptRole::Vouch),
            "{:?}",
            b.report.attempts
        );
        assert_eq!(a.report.elapsed, Duration::from_millis(60));
        assert_eq!(
            b.report.elapsed,
            Duration::from_millis(60),
            "the reference was asked beside the fallback: {}",
            b.report
        );
    }
}
