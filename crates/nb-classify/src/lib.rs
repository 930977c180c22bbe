//! The failure taxonomy: from a [`CallError`] or a [`Violation`] to a decision.
//!
//! Blind retry treats every failure alike. This crate names what failed
//! ([`FailureClass`]), how far the damage reaches ([`Scope`]) and what to do about it
//! ([`Disposition`]), so the router can act on the class instead of the status code.
//!
//! ```
//! use nb_classify::{Disposition, Scope};
//! assert_ne!(Disposition::Abort, Disposition::FailOver);
//! assert_eq!(Scope::Credential.to_string(), "credential");
//! ```

pub use nb_core::{CallError, FailureClass, Violation};

/// How far a failure's damage reaches: what to avoid next time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// Only this attempt; the target is fine.
    Attempt,
    /// This (provider, model, credential).
    Target,
    /// Every target of this model on this provider.
    Model,
    /// Every target using this credential.
    Credential,
    /// Every target of this provider.
    Provider,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Attempt => "attempt",
            Self::Target => "target",
            Self::Model => "model",
            Self::Credential => "credential",
            Self::Provider => "provider",
        })
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Disposition {
    /// Try the same target again, after the retry hint or a backoff.
    RetryHere,
    /// Re-ask the same target with the violation explained.
    Repair,
    /// Move on to the next candidate.
    FailOver,
    /// Move on only to a candidate with a larger context window.
    FailOverLargerContext,
    /// Stop: the request itself is wrong and no target will fix it.
    Abort,
}
