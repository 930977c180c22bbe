//! The names the router's spans, events and metrics carry, in one place: OpenTelemetry's
//! GenAI semantic conventions (v1.37, `gen_ai.provider.name` rather than the older
//! `gen_ai.system`), and ours (`nb.` on spans, `neuralbridge.` on metrics) where there is
//! no convention: failover, attempts, breakers, vouching, recovery probes, cost.
//!
//! Metrics go through the `metrics` facade: nothing is recorded until the program installs
//! a recorder (Prometheus, OpenTelemetry, StatsD — its choice).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `gen_ai.client.operation.duration` (s) | histogram | `gen_ai.provider.name`, `gen_ai.request.model`, `error.type` (failed attempts) |
//! | `gen_ai.client.token.usage` | histogram | `gen_ai.token.type` (`input`/`output`), provider, model |
//! | `neuralbridge.calls` | counter | `outcome` (`ok` or the error kind), `failed_over` |
//! | `neuralbridge.attempts` | counter | `target`, `role`, `outcome` (`success` or the failure class) |
//! | `neuralbridge.breaker.transitions` | counter | `target`, `to` |
//! | `neuralbridge.vouching` | counter | `outcome` (`equivalent`, `not_equivalent`, `undecided`, `no_reference`) |
//! | `neuralbridge.recovery_probes` | counter | `target`, `passed` |
//! | `neuralbridge.cache` | counter | `outcome` (`hit`, `miss`) |
//! | `neuralbridge.unchecked_answers` | counter | — (failover answers returned with vouching off) |
//! | `neuralbridge.unvouchable_answers` | counter | `action` (`served_flagged`, `refused`) |
//! | `neuralbridge.cost` | counter | `target` (the served answer's price, in the prices' currency × 1e6) |

use metrics::{Key, Label, SharedString};
use nb_core::TargetId;

/// `gen_ai.provider.name` for a target: the convention's well-known names where a
/// provider has one, else the target's provider as configured.
pub(crate) fn provider_name(t: &TargetId) -> &str {
    match t.provider() {
        "gemini" | "google" => "gcp.gemini",
        "azure" | "azure-openai" => "azure.ai.openai",
        "mistral" => "mistral_ai",
        other => other,
    }
}

/// A span for one call through the router, with its outcome recorded when it ends.
pub(crate) fn call_span(route: &str) -> tracing::Span {
    tracing::info_span!(
        "nb.route",
        otel.kind = "client",
        gen_ai.operation.name = "chat",
        nb.route = route,
        gen_ai.provider.name = tracing::field::Empty,
        gen_ai.request.model = tracing::field::Empty,
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
        error.type = tracing::field::Empty,
        nb.failed_over = tracing::field::Empty,
        nb.attempts = tracing::field::Empty,
        nb.total_cost = tracing::field::Empty,
    )
}

/// The fields `record_call` fills in, looked up once (every call span comes from the
/// one callsite in [`call_span`], so its fields are the same for all).
struct OutcomeFields([tracing::field::Field; 9]);

/// Their names, in the order `record_call` gives their values.
const OUTCOME_FIELDS: [&str; 9] = [
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens",
    "nb.failed_over",
    "nb.attempts",
    "nb.total_cost",
    "error.type",
];

impl OutcomeFields {
    fn of(meta: &'static tracing::Metadata<'static>) -> Option<&'static Self> {
        static FIELDS: std::sync::OnceLock<Option<OutcomeFields>> = std::sync::OnceLock::new();
        FIELDS
            .get_or_init(|| {
                let fields = meta.fields();
                let mut found = Vec::with_capacity(OUTCOME_FIELDS.len());
                for name in OUTCOME_FIELDS {
                    found.push(fields.field(name)?);
                }
                found.try_into().ok().map(OutcomeFields)
            })
            .as_ref()
            // A span from elsewhere (never, today) is recorded field by field.
            .filter(|f| f.0[0].callsite() == meta.callsite())
    }
}

/// Records a finished call's outcome on its span, in one record (one visit of each
/// subscriber layer, not one per field).
pub(crate) fn record_call(span: &tracing::Span, report: &crate::CallReport, error: Option<&str>) {
    let Some(meta) = span.metadata() else {
        // Disabled: nobody listens.
        return;
    };
    use tracing::field::Value;
    let target = report
        .served_by
        .as_ref()
        .or_else(|| report.attempts.first().map(|a| &a.target));
    let provider = target.map(provider_name);
    let model = target.map(TargetId::model);
    let input = report.usage.map(|u| u.input_tokens);
    let output = report.usage.map(|u| u.output_tokens);
    let cached = report.usage.and_then(|u| u.cached_tokens);
    let attempts = report.attempts.len() as u64;
    let values: [Option<&dyn Value>; 9] = [
        provider.as_ref().map(|v| v as &dyn Value),
        model.as_ref().map(|v| v as &dyn Value),
        input.as_ref().map(|v| v as &dyn Value),
        output.as_ref().map(|v| v as &dyn Value),
        cached.as_ref().map(|v| v as &dyn Value),
        Some(&report.failed_over),
        Some(&attempts),
        report.total_cost.as_ref().map(|v| v as &dyn Value),
        error.as_ref().map(|v| v as &dyn Value),
    ];
    match OutcomeFields::of(meta) {
        Some(OutcomeFields(f)) => {
            let set: [_; 9] = std::array::from_fn(|i| (&f[i], values[i]));
            span.record_all(&meta.fields().value_set(&set));
        }
        None => {
            for (name, value) in OUTCOME_FIELDS.iter().zip(values) {
                if let Some(v) = value {
                    span.record(*name, v);
                }
            }
        }
    }
}

/// A span for one attempt on one target: `chat {model}`, a child of the call's.
pub(crate) fn attempt_span(t: &TargetId) -> tracing::Span {
    tracing::debug_span!(
        "gen_ai.chat",
        otel.name = %format_args!("chat {}", t.model()),
        otel.kind = "client",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = provider_name(t),
        gen_ai.request.model = t.model(),
    )
}

/// One target's metric keys for the healthy path (an answer on the first ask: the
/// attempts counter, the duration and token histograms), and its label values for the
/// rest, made once when the router is built: recording a healthy attempt builds,
/// allocates and hashes nothing; another clones shared strings. The keys are "retained"
/// (their labels shared): a recorder that keeps a copy of each key it is handed (the
/// Prometheus exporter does, on every record) copies a pointer, not the labels.
pub(crate) struct TargetLabels {
    target: SharedString,
    provider: SharedString,
    model: SharedString,
    attempt_ok: Key,
    duration_ok: Key,
    tokens: [Key; 2],
}

/// The metadata of the metrics recorded with prepared keys (the macros' own).
static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

impl TargetLabels {
    pub(crate) fn new(t: &TargetId) -> Self {
        let shared = |s: &str| SharedString::from_shared(std::sync::Arc::from(s));
        let target = shared(&t.to_string());
        let provider = shared(provider_name(t));
        let model = shared(t.model());
        let label = |k: &'static str, v: &SharedString| Label::new(k, v.clone());
        let token = |kind: &'static str| {
            Key::from_parts(
                "gen_ai.client.token.usage",
                vec![
                    Label::from_static_parts("gen_ai.token.type", kind),
                    label("gen_ai.provider.name", &provider),
                    label("gen_ai.request.model", &model),
                ],
            )
            .to_retained()
        };
        Self {
            attempt_ok: Key::from_parts(
                "neuralbridge.attempts",
                vec![
                    label("target", &target),
                    Label::from_static_parts("role", crate::AttemptRole::Answer.as_str()),
                    Label::from_static_parts("outcome", "success"),
                ],
            )
            .to_retained(),
            duration_ok: Key::from_parts(
                "gen_ai.client.operation.duration",
                vec![
                    label("gen_ai.provider.name", &provider),
                    label("gen_ai.request.model", &model),
                ],
            )
            .to_retained(),
            tokens: [token("input"), token("output")],
            target,
            provider,
            model,
        }
    }
}

/// Records an attempt's metrics.
pub(crate) fn record_attempt(a: &crate::AttemptReport, labels: &TargetLabels) {
    if a.role == crate::AttemptRole::Answer && matches!(a.outcome, crate::AttemptOutcome::Success) {
        metrics::with_recorder(|r| {
            r.register_counter(&labels.attempt_ok, &METADATA)
                .increment(1);
            r.register_histogram(&labels.duration_ok, &METADATA)
                .record(a.latency.as_secs_f64());
            if let Some(u) = a.usage {
                for (key, n) in labels.tokens.iter().zip([u.input_tokens, u.output_tokens]) {
                    r.register_histogram(key, &METADATA).record(n as f64);
                }
            }
        });
        return;
    }
    let provider = &labels.provider;
    let model = &labels.model;
    // Static label values where the value is one of a few names: no allocation.
    let (outcome, error): (&'static str, _) = match &a.outcome {
        crate::AttemptOutcome::Success => ("success", None),
        crate::AttemptOutcome::Failed { class, .. } => (class.as_str(), Some(class.as_str())),
        _ => ("other", None),
    };
    metrics::counter!(
        "neuralbridge.attempts",
        "target" => labels.target.clone(),
        "role" => a.role.as_str(),
        "outcome" => outcome,
    )
    .increment(1);
    let h = match error {
        Some(e) => metrics::histogram!(
            "gen_ai.client.operation.duration",
            "gen_ai.provider.name" => provider.clone(),
            "gen_ai.request.model" => model.clone(),
            "error.type" => e,
        ),
        None => metrics::histogram!(
            "gen_ai.client.operation.duration",
            "gen_ai.provider.name" => provider.clone(),
            "gen_ai.request.model" => model.clone(),
        ),
    };
    h.record(a.latency.as_secs_f64());
    if let Some(u) = a.usage {
        for (kind, n) in [("input", u.input_tokens), ("output", u.output_tokens)] {
            metrics::histogram!(
                "gen_ai.client.token.usage",
                "gen_ai.token.type" => kind,
                "gen_ai.provider.name" => provider.clone(),
                "gen_ai.request.model" => model.clone(),
            )
            .record(n as f64);
        }
    }
}

/// Records a finished call's metrics.
pub(crate) fn record_call_metrics(
    report: &crate::CallReport,
    error: Option<crate::RouteErrorKind>,
) {
    static OK_DIRECT: [Label; 2] = [
        Label::from_static_parts("outcome", "ok"),
        Label::from_static_parts("failed_over", "false"),
    ];
    static OK_FAILED_OVER: [Label; 2] = [
        Label::from_static_parts("outcome", "ok"),
        Label::from_static_parts("failed_over", "true"),
    ];
    static OK: [Key; 2] = [
        Key::from_static_parts("neuralbridge.calls", &OK_DIRECT),
        Key::from_static_parts("neuralbridge.calls", &OK_FAILED_OVER),
    ];
    match error {
        None => metrics::with_recorder(|r| {
            r.register_counter(&OK[usize::from(report.failed_over)], &METADATA)
                .increment(1);
        }),
        Some(e) => metrics::counter!(
            "neuralbridge.calls",
            "outcome" => e.as_metric(),
            "failed_over" => if report.failed_over { "true" } else { "false" },
        )
        .increment(1),
    }
    let vouching = match (&report.verdict, error) {
        (Some(v), _) => Some(match v.outcome {
            nb_semantic::EquivalenceOutcome::Equivalent => "equivalent",
            nb_semantic::EquivalenceOutcome::NotEquivalent => "not_equivalent",
            nb_semantic::EquivalenceOutcome::Undecided => "undecided",
        }),
        (None, Some(crate::RouteErrorKind::Unvouched)) => Some("no_reference"),
        _ => None,
    };
    if let Some(v) = vouching {
        metrics::counter!("neuralbridge.vouching", "outcome" => v).increment(1);
    }
    if let (Some(t), Some(c)) = (&report.served_by, report.cost) {
        metrics::counter!("neuralbridge.cost", "target" => t.to_string())
            .increment((c * 1e6).round() as u64);
    }
}

/// Records a breaker transition.
pub(crate) fn record_transition(target: &TargetId, to: nb_breaker::BreakerState) {
    metrics::counter!(
        "neuralbridge.breaker.transitions",
        "target" => target.to_string(),
        "to" => to.to_string(),
    )
    .increment(1);
}

/// Records a recovery probe.
pub(crate) fn record_probe(target: &TargetId, passed: bool) {
    metrics::counter!(
        "neuralbridge.recovery_probes",
        "target" => target.to_string(),
        "passed" => passed.to_string(),
    )
    .increment(1);
}

/// Records a response-cache lookup.
pub(crate) fn record_cache(hit: bool) {
    metrics::counter!("neuralbridge.cache", "outcome" => if hit { "hit" } else { "miss" })
        .increment(1);
}

/// Records a failover answer returned unchecked (vouching off for its call).
pub(crate) fn record_unchecked() {
    metrics::counter!("neuralbridge.unchecked_answers").increment(1);
}

/// Records an answer nothing could vouch for, and whether it was served flagged.
pub(crate) fn record_unvouchable(action: crate::OnUnvouchable) {
    let action = match action {
        crate::OnUnvouchable::ServeFlagged => "served_flagged",
        crate::OnUnvouchable::Refuse => "refused",
    };
    metrics::counter!("neuralbridge.unvouchable_answers", "action" => action).increment(1);
}
