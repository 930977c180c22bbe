//! How the router behaves: timeouts, retries, budgets, hedging, and what to do when
//! every candidate is out of rotation.

use std::time::Duration;

use nb_core::TargetId;

/// What to do when every remaining candidate is open, cooling down or paced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenAllOpen {
    /// Wait for the earliest to come back, if that is within the deadline.
    #[default]
    WaitForEarliest,
    /// Call this target regardless of its health.
    LastResort(TargetId),
    /// Fail at once, saying when the earliest comes back.
    FailFast,
}

/// A Finagle-style retry budget: extra attempts (retries and failovers) are limited to
/// a fraction of recent traffic, so a total outage cannot multiply load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    /// Extra attempts allowed per call, on average (0.2: one in five).
    pub ratio: f32,
    /// Extra attempts allowed per second regardless of traffic. The budget starts with
    /// `min_per_second × ttl` of them in reserve, which a burst can spend at once: keep
    /// it small (the default, 1, gives a reserve of 10).
    pub min_per_second: u32,
    /// How long a call's deposit counts (1 to 60 s).
    pub ttl: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_second: 1,
            ttl: Duration::from_secs(10),
        }
    }
}

/// When to start a second attempt on the next candidate while the first is slow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hedging {
    /// Hedge after the target's recent p95 latency (at least `min_delay`), or after
    /// `min_delay` when it has no history.
    pub min_delay: Duration,
    /// Use this fixed delay instead of the p95.
    pub fixed_delay: Option<Duration>,
}

impl Default for Hedging {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(50),
            fixed_delay: None,
        }
    }
}

/// The router's policy.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Policy {
    /// One attempt's time limit (non-streamed: the whole answer; streamed: until the
    /// stream opens).
    pub attempt_timeout: Duration,
    /// The whole call's time limit, across attempts and waits.
    pub deadline: Duration,
    /// Attempts per call at most.
    pub max_attempts: u32,
    /// Retries on the same target at most, per call.
    pub max_retries_per_target: u32,
    /// Repair rounds (re-asking with a violation explained) at most, per call.
    pub max_repairs: u32,
    /// Backoff of a retry without a server hint: full jitter over `base · 2ⁿ`, capped.
    pub backoff_base: Duration,
    /// The cap of that backoff.
    pub backoff_max: Duration,
    /// The retry budget.
    pub budget: RetryBudget,
    /// Hedging, off by default.
    pub hedging: Option<Hedging>,
    /// Streams: from the request to the first content delta (keep-alives do not count).
    pub first_token_timeout: Duration,
    /// Streams: the longest gap between deltas once content flows.
    pub idle_timeout: Duration,
    /// When every candidate is out of rotation.
    pub when_all_open: WhenAllOpen,
    /// While a target's breaker is open, probe it in the background this often (with
    /// ±20% jitter) with a minimal real call; a passing probe closes the breaker at once,
    /// so traffic returns to a recovered target within about this long. `None`: wait out
    /// the open period instead. Probes never carry a user's call.
    pub recovery_probe: Option<Duration>,
}

impl Policy {
    /// Sets `attempt_timeout`.
    pub fn with_attempt_timeout(mut self, attempt_timeout: Duration) -> Self {
        self.attempt_timeout = attempt_timeout;
        self
    }

    /// Sets `deadline`.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets `max_attempts`.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Sets `max_retries_per_target`.
    pub fn with_max_retries_per_target(mut self, max_retries_per_target: u32) -> Self {
        self.max_retries_per_target = max_retries_per_target;
        self
    }

    /// Sets `max_repairs`.
    pub fn with_max_repairs(mut self, max_repairs: u32) -> Self {
        self.max_repairs = max_repairs;
        self
    }

    /// Sets `backoff_base`.
    pub fn with_backoff_base(mut self, backoff_base: Duration) -> Self {
        self.backoff_base = backoff_base;
        self
    }

    /// Sets `backoff_max`.
    pub fn with_backoff_max(mut self, backoff_max: Duration) -> Self {
        self.backoff_max = backoff_max;
        self
    }

    /// Sets `budget`.
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Sets `hedging`.
    pub fn with_hedging(mut self, hedging: Option<Hedging>) -> Self {
        self.hedging = hedging;
        self
    }

    /// Sets `first_token_timeout`.
    pub fn with_first_token_timeout(mut self, first_token_timeout: Duration) -> Self {
        self.first_token_timeout = first_token_timeout;
        self
    }

    /// Sets `idle_timeout`.
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sets `recovery_probe`.
    pub fn with_recovery_probe(mut self, recovery_probe: Option<Duration>) -> Self {
        self.recovery_probe = recovery_probe;
        self
    }

    /// Sets `when_all_open`.
    pub fn with_when_all_open(mut self, when_all_open: WhenAllOpen) -> Self {
        self.when_all_open = when_all_open;
        self
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            attempt_timeout: Duration::from_secs(60),
            deadline: Duration::from_secs(120),
            max_attempts: 4,
            max_retries_per_target: 1,
            max_repairs: 1,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            budget: RetryBudget::default(),
            hedging: None,
            first_token_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            when_all_open: WhenAllOpen::default(),
            recovery_probe: Some(Duration::from_millis(250)),
        }
    }
}
