//! The router's traces exported through OpenTelemetry: `tracing-opentelemetry` turns the
//! router's spans into OpenTelemetry spans carrying the GenAI semantic-convention fields
//! (`gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.usage.input_tokens`, ...).
//! Here they go to the SDK's in-memory exporter, so no collector is needed; in production
//! swap it for an OTLP exporter (`opentelemetry-otlp`) and keep the rest.
//!
//! One call fails over from an overloaded primary: the exported trace holds the call's
//! span (`nb.route`, failed over, two attempts) and one `chat {model}` child per attempt.
//!
//! `cargo run -p neuralbridge --example otel_traces`

mod common;

use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::prelude::*;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("neuralbridge")));
    tracing::subscriber::set_global_default(subscriber)?;

    let chaos = common::simulate(vec![
        ProviderSpec::new("primary", WireFormat::Anthropic, "claude-sonnet-4-5")
            .with_fault(Fault::always(FaultKind::Overloaded)),
        ProviderSpec::new("fallback", WireFormat::OpenAi, "gpt-4o-mini"),
    ])
    .await;
    let h = chaos.handle();
    let router = SmartRouter::builder()
        .target(common::target(&h, "primary", WireFormat::Anthropic))
        .target(common::target(&h, "fallback", WireFormat::OpenAi))
        .build()?;
    let routed = router
        .chat(&ChatRequest::user(
            "What is 17 + 25? Reply with the number only.",
        ))
        .await?;
    println!("answer: {} ({})", routed.value.text, routed.report);
    provider.force_flush()?;

    let spans = exporter.get_finished_spans()?;
    for s in &spans {
        let attrs: Vec<String> = s
            .attributes
            .iter()
            .map(|kv| format!("{}={}", kv.key, kv.value))
            .collect();
        println!("{}: {}", s.name, attrs.join(" "));
    }
    let attr = |s: &opentelemetry_sdk::trace::SpanData, key: &str| {
        s.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.to_string())
    };
    let call = spans
        .iter()
        .find(|s| s.name == "nb.route")
        .ok_or("no call span exported")?;
    assert_eq!(attr(call, "gen_ai.operation.name").as_deref(), Some("chat"));
    // The target's provider as configured (well-known names are mapped to the
    // convention's: `gemini` → `gcp.gemini`); here the simulator calls it "fallback".
    assert_eq!(
        attr(call, "gen_ai.provider.name").as_deref(),
        Some("fallback")
    );
    assert_eq!(
        attr(call, "gen_ai.request.model").as_deref(),
        Some("gpt-4o-mini")
    );
    assert!(attr(call, "gen_ai.usage.input_tokens").is_some());
    assert_eq!(attr(call, "nb.failed_over").as_deref(), Some("true"));
    assert_eq!(attr(call, "nb.attempts").as_deref(), Some("2"));
    let attempts: Vec<_> = spans
        .iter()
        .filter(|s| s.name.starts_with("chat "))
        .collect();
    assert_eq!(attempts.len(), 2, "one span per attempt");
    for a in &attempts {
        assert_eq!(
            a.parent_span_id,
            call.span_context.span_id(),
            "attempts are children of the call"
        );
    }
    provider.shutdown()?;
    Ok(())
}
