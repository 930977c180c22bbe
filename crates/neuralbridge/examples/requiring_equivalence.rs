//! Failover is not correctover: with the primary down and a fallback that sometimes
//! answers wrongly, every returned answer was vouched for by an independent target, and
//! the rest are explicit errors.
//!
//! `cargo run -p neuralbridge --example requiring_equivalence`

mod common;

use nb_chaos::tasks::Task;
use nb_chaos::{Fault, FaultKind, Personality, ProviderSpec, WireFormat};
use neuralbridge::prelude::*;
use neuralbridge::router::{SmartRouter, Vouching};
use neuralbridge::semantic::Strict;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = common::simulate(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, "gpt-4o-mini")
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
        ProviderSpec::new("drifting", WireFormat::Anthropic, "claude-sonnet-4-5")
            .with_personality(Personality::Chatty)
            .with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(0.3)),
        ProviderSpec::new("honest", WireFormat::Gemini, "gemini-2.5-flash")
            .with_personality(Personality::Markdown),
    ])
    .await;
    let h = chaos.handle();
    let router = SmartRouter::builder()
        .target(common::target(&h, "primary", WireFormat::OpenAi))
        .target(common::target(&h, "drifting", WireFormat::Anthropic))
        .target(common::target(&h, "honest", WireFormat::Gemini))
        .vouch(Vouching::consensus(Strict))
        .build()?;
    let (mut vouched, mut refused, mut wrong) = (0, 0, 0);
    for i in 0..40 {
        let task = Task::Arithmetic {
            a: i,
            op: '*',
            b: 7,
        };
        match router.chat(&ChatRequest::user(task.prompt())).await {
            Ok(r) if task.check(&r.value.text) => vouched += 1,
            Ok(_) => wrong += 1,
            Err(e) => {
                refused += 1;
                if refused == 1 {
                    println!("refused: {e}");
                }
            }
        }
    }
    println!("vouched {vouched}, refused {refused}, wrong answers returned {wrong}");
    assert_eq!(wrong, 0);
    Ok(())
}
