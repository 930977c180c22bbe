//! The request flow both endpoints share.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use nb_core::ChatRequest;
use nb_router::CallOptions;
use serde_json::Value;

use crate::Format;
use crate::Gateway;
use crate::auth::authorize;
use crate::error::{ErrorType, Reason, bad_request, error, route_error};
use crate::ledger::Reservation;
use crate::report::{report_headers, report_json, request_id, wants_report};
use crate::vouch::caller_vouching;
use crate::wire::{Wire, until_closing};

/// A request body, or why it could not be read.
pub(crate) type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

/// Parses a JSON body; `Err` is the 400 (or 413) to send.
pub(crate) fn parse_json(
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
    format: Format,
) -> Result<Value, Box<Response>> {
    let body = body.map_err(|e| {
        let status = e.status();
        let kind = if status == StatusCode::PAYLOAD_TOO_LARGE {
            ErrorType::TooLarge
        } else {
            ErrorType::InvalidRequest
        };
        Box::new(error(
            format,
            status,
            kind,
            &format!("cannot read the body: {}", e.body_text()),
            None,
        ))
    })?;
    // UTF-8 checked once over the body, then read as text: serde_json checks a byte
    // slice string by string. A body that is not UTF-8 is read as bytes, for its error.
    match std::str::from_utf8(&body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(&body),
    }
    .map_err(|e| {
        Box::new(error(
            format,
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            &format!("the body is not JSON: {e}"),
            None,
        ))
    })
}

/// The flow of both endpoints: key, body, request, route; then the routed call, streamed
/// or not, with the report in the headers (and the body on request).
pub(crate) async fn handle(
    g: Arc<Gateway>,
    headers: HeaderMap,
    body: Body,
    wire: Wire,
) -> Response {
    let started = std::time::Instant::now();
    let mut seen = Seen::default();
    let response = flow(g, headers, body, wire, &mut seen).await;
    // One line per request, refused ones included.
    let h = response.headers();
    let header = |name: &HeaderName| h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("-");
    let reason = response
        .extensions()
        .get::<Reason>()
        .map_or("-", |r| r.0.as_str());
    let route = match (&seen.model, seen.routed) {
        (Some(m), true) => m.clone(),
        _ => "-".into(),
    };
    let key = seen.caller.clone().unwrap_or_else(|| "-".into());
    let status = status_label(response.status());
    metrics::counter!("nb_gateway_requests", "status" => status.clone(), "route" => route.clone(), "key" => key)
        .increment(1);
    metrics::histogram!("nb_gateway_request_duration", "status" => status, "route" => route)
        .record(started.elapsed().as_secs_f64());
    tracing::info!(
        request_id = %LogText(header(&crate::report::REQUEST_ID)),
        caller = %LogText(seen.caller.as_deref().unwrap_or("-")),
        route = %LogText(seen.model.as_deref().unwrap_or("-")),
        status = response.status().as_u16(),
        reason = %LogText(reason),
        served_by = %LogText(header(&crate::report::SERVED_BY)),
        verdict = %LogText(header(&crate::report::VERDICT)),
        latency_ms = started.elapsed().as_secs_f64() * 1e3,
        "request"
    );
    response
}

/// A string as the log line shows it: control characters escaped (`\n`, `\u{1b}`) — so a
/// value a caller chose (the model it named, which an error message may repeat) or an
/// upstream sent cannot start a forged line or drive a terminal with escape codes — and
/// cut to its first 256 characters (`…` marks the cut). Nothing else changes: the JSON
/// logs get the value itself, the text logs write it as tracing-subscriber writes any
/// displayed value.
pub(crate) struct LogText<'a>(pub(crate) &'a str);

impl std::fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        const MAX: usize = 256;
        let s = self.0;
        if s.len() <= MAX && !s.chars().any(char::is_control) {
            return f.write_str(s);
        }
        for (i, c) in s.chars().enumerate() {
            if i == MAX {
                return f.write_char('…');
            }
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

/// A status as a metric label: the ones the gateway answers with are static strings.
fn status_label(status: StatusCode) -> metrics::SharedString {
    let known = match status.as_u16() {
        200 => "200",
        400 => "400",
        401 => "401",
        402 => "402",
        403 => "403",
        404 => "404",
        408 => "408",
        413 => "413",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return other.to_string().into(),
    };
    metrics::SharedString::const_str(known)
}

/// What the log line can say of a request, as far as it got.
#[derive(Default)]
struct Seen {
    caller: Option<String>,
    /// The model the caller named (for the log line, whatever it was).
    model: Option<String>,
    /// Whether `model` named one of the gateway's routes: only then is it a metric
    /// label (a label a caller can choose freely would grow the metrics without bound).
    routed: bool,
}

async fn flow(
    g: Arc<Gateway>,
    headers: HeaderMap,
    body: Body,
    wire: Wire,
    seen: &mut Seen,
) -> Response {
    let f = wire.format;
    let caller = match authorize(&g, &headers, f) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    seen.caller = Some(caller.clone());
    let v = match parse_json(body, f) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let mut req = match (wire.parse)(&v) {
        Ok(r) => r,
        Err(e) => return bad_request(f, &e),
    };
    let model = match v.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => {
            return bad_request(
                f,
                "`model` is required: a route of this gateway, or provider/model",
            );
        }
    };
    seen.model = Some(model.clone());
    let opts = match g.options(Some(&model), f) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    seen.routed = true;
    let opts = match caller_vouching(&g, &headers, &caller, opts, f) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    if g.limits
        .get(&caller)
        .is_some_and(|l| l.spend_per_day.is_some())
    {
        // A call's worst case must be known to hold it.
        req.max_tokens.get_or_insert(g.default_max_tokens);
    }
    let reservation = match g.admit(&caller, &req, &opts, f).await {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let call = Prepared {
        req,
        opts,
        body: v,
        model,
        id: request_id(),
    };
    dispatch(&g, &headers, &call, &wire, reservation).await
}

/// A request ready to route: who sent it, what it asks, where it goes.
struct Prepared {
    req: ChatRequest,
    opts: CallOptions,
    body: Value,
    model: String,
    id: String,
}

/// The routed call of one request, streamed or not, as the response to send.
async fn dispatch(
    g: &Gateway,
    headers: &HeaderMap,
    call: &Prepared,
    wire: &Wire,
    reservation: Option<Reservation>,
) -> Response {
    let f = wire.format;
    let id = &call.id;
    if call.body.get("stream").and_then(Value::as_bool) == Some(true) {
        return match g.router.stream_with(&call.req, &call.opts).await {
            Ok(routed) => {
                let stream = until_closing(routed.value, g.closing.subscribe());
                let stream = g.settle_stream(stream, reservation, &routed.report);
                let model = served_model(&routed.report, &call.model);
                let mut r = (wire.stream)(stream, id.clone(), model, &call.body);
                report_headers(r.headers_mut(), &routed.report, id);
                r
            }
            Err(e) => {
                Gateway::settle(reservation, e.report());
                route_error(f, &e, id)
            }
        };
    }
    match g.router.chat_with(&call.req, &call.opts).await {
        Ok(routed) => {
            Gateway::settle(reservation, &routed.report);
            let model = served_model(&routed.report, &call.model);
            let report = wants_report(headers).then(|| report_json(&routed.report));
            let body = (wire.render)(&routed.value, id, &model, report);
            let mut r = (
                [(
                    axum::http::header::CONTENT_TYPE,
                    axum::http::HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response();
            report_headers(r.headers_mut(), &routed.report, id);
            r
        }
        Err(e) => {
            Gateway::settle(reservation, e.report());
            route_error(f, &e, id)
        }
    }
}

/// The model that answered (not the route the caller named, unless nothing answered).
fn served_model(report: &nb_router::CallReport, asked: &str) -> String {
    report
        .served_by
        .as_ref()
        .map_or_else(|| asked.to_owned(), |t| t.model().to_owned())
}

#[cfg(test)]
mod tests {
    use super::LogText;

    #[test]
    fn log_text_escapes_control_characters_and_cuts_long_values() {
        for plain in [
            "fast",
            "openai/gpt-4o-mini",
            "model \"nope\" is not a route",
            "café",
        ] {
            assert_eq!(LogText(plain).to_string(), plain);
        }
        let forged = "x\n2026-12-06T05:00:00Z  INFO request caller=admin \u{1b}[31m\u{85}\r\t";
        let shown = LogText(forged).to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(
            shown,
            r"x\n2026-12-06T05:00:00Z  INFO request caller=admin \u{1b}[31m\u{85}\r\t"
        );
        // Long values are cut at 256 characters, on a character boundary.
        let long = "é".repeat(1000);
        assert_eq!(LogText(&long).to_string(), format!("{}…", "é".repeat(256)));
        assert_eq!(LogText(&"é".repeat(256)).to_string(), "é".repeat(256));
    }
}
