//! The answer cache's port, and how far an answer was checked: stores (in memory, Redis)
//! implement [`AnswerCache`] without depending on the router that uses them.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{ChatResponse, TargetId};

/// How far an answer was checked against another source before it came back.
///
/// Every answer carries one: a failover answer is either vouched for, or says why not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AnswerCheck {
    /// The first choice answered and the call's vouching mode did not ask for a check.
    #[default]
    FirstChoice,
    /// Vouched for: an independent serving target's answer agreed (the report's
    /// `verdict` says which target, by which method).
    Vouched,
    /// Vouched for by a reference target: a model asked only to vouch, never to serve,
    /// agreed (the report's `verdict` names it).
    VouchedByReference,
    /// No independent target could answer, but the serving target asked again (at a
    /// temperature above zero) gave the same answer every time. A weaker verdict: it
    /// catches confabulation — an answer that is wrong *and* arbitrary — not a mistake
    /// the model makes consistently.
    SelfConsistent,
    /// A failover answer returned with no check at all: vouching was off for the call
    /// (the router's `VouchMode::Off`, or no vouching configured).
    Unchecked,
    /// Vouching was asked for, but nothing could vouch — no independent target could
    /// answer, or the checker could not decide — and the call allowed the answer back
    /// flagged (the router's `OnUnvouchable::ServeFlagged`). An answer a reference *contradicted* is
    /// never returned.
    Unvouchable,
}

impl AnswerCheck {
    /// The check's name, as the gateway's `x-nb-verdict` header and the metrics say it:
    /// `first-choice`, `vouched`, `unchecked`, `unvouchable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstChoice => "first-choice",
            Self::Vouched => "vouched",
            Self::VouchedByReference => "vouched-by-reference",
            Self::SelfConsistent => "self-consistent",
            Self::Unchecked => "unchecked",
            Self::Unvouchable => "unvouchable",
        }
    }
}

impl fmt::Display for AnswerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An answer as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CachedAnswer {
    /// The target that served it.
    pub served_by: TargetId,
    /// The answer.
    pub response: ChatResponse,
    /// How it was checked when it was served (an entry without one, written by an
    /// older version, reads as unchecked and is never served).
    #[serde(default = "unchecked")]
    pub check: AnswerCheck,
}

fn unchecked() -> AnswerCheck {
    AnswerCheck::Unchecked
}

impl CachedAnswer {
    /// An answer `served_by` gave, checked as `check`.
    pub fn new(served_by: TargetId, response: ChatResponse, check: AnswerCheck) -> Self {
        Self {
            served_by,
            response,
            check,
        }
    }
}

/// Where cached answers live. A cache that fails (a store that is down) misses; it never
/// fails a call.
#[async_trait]
pub trait AnswerCache: Send + Sync {
    /// The answer stored under `key`, if it is there and fresh.
    async fn get(&self, key: &str) -> Option<CachedAnswer>;
    /// Stores `answer` under `key` for `ttl`.
    async fn put(&self, key: &str, answer: &CachedAnswer, ttl: Duration);
}
