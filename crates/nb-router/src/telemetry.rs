//! The names the router's spans and events carry, in one place: OpenTelemetry's GenAI
//! semantic conventions (v1.37, `gen_ai.provider.name` rather than the older
//! `gen_ai.system`), and ours under `nb.` where there is no convention (failover,
//! attempts, vouching, total cost).

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

/// Records a finished call's outcome on its span.
pub(crate) fn record_call(span: &tracing::Span, report: &crate::CallReport, error: Option<&str>) {
    if let Some(t) = &report.served_by {
        span.record("gen_ai.provider.name", provider_name(t));
        span.record("gen_ai.request.model", t.model());
    } else if let Some(a) = report.attempts.first() {
        span.record("gen_ai.provider.name", provider_name(&a.target));
        span.record("gen_ai.request.model", a.target.model());
    }
    if let Some(u) = report.usage {
        span.record("gen_ai.usage.input_tokens", u.input_tokens);
        span.record("gen_ai.usage.output_tokens", u.output_tokens);
        if let Some(c) = u.cached_tokens {
            span.record("gen_ai.usage.cache_read.input_tokens", c);
        }
    }
    span.record("nb.failed_over", report.failed_over);
    span.record("nb.attempts", report.attempts.len());
    if let Some(c) = report.total_cost {
        span.record("nb.total_cost", c);
    }
    if let Some(e) = error {
        span.record("error.type", e);
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
