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

    /// One recovery probe that a hanging target cannot stall: a fresh request goes out
    /// every `every` until one of them answers (its own latency and outcome count) or
    /// `limit` passes (a timeout). A request sent before the target recovered says
    /// nothing about it now, so waiting on it alone would add up to `limit` to the
    /// recovery; at most `limit / every` requests are out at once.
    async fn staggered_probe(
        &self,
        i: usize,
        probe: &ChatRequest,
        every: Duration,
        limit: Duration,
    ) -> (Duration, Observed) {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let every = every.max(Duration::from_millis(1));
        let started = tokio::time::Instant::now();
        let deadline = started + limit;
        let provider = self.inner.targets[i].provider.clone();
        let mut out = FuturesUnordered::new();
        let mut next = started;
        loop {
            tokio::select! {
                biased;
                Some((sent, result)) = out.next() => {
                    let latency = tokio::time::Instant::now().saturating_duration_since(sent);
                    let observed = match result {
                        Ok(_) => Observed::Success { budget_reset: None },
                        Err(e) => {
                            let c = self.classify(&e);
                            Observed::Failure {
                                class: c.class,
                                scope: c.scope,
                                retry_after: c.retry_after,
                            }
                        }
                    };
                    return (latency, observed);
                }
                () = tokio::time::sleep_until(deadline) => {
                    return (
                        limit,
                        Observed::Failure {
                            class: nb_core::FailureClass::Timeout,
                            scope: nb_core::Scope::Target,
                            retry_after: None,
                        },
                    );
                }
                () = tokio::time::sleep_until(next), if next < deadline => {
                    let provider = provider.clone();
                    let probe = probe.clone();
                    out.push(async move {
                        let sent = tokio::time::Instant::now();
                        (sent, provider.chat(&probe).await)
                    });
                    next += every;
                }
            }
        }
    }

    /// While target `i`'s breaker is open, probes it in the background on a short
    /// jittered interval with a minimal real call; a passing probe closes the breaker.
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
                let limit = router.inner.policy.attempt_timeout.min(every * 8);
                let (latency, observed) = router.staggered_probe(i, &probe, every, limit).await;
                let passed = matches!(observed, Observed::Success { .. });
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
        // A third target settles a disagreement: whoever it sides with was right, so a
        // drifting first choice is the one marked down, not the fallback it outvoted.
        let third = call
            .candidates
            .iter()
            .copied()
            .find(|&k| k != served && k != j);
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

    /// Whether a target is known to disagree too often to be failed over to.
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
        a.get(&i)
            .and_then(Agreement::ratio)
            .is_some_and(|(r, n)| n >= v.min_samples && r < v.min_agreement)
    }
}
