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
    Knowledge, Observed, PaceLimits, SharedClock, TargetHealth,
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
use nb_core::AnswerCheck;

use crate::report::{
    AttemptAt, AttemptOutcome, AttemptReport, AttemptRole, CallReport, RouteError, RouteErrorKind,
    Routed, SkipReason, VerdictReport,
};
use crate::target::{Strategy, Target};

mod background;
mod builder;
mod call;
mod embed;
mod hedge;
mod plan;
mod stream;
mod typed;
mod vouch;

pub use builder::{BuildError, RouterBuilder};

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

/// When answers are vouched for (checked against an independent target's). Per route
/// ([`RouterBuilder::route_vouch`]) and per call ([`CallOptions::vouch`]); needs
/// [`Vouching`] configured on the router.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum VouchMode {
    /// Every answer, first choice included (about twice the cost).
    Always,
    /// Answers that did not come from the first choice, and a first choice that shadow
    /// sampling caught drifting (the default).
    OnFailover,
    /// As `OnFailover`, and a random share of the first choice's answers (a spot check;
    /// between 0 and 1).
    Sampled(f64),
    /// Never: a failover answer comes back unchecked (the report says so: no verdict).
    Off,
}

/// What to do with an answer that vouching was asked for but nothing could vouch for:
/// no independent target could answer, or the checker could not decide. (An answer a
/// reference contradicted is refused either way.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnUnvouchable {
    /// Return it, flagged: the report's `check` is
    /// [`Unvouchable`](crate::AnswerCheck::Unvouchable), the gateway says
    /// `x-nb-verdict: unvouchable`, and `neuralbridge.vouching` counts it (the default:
    /// with two providers, the only possible reference of a failover answer is the
    /// target that just failed).
    #[default]
    ServeFlagged,
    /// Refuse it with [`RouteErrorKind::Unvouched`]: what `require_equivalence` means.
    Refuse,
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
    /// When to vouch for this call's answer, instead of the route's or the router's
    /// default (the `require_equivalence` switch of Python routers: `Some(Always)`).
    pub vouch: Option<VouchMode>,
    /// What to do when nothing could vouch for an answer that needed it, instead of the
    /// router's default ([`Vouching::on_unvouchable`]).
    pub on_unvouchable: Option<OnUnvouchable>,
    /// A scope for the response cache: answers are shared only between calls of the
    /// same scope (the gateway passes the caller's key name). `None`: the router-wide
    /// scope.
    pub cache_scope: Option<String>,
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

    /// Sets `vouch`.
    pub fn with_vouch(mut self, vouch: Option<VouchMode>) -> Self {
        self.vouch = vouch;
        self
    }

    /// Sets `on_unvouchable`.
    pub fn with_on_unvouchable(mut self, on_unvouchable: Option<OnUnvouchable>) -> Self {
        self.on_unvouchable = on_unvouchable;
        self
    }

    /// Refuse any answer that is not the first choice's unless an independent answer
    /// agrees with it: vouch for every answer and never serve one nobody could vouch for
    /// (the `require_equivalence=True` of Python routers).
    pub fn require_equivalence(self) -> Self {
        self.with_vouch(Some(VouchMode::Always))
            .with_on_unvouchable(Some(OnUnvouchable::Refuse))
    }

    /// Sets `cache_scope`.
    pub fn with_cache_scope(mut self, cache_scope: Option<String>) -> Self {
        self.cache_scope = cache_scope;
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
            .field("vouch", &self.vouch)
            .field("on_unvouchable", &self.on_unvouchable)
            .field("cache_scope", &self.cache_scope)
            .finish()
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
    /// Vouching modes by route.
    route_vouch: HashMap<String, VouchMode>,
    /// Validators by route, after the router's own.
    route_validators: HashMap<String, Vec<Arc<dyn Validator>>>,
    /// The response cache and the routes that use it, with their time to live.
    cache: Option<Arc<dyn crate::AnswerCache>>,
    cache_routes: HashMap<String, Duration>,
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
    /// background, to the next candidate (default 0.05; 0 disables). When the two
    /// disagree, a third settles it, and the side it outvotes loses agreement — the first
    /// choice included: a first choice that falls below `min_agreement` has its answers
    /// vouched for and is moved after the targets that agree.
    pub shadow_rate: f64,
    /// What to do when nothing could vouch for an answer (per call:
    /// [`CallOptions::on_unvouchable`]). Default: serve it flagged.
    pub on_unvouchable: OnUnvouchable,
    /// When no independent target (serving or reference) could vouch: ask the serving
    /// target again this way and vouch when every sample agrees with the answer
    /// (reported as [`AnswerCheck::SelfConsistent`](nb_core::AnswerCheck::SelfConsistent),
    /// a weaker verdict). Off by default: it costs `samples` more calls per failover
    /// answer that no other target could check.
    pub self_consistency: Option<SelfConsistency>,
}

/// Self-consistency: the serving target asked again, as a reference of last resort.
///
/// Samples that agree are evidence against *confabulation* (an answer that is wrong and
/// arbitrary: it changes from sample to sample), not against a mistake the model makes
/// every time; they must be able to differ, so they are drawn at a temperature above
/// zero. See Farquhar et al., "Detecting hallucinations in large language models using
/// semantic entropy", Nature 630 (2024), and Manakul et al., SelfCheckGPT (EMNLP 2023).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct SelfConsistency {
    /// How many more answers to ask for (default 2: with the served answer, three must
    /// agree).
    pub samples: u32,
    /// The samples' temperature (default 0.7).
    pub temperature: f32,
}

impl Default for SelfConsistency {
    fn default() -> Self {
        Self {
            samples: 2,
            temperature: 0.7,
        }
    }
}

impl SelfConsistency {
    /// `samples` more answers at `temperature`.
    pub fn new(samples: u32, temperature: f32) -> Self {
        Self {
            samples,
            temperature,
        }
    }
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

    /// Sets `on_unvouchable`.
    pub fn with_on_unvouchable(mut self, on_unvouchable: OnUnvouchable) -> Self {
        self.on_unvouchable = on_unvouchable;
        self
    }

    /// Sets `self_consistency`.
    pub fn with_self_consistency(mut self, self_consistency: Option<SelfConsistency>) -> Self {
        self.self_consistency = self_consistency;
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
            .field("on_unvouchable", &self.on_unvouchable)
            .field("self_consistency", &self.self_consistency)
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
            shadow_rate: 0.05,
            on_unvouchable: OnUnvouchable::default(),
            self_consistency: None,
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

/// One target's agreement with the others: its last answers (for
/// [`SmartRouter::agreement`]), and a sequential test of whether it drifted.
///
/// The test is Wald's SPRT of "it disagrees at rate [`P0`](Self::P0)" (healthy: the
/// checker's own noise) against "at rate [`P1`](Self::P1)" (drifted), with error rates
/// [`ALPHA`](Self::ALPHA) and [`BETA`](Self::BETA). A target is *learning* until the test
/// first accepts health (its answers are shadow-checked at three times the base rate),
/// then *trusted* (the base rate). One disagreement puts it on *alert*: every answer it
/// serves is vouched for before it is returned, until the test decides — *trusted*
/// again, or *demoted* (vouched for and moved after the targets that agree, until the
/// test clears it).
#[derive(Debug, Clone, Default)]
struct Agreement {
    recent: VecDeque<bool>,
    llr: f64,
    state: Drift,
}

/// Where a target stands in the drift test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Drift {
    #[default]
    Learning,
    Trusted,
    Alert,
    Demoted,
}

impl Agreement {
    const WINDOW: usize = 50;
    /// The disagreement rate of a healthy target (the checker's false rejections).
    const P0: f64 = 0.05;
    /// The disagreement rate of a drifted one.
    const P1: f64 = 0.25;
    /// The chance of demoting a healthy target.
    const ALPHA: f64 = 0.01;
    /// The chance of clearing a drifted one.
    const BETA: f64 = 0.05;

    fn push(&mut self, agreed: bool) {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(agreed);
        let drifted = ((1.0 - Self::BETA) / Self::ALPHA).ln();
        let healthy = (Self::BETA / (1.0 - Self::ALPHA)).ln();
        self.llr += if agreed {
            ((1.0 - Self::P1) / (1.0 - Self::P0)).ln()
        } else {
            (Self::P1 / Self::P0).ln()
        };
        if !agreed && matches!(self.state, Drift::Learning | Drift::Trusted) {
            self.state = Drift::Alert;
        }
        if self.llr >= drifted {
            self.state = Drift::Demoted;
            self.llr = drifted;
        } else if self.llr <= healthy {
            self.state = Drift::Trusted;
            self.llr = 0.0;
        }
    }

    /// The share of this target's first-choice answers to shadow-check.
    fn shadow_rate(&self, base: f64) -> f64 {
        match self.state {
            Drift::Learning => (base * 3.0).min(1.0),
            _ => base,
        }
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
    /// The route's reference targets (vouch-only), asked before other candidates when an
    /// answer needs a reference.
    references: Vec<usize>,
    excluded: HashSet<usize>,
    /// Targets whose answers took part in vouching (the answer's own, references): a
    /// reference must come from another one.
    vouch_used: HashSet<usize>,
    retries: HashMap<usize, u32>,
    min_window: Option<u64>,
    attempts: u32,
    /// The call has moved away from a failed target once (that move is free of the
    /// retry budget).
    failed_over: bool,
    first_target: Option<usize>,
    report: CallReport,
    tokens: u32,
    prompt_tokens: u64,
    /// A repair request for a target, to be sent on its next attempt.
    repair: Option<(usize, Arc<ChatRequest>)>,
    repairs: u32,
    validators: Vec<Arc<dyn Validator>>,
    /// A vouching reference asked at the same time as a failover attempt.
    prefetched: Option<Box<Prefetched>>,
    /// When this call's answer is vouched for.
    vouch: VouchMode,
    /// What to do when nothing could vouch for it.
    on_unvouchable: OnUnvouchable,
}

/// A vouching reference asked at the same time as the failover attempt whose answer it
/// will check: vouching at the latency of one call instead of two.
struct Prefetched {
    target: usize,
    admission: Option<Admission>,
    started: Instant,
    latency: Duration,
    result: Result<ChatResponse, CallError>,
}

enum Next {
    Continue(Option<Duration>),
    Stop(Box<RouteError>),
}

/// An attempt under way: its target, its admission, when it was sent.
struct Launched {
    target: usize,
    admission: Option<Admission>,
    started: Instant,
}

/// One attempt's end.
struct Outcome {
    launched: Launched,
    /// It was a hedge.
    hedge: bool,
    /// `None`: cancelled because another attempt won.
    result: Option<Result<ChatResponse, CallError>>,
}

impl Outcome {
    fn new(
        launched: Launched,
        hedge: bool,
        result: Option<Result<ChatResponse, CallError>>,
    ) -> Self {
        Self {
            launched,
            hedge,
            result,
        }
    }
}

impl SmartRouter {
    /// Where and when an attempt on target `i` ran, for its report line.
    fn attempt_at(
        &self,
        call_start: Instant,
        i: usize,
        started: Instant,
        latency: Duration,
        admission: Option<&Admission>,
        role: AttemptRole,
    ) -> AttemptAt {
        AttemptAt {
            target: self.inner.targets[i].id.clone(),
            started_after: started.saturating_duration_since(call_start),
            latency,
            probe: admission.is_some_and(Admission::is_probe),
            role,
        }
    }
}

type AttemptFuture<'a> = Pin<Box<dyn Future<Output = Result<ChatResponse, CallError>> + Send + 'a>>;

fn estimate_tokens(req: &ChatRequest) -> (u64, u32) {
    let prompt = (req.prompt_chars() as u64).div_ceil(4);
    let total = prompt + u64::from(req.max_tokens.unwrap_or(256));
    (prompt, u32::try_from(total).unwrap_or(u32::MAX))
}
