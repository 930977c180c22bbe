//! Every permit is a guard: a call dropped by its caller (its own timeout, a `select!`)
//! while it holds a breaker's half-open probe gives the probe back, so the next call can
//! find out whether the target healed instead of waiting out its deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use nb_breaker::{BreakerConfig, OpenBackoff};
use nb_core::*;
use nb_router::*;

/// Fails its first call with a 500, hangs on the second, answers from the third on.
struct Phases {
    calls: AtomicU32,
}

#[async_trait]
impl Provider for Phases {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => Err(CallError::Api(Box::new(ApiError {
                status: Some(500),
                headers: HeaderFacts::default(),
                error: ProviderError {
                    r#type: Some("server_error".into()),
                    message: Some("boom".into()),
                    ..ProviderError::default()
                },
                body_snippet: None,
            }))),
            1 => std::future::pending().await,
            _ => Ok(ChatResponse::text("healed")),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_while_it_holds_the_half_open_probe_gives_it_back() {
    let p = Arc::new(Phases {
        calls: AtomicU32::new(0),
    });
    let router = SmartRouter::builder()
        .target(Target::shared(TargetId::new("a", "m"), p.clone()))
        .breaker(BreakerConfig {
            consecutive_failures: 1,
            failure_rate: None,
            backoff: OpenBackoff {
                initial: Duration::from_millis(100),
                max: Duration::from_millis(100),
                jitter: false,
            },
            ..BreakerConfig::default()
        })
        .policy(
            Policy::default()
                .with_max_retries_per_target(0)
                .with_deadline(Duration::from_secs(3)),
        )
        .build()
        .unwrap();
    let req = ChatRequest::user("hi");
    assert!(
        router.chat(&req).await.is_err(),
        "the first call fails and opens the breaker"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Half-open: this call is the probe, and its caller gives up on it.
    let gave_up = tokio::time::timeout(Duration::from_millis(100), router.chat(&req)).await;
    assert!(
        gave_up.is_err(),
        "the probe hung and the caller dropped the call"
    );
    assert_eq!(p.calls.load(Ordering::SeqCst), 2);
    // The next call probes again at once (before: it polled until its deadline and
    // failed, with zero upstream calls).
    let routed = router
        .chat(&req)
        .await
        .expect("the dropped probe's place was free");
    assert_eq!(routed.value.text, "healed");
    assert_eq!(p.calls.load(Ordering::SeqCst), 3);
}

/// Streams one text chunk every 100 ms, forever.
struct Endless;

#[async_trait]
impl Provider for Endless {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        Err(CallError::Unsupported {
            what: "stream only".into(),
        })
    }

    async fn stream(&self, _req: &ChatRequest) -> Result<ChatStream, CallError> {
        Ok(Box::pin(futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Some((
                Ok(ChatChunk::Text {
                    delta: "la ".into(),
                }),
                (),
            ))
        })))
    }
}

#[tokio::test(start_paused = true)]
async fn the_deadline_holds_after_a_stream_has_committed() {
    // Regression: a 2 s deadline, and a stream that ran 8.1 s after its first token.
    use futures_util::StreamExt;
    let router = SmartRouter::builder()
        .target(Target::new(TargetId::new("a", "m"), Endless))
        .policy(
            Policy::default()
                .with_deadline(Duration::from_millis(850))
                .with_idle_timeout(Duration::from_secs(5)),
        )
        .build()
        .unwrap();
    let mut s = router
        .stream(&ChatRequest::user("sing"))
        .await
        .unwrap()
        .value;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        let mut texts = 0;
        loop {
            match s.next().await {
                Some(Ok(_)) => texts += 1,
                Some(Err(e)) => return (texts, e),
                None => panic!("an endless stream ended"),
            }
        }
    })
    .await
    .expect("the router's deadline ended the stream");
    let (texts, e) = ended;
    // On paused time: the chunks at 100, 200, ... 800 ms, then the 850 ms deadline.
    assert_eq!(texts, 8, "it committed and streamed until its deadline");
    assert_eq!(e.root(), &CallError::timeout(TimeoutPhase::Total), "{e:?}");
    assert!(e.partial().is_some_and(|p| p.text.contains("la")), "{e:?}");
    assert!(s.next().await.is_none(), "nothing after the error");
}

/// Streams that break with a server error before their first token, every time.
struct BreaksEarly {
    calls: AtomicU32,
}

#[async_trait]
impl Provider for BreaksEarly {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        Err(CallError::Unsupported {
            what: "stream only".into(),
        })
    }

    async fn stream(&self, _req: &ChatRequest) -> Result<ChatStream, CallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let boom = CallError::Api(Box::new(ApiError {
            status: Some(200),
            headers: HeaderFacts::default(),
            error: ProviderError {
                r#type: Some("server_error".into()),
                message: Some("The server had an error while processing your request.".into()),
                ..ProviderError::default()
            },
            body_snippet: None,
        }));
        Ok(Box::pin(futures_util::stream::iter([Err(boom)])))
    }
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_breaks_before_its_first_token_fails_over_instead_of_retrying() {
    // Regression: a server_error before the first token was retried on the same target,
    // which broke again (28 of 36 recovered where failing over recovers all).
    use futures_util::StreamExt;
    let broken = Arc::new(BreaksEarly {
        calls: AtomicU32::new(0),
    });
    let router = SmartRouter::builder()
        .target(Target::shared(TargetId::new("broken", "m"), broken.clone()))
        .target(Target::new(TargetId::new("fine", "m"), Fine))
        .policy(Policy::default().with_deadline(Duration::from_secs(5)))
        .breaker(BreakerConfig {
            consecutive_failures: 0,
            failure_rate: None,
            ..BreakerConfig::default()
        })
        .build()
        .unwrap();
    for n in 1..=10 {
        let routed = router.stream(&ChatRequest::user("hi")).await.unwrap();
        assert!(routed.report.failed_over);
        let mut s = routed.value;
        let mut text = String::new();
        while let Some(c) = s.next().await {
            if let ChatChunk::Text { delta } = c.unwrap() {
                text.push_str(&delta);
            }
        }
        assert_eq!(text, "fine");
        assert_eq!(
            broken.calls.load(Ordering::SeqCst),
            n,
            "one try per call, no retry"
        );
    }
}

/// Answers "fine".
struct Fine;

#[async_trait]
impl Provider for Fine {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        Ok(ChatResponse::text("fine"))
    }
}
