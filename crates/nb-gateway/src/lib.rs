//! An OpenAI- and Anthropic-compatible HTTP gateway over the router: what `nb serve`
//! runs, and what another program can embed (it is an axum `Router`).
//!
//! Existing clients point their base URL here: `POST /v1/chat/completions` (OpenAI Chat
//! Completions, streamed and not) and `POST /v1/messages` (Anthropic Messages, streamed
//! and not) go through the same [`SmartRouter`] the library gives, so they fail over,
//! vouch and report like any routed call. A request's `model` names a route of the
//! config, or one target as `provider/model` (that target first, the others after it).
//!
//! Errors come in the caller's own format so the official clients' retry logic does the
//! right thing: every target cooling down is a 429 with `retry-after`; an answer nobody
//! could vouch for is a 502 whose error type says so (`x-should-retry: false`), never a
//! 200; the caller's invalid request is a 400. A caller may set `x-nb-vouch` (`always`,
//! `on-failover`, `off`, `sampled:0.1`) for its own call. Each answer carries `x-nb-served-by`,
//! `x-nb-attempts`, `x-nb-verdict` and `x-nb-request-id`; with `x-nb-report: full` the
//! whole call report comes back as JSON too (`nb_report` in the body).
//!
//! Also `GET /v1/models` (the routes), `GET /healthz`, `GET /readyz` (some target's
//! breaker is not open) and `GET /metrics` (Prometheus text of the router's metrics).
//! Shutdown is graceful: [`serve`] stops accepting when its signal fires and lets calls
//! in flight finish within a grace period.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use std::time::Duration;
//! use nb_gateway::{Gateway, Key, Settings, serve};
//! # let router: nb_router::SmartRouter = todo!();
//! let settings = Settings::new(vec!["default".into()])
//!     .with_key(Key::from_secret("billing-service", "a-long-random-key"));
//! let gateway = Arc::new(Gateway::new(router, settings, None));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! serve(listener, gateway, 8 << 20, Duration::from_secs(10), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await?;
//! # Ok(()) }
//! ```

mod anthropic;
mod openai;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use nb_breaker::{GovernorPacer, PaceLimits, Pacer as _, SystemClock};
use nb_core::{ChatRequest, ChatResponse, ChatStream, TargetId};
use nb_router::{AttemptOutcome, CallOptions, CallReport, RouteError, RouteErrorKind, SmartRouter};
use serde_json::{Value, json};

/// Which wire format a request came in, for its errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    OpenAi,
    Anthropic,
}

/// The gateway's state, shared by every request.
pub struct Gateway {
    router: SmartRouter,
    models: Vec<String>,
    /// A bare model name (`gpt-4o-mini`) and the route of the first target serving it.
    aliases: Vec<(String, String)>,
    keys: Vec<(String, [u8; 32])>,
    /// Per-caller request and token limits, keyed by `gateway-key/NAME`.
    pacer: GovernorPacer,
    /// Per-caller spend limits per day, and what each spent in its current day.
    spend_limits: HashMap<String, f64>,
    spent: Mutex<HashMap<String, (Instant, f64)>>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Callers allowed to ask for less vouching than their route's.
    may_weaken_vouch: std::collections::HashSet<String>,
    /// Cached answers are shared by every caller (else each key has its own).
    shared_cache: bool,
}

const DAY: Duration = Duration::from_secs(24 * 3600);

fn caller_id(name: &str) -> TargetId {
    TargetId::new("gateway-key", name)
}

/// A caller of the gateway: a name (for logs and limits; the key itself is never kept)
/// and the SHA-256 of its key, with optional limits.
#[derive(Clone)]
#[non_exhaustive]
pub struct Key {
    /// Who it is.
    pub name: String,
    /// The SHA-256 of the key.
    pub sha256: [u8; 32],
    /// Requests per minute it may send.
    pub requests_per_minute: Option<NonZeroU32>,
    /// Tokens per minute (prompt estimate plus `max_tokens`).
    pub tokens_per_minute: Option<NonZeroU32>,
    /// The most it may spend per day, in the targets' price currency.
    pub spend_per_day: Option<f64>,
    /// It may ask for *less* vouching than its route's with `x-nb-vouch` (any key may
    /// ask for more).
    pub may_weaken_vouch: bool,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key known by its SHA-256.
    pub fn new(name: impl Into<String>, sha256: [u8; 32]) -> Self {
        Self {
            name: name.into(),
            sha256,
            requests_per_minute: None,
            tokens_per_minute: None,
            spend_per_day: None,
            may_weaken_vouch: false,
        }
    }

    /// A key given in clear (from the environment, say); only its digest is kept.
    pub fn from_secret(name: impl Into<String>, key: &str) -> Self {
        use sha2::Digest as _;
        Self::new(name, sha2::Sha256::digest(key.as_bytes()).into())
    }

    /// Limits its requests and tokens per minute.
    pub fn with_pace(mut self, requests: Option<NonZeroU32>, tokens: Option<NonZeroU32>) -> Self {
        self.requests_per_minute = requests;
        self.tokens_per_minute = tokens;
        self
    }

    /// Limits its spend per day.
    pub fn with_spend_per_day(mut self, limit: Option<f64>) -> Self {
        self.spend_per_day = limit;
        self
    }

    /// Lets it ask for less vouching than its route's.
    pub fn with_may_weaken_vouch(mut self, may: bool) -> Self {
        self.may_weaken_vouch = may;
        self
    }
}

/// What the gateway serves and to whom.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Settings {
    /// The names a request's `model` may use: the router's routes.
    pub models: Vec<String>,
    /// Bare model names (`gpt-4o-mini`) and the route each stands for.
    pub aliases: Vec<(String, String)>,
    /// The callers; none: any caller (listen on loopback only, then).
    pub keys: Vec<Key>,
    /// Cached answers are shared by every caller. Off by default: each key has its own
    /// entries, so a hit tells a tenant nothing about what others asked.
    pub shared_cache: bool,
}

impl Settings {
    /// Serves these routes.
    pub fn new(models: Vec<String>) -> Self {
        Self {
            models,
            ..Self::default()
        }
    }

    /// Lets `model` stand for `route`.
    pub fn with_alias(mut self, model: impl Into<String>, route: impl Into<String>) -> Self {
        self.aliases.push((model.into(), route.into()));
        self
    }

    /// Adds a caller.
    pub fn with_key(mut self, key: Key) -> Self {
        self.keys.push(key);
        self
    }

    /// Sets `shared_cache`.
    pub fn with_shared_cache(mut self, shared: bool) -> Self {
        self.shared_cache = shared;
        self
    }
}

impl Gateway {
    /// A gateway over `router`. `metrics` renders `/metrics` (without one it is a 404).
    pub fn new(
        router: SmartRouter,
        settings: Settings,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Self {
        Self {
            router,
            models: settings.models,
            aliases: settings.aliases,
            pacer: GovernorPacer::new(
                settings
                    .keys
                    .iter()
                    .map(|k| {
                        let limits = PaceLimits {
                            requests_per_minute: k.requests_per_minute,
                            tokens_per_minute: k.tokens_per_minute,
                        };
                        (caller_id(&k.name), limits)
                    })
                    .collect(),
                Arc::new(SystemClock),
            ),
            may_weaken_vouch: settings
                .keys
                .iter()
                .filter(|k| k.may_weaken_vouch)
                .map(|k| k.name.clone())
                .collect(),
            shared_cache: settings.shared_cache,
            spend_limits: settings
                .keys
                .iter()
                .filter_map(|k| k.spend_per_day.map(|l| (k.name.clone(), l)))
                .collect(),
            keys: settings
                .keys
                .into_iter()
                .map(|k| (k.name, k.sha256))
                .collect(),
            spent: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    /// Whether it takes only known keys.
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The model names it serves.
    pub fn models(&self) -> &[String] {
        &self.models
    }

    /// The router behind it.
    pub fn router(&self) -> &SmartRouter {
        &self.router
    }

    /// Who is calling: the key's name, or `None` when the key is not one of ours. A
    /// gateway without keys takes any caller.
    fn caller(&self, headers: &HeaderMap) -> Option<String> {
        use sha2::Digest as _;
        if self.keys.is_empty() {
            return Some("anonymous".into());
        }
        let key = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        // The scheme is case-insensitive (RFC 9110 §11.1).
                        let (scheme, rest) = v.split_once(' ')?;
                        scheme.eq_ignore_ascii_case("bearer").then_some(rest)
                    })
            })?;
        let digest: [u8; 32] = sha2::Sha256::digest(key.trim().as_bytes()).into();
        self.keys
            .iter()
            .find(|(_, d)| constant_time_eq(d, &digest))
            .map(|(n, _)| n.clone())
    }

    /// Takes `caller`'s budget for `req`, or the 429 to send: its requests and tokens
    /// per minute, and its spend for the day. Nothing goes upstream when it is refused.
    fn admit(&self, caller: &str, req: &ChatRequest, format: Format) -> Result<(), Box<Response>> {
        let tokens =
            (req.prompt_chars() as u64).div_ceil(4) + u64::from(req.max_tokens.unwrap_or(256));
        let refuse = |what: &str, wait: Duration| {
            Box::new(error(
                format,
                StatusCode::TOO_MANY_REQUESTS,
                ErrorType::RateLimited,
                &format!("gateway key {caller:?} is over its {what}"),
                Some(wait),
            ))
        };
        if let Some(limit) = self.spend_limits.get(caller) {
            let spent = lock(&self.spent);
            if let Some((start, amount)) = spent.get(caller) {
                let left = DAY.saturating_sub(start.elapsed());
                if !left.is_zero() && amount >= limit {
                    return Err(refuse("spend per day", left));
                }
            }
        }
        self.pacer
            .try_acquire(
                &caller_id(caller),
                u32::try_from(tokens).unwrap_or(u32::MAX),
            )
            .map_err(|wait| refuse("requests or tokens per minute", wait))
    }

    /// Adds what a call cost to `caller`'s day.
    fn spend(&self, caller: &str, report: &CallReport) {
        let Some(cost) = report.total_cost.filter(|c| *c > 0.0) else {
            return;
        };
        if !self.spend_limits.contains_key(caller) {
            return;
        }
        let mut spent = lock(&self.spent);
        let e = spent
            .entry(caller.to_owned())
            .or_insert_with(|| (Instant::now(), 0.0));
        if e.0.elapsed() >= DAY {
            *e = (Instant::now(), 0.0);
        }
        e.1 += cost;
    }

    /// The call options for a request's `model`, or the error to send.
    fn options(&self, model: Option<&str>, format: Format) -> Result<CallOptions, Box<Response>> {
        match model {
            None | Some("") | Some("default") => Ok(CallOptions::default()),
            Some(m) if self.models.iter().any(|n| n == m) => {
                Ok(CallOptions::default().with_route(Some(m.to_owned())))
            }
            // A client that sends a bare model name gets the first target serving it.
            Some(m) if self.aliases.iter().any(|(a, _)| a == m) => Ok(CallOptions::default()
                .with_route(
                    self.aliases
                        .iter()
                        .find(|(a, _)| a == m)
                        .map(|(_, r)| r.clone()),
                )),
            Some(m) => Err(Box::new(error(
                format,
                StatusCode::NOT_FOUND,
                ErrorType::NotFound,
                &format!(
                    "model {m:?} is not a route of this gateway (available: {})",
                    self.models.join(", ")
                ),
                None,
            ))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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
        }
    }
}

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
    if let Some(d) = retry_after {
        let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        if let Ok(v) = HeaderValue::from_str(&d.as_millis().max(1).to_string()) {
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
    let message = e.to_string();
    // The error says when the caller may come back: every target out of rotation, the
    // budget spent, or every attempt turned away for capacity — a 429 with that wait.
    let retry = e.retry_after();
    let (status, kind) = match e.kind() {
        RouteErrorKind::Exhausted
        | RouteErrorKind::NoCandidate
        | RouteErrorKind::BudgetExhausted
            if retry.is_some() =>
        {
            (StatusCode::TOO_MANY_REQUESTS, ErrorType::RateLimited)
        }
        RouteErrorKind::Aborted => (StatusCode::BAD_REQUEST, ErrorType::InvalidRequest),
        RouteErrorKind::NoRoute => (StatusCode::NOT_FOUND, ErrorType::NotFound),
        RouteErrorKind::Unvouched => (StatusCode::BAD_GATEWAY, ErrorType::Unvouched),
        RouteErrorKind::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, ErrorType::Timeout),
        _ => (StatusCode::BAD_GATEWAY, ErrorType::Upstream),
    };
    let retry = retry.filter(|_| status == StatusCode::TOO_MANY_REQUESTS);
    let mut r = error(format, status, kind, &message, retry);
    report_headers(r.headers_mut(), e.report(), request_id);
    r
}

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

/// `always`, `on-failover`, `off` or `sampled:0.1`.
fn vouch_mode(v: &str) -> Option<nb_router::VouchMode> {
    use nb_router::VouchMode;
    match v.trim() {
        "always" => Some(VouchMode::Always),
        "on-failover" => Some(VouchMode::OnFailover),
        "off" => Some(VouchMode::Off),
        other => other
            .strip_prefix("sampled:")
            .and_then(|p| p.parse::<f64>().ok())
            .filter(|p| (0.0..=1.0).contains(p))
            .map(VouchMode::Sampled),
    }
}

/// The items of the array at `key` in `v`, numbered (none when it is absent).
pub(crate) fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// The strings of an array (other items skipped).
pub(crate) fn strings(a: &[Value]) -> Vec<String> {
    a.iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
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

/// Checks the caller's key; `Err` is the 401 to send.
pub(crate) fn authorize(
    g: &Gateway,
    headers: &HeaderMap,
    format: Format,
) -> Result<String, Box<Response>> {
    g.caller(headers).ok_or_else(|| {
        Box::new(error(
            format,
            StatusCode::UNAUTHORIZED,
            ErrorType::Authentication,
            "the gateway does not know this key (send it as `Authorization: Bearer KEY` or `x-api-key: KEY`)",
            None,
        ))
    })
}

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
    serde_json::from_slice(&body).map_err(|e| {
        Box::new(error(
            format,
            StatusCode::BAD_REQUEST,
            ErrorType::InvalidRequest,
            &format!("the body is not JSON: {e}"),
            None,
        ))
    })
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

/// One wire format's translation, for the request flow both endpoints share.
#[derive(Clone, Copy)]
pub(crate) struct Wire {
    pub(crate) format: Format,
    /// The request body as the router's request.
    pub(crate) parse: fn(&Value) -> Result<ChatRequest, String>,
    /// An answer as the format's response body (`id`, `model`).
    pub(crate) render: fn(&ChatResponse, &str, &str) -> Value,
    /// A committed stream as the format's SSE response (`id`, `model`, the request).
    pub(crate) stream: fn(ChatStream, String, String, &Value) -> Response,
}

/// The flow of both endpoints: key, body, request, route; then the routed call, streamed
/// or not, with the report in the headers (and the body on request).
pub(crate) async fn handle(
    g: Arc<Gateway>,
    headers: HeaderMap,
    body: Body,
    wire: Wire,
) -> Response {
    let f = wire.format;
    let caller = match authorize(&g, &headers, f) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let v = match parse_json(body, f) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let req = match (wire.parse)(&v) {
        Ok(r) => r,
        Err(e) => return bad_request(f, &e),
    };
    let model = v
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let opts = match g.options(Some(&model), f) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    let opts = match caller_vouching(&g, &headers, &caller, opts, f) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    if let Err(r) = g.admit(&caller, &req, f) {
        return *r;
    }
    let call = Prepared {
        caller,
        req,
        opts,
        body: v,
        model,
        id: request_id(),
    };
    let response = dispatch(&g, &headers, &call, &wire).await;
    tracing::info!(
        request_id = %call.id,
        caller = %call.caller,
        model = %call.model,
        status = response.status().as_u16(),
        served_by = response
            .headers()
            .get("x-nb-served-by")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("-"),
        "request"
    );
    response
}

/// The call's options with what the caller asked of vouching: `x-nb-vouch` may ask for
/// more checking than the route's mode, and for less only from a key allowed to;
/// `x-nb-require-equivalence: true` refuses any answer nothing could vouch for. The
/// cache is scoped to the caller unless shared on purpose.
fn caller_vouching(
    g: &Gateway,
    headers: &HeaderMap,
    caller: &str,
    mut opts: CallOptions,
    f: Format,
) -> Result<CallOptions, Box<Response>> {
    if !g.shared_cache {
        opts = opts.with_cache_scope(Some(caller.to_owned()));
    }
    if let Some(v) = headers.get("x-nb-vouch") {
        let Some(mode) = v.to_str().ok().and_then(vouch_mode) else {
            return Err(Box::new(bad_request(
                f,
                "x-nb-vouch: one of always, on-failover, off, sampled:SHARE (0 to 1)",
            )));
        };
        let route_mode = g.router.vouch_mode_of(&opts);
        if vouch_strength(mode) < vouch_strength(route_mode) && !g.may_weaken_vouch.contains(caller)
        {
            return Err(Box::new(error(
                f,
                StatusCode::FORBIDDEN,
                ErrorType::Permission,
                &format!(
                    "x-nb-vouch: this key may not ask for less vouching than its route's ({})",
                    vouch_name(route_mode)
                ),
                None,
            )));
        }
        opts = opts.with_vouch(Some(mode));
    }
    match headers
        .get("x-nb-require-equivalence")
        .map(|v| v.to_str().map(str::trim))
    {
        None | Some(Ok("false")) => {}
        Some(Ok("true")) => opts = opts.require_equivalence(),
        Some(_) => {
            return Err(Box::new(bad_request(
                f,
                "x-nb-require-equivalence: true or false",
            )));
        }
    }
    Ok(opts)
}

/// How much checking a vouching mode asks for, to compare a caller's with a route's.
fn vouch_strength(m: nb_router::VouchMode) -> f64 {
    use nb_router::VouchMode;
    match m {
        VouchMode::Off => 0.0,
        VouchMode::OnFailover => 1.0,
        VouchMode::Sampled(p) => 1.0 + p.clamp(0.0, 1.0),
        _ => 3.0,
    }
}

fn vouch_name(m: nb_router::VouchMode) -> String {
    use nb_router::VouchMode;
    match m {
        VouchMode::Off => "off".into(),
        VouchMode::OnFailover => "on-failover".into(),
        VouchMode::Sampled(p) => format!("sampled:{p}"),
        _ => "always".into(),
    }
}

/// A request ready to route: who sent it, what it asks, where it goes.
struct Prepared {
    caller: String,
    req: ChatRequest,
    opts: CallOptions,
    body: Value,
    model: String,
    id: String,
}

/// The routed call of one request, streamed or not, as the response to send.
async fn dispatch(g: &Gateway, headers: &HeaderMap, call: &Prepared, wire: &Wire) -> Response {
    let f = wire.format;
    let id = &call.id;
    if call.body.get("stream").and_then(Value::as_bool) == Some(true) {
        return match g.router.stream_with(&call.req, &call.opts).await {
            Ok(routed) => {
                g.spend(&call.caller, &routed.report);
                let mut r = (wire.stream)(routed.value, id.clone(), call.model.clone(), &call.body);
                report_headers(r.headers_mut(), &routed.report, id);
                r
            }
            Err(e) => {
                g.spend(&call.caller, e.report());
                route_error(f, &e, id)
            }
        };
    }
    match g.router.chat_with(&call.req, &call.opts).await {
        Ok(routed) => {
            g.spend(&call.caller, &routed.report);
            let mut body = (wire.render)(&routed.value, id, &call.model);
            if wants_report(headers) {
                body["nb_report"] = report_json(&routed.report);
            }
            let mut r = axum::Json(body).into_response();
            report_headers(r.headers_mut(), &routed.report, id);
            r
        }
        Err(e) => {
            g.spend(&call.caller, e.report());
            route_error(f, &e, id)
        }
    }
}

async fn models(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&g, &headers, Format::OpenAi) {
        return *r;
    }
    let data: Vec<Value> = g
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "neuralbridge"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(g): State<Arc<Gateway>>) -> Response {
    use nb_breaker::BreakerState;
    let targets: Vec<(String, BreakerState)> = g
        .router
        .targets()
        .map(|t| (t.to_string(), g.router.health(t).breaker))
        .collect();
    let ready = targets.iter().any(|(_, b)| *b != BreakerState::Open);
    let body = json!({
        "ready": ready,
        "targets": targets.iter().map(|(t, b)| json!({"target": t, "breaker": b.to_string()})).collect::<Vec<_>>(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(g): State<Arc<Gateway>>) -> Response {
    match &g.metrics {
        Some(h) => ([("content-type", "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (StatusCode::NOT_FOUND, "no metrics recorder in this process").into_response(),
    }
}

type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

/// The gateway's HTTP routes, with a request body limit of `max_body` bytes.
pub fn app(g: Arc<Gateway>, max_body: usize) -> Router {
    Router::new()
        .route(
            "/v1/chat/completions",
            post(|g: State<Arc<Gateway>>, h: HeaderMap, b: Body| handle(g.0, h, b, openai::WIRE)),
        )
        .route(
            "/v1/messages",
            post(|g: State<Arc<Gateway>>, h: HeaderMap, b: Body| {
                handle(g.0, h, b, anthropic::WIRE)
            }),
        )
        .route("/v1/models", get(models))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(g)
}

/// Serves `g` on `listener` until `shutdown` resolves, then lets in-flight calls finish
/// for at most `grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    g: Arc<Gateway>,
    max_body: usize,
    grace: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut rx2 = rx.clone();
    let server = axum::serve(listener, app(g, max_body)).with_graceful_shutdown(async move {
        let _ = rx.wait_for(|s| *s).await;
    });
    tokio::select! {
        r = server => r.map_err(|e| format!("the gateway stopped: {e}")),
        () = async move {
            let _ = rx2.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            eprintln!("nb serve: calls still in flight after the {grace:?} grace period were dropped");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vouch_header_takes_each_mode_and_nothing_else() {
        use nb_router::VouchMode;
        assert_eq!(vouch_mode("always"), Some(VouchMode::Always));
        assert_eq!(vouch_mode(" off "), Some(VouchMode::Off));
        assert_eq!(vouch_mode("on-failover"), Some(VouchMode::OnFailover));
        assert_eq!(vouch_mode("sampled:0.25"), Some(VouchMode::Sampled(0.25)));
        for bad in ["sampled:2", "sampled:x", "yes", ""] {
            assert_eq!(vouch_mode(bad), None, "{bad}");
        }
    }
}
