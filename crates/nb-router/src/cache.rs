//! A response cache for routes that opt in: exact match on the normalised request (the
//! route, every message part, every parameter), a time to live per route, in memory
//! ([`InMemoryCache`], on moka) or shared by replicas (`nb_store_redis::RedisCache`).
//!
//! Only what the router returned as a success is stored — validated, and vouched for
//! when vouching applied — so a failed, unvouched or unvalidated answer never is. A hit
//! is a call of its own in the report (`cache_hit`, the target that first served it) and
//! in the `neuralbridge.cache` metric. Streams and calls with validators of their own
//! bypass the cache.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use nb_core::{ChatRequest, ChatResponse, TargetId};
use serde::{Deserialize, Serialize};

/// An answer as the cache keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CachedAnswer {
    /// The target that served it.
    pub served_by: TargetId,
    /// The answer.
    pub response: ChatResponse,
}

impl CachedAnswer {
    /// An answer `served_by` gave.
    pub fn new(served_by: TargetId, response: ChatResponse) -> Self {
        Self {
            served_by,
            response,
        }
    }
}

/// Where cached answers live. A cache that fails (a store that is down) misses; it never
/// fails a call.
#[async_trait]
pub trait AnswerCache: Send + Sync {
    /// The answer stored under `key`, if it is there and fresh.
    async fn get(&self, key: &str) -> Option<CachedAnswer>;
    /// Stores `answer` under `key` for `ttl`.
    async fn put(&self, key: &str, answer: &CachedAnswer, ttl: Duration);
}

/// The cache key of `req` on `route`: the SHA-256 of its normalised form, hex. The same
/// in every process, so replicas share entries.
pub fn cache_key(route: &str, req: &ChatRequest) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(route.as_bytes());
    h.update([0]);
    // serde_json writes maps in key order: the same request, the same bytes.
    h.update(serde_json::to_vec(req).unwrap_or_default());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// An in-process [`AnswerCache`] on moka, bounded by entries.
pub struct InMemoryCache {
    entries: moka::sync::Cache<String, (Instant, CachedAnswer)>,
}

impl std::fmt::Debug for InMemoryCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl InMemoryCache {
    /// A cache of at most `capacity` answers (the least recently used go first).
    pub fn new(capacity: u64) -> Self {
        Self {
            entries: moka::sync::Cache::new(capacity),
        }
    }
}

#[async_trait]
impl AnswerCache for InMemoryCache {
    async fn get(&self, key: &str) -> Option<CachedAnswer> {
        match self.entries.get(key) {
            Some((until, a)) if Instant::now() < until => Some(a),
            Some(_) => {
                self.entries.invalidate(key);
                None
            }
            None => None,
        }
    }

    async fn put(&self, key: &str, answer: &CachedAnswer, ttl: Duration) {
        self.entries
            .insert(key.to_owned(), (Instant::now() + ttl, answer.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_covers_route_parts_and_parameters_and_nothing_else() {
        let a = ChatRequest::user("What is 2 + 2?");
        assert_eq!(cache_key("r", &a), cache_key("r", &a.clone()));
        assert_ne!(cache_key("r", &a), cache_key("s", &a));
        assert_ne!(
            cache_key("r", &a),
            cache_key("r", &a.clone().with_temperature(0.5))
        );
        assert_ne!(
            cache_key("r", &a),
            cache_key("r", &ChatRequest::user("What is 2 + 3?"))
        );
        assert_eq!(cache_key("r", &a).len(), 64);
    }
}
