//! Shared helpers for neuralbridge's cross-crate integration tests: start a simulator and
//! point the real adapters at it. The tests themselves live in `tests/tests/`, one file
//! per behaviour (the taxonomy over loopback, the router's self-healing, validation and
//! vouching, escalation, the equivalence dataset).
//!
//! ```
//! use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
//! use nb_core::ChatRequest;
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let server = ChaosServer::start(Scenario::new(vec![
//!     ProviderSpec::new("p", WireFormat::Gemini, nb_tests::model_of(WireFormat::Gemini)),
//! ])).await.unwrap();
//! let gemini = nb_tests::adapter(&server.handle(), "p", WireFormat::Gemini);
//! let answer = gemini.chat(&ChatRequest::user("What is 2 + 3?")).await.unwrap();
//! assert_eq!(answer.text, "5");
//! # });
//! ```

use std::time::Duration;

mod answers;
mod timed;
pub use answers::TaskAnswers;
pub use timed::{Arrival, Behaviour, Timed};

use nb_chaos::{ChaosHandle, WireFormat};
use nb_core::Provider;
use nb_providers::{Anthropic, ApiKey, Gemini, OpenAi, OpenAiResponses, Preset, Timeouts};

/// A router target named after simulated provider `name`, served by a real adapter.
///
/// # Panics
/// When `name` is not a provider of the running simulator.
pub fn router_target(chaos: &ChaosHandle, name: &str, format: WireFormat) -> nb_router::Target {
    nb_router::Target::shared(
        nb_core::TargetId::new(name, model_of(format)),
        std::sync::Arc::from(adapter(chaos, name, format)),
    )
}

/// The model each simulated format serves in these tests.
pub fn model_of(format: WireFormat) -> &'static str {
    match format {
        WireFormat::OpenAi => "gpt-4o-mini",
        WireFormat::Anthropic => "claude-sonnet-4-5",
        WireFormat::Gemini => "gemini-2.5-flash",
        WireFormat::OpenAiResponses => "gpt-5-mini",
    }
}

/// Timeouts short enough for a hang to fail in a test, and long enough that a healthy
/// answer over loopback (a few milliseconds at rest) never hits them on a loaded machine:
/// 300 ms did, at load 12.
pub fn test_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        response_head: Duration::from_secs(2),
        ..Timeouts::default()
    }
}

/// A real adapter of `format` pointed at simulated provider `name`.
///
/// # Panics
/// When `name` is not a provider of the running simulator.
pub fn adapter(chaos: &ChaosHandle, name: &str, format: WireFormat) -> Box<dyn Provider> {
    adapter_with(chaos, name, format, None)
}

/// Like [`adapter`], with an OpenAI-compatible preset other than OpenAI's own.
///
/// # Panics
/// When `name` is not a provider of the running simulator, or the adapter cannot be built.
pub fn adapter_with(
    chaos: &ChaosHandle,
    name: &str,
    format: WireFormat,
    preset: Option<Preset>,
) -> Box<dyn Provider> {
    let base = chaos
        .base_url(name)
        .unwrap_or_else(|| panic!("no simulated provider {name}"));
    let key = ApiKey::new("sk-chaos-test");
    let built: Result<Box<dyn Provider>, nb_providers::ConfigError> = match format {
        WireFormat::OpenAi => OpenAi::builder(preset.unwrap_or(Preset::OpenAi), model_of(format))
            .base_url(format!("{base}/v1"))
            .api_key(key)
            .timeouts(test_timeouts())
            .build()
            .map(|p| Box::new(p) as Box<dyn Provider>),
        WireFormat::Anthropic => Anthropic::builder(model_of(format))
            .base_url(base)
            .api_key(key)
            .timeouts(test_timeouts())
            .build()
            .map(|p| Box::new(p) as Box<dyn Provider>),
        WireFormat::Gemini => Gemini::builder(model_of(format))
            .base_url(base)
            .api_key(key)
            .timeouts(test_timeouts())
            .build()
            .map(|p| Box::new(p) as Box<dyn Provider>),
        WireFormat::OpenAiResponses => OpenAiResponses::builder(model_of(format))
            .base_url(format!("{base}/v1"))
            .api_key(key)
            .timeouts(test_timeouts())
            .build()
            .map(|p| Box::new(p) as Box<dyn Provider>),
    };
    built.unwrap_or_else(|e| panic!("adapter for {name}: {e}"))
}

/// Waits until simulated provider `name` refuses connections (`down`) or accepts them
/// again: the simulator closes and reopens its listener on its next pass after
/// `set_down` or the edge of an outage window (every 10–20 ms, later on a loaded
/// machine), so a fixed sleep is a race. Polls for up to 30 s of real time.
///
/// # Panics
/// When `name` is not a provider of the running simulator, or it never gets there.
pub async fn until_down(chaos: &ChaosHandle, name: &str, down: bool) {
    let addr = chaos
        .addr(name)
        .unwrap_or_else(|| panic!("no simulated provider {name}"));
    let started = std::time::Instant::now();
    loop {
        let refused =
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err();
        if refused == down {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name} still {}",
            if down {
                "accepts connections"
            } else {
                "refuses connections"
            }
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
