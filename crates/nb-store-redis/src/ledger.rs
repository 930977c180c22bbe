//! [`RedisLedger`]: gateway callers' budgets shared by the replicas — requests and tokens
//! per minute, and spend held and settled per window — each decided by one script.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret as _, SecretString};

use crate::StoreError;
use crate::connection::{OP_TIMEOUT, redact};
use crate::scripts::{CALLER_PACE, SPEND};

/// Gateway callers' budgets in Redis, shared by every replica of a namespace: a GCRA per
/// caller and unit (`nb:NS:{k=NAME}:rpm|tpm`, on Redis's clock) and each caller's spend
/// and holds in its window (`nb:NS:{k=NAME}:spend`). Every decision is one script, so
/// concurrent calls on many replicas cannot together pass a limit.
///
/// Each call waits on Redis at most 500 ms; a Redis that fails or is slow answers `None`
/// and is skipped for a second, and the caller decides from its own state meanwhile.
pub struct RedisLedger {
    ns: String,
    url: SecretString,
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    down_until: std::sync::Mutex<Option<Instant>>,
    pace: redis::Script,
    spend: redis::Script,
}

impl std::fmt::Debug for RedisLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLedger")
            .field("url", &redact(self.url.expose_secret()))
            .field("namespace", &self.ns)
            .finish_non_exhaustive()
    }
}

/// A caller's name as a key's hash tag.
fn tag(caller: &str) -> String {
    format!("k={}", caller.replace(['{', '}'], "_"))
}

fn interval_us(per_minute: Option<NonZeroU32>) -> u64 {
    per_minute.map_or(0, |n| 60_000_000 / u64::from(n.get()))
}

impl RedisLedger {
    /// A ledger in the Redis at `url` under `namespace`. Connects on first use.
    pub fn new(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Url(format!("{} ({:?})", redact(url), e.kind())))?;
        Ok(Self {
            ns: namespace.to_owned(),
            url: SecretString::from(url.to_owned()),
            client,
            conn: tokio::sync::Mutex::new(None),
            down_until: std::sync::Mutex::new(None),
            pace: redis::Script::new(CALLER_PACE),
            spend: redis::Script::new(SPEND),
        })
    }

    fn key(&self, caller: &str, what: &str) -> String {
        format!("nb:{}:{{{}}}:{what}", self.ns, tag(caller))
    }

    fn is_down(&self) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|u| Instant::now() < u)
    }

    fn failed(&self, error: &str) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Instant::now() + Duration::from_secs(1));
        metrics::counter!("neuralbridge.store.errors", "op" => "ledger").increment(1);
        tracing::warn!(%error, "gateway ledger: Redis failed; limits are counted per replica for now");
    }

    async fn invoke(&self, inv: &redis::ScriptInvocation<'_>) -> Option<i64> {
        if self.is_down() {
            return None;
        }
        let mut conn = {
            let mut c = self.conn.lock().await;
            if c.is_none() {
                match tokio::time::timeout(
                    OP_TIMEOUT,
                    self.client.get_multiplexed_async_connection(),
                )
                .await
                {
                    Ok(Ok(conn)) => *c = Some(conn),
                    Ok(Err(e)) => {
                        self.failed(&e.to_string());
                        return None;
                    }
                    Err(_) => {
                        self.failed("connect timed out");
                        return None;
                    }
                }
            }
            c.clone()?
        };
        match tokio::time::timeout(OP_TIMEOUT, inv.invoke_async::<i64>(&mut conn)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                *self.conn.lock().await = None;
                self.failed(&e.to_string());
                None
            }
            Err(_) => {
                self.failed("timed out");
                None
            }
        }
    }

    /// Takes one request of `tokens` from `caller`'s per-minute budgets (a limit of
    /// `None` is no limit); `Err` is how long until it would fit; `None`: Redis did not
    /// answer.
    pub async fn acquire(
        &self,
        caller: &str,
        requests_per_minute: Option<NonZeroU32>,
        tokens_per_minute: Option<NonZeroU32>,
        tokens: u32,
    ) -> Option<Result<(), Duration>> {
        let mut inv = self.pace.key(self.key(caller, "rpm"));
        inv.key(self.key(caller, "tpm"))
            .arg(interval_us(requests_per_minute))
            .arg(interval_us(tokens_per_minute))
            .arg(tokens.max(1));
        let wait = self.invoke(&inv).await?;
        Some(match u64::try_from(wait) {
            Ok(0) => Ok(()),
            Ok(ms) => Err(Duration::from_millis(ms)),
            Err(_) => Ok(()),
        })
    }

    /// Holds `amount` of `caller`'s spend if spent, held and it stay within `limit` in
    /// the window (`window` long from its first hold); `Err` is how long until the
    /// window ends; `None`: Redis did not answer.
    pub async fn reserve(
        &self,
        caller: &str,
        amount: f64,
        limit: f64,
        window: Duration,
    ) -> Option<Result<(), Duration>> {
        let mut inv = self.spend.key(self.key(caller, "spend"));
        inv.arg("reserve")
            .arg(limit)
            .arg(amount)
            .arg(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
        let wait = self.invoke(&inv).await?;
        Some(match u64::try_from(wait) {
            Ok(0) | Err(_) => Ok(()),
            Ok(ms) => Err(Duration::from_millis(ms)),
        })
    }

    /// Releases a hold of `reserved` and counts `actual` spent; whether Redis took it.
    pub async fn settle(&self, caller: &str, reserved: f64, actual: f64) -> bool {
        let mut inv = self.spend.key(self.key(caller, "spend"));
        inv.arg("settle").arg(reserved).arg(actual).arg(0);
        self.invoke(&inv).await.is_some()
    }
}
