//! The call's report for the caller: `x-nb-*` headers, and JSON on request.

use axum::http::{HeaderMap, HeaderValue};
use nb_router::{AttemptOutcome, CallReport};
use serde_json::{Value, json};

/// `x-nb-*` headers from a call's report.
pub(crate) fn report_headers(h: &mut HeaderMap, report: &CallReport, request_id: &str) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    };
    if let Some(t) = &report.served_by {
        set("x-nb-served-by", t.to_string());
    }
    set("x-nb-attempts", report.attempts.len().to_string());
    // How far the answer was checked: `equivalent` (vouched for), `first-choice`,
    // `unchecked` (a failover answer with vouching off), `unvouchable` (nothing could
    // vouch; served flagged). A refusal says the verdict that refused it, or `none`.
    let verdict = match (&report.served_by, report.check, &report.verdict) {
        (Some(_), nb_router::AnswerCheck::Vouched, _) => "equivalent".to_owned(),
        (Some(_), check, _) => check.as_str().to_owned(),
        (None, _, Some(v)) => format!("{:?}", v.outcome).to_lowercase(),
        (None, _, None) => "none".to_owned(),
    };
    set("x-nb-verdict", verdict);
    set("x-nb-failed-over", report.failed_over.to_string());
    set(
        "x-nb-cache",
        if report.cache_hit { "hit" } else { "miss" }.to_owned(),
    );
    set("x-nb-request-id", request_id.to_owned());
}

/// A call's report as JSON (`x-nb-report: full`).
pub(crate) fn report_json(report: &CallReport) -> Value {
    json!({
        "served_by": report.served_by.as_ref().map(ToString::to_string),
        "failed_over": report.failed_over,
        "elapsed_ms": report.elapsed.as_secs_f64() * 1e3,
        "attempts": report.attempts.iter().map(|a| json!({
            "target": a.target.to_string(),
            "role": format!("{:?}", a.role).to_lowercase(),
            "started_after_ms": a.started_after.as_secs_f64() * 1e3,
            "latency_ms": a.latency.as_secs_f64() * 1e3,
            "outcome": match &a.outcome {
                AttemptOutcome::Success => json!("success"),
                AttemptOutcome::Failed { class, disposition, reason, .. } => json!({
                    "failed": class.as_str(),
                    "disposition": disposition.to_string(),
                    "reason": reason,
                }),
                other => json!(format!("{other:?}").to_lowercase()),
            },
        })).collect::<Vec<_>>(),
        "skipped": report.skipped.iter().map(|(t, why)| json!({
            "target": t.to_string(),
            "reason": format!("{why:?}"),
        })).collect::<Vec<_>>(),
        "verdict": report.verdict.as_ref().map(|v| json!({
            "outcome": format!("{:?}", v.outcome).to_lowercase(),
            "method": v.method,
            "reason": v.reason,
            "reference": v.reference.to_string(),
        })),
        "cost": report.cost,
        "total_cost": report.total_cost,
    })
}

pub(crate) fn wants_report(headers: &HeaderMap) -> bool {
    headers
        .get("x-nb-report")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("full"))
}

pub(crate) fn request_id() -> String {
    use rand::Rng as _;
    let n: u128 = rand::rng().random();
    format!("nb-{n:032x}")
}
