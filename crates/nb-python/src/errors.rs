//! Failures as the exception classes of `neuralbridge.errors`: one class per way a call
//! can end without an answer, and per failure class when every candidate failed.

use neuralbridge::core::FailureClass;
use neuralbridge::router::{AttemptOutcome, CallReport, RouteError, RouteErrorKind};
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::report::PyReport;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Builds `neuralbridge.errors.<class>(message)` with its attributes set.
pub(crate) fn raise(
    py: Python<'_>,
    class: &str,
    message: String,
    attrs: &[(&str, Bound<'_, PyAny>)],
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module =
            ERRORS.get_or_try_init(py, || py.import("neuralbridge.errors").map(Bound::unbind))?;
        let exc = module.bind(py).getattr(class)?.call1((message.clone(),))?;
        for (k, v) in attrs {
            exc.setattr(*k, v)?;
        }
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// A configuration that cannot be used.
pub(crate) fn config(py: Python<'_>, message: impl Into<String>) -> PyErr {
    raise(py, "ConfigError", message.into(), &[])
}

/// The exception class a failure class maps to.
fn class_of(c: FailureClass) -> &'static str {
    match c {
        FailureClass::Timeout => "Timeout",
        FailureClass::RateLimited => "RateLimited",
        FailureClass::QuotaExhausted => "QuotaExhausted",
        FailureClass::Overloaded => "Overloaded",
        FailureClass::ServerError => "ServerError",
        FailureClass::Network => "NetworkError",
        FailureClass::InvalidModel | FailureClass::EndpointNotFound => "InvalidModel",
        FailureClass::AuthFailure => "AuthFailure",
        FailureClass::ContextTooLong => "ContextTooLong",
        FailureClass::ContentFiltered => "ContentFiltered",
        FailureClass::InvalidRequest => "InvalidRequest",
        FailureClass::MalformedResponse => "MalformedResponse",
        FailureClass::SchemaViolation => "SchemaViolation",
        FailureClass::SemanticOutOfBounds => "SemanticOutOfBounds",
        _ => "ProviderError",
    }
}

fn kind_name(k: RouteErrorKind) -> &'static str {
    match k {
        RouteErrorKind::Aborted => "aborted",
        RouteErrorKind::Exhausted => "exhausted",
        RouteErrorKind::NoCandidate => "no_candidate",
        RouteErrorKind::DeadlineExceeded => "deadline_exceeded",
        RouteErrorKind::BudgetExhausted => "budget_exhausted",
        RouteErrorKind::NoRoute => "no_route",
        RouteErrorKind::StreamBroken => "stream_broken",
        RouteErrorKind::Unvouched => "unvouched",
        _ => "other",
    }
}

/// The class of the last failed attempt.
fn last_failure(r: &CallReport) -> Option<FailureClass> {
    r.attempts.iter().rev().find_map(|a| match &a.outcome {
        AttemptOutcome::Failed { class, .. } => Some(*class),
        _ => None,
    })
}

/// A router failure as the matching exception, with `report`, `retry_after`, `kind` and
/// `failure_class`.
pub(crate) fn route(py: Python<'_>, e: RouteError) -> PyErr {
    let message = e.to_string();
    let kind = e.kind();
    let retry_after = e.retry_after().map(|d| d.as_secs_f64());
    let failure = last_failure(e.report());
    let class = match kind {
        RouteErrorKind::Unvouched => "Unvouched",
        RouteErrorKind::DeadlineExceeded => "DeadlineExceeded",
        RouteErrorKind::NoCandidate | RouteErrorKind::NoRoute | RouteErrorKind::BudgetExhausted => {
            "Unavailable"
        }
        RouteErrorKind::StreamBroken => "StreamBroken",
        _ => failure.map_or("ProviderError", class_of),
    };
    with_report(
        py,
        class,
        message,
        kind_name(kind),
        retry_after,
        failure,
        e.into_report(),
        None,
    )
}

/// A stream that broke after content reached the caller.
pub(crate) fn stream_broken(
    py: Python<'_>,
    message: String,
    partial: String,
    failure: Option<FailureClass>,
    report: CallReport,
) -> PyErr {
    with_report(
        py,
        "StreamBroken",
        message,
        "stream_broken",
        None,
        failure,
        report,
        Some(partial),
    )
}

#[allow(clippy::too_many_arguments)]
fn with_report(
    py: Python<'_>,
    class: &str,
    message: String,
    kind: &str,
    retry_after: Option<f64>,
    failure: Option<FailureClass>,
    report: CallReport,
    partial: Option<String>,
) -> PyErr {
    let report = match Bound::new(py, PyReport::new(report)) {
        Ok(r) => r.into_any(),
        Err(e) => return e,
    };
    let mut attrs = vec![
        ("report", report),
        ("kind", opt(py, Some(kind))),
        ("retry_after", opt(py, retry_after)),
        ("failure_class", opt(py, failure.map(|c| c.as_str()))),
    ];
    if let Some(p) = partial {
        attrs.push(("partial", opt(py, Some(p))));
    }
    raise(py, class, message, &attrs)
}

fn opt<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: Option<T>) -> Bound<'py, PyAny> {
    v.and_then(|v| v.into_bound_py_any(py).ok())
        .unwrap_or_else(|| py.None().into_bound(py))
}
