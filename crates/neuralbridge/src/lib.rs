//! neuralbridge: LLM API calls that heal themselves.
//!
//! This facade re-exports every layer under a short name, each behind a cargo feature of
//! the same name (all on by default via `full`), plus a [`prelude`] of the types every
//! user touches. It holds no logic of its own.
//!
//! | module | crate | what it does |
//! |---|---|---|
//! | [`core`] | `nb-core` | requests, responses, failure facts, the `Provider` trait |
//! | `providers` | `nb-providers` | OpenAI, Anthropic, Gemini, OpenAI-compatible adapters |
//! | `classify` | `nb-classify` | the failure taxonomy |
//! | `breaker` | `nb-breaker` | circuit breakers, pacing, cool-downs |
//! | `guard` | `nb-guard` | answer validation |
//! | `semantic` | `nb-semantic` | equivalence checks for failover answers |
//! | `router` | `nb-router` | the self-healing router |
//!
//! ```no_run
//! use neuralbridge::prelude::*;
//! use neuralbridge::providers::OpenAi;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Reads OPENAI_API_KEY; the key never appears in Debug output, logs or errors.
//! let gpt = OpenAi::from_env("gpt-4o-mini")?;
//! let answer = gpt.chat(&ChatRequest::user("Say hi")).await?;
//! println!("{} (finish: {:?})", answer.text, answer.finish_reason);
//! # Ok(()) }
//! ```

pub use nb_core as core;

#[cfg(feature = "providers")]
pub use nb_providers as providers;

#[cfg(feature = "classify")]
pub use nb_classify as classify;

#[cfg(feature = "breaker")]
pub use nb_breaker as breaker;

#[cfg(feature = "guard")]
pub use nb_guard as guard;

#[cfg(feature = "semantic")]
pub use nb_semantic as semantic;

#[cfg(feature = "router")]
pub use nb_router as router;

/// The handful of types every user touches.
pub mod prelude {
    pub use nb_core::{
        CallError, ChatChunk, ChatRequest, ChatResponse, FailureClass, FinishReason, Message,
        Provider, ResponseFormat, TargetId,
    };
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
