//! Streams: fail over freely before the first content delta, then commit; the deadline and idle gaps bound the rest.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use nb_breaker::Observed;
use nb_classify::Disposition;
use nb_core::{
    AnswerCheck, CallError, ChatChunk, ChatRequest, ChatStream, StreamAccumulator, TimeoutPhase,
};
use tower::retry::budget::Budget as _;

use super::{Call, CallOptions, Next, SmartRouter};
use crate::report::{AttemptOutcome, AttemptRole, RouteError, Routed};

impl SmartRouter {
    /// Routes a streamed request. Before the first content delta reaches the caller, a
    /// failure fails over freely (startup events are held back; time to first token is
    /// bounded and keep-alives do not count). After it, a failure is surfaced in the
    /// stream as a [`CallError::MidStream`] with the partial output, never hidden.
    /// Hedging does not apply to streams.
    pub async fn stream(&self, req: &ChatRequest) -> Result<Routed<ChatStream>, RouteError> {
        self.stream_with(req, &super::options::NO_OPTIONS).await
    }

    /// [`stream`](Self::stream) with per-call options.
    pub async fn stream_with(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<ChatStream>, RouteError> {
        self.observed(opts, |start| Box::pin(self.stream_within(req, opts, start)))
            .await
    }

    pub(super) async fn stream_within(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
        start: Instant,
    ) -> Result<Routed<ChatStream>, RouteError> {
        let mut call = self.plan(req, opts, start)?;
        self.inner.budget.deposit();
        let mut wait = None;
        loop {
            let (i, admission, t0) = self.next_attempt(&mut call, wait.take()).await?;
            match self.open_stream(i, req, &call).await {
                Ok((held, rest)) => {
                    let opened = Opened {
                        target: i,
                        admission,
                        started: t0,
                    };
                    return Ok(self.commit_stream(call, opened, held, rest));
                }
                Err(e) => {
                    let latency = self.inner.health.clock.now().saturating_duration_since(t0);
                    let at = self.attempt_at(
                        call.start,
                        i,
                        t0,
                        latency,
                        admission.as_ref(),
                        AttemptRole::Answer,
                    );
                    let mut c = self.classify(&e);
                    // Before its first token a stream fails over like a call: the same
                    // target is tried again only when the server said how soon (a short
                    // explicit hint). A stream that broke once tends to break again.
                    if c.disposition == Disposition::RetryHere && c.retry_after.is_none() {
                        c.disposition = Disposition::FailOver;
                    }
                    self.observe_failure(i, admission, latency, &c);
                    match self.absorb(&mut call, i, at, &c, &e, req) {
                        Next::Continue(w) => wait = w,
                        Next::Stop(err) => return Err(self.fail(call, *err)),
                    }
                }
            }
        }
    }

    /// The stream from target `opened.target` sent its first content delta: the
    /// attempt is recorded, and the rest of the stream is handed to the caller, bounded
    /// by what is left of the call's deadline and by the idle timeout.
    fn commit_stream(
        &self,
        mut call: Call,
        opened: Opened,
        held: VecDeque<ChatChunk>,
        rest: ChatStream,
    ) -> Routed<ChatStream> {
        let Opened {
            target: i,
            admission,
            started: t0,
        } = opened;
        let latency = self.now().saturating_duration_since(t0);
        let at = self.attempt_at(
            call.start,
            i,
            t0,
            latency,
            admission.as_ref(),
            AttemptRole::Answer,
        );
        let ok = Observed::Success { budget_reset: None };
        self.observe(i, admission, latency, &ok);
        self.push_attempt(&mut call, at, AttemptOutcome::Success, None);
        // The call's deadline holds after the commit too: what is left of it bounds the
        // rest of the stream.
        let left = call.deadline.saturating_duration_since(self.now());
        let committed = committed_stream(held, rest, self.inner.policy.idle_timeout, left);
        call.report.served_by = Some(self.inner.targets[i].id.clone());
        // Whenever the answer did not come from the first planned target: a first choice
        // skipped because it was cooling down counts as a failover too.
        call.report.failed_over = call.candidates.first().is_some_and(|&f| f != i);
        // Streams are not vouched for: a streamed failover answer says so.
        if call.report.failed_over {
            call.report.check = AnswerCheck::Unchecked;
            crate::telemetry::record_unchecked();
        }
        call.report.elapsed = self.now().saturating_duration_since(call.start);
        Routed {
            value: committed,
            report: call.report,
        }
    }

    /// Opens a stream and reads up to its first content delta, holding back the
    /// startup chunks. Any failure before that is an uncommitted failure.
    pub(super) async fn open_stream(
        &self,
        i: usize,
        req: &ChatRequest,
        call: &Call,
    ) -> Result<(VecDeque<ChatChunk>, ChatStream), CallError> {
        let inner = &self.inner;
        let now = inner.health.clock.now();
        let left = call.deadline.saturating_duration_since(now);
        let provider = inner.targets[i].provider.clone();
        let mut stream = match tokio::time::timeout(
            inner.policy.attempt_timeout.min(left),
            provider.stream(req),
        )
        .await
        {
            Ok(r) => r?,
            Err(_) => return Err(CallError::timeout(TimeoutPhase::FirstByte)),
        };
        let first_token_by =
            tokio::time::Instant::now() + inner.policy.first_token_timeout.min(left);
        let mut held = VecDeque::new();
        loop {
            match tokio::time::timeout_at(first_token_by, stream.next()).await {
                Err(_) => return Err(CallError::timeout(TimeoutPhase::FirstToken)),
                Ok(None) => {
                    // Ended before any content: a complete but empty answer, or truncated.
                    let mut acc = StreamAccumulator::default();
                    held.iter().for_each(|c| acc.push(c));
                    if acc.is_finished() {
                        return Ok((held, Box::pin(futures_util::stream::empty())));
                    }
                    return Err(CallError::mid_stream(CallError::Truncated, acc.partial()));
                }
                Ok(Some(Err(e))) => return Err(e),
                Ok(Some(Ok(chunk))) => {
                    let content = chunk.is_content();
                    held.push_back(chunk);
                    if content {
                        return Ok((held, stream));
                    }
                }
            }
        }
    }
}

/// The stream handed to the caller once committed: the held-back chunks, then the rest
/// with an idle-gap bound and the call's deadline (`left` from now). A failure now is
/// surfaced with the partial output.
pub(super) fn committed_stream(
    held: VecDeque<ChatChunk>,
    rest: ChatStream,
    idle: Duration,
    left: Duration,
) -> ChatStream {
    let now = tokio::time::Instant::now();
    let end = now
        .checked_add(left)
        .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400));
    let mut acc = StreamAccumulator::default();
    held.iter().for_each(|c| acc.push(c));
    let state = (held, rest, acc, false);
    Box::pin(futures_util::stream::unfold(
        state,
        move |(mut held, mut rest, mut acc, done)| async move {
            if let Some(c) = held.pop_front() {
                return Some((Ok(c), (held, rest, acc, done)));
            }
            if done {
                return None;
            }
            let wait = idle.min(end.saturating_duration_since(tokio::time::Instant::now()));
            match tokio::time::timeout(wait, rest.next()).await {
                Ok(Some(Ok(c))) => {
                    acc.push(&c);
                    Some((Ok(c), (held, rest, acc, false)))
                }
                Ok(Some(Err(e))) => {
                    let e = match e {
                        CallError::MidStream(_) => e,
                        other => CallError::mid_stream(other, acc.partial()),
                    };
                    Some((Err(e), (held, rest, acc, true)))
                }
                Ok(None) => None,
                Err(_) => {
                    let phase = if tokio::time::Instant::now() >= end {
                        TimeoutPhase::Total
                    } else {
                        TimeoutPhase::Idle
                    };
                    let e = CallError::mid_stream(CallError::timeout(phase), acc.partial());
                    Some((Err(e), (held, rest, acc, true)))
                }
            }
        },
    ))
}

/// A stream that opened: its target, its admission, when it was asked.
struct Opened {
    target: usize,
    admission: Option<nb_breaker::Admission>,
    started: std::time::Instant,
}
