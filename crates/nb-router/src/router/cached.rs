//! The answer cache around a call, not inside it: a call whose route caches is looked
//! up first, served from the cache when an entry meets its vouching mode, and its
//! answer stored after when nobody doubted it. An entry that cannot be served to this
//! call (the call vouches for every answer; the entry is the first choice's, unvouched)
//! is handed to the call as a reference: the first choice's earlier answer to the same
//! request can vouch for a failover answer without another upstream call.

use std::sync::Arc;
use std::time::Duration;

use nb_core::{AnswerCheck, ChatRequest, ChatResponse};

use super::{CallOptions, SmartRouter};
use crate::report::{CallReport, RouteError, Routed};
use crate::{AnswerCache, CachedAnswer};

/// One call's place in the cache: which cache, under which key, for how long.
struct Slot {
    cache: Arc<dyn AnswerCache>,
    key: String,
    ttl: Duration,
}

impl SmartRouter {
    /// Routes a request with per-call options.
    ///
    /// (The returned future is the call's own, with no layer between: a call that does
    /// not cache holds no answer of its own while it waits, and the answer is not
    /// copied once more on its way out.)
    pub fn chat_with<'a>(
        &'a self,
        req: &'a ChatRequest,
        opts: &'a CallOptions,
    ) -> impl Future<Output = Result<Routed<ChatResponse>, RouteError>> + Send + 'a {
        use futures_util::future::Either;
        match self.cache_slot(req, opts) {
            None => Either::Left(self.routed(req, opts, None)),
            // Boxed: only calls on a caching route hold a cache's state.
            Some(slot) => Either::Right(Box::pin(self.through_cache(slot, req, opts))),
        }
    }

    /// A call on a caching route: served from the cache when it can be, else routed
    /// (with the entry as a possible reference) and its answer stored.
    async fn through_cache(
        &self,
        slot: Slot,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        let unserved = match slot.cache.get(&slot.key).await {
            Some(hit) if crate::cache::serves(hit.check, self.vouch_mode(opts)) => {
                crate::telemetry::record_cache(true);
                return Ok(Routed {
                    report: CallReport {
                        served_by: Some(hit.served_by),
                        cache_hit: true,
                        check: hit.check,
                        ..CallReport::default()
                    },
                    value: hit.response,
                });
            }
            entry => {
                crate::telemetry::record_cache(false);
                entry.map(Box::new)
            }
        };
        let out = self.routed(req, opts, unserved).await;
        if let Ok(r) = &out {
            slot.store(r).await;
        }
        out
    }

    /// One call, observed (its span and metrics), with a cached answer it may use as a
    /// reference.
    /// (Not an `async fn`: a layer of its own would copy the answer once more on its
    /// way out.)
    fn routed<'a>(
        &'a self,
        req: &'a ChatRequest,
        opts: &'a CallOptions,
        cached: Option<Box<CachedAnswer>>,
    ) -> impl Future<Output = Result<Routed<ChatResponse>, RouteError>> + Send + 'a {
        // Boxed: passed by value into `observed`, the call's state would be held twice.
        self.observed(opts, move |start| {
            Box::pin(self.chat_within(req, opts, cached, start))
        })
    }

    /// This call's place in the cache, if its route opted in (a call with validators
    /// of its own bypasses the cache: a stored answer was not checked by them).
    fn cache_slot(&self, req: &ChatRequest, opts: &CallOptions) -> Option<Slot> {
        let cache = self.inner.cache.as_ref()?;
        if !opts.validators.is_empty() {
            return None;
        }
        let route = opts.route.as_deref();
        let ttl = self.inner.routes.settings(route)?.cache_ttl?;
        let scope = opts.cache_scope.as_deref().unwrap_or("");
        let route = route.unwrap_or(super::DEFAULT_ROUTE);
        Some(Slot {
            cache: cache.clone(),
            key: crate::cache_key(scope, route, req),
            ttl,
        })
    }
}

impl Slot {
    /// Stores an answer nobody doubted — the first choice's or a vouched one — in the
    /// background when a runtime is there to run it.
    async fn store(self, r: &Routed<ChatResponse>) {
        let keep = matches!(
            r.report.check,
            AnswerCheck::FirstChoice
                | AnswerCheck::Vouched
                | AnswerCheck::VouchedByReference
                | AnswerCheck::SelfConsistent
        );
        let (true, Some(t)) = (keep, &r.report.served_by) else {
            return;
        };
        let answer = CachedAnswer::new(t.clone(), r.value.clone(), r.report.check);
        let put = async move { self.cache.put(&self.key, &answer, self.ttl).await };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(put);
            }
            Err(_) => put.await,
        }
    }
}
