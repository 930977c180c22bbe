//! A response cache for routes that opt in: exact match on the normalised request (the
//! route, every message part, every parameter), a time to live per route, in memory
//! ([`InMemoryCache`], on moka) or shared by replicas (`nb_store_redis::RedisCache`).
//!
//! Only answers nobody doubted are stored: the first choice's, or one vouched for
//! (validated either way) — never a failed, unchecked or unvouchable one. Each entry
//! keeps its [`AnswerCheck`](crate::AnswerCheck) and is served only to a call whose
//! vouching mode it meets (a call that vouches for every answer gets only vouched ones).
//! Entries are scoped: calls share them only within one `CallOptions::cache_scope` (the
//! gateway's per-key scope). A hit is a call of its own in the report (`cache_hit`, the
//! target that first served it, the entry's check) and in the `neuralbridge.cache`
//! metric. Streams and calls with validators of their own bypass the cache.

use std::time::{Duration, Instant};

use async_trait::async_trait;
pub use nb_core::{AnswerCache, CachedAnswer};
use nb_core::{AnswerCheck, ChatRequest};

/// The cache key of `req` on `route` within `scope`: the SHA-256 of its normalised
/// form, hex. The same in every process, so replicas share entries; different in every
/// scope, so tenants do not.
pub fn cache_key(scope: &str, route: &str, req: &ChatRequest) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(scope.len().to_le_bytes());
    h.update(scope.as_bytes());
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

/// Whether a cached answer checked as `check` may be served to a call in `mode`: only
/// answers nobody doubted are ever stored, and a call that asks for every answer to be
/// vouched for is served only vouched ones.
pub(crate) fn serves(check: AnswerCheck, mode: crate::VouchMode) -> bool {
    match check {
        AnswerCheck::Vouched | AnswerCheck::VouchedByReference => true,
        AnswerCheck::FirstChoice | AnswerCheck::SelfConsistent => mode != crate::VouchMode::Always,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_covers_route_parts_and_parameters_and_nothing_else() {
        let a = ChatRequest::user("What is 2 + 2?");
        let key = |route, req: &ChatRequest| cache_key("", route, req);
        assert_eq!(key("r", &a), key("r", &a.clone()));
        assert_ne!(key("r", &a), key("s", &a));
        assert_ne!(key("r", &a), key("r", &a.clone().with_temperature(0.5)));
        assert_ne!(key("r", &a), key("r", &ChatRequest::user("What is 2 + 3?")));
        assert_eq!(key("r", &a).len(), 64);
        // Scopes never share, and the boundary between scope and route is unambiguous.
        assert_ne!(cache_key("k1", "r", &a), cache_key("k2", "r", &a));
        assert_ne!(cache_key("ab", "c", &a), cache_key("a", "bc", &a));
    }
}
