//! The drift test: each target's agreement with the others, from shadow samples,
//! canaries and vouching, as a sequential test of whether it drifted.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use nb_core::TargetId;

use super::{SmartRouter, lock};

/// Every target's [`Agreement`], by position.
#[derive(Debug, Default)]
pub(super) struct Trust {
    by_target: Mutex<HashMap<usize, Agreement>>,
}

impl Trust {
    /// Counts one comparison of target `i`'s answer.
    pub(super) fn record(&self, i: usize, agreed: bool) {
        lock(&self.by_target).entry(i).or_default().push(agreed);
    }

    /// The share of target `i`'s first-choice answers to shadow-check.
    pub(super) fn shadow_rate(&self, i: usize, base: f64) -> f64 {
        lock(&self.by_target)
            .get(&i)
            .map_or((base * 3.0).min(1.0), |a| a.shadow_rate(base))
    }

    /// Whether the test has target `i` on alert.
    pub(super) fn on_alert(&self, i: usize) -> bool {
        lock(&self.by_target)
            .get(&i)
            .is_some_and(|a| a.state == Drift::Alert)
    }

    /// Whether target `i` was demoted, or its recent agreement is below `min` over at
    /// least `samples` comparisons.
    pub(super) fn distrusted(&self, i: usize, min: f64, samples: usize) -> bool {
        lock(&self.by_target).get(&i).is_some_and(|a| {
            a.state == Drift::Demoted || a.ratio().is_some_and(|(r, n)| n >= samples && r < min)
        })
    }

    /// Target `i`'s recent agreement, `(ratio, samples)`.
    fn ratio(&self, i: usize) -> Option<(f64, usize)> {
        lock(&self.by_target).get(&i).and_then(Agreement::ratio)
    }
}

impl SmartRouter {
    /// A target's measured agreement with the first choice, `(ratio, samples)` (none
    /// without vouching: agreement is measured by its checker).
    pub fn agreement(&self, target: &TargetId) -> Option<(f64, usize)> {
        let i = self.inner.targets.position(target)?;
        self.inner.vouching.as_ref()?.trust.ratio(i)
    }

    pub(super) fn record_agreement(&self, i: usize, agreed: bool) {
        if let Some(v) = &self.inner.vouching {
            v.trust.record(i, agreed);
        }
    }

    /// Whether the drift test has a target on alert: its answers are vouched for before
    /// they are returned, until the test decides.
    pub(super) fn on_alert(&self, i: usize) -> bool {
        self.inner
            .vouching
            .as_ref()
            .is_some_and(|v| v.trust.on_alert(i))
    }

    /// Whether a target is known to disagree too often to be failed over to: the drift
    /// test demoted it, or its recent agreement fell below `min_agreement`.
    pub(super) fn distrusted(&self, i: usize) -> bool {
        self.inner.vouching.as_ref().is_some_and(|v| {
            v.config.min_agreement > 0.0
                && v.trust
                    .distrusted(i, v.config.min_agreement, v.config.min_samples)
        })
    }
}

/// One target's agreement with the others: its last answers (for
/// [`SmartRouter::agreement`]), and a sequential test of whether it drifted.
///
/// The test is Wald's SPRT of "it disagrees at rate [`P0`](Self::P0)" (healthy: the
/// checker's own noise) against "at rate [`P1`](Self::P1)" (drifted), with error rates
/// [`ALPHA`](Self::ALPHA) and [`BETA`](Self::BETA). A target is *learning* until the test
/// first accepts health (its answers are shadow-checked at three times the base rate),
/// then *trusted* (the base rate). One disagreement puts it on *alert*: every answer it
/// serves is vouched for before it is returned, until the test decides — *trusted*
/// again, or *demoted* (vouched for and moved after the targets that agree, until the
/// test clears it).
#[derive(Debug, Clone, Default)]
struct Agreement {
    recent: VecDeque<bool>,
    llr: f64,
    state: Drift,
}

/// Where a target stands in the drift test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Drift {
    #[default]
    Learning,
    Trusted,
    Alert,
    Demoted,
}

impl Agreement {
    const WINDOW: usize = 50;
    /// The disagreement rate of a healthy target (the checker's false rejections).
    const P0: f64 = 0.05;
    /// The disagreement rate of a drifted one.
    const P1: f64 = 0.25;
    /// The chance of demoting a healthy target.
    const ALPHA: f64 = 0.01;
    /// The chance of clearing a drifted one.
    const BETA: f64 = 0.05;

    fn push(&mut self, agreed: bool) {
        if self.recent.len() == Self::WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(agreed);
        let drifted = ((1.0 - Self::BETA) / Self::ALPHA).ln();
        let healthy = (Self::BETA / (1.0 - Self::ALPHA)).ln();
        self.llr += if agreed {
            ((1.0 - Self::P1) / (1.0 - Self::P0)).ln()
        } else {
            (Self::P1 / Self::P0).ln()
        };
        if !agreed && matches!(self.state, Drift::Learning | Drift::Trusted) {
            self.state = Drift::Alert;
        }
        if self.llr >= drifted {
            self.state = Drift::Demoted;
            self.llr = drifted;
        } else if self.llr <= healthy {
            self.state = Drift::Trusted;
            self.llr = 0.0;
        }
    }

    /// The share of this target's first-choice answers to shadow-check.
    fn shadow_rate(&self, base: f64) -> f64 {
        match self.state {
            Drift::Learning => (base * 3.0).min(1.0),
            _ => base,
        }
    }

    fn ratio(&self) -> Option<(f64, usize)> {
        let n = self.recent.len();
        (n > 0).then(|| {
            (
                self.recent.iter().filter(|a| **a).count() as f64 / n as f64,
                n,
            )
        })
    }
}
