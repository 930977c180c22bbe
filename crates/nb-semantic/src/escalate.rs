//! The expensive stages: embeddings and an LLM judge, and the cascade that reaches them
//! only for what the cheap checks leave undecided.

use std::sync::Arc;

use async_trait::async_trait;
use nb_core::{ChatRequest, Embedder, Message, Provider};

use crate::{Equivalence, EquivalenceOutcome, Verdict};

/// Cosine similarity of embeddings. At or below `reject` the answers are *not
/// equivalent*; anything higher is *undecided*, with the similarity as its score.
///
/// Embeddings are poor at numbers, negation and swapped roles ("A beat B" and "B beat A"
/// sit close together), so similarity alone never vouches for an answer: this stage can
/// only reject cheaply, and an [`Entailment`] or [`Judge`] stage after it decides what
/// it leaves open. `accept` is kept for reports: a score at or above it is called
/// "similar" in the reason.
pub struct EmbeddingCheck<E> {
    embedder: E,
    /// Equivalent at or above this similarity.
    pub accept: f64,
    /// Not equivalent at or below this similarity.
    pub reject: f64,
}

impl<E: Embedder> EmbeddingCheck<E> {
    /// A check with thresholds 0.92 / 0.5.
    pub fn new(embedder: E) -> Self {
        Self {
            embedder,
            accept: 0.92,
            reject: 0.5,
        }
    }

    /// Sets the thresholds.
    pub fn with_thresholds(mut self, accept: f64, reject: f64) -> Self {
        self.accept = accept;
        self.reject = reject;
        self
    }
}

fn cosine(a: &[f32], b: &[f32]) -> Option<f64> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    (na > 0.0 && nb > 0.0).then(|| dot / (na * nb))
}

#[async_trait]
impl<E: Embedder> Equivalence for EmbeddingCheck<E> {
    async fn check(&self, _prompt: &str, reference: &str, candidate: &str) -> Verdict {
        let vs = self
            .embedder
            .embed(&[reference.to_owned(), candidate.to_owned()])
            .await;
        crate::record_checker_call(None);
        let vs = match vs {
            Ok(v) => v,
            Err(e) => {
                return Verdict::undecided("embedding", format!("the embedding call failed: {e}"));
            }
        };
        let Some(score) = vs.first().zip(vs.get(1)).and_then(|(a, b)| cosine(a, b)) else {
            return Verdict::undecided("embedding", "unusable embeddings");
        };
        if score <= self.reject {
            return Verdict::scored(
                score,
                f64::INFINITY,
                self.reject,
                "embedding",
                format!("cosine similarity {score:.3}"),
            );
        }
        let what = if score >= self.accept {
            "similar"
        } else {
            "neither close nor far"
        };
        Verdict {
            outcome: EquivalenceOutcome::Undecided,
            score: Some(score),
            method: "embedding",
            reason: format!(
                "cosine similarity {score:.3} ({what}); similarity alone never vouches for an answer"
            ),
        }
    }
}

/// Counts a checker's model call in the spend of the comparison it serves
/// ([`crate::metered`]).
fn asked(
    r: Result<nb_core::ChatResponse, nb_core::CallError>,
) -> Result<nb_core::ChatResponse, nb_core::CallError> {
    crate::record_checker_call(r.as_ref().ok().and_then(|r| r.usage.as_ref()));
    r
}

/// An LLM judge through any [`Provider`]: a strict rubric, asked twice with the answers
/// swapped to cancel position bias; only two agreeing verdicts decide.
pub struct Judge<P> {
    provider: P,
}

impl<P: Provider> Judge<P> {
    /// A judge asking `provider`.
    pub fn new(provider: P) -> Self {
        Self { provider }
    }
}

/// The judge's prompt: the question, two answers, and a one-word rubric.
pub fn judge_prompt(question: &str, a: &str, b: &str) -> String {
    format!(
        "You compare two answers to the same question. Judge only whether they state the same result; \
         ignore wording, format and length.\n\nQuestion: {question}\n\nAnswer A: {a}\n\nAnswer B: {b}\n\n\
         Reply with exactly one word: SAME, DIFFERENT or UNSURE."
    )
}

/// Reads a judge's reply: the first word, case-insensitive.
pub fn parse_judgement(reply: &str) -> EquivalenceOutcome {
    let first = reply
        .split(|c: char| !c.is_alphabetic())
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_uppercase();
    match first.as_str() {
        "SAME" | "EQUIVALENT" => EquivalenceOutcome::Equivalent,
        "DIFFERENT" => EquivalenceOutcome::NotEquivalent,
        _ => EquivalenceOutcome::Undecided,
    }
}

#[async_trait]
impl<P: Provider> Equivalence for Judge<P> {
    async fn check(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
        let ask = |a: &str, b: &str| {
            ChatRequest::new(vec![Message::user(judge_prompt(prompt, a, b))])
                .with_temperature(0.0)
                .with_max_tokens(4)
        };
        let (first, second) = (
            asked(self.provider.chat(&ask(reference, candidate)).await),
            asked(self.provider.chat(&ask(candidate, reference)).await),
        );
        let (Ok(first), Ok(second)) = (first, second) else {
            return Verdict::undecided("judge", "the judge could not be asked");
        };
        match (parse_judgement(&first.text), parse_judgement(&second.text)) {
            (a, b) if a == b && a != EquivalenceOutcome::Undecided => Verdict {
                outcome: a,
                score: None,
                method: "judge",
                reason: format!("the judge said {} in both orders", first.text.trim()),
            },
            (a, b) if a != b => Verdict::undecided(
                "judge",
                "the judge changed its mind when the answers were swapped",
            ),
            _ => Verdict::undecided("judge", "the judge was unsure"),
        }
    }
}

/// Bidirectional entailment through any [`Provider`]: the model is asked, in two separate
/// calls, whether answer A entails answer B and whether B entails A (each given the
/// question). Two "yes" decide *equivalent*; a "no" either way decides *not equivalent*
/// (one answer says something the other does not); anything else is *undecided*. This is
/// how semantic-entropy work clusters answers by meaning, and it is the stage for free
/// text, where word overlap and similarity mislead.
pub struct Entailment<P> {
    provider: P,
}

impl<P: Provider> Entailment<P> {
    /// Entailment judged by `provider`.
    pub fn new(provider: P) -> Self {
        Self { provider }
    }
}

/// The entailment prompt: does `premise` entail `hypothesis`, as answers to `question`?
pub fn entailment_prompt(question: &str, premise: &str, hypothesis: &str) -> String {
    format!(
        "You check entailment between two answers to the same question. Answer A entails \
         Answer B when everything Answer B states follows from Answer A. Judge meaning only; \
         ignore wording and format.\n\nQuestion: {question}\n\nAnswer A: {premise}\n\n\
         Answer B: {hypothesis}\n\nDoes Answer A entail Answer B? Reply with exactly one \
         word: YES, NO or UNSURE."
    )
}

fn parse_entailment(reply: &str) -> Option<bool> {
    let first = reply
        .split(|c: char| !c.is_alphabetic())
        .find(|w| !w.is_empty())?
        .to_uppercase();
    match first.as_str() {
        "YES" => Some(true),
        "NO" => Some(false),
        _ => None,
    }
}

#[async_trait]
impl<P: Provider> Equivalence for Entailment<P> {
    async fn check(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
        let ask = |a: &str, b: &str| {
            ChatRequest::new(vec![Message::user(entailment_prompt(prompt, a, b))])
                .with_temperature(0.0)
                .with_max_tokens(4)
        };
        let (forward, backward) = (
            asked(self.provider.chat(&ask(reference, candidate)).await),
            asked(self.provider.chat(&ask(candidate, reference)).await),
        );
        let (Ok(forward), Ok(backward)) = (forward, backward) else {
            return Verdict::undecided("entailment", "the entailment model could not be asked");
        };
        match (
            parse_entailment(&forward.text),
            parse_entailment(&backward.text),
        ) {
            (Some(true), Some(true)) => Verdict::new(
                EquivalenceOutcome::Equivalent,
                "entailment",
                "each answer entails the other",
            ),
            (Some(false), _) => Verdict::new(
                EquivalenceOutcome::NotEquivalent,
                "entailment",
                "the reference does not entail the candidate",
            ),
            (_, Some(false)) => Verdict::new(
                EquivalenceOutcome::NotEquivalent,
                "entailment",
                "the candidate does not entail the reference",
            ),
            _ => Verdict::undecided("entailment", "the entailment model was unsure"),
        }
    }
}

/// Checkers in order, cheapest first; the first decided verdict wins and records its
/// stage (`method`). Only what the cheap checks leave undecided reaches the expensive
/// ones: `Escalate(vec![Arc::new(Strict), Arc::new(Entailment::new(model))])`.
/// Escalates nest (an `Escalate` is itself an [`Equivalence`]).
pub struct Escalate(pub Vec<Arc<dyn Equivalence>>);

#[async_trait]
impl Equivalence for Escalate {
    async fn check(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
        let mut last = Verdict::undecided("escalate", "no stage decided");
        for stage in &self.0 {
            let v = stage.check(prompt, reference, candidate).await;
            if v.is_decided() {
                return v;
            }
            last = v;
        }
        last
    }
}
