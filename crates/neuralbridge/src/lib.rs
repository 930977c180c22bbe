//! neuralbridge: LLM API calls that heal themselves.
//!
//! This facade re-exports every layer under a short name, each behind a cargo feature of
//! the same name (all on by default via `full`), plus a [`prelude`] of the types every
//! user touches. It holds no logic of its own.
//!
//! | module | crate | what it does |
//! |---|---|---|
//! | [`core`] | `nb-core` | requests and their parts, responses, failure facts, the `Provider` trait |
//! | `providers` | `nb-providers` | OpenAI, Anthropic, Gemini, OpenAI-compatible adapters |
//! | `classify` | `nb-classify` | the failure taxonomy |
//! | `breaker` | `nb-breaker` | circuit breakers, pacing, cool-downs |
//! | `guard` | `nb-guard` | answer validation |
//! | `semantic` | `nb-semantic` | equivalence checks for failover answers |
//! | `router` | `nb-router` | the self-healing router (implies `classify`, `breaker`, `guard`, `semantic`: its API takes their types) |
//!
//! Feature `json-schema` (in `full`) adds JSON Schema validation: `guard::JsonSchema`, and
//! typed calls (`chat_typed`) checking answers against their type's schema as well as by
//! deserializing them. It brings the `jsonschema` crate, the largest of a build; without
//! it the rest of validation stays.
//!
//! Every layer's items are documented here, under its module; the [`prelude`] holds what
//! a call needs and what implementing `Provider`, `Classifier`, `Validator` or
//! `Equivalence` needs, `async_trait` included.
//!
//! ```no_run
//! use neuralbridge::prelude::*;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Keys come from ANTHROPIC_API_KEY / OPENAI_API_KEY and never appear in Debug output,
//! // logs or errors.
//! let router = SmartRouter::builder()
//!     .target(Target::new(TargetId::new("anthropic", "claude-sonnet-4-5"), Anthropic::from_env("claude-sonnet-4-5")?))
//!     .target(Target::new(TargetId::new("openai", "gpt-4o-mini"), OpenAi::from_env("gpt-4o-mini")?))
//!     .vouch(Vouching::consensus(Strict))
//!     .build()?;
//! let routed = router.chat(&ChatRequest::user("What is 17 + 25?")).await?;
//! println!("{} (served by {:?})", routed.value.text, routed.report.served_by);
//! # Ok(()) }
//! ```

pub mod core {
    //! The vocabulary: requests and their parts, responses, failure facts, the
    //! [`Provider`] trait (`nb-core`).
    #[doc(inline)]
    pub use nb_core::*;
}

#[cfg(feature = "providers")]
pub mod providers {
    //! Wire adapters: OpenAI and compatibles, Anthropic, Gemini (`nb-providers`).
    #[doc(inline)]
    pub use nb_providers::*;
}

#[cfg(feature = "classify")]
pub mod classify {
    //! The failure taxonomy: what failed, how far it reaches, what to do (`nb-classify`).
    #[doc(inline)]
    pub use nb_classify::*;
}

#[cfg(feature = "breaker")]
pub mod breaker {
    //! Per-target health: circuit breakers, cool-downs, pacing (`nb-breaker`).
    #[doc(inline)]
    pub use nb_breaker::*;
}

#[cfg(feature = "guard")]
pub mod guard {
    //! Answer validation: JSON, schemas, bounds, repair (`nb-guard`).
    #[doc(inline)]
    pub use nb_guard::*;
}

#[cfg(feature = "semantic")]
pub mod semantic {
    //! Equivalence: vouching for a failover answer (`nb-semantic`).
    #[doc(inline)]
    pub use nb_semantic::*;
}

#[cfg(feature = "router")]
pub mod router {
    //! The self-healing router (`nb-router`).
    #[doc(inline)]
    pub use nb_router::*;
}

#[cfg(feature = "redis")]
pub mod store_redis {
    //! Health shared by replicas on Redis (`nb-store-redis`, feature `redis`).
    #[doc(inline)]
    pub use nb_store_redis::*;
}

/// What every user touches, and what implementing a layer's trait needs: `use
/// neuralbridge::prelude::*;` and nothing else.
///
/// ```
/// use neuralbridge::prelude::*;
///
/// // A provider of your own, through the facade only.
/// struct Canned;
///
/// #[async_trait]
/// impl Provider for Canned {
///     async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
///         Ok(ChatResponse::text("42"))
///     }
/// }
///
/// // A validator of your own.
/// struct NotEmpty;
///
/// impl Validator for NotEmpty {
///     fn validate(&self, r: &ChatResponse) -> Result<(), Violation> {
///         if r.text.trim().is_empty() {
///             Err(Violation::new(ViolationKind::Custom, "", "empty answer"))
///         } else {
///             Ok(())
///         }
///     }
/// }
/// # let _ = (Canned, NotEmpty);
/// ```
pub mod prelude {
    pub use async_trait::async_trait;
    pub use nb_core::{
        CallError, ChatChunk, ChatRequest, ChatResponse, ChatStream, FailureClass, FinishReason,
        Media, Message, Part, Provider, ResponseFormat, Role, Scope, TargetId, ToolCall, ToolSpec,
        Usage, Violation, ViolationKind,
    };

    #[cfg(feature = "classify")]
    pub use nb_classify::{Classification, Classifier, Disposition, Failure};

    #[cfg(feature = "guard")]
    pub use nb_guard::Validator;

    #[cfg(feature = "json-schema")]
    pub use nb_guard::JsonSchema;

    #[cfg(feature = "semantic")]
    pub use nb_semantic::{Equivalence, EquivalenceOutcome, Strict, Verdict};

    #[cfg(feature = "router")]
    pub use nb_router::{CallOptions, Policy, RouteError, Routed, SmartRouter, Target, Vouching};

    #[cfg(feature = "providers")]
    pub use nb_providers::{Anthropic, ApiKey, Gemini, OpenAi, Preset};
}

/// The README's examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
