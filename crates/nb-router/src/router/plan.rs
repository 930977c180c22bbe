//! Planning: which targets may take a call (routes, tags, parts, context windows, trust), in what order, and which one health admits next.

use super::*;

impl SmartRouter {
    pub(super) fn plan(&self, req: &ChatRequest, opts: &CallOptions) -> Result<Call, RouteError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        // `Duration::MAX` (or any span past what the clock can hold) means no deadline.
        let span = opts
            .deadline
            .unwrap_or(inner.policy.deadline)
            .min(inner.policy.deadline);
        let deadline = now
            .checked_add(span)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400)))
            .unwrap_or(now);
        let mut report = CallReport::default();
        let base: Vec<usize> = match &opts.route {
            None => (0..inner.targets.len()).collect(),
            Some(name) => match inner.routes.get(name) {
                Some(r) => r.clone(),
                None => {
                    report
                        .skipped
                        .push((TargetId::new("router", name), SkipReason::UnknownRoute));
                    return Err(RouteError::new(RouteErrorKind::NoRoute, report));
                }
            },
        };
        let (prompt_tokens, tokens) = estimate_tokens(req);
        let media = req.media_kinds();
        let mut candidates = Vec::new();
        let mut references = Vec::new();
        for i in base {
            let t = &inner.targets[i];
            if t.embed_only {
                continue;
            }
            if !opts.require_tags.iter().all(|tag| t.tags.contains(tag)) {
                continue;
            }
            // A target that cannot take a part is never sent a request it must reject.
            if let Some(kind) = media.iter().find(|k| t.refuses.contains(k)) {
                report
                    .skipped
                    .push((t.id.clone(), SkipReason::CannotTake { kind }));
                continue;
            }
            if let Some(w) = self.window(i).filter(|w| prompt_tokens > *w) {
                report.skipped.push((
                    t.id.clone(),
                    SkipReason::WindowTooSmall {
                        window: w,
                        prompt: prompt_tokens,
                    },
                ));
                continue;
            }
            if t.vouch_only {
                references.push(i);
            } else {
                candidates.push(i);
            }
        }
        self.order(&mut candidates);
        if candidates.is_empty() {
            return Err(RouteError::new(RouteErrorKind::NoRoute, report));
        }
        Ok(Call {
            start: now,
            deadline,
            candidates,
            references,
            excluded: HashSet::new(),
            vouch_used: HashSet::new(),
            retries: HashMap::new(),
            min_window: None,
            attempts: 0,
            failed_over: false,
            first_target: None,
            report,
            tokens,
            prompt_tokens,
            repair: None,
            repairs: 0,
            validators: self
                .inner
                .route_validators
                .get(opts.route.as_deref().unwrap_or("default"))
                .into_iter()
                .flatten()
                .chain(&opts.validators)
                .cloned()
                // An answer in text where the request required a tool call is a violation.
                .chain(nb_guard::ToolChoiceHonoured::of(req).map(|v| Arc::new(v) as _))
                .collect(),
            prefetched: None,
            vouch: self.vouch_mode(opts),
            on_unvouchable: opts
                .on_unvouchable
                .or_else(|| self.inner.vouching.as_ref().map(|v| v.on_unvouchable))
                .unwrap_or_default(),
        })
    }

    /// The call's vouching mode: its own, else its route's, else the router's.
    pub(super) fn vouch_mode(&self, opts: &CallOptions) -> VouchMode {
        opts.vouch
            .or_else(|| {
                let route = opts.route.as_deref().unwrap_or("default");
                self.inner.route_vouch.get(route).copied()
            })
            .unwrap_or_else(|| match &self.inner.vouching {
                Some(v) if v.always => VouchMode::Always,
                _ => VouchMode::OnFailover,
            })
    }

    fn order_by_strategy(&self, c: &mut Vec<usize>) {
        let inner = &self.inner;
        match inner.strategy {
            Strategy::Priority => {}
            Strategy::Weighted => {
                let mut rng = inner
                    .rng
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut pool: Vec<usize> = std::mem::take(c);
                while !pool.is_empty() {
                    let total: u64 = pool
                        .iter()
                        .map(|&i| u64::from(inner.targets[i].weight.max(1)))
                        .sum();
                    let mut pick = rng.random_range(0..total);
                    let pos = pool
                        .iter()
                        .position(|&i| {
                            let w = u64::from(inner.targets[i].weight.max(1));
                            if pick < w {
                                true
                            } else {
                                pick -= w;
                                false
                            }
                        })
                        .unwrap_or(0);
                    c.push(pool.remove(pos));
                }
            }
            Strategy::LowestLatency => {
                c.sort_by_key(|&i| {
                    inner
                        .knowledge
                        .health(&inner.targets[i].id)
                        .ewma_latency
                        .unwrap_or(Duration::ZERO)
                });
            }
            Strategy::Cheapest => {
                c.sort_by(|&a, &b| {
                    let cost = |i: usize| {
                        inner.targets[i]
                            .cost
                            .map_or(f64::INFINITY, |c| c.input_per_mtok + c.output_per_mtok)
                    };
                    cost(a).total_cmp(&cost(b))
                });
            }
        }
    }

    /// The strategy's order, with targets the shadow samples have outvoted moved after
    /// those that agree (a stable partition: the strategy's order holds within each).
    pub(super) fn order(&self, c: &mut Vec<usize>) {
        self.order_by_strategy(c);
        let (trusted, distrusted): (Vec<usize>, Vec<usize>) =
            c.iter().partition(|&&i| !self.distrusted(i));
        if !distrusted.is_empty() {
            *c = trusted.into_iter().chain(distrusted).collect();
        }
    }

    /// A target's context window: declared, or learned from a rejection.
    pub(super) fn window(&self, i: usize) -> Option<u64> {
        let learned = self
            .inner
            .learned_windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&i)
            .copied()
            .into_iter()
            .chain(
                self.inner
                    .knowledge
                    .learned_window(&self.inner.targets[i].id),
            )
            .min();
        match (self.inner.targets[i].context_window, learned) {
            (Some(d), Some(l)) => Some(d.min(l)),
            (d, l) => d.or(l),
        }
    }

    pub(super) fn eligible(&self, call: &Call, i: usize) -> bool {
        !call.excluded.contains(&i)
            && (call.candidates.first() == Some(&i) || !self.distrusted(i))
            // After a context rejection, only a target whose window is larger — or not
            // known: a target that declares none may well be larger — is tried.
            && call
                .min_window
                .is_none_or(|w| self.window(i).is_none_or(|tw| tw > w))
    }

    /// The head of every attempt loop (chat and stream): waits out `wait` if the last
    /// attempt asked for one, picks the next target and counts the attempt.
    pub(super) async fn next_attempt(
        &self,
        call: &mut Call,
        wait: Option<Duration>,
    ) -> Result<(usize, Option<Admission>), RouteError> {
        if let Some(w) = wait {
            self.sleep_within(call, w).await;
        }
        let next = self.next_target(call).await?;
        call.attempts += 1;
        Ok(next)
    }

    /// The first eligible candidate that health admits; waits or fails per policy when
    /// none does.
    async fn next_target(&self, call: &mut Call) -> Result<(usize, Option<Admission>), RouteError> {
        let inner = &self.inner;
        loop {
            if call.attempts >= inner.policy.max_attempts {
                return Err(RouteError::new(
                    RouteErrorKind::Exhausted,
                    std::mem::take(&mut call.report),
                ));
            }
            let now = inner.clock.now();
            if now >= call.deadline {
                return Err(RouteError::new(
                    RouteErrorKind::DeadlineExceeded,
                    std::mem::take(&mut call.report),
                ));
            }
            let mut earliest: Option<Instant> = None;
            let mut any = false;
            for &i in &call.candidates {
                if !self.eligible(call, i) {
                    let id = &inner.targets[i].id;
                    if !call.excluded.contains(&i)
                        && call.candidates.first() != Some(&i)
                        && self.distrusted(i)
                        && !call.report.skipped.iter().any(|(t, _)| t == id)
                    {
                        call.report
                            .skipped
                            .push((id.clone(), SkipReason::Distrusted));
                    }
                    continue;
                }
                any = true;
                match inner.knowledge.admit(&inner.targets[i].id, call.tokens) {
                    Ok(a) => return Ok((i, Some(a))),
                    Err(r) => {
                        tracing::trace!(target = %inner.targets[i].id, refusal = ?r, "not admitted");
                        let id = &inner.targets[i].id;
                        if !call.report.skipped.iter().any(|(t, _)| t == id) {
                            let left = r.until().saturating_duration_since(now);
                            let why = match &r {
                                nb_breaker::Refusal::BreakerOpen { .. } => {
                                    SkipReason::BreakerOpen { left }
                                }
                                nb_breaker::Refusal::CoolingDown { key, .. } => {
                                    SkipReason::CoolingDown {
                                        scope: format!("{key:?}"),
                                        left,
                                    }
                                }
                                nb_breaker::Refusal::Paced { .. } => SkipReason::Paced { left },
                            };
                            call.report.skipped.push((id.clone(), why));
                        }
                        earliest = Some(earliest.map_or(r.until(), |e| e.min(r.until())));
                    }
                }
            }
            if !any {
                let kind = if call.report.attempts.is_empty() {
                    RouteErrorKind::NoRoute
                } else {
                    RouteErrorKind::Exhausted
                };
                return Err(RouteError::new(kind, std::mem::take(&mut call.report)));
            }
            let earliest = earliest.unwrap_or(now);
            match &inner.policy.when_all_open {
                WhenAllOpen::WaitForEarliest if earliest < call.deadline => {
                    tokio::time::sleep(
                        earliest
                            .saturating_duration_since(now)
                            .max(Duration::from_millis(1)),
                    )
                    .await;
                }
                WhenAllOpen::LastResort(id) => {
                    match inner.index.get(id) {
                        // Health is bypassed for the last resort: no admission, no record.
                        Some(&i) if !call.excluded.contains(&i) => {
                            call.excluded.insert(i);
                            call.report
                                .skipped
                                .push((id.clone(), SkipReason::LastResort));
                            return Ok((i, None));
                        }
                        _ => return Err(self.no_candidate(call, earliest, now)),
                    }
                }
                _ => return Err(self.no_candidate(call, earliest, now)),
            }
        }
    }

    pub(super) fn no_candidate(
        &self,
        call: &mut Call,
        earliest: Instant,
        now: Instant,
    ) -> RouteError {
        RouteError::new(
            RouteErrorKind::NoCandidate,
            std::mem::take(&mut call.report),
        )
        .with_wait(earliest.saturating_duration_since(now))
    }
}
