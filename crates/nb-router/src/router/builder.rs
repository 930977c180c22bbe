//! The builder: targets, routes, policies, health, validators, vouching — checked once,
//! with every value that cannot work refused by name.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nb_breaker::{
    BreakerConfig, CooldownPolicy, GovernorPacer, InMemoryKnowledge, Knowledge, PaceLimits,
    SharedClock,
};
use nb_classify::{Classifier, DefaultClassifier};
use nb_core::TargetId;
use nb_guard::Validator;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::broadcast;
use tower::retry::budget::TpsBudget;

use super::{
    Health, Inner, RouteSettings, Routes, SmartRouter, Targets, VouchMode, VouchState, Vouching,
};
use crate::policy::{Policy, WhenAllOpen};
use crate::target::{Strategy, Target};

/// The router could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid router configuration: {0}")]
pub struct BuildError(pub(super) String);

/// Builds a [`SmartRouter`].
#[must_use]
pub struct RouterBuilder {
    targets: Vec<Target>,
    routes: Vec<(String, Vec<TargetId>)>,
    route_settings: HashMap<String, RouteSettings>,
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
    cache: Option<Arc<dyn crate::AnswerCache>>,
}

impl SmartRouter {
    /// A builder with tokio's clock ([`TokioClock`](crate::TokioClock)), default
    /// policies and the default classifier.
    pub fn builder() -> RouterBuilder {
        RouterBuilder {
            targets: Vec::new(),
            routes: Vec::new(),
            route_settings: HashMap::new(),
            strategy: Strategy::default(),
            policy: Policy::default(),
            breaker: BreakerConfig::default(),
            cooldowns: CooldownPolicy::default(),
            pacing: HashMap::new(),
            classifier: None,
            knowledge: None,
            clock: Arc::new(crate::TokioClock),
            seed: 0,
            validators: Vec::new(),
            vouching: None,
            cache: None,
        }
    }
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

    /// Checks `route`'s answers with `v` too (`"default"` for the default route), after
    /// the router's own validators and before the call's.
    pub fn route_validator(
        mut self,
        route: impl Into<String>,
        v: impl Validator + 'static,
    ) -> Self {
        self.settings(route).validators.push(Arc::new(v));
        self
    }

    /// Vouches for `route`'s answers as `mode` says (`"default"` for the default route);
    /// a call's own [`CallOptions::vouch`](super::CallOptions::vouch) wins.
    pub fn route_vouch(mut self, route: impl Into<String>, mode: VouchMode) -> Self {
        self.settings(route).vouch = Some(mode);
        self
    }

    /// Caches answers in `cache` for the routes [`cache_route`](Self::cache_route) opts in.
    pub fn cache(mut self, cache: Arc<dyn crate::AnswerCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Caches the answers of `route` (`"default"` for the default route) for `ttl`.
    pub fn cache_route(mut self, route: impl Into<String>, ttl: Duration) -> Self {
        self.settings(route).cache_ttl = Some(ttl);
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

    /// The settings of `route`, created empty.
    fn settings(&mut self, route: impl Into<String>) -> &mut RouteSettings {
        self.route_settings.entry(route.into()).or_default()
    }

    /// Builds the router, checking the configuration.
    pub fn build(mut self) -> Result<SmartRouter, BuildError> {
        self.check()?;
        let targets = indexed(std::mem::take(&mut self.targets))?;
        let mut members = HashMap::new();
        for (name, ids) in self.routes {
            let mut r = Vec::new();
            for id in ids {
                let Some(i) = targets.position(&id) else {
                    return Err(BuildError(format!(
                        "route {name:?} names unknown target {id}"
                    )));
                };
                r.push(i);
            }
            members.insert(name, r);
        }
        if let WhenAllOpen::LastResort(id) = &self.policy.when_all_open {
            if targets.position(id).is_none() {
                return Err(BuildError(format!(
                    "last-resort target {id} is not a target"
                )));
            }
        }
        let knowledge = self.knowledge.unwrap_or_else(|| {
            let mut k = InMemoryKnowledge::new(self.breaker, self.cooldowns, self.clock.clone())
                .with_seed(self.seed);
            if !self.pacing.is_empty() {
                k = k.with_pacer(Arc::new(GovernorPacer::new(
                    self.pacing,
                    self.clock.clone(),
                )));
            }
            Arc::new(k)
        });
        let b = self.policy.budget;
        Ok(SmartRouter {
            inner: Arc::new(Inner {
                targets,
                routes: Routes {
                    members,
                    settings: self.route_settings,
                },
                strategy: self.strategy,
                budget: TpsBudget::new(b.ttl, b.min_per_second, b.ratio),
                policy: self.policy,
                classifier: self
                    .classifier
                    .unwrap_or_else(|| Arc::new(DefaultClassifier::new())),
                health: Health {
                    knowledge,
                    clock: self.clock,
                    recovering: Mutex::new(HashSet::new()),
                },
                events: broadcast::channel(1024).0,
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(self.seed)),
                validators: self.validators,
                vouching: self.vouching.map(|config| VouchState {
                    config,
                    trust: Default::default(),
                }),
                cache: self.cache,
            }),
        })
    }

    /// Refuses, by name, policy values that cannot work, rather than failing every call.
    fn check(&self) -> Result<(), BuildError> {
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
        Ok(())
    }
}

/// The targets with their positions, each id once.
fn indexed(list: Vec<Target>) -> Result<Targets, BuildError> {
    if list.is_empty() {
        return Err(BuildError("a router needs at least one target".into()));
    }
    let mut index = HashMap::new();
    for (i, t) in list.iter().enumerate() {
        if index.insert(t.id.clone(), i).is_some() {
            return Err(BuildError(format!("target {} is added twice", t.id)));
        }
    }
    let labels = list
        .iter()
        .map(|t| crate::telemetry::TargetLabels::new(&t.id))
        .collect();
    let priced = list.iter().any(|t| t.cost.is_some());
    Ok(Targets {
        list,
        index,
        labels,
        priced,
    })
}
