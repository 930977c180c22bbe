//! `nb serve`: the gateway ([`nb_gateway`]) over the router an `nb.toml` describes, with
//! the process around it — logs, the Prometheus recorder, signals.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use nb_gateway::{Gateway, Key, Price, ServeOptions, Settings, serve_with};
#[cfg(feature = "redis")]
use nb_gateway::{Ledger, SPEND_WINDOW};
#[cfg(feature = "redis")]
use neuralbridge::breaker::PaceLimits;
use neuralbridge::core::TargetId;
#[cfg(feature = "redis")]
use neuralbridge::store_redis::RedisLedger;

use crate::config::{Config, ConfigFileError, DEFAULT_LISTEN, gateway_key_digests};

/// Why `nb serve` could not start, or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration cannot build the gateway.
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    /// The listen address is not `host:port`.
    #[error("listen address: {0}")]
    Address(#[from] std::net::AddrParseError),
    /// Keys are required anywhere but on loopback.
    #[error(
        "refusing to serve on {0} without gateway keys: add [[gateway.keys]] or listen on loopback"
    )]
    NoKeysOffLoopback(SocketAddr),
    /// The Prometheus recorder could not be installed.
    #[error("metrics recorder: {0}")]
    Metrics(String),
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server stopped.
    #[error(transparent)]
    Gateway(#[from] nb_gateway::ServeError),
}

/// The gateway `cfg` describes: its router, its routes (and bare model names) as models,
/// its keys with their limits. `metrics` renders `/metrics`.
pub fn gateway(
    cfg: &Config,
    metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Result<Gateway, ConfigFileError> {
    let router = cfg.build()?;
    let mut settings = Settings::new(cfg.model_names());
    // A bare model name stands for the first target serving it.
    let mut seen = std::collections::HashSet::new();
    for t in &cfg.targets {
        if seen.insert(t.model.clone()) {
            settings = settings.with_alias(t.model.clone(), format!("{}/{}", t.provider, t.model));
        }
    }
    let digests = gateway_key_digests(&cfg.gateway)?;
    for ((name, digest), k) in digests.into_iter().zip(&cfg.gateway.keys) {
        settings = settings.with_key(
            Key::new(name, digest)
                .with_pace(
                    k.requests_per_minute.and_then(NonZeroU32::new),
                    k.tokens_per_minute.and_then(NonZeroU32::new),
                )
                .with_spend_per_day(k.spend_per_day)
                .with_may_weaken_vouch(k.may_weaken_vouch),
        );
    }
    settings = settings
        .with_shared_cache(cfg.gateway.shared_cache)
        .with_ops_require_key(cfg.gateway.ops_require_key);
    // What a call may cost at most: each target's price, each route's targets.
    let ids: Vec<TargetId> = cfg
        .targets
        .iter()
        .map(|t| TargetId::new(&t.provider, &t.model))
        .collect();
    for (t, id) in cfg.targets.iter().zip(&ids) {
        if let Some(c) = t.cost {
            let price = Price {
                input_per_mtok: c.input_per_mtok,
                output_per_mtok: c.output_per_mtok,
            };
            // A target is also a route of its own name, failing over to every other.
            settings = settings
                .with_price(id.clone(), price)
                .with_route_targets(id.to_string(), ids.clone());
        } else {
            settings = settings.with_route_targets(id.to_string(), ids.clone());
        }
    }
    for (name, r) in &cfg.routes {
        let targets = r
            .targets()
            .iter()
            .filter_map(|s| s.split_once('/'))
            .map(|(p, m)| TargetId::new(p, m))
            .collect();
        settings = settings.with_route_targets(name.clone(), targets);
    }
    if let Some(n) = cfg.gateway.default_max_tokens {
        settings = settings.with_default_max_tokens(n);
    }
    // (Without the `redis` feature, `cfg.build()` above refused a `[store] redis`.)
    #[cfg(feature = "redis")]
    if let Some(url) = &cfg.store.redis {
        let limited = cfg.gateway.keys.iter().any(|k| {
            k.requests_per_minute.is_some()
                || k.tokens_per_minute.is_some()
                || k.spend_per_day.is_some()
        });
        if limited {
            let ns = cfg.store.namespace.as_deref().unwrap_or("default");
            let ledger = RedisLedger::new(url, ns)
                .map_err(|e| ConfigFileError(format!("store.redis: {e}")))?;
            settings = settings.with_ledger(Arc::new(FleetLedger(ledger)));
        }
    }
    Ok(Gateway::new(router, settings, metrics))
}

/// The callers' budgets on Redis, for the gateway: every replica counts against the same
/// limits.
#[cfg(feature = "redis")]
struct FleetLedger(RedisLedger);

#[cfg(feature = "redis")]
#[async_trait::async_trait]
impl Ledger for FleetLedger {
    async fn acquire(
        &self,
        caller: &str,
        limits: PaceLimits,
        tokens: u32,
    ) -> Option<Result<(), Duration>> {
        self.0
            .acquire(
                caller,
                limits.requests_per_minute,
                limits.tokens_per_minute,
                tokens,
            )
            .await
    }

    async fn reserve(&self, caller: &str, amount: f64, limit: f64) -> Option<Result<(), Duration>> {
        self.0.reserve(caller, amount, limit, SPEND_WINDOW).await
    }

    async fn settle(&self, caller: &str, reserved: f64, actual: f64) -> bool {
        self.0.settle(caller, reserved, actual).await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// Logs to stderr, as text or one JSON object per line, at `RUST_LOG`'s level (default
/// `info`: failovers, cool-downs, breaker transitions, one line per request).
fn init_logs(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A subscriber already installed (a test, an embedding program) stays.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.fmt_fields(TextFields).try_init()
    };
}

/// The text logs' field formatter: tracing-subscriber's own, less what no line shows.
/// A call's span is recorded with its outcome as the call ends — for OpenTelemetry —
/// after the last line logged inside it; and it opens with two constant attributes.
/// Writing those out (for every request, into a span's text nobody reads) was a fifth of
/// the per-request log cost; they are skipped.
struct TextFields;

/// Fields recorded on a span after it opened that no text line shows (the call's
/// outcome: see `nb-router`'s telemetry).
const UNSHOWN_RECORDS: &[&str] = &[
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "error.type",
    "nb.failed_over",
    "nb.attempts",
    "nb.total_cost",
];

/// Constant attributes, the same on every span that has them.
const UNSHOWN_ATTRIBUTES: &[&str] = &["otel.kind", "gen_ai.operation.name"];

impl<'w> tracing_subscriber::fmt::FormatFields<'w> for TextFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        writer: tracing_subscriber::fmt::format::Writer<'w>,
        fields: R,
    ) -> std::fmt::Result {
        let mut v = Shown {
            inner: tracing_subscriber::fmt::format::DefaultVisitor::new(writer, true),
            hidden: UNSHOWN_ATTRIBUTES,
        };
        fields.record(&mut v);
        tracing_subscriber::field::VisitOutput::finish(v.inner)
    }

    fn add_fields(
        &self,
        current: &'w mut tracing_subscriber::fmt::FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> std::fmt::Result {
        let empty = current.fields.is_empty();
        let mut v = Shown {
            inner: tracing_subscriber::fmt::format::DefaultVisitor::new(current.as_writer(), empty),
            hidden: UNSHOWN_RECORDS,
        };
        fields.record(&mut v);
        tracing_subscriber::field::VisitOutput::finish(v.inner)
    }
}

/// tracing-subscriber's visitor, handed only the fields not in `hidden`.
struct Shown<'a> {
    inner: tracing_subscriber::fmt::format::DefaultVisitor<'a>,
    hidden: &'static [&'static str],
}

impl Shown<'_> {
    fn shows(&self, field: &tracing::field::Field) -> bool {
        !self.hidden.contains(&field.name())
    }
}

impl tracing_subscriber::field::Visit for Shown<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if self.shows(field) {
            self.inner.record_debug(field, value);
        }
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if self.shows(field) {
            self.inner.record_str(field, value);
        }
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if self.shows(field) {
            self.inner.record_u64(field, value);
        }
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        if self.shows(field) {
            self.inner.record_i64(field, value);
        }
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        if self.shows(field) {
            self.inner.record_f64(field, value);
        }
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        if self.shows(field) {
            self.inner.record_bool(field, value);
        }
    }
    fn record_error(
        &mut self,
        field: &tracing::field::Field,
        value: &(dyn std::error::Error + 'static),
    ) {
        if self.shows(field) {
            self.inner.record_error(field, value);
        }
    }
}

/// `nb serve`: builds the router from `cfg`, installs the Prometheus recorder and serves
/// until SIGTERM or Ctrl-C.
pub async fn run(cfg: Config, listen: Option<String>) -> Result<(), ServeError> {
    let addr: SocketAddr = listen
        .or_else(|| cfg.gateway.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.into())
        .parse()?;
    if cfg.gateway.keys.is_empty() && !addr.ip().is_loopback() {
        return Err(ServeError::NoKeysOffLoopback(addr));
    }
    init_logs(cfg.gateway.json_logs);
    // Prometheus conventions: counters end in `_total`, units are in names, and
    // histograms are histograms (buckets from 5 ms to 2 min), not summaries.
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_recommended_naming(true)
        .set_buckets(&[
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
        ])
        .map_err(|e| ServeError::Metrics(e.to_string()))?
        .install_recorder()
        .map_err(|e| ServeError::Metrics(e.to_string()))?;
    let g = Arc::new(gateway(&cfg, Some(handle))?);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Listen { addr, source })?;
    eprintln!(
        "nb serve: listening on http://{local} ({} routes: {}){}",
        g.models().len(),
        g.models().join(", "),
        if !g.has_keys() {
            " — no gateway keys: any caller on loopback is accepted"
        } else {
            ""
        }
    );
    let mut options = ServeOptions::default();
    let gw = &cfg.gateway;
    options.max_body = gw.max_body_bytes.unwrap_or(options.max_body);
    options.grace = gw
        .shutdown_grace_ms
        .map_or(options.grace, Duration::from_millis);
    options.header_timeout = gw
        .header_timeout_ms
        .map_or(options.header_timeout, Duration::from_millis);
    options.max_connections = gw.max_connections.unwrap_or(options.max_connections);
    options.max_connections_per_client = gw
        .max_connections_per_client
        .unwrap_or(options.max_connections_per_client);
    serve_with(listener, g, options, shutdown_signal()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::TextFields;

    /// A writer into a shared buffer, for a subscriber under test.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn text_logs_show_a_call_spans_route_and_the_events_fields_not_its_outcome() {
        let out = Buffer::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .fmt_fields(TextFields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // The router's call span, as nb-router's telemetry makes and records it.
            let span = tracing::info_span!(
                "nb.route",
                otel.kind = "client",
                gen_ai.operation.name = "chat",
                nb.route = "main",
                gen_ai.provider.name = tracing::field::Empty,
                gen_ai.usage.input_tokens = tracing::field::Empty,
                nb.attempts = tracing::field::Empty,
            );
            let _in = span.enter();
            tracing::info!(target = "openai/gpt-4o-mini", reason = ?"timeout: first byte", "failing over");
            span.record("gen_ai.provider.name", "openai");
            span.record("gen_ai.usage.input_tokens", 12u64);
            span.record("nb.attempts", 2u64);
            tracing::info!(status = 200u64, "after the outcome");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains(r#"nb.route{nb.route="main"}: "#)
                && lines[0].contains(r#"target="openai/gpt-4o-mini" reason="timeout: first byte""#),
            "{text}"
        );
        // The outcome recorded on the span is not written into its text.
        assert!(
            lines[1].contains(r#"nb.route{nb.route="main"}: "#),
            "{text}"
        );
        assert!(lines[1].contains("status=200"), "{text}");
        for hidden in [
            "otel.kind",
            "gen_ai.operation.name",
            "gen_ai.provider",
            "input_tokens",
            "nb.attempts",
        ] {
            assert!(!text.contains(hidden), "{hidden} shown: {text}");
        }
    }
}
