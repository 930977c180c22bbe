//! Model check of the store's admission state machine with `loom`: every interleaving of
//! concurrent admit / record / drop (with the clock moved between) is explored, and after
//! each one no probe has leaked and no more probes were out at once than the breaker
//! allows.
//!
//! Run with `cargo xtask loom` (it sets `RUSTFLAGS="--cfg loom"` and its own target
//! directory); under a normal build this file compiles to nothing.

#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use nb_breaker::{
    BreakerConfig, CooldownPolicy, InMemoryKnowledge, Knowledge, ManualClock, Observed, OpenBackoff,
};
use nb_core::{FailureClass, Scope, TargetId};

fn failed() -> Observed {
    Observed::Failure {
        class: FailureClass::ServerError,
        scope: Scope::Target,
        retry_after: None,
    }
}

fn half_open_store(clock: &ManualClock) -> (Arc<InMemoryKnowledge>, TargetId) {
    let k = InMemoryKnowledge::new(
        BreakerConfig {
            consecutive_failures: 1,
            failure_rate: None,
            backoff: OpenBackoff {
                initial: Duration::from_secs(1),
                max: Duration::from_secs(1),
                jitter: false,
            },
            half_open_probes: 1,
            close_after: 1,
            probe_timeout: Duration::from_secs(30),
        },
        CooldownPolicy::default(),
        Arc::new(clock.clone()),
    );
    let t = TargetId::new("p", "m");
    let a = k.admit(&t, 1).unwrap();
    k.record(&t, a, Duration::ZERO, &failed());
    clock.advance(Duration::from_secs(1));
    (Arc::new(k), t)
}

/// What one simulated caller does with an admission it gets.
#[derive(Clone, Copy, Debug)]
enum Then {
    Drop,
    Succeed,
    Fail,
    Cancel,
}

fn caller(
    k: Arc<InMemoryKnowledge>,
    t: TargetId,
    held: Arc<AtomicUsize>,
    then: Then,
) -> impl FnOnce() + Send + 'static {
    move || {
        let Ok(a) = k.admit(&t, 1) else { return };
        if a.is_probe() {
            assert_eq!(held.fetch_add(1, Ordering::SeqCst), 0, "two probes at once");
            held.fetch_sub(1, Ordering::SeqCst);
        }
        match then {
            Then::Drop => drop(a),
            Then::Succeed => {
                k.record(
                    &t,
                    a,
                    Duration::ZERO,
                    &Observed::Success { budget_reset: None },
                );
            }
            Then::Fail => {
                k.record(&t, a, Duration::ZERO, &failed());
            }
            Then::Cancel => {
                k.record(&t, a, Duration::ZERO, &Observed::Cancelled);
            }
        }
    }
}

fn check(a: Then, b: Then) {
    loom::model(move || {
        let clock = ManualClock::new();
        let (k, t) = half_open_store(&clock);
        let held = Arc::new(AtomicUsize::new(0));
        let h1 = loom::thread::spawn(caller(k.clone(), t.clone(), held.clone(), a));
        let h2 = loom::thread::spawn(caller(k.clone(), t.clone(), held.clone(), b));
        h1.join().unwrap();
        h2.join().unwrap();
        // Whatever happened, nothing is held now: once any open period has passed, a
        // call is admitted (as a probe or as ordinary traffic).
        clock.advance(Duration::from_secs(2));
        assert!(k.admit(&t, 1).is_ok(), "a probe leaked after {a:?} / {b:?}");
    });
}

#[test]
fn dropped_and_recorded_probes_never_leak() {
    use Then::*;
    for a in [Drop, Succeed, Fail, Cancel] {
        for b in [Drop, Succeed, Fail, Cancel] {
            check(a, b);
        }
    }
}
