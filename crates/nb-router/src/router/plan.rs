//! Planning: which targets may take a call (routes, tags, parts, context windows, trust), in what order, and which one health admits next.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nb_breaker::{Admission, Refusal};
use nb_core::{ChatRequest, TargetId};
use rand::Rng;

use super::{Call, CallOptions, SmartRouter, VouchMode, estimate_tokens, lock};
use crate::policy::WhenAllOpen;
use crate::report::{CallReport, RouteError, RouteErrorKind, SkipReason, WaitReason};
use crate::target::Strategy;

/// The targets that may take a call, before ordering: those that may answer, and the
/// route's reference targets (vouch-only).
struct Eligible {
    candidates: Vec<usize>,
    references: Vec<usize>,
}

impl SmartRouter {
    /// Plans a call: its deadline, its candidates in order (those the route names and
    /// the request's tags, parts and size allow), its validators and vouching.
    /// `now` is when the call began (its span's start).
    pub(super) fn plan(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
        now: Instant,
    ) -> Result<Call, RouteError> {
        let inner = &self.inner;
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
        let (prompt_tokens, tokens) = estimate_tokens(req);
        let Eligible {
            mut candidates,
            references,
        } = self.eligible_targets(req, opts, prompt_tokens, &mut report)?;
        self.order(&mut candidates);
        if candidates.is_empty() {
            return Err(RouteError::new(RouteErrorKind::NoRoute, report));
        }
        let settings = inner.routes.settings(opts.route.as_deref());
        let validators = settings
            .into_iter()
            .flat_map(|s| &s.validators)
            .chain(&opts.validators)
            .cloned()
            // An answer in text where the request required a tool call is a violation.
            .chain(nb_guard::ToolChoiceHonoured::of(req).map(|v| Arc::new(v) as _))
            .collect();
        Ok(Call {
            start: now,
            planned: Some(now),
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
            validators,
            prefetched: None,
            cached: None,
            distrusted_references: false,
            vouch: self.vouch_mode(opts),
            on_unvouchable: opts
                .on_unvouchable
                .or_else(|| self.vouching().map(|v| v.on_unvouchable))
                .unwrap_or_default(),
        })
    }

    /// The route's targets that may take this request: those with the call's tags, able
    /// to take its parts, with a window large enough; the others are in the report.
    fn eligible_targets(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
        prompt_tokens: u64,
        report: &mut CallReport,
    ) -> Result<Eligible, RouteError> {
        let inner = &self.inner;
        let base: Vec<usize> = match &opts.route {
            None => (0..inner.targets.len()).collect(),
            Some(name) => match inner.routes.members.get(name) {
                Some(r) => r.clone(),
                None => {
                    report
                        .skipped
                        .push((TargetId::new("router", name), SkipReason::UnknownRoute));
                    let report = std::mem::take(report);
                    return Err(RouteError::new(RouteErrorKind::NoRoute, report));
                }
            },
        };
        let media = req.media_kinds();
        let mut eligible = Eligible {
            candidates: Vec::new(),
            references: Vec::new(),
        };
        for i in base {
            let t = &inner.targets[i];
            // An embedding-only target never answers a chat.
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
                let prompt = prompt_tokens;
                let why = SkipReason::WindowTooSmall { window: w, prompt };
                report.skipped.push((t.id.clone(), why));
                continue;
            }
            if t.vouch_only {
                eligible.references.push(i);
            } else {
                eligible.candidates.push(i);
            }
        }
        Ok(eligible)
    }

    /// The call's vouching mode: its own, else its route's, else the router's.
    pub(super) fn vouch_mode(&self, opts: &CallOptions) -> VouchMode {
        opts.vouch
            .or_else(|| self.inner.routes.settings(opts.route.as_deref())?.vouch)
            .unwrap_or_else(|| match self.vouching() {
                Some(v) if v.always => VouchMode::Always,
                _ => VouchMode::OnFailover,
            })
    }

    fn order_by_strategy(&self, c: &mut Vec<usize>) {
        let inner = &self.inner;
        match inner.strategy {
            Strategy::Priority => {}
            Strategy::Weighted => {
                let mut rng = lock(&inner.rng);
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
                        .health
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

    /// A target's context window: declared, or learned from a rejection (the health
    /// store keeps what was learned).
    pub(super) fn window(&self, i: usize) -> Option<u64> {
        let t = &self.inner.targets[i];
        let learned = self.inner.health.knowledge.learned_window(&t.id);
        match (t.context_window, learned) {
            (Some(d), Some(l)) => Some(d.min(l)),
            (d, l) => d.or(l),
        }
    }

    pub(super) fn eligible(&self, call: &Call, i: usize) -> bool {
        !call.excluded.contains(&i)
            && (call.candidates.first() == Some(&i) || !self.distrusted(i))
            && self.fits_window(call, i)
    }

    /// After a context rejection, only a target whose window is larger — or not known:
    /// a target that declares none may well be larger — is tried.
    fn fits_window(&self, call: &Call, i: usize) -> bool {
        call.min_window
            .is_none_or(|w| self.window(i).is_none_or(|tw| tw > w))
    }

    /// The head of every attempt loop (chat, stream, embeddings): waits out `wait` if the
    /// last attempt asked for one, picks the next target and counts the attempt. Returns
    /// the target, its admission and when it was admitted (the attempt's start: nothing
    /// is awaited between the two).
    pub(super) async fn next_attempt(
        &self,
        call: &mut Call,
        wait: Option<Duration>,
    ) -> Result<(usize, Option<Admission>, Instant), RouteError> {
        // The wait a failed attempt asked for is its target's retry.
        let last = call.report.attempts.last().map(|a| a.target.clone());
        if let (Some(w), Some(i)) = (wait, last.and_then(|t| self.inner.targets.position(&t))) {
            self.sleep_within(call, w, WaitReason::Retry, i).await;
        }
        let next = self.next_target(call).await?;
        call.attempts += 1;
        Ok(next)
    }

    /// The first eligible candidate that health admits; waits or fails per policy when
    /// none does.
    async fn next_target(
        &self,
        call: &mut Call,
    ) -> Result<(usize, Option<Admission>, Instant), RouteError> {
        let inner = &self.inner;
        loop {
            if call.attempts >= inner.policy.max_attempts {
                let report = std::mem::take(&mut call.report);
                return Err(RouteError::new(RouteErrorKind::Exhausted, report));
            }
            // The first admission is at the plan's instant: nothing was awaited since.
            let now = call.planned.take().unwrap_or_else(|| self.now());
            if now >= call.deadline {
                let report = std::mem::take(&mut call.report);
                return Err(RouteError::new(RouteErrorKind::DeadlineExceeded, report));
            }
            let earliest = match self.admit_first(call, now) {
                Admitted::Target(i, a) => return Ok((i, Some(a), now)),
                Admitted::NoneEligible => {
                    let kind = if call.report.attempts.is_empty() {
                        RouteErrorKind::NoRoute
                    } else {
                        RouteErrorKind::Exhausted
                    };
                    return Err(RouteError::new(kind, std::mem::take(&mut call.report)));
                }
                Admitted::NoneUntil(earliest, first) => (earliest, first),
            };
            let (earliest, first) = earliest;
            match &inner.policy.when_all_open {
                WhenAllOpen::WaitForEarliest if earliest < call.deadline => {
                    let left = earliest.saturating_duration_since(now);
                    let why = WaitReason::AllOutOfRotation;
                    self.sleep_within(call, left.max(Duration::from_millis(1)), why, first)
                        .await;
                }
                WhenAllOpen::LastResort(id) => {
                    return match inner.targets.position(id) {
                        // Health is bypassed for the last resort: no admission, no record.
                        Some(i) if !call.excluded.contains(&i) => {
                            call.excluded.insert(i);
                            let why = SkipReason::LastResort;
                            call.report.skipped.push((id.clone(), why));
                            Ok((i, None, now))
                        }
                        _ => Err(self.no_candidate(call, earliest, now)),
                    };
                }
                _ => return Err(self.no_candidate(call, earliest, now)),
            }
        }
    }

    /// The first eligible candidate health admits now; the others' reasons go in the
    /// report. A target the drift test distrusts is a last resort: asked only when no
    /// trusted candidate can take the call before its deadline, and only by a call that
    /// vouches (its answer is then vouched for before it is served, and refused when
    /// nothing can vouch).
    fn admit_first(&self, call: &mut Call, now: Instant) -> Admitted {
        let mut earliest: Option<(Instant, usize)> = None;
        let mut any = false;
        for k in 0..call.candidates.len() {
            let i = call.candidates[k];
            if !self.eligible(call, i) {
                continue;
            }
            any = true;
            if let Some(a) = self.try_admit(call, i, now, &mut earliest) {
                return Admitted::Target(i, a);
            }
        }
        // A trusted target back in time is waited for (per policy) rather than a
        // distrusted one asked: while the trusted are out, nothing could vouch for it.
        if any && earliest.is_none_or(|(e, _)| e < call.deadline) {
            return match earliest {
                Some((e, i)) => Admitted::NoneUntil(e, i),
                None => Admitted::NoneUntil(now, call.candidates[0]),
            };
        }
        for k in 1..call.candidates.len() {
            let i = call.candidates[k];
            if call.excluded.contains(&i) || !self.distrusted(i) || !self.fits_window(call, i) {
                continue;
            }
            if call.vouch == VouchMode::Off {
                self.skip(call, i, SkipReason::Distrusted);
                continue;
            }
            any = true;
            if let Some(a) = self.try_admit(call, i, now, &mut earliest) {
                return Admitted::Target(i, a);
            }
        }
        match (any, earliest) {
            (false, _) => Admitted::NoneEligible,
            (true, Some((e, i))) => Admitted::NoneUntil(e, i),
            (true, None) => Admitted::NoneUntil(now, call.candidates[0]),
        }
    }

    /// Asks health to admit target `i`; a refusal goes in the report, and its end in
    /// `earliest` when it is the soonest yet.
    fn try_admit(
        &self,
        call: &mut Call,
        i: usize,
        now: Instant,
        earliest: &mut Option<(Instant, usize)>,
    ) -> Option<Admission> {
        let id = &self.inner.targets[i].id;
        match self.inner.health.knowledge.admit(id, call.tokens) {
            Ok(a) => Some(a),
            Err(r) => {
                tracing::trace!(target = %id, refusal = ?r, "not admitted");
                self.skip(call, i, skip_reason(&r, now));
                if earliest.is_none_or(|(e, _)| r.until() < e) {
                    *earliest = Some((r.until(), i));
                }
                None
            }
        }
    }

    /// Notes in the report why target `i` was passed over (once per target).
    fn skip(&self, call: &mut Call, i: usize, why: SkipReason) {
        let id = &self.inner.targets[i].id;
        if !call.report.skipped.iter().any(|(t, _)| t == id) {
            call.report.skipped.push((id.clone(), why));
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

/// What health said of a call's candidates.
enum Admitted {
    /// This one may go now.
    Target(usize, Admission),
    /// None may take the call at all.
    NoneEligible,
    /// None now; the first (this one) may from then.
    NoneUntil(Instant, usize),
}

/// Why health refused a target, for the report.
fn skip_reason(r: &Refusal, now: Instant) -> SkipReason {
    let left = r.until().saturating_duration_since(now);
    match r {
        Refusal::BreakerOpen { .. } => SkipReason::BreakerOpen { left },
        Refusal::CoolingDown { key, .. } => SkipReason::CoolingDown {
            scope: format!("{key:?}"),
            left,
        },
        Refusal::Paced { .. } => SkipReason::Paced { left },
    }
}
