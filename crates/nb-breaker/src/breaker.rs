//! The circuit breaker: an observable state machine over failure policies.
//!
//! The policies have the shape of the `failsafe` crate's (told each outcome, a policy
//! answers a failure with an open period or none), written here: failsafe's state machine
//! has no state getter, lets every call through while half-open and records ignored
//! errors as successes, its window reads a thread-local clock, its backoffs assert a
//! start of a second, and the crate pins rand 0.8 — a second rand in every build for the
//! twenty lines we used. This one has `state()`, a bounded number of half-open probes,
//! three-way outcomes, and our injected clock.

use std::fmt;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::SharedClock;

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

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        })
    }
}

/// What an attempt means for the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BreakerOutcome {
    /// The target answered.
    Success,
    /// The target failed in a way that says something about its health.
    Failure,
    /// Says nothing about the target (the caller's 400, a cancellation): neither trips
    /// nor heals.
    Ignored,
}

/// How open periods grow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenBackoff {
    /// The first open period.
    pub initial: Duration,
    /// The longest open period.
    pub max: Duration,
    /// Equal jitter (half fixed, half random) instead of plain doubling.
    pub jitter: bool,
}

/// Trip on a failure rate over a sliding window, once enough calls were seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailureRate {
    /// Trip when failures / calls reaches this (0..=1).
    pub threshold: f64,
    /// Fewer calls than this in the window never trip.
    pub min_calls: u32,
    /// The window's length. (Kept in 20 buckets: the rate counts the calls of the last
    /// `window − window / 20` to `window`, in the same memory at any call rate.)
    pub window: Duration,
}

/// A breaker's policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Trip after this many consecutive failures (0 disables the rule).
    pub consecutive_failures: u32,
    /// Also trip on a failure rate.
    pub failure_rate: Option<FailureRate>,
    /// Open periods.
    pub backoff: OpenBackoff,
    /// Probes allowed at once while half-open.
    pub half_open_probes: u32,
    /// Successful probes needed to close.
    pub close_after: u32,
    /// How long a half-open probe may stay out without a verdict before its place is
    /// given to another call (a caller that vanished without dropping its permit, a
    /// process that died mid-call). Must be longer than an attempt can take.
    pub probe_timeout: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: 5,
            failure_rate: Some(FailureRate {
                threshold: 0.5,
                min_calls: 20,
                window: Duration::from_secs(30),
            }),
            backoff: OpenBackoff {
                initial: Duration::from_secs(2),
                max: Duration::from_secs(60),
                jitter: true,
            },
            half_open_probes: 1,
            close_after: 1,
            probe_timeout: Duration::from_secs(120),
        }
    }
}

/// A state change and why it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The state before.
    pub from: BreakerState,
    /// The state after.
    pub to: BreakerState,
    /// Why (`"5 consecutive failures"`, `"open period elapsed"`, `"probe succeeded"`).
    pub cause: String,
}

/// When failures open the breaker: told every outcome, a policy answers a failure with
/// the period to stay open, or `None` to stay closed.
trait FailurePolicy {
    /// A call succeeded (at `now`, when the caller has read the clock already).
    fn record_success(&mut self, now: Option<Instant>);
    /// A call failed: open for the returned period, if any.
    fn mark_dead_on_failure(&mut self, now: Option<Instant>) -> Option<Duration>;
    /// The breaker closed again: start afresh (counts and backoff).
    fn revived(&mut self);
}

/// Opens after `threshold` failures in a row, for the next period of its backoff.
struct Consecutive {
    threshold: u32,
    failures: u32,
    backoff: Backoff,
    fresh: Backoff,
}

impl Consecutive {
    fn new(threshold: u32, backoff: Backoff) -> Self {
        Self {
            threshold,
            failures: 0,
            fresh: backoff.clone(),
            backoff,
        }
    }
}

impl FailurePolicy for Consecutive {
    fn record_success(&mut self, _now: Option<Instant>) {
        self.failures = 0;
    }

    fn mark_dead_on_failure(&mut self, _now: Option<Instant>) -> Option<Duration> {
        self.failures = self.failures.saturating_add(1);
        (self.failures >= self.threshold)
            .then(|| self.backoff.next())
            .flatten()
    }

    fn revived(&mut self) {
        self.failures = 0;
        self.backoff = self.fresh.clone();
    }
}

/// Two policies told the same outcomes: open when either would, for the longer period.
struct Either<A, B>(A, B);

impl<A: FailurePolicy, B: FailurePolicy> FailurePolicy for Either<A, B> {
    fn record_success(&mut self, now: Option<Instant>) {
        self.0.record_success(now);
        self.1.record_success(now);
    }

    fn mark_dead_on_failure(&mut self, now: Option<Instant>) -> Option<Duration> {
        // Both see the failure, whichever answers.
        let a = self.0.mark_dead_on_failure(now);
        let b = self.1.mark_dead_on_failure(now);
        a.max(b)
    }

    fn revived(&mut self) {
        self.0.revived();
        self.1.revived();
    }
}

/// How many buckets a failure-rate window is kept in.
const BUCKETS: u64 = 20;

/// A failure rate over a sliding window, on our injected clock (an async router's tests
/// freeze it). The window is kept as [`BUCKETS`] buckets of counts, not as its calls: its
/// memory and the cost of an outcome are the same at one call a minute or a hundred
/// thousand a second (a list of every call in a 30 s window held millions of entries at
/// high rates, scanned on every failure). The rate counts the calls of the last
/// `window` at a bucket's granularity: between `window − window / 20` and `window`.
struct RateWindow {
    cfg: FailureRate,
    clock: SharedClock,
    /// When bucket 0 began.
    epoch: Instant,
    /// A bucket's length in nanoseconds (at least 1).
    bucket_nanos: u64,
    /// Each bucket's number (time since `epoch` in bucket lengths) and counts; bucket
    /// `n` lives in slot `n % BUCKETS`.
    slots: [Bucket; BUCKETS as usize],
    backoff: Backoff,
    /// The next fresh backoff's seed.
    seed: u64,
    open: OpenBackoff,
}

/// One bucket of a [`RateWindow`].
#[derive(Clone, Copy, Default)]
struct Bucket {
    number: u64,
    calls: u32,
    failures: u32,
}

impl RateWindow {
    fn new(cfg: FailureRate, clock: SharedClock, open: OpenBackoff, seed: u64) -> Self {
        let epoch = clock.now();
        Self {
            bucket_nanos: u64::try_from(cfg.window.as_nanos() / u128::from(BUCKETS))
                .unwrap_or(u64::MAX)
                .max(1),
            cfg,
            clock,
            epoch,
            slots: [Bucket::default(); BUCKETS as usize],
            backoff: Backoff::new(open, seed),
            seed,
            open,
        }
    }

    /// Counts an outcome at `now` (the clock read if not given); returns its bucket's
    /// number.
    fn add(&mut self, failed: bool, now: Option<Instant>) -> u64 {
        let now = now.unwrap_or_else(|| self.clock.now());
        let since = now.saturating_duration_since(self.epoch);
        let number = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX) / self.bucket_nanos;
        let slot = &mut self.slots[(number % BUCKETS) as usize];
        if slot.number != number {
            *slot = Bucket {
                number,
                ..Bucket::default()
            };
        }
        slot.calls = slot.calls.saturating_add(1);
        if failed {
            slot.failures = slot.failures.saturating_add(1);
        }
        number
    }

    /// The calls and failures of the buckets of the last `BUCKETS` numbers up to
    /// `number`.
    fn totals(&self, number: u64) -> (u64, u64) {
        self.slots
            .iter()
            .filter(|b| b.number <= number && number - b.number < BUCKETS)
            .fold((0, 0), |(c, f), b| {
                (c + u64::from(b.calls), f + u64::from(b.failures))
            })
    }
}

impl FailurePolicy for RateWindow {
    fn record_success(&mut self, now: Option<Instant>) {
        self.add(false, now);
    }

    fn mark_dead_on_failure(&mut self, now: Option<Instant>) -> Option<Duration> {
        let number = self.add(true, now);
        let (calls, failures) = self.totals(number);
        let rate = failures as f64 / calls.max(1) as f64;
        (calls >= u64::from(self.cfg.min_calls) && rate >= self.cfg.threshold)
            .then(|| self.backoff.next())
            .flatten()
    }

    fn revived(&mut self) {
        self.slots = [Bucket::default(); BUCKETS as usize];
        self.epoch = self.clock.now();
        self.seed = self.seed.wrapping_add(1);
        self.backoff = Backoff::new(self.open, self.seed);
    }
}

/// Open periods: doubling from `initial` up to `max`, with equal jitter when asked (half
/// the period fixed, half random). Any start is valid (at least 1 ms is used): a
/// configuration never panics.
#[derive(Clone)]
struct Backoff {
    cfg: OpenBackoff,
    next: Duration,
    rng: ChaCha8Rng,
}

impl Backoff {
    /// Open periods drawn from `seed`: the same seed, the same periods (tests replay
    /// exactly whatever ran before them).
    fn new(cfg: OpenBackoff, seed: u64) -> Self {
        Self {
            cfg,
            next: cfg.initial.max(Duration::from_millis(1)),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let max = self
            .cfg
            .max
            .max(self.cfg.initial)
            .max(Duration::from_millis(1));
        let d = self.next.min(max);
        self.next = d.saturating_mul(2).min(max);
        Some(if self.cfg.jitter {
            d / 2 + (d / 2).mul_f64(self.rng.random::<f64>())
        } else {
            d
        })
    }
}

enum State {
    Closed,
    Open {
        until: Instant,
        last: Duration,
    },
    HalfOpen {
        in_flight: u32,
        successes: u32,
        last: Duration,
        /// When the latest probe was let through.
        since: Instant,
    },
}

/// A permit to call the target; tell the breaker how it went with [`Breaker::record`],
/// or [`Breaker::release`] it unused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permit {
    /// Whether this call is a half-open probe.
    pub probe: bool,
}

/// One target's circuit breaker.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use nb_breaker::{Breaker, BreakerConfig, BreakerState, ManualClock, OpenBackoff, BreakerOutcome};
///
/// let clock = ManualClock::new();
/// let cfg = BreakerConfig {
///     consecutive_failures: 2,
///     failure_rate: None,
///     backoff: OpenBackoff { initial: Duration::from_secs(1), max: Duration::from_secs(8), jitter: false },
///     ..BreakerConfig::default()
/// };
/// let mut b = Breaker::new(cfg, Arc::new(clock.clone()));
/// for _ in 0..2 {
///     let p = b.try_acquire().unwrap();
///     b.record(p, BreakerOutcome::Failure);
/// }
/// assert_eq!(b.state(), BreakerState::Open);
/// clock.advance(Duration::from_secs(1));
/// let probe = b.try_acquire().unwrap();
/// assert!(probe.probe);
/// assert!(b.try_acquire().is_err(), "one probe at a time");
/// b.record(probe, BreakerOutcome::Success);
/// assert_eq!(b.state(), BreakerState::Closed);
/// ```
pub struct Breaker {
    cfg: BreakerConfig,
    clock: SharedClock,
    policy: Box<dyn FailurePolicy + Send>,
    state: State,
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("state", &self.state())
            .field("cfg", &self.cfg)
            .finish()
    }
}

impl Breaker {
    /// A closed breaker, its open periods' jitter drawn from a fixed seed.
    pub fn new(cfg: BreakerConfig, clock: SharedClock) -> Self {
        Self::seeded(cfg, clock, 0x6e62_6272_6b72)
    }

    /// A closed breaker whose open periods' jitter is drawn from `seed` (the health
    /// store seeds each target's breaker from its id, so targets are decorrelated and
    /// a run replays exactly).
    pub fn seeded(cfg: BreakerConfig, clock: SharedClock, seed: u64) -> Self {
        let window = |rate| RateWindow::new(rate, clock.clone(), cfg.backoff, seed ^ 0x5157);
        let consecutive =
            || Consecutive::new(cfg.consecutive_failures, Backoff::new(cfg.backoff, seed));
        let policy: Box<dyn FailurePolicy + Send> =
            match (cfg.consecutive_failures > 0, cfg.failure_rate) {
                (true, Some(rate)) => Box::new(Either(consecutive(), window(rate))),
                (true, None) => Box::new(consecutive()),
                (false, Some(rate)) => Box::new(window(rate)),
                (false, None) => Box::new(Never),
            };
        Self {
            cfg,
            clock,
            policy,
            state: State::Closed,
        }
    }

    /// The current state (an open breaker whose period has elapsed reads half-open).
    pub fn state(&self) -> BreakerState {
        match self.state {
            State::Closed => BreakerState::Closed,
            State::Open { until, .. } if self.clock.now() >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// When an open breaker will let a probe through.
    pub fn open_until(&self) -> Option<Instant> {
        match self.state {
            State::Open { until, .. } => Some(until),
            _ => None,
        }
    }

    /// Opens the breaker until at least `until` because the target was seen failing
    /// elsewhere (another replica, through a shared store). A closed breaker opens; an
    /// open one stays open at least that long; a half-open one (probing already) and a
    /// time already past are left alone. Returns the transition, if any.
    pub fn open_at_least_until(&mut self, until: Instant) -> Option<Transition> {
        let now = self.clock.now();
        if until <= now {
            return None;
        }
        match &mut self.state {
            State::Closed => {
                let d = until - now;
                self.state = State::Open { until, last: d };
                Some(Transition {
                    from: BreakerState::Closed,
                    to: BreakerState::Open,
                    cause: format!("opened elsewhere; open for {d:?}"),
                })
            }
            State::Open { until: u, .. } => {
                *u = (*u).max(until);
                None
            }
            State::HalfOpen { .. } => None,
        }
    }

    /// Asks to call the target. `Err` holds when to ask again (`now` while half-open
    /// probes are all taken).
    pub fn try_acquire(&mut self) -> Result<Permit, Instant> {
        self.acquire_with_transition().map(|(p, _)| p)
    }

    /// Like [`try_acquire`](Self::try_acquire), also returning the open → half-open
    /// transition it caused, if any.
    pub fn acquire_with_transition(&mut self) -> Result<(Permit, Option<Transition>), Instant> {
        // A closed breaker admits without asking the time (every healthy call passes here).
        if let State::Closed = self.state {
            return Ok((Permit { probe: false }, None));
        }
        let now = self.clock.now();
        let mut transition = None;
        if let State::Open { until, last } = self.state {
            if now < until {
                return Err(until);
            }
            self.state = State::HalfOpen {
                in_flight: 0,
                successes: 0,
                last,
                since: now,
            };
            transition = Some(Transition {
                from: BreakerState::Open,
                to: BreakerState::HalfOpen,
                cause: "open period elapsed".into(),
            });
        }
        match &mut self.state {
            State::Closed => Ok((Permit { probe: false }, transition)),
            State::HalfOpen {
                in_flight, since, ..
            } => {
                // Probes out for longer than any attempt can take are lost: their places
                // go to new calls instead of holding the breaker half-open forever.
                if *in_flight > 0 && now.saturating_duration_since(*since) >= self.cfg.probe_timeout
                {
                    *in_flight = 0;
                }
                if *in_flight < self.cfg.half_open_probes.max(1) {
                    *in_flight += 1;
                    *since = now;
                    Ok((Permit { probe: true }, transition))
                } else {
                    Err(now
                        .max(*since + self.cfg.probe_timeout)
                        .min(now + Duration::from_millis(50)))
                }
            }
            State::Open { .. } => Err(now),
        }
    }

    /// A recovery probe while the breaker is open, before its open period ends: the
    /// breaker turns half-open now and this call is its probe. A passing probe closes it
    /// at once; a failing one opens it again. `Err` when the breaker is closed (nothing to
    /// probe) or its probes are all out.
    pub fn try_probe(&mut self) -> Result<(Permit, Option<Transition>), Instant> {
        let now = self.clock.now();
        if let State::Open { last, .. } = self.state {
            self.state = State::HalfOpen {
                in_flight: 0,
                successes: 0,
                last,
                since: now,
            };
            let (p, _) = self.acquire_with_transition()?;
            return Ok((
                p,
                Some(Transition {
                    from: BreakerState::Open,
                    to: BreakerState::HalfOpen,
                    cause: "recovery probe".into(),
                }),
            ));
        }
        match self.state {
            State::HalfOpen { .. } => self.acquire_with_transition(),
            _ => Err(now),
        }
    }

    /// Gives back a permit that was never used (the call was cancelled before it said
    /// anything about the target).
    pub fn release(&mut self, permit: Permit) {
        if let (true, State::HalfOpen { in_flight, .. }) = (permit.probe, &mut self.state) {
            *in_flight = in_flight.saturating_sub(1);
        }
    }

    /// Records how a permitted call went; returns the transition it caused, if any.
    pub fn record(&mut self, permit: Permit, outcome: BreakerOutcome) -> Option<Transition> {
        self.record_at(permit, outcome, None)
    }

    /// [`Breaker::record`] at `now`, read from this breaker's clock by a caller that had
    /// read it already (the clock is read at most once per outcome).
    pub(crate) fn record_at(
        &mut self,
        permit: Permit,
        outcome: BreakerOutcome,
        now: Option<Instant>,
    ) -> Option<Transition> {
        if permit.probe {
            let State::HalfOpen {
                in_flight,
                successes,
                last,
                ..
            } = &mut self.state
            else {
                return None;
            };
            *in_flight = in_flight.saturating_sub(1);
            return match outcome {
                BreakerOutcome::Ignored => None,
                BreakerOutcome::Success => {
                    *successes += 1;
                    if *successes >= self.cfg.close_after.max(1) {
                        self.policy.revived();
                        self.state = State::Closed;
                        Some(Transition {
                            from: BreakerState::HalfOpen,
                            to: BreakerState::Closed,
                            cause: "probe succeeded".into(),
                        })
                    } else {
                        None
                    }
                }
                BreakerOutcome::Failure => {
                    let next = self
                        .policy
                        .mark_dead_on_failure(now)
                        .unwrap_or_else(|| (*last * 2).min(self.cfg.backoff.max));
                    self.state = State::Open {
                        until: now.unwrap_or_else(|| self.clock.now()) + next,
                        last: next,
                    };
                    Some(Transition {
                        from: BreakerState::HalfOpen,
                        to: BreakerState::Open,
                        cause: format!("probe failed; open for {next:?}"),
                    })
                }
            };
        }
        match (outcome, &self.state) {
            (BreakerOutcome::Success, State::Closed) => {
                self.policy.record_success(now);
                None
            }
            (BreakerOutcome::Failure, State::Closed) => {
                let d = self.policy.mark_dead_on_failure(now)?;
                self.state = State::Open {
                    until: now.unwrap_or_else(|| self.clock.now()) + d,
                    last: d,
                };
                Some(Transition {
                    from: BreakerState::Closed,
                    to: BreakerState::Open,
                    cause: format!("failure policy tripped; open for {d:?}"),
                })
            }
            // Late outcomes of calls started before a trip say nothing new.
            _ => None,
        }
    }
}

struct Never;

impl FailurePolicy for Never {
    fn record_success(&mut self, _now: Option<Instant>) {}
    fn mark_dead_on_failure(&mut self, _now: Option<Instant>) -> Option<Duration> {
        None
    }
    fn revived(&mut self) {}
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Clock, ManualClock};

    fn cfg(consecutive: u32, rate: Option<FailureRate>) -> BreakerConfig {
        BreakerConfig {
            consecutive_failures: consecutive,
            failure_rate: rate,
            backoff: OpenBackoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(4),
                jitter: false,
            },
            half_open_probes: 1,
            close_after: 1,
            probe_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn a_probe_that_never_reports_is_given_up_after_the_probe_timeout() {
        let clock = ManualClock::new();
        let mut b = Breaker::new(cfg(1, None), Arc::new(clock.clone()));
        let p = b.try_acquire().unwrap();
        b.record(p, BreakerOutcome::Failure);
        clock.advance(Duration::from_secs(1));
        let lost = b.try_acquire().unwrap();
        assert!(lost.probe);
        // The holder vanished without a word: nobody else may probe for a while...
        clock.advance(Duration::from_secs(29));
        assert!(b.try_acquire().is_err());
        // ...but not forever.
        clock.advance(Duration::from_secs(1));
        let again = b.try_acquire().unwrap();
        assert!(again.probe);
        b.record(again, BreakerOutcome::Success);
        assert_eq!(b.state(), BreakerState::Closed);
        // The stale permit reporting late changes nothing.
        assert!(b.record(lost, BreakerOutcome::Failure).is_none());
        assert_eq!(b.state(), BreakerState::Closed);
    }

    /// A 50 % failure rate over `window`, from `min_calls` calls.
    fn half(min_calls: u32, window: Duration) -> FailureRate {
        FailureRate {
            threshold: 0.5,
            min_calls,
            window,
        }
    }

    fn fail(b: &mut Breaker) -> Option<Transition> {
        let p = b.try_acquire().unwrap();
        b.record(p, BreakerOutcome::Failure)
    }

    #[test]
    fn trips_after_consecutive_failures_and_open_periods_grow_until_max() {
        let clock = ManualClock::new();
        let mut b = Breaker::new(cfg(3, None), Arc::new(clock.clone()));
        assert!(fail(&mut b).is_none());
        assert!(fail(&mut b).is_none());
        let t = fail(&mut b).unwrap();
        assert_eq!((t.from, t.to), (BreakerState::Closed, BreakerState::Open));
        assert_eq!(b.open_until(), Some(clock.now() + Duration::from_secs(1)));
        let mut expected = [2, 4, 4].into_iter();
        for _ in 0..3 {
            clock.advance(Duration::from_secs(10));
            let probe = b.try_acquire().unwrap();
            assert!(probe.probe);
            let t = b.record(probe, BreakerOutcome::Failure).unwrap();
            assert_eq!(t.to, BreakerState::Open);
            let want = Duration::from_secs(expected.next().unwrap());
            assert_eq!(b.open_until(), Some(clock.now() + want), "{}", t.cause);
        }
    }

    #[test]
    fn sub_second_open_periods_and_jitter_stay_in_bounds() {
        let clock = ManualClock::new();
        let mut c = cfg(1, None);
        c.backoff = OpenBackoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(400),
            jitter: true,
        };
        let mut b = Breaker::new(c, Arc::new(clock.clone()));
        fail(&mut b);
        for want_max in [100, 200, 400, 400] {
            let open = b.open_until().unwrap() - clock.now();
            assert!(
                open >= Duration::from_millis(want_max / 2)
                    && open <= Duration::from_millis(want_max),
                "{open:?} vs {want_max}"
            );
            clock.advance(Duration::from_secs(1));
            let p = b.try_acquire().unwrap();
            b.record(p, BreakerOutcome::Failure);
        }
        // A zero configuration does not panic: periods are at least a millisecond.
        let mut z = cfg(1, None);
        z.backoff = OpenBackoff {
            initial: Duration::ZERO,
            max: Duration::ZERO,
            jitter: false,
        };
        let mut b = Breaker::new(z, Arc::new(clock.clone()));
        fail(&mut b);
        assert_eq!(b.open_until(), Some(clock.now() + Duration::from_millis(1)));
    }

    #[test]
    fn ignored_outcomes_neither_trip_nor_heal() {
        let clock = ManualClock::new();
        let mut b = Breaker::new(cfg(2, None), Arc::new(clock.clone()));
        fail(&mut b);
        for _ in 0..10 {
            let p = b.try_acquire().unwrap();
            assert!(b.record(p, BreakerOutcome::Ignored).is_none());
        }
        // The ignored calls did not reset the consecutive count: one more failure trips.
        assert!(fail(&mut b).is_some());
        clock.advance(Duration::from_secs(1));
        let probe = b.try_acquire().unwrap();
        assert!(b.record(probe, BreakerOutcome::Ignored).is_none());
        assert_eq!(
            b.state(),
            BreakerState::HalfOpen,
            "an ignored probe does not close it"
        );
        let probe = b.try_acquire().unwrap();
        assert_eq!(
            b.record(probe, BreakerOutcome::Success).unwrap().to,
            BreakerState::Closed
        );
    }

    #[test]
    fn a_success_resets_the_consecutive_count() {
        let clock = ManualClock::new();
        let mut b = Breaker::new(cfg(2, None), Arc::new(clock));
        fail(&mut b);
        let p = b.try_acquire().unwrap();
        b.record(p, BreakerOutcome::Success);
        assert!(fail(&mut b).is_none());
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn failure_rate_trips_only_with_enough_calls_in_the_window() {
        let clock = ManualClock::new();
        let rate = half(6, Duration::from_secs(10));
        let mut b = Breaker::new(cfg(0, Some(rate)), Arc::new(clock.clone()));
        // success, failure alternating: 50% but fewer than 6 calls at first.
        for i in 0..5 {
            let p = b.try_acquire().unwrap();
            let t = b.record(
                p,
                if i % 2 == 0 {
                    BreakerOutcome::Success
                } else {
                    BreakerOutcome::Failure
                },
            );
            assert!(t.is_none());
        }
        // Old calls leave the window.
        clock.advance(Duration::from_secs(11));
        for _ in 0..2 {
            let p = b.try_acquire().unwrap();
            b.record(p, BreakerOutcome::Success);
        }
        for _ in 0..3 {
            assert!(fail(&mut b).is_none(), "3 of 5 in window, below min calls");
        }
        assert!(fail(&mut b).is_some(), "4 failures of 6 calls trips");
    }

    /// Failures that the window should (and should not) still hold, a bucket's length
    /// (0.5 s of a 10 s window) on either side of its edge.
    #[test]
    fn a_rate_window_holds_the_last_window_at_a_buckets_granularity() {
        let rate = half(4, Duration::from_secs(10));
        for (later, trips) in [
            (Duration::from_millis(9_400), true),
            (Duration::from_secs(10), false),
        ] {
            let clock = ManualClock::new();
            let mut b = Breaker::new(cfg(0, Some(rate)), Arc::new(clock.clone()));
            for _ in 0..3 {
                assert!(fail(&mut b).is_none(), "fewer calls than min_calls");
            }
            clock.advance(later);
            assert_eq!(
                fail(&mut b).is_some(),
                trips,
                "three failures {later:?} earlier {} still count",
                if trips { "must" } else { "must not" }
            );
        }
    }

    /// A window of a million calls (kept in the same 20 buckets as one of ten): a
    /// million successes, then failures trip it at the rate they make.
    #[test]
    fn a_rate_window_over_a_million_calls_trips_at_the_rate_they_make() {
        let clock = ManualClock::new();
        let rate = half(10, Duration::from_secs(30));
        let mut b = Breaker::new(cfg(0, Some(rate)), Arc::new(clock.clone()));
        for i in 0..1_000_000u32 {
            let p = b.try_acquire().unwrap();
            assert!(b.record(p, BreakerOutcome::Success).is_none());
            if i % 100_000 == 0 {
                clock.advance(Duration::from_millis(100));
            }
        }
        // Half a million failures more would be needed for 50 %: these do not trip.
        for _ in 0..1_000 {
            assert!(fail(&mut b).is_none());
        }
        // Once the successes leave the window, failures alone trip it.
        clock.advance(Duration::from_secs(31));
        let trips = (0..10).filter_map(|_| fail(&mut b)).count();
        assert_eq!(trips, 1, "the tenth failure (min_calls) trips it");
    }

    #[test]
    fn with_both_policies_either_trips_and_a_success_resets_only_the_run() {
        let clock = ManualClock::new();
        let rate = half(10, Duration::from_secs(60));
        let mut b = Breaker::new(cfg(3, Some(rate)), Arc::new(clock.clone()));
        // Three in a row trip on the run alone: the window has too few calls.
        assert!(fail(&mut b).is_none());
        assert!(fail(&mut b).is_none());
        let t = fail(&mut b).unwrap();
        assert_eq!(t.to, BreakerState::Open);
        // A probe that succeeds closes it; both policies start afresh.
        clock.advance(Duration::from_secs(1));
        let p = b.try_acquire().unwrap();
        assert!(b.record(p, BreakerOutcome::Success).is_some());
        assert_eq!(b.state(), BreakerState::Closed);
        // Failures between successes never make a run of three, but the rate trips
        // once the window holds ten calls.
        for i in 0..9 {
            let p = b.try_acquire().unwrap();
            let outcome = if i % 2 == 0 {
                BreakerOutcome::Failure
            } else {
                BreakerOutcome::Success
            };
            assert!(b.record(p, outcome).is_none(), "call {i}");
        }
        let t = fail(&mut b).unwrap();
        assert_eq!(
            t.to,
            BreakerState::Open,
            "6 failures of 10 calls: {}",
            t.cause
        );
        // The first open period of a fresh backoff.
        assert_eq!(b.open_until(), Some(clock.now() + Duration::from_secs(1)));
    }

    #[test]
    fn half_open_admits_a_bounded_number_of_probes_and_releases_unused_ones() {
        let clock = ManualClock::new();
        let mut c = cfg(1, None);
        c.half_open_probes = 2;
        c.close_after = 2;
        let mut b = Breaker::new(c, Arc::new(clock.clone()));
        fail(&mut b);
        assert!(b.try_acquire().is_err());
        clock.advance(Duration::from_secs(1));
        let p1 = b.try_acquire().unwrap();
        let p2 = b.try_acquire().unwrap();
        assert!(b.try_acquire().is_err());
        b.release(p2);
        let p3 = b.try_acquire().unwrap();
        assert!(
            b.record(p1, BreakerOutcome::Success).is_none(),
            "needs two successes"
        );
        assert_eq!(
            b.record(p3, BreakerOutcome::Success).unwrap().to,
            BreakerState::Closed
        );
        assert!(!b.try_acquire().unwrap().probe);
    }
}
