//! The router's default clock: tokio's.

use std::time::Instant;

/// A [`Clock`](nb_breaker::Clock) that reads tokio's clock, the router's default.
///
/// Outside a paused test it is the system's monotonic clock. Under tokio's paused time
/// (`#[tokio::test(start_paused = true)]`) it moves with `tokio::time::advance` and
/// auto-advance, like every sleep and timeout the router awaits, so a test of the
/// router's timing is exact however loaded the machine is.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl nb_breaker::Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}
