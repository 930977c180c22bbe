//! What every call reports: who answered, what failed before, what it cost.

use std::fmt;
use std::time::Duration;

use nb_classify::{Classification, Disposition};
use nb_core::{AnswerCheck, CallError, FailureClass, TargetId, Usage};

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// It answered (streams: its first content delta arrived).
    Success,
    /// It failed, classified.
    Failed {
        /// The class.
        class: FailureClass,
        /// What the router did about it.
        disposition: Disposition,
        /// Which fact decided.
        reason: std::borrow::Cow<'static, str>,
        /// The server's retry hint, if it gave one.
        retry_after: Option<Duration>,
        /// The error, as text (the full error is the report's first/last error).
        error: String,
    },
    /// It was still running when another attempt won, and was cancelled.
    Cancelled,
}

/// One attempt on one target.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    /// The target.
    pub target: TargetId,
    /// When it started, after the call began.
    pub started_after: Duration,
    /// How long it took.
    pub latency: Duration,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// Whether it probed a half-open breaker or an expired cool-down.
    pub probe: bool,
    /// Why it was made.
    pub role: AttemptRole,
    /// The tokens it was billed for, where the provider said (answers, rejected answers
    /// and vouching references; a failure before an answer has none).
    pub usage: Option<Usage>,
}

/// Why an attempt was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttemptRole {
    /// To answer the call (first try, retry or failover).
    Answer,
    /// A hedge started while an earlier attempt was slow.
    Hedge,
    /// A repair: the same target re-asked with a violation explained.
    Repair,
    /// An independent answer asked for to vouch for another.
    Vouch,
}

impl AttemptRole {
    /// The role's name in metrics and reports: `answer`, `hedge`, `repair`, `vouch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Hedge => "hedge",
            Self::Repair => "repair",
            Self::Vouch => "vouch",
        }
    }
}

/// The equivalence verdict behind a vouched (or refused) answer.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictReport {
    /// Whether the answers agreed.
    pub outcome: nb_semantic::EquivalenceOutcome,
    /// The method that decided.
    pub method: &'static str,
    /// Its score, where it has one.
    pub score: Option<f64>,
    /// Why.
    pub reason: String,
    /// The target whose answer served as the reference.
    pub reference: TargetId,
    /// The reference was that target's earlier answer to the same request, from the
    /// answer cache (no upstream call was made for it).
    pub from_cache: bool,
}

impl VerdictReport {
    pub(crate) fn new(v: &nb_semantic::Verdict, reference: &TargetId) -> Self {
        Self {
            outcome: v.outcome,
            method: v.method,
            score: v.score,
            reason: v.reason.clone(),
            reference: reference.clone(),
            from_cache: false,
        }
    }
}

/// Why a call waited instead of sending an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitReason {
    /// Before a retry on the same target: its retry hint, or backoff with jitter.
    Retry,
    /// Every candidate was out of rotation (cooling down, breaker open, paced), and the
    /// policy (`WhenAllOpen::WaitForEarliest`) waits for the first one back.
    AllOutOfRotation,
    /// The only possible reference to vouch with was briefly out of rotation, and
    /// vouching waits for it (`Vouching::wait`; never for a key, quota or model that
    /// waiting does not heal).
    Reference,
}

impl WaitReason {
    /// The reason's name in reports: `retry`, `all-out-of-rotation`, `reference`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::AllOutOfRotation => "all-out-of-rotation",
            Self::Reference => "reference",
        }
    }
}

/// A wait inside a call: why, for which target, how long.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitReport {
    /// Why.
    pub reason: WaitReason,
    /// The target waited for.
    pub target: TargetId,
    /// How long.
    pub waited: Duration,
}

/// Why a candidate was passed over without an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// A cool-down covering it (its own, its model's, its key's, its provider's) runs
    /// for this long still.
    CoolingDown {
        /// The scope cooling down, as a report reads it (`Credential(…)`).
        scope: String,
        /// Time left.
        left: Duration,
    },
    /// Its breaker is open (or its half-open probes are out) for this long still.
    BreakerOpen {
        /// Time left.
        left: Duration,
    },
    /// Its pacer says wait this long (a rate budget of its own or the provider's).
    Paced {
        /// Time left.
        left: Duration,
    },
    /// The prompt is larger than its context window (declared, or learned from a
    /// rejection).
    WindowTooSmall {
        /// Its window in tokens.
        window: u64,
        /// The prompt's estimated size in tokens.
        prompt: u64,
    },
    /// It cannot take a part the request holds (`"image"`, `"document"`).
    CannotTake {
        /// The part's kind.
        kind: &'static str,
    },
    /// Its measured agreement with the first choice is too low to fail over to it.
    Distrusted,
    /// Every candidate was out of rotation: this last resort was used regardless.
    LastResort,
    /// The call named a route the router does not have.
    UnknownRoute,
}

impl CallReport {
    /// Tokens billed by every upstream call of this call, by why it was made.
    pub fn usage_by_role(&self) -> Vec<(AttemptRole, Usage)> {
        let mut out: Vec<(AttemptRole, Usage)> = Vec::new();
        for a in &self.attempts {
            let Some(u) = a.usage else { continue };
            match out.iter_mut().find(|(r, _)| *r == a.role) {
                Some((_, t)) => add_usage(t, &u),
                None => out.push((a.role, u)),
            }
        }
        out
    }

    /// Tokens billed by every upstream call of this call.
    pub fn total_usage(&self) -> Usage {
        let mut t = Usage::default();
        for u in self.attempts.iter().filter_map(|a| a.usage) {
            add_usage(&mut t, &u);
        }
        t
    }
}

fn add_usage(t: &mut Usage, u: &Usage) {
    let add = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    t.input_tokens += u.input_tokens;
    t.output_tokens += u.output_tokens;
    t.cached_tokens = add(t.cached_tokens, u.cached_tokens);
    t.reasoning_tokens = add(t.reasoning_tokens, u.reasoning_tokens);
    t.cache_write_tokens = add(t.cache_write_tokens, u.cache_write_tokens);
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CoolingDown { scope, left } => write!(f, "cooling down ({scope}) for {left:?}"),
            Self::BreakerOpen { left } => write!(f, "breaker open for {left:?}"),
            Self::Paced { left } => write!(f, "paced for {left:?}"),
            Self::WindowTooSmall { window, prompt } => write!(
                f,
                "prompt of ~{prompt} tokens exceeds its context window of {window}"
            ),
            Self::CannotTake { kind } => write!(f, "cannot take {kind} parts"),
            Self::Distrusted => f.write_str("its agreement with the first choice is too low"),
            Self::LastResort => f.write_str("every candidate out of rotation: last resort used"),
            Self::UnknownRoute => f.write_str("unknown route"),
        }
    }
}

/// The story of one routed call.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct CallReport {
    /// Every attempt, in the order they started.
    pub attempts: Vec<AttemptReport>,
    /// Candidates passed over without an attempt, and why.
    pub skipped: Vec<(TargetId, SkipReason)>,
    /// The target whose answer was returned.
    pub served_by: Option<TargetId>,
    /// Whether the answer came from another target than the first one tried.
    pub failed_over: bool,
    /// The first error met.
    pub first_error: Option<CallError>,
    /// The last error met.
    pub last_error: Option<CallError>,
    /// Tokens of the answer that was returned.
    pub usage: Option<Usage>,
    /// Its cost, where the target has a price.
    pub cost: Option<f64>,
    /// The whole call's time.
    pub elapsed: Duration,
    /// Repair rounds used.
    pub repairs: u32,
    /// The equivalence verdict, when the answer had to be vouched for.
    pub verdict: Option<VerdictReport>,
    /// The answers compared while vouching, by target.
    pub evidence: Vec<(TargetId, String)>,
    /// What every upstream call of this call cost (answers, retries, repairs, hedges,
    /// vouching), where the targets have prices; `cost` is the served answer's alone.
    pub total_cost: Option<f64>,
    /// The answer came from the response cache (no upstream call was made; `served_by`
    /// is the target that first gave it).
    pub cache_hit: bool,
    /// How far the answer that came back was checked: never silent about a failover
    /// answer nobody vouched for.
    pub check: AnswerCheck,
    /// What the vouching checker's own model calls spent (a judge, an entailment model,
    /// embeddings), over every comparison of this call: calls and tokens; `None` when
    /// no checker called a model (boxed: most calls never do). They are not router
    /// targets, so they are not in `attempts` nor priced in `total_cost`.
    pub checker: Option<Box<nb_semantic::CheckerSpend>>,
    /// What the call waited for, in order (a retry's backoff, every target out of
    /// rotation, a reference briefly out of rotation): the part of its latency that was
    /// no upstream call.
    pub waits: Vec<WaitReport>,
}

/// Where and when an attempt ran, for its line in a report.
#[derive(Debug, Clone)]
pub(crate) struct AttemptAt {
    pub(crate) target: TargetId,
    pub(crate) started_after: Duration,
    pub(crate) latency: Duration,
    pub(crate) probe: bool,
    pub(crate) role: AttemptRole,
}

impl AttemptAt {
    /// The report line of this attempt, ended with `outcome`.
    pub(crate) fn line(
        self,
        outcome: AttemptOutcome,
        usage: Option<nb_core::Usage>,
    ) -> AttemptReport {
        AttemptReport {
            target: self.target,
            started_after: self.started_after,
            latency: self.latency,
            outcome,
            probe: self.probe,
            role: self.role,
            usage,
        }
    }
}

impl CallReport {
    /// How long the call waited in all ([`waits`](Self::waits)).
    pub fn waited(&self) -> Duration {
        self.waits.iter().map(|w| w.waited).sum()
    }

    /// Upstream calls made (attempts, hedges included).
    pub fn upstream_calls(&self) -> usize {
        self.attempts.len()
    }

    /// Who vouched for the answer that came back: the target whose answer agreed with
    /// it (a reference target, another serving target, the serving target itself asked
    /// again for self-consistency, or an earlier answer from the cache —
    /// [`VerdictReport::from_cache`]). `None` when the answer was not vouched for.
    pub fn vouched_by(&self) -> Option<&TargetId> {
        let vouched = matches!(
            self.check,
            AnswerCheck::Vouched | AnswerCheck::VouchedByReference | AnswerCheck::SelfConsistent
        );
        self.verdict
            .as_ref()
            .filter(|v| vouched && v.outcome == nb_semantic::EquivalenceOutcome::Equivalent)
            .map(|v| &v.reference)
    }

    /// What the vouching checker's own model calls spent ([`checker`](Self::checker)),
    /// zero when none was made.
    pub fn checker_spend(&self) -> nb_semantic::CheckerSpend {
        self.checker.as_deref().copied().unwrap_or_default()
    }

    /// Adds the line of an attempt that failed as `c` says, handled as `disposition`.
    pub(crate) fn failed(
        &mut self,
        at: AttemptAt,
        c: &Classification,
        disposition: Disposition,
        e: &CallError,
    ) {
        let outcome = AttemptOutcome::Failed {
            class: c.class,
            disposition,
            reason: c.reason.clone(),
            retry_after: c.retry_after,
            error: e.to_string(),
        };
        // A rejected answer was still paid for.
        let usage = match e.root() {
            CallError::Rejected(r) => r.response.usage,
            _ => None,
        };
        self.attempts.push(at.line(outcome, usage));
        if self.first_error.is_none() {
            self.first_error = Some(e.clone());
        }
        self.last_error = Some(e.clone());
    }
}

impl fmt::Display for CallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.served_by {
            Some(t) => write!(f, "served by {t}")?,
            None => write!(f, "not served")?,
        }
        write!(
            f,
            " after {} attempt(s) in {:?}",
            self.attempts.len(),
            self.elapsed
        )?;
        for a in &self.attempts {
            write!(
                f,
                "\n  {} +{:?} {:?}: ",
                a.target, a.started_after, a.latency
            )?;
            match &a.outcome {
                AttemptOutcome::Success => write!(f, "ok")?,
                AttemptOutcome::Failed {
                    class, disposition, ..
                } => write!(f, "{class} → {disposition}")?,
                AttemptOutcome::Cancelled => write!(f, "cancelled")?,
            }
        }
        Ok(())
    }
}

/// An answer and its report.
#[derive(Debug, Clone)]
pub struct Routed<T> {
    /// The answer.
    pub value: T,
    /// How it was obtained.
    pub report: CallReport,
}

/// Why a routed call returned no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteErrorKind {
    /// The request itself is wrong; no target will accept it.
    Aborted,
    /// Every candidate was tried (or the attempt limit reached) and none answered.
    Exhausted,
    /// No candidate could be called (all open, cooling down or paced) before the
    /// deadline.
    NoCandidate,
    /// The call's deadline passed.
    DeadlineExceeded,
    /// The retry budget is spent: traffic is failing broadly, and more attempts would
    /// only multiply the load.
    BudgetExhausted,
    /// The router has no target for this call (empty route, unknown route, tags no
    /// target has).
    NoRoute,
    /// A streamed answer broke after content had reached the caller.
    StreamBroken,
    /// A failover answer could not be vouched for: no independent answer agreed with it.
    /// The report holds the answers and the verdict.
    Unvouched,
}

impl RouteErrorKind {
    /// The kind's name in the `neuralbridge.calls` metric (`outcome` label): the
    /// variant's name in lower case (`budgetexhausted`, `unvouched`, ...).
    pub(crate) fn as_metric(self) -> &'static str {
        match self {
            Self::Aborted => "aborted",
            Self::Exhausted => "exhausted",
            Self::NoCandidate => "nocandidate",
            Self::DeadlineExceeded => "deadlineexceeded",
            Self::BudgetExhausted => "budgetexhausted",
            Self::NoRoute => "noroute",
            Self::StreamBroken => "streambroken",
            Self::Unvouched => "unvouched",
        }
    }
}

/// A routed call that returned no answer, with everything that was tried.
///
/// Opaque, as reqwest's errors are: ask it what went wrong ([`kind`](Self::kind)), when
/// the caller may come back ([`retry_after`](Self::retry_after)) and what was tried
/// ([`report`](Self::report)).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", describe(self))]
pub struct RouteError {
    kind: RouteErrorKind,
    /// When the earliest candidate comes back, where the router knew it.
    wait: Option<Duration>,
    pub(crate) report: Box<CallReport>,
}

fn describe(e: &RouteError) -> String {
    let what = match e.kind {
        RouteErrorKind::Aborted => "the request was rejected as invalid",
        RouteErrorKind::Exhausted => "every candidate failed",
        RouteErrorKind::NoCandidate => "no candidate is available",
        RouteErrorKind::DeadlineExceeded => "the call's deadline passed",
        RouteErrorKind::BudgetExhausted => "the retry budget is spent",
        RouteErrorKind::NoRoute => "no target serves this call",
        RouteErrorKind::StreamBroken => "the stream broke after content was delivered",
        RouteErrorKind::Unvouched => "a failover answer could not be vouched for",
    };
    let mut s = format!("{what} ({} attempt(s))", e.report.attempts.len());
    if let Some(d) = e.retry_after() {
        s.push_str(&format!("; earliest retry in {d:?}"));
    }
    if let Some(last) = &e.report.last_error {
        s.push_str(&format!("; last error: {last}"));
    }
    s
}

/// How long to come back after, when a failure says it will pass but not when.
const DEFAULT_WAIT: Duration = Duration::from_secs(1);

impl RouteError {
    pub(crate) fn new(kind: RouteErrorKind, report: CallReport) -> Self {
        Self {
            kind,
            wait: None,
            report: Box::new(report),
        }
    }

    /// The same error, saying when the earliest candidate comes back.
    pub(crate) fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = Some(wait);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> RouteErrorKind {
        self.kind
    }

    /// Everything that was tried.
    pub fn report(&self) -> &CallReport {
        &self.report
    }

    /// Everything that was tried, taken out of the error.
    pub fn into_report(self) -> CallReport {
        *self.report
    }

    /// The last provider error, if any attempt was made.
    pub fn last_error(&self) -> Option<&CallError> {
        self.report.last_error.as_ref()
    }

    /// When the caller may come back, for every kind; `None` when coming back with the
    /// same request will not help (it was invalid, its answer was refused, its stream
    /// broke) or nothing said it would pass (a deadline).
    ///
    /// - [`NoCandidate`](RouteErrorKind::NoCandidate): when the earliest target comes
    ///   back into rotation (one second when that is unknown);
    /// - [`BudgetExhausted`](RouteErrorKind::BudgetExhausted): when the router knew,
    ///   else one second;
    /// - [`Exhausted`](RouteErrorKind::Exhausted) whose attempts were *all* turned away
    ///   for capacity (rate limit, overload, quota): the shortest wait they or the
    ///   router named (one second when none did); any other failure among them: `None`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            RouteErrorKind::NoCandidate | RouteErrorKind::BudgetExhausted => {
                Some(self.wait.unwrap_or(DEFAULT_WAIT))
            }
            RouteErrorKind::Exhausted => self.capacity_wait(),
            _ => None,
        }
    }

    /// Every failed attempt was turned away for capacity: the shortest wait named.
    fn capacity_wait(&self) -> Option<Duration> {
        use nb_core::FailureClass as C;
        let mut waits = Vec::new();
        for a in &self.report.attempts {
            match &a.outcome {
                AttemptOutcome::Failed {
                    class: C::RateLimited | C::Overloaded | C::QuotaExhausted,
                    retry_after,
                    ..
                } => waits.extend(*retry_after),
                AttemptOutcome::Failed { .. } => return None,
                _ => {}
            }
        }
        let failed = self
            .report
            .attempts
            .iter()
            .any(|a| matches!(a.outcome, AttemptOutcome::Failed { .. }));
        failed.then(|| {
            waits
                .into_iter()
                .chain(self.wait)
                .min()
                .unwrap_or(DEFAULT_WAIT)
        })
    }

    /// The error as a single [`CallError`], for the [`Provider`](nb_core::Provider)
    /// interface. Each kind maps to one shape, so a router nested in another is
    /// classified for what happened:
    ///
    /// | kind | `CallError` |
    /// |---|---|
    /// | `NoCandidate` | `Unavailable { OutOfRotation, retry_after }` |
    /// | `BudgetExhausted` | `Unavailable { RetryBudgetSpent, retry_after }` |
    /// | `NoRoute` | `Unavailable { NoRoute }` |
    /// | `Exhausted`, all for capacity | `Unavailable { Capacity, retry_after }` |
    /// | `Exhausted` otherwise, `Aborted`, `StreamBroken` | the last provider error |
    /// | `Unvouched` | `Rejected` with a `NotEquivalent` violation and the answer |
    /// | `DeadlineExceeded` | a total timeout |
    pub fn into_call_error(self) -> CallError {
        use nb_core::Unavailability as U;
        let retry_after = self.retry_after();
        let unavailable = |reason| CallError::Unavailable {
            reason,
            retry_after,
        };
        match self.kind {
            RouteErrorKind::NoCandidate => unavailable(U::OutOfRotation),
            RouteErrorKind::BudgetExhausted => unavailable(U::RetryBudgetSpent),
            RouteErrorKind::NoRoute => unavailable(U::NoRoute),
            RouteErrorKind::Exhausted if retry_after.is_some() => unavailable(U::Capacity),
            RouteErrorKind::DeadlineExceeded => CallError::timeout(nb_core::TimeoutPhase::Total),
            RouteErrorKind::Exhausted
            | RouteErrorKind::Aborted
            | RouteErrorKind::StreamBroken
            | RouteErrorKind::Unvouched => match self.report.last_error {
                Some(e) => e,
                // Every kind above ends with an attempt's error; without one, nothing
                // answered at all.
                None => unavailable(U::OutOfRotation),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nb_core::Unavailability;

    fn failed(class: FailureClass, retry_after: Option<Duration>) -> AttemptReport {
        AttemptReport {
            target: TargetId::new("p", "m"),
            started_after: Duration::ZERO,
            latency: Duration::ZERO,
            outcome: AttemptOutcome::Failed {
                class,
                disposition: Disposition::FailOver,
                reason: "test".into(),
                retry_after,
                error: String::new(),
            },
            probe: false,
            role: AttemptRole::Answer,
            usage: None,
        }
    }

    fn exhausted(attempts: Vec<AttemptReport>) -> RouteError {
        let report = CallReport {
            attempts,
            last_error: Some(CallError::timeout(nb_core::TimeoutPhase::FirstByte)),
            ..CallReport::default()
        };
        RouteError::new(RouteErrorKind::Exhausted, report)
    }

    #[test]
    fn every_kind_answers_when_the_caller_may_come_back() {
        let s = Duration::from_secs;
        let out = RouteError::new(RouteErrorKind::NoCandidate, CallReport::default());
        assert_eq!(out.retry_after(), Some(s(1)), "unknown: one second");
        assert_eq!(out.with_wait(s(7)).retry_after(), Some(s(7)));
        let budget = RouteError::new(RouteErrorKind::BudgetExhausted, CallReport::default());
        assert_eq!(budget.retry_after(), Some(s(1)));
        // Every attempt turned away for capacity: the shortest wait named.
        let capacity = exhausted(vec![
            failed(FailureClass::RateLimited, Some(s(20))),
            failed(FailureClass::Overloaded, Some(s(3))),
            failed(FailureClass::QuotaExhausted, None),
        ]);
        assert_eq!(capacity.retry_after(), Some(s(3)));
        let unnamed = exhausted(vec![failed(FailureClass::Overloaded, None)]);
        assert_eq!(unnamed.retry_after(), Some(s(1)));
        // One failure of another kind: coming back will not help by itself.
        let mixed = exhausted(vec![
            failed(FailureClass::RateLimited, Some(s(2))),
            failed(FailureClass::ServerError, None),
        ]);
        assert_eq!(mixed.retry_after(), None);
        for kind in [
            RouteErrorKind::Aborted,
            RouteErrorKind::DeadlineExceeded,
            RouteErrorKind::NoRoute,
            RouteErrorKind::StreamBroken,
            RouteErrorKind::Unvouched,
        ] {
            let e = RouteError::new(kind, CallReport::default());
            assert_eq!(e.retry_after(), None, "{kind:?}");
        }
    }

    #[test]
    fn each_kind_becomes_one_call_error_with_a_typed_reason() {
        let unavailable = |e: RouteError| match e.into_call_error() {
            CallError::Unavailable { reason, .. } => Some(reason),
            _ => None,
        };
        let plain = |k| RouteError::new(k, CallReport::default());
        assert_eq!(
            unavailable(plain(RouteErrorKind::NoCandidate)),
            Some(Unavailability::OutOfRotation)
        );
        assert_eq!(
            unavailable(plain(RouteErrorKind::BudgetExhausted)),
            Some(Unavailability::RetryBudgetSpent)
        );
        assert_eq!(
            unavailable(plain(RouteErrorKind::NoRoute)),
            Some(Unavailability::NoRoute)
        );
        let capacity = exhausted(vec![failed(FailureClass::RateLimited, None)]);
        assert_eq!(unavailable(capacity), Some(Unavailability::Capacity));
        // Otherwise the last provider error, as it came.
        let mixed = exhausted(vec![failed(FailureClass::Timeout, None)]);
        assert!(matches!(mixed.into_call_error(), CallError::Transport(_)));
        assert!(matches!(
            plain(RouteErrorKind::DeadlineExceeded).into_call_error(),
            CallError::Transport(_)
        ));
    }
}
