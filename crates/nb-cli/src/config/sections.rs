//! The router's settings from each section: policy, breakers, cool-downs, vouching.

use std::time::Duration;

use neuralbridge::breaker::{BreakerConfig, CooldownPolicy, FailureRate};
use neuralbridge::router::{Hedging, OnUnvouchable, Policy, Strategy, Vouching, WhenAllOpen};
use neuralbridge::semantic::{Lexical, Strict};

use super::check::{ms, share};
use super::{Config, ConfigFileError};

impl Config {
    /// The router's policy from `[policy]`.
    pub fn policy(&self) -> Result<Policy, ConfigFileError> {
        let p = &self.policy;
        let mut policy = Policy::default();
        if let Some(d) = ms("policy.attempt_timeout_ms", p.attempt_timeout_ms)? {
            policy.attempt_timeout = d;
        }
        if let Some(d) = ms("policy.deadline_ms", p.deadline_ms)? {
            policy.deadline = d;
        }
        if let Some(d) = ms("policy.first_token_timeout_ms", p.first_token_timeout_ms)? {
            policy.first_token_timeout = d;
        }
        if let Some(d) = ms("policy.idle_timeout_ms", p.idle_timeout_ms)? {
            policy.idle_timeout = d;
        }
        if let Some(n) = p.max_attempts {
            policy.max_attempts = n;
        }
        if let Some(n) = p.max_retries_per_target {
            policy.max_retries_per_target = n;
        }
        if let Some(n) = p.max_repairs {
            policy.max_repairs = n;
        }
        if let Some(d) = ms("policy.backoff_base_ms", p.backoff_base_ms)? {
            policy.backoff_base = d;
        }
        if let Some(d) = ms("policy.backoff_max_ms", p.backoff_max_ms)? {
            policy.backoff_max = d;
        }
        if policy.backoff_max < policy.backoff_base {
            return Err(ConfigFileError(
                "policy.backoff_max_ms: shorter than policy.backoff_base_ms".into(),
            ));
        }
        match p.recovery_probe_ms {
            Some(0) => policy.recovery_probe = None,
            Some(n) => policy.recovery_probe = Some(Duration::from_millis(n)),
            None => {}
        }
        if let Some(d) = ms("policy.hedge_after_ms", p.hedge_after_ms)? {
            policy.hedging = Some(Hedging {
                min_delay: d,
                fixed_delay: None,
            });
        }
        if let Some(s) = &p.strategy {
            strategy(s)?;
        }
        if p.budget_ratio.is_some()
            || p.budget_min_per_second.is_some()
            || p.budget_window_ms.is_some()
        {
            let mut b = policy.budget;
            if let Some(r) = share("policy.budget_ratio", p.budget_ratio)? {
                b.ratio = r as f32;
            }
            if let Some(n) = p.budget_min_per_second {
                b.min_per_second = n;
            }
            if let Some(d) = ms("policy.budget_window_ms", p.budget_window_ms)? {
                if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&d) {
                    return Err(ConfigFileError(
                        "policy.budget_window_ms: between 1000 and 60000".into(),
                    ));
                }
                b.ttl = d;
            }
            policy = policy.with_budget(b);
        }
        match p.when_all_open.as_deref() {
            None | Some("wait") => {}
            Some("fail-fast") => policy = policy.with_when_all_open(WhenAllOpen::FailFast),
            Some(other) => {
                return Err(ConfigFileError(format!(
                    "policy.when_all_open: {other:?} is not one of wait, fail-fast"
                )));
            }
        }
        Ok(policy)
    }

    /// The breakers from `[breaker]`.
    pub fn breaker(&self) -> Result<BreakerConfig, ConfigFileError> {
        let b = &self.breaker;
        let mut c = BreakerConfig::default();
        if let Some(n) = b.consecutive_failures {
            c.consecutive_failures = n;
        }
        if let Some(t) = share("breaker.failure_rate", b.failure_rate)? {
            let mut rate = c.failure_rate.unwrap_or(FailureRate {
                threshold: t,
                min_calls: 20,
                window: Duration::from_secs(30),
            });
            rate.threshold = t;
            c.failure_rate = (t > 0.0).then_some(rate);
        }
        if let Some(rate) = c.failure_rate.as_mut() {
            if let Some(n) = b.failure_rate_min_calls {
                rate.min_calls = n;
            }
            if let Some(d) = ms("breaker.failure_rate_window_ms", b.failure_rate_window_ms)? {
                rate.window = d;
            }
        }
        if let Some(d) = ms("breaker.open_ms", b.open_ms)? {
            c.backoff.initial = d;
        }
        if let Some(d) = ms("breaker.open_max_ms", b.open_max_ms)? {
            c.backoff.max = d;
        }
        if c.backoff.max < c.backoff.initial {
            return Err(ConfigFileError(
                "breaker.open_max_ms: shorter than breaker.open_ms".into(),
            ));
        }
        if let Some(n) = b.half_open_probes {
            if n == 0 {
                return Err(ConfigFileError(
                    "breaker.half_open_probes: 0 would never let a probe through".into(),
                ));
            }
            c.half_open_probes = n;
        }
        if let Some(n) = b.close_after {
            if n == 0 {
                return Err(ConfigFileError("breaker.close_after: at least 1".into()));
            }
            c.close_after = n;
        }
        Ok(c)
    }

    /// The cool-downs from `[cooldowns]`.
    pub fn cooldowns(&self) -> Result<CooldownPolicy, ConfigFileError> {
        let s = &self.cooldowns;
        let mut c = CooldownPolicy::default();
        for (key, v, slot) in [
            (
                "cooldowns.rate_limited_ms",
                s.rate_limited_ms,
                &mut c.rate_limited,
            ),
            (
                "cooldowns.overloaded_ms",
                s.overloaded_ms,
                &mut c.overloaded,
            ),
            ("cooldowns.quota_ms", s.quota_ms, &mut c.quota),
            ("cooldowns.auth_ms", s.auth_ms, &mut c.auth),
            (
                "cooldowns.invalid_model_ms",
                s.invalid_model_ms,
                &mut c.invalid_model,
            ),
            ("cooldowns.max_ms", s.max_ms, &mut c.max),
        ] {
            if let Some(d) = ms(key, v)? {
                *slot = d;
            }
        }
        Ok(c)
    }

    /// Vouching from `[vouch]`, if on.
    pub fn vouching(&self) -> Option<Vouching> {
        let v = &self.vouch;
        let mut vouching = match v.equivalence.as_deref() {
            None | Some("strict") => Vouching::consensus(Strict),
            Some("lexical") => Vouching::consensus(Lexical::default()),
            _ => return None,
        };
        if v.on_unvouchable.as_deref() == Some("refuse") {
            vouching = vouching.with_on_unvouchable(OnUnvouchable::Refuse);
        }
        if let Some(a) = v.always {
            vouching = vouching.with_always(a);
        }
        if let Some(t) = v.tiebreak {
            vouching = vouching.with_tiebreak(t);
        }
        if let Some(w) = v.wait_ms {
            vouching = vouching.with_wait(Duration::from_millis(w));
        }
        if let Some(r) = v.shadow_rate {
            vouching.shadow_rate = r;
        }
        if let Some(n) = v.self_consistency.filter(|n| *n > 0) {
            vouching = vouching
                .with_self_consistency(Some(neuralbridge::router::SelfConsistency::new(n, 0.7)));
        }
        Some(vouching)
    }
}

pub(super) fn strategy(s: &str) -> Result<Strategy, ConfigFileError> {
    Ok(match s {
        "priority" => Strategy::Priority,
        "weighted" => Strategy::Weighted,
        "lowest-latency" => Strategy::LowestLatency,
        "cheapest" => Strategy::Cheapest,
        other => {
            return Err(ConfigFileError(format!(
                "policy.strategy: {other:?} is not one of priority, weighted, lowest-latency, cheapest"
            )));
        }
    })
}
