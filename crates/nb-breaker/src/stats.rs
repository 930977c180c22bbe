//! Latency statistics: an EWMA and a percentile over a window of recent samples.

use std::collections::VecDeque;
use std::time::Duration;

/// Recent latencies of one target.
#[derive(Debug, Clone)]
pub struct LatencyStats {
    ewma: Option<f64>,
    alpha: f64,
    recent: VecDeque<Duration>,
    cap: usize,
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self::new(0.2, 128)
    }
}

impl LatencyStats {
    /// An EWMA with weight `alpha` for the newest sample, and a window of `cap` samples.
    pub fn new(alpha: f64, cap: usize) -> Self {
        Self {
            ewma: None,
            alpha: alpha.clamp(0.0, 1.0),
            recent: VecDeque::with_capacity(cap.max(1)),
            cap: cap.max(1),
        }
    }

    /// Adds a sample.
    pub fn observe(&mut self, d: Duration) {
        let x = d.as_secs_f64();
        self.ewma = Some(match self.ewma {
            Some(e) => e + self.alpha * (x - e),
            None => x,
        });
        if self.recent.len() == self.cap {
            self.recent.pop_front();
        }
        self.recent.push_back(d);
    }

    /// The moving average, once a sample was seen.
    pub fn ewma(&self) -> Option<Duration> {
        self.ewma.map(Duration::from_secs_f64)
    }

    /// The `q` quantile (0..=1) of the recent window (nearest rank).
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.recent.is_empty() {
            return None;
        }
        let mut v: Vec<Duration> = self.recent.iter().copied().collect();
        v.sort_unstable();
        let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }

    /// How many samples the window holds.
    pub fn samples(&self) -> usize {
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_and_quantiles() {
        let mut s = LatencyStats::new(0.5, 10);
        assert_eq!(s.ewma(), None);
        s.observe(Duration::from_millis(100));
        s.observe(Duration::from_millis(200));
        assert_eq!(s.ewma(), Some(Duration::from_millis(150)));
        for ms in 1..=20 {
            s.observe(Duration::from_millis(ms * 10));
        }
        assert_eq!(s.samples(), 10, "the window keeps the newest 10");
        assert_eq!(s.quantile(0.95), Some(Duration::from_millis(200)));
        assert_eq!(s.quantile(0.0), Some(Duration::from_millis(110)));
        assert_eq!(s.quantile(0.5), Some(Duration::from_millis(150)));
    }
}
