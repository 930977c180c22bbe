//! Work the router does on its own to measure agreement, never inside a user's call:
//! canaries and shadow samples.

use std::time::Duration;

use nb_breaker::Observed;
use nb_core::{ChatRequest, ChatResponse, FailureClass, Scope};
use nb_semantic::{Equivalence as _, EquivalenceOutcome as Equiv};

use super::{Call, Canaries, HealthChecks, SmartRouter};

impl SmartRouter {
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
        let Ok(admission) = inner.health.knowledge.admit(&inner.targets[i].id, 1) else {
            return;
        };
        let t0 = inner.health.clock.now();
        let provider = inner.targets[i].provider.clone();
        let result = tokio::time::timeout(
            inner.policy.attempt_timeout,
            provider.chat(&ChatRequest::user(prompt)),
        )
        .await;
        let latency = inner.health.clock.now().saturating_duration_since(t0);
        match result {
            Ok(Ok(resp)) => {
                self.observe(
                    i,
                    Some(admission),
                    latency,
                    &Observed::Success { budget_reset: None },
                );
                let verdict = match self.vouching() {
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
                    class: FailureClass::Timeout,
                    scope: Scope::Target,
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
        if v.config.shadow_rate <= 0.0 {
            return;
        }
        // The rate follows the drift test: higher while a target is still learning.
        let rate = v.trust.shadow_rate(served, v.config.shadow_rate);
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
        let Some(v) = self.vouching() else {
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
        let admission = inner.health.knowledge.admit(&inner.targets[i].id, 1).ok()?;
        let t0 = inner.health.clock.now();
        let provider = inner.targets[i].provider.clone();
        let result = tokio::time::timeout(inner.policy.attempt_timeout, provider.chat(req)).await;
        let latency = inner.health.clock.now().saturating_duration_since(t0);
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
}
