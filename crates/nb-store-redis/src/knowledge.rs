//! [`RedisKnowledge`]: breakers and cool-downs shared through Redis, off the hot path.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use nb_breaker::{
    Admission, BreakerState, HealthEvent, InMemoryKnowledge, Knowledge, Observed, Refusal,
    TargetHealth,
};
use nb_core::TargetId;
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::{broadcast, mpsc};

use crate::connection::{MAX_BACKOFF, OP_TIMEOUT, redact, replica_id, unix_ms_now};
use crate::facts::{Fact, Message, WireScope};
use crate::scripts::EXTEND;
use crate::{StoreError, StoreEvent, StoreStats, TrustBounds};

#[derive(Default)]
struct Counters {
    connected: AtomicBool,
    published: AtomicU64,
    merged: AtomicU64,
    errors: AtomicU64,
}

struct Inner {
    local: Arc<InMemoryKnowledge>,
    bounds: TrustBounds,
    ns: String,
    replica: String,
    url: SecretString,
    counters: Counters,
    events: broadcast::Sender<StoreEvent>,
}

impl Inner {
    fn channel(&self) -> String {
        format!("nb:{}:health", self.ns)
    }

    fn to_instant(&self, until_ms: u64) -> Option<Instant> {
        let now_ms = unix_ms_now();
        (until_ms > now_ms)
            .then(|| self.local.clock().now() + Duration::from_millis(until_ms - now_ms))
    }

    fn to_unix_ms(&self, until: Instant) -> u64 {
        let left = until.saturating_duration_since(self.local.clock().now());
        unix_ms_now().saturating_add(u64::try_from(left.as_millis()).unwrap_or(u64::MAX))
    }

    /// Merges another replica's fact into the local store; whether it changed anything.
    fn merge(&self, fact: &Fact) -> bool {
        // Redis is input, not truth: a fact about a target this config does not have is
        // ignored, and none lasts longer than this config allows.
        let (known, cap) = match fact {
            Fact::Open { target, .. } => (self.bounds.knows_target(target), self.bounds.max_open),
            Fact::Cool { scope, .. } => (self.bounds.knows_scope(scope), self.bounds.max_cooldown),
            Fact::Window { target, .. } => (
                self.bounds.knows_target(target),
                Duration::from_secs(24 * 3600),
            ),
        };
        if !known {
            tracing::debug!(about = %fact.about(), "shared store: a fact about an unknown target was ignored");
            return false;
        }
        let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX);
        let until_ms = fact.until_ms().min(unix_ms_now().saturating_add(cap_ms));
        let Some(until) = self.to_instant(until_ms) else {
            return false;
        };
        let changed = match fact {
            Fact::Window { target, tokens, .. } => {
                let before = self.local.learned_window(target);
                self.local.learn_window(target, *tokens);
                before != self.local.learned_window(target)
            }
            Fact::Open { target, .. } => self.local.merge_open(target, until).is_some(),
            Fact::Cool { scope, cause, .. } => {
                self.local.merge_cooldown(scope.key(), until, *cause)
            }
        };
        if changed {
            self.counters.merged.fetch_add(1, Ordering::Relaxed);
            let _ = self.events.send(StoreEvent::Merged {
                about: fact.about(),
            });
        }
        changed
    }

    fn failed(&self, op: &'static str, error: &str) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("neuralbridge.store.errors", "op" => op).increment(1);
        tracing::warn!(op, %error, "shared store: Redis failed; routing goes on from local state");
        let _ = self.events.send(StoreEvent::Failed {
            op,
            error: error.to_owned(),
        });
    }
}

/// A [`Knowledge`] store whose breakers and cool-downs are shared by every replica
/// using the same Redis and namespace. See the [crate docs](crate).
pub struct RedisKnowledge {
    inner: Arc<Inner>,
    tx: mpsc::UnboundedSender<Fact>,
}

impl std::fmt::Debug for RedisKnowledge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKnowledge")
            .field("url", &redact(self.inner.url.expose_secret()))
            .field("namespace", &self.inner.ns)
            .field("replica", &self.inner.replica)
            .finish_non_exhaustive()
    }
}

impl RedisKnowledge {
    /// Shares `local`'s breakers and cool-downs through the Redis at `url`
    /// (`redis://[:password@]host:port/db`, or `rediss://` for TLS) under `namespace`
    /// (one per deployment). Returns at once: connecting, reading the live facts and
    /// subscribing happen in the background, and go on retrying with backoff while Redis
    /// is unreachable — the store routes from local state meanwhile.
    pub fn connect(
        url: &str,
        namespace: &str,
        local: InMemoryKnowledge,
    ) -> Result<Self, StoreError> {
        Self::connect_with(url, namespace, local, TrustBounds::default())
    }

    /// [`connect`](Self::connect), taking from Redis only what `bounds` allow: facts
    /// about the config's targets, clamped to its longest cool-down and open period.
    pub fn connect_with(
        url: &str,
        namespace: &str,
        local: InMemoryKnowledge,
        bounds: TrustBounds,
    ) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Url(format!("{} ({:?})", redact(url), e.kind())))?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        let (events, _) = broadcast::channel(256);
        let inner = Arc::new(Inner {
            local: Arc::new(local),
            bounds,
            ns: namespace.to_owned(),
            replica: replica_id(),
            url: SecretString::from(url.to_owned()),
            counters: Counters::default(),
            events,
        });
        let (tx, rx) = mpsc::unbounded_channel();
        handle.spawn(publish(Arc::downgrade(&inner), client.clone(), rx));
        handle.spawn(subscribe(Arc::downgrade(&inner), client));
        Ok(Self { inner, tx })
    }

    /// The local store that answers every admission.
    pub fn local(&self) -> &InMemoryKnowledge {
        &self.inner.local
    }

    /// The link's events (connected, failed, merged).
    pub fn subscribe(&self) -> broadcast::Receiver<StoreEvent> {
        self.inner.events.subscribe()
    }

    /// Counters of the store's work.
    pub fn stats(&self) -> StoreStats {
        let c = &self.inner.counters;
        StoreStats {
            connected: c.connected.load(Ordering::Relaxed),
            published: c.published.load(Ordering::Relaxed),
            merged: c.merged.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
        }
    }

    /// Sends what the local store learned to the others.
    fn share(&self, events: &[HealthEvent]) {
        for e in events {
            let fact = match e {
                HealthEvent::Breaker { target, transition }
                    if transition.to == BreakerState::Open =>
                {
                    match self.inner.local.open_until(target) {
                        Some(until) => Fact::Open {
                            target: target.clone(),
                            until_ms: self.inner.to_unix_ms(until),
                        },
                        None => continue,
                    }
                }
                HealthEvent::Cooldown { key, until, cause } => Fact::Cool {
                    scope: WireScope::of(key),
                    until_ms: self.inner.to_unix_ms(*until),
                    cause: *cause,
                },
                _ => continue,
            };
            // The publisher ends only with the store.
            let _ = self.tx.send(fact);
        }
    }
}

impl Knowledge for RedisKnowledge {
    fn admit(&self, target: &TargetId, tokens: u32) -> Result<Admission, Refusal> {
        self.inner.local.admit(target, tokens)
    }

    fn record(
        &self,
        target: &TargetId,
        admission: Admission,
        latency: Duration,
        observed: &Observed,
    ) -> Vec<HealthEvent> {
        let events = self
            .inner
            .local
            .record(target, admission, latency, observed);
        self.share(&events);
        events
    }

    fn health(&self, target: &TargetId) -> TargetHealth {
        self.inner.local.health(target)
    }

    fn admit_recovery_probe(&self, target: &TargetId) -> Result<Admission, Refusal> {
        self.inner.local.admit_recovery_probe(target)
    }

    fn learn_window(&self, target: &TargetId, tokens: u64) {
        let before = self.inner.local.learned_window(target);
        self.inner.local.learn_window(target, tokens);
        if before != self.inner.local.learned_window(target) {
            let _ = self.tx.send(Fact::Window {
                target: target.clone(),
                tokens,
                until_ms: unix_ms_now().saturating_add(24 * 3600 * 1000),
            });
        }
    }

    fn learned_window(&self, target: &TargetId) -> Option<u64> {
        self.inner.local.learned_window(target)
    }
}

/// Writes facts to Redis, coalescing by key while Redis is away and dropping those whose
/// end has passed (a stale fact is never sent).
async fn publish(
    inner: std::sync::Weak<Inner>,
    client: redis::Client,
    mut rx: mpsc::UnboundedReceiver<Fact>,
) {
    let script = redis::Script::new(EXTEND);
    let mut pending: HashMap<String, Fact> = HashMap::new();
    let mut conn: Option<redis::aio::ConnectionManager> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(f) => {
                    let Some(i) = inner.upgrade() else { return };
                    pending.insert(f.redis_key(&i.ns), f);
                }
                None => return,
            }
        }
        while let Ok(f) = rx.try_recv() {
            let Some(i) = inner.upgrade() else { return };
            let key = f.redis_key(&i.ns);
            let keep = pending
                .get(&key)
                .is_none_or(|old| old.until_ms() < f.until_ms());
            if keep {
                pending.insert(key, f);
            }
        }
        let Some(i) = inner.upgrade() else { return };
        let now = unix_ms_now();
        pending.retain(|_, f| f.until_ms() > now);
        if conn.is_none() {
            match tokio::time::timeout(
                OP_TIMEOUT,
                redis::aio::ConnectionManager::new(client.clone()),
            )
            .await
            {
                Ok(Ok(c)) => conn = Some(c),
                Ok(Err(e)) => i.failed("publish", &e.to_string()),
                Err(_) => i.failed("publish", "connect timed out"),
            }
        }
        let mut ok = conn.is_some();
        if let Some(c) = conn.as_mut() {
            let keys: Vec<String> = pending.keys().cloned().collect();
            for key in keys {
                let Some(f) = pending.get(&key) else { continue };
                let body = serde_json::to_string(f).unwrap_or_default();
                let message = serde_json::to_string(&Message {
                    from: i.replica.clone(),
                    fact: f.clone(),
                    sig: i.bounds.signature(&body),
                })
                .unwrap_or_default();
                let body = i.bounds.seal(&body);
                let mut invocation = script.key(&key);
                invocation
                    .arg(f.until_ms())
                    .arg(body)
                    .arg(i.channel())
                    .arg(message);
                match tokio::time::timeout(OP_TIMEOUT, invocation.invoke_async::<i64>(c)).await {
                    Ok(Ok(_)) => {
                        pending.remove(&key);
                        i.counters.published.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(e)) => {
                        i.failed("publish", &e.to_string());
                        ok = false;
                        break;
                    }
                    Err(_) => {
                        i.failed("publish", "timed out");
                        ok = false;
                        break;
                    }
                }
            }
        }
        drop(i);
        if ok {
            backoff = Duration::from_millis(100);
        } else {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Subscribes to the channel, reads the live facts, and merges both; reconnects with
/// backoff.
async fn subscribe(inner: std::sync::Weak<Inner>, client: redis::Client) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(i) = inner.upgrade() else { return };
        let channel = i.channel();
        drop(i);
        let result: Result<(), (&'static str, String)> = async {
            let mut pubsub = tokio::time::timeout(OP_TIMEOUT, client.get_async_pubsub())
                .await
                .map_err(|_| ("subscribe", "connect timed out".to_owned()))?
                .map_err(|e| ("subscribe", e.to_string()))?;
            pubsub
                .subscribe(&channel)
                .await
                .map_err(|e| ("subscribe", e.to_string()))?;
            // Subscribed first, then read what is live: nothing falls in between.
            let merged = sync(&inner, &client).await?;
            if let Some(i) = inner.upgrade() {
                i.counters.connected.store(true, Ordering::Relaxed);
                let _ = i.events.send(StoreEvent::Connected { merged });
            }
            backoff = Duration::from_millis(100);
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let Some(i) = inner.upgrade() else {
                    return Ok(());
                };
                let Ok(payload) = msg.get_payload::<String>() else {
                    continue;
                };
                match serde_json::from_str::<Message>(&payload) {
                    Ok(m) if m.from != i.replica => {
                        let body = serde_json::to_string(&m.fact).unwrap_or_default();
                        if i.bounds.verify(&body, m.sig.as_deref()) {
                            i.merge(&m.fact);
                        } else {
                            tracing::debug!(about = %m.fact.about(), "shared store: an unsigned or forged message was ignored");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(%e, "shared store: an unreadable message was skipped")
                    }
                }
            }
            Err(("subscribe", "the subscription ended".to_owned()))
        }
        .await;
        let Some(i) = inner.upgrade() else { return };
        i.counters.connected.store(false, Ordering::Relaxed);
        if let Err((op, e)) = result {
            i.failed(op, &e);
        }
        drop(i);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads every live fact of the namespace and merges it; how many were merged.
async fn sync(
    inner: &std::sync::Weak<Inner>,
    client: &redis::Client,
) -> Result<usize, (&'static str, String)> {
    let Some(i) = inner.upgrade() else {
        return Ok(0);
    };
    let mut conn = tokio::time::timeout(OP_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| ("sync", "connect timed out".to_owned()))?
        .map_err(|e| ("sync", e.to_string()))?;
    let pattern = format!("nb:{}:*", i.ns);
    let mut cursor: u64 = 0;
    let mut merged = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(200)
            .query_async(&mut conn)
            .await
            .map_err(|e| ("sync", e.to_string()))?;
        for key in keys {
            let value: Option<String> = redis::cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await
                .map_err(|e| ("sync", e.to_string()))?;
            let Some(value) = value else { continue };
            let Some(body) = value.split_once(' ').and_then(|(_, b)| i.bounds.open(b)) else {
                continue;
            };
            if let Ok(f) = serde_json::from_str::<Fact>(body) {
                if i.merge(&f) {
                    merged += 1;
                }
            }
        }
        cursor = next;
        if cursor == 0 {
            return Ok(merged);
        }
    }
}
