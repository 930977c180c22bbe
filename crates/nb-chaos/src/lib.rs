//! A provider simulator: real HTTP servers that speak the providers' wire formats and
//! inject scripted faults, for tests, benchmarks and the demo.
//!
//! - [`ChaosServer`]: one loopback listener per simulated provider, started from a
//!   [`Scenario`] (in code or TOML), with a [`ChaosHandle`] for base URLs, per-provider
//!   [`ProviderStats`] (requests, faults, statuses, cancellations, a request log) and an
//!   outage switch; a `GET /_chaos/stats` endpoint on every port says the same over HTTP;
//! - [`scenario`]: providers (format, models and context windows, latency, stream pacing,
//!   personality, required key) and [`Fault`]s by probability, time window, request range
//!   and model — every random choice drawn from the seed, per provider and request number,
//!   so a run replays exactly;
//! - tool calls: a request that offers tools is answered with a call — in each format's
//!   own shape, streamed and not — when its `tool_choice` requires one or a scripted
//!   [`ToolRule`] matches (or always, per [`ToolCalls`]); faults answer in text instead
//!   ([`FaultKind::TextInsteadOfTool`]) or with a wrong argument
//!   ([`FaultKind::WrongToolArguments`]);
//! - judge mode: a prompt showing a question and two answers (a judge's `SAME` /
//!   `DIFFERENT` rubric, or an entailment model's "Does Answer A entail Answer B?") is
//!   answered from the truth of the checkable task, wrong with the probability of a
//!   [`FaultKind::WrongVerdict`] fault;
//! - [`tasks`]: prompts with computable answers (arithmetic, sentiment labels, JSON
//!   extraction, yes/no) so a client can verify every answer and count silent corruptions.
//!
//! It writes every wire format from the providers' documented shapes on its own and
//! depends on none of the layers it tests: a type shared by the simulator and an adapter
//! would let a bug in that type pass every test.
//!
//! ```
//! use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let scenario = Scenario::new(vec![
//!     ProviderSpec::new("anthropic", WireFormat::Anthropic, "claude-sonnet-4-5")
//!         .with_fault(Fault::always(FaultKind::Overloaded).with_probability(0.2)),
//! ])
//! .with_seed(7);
//! let server = ChaosServer::start(scenario).await.unwrap();
//! let base = server.base_url("anthropic").unwrap(); // http://127.0.0.1:PORT
//! assert!(base.starts_with("http://127.0.0.1:"));
//! assert_eq!(server.handle().requests("anthropic"), 0);
//! server.shutdown().await;
//! # });
//! ```

mod responses;
pub mod scenario;
mod server;
pub mod tasks;
mod wire;

pub use scenario::{
    Fault, FaultKind, Latency, ModelSpec, Personality, Phase, ProviderSpec, Scenario,
    ScenarioError, ToolCalls, ToolRule, WireFormat,
};
pub use server::{ChaosError, ChaosHandle, ChaosServer, ProviderStats, RequestRecord};
