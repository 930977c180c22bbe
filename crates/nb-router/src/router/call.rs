//! The call loop: plan, admit, attempt, classify, decide (retry, repair, fail over, abort), report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nb_breaker::{Admission, HealthEvent, Observed, TargetHealth};
use nb_classify::{Classification, Disposition, Failure, hint_from_headers};
use nb_core::{
    AnswerCheck, CachedAnswer, CallError, ChatRequest, ChatResponse, TargetId, TimeoutPhase,
};
use rand::Rng;
use tokio::sync::broadcast;
use tower::retry::budget::Budget as _;

use super::{
    AttemptFuture, AttemptResult, Call, CallOptions, Ended, Launched, Next, Prefetched,
    RouterEvent, SmartRouter, VouchMode, lock,
};
use crate::report::{
    AttemptAt, AttemptOutcome, AttemptReport, AttemptRole, CallReport, RouteError, RouteErrorKind,
    Routed, WaitReason, WaitReport,
};

/// What one ended attempt means for its call. (Not boxed: it lives on the stack for one
/// attempt, and boxing the answer would cost every healthy call an allocation.)
#[allow(clippy::large_enum_variant)]
enum Settled {
    /// It answered (validated).
    /// The target, its answer, and when the answer arrived.
    Answered(usize, Box<ChatResponse>, Instant),
    /// It failed, and the call goes on or stops.
    Failed(Next),
    /// Another attempt won; it was dropped.
    Cancelled,
}

impl SmartRouter {
    /// A draw with probability `p` from the router's seeded generator.
    pub(super) fn sample(&self, p: f64) -> bool {
        lock(&self.inner.rng).random::<f64>() < p
    }

    /// The vouching mode a call with `opts` gets: its own, else its route's, else the
    /// router's default (what the gateway compares a caller's `x-nb-vouch` with).
    pub fn vouch_mode_of(&self, opts: &CallOptions) -> VouchMode {
        self.vouch_mode(opts)
    }

    /// Subscribes to attempts, breaker transitions and cool-downs.
    pub fn subscribe(&self) -> broadcast::Receiver<RouterEvent> {
        self.inner.events.subscribe()
    }

    /// A snapshot of one target's health.
    pub fn health(&self, target: &TargetId) -> TargetHealth {
        self.inner.health.knowledge.health(target)
    }

    /// The targets, in the order added.
    pub fn targets(&self) -> impl Iterator<Item = &TargetId> {
        self.inner.targets.iter().map(|t| &t.id)
    }

    /// Routes a request on the default route.
    pub fn chat<'a>(
        &'a self,
        req: &'a ChatRequest,
    ) -> impl Future<Output = Result<Routed<ChatResponse>, RouteError>> + Send + 'a {
        self.chat_with(req, &super::options::NO_OPTIONS)
    }

    /// Runs one call — `call(start)`, `start` the instant it begins, which its plan
    /// takes as its own — inside its span (entered only while the call runs, so other
    /// tasks' events are never attributed to it), then records its outcome on the span
    /// and in the metrics, and how long a failure took.
    pub(super) async fn observed<T, F>(
        &self,
        opts: &CallOptions,
        call: impl FnOnce(Instant) -> F,
    ) -> Result<Routed<T>, RouteError>
    where
        F: Future<Output = Result<Routed<T>, RouteError>>,
    {
        use tracing::Instrument as _;
        let span = crate::telemetry::call_span(opts.route.as_deref().unwrap_or("default"));
        let start = self.inner.health.clock.now();
        let mut out = call(start).instrument(span.clone()).await;
        // In place: the answer is not moved into a new `Result` on its way out.
        if let Err(e) = &mut out {
            self.set_elapsed(e, start);
        }
        let (report, error): (&CallReport, Option<RouteErrorKind>) = match &out {
            Ok(r) => (&r.report, None),
            Err(e) => (&*e.report, Some(e.kind())),
        };
        crate::telemetry::record_call(&span, report, error.map(|k| format!("{k:?}")).as_deref());
        crate::telemetry::record_call_metrics(report, error);
        out
    }

    /// Sets how long a failed call took, when the failure path did not.
    pub(super) fn set_elapsed(&self, e: &mut RouteError, start: Instant) {
        if e.report.elapsed.is_zero() {
            e.report.elapsed = self
                .inner
                .health
                .clock
                .now()
                .saturating_duration_since(start);
        }
    }

    /// One call's loop: the next admitted target is asked (hedged, or with a vouching
    /// reference beside it), each ended attempt is settled, and the first answer is
    /// checked and returned — or the failure that stopped the call.
    pub(super) async fn chat_within(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
        cached: Option<Box<CachedAnswer>>,
        start: Instant,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        let mut call = self.plan(req, opts, start)?;
        call.cached = cached;
        self.inner.budget.deposit();
        let mut wait = None;
        loop {
            let (i, admission, admitted) = self.next_attempt(&mut call, wait.take()).await?;
            // A repair re-asks the same target with the violation explained.
            let repaired = call.repair.take().filter(|(t, _)| *t == i).map(|(_, r)| r);
            let role = if repaired.is_some() {
                AttemptRole::Repair
            } else {
                AttemptRole::Answer
            };
            let req_i: &ChatRequest = repaired.as_deref().unwrap_or(req);
            // Started when admitted: nothing was awaited since (the clock is read once).
            let launched = Launched {
                target: i,
                admission,
                started: admitted,
            };
            let ended = self
                .launch(&mut call, launched, req, req_i, repaired.is_some())
                .await;
            // In a block of its own: the answer and the settled attempts are gone from
            // the call's state before it waits for vouching (a local still in scope at
            // an await is kept in the future, moved from or not).
            let vouching = {
                let mut next = None;
                for e in ended {
                    let role = if e.hedge { AttemptRole::Hedge } else { role };
                    match self.settle(&mut call, e, role, req_i) {
                        // An answer wins over another attempt's failure.
                        Settled::Answered(idx, resp, at) => next = Some(Ok((idx, resp, at))),
                        Settled::Failed(Next::Continue(w)) => wait = wait.max(w),
                        Settled::Failed(Next::Stop(err)) => next = next.or(Some(Err(*err))),
                        Settled::Cancelled => {}
                    }
                }
                let (idx, resp, answered) = match next {
                    Some(Ok(answer)) => answer,
                    Some(Err(e)) => return Err(self.fail(call, e)),
                    None => continue,
                };
                match self.check_needed(&call, idx, req, &resp) {
                    // Unchecked or checked without waiting: the call ended as the answer
                    // arrived (the validators' microseconds aside).
                    Some(check) => {
                        return Ok(self.finish(&mut call, idx, *resp, check, Some(answered)));
                    }
                    // Boxed: vouching's state is only held by the calls that vouch.
                    None => Box::pin(self.vouch(&mut call, idx, *resp, req)),
                }
            };
            return match vouching.await {
                Ok((winner, resp, check)) => Ok(self.finish(&mut call, winner, resp, check, None)),
                Err(e) => Err(self.fail(call, e)),
            };
        }
    }

    /// Sends attempt `launched`: hedged when the policy hedges, with a vouching reference
    /// asked beside it when its answer will need one, or alone.
    async fn launch(
        &self,
        call: &mut Call,
        launched: Launched,
        req: &ChatRequest,
        req_i: &ChatRequest,
        repair: bool,
    ) -> Vec<Ended> {
        let i = launched.target;
        let primary = self.attempt(i, req_i, call, launched.started);
        if let Some(delay) = self.hedge_delay(i).filter(|_| !repair) {
            // Boxed: a hedge's state is only held while one is raced.
            return Box::pin(self.race(launched, primary, delay, req_i, call)).await;
        }
        // A failover answer will need vouching: its reference is asked now, at the same
        // time, not after the answer arrives.
        let Some((j, adm_j)) = self.speculative_reference(call, i, repair) else {
            return vec![Ended::new(launched, false, Some(primary.await))];
        };
        // Boxed: only failovers that vouch hold two attempts' state.
        Box::pin(self.with_reference(call, launched, primary, (j, adm_j), req)).await
    }

    /// Runs attempt `launched` and, at the same time, target `j` as the reference its
    /// answer will be vouched against.
    async fn with_reference(
        &self,
        call: &mut Call,
        launched: Launched,
        primary: AttemptFuture<'_>,
        (j, adm_j): (usize, Option<Admission>),
        req: &ChatRequest,
    ) -> Vec<Ended> {
        let t_ref = self.now();
        let reference = self.attempt(j, req, call, t_ref);
        let (answer, reference) = futures_util::future::join(primary, reference).await;
        if answer.is_err() && reference.is_ok() && !self.inner.targets[j].vouch_only {
            // The failover attempt failed but the reference asked beside it answered:
            // that answer was paid for, and it is as good a failover answer as any —
            // served, and vouched for, as one.
            let asked = Launched {
                target: j,
                admission: adm_j,
                started: t_ref,
            };
            return vec![
                Ended::new(launched, false, Some(answer)),
                Ended::new(asked, false, Some(reference)),
            ];
        }
        call.prefetched = Some(Box::new(Prefetched {
            target: j,
            admission: adm_j,
            started: t_ref,
            latency: self.now().saturating_duration_since(t_ref),
            result: reference,
        }));
        vec![Ended::new(launched, false, Some(answer))]
    }

    /// How long to wait before hedging an attempt on target `i` (`None`: no hedging).
    fn hedge_delay(&self, i: usize) -> Option<Duration> {
        let h = self.inner.policy.hedging?;
        Some(h.fixed_delay.unwrap_or_else(|| {
            let p95 = self
                .inner
                .health
                .knowledge
                .health(&self.inner.targets[i].id)
                .p95_latency;
            p95.map_or(h.min_delay, |p| p.max(h.min_delay))
        }))
    }

    /// Records one ended attempt — health, report line, validation, classification —
    /// and says what it means for the call.
    fn settle(&self, call: &mut Call, e: Ended, role: AttemptRole, req: &ChatRequest) -> Settled {
        let Launched {
            target: idx,
            admission: adm,
            started: t0,
        } = e.launched;
        let ended = self.now();
        let latency = ended.saturating_duration_since(t0);
        let at = self.attempt_at(call.start, idx, t0, latency, adm.as_ref(), role);
        // An answer a validator rejects is a failure like any other.
        match e
            .result
            .map(|r| r.and_then(|resp| self.validate(call, resp)))
        {
            None => {
                self.observe(idx, adm, latency, &Observed::Cancelled);
                let at = AttemptAt { probe: false, ..at };
                self.push_attempt(call, at, AttemptOutcome::Cancelled, None);
                Settled::Cancelled
            }
            Some(Ok(resp)) => {
                let budget_reset = resp
                    .headers
                    .as_ref()
                    .and_then(|h| hint_from_headers(h, std::time::SystemTime::now()));
                self.observe(idx, adm, latency, &Observed::Success { budget_reset });
                self.push_attempt(call, at, AttemptOutcome::Success, resp.usage);
                Settled::Answered(idx, resp, ended)
            }
            Some(Err(err)) => {
                let c = self.classify(&err);
                self.observe_failure(idx, adm, latency, &c);
                Settled::Failed(self.absorb(call, idx, at, &c, &err, req))
            }
        }
    }

    /// How the call's answer, from target `idx`, is checked: `Some` when it comes back
    /// as it is — the first choice's, or a failover answer nobody is to vouch for
    /// (unchecked, and counted) — `None` when it must be vouched for first (a failover
    /// answer; or the call vouches for every answer, samples this one, or the drift test
    /// has the first choice on alert). A first-choice answer may be shadow-sampled.
    fn check_needed(
        &self,
        call: &Call,
        idx: usize,
        req: &ChatRequest,
        resp: &ChatResponse,
    ) -> Option<AnswerCheck> {
        let failover = call.first_target.is_some_and(|f| f != idx)
            || call.candidates.first() != Some(&idx)
            || self.distrusted(idx)
            || self.on_alert(idx);
        let vouch_needed = self.inner.vouching.is_some()
            && match call.vouch {
                VouchMode::Always => true,
                VouchMode::OnFailover => failover,
                VouchMode::Sampled(p) => failover || self.sample(p),
                VouchMode::Off => false,
            };
        if call.candidates.first() == Some(&idx) {
            self.shadow(call, idx, req, resp);
        }
        if vouch_needed {
            return None;
        }
        // A failover answer nobody was asked to check says so.
        Some(if failover {
            crate::telemetry::record_unchecked();
            AnswerCheck::Unchecked
        } else {
            AnswerCheck::FirstChoice
        })
    }

    /// Checks an answer: an answer a safety filter withheld is no answer, in every wire
    /// format (whatever validators are configured); then the router's validators, its
    /// route's and the call's.
    pub(super) fn validate(&self, call: &Call, resp: Box<ChatResponse>) -> AttemptResult {
        let withheld = resp.finish_reason == nb_core::FinishReason::ContentFilter
            && resp.text.trim().is_empty()
            && resp.tool_calls.is_empty();
        if withheld {
            let v = nb_core::Violation::new(
                nb_core::ViolationKind::Refusal,
                "",
                "a safety filter withheld the answer",
            );
            return Err(CallError::rejected(v, *resp));
        }
        match nb_guard::check(&self.inner.validators, &resp)
            .and_then(|()| nb_guard::check(&call.validators, &resp))
        {
            Ok(()) => Ok(resp),
            Err(v) => Err(CallError::rejected(v, *resp)),
        }
    }

    /// Adds an ended attempt's line to the call's report and tells subscribers.
    pub(super) fn push_attempt(
        &self,
        call: &mut Call,
        at: AttemptAt,
        outcome: AttemptOutcome,
        usage: Option<nb_core::Usage>,
    ) {
        let a = at.line(outcome, usage);
        self.emit_attempt(&a);
        call.report.attempts.push(a);
    }

    pub(super) fn attempt<'a>(
        &'a self,
        i: usize,
        req: &'a ChatRequest,
        call: &Call,
        now: Instant,
    ) -> AttemptFuture<'a> {
        let inner = &self.inner;
        let until_deadline = call.deadline.saturating_duration_since(now);
        // When less than two full attempts' time is left and another candidate could
        // still answer, this attempt gets half of it: a hang on the first choice leaves
        // room to fail over inside a short deadline (an outer `tower::timeout`, say)
        // instead of spending all of it waiting.
        let another = call.attempts < inner.policy.max_attempts
            && call
                .candidates
                .iter()
                .any(|&j| j != i && !call.excluded.contains(&j));
        let share = if another && until_deadline < inner.policy.attempt_timeout * 2 {
            until_deadline / 2
        } else {
            until_deadline
        };
        let limit = inner.policy.attempt_timeout.min(share);
        let phase = if limit == until_deadline && limit < inner.policy.attempt_timeout {
            TimeoutPhase::Total
        } else {
            TimeoutPhase::FirstByte
        };
        let provider = inner.targets[i].provider.clone();
        let span = crate::telemetry::attempt_span(&inner.targets[i].id);
        Box::pin(async move {
            use tracing::Instrument as _;
            let answer = async move { provider.chat(req).await.map(Box::new) };
            // On tokio's clock, from when it is first polled: the router's clock (`now`)
            // may be another one (a test's manual clock).
            match tokio::time::timeout(limit, answer.instrument(span)).await {
                Ok(r) => r,
                Err(_) => Err(CallError::timeout(phase)),
            }
        })
    }

    pub(super) fn classify(&self, e: &CallError) -> Classification {
        nb_classify::classify_with(self.inner.classifier.as_ref(), Failure::Call(e))
    }

    pub(super) fn observe(
        &self,
        i: usize,
        adm: Option<Admission>,
        latency: Duration,
        o: &Observed,
    ) {
        let Some(adm) = adm else { return };
        for ev in self
            .inner
            .health
            .knowledge
            .record(&self.inner.targets[i].id, adm, latency, o)
        {
            match &ev {
                HealthEvent::Breaker { target, transition } => {
                    tracing::info!(%target, from = %transition.from, to = %transition.to, cause = %transition.cause, "breaker transition");
                    if transition.to == nb_breaker::BreakerState::Open {
                        self.spawn_recovery(i);
                    }
                }
                HealthEvent::Cooldown { key, until, cause } => {
                    let left = until.saturating_duration_since(self.inner.health.clock.now());
                    tracing::info!(scope = ?key, ?left, cause = ?cause, "cool-down");
                }
            }
            self.emit(RouterEvent::Health(ev));
        }
    }

    /// Records a failed attempt's classification in the health store.
    pub(super) fn observe_failure(
        &self,
        i: usize,
        adm: Option<Admission>,
        latency: Duration,
        c: &Classification,
    ) {
        self.observe(
            i,
            adm,
            latency,
            &Observed::Failure {
                class: c.class,
                scope: c.scope,
                retry_after: c.retry_after,
            },
        );
    }

    pub(super) fn emit(&self, e: RouterEvent) {
        match &e {
            RouterEvent::Attempt(a) => self.record_attempt(a),
            RouterEvent::Health(HealthEvent::Breaker { target, transition }) => {
                crate::telemetry::record_transition(target, transition.to);
            }
            RouterEvent::RecoveryProbe { target, passed, .. } => {
                crate::telemetry::record_probe(target, *passed);
            }
            _ => {}
        }
        // No subscriber is not an error.
        let _ = self.inner.events.send(e);
    }

    /// Tells subscribers, if any, of an attempt (the line is cloned only for them).
    pub(super) fn emit_attempt(&self, a: &AttemptReport) {
        self.record_attempt(a);
        if self.inner.events.receiver_count() > 0 {
            let _ = self.inner.events.send(RouterEvent::Attempt(a.clone()));
        }
    }

    /// Records an attempt's metrics with its target's shared label values.
    fn record_attempt(&self, a: &AttemptReport) {
        let targets = &self.inner.targets;
        match targets.position(&a.target) {
            Some(i) => crate::telemetry::record_attempt(a, &targets.labels[i]),
            None => {
                crate::telemetry::record_attempt(a, &crate::telemetry::TargetLabels::new(&a.target))
            }
        }
    }

    /// Decides what a failure means for this call.
    pub(super) fn absorb(
        &self,
        call: &mut Call,
        i: usize,
        at: AttemptAt,
        c: &Classification,
        e: &CallError,
        req: &ChatRequest,
    ) -> Next {
        let target = at.target.clone();
        call.first_target.get_or_insert(i);
        let retries = call.retries.get(&i).copied().unwrap_or(0);
        let (disposition, repair) = self.decide(call, c, e, req, retries);
        let Some(disposition) = self.pay(call, disposition) else {
            call.report.failed(at, c, disposition, e);
            self.emit_last_attempt(call);
            let report = std::mem::take(&mut call.report);
            return Next::Stop(Box::new(RouteError::new(
                RouteErrorKind::BudgetExhausted,
                report,
            )));
        };
        tracing::debug!(%target, class = %c.class, %disposition, reason = ?c.reason, "attempt failed");
        if matches!(
            disposition,
            Disposition::FailOver | Disposition::FailOverLargerContext
        ) {
            tracing::info!(%target, class = %c.class, reason = ?c.reason, "failing over");
            call.failed_over = true;
        }
        call.report.failed(at, c, disposition, e);
        self.emit_last_attempt(call);
        match disposition {
            Disposition::Abort => {
                let report = std::mem::take(&mut call.report);
                Next::Stop(Box::new(RouteError::new(RouteErrorKind::Aborted, report)))
            }
            Disposition::Repair => {
                call.repairs += 1;
                call.report.repairs = call.repairs;
                call.repair = repair.map(|r| (i, Arc::new(r)));
                Next::Continue(None)
            }
            Disposition::RetryHere => {
                call.retries.insert(i, retries + 1);
                let wait = c.retry_after.unwrap_or_else(|| self.backoff(retries));
                Next::Continue(Some(wait))
            }
            Disposition::FailOverLargerContext => {
                call.excluded.insert(i);
                self.learn_window(call, i, e);
                Next::Continue(None)
            }
            _ => {
                call.excluded.insert(i);
                Next::Continue(None)
            }
        }
    }

    /// Pays for what the call does next out of the retry budget, which limits retries,
    /// not the move away from a failing target: a call's first failover is free (an
    /// outage of one target costs no call even while retries have drained the budget),
    /// and a retry here that the budget refuses becomes that move. Later failovers,
    /// retries and repairs draw on the budget; an outage of every target is bounded by
    /// the breakers, which stop sending to targets that keep failing. `None`: the budget
    /// refused it.
    fn pay(&self, call: &Call, disposition: Disposition) -> Option<Disposition> {
        let first_move = !call.failed_over;
        match disposition {
            Disposition::Abort => Some(disposition),
            Disposition::FailOver | Disposition::FailOverLargerContext if first_move => {
                Some(disposition)
            }
            _ if self.inner.budget.withdraw() => Some(disposition),
            Disposition::RetryHere | Disposition::Repair if first_move => {
                Some(Disposition::FailOver)
            }
            _ => None,
        }
    }

    /// Tells subscribers of the call's last attempt line.
    fn emit_last_attempt(&self, call: &Call) {
        if let Some(a) = call.report.attempts.last() {
            self.emit_attempt(a);
        }
    }

    /// What the call does about a failure classified `c`: the classifier's disposition,
    /// unless the call has no round left for it — a repair needs the rejected answer and
    /// a repair round, a retry here a retry left on this target; otherwise it fails
    /// over. With the repair request when it repairs.
    fn decide(
        &self,
        call: &Call,
        c: &Classification,
        e: &CallError,
        req: &ChatRequest,
        retries: u32,
    ) -> (Disposition, Option<ChatRequest>) {
        let p = &self.inner.policy;
        let repair = match (c.disposition, e) {
            (Disposition::Repair, CallError::Rejected(r)) if call.repairs < p.max_repairs => {
                Some(nb_guard::repair_request(req, &r.response, &r.violation))
            }
            _ => None,
        };
        let disposition = match c.disposition {
            Disposition::Repair if repair.is_none() => Disposition::FailOver,
            Disposition::RetryHere if retries >= p.max_retries_per_target => Disposition::FailOver,
            d => d,
        };
        (disposition, repair)
    }

    /// A full-jitter exponential backoff before retry number `retries + 1`.
    fn backoff(&self, retries: u32) -> Duration {
        let p = &self.inner.policy;
        let cap = p
            .backoff_max
            .min(p.backoff_base.saturating_mul(1 << retries.min(16)));
        cap.mul_f64(lock(&self.inner.rng).random::<f64>())
    }

    /// Target `i` rejected the request as too long: its rejection says the limit (and
    /// often the request's true size). The limit is remembered for the target — in the
    /// health store, which tells other replicas too — and the call now needs a target
    /// with a larger window.
    fn learn_window(&self, call: &mut Call, i: usize, e: &CallError) {
        let msg = e
            .provider_error()
            .and_then(|p| p.message.as_deref())
            .unwrap_or_default();
        let (limit, size) = nb_classify::context_sizes(msg);
        let target = &self.inner.targets[i];
        if let Some(l) = limit {
            self.inner.health.knowledge.learn_window(&target.id, l);
        }
        let needed = limit
            .or(target.context_window)
            .unwrap_or(call.prompt_tokens)
            .max(size.unwrap_or(0).saturating_sub(1));
        call.min_window = Some(call.min_window.map_or(needed, |w| w.max(needed)));
    }

    /// Waits `d` (never past the call's deadline) for target `i`, and says so in the
    /// report.
    pub(super) async fn sleep_within(
        &self,
        call: &mut Call,
        d: Duration,
        reason: WaitReason,
        i: usize,
    ) {
        let left = call.deadline.saturating_duration_since(self.now());
        let waited = d.min(left);
        tokio::time::sleep(waited).await;
        call.report.waits.push(WaitReport {
            reason,
            target: self.inner.targets[i].id.clone(),
            waited,
        });
    }

    /// The call's answer with its report. (`call` is borrowed, not moved: its report is
    /// taken out of it, the rest of its state is not copied once more.)
    pub(super) fn finish(
        &self,
        call: &mut Call,
        i: usize,
        resp: ChatResponse,
        check: AnswerCheck,
        ended: Option<Instant>,
    ) -> Routed<ChatResponse> {
        call.report.check = check;
        if let Some(p) = call.prefetched.take() {
            let start = call.start;
            self.settle_prefetched(*p, &mut call.report, start);
        }
        let t = &self.inner.targets[i];
        call.report.served_by = Some(t.id.clone());
        // Whenever the answer did not come from the first planned target: a first choice
        // skipped because it was cooling down counts as a failover too.
        call.report.failed_over = call.candidates.first().is_some_and(|&f| f != i);
        call.report.usage = resp.usage;
        call.report.cost = match (t.cost, resp.usage) {
            (Some(c), Some(u)) => Some(c.price(&u)),
            _ => None,
        };
        call.report.total_cost = self.total_cost(&call.report);
        call.report.elapsed = ended
            .unwrap_or_else(|| self.now())
            .saturating_duration_since(call.start);
        Routed {
            value: resp,
            report: std::mem::take(&mut call.report),
        }
    }

    pub(super) fn fail(&self, mut call: Call, mut e: RouteError) -> RouteError {
        if let Some(p) = call.prefetched.take() {
            self.settle_prefetched(*p, &mut e.report, call.start);
        }
        e.report.elapsed = self
            .inner
            .health
            .clock
            .now()
            .saturating_duration_since(call.start);
        e.report.total_cost = self.total_cost(&e.report);
        e
    }

    /// What every upstream call in `report` cost, at its target's prices.
    pub(super) fn total_cost(&self, report: &CallReport) -> Option<f64> {
        if !self.inner.targets.priced {
            return None;
        }
        let mut total = None;
        for a in &report.attempts {
            let (Some(u), Some(i)) = (a.usage, self.inner.targets.position(&a.target)) else {
                continue;
            };
            if let Some(c) = self.inner.targets[i].cost {
                *total.get_or_insert(0.0) += c.price(&u);
            }
        }
        total
    }
}

#[cfg(test)]
mod state_size {
    //! Every in-flight call holds this state (in its task and one boxed future): the
    //! memory bench (`tests/memory.rs`) measures the whole; these bounds say which part
    //! grew when it does.
    use super::*;

    struct Up;

    #[async_trait::async_trait]
    impl nb_core::Provider for Up {
        async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
            Ok(ChatResponse::text("x"))
        }
    }

    #[test]
    fn a_calls_state_stays_small() {
        let r = SmartRouter::builder()
            .target(crate::Target::new(TargetId::new("a", "m"), Up))
            .build()
            .unwrap();
        let req = ChatRequest::user("x");
        let opts = CallOptions::default();
        let mut call = r.plan(&req, &opts, std::time::Instant::now()).unwrap();
        let sizes = [
            ("Call", std::mem::size_of::<Call>(), 1024),
            (
                "chat_within",
                std::mem::size_of_val(&r.chat_within(&req, &opts, None, std::time::Instant::now())),
                2048,
            ),
            (
                "chat_with",
                std::mem::size_of_val(&r.chat_with(&req, &opts)),
                1536,
            ),
            (
                "next_attempt",
                std::mem::size_of_val(&r.next_attempt(&mut call, None)),
                512,
            ),
        ];
        for (what, size, bound) in sizes {
            eprintln!("{what}: {size} bytes (at most {bound})");
            assert!(size <= bound, "{what} is {size} bytes, over {bound}");
        }
    }
}
