//! The call report as Python objects: who served, what failed before, how the answer was
//! checked, what it cost. Fields are read from the Rust report when asked for.

use neuralbridge::core::{AnswerCheck, Usage};
use neuralbridge::router::{AttemptOutcome, AttemptRole, CallReport, VerdictReport};
use neuralbridge::semantic::EquivalenceOutcome as Outcome;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::secs;

/// What one call did: attempts, the target that served, the check, tokens and cost.
#[pyclass(module = "neuralbridge._native", name = "Report", frozen)]
pub(crate) struct PyReport {
    pub(crate) inner: CallReport,
}

impl PyReport {
    pub(crate) fn new(inner: CallReport) -> Self {
        Self { inner }
    }
}

pub(crate) fn check_name(c: AnswerCheck) -> &'static str {
    c.as_str()
}

fn role_name(r: AttemptRole) -> &'static str {
    match r {
        AttemptRole::Answer => "answer",
        AttemptRole::Hedge => "hedge",
        AttemptRole::Repair => "repair",
        AttemptRole::Vouch => "vouch",
        _ => "other",
    }
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Equivalent => "equivalent",
        Outcome::NotEquivalent => "not-equivalent",
        Outcome::Undecided => "undecided",
    }
}

#[pymethods]
impl PyReport {
    /// The target that served the answer (`"provider/model"`), or `None`.
    #[getter]
    fn served_by(&self) -> Option<String> {
        self.inner.served_by.as_ref().map(ToString::to_string)
    }

    /// Whether the answer came from another target than the first choice.
    #[getter]
    fn failed_over(&self) -> bool {
        self.inner.failed_over
    }

    /// Every attempt, in order (answers, retries, repairs, hedges, vouching references).
    #[getter]
    fn attempts(&self) -> Vec<PyAttempt> {
        self.inner.attempts.iter().map(PyAttempt::new).collect()
    }

    /// The equivalence verdict that vouched for (or against) the answer, or `None`.
    #[getter]
    fn verdict(&self) -> Option<PyVerdict> {
        self.inner.verdict.as_ref().map(PyVerdict::new)
    }

    /// How the answer was checked: `first-choice`, `vouched`, `vouched-by-reference`,
    /// `self-consistent`, `unchecked` or `unvouchable`.
    #[getter]
    fn check(&self) -> &'static str {
        check_name(self.inner.check)
    }

    /// Who vouched for the answer (`"provider/model"`; the serving target itself for
    /// `self-consistent`), or `None` when nobody did.
    #[getter]
    fn vouched_by(&self) -> Option<String> {
        match self.inner.check {
            AnswerCheck::Vouched | AnswerCheck::VouchedByReference => {
                self.inner.verdict.as_ref().map(|v| v.reference.to_string())
            }
            AnswerCheck::SelfConsistent => self.served_by(),
            _ => None,
        }
    }

    /// Tokens of the served answer, or `None` when the provider did not say.
    #[getter]
    fn usage(&self) -> Option<PyUsage> {
        self.inner.usage.map(PyUsage)
    }

    /// Tokens of every attempt together (failed ones and vouching references included).
    #[getter]
    fn total_usage(&self) -> PyUsage {
        PyUsage(self.inner.total_usage())
    }

    /// The served answer's cost in dollars, when the target has a price.
    #[getter]
    fn cost(&self) -> Option<f64> {
        self.inner.cost
    }

    /// The cost of every attempt together, when priced.
    #[getter]
    fn total_cost(&self) -> Option<f64> {
        self.inner.total_cost
    }

    /// Seconds from the call's start to its answer.
    #[getter]
    fn elapsed(&self) -> f64 {
        secs(self.inner.elapsed)
    }

    /// Re-asks of a target told what its answer broke.
    #[getter]
    fn repairs(&self) -> u32 {
        self.inner.repairs
    }

    /// Whether the answer came from the response cache.
    #[getter]
    fn cache_hit(&self) -> bool {
        self.inner.cache_hit
    }

    /// Targets not tried, with why: `[("provider/model", "breaker open for 2s"), ...]`.
    #[getter]
    fn skipped(&self) -> Vec<(String, String)> {
        self.inner
            .skipped
            .iter()
            .map(|(t, r)| (t.to_string(), r.to_string()))
            .collect()
    }

    /// The first error met, as text, or `None`.
    #[getter]
    fn first_error(&self) -> Option<String> {
        self.inner.first_error.as_ref().map(ToString::to_string)
    }

    /// The last error met, as text, or `None`.
    #[getter]
    fn last_error(&self) -> Option<String> {
        self.inner.last_error.as_ref().map(ToString::to_string)
    }

    /// The report as plain dicts and lists (for logs and JSON).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("served_by", self.served_by())?;
        d.set_item("failed_over", self.failed_over())?;
        d.set_item("check", self.check())?;
        d.set_item("vouched_by", self.vouched_by())?;
        let attempts = self
            .attempts()
            .iter()
            .map(|a| a.to_dict(py))
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("attempts", attempts)?;
        d.set_item(
            "verdict",
            self.verdict().map(|v| v.to_dict(py)).transpose()?,
        )?;
        d.set_item("usage", self.usage().map(|u| u.to_dict(py)).transpose()?)?;
        d.set_item("cost", self.cost())?;
        d.set_item("elapsed", self.elapsed())?;
        d.set_item("repairs", self.repairs())?;
        d.set_item("cache_hit", self.cache_hit())?;
        Ok(d)
    }

    fn __str__(&self) -> String {
        self.inner.to_string()
    }

    fn __repr__(&self) -> String {
        format!(
            "Report(served_by={}, failed_over={}, check={:?}, attempts={})",
            py_opt(self.served_by()),
            py_bool(self.inner.failed_over),
            self.check(),
            self.inner.attempts.len()
        )
    }
}

fn py_opt(s: Option<String>) -> String {
    s.map_or_else(|| "None".into(), |s| format!("{s:?}"))
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// One attempt on one target.
#[pyclass(module = "neuralbridge._native", name = "Attempt", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct PyAttempt {
    /// `"provider/model"`.
    target: String,
    /// Why it was sent: `answer`, `hedge`, `repair` or `vouch`.
    role: &'static str,
    /// `ok`, `failed` or `cancelled`.
    outcome: &'static str,
    /// The failure class (`rate_limited`, `server_error`, ...) when it failed.
    failure_class: Option<String>,
    /// What the router did next (`retry`, `fail over`, ...) when it failed.
    disposition: Option<String>,
    /// The classifier's reason, when it failed.
    reason: Option<String>,
    /// The error, as text, when it failed.
    error: Option<String>,
    /// Seconds the server asked to wait, when it did.
    retry_after: Option<f64>,
    /// Seconds after the call's start it was sent.
    started_after: f64,
    /// Seconds it took.
    latency: f64,
    /// Whether it was a half-open breaker's probe.
    probe: bool,
}

impl PyAttempt {
    fn new(a: &neuralbridge::router::AttemptReport) -> Self {
        let mut out = Self {
            target: a.target.to_string(),
            role: role_name(a.role),
            outcome: "ok",
            failure_class: None,
            disposition: None,
            reason: None,
            error: None,
            retry_after: None,
            started_after: secs(a.started_after),
            latency: secs(a.latency),
            probe: a.probe,
        };
        match &a.outcome {
            AttemptOutcome::Success => {}
            AttemptOutcome::Failed {
                class,
                disposition,
                reason,
                retry_after,
                error,
            } => {
                out.outcome = "failed";
                out.failure_class = Some(class.as_str().to_owned());
                out.disposition = Some(disposition.to_string());
                out.reason = Some(reason.to_string());
                out.error = Some(error.clone());
                out.retry_after = retry_after.map(secs);
            }
            _ => out.outcome = "cancelled",
        }
        out
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("target", &self.target)?;
        d.set_item("role", self.role)?;
        d.set_item("outcome", self.outcome)?;
        d.set_item("failure_class", &self.failure_class)?;
        d.set_item("disposition", &self.disposition)?;
        d.set_item("retry_after", self.retry_after)?;
        d.set_item("latency", self.latency)?;
        Ok(d)
    }
}

#[pymethods]
impl PyAttempt {
    fn __repr__(&self) -> String {
        match &self.failure_class {
            Some(c) => format!(
                "Attempt({:?}, {}, {:?}, latency={:.4})",
                self.target, self.role, c, self.latency
            ),
            None => format!(
                "Attempt({:?}, {}, {:?}, latency={:.4})",
                self.target, self.role, self.outcome, self.latency
            ),
        }
    }
}

/// An equivalence verdict: the answer compared with an independent target's.
#[pyclass(module = "neuralbridge._native", name = "Verdict", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct PyVerdict {
    /// `equivalent`, `not-equivalent` or `undecided`.
    outcome: &'static str,
    /// How it was decided (`numeric`, `label`, `json`, ...).
    method: &'static str,
    /// A score, when the method has one.
    score: Option<f64>,
    /// Why.
    reason: String,
    /// The target whose answer it was compared with (`"provider/model"`).
    reference: String,
}

impl PyVerdict {
    fn new(v: &VerdictReport) -> Self {
        Self {
            outcome: outcome_name(v.outcome),
            method: v.method,
            score: v.score,
            reason: v.reason.clone(),
            reference: v.reference.to_string(),
        }
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("outcome", self.outcome)?;
        d.set_item("method", self.method)?;
        d.set_item("score", self.score)?;
        d.set_item("reason", &self.reason)?;
        d.set_item("reference", &self.reference)?;
        Ok(d)
    }
}

#[pymethods]
impl PyVerdict {
    fn __repr__(&self) -> String {
        format!(
            "Verdict({:?}, method={:?}, reference={:?})",
            self.outcome, self.method, self.reference
        )
    }
}

/// Token counts.
#[pyclass(module = "neuralbridge._native", name = "Usage", frozen)]
#[derive(Clone, Copy)]
pub(crate) struct PyUsage(pub(crate) Usage);

impl PyUsage {
    fn to_dict<'py>(self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("input_tokens", self.0.input_tokens)?;
        d.set_item("output_tokens", self.0.output_tokens)?;
        d.set_item("cached_tokens", self.0.cached_tokens)?;
        d.set_item("reasoning_tokens", self.0.reasoning_tokens)?;
        Ok(d)
    }
}

#[pymethods]
impl PyUsage {
    /// Prompt tokens.
    #[getter]
    fn input_tokens(&self) -> u64 {
        self.0.input_tokens
    }

    /// Answer tokens.
    #[getter]
    fn output_tokens(&self) -> u64 {
        self.0.output_tokens
    }

    /// Prompt tokens read from the provider's cache, when it says.
    #[getter]
    fn cached_tokens(&self) -> Option<u64> {
        self.0.cached_tokens
    }

    /// Reasoning tokens, when the provider says.
    #[getter]
    fn reasoning_tokens(&self) -> Option<u64> {
        self.0.reasoning_tokens
    }

    /// Input and output together.
    #[getter]
    fn total_tokens(&self) -> u64 {
        self.0.input_tokens + self.0.output_tokens
    }

    fn __repr__(&self) -> String {
        format!(
            "Usage(input_tokens={}, output_tokens={})",
            self.0.input_tokens, self.0.output_tokens
        )
    }
}
