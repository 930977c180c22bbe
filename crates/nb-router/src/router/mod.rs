//! The router: one call's loop — plan → execute → analyze → monitor → report — and the
//! state each concern owns (targets and routes, health, vouching, the cache).
//!
//! Each concern is its own module: [`plan`] (which targets, in what order),
//! [`call`] (attempts, classification, decisions), [`hedge`], [`vouch`] (references,
//! self-consistency), [`drift`] (the sequential test of agreement), [`recovery`]
//! (probes of open breakers), [`background`] (canaries, shadow samples), [`cached`]
//! (the answer cache around a call), [`stream`], [`typed`] and [`builder`].

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nb_breaker::{Admission, HealthEvent, Knowledge, SharedClock};
use nb_classify::Classifier;
use nb_core::{CallError, ChatRequest, ChatResponse, TargetId};
use nb_guard::Validator;
use rand_chacha::ChaCha8Rng;
use tokio::sync::broadcast;
use tower::retry::budget::TpsBudget;

use crate::policy::Policy;
use crate::report::{AttemptAt, AttemptReport, AttemptRole, CallReport, RouteError};
use crate::target::{Strategy, Target};

mod background;
mod builder;
mod cached;
mod call;
mod drift;
mod embed;
mod hedge;
mod options;
mod plan;
mod recovery;
mod stream;
mod typed;
mod vouch;

pub use builder::{BuildError, RouterBuilder};
pub use options::{CallOptions, Canaries, OnUnvouchable, SelfConsistency, VouchMode, Vouching};

use drift::Trust;

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

/// The router's shared state, one field per concern.
struct Inner {
    targets: Targets,
    routes: Routes,
    strategy: Strategy,
    policy: Policy,
    /// Retries (not first failovers) are drawn from it.
    budget: TpsBudget,
    classifier: Arc<dyn Classifier>,
    health: Health,
    events: broadcast::Sender<RouterEvent>,
    /// Weighted order, sampling and jitter: seeded, so runs repeat.
    rng: Mutex<ChaCha8Rng>,
    /// Every answer passes these (then its route's, then its call's).
    validators: Vec<Arc<dyn Validator>>,
    vouching: Option<VouchState>,
    cache: Option<Arc<dyn crate::AnswerCache>>,
}

/// The targets, in the order added (a target is its position), their positions by id,
/// and the label values their metrics carry (shared, so recording allocates nothing).
struct Targets {
    list: Vec<Target>,
    index: HashMap<TargetId, usize>,
    labels: Vec<crate::telemetry::TargetLabels>,
    /// Whether any target has prices (else a call's total cost is not computed).
    priced: bool,
}

impl std::ops::Deref for Targets {
    type Target = [Target];

    fn deref(&self) -> &[Target] {
        &self.list
    }
}

impl Targets {
    /// The position of the target named `id`.
    fn position(&self, id: &TargetId) -> Option<usize> {
        // A few targets are found faster by comparing ids than by hashing one.
        if self.list.len() <= 8 {
            return self.list.iter().position(|t| t.id == *id);
        }
        self.index.get(id).copied()
    }
}

/// Named routes (their targets, in order) and what each route, the default included,
/// adds to a call.
#[derive(Default)]
struct Routes {
    members: HashMap<String, Vec<usize>>,
    settings: HashMap<String, RouteSettings>,
}

impl Routes {
    /// The settings of `route` (`None`: the default route).
    fn settings(&self, route: Option<&str>) -> Option<&RouteSettings> {
        self.settings.get(route.unwrap_or(DEFAULT_ROUTE))
    }
}

/// The name of the route a call without one takes.
const DEFAULT_ROUTE: &str = "default";

/// What one route adds to its calls.
#[derive(Default, Clone)]
struct RouteSettings {
    /// When its answers are vouched for, instead of the router's default.
    vouch: Option<VouchMode>,
    /// Validators after the router's own.
    validators: Vec<Arc<dyn Validator>>,
    /// How long its answers are cached (`None`: not cached).
    cache_ttl: Option<Duration>,
}

/// Target health: the store that admits and records, the clock its decisions use, and
/// the targets whose recovery probes are running.
struct Health {
    knowledge: Arc<dyn Knowledge>,
    clock: SharedClock,
    recovering: Mutex<HashSet<usize>>,
}

/// Vouching: how, and what the drift test has learned of each target's agreement.
struct VouchState {
    config: Vouching,
    trust: Trust,
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
            .field("targets", &self.inner.targets.list)
            .field("strategy", &self.inner.strategy)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

/// The state of one call across its attempts.
struct Call {
    start: Instant,
    /// `start`, until the first admission takes it as its instant (nothing is awaited
    /// between the plan and it: the clock is not read twice).
    planned: Option<Instant>,
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
    /// The cache's answer to this very request, which the call could not be served
    /// (it was not vouched for as the call requires): a reference for vouching.
    cached: Option<Box<nb_core::CachedAnswer>>,
    /// References are being looked for among the targets the drift test distrusts (a
    /// last resort).
    distrusted_references: bool,
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
    result: AttemptResult,
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

/// One attempt's end: the attempt, whether it was a hedge, its result.
struct Ended {
    launched: Launched,
    /// It was a hedge.
    hedge: bool,
    /// `None`: cancelled because another attempt won.
    result: Option<AttemptResult>,
}

impl Ended {
    fn new(launched: Launched, hedge: bool, result: Option<AttemptResult>) -> Self {
        Self {
            launched,
            hedge,
            result,
        }
    }
}

impl SmartRouter {
    /// The router's clock's now.
    fn now(&self) -> Instant {
        self.inner.health.clock.now()
    }

    /// The vouching configuration, if vouching is on.
    fn vouching(&self) -> Option<&Vouching> {
        self.inner.vouching.as_ref().map(|v| &v.config)
    }

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

/// An attempt under way. Its answer is boxed as soon as it arrives: it then moves
/// through the timeout, the settled attempts and the checks as a pointer, not as the
/// 312 bytes of a `ChatResponse` copied at each step.
type AttemptFuture<'a> = Pin<Box<dyn Future<Output = AttemptResult> + Send + 'a>>;

/// What an attempt gives: its answer (boxed) or its failure.
type AttemptResult = Result<Box<ChatResponse>, CallError>;

fn estimate_tokens(req: &ChatRequest) -> (u64, u32) {
    let prompt = (req.prompt_chars() as u64).div_ceil(4);
    let total = prompt + u64::from(req.max_tokens.unwrap_or(256));
    (prompt, u32::try_from(total).unwrap_or(u32::MAX))
}

/// Locks `m`, taking the data of a lock a panicking thread left poisoned (every value
/// kept under these locks is valid between statements).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
