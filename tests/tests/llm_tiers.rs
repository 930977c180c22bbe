//! The LLM tiers end to end: a router vouches for a failover answer with
//! `Escalate(Strict, Entailment)` or `Escalate(Strict, Judge)`, the model behind the tier
//! served by nb-chaos (which knows the truth of its checkable tasks, and can be scripted
//! to judge wrongly). Free text the strict checks cannot settle is decided by the tier,
//! asked in both directions; a disagreement between the directions decides nothing; the
//! tier's calls are counted in the report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use nb_chaos::tasks::Task;
use nb_chaos::{
    ChaosHandle, ChaosServer, Fault, FaultKind, Personality, ProviderSpec, Scenario, WireFormat,
};
use nb_core::{ChatRequest, ChatResponse, Provider};
use nb_router::{Policy, RouteError, RouteErrorKind, Routed, SmartRouter, Vouching};
use nb_semantic::{Entailment, Equivalence, EquivalenceOutcome, Escalate, Judge, Strict};
use nb_tests::{adapter, model_of, router_target};

/// Primary down; `fallback` shows its working (`6 * 7 = 42`), `reference` answers tersely
/// (`42`): the strict checks cannot tell whether the two agree. `judge` is the tier's model.
async fn servers(fallback_faults: Vec<Fault>, judge_faults: Vec<Fault>) -> ChaosServer {
    let mut fallback = ProviderSpec::new(
        "fallback",
        WireFormat::Anthropic,
        model_of(WireFormat::Anthropic),
    )
    .with_personality(Personality::Worked);
    for f in fallback_faults {
        fallback = fallback.with_fault(f);
    }
    let mut judge = ProviderSpec::new("judge", WireFormat::OpenAi, model_of(WireFormat::OpenAi));
    for f in judge_faults {
        judge = judge.with_fault(f);
    }
    let server = ChaosServer::start(
        Scenario::new(vec![
            ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
                .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
            fallback,
            ProviderSpec::new(
                "reference",
                WireFormat::Gemini,
                model_of(WireFormat::Gemini),
            ),
            judge,
        ])
        .with_seed(21),
    )
    .await
    .unwrap();
    nb_tests::until_down(&server.handle(), "primary", true).await;
    server
}

#[derive(Clone, Copy)]
enum Tier {
    Entailment,
    Judge,
}

fn router(h: &ChaosHandle, tier: Tier) -> SmartRouter {
    let model: Arc<dyn Provider> = Arc::from(adapter(h, "judge", WireFormat::OpenAi));
    let stage: Arc<dyn Equivalence> = match tier {
        Tier::Entailment => Arc::new(Entailment::new(model)),
        Tier::Judge => Arc::new(Judge::new(model)),
    };
    SmartRouter::builder()
        .target(router_target(h, "primary", WireFormat::OpenAi))
        .target(router_target(h, "fallback", WireFormat::Anthropic))
        .target(router_target(h, "reference", WireFormat::Gemini))
        .policy(
            Policy::default()
                .with_attempt_timeout(Duration::from_secs(2))
                .with_deadline(Duration::from_secs(10)),
        )
        .vouch(Vouching::consensus(Escalate(vec![Arc::new(Strict), stage])).with_tiebreak(false))
        .build()
        .unwrap()
}

fn sum(a: i64) -> Task {
    Task::Arithmetic { a, op: '*', b: 7 }
}

async fn ask(r: &SmartRouter, t: &Task) -> Result<Routed<ChatResponse>, RouteError> {
    r.chat(&ChatRequest::user(t.prompt())).await
}

fn judge_requests(h: &ChaosHandle) -> u64 {
    h.stats("judge").unwrap().judge_requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strict_checks_leave_shown_working_open_but_settle_a_different_result() {
    // The premise of this file: without a tier, a right answer shown with its working
    // cannot be vouched for against a terse one...
    let v = Strict.check(&sum(6).prompt(), "42", "6 * 7 = 42").await;
    assert_eq!(v.outcome, EquivalenceOutcome::Undecided, "{v:?}");
    // ...while a wrong result is settled by the cheap stage alone.
    let v = Strict.check(&sum(6).prompt(), "42", "6 * 7 = 43").await;
    assert_eq!(v.outcome, EquivalenceOutcome::NotEquivalent, "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entailment_both_ways_vouches_for_a_free_text_failover_and_its_calls_are_counted() {
    let server = servers(vec![], vec![]).await;
    let h = server.handle();
    let r = router(&h, Tier::Entailment);
    let routed = ask(&r, &sum(6)).await.unwrap();
    assert_eq!(routed.value.text, "6 * 7 = 42");
    assert_eq!(
        routed.report.served_by.as_ref().unwrap().provider(),
        "fallback"
    );
    let v = routed.report.verdict.as_ref().unwrap();
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::Equivalent, "entailment"),
        "{v:?}"
    );
    // Both directions asked: two questions, each recognised as an entailment prompt.
    assert_eq!(h.requests("judge"), 2);
    assert_eq!(judge_requests(&h), 2);
    // The tier's spend is in the report: two calls and their tokens.
    let spent = routed.report.checker_spend();
    assert_eq!(spent.calls, 2);
    let usage = spent.usage.expect("the judge reported usage");
    assert!(
        usage.input_tokens > 100 && usage.output_tokens >= 2,
        "{usage:?}"
    );
    // The served answer's own tokens are counted apart from the judge's.
    assert!(routed.report.usage.unwrap().input_tokens < usage.input_tokens);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drifted_failover_is_refused_by_the_strict_stage_without_asking_the_tier() {
    let server = servers(vec![Fault::always(FaultKind::SemanticDrift)], vec![]).await;
    let h = server.handle();
    let err = ask(&router(&h, Tier::Entailment), &sum(6))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RouteErrorKind::Unvouched, "{err}");
    let v = err.report().verdict.as_ref().unwrap();
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::NotEquivalent, "number"),
        "{v:?}"
    );
    assert_eq!(h.requests("judge"), 0);
    assert!(
        err.report().checker.is_none(),
        "no checker model was called"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entailment_one_way_only_is_refused() {
    // The entailment model errs on the first question only (reference ⇒ candidate: NO):
    // the directions disagree, and an answer that entails the reference but is not
    // entailed by it is not equivalent.
    let server = servers(
        vec![],
        vec![Fault::always(FaultKind::WrongVerdict).for_requests(0, Some(1))],
    )
    .await;
    let h = server.handle();
    let err = ask(&router(&h, Tier::Entailment), &sum(6))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RouteErrorKind::Unvouched, "{err}");
    let v = err.report().verdict.as_ref().unwrap();
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::NotEquivalent, "entailment"),
        "{v:?}"
    );
    assert!(v.reason.contains("does not entail"), "{v:?}");
    assert_eq!(judge_requests(&h), 2, "both directions asked");
    assert_eq!(
        err.report().checker_spend().calls,
        2,
        "a refusal reports the tier's spend too"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_vouches_in_both_orders_and_a_disagreement_between_them_is_refused() {
    let server = servers(vec![], vec![]).await;
    let h = server.handle();
    let r = router(&h, Tier::Judge);
    let routed = ask(&r, &sum(6)).await.unwrap();
    let v = routed.report.verdict.as_ref().unwrap();
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::Equivalent, "judge"),
        "{v:?}"
    );
    assert_eq!(judge_requests(&h), 2, "asked once in each order");
    assert_eq!(routed.report.checker_spend().calls, 2);
    drop(server);

    // The judge errs on the second question only (the swapped order): the two orders
    // disagree, which decides nothing: an undecided failover answer is served flagged by
    // default, and refused when the call requires equivalence.
    let server = servers(
        vec![],
        vec![
            Fault::always(FaultKind::WrongVerdict).for_requests(1, Some(2)),
            Fault::always(FaultKind::WrongVerdict).for_requests(3, Some(4)),
        ],
    )
    .await;
    let h = server.handle();
    let flagged = ask(&router(&h, Tier::Judge), &sum(6)).await.unwrap();
    assert_eq!(flagged.report.check, nb_router::AnswerCheck::Unvouchable);
    let r = router(&h, Tier::Judge);
    let err = r
        .chat_with(
            &ChatRequest::user(sum(6).prompt()),
            &nb_router::CallOptions::default().require_equivalence(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RouteErrorKind::Unvouched, "{err}");
    let v = err.report().verdict.as_ref().unwrap();
    assert_eq!(v.outcome, EquivalenceOutcome::Undecided, "{v:?}");
    assert!(v.reason.contains("swapped"), "{v:?}");
    assert_eq!(
        judge_requests(&h),
        4,
        "two calls, each asked in both orders"
    );
    assert_eq!(h.stats("judge").unwrap().faults["wrong_verdict"], 2);
    assert_eq!(err.report().checker_spend().calls, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_that_errs_one_time_in_five_costs_refusals_never_corruptions() {
    // Half the failover answers drift (the strict stage refuses those); the judge, asked
    // about the rest, is wrong 20% of the time. One order wrong leaves the pair undecided,
    // both wrong says DIFFERENT: either way a right answer is refused, never a wrong one
    // served.
    let server = servers(
        vec![Fault::always(FaultKind::SemanticDrift).with_probability(0.5)],
        vec![Fault::always(FaultKind::WrongVerdict).with_probability(0.2)],
    )
    .await;
    let h = server.handle();
    let r = router(&h, Tier::Judge);
    let (mut correct, mut silent, mut refused, mut spent_calls) = (0u64, 0u64, 0u64, 0u64);
    for a in 0..60 {
        let t = sum(a + 2);
        match ask(&r, &t).await {
            Ok(routed) => {
                spent_calls += u64::from(routed.report.checker_spend().calls);
                assert_eq!(routed.report.verdict.as_ref().unwrap().method, "judge");
                if t.check(&routed.value.text) {
                    correct += 1;
                } else {
                    silent += 1;
                }
            }
            Err(e) => {
                assert_eq!(e.kind(), RouteErrorKind::Unvouched, "{e}");
                spent_calls += u64::from(e.report().checker_spend().calls);
                refused += 1;
            }
        }
    }
    let stats = h.stats("judge").unwrap();
    let drifted = h.stats("fallback").unwrap().faults["semantic_drift"];
    let wrong = stats.faults.get("wrong_verdict").copied().unwrap_or(0);
    eprintln!(
        "correct {correct}, silent {silent}, refused {refused}; drifted {drifted}, judge wrong {wrong} of {}",
        stats.judge_requests
    );
    assert_eq!(correct + silent + refused, 60);
    assert_eq!(silent, 0, "no wrong answer is served");
    // Every undrifted answer reached the judge, in both orders; every call is reported.
    assert_eq!(stats.judge_requests, 2 * (60 - drifted));
    assert_eq!(spent_calls, stats.judge_requests);
    // The judge's mistakes cost right answers: each refused right answer met one.
    let refused_right = refused - drifted;
    assert!(wrong > 0 && refused_right > 0, "{wrong} {refused_right}");
    assert!(
        refused_right <= wrong,
        "{refused_right} refusals from {wrong} mistakes"
    );
    assert!(correct >= 10, "{correct}");
}
