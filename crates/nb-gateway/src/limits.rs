//! Per-caller limits at the door: requests and tokens per minute, and the spend a call
//! may reach, held before it goes upstream (see [`crate::ledger`]).

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use futures_util::Stream;
use nb_core::{ChatChunk, ChatRequest, ChatStream, TargetId};
use nb_router::{CallOptions, CallReport};

use crate::error::{ErrorType, error};
use crate::ledger::{Price, Reservation};
use crate::{Format, Gateway};

/// Tokens a prompt may count, at most: one per byte, and a few per message for the
/// formats' framing. An overestimate on purpose: a hold must cover the worst case.
fn prompt_tokens_at_most(req: &ChatRequest) -> u64 {
    req.prompt_chars() as u64 + 8 * req.messages.len() as u64
}

impl Gateway {
    /// Takes `caller`'s per-minute budget for `req` and holds its worst-case spend, or
    /// the response to send (429 with `retry-after`, or 400 when the call's worst case
    /// alone is over the key's limit). Nothing goes upstream when it is refused.
    pub(crate) async fn admit(
        self: &Arc<Self>,
        caller: &str,
        req: &ChatRequest,
        opts: &CallOptions,
        format: Format,
    ) -> Result<Option<Reservation>, Box<Response>> {
        let Some(limits) = self.limits.get(caller).copied() else {
            return Ok(None);
        };
        let refuse = |what: &str, wait: Duration| {
            Box::new(error(
                format,
                StatusCode::TOO_MANY_REQUESTS,
                ErrorType::RateLimited,
                &format!("gateway key {caller:?} is over its {what}"),
                Some(wait),
            ))
        };
        if limits.paced() {
            let tokens =
                (req.prompt_chars() as u64).div_ceil(4) + u64::from(req.max_tokens.unwrap_or(256));
            let tokens = u32::try_from(tokens).unwrap_or(u32::MAX);
            let shared = match &self.shared {
                Some(l) => l.acquire(caller, limits.pace, tokens).await,
                None => None,
            };
            shared
                .unwrap_or_else(|| self.local.acquire(caller, tokens))
                .map_err(|wait| refuse("requests or tokens per minute", wait))?;
        }
        let Some(limit) = limits.spend_per_day else {
            return Ok(None);
        };
        let amount = self.worst_case(req, opts);
        if amount > limit {
            return Err(Box::new(error(
                format,
                StatusCode::BAD_REQUEST,
                ErrorType::InvalidRequest,
                &format!(
                    "this call could cost up to {amount:.6} (its prompt and max_tokens at the route's highest price), more than gateway key {caller:?} may spend in a day ({limit}): lower max_tokens or shorten the prompt"
                ),
                None,
            )));
        }
        let shared = match &self.shared {
            Some(l) => l
                .reserve(caller, amount, limit)
                .await
                .map(|r| (r, Some(l.clone()))),
            None => None,
        };
        let (decision, shared) =
            shared.unwrap_or_else(|| (self.local.reserve(caller, amount, limit), None));
        decision.map_err(|wait| refuse("spend per day", wait))?;
        Ok(Some(Reservation {
            caller: caller.to_owned(),
            amount,
            actual: None,
            local: self.local.clone(),
            shared,
        }))
    }

    /// The most `req` can cost on its route: its prompt and `max_tokens` at the highest
    /// input and output prices among the route's targets.
    pub(crate) fn worst_case(&self, req: &ChatRequest, opts: &CallOptions) -> f64 {
        let targets: Vec<&TargetId> = match opts.route.as_deref().and_then(|r| self.routes.get(r)) {
            Some(ts) => ts.iter().collect(),
            None => self.prices.keys().collect(),
        };
        let price =
            targets
                .iter()
                .filter_map(|t| self.prices.get(*t))
                .fold(Price::default(), |a, p| Price {
                    input_per_mtok: a.input_per_mtok.max(p.input_per_mtok),
                    output_per_mtok: a.output_per_mtok.max(p.output_per_mtok),
                });
        price.of(
            prompt_tokens_at_most(req),
            u64::from(req.max_tokens.unwrap_or(self.default_max_tokens)),
        )
    }

    /// What a finished call cost: every upstream call of its report.
    pub(crate) fn settle(reservation: Option<Reservation>, report: &CallReport) {
        if let Some(mut r) = reservation {
            r.actual = Some(report.total_cost.unwrap_or(0.0));
        }
    }

    /// `stream`, settling `reservation` when it ends or is dropped: with what its final
    /// usage cost at the serving target's price (plus what failed attempts before it
    /// cost), or — no usage seen — with the whole hold.
    pub(crate) fn settle_stream(
        &self,
        stream: ChatStream,
        reservation: Option<Reservation>,
        report: &CallReport,
    ) -> ChatStream {
        let Some(reservation) = reservation else {
            return stream;
        };
        let price = report
            .served_by
            .as_ref()
            .and_then(|t| self.prices.get(t))
            .copied()
            .unwrap_or_default();
        Box::pin(Settling {
            inner: stream,
            reservation,
            price,
            before: report.total_cost.unwrap_or(0.0),
        })
    }
}

/// A stream that settles its caller's hold from the usage it carries.
struct Settling {
    inner: ChatStream,
    reservation: Reservation,
    price: Price,
    before: f64,
}

impl Stream for Settling {
    type Item = <ChatStream as Stream>::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let next = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(ChatChunk::Usage(u)))) = &next {
            let cost = self.before + self.price.of(u.input_tokens, u.output_tokens);
            self.reservation.actual = Some(cost);
        }
        next
    }
}
