//! Errors in the caller's format, and the gateway's own.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use nb_core::FailureClass;
use nb_router::{AttemptOutcome, CallReport, RouteError, RouteErrorKind, SkipReason};
use serde_json::{Value, json};

use crate::Format;
use crate::report::report_headers;

/// The gateway could not serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The server stopped with an I/O error.
    #[error("the gateway stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// What kind of error a response is, named in each format's own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorType {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    RateLimited,
    Unvouched,
    Upstream,
    Timeout,
    TooLarge,
    ContextTooLong,
}

impl ErrorType {
    fn openai(self) -> (&'static str, &'static str) {
        match self {
            Self::InvalidRequest => ("invalid_request_error", "invalid_request"),
            Self::Authentication => ("authentication_error", "invalid_api_key"),
            Self::Permission => ("permission_error", "permission_denied"),
            Self::NotFound => ("invalid_request_error", "model_not_found"),
            Self::RateLimited => ("rate_limit_error", "all_targets_cooling_down"),
            Self::Unvouched => ("unvouched_answer", "unvouched_answer"),
            Self::Upstream => ("server_error", "upstream_failed"),
            Self::Timeout => ("timeout_error", "deadline_exceeded"),
            Self::TooLarge => ("invalid_request_error", "request_too_large"),
            Self::ContextTooLong => ("invalid_request_error", "context_length_exceeded"),
        }
    }

    fn anthropic(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request_error",
            Self::Authentication => "authentication_error",
            Self::Permission => "permission_error",
            Self::NotFound => "not_found_error",
            Self::RateLimited => "rate_limit_error",
            Self::Unvouched => "unvouched_answer",
            Self::Upstream => "api_error",
            Self::Timeout => "timeout_error",
            Self::TooLarge => "request_too_large",
            Self::ContextTooLong => "invalid_request_error",
        }
    }
}

/// Why a request was refused, for its log line.
#[derive(Debug, Clone)]
pub(crate) struct Reason(pub(crate) String);

/// The error body of `format`.
pub(crate) fn error_body(format: Format, kind: ErrorType, message: &str) -> Value {
    match format {
        Format::OpenAi => {
            let (t, code) = kind.openai();
            json!({"error": {"message": message, "type": t, "param": null, "code": code}})
        }
        Format::Anthropic => {
            json!({"type": "error", "error": {"type": kind.anthropic(), "message": message}})
        }
    }
}

/// An error response in `format`, with `retry-after` when given.
pub(crate) fn error(
    format: Format,
    status: StatusCode,
    kind: ErrorType,
    message: &str,
    retry_after: Option<Duration>,
) -> Response {
    let mut r = (status, axum::Json(error_body(format, kind, message))).into_response();
    // For the request's log line.
    r.extensions_mut().insert(Reason(message.to_owned()));
    if let Some(d) = retry_after {
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        if let Ok(v) = HeaderValue::from_str(&d.as_nanos().div_ceil(1_000_000).max(1).to_string()) {
            r.headers_mut().insert("retry-after-ms", v);
        }
    }
    if kind == ErrorType::Unvouched {
        // Asking again at once meets the same disagreement: the caller decides.
        r.headers_mut()
            .insert("x-should-retry", HeaderValue::from_static("false"));
    }
    r
}

/// A routed call's failure as the caller's format says it.
pub(crate) fn route_error(format: Format, e: &RouteError, request_id: &str) -> Response {
    // The full text (with what providers said) goes to the log only; the caller gets the
    // class and a short message in its own format.
    let full = e.to_string();
    let report = e.report();
    let last_class = report
        .attempts
        .iter()
        .rev()
        .find_map(|a| match &a.outcome {
            AttemptOutcome::Failed { class, .. } => Some(class.as_str()),
            _ => None,
        })
        .unwrap_or("none");
    // The error says when the caller may come back: every target out of rotation, the
    // budget spent, or every attempt turned away for capacity — a 429 with that wait.
    let retry = e.retry_after();
    let (status, kind, message) = match e.kind() {
        _ if too_long_everywhere(report) => (
            StatusCode::BAD_REQUEST,
            ErrorType::ContextTooLong,
            "the prompt is longer than the context window of every target of this route".to_owned(),
        ),
        RouteErrorKind::Exhausted | RouteErrorKind::NoCandidate | RouteErrorKind::BudgetExhausted
            if retry.is_some() =>
        {
            (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorType::RateLimited,
                "every target of this route is busy or cooling down: retry after the time in retry-after".to_owned(),
            )
        }
        RouteErrorKind::Aborted => (
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            format!("the provider refused the request as invalid ({last_class})"),
        ),
        RouteErrorKind::NoRoute => (StatusCode::NOT_FOUND, ErrorType::NotFound, full.clone()),
        RouteErrorKind::Unvouched => (
            StatusCode::BAD_GATEWAY,
            ErrorType::Unvouched,
            "no answer could be vouched for: the targets disagreed or none could check it".to_owned(),
        ),
        RouteErrorKind::DeadlineExceeded => (
            StatusCode::GATEWAY_TIMEOUT,
            ErrorType::Timeout,
            "the call's deadline passed before any target answered".to_owned(),
        ),
        _ => (
            StatusCode::BAD_GATEWAY,
            ErrorType::Upstream,
            format!("every target of this route failed (last: {last_class})"),
        ),
    };
    let retry = retry.filter(|_| status == StatusCode::TOO_MANY_REQUESTS);
    let message = format!("{message} (request {request_id})");
    let mut r = error(format, status, kind, &message, retry);
    r.extensions_mut().insert(Reason(full));
    report_headers(r.headers_mut(), report, request_id);
    r
}

/// Whether every candidate was passed over or refused for the prompt's length: a 400 the
/// caller must fix, not a failure worth retrying.
fn too_long_everywhere(report: &CallReport) -> bool {
    let attempts = report.attempts.iter().all(|a| {
        matches!(
            &a.outcome,
            AttemptOutcome::Failed {
                class: FailureClass::ContextTooLong,
                ..
            }
        )
    });
    let skipped = report
        .skipped
        .iter()
        .all(|(_, why)| matches!(why, SkipReason::WindowTooSmall { .. }));
    (!report.attempts.is_empty() || !report.skipped.is_empty()) && attempts && skipped
}

pub(crate) fn bad_request(format: Format, message: &str) -> Response {
    error(
        format,
        StatusCode::BAD_REQUEST,
        ErrorType::InvalidRequest,
        message,
        None,
    )
}
