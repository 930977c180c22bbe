//! Embeddings through the same loop as chat: plan (the route's embedding targets, in
//! the strategy's order), admit (breakers, cool-downs, pacing), attempt under the
//! per-attempt timeout, classify, retry or fail over, report. Nothing is vouched: a
//! vector has no equivalence check, so a failover answer is reported `unchecked`.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use nb_breaker::Observed;
use nb_core::{AnswerCheck, CallError, ChatRequest, TargetId, TimeoutPhase};
use tower::retry::budget::Budget as _;

use super::{Call, CallOptions, Next, OnUnvouchable, SmartRouter, VouchMode};
use crate::report::{
    AttemptOutcome, AttemptRole, CallReport, RouteError, RouteErrorKind, Routed, SkipReason,
};

impl SmartRouter {
    /// Embeds `texts` on the default route's embedding targets
    /// ([`Target::embedding`](crate::Target::embedding),
    /// [`Target::with_embedder`](crate::Target::with_embedder)): one vector per text, in
    /// order.
    ///
    /// The report's `served_by` names the model whose space the vectors are in: after a
    /// failover it is not the first choice's.
    pub async fn embed(&self, texts: &[String]) -> Result<Routed<Vec<Vec<f32>>>, RouteError> {
        self.embed_with(texts, &super::options::NO_OPTIONS).await
    }

    /// Embeds `texts` with per-call options (route, tags, deadline; the vouching and
    /// validator options do not apply to vectors).
    pub async fn embed_with(
        &self,
        texts: &[String],
        opts: &CallOptions,
    ) -> Result<Routed<Vec<Vec<f32>>>, RouteError> {
        self.observed(opts, |start| {
            Box::pin(self.embed_within(texts, opts, start))
        })
        .await
    }

    async fn embed_within(
        &self,
        texts: &[String],
        opts: &CallOptions,
        start: Instant,
    ) -> Result<Routed<Vec<Vec<f32>>>, RouteError> {
        let inner = &self.inner;
        let mut call = self.plan_embedding(texts, opts, start)?;
        // What `absorb` reads of a request (a repair never applies to vectors).
        let asked = ChatRequest::user(texts.concat());
        inner.budget.deposit();
        let mut wait = None;
        loop {
            let (i, admission, started) = self.next_attempt(&mut call, wait.take()).await?;
            let Some(embedder) = inner.targets[i].embedder.clone() else {
                call.excluded.insert(i);
                continue;
            };
            let result = self.embed_once(&call, i, embedder.as_ref(), texts).await;
            let latency = inner.health.clock.now().saturating_duration_since(started);
            let at = self.attempt_at(
                call.start,
                i,
                started,
                latency,
                admission.as_ref(),
                AttemptRole::Answer,
            );
            match result {
                Ok(vectors) => {
                    self.observe(
                        i,
                        admission,
                        latency,
                        &Observed::Success { budget_reset: None },
                    );
                    self.push_attempt(&mut call, at, AttemptOutcome::Success, None);
                    let failed_over = call.candidates.first() != Some(&i);
                    call.report.check = if failed_over {
                        crate::telemetry::record_unchecked();
                        AnswerCheck::Unchecked
                    } else {
                        AnswerCheck::FirstChoice
                    };
                    call.report.served_by = Some(inner.targets[i].id.clone());
                    call.report.failed_over = failed_over;
                    call.report.elapsed = inner
                        .health
                        .clock
                        .now()
                        .saturating_duration_since(call.start);
                    return Ok(Routed {
                        value: vectors,
                        report: call.report,
                    });
                }
                Err(e) => {
                    let c = self.classify(&e);
                    self.observe_failure(i, admission, latency, &c);
                    match self.absorb(&mut call, i, at, &c, &e, &asked) {
                        Next::Continue(w) => wait = w,
                        Next::Stop(err) => return Err(self.fail(call, *err)),
                    }
                }
            }
        }
    }

    /// One embedding attempt on target `i` within the attempt timeout (and the call's
    /// deadline); a wrong number of vectors is a malformed answer.
    async fn embed_once(
        &self,
        call: &Call,
        i: usize,
        embedder: &dyn nb_core::Embedder,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, CallError> {
        use tracing::Instrument as _;
        let limit = self
            .inner
            .policy
            .attempt_timeout
            .min(call.deadline.saturating_duration_since(self.now()));
        let span = crate::telemetry::attempt_span(&self.inner.targets[i].id);
        match tokio::time::timeout(limit, embedder.embed(texts).instrument(span)).await {
            Ok(Ok(v)) if v.len() != texts.len() => Err(CallError::decode(
                format!("{} vectors for {} texts", v.len(), texts.len()),
                b"",
            )),
            Ok(r) => r,
            Err(_) => Err(CallError::timeout(TimeoutPhase::FirstByte)),
        }
    }

    /// The route's embedding targets that carry the call's tags, in the strategy's order.
    fn plan_embedding(
        &self,
        texts: &[String],
        opts: &CallOptions,
        now: Instant,
    ) -> Result<Call, RouteError> {
        let inner = &self.inner;
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
            Some(name) => match inner.routes.members.get(name) {
                Some(r) => r.clone(),
                None => {
                    report
                        .skipped
                        .push((TargetId::new("router", name), SkipReason::UnknownRoute));
                    return Err(RouteError::new(RouteErrorKind::NoRoute, report));
                }
            },
        };
        let mut candidates: Vec<usize> = base
            .into_iter()
            .filter(|&i| {
                let t = &inner.targets[i];
                t.embedder.is_some() && opts.require_tags.iter().all(|tag| t.tags.contains(tag))
            })
            .collect();
        self.order(&mut candidates);
        if candidates.is_empty() {
            return Err(RouteError::new(RouteErrorKind::NoRoute, report));
        }
        let prompt_tokens = texts
            .iter()
            .map(|t| t.len() as u64)
            .sum::<u64>()
            .div_ceil(4);
        Ok(Call {
            start: now,
            planned: Some(now),
            deadline,
            candidates,
            references: Vec::new(),
            excluded: HashSet::new(),
            vouch_used: HashSet::new(),
            retries: HashMap::new(),
            min_window: None,
            attempts: 0,
            failed_over: false,
            first_target: None,
            report,
            tokens: u32::try_from(prompt_tokens).unwrap_or(u32::MAX),
            prompt_tokens,
            repair: None,
            repairs: 0,
            validators: Vec::new(),
            prefetched: None,
            cached: None,
            distrusted_references: false,
            vouch: VouchMode::Off,
            on_unvouchable: OnUnvouchable::default(),
        })
    }
}
