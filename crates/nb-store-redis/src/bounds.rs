//! Redis is input, not truth: what a fact or cached answer read from it may say is
//! bounded by the configuration of the replica reading it.

use std::collections::HashSet;
use std::time::Duration;

use nb_breaker::{BreakerConfig, CooldownPolicy};
use nb_core::TargetId;

use crate::facts::WireScope;

/// What a fact or entry read from Redis may say, at most. A fact beyond a bound is
/// clamped to it (an open breaker or a cool-down never lasts longer than this replica's
/// own config allows); a fact or answer about a target the config does not have is
/// ignored.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TrustBounds {
    /// The longest cool-down a fact may start (`cooldowns.max_ms`).
    pub max_cooldown: Duration,
    /// The longest a fact may open a breaker for (the breaker's longest open period).
    pub max_open: Duration,
    /// The config's targets; facts and answers about any other are ignored. Empty: any
    /// target is taken (a store used without a config).
    pub targets: HashSet<TargetId>,
}

impl Default for TrustBounds {
    fn default() -> Self {
        Self {
            max_cooldown: CooldownPolicy::default().max,
            max_open: BreakerConfig::default().backoff.max,
            targets: HashSet::new(),
        }
    }
}

impl TrustBounds {
    /// The bounds of a replica with these breakers and cool-downs.
    pub fn new(breaker: &BreakerConfig, cooldowns: &CooldownPolicy) -> Self {
        Self {
            max_cooldown: cooldowns.max,
            max_open: breaker.backoff.max,
            targets: HashSet::new(),
        }
    }

    /// Takes facts and answers about these targets only.
    pub fn with_targets(mut self, targets: impl IntoIterator<Item = TargetId>) -> Self {
        self.targets.extend(targets);
        self
    }

    /// Whether `t` is one of the config's targets.
    pub fn knows_target(&self, t: &TargetId) -> bool {
        self.targets.is_empty() || self.targets.contains(t)
    }

    pub(crate) fn knows_scope(&self, s: &WireScope) -> bool {
        if self.targets.is_empty() {
            return true;
        }
        match s {
            WireScope::Target { target } => self.targets.contains(target),
            WireScope::Model { provider, model } => self
                .targets
                .iter()
                .any(|t| t.provider() == provider && t.model() == model),
            WireScope::Credential { provider, .. } | WireScope::Provider { provider } => {
                self.targets.iter().any(|t| t.provider() == provider)
            }
        }
    }
}
