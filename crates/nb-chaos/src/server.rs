//! The HTTP server: one listener per simulated provider, fault selection, stats.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::scenario::{
    Fault, FaultKind, Personality, ProviderSpec, Scenario, ToolCalls, ToolRule, WireFormat,
};
use crate::tasks::{Answer, Task};
use crate::wire::{self, Ending, ErrorKind, Frame, Incoming, StreamEnd, ToolUse, ToolWant};

/// What one request to one provider met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestRecord {
    /// The request's number at this provider (0-based).
    pub n: u64,
    /// When it arrived, in milliseconds since the server started.
    pub at_ms: u64,
    /// The model asked for.
    pub model: String,
    /// Whether it asked for a stream.
    pub stream: bool,
    /// The outcome fault injected, if any (modifiers are counted in `faults` only).
    pub fault: Option<String>,
    /// The status sent.
    pub status: u16,
}

/// Counts for one provider.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderStats {
    /// Requests received (connections refused during an outage never arrive).
    pub requests: u64,
    /// Requests by model.
    pub by_model: BTreeMap<String, u64>,
    /// Faults injected, by kind (including `unauthorized` for a wrong key and
    /// `context_length` for an oversized prompt).
    pub faults: BTreeMap<String, u64>,
    /// Responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Responses sent to the end.
    pub completed: u64,
    /// Requests whose client went away before the response ended.
    pub cancelled: u64,
    /// Images and documents received in well-formed requests.
    pub media_parts: u64,
    /// Answers that called a tool.
    pub tool_calls: u64,
    /// Requests recognised as a judge's or an entailment model's question (see the
    /// crate docs); `faults["wrong_verdict"]` counts those answered wrong.
    pub judge_requests: u64,
    /// Every request, in arrival order (the most recent 100 000).
    pub log: VecDeque<RequestRecord>,
}

const LOG_CAP: usize = 100_000;

struct ProviderState {
    spec: ProviderSpec,
    addr: SocketAddr,
    counter: AtomicU64,
    manual_down: AtomicBool,
    epoch: watch::Sender<u64>,
    stats: Mutex<ProviderStats>,
}

struct Shared {
    seed: u64,
    start: Instant,
    providers: Vec<ProviderState>,
}

impl Shared {
    fn elapsed_s(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn stats(&self, idx: usize) -> MutexGuard<'_, ProviderStats> {
        // A poisoned lock only means a panic elsewhere; the counts are still usable.
        self.providers[idx]
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_down(&self, idx: usize) -> bool {
        let p = &self.providers[idx];
        let t = self.elapsed_s();
        p.manual_down.load(Ordering::Relaxed)
            || p.spec
                .faults
                .iter()
                .any(|f| f.kind == FaultKind::Outage && f.window.is_some_and(|w| w.contains(t)))
    }
}

/// A cheap, cloneable view of a running server: base URLs, stats, outage switch.
#[derive(Clone)]
pub struct ChaosHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for ChaosHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaosHandle")
            .field(
                "providers",
                &self
                    .shared
                    .providers
                    .iter()
                    .map(|p| (&p.spec.name, p.addr))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl ChaosHandle {
    fn index(&self, name: &str) -> Option<usize> {
        self.shared
            .providers
            .iter()
            .position(|p| p.spec.name == name)
    }

    /// The base URL of provider `name` (`http://127.0.0.1:PORT`), to which the format's
    /// paths are appended (`/v1/chat/completions`, `/v1/messages`, `/v1beta/models/...`).
    pub fn base_url(&self, name: &str) -> Option<String> {
        self.index(name)
            .map(|i| format!("http://{}", self.shared.providers[i].addr))
    }

    /// The socket address of provider `name`.
    pub fn addr(&self, name: &str) -> Option<SocketAddr> {
        self.index(name).map(|i| self.shared.providers[i].addr)
    }

    /// A snapshot of provider `name`'s counts.
    pub fn stats(&self, name: &str) -> Option<ProviderStats> {
        self.index(name).map(|i| self.shared.stats(i).clone())
    }

    /// Requests provider `name` received so far.
    pub fn requests(&self, name: &str) -> u64 {
        self.index(name)
            .map_or(0, |i| self.shared.stats(i).requests)
    }

    /// Every provider's counts, by name.
    pub fn all_stats(&self) -> BTreeMap<String, ProviderStats> {
        (0..self.shared.providers.len())
            .map(|i| {
                (
                    self.shared.providers[i].spec.name.clone(),
                    self.shared.stats(i).clone(),
                )
            })
            .collect()
    }

    /// Clears every provider's counts (request numbering goes on).
    pub fn reset_stats(&self) {
        for i in 0..self.shared.providers.len() {
            *self.shared.stats(i) = ProviderStats::default();
        }
    }

    /// Takes provider `name` down (connections refused, open ones dropped) or back up.
    pub fn set_down(&self, name: &str, down: bool) {
        if let Some(i) = self.index(name) {
            self.shared.providers[i]
                .manual_down
                .store(down, Ordering::Relaxed);
        }
    }

    /// Seconds since the server started (the clock of scenario windows).
    pub fn elapsed(&self) -> Duration {
        self.shared.start.elapsed()
    }
}

/// A running simulator. Dropping it stops every listener and connection.
pub struct ChaosServer {
    handle: ChaosHandle,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// The server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ChaosError {
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::ScenarioError),
    /// A port could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl ChaosServer {
    /// Starts one loopback listener per provider of `scenario`.
    pub async fn start(scenario: Scenario) -> Result<Self, ChaosError> {
        scenario.validate()?;
        let mut listeners = Vec::new();
        let mut providers = Vec::new();
        for spec in scenario.providers {
            let want = SocketAddr::from(([127, 0, 0, 1], spec.port.unwrap_or(0)));
            let l = bind(want).map_err(|source| ChaosError::Bind { addr: want, source })?;
            let addr = l
                .local_addr()
                .map_err(|source| ChaosError::Bind { addr: want, source })?;
            listeners.push(l);
            providers.push(ProviderState {
                spec,
                addr,
                counter: AtomicU64::new(0),
                manual_down: AtomicBool::new(false),
                epoch: watch::channel(0).0,
                stats: Mutex::new(ProviderStats::default()),
            });
        }
        let shared = Arc::new(Shared {
            seed: scenario.seed,
            start: Instant::now(),
            providers,
        });
        let (shutdown, _) = watch::channel(false);
        let tasks = listeners
            .into_iter()
            .enumerate()
            .map(|(idx, l)| tokio::spawn(accept_loop(shared.clone(), idx, l, shutdown.subscribe())))
            .collect();
        Ok(Self {
            handle: ChaosHandle { shared },
            shutdown,
            tasks,
        })
    }

    /// The handle to this server.
    pub fn handle(&self) -> ChaosHandle {
        self.handle.clone()
    }

    /// Shorthand for `handle().base_url(name)`.
    pub fn base_url(&self, name: &str) -> Option<String> {
        self.handle.base_url(name)
    }

    /// Stops listening, drops every connection, and waits for the tasks to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for ChaosServer {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    idx: usize,
    first: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let addr = shared.providers[idx].addr;
    let router = axum::Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(Ctx {
            shared: shared.clone(),
            idx,
        });
    let mut listener = Some(first);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let down = shared.is_down(idx);
        if down && listener.is_some() {
            // Close the socket (new connections are refused) and drop open ones.
            listener = None;
            shared.providers[idx].epoch.send_modify(|e| *e += 1);
        } else if !down && listener.is_none() {
            listener = bind(addr).ok();
        }
        let Some(l) = &listener else {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
                _ = shutdown.changed() => return,
            }
            continue;
        };
        tokio::select! {
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let svc = TowerToHyperService::new(router.clone());
                let mut epoch = shared.providers[idx].epoch.subscribe();
                let mut stop = shutdown.clone();
                tokio::spawn(async move {
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let conn = builder.serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = epoch.changed() => {}
                        _ = stop.changed() => {}
                    }
                });
            }
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    idx: usize,
}

/// Counts a request as cancelled if it is dropped before it completes.
struct InFlight {
    shared: Arc<Shared>,
    idx: usize,
    done: bool,
}

impl InFlight {
    fn complete(mut self) {
        self.done = true;
        self.shared.stats(self.idx).completed += 1;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if !self.done {
            self.shared.stats(self.idx).cancelled += 1;
        }
    }
}

fn mix(seed: u64, idx: usize, n: u64) -> u64 {
    // splitmix64 over the three inputs: independent streams per provider and request.
    let mut z = seed
        ^ (idx as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ n.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct Plan<'a> {
    outcome: Option<&'a Fault>,
    extra_delay_ms: u64,
    keep_alives: Option<(u32, u64)>,
    tokens_per_second: f64,
}

fn plan<'a>(spec: &'a ProviderSpec, rng: &mut ChaCha8Rng, t: f64, n: u64, model: &str) -> Plan<'a> {
    let mut p = Plan {
        outcome: None,
        extra_delay_ms: 0,
        keep_alives: None,
        tokens_per_second: spec.tokens_per_second,
    };
    for f in &spec.faults {
        if f.kind == FaultKind::Outage {
            continue;
        }
        let applies = f.window.is_none_or(|w| w.contains(t))
            && f.requests.is_none_or(|r| r.contains(n))
            && (f.models.is_empty() || f.models.iter().any(|m| m == model));
        // Draw for every applicable fault so one fault's presence never shifts another's.
        let fires = applies && rng.random::<f64>() < f.probability;
        if !fires {
            continue;
        }
        match f.kind {
            FaultKind::LatencySpike => p.extra_delay_ms += f.delay_ms.unwrap_or(500),
            FaultKind::KeepAlive => {
                p.keep_alives = Some((f.count.unwrap_or(3), f.delay_ms.unwrap_or(50)))
            }
            FaultKind::SlowStream => p.tokens_per_second = f.tokens_per_second.unwrap_or(20.0),
            _ if p.outcome.is_none() => p.outcome = Some(f),
            _ => {}
        }
    }
    p
}

fn respond(
    status: u16,
    content_type: &str,
    headers: &[(&'static str, String)],
    body: Body,
) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    for (k, v) in headers {
        if let Ok(v) = v.parse() {
            r.headers_mut().insert(*k, v);
        }
    }
    r
}

fn key_ok(format: WireFormat, expected: &str, headers: &HeaderMap, uri: &Uri) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    match format {
        WireFormat::OpenAi | WireFormat::OpenAiResponses => {
            h("authorization").and_then(|a| a.strip_prefix("Bearer ")) == Some(expected)
                || h("api-key") == Some(expected)
        }
        WireFormat::Anthropic => h("x-api-key") == Some(expected),
        WireFormat::Gemini => {
            h("x-goog-api-key") == Some(expected)
                || uri
                    .query()
                    .is_some_and(|q| q.split('&').any(|kv| kv == format!("key={expected}")))
        }
    }
}

/// Which endpoint a path names: (model in the path, streamed by path).
fn route(format: WireFormat, path: &str) -> Option<(Option<String>, bool)> {
    match format {
        WireFormat::OpenAi => {
            if !path.ends_with("/chat/completions") {
                return None;
            }
            // Azure: /openai/deployments/{deployment}/chat/completions
            let deployment = path
                .strip_prefix("/openai/deployments/")
                .and_then(|r| r.split('/').next())
                .map(str::to_owned);
            Some((deployment, false))
        }
        WireFormat::Anthropic => path.ends_with("/v1/messages").then_some((None, false)),
        WireFormat::OpenAiResponses => path.ends_with("/responses").then_some((None, false)),
        WireFormat::Gemini => {
            let rest = path.split("/models/").nth(1)?;
            let (model, action) = rest.split_once(':')?;
            match action {
                "generateContent" => Some((Some(model.to_owned()), false)),
                "streamGenerateContent" => Some((Some(model.to_owned()), true)),
                _ => None,
            }
        }
    }
}

async fn handle(
    State(ctx): State<Ctx>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = ctx.shared.clone();
    let p = &shared.providers[ctx.idx];
    let spec = &p.spec;
    let format = spec.format;
    if uri.path() == "/_chaos/stats" {
        let all: BTreeMap<String, ProviderStats> = (0..shared.providers.len())
            .map(|i| {
                (
                    shared.providers[i].spec.name.clone(),
                    shared.stats(i).clone(),
                )
            })
            .collect();
        return respond(
            200,
            "application/json",
            &[],
            Body::from(serde_json::to_string(&all).unwrap_or_default()),
        );
    }
    if method == Method::POST
        && matches!(format, WireFormat::OpenAi | WireFormat::OpenAiResponses)
        && uri.path().ends_with("/embeddings")
    {
        return embeddings(&shared, ctx.idx, &headers, &uri, &body).await;
    }
    let Some((path_model, path_stream)) = (method == Method::POST)
        .then(|| route(format, uri.path()))
        .flatten()
    else {
        return respond(404, "application/json", &[], Body::from(
            serde_json::json!({"error": {"message": format!("Unknown request URL: {} {}", method, uri.path()), "type": "invalid_request_error", "code": "unknown_url"}}).to_string(),
        ));
    };
    let n = p.counter.fetch_add(1, Ordering::Relaxed);
    let t = shared.elapsed_s();
    let guard = InFlight {
        shared: shared.clone(),
        idx: ctx.idx,
        done: false,
    };
    let request_id = format!("req_chaos_{}_{n}", ctx.idx);
    let parsed = wire::parse_request(format, path_model.as_deref(), path_stream, &body);
    let model = parsed.as_ref().map(|i| i.model.clone()).unwrap_or_default();
    let stream = parsed.as_ref().is_ok_and(|i| i.stream);
    let media = parsed.as_ref().map_or(0, |i| i.media as u64);
    let record = |fault: Option<String>, status: u16| {
        let mut s = shared.stats(ctx.idx);
        s.requests += 1;
        s.media_parts += media;
        *s.by_model.entry(model.clone()).or_default() += 1;
        if let Some(f) = &fault {
            *s.faults.entry(f.clone()).or_default() += 1;
        }
        *s.statuses.entry(status).or_default() += 1;
        if s.log.len() >= LOG_CAP {
            s.log.pop_front();
        }
        s.log.push_back(RequestRecord {
            n,
            at_ms: (t * 1000.0) as u64,
            model: model.clone(),
            stream,
            fault,
            status,
        });
    };
    let fail = |kind: ErrorKind, fault: &str| {
        let e = wire::error(format, &kind, &model, &request_id);
        record(Some(fault.to_owned()), e.status);
        let mut hs = e.headers;
        if matches!(format, WireFormat::OpenAi | WireFormat::OpenAiResponses) {
            hs.push(("x-request-id", request_id.clone()));
        }
        respond(e.status, e.content_type, &hs, Body::from(e.body))
    };

    if let Some(expected) = &spec.api_key {
        if !key_ok(format, expected, &headers, &uri) {
            let r = fail(ErrorKind::Unauthorized, "unauthorized");
            guard.complete();
            return r;
        }
    }
    let inc = match parsed {
        Ok(i) => i,
        Err(msg) => {
            let r = fail(ErrorKind::InvalidRequest(msg), "invalid_request");
            guard.complete();
            return r;
        }
    };
    let Some(model_spec) = spec.models.iter().find(|m| m.name == inc.model) else {
        let r = fail(ErrorKind::ModelNotFound, "model_not_found");
        guard.complete();
        return r;
    };
    let prompt_tokens = wire::tokens(inc.all_text_len);
    if prompt_tokens > model_spec.context_window {
        let r = fail(
            ErrorKind::ContextLength {
                tokens: prompt_tokens,
                limit: model_spec.context_window,
            },
            "context_length",
        );
        guard.complete();
        return r;
    }

    let mut rng = ChaCha8Rng::seed_from_u64(mix(shared.seed, ctx.idx, n));
    let plan = plan(spec, &mut rng, t, n, &inc.model);
    let l = spec.latency;
    let mut delay = l.base_ms + plan.extra_delay_ms;
    if l.jitter_ms > 0 {
        delay += rng.random_range(0..=l.jitter_ms);
    }
    if l.tail_probability > 0.0 && rng.random::<f64>() < l.tail_probability {
        delay += l.tail_ms;
    }
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }

    let task = inc.user_texts.iter().rev().find_map(|t| Task::parse(t));
    let truth = task.as_ref().map(Task::truth);
    let fault_name = plan.outcome.map(|f| f.kind.name());
    let modifiers_only = |s: &mut ProviderStats| {
        if plan.extra_delay_ms > 0 {
            *s.faults.entry("latency_spike".into()).or_default() += 1;
        }
        if plan.keep_alives.is_some() {
            *s.faults.entry("keep_alive".into()).or_default() += 1;
        }
        if plan.tokens_per_second != spec.tokens_per_second {
            *s.faults.entry("slow_stream".into()).or_default() += 1;
        }
    };
    modifiers_only(&mut shared.stats(ctx.idx));

    let verdict = inc.user_texts.last().and_then(|t| judge(t));
    let mut fault_name = fault_name;
    let mut text = match verdict {
        Some(v) => {
            shared.stats(ctx.idx).judge_requests += 1;
            let wrong = plan
                .outcome
                .is_some_and(|f| f.kind == FaultKind::WrongVerdict);
            match (wrong, v) {
                (true, "SAME") => "DIFFERENT".to_owned(),
                (true, "DIFFERENT") => "SAME".to_owned(),
                (true, "YES") => "NO".to_owned(),
                (true, "NO") => "YES".to_owned(),
                _ => v.to_owned(),
            }
        }
        None => answer_text(
            task.as_ref(),
            truth.as_ref(),
            spec.personality,
            inc.wants_json,
            &spec.name,
        ),
    };
    let mut tool = if verdict.is_none() {
        scripted_call(spec, &inc, task.as_ref(), &request_id)
    } else {
        None
    };
    // The tool faults count only where they changed the answer.
    let effective = match plan.outcome.map(|f| f.kind) {
        Some(FaultKind::WrongVerdict) => verdict.is_some_and(|v| v != "UNSURE"),
        Some(FaultKind::TextInsteadOfTool | FaultKind::WrongToolArguments) => tool.is_some(),
        _ => true,
    };
    if !effective {
        fault_name = None;
    }
    let mut ending = Ending::Stop;
    let mut stream_end = StreamEnd::Complete(Ending::Stop);
    if let Some(f) = plan.outcome {
        match f.kind {
            FaultKind::Hang => {
                record(fault_name.clone(), 0);
                std::future::pending::<()>().await;
            }
            FaultKind::RateLimit => {
                return finish(
                    guard,
                    fail(
                        ErrorKind::RateLimit {
                            retry_after_s: f.retry_after_s,
                        },
                        "rate_limit",
                    ),
                );
            }
            FaultKind::Quota => return finish(guard, fail(ErrorKind::Quota, "quota")),
            FaultKind::Overloaded => {
                return finish(guard, fail(ErrorKind::Overloaded, "overloaded"));
            }
            FaultKind::ServerError => {
                return finish(
                    guard,
                    fail(
                        ErrorKind::Server {
                            status: f.status.unwrap_or(500),
                            html: f.html,
                        },
                        "server_error",
                    ),
                );
            }
            FaultKind::Unauthorized => {
                return finish(guard, fail(ErrorKind::Unauthorized, "unauthorized"));
            }
            FaultKind::Forbidden => return finish(guard, fail(ErrorKind::Forbidden, "forbidden")),
            FaultKind::ModelNotFound => {
                return finish(guard, fail(ErrorKind::ModelNotFound, "model_not_found"));
            }
            FaultKind::ContextLength => {
                let limit = model_spec.context_window;
                return finish(
                    guard,
                    fail(
                        ErrorKind::ContextLength {
                            tokens: limit + prompt_tokens,
                            limit,
                        },
                        "context_length",
                    ),
                );
            }
            FaultKind::InvalidRequest => {
                return finish(
                    guard,
                    fail(
                        ErrorKind::InvalidRequest(
                            "Invalid value for 'temperature': must be between 0 and 2.".into(),
                        ),
                        "invalid_request",
                    ),
                );
            }
            FaultKind::ContentFilter => {
                ending = Ending::ContentFilter;
                stream_end = StreamEnd::Complete(Ending::ContentFilter);
                tool = None;
            }
            FaultKind::Refusal => {
                ending = Ending::Refusal;
                stream_end = StreamEnd::Complete(Ending::Refusal);
                tool = None;
            }
            FaultKind::BlankContent => {
                text = "   ".into();
                tool = None;
            }
            FaultKind::TextInsteadOfTool => tool = None,
            FaultKind::WrongToolArguments => {
                if let Some(call) = &mut tool {
                    drift_arguments(&mut call.arguments);
                }
            }
            FaultKind::SchemaViolation => {
                text = truth.as_ref().map_or_else(
                    || "{\"unexpected\": true}".into(),
                    |a| a.schema_break().to_string(),
                );
            }
            FaultKind::SemanticDrift => {
                if let Some(t) = &task {
                    text = t.phrase(&t.drift(&mut rng), spec.personality, inc.wants_json);
                }
                if let Some(call) = &mut tool {
                    drift_arguments(&mut call.arguments);
                }
            }
            FaultKind::MidStreamError if inc.stream => {
                stream_end = StreamEnd::ErrorAfter(f.after_chunks.unwrap_or(0))
            }
            FaultKind::MidStreamError => {
                return finish(guard, fail(ErrorKind::Overloaded, "mid_stream_error"));
            }
            FaultKind::TruncatedStream if inc.stream => {
                stream_end = StreamEnd::TruncateAfter(f.after_chunks.unwrap_or(1))
            }
            FaultKind::EmptyChoices if !inc.stream => {
                record(fault_name.clone(), 200);
                return finish(
                    guard,
                    respond(
                        200,
                        "application/json",
                        &ok_headers(format, &request_id),
                        Body::from(wire::empty(format, &inc.model, &request_id)),
                    ),
                );
            }
            _ => {}
        }
    }
    let kind = plan.outcome.map(|f| f.kind);
    if inc.stream {
        let mut frames = Vec::new();
        if let Some((count, every)) = plan.keep_alives {
            for _ in 0..count {
                frames.push((
                    Duration::from_millis(every),
                    Bytes::from_static(b": keep-alive\n\n"),
                ));
            }
        }
        let gap = if plan.tokens_per_second > 0.0 {
            Duration::from_secs_f64(1.0 / plan.tokens_per_second)
        } else {
            Duration::ZERO
        };
        let body_frames = if kind == Some(FaultKind::EmptyChoices) {
            vec![Frame::Data("data: [DONE]\n\n".into())]
        } else if let Some(call) = &tool {
            wire::tool_stream(
                format,
                &inc.model,
                &request_id,
                call,
                stream_end,
                inc.include_usage,
                prompt_tokens,
            )
        } else {
            wire::stream(
                format,
                &inc.model,
                &request_id,
                &text,
                stream_end,
                inc.include_usage,
                prompt_tokens,
            )
        };
        for fr in body_frames {
            match fr {
                Frame::Data(s) => frames.push((Duration::ZERO, Bytes::from(s))),
                Frame::Content(s) => frames.push((gap, Bytes::from(s))),
            }
        }
        let reset = kind == Some(FaultKind::ResetMidBody);
        if reset {
            frames.truncate(frames.len().div_ceil(2));
        }
        if tool.is_some() {
            shared.stats(ctx.idx).tool_calls += 1;
        }
        record(fault_name, 200);
        return respond(
            200,
            "text/event-stream",
            &ok_headers(format, &request_id),
            paced_body(frames, guard, reset),
        );
    }
    if tool.is_some() {
        shared.stats(ctx.idx).tool_calls += 1;
    }
    let full = match (kind, &tool) {
        (Some(FaultKind::EmptyChoices), _) => wire::empty(format, &inc.model, &request_id),
        (_, Some(call)) => wire::tool_success(format, &inc.model, &request_id, call, prompt_tokens),
        _ => wire::success(
            format,
            &inc.model,
            &request_id,
            &text,
            ending,
            prompt_tokens,
        ),
    };
    let mut frames = Vec::new();
    if let Some((count, every)) = plan.keep_alives {
        // DeepSeek sends blank lines before a queued non-streamed answer.
        for _ in 0..count {
            frames.push((Duration::from_millis(every), Bytes::from_static(b"\n")));
        }
    }
    let (reset, body) = match kind {
        Some(FaultKind::MalformedJson) => (false, full[..full.len() / 2].to_owned()),
        Some(FaultKind::ResetMidBody | FaultKind::TruncatedStream) => {
            (true, full[..full.len() / 2].to_owned())
        }
        _ => (false, full),
    };
    frames.push((Duration::ZERO, Bytes::from(body)));
    record(fault_name, 200);
    respond(
        200,
        "application/json",
        &ok_headers(format, &request_id),
        paced_body(frames, guard, reset),
    )
}

fn finish(guard: InFlight, r: Response) -> Response {
    guard.complete();
    r
}

fn ok_headers(format: WireFormat, request_id: &str) -> Vec<(&'static str, String)> {
    match format {
        WireFormat::OpenAi | WireFormat::OpenAiResponses => vec![
            ("x-request-id", request_id.to_owned()),
            ("x-ratelimit-limit-requests", "10000".into()),
            ("x-ratelimit-remaining-requests", "9999".into()),
            ("x-ratelimit-reset-requests", "6ms".into()),
        ],
        WireFormat::Anthropic => vec![("request-id", request_id.to_owned())],
        WireFormat::Gemini => Vec::new(),
    }
}

/// Judge mode: a prompt that shows a question and two answers is answered `SAME`,
/// `DIFFERENT` or `UNSURE` — the simulator knows the truth of its checkable tasks. An
/// entailment prompt ("Does Answer A entail Answer B?") is answered `YES`, `NO` or
/// `UNSURE` the same way: for a checkable task, one answer entails the other exactly
/// when both state the same result.
fn judge(prompt: &str) -> Option<&'static str> {
    let entail = prompt.contains("entail Answer B");
    let q = prompt.split("Question:").nth(1)?;
    let (question, rest) = q.split_once("Answer A:")?;
    let (a, b) = rest.split_once("Answer B:")?;
    let b = b.split("\n\n").next().unwrap_or(b);
    let Some(task) = Task::parse(question) else {
        return Some("UNSURE");
    };
    Some(match (task.read(a), task.read(b), entail) {
        (Some(x), Some(y), false) if x == y => "SAME",
        (Some(_), Some(_), false) => "DIFFERENT",
        (Some(x), Some(y), true) if x == y => "YES",
        (Some(_), Some(_), true) => "NO",
        _ => "UNSURE",
    })
}

/// `POST …/embeddings`: deterministic vectors — hashed bags of words, L2-normalised —
/// so texts with the same words are close and different ones far. The provider's key,
/// models, latency and scripted error faults (rate limit, quota, overload, server
/// error, auth, missing model, hang) apply as to chat; an outage refuses connections.
async fn embeddings(
    shared: &Arc<Shared>,
    idx: usize,
    headers: &HeaderMap,
    uri: &Uri,
    body: &[u8],
) -> Response {
    let spec = &shared.providers[idx].spec;
    let bad = |msg: String| {
        respond(400, "application/json", &[], Body::from(serde_json::json!({"error": {"message": msg, "type": "invalid_request_error", "param": null, "code": null}}).to_string()))
    };
    let v: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return bad(format!("invalid JSON: {e}")),
    };
    let inputs: Vec<String> = match v.get("input") {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => return bad("'input' is a required property".into()),
    };
    let model = v
        .get("model")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let n = shared.providers[idx]
        .counter
        .fetch_add(1, Ordering::Relaxed);
    let request_id = format!("req_chaos_{idx}_{n}");
    let record = |fault: Option<&str>, status: u16| {
        let mut st = shared.stats(idx);
        st.requests += 1;
        *st.by_model.entry(model.clone()).or_default() += 1;
        if let Some(f) = fault {
            *st.faults.entry(f.to_owned()).or_default() += 1;
        }
        *st.statuses.entry(status).or_default() += 1;
        st.completed += 1;
    };
    let fail = |kind: ErrorKind, fault: &str| {
        let e = wire::error(WireFormat::OpenAi, &kind, &model, &request_id);
        record(Some(fault), e.status);
        let mut hs = e.headers;
        hs.push(("x-request-id", request_id.clone()));
        respond(e.status, e.content_type, &hs, Body::from(e.body))
    };
    if let Some(expected) = &spec.api_key {
        if !key_ok(WireFormat::OpenAi, expected, headers, uri) {
            return fail(ErrorKind::Unauthorized, "unauthorized");
        }
    }
    if !spec.models.iter().any(|m| m.name == model) {
        return fail(ErrorKind::ModelNotFound, "model_not_found");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(mix(shared.seed, idx, n));
    let plan = plan(spec, &mut rng, shared.elapsed_s(), n, &model);
    let delay = spec.latency.base_ms + plan.extra_delay_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if let Some(f) = plan.outcome {
        match f.kind {
            FaultKind::Hang => {
                record(Some("hang"), 0);
                std::future::pending::<()>().await;
            }
            FaultKind::RateLimit => {
                return fail(
                    ErrorKind::RateLimit {
                        retry_after_s: f.retry_after_s,
                    },
                    "rate_limit",
                );
            }
            FaultKind::Quota => return fail(ErrorKind::Quota, "quota"),
            FaultKind::Overloaded => return fail(ErrorKind::Overloaded, "overloaded"),
            FaultKind::ServerError => {
                return fail(
                    ErrorKind::Server {
                        status: f.status.unwrap_or(500),
                        html: f.html,
                    },
                    "server_error",
                );
            }
            FaultKind::Unauthorized => return fail(ErrorKind::Unauthorized, "unauthorized"),
            FaultKind::Forbidden => return fail(ErrorKind::Forbidden, "forbidden"),
            FaultKind::ModelNotFound => return fail(ErrorKind::ModelNotFound, "model_not_found"),
            // Faults of generated text have nothing to change in a vector.
            _ => {}
        }
    }
    record(None, 200);
    let data: Vec<serde_json::Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| serde_json::json!({"object": "embedding", "index": i, "embedding": bag_of_words(t)}))
        .collect();
    let tokens: usize = inputs.iter().map(|t| t.len().div_ceil(4)).sum();
    respond(
        200,
        "application/json",
        &[("x-request-id", request_id.clone())],
        Body::from(
            serde_json::json!({
                "object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
            })
            .to_string(),
        ),
    )
}

fn bag_of_words(text: &str) -> Vec<f32> {
    const DIM: usize = 64;
    let mut v = vec![0f32; DIM];
    for w in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        // FNV-1a of the lower-cased word picks a dimension.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in w.to_lowercase().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        v[(h % DIM as u64) as usize] += 1.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn answer_text(
    task: Option<&Task>,
    truth: Option<&Answer>,
    personality: Personality,
    json: bool,
    provider: &str,
) -> String {
    match (task, truth) {
        (Some(t), Some(a)) => t.phrase(a, personality, json),
        (None, Some(a)) => a.render(personality, json),
        (_, None) if json => {
            serde_json::json!({"answer": format!("a simulated answer from {provider}")}).to_string()
        }
        (_, None) => format!("This is a simulated answer from {provider}."),
    }
}

/// The tool call a request gets, before faults: only when tools are offered, the tool
/// choice allows one and the last turn is not a tool result; then as the provider's
/// [`ToolCalls`] mode and [`ToolRule`]s say (see their docs).
fn scripted_call(
    spec: &ProviderSpec,
    inc: &Incoming,
    task: Option<&Task>,
    request_id: &str,
) -> Option<ToolUse> {
    if inc.tools.is_empty()
        || inc.tool_choice == ToolWant::None
        || inc.after_tool_result
        || spec.tool_calls == ToolCalls::Never
    {
        return None;
    }
    let last = inc.user_texts.last().map_or("", String::as_str);
    let rule = spec.tool_rules.iter().find_map(|r| {
        let re = regex::Regex::new(&r.pattern).ok()?;
        re.captures(last).map(|c| (r, c))
    });
    if spec.tool_calls == ToolCalls::WhenRequired && !inc.tool_choice.requires() && rule.is_none() {
        return None;
    }
    let name = match &inc.tool_choice {
        ToolWant::Named(n) => n.clone(),
        _ => rule
            .as_ref()
            .and_then(|(r, _)| r.tool.clone())
            .unwrap_or_else(|| inc.tools[0].0.clone()),
    };
    let schema = inc.tools.iter().find(|t| t.0 == name).map(|t| &t.1);
    let arguments = derive_arguments(schema, rule.as_ref().map(|(r, c)| (*r, c)), task);
    let id = match spec.format {
        WireFormat::Anthropic => format!("toolu_{request_id}"),
        _ => format!("call_{request_id}"),
    };
    Some(ToolUse {
        id,
        name,
        arguments,
    })
}

/// A capture's text as the JSON type a schema property asks for (text when it does not
/// read as one).
fn typed(text: &str, ty: &str) -> serde_json::Value {
    use serde_json::Value;
    match ty {
        "integer" => text
            .parse::<i64>()
            .map_or_else(|_| Value::from(text), Value::from),
        "number" => text
            .parse::<f64>()
            .map_or_else(|_| Value::from(text), Value::from),
        "boolean" => text
            .parse::<bool>()
            .map_or_else(|_| Value::from(text), Value::from),
        _ => Value::from(text),
    }
}

/// The arguments of a scripted call (see [`ToolRule`]): the tool's properties derived
/// from the rule's named groups, then the task's answer, then placeholders; then the
/// rule's own `arguments`, with `"$group"` strings replaced.
fn derive_arguments(
    schema: Option<&serde_json::Value>,
    rule: Option<(&ToolRule, &regex::Captures<'_>)>,
    task: Option<&Task>,
) -> serde_json::Value {
    use serde_json::{Value, json};
    let truth = task.map(Task::truth);
    let mut out = serde_json::Map::new();
    let props = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object);
    for (k, p) in props.into_iter().flatten() {
        let ty = p.get("type").and_then(Value::as_str).unwrap_or("string");
        let v = rule
            .and_then(|(_, c)| c.name(k))
            .map(|m| typed(m.as_str(), ty))
            .or_else(|| match &truth {
                Some(Answer::Json(j)) => j.get(k).cloned(),
                Some(Answer::Number(n)) if matches!(ty, "integer" | "number") => Some(json!(n)),
                _ => None,
            })
            .unwrap_or_else(|| match ty {
                "integer" | "number" => json!(0),
                "boolean" => json!(false),
                "array" => json!([]),
                "object" => json!({}),
                _ => json!("chaos"),
            });
        out.insert(k.clone(), v);
    }
    if let Some((r, caps)) = rule {
        for (k, v) in r.arguments.iter().flatten() {
            let group = v.as_str().and_then(|s| s.strip_prefix('$')).and_then(|g| {
                g.parse::<usize>()
                    .ok()
                    .and_then(|i| caps.get(i))
                    .or_else(|| caps.name(g))
            });
            let v = match group {
                Some(m) => {
                    let t = m.as_str();
                    t.parse::<i64>().map_or_else(
                        |_| t.parse::<f64>().map_or_else(|_| json!(t), |f| json!(f)),
                        |i| json!(i),
                    )
                }
                None => v.clone(),
            };
            out.insert(k.clone(), v);
        }
    }
    Value::Object(out)
}

/// Makes a call's arguments wrong, deterministically: the first argument (in key order)
/// changes — a number by one, a string reversed (or extended when reversing leaves it
/// the same), a boolean flipped, an array or object grown; no arguments get one.
fn drift_arguments(args: &mut serde_json::Value) {
    use serde_json::{Value, json};
    let Some(obj) = args.as_object_mut() else {
        *args = json!({"drift": true});
        return;
    };
    let Some((_, v)) = obj.iter_mut().next() else {
        obj.insert("drift".into(), json!(true));
        return;
    };
    *v = match v.take() {
        Value::Number(n) => match n.as_i64() {
            Some(i) => json!(i.saturating_add(1)),
            None => json!(n.as_f64().unwrap_or(0.0) + 1.0),
        },
        Value::String(s) => {
            let r: String = s.chars().rev().collect();
            json!(if r == s { format!("{s}x") } else { r })
        }
        Value::Bool(b) => json!(!b),
        Value::Array(mut a) => {
            a.push(json!("drift"));
            Value::Array(a)
        }
        Value::Object(mut o) => {
            o.insert("drift".into(), json!(true));
            Value::Object(o)
        }
        Value::Null => json!("drift"),
    };
}

/// A body that sends `frames` with their delays, then ends, or breaks the connection
/// (`reset`). Dropped before its end, it counts the request as cancelled.
fn paced_body(frames: Vec<(Duration, Bytes)>, guard: InFlight, reset: bool) -> Body {
    let state = (frames.into_iter(), Some(guard));
    let s = futures_util::stream::unfold(state, move |(mut it, mut guard)| async move {
        match it.next() {
            Some((delay, bytes)) => {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                Some((Ok::<Bytes, std::io::Error>(bytes), (it, guard)))
            }
            None => {
                let g = guard.take()?;
                if reset {
                    // Counted as completed: the reset is what the scenario asked for.
                    g.complete();
                    return Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionReset,
                            "chaos: reset mid-body",
                        )),
                        (it, None),
                    ));
                }
                g.complete();
                None
            }
        }
    });
    Body::from_stream(s)
}
