//! Equivalence: may a fallback's answer stand in for the primary's?
//!
//! "Failover is not correctover." An [`Equivalence`] checker compares a candidate answer
//! with a reference and returns a [`Verdict`]; *undecided* is a first-class outcome, so a
//! checker that cannot tell says so instead of guessing.
//!
//! ```
//! use nb_semantic::{Equivalence, ExactText, Outcome};
//! let v = ExactText.compare("  Paris ", "paris");
//! assert_eq!(v.outcome, Outcome::Equivalent);
//! ```

/// Whether two answers mean the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
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
    pub outcome: Outcome,
    /// A similarity in `0.0..=1.0`, where the method has one.
    pub score: Option<f64>,
    /// Which method decided (`"normalised_text"`, ...).
    pub method: &'static str,
    /// Why, for people and reports.
    pub reason: String,
}

/// Compares a candidate answer with a reference.
pub trait Equivalence: Send + Sync {
    /// The verdict on `candidate` against `reference`.
    fn compare(&self, reference: &str, candidate: &str) -> Verdict;
}

/// Equal after trimming and case folding; anything else is undecided, never a guess.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactText;

impl Equivalence for ExactText {
    fn compare(&self, reference: &str, candidate: &str) -> Verdict {
        let same = reference.trim().to_lowercase() == candidate.trim().to_lowercase();
        Verdict {
            outcome: if same {
                Outcome::Equivalent
            } else {
                Outcome::Undecided
            },
            score: None,
            method: "normalised_text",
            reason: if same {
                "equal after trimming and case folding".into()
            } else {
                "texts differ; this checker cannot tell whether they mean the same".into()
            },
        }
    }
}
