//! A fleet-wide [`Pacer`]: the replicas of a namespace together send a target at most its
//! requests and tokens per minute.
//!
//! The budget lives in Redis as a GCRA per target and unit (requests, tokens), advanced
//! atomically by a Lua script on Redis's own clock — no replica's clock matters. The hot
//! path stays local: each replica spends cells it leased ahead in small batches (about a
//! twentieth of a second of the budget), and a background task leases more when they run
//! low. A lease is never more than the GCRA grants, so the fleet never exceeds the rate;
//! what a replica leased and did not spend is at most one batch.
//!
//! While Redis is unreachable a replica paces itself locally at the full rate (it cannot
//! know how many others are up): calls keep flowing, and the shared budget holds again
//! once Redis is back.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use nb_breaker::{GovernorPacer, PaceLimits, Pacer, SystemClock};
use nb_core::TargetId;
use tokio::sync::mpsc;

use crate::scripts::LEASE;

#[derive(Default)]
struct Lease {
    requests: u64,
    tokens: u64,
    /// Tokens the last refused request needed (a lease must cover at least that).
    tokens_wanted: u64,
    /// When the budget said to come back, if it is spent.
    wait_until: Option<Instant>,
}

struct Inner {
    ns: String,
    limits: HashMap<TargetId, PaceLimits>,
    leases: Mutex<HashMap<TargetId, Lease>>,
    /// Paces locally while Redis is away.
    fallback: GovernorPacer,
    down: Mutex<Option<Instant>>,
    want: mpsc::UnboundedSender<TargetId>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Cells leased per round trip: about 50 ms of the budget, at least 1.
fn batch(per_minute: NonZeroU32) -> u64 {
    (u64::from(per_minute.get()) / 1200).max(1)
}

fn interval_us(per_minute: NonZeroU32) -> u64 {
    60_000_000 / u64::from(per_minute.get())
}

/// A [`Pacer`] whose budget is shared by every replica using the same Redis and
/// namespace: a GCRA per target and unit in Redis, advanced by a Lua script on Redis's
/// clock, spent locally from cells leased ahead in ~50 ms batches. While Redis is away a
/// replica paces itself locally at the full rate.
pub struct RedisPacer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RedisPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPacer")
            .field("namespace", &self.inner.ns)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl RedisPacer {
    /// Paces the targets of `limits` fleet-wide through the Redis at `url` under
    /// `namespace`. Returns at once; leasing happens in the background.
    pub fn connect(
        url: &str,
        namespace: &str,
        limits: HashMap<TargetId, PaceLimits>,
    ) -> Result<Self, crate::StoreError> {
        let client = redis::Client::open(url).map_err(|e| {
            crate::StoreError::Url(format!("{} ({:?})", crate::redact(url), e.kind()))
        })?;
        let handle =
            tokio::runtime::Handle::try_current().map_err(|_| crate::StoreError::NoRuntime)?;
        let (want, rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            ns: namespace.to_owned(),
            fallback: GovernorPacer::new(limits.clone(), Arc::new(SystemClock)),
            limits,
            leases: Mutex::new(HashMap::new()),
            down: Mutex::new(None),
            want,
        });
        handle.spawn(refill(Arc::downgrade(&inner), client, rx));
        Ok(Self { inner })
    }
}

impl Pacer for RedisPacer {
    fn try_acquire(&self, target: &TargetId, tokens: u32) -> Result<(), Duration> {
        let Some(limits) = self.inner.limits.get(target) else {
            return Ok(());
        };
        if lock(&self.inner.down).is_some_and(|u| Instant::now() < u) {
            return self.inner.fallback.try_acquire(target, tokens);
        }
        let need_requests = u64::from(limits.requests_per_minute.is_some());
        let need_tokens = if limits.tokens_per_minute.is_some() {
            u64::from(tokens.max(1))
        } else {
            0
        };
        let mut leases = lock(&self.inner.leases);
        let lease = leases.entry(target.clone()).or_default();
        if lease.requests >= need_requests && lease.tokens >= need_tokens {
            lease.requests -= need_requests;
            lease.tokens -= need_tokens;
            // Lease ahead when the pool runs dry.
            if (need_requests > 0 && lease.requests == 0)
                || (need_tokens > 0 && lease.tokens < need_tokens)
            {
                let _ = self.inner.want.send(target.clone());
            }
            return Ok(());
        }
        lease.tokens_wanted = lease.tokens_wanted.max(need_tokens);
        let wait = lease.wait_until.map_or(Duration::from_millis(5), |u| {
            u.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        drop(leases);
        let _ = self.inner.want.send(target.clone());
        Err(wait)
    }
}

/// Leases cells for the targets that want them.
async fn refill(
    inner: Weak<Inner>,
    client: redis::Client,
    mut rx: mpsc::UnboundedReceiver<TargetId>,
) {
    let script = redis::Script::new(LEASE);
    let mut conn: Option<redis::aio::ConnectionManager> = None;
    while let Some(first) = rx.recv().await {
        let mut wanted = vec![first];
        while let Ok(t) = rx.try_recv() {
            if !wanted.contains(&t) {
                wanted.push(t);
            }
        }
        let Some(i) = inner.upgrade() else { return };
        if conn.is_none() {
            match tokio::time::timeout(
                crate::OP_TIMEOUT,
                redis::aio::ConnectionManager::new(client.clone()),
            )
            .await
            {
                Ok(Ok(c)) => conn = Some(c),
                _ => {
                    mark_down(&i, "connect failed");
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        for target in wanted {
            let Some(limits) = i.limits.get(&target).copied() else {
                continue;
            };
            let (has_requests, has_tokens, tokens_wanted) = {
                let leases = lock(&i.leases);
                let l = leases.get(&target);
                (
                    l.map_or(0, |l| l.requests),
                    l.map_or(0, |l| l.tokens),
                    l.map_or(0, |l| l.tokens_wanted),
                )
            };
            let tag = crate::WireScope::Target {
                target: target.clone(),
            }
            .tag();
            let mut granted = (0u64, 0u64);
            let mut wait_ms = 0u64;
            let mut failed = false;
            for (unit, per_minute, have, at_least) in [
                ("req", limits.requests_per_minute, has_requests, 1),
                ("tok", limits.tokens_per_minute, has_tokens, tokens_wanted),
            ] {
                let Some(pm) = per_minute else { continue };
                if have >= at_least.max(1) && unit == "req" {
                    continue;
                }
                let want = batch(pm).max(at_least.saturating_sub(have));
                let mut inv = script.key(format!("nb:{}:{{{tag}}}:gcra:{unit}", i.ns));
                // A tolerance of two batches: a replica that comes for its cells a
                // little late does not lose them (the fleet's burst stays two batches).
                inv.arg(interval_us(pm))
                    .arg(interval_us(pm).saturating_mul(2 * batch(pm)))
                    .arg(want);
                match tokio::time::timeout(crate::OP_TIMEOUT, inv.invoke_async::<(u64, u64)>(c))
                    .await
                {
                    Ok(Ok((k, w))) => {
                        if unit == "req" {
                            granted.0 = k;
                        } else {
                            granted.1 = k;
                        }
                        wait_ms = wait_ms.max(w);
                    }
                    Ok(Err(e)) => {
                        mark_down(&i, &e.to_string());
                        failed = true;
                    }
                    Err(_) => {
                        mark_down(&i, "timed out");
                        failed = true;
                    }
                }
            }
            if failed {
                conn = None;
                break;
            }
            *lock(&i.down) = None;
            let mut leases = lock(&i.leases);
            let l = leases.entry(target.clone()).or_default();
            l.requests += granted.0;
            l.tokens += granted.1;
            if l.tokens >= l.tokens_wanted {
                l.tokens_wanted = 0;
            }
            l.wait_until = (wait_ms > 0).then(|| Instant::now() + Duration::from_millis(wait_ms));
        }
    }
}

fn mark_down(i: &Inner, error: &str) {
    *lock(&i.down) = Some(Instant::now() + Duration::from_secs(1));
    metrics::counter!("neuralbridge.store.errors", "op" => "pace").increment(1);
    tracing::warn!(%error, "fleet pacer: Redis failed; pacing locally at the full rate for now");
}
