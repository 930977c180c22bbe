//! Validation, repair and vouching against nb-chaos: an answer that cannot be vouched
//! for never comes back as a plain success.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::StreamExt;
use nb_chaos::tasks::Task;
use nb_chaos::{ChaosServer, Fault, FaultKind, Personality, ProviderSpec, Scenario, WireFormat};
use nb_core::{ChatRequest, TargetId};
use nb_guard::JsonSchema;
use nb_router::{AttemptRole, Policy, RouteErrorKind, SmartRouter, Target, Vouching};
use nb_semantic::Strict;
use nb_tests::model_of;
use rand::SeedableRng;
use serde_json::json;

fn target(chaos: &nb_chaos::ChaosHandle, name: &str, format: WireFormat) -> Target {
    nb_tests::router_target(chaos, name, format)
}

fn policy() -> Policy {
    Policy::default()
        .with_attempt_timeout(Duration::from_secs(2))
        .with_deadline(Duration::from_secs(10))
}

fn person_schema() -> JsonSchema {
    JsonSchema::new(&json!({
        "type": "object", "required": ["name", "age", "city"],
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantic_drift_with_equivalence_required_has_zero_silent_corruptions() {
    let server = ChaosServer::start(
        Scenario::new(vec![
            ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
                .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
            ProviderSpec::new(
                "drifting",
                WireFormat::Anthropic,
                model_of(WireFormat::Anthropic),
            )
            .with_personality(Personality::Chatty)
            .with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(0.3)),
            ProviderSpec::new("honest", WireFormat::Gemini, model_of(WireFormat::Gemini))
                .with_personality(Personality::Markdown),
        ])
        .with_seed(3),
    )
    .await
    .unwrap();
    let h = server.handle();
    nb_tests::until_down(&h, "primary", true).await;
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::OpenAi))
        .target(target(&h, "drifting", WireFormat::Anthropic))
        .target(target(&h, "honest", WireFormat::Gemini))
        .policy(policy())
        .vouch(Vouching::consensus(Strict))
        .build()
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let tasks: Vec<Task> = (0..500).map(|_| Task::generate(&mut rng)).collect();
    let results = futures_util::stream::iter(tasks)
        .map(|t| {
            let r = router.clone();
            async move { (t.clone(), r.chat(&ChatRequest::user(t.prompt())).await) }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
    let (mut correct, mut silent, mut refused) = (0, 0, 0);
    for (task, r) in &results {
        match r {
            Ok(routed) => {
                assert!(
                    routed.report.verdict.is_some(),
                    "a failover answer carries its verdict"
                );
                if task.check(&routed.value.text) {
                    correct += 1;
                } else {
                    silent += 1;
                }
            }
            Err(e) => {
                assert_eq!(e.kind(), RouteErrorKind::Unvouched, "{e}");
                assert!(
                    e.report().evidence.len() >= 2,
                    "the error carries both answers"
                );
                refused += 1;
            }
        }
    }
    let drifted = h
        .stats("drifting")
        .unwrap()
        .faults
        .get("semantic_drift")
        .copied()
        .unwrap_or(0);
    eprintln!(
        "correct {correct}, silent {silent}, refused {refused}; the drifting target drifted {drifted} times"
    );
    assert_eq!(silent, 0, "no wrong answer may come back as a success");
    assert!(drifted >= 100, "the fallback really drifted: {drifted}");
    assert!(correct >= 300, "most calls still answered: {correct}");
    assert_eq!(correct + refused, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_violation_is_repaired_on_the_same_target() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("p", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::SchemaViolation).for_requests(0, Some(1))),
        ProviderSpec::new("q", WireFormat::Anthropic, model_of(WireFormat::Anthropic)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(target(&h, "p", WireFormat::OpenAi))
        .target(target(&h, "q", WireFormat::Anthropic))
        .validator(person_schema())
        .policy(policy())
        .build()
        .unwrap();
    let task = Task::Extract {
        name: "Chiara".into(),
        age: 51,
        city: "Tartu".into(),
    };
    let routed = router
        .chat(
            &ChatRequest::user(task.prompt())
                .with_json_schema("person", person_schema().schema().clone()),
        )
        .await
        .unwrap();
    assert!(task.check(&routed.value.text), "{}", routed.value.text);
    assert_eq!(routed.report.served_by.as_ref().unwrap().provider(), "p");
    assert_eq!(routed.report.repairs, 1);
    assert_eq!(routed.report.attempts[1].role, AttemptRole::Repair);
    assert_eq!((h.requests("p"), h.requests("q")), (2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_violations_fail_over() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("p", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::SchemaViolation)),
        ProviderSpec::new("q", WireFormat::Anthropic, model_of(WireFormat::Anthropic)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(target(&h, "p", WireFormat::OpenAi))
        .target(target(&h, "q", WireFormat::Anthropic))
        .validator(person_schema())
        .policy(policy())
        .build()
        .unwrap();
    let task = Task::Extract {
        name: "Emeka".into(),
        age: 29,
        city: "Accra".into(),
    };
    let routed = router
        .chat(&ChatRequest::user(task.prompt()))
        .await
        .unwrap();
    assert!(task.check(&routed.value.text));
    assert_eq!(routed.report.served_by.as_ref().unwrap().provider(), "q");
    assert!(routed.report.failed_over);
    assert_eq!(
        (h.requests("p"), h.requests("q")),
        (2, 1),
        "one repair round, then failover"
    );
    let classes: Vec<String> = routed
        .report
        .attempts
        .iter()
        .filter_map(|a| match &a.outcome {
            nb_router::AttemptOutcome::Failed { class, .. } => Some(class.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(classes, ["schema_violation", "schema_violation"]);
}

#[derive(Debug, serde::Deserialize, schemars::JsonSchema, PartialEq)]
struct Person {
    name: String,
    age: u32,
    city: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_call_sends_the_schema_and_returns_the_value() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("p", WireFormat::Gemini, model_of(WireFormat::Gemini))
            .with_personality(Personality::Markdown)
            .with_fault(Fault::always(FaultKind::SchemaViolation).for_requests(0, Some(1))),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(target(&h, "p", WireFormat::Gemini))
        .policy(policy())
        .build()
        .unwrap();
    let task = Task::Extract {
        name: "Dmitri".into(),
        age: 45,
        city: "Quito".into(),
    };
    let routed = router
        .chat_typed::<Person>(&ChatRequest::user(task.prompt()))
        .await
        .unwrap();
    assert_eq!(
        routed.value,
        Person {
            name: "Dmitri".into(),
            age: 45,
            city: "Quito".into()
        }
    );
    assert_eq!(
        routed.report.repairs, 1,
        "the first answer broke the type and was repaired"
    );
    assert_eq!(h.requests("p"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_agreement_drops_for_a_drifting_target_and_the_router_stops_using_it() {
    let server = ChaosServer::start(
        Scenario::new(vec![
            ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
                .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
            ProviderSpec::new(
                "drifting",
                WireFormat::Anthropic,
                model_of(WireFormat::Anthropic),
            )
            .with_personality(Personality::Chatty)
            .with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(0.5)),
            ProviderSpec::new("honest-a", WireFormat::Gemini, model_of(WireFormat::Gemini))
                .with_personality(Personality::Markdown),
            ProviderSpec::new("honest-b", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
        ])
        .with_seed(11),
    )
    .await
    .unwrap();
    let h = server.handle();
    nb_tests::until_down(&h, "primary", true).await;
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::OpenAi))
        .target(target(&h, "drifting", WireFormat::Anthropic))
        .target(target(&h, "honest-a", WireFormat::Gemini))
        .target(target(&h, "honest-b", WireFormat::OpenAi))
        .policy(policy())
        .vouch(Vouching::consensus(Strict))
        .build()
        .unwrap();
    // Canaries: checkable prompts with their true answers.
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
    let prompts: Vec<(String, String)> = (0..20)
        .map(|_| {
            let t = Task::generate(&mut rng);
            (t.prompt(), t.truth().render(Personality::Terse, false))
        })
        .collect();
    let canaries = router.spawn_canaries(nb_router::Canaries {
        prompts,
        every: Duration::from_millis(5),
    });
    let drifting = TargetId::new("drifting", model_of(WireFormat::Anthropic));
    let mut measured = None;
    // Polls the real clock (this is loopback): up to 30 s on a loaded machine.
    for _ in 0..3000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        if let Some((ratio, n)) = router.agreement(&drifting) {
            if n >= 10 {
                measured = Some(ratio);
                break;
            }
        }
    }
    let ratio = measured.expect("canaries measured the drifting target");
    assert!(
        ratio < 0.8,
        "a target wrong half the time agrees {ratio:.2}"
    );
    let honest = router
        .agreement(&TargetId::new("honest-a", model_of(WireFormat::Gemini)))
        .unwrap();
    assert!(honest.0 > 0.95, "the honest target agrees: {honest:?}");
    drop(canaries);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = h.requests("drifting");
    for i in 0..30 {
        let t = Task::Arithmetic {
            a: i,
            op: '+',
            b: 100,
        };
        let routed = router.chat(&ChatRequest::user(t.prompt())).await.unwrap();
        assert!(t.check(&routed.value.text));
        assert_eq!(
            routed.report.served_by.as_ref().unwrap().provider(),
            "honest-a"
        );
    }
    assert_eq!(
        h.requests("drifting"),
        before,
        "no call goes to a target whose agreement dropped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_samples_measure_fallback_agreement_from_healthy_traffic() {
    let server = ChaosServer::start(
        Scenario::new(vec![
            ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
            ProviderSpec::new(
                "drifting",
                WireFormat::Anthropic,
                model_of(WireFormat::Anthropic),
            )
            .with_personality(Personality::Chatty)
            .with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(0.5)),
        ])
        .with_seed(12),
    )
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(target(&h, "primary", WireFormat::OpenAi))
        .target(target(&h, "drifting", WireFormat::Anthropic))
        .policy(policy())
        .vouch(Vouching::consensus(Strict).with_shadow_rate(1.0))
        .build()
        .unwrap();
    for i in 0..30 {
        let t = Task::Arithmetic {
            a: i,
            op: '*',
            b: 3,
        };
        let routed = router.chat(&ChatRequest::user(t.prompt())).await.unwrap();
        assert_eq!(
            routed.report.served_by.as_ref().unwrap().provider(),
            "primary"
        );
        assert_eq!(
            routed.report.attempts.len(),
            1,
            "shadow calls are not part of the call"
        );
    }
    let mut seen = None;
    // Polls the real clock (this is loopback): up to 30 s on a loaded machine.
    for _ in 0..3000 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        seen = router.agreement(&TargetId::new("drifting", model_of(WireFormat::Anthropic)));
        if seen.is_some_and(|(_, n)| n >= 30) {
            break;
        }
    }
    let (ratio, n) = seen.unwrap();
    assert_eq!(n, 30);
    assert!(ratio < 0.8, "{ratio:.2}");
    assert_eq!(h.requests("drifting"), 30);
}
