//! The router's metrics in Prometheus text: install a recorder for the `metrics` facade
//! (here `metrics-exporter-prometheus`, without its HTTP listener), route a few calls
//! through a failing primary, and render what a `/metrics` endpoint would serve.
//!
//! `cargo run -p neuralbridge --example metrics_prometheus`

mod common;

use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::prelude::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
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
    for _ in 0..5 {
        router
            .chat(&ChatRequest::user(
                "What is 17 + 25? Reply with the number only.",
            ))
            .await?;
    }
    let text = prometheus.render();
    println!("{text}");
    assert!(text.contains("neuralbridge_calls"), "{text}");
    assert!(text.contains("neuralbridge_attempts"), "{text}");
    assert!(text.contains("gen_ai_client_operation_duration"), "{text}");
    Ok(())
}
