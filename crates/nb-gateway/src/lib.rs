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
//! Per-key limits hold under concurrency: a call's worst-case spend is held before it goes
//! upstream and settled on its real usage ([`LocalLedger`], or any [`Ledger`] a fleet
//! shares). Slow clients cannot starve others: [`serve_with`] closes a connection whose
//! request head does not arrive within its [`ServeOptions`]' header timeout, and caps
//! connections in total and per client address.
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
mod auth;
mod embeddings;
mod endpoints;
mod error;
mod handler;
mod ledger;
mod limits;
mod openai;
mod report;
mod server;
mod vouch;
mod wire;

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use nb_core::TargetId;
use nb_router::{CallOptions, SmartRouter};

pub use auth::Key;
pub use error::ServeError;
pub use ledger::{Ledger, LocalLedger, Price, SPEND_WINDOW};

use ledger::{CallerLimits, pace};
pub use server::{ServeOptions, app, serve, serve_with};

use error::{ErrorType, error};

/// The gateway's own series, described for `/metrics` (HELP and units).
fn describe_metrics() {
    use metrics::Unit;
    metrics::describe_counter!(
        "nb_gateway_requests",
        Unit::Count,
        "Requests answered by the gateway, by status, route and key name"
    );
    metrics::describe_histogram!(
        "nb_gateway_request_duration",
        Unit::Seconds,
        "Time from a request's arrival to its response head, by status and route"
    );
    metrics::describe_counter!(
        "nb_gateway_spend_microunits",
        Unit::Count,
        "What callers with a spend limit spent, in millionths of the targets' price currency, by key name"
    );
    metrics::describe_counter!(
        "nb_gateway_connections_refused",
        Unit::Count,
        "Connections closed as accepted, over the total or per-client cap"
    );
}

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
    /// Each limited caller's limits.
    limits: HashMap<String, CallerLimits>,
    /// This process's budgets (and the fallback while a shared ledger cannot answer).
    local: Arc<LocalLedger>,
    /// The fleet's budgets, when replicas share them.
    shared: Option<Arc<dyn Ledger>>,
    /// Targets' prices, for holding a call's worst case.
    prices: HashMap<TargetId, Price>,
    /// Each route's targets.
    routes: HashMap<String, Vec<TargetId>>,
    /// The `max_tokens` of a call that gives none from a caller with a spend limit.
    default_max_tokens: u32,
    /// `/readyz` and `/metrics` need a gateway key.
    ops_require_key: bool,
    /// Turns true when the shutdown grace runs out: streams in flight end with an error.
    closing: tokio::sync::watch::Sender<bool>,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Callers allowed to ask for less vouching than their route's.
    may_weaken_vouch: std::collections::HashSet<String>,
    /// Cached answers are shared by every caller (else each key has its own).
    shared_cache: bool,
}

/// What the gateway serves and to whom.
#[derive(Clone, Default)]
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
    /// Targets' prices (per million tokens), to hold a call's worst-case spend.
    pub prices: HashMap<TargetId, Price>,
    /// Each route's targets, to know the highest price a call on it may pay.
    pub routes: HashMap<String, Vec<TargetId>>,
    /// The `max_tokens` given to a call without one from a caller with a spend limit, so
    /// that its worst case is known (default 4096).
    pub default_max_tokens: Option<u32>,
    /// Budgets shared by the fleet (per-minute limits and spend); without one, each
    /// process counts its own.
    pub ledger: Option<Arc<dyn Ledger>>,
    /// `/readyz` and `/metrics` need a gateway key too (default: open).
    pub ops_require_key: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("models", &self.models)
            .field("aliases", &self.aliases)
            .field("keys", &self.keys)
            .field("shared_cache", &self.shared_cache)
            .field("prices", &self.prices)
            .field("routes", &self.routes)
            .field("default_max_tokens", &self.default_max_tokens)
            .field("ledger", &self.ledger.is_some())
            .field("ops_require_key", &self.ops_require_key)
            .finish()
    }
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

    /// A target's price per million input and output tokens.
    pub fn with_price(mut self, target: TargetId, price: Price) -> Self {
        self.prices.insert(target, price);
        self
    }

    /// A route's targets.
    pub fn with_route_targets(mut self, route: impl Into<String>, targets: Vec<TargetId>) -> Self {
        self.routes.insert(route.into(), targets);
        self
    }

    /// Sets `default_max_tokens`.
    pub fn with_default_max_tokens(mut self, n: u32) -> Self {
        self.default_max_tokens = Some(n);
        self
    }

    /// Sets `ops_require_key`.
    pub fn with_ops_require_key(mut self, require: bool) -> Self {
        self.ops_require_key = require;
        self
    }

    /// Shares the callers' budgets through `ledger`.
    pub fn with_ledger(mut self, ledger: Arc<dyn Ledger>) -> Self {
        self.ledger = Some(ledger);
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
        describe_metrics();
        Self {
            router,
            models: settings.models,
            aliases: settings.aliases,
            local: Arc::new(LocalLedger::new(settings.keys.iter().map(|k| {
                (
                    k.name.clone(),
                    pace(k.requests_per_minute, k.tokens_per_minute),
                )
            }))),
            shared: settings.ledger,
            prices: settings.prices,
            routes: settings.routes,
            default_max_tokens: settings.default_max_tokens.unwrap_or(4096),
            ops_require_key: settings.ops_require_key,
            closing: tokio::sync::watch::channel(false).0,
            may_weaken_vouch: settings
                .keys
                .iter()
                .filter(|k| k.may_weaken_vouch)
                .map(|k| k.name.clone())
                .collect(),
            shared_cache: settings.shared_cache,
            limits: settings
                .keys
                .iter()
                .map(|k| {
                    let l = CallerLimits {
                        pace: pace(k.requests_per_minute, k.tokens_per_minute),
                        spend_per_day: k.spend_per_day,
                    };
                    (k.name.clone(), l)
                })
                .filter(|(_, l)| l.paced() || l.spend_per_day.is_some())
                .collect(),
            keys: settings
                .keys
                .into_iter()
                .map(|k| (k.name, k.sha256))
                .collect(),
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

    /// The call options for a request's `model`, or the error to send.
    pub(crate) fn options(
        &self,
        model: Option<&str>,
        format: Format,
    ) -> Result<CallOptions, Box<Response>> {
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
