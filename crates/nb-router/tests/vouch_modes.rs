//! When answers are vouched for, per route and per call: always, on failover (the
//! default), a sampled share of first-choice answers, or off — and every vouching call is
//! in the report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use async_trait::async_trait;
use nb_core::*;
use nb_router::*;
use nb_semantic::Strict;

struct Says(&'static str);

#[async_trait]
impl Provider for Says {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        Ok(ChatResponse::text(self.0))
    }
}

struct Down;

#[async_trait]
impl Provider for Down {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        Err(CallError::transport(TransportKind::ConnectRefused, "down"))
    }
}

fn router(primary_up: bool) -> SmartRouter {
    let primary: Arc<dyn Provider> = if primary_up {
        Arc::new(Says("42"))
    } else {
        Arc::new(Down)
    };
    SmartRouter::builder()
        .target(Target::shared(TargetId::new("p", "m"), primary))
        .target(Target::new(TargetId::new("f", "m"), Says("42")))
        .target(Target::new(TargetId::new("g", "m"), Says("42")))
        .route(
            "strict",
            vec![
                TargetId::new("p", "m"),
                TargetId::new("f", "m"),
                TargetId::new("g", "m"),
            ],
        )
        .route_vouch("strict", VouchMode::Always)
        .vouch(Vouching::consensus(Strict))
        .build()
        .unwrap()
}

fn vouched(r: &Routed<ChatResponse>) -> bool {
    let calls = r
        .report
        .attempts
        .iter()
        .filter(|a| a.role == AttemptRole::Vouch)
        .count();
    assert_eq!(r.report.verdict.is_some(), calls > 0, "{}", r.report);
    r.report.verdict.is_some()
}

async fn call(r: &SmartRouter, opts: CallOptions) -> Routed<ChatResponse> {
    r.chat_with(&ChatRequest::user("What is 17 + 25?"), &opts)
        .await
        .unwrap()
}

#[tokio::test]
async fn on_failover_is_the_default_and_off_returns_a_failover_unchecked() {
    let r = router(false);
    let a = call(&r, CallOptions::default()).await;
    assert!(a.report.failed_over && vouched(&a));
    let b = call(&r, CallOptions::default().with_vouch(Some(VouchMode::Off))).await;
    assert!(b.report.failed_over && !vouched(&b));
}

#[tokio::test]
async fn always_checks_the_first_choice_too() {
    let r = router(true);
    let a = call(&r, CallOptions::default()).await;
    assert!(!a.report.failed_over && !vouched(&a));
    let b = call(
        &r,
        CallOptions::default().with_vouch(Some(VouchMode::Always)),
    )
    .await;
    assert!(!b.report.failed_over && vouched(&b));
}

#[tokio::test]
async fn a_route_sets_its_mode_and_a_call_overrides_it() {
    let r = router(true);
    let strict = CallOptions::default().with_route(Some("strict".into()));
    assert!(vouched(&call(&r, strict.clone()).await));
    assert!(!vouched(
        &call(&r, strict.with_vouch(Some(VouchMode::Off))).await
    ));
}

#[tokio::test]
async fn sampled_checks_about_its_share_of_first_choice_answers() {
    let r = router(true);
    let mut checked = 0;
    for _ in 0..200 {
        let a = call(
            &r,
            CallOptions::default().with_vouch(Some(VouchMode::Sampled(0.25))),
        )
        .await;
        checked += usize::from(vouched(&a));
    }
    // 200 draws at 0.25: 50 expected; 99.9% of runs fall within 28..=74.
    assert!((28..=74).contains(&checked), "{checked} of 200 checked");
    assert!(!vouched(
        &call(
            &r,
            CallOptions::default().with_vouch(Some(VouchMode::Sampled(0.0)))
        )
        .await
    ));
    let down = router(false);
    assert!(vouched(
        &call(
            &down,
            CallOptions::default().with_vouch(Some(VouchMode::Sampled(0.0)))
        )
        .await
    ));
}

#[tokio::test]
async fn a_route_checks_its_answers_with_its_own_validators() {
    let r = SmartRouter::builder()
        .target(Target::new(TargetId::new("text", "m"), Says("42")))
        .target(Target::new(
            TargetId::new("json", "m"),
            Says("{\"answer\": 42}"),
        ))
        .route(
            "json",
            vec![TargetId::new("text", "m"), TargetId::new("json", "m")],
        )
        .route_validator("json", |r: &ChatResponse| {
            if r.text.trim_start().starts_with('{') {
                Ok(())
            } else {
                Err(Violation::new(
                    ViolationKind::Schema,
                    "",
                    "not a JSON object",
                ))
            }
        })
        .build()
        .unwrap();
    // On its route the plain answer is rejected (and repaired, then failed over)...
    let a = call(&r, CallOptions::default().with_route(Some("json".into()))).await;
    assert_eq!(
        a.report.served_by,
        Some(TargetId::new("json", "m")),
        "{}",
        a.report
    );
    // ...elsewhere it is fine.
    let b = call(&r, CallOptions::default()).await;
    assert_eq!(b.report.served_by, Some(TargetId::new("text", "m")));
}
