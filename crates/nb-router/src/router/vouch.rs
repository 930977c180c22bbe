//! Vouching: an answer that did not come from the first choice is compared with an independent target's, with a tie-break.

use super::*;

/// Compares two answers ([`nb_semantic::check_answers`]), counting the checker's own
/// model calls (a judge's, an entailment model's) in the call's report.
async fn compare(
    call: &mut Call,
    checker: &dyn nb_semantic::Equivalence,
    question: &nb_semantic::Question<'_>,
    reference: &ChatResponse,
    candidate: &ChatResponse,
) -> nb_semantic::Verdict {
    let (verdict, spent) = nb_semantic::metered(nb_semantic::check_answers(
        checker, question, reference, candidate,
    ))
    .await;
    if spent.calls > 0 {
        call.report.checker.get_or_insert_default().add(&spent);
    }
    verdict
}

impl SmartRouter {
    /// Vouches for an answer that did not come from the first choice: asks an
    /// independent target the same question and requires the two answers to be
    /// equivalent; on disagreement, a third breaks the tie when allowed. An answer that
    /// cannot be vouched for is an error carrying the answers and the verdict.
    pub(super) async fn vouch(
        &self,
        call: &mut Call,
        idx: usize,
        resp: ChatResponse,
        req: &ChatRequest,
    ) -> Result<(usize, ChatResponse, AnswerCheck), RouteError> {
        let Some(v) = self.inner.vouching.clone() else {
            return Ok((idx, resp, AnswerCheck::Unchecked));
        };
        let question = nb_semantic::Question::of(req);
        call.report
            .evidence
            .push((self.inner.targets[idx].id.clone(), resp.text.clone()));
        call.excluded.insert(idx);
        call.vouch_used.insert(idx);
        let reference = match self.take_prefetched(call) {
            Some(r) => Some(r),
            None => self.reference_answer(call, req).await,
        };
        let Some((j, reference)) = reference else {
            if let Some(sc) = v.self_consistency {
                return Box::pin(self.self_consistent(call, idx, resp, req, sc)).await;
            }
            return self.unvouchable(
                call,
                idx,
                resp,
                "no independent target could be asked to vouch for the answer",
            );
        };
        // Tool calls and typed answers compare as data; text goes to the checker.
        let checker = v.equivalence.as_ref();
        let verdict = compare(call, checker, &question, &reference, &resp).await;
        call.report.verdict = Some(VerdictReport::new(&verdict, &self.inner.targets[j].id));
        // The first choice's own answer checked: evidence for the drift test.
        let under_test = call.candidates.first() == Some(&idx);
        if verdict.outcome == Equiv::Equivalent {
            if under_test {
                self.record_agreement(idx, true);
            }
            return Ok((idx, resp, self.vouched_by(j)));
        }
        if v.tiebreak {
            if let Some((k, third)) = self.reference_answer(call, req).await {
                let with_first = compare(call, checker, &question, &third, &resp).await;
                let with_second = compare(call, checker, &question, &third, &reference).await;
                if under_test && with_first.outcome == Equiv::Equivalent {
                    self.record_agreement(idx, true);
                    self.record_agreement(j, false);
                } else if under_test && with_second.outcome == Equiv::Equivalent {
                    self.record_agreement(idx, false);
                    self.record_agreement(j, true);
                }
                if with_first.outcome == Equiv::Equivalent {
                    call.report.verdict =
                        Some(VerdictReport::new(&with_first, &self.inner.targets[k].id));
                    return Ok((idx, resp, self.vouched_by(k)));
                }
                if with_second.outcome == Equiv::Equivalent {
                    call.report.verdict =
                        Some(VerdictReport::new(&with_second, &self.inner.targets[k].id));
                    // A reference target never serves: its answer is not returned.
                    if !self.inner.targets[j].vouch_only {
                        return Ok((j, reference, self.vouched_by(k)));
                    }
                }
            }
        }
        let reason = format!(
            "the answer could not be vouched for: {} ({})",
            verdict.reason, verdict.method
        );
        // Contradicted: refused, whatever the call allows. Undecided: nothing could vouch.
        if verdict.outcome == Equiv::NotEquivalent {
            return Err(self.unvouched(call, resp, &reason));
        }
        self.unvouchable(call, idx, resp, &reason)
    }

    /// The check an answer gets when target `j`'s answer agreed with it.
    fn vouched_by(&self, j: usize) -> AnswerCheck {
        if self.inner.targets[j].vouch_only {
            AnswerCheck::VouchedByReference
        } else {
            AnswerCheck::Vouched
        }
    }

    /// No independent target could vouch: the serving target `idx` is asked `samples`
    /// more times at a temperature above zero, and the answer is vouched for (weakly)
    /// when every sample agrees with it. A sample that disagrees, or that cannot be
    /// had, leaves the answer unvouchable.
    async fn self_consistent(
        &self,
        call: &mut Call,
        idx: usize,
        resp: ChatResponse,
        req: &ChatRequest,
        sc: SelfConsistency,
    ) -> Result<(usize, ChatResponse, AnswerCheck), RouteError> {
        let checker = self.inner.vouching.as_ref().map(|v| v.equivalence.clone());
        let Some(checker) = checker else {
            return Ok((idx, resp, AnswerCheck::Unchecked));
        };
        let question = nb_semantic::Question::of(req);
        let sample_req = req.clone().with_temperature(sc.temperature);
        let samples = futures_util::future::join_all(
            (0..sc.samples).map(|_| self.sample_answer(call, idx, &sample_req)),
        )
        .await;
        let mut last = None;
        for (sample, at, adm, latency) in samples {
            match sample {
                Ok(s) => {
                    self.observe(idx, adm, latency, &Observed::Success { budget_reset: None });
                    self.push_attempt(call, at, AttemptOutcome::Success, s.usage);
                    call.report
                        .evidence
                        .push((self.inner.targets[idx].id.clone(), s.text.clone()));
                    let verdict =
                        nb_semantic::check_answers(checker.as_ref(), &question, &s, &resp).await;
                    let agreed = verdict.outcome == Equiv::Equivalent;
                    call.report.verdict =
                        Some(VerdictReport::new(&verdict, &self.inner.targets[idx].id));
                    if !agreed {
                        last = Some(format!(
                            "the serving target, asked again, answered differently: {} ({})",
                            verdict.reason, verdict.method
                        ));
                    }
                }
                Err(e) => {
                    let c = self.classify(&e);
                    self.observe_failure(idx, adm, latency, &c);
                    call.report.failed(at, &c, Disposition::FailOver, &e);
                    last.get_or_insert_with(|| {
                        "no independent target could vouch, and a self-consistency sample failed"
                            .to_owned()
                    });
                }
            }
        }
        match last {
            None => Ok((idx, resp, AnswerCheck::SelfConsistent)),
            Some(reason) => self.unvouchable(call, idx, resp, &reason),
        }
    }

    /// One more answer from target `idx` for self-consistency: the attempt's result, its
    /// report line, its admission (`None` when health did not admit it) and latency.
    async fn sample_answer(
        &self,
        call: &Call,
        idx: usize,
        req: &ChatRequest,
    ) -> (
        Result<ChatResponse, CallError>,
        AttemptAt,
        Option<Admission>,
        Duration,
    ) {
        let t0 = self.inner.clock.now();
        let adm = self
            .inner
            .knowledge
            .admit(&self.inner.targets[idx].id, call.tokens);
        let (result, adm) = match adm {
            Ok(a) => (
                self.attempt(idx, req, call)
                    .await
                    .and_then(|r| self.validate(call, r)),
                Some(a),
            ),
            Err(r) => (
                Err(CallError::Unavailable {
                    reason: nb_core::Unavailability::OutOfRotation,
                    retry_after: Some(r.until().saturating_duration_since(t0)),
                }),
                None,
            ),
        };
        let latency = self.inner.clock.now().saturating_duration_since(t0);
        let at = self.attempt_at(
            call.start,
            idx,
            t0,
            latency,
            adm.as_ref(),
            AttemptRole::Vouch,
        );
        (result, at, adm, latency)
    }

    /// Nothing could vouch for the answer: served flagged, or refused, as the call says.
    fn unvouchable(
        &self,
        call: &mut Call,
        idx: usize,
        resp: ChatResponse,
        reason: &str,
    ) -> Result<(usize, ChatResponse, AnswerCheck), RouteError> {
        crate::telemetry::record_unvouchable(call.on_unvouchable);
        match call.on_unvouchable {
            OnUnvouchable::ServeFlagged => {
                tracing::info!(reason, "answer served flagged: nothing could vouch for it");
                Ok((idx, resp, AnswerCheck::Unvouchable))
            }
            OnUnvouchable::Refuse => Err(self.unvouched(call, resp, reason)),
        }
    }

    /// Asks the next admitted, not yet used candidate the same question, for an answer
    /// that passes the validators.
    pub(super) async fn reference_answer(
        &self,
        call: &mut Call,
        req: &ChatRequest,
    ) -> Option<(usize, ChatResponse)> {
        loop {
            // Vouching is a deliberate cost of requiring equivalence, not a retry storm: it
            // is not drawn from the retry budget, and may go two calls (a reference and a
            // tie-break) past the attempt limit, so retries spent on the way to an answer
            // do not leave it unvouchable. A reference target out of rotation is waited
            // for only briefly (`wait`).
            if call.attempts >= self.inner.policy.max_attempts + 2 {
                return None;
            }
            let wait = self
                .inner
                .vouching
                .as_ref()
                .map_or(Duration::ZERO, |v| v.wait);
            let mut earliest: Option<Instant> = None;
            let mut picked = None;
            // Independence means another target than those whose answers are compared —
            // not one that never failed in this call: a primary that failed on a
            // transient error can vouch, if health admits it.
            let reference_ok = |j: usize| {
                !call.vouch_used.contains(&j)
                    && (call.candidates.first() == Some(&j) || !self.distrusted(j))
                    && call
                        .min_window
                        .is_none_or(|w| self.window(j).is_none_or(|tw| tw > w))
            };
            let pool = call.references.iter().chain(&call.candidates);
            for &j in pool.filter(|&&j| reference_ok(j)) {
                match self
                    .inner
                    .knowledge
                    .admit(&self.inner.targets[j].id, call.tokens)
                {
                    Ok(a) => {
                        picked = Some((j, Some(a)));
                        break;
                    }
                    Err(r) => earliest = Some(earliest.map_or(r.until(), |e| e.min(r.until()))),
                }
            }
            let (j, adm) = match (picked, earliest) {
                (Some(p), _) => p,
                (None, Some(e)) => {
                    let now = self.inner.clock.now();
                    if e < call.deadline && e.saturating_duration_since(now) <= wait {
                        tokio::time::sleep(
                            e.saturating_duration_since(now)
                                .max(Duration::from_millis(1)),
                        )
                        .await;
                        continue;
                    }
                    return None;
                }
                (None, None) => return None,
            };
            call.attempts += 1;
            call.excluded.insert(j);
            call.vouch_used.insert(j);
            let t0 = self.inner.clock.now();
            let result = self
                .attempt(j, req, call)
                .await
                .and_then(|r| self.validate(call, r));
            let latency = self.inner.clock.now().saturating_duration_since(t0);
            let at = self.attempt_at(call.start, j, t0, latency, adm.as_ref(), AttemptRole::Vouch);
            match result {
                Ok(r) => {
                    self.observe(j, adm, latency, &Observed::Success { budget_reset: None });
                    self.push_attempt(call, at, AttemptOutcome::Success, r.usage);
                    call.report
                        .evidence
                        .push((self.inner.targets[j].id.clone(), r.text.clone()));
                    return Some((j, r));
                }
                Err(e) => {
                    let c = self.classify(&e);
                    self.observe_failure(j, adm, latency, &c);
                    call.report.failed(at, &c, Disposition::FailOver, &e);
                }
            }
        }
    }

    pub(super) fn unvouched(
        &self,
        call: &mut Call,
        resp: ChatResponse,
        reason: &str,
    ) -> RouteError {
        tracing::info!(reason, "answer refused: it could not be vouched for");
        let violation = nb_core::Violation::new(nb_core::ViolationKind::NotEquivalent, "", reason);
        let e = CallError::rejected(violation, resp);
        if call.report.first_error.is_none() {
            call.report.first_error = Some(e.clone());
        }
        call.report.last_error = Some(e);
        RouteError::new(RouteErrorKind::Unvouched, std::mem::take(&mut call.report))
    }

    /// When the attempt on target `i` is a failover whose answer vouching will check,
    /// admits a reference target to ask at the same time: another target, healthy,
    /// trusted, not yet used. It is taken out of the candidates for answers.
    pub(super) fn speculative_reference(
        &self,
        call: &mut Call,
        i: usize,
        repair: bool,
    ) -> Option<(usize, Option<Admission>)> {
        self.inner.vouching.as_ref()?;
        // Asked beside a failover attempt whose answer will be vouched for, and only
        // then: not when every answer is (the first attempt is no failover), not when none is.
        let failover = call.candidates.first() != Some(&i)
            && matches!(call.vouch, VouchMode::OnFailover | VouchMode::Sampled(_));
        if !failover || repair || call.prefetched.is_some() {
            return None;
        }
        let pool = call.references.iter().chain(&call.candidates);
        let picked = pool.copied().find_map(|j| {
            let ok = j != i
                && !call.vouch_used.contains(&j)
                && !call.excluded.contains(&j)
                && !self.distrusted(j)
                && call
                    .min_window
                    .is_none_or(|w| self.window(j).is_none_or(|tw| tw > w));
            if !ok {
                return None;
            }
            self.inner
                .knowledge
                .admit(&self.inner.targets[j].id, call.tokens)
                .ok()
                .map(|a| (j, Some(a)))
        })?;
        call.attempts += 1;
        call.excluded.insert(picked.0);
        Some(picked)
    }

    /// The reference asked beside the answer, validated and recorded, when it can serve.
    pub(super) fn take_prefetched(&self, call: &mut Call) -> Option<(usize, ChatResponse)> {
        let p = call.prefetched.take()?;
        let j = p.target;
        if call.vouch_used.contains(&j) {
            let start = call.start;
            self.settle_prefetched(*p, &mut call.report, start);
            return None;
        }
        call.vouch_used.insert(j);
        let result = p.result.and_then(|r| self.validate(call, r));
        let at = self.attempt_at(
            call.start,
            j,
            p.started,
            p.latency,
            p.admission.as_ref(),
            AttemptRole::Vouch,
        );
        match result {
            Ok(r) => {
                self.observe(
                    j,
                    p.admission,
                    p.latency,
                    &Observed::Success { budget_reset: None },
                );
                self.push_attempt(call, at, AttemptOutcome::Success, r.usage);
                call.report
                    .evidence
                    .push((self.inner.targets[j].id.clone(), r.text.clone()));
                Some((j, r))
            }
            Err(e) => {
                let c = self.classify(&e);
                self.observe_failure(j, p.admission, p.latency, &c);
                call.report.failed(at, &c, Disposition::FailOver, &e);
                None
            }
        }
    }

    /// Records a prefetched reference that was never used (the answer it was to check
    /// failed, or came from elsewhere): it was paid for, and it says something of its
    /// target's health.
    pub(super) fn settle_prefetched(&self, p: Prefetched, report: &mut CallReport, start: Instant) {
        let j = p.target;
        let at = self.attempt_at(
            start,
            j,
            p.started,
            p.latency,
            p.admission.as_ref(),
            AttemptRole::Vouch,
        );
        match p.result {
            Ok(r) => {
                self.observe(
                    j,
                    p.admission,
                    p.latency,
                    &Observed::Success { budget_reset: None },
                );
                let a = at.line(AttemptOutcome::Success, r.usage);
                self.emit(RouterEvent::Attempt(a.clone()));
                report.attempts.push(a);
            }
            Err(e) => {
                let c = self.classify(&e);
                self.observe_failure(j, p.admission, p.latency, &c);
                report.failed(at, &c, Disposition::FailOver, &e);
            }
        }
    }
}
