//! Your rules first, the default taxonomy for the rest: here, an in-house proxy that
//! answers 500 when its upstream is saturated is treated as an overload (fail over at
//! once) instead of a server error (retry here).
//!
//! `cargo run -p neuralbridge --example custom_classifier`

mod common;

use nb_chaos::{Fault, FaultKind, ProviderSpec, WireFormat};
use neuralbridge::classify::{Classification, Classifier, DefaultClassifier, Disposition, Failure};
use neuralbridge::prelude::*;
use neuralbridge::router::{AttemptOutcome, SmartRouter};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = common::simulate(vec![
        ProviderSpec::new("proxy", WireFormat::OpenAi, "gpt-4o-mini")
            .with_fault(Fault::always(FaultKind::ServerError)),
        ProviderSpec::new("direct", WireFormat::Anthropic, "claude-sonnet-4-5"),
    ])
    .await;
    let h = chaos.handle();
    let saturated_proxy = |f: &Failure<'_>| match f {
        Failure::Call(e) if e.status() == Some(500) => Some(Classification::new(
            FailureClass::Overloaded,
            neuralbridge::core::Scope::Provider,
            Disposition::FailOver,
            "in-house proxy saturated",
        )),
        _ => None,
    };
    let router = SmartRouter::builder()
        .target(common::target(&h, "proxy", WireFormat::OpenAi))
        .target(common::target(&h, "direct", WireFormat::Anthropic))
        .classifier(saturated_proxy.then(DefaultClassifier::new()))
        .build()?;
    let routed = router.chat(&ChatRequest::user("What is 6 * 7?")).await?;
    if let AttemptOutcome::Failed { class, reason, .. } = &routed.report.attempts[0].outcome {
        println!("first attempt: {class} ({reason})");
        assert_eq!(*class, FailureClass::Overloaded);
    }
    println!(
        "served by {}",
        routed
            .report
            .served_by
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    );
    assert_eq!(h.requests("proxy"), 1, "no retry on the saturated proxy");
    Ok(())
}
