//! Client-side pacing: spend a provider's budget on purpose instead of discovering it
//! with 429s (failed requests count against quota too).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::Clock as _;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use nb_core::TargetId;

use crate::FastMap;
use crate::clock::{GovernorClock, SharedClock};

/// Decides whether a request may go to a target now. Behind a trait so a shared pacer
/// (Redis, say) can replace the in-process one when several processes share a key.
pub trait Pacer: Send + Sync {
    /// Takes the budget for one request of about `tokens` tokens to `target`, or says
    /// how long until it would be available. A refusal takes nothing.
    fn try_acquire(&self, target: &TargetId, tokens: u32) -> Result<(), Duration>;
}

/// Per-target limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PaceLimits {
    /// Requests per minute.
    pub requests_per_minute: Option<NonZeroU32>,
    /// Tokens per minute (prompt estimate plus `max_tokens`).
    pub tokens_per_minute: Option<NonZeroU32>,
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, GovernorClock>;

struct Entry {
    requests: Option<Limiter>,
    tokens: Option<Limiter>,
}

/// An in-process [`Pacer`] on governor's GCRA, one pair of limiters per target, on the
/// injected clock.
pub struct GovernorPacer {
    clock: SharedClock,
    limits: FastMap<TargetId, PaceLimits>,
    entries: Mutex<FastMap<TargetId, Entry>>,
}

impl std::fmt::Debug for GovernorPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovernorPacer")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl GovernorPacer {
    /// A pacer with these per-target limits (targets not listed are not paced).
    pub fn new(limits: HashMap<TargetId, PaceLimits>, clock: SharedClock) -> Self {
        Self {
            clock,
            limits: limits.into_iter().collect(),
            entries: Mutex::new(FastMap::default()),
        }
    }

    fn limiter(&self, per_minute: NonZeroU32) -> Limiter {
        RateLimiter::direct_with_clock(
            Quota::per_minute(per_minute),
            GovernorClock(self.clock.clone()),
        )
    }
}

impl Pacer for GovernorPacer {
    fn try_acquire(&self, target: &TargetId, tokens: u32) -> Result<(), Duration> {
        let Some(limits) = self.limits.get(target) else {
            return Ok(());
        };
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let e = entries.entry(target.clone()).or_insert_with(|| Entry {
            requests: limits.requests_per_minute.map(|n| self.limiter(n)),
            tokens: limits.tokens_per_minute.map(|n| self.limiter(n)),
        });
        let clock = GovernorClock(self.clock.clone());
        // Tokens first: a request larger than the whole minute's budget can never pass,
        // and a token refusal must not spend a request cell.
        if let Some(t) = &e.tokens {
            let n = NonZeroU32::new(tokens.max(1)).unwrap_or(NonZeroU32::MIN);
            match t.check_n(n) {
                Ok(Ok(())) => {}
                Ok(Err(not_until)) => return Err(not_until.wait_time_from(clock.now())),
                Err(_) => return Err(Duration::from_secs(60)),
            }
        }
        if let Some(r) = &e.requests {
            if let Err(not_until) = r.check() {
                return Err(not_until.wait_time_from(clock.now()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::ManualClock;

    #[test]
    fn paces_requests_per_minute_on_the_injected_clock() {
        let clock = ManualClock::new();
        let t = TargetId::new("p", "m");
        let limits = HashMap::from([(
            t.clone(),
            PaceLimits {
                requests_per_minute: NonZeroU32::new(60),
                tokens_per_minute: None,
            },
        )]);
        let pacer = GovernorPacer::new(limits, Arc::new(clock.clone()));
        // governor allows a burst of the whole minute's quota, then one per second.
        for _ in 0..60 {
            pacer.try_acquire(&t, 10).unwrap();
        }
        let wait = pacer.try_acquire(&t, 10).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        assert!(pacer.try_acquire(&t, 10).is_ok());
        assert!(
            pacer.try_acquire(&TargetId::new("other", "m"), 10).is_ok(),
            "unlisted targets are not paced"
        );
    }

    #[test]
    fn tokens_per_minute_refuse_without_spending_a_request() {
        let clock = ManualClock::new();
        let t = TargetId::new("p", "m");
        let limits = HashMap::from([(
            t.clone(),
            PaceLimits {
                requests_per_minute: NonZeroU32::new(2),
                tokens_per_minute: NonZeroU32::new(1000),
            },
        )]);
        let pacer = GovernorPacer::new(limits, Arc::new(clock.clone()));
        pacer.try_acquire(&t, 900).unwrap();
        assert!(pacer.try_acquire(&t, 900).is_err(), "token budget spent");
        assert!(
            pacer.try_acquire(&t, 50).is_ok(),
            "the refused request took no request cell"
        );
        assert!(
            pacer.try_acquire(&t, 5000).is_err(),
            "larger than a minute's budget"
        );
    }
}
