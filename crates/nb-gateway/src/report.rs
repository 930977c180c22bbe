//! The call's report for the caller: `x-nb-*` headers, and JSON on request.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use nb_router::{AttemptOutcome, AttemptRole, CallReport, SkipReason};
use serde_json::{Value, json};

// The headers' names, checked once at compile time rather than on every answer (the
// request's log line reads three of them back).
pub(crate) const SERVED_BY: HeaderName = HeaderName::from_static("x-nb-served-by");
pub(crate) const ATTEMPTS: HeaderName = HeaderName::from_static("x-nb-attempts");
pub(crate) const VERDICT: HeaderName = HeaderName::from_static("x-nb-verdict");
pub(crate) const VOUCHED_BY: HeaderName = HeaderName::from_static("x-nb-vouched-by");
pub(crate) const FAILED_OVER: HeaderName = HeaderName::from_static("x-nb-failed-over");
pub(crate) const CACHE: HeaderName = HeaderName::from_static("x-nb-cache");
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-nb-request-id");

/// `provider/model[@credential]` as a header value, written without the formatting
/// machinery (this runs for every answer).
fn target_value(prefix: &str, t: &nb_core::TargetId) -> Option<HeaderValue> {
    let credential = t.credential();
    let mut s = String::with_capacity(
        prefix.len()
            + t.provider().len()
            + 1
            + t.model().len()
            + credential.map_or(0, |c| c.len() + 1),
    );
    s.push_str(prefix);
    s.push_str(t.provider());
    s.push('/');
    s.push_str(t.model());
    if let Some(c) = credential {
        s.push('@');
        s.push_str(c);
    }
    HeaderValue::try_from(s).ok()
}

/// `x-nb-*` headers from a call's report.
pub(crate) fn report_headers(h: &mut HeaderMap, report: &CallReport, request_id: &str) {
    // Every answer carries these: static names, static values where there are a few, the
    // rest built straight into the header's bytes (no `String` per header, then a copy).
    h.reserve(7);
    if let Some(v) = report.served_by.as_ref().and_then(|t| target_value("", t)) {
        h.insert(SERVED_BY, v);
    }
    h.insert(ATTEMPTS, HeaderValue::from(report.attempts.len()));
    // How far the answer was checked: `equivalent` (vouched for), `first-choice`,
    // `unchecked` (a failover answer with vouching off), `unvouchable` (nothing could
    // vouch; served flagged). A refusal says the verdict that refused it, or `none`.
    let verdict = match (&report.served_by, report.check, &report.verdict) {
        (Some(_), nb_router::AnswerCheck::Vouched, _) => "equivalent",
        (Some(_), check, _) => check.as_str(),
        (None, _, Some(v)) => outcome_name(v.outcome),
        (None, _, None) => "none",
    };
    h.insert(VERDICT, HeaderValue::from_static(verdict));
    // Who vouched: a target's id, prefixed `cache:` when the reference was its earlier
    // answer from the cache.
    if let (Some(t), Some(v)) = (report.vouched_by(), &report.verdict) {
        let from = if v.from_cache { "cache:" } else { "" };
        if let Some(v) = target_value(from, t) {
            h.insert(VOUCHED_BY, v);
        }
    }
    h.insert(
        FAILED_OVER,
        HeaderValue::from_static(if report.failed_over { "true" } else { "false" }),
    );
    h.insert(
        CACHE,
        HeaderValue::from_static(if report.cache_hit { "hit" } else { "miss" }),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert(REQUEST_ID, v);
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

#[cfg(test)]
mod tests {
    use super::*;
    use nb_core::TargetId;

    #[test]
    fn a_target_header_reads_as_the_target_displays() {
        for t in [
            TargetId::new("openai", "gpt-4o-mini"),
            TargetId::new("anthropic", "claude-sonnet-4-5").with_credential("team-b"),
        ] {
            assert_eq!(target_value("", &t).unwrap(), t.to_string().as_str());
            assert_eq!(
                target_value("cache:", &t).unwrap(),
                format!("cache:{t}").as_str()
            );
        }
    }
}
