//! The router is a `tower::Service<ChatRequest>`: compose it with tower middleware.
//!
//! `cargo run -p neuralbridge --example tower_service`

mod common;

use std::time::Duration;

use nb_chaos::{ProviderSpec, WireFormat};
use neuralbridge::prelude::*;
use neuralbridge::router::SmartRouter;
use tower::{Service, ServiceBuilder, ServiceExt};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let chaos = common::simulate(vec![ProviderSpec::new(
        "p",
        WireFormat::OpenAi,
        "gpt-4o-mini",
    )])
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
    Ok(())
}
