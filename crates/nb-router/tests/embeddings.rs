//! Embedding calls routed like chat calls: the same breakers, cool-downs, classifier
//! and report; nothing vouched; embedding targets never planned for chat.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use nb_core::*;
use nb_router::*;

/// Embeds each text as `[tag, len]`, or fails with a fixed error; counts calls.
struct FakeEmbedder {
    tag: f32,
    fail: Option<CallError>,
    calls: AtomicU32,
}

impl FakeEmbedder {
    fn ok(tag: f32) -> Arc<Self> {
        Arc::new(Self {
            tag,
            fail: None,
            calls: AtomicU32::new(0),
        })
    }
    fn failing(e: CallError) -> Arc<Self> {
        Arc::new(Self {
            tag: 0.0,
            fail: Some(e),
            calls: AtomicU32::new(0),
        })
    }
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Embedder for FakeEmbedder {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, CallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match &self.fail {
            Some(e) => Err(e.clone()),
            None => Ok(texts
                .iter()
                .map(|t| vec![self.tag, t.len() as f32])
                .collect()),
        }
    }
}

fn api(status: u16, ty: &str, msg: &str) -> CallError {
    CallError::Api(Box::new(ApiError {
        status: Some(status),
        headers: HeaderFacts::default(),
        error: ProviderError {
            r#type: Some(ty.into()),
            message: Some(msg.into()),
            ..ProviderError::default()
        },
        body_snippet: None,
    }))
}

fn class(a: &AttemptReport) -> Option<FailureClass> {
    match &a.outcome {
        AttemptOutcome::Failed { class, .. } => Some(*class),
        _ => None,
    }
}

fn texts() -> Vec<String> {
    vec!["alpha".into(), "be".into()]
}

#[tokio::test(start_paused = true)]
async fn a_rate_limited_embedder_fails_over_and_cools_down() {
    let limited = FakeEmbedder::failing(api(429, "tokens", "Rate limit reached"));
    let spare = FakeEmbedder::ok(2.0);
    let router = SmartRouter::builder()
        .target(Target::embedding(
            TargetId::new("openai", "text-embedding-3-small"),
            limited.clone(),
        ))
        .target(Target::embedding(
            TargetId::new("azure", "text-embedding-3-small"),
            spare.clone(),
        ))
        .build()
        .unwrap();
    let r = router.embed(&texts()).await.unwrap();
    assert_eq!(r.value, vec![vec![2.0, 5.0], vec![2.0, 2.0]]);
    assert_eq!(r.report.served_by.as_ref().unwrap().provider(), "azure");
    assert!(r.report.failed_over);
    assert_eq!(
        r.report.check,
        AnswerCheck::Unchecked,
        "no vouching for vectors"
    );
    assert_eq!(r.report.attempts.len(), 2);
    assert_eq!(
        class(&r.report.attempts[0]),
        Some(FailureClass::RateLimited)
    );
    // The rate limit cooled the first target down: the next call goes straight on.
    let again = router.embed(&texts()).await.unwrap();
    assert_eq!(limited.calls(), 1, "not asked while cooling down");
    assert_eq!(spare.calls(), 2);
    assert!(
        again
            .report
            .skipped
            .iter()
            .any(|(t, why)| t.provider() == "openai"
                && matches!(why, SkipReason::CoolingDown { .. })),
        "{:?}",
        again.report.skipped
    );
}

#[tokio::test(start_paused = true)]
async fn an_invalid_request_aborts_without_failing_over() {
    let strict = FakeEmbedder::failing(api(
        400,
        "invalid_request_error",
        "'input' must not be empty",
    ));
    let spare = FakeEmbedder::ok(2.0);
    let router = SmartRouter::builder()
        .target(Target::embedding(TargetId::new("a", "e"), strict))
        .target(Target::embedding(TargetId::new("b", "e"), spare.clone()))
        .build()
        .unwrap();
    let e = router.embed(&texts()).await.unwrap_err();
    assert_eq!(e.kind(), RouteErrorKind::Aborted);
    assert_eq!(spare.calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn embedding_targets_are_never_planned_for_chat_and_chat_targets_never_embed() {
    struct Chat;
    #[async_trait]
    impl Provider for Chat {
        async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
            Ok(ChatResponse::text("hi"))
        }
    }
    let emb = FakeEmbedder::ok(1.0);
    let router = SmartRouter::builder()
        .target(Target::embedding(TargetId::new("e", "embed"), emb.clone()))
        .target(Target::new(TargetId::new("c", "chat"), Chat))
        .build()
        .unwrap();
    let chat = router.chat(&ChatRequest::user("x")).await.unwrap();
    assert_eq!(chat.report.served_by.unwrap().provider(), "c");
    assert!(
        !chat.report.failed_over,
        "the embedding target was not a candidate"
    );
    let v = router.embed(&texts()).await.unwrap();
    assert_eq!(v.report.served_by.unwrap().provider(), "e");
    assert_eq!(v.report.check, AnswerCheck::FirstChoice);
    assert_eq!(emb.calls(), 1);
    // A router with no embedding target says there is no route.
    let chat_only = SmartRouter::builder()
        .target(Target::new(TargetId::new("c", "chat"), Chat))
        .build()
        .unwrap();
    assert_eq!(
        chat_only.embed(&texts()).await.unwrap_err().kind(),
        RouteErrorKind::NoRoute
    );
}

#[tokio::test(start_paused = true)]
async fn a_wrong_number_of_vectors_is_a_malformed_answer_and_fails_over() {
    struct Short;
    #[async_trait]
    impl Embedder for Short {
        async fn embed(&self, _: &[String]) -> Result<Vec<Vec<f32>>, CallError> {
            Ok(vec![vec![1.0]])
        }
    }
    let spare = FakeEmbedder::ok(2.0);
    let router = SmartRouter::builder()
        .target(Target::embedding(TargetId::new("a", "e"), Arc::new(Short)))
        .target(Target::embedding(TargetId::new("b", "e"), spare))
        .build()
        .unwrap();
    let r = router.embed(&texts()).await.unwrap();
    assert_eq!(r.value.len(), 2);
    assert_eq!(
        class(&r.report.attempts[0]),
        Some(FailureClass::MalformedResponse)
    );
}
