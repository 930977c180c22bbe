//! The failure taxonomy: from a [`CallError`] or a [`Violation`] to a decision.
//!
//! - [`Classification`] `{ class, scope, retry_after, disposition }`: what failed
//!   ([`FailureClass`]), how far the damage reaches ([`Scope`]), when to try again, and
//!   what to do ([`Disposition`]);
//! - [`Classifier`]: one required method; closures are classifiers; [`Classifier::then`]
//!   chains them so your rule answers first and defers the rest;
//! - [`DefaultClassifier`]: the built-in taxonomy, total and cheap, decided by facts
//!   (status, the provider's `type`/`code`/`status`, details, then message phrases as a
//!   last resort) in a fixed order;
//! - retry hints from every source: [`hint_from_headers`] (`retry-after` in seconds or
//!   as an HTTP date, `retry-after-ms`, OpenAI/Groq `x-ratelimit-reset-*` durations,
//!   Anthropic RFC 3339 reset times), Gemini's `RetryInfo.retryDelay`, and reset phrases
//!   in the body ([`hint_from_message`]); `x-should-retry` is honoured.
//!
//! Blind retry treats every failure alike; a router that knows a 429 `insufficient_quota`
//! is not a rate limit, that an Anthropic `overloaded_error` inside a 200 stream is an
//! overload, and that a 400 is the caller's bug, can act on the class instead.
//!
//! ```
//! use nb_classify::{Classifier, DefaultClassifier, Disposition, Failure, classify};
//! use nb_core::{CallError, FailureClass, TransportKind};
//!
//! let refused = CallError::transport(TransportKind::ConnectRefused, "connection refused");
//! let c = classify(&refused);
//! assert_eq!(c.class, FailureClass::Network);
//! assert_eq!(c.disposition, Disposition::FailOver);
//!
//! // A rule of your own answers first; everything else falls through to the default.
//! let mine = (|f: &Failure<'_>| match f {
//!     Failure::Call(CallError::Cancelled) => Some(classify(&CallError::Cancelled)),
//!     _ => None,
//! })
//! .then(DefaultClassifier::new());
//! assert_eq!(mine.classify(&Failure::from(&refused)).unwrap().class, FailureClass::Network);
//! ```

use std::time::Duration;

pub use nb_core::{CallError, FailureClass, Scope, Violation};

mod classify;
mod hint;

pub use classify::DefaultClassifier;
pub use hint::{context_sizes, hint_from_headers, hint_from_message, parse_duration, retry_hint};

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

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::RetryHere => "retry_here",
            Self::Repair => "repair",
            Self::FailOver => "fail_over",
            Self::FailOverLargerContext => "fail_over_larger_context",
            Self::Abort => "abort",
        })
    }
}

/// A decision about one failure.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Classification {
    /// What failed.
    pub class: FailureClass,
    /// How far it reaches.
    pub scope: Scope,
    /// When the server said to try again, if it did.
    pub retry_after: Option<Duration>,
    /// What to do.
    pub disposition: Disposition,
    /// Which fact decided, for reports: a fixed phrase, or text built at run time (a
    /// custom classifier's own detail).
    pub reason: std::borrow::Cow<'static, str>,
}

impl Classification {
    /// A classification without a retry hint.
    pub fn new(
        class: FailureClass,
        scope: Scope,
        disposition: Disposition,
        reason: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        Self {
            class,
            scope,
            retry_after: None,
            disposition,
            reason: reason.into(),
        }
    }

    /// Sets the retry hint.
    pub fn with_retry_after(mut self, d: Option<Duration>) -> Self {
        self.retry_after = d;
        self
    }
}

/// What is being classified.
#[derive(Debug, Clone, Copy)]
pub enum Failure<'a> {
    /// A call that failed.
    Call(&'a CallError),
    /// An answer a validator rejected.
    Violation(&'a Violation),
}

impl<'a> From<&'a CallError> for Failure<'a> {
    fn from(e: &'a CallError) -> Self {
        Self::Call(e)
    }
}

impl<'a> From<&'a Violation> for Failure<'a> {
    fn from(v: &'a Violation) -> Self {
        Self::Violation(v)
    }
}

/// Decides what a failure means. Return `None` to defer to the next classifier.
pub trait Classifier: Send + Sync {
    /// The classification of `failure`, or `None` to defer.
    fn classify(&self, failure: &Failure<'_>) -> Option<Classification>;

    /// This classifier first; `next` for whatever it defers.
    fn then<N: Classifier>(self, next: N) -> Chain<Self, N>
    where
        Self: Sized,
    {
        Chain { first: self, next }
    }
}

impl<F> Classifier for F
where
    F: Fn(&Failure<'_>) -> Option<Classification> + Send + Sync,
{
    fn classify(&self, failure: &Failure<'_>) -> Option<Classification> {
        self(failure)
    }
}

impl<C: Classifier + ?Sized> Classifier for std::sync::Arc<C> {
    fn classify(&self, failure: &Failure<'_>) -> Option<Classification> {
        (**self).classify(failure)
    }
}

/// Two classifiers in order.
#[derive(Debug, Clone)]
pub struct Chain<A, B> {
    first: A,
    next: B,
}

impl<A: Classifier, B: Classifier> Classifier for Chain<A, B> {
    fn classify(&self, failure: &Failure<'_>) -> Option<Classification> {
        self.first
            .classify(failure)
            .or_else(|| self.next.classify(failure))
    }
}

/// Classifies with `classifier`, falling back to the default taxonomy when it defers:
/// the answer is always a classification.
pub fn classify_with<C: Classifier + ?Sized>(
    classifier: &C,
    failure: Failure<'_>,
) -> Classification {
    classifier
        .classify(&failure)
        .unwrap_or_else(|| DefaultClassifier::default().decide(&failure))
}

/// Classifies a call failure with the default taxonomy and the system clock.
pub fn classify(e: &CallError) -> Classification {
    DefaultClassifier::default().decide(&Failure::Call(e))
}
