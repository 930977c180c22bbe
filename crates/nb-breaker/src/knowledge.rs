//! The knowledge store: where per-target health lives — breakers, cool-downs by scope,
//! pacing, latency and outcome counts — and the one place the router asks "may I call
//! this target now?".

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

// Under `--cfg loom` the store's locks are loom's, so the model checker explores every
// interleaving of admit / record / drop (tests/loom_admission.rs).
#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nb_core::{FailureClass, Scope, TargetId};

use crate::FastMap;
use crate::breaker::{Breaker, BreakerConfig, BreakerOutcome, BreakerState, Permit, Transition};
use crate::clock::SharedClock;
use crate::pacer::Pacer;
use crate::stats::LatencyStats;

/// What a failure's scope disables, as a key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeKey {
    /// One target.
    Target(TargetId),
    /// One model on one provider.
    Model {
        /// The provider.
        provider: String,
        /// The model.
        model: String,
    },
    /// One credential of one provider.
    Credential {
        /// The provider.
        provider: String,
        /// The credential's label (`"default"` when the target names none).
        credential: String,
    },
    /// A whole provider.
    Provider(String),
}

impl ScopeKey {
    /// The key a failure of `scope` on `target` disables (`None` for an attempt).
    pub fn of(target: &TargetId, scope: Scope) -> Option<Self> {
        Some(match scope {
            Scope::Target => Self::Target(target.clone()),
            Scope::Model => Self::Model {
                provider: target.provider().to_owned(),
                model: target.model().to_owned(),
            },
            Scope::Credential => Self::Credential {
                provider: target.provider().to_owned(),
                credential: target.credential().unwrap_or("default").to_owned(),
            },
            Scope::Provider => Self::Provider(target.provider().to_owned()),
            _ => return None,
        })
    }

    /// Every key that covers `target`.
    pub fn covering(target: &TargetId) -> [Self; 4] {
        [
            Scope::Target,
            Scope::Model,
            Scope::Credential,
            Scope::Provider,
        ]
        .map(|s| Self::of(target, s).unwrap_or_else(|| Self::Target(target.clone())))
    }
}

impl fmt::Display for ScopeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Target(t) => write!(f, "target {t}"),
            Self::Model { provider, model } => write!(f, "model {provider}/{model}"),
            Self::Credential {
                provider,
                credential,
            } => write!(f, "credential {provider}@{credential}"),
            Self::Provider(p) => write!(f, "provider {p}"),
        }
    }
}

/// How long each class of failure keeps its scope out of rotation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CooldownPolicy {
    /// A rate limit without a retry hint.
    pub rate_limited: Duration,
    /// An overload without a retry hint, once it counts (see `overload_strikes`).
    pub overloaded: Duration,
    /// How many overloads without a retry hint, each within `overloaded` of the one
    /// before, cool a scope down. One overload is often one busy replica behind the
    /// provider's balancer: the breaker counts it, but it does not take the whole target
    /// out of rotation. An overload *with* a hint cools at once. (Default 2; 1 cools on
    /// the first.)
    pub overload_strikes: u32,
    /// Exhausted quota or billing (a hint, if longer, wins).
    pub quota: Duration,
    /// A rejected credential: it will not heal until the configuration changes, so it is
    /// retried once per this period.
    pub auth: Duration,
    /// A missing model.
    pub invalid_model: Duration,
    /// The longest cool-down.
    pub max: Duration,
}

impl Default for CooldownPolicy {
    fn default() -> Self {
        Self {
            rate_limited: Duration::from_secs(1),
            overloaded: Duration::from_secs(2),
            overload_strikes: 2,
            quota: Duration::from_secs(300),
            auth: Duration::from_secs(60),
            invalid_model: Duration::from_secs(600),
            max: Duration::from_secs(3600),
        }
    }
}

impl CooldownPolicy {
    /// The cool-down for a failure of `class` with the server's `retry_after`, if any.
    pub fn for_failure(
        &self,
        class: FailureClass,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let d = match class {
            FailureClass::RateLimited => retry_after.unwrap_or(self.rate_limited),
            FailureClass::Overloaded => retry_after.unwrap_or(self.overloaded),
            FailureClass::QuotaExhausted => retry_after.unwrap_or_default().max(self.quota),
            FailureClass::AuthFailure => self.auth,
            FailureClass::InvalidModel | FailureClass::EndpointNotFound => self.invalid_model,
            // Health failures are the breaker's business, but a server's hint is honoured.
            FailureClass::ServerError
            | FailureClass::Timeout
            | FailureClass::Network
            | FailureClass::MalformedResponse => retry_after?,
            _ => return None,
        };
        Some(d.min(self.max))
    }
}

/// What the breaker makes of a failure class: health failures count; failures that say
/// nothing about the target's health (the caller's request, a policy, a cool-down's
/// business) are ignored.
pub fn breaker_outcome(class: FailureClass) -> BreakerOutcome {
    match class {
        FailureClass::Timeout
        | FailureClass::Overloaded
        | FailureClass::ServerError
        | FailureClass::Network
        | FailureClass::MalformedResponse => BreakerOutcome::Failure,
        _ => BreakerOutcome::Ignored,
    }
}

/// Takes back what an [`Admission`] held when it is dropped unrecorded.
///
/// A store implements it for the state its admissions draw on; [`Admission::new`] ties
/// an admission to it. Called at most once per admission, from `Drop`: it must not block
/// for long or panic.
pub trait Release: Send + Sync {
    /// Gives back `permit` and the cool-down probes in `probing` for `target`.
    fn release(&self, target: &TargetId, permit: Permit, probing: Vec<ScopeKey>);
}

/// Permission to call a target, to hand back with the observation
/// ([`Knowledge::record`]).
///
/// It is a guard: an admission dropped without being recorded — the caller's future was
/// cancelled by its own timeout or a `select!`, a hedge lost, a task was aborted — gives
/// its half-open probe or cool-down probe back to the store at once, so a cancelled call
/// never leaves a breaker half-open with nobody probing.
pub struct Admission {
    permit: Permit,
    /// Cool-downs that had just expired: this call probes them.
    probing: Vec<ScopeKey>,
    /// Where to give it all back if it is dropped unrecorded.
    owner: Option<(Arc<dyn Release>, TargetId)>,
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("permit", &self.permit)
            .field("probing", &self.probing)
            .finish_non_exhaustive()
    }
}

impl Admission {
    /// An admission for `target` that releases into `owner` when dropped unrecorded.
    /// For implementers of [`Knowledge`].
    pub fn new(
        permit: Permit,
        probing: Vec<ScopeKey>,
        owner: Arc<dyn Release>,
        target: TargetId,
    ) -> Self {
        Self {
            permit,
            probing,
            owner: Some((owner, target)),
        }
    }

    /// Whether this call probes a half-open breaker or an expired cool-down.
    pub fn is_probe(&self) -> bool {
        self.permit.probe || !self.probing.is_empty()
    }

    /// Takes the permit and the probed cool-downs out, disarming the guard: what a
    /// store's [`Knowledge::record`] does before recording the outcome.
    pub fn into_parts(mut self) -> (Permit, Vec<ScopeKey>) {
        self.owner = None;
        (self.permit, std::mem::take(&mut self.probing))
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some((owner, target)) = self.owner.take() {
            owner.release(&target, self.permit, std::mem::take(&mut self.probing));
        }
    }
}

/// Why a target may not be called now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Its breaker is open (or its half-open probes are taken) until then.
    BreakerOpen {
        /// When to ask again.
        until: Instant,
    },
    /// A scope covering it cools down until then.
    CoolingDown {
        /// The scope.
        key: ScopeKey,
        /// When it ends.
        until: Instant,
        /// It followed a failure that waiting does not heal (a bad key, an exhausted
        /// quota, a missing model): when it ends, one probe finds out while the rest
        /// stay away — a caller gains nothing by waiting for it.
        sticky: bool,
    },
    /// The pacer says wait.
    Paced {
        /// When to ask again.
        until: Instant,
    },
}

impl Refusal {
    /// When the target may be asked again.
    pub fn until(&self) -> Instant {
        match self {
            Self::BreakerOpen { until }
            | Self::CoolingDown { until, .. }
            | Self::Paced { until } => *until,
        }
    }
}

/// What happened to one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// It answered. `budget_reset` is when an exhausted rate-limit budget (read from the
    /// response's headers) refills: the target is paced until then.
    Success {
        /// When the exhausted budget refills, if it is exhausted.
        budget_reset: Option<Duration>,
    },
    /// It failed.
    Failure {
        /// The class.
        class: FailureClass,
        /// How far it reaches.
        scope: Scope,
        /// The server's retry hint.
        retry_after: Option<Duration>,
    },
    /// The caller gave up before the target said anything.
    Cancelled,
}

/// Something that changed in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthEvent {
    /// A breaker changed state.
    Breaker {
        /// The target.
        target: TargetId,
        /// The change and its cause.
        transition: Transition,
    },
    /// A scope started (or extended) a cool-down.
    Cooldown {
        /// The scope.
        key: ScopeKey,
        /// Its new end.
        until: Instant,
        /// The class that caused it (`None`: an exhausted budget in a success's headers).
        cause: Option<FailureClass>,
    },
}

/// A snapshot of one target's health.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetHealth {
    /// Its breaker.
    pub breaker: BreakerState,
    /// The latest cool-down end among the scopes covering it, if one is active.
    pub cooling_until: Option<Instant>,
    /// Moving average latency of successes.
    pub ewma_latency: Option<Duration>,
    /// 95th percentile latency of recent successes.
    pub p95_latency: Option<Duration>,
    /// Successful attempts.
    pub successes: u64,
    /// Failed attempts by class.
    pub failures: HashMap<FailureClass, u64>,
}

/// Where health facts live. In memory by default; a shared store (Redis) when several
/// processes route the same traffic.
pub trait Knowledge: Send + Sync {
    /// Asks to call `target` with a request of about `tokens` tokens.
    fn admit(&self, target: &TargetId, tokens: u32) -> Result<Admission, Refusal>;
    /// Records how an admitted attempt went; returns what changed.
    fn record(
        &self,
        target: &TargetId,
        admission: Admission,
        latency: Duration,
        observed: &Observed,
    ) -> Vec<HealthEvent>;
    /// A snapshot of `target`'s health.
    fn health(&self, target: &TargetId) -> TargetHealth;

    /// Admits a recovery probe to a target whose breaker is open, before its open period
    /// ends (a background check; never a user's call). Cool-downs still hold: a server's
    /// own "retry after" is not probed early. The default refuses: a store that cannot
    /// shorten an open period waits it out.
    fn admit_recovery_probe(&self, target: &TargetId) -> Result<Admission, Refusal> {
        let _ = target;
        Err(Refusal::BreakerOpen {
            until: Instant::now(),
        })
    }

    /// Remembers that `target` rejected a request for being over `tokens` tokens, as
    /// its rejection stated (the smallest stated limit wins). The router keeps learned
    /// windows nowhere else: a store that forgets them lets each target reject the
    /// same size again.
    fn learn_window(&self, target: &TargetId, tokens: u64);

    /// The context window learned for `target`, if any.
    fn learned_window(&self, target: &TargetId) -> Option<u64>;
}

struct Cooldown {
    until: Instant,
    last: Duration,
    /// Sticky failures (a bad key, exhausted quota, a missing model) do not heal by
    /// waiting: once the cool-down ends, one probe finds out while the rest stay away.
    /// Transient ones (rate limits, overload) simply end.
    sticky: bool,
    /// When a probe was let through, while it is out.
    probing: Option<Instant>,
}

fn is_sticky(class: Option<FailureClass>) -> bool {
    matches!(
        class,
        Some(
            FailureClass::AuthFailure
                | FailureClass::QuotaExhausted
                | FailureClass::InvalidModel
                | FailureClass::EndpointNotFound
        )
    )
}

struct Entry {
    breaker: Breaker,
    latency: LatencyStats,
    successes: u64,
    failures: HashMap<FailureClass, u64>,
}

/// The in-process [`Knowledge`] store.
pub struct InMemoryKnowledge {
    shared: Arc<Shared>,
}

/// The store's state, shared with the admissions it hands out (so a dropped one can
/// give its probe back).
struct Shared {
    clock: SharedClock,
    breaker: BreakerConfig,
    cooldowns_policy: CooldownPolicy,
    pacer: Option<Arc<dyn Pacer>>,
    targets: Mutex<FastMap<TargetId, Entry>>,
    cooldowns: Mutex<FastMap<ScopeKey, Cooldown>>,
    /// Transitions that happened while admitting (open → half-open), reported with the
    /// next record.
    pending: Mutex<Vec<HealthEvent>>,
    /// Context windows learned from rejections.
    windows: Mutex<FastMap<TargetId, u64>>,
    /// Overloads without a hint not yet cooled for, by scope: how many in a row, and
    /// when the last one was.
    strikes: Mutex<FastMap<ScopeKey, (u32, Instant)>>,
    /// Seeds each target's breaker jitter, with the target's id.
    seed: u64,
}

impl Shared {
    /// A closed breaker for `target`, its jitter seeded from the store's seed and the
    /// target's id (FNV-1a: stable across runs and builds).
    fn breaker_for(&self, target: &TargetId) -> Breaker {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in target.to_string().bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Breaker::seeded(self.breaker, self.clock.clone(), h ^ self.seed)
    }
}

impl Release for Shared {
    fn release(&self, target: &TargetId, permit: Permit, probing: Vec<ScopeKey>) {
        if permit.probe {
            if let Some(e) = lock(&self.targets).get_mut(target) {
                e.breaker.release(permit);
            }
        }
        self.release_probes(&probing);
    }
}

impl fmt::Debug for InMemoryKnowledge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryKnowledge")
            .field("breaker", &self.shared.breaker)
            .field("cooldowns", &self.shared.cooldowns_policy)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl InMemoryKnowledge {
    /// A store with these breaker and cool-down policies on `clock`.
    pub fn new(breaker: BreakerConfig, cooldowns: CooldownPolicy, clock: SharedClock) -> Self {
        Self {
            shared: Arc::new(Shared {
                clock,
                breaker,
                cooldowns_policy: cooldowns,
                pacer: None,
                targets: Mutex::new(FastMap::default()),
                cooldowns: Mutex::new(FastMap::default()),
                pending: Mutex::new(Vec::new()),
                windows: Mutex::new(FastMap::default()),
                strikes: Mutex::new(FastMap::default()),
                seed: 0,
            }),
        }
    }

    /// Seeds the breakers' jitter (each target's breaker from this and its id; default
    /// 0). Replicas given different seeds open their breakers for different periods.
    /// Call before the store is shared.
    pub fn with_seed(mut self, seed: u64) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(s) => {
                s.seed = seed;
                self
            }
            None => {
                let old = &self.shared;
                let mut fresh = Self::new(old.breaker, old.cooldowns_policy, old.clock.clone());
                if let Some(s) = Arc::get_mut(&mut fresh.shared) {
                    s.seed = seed;
                    s.pacer = old.pacer.clone();
                }
                fresh
            }
        }
    }

    /// Paces admissions with `pacer`. Call before the store is shared.
    pub fn with_pacer(mut self, pacer: Arc<dyn Pacer>) -> Self {
        match Arc::get_mut(&mut self.shared) {
            Some(s) => s.pacer = Some(pacer),
            None => {
                // Admissions are out: rebuild around a copy of the configuration.
                let old = &self.shared;
                let mut fresh = Self::new(old.breaker, old.cooldowns_policy, old.clock.clone());
                if let Some(s) = Arc::get_mut(&mut fresh.shared) {
                    s.pacer = Some(pacer);
                    s.seed = old.seed;
                }
                return fresh;
            }
        }
        self
    }
}

/// Facts learned elsewhere, merged into this store: how a shared store (Redis, say) keeps
/// replicas' local state in step without putting a network round trip on the hot path.
/// Merges only ever extend: a cool-down is never shortened and a breaker never closed by
/// a remote fact.
impl InMemoryKnowledge {
    /// The clock this store runs on.
    pub fn clock(&self) -> &SharedClock {
        &self.shared.clock
    }

    /// Extends `key`'s cool-down to `until` if that is later than its current end;
    /// returns whether it changed.
    pub fn merge_cooldown(
        &self,
        key: ScopeKey,
        until: Instant,
        cause: Option<FailureClass>,
    ) -> bool {
        if until <= self.shared.clock.now() {
            return false;
        }
        let mut cds = lock(&self.shared.cooldowns);
        let c = cds.entry(key).or_insert(Cooldown {
            until: self.shared.clock.now(),
            last: Duration::ZERO,
            sticky: false,
            probing: None,
        });
        c.sticky |= is_sticky(cause);
        if until > c.until {
            c.last = c.last.max(until - c.until.max(self.shared.clock.now()));
            c.until = until;
            true
        } else {
            false
        }
    }

    /// Opens `target`'s breaker until at least `until` (see
    /// [`Breaker::open_at_least_until`]); returns the transition, if any.
    pub fn merge_open(&self, target: &TargetId, until: Instant) -> Option<Transition> {
        let mut targets = lock(&self.shared.targets);
        let e = targets.entry(target.clone()).or_insert_with(|| Entry {
            breaker: self.shared.breaker_for(target),
            latency: LatencyStats::default(),
            successes: 0,
            failures: HashMap::new(),
        });
        e.breaker.open_at_least_until(until)
    }

    /// When `target`'s open breaker lets a probe through, if it is open.
    pub fn open_until(&self, target: &TargetId) -> Option<Instant> {
        lock(&self.shared.targets)
            .get(target)
            .and_then(|e| e.breaker.open_until())
            .filter(|u| *u > self.shared.clock.now())
    }
}

impl Shared {
    /// Counts an overload without a retry hint on `key`; whether it is the one that
    /// cools the scope (the `overload_strikes`-th, each within `overloaded` of the last).
    fn overload_strike(&self, key: &ScopeKey, now: Instant) -> bool {
        let need = self.cooldowns_policy.overload_strikes.max(1);
        let window = self.cooldowns_policy.overloaded;
        let mut strikes = lock(&self.strikes);
        let (n, last) = strikes.entry(key.clone()).or_insert((0, now));
        if now.saturating_duration_since(*last) > window {
            *n = 0;
        }
        *n += 1;
        *last = now;
        if *n >= need {
            strikes.remove(key);
            true
        } else {
            false
        }
    }

    fn release_probes(&self, probing: &[ScopeKey]) {
        if probing.is_empty() {
            return;
        }
        let mut cds = lock(&self.cooldowns);
        for key in probing {
            if let Some(c) = cds.get_mut(key) {
                c.probing = None;
            }
        }
    }

    /// Starts or extends a cool-down: a new cool-down never shortens an existing one, and
    /// one that strikes again as soon as it ended grows (doubling, up to max).
    fn cool(
        &self,
        key: ScopeKey,
        d: Duration,
        now: Instant,
        cause: Option<FailureClass>,
    ) -> Instant {
        let mut cds = lock(&self.cooldowns);
        let max = self.cooldowns_policy.max;
        let c = cds.entry(key).or_insert(Cooldown {
            until: now,
            last: Duration::ZERO,
            sticky: false,
            probing: None,
        });
        c.sticky |= is_sticky(cause);
        // Growth only when the scope fails again as soon as it is let back in (its probe,
        // or right after it ended) — not when calls already in flight report the same
        // trouble, which would compound one storm into an hour.
        let repeat = c.probing.is_some() || (now >= c.until && now < c.until + c.last);
        let d = if repeat && !c.last.is_zero() {
            d.max(c.last.saturating_mul(2)).min(max)
        } else {
            d
        };
        c.until = c.until.max(now + d);
        c.last = d;
        c.probing = None;
        c.until
    }
}

impl Knowledge for InMemoryKnowledge {
    fn admit(&self, target: &TargetId, tokens: u32) -> Result<Admission, Refusal> {
        self.shared.admit(target, tokens)
    }

    fn record(
        &self,
        target: &TargetId,
        admission: Admission,
        latency: Duration,
        observed: &Observed,
    ) -> Vec<HealthEvent> {
        self.shared.record(target, admission, latency, observed)
    }

    fn health(&self, target: &TargetId) -> TargetHealth {
        self.shared.health(target)
    }

    fn learn_window(&self, target: &TargetId, tokens: u64) {
        let mut w = lock(&self.shared.windows);
        let e = w.entry(target.clone()).or_insert(tokens);
        *e = (*e).min(tokens);
    }

    fn learned_window(&self, target: &TargetId) -> Option<u64> {
        lock(&self.shared.windows).get(target).copied()
    }

    fn admit_recovery_probe(&self, target: &TargetId) -> Result<Admission, Refusal> {
        let now = self.shared.clock.now();
        {
            let cds = lock(&self.shared.cooldowns);
            for key in ScopeKey::covering(target) {
                if let Some(c) = cds.get(&key).filter(|c| now < c.until) {
                    return Err(Refusal::CoolingDown {
                        until: c.until,
                        key,
                        sticky: c.sticky,
                    });
                }
            }
        }
        let mut targets = lock(&self.shared.targets);
        let Some(e) = targets.get_mut(target) else {
            return Err(Refusal::BreakerOpen { until: now });
        };
        match e.breaker.try_probe() {
            Ok((permit, transition)) => {
                if let Some(transition) = transition {
                    lock(&self.shared.pending).push(HealthEvent::Breaker {
                        target: target.clone(),
                        transition,
                    });
                }
                Ok(Admission::new(
                    permit,
                    Vec::new(),
                    self.shared.clone(),
                    target.clone(),
                ))
            }
            Err(until) => Err(Refusal::BreakerOpen { until }),
        }
    }
}

impl Shared {
    fn admit(self: &Arc<Self>, target: &TargetId, tokens: u32) -> Result<Admission, Refusal> {
        let mut probing = Vec::new();
        {
            let mut cds = lock(&self.cooldowns);
            // The common case — nothing cooling anywhere — builds no keys and reads no
            // clock.
            if !cds.is_empty() {
                let now = self.clock.now();
                for key in ScopeKey::covering(target) {
                    let Some(c) = cds.get(&key) else { continue };
                    if now < c.until {
                        return Err(Refusal::CoolingDown {
                            until: c.until,
                            key,
                            sticky: c.sticky,
                        });
                    }
                    if !c.sticky {
                        continue;
                    }
                    // Someone is already finding out whether it healed — unless that
                    // probe has been out longer than any attempt can take.
                    if let Some(since) = c.probing {
                        let cap = self.breaker.probe_timeout;
                        if now.saturating_duration_since(since) < cap {
                            return Err(Refusal::CoolingDown {
                                until: now + c.last.max(Duration::from_millis(1)).min(cap),
                                key,
                                sticky: true,
                            });
                        }
                    }
                    probing.push(key);
                }
                for key in &probing {
                    if let Some(c) = cds.get_mut(key) {
                        c.probing = Some(now);
                    }
                }
            }
        }
        let release_probes = |probing: &[ScopeKey]| self.release_probes(probing);
        let permit = {
            let mut targets = lock(&self.targets);
            let e = targets.entry(target.clone()).or_insert_with(|| Entry {
                breaker: self.breaker_for(target),
                latency: LatencyStats::default(),
                successes: 0,
                failures: HashMap::new(),
            });
            match e.breaker.acquire_with_transition() {
                Ok((p, t)) => {
                    if let Some(transition) = t {
                        lock(&self.pending).push(HealthEvent::Breaker {
                            target: target.clone(),
                            transition,
                        });
                    }
                    p
                }
                Err(until) => {
                    drop(targets);
                    release_probes(&probing);
                    return Err(Refusal::BreakerOpen { until });
                }
            }
        };
        if let Some(pacer) = &self.pacer {
            if let Err(wait) = pacer.try_acquire(target, tokens) {
                if let Some(e) = lock(&self.targets).get_mut(target) {
                    e.breaker.release(permit);
                }
                release_probes(&probing);
                return Err(Refusal::Paced {
                    until: self.clock.now() + wait,
                });
            }
        }
        Ok(Admission::new(
            permit,
            probing,
            self.clone(),
            target.clone(),
        ))
    }

    fn record(
        &self,
        target: &TargetId,
        admission: Admission,
        latency: Duration,
        observed: &Observed,
    ) -> Vec<HealthEvent> {
        let now = self.clock.now();
        let mut events = std::mem::take(&mut *lock(&self.pending));
        let outcome = match observed {
            Observed::Success { .. } => BreakerOutcome::Success,
            Observed::Failure { class, .. } => breaker_outcome(*class),
            Observed::Cancelled => BreakerOutcome::Ignored,
        };
        let (permit, probing) = admission.into_parts();
        {
            let mut targets = lock(&self.targets);
            if let Some(e) = targets.get_mut(target) {
                if *observed == Observed::Cancelled {
                    e.breaker.release(permit);
                } else if let Some(t) = e.breaker.record_at(permit, outcome, Some(now)) {
                    events.push(HealthEvent::Breaker {
                        target: target.clone(),
                        transition: t,
                    });
                }
                match observed {
                    Observed::Success { .. } => {
                        e.successes += 1;
                        e.latency.observe(latency);
                    }
                    Observed::Failure { class, .. } => *e.failures.entry(*class).or_default() += 1,
                    Observed::Cancelled => {}
                }
            }
        }
        match observed {
            Observed::Success { budget_reset } => {
                // The call went through: every scope covering the target is healthy.
                let mut cds = lock(&self.cooldowns);
                let covering = if cds.is_empty() {
                    None
                } else {
                    Some(ScopeKey::covering(target))
                };
                for key in covering.into_iter().flatten() {
                    if cds.get(&key).is_some_and(|c| c.until <= now) {
                        cds.remove(&key);
                    }
                }
                drop(cds);
                let mut strikes = lock(&self.strikes);
                if !strikes.is_empty() {
                    for key in ScopeKey::covering(target) {
                        strikes.remove(&key);
                    }
                }
                drop(strikes);
                if let Some(d) = budget_reset.filter(|d| !d.is_zero()) {
                    let d = d.min(self.cooldowns_policy.max);
                    let key = ScopeKey::Target(target.clone());
                    let until = self.cool(key.clone(), d, now, None);
                    events.push(HealthEvent::Cooldown {
                        key,
                        until,
                        cause: None,
                    });
                }
            }
            Observed::Failure {
                class,
                scope,
                retry_after,
            } => {
                let key = ScopeKey::of(target, *scope)
                    .unwrap_or_else(|| ScopeKey::Target(target.clone()));
                let cools = *class != FailureClass::Overloaded
                    || retry_after.is_some()
                    || self.overload_strike(&key, now);
                let cooldown = self
                    .cooldowns_policy
                    .for_failure(*class, *retry_after)
                    .filter(|_| cools);
                match cooldown {
                    Some(d) => {
                        let until = self.cool(key.clone(), d, now, Some(*class));
                        events.push(HealthEvent::Cooldown {
                            key: key.clone(),
                            until,
                            cause: Some(*class),
                        });
                    }
                    None => self.release_probes(&probing),
                }
                // Probed scopes other than the one that failed again are released.
                let others: Vec<ScopeKey> = probing.into_iter().filter(|k| *k != key).collect();
                self.release_probes(&others);
            }
            Observed::Cancelled => self.release_probes(&probing),
        }
        events
    }

    fn health(&self, target: &TargetId) -> TargetHealth {
        let now = self.clock.now();
        let cooling_until = {
            let cds = lock(&self.cooldowns);
            ScopeKey::covering(target)
                .iter()
                .filter_map(|k| cds.get(k).map(|c| c.until))
                .filter(|u| *u > now)
                .max()
        };
        let targets = lock(&self.targets);
        match targets.get(target) {
            Some(e) => TargetHealth {
                breaker: e.breaker.state(),
                cooling_until,
                ewma_latency: e.latency.ewma(),
                p95_latency: e.latency.quantile(0.95),
                successes: e.successes,
                failures: e.failures.clone(),
            },
            None => TargetHealth {
                breaker: BreakerState::Closed,
                cooling_until,
                ewma_latency: None,
                p95_latency: None,
                successes: 0,
                failures: HashMap::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Clock, ManualClock, OpenBackoff};

    fn store(clock: &ManualClock) -> InMemoryKnowledge {
        store_tripping_after(clock, 2)
    }

    fn store_tripping_after(clock: &ManualClock, failures: u32) -> InMemoryKnowledge {
        let b = BreakerConfig {
            consecutive_failures: failures,
            failure_rate: None,
            backoff: OpenBackoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(8),
                jitter: false,
            },
            half_open_probes: 1,
            close_after: 1,
            probe_timeout: Duration::from_secs(30),
        };
        InMemoryKnowledge::new(b, CooldownPolicy::default(), Arc::new(clock.clone()))
    }

    #[test]
    fn remote_facts_only_ever_extend() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let t = TargetId::new("p", "m");
        let now = clock.now();
        // A cool-down learned elsewhere refuses admissions until it ends...
        assert!(k.merge_cooldown(
            ScopeKey::Target(t.clone()),
            now + Duration::from_secs(5),
            None
        ));
        assert!(matches!(k.admit(&t, 1), Err(Refusal::CoolingDown { .. })));
        // ...and an earlier one never shortens it; a past one changes nothing.
        assert!(!k.merge_cooldown(
            ScopeKey::Target(t.clone()),
            now + Duration::from_secs(1),
            None
        ));
        assert!(!k.merge_cooldown(ScopeKey::Target(t.clone()), now, None));
        clock.advance(Duration::from_secs(5));
        assert!(k.admit(&t, 1).is_ok());

        // An open breaker learned elsewhere opens a closed one, extends an open one,
        // and a shorter one never brings it back sooner.
        let u = TargetId::new("q", "m");
        let now = clock.now();
        let tr = k.merge_open(&u, now + Duration::from_secs(3)).unwrap();
        assert_eq!(tr.to, BreakerState::Open);
        assert_eq!(k.health(&u).breaker, BreakerState::Open);
        assert!(k.merge_open(&u, now + Duration::from_secs(1)).is_none());
        assert_eq!(k.open_until(&u), Some(now + Duration::from_secs(3)));
        assert!(k.merge_open(&u, now + Duration::from_secs(6)).is_none());
        assert_eq!(k.open_until(&u), Some(now + Duration::from_secs(6)));
        // A time already past opens nothing.
        let w = TargetId::new("r", "m");
        assert!(k.merge_open(&w, now).is_none());
        assert_eq!(k.health(&w).breaker, BreakerState::Closed);
    }

    fn fail(
        k: &InMemoryKnowledge,
        t: &TargetId,
        class: FailureClass,
        scope: Scope,
        retry: Option<u64>,
    ) -> Vec<HealthEvent> {
        let a = k.admit(t, 10).unwrap();
        k.record(
            t,
            a,
            Duration::from_millis(5),
            &Observed::Failure {
                class,
                scope,
                retry_after: retry.map(Duration::from_secs),
            },
        )
    }

    #[test]
    fn a_bad_key_disables_every_target_using_it_and_only_those() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let a = TargetId::new("openai", "gpt-4o").with_credential("team-a");
        let a_mini = TargetId::new("openai", "gpt-4o-mini").with_credential("team-a");
        let b = TargetId::new("openai", "gpt-4o").with_credential("team-b");
        fail(&k, &a, FailureClass::AuthFailure, Scope::Credential, None);
        assert!(matches!(
            k.admit(&a_mini, 1),
            Err(Refusal::CoolingDown {
                key: ScopeKey::Credential { .. },
                ..
            })
        ));
        assert!(
            k.admit(&b, 1).is_ok(),
            "another key of the same provider still works"
        );
        assert_eq!(
            k.health(&a).breaker,
            BreakerState::Closed,
            "auth failures are not health failures"
        );
    }

    #[test]
    fn cooldowns_only_grow_and_a_transient_one_simply_ends() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let t = TargetId::new("anthropic", "claude");
        let t0 = clock.now();
        fail(&k, &t, FailureClass::RateLimited, Scope::Target, Some(30));
        // A later, shorter hint does not shorten the cool-down (it cannot even be admitted,
        // so record it as another target's failure on the same scope).
        let later = k.shared.cool(
            ScopeKey::Target(t.clone()),
            Duration::from_secs(2),
            clock.now(),
            Some(FailureClass::RateLimited),
        );
        assert_eq!(later, t0 + Duration::from_secs(30));
        clock.advance(Duration::from_secs(30));
        let a = k.admit(&t, 1).unwrap();
        assert!(
            !a.is_probe(),
            "a rate limit heals by waiting: no probe gate"
        );
        assert!(k.admit(&t, 1).is_ok());
    }

    #[test]
    fn one_overload_does_not_cool_a_target_but_a_second_in_its_window_or_a_hint_does() {
        let clock = ManualClock::new();
        // The breaker's own count is not under test here.
        let k = store_tripping_after(&clock, 100);
        let t = TargetId::new("anthropic", "claude");
        fail(&k, &t, FailureClass::Overloaded, Scope::Provider, None);
        assert!(
            k.admit(&t, 1).is_ok(),
            "a single 529 leaves the target in rotation"
        );
        // The next overload comes long after the first: still one in a row.
        clock.advance(Duration::from_secs(3));
        fail(&k, &t, FailureClass::Overloaded, Scope::Provider, None);
        assert!(
            k.admit(&t, 1).is_ok(),
            "strikes further apart than the window reset"
        );
        // A second within the window cools the scope.
        clock.advance(Duration::from_millis(500));
        fail(&k, &t, FailureClass::Overloaded, Scope::Provider, None);
        assert!(matches!(k.admit(&t, 1), Err(Refusal::CoolingDown { .. })));
        // A success in between starts the count again.
        let u = TargetId::new("other", "m");
        fail(&k, &u, FailureClass::Overloaded, Scope::Target, None);
        let a = k.admit(&u, 1).unwrap();
        k.record(
            &u,
            a,
            Duration::from_millis(3),
            &Observed::Success { budget_reset: None },
        );
        fail(&k, &u, FailureClass::Overloaded, Scope::Target, None);
        assert!(k.admit(&u, 1).is_ok(), "a success clears the strikes");
        // An overload with the server's own hint cools at once.
        let v = TargetId::new("hinted", "m");
        fail(&k, &v, FailureClass::Overloaded, Scope::Target, Some(5));
        assert!(k.admit(&v, 1).is_err());
    }

    #[test]
    fn an_expired_sticky_cooldown_lets_exactly_one_probe_through() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let t = TargetId::new("openai", "gpt");
        fail(
            &k,
            &t,
            FailureClass::QuotaExhausted,
            Scope::Credential,
            None,
        );
        clock.advance(Duration::from_secs(300));
        let probe = k.admit(&t, 1).unwrap();
        assert!(probe.is_probe());
        assert!(k.admit(&t, 1).is_err(), "one probe at a time");
        k.record(
            &t,
            probe,
            Duration::from_millis(3),
            &Observed::Success { budget_reset: None },
        );
        assert!(k.admit(&t, 1).is_ok());
        assert!(k.admit(&t, 1).is_ok());
    }

    #[test]
    fn a_dropped_admission_gives_its_probe_back() {
        // Regression: a caller that dropped its call (its own timeout, `select!`) while
        // holding the half-open probe never gave it back; the breaker stayed half-open
        // with nobody probing.
        let clock = ManualClock::new();
        let k = store(&clock);
        let t = TargetId::new("p", "m");
        for _ in 0..2 {
            fail(&k, &t, FailureClass::ServerError, Scope::Target, None);
        }
        clock.advance(Duration::from_secs(1));
        let probe = k.admit(&t, 1).unwrap();
        assert!(probe.is_probe());
        assert!(k.admit(&t, 1).is_err(), "one probe at a time");
        drop(probe);
        let again = k.admit(&t, 1).expect("the dropped probe's place is free");
        assert!(again.is_probe());
        drop(again);
        // The same for a sticky cool-down's probe.
        let u = TargetId::new("q", "m");
        fail(&k, &u, FailureClass::AuthFailure, Scope::Credential, None);
        clock.advance(Duration::from_secs(3600));
        let probe = k.admit(&u, 1).unwrap();
        assert!(probe.is_probe());
        assert!(k.admit(&u, 1).is_err());
        drop(probe);
        assert!(k.admit(&u, 1).unwrap().is_probe());
    }

    #[test]
    fn a_cooldown_probe_that_never_reports_is_given_up() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let u = TargetId::new("q", "m");
        fail(&k, &u, FailureClass::AuthFailure, Scope::Credential, None);
        clock.advance(Duration::from_secs(3600));
        // A probe leaked past its guard (a process that died mid-call would do this).
        std::mem::forget(k.admit(&u, 1).unwrap());
        assert!(k.admit(&u, 1).is_err());
        clock.advance(Duration::from_secs(30));
        assert!(
            k.admit(&u, 1).unwrap().is_probe(),
            "the probe timeout frees it"
        );
    }

    #[test]
    fn repeated_auth_failures_back_off() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let t = TargetId::new("p", "m");
        fail(&k, &t, FailureClass::AuthFailure, Scope::Credential, None);
        assert_eq!(
            k.health(&t).cooling_until,
            Some(clock.now() + Duration::from_secs(60))
        );
        clock.advance(Duration::from_secs(60));
        fail(&k, &t, FailureClass::AuthFailure, Scope::Credential, None);
        assert_eq!(
            k.health(&t).cooling_until,
            Some(clock.now() + Duration::from_secs(120))
        );
    }

    #[test]
    fn health_failures_trip_the_breaker_and_ignored_ones_do_not() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let t = TargetId::new("p", "m");
        for _ in 0..5 {
            fail(&k, &t, FailureClass::InvalidRequest, Scope::Attempt, None);
        }
        assert_eq!(k.health(&t).breaker, BreakerState::Closed);
        fail(&k, &t, FailureClass::ServerError, Scope::Target, None);
        let ev = fail(&k, &t, FailureClass::Network, Scope::Provider, None);
        assert!(ev.iter().any(|e| matches!(e, HealthEvent::Breaker { transition, .. } if transition.to == BreakerState::Open)));
        assert!(matches!(k.admit(&t, 1), Err(Refusal::BreakerOpen { .. })));
        assert_eq!(k.health(&t).failures[&FailureClass::InvalidRequest], 5);
    }

    #[test]
    fn an_exhausted_budget_in_a_success_paces_the_target() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let t = TargetId::new("p", "m");
        let a = k.admit(&t, 1).unwrap();
        let ev = k.record(
            &t,
            a,
            Duration::from_millis(3),
            &Observed::Success {
                budget_reset: Some(Duration::from_secs(2)),
            },
        );
        assert!(matches!(
            ev[..],
            [HealthEvent::Cooldown { cause: None, .. }]
        ));
        assert!(k.admit(&t, 1).is_err());
        clock.advance(Duration::from_secs(2));
        assert!(k.admit(&t, 1).is_ok());
    }

    #[test]
    fn a_cancelled_probe_gives_its_place_back() {
        let clock = ManualClock::new();
        let k = store(&clock);
        let t = TargetId::new("p", "m");
        fail(&k, &t, FailureClass::InvalidModel, Scope::Model, None);
        clock.advance(Duration::from_secs(600));
        let probe = k.admit(&t, 1).unwrap();
        assert!(probe.is_probe());
        assert!(k.admit(&t, 1).is_err());
        k.record(&t, probe, Duration::ZERO, &Observed::Cancelled);
        assert!(k.admit(&t, 1).is_ok());
    }
}
