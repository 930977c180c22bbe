//! The self-healing router: plan, execute, analyze, monitor, report.
//!
//! [`SmartRouter`] holds [`Target`]s (a provider, a model, a credential; weight, price,
//! context window, tags) and runs every call through one loop:
//!
//! 1. **plan** — candidates in the route's [`Strategy`] order (priority, weighted,
//!    lowest latency, cheapest), without targets whose context window cannot hold the
//!    prompt or that lack the call's required tags;
//! 2. **execute** — the first candidate the knowledge store admits (breaker closed or a
//!    probe free, no cool-down on any scope covering it, pacer budget left), under a
//!    per-attempt timeout inside the call's deadline; optional hedging after the
//!    target's recent p95;
//! 3. **analyze** — the classifier decides: retry here (after the server's hint or a
//!    full-jitter backoff, within a Finagle-style retry budget), fail over, fail over to
//!    a larger context window only, or abort;
//! 4. **monitor** — every outcome moves breakers and cool-downs; events go to `tracing`
//!    and to [`SmartRouter::subscribe`];
//! 5. **report** — every answer is a [`Routed`] with a [`CallReport`] (each attempt, the
//!    target that served, whether it failed over, first and last error, tokens, cost);
//!    every failure is a [`RouteError`] carrying the same report.
//!
//! When every candidate is out of rotation, the policy's [`WhenAllOpen`] waits for the
//! earliest to return (within the deadline), calls a last-resort target, or fails at once
//! with the earliest retry time. Streams fail over freely until their first content
//! delta; after it, a failure surfaces in the stream with the partial output. Dropping a
//! call's future cancels its attempts (no task is spawned per call).
//!
//! `SmartRouter` implements [`Provider`], so routers nest. Tower composes both ways:
//! `SmartRouter` is a `tower::Service<ChatRequest>`, so middleware goes around it, and
//! [`RouterLayer`] is a `tower::Layer`, so the router goes around an inner service
//! (which becomes one of its targets; [`ServiceProvider`] makes any such service a
//! target). An outer `tower::timeout` always wins: dropping a call drops its attempts.
//!
//! Feature `json-schema` (default): typed calls ([`SmartRouter::chat_typed`]) also check
//! each answer against the JSON Schema of their type (nb-guard's `JsonSchema`); without
//! it they check it by deserializing it alone.
//!
//! ```
//! use async_trait::async_trait;
//! use nb_core::{CallError, ChatRequest, ChatResponse, Provider, TargetId, TransportKind};
//! use nb_router::{SmartRouter, Target};
//!
//! struct Down;
//! #[async_trait]
//! impl Provider for Down {
//!     async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
//!         Err(CallError::transport(TransportKind::ConnectRefused, "connection refused"))
//!     }
//! }
//! struct Up;
//! #[async_trait]
//! impl Provider for Up {
//!     async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
//!         Ok(ChatResponse::text("42"))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let router = SmartRouter::builder()
//!     .target(Target::new(TargetId::new("primary", "m"), Down))
//!     .target(Target::new(TargetId::new("fallback", "m"), Up))
//!     .build()
//!     .unwrap();
//! let routed = router.chat(&ChatRequest::user("6 x 7?")).await.unwrap();
//! assert_eq!(routed.value.text, "42");
//! assert!(routed.report.failed_over);
//! assert_eq!(routed.report.served_by.unwrap().provider(), "fallback");
//! # });
//! ```

mod cache;
mod clock;
mod policy;
mod report;
mod router;
mod service;
mod target;
mod telemetry;

use async_trait::async_trait;
use nb_core::{CallError, ChatRequest, ChatResponse, ChatStream, Provider};

pub use cache::{AnswerCache, CachedAnswer, InMemoryCache, cache_key};
pub use clock::TokioClock;
pub use nb_core::AnswerCheck;
pub use policy::{Hedging, Policy, RetryBudget, WhenAllOpen};
pub use report::{
    AttemptOutcome, AttemptReport, AttemptRole, CallReport, RouteError, RouteErrorKind, Routed,
    SkipReason, VerdictReport, WaitReason, WaitReport,
};
pub use router::{
    BuildError, CallOptions, Canaries, HealthChecks, OnUnvouchable, RouterBuilder, RouterEvent,
    SelfConsistency, SmartRouter, VouchMode, Vouching,
};
pub use service::{RouterLayer, ServiceProvider};
pub use target::{Cost, Strategy, Target};

/// The channel type [`SmartRouter::subscribe`] returns (`tokio::sync::broadcast`),
/// re-exported so a subscriber needs no tokio version of its own to name it.
pub use tokio::sync::broadcast;

#[async_trait]
impl Provider for SmartRouter {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        SmartRouter::chat(self, req)
            .await
            .map(|r| r.value)
            .map_err(RouteError::into_call_error)
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        SmartRouter::stream(self, req)
            .await
            .map(|r| r.value)
            .map_err(RouteError::into_call_error)
    }
}
