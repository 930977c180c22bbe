//! Health shared by the replicas of a service on Redis: when one replica's breaker opens
//! on a dead target, or a key is revoked, or a provider says "come back in 30 s", every
//! replica knows within milliseconds — instead of each paying its own failed calls.
//!
//! [`RedisKnowledge`] is a [`Knowledge`] store for the router. The hot path stays local: a
//! call is admitted and recorded by an [`InMemoryKnowledge`] in this process, with no Redis
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

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod pacer;

pub use pacer::RedisPacer;

use futures_util::StreamExt as _;
use nb_breaker::{
    Admission, BreakerState, HealthEvent, InMemoryKnowledge, Knowledge, Observed, Refusal,
    ScopeKey, TargetHealth,
};
use nb_core::{FailureClass, TargetId};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

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

#[derive(Default)]
struct Counters {
    connected: AtomicBool,
    published: AtomicU64,
    merged: AtomicU64,
    errors: AtomicU64,
}

/// A scope, as it travels between replicas.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub(crate) enum Scope {
    Target {
        target: TargetId,
    },
    Model {
        provider: String,
        model: String,
    },
    Credential {
        provider: String,
        credential: String,
    },
    Provider {
        provider: String,
    },
}

impl Scope {
    fn of(key: &ScopeKey) -> Self {
        match key {
            ScopeKey::Target(t) => Self::Target { target: t.clone() },
            ScopeKey::Model { provider, model } => Self::Model {
                provider: provider.clone(),
                model: model.clone(),
            },
            ScopeKey::Credential {
                provider,
                credential,
            } => Self::Credential {
                provider: provider.clone(),
                credential: credential.clone(),
            },
            ScopeKey::Provider(p) => Self::Provider {
                provider: p.clone(),
            },
        }
    }

    fn key(&self) -> ScopeKey {
        match self {
            Self::Target { target } => ScopeKey::Target(target.clone()),
            Self::Model { provider, model } => ScopeKey::Model {
                provider: provider.clone(),
                model: model.clone(),
            },
            Self::Credential {
                provider,
                credential,
            } => ScopeKey::Credential {
                provider: provider.clone(),
                credential: credential.clone(),
            },
            Self::Provider { provider } => ScopeKey::Provider(provider.clone()),
        }
    }

    /// The hash tag of its key: one slot per scope on Redis Cluster.
    pub(crate) fn tag(&self) -> String {
        let raw = match self {
            Self::Target { target } => format!("t={target}"),
            Self::Model { provider, model } => format!("m={provider}/{model}"),
            Self::Credential {
                provider,
                credential,
            } => format!("c={provider}@{credential}"),
            Self::Provider { provider } => format!("p={provider}"),
        };
        // Braces would end the hash tag early.
        raw.replace(['{', '}'], "_")
    }
}

/// One fact a replica learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
enum Fact {
    /// A breaker opened, until then.
    Open { target: TargetId, until_ms: u64 },
    /// A cool-down, until then.
    Cool {
        #[serde(flatten)]
        scope: Scope,
        until_ms: u64,
        cause: Option<FailureClass>,
    },
    /// A context window a rejection stated; kept a day after it was last learned.
    Window {
        target: TargetId,
        tokens: u64,
        until_ms: u64,
    },
}

impl Fact {
    fn until_ms(&self) -> u64 {
        match self {
            Self::Open { until_ms, .. }
            | Self::Cool { until_ms, .. }
            | Self::Window { until_ms, .. } => *until_ms,
        }
    }

    fn redis_key(&self, ns: &str) -> String {
        match self {
            Self::Open { target, .. } => {
                format!(
                    "nb:{ns}:{{{}}}:open",
                    Scope::Target {
                        target: target.clone()
                    }
                    .tag()
                )
            }
            Self::Cool { scope, .. } => format!("nb:{ns}:{{{}}}:cool", scope.tag()),
            Self::Window { target, .. } => {
                format!(
                    "nb:{ns}:{{{}}}:window",
                    Scope::Target {
                        target: target.clone()
                    }
                    .tag()
                )
            }
        }
    }

    fn about(&self) -> String {
        match self {
            Self::Open { target, .. } | Self::Window { target, .. } => target.to_string(),
            Self::Cool { scope, .. } => scope.tag(),
        }
    }
}

/// A fact on the channel, with who sent it.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    from: String,
    #[serde(flatten)]
    fact: Fact,
}

/// Sets the key to the fact if it ends later than what is there, and publishes it. The
/// value starts with its end in unix milliseconds; it expires then.
const EXTEND: &str = r"
local cur = redis.call('GET', KEYS[1])
local cur_ms = 0
if cur then cur_ms = tonumber(string.match(cur, '^(%d+)')) or 0 end
local new_ms = tonumber(ARGV[1])
if new_ms > cur_ms then
  redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2], 'PXAT', ARGV[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return 1
end
return 0
";

/// A random id for this store (its own messages are skipped when they come back).
fn replica_id() -> String {
    use std::hash::BuildHasher as _;
    let seed = std::collections::hash_map::RandomState::new();
    format!(
        "{:016x}",
        seed.hash_one((std::process::id(), unix_ms_now(), Instant::now()))
    )
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn redact(url: &str) -> String {
    // redis://user:password@host → redis://user:***@host
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

struct Inner {
    local: Arc<InMemoryKnowledge>,
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
        let Some(until) = self.to_instant(fact.until_ms()) else {
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

pub(crate) const OP_TIMEOUT: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Url(format!("{} ({:?})", redact(url), e.kind())))?;
        let handle = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        let (events, _) = broadcast::channel(256);
        let inner = Arc::new(Inner {
            local: Arc::new(local),
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
                    scope: Scope::of(key),
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
                let message = serde_json::to_string(&Message {
                    from: i.replica.clone(),
                    fact: f.clone(),
                })
                .unwrap_or_default();
                let body = serde_json::to_string(f).unwrap_or_default();
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
                        i.merge(&m.fact);
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
            let Some((_, body)) = value.split_once(' ') else {
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
        })
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
        serde_json::from_str(&raw?).ok()
    }

    async fn put(&self, key: &str, answer: &nb_core::CachedAnswer, ttl: Duration) {
        let Ok(body) = serde_json::to_string(answer) else {
            return;
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        assert_eq!(
            redact("redis://user:hunter2@cache:6379/0"),
            "redis://user:***@cache:6379/0"
        );
        assert_eq!(redact("redis://:hunter2@cache"), "redis://:***@cache");
        assert_eq!(redact("redis://cache:6379"), "redis://cache:6379");
    }

    #[test]
    fn keys_are_hash_tagged_per_scope_and_facts_round_trip() {
        let t = TargetId::new("openai", "gpt-4o");
        let open = Fact::Open {
            target: t.clone(),
            until_ms: 5,
        };
        assert_eq!(open.redis_key("prod"), "nb:prod:{t=openai/gpt-4o}:open");
        let cool = Fact::Cool {
            scope: Scope::of(&ScopeKey::Credential {
                provider: "openai".into(),
                credential: "default".into(),
            }),
            until_ms: 7,
            cause: Some(FailureClass::AuthFailure),
        };
        assert_eq!(cool.redis_key("prod"), "nb:prod:{c=openai@default}:cool");
        for f in [open, cool] {
            let s = serde_json::to_string(&f).unwrap_or_default();
            assert_eq!(serde_json::from_str::<Fact>(&s).ok(), Some(f));
        }
        // A brace in a name cannot end the hash tag early.
        let odd = Fact::Open {
            target: TargetId::new("a}b", "m{"),
            until_ms: 1,
        };
        assert_eq!(odd.redis_key("x"), "nb:x:{t=a_b/m_}:open");
    }
}
