//! Answer validation: an answer that arrived intact may still be unusable.
//!
//! A [`Validator`] accepts a response or returns the [`Violation`] that says what broke,
//! where (a JSON pointer) and how to ask for a fix. Violations are classified like HTTP
//! failures, so a guard failure drives repair and failover through the same loop.
//!
//! ```
//! use nb_core::{ChatResponse, FinishReason};
//! use nb_guard::{NotTruncated, Validator};
//! let cut = ChatResponse::text("{\"a\": ").with_finish_reason(FinishReason::Length);
//! assert!(NotTruncated.validate(&cut).is_err());
//! assert!(NotTruncated.validate(&ChatResponse::text("ok")).is_ok());
//! ```

use nb_core::FinishReason;
pub use nb_core::{ChatResponse, Violation, ViolationKind};

/// Accepts an answer or says what is wrong with it.
pub trait Validator: Send + Sync {
    /// `Ok(())` when the answer is acceptable, else the violation found.
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation>;
}

/// Rejects an answer cut short by the output limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotTruncated;

impl Validator for NotTruncated {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        match response.finish_reason {
            FinishReason::Length => Err(Violation::new(
                ViolationKind::Truncated,
                "",
                "the answer was cut short by the output limit",
            )
            .with_hint("answer more briefly")),
            _ => Ok(()),
        }
    }
}
