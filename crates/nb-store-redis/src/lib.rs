//! Health shared by the replicas of a service on Redis: when one replica's breaker opens
//! on a dead target, or a key is revoked, or a provider says "come back in 30 s", every
//! replica knows within milliseconds — instead of each paying its own failed calls.
//!
//! [`RedisKnowledge`] is a [`Knowledge`](nb_breaker::Knowledge) store for the router. The hot path stays local: a
//! call is admitted and recorded by an [`InMemoryKnowledge`](nb_breaker::InMemoryKnowledge) in this process, with no Redis
//! round trip. What the local store learns that others should know — a breaker opened
//! (and until when), a cool-down started or extended (scope, end, cause), a context window
//! a rejection stated — is written to
//! Redis in the background with an extend-only script and published on a channel; every
//! replica subscribes and merges what others learned into its own local store (only ever
//! extending: a remote fact never shortens a cool-down nor closes a breaker). A replica
//! that starts or reconnects reads the live facts first, so it is not blind to what
//! happened while it was away; facts expire with their end (`PXAT`), so a stale open
//! breaker is never resurrected.
//!
//! Redis failing never fails a call: routing goes on from local state, the failure is a
//! [`StoreEvent`] and the `neuralbridge.store.errors` metric, and the store reconnects
//! with backoff and sends what is still current.
//!
//! [`RedisPacer`] paces targets fleet-wide: the replicas together stay within a
//! provider's requests and tokens per minute (a GCRA in Redis, leased ahead in small
//! batches so the hot path stays local).
//!
//! [`RedisCache`] is the router's response cache shared the same way: an answer one
//! replica stored is served by every other, for the route's time to live.
//!
//! [`RedisLedger`] keeps a gateway's per-caller budgets for the fleet: requests and tokens
//! per minute, and spend held before a call and settled after it, each decided by one
//! script so that concurrent calls on many replicas cannot together pass a limit.
//!
//! Keys: `nb:{NAMESPACE}:{TARGET-OR-SCOPE}:open|cool` — the part in braces is a Redis
//! Cluster hash tag, so each fact lives on one slot; the channel is
//! `nb:NAMESPACE:health`. See `docs/scaling.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use nb_breaker::{BreakerConfig, CooldownPolicy, InMemoryKnowledge, SystemClock};
//! use nb_store_redis::RedisKnowledge;
//!
//! let local = InMemoryKnowledge::new(
//!     BreakerConfig::default(),
//!     CooldownPolicy::default(),
//!     Arc::new(SystemClock),
//! );
//! let shared = RedisKnowledge::connect("redis://127.0.0.1:6379/0", "prod", local)?;
//! // SmartRouter::builder().knowledge(Arc::new(shared)) ... on every replica.
//! # let _ = shared; Ok(()) }
//! ```

mod bounds;
mod cache;
mod connection;
mod facts;
mod knowledge;
mod ledger;
mod pacer;
mod scripts;

pub use bounds::TrustBounds;
pub use cache::{CACHE_TIMEOUT, RedisCache};
pub use knowledge::RedisKnowledge;
pub use ledger::RedisLedger;
pub use pacer::RedisPacer;

pub(crate) use connection::{OP_TIMEOUT, redact};
pub(crate) use facts::WireScope;

/// The store could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL is not a Redis URL (the message never contains the URL's password).
    #[error("invalid Redis URL: {0}")]
    Url(String),
    /// No tokio runtime to run the background work on.
    #[error("RedisKnowledge::connect needs a tokio runtime")]
    NoRuntime,
}

/// What happened to the store's link with Redis, for logs and alerts.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StoreEvent {
    /// Connected (or reconnected); `merged` live facts were read and merged.
    Connected {
        /// Facts merged from the read.
        merged: usize,
    },
    /// Redis failed; routing goes on from local state.
    Failed {
        /// What was being done (`publish`, `subscribe`, `sync`).
        op: &'static str,
        /// Why.
        error: String,
    },
    /// Another replica's fact was merged into the local store.
    Merged {
        /// What it was about (`provider/model`, or a scope).
        about: String,
    },
}

/// Counters of the store's work, for tests and dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Whether the subscription is up now.
    pub connected: bool,
    /// Facts written to Redis.
    pub published: u64,
    /// Remote facts merged into the local store.
    pub merged: u64,
    /// Redis operations that failed.
    pub errors: u64,
}
