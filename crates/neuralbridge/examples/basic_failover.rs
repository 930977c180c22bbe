//! The primary is down; the router fails over and says so in the report.
//!
//! `cargo run -p neuralbridge --example basic_failover`

mod common;

use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::prelude::*;
use neuralbridge::router::SmartRouter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
    println!("answer: {}", routed.value.text);
    println!("{}", routed.report);
    assert_eq!(routed.value.text, "42");
    assert!(routed.report.failed_over);
    Ok(())
}
