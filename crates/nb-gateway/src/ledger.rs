//! Where callers' budgets are kept: requests and tokens per minute, and spend per day.
//!
//! Spend is reserved before a call and settled after it: the call's worst case (its
//! `max_tokens` and prompt at the most expensive price among its route's targets) is
//! held while it runs, so concurrent calls cannot together pass the limit; when the call
//! ends, the reservation is replaced by what it really cost (a stream: its final usage;
//! a stream without one keeps the reservation). The [`LocalLedger`] keeps this in the
//! process; a fleet shares one [`Ledger`] (Redis, in `nb serve`) so that the limits hold
//! for every replica together.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nb_breaker::{GovernorPacer, PaceLimits, Pacer as _, SystemClock};
use nb_core::TargetId;

/// How long a spend limit's window lasts, from the first call it counts.
pub const SPEND_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// A budget shared by the replicas of a gateway. Every method answers `None` when the
/// ledger cannot answer now (its store is down or slow): the gateway then decides from
/// its own [`LocalLedger`], so a store failing never fails a call.
#[async_trait::async_trait]
pub trait Ledger: Send + Sync {
    /// Takes one request of about `tokens` tokens from `caller`'s per-minute budgets;
    /// `Err` says how long until it would fit. A refusal takes nothing.
    async fn acquire(
        &self,
        caller: &str,
        limits: PaceLimits,
        tokens: u32,
    ) -> Option<Result<(), Duration>>;

    /// Holds `amount` of `caller`'s spend for the window if it fits under `limit` with
    /// everything spent and held; `Err` says how long until the window ends.
    async fn reserve(&self, caller: &str, amount: f64, limit: f64) -> Option<Result<(), Duration>>;

    /// Replaces a hold of `reserved` by what the call cost (`actual`); `false` when it
    /// could not (the hold then stays until its window ends: never less than was spent).
    async fn settle(&self, caller: &str, reserved: f64, actual: f64) -> bool;
}

#[derive(Debug, Clone, Copy)]
struct Day {
    start: Instant,
    spent: f64,
    held: f64,
}

/// The budgets of this process: a GCRA per caller for requests and tokens per minute,
/// and each caller's spend and holds in its current window.
pub struct LocalLedger {
    pacer: GovernorPacer,
    days: Mutex<HashMap<String, Day>>,
}

impl std::fmt::Debug for LocalLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLedger").finish_non_exhaustive()
    }
}

pub(crate) fn caller_id(name: &str) -> TargetId {
    TargetId::new("gateway-key", name)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LocalLedger {
    /// A ledger for these callers' per-minute limits.
    pub fn new(limits: impl IntoIterator<Item = (String, PaceLimits)>) -> Self {
        Self {
            pacer: GovernorPacer::new(
                limits
                    .into_iter()
                    .map(|(name, l)| (caller_id(&name), l))
                    .collect(),
                Arc::new(SystemClock),
            ),
            days: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request of `tokens` from `caller`'s per-minute budgets.
    pub fn acquire(&self, caller: &str, tokens: u32) -> Result<(), Duration> {
        self.pacer.try_acquire(&caller_id(caller), tokens)
    }

    /// Holds `amount` of `caller`'s spend if it fits under `limit`.
    pub fn reserve(&self, caller: &str, amount: f64, limit: f64) -> Result<(), Duration> {
        let mut days = lock(&self.days);
        let now = Instant::now();
        let day = days.entry(caller.to_owned()).or_insert(Day {
            start: now,
            spent: 0.0,
            held: 0.0,
        });
        if now.duration_since(day.start) >= SPEND_WINDOW {
            // A hold of the last window still counts: its call is still running.
            *day = Day {
                start: now,
                spent: 0.0,
                held: day.held,
            };
        }
        if day.spent + day.held + amount > limit {
            return Err(SPEND_WINDOW
                .saturating_sub(now.duration_since(day.start))
                .max(Duration::from_secs(1)));
        }
        day.held += amount;
        Ok(())
    }

    /// Replaces a hold of `reserved` by `actual`.
    pub fn settle(&self, caller: &str, reserved: f64, actual: f64) {
        let mut days = lock(&self.days);
        if let Some(day) = days.get_mut(caller) {
            day.held = (day.held - reserved).max(0.0);
            day.spent += actual;
        }
    }

    /// What `caller` spent and holds in its current window.
    pub fn spent(&self, caller: &str) -> (f64, f64) {
        lock(&self.days)
            .get(caller)
            .map_or((0.0, 0.0), |d| (d.spent, d.held))
    }
}

/// A caller's limits, as the gateway checks them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CallerLimits {
    pub(crate) pace: PaceLimits,
    pub(crate) spend_per_day: Option<f64>,
}

impl CallerLimits {
    pub(crate) fn paced(&self) -> bool {
        self.pace.requests_per_minute.is_some() || self.pace.tokens_per_minute.is_some()
    }
}

/// A price per million tokens, input and output.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    /// Per million input tokens.
    pub input_per_mtok: f64,
    /// Per million output tokens.
    pub output_per_mtok: f64,
}

impl Price {
    /// What `input` and `output` tokens cost.
    pub fn of(&self, input: u64, output: u64) -> f64 {
        (input as f64 * self.input_per_mtok + output as f64 * self.output_per_mtok) / 1e6
    }
}

/// A hold on a caller's spend, settled when dropped: by what the call cost when that is
/// known, else the hold stays spent (a stream that ended without its usage).
pub(crate) struct Reservation {
    pub(crate) caller: String,
    pub(crate) amount: f64,
    /// What the call cost, once known.
    pub(crate) actual: Option<f64>,
    pub(crate) local: Arc<LocalLedger>,
    /// The shared ledger, when the hold was taken there.
    pub(crate) shared: Option<Arc<dyn Ledger>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let actual = self.actual.unwrap_or(self.amount);
        metrics::counter!("nb_gateway_spend_microunits", "key" => self.caller.clone())
            .increment((actual.max(0.0) * 1e6).round() as u64);
        match self.shared.take() {
            None => self.local.settle(&self.caller, self.amount, actual),
            Some(shared) => {
                let (caller, amount) = (std::mem::take(&mut self.caller), self.amount);
                if let Ok(h) = tokio::runtime::Handle::try_current() {
                    h.spawn(async move {
                        shared.settle(&caller, amount, actual).await;
                    });
                }
            }
        }
    }
}

/// Limits as the pacer takes them.
pub(crate) fn pace(requests: Option<NonZeroU32>, tokens: Option<NonZeroU32>) -> PaceLimits {
    PaceLimits {
        requests_per_minute: requests,
        tokens_per_minute: tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_count_until_settled_and_a_settlement_refunds_the_difference() {
        let l = LocalLedger::new([]);
        assert!(l.reserve("a", 0.4, 1.0).is_ok());
        assert!(l.reserve("a", 0.4, 1.0).is_ok());
        // 0.8 held: a third hold of 0.4 would pass the limit.
        let wait = l.reserve("a", 0.4, 1.0).unwrap_err();
        assert!(wait > Duration::from_secs(3600));
        l.settle("a", 0.4, 0.1);
        assert_eq!(l.spent("a"), (0.1, 0.4));
        assert!(l.reserve("a", 0.4, 1.0).is_ok());
        // Another caller has its own window.
        assert!(l.reserve("b", 1.0, 1.0).is_ok());
    }
}
