//! What a caller chooses: per-call options, when and how answers are vouched for, and
//! the canaries that measure agreement.

use std::sync::Arc;
use std::time::Duration;

use nb_guard::Validator;
use nb_semantic::Equivalence;

#[cfg(doc)]
use super::RouterBuilder;
#[cfg(doc)]
use crate::report::RouteErrorKind;

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

/// The options of a call made without any (`chat`, `stream`, `embed`): a static, so
/// such a call's future does not hold a default value of its own while it waits.
pub(super) static NO_OPTIONS: CallOptions = CallOptions {
    route: None,
    require_tags: Vec::new(),
    deadline: None,
    validators: Vec::new(),
    vouch: None,
    on_unvouchable: None,
    cache_scope: None,
};

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

/// How the router vouches for an answer that did not come from its first choice.
#[derive(Clone)]
#[non_exhaustive]
pub struct Vouching {
    /// The checker comparing two answers (`nb_semantic::Strict` for strict domains).
    pub equivalence: Arc<dyn Equivalence>,
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
    pub fn consensus(equivalence: impl Equivalence + 'static) -> Self {
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
