//! What the checkers' own model calls spend (a judge's, an entailment model's, an
//! embedding model's), counted per comparison without changing the [`Equivalence`] trait:
//! [`metered`] runs a comparison and returns its spend; the model-calling checkers
//! report each call with [`record_checker_call`].
//!
//! [`Equivalence`]: crate::Equivalence

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use nb_core::Usage;

/// Model calls made by checkers while a [`metered`] future ran, and their tokens.
///
/// ```
/// use nb_core::Usage;
/// use nb_semantic::{metered, record_checker_call};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ((), spent) = metered(async {
///     record_checker_call(Some(&Usage::new(120, 1)));
///     record_checker_call(Some(&Usage::new(118, 1)));
/// })
/// .await;
/// assert_eq!(spent.calls, 2);
/// assert_eq!(spent.usage, Some(Usage::new(238, 2)));
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckerSpend {
    /// Model calls made (failed ones included).
    pub calls: u32,
    /// Their tokens, summed, where the provider reported any.
    pub usage: Option<Usage>,
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

impl CheckerSpend {
    /// Adds one call and its usage.
    pub fn add_call(&mut self, usage: Option<&Usage>) {
        self.calls += 1;
        if let Some(u) = usage {
            self.add_usage(u);
        }
    }

    /// Adds everything `other` counted.
    pub fn add(&mut self, other: &CheckerSpend) {
        self.calls += other.calls;
        if let Some(u) = &other.usage {
            self.add_usage(u);
        }
    }

    fn add_usage(&mut self, u: &Usage) {
        let t = self.usage.get_or_insert_with(Usage::default);
        t.input_tokens += u.input_tokens;
        t.output_tokens += u.output_tokens;
        t.cached_tokens = add_opt(t.cached_tokens, u.cached_tokens);
        t.reasoning_tokens = add_opt(t.reasoning_tokens, u.reasoning_tokens);
        t.cache_write_tokens = add_opt(t.cache_write_tokens, u.cache_write_tokens);
    }
}

type Meter = Arc<Mutex<CheckerSpend>>;

thread_local! {
    /// The meter of the [`metered`] future being polled on this thread, if any.
    static METER: RefCell<Option<Meter>> = const { RefCell::new(None) };
}

/// Counts one checker model call (and its usage) in the spend of the [`metered`] future
/// it runs in; outside one, it does nothing. An [`Equivalence`](crate::Equivalence) of your own
/// that calls a model reports each call with it.
pub fn record_checker_call(usage: Option<&Usage>) {
    METER.with(|m| {
        if let Some(meter) = &*m.borrow() {
            meter
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .add_call(usage);
        }
    });
}

/// Runs `f` and returns its output with what checker model calls made while it ran
/// spent. Scopes nest: an inner scope's spend is added to the enclosing one's too.
pub async fn metered<F: Future>(f: F) -> (F::Output, CheckerSpend) {
    let meter: Meter = Arc::default();
    let out = Metered {
        inner: Box::pin(f),
        meter: meter.clone(),
    }
    .await;
    let spent = *meter
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    (out, spent)
}

struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Meter,
}

/// Puts the previous meter back when a poll ends, even by a panic.
struct Restore(Option<Meter>);

impl Drop for Restore {
    fn drop(&mut self) {
        let prev = self.0.take();
        METER.with(|m| *m.borrow_mut() = prev);
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let prev = METER.with(|m| m.replace(Some(self.meter.clone())));
        let restore = Restore(prev);
        let out = self.inner.as_mut().poll(cx);
        if out.is_ready() {
            if let Some(outer) = &restore.0 {
                let spent = *self
                    .meter
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                outer
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .add(&spent);
            }
        }
        drop(restore);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scopes_nest_and_nothing_leaks_outside() {
        record_checker_call(Some(&Usage::new(1, 1)));
        let ((inner, ()), outer) = metered(async {
            record_checker_call(None);
            let inner = metered(async {
                tokio::task::yield_now().await;
                record_checker_call(Some(&Usage::new(10, 2).with_cached(4)));
            })
            .await;
            (inner.1, ())
        })
        .await;
        assert_eq!(inner.calls, 1);
        assert_eq!(inner.usage, Some(Usage::new(10, 2).with_cached(4)));
        assert_eq!(outer.calls, 2);
        assert_eq!(outer.usage, Some(Usage::new(10, 2).with_cached(4)));
        let ((), none) = metered(async {}).await;
        assert_eq!(none, CheckerSpend::default());
    }
}
