//! The expensive equivalence stages over loopback: nb-chaos serves embeddings and acts
//! as a judge (it knows the truth of its checkable tasks).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use nb_chaos::tasks::Task;
use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
use nb_core::{CallError, ChatRequest, ChatResponse, Provider};
use nb_providers::{ApiKey, OpenAiEmbeddings};
use nb_semantic::{
    EmbeddingCheck, Entailment, Equivalence, EquivalenceOutcome, Escalate, Judge, Strict,
};
use nb_tests::adapter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_from_the_simulator_separate_close_and_far_texts() {
    let server = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
        "emb",
        WireFormat::OpenAi,
        "text-embedding-3-small",
    )]))
    .await
    .unwrap();
    let e = OpenAiEmbeddings::builder("text-embedding-3-small")
        .base_url(format!("{}/v1", server.base_url("emb").unwrap()))
        .api_key(ApiKey::new("sk-x"))
        .build()
        .unwrap();
    let check = EmbeddingCheck::new(e).with_thresholds(0.9, 0.3);
    let same = check
        .check("q", "the cat sat on the mat", "The mat: the cat sat on it")
        .await;
    // Close texts are scored as similar, but similarity alone never vouches.
    assert_eq!(same.outcome, EquivalenceOutcome::Undecided, "{same:?}");
    assert!(same.score.unwrap() >= 0.9, "{same:?}");
    let swapped = check
        .check("q", "the dog bit the man", "the man bit the dog")
        .await;
    assert_eq!(
        swapped.outcome,
        EquivalenceOutcome::Undecided,
        "swapped roles look identical to a bag of words: {swapped:?}"
    );
    let far = check
        .check(
            "q",
            "the cat sat on the mat",
            "quarterly revenue grew strongly",
        )
        .await;
    assert_eq!(far.outcome, EquivalenceOutcome::NotEquivalent, "{far:?}");
    assert_eq!(server.handle().requests("emb"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judge_decides_what_the_strict_checks_leave_undecided() {
    let server = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
        "judge",
        WireFormat::Anthropic,
        "claude-sonnet-4-5",
    )]))
    .await
    .unwrap();
    let judge: Arc<dyn Provider> =
        Arc::from(adapter(&server.handle(), "judge", WireFormat::Anthropic));
    let cascade = Escalate(vec![Arc::new(Strict), Arc::new(Judge::new(judge))]);
    let t = Task::Arithmetic {
        a: 6,
        op: '*',
        b: 7,
    };
    // Several numbers each: the strict checks cannot tell which is the answer.
    let v = cascade
        .check(&t.prompt(), "6 * 7 = 42", "7 * 6 = 42 (checked twice: 42)")
        .await;
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::Equivalent, "judge"),
        "{v:?}"
    );
    let v = cascade
        .check(&t.prompt(), "6 * 7 = 42", "42? No: 6 * 7 = 48")
        .await;
    assert_eq!(v.outcome, EquivalenceOutcome::NotEquivalent, "{v:?}");
    // The cheap stage decides what it can, without calling the judge.
    let before = server.handle().requests("judge");
    let v = cascade.check(&t.prompt(), "42", "The answer is 42.").await;
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::Equivalent, "number")
    );
    assert_eq!(server.handle().requests("judge"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entailment_both_ways_decides_free_text_the_strict_checks_leave_open() {
    let server = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
        "nli",
        WireFormat::OpenAi,
        "gpt-4o-mini",
    )]))
    .await
    .unwrap();
    let nli: Arc<dyn Provider> = Arc::from(adapter(&server.handle(), "nli", WireFormat::OpenAi));
    let cascade = Escalate(vec![Arc::new(Strict), Arc::new(Entailment::new(nli))]);
    let t = Task::Arithmetic {
        a: 6,
        op: '*',
        b: 7,
    };
    let v = cascade
        .check(&t.prompt(), "6 * 7 = 42", "7 * 6 = 42 (checked twice: 42)")
        .await;
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::Equivalent, "entailment"),
        "{v:?}"
    );
    // Two separate questions, one per direction.
    assert_eq!(server.handle().requests("nli"), 2);
    let v = cascade
        .check(&t.prompt(), "6 * 7 = 42", "42? No: 6 * 7 = 48")
        .await;
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::NotEquivalent, "entailment"),
        "{v:?}"
    );
}

/// An entailment model that says yes one way and no the other.
struct OneWay;

#[async_trait]
impl Provider for OneWay {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let p = &req.messages[0].text();
        Ok(ChatResponse::text(if p.contains("Answer A: short") {
            "NO"
        } else {
            "YES"
        }))
    }
}

#[tokio::test]
async fn one_way_entailment_is_not_equivalence() {
    let v = Entailment::new(OneWay)
        .check("q", "long answer with more detail", "short")
        .await;
    assert_eq!(v.outcome, EquivalenceOutcome::NotEquivalent, "{v:?}");
    assert!(v.reason.contains("candidate does not entail"), "{v:?}");
}

/// A judge with position bias: it always prefers whichever answer it saw first.
struct Biased;

#[async_trait]
impl Provider for Biased {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let p = &req.messages[0].text();
        Ok(ChatResponse::text(if p.contains("Answer A: alpha") {
            "SAME"
        } else {
            "DIFFERENT"
        }))
    }
}

#[tokio::test]
async fn swapping_the_order_cancels_position_bias() {
    let v = Judge::new(Biased).check("q", "alpha", "beta").await;
    assert_eq!(v.outcome, EquivalenceOutcome::Undecided, "{v:?}");
    assert!(v.reason.contains("swapped"));
}
