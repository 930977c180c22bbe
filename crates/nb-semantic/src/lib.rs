//! Equivalence: may a fallback's answer stand in for the primary's?
//!
//! "Failover is not correctover." An [`Equivalence`] checker compares a candidate answer
//! with a reference, for a given prompt, and returns a [`Verdict`]. *Undecided* is a
//! first-class outcome: a checker that cannot tell says so instead of guessing, and the
//! router refuses an answer it cannot vouch for. There is one trait for every checker,
//! deterministic or model-backed, and one way to combine them ([`Escalate`]); the trait
//! is async because some checkers ask a model, and the deterministic ones also answer
//! synchronously through their own `compare` method.
//!
//! - [`Strict`]: deterministic comparators that **account for everything**: each answer
//!   is read into the values it states — quantities with their units (`1.5 s` =
//!   `1500 ms`, `3 kg` ≠ `3 g`), dates with time of day and zone, a yes/no, a label from
//!   the prompt's own list, a JSON value, a list — and a residue of every other word. Only
//!   the documented framing ([`FRAMING`], a restated subject, an agreeing yes/no tag) is
//!   dropped; two answers are *equivalent* only when their residues match and every value
//!   matches. A word left over makes the verdict *undecided*; conflicting values make it
//!   *not equivalent*. Integers and identifiers compare exactly as written (`1.10` is
//!   not `1.1` as a version); code compares by tokens (indentation as structure in
//!   Python and YAML, string literals exact, SQL keywords in any case); the words that
//!   name a question's alternatives are values; temperature differences convert by scale;
//!   lists compare in order when the question asks for one; role swaps (`A beat B` / `B
//!   beat A`) and comparatives (`X is larger than Y` / `Y is smaller than X`) decide.
//!   Refusals and truncations are caught first;
//! - [`compare_data`] and [`compare_tool_calls`]: typed answers and tool calls compared as
//!   data under their JSON Schema (sets where `uniqueItems` or `x-nb-set` say so, dates by
//!   value), and [`check_answers`], which the router uses to vouch for a whole answer;
//! - [`Lexical`]: token overlap with calibrated thresholds, for tolerant free text;
//! - [`Unvouchable`]: for creative tasks, always undecided, and says why;
//! - model-backed checkers, for what the deterministic ones leave undecided:
//!   [`Entailment`] (an LLM asked whether each answer entails the other, separately:
//!   only two agreeing "yes" decide *equivalent*), [`Judge`] (an LLM through any
//!   [`nb_core::Provider`], asked in both orders), [`EmbeddingCheck`] (cosine similarity
//!   through any [`nb_core::Embedder`]; it can reject, never accept on its own);
//! - [`Escalate`]: runs checkers in order, cheapest first, and keeps the first decided
//!   verdict, recording which stage decided (`Escalate(Strict, Entailment)`).
//!
//! ```
//! use nb_semantic::{EquivalenceOutcome, Strict};
//! let prompt = "What is 17 + 25? Reply with the number only.";
//! assert_eq!(Strict.compare(prompt, "42", "The answer is 42.").outcome, EquivalenceOutcome::Equivalent);
//! assert_eq!(Strict.compare(prompt, "42", "**Answer:** 43").outcome, EquivalenceOutcome::NotEquivalent);
//! let v = Strict.compare("Write a poem about rain.", "Rain taps...", "Grey skies...");
//! assert_eq!(v.outcome, EquivalenceOutcome::Undecided);
//! // The same numbers, different words: never equivalent.
//! let v = Strict.compare("Summarise", "The board approved the $2M budget 5-4.",
//!                        "The board rejected the $2M budget 5-4.");
//! assert_eq!(v.outcome, EquivalenceOutcome::Undecided);
//! // Units are part of the value.
//! assert_eq!(Strict.compare("How long?", "1.5 s", "1500 ms").outcome, EquivalenceOutcome::Equivalent);
//! assert_eq!(Strict.compare("How heavy?", "3 kg", "3 g").outcome, EquivalenceOutcome::NotEquivalent);
//! ```

mod code;
mod data;
mod datetime;
mod escalate;
mod quantity;
mod relation;
mod spend;
mod strict;
mod text;

pub use data::{Question, check_answers, compare_data, compare_tool_calls};
pub use escalate::{
    EmbeddingCheck, Entailment, Escalate, Judge, entailment_prompt, judge_prompt, parse_judgement,
};
pub use spend::{CheckerSpend, metered, record_checker_call};
pub use text::FRAMING;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use text::words;

/// Whether two answers mean the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EquivalenceOutcome {
    /// They do.
    Equivalent,
    /// They do not.
    NotEquivalent,
    /// This checker cannot tell.
    Undecided,
}

/// A checker's answer, with how it decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The outcome.
    pub outcome: EquivalenceOutcome,
    /// A similarity in `0.0..=1.0`, where the method has one.
    pub score: Option<f64>,
    /// Which method decided (`"json"`, `"number"`, `"yes_no"`, `"label"`, ...).
    pub method: &'static str,
    /// Why, for people and reports.
    pub reason: String,
}

impl Verdict {
    pub(crate) fn new(
        outcome: EquivalenceOutcome,
        method: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            outcome,
            score: None,
            method,
            reason: reason.into(),
        }
    }

    /// A verdict from a similarity: equivalent at or above `accept`, not equivalent at
    /// or below `reject`, undecided between.
    pub fn scored(
        score: f64,
        accept: f64,
        reject: f64,
        method: &'static str,
        reason: String,
    ) -> Self {
        let outcome = if score >= accept {
            EquivalenceOutcome::Equivalent
        } else if score <= reject {
            EquivalenceOutcome::NotEquivalent
        } else {
            EquivalenceOutcome::Undecided
        };
        Self {
            outcome,
            score: Some(score),
            method,
            reason,
        }
    }

    /// An undecided verdict.
    pub fn undecided(method: &'static str, reason: impl Into<String>) -> Self {
        Self::new(EquivalenceOutcome::Undecided, method, reason)
    }

    /// Whether it decided either way.
    pub fn is_decided(&self) -> bool {
        self.outcome != EquivalenceOutcome::Undecided
    }
}

/// Compares a candidate answer with a reference, for a prompt: the one trait every
/// checker implements, from [`Strict`] (which answers at once and never calls anything)
/// to [`Entailment`] and [`Judge`] (which ask a model). It is async so that both kinds
/// compose in one [`Escalate`] and one router setting; the deterministic checkers also
/// offer their verdict synchronously, as an inherent `compare` method.
#[async_trait]
pub trait Equivalence: Send + Sync {
    /// The verdict on `candidate` against `reference`.
    async fn check(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict;
}

#[async_trait]
impl<E: Equivalence + ?Sized> Equivalence for Arc<E> {
    async fn check(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
        (**self).check(prompt, reference, candidate).await
    }
}

/// Implements [`Equivalence`] for deterministic checkers through their inherent
/// `compare`.
macro_rules! equivalence_by_compare {
    ($($t:ty),*) => {$(
        #[async_trait]
        impl Equivalence for $t {
            async fn check(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
                self.compare(prompt, reference, candidate)
            }
        }
    )*};
}

equivalence_by_compare!(Unvouchable, ExactText, Lexical, Strict);

/// For creative tasks: equivalence cannot be claimed, and the verdict says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unvouchable;

impl Unvouchable {
    /// The verdict on `candidate` against `reference`, at once.
    pub fn compare(&self, _: &str, _: &str, _: &str) -> Verdict {
        Verdict::undecided(
            "unvouchable",
            "this route's answers are creative: no checker can vouch for a substitute",
        )
    }
}

/// The same exact text, after trimming and case folding; anything else is undecided.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactText;

impl ExactText {
    /// The verdict on `candidate` against `reference`, at once.
    pub fn compare(&self, _: &str, reference: &str, candidate: &str) -> Verdict {
        if normalise(reference) == normalise(candidate) && !normalise(reference).is_empty() {
            Verdict::new(
                EquivalenceOutcome::Equivalent,
                "normalised_text",
                "equal after normalisation",
            )
        } else {
            Verdict::undecided(
                "normalised_text",
                "texts differ; this checker cannot tell whether they mean the same",
            )
        }
    }
}

/// Token overlap (Jaccard) with two thresholds: at or above `accept` equivalent, at or
/// below `reject` not equivalent, undecided between.
#[derive(Debug, Clone, Copy)]
pub struct Lexical {
    /// Equivalent at or above this score.
    pub accept: f64,
    /// Not equivalent at or below this score.
    pub reject: f64,
}

impl Default for Lexical {
    fn default() -> Self {
        Self {
            accept: 0.9,
            reject: 0.1,
        }
    }
}

impl Lexical {
    /// The verdict on `candidate` against `reference`, at once.
    pub fn compare(&self, _: &str, reference: &str, candidate: &str) -> Verdict {
        let a: BTreeSet<String> = words(reference).into_iter().collect();
        let b: BTreeSet<String> = words(candidate).into_iter().collect();
        let union = a.union(&b).count();
        let score = if union == 0 {
            1.0
        } else {
            a.intersection(&b).count() as f64 / union as f64
        };
        Verdict::scored(
            score,
            self.accept,
            self.reject,
            "lexical",
            format!("token overlap {score:.2}"),
        )
    }
}

/// The deterministic checker for strict domains (numbers and quantities, dates, JSON,
/// lists, yes/no, labels, short exact answers). See the crate docs for the rule it
/// follows; it never calls anything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Strict;

impl Strict {
    /// The verdict on `candidate` against `reference`, at once.
    pub fn compare(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
        let (r_refuses, c_refuses) = (is_refusal(reference), is_refusal(candidate));
        if r_refuses != c_refuses {
            return Verdict::new(
                EquivalenceOutcome::NotEquivalent,
                "refusal",
                "one answer is a refusal, the other is not",
            );
        }
        if r_refuses {
            return Verdict::undecided("refusal", "both answers are refusals");
        }
        if let Some(v) = truncated(reference, candidate) {
            return v;
        }
        strict::compare(prompt, reference, candidate)
    }
}

fn normalise(s: &str) -> String {
    words(s).join(" ")
}

/// One answer is the other cut short: its words are a proper prefix of the other's, it
/// has at least three of them, and it stops without closing punctuation.
fn truncated(reference: &str, candidate: &str) -> Option<Verdict> {
    let (a, b) = (reference.trim(), candidate.trim());
    let (short, long) = if a.len() < b.len() { (a, b) } else { (b, a) };
    let (ws, wl) = (words(short), words(long));
    let ends_cleanly = short.ends_with(['.', '!', '?', '}', ']', '`', '"', ')']);
    (ws.len() >= 3 && ws.len() < wl.len() && wl.starts_with(&ws) && !ends_cleanly).then(|| {
        Verdict::new(
            EquivalenceOutcome::NotEquivalent,
            "truncation",
            "one answer is the other cut short",
        )
    })
}

const REFUSALS: &[&str] = &[
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i'm sorry, but",
    "i am unable to",
    "i'm unable to",
    "i won't be able to",
    "i can't provide",
    "i cannot provide",
];

fn is_refusal(s: &str) -> bool {
    let l = s.to_lowercase().replace('’', "'");
    REFUSALS.iter().any(|p| l.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &str, a: &str, b: &str) -> EquivalenceOutcome {
        Strict.compare(p, a, b).outcome
    }

    use EquivalenceOutcome::*;

    #[test]
    fn numbers_in_every_phrasing() {
        let p = "What is 6 * 7?";
        assert_eq!(s(p, "42", "The answer is 42."), Equivalent);
        assert_eq!(s(p, "42", "forty-two"), Equivalent);
        assert_eq!(s(p, "1,234", "1234.0"), Equivalent);
        assert_eq!(s(p, "$1,200", "1.2e3 USD"), Equivalent);
        assert_eq!(s(p, "1.2 million", "1,200,000"), Equivalent);
        assert_eq!(s(p, "1.2 million", "1.2 billion"), NotEquivalent);
        assert_eq!(s(p, "6.022e23", "6.022 x 10^23"), Equivalent);
        assert_eq!(s(p, "0.5%", "0.005"), Equivalent);
        assert_eq!(
            s(
                p,
                "The median is 7 (from 3, 7 and 9).",
                "The median is 9 (from 3, 7 and 9)."
            ),
            NotEquivalent,
            "the same template with another value in it"
        );
        assert_eq!(
            s(
                p,
                "Sales rose 4% on strong demand.",
                "Sales rose 4% on strong"
            ),
            NotEquivalent
        );
        assert_eq!(s(p, "-5", "minus five"), Equivalent);
        assert_eq!(s(p, "42", "43"), NotEquivalent);
        assert_eq!(s(p, "-42", "42"), NotEquivalent);
        assert_eq!(
            s(p, "6 * 7 = 42", "Six times seven is 42, so 42"),
            Undecided
        );
        assert_eq!(
            s(p, "6 * 7 = 42", "7 * 6 = 42"),
            Undecided,
            "the same values in another order: order may matter"
        );
        assert_eq!(s(p, "It is 42", "It is 40 or 41"), NotEquivalent);
    }

    #[test]
    fn yes_no_labels_json_and_refusals() {
        assert_eq!(
            s("Is 7 prime?", "Yes, it is.", "**Answer:** Yes"),
            Equivalent
        );
        assert_eq!(s("Is 7 prime?", "Yes", "No, it is not."), NotEquivalent);
        assert_eq!(s("Is 7 prime?", "Yes", "Probably yes"), Undecided);
        let p = "Classify the sentiment of this review as positive, negative or neutral: \"meh\"";
        assert_eq!(
            s(p, "The sentiment is positive.", "**Sentiment:** positive"),
            Equivalent
        );
        assert_eq!(s(p, "positive", "negative"), NotEquivalent);
        assert_eq!(s(p, "positive", "not positive"), Undecided);
        assert_eq!(s(p, "positive", "positive or neutral"), Undecided);
        assert_eq!(
            s(
                "x",
                "{\"a\": 1, \"b\": [1, 2]}",
                "```json\n{\"b\": [1, 2.0], \"a\": 1}\n```"
            ),
            Equivalent
        );
        assert_eq!(s("x", "{\"a\": 1}", "{\"a\": \"1\"}"), NotEquivalent);
        assert_eq!(s("x", "{\"a\": 1}", "{\"a\": 1, \"b\": 2}"), NotEquivalent);
        assert_eq!(
            s("x", "42", "I'm sorry, but I can't help with that."),
            NotEquivalent
        );
        assert_eq!(
            s("Write a haiku", "Leaves fall softly", "Snow on quiet pines"),
            Undecided
        );
        assert_eq!(s("Name the capital", "Paris.", "paris"), Equivalent);
    }

    #[test]
    fn dates_and_lists() {
        assert_eq!(s("When?", "2024-03-05", "March 5, 2024"), Equivalent);
        assert_eq!(s("When?", "5 March 2024", "Mar 5th, 2024"), Equivalent);
        assert_eq!(s("When?", "2024-03-05", "2024-03-06"), NotEquivalent);
        assert_eq!(
            s("When?", "03/04/2024", "2024-03-04"),
            Undecided,
            "day/month ambiguous"
        );
        assert_eq!(s("When?", "25/12/2024", "December 25, 2024"), Equivalent);
        assert_eq!(
            s(
                "List the primary colours",
                "- red\n- blue\n- yellow",
                "Blue, yellow and red."
            ),
            Equivalent
        );
        assert_eq!(
            s(
                "List the primary colours",
                "red, blue, yellow",
                "red, blue, green"
            ),
            NotEquivalent
        );
        assert_eq!(
            s(
                "Rank them from first to last",
                "1. gold\n2. silver\n3. bronze",
                "1. silver\n2. gold\n3. bronze"
            ),
            NotEquivalent
        );
        assert_eq!(
            s(
                "Rank them from first to last",
                "1. gold\n2. silver",
                "- gold\n- silver"
            ),
            Equivalent
        );
    }

    #[test]
    fn integers_and_identifiers_compare_as_written() {
        let p = "What is the order ID?";
        assert_eq!(
            s(p, "12345678901234567890", "12345678901234567891"),
            NotEquivalent
        );
        assert_eq!(
            s(p, "12345678901234567890", "Order ID: 12345678901234567890"),
            Equivalent
        );
        assert_eq!(
            s(
                "What is 2^64?",
                "18446744073709551616",
                "18,446,744,073,709,551,616"
            ),
            Equivalent
        );
        let p = "Which version fixed it?";
        assert_eq!(s(p, "1.10", "1.1"), NotEquivalent);
        assert_eq!(s(p, "Version 1.10", "1.10"), Equivalent);
        assert_eq!(s(p, "2.0.1", "2.0.10"), NotEquivalent);
        assert_eq!(s(p, "2.0.1", "Version 2.0.1"), Equivalent);
        assert_eq!(
            s("Which section?", "Section 3.10", "Section 3.1"),
            NotEquivalent
        );
        assert_eq!(s("Where is it?", "See § 3.10", "See § 3.1"), NotEquivalent);
        assert_eq!(s("What is the agent number?", "007", "7"), NotEquivalent);
        assert_eq!(s("What is it?", "007", "7"), Undecided);
        assert_eq!(
            s(
                "What is the invoice number?",
                "INV-2024-00017",
                "INV-2024-0017"
            ),
            NotEquivalent
        );
        // Amounts still compare by value.
        assert_eq!(s("How much?", "1.50 USD", "$1.5"), Equivalent);
        assert_eq!(s("How much?", "1.2 million", "1,200,000"), Equivalent);
        assert_eq!(s("What is pi?", "3.14", "3.140"), Equivalent);
        assert_eq!(
            s(
                "x",
                "{\"id\": 12345678901234567890}",
                "{\"id\": 12345678901234567891}"
            ),
            NotEquivalent
        );
    }

    #[test]
    fn temperature_differences_convert_by_scale() {
        let p = "How much warmer is Madrid than Oslo?";
        assert_eq!(s(p, "15 °C warmer", "27 °F warmer"), Equivalent);
        assert_eq!(s(p, "15 °C warmer", "59 °F warmer"), NotEquivalent);
        let p = "What is the temperature difference between day and night?";
        assert_eq!(s(p, "20 °C", "36 °F"), Equivalent);
        assert_eq!(s(p, "20 °C", "68 °F"), NotEquivalent);
        let p = "What happened overnight?";
        assert_eq!(s(p, "It rose by 10 °C.", "It rose by 18 °F."), Equivalent);
        assert_eq!(
            s(p, "It rose by 10 °C.", "It rose by 50 °F."),
            NotEquivalent
        );
        assert_eq!(s(p, "It rose to 10 °C.", "It rose to 50 °F."), Equivalent);
        assert_eq!(
            s("What is the boiling point?", "100 °C", "212 °F"),
            Equivalent
        );
        assert_eq!(s("How much did it change?", "5 K", "5 °C"), Equivalent);
    }

    #[test]
    fn prompt_words_that_name_the_alternatives_are_kept() {
        let p = "Did the company report a loss or income for the quarter?";
        assert_eq!(s(p, "A loss.", "Income."), NotEquivalent);
        assert_eq!(s(p, "The company reported a loss.", "A loss"), Equivalent);
        let p = "Which party won, Labour or the Conservatives?";
        assert_eq!(s(p, "Labour", "The Conservatives won."), NotEquivalent);
        assert_eq!(s(p, "Labour", "Labour won."), Equivalent);
        let p = "Did the build pass or fail?";
        assert_eq!(s(p, "It passed.", "It failed."), NotEquivalent);
        assert_eq!(s(p, "It did not pass.", "It failed."), Undecided);
        let p = "Which team scored more, the home team or the away team?";
        assert_eq!(s(p, "The home team", "the away team"), NotEquivalent);
        let p = "How many checks failed?";
        assert_eq!(s(p, "2", "2 checks failed."), Equivalent);
    }

    #[test]
    fn lists_whose_order_the_question_implies() {
        let p = "Sort these in ascending order: 5, 2, 9";
        assert_eq!(s(p, "apple, fig, pear", "pear, fig, apple"), NotEquivalent);
        let p = "List the inner planets from the Sun outward.";
        assert_eq!(
            s(
                p,
                "Mercury, Venus, Earth, Mars",
                "Mercury, Earth, Venus, Mars"
            ),
            NotEquivalent
        );
        let p = "Name the three largest cities.";
        assert_eq!(
            s(p, "Tokyo, Delhi, Shanghai", "Delhi, Tokyo, Shanghai"),
            Undecided
        );
        let p = "Which ingredients does the recipe need?";
        assert_eq!(s(p, "flour, sugar, eggs", "eggs, flour, sugar"), Equivalent);
        assert_eq!(s(p, "1. flour\n2. sugar", "1. sugar\n2. flour"), Undecided);
    }

    #[tokio::test]
    async fn lexical_and_escalate_and_unvouchable() {
        let l = Lexical::default();
        assert_eq!(
            l.compare("", "the cat sat on the mat", "the cat sat on the mat")
                .outcome,
            Equivalent
        );
        assert_eq!(
            l.compare("", "alpha beta gamma", "delta epsilon zeta")
                .outcome,
            NotEquivalent
        );
        assert_eq!(
            l.compare("", "the cat sat on the mat", "a cat sat on a rug")
                .outcome,
            Undecided
        );
        let c = Escalate(vec![
            Arc::new(ExactText),
            Arc::new(Lexical {
                accept: 0.5,
                reject: 0.0,
            }),
        ]);
        let v = c
            .check("", "the cat sat on the mat", "the cat sat on a mat")
            .await;
        assert_eq!((v.outcome, v.method), (Equivalent, "lexical"));
        assert_eq!(Unvouchable.compare("", "a", "a").outcome, Undecided);
    }
}
