//! Vouching: an answer that did not come from the first choice is compared with an independent target's, with a tie-break.

use std::time::{Duration, Instant};

use nb_breaker::{Admission, Observed, Refusal};
use nb_classify::Disposition;
use nb_core::{AnswerCheck, CallError, ChatRequest, ChatResponse};
use nb_semantic::EquivalenceOutcome as Equiv;

use super::{Call, OnUnvouchable, Prefetched, SelfConsistency, SmartRouter, VouchMode};
use crate::report::{
    AttemptAt, AttemptOutcome, AttemptRole, CallReport, RouteError, RouteErrorKind, VerdictReport,
    WaitReason,
};

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
        let Some(v) = self.vouching() else {
            return Ok((idx, resp, AnswerCheck::Unchecked));
        };
        let question = nb_semantic::Question::of(req);
        call.report
            .evidence
            .push((self.inner.targets[idx].id.clone(), resp.text.clone()));
        call.excluded.insert(idx);
        call.vouch_used.insert(idx);
        let Some((j, reference, source)) = self.first_reference(call, idx, req).await else {
            // A target the drift test distrusts agreeing with itself proves nothing.
            if let Some(sc) = v.self_consistency.filter(|_| !self.last_resort(call, idx)) {
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
        call.report.verdict = Some(VerdictReport {
            from_cache: source == Source::Cache,
            ..VerdictReport::new(&verdict, &self.inner.targets[j].id)
        });
        // The first choice's own answer checked: evidence for the drift test.
        let under_test = call.candidates.first() == Some(&idx);
        if verdict.outcome == Equiv::Equivalent {
            if under_test {
                self.record_agreement(idx, true);
            }
            if source == Source::Distrusted {
                // A target that drifts agreed with an independent answer: evidence that
                // it came back.
                self.record_agreement(j, true);
            }
            return Ok((idx, resp, self.vouched_by(j)));
        }
        if source == Source::Distrusted {
            // A drifting target's disagreement contradicts nothing: unvouchable.
            let reason = "the only possible reference is a target the drift test distrusts, and \
                          it answered differently";
            return self.unvouchable(call, idx, resp, reason);
        }
        if v.tiebreak {
            let pair = Disputed {
                answer: (idx, &resp),
                reference: (j, &reference),
            };
            match self.tiebreak(call, checker, &question, pair, req).await {
                Some(Side::Answer(k)) => return Ok((idx, resp, self.vouched_by(k))),
                // A reference target never serves: its answer is not returned.
                Some(Side::Reference(k)) if !self.inner.targets[j].vouch_only => {
                    return Ok((j, reference, self.vouched_by(k)));
                }
                _ => {}
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

    /// The reference for the answer of target `idx`: one already paid for (asked beside
    /// the answer), else one that costs nothing (the cache's earlier answer from
    /// another target), else a new call to a trusted target — else, as a last resort, to
    /// one the drift test distrusts (its agreement counts; its disagreement does not).
    async fn first_reference(
        &self,
        call: &mut Call,
        idx: usize,
        req: &ChatRequest,
    ) -> Option<(usize, ChatResponse, Source)> {
        if let Some((j, r)) = self.take_prefetched(call) {
            return Some((j, r, Source::Asked));
        }
        if let Some((j, r)) = self.cached_reference(call, idx) {
            return Some((j, r, Source::Cache));
        }
        if let Some((j, r)) = self.reference_answer(call, req).await {
            return Some((j, r, Source::Asked));
        }
        call.distrusted_references = true;
        let found = self.reference_answer(call, req).await;
        call.distrusted_references = false;
        let (j, r) = found?;
        Some((j, r, Source::Distrusted))
    }

    /// The answer and its reference disagree: a third answer breaks the tie, and the
    /// side it agrees with (if either) wins. The third is another target's, else the
    /// answering target's own, asked again: siding with the reference, it contradicted
    /// itself. The drift test learns which side lost, whichever target it was — so a
    /// fallback that drifts is demoted, not only a first choice.
    async fn tiebreak(
        &self,
        call: &mut Call,
        checker: &dyn nb_semantic::Equivalence,
        question: &nb_semantic::Question<'_>,
        pair: Disputed<'_>,
        req: &ChatRequest,
    ) -> Option<Side> {
        let ((i, answer), (j, reference)) = (pair.answer, pair.reference);
        let (k, third) = self.third_opinion(call, i, req).await?;
        let with_answer = compare(call, checker, question, &third, answer).await;
        let with_reference = compare(call, checker, question, &third, reference).await;
        let (agree_a, agree_r) = (
            with_answer.outcome == Equiv::Equivalent,
            with_reference.outcome == Equiv::Equivalent,
        );
        if k == i {
            // The answering target asked again: agreeing with itself settles nothing;
            // siding with the reference, it contradicted its own answer.
            if !agree_r {
                return None;
            }
            self.record_agreement(i, false);
            self.record_agreement(j, true);
            let id = &self.inner.targets[i].id;
            call.report.verdict = Some(VerdictReport::new(&with_reference, id));
            return Some(Side::Reference(i));
        }
        // A majority of two independent targets attributes the disagreement: the drift
        // test learns of it, whichever target was the first choice.
        if agree_a != agree_r {
            self.record_agreement(i, agree_a);
            self.record_agreement(j, agree_r);
            self.record_agreement(k, true);
        }
        let id = &self.inner.targets[k].id;
        if agree_a {
            call.report.verdict = Some(VerdictReport::new(&with_answer, id));
            return Some(Side::Answer(k));
        }
        if agree_r {
            call.report.verdict = Some(VerdictReport::new(&with_reference, id));
            return Some(Side::Reference(k));
        }
        None
    }

    /// A third answer to break a tie: another target's, else — when no other target can
    /// answer — the answering target `i` asked once more (a target that answers
    /// differently when asked again contradicted itself).
    async fn third_opinion(
        &self,
        call: &mut Call,
        i: usize,
        req: &ChatRequest,
    ) -> Option<(usize, ChatResponse)> {
        if let Some(third) = self.reference_answer(call, req).await {
            return Some(third);
        }
        if call.attempts >= self.inner.policy.max_attempts + 2 {
            return None;
        }
        call.attempts += 1;
        let (sample, at, adm, latency) = self.sample_answer(call, i, req).await;
        let s = self.record_sample(call, i, sample, at, adm, latency)?;
        Some((i, s))
    }

    /// Records one more answer from target `i` (health, report, evidence); the answer,
    /// when it came.
    fn record_sample(
        &self,
        call: &mut Call,
        i: usize,
        sample: Result<ChatResponse, CallError>,
        at: AttemptAt,
        adm: Option<Admission>,
        latency: Duration,
    ) -> Option<ChatResponse> {
        match sample {
            Ok(s) => {
                self.observe(i, adm, latency, &Observed::Success { budget_reset: None });
                self.push_attempt(call, at, AttemptOutcome::Success, s.usage);
                call.report
                    .evidence
                    .push((self.inner.targets[i].id.clone(), s.text.clone()));
                Some(s)
            }
            Err(e) => {
                let c = self.classify(&e);
                self.observe_failure(i, adm, latency, &c);
                call.report.failed(at, &c, Disposition::FailOver, &e);
                None
            }
        }
    }

    /// The cache's earlier answer to this request, when another target (still
    /// configured) gave it: a reference that costs no upstream call.
    fn cached_reference(&self, call: &mut Call, idx: usize) -> Option<(usize, ChatResponse)> {
        let hit = *call.cached.take()?;
        let j = self.inner.targets.position(&hit.served_by)?;
        if j == idx || call.vouch_used.contains(&j) {
            return None;
        }
        call.vouch_used.insert(j);
        call.excluded.insert(j);
        call.report
            .evidence
            .push((hit.served_by, hit.response.text.clone()));
        Some((j, hit.response))
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
        let checker = self.vouching().map(|v| v.equivalence.clone());
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
            let Some(s) = self.record_sample(call, idx, sample, at, adm, latency) else {
                last.get_or_insert_with(|| {
                    "no independent target could vouch, and a self-consistency sample failed"
                        .to_owned()
                });
                continue;
            };
            let verdict = compare(call, checker.as_ref(), &question, &s, &resp).await;
            call.report.verdict = Some(VerdictReport::new(&verdict, &self.inner.targets[idx].id));
            if verdict.outcome != Equiv::Equivalent {
                last = Some(format!(
                    "the serving target, asked again, answered differently: {} ({})",
                    verdict.reason, verdict.method
                ));
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
        let t0 = self.now();
        let adm = self
            .inner
            .health
            .knowledge
            .admit(&self.inner.targets[idx].id, call.tokens);
        let (result, adm) = match adm {
            Ok(a) => (
                self.attempt(idx, req, call, t0)
                    .await
                    .and_then(|r| self.validate(call, r))
                    .map(|r| *r),
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
        let latency = self.now().saturating_duration_since(t0);
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
        // A last-resort answer is served only vouched for.
        let on_unvouchable = if self.last_resort(call, idx) {
            OnUnvouchable::Refuse
        } else {
            call.on_unvouchable
        };
        crate::telemetry::record_unvouchable(on_unvouchable);
        match on_unvouchable {
            OnUnvouchable::ServeFlagged => {
                tracing::info!(reason, "answer served flagged: nothing could vouch for it");
                Ok((idx, resp, AnswerCheck::Unvouchable))
            }
            OnUnvouchable::Refuse => Err(self.unvouched(call, resp, reason)),
        }
    }

    /// Whether target `idx` answered as a last resort: a fallback the drift test
    /// distrusts, asked because no trusted candidate could take the call.
    fn last_resort(&self, call: &Call, idx: usize) -> bool {
        call.candidates.first() != Some(&idx) && self.distrusted(idx)
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
            let wait = self.vouching().map_or(Duration::ZERO, |v| v.wait);
            let (j, adm) = match self.pick_reference(call) {
                Ok((j, a)) => (j, Some(a)),
                Err(Some((e, k))) => {
                    let now = self.now();
                    if e < call.deadline && e.saturating_duration_since(now) <= wait {
                        let left = e
                            .saturating_duration_since(now)
                            .max(Duration::from_millis(1));
                        self.sleep_within(call, left, WaitReason::Reference, k)
                            .await;
                        continue;
                    }
                    return None;
                }
                Err(None) => return None,
            };
            call.attempts += 1;
            call.excluded.insert(j);
            call.vouch_used.insert(j);
            let t0 = self.now();
            let result = self
                .attempt(j, req, call, t0)
                .await
                .and_then(|r| self.validate(call, r));
            let latency = self.now().saturating_duration_since(t0);
            let at = self.attempt_at(call.start, j, t0, latency, adm.as_ref(), AttemptRole::Vouch);
            match result {
                Ok(r) => {
                    self.observe(j, adm, latency, &Observed::Success { budget_reset: None });
                    self.push_attempt(call, at, AttemptOutcome::Success, r.usage);
                    call.report
                        .evidence
                        .push((self.inner.targets[j].id.clone(), r.text.clone()));
                    return Some((j, *r));
                }
                Err(e) => {
                    let c = self.classify(&e);
                    self.observe_failure(j, adm, latency, &c);
                    call.report.failed(at, &c, Disposition::FailOver, &e);
                }
            }
        }
    }

    /// The first possible reference that health admits now: not yet used in this
    /// call's vouching, trusted, with a large enough window. Else when the first may be
    /// admitted, and which (`None`: none may — a key, quota or model cooling down is not
    /// waited for: waiting does not heal it).
    fn pick_reference(&self, call: &Call) -> Result<(usize, Admission), Option<(Instant, usize)>> {
        // Independence means another target than those whose answers are compared —
        // not one that never failed in this call: a primary that failed on a transient
        // error can vouch, if health admits it.
        let reference_ok = |j: usize| {
            let trusted = call.candidates.first() == Some(&j) || !self.distrusted(j);
            !call.vouch_used.contains(&j)
                && trusted != call.distrusted_references
                && call
                    .min_window
                    .is_none_or(|w| self.window(j).is_none_or(|tw| tw > w))
        };
        let mut earliest: Option<(Instant, usize)> = None;
        let pool = call.references.iter().chain(&call.candidates);
        for &j in pool.filter(|&&j| reference_ok(j)) {
            let id = &self.inner.targets[j].id;
            match self.inner.health.knowledge.admit(id, call.tokens) {
                Ok(a) => return Ok((j, a)),
                Err(Refusal::CoolingDown { sticky: true, .. }) => {}
                Err(r) => {
                    if earliest.is_none_or(|(e, _)| r.until() < e) {
                        earliest = Some((r.until(), j));
                    }
                }
            }
        }
        Err(earliest)
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
                .health
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
                Some((j, *r))
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
                self.emit_attempt(&a);
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

/// Two answers that disagree: the one to vouch for and its reference, each with its
/// target.
struct Disputed<'a> {
    answer: (usize, &'a ChatResponse),
    reference: (usize, &'a ChatResponse),
}

/// The side of a dispute a third answer (from target `k`) agreed with.
enum Side {
    Answer(usize),
    Reference(usize),
}

/// Where a reference answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// A target asked in this call.
    Asked,
    /// The cache: another target's earlier answer to the same request.
    Cache,
    /// A target the drift test distrusts, asked as a last resort.
    Distrusted,
}
