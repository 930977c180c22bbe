//! Subscribe to what the router does: attempts, breaker transitions, cool-downs.
//!
//! `cargo run -p neuralbridge --example events`

mod common;

use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::breaker::HealthEvent;
use neuralbridge::prelude::*;
use neuralbridge::router::{RouterEvent, SmartRouter};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = common::simulate(vec![
        ProviderSpec::new("limited", WireFormat::OpenAi, "gpt-4o-mini")
            .with_fault(Fault::always(FaultKind::RateLimit).with_retry_after(30.0)),
        ProviderSpec::new("backup", WireFormat::Gemini, "gemini-2.5-flash"),
    ])
    .await;
    let h = chaos.handle();
    let router = SmartRouter::builder()
        .target(common::target(&h, "limited", WireFormat::OpenAi))
        .target(common::target(&h, "backup", WireFormat::Gemini))
        .build()?;
    let mut events = router.subscribe();
    for _ in 0..3 {
        router.chat(&ChatRequest::user("What is 1 + 1?")).await?;
    }
    let mut cooldowns = 0;
    while let Ok(e) = events.try_recv() {
        match e {
            RouterEvent::Attempt(a) => println!(
                "attempt on {} took {:?}: {:?}",
                a.target, a.latency, a.outcome
            ),
            RouterEvent::Health(HealthEvent::Cooldown { key, cause, .. }) => {
                cooldowns += 1;
                println!("cool-down on {key} ({cause:?})");
            }
            RouterEvent::Health(other) => println!("{other:?}"),
            _ => {}
        }
    }
    assert_eq!(
        cooldowns, 1,
        "one 429 with retry-after: 30 keeps the target away for the next calls"
    );
    assert_eq!(h.requests("limited"), 1);
    Ok(())
}
