//! The call's report for the caller: `x-nb-*` headers, and JSON on request.

use axum::http::{HeaderMap, HeaderValue};
use nb_router::{AttemptOutcome, AttemptRole, CallReport, SkipReason};
use serde_json::{Value, json};

/// `x-nb-*` headers from a call's report.
pub(crate) fn report_headers(h: &mut HeaderMap, report: &CallReport, request_id: &str) {
    // Every answer carries these: static values where there are a few, the rest built
    // straight into the header's bytes (no `String` per header, then a copy).
    if let Some(t) = &report.served_by {
        if let Ok(v) = HeaderValue::try_from(t.to_string()) {
            h.insert("x-nb-served-by", v);
        }
    }
    h.insert("x-nb-attempts", HeaderValue::from(report.attempts.len()));
    // How far the answer was checked: `equivalent` (vouched for), `first-choice`,
    // `unchecked` (a failover answer with vouching off), `unvouchable` (nothing could
    // vouch; served flagged). A refusal says the verdict that refused it, or `none`.
    let verdict = match (&report.served_by, report.check, &report.verdict) {
        (Some(_), nb_router::AnswerCheck::Vouched, _) => "equivalent",
        (Some(_), check, _) => check.as_str(),
        (None, _, Some(v)) => outcome_name(v.outcome),
        (None, _, None) => "none",
    };
    h.insert("x-nb-verdict", HeaderValue::from_static(verdict));
    // Who vouched: a target's id, prefixed `cache:` when the reference was its earlier
    // answer from the cache.
    if let (Some(t), Some(v)) = (report.vouched_by(), &report.verdict) {
        let from = if v.from_cache { "cache:" } else { "" };
        if let Ok(v) = HeaderValue::try_from(format!("{from}{t}")) {
            h.insert("x-nb-vouched-by", v);
        }
    }
    h.insert(
        "x-nb-failed-over",
        HeaderValue::from_static(if report.failed_over { "true" } else { "false" }),
    );
    h.insert(
        "x-nb-cache",
        HeaderValue::from_static(if report.cache_hit { "hit" } else { "miss" }),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-nb-request-id", v);
    }
}

/// A call's report as JSON (`x-nb-report: full`).
pub(crate) fn report_json(report: &CallReport) -> Value {
    json!({
        "served_by": report.served_by.as_ref().map(ToString::to_string),
        "failed_over": report.failed_over,
        "elapsed_ms": report.elapsed.as_secs_f64() * 1e3,
        "attempts": report.attempts.iter().map(|a| json!({
            "target": a.target.to_string(),
            "role": role_name(a.role),
            "started_after_ms": a.started_after.as_secs_f64() * 1e3,
            "latency_ms": a.latency.as_secs_f64() * 1e3,
            "outcome": match &a.outcome {
                AttemptOutcome::Success => json!("success"),
                AttemptOutcome::Failed { class, disposition, reason, .. } => json!({
                    "failed": class.as_str(),
                    "disposition": disposition.to_string(),
                    "reason": reason,
                }),
                AttemptOutcome::Cancelled => json!("cancelled"),
                _ => json!("other"),
            },
        })).collect::<Vec<_>>(),
        "skipped": report.skipped.iter().map(|(t, why)| json!({
            "target": t.to_string(),
            "reason": skip_name(why),
            "detail": why.to_string(),
        })).collect::<Vec<_>>(),
        "verdict": report.verdict.as_ref().map(|v| json!({
            "outcome": outcome_name(v.outcome),
            "method": v.method,
            "reason": v.reason,
            "reference": v.reference.to_string(),
            "from_cache": v.from_cache,
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

/// A verdict's outcome as the headers and the report JSON name it.
fn outcome_name(o: nb_semantic::EquivalenceOutcome) -> &'static str {
    match o {
        nb_semantic::EquivalenceOutcome::Equivalent => "equivalent",
        nb_semantic::EquivalenceOutcome::NotEquivalent => "notequivalent",
        nb_semantic::EquivalenceOutcome::Undecided => "undecided",
    }
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

fn skip_name(r: &SkipReason) -> &'static str {
    match r {
        SkipReason::CoolingDown { .. } => "cooling_down",
        SkipReason::BreakerOpen { .. } => "breaker_open",
        SkipReason::Paced { .. } => "paced",
        SkipReason::WindowTooSmall { .. } => "window_too_small",
        SkipReason::CannotTake { .. } => "cannot_take",
        SkipReason::Distrusted => "distrusted",
        SkipReason::LastResort => "last_resort",
        SkipReason::UnknownRoute => "unknown_route",
        _ => "other",
    }
}
