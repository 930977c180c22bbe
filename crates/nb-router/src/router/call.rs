//! The call loop: plan, admit, attempt, classify, decide (retry, repair, fail over, abort), report.

use super::*;

impl SmartRouter {
    /// A builder with tokio's clock ([`TokioClock`](crate::TokioClock)), default policies and the default classifier.
    pub fn builder() -> RouterBuilder {
        RouterBuilder {
            targets: Vec::new(),
            routes: Vec::new(),
            strategy: Strategy::default(),
            policy: Policy::default(),
            breaker: BreakerConfig::default(),
            cooldowns: CooldownPolicy::default(),
            pacing: HashMap::new(),
            classifier: None,
            knowledge: None,
            clock: Arc::new(crate::TokioClock),
            seed: 0,
            validators: Vec::new(),
            vouching: None,
            cache: None,
            cache_routes: HashMap::new(),
            route_vouch: HashMap::new(),
            route_validators: HashMap::new(),
        }
    }

    /// A draw with probability `p` from the router's seeded generator.
    pub(super) fn sample(&self, p: f64) -> bool {
        let mut rng = self
            .inner
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        rng.random::<f64>() < p
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
        self.inner.knowledge.health(target)
    }

    /// The targets, in the order added.
    pub fn targets(&self) -> impl Iterator<Item = &TargetId> {
        self.inner.targets.iter().map(|t| &t.id)
    }

    /// Routes a request on the default route.
    pub async fn chat(&self, req: &ChatRequest) -> Result<Routed<ChatResponse>, RouteError> {
        self.chat_with(req, &CallOptions::default()).await
    }

    /// Routes a request with per-call options.
    pub async fn chat_with(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        let cached = self.cache_for(req, opts);
        if let Some((cache, key, _)) = &cached {
            // An entry is served only to a call whose vouching it meets.
            let mode = self.vouch_mode(opts);
            match cache
                .get(key)
                .await
                .filter(|hit| crate::cache::serves(hit.check, mode))
            {
                Some(hit) => {
                    crate::telemetry::record_cache(true);
                    let report = CallReport {
                        served_by: Some(hit.served_by),
                        cache_hit: true,
                        check: hit.check,
                        ..CallReport::default()
                    };
                    return Ok(Routed {
                        value: hit.response,
                        report,
                    });
                }
                None => crate::telemetry::record_cache(false),
            }
        }
        // Boxed: passed by value into `observed`, the call's state would be held twice.
        let out = self
            .observed(opts, Box::pin(self.chat_within(req, opts)))
            .await;
        if let (Some((cache, key, ttl)), Ok(r)) = (cached, &out) {
            // Only answers nobody doubted are stored: the first choice's or a vouched one.
            let keep = matches!(
                r.report.check,
                AnswerCheck::FirstChoice
                    | AnswerCheck::Vouched
                    | AnswerCheck::VouchedByReference
                    | AnswerCheck::SelfConsistent
            );
            if let (true, Some(t)) = (keep, &r.report.served_by) {
                let answer = crate::CachedAnswer::new(t.clone(), r.value.clone(), r.report.check);
                let put = async move { cache.put(&key, &answer, ttl).await };
                match tokio::runtime::Handle::try_current() {
                    Ok(h) => {
                        h.spawn(put);
                    }
                    Err(_) => put.await,
                }
            }
        }
        out
    }

    /// The cache, key and time to live for this call, if its route opted in (a call with
    /// validators of its own bypasses the cache: a stored answer was not checked by them).
    fn cache_for(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Option<(Arc<dyn crate::AnswerCache>, String, Duration)> {
        let cache = self.inner.cache.as_ref()?;
        if !opts.validators.is_empty() {
            return None;
        }
        let route = opts.route.as_deref().unwrap_or("default");
        let ttl = *self.inner.cache_routes.get(route)?;
        let scope = opts.cache_scope.as_deref().unwrap_or("");
        Some((cache.clone(), crate::cache_key(scope, route, req), ttl))
    }

    /// Runs one call inside its span (entered only while the call runs, so other tasks'
    /// events are never attributed to it), then records its outcome on the span and in
    /// the metrics, and how long a failure took.
    pub(super) async fn observed<T>(
        &self,
        opts: &CallOptions,
        call: impl Future<Output = Result<Routed<T>, RouteError>>,
    ) -> Result<Routed<T>, RouteError> {
        use tracing::Instrument as _;
        let span = crate::telemetry::call_span(opts.route.as_deref().unwrap_or("default"));
        let start = self.inner.clock.now();
        let out = call
            .instrument(span.clone())
            .await
            .map_err(|e| self.with_elapsed(e, start));
        let (report, error): (&CallReport, Option<RouteErrorKind>) = match &out {
            Ok(r) => (&r.report, None),
            Err(e) => (&*e.report, Some(e.kind())),
        };
        crate::telemetry::record_call(&span, report, error.map(|k| format!("{k:?}")).as_deref());
        crate::telemetry::record_call_metrics(report, error);
        out
    }

    /// Sets how long a failed call took, when the failure path did not.
    pub(super) fn with_elapsed(&self, mut e: RouteError, start: Instant) -> RouteError {
        if e.report.elapsed.is_zero() {
            e.report.elapsed = self.inner.clock.now().saturating_duration_since(start);
        }
        e
    }

    pub(super) async fn chat_within(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        let mut call = self.plan(req, opts)?;
        self.inner.budget.deposit();
        let mut wait = None;
        loop {
            let (i, admission) = self.next_attempt(&mut call, wait.take()).await?;
            // A repair re-asks the same target with the violation explained.
            let repaired = call.repair.take().filter(|(t, _)| *t == i).map(|(_, r)| r);
            let role = if repaired.is_some() {
                AttemptRole::Repair
            } else {
                AttemptRole::Answer
            };
            let req_i: &ChatRequest = repaired.as_deref().unwrap_or(req);
            let launched = Launched {
                target: i,
                admission,
                started: self.inner.clock.now(),
            };
            let primary = self.attempt(i, req_i, &call);
            let hedge_plan = self
                .inner
                .policy
                .hedging
                .filter(|_| repaired.is_none())
                .map(|h| {
                    let p95 = self
                        .inner
                        .knowledge
                        .health(&self.inner.targets[i].id)
                        .p95_latency;
                    h.fixed_delay
                        .unwrap_or_else(|| p95.map_or(h.min_delay, |p| p.max(h.min_delay)))
                });
            let outcome = match hedge_plan {
                None => match self.speculative_reference(&mut call, i, repaired.is_some()) {
                    // A failover answer will need vouching: its reference is asked now, at
                    // the same time, not after the answer arrives.
                    Some((j, adm_j)) => {
                        let t_ref = self.inner.clock.now();
                        let reference = self.attempt(j, req, &call);
                        let (answer, reference) =
                            futures_util::future::join(primary, reference).await;
                        if answer.is_err() && reference.is_ok() && !self.inner.targets[j].vouch_only
                        {
                            // The failover attempt failed but the reference asked beside
                            // it answered: that answer was paid for, and it is as good a
                            // failover answer as any — served, and vouched for, as one.
                            let asked = Launched {
                                target: j,
                                admission: adm_j,
                                started: t_ref,
                            };
                            vec![
                                Finished::new(launched, false, Some(answer)),
                                Finished::new(asked, false, Some(reference)),
                            ]
                        } else {
                            call.prefetched = Some(Box::new(Prefetched {
                                target: j,
                                admission: adm_j,
                                started: t_ref,
                                latency: self.inner.clock.now().saturating_duration_since(t_ref),
                                result: reference,
                            }));
                            vec![Finished::new(launched, false, Some(answer))]
                        }
                    }
                    None => vec![Finished::new(launched, false, Some(primary.await))],
                },
                Some(delay) => {
                    // Boxed: a hedge's state is only held while one is raced.
                    Box::pin(self.race(launched, primary, delay, req_i, &mut call)).await
                }
            };
            let mut next = None;
            for Finished {
                launched:
                    Launched {
                        target: idx,
                        admission: adm,
                        started: t0,
                    },
                hedge,
                result,
            } in outcome
            {
                let role = if hedge { AttemptRole::Hedge } else { role };
                let latency = self.inner.clock.now().saturating_duration_since(t0);
                let at = self.attempt_at(call.start, idx, t0, latency, adm.as_ref(), role);
                // An answer a validator rejects is a failure like any other.
                let result = result.map(|r| r.and_then(|resp| self.validate(&call, resp)));
                match result {
                    None => {
                        self.observe(idx, adm, latency, &Observed::Cancelled);
                        let at = AttemptAt { probe: false, ..at };
                        self.push_attempt(&mut call, at, AttemptOutcome::Cancelled, None);
                    }
                    Some(Ok(resp)) => {
                        let budget_reset = resp
                            .headers
                            .as_ref()
                            .and_then(|h| hint_from_headers(h, std::time::SystemTime::now()));
                        self.observe(idx, adm, latency, &Observed::Success { budget_reset });
                        self.push_attempt(&mut call, at, AttemptOutcome::Success, resp.usage);
                        next = Some(Ok((idx, resp)));
                    }
                    Some(Err(e)) => {
                        let c = self.classify(&e);
                        self.observe_failure(idx, adm, latency, &c);
                        match self.absorb(&mut call, idx, at, &c, &e, req_i) {
                            Next::Continue(w) => wait = wait.max(w),
                            Next::Stop(err) if next.is_none() => next = Some(Err(*err)),
                            Next::Stop(_) => {}
                        }
                    }
                }
            }
            match next {
                Some(Ok((idx, resp))) => {
                    // A first choice the drift test has on alert, or demoted, is vouched
                    // for too, until the test clears it.
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
                        self.shadow(&call, idx, req, &resp);
                    }
                    if !vouch_needed {
                        // A failover answer nobody was asked to check says so.
                        let check = if failover {
                            crate::telemetry::record_unchecked();
                            AnswerCheck::Unchecked
                        } else {
                            AnswerCheck::FirstChoice
                        };
                        return Ok(self.finish(call, idx, resp, check));
                    }
                    // Boxed: vouching's state is only held by the calls that vouch.
                    return match Box::pin(self.vouch(&mut call, idx, resp, req)).await {
                        Ok((winner, resp, check)) => Ok(self.finish(call, winner, resp, check)),
                        Err(e) => Err(self.fail(call, e)),
                    };
                }
                Some(Err(e)) => return Err(self.fail(call, e)),
                None => {}
            }
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
        self.emit(RouterEvent::Attempt(a.clone()));
        call.report.attempts.push(a);
    }

    pub(super) fn attempt<'a>(
        &'a self,
        i: usize,
        req: &'a ChatRequest,
        call: &Call,
    ) -> AttemptFuture<'a> {
        let inner = &self.inner;
        let now = inner.clock.now();
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
            match tokio::time::timeout(limit, provider.chat(req).instrument(span)).await {
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
                    let left = until.saturating_duration_since(self.inner.clock.now());
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
            RouterEvent::Attempt(a) => crate::telemetry::record_attempt(a),
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
        let inner = &self.inner;
        let target = at.target.clone();
        call.first_target.get_or_insert(i);
        let retries = call.retries.get(&i).copied().unwrap_or(0);
        let mut disposition = c.disposition;
        // A repair needs the rejected answer and a round left; otherwise fail over.
        let repair = match (disposition, e) {
            (Disposition::Repair, CallError::Rejected(r))
                if call.repairs < inner.policy.max_repairs =>
            {
                Some(nb_guard::repair_request(req, &r.response, &r.violation))
            }
            _ => None,
        };
        if disposition == Disposition::Repair && repair.is_none() {
            disposition = Disposition::FailOver;
        }
        if disposition == Disposition::RetryHere && retries >= inner.policy.max_retries_per_target {
            disposition = Disposition::FailOver;
        }
        tracing::debug!(%target, class = %c.class, %disposition, reason = %c.reason, "attempt failed");
        if matches!(
            disposition,
            Disposition::FailOver | Disposition::FailOverLargerContext
        ) {
            tracing::info!(%target, class = %c.class, reason = %c.reason, "failing over");
        }
        call.report.failed(at, c, disposition, e);
        if let Some(a) = call.report.attempts.last() {
            self.emit(RouterEvent::Attempt(a.clone()));
        }
        let stop = |kind, call: &mut Call| {
            Next::Stop(Box::new(RouteError::new(
                kind,
                std::mem::take(&mut call.report),
            )))
        };
        // The budget limits retries, not the move away from a target that is dead or
        // refuses this call: a call's first such failover is free, so a hanging or
        // refused outage costs no call even while retries have drained the budget.
        // Failovers after a server's own error or overload still draw on it: in an
        // outage of every target those are what multiply the load.
        let moving = matches!(
            disposition,
            Disposition::FailOver | Disposition::FailOverLargerContext
        );
        let free = moving && !call.failed_over && moves_away_for_free(c.class);
        call.failed_over |= moving;
        match disposition {
            Disposition::Abort => stop(RouteErrorKind::Aborted, call),
            _ if !free && !inner.budget.withdraw() => stop(RouteErrorKind::BudgetExhausted, call),
            Disposition::Repair => {
                call.repairs += 1;
                call.report.repairs = call.repairs;
                call.repair = repair.map(|r| (i, Arc::new(r)));
                Next::Continue(None)
            }
            Disposition::RetryHere => {
                call.retries.insert(i, retries + 1);
                let wait = c.retry_after.unwrap_or_else(|| {
                    let cap = inner.policy.backoff_max.min(
                        inner
                            .policy
                            .backoff_base
                            .saturating_mul(1 << retries.min(16)),
                    );
                    let mut rng = inner
                        .rng
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    cap.mul_f64(rng.random::<f64>())
                });
                Next::Continue(Some(wait))
            }
            Disposition::FailOverLargerContext => {
                call.excluded.insert(i);
                // The rejection says the limit (and often the request's true size):
                // remember the limit for this target, and need more than it.
                let msg = e
                    .provider_error()
                    .and_then(|p| p.message.clone())
                    .unwrap_or_default();
                let (limit, size) = nb_classify::context_sizes(&msg);
                if let Some(l) = limit {
                    let mut learned = inner
                        .learned_windows
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let w = learned.entry(i).or_insert(l);
                    *w = (*w).min(l);
                    // A shared store tells the other replicas too.
                    inner.knowledge.learn_window(&inner.targets[i].id, l);
                }
                let needed = limit
                    .or(inner.targets[i].context_window)
                    .unwrap_or(call.prompt_tokens)
                    .max(size.unwrap_or(0).saturating_sub(1));
                call.min_window = Some(call.min_window.map_or(needed, |w| w.max(needed)));
                Next::Continue(None)
            }
            _ => {
                call.excluded.insert(i);
                Next::Continue(None)
            }
        }
    }

    pub(super) async fn sleep_within(&self, call: &Call, d: Duration) {
        let left = call
            .deadline
            .saturating_duration_since(self.inner.clock.now());
        tokio::time::sleep(d.min(left)).await;
    }

    pub(super) fn finish(
        &self,
        mut call: Call,
        i: usize,
        resp: ChatResponse,
        check: AnswerCheck,
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
        call.report.elapsed = self.inner.clock.now().saturating_duration_since(call.start);
        Routed {
            value: resp,
            report: call.report,
        }
    }

    pub(super) fn fail(&self, mut call: Call, mut e: RouteError) -> RouteError {
        if let Some(p) = call.prefetched.take() {
            self.settle_prefetched(*p, &mut e.report, call.start);
        }
        e.report.elapsed = self.inner.clock.now().saturating_duration_since(call.start);
        e.report.total_cost = self.total_cost(&e.report);
        e
    }

    /// What every upstream call in `report` cost, at its target's prices.
    pub(super) fn total_cost(&self, report: &CallReport) -> Option<f64> {
        let mut total = None;
        for a in &report.attempts {
            let (Some(u), Some(&i)) = (a.usage, self.inner.index.get(&a.target)) else {
                continue;
            };
            if let Some(c) = self.inner.targets[i].cost {
                *total.get_or_insert(0.0) += c.price(&u);
            }
        }
        total
    }
}

/// Failures after which a call's first failover is not drawn from the retry budget: the
/// target did not answer at all, or refused this call for a reason of its own (a limit,
/// a key, a model, a window, a policy) that says nothing about the next target's load.
fn moves_away_for_free(class: nb_core::FailureClass) -> bool {
    use nb_core::FailureClass as C;
    matches!(
        class,
        C::Timeout
            | C::Network
            | C::RateLimited
            | C::QuotaExhausted
            | C::AuthFailure
            | C::InvalidModel
            | C::EndpointNotFound
            | C::ContextTooLong
            | C::ContentFiltered
    )
}
