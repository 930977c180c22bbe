//! Per-target health: circuit breakers, client-side pacing, cool-downs, and the
//! knowledge store they live in.
//!
//! - [`Breaker`]: closed → open → half-open with a bounded number of probes; outcomes are
//!   three-way ([`BreakerOutcome`]: failure, success, ignored); state is observable and every
//!   change is a [`Transition`] with its cause. Failure policies (consecutive failures;
//!   a failure rate over a window with a minimum number of calls), open-period backoffs
//!   and the state machine are all ours.
//! - [`Knowledge`] and [`InMemoryKnowledge`]: breakers, cool-downs keyed by scope
//!   ([`ScopeKey`]: a bad key disables every target using it, a missing model every
//!   target of that model, an overload only its provider's targets), latency (EWMA and
//!   p95) and outcome counts. A new cool-down extends an existing one, never shortens it;
//!   an expired one lets exactly one probe through.
//! - [`Pacer`] and [`GovernorPacer`]: requests and tokens per minute per target, on
//!   governor's GCRA, behind our own trait so a shared pacer can replace it.
//! - [`Clock`], [`SystemClock`], [`ManualClock`]: injected time, so every test is exact.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use nb_breaker::{BreakerConfig, CooldownPolicy, InMemoryKnowledge, Knowledge, ManualClock, Observed};
//! use nb_core::{FailureClass, Scope, TargetId};
//!
//! let clock = ManualClock::new();
//! let store = InMemoryKnowledge::new(BreakerConfig::default(), CooldownPolicy::default(), Arc::new(clock.clone()));
//! let t = TargetId::new("openai", "gpt-4o-mini");
//! let admission = store.admit(&t, 100).unwrap();
//! // A 429 with `retry-after: 2`: nothing more goes to this target for 2 s.
//! store.record(&t, admission, Duration::from_millis(40), &Observed::Failure {
//!     class: FailureClass::RateLimited, scope: Scope::Target, retry_after: Some(Duration::from_secs(2)),
//! });
//! assert!(store.admit(&t, 100).is_err());
//! clock.advance(Duration::from_secs(2));
//! assert!(store.admit(&t, 100).is_ok());
//! ```

mod breaker;
/// The health store's and the pacer's maps, looked up on every admission and record:
/// foldhash, seeded per process, instead of SipHash (keys are the config's targets and
/// scopes, not a caller's input).
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
mod clock;
mod knowledge;
mod pacer;
mod stats;

pub use breaker::{
    Breaker, BreakerConfig, BreakerOutcome, BreakerState, FailureRate, OpenBackoff, Permit,
    Transition,
};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use knowledge::{
    Admission, CooldownPolicy, HealthEvent, InMemoryKnowledge, Knowledge, Observed, Refusal,
    ScopeKey, TargetHealth, breaker_outcome,
};
pub use pacer::{GovernorPacer, PaceLimits, Pacer};
pub use stats::LatencyStats;
