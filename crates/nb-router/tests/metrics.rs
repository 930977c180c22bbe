//! Metrics through the `metrics` facade, captured by a debugging recorder. In its own
//! test binary: `tracing`'s callsite interest is global, and a thread without a
//! subscriber running beside `telemetry.rs`'s scoped one could race it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use nb_core::*;
use nb_router::*;

struct Down;

#[async_trait]
impl Provider for Down {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        Err(CallError::transport(
            TransportKind::ConnectRefused,
            "refused",
        ))
    }
}

struct Up;

#[async_trait]
impl Provider for Up {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        Ok(ChatResponse::text("42").with_usage(Usage::new(12, 3).with_cached(8)))
    }
}

#[test]
fn metrics_go_through_the_facade() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let router = SmartRouter::builder()
                .target(Target::new(
                    TargetId::new("anthropic", "claude-sonnet-4-5"),
                    Down,
                ))
                .target(Target::new(TargetId::new("gemini", "gemini-2.5-flash"), Up))
                .build()
                .unwrap();
            for _ in 0..3 {
                router
                    .chat(&ChatRequest::user("What is 6 x 7?"))
                    .await
                    .unwrap();
            }
        });
    });
    let snapshot = snapshotter.snapshot().into_vec();
    let counter = |name: &str, label: (&str, &str)| -> u64 {
        snapshot
            .iter()
            .filter(|(k, _, _, _)| {
                k.key().name() == name
                    && k.key()
                        .labels()
                        .any(|l| l.key() == label.0 && l.value() == label.1)
            })
            .map(|(_, _, _, v)| match v {
                DebugValue::Counter(n) => *n,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(counter("neuralbridge.calls", ("failed_over", "true")), 3);
    assert_eq!(counter("neuralbridge.attempts", ("outcome", "success")), 3);
    assert!(counter("neuralbridge.attempts", ("outcome", "network")) >= 1);
    let durations = snapshot
        .iter()
        .filter(|(k, _, _, _)| k.key().name() == "gen_ai.client.operation.duration")
        .count();
    assert!(durations >= 1, "attempt durations are recorded");
    assert!(
        snapshot
            .iter()
            .any(|(k, _, _, _)| k.key().name() == "gen_ai.client.token.usage"),
        "token usage is recorded"
    );
}
