//! Work the router does on its own, never inside a user's call: active health checks, recovery probes of open breakers, canaries and shadow sampling, and the agreement they measure.

use super::*;

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
        let (latency, observed) = self
            .probe_call(i, probe, inner.policy.attempt_timeout)
            .await;
        tracing::debug!(target = %id, ?observed, "health probe");
        self.observe(i, Some(admission), latency, &observed);
    }

    /// Sends one probe to target `i` within `limit`; returns how long it took and what
    /// it showed (a time-out is a target-scoped [`Timeout`](nb_core::FailureClass::Timeout)).
    async fn probe_call(
        &self,
        i: usize,
        probe: &ChatRequest,
        limit: Duration,
    ) -> (Duration, Observed) {
        let t0 = self.inner.clock.now();
        let provider = self.inner.targets[i].provider.clone();
        let result = tokio::time::timeout(limit, provider.chat(probe)).await;
        let latency = self.inner.clock.now().saturating_duration_since(t0);
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
            let every = every.max(Duration::from_millis(1));
            let mut pace: Option<ProbePace> = None;
            loop {
                let jitter = {
                    let Some(inner) = weak.upgrade() else { return };
                    let mut rng = inner
                        .rng
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    0.8 + 0.4 * rng.random::<f64>()
                };
                let spacing = pace.as_ref().map_or(every, |p| p.spacing);
                tokio::time::sleep(spacing.mul_f64(jitter)).await;
                let Some(inner) = weak.upgrade() else { return };
                let router = SmartRouter { inner };
                let id = router.inner.targets[i].id.clone();
                let health = router.inner.knowledge.health(&id);
                if health.breaker == nb_breaker::BreakerState::Closed {
                    break;
                }
                let pace = pace.get_or_insert_with(|| {
                    ProbePace::new(
                        every,
                        router.inner.policy.attempt_timeout,
                        health.p95_latency,
                    )
                });
                let Ok(adm) = router.inner.knowledge.admit_recovery_probe(&id) else {
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
                inner
                    .recovering
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&i);
            }
        });
    }

    /// Records a recovery probe's outcome without starting another recovery loop.
    pub(super) fn observe_quiet(&self, i: usize, adm: Admission, latency: Duration, o: &Observed) {
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

    pub(super) async fn canary_once(&self, i: usize, prompt: &str, reference: &str) {
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
                self.observe_failure(i, Some(admission), latency, &c);
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
    pub(super) fn shadow(
        &self,
        call: &Call,
        served: usize,
        req: &ChatRequest,
        answer: &ChatResponse,
    ) {
        let Some(v) = &self.inner.vouching else {
            return;
        };
        if v.shadow_rate <= 0.0 {
            return;
        }
        // The rate follows the drift test: higher while a target is still learning.
        let rate = self
            .inner
            .agreement
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&served)
            .map_or(v.shadow_rate * 3.0, |a| a.shadow_rate(v.shadow_rate));
        let sample = self.sample(rate);
        // A reference target, where the route has one, is the independent comparison.
        let mut others = call
            .references
            .iter()
            .chain(&call.candidates)
            .copied()
            .filter(|&j| j != served);
        let Some(j) = others.next() else {
            return;
        };
        if !sample {
            return;
        }
        // A third target settles a disagreement: whoever it sides with was right, so a
        // drifting first choice is the one marked down, not the fallback it outvoted.
        let third = others.next();
        let router = self.clone();
        let req = req.clone();
        let answer = answer.text.clone();
        tokio::spawn(async move {
            router.shadow_once(served, j, third, &req, &answer).await;
        });
    }

    /// Asks `j` the question `served` answered; on a decided disagreement asks `third`,
    /// and records agreement for both sides by the majority.
    pub(super) async fn shadow_once(
        &self,
        served: usize,
        j: usize,
        third: Option<usize>,
        req: &ChatRequest,
        answer: &str,
    ) {
        let Some(v) = self.inner.vouching.clone() else {
            return;
        };
        let prompt = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == nb_core::Role::User)
            .map(nb_core::Message::text)
            .unwrap_or_default();
        let Some(b) = self.background_answer(j, req).await else {
            return;
        };
        let ab = v.equivalence.check(&prompt, answer, &b).await;
        match ab.outcome {
            Equiv::Equivalent => {
                self.record_agreement(served, true);
                self.record_agreement(j, true);
            }
            Equiv::NotEquivalent => {
                // With no third target to settle it, the first choice stays the
                // reference, as for canaries: the fallback loses agreement.
                let Some(k) = third else {
                    self.record_agreement(j, false);
                    return;
                };
                let Some(c) = self.background_answer(k, req).await else {
                    return;
                };
                let with_a = v.equivalence.check(&prompt, &c, answer).await.outcome;
                let with_b = v.equivalence.check(&prompt, &c, &b).await.outcome;
                match (with_a, with_b) {
                    (Equiv::Equivalent, _) => {
                        self.record_agreement(served, true);
                        self.record_agreement(j, false);
                    }
                    (_, Equiv::Equivalent) => {
                        tracing::info!(
                            target = %self.inner.targets[served].id,
                            "shadow sample: the first choice was outvoted"
                        );
                        self.record_agreement(served, false);
                        self.record_agreement(j, true);
                    }
                    _ => {}
                }
            }
            Equiv::Undecided => {}
        }
    }

    /// One answer from target `i` for background work (never a user's call), or none.
    async fn background_answer(&self, i: usize, req: &ChatRequest) -> Option<String> {
        let inner = &self.inner;
        let admission = inner.knowledge.admit(&inner.targets[i].id, 1).ok()?;
        let t0 = inner.clock.now();
        let provider = inner.targets[i].provider.clone();
        let result = tokio::time::timeout(inner.policy.attempt_timeout, provider.chat(req)).await;
        let latency = inner.clock.now().saturating_duration_since(t0);
        match result {
            Ok(Ok(resp)) => {
                self.observe(
                    i,
                    Some(admission),
                    latency,
                    &Observed::Success { budget_reset: None },
                );
                Some(resp.text)
            }
            Ok(Err(e)) => {
                let c = self.classify(&e);
                self.observe_failure(i, Some(admission), latency, &c);
                None
            }
            Err(_) => None,
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

    pub(super) fn record_agreement(&self, i: usize, agreed: bool) {
        let mut a = self
            .inner
            .agreement
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        a.entry(i).or_default().push(agreed);
    }

    /// Whether the drift test has a target on alert: its answers are vouched for before
    /// they are returned, until the test decides.
    pub(super) fn on_alert(&self, i: usize) -> bool {
        self.inner.vouching.is_some()
            && self
                .inner
                .agreement
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&i)
                .is_some_and(|a| a.state == Drift::Alert)
    }

    /// Whether a target is known to disagree too often to be failed over to: the drift
    /// test demoted it, or its recent agreement fell below `min_agreement`.
    pub(super) fn distrusted(&self, i: usize) -> bool {
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
        a.get(&i).is_some_and(|a| {
            a.state == Drift::Demoted
                || a.ratio()
                    .is_some_and(|(r, n)| n >= v.min_samples && r < v.min_agreement)
        })
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
