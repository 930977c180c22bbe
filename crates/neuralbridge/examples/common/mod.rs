//! Shared by the examples: simulated providers on loopback, and adapters pointed at them.
#![allow(dead_code)]

use std::sync::Arc;

use nb_chaos::{ChaosHandle, ChaosServer, ProviderSpec, Scenario, WireFormat};
use neuralbridge::core::{Provider, TargetId};
use neuralbridge::providers::{Anthropic, ApiKey, Gemini, OpenAi, OpenAiResponses, Preset};
use neuralbridge::router::Target;

/// Starts simulated providers; keep the server alive while you use them.
pub(crate) async fn simulate(providers: Vec<ProviderSpec>) -> ChaosServer {
    ChaosServer::start(Scenario::new(providers).with_seed(7))
        .await
        .expect("the simulator starts")
}

/// A router target speaking `format` to simulated provider `name`.
pub(crate) fn target(chaos: &ChaosHandle, name: &str, format: WireFormat) -> Target {
    let base = chaos.base_url(name).expect("a simulated provider");
    let key = ApiKey::new("sk-example");
    let (model, provider): (&str, Arc<dyn Provider>) = match format {
        WireFormat::OpenAi => (
            "gpt-4o-mini",
            Arc::new(
                OpenAi::builder(Preset::OpenAi, "gpt-4o-mini")
                    .base_url(format!("{base}/v1"))
                    .api_key(key)
                    .build()
                    .expect("adapter"),
            ),
        ),
        WireFormat::Anthropic => (
            "claude-sonnet-4-5",
            Arc::new(
                Anthropic::builder("claude-sonnet-4-5")
                    .base_url(base)
                    .api_key(key)
                    .build()
                    .expect("adapter"),
            ),
        ),
        WireFormat::Gemini => (
            "gemini-2.5-flash",
            Arc::new(
                Gemini::builder("gemini-2.5-flash")
                    .base_url(base)
                    .api_key(key)
                    .build()
                    .expect("adapter"),
            ),
        ),
        WireFormat::OpenAiResponses => (
            "gpt-5-mini",
            Arc::new(
                OpenAiResponses::builder("gpt-5-mini")
                    .base_url(format!("{base}/v1"))
                    .api_key(key)
                    .build()
                    .expect("adapter"),
            ),
        ),
    };
    Target::shared(TargetId::new(name, model), provider)
}
