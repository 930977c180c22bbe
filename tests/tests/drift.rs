//! A drifting first choice is caught: shadow samples compare its answers with another
//! target's, a third settles disagreements, and once it is outvoted its answers are no
//! longer returned unchecked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use nb_chaos::tasks::Task;
use nb_chaos::{ChaosServer, Fault, FaultKind, Personality, ProviderSpec, Scenario, WireFormat};
use nb_core::{ChatRequest, TargetId};
use nb_router::{SmartRouter, Vouching};
use nb_semantic::Strict;
use nb_tests::{model_of, router_target};
use rand::SeedableRng;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_wrong_30_percent_of_the_time_is_caught_within_200_calls() {
    let server = ChaosServer::start(
        Scenario::new(vec![
            ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
                .with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(0.3)),
            ProviderSpec::new(
                "second",
                WireFormat::Anthropic,
                model_of(WireFormat::Anthropic),
            )
            .with_personality(Personality::Chatty),
            ProviderSpec::new("third", WireFormat::Gemini, model_of(WireFormat::Gemini))
                .with_personality(Personality::Markdown),
        ])
        .with_seed(7),
    )
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(router_target(&h, "primary", WireFormat::OpenAi))
        .target(router_target(&h, "second", WireFormat::Anthropic))
        .target(router_target(&h, "third", WireFormat::Gemini))
        .vouch(Vouching::consensus(Strict).with_shadow_rate(0.1))
        .build()
        .unwrap();
    let primary = TargetId::new("primary", model_of(WireFormat::OpenAi));
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
        // Shadow samples run in the background: give them a moment to land.
        tokio::time::sleep(Duration::from_millis(2)).await;
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
        "caught after {detected_at} calls; silent corruptions: {silent_before} before, {silent_after} after"
    );
    assert!(detected_at <= 200, "caught after {detected_at} calls");
    assert_eq!(
        silent_after, 0,
        "no wrong answer returned as a success once it is caught"
    );
    assert!(silent_before > 0, "it really drifted before it was caught");
}
