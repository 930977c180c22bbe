//! A drifting first choice is caught: shadow samples compare its answers with another
//! target's, a third settles disagreements, and once it is outvoted its answers are no
//! longer returned unchecked. On tokio's paused time with in-process targets answering
//! the simulator's tasks, so the run — which requests drift, when the shadow samples
//! land — is the same every time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use nb_chaos::Personality;
use nb_chaos::tasks::Task;
use nb_core::{ChatRequest, TargetId};
use nb_router::{CallOptions, SmartRouter, Target, VouchMode, Vouching};
use nb_semantic::Strict;
use nb_tests::TaskAnswers;
use rand::SeedableRng;

#[tokio::test(start_paused = true)]
async fn a_primary_wrong_30_percent_of_the_time_is_caught_within_200_calls() {
    let latency = Duration::from_millis(20);
    let primary = TargetId::new("primary", "m");
    let drifting = TaskAnswers::new(Personality::Terse)
        .with_drift(0.3, 7)
        .with_latency(latency);
    let router = SmartRouter::builder()
        .target(Target::new(primary.clone(), drifting.clone()))
        .target(Target::new(
            TargetId::new("second", "m"),
            TaskAnswers::new(Personality::Chatty).with_latency(latency),
        ))
        .target(Target::new(
            TargetId::new("third", "m"),
            TaskAnswers::new(Personality::Markdown).with_latency(latency),
        ))
        .vouch(Vouching::consensus(Strict).with_shadow_rate(0.1))
        .build()
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let (mut detected_at, mut silent_before, mut silent_after) = (None, 0, 0);
    for n in 1..=400 {
        let task = Task::generate(&mut rng);
        let r = router.chat(&ChatRequest::user(task.prompt())).await;
        // Silent: wrong and returned as a plain success (not flagged unvouchable).
        let silent = matches!(&r, Ok(a) if !task.check(&a.value.text)
            && a.report.check != nb_router::AnswerCheck::Unvouchable);
        if detected_at.is_some() {
            silent_after += usize::from(silent);
        } else {
            silent_before += usize::from(silent);
        }
        // Shadow samples run in the background: a few answers' time lets them land
        // (paused time: it costs nothing).
        tokio::time::sleep(latency * 4).await;
        if detected_at.is_none()
            && router
                .agreement(&primary)
                .is_some_and(|(ratio, samples)| samples >= 10 && ratio < 0.8)
        {
            detected_at = Some(n);
        }
    }
    let detected_at = detected_at.expect("the drifting primary was caught");
    eprintln!(
        "caught after {detected_at} calls; silent corruptions: {silent_before} before, {silent_after} after; {} requests to the primary",
        drifting.requests()
    );
    assert!(detected_at <= 200, "caught after {detected_at} calls");
    assert_eq!(
        silent_after, 0,
        "no wrong answer returned as a success once it is caught"
    );
    assert!(silent_before > 0, "it really drifted before it was caught");
}

/// Two providers, the usual setup: a first choice that fails 30% of requests with a 500,
/// and a fallback wrong on 30% of its answers, which the drift test soon distrusts. A
/// distrusted fallback is then a last resort: still asked when the first choice fails
/// (its answer vouched for by the first choice asked again, and refused when nothing
/// can vouch), never by a call that vouches for nothing.
#[tokio::test(start_paused = true)]
async fn a_distrusted_fallback_is_a_vouched_last_resort_not_a_dead_end() {
    let latency = Duration::from_millis(20);
    let primary = TargetId::new("primary", "m");
    let second = TargetId::new("second", "m");
    let router = SmartRouter::builder()
        .target(Target::new(
            primary.clone(),
            TaskAnswers::new(Personality::Terse)
                .with_failures(0.3, 5)
                .with_latency(latency),
        ))
        .target(Target::new(
            second.clone(),
            TaskAnswers::new(Personality::Chatty)
                .with_drift(0.3, 7)
                .with_latency(latency),
        ))
        .vouch(Vouching::consensus(Strict))
        .build()
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let (mut answered, mut refused, mut silent) = (0, 0, 0);
    let mut served_by_distrusted = 0;
    let mut distrusted_at = None;
    for n in 1..=400 {
        let task = Task::generate(&mut rng);
        let was_distrusted = router
            .agreement(&second)
            .is_some_and(|(ratio, samples)| samples >= 10 && ratio < 0.8);
        if was_distrusted {
            distrusted_at.get_or_insert(n);
        }
        match router.chat(&ChatRequest::user(task.prompt())).await {
            Ok(a) => {
                answered += 1;
                let trusted = a.report.check != nb_router::AnswerCheck::Unvouchable
                    && a.report.check != nb_router::AnswerCheck::Unchecked;
                silent += usize::from(trusted && !task.check(&a.value.text));
                if was_distrusted && a.report.served_by.as_ref() == Some(&second) {
                    served_by_distrusted += 1;
                    assert!(
                        trusted,
                        "a last-resort answer is served only vouched for: {:?}",
                        a.report.check
                    );
                }
            }
            Err(_) => refused += 1,
        }
        tokio::time::sleep(latency * 4).await;
    }
    let distrusted_at = distrusted_at.expect("the drift test distrusted the fallback");
    eprintln!(
        "fallback distrusted after {distrusted_at} calls; {answered} answered, {refused} refused, \
         {served_by_distrusted} served by it since, {silent} wrong answers served as checked"
    );
    assert_eq!(silent, 0, "no wrong answer served as checked");
    assert!(
        served_by_distrusted > 0,
        "the distrusted fallback still serves, vouched for, when the first choice fails"
    );
    assert!(answered >= 360, "{answered} of 400 answered");

    // A call that vouches for nothing is never served by the distrusted fallback.
    let off = CallOptions::default().with_vouch(Some(VouchMode::Off));
    let mut failed = 0;
    for _ in 0..60 {
        let task = Task::generate(&mut rng);
        match router
            .chat_with(&ChatRequest::user(task.prompt()), &off)
            .await
        {
            Ok(a) => assert_eq!(a.report.served_by.as_ref(), Some(&primary)),
            Err(e) => {
                failed += 1;
                assert!(
                    e.report().attempts.iter().all(|a| a.target == primary),
                    "{e}"
                );
            }
        }
        tokio::time::sleep(latency * 4).await;
    }
    assert!(
        failed > 0,
        "the first choice failed on some unvouched calls"
    );
}
