//! Any closure is a validator. A content violation (here: a label outside the allowed
//! set) fails over; the report says what was checked.
//!
//! `cargo run -p neuralbridge --example custom_validator`

mod common;

use nb_chaos::{Fault, FaultKind, Personality, ProviderSpec, WireFormat};
use neuralbridge::core::{Violation, ViolationKind};
use neuralbridge::guard::Bounds;
use neuralbridge::prelude::*;
use neuralbridge::router::SmartRouter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = common::simulate(vec![
        // This one answers in prose: it will break the "one word" rule.
        ProviderSpec::new("chatty", WireFormat::Anthropic, "claude-sonnet-4-5")
            .with_personality(Personality::Chatty)
            .with_fault(Fault::always(FaultKind::LatencySpike).with_delay_ms(1)),
        ProviderSpec::new("terse", WireFormat::OpenAi, "gpt-4o-mini"),
    ])
    .await;
    let h = chaos.handle();
    let one_word = |r: &ChatResponse| {
        if r.text.split_whitespace().count() == 1 {
            Ok(())
        } else {
            Err(Violation::new(
                ViolationKind::Bounds,
                "",
                format!("expected one word, got {:?}", r.text),
            ))
        }
    };
    let router = SmartRouter::builder()
        .target(common::target(&h, "chatty", WireFormat::Anthropic))
        .target(common::target(&h, "terse", WireFormat::OpenAi))
        .validator(one_word)
        .validator(Bounds::new().labels("", ["positive", "negative", "neutral"]))
        .build()?;
    let req = ChatRequest::user(
        "Classify the sentiment of this review as positive, negative or neutral: \"great value, fast delivery\"",
    );
    let routed = router.chat(&req).await?;
    println!("{} — {}", routed.value.text, routed.report);
    assert_eq!(routed.value.text, "positive");
    Ok(())
}
