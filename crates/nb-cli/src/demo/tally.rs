//! What the demo measured: per client, per phase, per call, and the breakers' moves.
//! The demo fills it in; the table, the JSON summary and the HTML report read it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

/// One client's tally.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientTally {
    /// The client's name.
    pub name: String,
    /// Calls made.
    pub calls: u64,
    /// Answers the simulator's truth says are correct.
    pub correct: u64,
    /// Wrong or unusable answers returned as successes.
    pub silent_corruptions: u64,
    /// Calls that ended in an explicit error.
    pub explicit_errors: u64,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency, milliseconds.
    pub p99_ms: f64,
    /// HTTP requests sent upstream.
    pub upstream_calls: u64,
    /// Upstream requests per call (cost).
    pub upstream_per_call: f64,
    /// Answers served by another target than the first choice.
    pub failovers: u64,
}

/// Counts of one client in one phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Counts {
    /// Calls.
    pub calls: u64,
    /// Correct answers.
    pub correct: u64,
    /// Silent corruptions.
    pub silent: u64,
    /// Explicit errors.
    pub errors: u64,
}

/// One phase of the story.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseTally {
    /// Its caption.
    pub name: String,
    /// Start, seconds.
    pub from_s: f64,
    /// End, seconds.
    pub to_s: f64,
    /// The blind-retry client.
    pub blind: Counts,
    /// neuralbridge.
    pub neuralbridge: Counts,
    /// neuralbridge's 99th percentile latency in this phase, milliseconds.
    pub neuralbridge_p99_ms: f64,
    /// What neuralbridge's calls in this phase waited for (the part of their latency
    /// that was no upstream call), by reason: `retry`, `all-out-of-rotation`,
    /// `reference`.
    pub neuralbridge_waits: BTreeMap<&'static str, WaitTally>,
    /// neuralbridge's answers in this phase that nobody could vouch for (served
    /// flagged).
    pub neuralbridge_unvouchable: u64,
}

/// The waits of one reason in one phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WaitTally {
    /// Calls that waited for it.
    pub calls: u64,
    /// Their waits in all, milliseconds.
    pub total_ms: f64,
    /// The longest, milliseconds.
    pub max_ms: f64,
    /// The targets waited for, by how often.
    pub targets: BTreeMap<String, u64>,
}

/// How one call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// Correct.
    Correct,
    /// Wrong (or empty) but returned as a success.
    Silent,
    /// An explicit error.
    Error,
}

/// One call, for the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct CallMark {
    /// When it was issued, seconds since the start.
    pub t_s: f64,
    /// `"blind"` or `"neuralbridge"`.
    pub client: &'static str,
    /// How it ended.
    pub grade: Grade,
    /// Its latency, milliseconds.
    pub latency_ms: f64,
    /// The provider that answered, if one did.
    pub served_by: Option<String>,
}

/// A breaker transition, for the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct BreakerMark {
    /// When, seconds since the start.
    pub t_s: f64,
    /// The target.
    pub target: String,
    /// The state before.
    pub from: String,
    /// The state after.
    pub to: String,
}

/// Everything the demo measured.
#[derive(Debug, Clone, Serialize)]
pub struct DemoResult {
    /// The seed.
    pub seed: u64,
    /// The story's length, seconds.
    pub duration_s: f64,
    /// The blind-retry client.
    pub blind: ClientTally,
    /// neuralbridge.
    pub neuralbridge: ClientTally,
    /// Per phase.
    pub phases: Vec<PhaseTally>,
    /// Breaker transitions.
    pub breaker_transitions: Vec<BreakerMark>,
    /// Every call.
    pub calls: Vec<CallMark>,
    /// The HTML report, if one was written.
    pub report: Option<PathBuf>,
}
