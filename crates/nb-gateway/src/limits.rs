//! Per-caller limits: requests and tokens per minute, spend per day.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;
use nb_breaker::{GovernorPacer, PaceLimits, Pacer as _, SystemClock};
use nb_core::{ChatRequest, TargetId};
use nb_router::CallReport;

use crate::error::{ErrorType, error};
use crate::{Format, Gateway, Key};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn caller_id(name: &str) -> TargetId {
    TargetId::new("gateway-key", name)
}

/// The pacer of the callers' requests and tokens per minute.
pub(crate) fn pacer(keys: &[Key]) -> GovernorPacer {
    GovernorPacer::new(
        keys.iter()
            .map(|k| {
                let limits = PaceLimits {
                    requests_per_minute: k.requests_per_minute,
                    tokens_per_minute: k.tokens_per_minute,
                };
                (caller_id(&k.name), limits)
            })
            .collect(),
        Arc::new(SystemClock),
    )
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Gateway {
    /// Takes `caller`'s budget for `req`, or the 429 to send: its requests and tokens
    /// per minute, and its spend for the day. Nothing goes upstream when it is refused.
    pub(crate) fn admit(
        &self,
        caller: &str,
        req: &ChatRequest,
        format: Format,
    ) -> Result<(), Box<Response>> {
        let tokens =
            (req.prompt_chars() as u64).div_ceil(4) + u64::from(req.max_tokens.unwrap_or(256));
        let refuse = |what: &str, wait: Duration| {
            Box::new(error(
                format,
                StatusCode::TOO_MANY_REQUESTS,
                ErrorType::RateLimited,
                &format!("gateway key {caller:?} is over its {what}"),
                Some(wait),
            ))
        };
        if let Some(limit) = self.spend_limits.get(caller) {
            let spent = lock(&self.spent);
            if let Some((start, amount)) = spent.get(caller) {
                let left = DAY.saturating_sub(start.elapsed());
                if !left.is_zero() && amount >= limit {
                    return Err(refuse("spend per day", left));
                }
            }
        }
        self.pacer
            .try_acquire(
                &caller_id(caller),
                u32::try_from(tokens).unwrap_or(u32::MAX),
            )
            .map_err(|wait| refuse("requests or tokens per minute", wait))
    }
    /// Adds what a call cost to `caller`'s day.
    pub(crate) fn spend(&self, caller: &str, report: &CallReport) {
        let Some(cost) = report.total_cost.filter(|c| *c > 0.0) else {
            return;
        };
        if !self.spend_limits.contains_key(caller) {
            return;
        }
        let mut spent = lock(&self.spent);
        let e = spent
            .entry(caller.to_owned())
            .or_insert_with(|| (Instant::now(), 0.0));
        if e.0.elapsed() >= DAY {
            *e = (Instant::now(), 0.0);
        }
        e.1 += cost;
    }
}
