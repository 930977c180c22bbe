//! Per-target health: circuit breakers, client-side pacing, cool-downs, and the knowledge
//! store they live in.
//!
//! A breaker is closed while a target is healthy, opens when failures cross its policy,
//! and half-opens to let a bounded number of probes through. This crate owns the state
//! machine (so state is observable and outcomes are three-way: failure, success, ignored).
//!
//! ```
//! use nb_breaker::BreakerState;
//! assert!(BreakerState::Closed.admits_traffic());
//! assert!(!BreakerState::Open.admits_traffic());
//! ```

/// Where a circuit breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerState {
    /// Healthy: every call goes through.
    Closed,
    /// Tripped: no call goes through until the open period ends.
    Open,
    /// Probing: a bounded number of calls test whether the target recovered.
    HalfOpen,
}

impl BreakerState {
    /// `true` when ordinary traffic may be sent (half-open admits probes only).
    pub fn admits_traffic(self) -> bool {
        matches!(self, Self::Closed)
    }
}
