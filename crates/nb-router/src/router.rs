//! The loop: plan → execute → analyze → monitor → report.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::{Either, select};
use nb_breaker::{
    Admission, BreakerConfig, CooldownPolicy, GovernorPacer, HealthEvent, InMemoryKnowledge,
    Knowledge, Observed, PaceLimits, SharedClock, SystemClock, TargetHealth,
};
use nb_classify::{
    Classification, Classifier, DefaultClassifier, Disposition, Failure, hint_from_headers,
};
use nb_core::{
    CallError, ChatChunk, ChatRequest, ChatResponse, ChatStream, StreamAccumulator, TargetId,
    TimeoutPhase,
};
use nb_guard::Validator;
use nb_semantic::{Checker, Equivalence as _, Outcome as Equiv};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::broadcast;
use tower::retry::budget::{Budget, TpsBudget};

use crate::policy::{Policy, WhenAllOpen};
use crate::report::{
    AttemptOutcome, AttemptReport, AttemptRole, CallReport, RouteError, RouteErrorKind, Routed,
    VerdictReport,
};
use crate::target::{Strategy, Target};

/// Something the router did or learned, for subscribers.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RouterEvent {
    /// An attempt ended.
    Attempt(AttemptReport),
    /// A breaker moved or a cool-down started.
    Health(HealthEvent),
    /// A background recovery probe of a target whose breaker was open (never a user's
    /// call): whether it passed, and how long it took.
    RecoveryProbe {
        /// The target probed.
        target: TargetId,
        /// Whether it answered.
        passed: bool,
        /// How long it took.
        latency: Duration,
    },
}

/// Running active health checks; dropping the handle stops them.
#[derive(Debug)]
pub struct HealthChecks {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HealthChecks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Per-call options.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct CallOptions {
    /// A named route instead of the default (every target, in the order added).
    pub route: Option<String>,
    /// Only targets carrying all these tags.
    pub require_tags: Vec<String>,
    /// A deadline shorter than the policy's.
    pub deadline: Option<Duration>,
    /// Validators for this call only, after the router's own.
    pub validators: Vec<Arc<dyn Validator>>,
}

impl CallOptions {
    /// Sets `route`.
    pub fn with_route(mut self, route: Option<String>) -> Self {
        self.route = route;
        self
    }

    /// Sets `require_tags`.
    pub fn with_require_tags(mut self, require_tags: Vec<String>) -> Self {
        self.require_tags = require_tags;
        self
    }

    /// Sets `deadline`.
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets `validators`.
    pub fn with_validators(mut self, validators: Vec<Arc<dyn Validator>>) -> Self {
        self.validators = validators;
        self
    }
}

impl std::fmt::Debug for CallOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallOptions")
            .field("route", &self.route)
            .field("require_tags", &self.require_tags)
            .field("deadline", &self.deadline)
            .field("validators", &self.validators.len())
            .finish()
    }
}

/// The router could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid router configuration: {0}")]
pub struct BuildError(String);

/// Builds a [`SmartRouter`].
#[must_use]
pub struct RouterBuilder {
    targets: Vec<Target>,
    routes: Vec<(String, Vec<TargetId>)>,
    strategy: Strategy,
    policy: Policy,
    breaker: BreakerConfig,
    cooldowns: CooldownPolicy,
    pacing: HashMap<TargetId, PaceLimits>,
    classifier: Option<Arc<dyn Classifier>>,
    knowledge: Option<Arc<dyn Knowledge>>,
    clock: SharedClock,
    seed: u64,
    validators: Vec<Arc<dyn Validator>>,
    vouching: Option<Vouching>,
}

impl std::fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("targets", &self.targets)
            .field("strategy", &self.strategy)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl RouterBuilder {
    /// Adds a target (the default route tries targets in the order added).
    pub fn target(mut self, t: Target) -> Self {
        self.targets.push(t);
        self
    }

    /// Adds a named route over some targets, in order.
    pub fn route(
        mut self,
        name: impl Into<String>,
        targets: impl IntoIterator<Item = TargetId>,
    ) -> Self {
        self.routes
            .push((name.into(), targets.into_iter().collect()));
        self
    }

    /// Sets the strategy.
    pub fn strategy(mut self, s: Strategy) -> Self {
        self.strategy = s;
        self
    }

    /// Sets the policy.
    pub fn policy(mut self, p: Policy) -> Self {
        self.policy = p;
        self
    }

    /// Sets the breaker policy of every target.
    pub fn breaker(mut self, b: BreakerConfig) -> Self {
        self.breaker = b;
        self
    }

    /// Sets how long each class of failure cools its scope down.
    pub fn cooldowns(mut self, c: CooldownPolicy) -> Self {
        self.cooldowns = c;
        self
    }

    /// Paces a target (requests and tokens per minute).
    pub fn pace(mut self, target: TargetId, limits: PaceLimits) -> Self {
        self.pacing.insert(target, limits);
        self
    }

    /// Replaces the default classifier (chain yours with `.then(DefaultClassifier::new())`
    /// to keep the defaults for what yours defers).
    pub fn classifier(mut self, c: impl Classifier + 'static) -> Self {
        self.classifier = Some(Arc::new(c));
        self
    }

    /// Uses a knowledge store of your own (shared between routers or processes).
    pub fn knowledge(mut self, k: Arc<dyn Knowledge>) -> Self {
        self.knowledge = Some(k);
        self
    }

    /// Uses this clock for health decisions (tests use a manual clock).
    pub fn clock(mut self, c: SharedClock) -> Self {
        self.clock = c;
        self
    }

    /// Validates every answer; a violation is classified like any failure (a shape
    /// violation is repaired on the same target, up to the policy's `max_repairs`, then
    /// failed over; a content violation fails over).
    pub fn validator(mut self, v: impl Validator + 'static) -> Self {
        self.validators.push(Arc::new(v));
        self
    }

    /// Vouches for failover answers: an answer that did not come from the first choice
    /// is returned only if an independent target's answer is equivalent to it.
    pub fn vouch(mut self, v: Vouching) -> Self {
        self.vouching = Some(v);
        self
    }

    /// Seeds the weighted order and the backoff jitter.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Builds the router, checking the configuration.
    pub fn build(self) -> Result<SmartRouter, BuildError> {
        if self.targets.is_empty() {
            return Err(BuildError("a router needs at least one target".into()));
        }
        let mut index = HashMap::new();
        for (i, t) in self.targets.iter().enumerate() {
            if index.insert(t.id.clone(), i).is_some() {
                return Err(BuildError(format!("target {} is added twice", t.id)));
            }
        }
        let mut routes = HashMap::new();
        for (name, ids) in self.routes {
            let mut r = Vec::new();
            for id in ids {
                let Some(&i) = index.get(&id) else {
                    return Err(BuildError(format!(
                        "route {name:?} names unknown target {id}"
                    )));
                };
                r.push(i);
            }
            routes.insert(name, r);
        }
        if let WhenAllOpen::LastResort(id) = &self.policy.when_all_open {
            if !index.contains_key(id) {
                return Err(BuildError(format!(
                    "last-resort target {id} is not a target"
                )));
            }
        }
        let b = self.policy.budget;
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&b.ttl) {
            return Err(BuildError(format!(
                "retry budget ttl {:?} is outside 1..=60 s",
                b.ttl
            )));
        }
        if !(0.0..=1000.0).contains(&b.ratio) || b.min_per_second >= i32::MAX as u32 {
            return Err(BuildError(format!(
                "retry budget ratio {} is outside 0..=1000",
                b.ratio
            )));
        }
        if self.policy.max_attempts == 0 {
            return Err(BuildError("max_attempts must be at least 1".into()));
        }
        // Values that cannot work are refused here, with the field named, rather than
        // failing every call.
        let p = &self.policy;
        for (name, d) in [
            ("policy.attempt_timeout", p.attempt_timeout),
            ("policy.deadline", p.deadline),
            ("policy.first_token_timeout", p.first_token_timeout),
            ("policy.idle_timeout", p.idle_timeout),
            ("breaker.probe_timeout", self.breaker.probe_timeout),
        ] {
            if d.is_zero() {
                return Err(BuildError(format!("{name} is zero: no call could succeed")));
            }
        }
        if self.breaker.backoff.initial.is_zero()
            || self.breaker.backoff.max < self.breaker.backoff.initial
        {
            return Err(BuildError(format!(
                "breaker.backoff: initial {:?} must be above zero and at most max {:?}",
                self.breaker.backoff.initial, self.breaker.backoff.max
            )));
        }
        let knowledge = match self.knowledge {
            Some(k) => k,
            None => {
                let mut k =
                    InMemoryKnowledge::new(self.breaker, self.cooldowns, self.clock.clone());
                if !self.pacing.is_empty() {
                    k = k.with_pacer(Arc::new(GovernorPacer::new(
                        self.pacing,
                        self.clock.clone(),
                    )));
                }
                Arc::new(k)
            }
        };
        Ok(SmartRouter {
            inner: Arc::new(Inner {
                targets: self.targets,
                index,
                routes,
                strategy: self.strategy,
                budget: TpsBudget::new(b.ttl, b.min_per_second, b.ratio),
                policy: self.policy,
                knowledge,
                classifier: self
                    .classifier
                    .unwrap_or_else(|| Arc::new(DefaultClassifier::new())),
                clock: self.clock,
                events: broadcast::channel(1024).0,
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(self.seed)),
                validators: self.validators,
                vouching: self.vouching,
                agreement: Mutex::new(HashMap::new()),
                learned_windows: Mutex::new(HashMap::new()),
                recovering: Mutex::new(HashSet::new()),
            }),
        })
    }
}

struct Inner {
    targets: Vec<Target>,
    index: HashMap<TargetId, usize>,
    routes: HashMap<String, Vec<usize>>,
    strategy: Strategy,
    policy: Policy,
    budget: TpsBudget,
    knowledge: Arc<dyn Knowledge>,
    classifier: Arc<dyn Classifier>,
    clock: SharedClock,
    events: broadcast::Sender<RouterEvent>,
    rng: Mutex<ChaCha8Rng>,
    validators: Vec<Arc<dyn Validator>>,
    vouching: Option<Vouching>,
    agreement: Mutex<HashMap<usize, Agreement>>,
    /// Context windows learned from rejections ("maximum context length is 8192 tokens"),
    /// by target: each target rejects a given size at most once.
    learned_windows: Mutex<HashMap<usize, u64>>,
    /// Targets with a recovery probe loop running.
    recovering: Mutex<HashSet<usize>>,
}

/// How the router vouches for an answer that did not come from its first choice.
#[derive(Clone)]
#[non_exhaustive]
pub struct Vouching {
    /// The checker comparing two answers (`nb_semantic::Strict` for strict domains).
    pub equivalence: Arc<dyn Checker>,
    /// Vouch for every answer, not only failovers.
    pub always: bool,
    /// On disagreement, ask a third target to break the tie.
    pub tiebreak: bool,
    /// How long to wait for a reference target that is briefly out of rotation (a short
    /// cool-down) before refusing the answer.
    pub wait: Duration,
    /// Stop failing over to a target whose measured agreement with the first choice
    /// (from canaries and shadow samples) falls below this (0 disables).
    pub min_agreement: f64,
    /// Samples needed before agreement is acted on.
    pub min_samples: usize,
    /// Fraction of calls served by the first choice that are also sent, in the
    /// background, to the next candidate to measure its agreement (0 disables).
    pub shadow_rate: f64,
}

impl Vouching {
    /// Sets `always`.
    pub fn with_always(mut self, always: bool) -> Self {
        self.always = always;
        self
    }

    /// Sets `tiebreak`.
    pub fn with_tiebreak(mut self, tiebreak: bool) -> Self {
        self.tiebreak = tiebreak;
        self
    }

    /// Sets `wait`.
    pub fn with_wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Sets `min_agreement`.
    pub fn with_min_agreement(mut self, min_agreement: f64) -> Self {
        self.min_agreement = min_agreement;
        self
    }

    /// Sets `min_samples`.
    pub fn with_min_samples(mut self, min_samples: usize) -> Self {
        self.min_samples = min_samples;
        self
    }

    /// Sets `shadow_rate`.
    pub fn with_shadow_rate(mut self, shadow_rate: f64) -> Self {
        self.shadow_rate = shadow_rate;
        self
    }
}

impl std::fmt::Debug for Vouching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vouching")
            .field("always", &self.always)
            .field("tiebreak", &self.tiebreak)
            .field("wait", &self.wait)
            .field("min_agreement", &self.min_agreement)
            .field("min_samples", &self.min_samples)
            .field("shadow_rate", &self.shadow_rate)
            .finish_non_exhaustive()
    }
}

impl Vouching {
    /// Consensus with `equivalence` on failover answers, with a tie-break.
    pub fn consensus(equivalence: impl Checker + 'static) -> Self {
        Self {
            equivalence: Arc::new(equivalence),
            always: false,
            tiebreak: true,
            wait: Duration::from_secs(1),
            min_agreement: 0.8,
            min_samples: 10,
            shadow_rate: 0.0,
        }
    }
}

/// Known prompts with the answers the first choice gives (or the truth), sent
/// periodically to the other targets to measure how often they agree.
#[derive(Debug, Clone)]
pub struct Canaries {
    /// `(prompt, reference answer)` pairs.
    pub prompts: Vec<(String, String)>,
    /// How often each target is asked one canary.
    pub every: Duration,
}

/// The last answers' agreement of one target with the reference.
#[derive(Debug, Clone, Default)]
struct Agreement {
    recent: VecDeque<bool>,
}

impl Agreement {
    const WINDOW: usize = 50;

    fn push(&mut self, agreed: bool) {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(agreed);
    }

    fn ratio(&self) -> Option<(f64, usize)> {
        let n = self.recent.len();
        (n > 0).then(|| {
            (
                self.recent.iter().filter(|a| **a).count() as f64 / n as f64,
                n,
            )
        })
    }
}

/// The self-healing router. Cheap to clone (shared state); implements
/// [`Provider`](nb_core::Provider) and `tower::Service<ChatRequest>`.
#[derive(Clone)]
pub struct SmartRouter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SmartRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmartRouter")
            .field("targets", &self.inner.targets)
            .field("strategy", &self.inner.strategy)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// The state of one call across its attempts.
struct Call {
    start: Instant,
    deadline: Instant,
    candidates: Vec<usize>,
    excluded: HashSet<usize>,
    /// Targets whose answers took part in vouching (the answer's own, references): a
    /// reference must come from another one.
    vouch_used: HashSet<usize>,
    retries: HashMap<usize, u32>,
    min_window: Option<u64>,
    attempts: u32,
    first_target: Option<usize>,
    report: CallReport,
    tokens: u32,
    prompt_tokens: u64,
    /// A repair request for a target, to be sent on its next attempt.
    repair: Option<(usize, Arc<ChatRequest>)>,
    repairs: u32,
    validators: Vec<Arc<dyn Validator>>,
}

enum Next {
    Continue(Option<Duration>),
    Stop(Box<RouteError>),
}

/// One attempt's end: target, admission, start, whether it was a hedge, and its result
/// (`None`: cancelled because another attempt won).
type Outcome = (
    usize,
    Option<Admission>,
    Instant,
    bool,
    Option<Result<ChatResponse, CallError>>,
);

type AttemptFuture<'a> = Pin<Box<dyn Future<Output = Result<ChatResponse, CallError>> + Send + 'a>>;

fn estimate_tokens(req: &ChatRequest) -> (u64, u32) {
    let prompt = (req.prompt_chars() as u64).div_ceil(4);
    let total = prompt + u64::from(req.max_tokens.unwrap_or(256));
    (prompt, u32::try_from(total).unwrap_or(u32::MAX))
}

impl SmartRouter {
    /// A builder with the system clock, default policies and the default classifier.
    pub fn builder() -> RouterBuilder {
        RouterBuilder {
            targets: Vec::new(),
            routes: Vec::new(),
            strategy: Strategy::default(),
            policy: Policy::default(),
            breaker: BreakerConfig::default(),
            cooldowns: CooldownPolicy::default(),
            pacing: HashMap::new(),
            classifier: None,
            knowledge: None,
            clock: Arc::new(SystemClock),
            seed: 0,
            validators: Vec::new(),
            vouching: None,
        }
    }

    /// Starts active health checks (opt-in): every `every`, each target that is out of
    /// rotation (breaker not closed, or a scope cooling down) and whose breaker or
    /// cool-down now admits a probe is sent `probe` — a cheap request — so recovery is
    /// seen without spending user traffic. The cadence follows the breaker's backoff:
    /// a target is only probed when its health admits a call. Healthy targets are never
    /// probed. The checks stop when the returned handle is dropped.
    pub fn spawn_health_checks(&self, every: Duration, probe: ChatRequest) -> HealthChecks {
        let router = self.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                for i in 0..router.inner.targets.len() {
                    router.probe_once(i, &probe).await;
                }
            }
        });
        HealthChecks { task }
    }

    async fn probe_once(&self, i: usize, probe: &ChatRequest) {
        let inner = &self.inner;
        let id = &inner.targets[i].id;
        let health = inner.knowledge.health(id);
        let now = inner.clock.now();
        let out_of_rotation = health.breaker != nb_breaker::BreakerState::Closed
            || health.cooling_until.is_some_and(|u| u > now);
        if !out_of_rotation {
            return;
        }
        let Ok(admission) = inner.knowledge.admit(id, 1) else {
            return;
        };
        let t0 = inner.clock.now();
        let provider = inner.targets[i].provider.clone();
        let result = tokio::time::timeout(inner.policy.attempt_timeout, provider.chat(probe)).await;
        let latency = inner.clock.now().saturating_duration_since(t0);
        let observed = match result {
            Ok(Ok(_)) => Observed::Success { budget_reset: None },
            Ok(Err(e)) => {
                let c = self.classify(&e);
                Observed::Failure {
                    class: c.class,
                    scope: c.scope,
                    retry_after: c.retry_after,
                }
            }
            Err(_) => Observed::Failure {
                class: nb_core::FailureClass::Timeout,
                scope: nb_core::Scope::Target,
                retry_after: None,
            },
        };
        tracing::debug!(target = %id, ?observed, "health probe");
        self.observe(i, Some(admission), latency, &observed);
    }

    /// Subscribes to attempts, breaker transitions and cool-downs.
    pub fn subscribe(&self) -> broadcast::Receiver<RouterEvent> {
        self.inner.events.subscribe()
    }

    /// A snapshot of one target's health.
    pub fn health(&self, target: &TargetId) -> TargetHealth {
        self.inner.knowledge.health(target)
    }

    /// The targets, in the order added.
    pub fn targets(&self) -> impl Iterator<Item = &TargetId> {
        self.inner.targets.iter().map(|t| &t.id)
    }

    /// Routes a request on the default route.
    pub async fn chat(&self, req: &ChatRequest) -> Result<Routed<ChatResponse>, RouteError> {
        self.chat_with(req, &CallOptions::default()).await
    }

    /// Routes a request with per-call options.
    pub async fn chat_with(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        use tracing::Instrument as _;
        // The span follows the call's future: it is entered only while the call runs, so
        // other tasks' events are never attributed to it.
        let span = tracing::debug_span!(
            "nb.route",
            route = opts.route.as_deref().unwrap_or("default")
        );
        let start = self.inner.clock.now();
        self.chat_within(req, opts)
            .instrument(span)
            .await
            .map_err(|e| self.with_elapsed(e, start))
    }

    /// Sets how long a failed call took, when the failure path did not.
    fn with_elapsed(&self, mut e: RouteError, start: Instant) -> RouteError {
        if e.report.elapsed.is_zero() {
            e.report.elapsed = self.inner.clock.now().saturating_duration_since(start);
        }
        e
    }

    async fn chat_within(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        let mut call = self.plan(req, opts)?;
        self.inner.budget.deposit();
        let mut wait = None;
        loop {
            if let Some(w) = wait.take() {
                self.sleep_within(&call, w).await;
            }
            let (i, admission) = self.next_target(&mut call).await?;
            call.attempts += 1;
            // A repair re-asks the same target with the violation explained.
            let repaired = call.repair.take().filter(|(t, _)| *t == i).map(|(_, r)| r);
            let role = if repaired.is_some() {
                AttemptRole::Repair
            } else {
                AttemptRole::Answer
            };
            let req_i: &ChatRequest = repaired.as_deref().unwrap_or(req);
            let started = self.inner.clock.now();
            let primary = self.attempt(i, req_i, &call);
            let hedge_plan = self
                .inner
                .policy
                .hedging
                .filter(|_| repaired.is_none())
                .map(|h| {
                    let p95 = self
                        .inner
                        .knowledge
                        .health(&self.inner.targets[i].id)
                        .p95_latency;
                    h.fixed_delay
                        .unwrap_or_else(|| p95.map_or(h.min_delay, |p| p.max(h.min_delay)))
                });
            let outcome = match hedge_plan {
                None => vec![(i, admission, started, false, Some(primary.await))],
                Some(delay) => {
                    self.race(i, admission, started, primary, delay, req_i, &mut call)
                        .await
                }
            };
            let mut next = None;
            for (idx, adm, t0, hedge, result) in outcome {
                let role = if hedge { AttemptRole::Hedge } else { role };
                let latency = self.inner.clock.now().saturating_duration_since(t0);
                let started_after = t0.saturating_duration_since(call.start);
                // An answer a validator rejects is a failure like any other.
                let result = result.map(|r| r.and_then(|resp| self.validate(&call, resp)));
                match result {
                    None => {
                        self.observe(idx, adm, latency, &Observed::Cancelled);
                        self.push_attempt(
                            &mut call,
                            idx,
                            started_after,
                            latency,
                            AttemptOutcome::Cancelled,
                            false,
                            role,
                        );
                    }
                    Some(Ok(resp)) => {
                        let budget_reset = resp
                            .headers
                            .as_ref()
                            .and_then(|h| hint_from_headers(h, std::time::SystemTime::now()));
                        let probe = adm.as_ref().is_some_and(Admission::is_probe);
                        self.observe(idx, adm, latency, &Observed::Success { budget_reset });
                        self.push_attempt(
                            &mut call,
                            idx,
                            started_after,
                            latency,
                            AttemptOutcome::Success,
                            probe,
                            role,
                        );
                        next = Some(Ok((idx, resp)));
                    }
                    Some(Err(e)) => {
                        let probe = adm.as_ref().is_some_and(Admission::is_probe);
                        let c = self.classify(&e);
                        self.observe(
                            idx,
                            adm,
                            latency,
                            &Observed::Failure {
                                class: c.class,
                                scope: c.scope,
                                retry_after: c.retry_after,
                            },
                        );
                        match self.absorb(
                            &mut call,
                            idx,
                            started_after,
                            latency,
                            probe,
                            role,
                            &c,
                            &e,
                            req_i,
                        ) {
                            Next::Continue(w) => wait = wait.max(w),
                            Next::Stop(err) if next.is_none() => next = Some(Err(*err)),
                            Next::Stop(_) => {}
                        }
                    }
                }
            }
            match next {
                Some(Ok((idx, resp))) => {
                    let vouch_needed = self.inner.vouching.as_ref().is_some_and(|v| {
                        v.always
                            || call.first_target.is_some_and(|f| f != idx)
                            || call.candidates.first() != Some(&idx)
                    });
                    if !vouch_needed {
                        if call.candidates.first() == Some(&idx) {
                            self.shadow(&call, idx, req, &resp);
                        }
                        return Ok(self.finish(call, idx, resp));
                    }
                    return match self.vouch(&mut call, idx, resp, req).await {
                        Ok((winner, resp)) => Ok(self.finish(call, winner, resp)),
                        Err(e) => Err(self.fail(call, e)),
                    };
                }
                Some(Err(e)) => return Err(self.fail(call, e)),
                None => {}
            }
        }
    }

    /// Routes a request for a typed answer: the JSON Schema of `T` (derived with
    /// `schemars`) is sent in each provider's native structured-output form, every answer
    /// is validated against it and must deserialize into `T` — a violation is repaired
    /// on the same target, then failed over, like any other failure.
    pub async fn chat_typed<T>(&self, req: &ChatRequest) -> Result<Routed<T>, RouteError>
    where
        T: serde::de::DeserializeOwned + schemars::JsonSchema + Send + 'static,
    {
        self.chat_typed_with(req, &CallOptions::default()).await
    }

    /// [`chat_typed`](Self::chat_typed) with per-call options.
    pub async fn chat_typed_with<T>(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<T>, RouteError>
    where
        T: serde::de::DeserializeOwned + schemars::JsonSchema + Send + 'static,
    {
        let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
        let name = T::schema_name();
        let mut typed = req.clone();
        typed.response_format = nb_core::ResponseFormat::JsonSchema(nb_core::JsonSchemaFormat {
            name: name.to_string(),
            schema: schema.clone(),
            strict: false,
        });
        let mut opts = opts.clone();
        if let Ok(compiled) = nb_guard::JsonSchema::new(&schema) {
            opts.validators.push(Arc::new(compiled));
        }
        opts.validators.push(Arc::new(|r: &ChatResponse| {
            parse_typed::<T>(&r.text).map(|_| ())
        }));
        let routed = self.chat_with(&typed, &opts).await?;
        match parse_typed::<T>(&routed.value.text) {
            Ok(value) => Ok(Routed {
                value,
                report: routed.report,
            }),
            // The validator above accepted this very text; this arm is unreachable in
            // practice and reported as a rejection rather than a panic.
            Err(v) => {
                let mut report = routed.report;
                report.last_error = Some(CallError::rejected(v, routed.value));
                Err(RouteError::new(RouteErrorKind::Exhausted, report))
            }
        }
    }

    fn validate(&self, call: &Call, resp: ChatResponse) -> Result<ChatResponse, CallError> {
        match nb_guard::check(&self.inner.validators, &resp)
            .and_then(|()| nb_guard::check(&call.validators, &resp))
        {
            Ok(()) => Ok(resp),
            Err(v) => Err(CallError::rejected(v, resp)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_attempt(
        &self,
        call: &mut Call,
        i: usize,
        started_after: Duration,
        latency: Duration,
        outcome: AttemptOutcome,
        probe: bool,
        role: AttemptRole,
    ) {
        let a = AttemptReport {
            target: self.inner.targets[i].id.clone(),
            started_after,
            latency,
            outcome,
            probe,
            role,
        };
        self.emit(RouterEvent::Attempt(a.clone()));
        call.report.attempts.push(a);
    }

    /// Vouches for an answer that did not come from the first choice: asks an
    /// independent target the same question and requires the two answers to be
    /// equivalent; on disagreement, a third breaks the tie when allowed. An answer that
    /// cannot be vouched for is an error carrying the answers and the verdict.
    async fn vouch(
        &self,
        call: &mut Call,
        idx: usize,
        resp: ChatResponse,
        req: &ChatRequest,
    ) -> Result<(usize, ChatResponse), RouteError> {
        let Some(v) = self.inner.vouching.clone() else {
            return Ok((idx, resp));
        };
        let question = nb_semantic::Question::of(req);
        call.report
            .evidence
            .push((self.inner.targets[idx].id.clone(), resp.text.clone()));
        call.excluded.insert(idx);
        call.vouch_used.insert(idx);
        let Some((j, reference)) = self.reference_answer(call, req).await else {
            return Err(self.unvouched(
                call,
                resp,
                "no independent target could be asked to vouch for the answer",
            ));
        };
        // Tool calls and typed answers compare as data; text goes to the checker.
        let checker = v.equivalence.as_ref();
        let verdict = nb_semantic::check_answers(checker, &question, &reference, &resp).await;
        call.report.verdict = Some(VerdictReport::new(&verdict, &self.inner.targets[j].id));
        if verdict.outcome == Equiv::Equivalent {
            return Ok((idx, resp));
        }
        if v.tiebreak {
            if let Some((k, third)) = self.reference_answer(call, req).await {
                let with_first =
                    nb_semantic::check_answers(checker, &question, &third, &resp).await;
                let with_second =
                    nb_semantic::check_answers(checker, &question, &third, &reference).await;
                if with_first.outcome == Equiv::Equivalent {
                    call.report.verdict =
                        Some(VerdictReport::new(&with_first, &self.inner.targets[k].id));
                    return Ok((idx, resp));
                }
                if with_second.outcome == Equiv::Equivalent {
                    call.report.verdict =
                        Some(VerdictReport::new(&with_second, &self.inner.targets[k].id));
                    return Ok((j, reference));
                }
            }
        }
        let reason = format!(
            "the answer could not be vouched for: {} ({})",
            verdict.reason, verdict.method
        );
        Err(self.unvouched(call, resp, &reason))
    }

    /// Asks the next admitted, not yet used candidate the same question, for an answer
    /// that passes the validators.
    async fn reference_answer(
        &self,
        call: &mut Call,
        req: &ChatRequest,
    ) -> Option<(usize, ChatResponse)> {
        loop {
            // Vouching is a deliberate cost of requiring equivalence, not a retry storm: it
            // is not drawn from the retry budget, and may go two calls (a reference and a
            // tie-break) past the attempt limit, so retries spent on the way to an answer
            // do not leave it unvouchable. A reference target out of rotation is waited
            // for only briefly (`wait`).
            if call.attempts >= self.inner.policy.max_attempts + 2 {
                return None;
            }
            let wait = self
                .inner
                .vouching
                .as_ref()
                .map_or(Duration::ZERO, |v| v.wait);
            let mut earliest: Option<Instant> = None;
            let mut picked = None;
            // Independence means another target than those whose answers are compared —
            // not one that never failed in this call: a primary that failed on a
            // transient error can vouch, if health admits it.
            let reference_ok = |j: usize| {
                !call.vouch_used.contains(&j)
                    && (call.candidates.first() == Some(&j) || !self.distrusted(j))
                    && call
                        .min_window
                        .is_none_or(|w| self.window(j).is_none_or(|tw| tw > w))
            };
            for &j in call.candidates.iter().filter(|&&j| reference_ok(j)) {
                match self
                    .inner
                    .knowledge
                    .admit(&self.inner.targets[j].id, call.tokens)
                {
                    Ok(a) => {
                        picked = Some((j, Some(a)));
                        break;
                    }
                    Err(r) => earliest = Some(earliest.map_or(r.until(), |e| e.min(r.until()))),
                }
            }
            let (j, adm) = match (picked, earliest) {
                (Some(p), _) => p,
                (None, Some(e)) => {
                    let now = self.inner.clock.now();
                    if e < call.deadline && e.saturating_duration_since(now) <= wait {
                        tokio::time::sleep(
                            e.saturating_duration_since(now)
                                .max(Duration::from_millis(1)),
                        )
                        .await;
                        continue;
                    }
                    return None;
                }
                (None, None) => return None,
            };
            call.attempts += 1;
            call.excluded.insert(j);
            call.vouch_used.insert(j);
            let t0 = self.inner.clock.now();
            let result = self
                .attempt(j, req, call)
                .await
                .and_then(|r| self.validate(call, r));
            let latency = self.inner.clock.now().saturating_duration_since(t0);
            let started_after = t0.saturating_duration_since(call.start);
            let probe = adm.as_ref().is_some_and(Admission::is_probe);
            match result {
                Ok(r) => {
                    self.observe(j, adm, latency, &Observed::Success { budget_reset: None });
                    self.push_attempt(
                        call,
                        j,
                        started_after,
                        latency,
                        AttemptOutcome::Success,
                        probe,
                        AttemptRole::Vouch,
                    );
                    call.report
                        .evidence
                        .push((self.inner.targets[j].id.clone(), r.text.clone()));
                    return Some((j, r));
                }
                Err(e) => {
                    let c = self.classify(&e);
                    self.observe(
                        j,
                        adm,
                        latency,
                        &Observed::Failure {
                            class: c.class,
                            scope: c.scope,
                            retry_after: c.retry_after,
                        },
                    );
                    call.report.failed(
                        self.inner.targets[j].id.clone(),
                        started_after,
                        latency,
                        probe,
                        AttemptRole::Vouch,
                        &c,
                        Disposition::FailOver,
                        &e,
                    );
                }
            }
        }
    }

    fn unvouched(&self, call: &mut Call, resp: ChatResponse, reason: &str) -> RouteError {
        let violation = nb_core::Violation::new(nb_core::ViolationKind::NotEquivalent, "", reason);
        let e = CallError::rejected(violation, resp);
        if call.report.first_error.is_none() {
            call.report.first_error = Some(e.clone());
        }
        call.report.last_error = Some(e);
        RouteError::new(RouteErrorKind::Unvouched, std::mem::take(&mut call.report))
    }

    fn plan(&self, req: &ChatRequest, opts: &CallOptions) -> Result<Call, RouteError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        // `Duration::MAX` (or any span past what the clock can hold) means no deadline.
        let span = opts
            .deadline
            .unwrap_or(inner.policy.deadline)
            .min(inner.policy.deadline);
        let deadline = now
            .checked_add(span)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
            .unwrap_or(now);
        let mut report = CallReport::default();
        let base: Vec<usize> = match &opts.route {
            None => (0..inner.targets.len()).collect(),
            Some(name) => match inner.routes.get(name) {
                Some(r) => r.clone(),
                None => {
                    report.skipped.push((
                        TargetId::new("router", name),
                        format!("unknown route {name:?}"),
                    ));
                    return Err(RouteError::new(RouteErrorKind::NoRoute, report));
                }
            },
        };
        let (prompt_tokens, tokens) = estimate_tokens(req);
        let media = req.media_kinds();
        let mut candidates = Vec::new();
        for i in base {
            let t = &inner.targets[i];
            if !opts.require_tags.iter().all(|tag| t.tags.contains(tag)) {
                continue;
            }
            // A target that cannot take a part is never sent a request it must reject.
            if let Some(kind) = media.iter().find(|k| t.refuses.contains(k)) {
                report
                    .skipped
                    .push((t.id.clone(), format!("cannot take {kind} parts")));
                continue;
            }
            if let Some(w) = self.window(i).filter(|w| prompt_tokens > *w) {
                report.skipped.push((
                    t.id.clone(),
                    format!("prompt of ~{prompt_tokens} tokens exceeds its context window of {w}"),
                ));
                continue;
            }
            candidates.push(i);
        }
        self.order(&mut candidates);
        if candidates.is_empty() {
            return Err(RouteError::new(RouteErrorKind::NoRoute, report));
        }
        Ok(Call {
            start: now,
            deadline,
            candidates,
            excluded: HashSet::new(),
            vouch_used: HashSet::new(),
            retries: HashMap::new(),
            min_window: None,
            attempts: 0,
            first_target: None,
            report,
            tokens,
            prompt_tokens,
            repair: None,
            repairs: 0,
            validators: opts.validators.clone(),
        })
    }

    fn order(&self, c: &mut Vec<usize>) {
        let inner = &self.inner;
        match inner.strategy {
            Strategy::Priority => {}
            Strategy::Weighted => {
                let mut rng = inner
                    .rng
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut pool: Vec<usize> = std::mem::take(c);
                while !pool.is_empty() {
                    let total: u64 = pool
                        .iter()
                        .map(|&i| u64::from(inner.targets[i].weight.max(1)))
                        .sum();
                    let mut pick = rng.random_range(0..total);
                    let pos = pool
                        .iter()
                        .position(|&i| {
                            let w = u64::from(inner.targets[i].weight.max(1));
                            if pick < w {
                                true
                            } else {
                                pick -= w;
                                false
                            }
                        })
                        .unwrap_or(0);
                    c.push(pool.remove(pos));
                }
            }
            Strategy::LowestLatency => {
                c.sort_by_key(|&i| {
                    inner
                        .knowledge
                        .health(&inner.targets[i].id)
                        .ewma_latency
                        .unwrap_or(Duration::ZERO)
                });
            }
            Strategy::Cheapest => {
                c.sort_by(|&a, &b| {
                    let cost = |i: usize| {
                        inner.targets[i]
                            .cost
                            .map_or(f64::INFINITY, |c| c.input_per_mtok + c.output_per_mtok)
                    };
                    cost(a).total_cmp(&cost(b))
                });
            }
        }
    }

    /// A target's measured agreement with the first choice, `(ratio, samples)`.
    pub fn agreement(&self, target: &TargetId) -> Option<(f64, usize)> {
        let i = *self.inner.index.get(target)?;
        self.inner
            .agreement
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&i)
            .and_then(Agreement::ratio)
    }

    fn record_agreement(&self, i: usize, agreed: bool) {
        let mut a = self
            .inner
            .agreement
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        a.entry(i).or_default().push(agreed);
    }

    /// Whether a target is known to disagree too often to be failed over to.
    fn distrusted(&self, i: usize) -> bool {
        let Some(v) = &self.inner.vouching else {
            return false;
        };
        if v.min_agreement <= 0.0 {
            return false;
        }
        let a = self
            .inner
            .agreement
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        a.get(&i)
            .and_then(Agreement::ratio)
            .is_some_and(|(r, n)| n >= v.min_samples && r < v.min_agreement)
    }

    /// Starts canary checks: every `every`, each target but the first is asked one
    /// canary prompt; its answer is compared with the reference by the vouching checker
    /// (or `Strict` without one) and counted toward its agreement. With vouching
    /// enabled, a target whose agreement falls below `min_agreement` is no longer
    /// failed over to. The checks stop when the returned handle is dropped.
    pub fn spawn_canaries(&self, canaries: Canaries) -> HealthChecks {
        let router = self.clone();
        let task = tokio::spawn(async move {
            if canaries.prompts.is_empty() {
                return;
            }
            let mut tick = tokio::time::interval(canaries.every.max(Duration::from_millis(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut round = 0usize;
            loop {
                tick.tick().await;
                let (prompt, reference) = &canaries.prompts[round % canaries.prompts.len()];
                round += 1;
                for i in 1..router.inner.targets.len() {
                    router.canary_once(i, prompt, reference).await;
                }
            }
        });
        HealthChecks { task }
    }

    async fn canary_once(&self, i: usize, prompt: &str, reference: &str) {
        let inner = &self.inner;
        let Ok(admission) = inner.knowledge.admit(&inner.targets[i].id, 1) else {
            return;
        };
        let t0 = inner.clock.now();
        let provider = inner.targets[i].provider.clone();
        let result = tokio::time::timeout(
            inner.policy.attempt_timeout,
            provider.chat(&ChatRequest::user(prompt)),
        )
        .await;
        let latency = inner.clock.now().saturating_duration_since(t0);
        match result {
            Ok(Ok(resp)) => {
                self.observe(
                    i,
                    Some(admission),
                    latency,
                    &Observed::Success { budget_reset: None },
                );
                let verdict = match &inner.vouching {
                    Some(v) => v.equivalence.check(prompt, reference, &resp.text).await,
                    None => nb_semantic::Strict.compare(prompt, reference, &resp.text),
                };
                if verdict.is_decided() {
                    self.record_agreement(i, verdict.outcome == Equiv::Equivalent);
                }
            }
            Ok(Err(e)) => {
                let c = self.classify(&e);
                self.observe(
                    i,
                    Some(admission),
                    latency,
                    &Observed::Failure {
                        class: c.class,
                        scope: c.scope,
                        retry_after: c.retry_after,
                    },
                );
            }
            Err(_) => self.observe(
                i,
                Some(admission),
                latency,
                &Observed::Failure {
                    class: nb_core::FailureClass::Timeout,
                    scope: nb_core::Scope::Target,
                    retry_after: None,
                },
            ),
        }
    }

    /// Shadow sampling: asks the next candidate the same question in the background and
    /// records whether it agrees with the first choice's answer.
    fn shadow(&self, call: &Call, served: usize, req: &ChatRequest, answer: &ChatResponse) {
        let Some(v) = &self.inner.vouching else {
            return;
        };
        if v.shadow_rate <= 0.0 {
            return;
        }
        let sample = {
            let mut rng = self
                .inner
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            rng.random::<f64>() < v.shadow_rate
        };
        let Some(&j) = call.candidates.iter().find(|&&j| j != served) else {
            return;
        };
        if !sample {
            return;
        }
        let router = self.clone();
        let req = req.clone();
        let reference = answer.text.clone();
        tokio::spawn(async move {
            let prompt = req
                .messages
                .iter()
                .rev()
                .find(|m| m.role == nb_core::Role::User)
                .map(nb_core::Message::text)
                .unwrap_or_default();
            router.canary_once(j, &prompt, &reference).await;
        });
    }

    /// A target's context window: declared, or learned from a rejection.
    fn window(&self, i: usize) -> Option<u64> {
        let learned = self
            .inner
            .learned_windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&i)
            .copied();
        match (self.inner.targets[i].context_window, learned) {
            (Some(d), Some(l)) => Some(d.min(l)),
            (d, l) => d.or(l),
        }
    }

    fn eligible(&self, call: &Call, i: usize) -> bool {
        !call.excluded.contains(&i)
            && (call.candidates.first() == Some(&i) || !self.distrusted(i))
            // After a context rejection, only a target whose window is larger — or not
            // known: a target that declares none may well be larger — is tried.
            && call
                .min_window
                .is_none_or(|w| self.window(i).is_none_or(|tw| tw > w))
    }

    /// The first eligible candidate that health admits; waits or fails per policy when
    /// none does.
    async fn next_target(&self, call: &mut Call) -> Result<(usize, Option<Admission>), RouteError> {
        let inner = &self.inner;
        loop {
            if call.attempts >= inner.policy.max_attempts {
                return Err(RouteError::new(
                    RouteErrorKind::Exhausted,
                    std::mem::take(&mut call.report),
                ));
            }
            let now = inner.clock.now();
            if now >= call.deadline {
                return Err(RouteError::new(
                    RouteErrorKind::DeadlineExceeded,
                    std::mem::take(&mut call.report),
                ));
            }
            let mut earliest: Option<Instant> = None;
            let mut any = false;
            for &i in &call.candidates {
                if !self.eligible(call, i) {
                    continue;
                }
                any = true;
                match inner.knowledge.admit(&inner.targets[i].id, call.tokens) {
                    Ok(a) => return Ok((i, Some(a))),
                    Err(r) => {
                        tracing::trace!(target = %inner.targets[i].id, refusal = ?r, "not admitted");
                        let id = &inner.targets[i].id;
                        if !call.report.skipped.iter().any(|(t, _)| t == id) {
                            let left = r.until().saturating_duration_since(now);
                            let why = match &r {
                                nb_breaker::Refusal::BreakerOpen { .. } => {
                                    format!("breaker open for {left:?}")
                                }
                                nb_breaker::Refusal::CoolingDown { key, .. } => {
                                    format!("cooling down ({key:?}) for {left:?}")
                                }
                                nb_breaker::Refusal::Paced { .. } => format!("paced for {left:?}"),
                            };
                            call.report.skipped.push((id.clone(), why));
                        }
                        earliest = Some(earliest.map_or(r.until(), |e| e.min(r.until())));
                    }
                }
            }
            if !any {
                let kind = if call.report.attempts.is_empty() {
                    RouteErrorKind::NoRoute
                } else {
                    RouteErrorKind::Exhausted
                };
                return Err(RouteError::new(kind, std::mem::take(&mut call.report)));
            }
            let earliest = earliest.unwrap_or(now);
            match &inner.policy.when_all_open {
                WhenAllOpen::WaitForEarliest if earliest < call.deadline => {
                    tokio::time::sleep(
                        earliest
                            .saturating_duration_since(now)
                            .max(Duration::from_millis(1)),
                    )
                    .await;
                }
                WhenAllOpen::LastResort(id) => {
                    match inner.index.get(id) {
                        // Health is bypassed for the last resort: no admission, no record.
                        Some(&i) if !call.excluded.contains(&i) => {
                            call.excluded.insert(i);
                            call.report.skipped.push((
                                id.clone(),
                                "every candidate out of rotation: last resort used".into(),
                            ));
                            return Ok((i, None));
                        }
                        _ => return Err(self.no_candidate(call, earliest, now)),
                    }
                }
                _ => return Err(self.no_candidate(call, earliest, now)),
            }
        }
    }

    fn no_candidate(&self, call: &mut Call, earliest: Instant, now: Instant) -> RouteError {
        let mut e = RouteError::new(
            RouteErrorKind::NoCandidate,
            std::mem::take(&mut call.report),
        );
        e.retry_after = Some(earliest.saturating_duration_since(now));
        e
    }

    fn attempt<'a>(&'a self, i: usize, req: &'a ChatRequest, call: &Call) -> AttemptFuture<'a> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let until_deadline = call.deadline.saturating_duration_since(now);
        // When less than two full attempts' time is left and another candidate could
        // still answer, this attempt gets half of it: a hang on the first choice leaves
        // room to fail over inside a short deadline (an outer `tower::timeout`, say)
        // instead of spending all of it waiting.
        let another = call.attempts < inner.policy.max_attempts
            && call
                .candidates
                .iter()
                .any(|&j| j != i && !call.excluded.contains(&j));
        let share = if another && until_deadline < inner.policy.attempt_timeout * 2 {
            until_deadline / 2
        } else {
            until_deadline
        };
        let limit = inner.policy.attempt_timeout.min(share);
        let phase = if limit == until_deadline && limit < inner.policy.attempt_timeout {
            TimeoutPhase::Total
        } else {
            TimeoutPhase::FirstByte
        };
        let provider = inner.targets[i].provider.clone();
        Box::pin(async move {
            match tokio::time::timeout(limit, provider.chat(req)).await {
                Ok(r) => r,
                Err(_) => Err(CallError::timeout(phase)),
            }
        })
    }

    /// Runs `primary`; if it is still running after `delay`, starts a hedge on the next
    /// admitted candidate and takes the first answer. The loser is dropped (cancelled).
    #[allow(clippy::too_many_arguments)]
    async fn race<'a>(
        &'a self,
        i: usize,
        admission: Option<Admission>,
        started: Instant,
        mut primary: AttemptFuture<'a>,
        delay: Duration,
        req: &'a ChatRequest,
        call: &mut Call,
    ) -> Vec<Outcome> {
        let sleep = Box::pin(tokio::time::sleep(delay));
        if let Either::Left((r, _)) = select(primary.as_mut(), sleep).await {
            return vec![(i, admission, started, false, Some(r))];
        }
        call.excluded.insert(i);
        let hedge = self.hedge_target(call).filter(|_| {
            call.attempts < self.inner.policy.max_attempts && self.inner.budget.withdraw()
        });
        call.excluded.remove(&i);
        let Some((j, adm_j)) = hedge else {
            let r = primary.await;
            return vec![(i, admission, started, false, Some(r))];
        };
        call.attempts += 1;
        let adm_j = Some(adm_j);
        let t_j = self.inner.clock.now();
        let mut hedged = self.attempt(j, req, call);
        match select(primary, hedged.as_mut()).await {
            Either::Left((r, hedge_fut)) => match r {
                Ok(_) => vec![
                    (i, admission, started, false, Some(r)),
                    (j, adm_j, t_j, true, None),
                ],
                Err(_) => {
                    let rj = hedge_fut.await;
                    vec![
                        (i, admission, started, false, Some(r)),
                        (j, adm_j, t_j, true, Some(rj)),
                    ]
                }
            },
            Either::Right((rj, primary_fut)) => match rj {
                Ok(_) => vec![
                    (j, adm_j, t_j, true, Some(rj)),
                    (i, admission, started, false, None),
                ],
                Err(_) => {
                    let ri = primary_fut.await;
                    vec![
                        (j, adm_j, t_j, true, Some(rj)),
                        (i, admission, started, false, Some(ri)),
                    ]
                }
            },
        }
    }

    fn hedge_target(&self, call: &Call) -> Option<(usize, Admission)> {
        call.candidates
            .iter()
            .filter(|&&j| self.eligible(call, j))
            .find_map(|&j| {
                self.inner
                    .knowledge
                    .admit(&self.inner.targets[j].id, call.tokens)
                    .ok()
                    .map(|a| (j, a))
            })
    }

    fn classify(&self, e: &CallError) -> Classification {
        nb_classify::classify_with(self.inner.classifier.as_ref(), Failure::Call(e))
    }

    fn observe(&self, i: usize, adm: Option<Admission>, latency: Duration, o: &Observed) {
        let Some(adm) = adm else { return };
        for ev in self
            .inner
            .knowledge
            .record(&self.inner.targets[i].id, adm, latency, o)
        {
            if let HealthEvent::Breaker { target, transition } = &ev {
                tracing::info!(%target, from = %transition.from, to = %transition.to, cause = %transition.cause, "breaker transition");
                if transition.to == nb_breaker::BreakerState::Open {
                    self.spawn_recovery(i);
                }
            }
            self.emit(RouterEvent::Health(ev));
        }
    }

    /// While target `i`'s breaker is open, probes it in the background on a short
    /// jittered interval with a minimal real call; a passing probe closes the breaker.
    /// One loop per target; it ends when the breaker closes or the router is dropped.
    fn spawn_recovery(&self, i: usize) {
        let Some(every) = self.inner.policy.recovery_probe else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if !self
            .inner
            .recovering
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(i)
        {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let probe = ChatRequest::user("ping").with_max_tokens(1);
            loop {
                let jitter = {
                    let Some(inner) = weak.upgrade() else { return };
                    let mut rng = inner
                        .rng
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    0.8 + 0.4 * rng.random::<f64>()
                };
                tokio::time::sleep(every.mul_f64(jitter)).await;
                let Some(inner) = weak.upgrade() else { return };
                let router = SmartRouter { inner };
                let id = router.inner.targets[i].id.clone();
                if router.inner.knowledge.health(&id).breaker == nb_breaker::BreakerState::Closed {
                    break;
                }
                let Ok(adm) = router.inner.knowledge.admit_recovery_probe(&id) else {
                    continue;
                };
                let t0 = router.inner.clock.now();
                let provider = router.inner.targets[i].provider.clone();
                let limit = router.inner.policy.attempt_timeout.min(every * 8);
                let result = tokio::time::timeout(limit, provider.chat(&probe)).await;
                let latency = router.inner.clock.now().saturating_duration_since(t0);
                let passed = matches!(result, Ok(Ok(_)));
                let observed = match result {
                    Ok(Ok(_)) => Observed::Success { budget_reset: None },
                    Ok(Err(e)) => {
                        let c = router.classify(&e);
                        Observed::Failure {
                            class: c.class,
                            scope: c.scope,
                            retry_after: c.retry_after,
                        }
                    }
                    Err(_) => Observed::Failure {
                        class: nb_core::FailureClass::Timeout,
                        scope: nb_core::Scope::Target,
                        retry_after: None,
                    },
                };
                tracing::debug!(target = %id, passed, ?latency, "recovery probe");
                router.emit(RouterEvent::RecoveryProbe {
                    target: id,
                    passed,
                    latency,
                });
                // Recording a failure here re-opens the breaker: the loop goes on.
                router.observe_quiet(i, adm, latency, &observed);
                if passed {
                    break;
                }
            }
            if let Some(inner) = weak.upgrade() {
                inner
                    .recovering
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&i);
            }
        });
    }

    /// Records a recovery probe's outcome without starting another recovery loop.
    fn observe_quiet(&self, i: usize, adm: Admission, latency: Duration, o: &Observed) {
        for ev in self
            .inner
            .knowledge
            .record(&self.inner.targets[i].id, adm, latency, o)
        {
            if let HealthEvent::Breaker { target, transition } = &ev {
                tracing::info!(%target, from = %transition.from, to = %transition.to, cause = %transition.cause, "breaker transition");
            }
            self.emit(RouterEvent::Health(ev));
        }
    }

    fn emit(&self, e: RouterEvent) {
        // No subscriber is not an error.
        let _ = self.inner.events.send(e);
    }

    /// Decides what a failure means for this call.
    #[allow(clippy::too_many_arguments)]
    fn absorb(
        &self,
        call: &mut Call,
        i: usize,
        started_after: Duration,
        latency: Duration,
        probe: bool,
        role: AttemptRole,
        c: &Classification,
        e: &CallError,
        req: &ChatRequest,
    ) -> Next {
        let inner = &self.inner;
        let target = inner.targets[i].id.clone();
        call.first_target.get_or_insert(i);
        let retries = call.retries.get(&i).copied().unwrap_or(0);
        let mut disposition = c.disposition;
        // A repair needs the rejected answer and a round left; otherwise fail over.
        let repair = match (disposition, e) {
            (Disposition::Repair, CallError::Rejected(r))
                if call.repairs < inner.policy.max_repairs =>
            {
                Some(nb_guard::repair_request(req, &r.response, &r.violation))
            }
            _ => None,
        };
        if disposition == Disposition::Repair && repair.is_none() {
            disposition = Disposition::FailOver;
        }
        if disposition == Disposition::RetryHere && retries >= inner.policy.max_retries_per_target {
            disposition = Disposition::FailOver;
        }
        tracing::debug!(%target, class = %c.class, %disposition, reason = %c.reason, "attempt failed");
        call.report.failed(
            target,
            started_after,
            latency,
            probe,
            role,
            c,
            disposition,
            e,
        );
        if let Some(a) = call.report.attempts.last() {
            self.emit(RouterEvent::Attempt(a.clone()));
        }
        let stop = |kind, call: &mut Call| {
            Next::Stop(Box::new(RouteError::new(
                kind,
                std::mem::take(&mut call.report),
            )))
        };
        match disposition {
            Disposition::Abort => stop(RouteErrorKind::Aborted, call),
            _ if !inner.budget.withdraw() => stop(RouteErrorKind::BudgetExhausted, call),
            Disposition::Repair => {
                call.repairs += 1;
                call.report.repairs = call.repairs;
                call.repair = repair.map(|r| (i, Arc::new(r)));
                Next::Continue(None)
            }
            Disposition::RetryHere => {
                call.retries.insert(i, retries + 1);
                let wait = c.retry_after.unwrap_or_else(|| {
                    let cap = inner.policy.backoff_max.min(
                        inner
                            .policy
                            .backoff_base
                            .saturating_mul(1 << retries.min(16)),
                    );
                    let mut rng = inner
                        .rng
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    cap.mul_f64(rng.random::<f64>())
                });
                Next::Continue(Some(wait))
            }
            Disposition::FailOverLargerContext => {
                call.excluded.insert(i);
                // The rejection says the limit (and often the request's true size):
                // remember the limit for this target, and need more than it.
                let msg = e
                    .provider_error()
                    .and_then(|p| p.message.clone())
                    .unwrap_or_default();
                let (limit, size) = nb_classify::context_sizes(&msg);
                if let Some(l) = limit {
                    let mut learned = inner
                        .learned_windows
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let w = learned.entry(i).or_insert(l);
                    *w = (*w).min(l);
                }
                let needed = limit
                    .or(inner.targets[i].context_window)
                    .unwrap_or(call.prompt_tokens)
                    .max(size.unwrap_or(0).saturating_sub(1));
                call.min_window = Some(call.min_window.map_or(needed, |w| w.max(needed)));
                Next::Continue(None)
            }
            _ => {
                call.excluded.insert(i);
                Next::Continue(None)
            }
        }
    }

    async fn sleep_within(&self, call: &Call, d: Duration) {
        let left = call
            .deadline
            .saturating_duration_since(self.inner.clock.now());
        tokio::time::sleep(d.min(left)).await;
    }

    fn finish(&self, mut call: Call, i: usize, resp: ChatResponse) -> Routed<ChatResponse> {
        let t = &self.inner.targets[i];
        call.report.served_by = Some(t.id.clone());
        // Whenever the answer did not come from the first planned target: a first choice
        // skipped because it was cooling down counts as a failover too.
        call.report.failed_over = call.candidates.first().is_some_and(|&f| f != i);
        call.report.usage = resp.usage;
        call.report.cost = match (t.cost, resp.usage) {
            (Some(c), Some(u)) => Some(c.price(&u)),
            _ => None,
        };
        call.report.elapsed = self.inner.clock.now().saturating_duration_since(call.start);
        Routed {
            value: resp,
            report: call.report,
        }
    }

    fn fail(&self, call: Call, mut e: RouteError) -> RouteError {
        e.report.elapsed = self.inner.clock.now().saturating_duration_since(call.start);
        e
    }

    /// Routes a streamed request. Before the first content delta reaches the caller, a
    /// failure fails over freely (startup events are held back; time to first token is
    /// bounded and keep-alives do not count). After it, a failure is surfaced in the
    /// stream as a [`CallError::MidStream`] with the partial output, never hidden.
    /// Hedging does not apply to streams.
    pub async fn stream(&self, req: &ChatRequest) -> Result<Routed<ChatStream>, RouteError> {
        self.stream_with(req, &CallOptions::default()).await
    }

    /// [`stream`](Self::stream) with per-call options.
    pub async fn stream_with(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<ChatStream>, RouteError> {
        use tracing::Instrument as _;
        let span = tracing::debug_span!(
            "nb.route.stream",
            route = opts.route.as_deref().unwrap_or("default")
        );
        let start = self.inner.clock.now();
        self.stream_within(req, opts)
            .instrument(span)
            .await
            .map_err(|e| self.with_elapsed(e, start))
    }

    async fn stream_within(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<ChatStream>, RouteError> {
        let mut call = self.plan(req, opts)?;
        self.inner.budget.deposit();
        let mut wait = None;
        loop {
            if let Some(w) = wait.take() {
                self.sleep_within(&call, w).await;
            }
            let (i, admission) = self.next_target(&mut call).await?;
            call.attempts += 1;
            let t0 = self.inner.clock.now();
            let started_after = t0.saturating_duration_since(call.start);
            match self.open_stream(i, req, &call).await {
                Ok((held, rest)) => {
                    let latency = self.inner.clock.now().saturating_duration_since(t0);
                    let probe = admission.as_ref().is_some_and(Admission::is_probe);
                    self.observe(
                        i,
                        admission,
                        latency,
                        &Observed::Success { budget_reset: None },
                    );
                    self.push_attempt(
                        &mut call,
                        i,
                        started_after,
                        latency,
                        AttemptOutcome::Success,
                        probe,
                        AttemptRole::Answer,
                    );
                    // The call's deadline holds after the commit too: what is left of it
                    // bounds the rest of the stream.
                    let left = call
                        .deadline
                        .saturating_duration_since(self.inner.clock.now());
                    let committed =
                        committed_stream(held, rest, self.inner.policy.idle_timeout, left);
                    let t = &self.inner.targets[i];
                    call.report.served_by = Some(t.id.clone());
                    // Whenever the answer did not come from the first planned target: a first choice
                    // skipped because it was cooling down counts as a failover too.
                    call.report.failed_over = call.candidates.first().is_some_and(|&f| f != i);
                    call.report.elapsed =
                        self.inner.clock.now().saturating_duration_since(call.start);
                    return Ok(Routed {
                        value: committed,
                        report: call.report,
                    });
                }
                Err(e) => {
                    let latency = self.inner.clock.now().saturating_duration_since(t0);
                    let probe = admission.as_ref().is_some_and(Admission::is_probe);
                    let mut c = self.classify(&e);
                    // Before its first token a stream fails over like a call: the same
                    // target is tried again only when the server said how soon (a short
                    // explicit hint). A stream that broke once tends to break again.
                    if c.disposition == Disposition::RetryHere && c.retry_after.is_none() {
                        c.disposition = Disposition::FailOver;
                    }
                    self.observe(
                        i,
                        admission,
                        latency,
                        &Observed::Failure {
                            class: c.class,
                            scope: c.scope,
                            retry_after: c.retry_after,
                        },
                    );
                    match self.absorb(
                        &mut call,
                        i,
                        started_after,
                        latency,
                        probe,
                        AttemptRole::Answer,
                        &c,
                        &e,
                        req,
                    ) {
                        Next::Continue(w) => wait = w,
                        Next::Stop(err) => return Err(self.fail(call, *err)),
                    }
                }
            }
        }
    }

    /// Opens a stream and reads up to its first content delta, holding back the
    /// startup chunks. Any failure before that is an uncommitted failure.
    async fn open_stream(
        &self,
        i: usize,
        req: &ChatRequest,
        call: &Call,
    ) -> Result<(VecDeque<ChatChunk>, ChatStream), CallError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        let left = call.deadline.saturating_duration_since(now);
        let provider = inner.targets[i].provider.clone();
        let mut stream = match tokio::time::timeout(
            inner.policy.attempt_timeout.min(left),
            provider.stream(req),
        )
        .await
        {
            Ok(r) => r?,
            Err(_) => return Err(CallError::timeout(TimeoutPhase::FirstByte)),
        };
        let first_token_by =
            tokio::time::Instant::now() + inner.policy.first_token_timeout.min(left);
        let mut held = VecDeque::new();
        loop {
            match tokio::time::timeout_at(first_token_by, stream.next()).await {
                Err(_) => return Err(CallError::timeout(TimeoutPhase::FirstToken)),
                Ok(None) => {
                    // Ended before any content: a complete but empty answer, or truncated.
                    let mut acc = StreamAccumulator::default();
                    held.iter().for_each(|c| acc.push(c));
                    if acc.is_finished() {
                        return Ok((held, Box::pin(futures_util::stream::empty())));
                    }
                    return Err(CallError::mid_stream(CallError::Truncated, acc.partial()));
                }
                Ok(Some(Err(e))) => return Err(e),
                Ok(Some(Ok(chunk))) => {
                    let content = chunk.is_content();
                    held.push_back(chunk);
                    if content {
                        return Ok((held, stream));
                    }
                }
            }
        }
    }
}

/// The JSON in `text`, as a `T`.
fn parse_typed<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, nb_core::Violation> {
    let v = nb_guard::extract_json(text)?;
    serde_json::from_value(v).map_err(|e| {
        nb_core::Violation::new(
            nb_core::ViolationKind::Schema,
            "",
            format!("does not fit the expected type: {e}"),
        )
        .with_hint("answer with JSON that matches the schema exactly")
    })
}

/// The stream handed to the caller once committed: the held-back chunks, then the rest
/// with an idle-gap bound and the call's deadline (`left` from now). A failure now is
/// surfaced with the partial output.
fn committed_stream(
    held: VecDeque<ChatChunk>,
    rest: ChatStream,
    idle: Duration,
    left: Duration,
) -> ChatStream {
    let now = tokio::time::Instant::now();
    let end = now
        .checked_add(left)
        .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
    let mut acc = StreamAccumulator::default();
    held.iter().for_each(|c| acc.push(c));
    let state = (held, rest, acc, false);
    Box::pin(futures_util::stream::unfold(
        state,
        move |(mut held, mut rest, mut acc, done)| async move {
            if let Some(c) = held.pop_front() {
                return Some((Ok(c), (held, rest, acc, done)));
            }
            if done {
                return None;
            }
            let wait = idle.min(end.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, rest.next()).await {
                Ok(Some(Ok(c))) => {
                    acc.push(&c);
                    Some((Ok(c), (held, rest, acc, false)))
                }
                Ok(Some(Err(e))) => {
                    let e = match e {
                        CallError::MidStream(_) => e,
                        other => CallError::mid_stream(other, acc.partial()),
                    };
                    Some((Err(e), (held, rest, acc, true)))
                }
                Ok(None) => None,
                Err(_) => {
                    let phase = if tokio::time::Instant::now() >= end {
                        TimeoutPhase::Total
                    } else {
                        TimeoutPhase::Idle
                    };
                    let e = CallError::mid_stream(CallError::timeout(phase), acc.partial());
                    Some((Err(e), (held, rest, acc, true)))
                }
            }
        },
    ))
}
