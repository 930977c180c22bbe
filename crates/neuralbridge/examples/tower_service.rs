//! Tower, both halves: the router is a `tower::Service<ChatRequest>` (middleware goes
//! around it), and `RouterLayer` is a `tower::Layer` (the router goes around a service of
//! yours, which becomes its first target, with failover to the others).
//!
//! `cargo run -p neuralbridge --example tower_service`

mod common;

use std::time::Duration;

use nb_chaos::{ProviderSpec, WireFormat};
use neuralbridge::core::TransportKind;
use neuralbridge::prelude::*;
use neuralbridge::router::{RouterLayer, SmartRouter};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = common::simulate(vec![
        ProviderSpec::new("p", WireFormat::OpenAi, "gpt-4o-mini"),
        ProviderSpec::new("fallback", WireFormat::Anthropic, "claude-sonnet-4-5"),
    ])
    .await;
    let router = SmartRouter::builder()
        .target(common::target(&chaos.handle(), "p", WireFormat::OpenAi))
        .build()?;
    // A tower layer in front of the router: here a mapping of the request.
    let mut svc = ServiceBuilder::new()
        .map_request(|mut req: ChatRequest| {
            req.messages.insert(0, Message::system("Be terse."));
            req
        })
        .service(router);
    let routed = svc
        .ready()
        .await?
        .call(ChatRequest::user("What is 2 + 2?"))
        .await?;
    println!("{} in {:?}", routed.value.text, routed.report.elapsed);
    assert!(routed.report.elapsed < Duration::from_secs(5));

    // The other half: the router as a layer around a service of yours (here one that is
    // down), under an outer timeout. Its policy's deadline sits a little under the outer
    // timeout, so a hanging service still leaves room to fail over; whatever happens,
    // the outer timeout fires on time and drops the call with every attempt in it.
    let yours = service_fn(|_: ChatRequest| async {
        Err::<ChatResponse, _>(CallError::transport(
            TransportKind::ConnectRefused,
            "connection refused",
        ))
    });
    let fallback = common::target(&chaos.handle(), "fallback", WireFormat::Anthropic);
    let layer = RouterLayer::new(TargetId::new("yours", "m"), move |inner| {
        SmartRouter::builder()
            .target(inner)
            .target(fallback.clone())
            .policy(Policy::default().with_deadline(Duration::from_millis(4_500)))
    })?;
    let svc = ServiceBuilder::new()
        .timeout(Duration::from_secs(5))
        .layer(layer)
        .service(yours);
    let routed = svc
        .oneshot(ChatRequest::user("What is 2 + 2?"))
        .await
        .map_err(|e| -> Box<dyn std::error::Error> { e })?;
    println!(
        "{} from {:?} (failed over: {})",
        routed.value.text, routed.report.served_by, routed.report.failed_over
    );
    assert!(routed.report.failed_over);
    Ok(())
}
