//! Every answer says how far it was checked, with the defaults a new user gets: two
//! providers, `Vouching::consensus(Strict)`, and nothing else. On tokio's paused time.
//!
//! - the first choice's answer: `first-choice`;
//! - a failover answer nothing could vouch for (the only other target is the one that
//!   failed): served flagged `unvouchable` by default, refused under
//!   `require_equivalence`;
//! - a failover answer a reference contradicted: refused, whatever the call allows;
//! - a failover answer with vouching off: `unchecked`;
//! - the cache: an answer nobody vouched for is never stored, an entry is served only
//!   to a call whose vouching it meets, and scopes never share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use nb_core::{ChatRequest, TargetId};
use nb_router::{
    AnswerCheck, CallOptions, InMemoryCache, Policy, RouteErrorKind, SmartRouter, Target,
    VouchMode, Vouching,
};
use nb_semantic::Strict;
use nb_tests::{Behaviour, Timed};

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

fn answering(text: &str) -> Timed {
    Timed::new(vec![(Duration::MAX, Behaviour::answer(10 * MS, text))])
}

fn two(primary: Timed, fallback: Timed, vouch: bool) -> SmartRouter {
    let mut b = SmartRouter::builder()
        .target(Target::new(TargetId::new("primary", "m"), primary))
        .target(Target::new(TargetId::new("fallback", "m"), fallback))
        .policy(
            Policy::default()
                .with_attempt_timeout(S)
                .with_deadline(5 * S),
        );
    if vouch {
        b = b.vouch(Vouching::consensus(Strict));
    }
    b.build().unwrap()
}

fn q() -> ChatRequest {
    ChatRequest::user("What is 17 + 25? Reply with the number only.")
}

#[tokio::test(start_paused = true)]
async fn the_first_choice_answer_says_first_choice() {
    let r = two(answering("42"), answering("42"), true);
    let routed = r.chat(&q()).await.unwrap();
    assert_eq!(routed.report.check, AnswerCheck::FirstChoice);
    assert!(!routed.report.failed_over);
}

#[tokio::test(start_paused = true)]
async fn with_two_providers_a_failover_answer_nobody_could_vouch_for_is_served_flagged() {
    let down = Timed::new(vec![(Duration::MAX, Behaviour::Refuse)]);
    let r = two(down, answering("42"), true);
    let routed = r.chat(&q()).await.expect("served, flagged");
    assert_eq!(routed.value.text, "42");
    assert!(routed.report.failed_over);
    assert_eq!(routed.report.check, AnswerCheck::Unvouchable);
    assert_eq!(routed.report.check.as_str(), "unvouchable");
}

#[tokio::test(start_paused = true)]
async fn require_equivalence_refuses_what_nobody_could_vouch_for() {
    let down = Timed::new(vec![(Duration::MAX, Behaviour::Refuse)]);
    let r = two(down, answering("42"), true);
    let e = r
        .chat_with(&q(), &CallOptions::default().require_equivalence())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::Unvouched);
    assert!(e.to_string().contains("no independent target"), "{e}");
    assert_eq!(e.retry_after(), None);
}

#[tokio::test(start_paused = true)]
async fn a_failover_answer_a_reference_contradicts_is_refused_even_when_flagging_is_allowed() {
    // The primary hangs past the attempt timeout, then answers (wrongly, or differently)
    // when asked to vouch: the two answers disagree and no third target can break the tie
    // (the fallback, asked again, stands by its answer).
    let primary = Timed::new(vec![
        (500 * MS, Behaviour::Hang),
        (Duration::MAX, Behaviour::answer(10 * MS, "41")),
    ]);
    let r = two(primary, answering("42"), true);
    let e = r.chat(&q()).await.unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::Unvouched, "{e}");
    let texts: Vec<&str> = e
        .report()
        .evidence
        .iter()
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(texts, ["42", "41", "42"], "every answer is kept");
}

#[tokio::test(start_paused = true)]
async fn a_failover_answer_with_vouching_off_says_unchecked() {
    let down = Timed::new(vec![(Duration::MAX, Behaviour::Refuse)]);
    // No vouching on the router at all.
    let r = two(down.clone(), answering("42"), false);
    let routed = r.chat(&q()).await.unwrap();
    assert_eq!(routed.report.check, AnswerCheck::Unchecked);
    // Vouching on the router, off for the call.
    let r = two(down, answering("42"), true);
    let routed = r
        .chat_with(
            &q(),
            &CallOptions::default().with_vouch(Some(VouchMode::Off)),
        )
        .await
        .unwrap();
    assert_eq!(routed.report.check, AnswerCheck::Unchecked);
}

fn cached(primary: Timed, fallback: Timed) -> SmartRouter {
    SmartRouter::builder()
        .target(Target::new(TargetId::new("primary", "m"), primary))
        .target(Target::new(TargetId::new("fallback", "m"), fallback))
        .policy(
            Policy::default()
                .with_attempt_timeout(S)
                .with_deadline(5 * S),
        )
        .vouch(Vouching::consensus(Strict))
        .cache(Arc::new(InMemoryCache::new(100)))
        .cache_route("default", 60 * S)
        .build()
        .unwrap()
}

/// The poisoning sequence: a caller turns vouching off on a failover; its unchecked
/// answer must not reach a caller who asks for every answer to be vouched for.
#[tokio::test(start_paused = true)]
async fn an_unchecked_answer_is_never_cached_for_anyone() {
    let down = Timed::new(vec![(Duration::MAX, Behaviour::Refuse)]);
    let fallback = answering("43");
    let r = cached(down, fallback.clone());
    let off = CallOptions::default().with_vouch(Some(VouchMode::Off));
    let first = r.chat_with(&q(), &off).await.unwrap();
    assert_eq!(first.report.check, AnswerCheck::Unchecked);
    tokio::time::sleep(10 * MS).await; // the store is written in the background
    let strict = r
        .chat_with(&q(), &CallOptions::default().require_equivalence())
        .await;
    assert!(strict.is_err(), "refused, not served from the cache");
    assert!(!strict.unwrap_err().report().cache_hit);
    // Nor is a flagged answer stored: the next call goes upstream again.
    let before = fallback.arrivals().len();
    let flagged = r.chat(&q()).await.unwrap();
    assert!(!flagged.report.cache_hit);
    assert_eq!(flagged.report.check, AnswerCheck::Unvouchable);
    tokio::time::sleep(10 * MS).await;
    let again = r.chat(&q()).await.unwrap();
    assert!(!again.report.cache_hit);
    assert!(fallback.arrivals().len() >= before + 2);
}

#[tokio::test(start_paused = true)]
async fn a_first_choice_entry_serves_its_own_scope_only_and_never_an_always_call() {
    let r = cached(answering("42"), answering("42"));
    let key_a = CallOptions::default().with_cache_scope(Some("a".into()));
    let key_b = CallOptions::default().with_cache_scope(Some("b".into()));
    let first = r.chat_with(&q(), &key_a).await.unwrap();
    assert_eq!(first.report.check, AnswerCheck::FirstChoice);
    tokio::time::sleep(10 * MS).await;
    let hit = r.chat_with(&q(), &key_a).await.unwrap();
    assert!(
        hit.report.cache_hit,
        "the same scope is served from the cache"
    );
    assert_eq!(hit.report.check, AnswerCheck::FirstChoice);
    let other = r.chat_with(&q(), &key_b).await.unwrap();
    assert!(!other.report.cache_hit, "another scope never sees it");
    let always = r
        .chat_with(&q(), &key_a.clone().with_vouch(Some(VouchMode::Always)))
        .await
        .unwrap();
    assert!(
        !always.report.cache_hit,
        "an unvouched entry does not meet a call that vouches for every answer"
    );
    assert_eq!(always.report.check, AnswerCheck::Vouched);
}

fn with_reference(primary: Timed, fallback: Timed, reference: Timed) -> SmartRouter {
    SmartRouter::builder()
        .target(Target::new(TargetId::new("primary", "m"), primary))
        .target(Target::new(TargetId::new("fallback", "m"), fallback))
        .target(Target::new(TargetId::new("referee", "small"), reference).with_vouch_only(true))
        .policy(
            Policy::default()
                .with_attempt_timeout(S)
                .with_deadline(5 * S),
        )
        .vouch(Vouching::consensus(Strict))
        .build()
        .unwrap()
}

/// Two serving providers and a cheap reference model: a failover answer gets an
/// independent reference, and the report names it.
#[tokio::test(start_paused = true)]
async fn a_reference_target_vouches_for_a_failover_answer_and_never_serves() {
    let down = || Timed::new(vec![(Duration::MAX, Behaviour::Refuse)]);
    let referee = answering("The answer is 42.");
    let r = with_reference(down(), answering("42"), referee.clone());
    let routed = r.chat(&q()).await.unwrap();
    assert_eq!(routed.report.check, AnswerCheck::VouchedByReference);
    assert_eq!(
        routed.report.served_by.as_ref().unwrap().provider(),
        "fallback"
    );
    assert_eq!(
        routed.report.verdict.as_ref().unwrap().reference.provider(),
        "referee"
    );
    // The first choice's own answers are never sent to the referee.
    let before = referee.arrivals().len();
    let r2 = with_reference(answering("42"), answering("42"), referee.clone());
    let first = r2.chat(&q()).await.unwrap();
    assert_eq!(first.report.check, AnswerCheck::FirstChoice);
    assert_eq!(referee.arrivals().len(), before);
    // With both serving targets down, the referee does not answer users.
    let r3 = with_reference(down(), down(), answering("42"));
    let e = r3.chat(&q()).await.unwrap_err();
    assert!(e.report().served_by.is_none());
    assert!(
        e.report()
            .attempts
            .iter()
            .all(|a| a.target.provider() != "referee"),
        "{:?}",
        e.report().attempts
    );
}

/// A reference target that contradicts the failover answer refuses it.
#[tokio::test(start_paused = true)]
async fn a_reference_target_that_disagrees_refuses_the_answer() {
    let down = Timed::new(vec![(Duration::MAX, Behaviour::Refuse)]);
    let r = with_reference(down, answering("43"), answering("42"));
    let e = r.chat(&q()).await.unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::Unvouched);
}

fn self_consistent(fallback: Timed) -> SmartRouter {
    let down = Timed::new(vec![(Duration::MAX, Behaviour::Refuse)]);
    SmartRouter::builder()
        .target(Target::new(TargetId::new("primary", "m"), down))
        .target(Target::new(TargetId::new("fallback", "m"), fallback))
        .policy(
            Policy::default()
                .with_attempt_timeout(S)
                .with_deadline(5 * S),
        )
        .vouch(
            Vouching::consensus(Strict)
                .with_self_consistency(Some(nb_router::SelfConsistency::default())),
        )
        .build()
        .unwrap()
}

/// With no other target able to answer, the serving target asked twice more: the same
/// answer each time is vouched for, weakly; an arbitrary one is not.
#[tokio::test(start_paused = true)]
async fn self_consistency_vouches_weakly_for_an_answer_the_target_repeats() {
    let steady = answering("42");
    let r = self_consistent(steady.clone());
    let routed = r.chat(&q()).await.unwrap();
    assert_eq!(routed.report.check, AnswerCheck::SelfConsistent);
    assert_eq!(steady.arrivals().len(), 3, "the answer and two samples");
    assert_eq!(
        routed
            .report
            .attempts
            .iter()
            .filter(|a| a.role == nb_router::AttemptRole::Vouch
                && a.target.provider() == "fallback")
            .count(),
        2,
        "two samples of the serving target"
    );
    // A confabulating target: its samples differ from its answer.
    let arbitrary = Timed::new(vec![(
        Duration::MAX,
        Behaviour::Cycle {
            latency: 10 * MS,
            texts: vec!["42".into(), "43".into(), "52".into()],
        },
    )]);
    let r = self_consistent(arbitrary);
    let routed = r.chat(&q()).await.unwrap();
    assert_eq!(
        routed.report.check,
        AnswerCheck::Unvouchable,
        "served flagged"
    );
    let e = r
        .chat_with(&q(), &CallOptions::default().require_equivalence())
        .await;
    assert!(e.is_err(), "refused when the call requires equivalence");
}

/// A source of reference that costs no call: the first choice's earlier answer to the
/// same request, in the cache. With two providers and the first choice down, a call
/// that requires equivalence is vouched for by it — or refused when it disagrees.
#[tokio::test(start_paused = true)]
async fn the_first_choices_cached_answer_vouches_for_a_failover_answer_to_the_same_request() {
    for (fallback_says, agrees) in [("42", true), ("43", false)] {
        let primary = Timed::new(vec![
            (S, Behaviour::answer(10 * MS, "42")),
            (Duration::MAX, Behaviour::Refuse),
        ]);
        let fallback = answering(fallback_says);
        let r = cached(primary, fallback.clone());
        let first = r.chat(&q()).await.unwrap();
        assert_eq!(first.report.check, AnswerCheck::FirstChoice);
        tokio::time::sleep(2 * S).await; // stored; and now the first choice is down
        let strict = CallOptions::default().require_equivalence();
        let out = r.chat_with(&q(), &strict).await;
        let primary_id = TargetId::new("primary", "m");
        if agrees {
            let routed = out.unwrap();
            assert!(!routed.report.cache_hit, "an unvouched entry is not served");
            assert_eq!(
                routed.report.served_by,
                Some(TargetId::new("fallback", "m"))
            );
            assert_eq!(routed.report.check, AnswerCheck::Vouched);
            assert_eq!(routed.report.vouched_by(), Some(&primary_id));
            let v = routed.report.verdict.unwrap();
            assert!(v.from_cache, "the reference came from the cache");
            // The fallback's answer and no reference call: the primary is down.
            assert_eq!(fallback.arrivals().len(), 1);
        } else {
            let e = out.unwrap_err();
            assert_eq!(e.kind(), RouteErrorKind::Unvouched);
            let v = e.report().verdict.clone().unwrap();
            assert!(v.from_cache);
            assert_eq!(v.reference, primary_id);
        }
    }
}

/// A target whose safety filter withholds every answer: HTTP 200, finish reason
/// `content_filter`, no text (OpenAI's and Anthropic's shape as the adapters read it).
struct Filtered;

#[async_trait::async_trait]
impl nb_core::Provider for Filtered {
    async fn chat(&self, _: &ChatRequest) -> Result<nb_core::ChatResponse, nb_core::CallError> {
        let mut r = nb_core::ChatResponse::text("");
        r.finish_reason = nb_core::FinishReason::ContentFilter;
        Ok(r)
    }
}

/// With no validator configured, an answer a safety filter withheld is no answer: the
/// call fails over instead of returning empty text as a success.
#[tokio::test(start_paused = true)]
async fn a_withheld_answer_is_never_a_success_even_without_validators() {
    let r = SmartRouter::builder()
        .target(Target::new(TargetId::new("filtered", "m"), Filtered))
        .target(Target::new(TargetId::new("fallback", "m"), answering("42")))
        .build()
        .unwrap();
    let routed = r.chat(&q()).await.unwrap();
    assert_eq!(routed.value.text, "42");
    assert_eq!(
        routed.report.served_by,
        Some(TargetId::new("fallback", "m"))
    );
    let alone = SmartRouter::builder()
        .target(Target::new(TargetId::new("filtered", "m"), Filtered))
        .build()
        .unwrap();
    assert!(alone.chat(&q()).await.is_err(), "never an empty success");
}
