//! Recovery: active health checks and the probes that bring an open breaker's target
//! back, paced by the target itself.

use std::sync::Arc;
use std::time::Duration;

use nb_breaker::{Admission, BreakerState, HealthEvent, Observed};
use nb_core::{ChatRequest, FailureClass, Scope};
use rand::Rng;

use super::{HealthChecks, RouterEvent, SmartRouter, lock};

impl SmartRouter {
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

    pub(super) async fn probe_once(&self, i: usize, probe: &ChatRequest) {
        let inner = &self.inner;
        let id = &inner.targets[i].id;
        let health = inner.health.knowledge.health(id);
        let now = inner.health.clock.now();
        let out_of_rotation =
            health.breaker != BreakerState::Closed || health.cooling_until.is_some_and(|u| u > now);
        if !out_of_rotation {
            return;
        }
        let Ok(admission) = inner.health.knowledge.admit(id, 1) else {
            return;
        };
        let (latency, observed) = self
            .probe_call(i, probe, inner.policy.attempt_timeout)
            .await;
        tracing::debug!(target = %id, ?observed, "health probe");
        self.observe(i, Some(admission), latency, &observed);
    }

    /// Sends one probe to target `i` within `limit`; returns how long it took and what
    /// it showed (a time-out is a target-scoped [`Timeout`](FailureClass::Timeout)).
    async fn probe_call(
        &self,
        i: usize,
        probe: &ChatRequest,
        limit: Duration,
    ) -> (Duration, Observed) {
        let t0 = self.inner.health.clock.now();
        let provider = self.inner.targets[i].provider.clone();
        let result = tokio::time::timeout(limit, provider.chat(probe)).await;
        let latency = self.inner.health.clock.now().saturating_duration_since(t0);
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
                class: FailureClass::Timeout,
                scope: Scope::Target,
                retry_after: None,
            },
        };
        (latency, observed)
    }

    /// While target `i`'s breaker is open, probes it in the background with a minimal
    /// real call until one passes (a passing probe closes the breaker). The probes are
    /// paced by the target itself:
    ///
    /// - **one probe in flight**, never more;
    /// - its **time limit** follows the target: four times its recent p95 latency (at
    ///   least the probe interval), or the attempt timeout when no success was ever
    ///   measured; a probe that times out doubles the next one's limit, up to the attempt
    ///   timeout. A slow but healthy target is readmitted by the first probe after its
    ///   fault ends; a hung request on a fast target is given up on quickly;
    /// - its **spacing** starts at the policy's `recovery_probe` interval and grows by
    ///   half after each failed probe, with ±20% jitter, up to twice the interval or four
    ///   times the target's p95 latency, whichever is longer (and never past the attempt
    ///   timeout): a long outage of a slow target costs few probes.
    ///
    /// One loop per target; it ends when the breaker closes or the router is dropped.
    pub(super) fn spawn_recovery(&self, i: usize) {
        let Some(every) = self.inner.policy.recovery_probe else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if !lock(&self.inner.health.recovering).insert(i) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let probe = ChatRequest::user("ping").with_max_tokens(1);
            let every = every.max(Duration::from_millis(1));
            let mut pace: Option<ProbePace> = None;
            loop {
                let jitter = {
                    let Some(inner) = weak.upgrade() else { return };
                    0.8 + 0.4 * lock(&inner.rng).random::<f64>()
                };
                let spacing = pace.as_ref().map_or(every, |p| p.spacing);
                tokio::time::sleep(spacing.mul_f64(jitter)).await;
                let Some(inner) = weak.upgrade() else { return };
                let router = SmartRouter { inner };
                let id = router.inner.targets[i].id.clone();
                let health = router.inner.health.knowledge.health(&id);
                if health.breaker == BreakerState::Closed {
                    break;
                }
                let pace = pace.get_or_insert_with(|| {
                    ProbePace::new(
                        every,
                        router.inner.policy.attempt_timeout,
                        health.p95_latency,
                    )
                });
                let Ok(adm) = router.inner.health.knowledge.admit_recovery_probe(&id) else {
                    continue;
                };
                let (latency, observed) = router.probe_call(i, &probe, pace.limit).await;
                let passed = matches!(observed, Observed::Success { .. });
                tracing::debug!(target = %id, passed, ?latency, limit = ?pace.limit, "recovery probe");
                router.emit(RouterEvent::RecoveryProbe {
                    target: id,
                    passed,
                    latency,
                });
                if !passed {
                    pace.failed(latency >= pace.limit);
                }
                // Recording a failure here re-opens the breaker: the loop goes on.
                router.observe_quiet(i, adm, latency, &observed);
                if passed {
                    break;
                }
            }
            if let Some(inner) = weak.upgrade() {
                lock(&inner.health.recovering).remove(&i);
            }
        });
    }

    /// Records a recovery probe's outcome without starting another recovery loop.
    pub(super) fn observe_quiet(&self, i: usize, adm: Admission, latency: Duration, o: &Observed) {
        for ev in self
            .inner
            .health
            .knowledge
            .record(&self.inner.targets[i].id, adm, latency, o)
        {
            if let HealthEvent::Breaker { target, transition } = &ev {
                tracing::info!(%target, from = %transition.from, to = %transition.to, cause = %transition.cause, "breaker transition");
            }
            self.emit(RouterEvent::Health(ev));
        }
    }
}

/// How one target's recovery probes are paced: their time limit and their spacing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ProbePace {
    /// How long the next probe may take.
    pub(super) limit: Duration,
    /// How long to wait before the next probe (before jitter).
    pub(super) spacing: Duration,
    /// The longest spacing.
    max_spacing: Duration,
    /// The longest limit: the attempt timeout.
    max_limit: Duration,
}

impl ProbePace {
    pub(super) fn new(every: Duration, attempt_timeout: Duration, p95: Option<Duration>) -> Self {
        let limit = p95.map_or(attempt_timeout, |p| {
            p.saturating_mul(4).max(every).min(attempt_timeout)
        });
        let max_spacing = (every * 2)
            .max(p95.map_or(Duration::ZERO, |p| p.saturating_mul(4)))
            .min(attempt_timeout.max(every));
        Self {
            limit,
            spacing: every,
            max_spacing,
            max_limit: attempt_timeout,
        }
    }

    /// A probe failed (`timed_out`: it ran out of time rather than answering with an error).
    pub(super) fn failed(&mut self, timed_out: bool) {
        if timed_out {
            self.limit = self.limit.saturating_mul(2).min(self.max_limit);
        }
        self.spacing = self.spacing.mul_f64(1.5).min(self.max_spacing);
    }
}

#[cfg(test)]
mod tests {
    use super::ProbePace;
    use std::time::Duration;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_probe_waits_as_long_as_the_target_takes_and_never_past_the_attempt_timeout() {
        // A slow, healthy target (p95 2.5 s): the probe may take 10 s, within 30 s.
        let p = ProbePace::new(250 * MS, 30_000 * MS, Some(2_500 * MS));
        assert_eq!(p.limit, 10_000 * MS);
        // Never measured: as long as a user's attempt may take.
        let p = ProbePace::new(250 * MS, 2_000 * MS, None);
        assert_eq!(p.limit, 2_000 * MS);
        // A fast target: a hung probe is given up on after the interval.
        let p = ProbePace::new(250 * MS, 2_000 * MS, Some(5 * MS));
        assert_eq!(p.limit, 250 * MS);
        let p = ProbePace::new(250 * MS, 1_000 * MS, Some(2_500 * MS));
        assert_eq!(p.limit, 1_000 * MS, "capped by the attempt timeout");
    }

    #[test]
    fn spacing_grows_to_its_cap_and_a_timed_out_probe_doubles_the_next_limit() {
        let mut p = ProbePace::new(250 * MS, 2_000 * MS, Some(5 * MS));
        let mut spacings = vec![p.spacing];
        for _ in 0..4 {
            p.failed(false);
            spacings.push(p.spacing);
        }
        assert_eq!(
            spacings,
            vec![250 * MS, 375 * MS, 500 * MS, 500 * MS, 500 * MS]
        );
        assert_eq!(p.limit, 250 * MS, "errors answered in time leave the limit");
        for _ in 0..4 {
            p.failed(true);
        }
        assert_eq!(
            p.limit,
            2_000 * MS,
            "timeouts double it up to the attempt timeout"
        );
        // A slow target is probed less often.
        let mut slow = ProbePace::new(250 * MS, 30_000 * MS, Some(2_500 * MS));
        for _ in 0..20 {
            slow.failed(false);
        }
        assert_eq!(slow.spacing, 10_000 * MS);
    }
}
