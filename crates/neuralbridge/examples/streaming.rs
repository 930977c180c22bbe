//! Streams fail over freely until their first content delta; after it a failure is
//! surfaced with the partial output, never hidden.
//!
//! `cargo run -p neuralbridge --example streaming`

mod common;

use futures_util::StreamExt;
use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::prelude::*;
use neuralbridge::router::SmartRouter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = common::simulate(vec![
        // Keep-alive comments, then an overload before any content: invisible failover.
        ProviderSpec::new("flaky", WireFormat::Anthropic, "claude-sonnet-4-5")
            .with_fault(
                Fault::always(FaultKind::KeepAlive)
                    .with_count(3)
                    .with_delay_ms(5),
            )
            .with_fault(Fault::always(FaultKind::MidStreamError).after_chunks(0)),
        ProviderSpec::new("steady", WireFormat::OpenAi, "gpt-4o-mini"),
    ])
    .await;
    let h = chaos.handle();
    let router = SmartRouter::builder()
        .target(common::target(&h, "flaky", WireFormat::Anthropic))
        .target(common::target(&h, "steady", WireFormat::OpenAi))
        .build()?;
    let routed = router
        .stream(&ChatRequest::user(
            "Extract name, age and city as JSON from: Bruno is 51 years old and lives in Porto.",
        ))
        .await?;
    println!(
        "committed to {}",
        routed
            .report
            .served_by
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    let mut stream = routed.value;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(ChatChunk::Text { delta }) => print!("{delta}"),
            Ok(_) => {}
            Err(e) => {
                // After the commit: the partial text comes with the error.
                println!(
                    "\nstream failed after {:?}: {e}",
                    e.partial().map(|p| p.text.clone())
                );
                break;
            }
        }
    }
    println!();
    Ok(())
}
