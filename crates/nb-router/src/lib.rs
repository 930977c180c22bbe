//! The self-healing router: plan, execute, validate, analyze, vouch, report.
//!
//! Every routed result is a [`Routed`]: the answer together with a report saying who
//! answered and what failed before. An answer without its report is half the truth.
//!
//! ```
//! use nb_core::TargetId;
//! use nb_router::Routed;
//! let r = Routed::new("42", TargetId::new("openai", "gpt-4o-mini"));
//! assert_eq!(r.served_by.provider(), "openai");
//! ```

use nb_core::TargetId;

/// An answer and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed<T> {
    /// The answer.
    pub value: T,
    /// The target that served it.
    pub served_by: TargetId,
}

impl<T> Routed<T> {
    /// An answer served by `target`.
    pub fn new(value: T, target: TargetId) -> Self {
        Self {
            value,
            served_by: target,
        }
    }
}
