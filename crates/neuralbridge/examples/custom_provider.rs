//! A provider of your own (a local model, an internal service, a test double), written
//! against the facade alone — `use neuralbridge::prelude::*` is the only import it
//! needs — and used as a fallback behind a simulated primary that is down.
//!
//! `cargo run -p neuralbridge --example custom_provider`

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::prelude::*;

/// A "local model" that answers sums itself.
#[derive(Default)]
struct LocalAdder {
    calls: AtomicUsize,
}

#[async_trait]
impl Provider for LocalAdder {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let prompt = req.messages.last().map(Message::text).unwrap_or_default();
        let numbers: Vec<i64> = prompt
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|w| w.parse().ok())
            .collect();
        if numbers.is_empty() {
            // A failure is a fact the router classifies, like any provider's.
            return Err(CallError::Unsupported {
                what: "LocalAdder only adds numbers".into(),
            });
        }
        Ok(ChatResponse::text(numbers.iter().sum::<i64>().to_string())
            .with_usage(Usage::new(prompt.len() as u64 / 4, 1)))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = common::simulate(vec![
        ProviderSpec::new("cloud", WireFormat::OpenAi, "gpt-4o-mini")
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
    ])
    .await;
    let local = std::sync::Arc::new(LocalAdder::default());
    let router = SmartRouter::builder()
        .target(common::target(&chaos.handle(), "cloud", WireFormat::OpenAi))
        .target(Target::shared(
            TargetId::new("local", "adder"),
            local.clone(),
        ))
        .build()?;
    let routed = router
        .chat(&ChatRequest::user(
            "What is 17 + 25? Reply with the number only.",
        ))
        .await?;
    println!("answer: {}", routed.value.text);
    println!("{}", routed.report);
    assert_eq!(routed.value.text, "42");
    assert_eq!(
        routed.report.served_by,
        Some(TargetId::new("local", "adder"))
    );
    assert_eq!(local.calls.load(Ordering::Relaxed), 1);
    Ok(())
}
