//! [`RedisCache`]: the router's answer cache, shared by the replicas.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret as _, SecretString};

use crate::connection::redact;
use crate::{StoreError, TrustBounds};

/// The router's response cache in Redis, shared by every replica of a namespace
/// (`nb:NAMESPACE:cache:KEY`, expiring with the route's time to live). A Redis that is
/// down or slow is a miss, never a failed call: each operation waits at most
/// `CACHE_TIMEOUT`, and after a failure the cache is skipped for a second.
pub struct RedisCache {
    ns: String,
    url: SecretString,
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    down_until: std::sync::Mutex<Option<Instant>>,
    bounds: TrustBounds,
}

/// The longest a cache lookup or store waits on Redis.
pub const CACHE_TIMEOUT: Duration = Duration::from_millis(50);

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("url", &redact(self.url.expose_secret()))
            .field("namespace", &self.ns)
            .finish_non_exhaustive()
    }
}

impl RedisCache {
    /// A cache in the Redis at `url` under `namespace`. Connects on first use.
    pub fn new(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Url(format!("{} ({:?})", redact(url), e.kind())))?;
        Ok(Self {
            ns: namespace.to_owned(),
            url: SecretString::from(url.to_owned()),
            client,
            conn: tokio::sync::Mutex::new(None),
            down_until: std::sync::Mutex::new(None),
            bounds: TrustBounds::default(),
        })
    }

    /// Serves only entries whose `served_by` is one of `bounds`' targets.
    pub fn with_bounds(mut self, bounds: TrustBounds) -> Self {
        self.bounds = bounds;
        self
    }

    fn key(&self, key: &str) -> String {
        format!("nb:{}:cache:{key}", self.ns)
    }

    fn is_down(&self) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|u| Instant::now() < u)
    }

    fn failed(&self, op: &'static str, error: &str) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Instant::now() + Duration::from_secs(1));
        metrics::counter!("neuralbridge.store.errors", "op" => op).increment(1);
        tracing::debug!(op, %error, "response cache: Redis failed; a miss");
    }

    async fn conn(&self) -> Option<redis::aio::MultiplexedConnection> {
        let mut c = self.conn.lock().await;
        if c.is_none() {
            match tokio::time::timeout(
                CACHE_TIMEOUT,
                self.client.get_multiplexed_async_connection(),
            )
            .await
            {
                Ok(Ok(conn)) => *c = Some(conn),
                Ok(Err(e)) => {
                    self.failed("cache", &e.to_string());
                    return None;
                }
                Err(_) => {
                    self.failed("cache", "connect timed out");
                    return None;
                }
            }
        }
        c.clone()
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Option<T> {
        if self.is_down() {
            return None;
        }
        let mut conn = self.conn().await?;
        match tokio::time::timeout(CACHE_TIMEOUT, cmd.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                // A broken connection is made again on the next use.
                *self.conn.lock().await = None;
                self.failed("cache", &e.to_string());
                None
            }
            Err(_) => {
                self.failed("cache", "timed out");
                None
            }
        }
    }
}

#[async_trait::async_trait]
impl nb_core::AnswerCache for RedisCache {
    async fn get(&self, key: &str) -> Option<nb_core::CachedAnswer> {
        let raw: Option<String> = self.run(redis::cmd("GET").arg(self.key(key))).await?;
        // Redis is input, not truth: an entry must say how it was checked and name a
        // target of this config.
        let raw = raw?;
        let Some(body) = self.bounds.open(&raw) else {
            tracing::debug!("response cache: an unsigned or forged entry was ignored");
            return None;
        };
        let v: serde_json::Value = serde_json::from_str(body).ok()?;
        v.get("check")?;
        let answer: nb_core::CachedAnswer = serde_json::from_value(v).ok()?;
        if !self.bounds.knows_target(&answer.served_by) {
            tracing::debug!(served_by = %answer.served_by, "response cache: an entry naming an unknown target was ignored");
            return None;
        }
        Some(answer)
    }

    async fn put(&self, key: &str, answer: &nb_core::CachedAnswer, ttl: Duration) {
        let Ok(body) = serde_json::to_string(answer) else {
            return;
        };
        let body = self.bounds.seal(&body);
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let _: Option<()> = self
            .run(
                redis::cmd("SET")
                    .arg(self.key(key))
                    .arg(body)
                    .arg("PX")
                    .arg(ms),
            )
            .await;
    }
}
