//! A typed answer: the schema of `Person` travels to the provider in its native form,
//! every answer is validated and deserialized; a broken one is repaired on the spot.
//!
//! `cargo run -p neuralbridge --example typed_output`

mod common;

use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::prelude::*;
use neuralbridge::router::SmartRouter;

#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct Person {
    name: String,
    age: u32,
    city: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The first answer breaks the schema; the repair round fixes it.
    let chaos = common::simulate(vec![
        ProviderSpec::new("gemini", WireFormat::Gemini, "gemini-2.5-flash")
            .with_fault(Fault::always(FaultKind::SchemaViolation).for_requests(0, Some(1))),
    ])
    .await;
    let router = SmartRouter::builder()
        .target(common::target(
            &chaos.handle(),
            "gemini",
            WireFormat::Gemini,
        ))
        .build()?;
    let req = ChatRequest::user(
        "Extract name, age and city as JSON from: Ana is 34 years old and lives in Lyon.",
    );
    let routed = router.chat_typed::<Person>(&req).await?;
    println!("{:?} (repairs: {})", routed.value, routed.report.repairs);
    assert_eq!(
        (
            routed.value.name.as_str(),
            routed.value.age,
            routed.value.city.as_str()
        ),
        ("Ana", 34, "Lyon")
    );
    Ok(())
}
