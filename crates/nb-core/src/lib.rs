//! The vocabulary every neuralbridge layer speaks.
//!
//! `nb-core` provides:
//! - [`ChatRequest`], [`Message`] (a role and its [`Part`]s: text, images, documents, tool
//!   calls and results, with prompt-caching marks), [`ResponseFormat`], [`ToolSpec`]: what
//!   the caller wants;
//! - [`ChatResponse`], [`ChatChunk`], [`FinishReason`], [`Usage`], [`StreamAccumulator`]:
//!   what came back, whole or streamed;
//! - [`CallError`]: why one call to one target failed, as facts (status, the headers that
//!   matter, the provider's error fields, a bounded body snippet, the transport phase);
//! - [`Violation`]: what a validator found wrong with an answer that arrived intact;
//! - [`extract_json`] / [`find_json`]: the JSON value an answer holds, for the guard and
//!   the equivalence checkers alike;
//! - [`TargetId`], [`FailureClass`] and [`Scope`]: the unit of health and the
//!   taxonomy's names;
//! - the [`Provider`] trait, implemented by the wire adapters and by the router itself;
//! - the [`AnswerCache`] port (stores implement it without depending on the router), and
//!   [`AnswerCheck`]: how far an answer was checked, which travels with it everywhere.
//!
//! It depends on serde, async-trait and `futures-core` only — no HTTP client, no runtime —
//! so a crate that merely *calls* a provider (the router, a judge, your own wrapper) never
//! pulls in I/O, and the layers never split over a shared type. Facts live here; decisions
//! (is this a rate limit? retry or fail over?) live in `nb-classify`.
//!
//! ```
//! use nb_core::{CallError, ChatRequest, ChatResponse, Provider, collect};
//!
//! struct Constant;
//!
//! #[async_trait::async_trait]
//! impl Provider for Constant {
//!     async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
//!         Ok(ChatResponse::text("42"))
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // Every provider streams; a simple one replays its whole answer as chunks.
//! let stream = Constant.stream(&ChatRequest::user("6 x 7?")).await?;
//! let answer = collect(stream).await?;
//! assert_eq!(answer.text, "42");
//! # Ok::<_, CallError>(()) }).unwrap();
//! ```

mod cache;
mod class;
mod error;
mod json;
mod part;
mod provider;
mod request;
mod response;
mod target;
mod violation;

pub use cache::{AnswerCache, AnswerCheck, CachedAnswer};
pub use class::{FailureClass, Scope};
pub use error::{
    ApiError, BlockedError, CallError, DecodeError, HeaderFacts, MidStreamError, ProviderError,
    QuotaViolation, RejectedAnswer, SNIPPET_LIMIT, TimeoutPhase, TransportError, TransportKind,
    Unavailability, snippet,
};
pub use json::{FoundJson, extract_json, find_json};
pub use part::{Cache, Media, Part};
pub use provider::{ChatStream, Embedder, Provider};
pub use request::{
    ChatRequest, JsonSchemaFormat, Message, ResponseFormat, Role, ToolCall, ToolChoice, ToolSpec,
};
pub use response::{
    ChatChunk, ChatResponse, FinishReason, PartialOutput, StreamAccumulator, ToolCallDelta, Usage,
};
pub use target::TargetId;
pub use violation::{Violation, ViolationKind};

/// Drains a stream into a whole response.
///
/// A stream that ends without a finish reason is [`CallError::Truncated`] (wrapped with
/// what it delivered): a cut-short answer never passes for a complete one.
pub async fn collect(mut stream: ChatStream) -> Result<ChatResponse, CallError> {
    let mut acc = StreamAccumulator::default();
    while let Some(item) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        acc.push(&item?);
    }
    let partial = acc.partial();
    acc.finish()
        .ok_or_else(|| CallError::mid_stream(CallError::Truncated, partial))
}
