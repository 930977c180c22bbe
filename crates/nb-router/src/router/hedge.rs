//! Hedging: a second attempt on the next candidate when the first is slow; the loser is dropped.

use std::time::Duration;

use futures_util::future::{Either, select};
use nb_breaker::Admission;
use nb_core::ChatRequest;
use tower::retry::budget::Budget as _;

use super::{AttemptFuture, Call, Ended, Launched, SmartRouter};

impl SmartRouter {
    /// Runs `primary`; if it is still running after `delay`, starts a hedge on the next
    /// admitted candidate and takes the first answer. The loser is dropped (cancelled).
    pub(super) async fn race<'a>(
        &'a self,
        launched: Launched,
        mut primary: AttemptFuture<'a>,
        delay: Duration,
        req: &'a ChatRequest,
        call: &mut Call,
    ) -> Vec<Ended> {
        let i = launched.target;
        let sleep = Box::pin(tokio::time::sleep(delay));
        if let Either::Left((r, _)) = select(primary.as_mut(), sleep).await {
            return vec![Ended::new(launched, false, Some(r))];
        }
        call.excluded.insert(i);
        let hedge = self.hedge_target(call).filter(|_| {
            call.attempts < self.inner.policy.max_attempts && self.inner.budget.withdraw()
        });
        call.excluded.remove(&i);
        let Some((j, adm_j)) = hedge else {
            let r = primary.await;
            return vec![Ended::new(launched, false, Some(r))];
        };
        call.attempts += 1;
        let hedged_at = Launched {
            target: j,
            admission: Some(adm_j),
            started: self.inner.health.clock.now(),
        };
        let mut hedged = self.attempt(j, req, call, hedged_at.started);
        match select(primary, hedged.as_mut()).await {
            Either::Left((r, hedge_fut)) => match r {
                Ok(_) => vec![
                    Ended::new(launched, false, Some(r)),
                    Ended::new(hedged_at, true, None),
                ],
                Err(_) => {
                    let rj = hedge_fut.await;
                    vec![
                        Ended::new(launched, false, Some(r)),
                        Ended::new(hedged_at, true, Some(rj)),
                    ]
                }
            },
            Either::Right((rj, primary_fut)) => match rj {
                Ok(_) => vec![
                    Ended::new(hedged_at, true, Some(rj)),
                    Ended::new(launched, false, None),
                ],
                Err(_) => {
                    let ri = primary_fut.await;
                    vec![
                        Ended::new(hedged_at, true, Some(rj)),
                        Ended::new(launched, false, Some(ri)),
                    ]
                }
            },
        }
    }

    pub(super) fn hedge_target(&self, call: &Call) -> Option<(usize, Admission)> {
        call.candidates
            .iter()
            .filter(|&&j| self.eligible(call, j))
            .find_map(|&j| {
                self.inner
                    .health
                    .knowledge
                    .admit(&self.inner.targets[j].id, call.tokens)
                    .ok()
                    .map(|a| (j, a))
            })
    }
}
