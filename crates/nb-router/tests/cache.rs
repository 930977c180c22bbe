//! The response cache: a route that opts in answers a repeated request from the cache
//! with no upstream call; anything else about the request is a miss; an answer that was
//! refused (unvouched) is never stored.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use nb_core::*;
use nb_router::*;
use nb_semantic::Strict;

/// Answers `answer`; counts calls.
struct Fixed {
    answer: &'static str,
    calls: AtomicU32,
}

impl Fixed {
    fn new(answer: &'static str) -> Arc<Self> {
        Arc::new(Self {
            answer,
            calls: AtomicU32::new(0),
        })
    }
}

#[async_trait]
impl Provider for Fixed {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(ChatResponse::text(self.answer))
    }
}

#[tokio::test(start_paused = true)]
async fn a_repeated_request_on_a_cached_route_is_served_without_an_upstream_call() {
    let p = Fixed::new("42");
    let router = SmartRouter::builder()
        .target(Target::shared(TargetId::new("p", "m"), p.clone()))
        .route("cached", vec![TargetId::new("p", "m")])
        .cache(Arc::new(InMemoryCache::new(100)))
        .cache_route("cached", Duration::from_secs(60))
        .build()
        .unwrap();
    let req = ChatRequest::user("What is 17 + 25?");
    let on = CallOptions::default().with_route(Some("cached".into()));
    let first = router.chat_with(&req, &on).await.unwrap();
    assert!(!first.report.cache_hit);
    // The store happens beside the call.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = router.chat_with(&req, &on).await.unwrap();
    assert!(second.report.cache_hit);
    assert_eq!(second.value.text, "42");
    assert_eq!(second.report.served_by, Some(TargetId::new("p", "m")));
    assert!(second.report.attempts.is_empty());
    assert_eq!(p.calls.load(Ordering::SeqCst), 1);
    // Another parameter, another answer.
    let warmer = req.clone().with_temperature(0.9);
    assert!(
        !router
            .chat_with(&warmer, &on)
            .await
            .unwrap()
            .report
            .cache_hit
    );
    // A route that did not opt in never caches.
    router.chat(&req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!router.chat(&req).await.unwrap().report.cache_hit);
    assert_eq!(p.calls.load(Ordering::SeqCst), 4);
}

struct Down;

#[async_trait]
impl Provider for Down {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        Err(CallError::transport(TransportKind::ConnectRefused, "down"))
    }
}

#[tokio::test(start_paused = true)]
async fn an_unvouched_answer_is_never_cached() {
    let (a, b) = (Fixed::new("41"), Fixed::new("43"));
    let router = SmartRouter::builder()
        .target(Target::new(TargetId::new("primary", "m"), Down))
        .target(Target::shared(TargetId::new("a", "m"), a.clone()))
        .target(Target::shared(TargetId::new("b", "m"), b.clone()))
        .vouch(Vouching::consensus(Strict))
        .cache(Arc::new(InMemoryCache::new(100)))
        .cache_route("default", Duration::from_secs(60))
        .build()
        .unwrap();
    let req = ChatRequest::user("What is 17 + 25?");
    for _ in 0..3 {
        let e = router.chat(&req).await.unwrap_err();
        assert_eq!(e.kind(), RouteErrorKind::Unvouched);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Each call asked upstream again: nothing was stored.
    assert!(
        a.calls.load(Ordering::SeqCst) >= 3,
        "{}",
        a.calls.load(Ordering::SeqCst)
    );
}
