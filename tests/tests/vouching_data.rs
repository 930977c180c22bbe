//! Vouching for tool calls and typed answers: a failover answer is compared with the
//! reference as data (tool name and arguments by the tool's parameter schema; a typed
//! answer by its JSON Schema), never as text. Turning vouching on must not break an agent
//! loop that fails over.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use nb_core::{
    CallError, ChatRequest, ChatResponse, JsonSchemaFormat, Provider, ResponseFormat, TargetId,
    ToolCall, ToolSpec, TransportKind,
};
use nb_router::{Policy, RouteErrorKind, SmartRouter, Target, Vouching};
use nb_semantic::Strict;
use serde_json::json;

/// A target that is down: every call is refused.
struct Down;

#[async_trait]
impl Provider for Down {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        Err(CallError::transport(
            TransportKind::ConnectRefused,
            "connection refused",
        ))
    }
}

/// A target that always answers the same, and counts its calls.
struct Says(ChatResponse, AtomicUsize);

#[async_trait]
impl Provider for Says {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        Ok(self.0.clone())
    }
}

fn calls(calls: Vec<ToolCall>) -> ChatResponse {
    let mut r = ChatResponse::text("");
    r.tool_calls = calls;
    r.finish_reason = nb_core::FinishReason::ToolCalls;
    r
}

fn router(fallback: ChatResponse, reference: ChatResponse) -> SmartRouter {
    let t = |name: &str, p: Arc<dyn Provider>| Target::shared(TargetId::new(name, "m"), p);
    SmartRouter::builder()
        .target(t("primary", Arc::new(Down)))
        .target(t("fallback", Arc::new(Says(fallback, AtomicUsize::new(0)))))
        .target(t(
            "reference",
            Arc::new(Says(reference, AtomicUsize::new(0))),
        ))
        .policy(Policy::default().with_deadline(Duration::from_secs(5)))
        .vouch(Vouching::consensus(Strict).with_tiebreak(false))
        .build()
        .unwrap()
}

fn weather_request() -> ChatRequest {
    ChatRequest::user("What's the weather in Paris for the next 3 days?").with_tool(ToolSpec::new(
        "get_weather",
        json!({"type": "object", "properties": {
            "city": {"type": "string"}, "days": {"type": "integer"},
            "fields": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}
        }}),
    ))
}

#[tokio::test]
async fn an_identical_fallback_tool_call_is_vouched() {
    let fallback = calls(vec![ToolCall::from_raw(
        Some("call_1".into()),
        "get_weather",
        r#"{"city": "Paris", "days": 3, "fields": ["temp", "rain"]}"#,
    )]);
    // The reference called the same function: other id, keys and set items reordered.
    let reference = calls(vec![ToolCall::from_raw(
        Some("toolu_9".into()),
        "get_weather",
        r#"{"fields": ["rain", "temp"], "days": 3.0, "city": "Paris"}"#,
    )]);
    let r = router(fallback, reference);
    let routed = r.chat(&weather_request()).await.unwrap();
    assert_eq!(routed.value.tool_calls[0].name, "get_weather");
    let verdict = routed
        .report
        .verdict
        .expect("a failover answer carries a verdict");
    assert_eq!(verdict.method, "tool_call", "{verdict:?}");
}

#[tokio::test]
async fn a_fallback_tool_call_with_a_changed_argument_is_refused() {
    let fallback = calls(vec![ToolCall::from_raw(
        None,
        "get_weather",
        r#"{"city": "Paris", "days": 7}"#,
    )]);
    let reference = calls(vec![ToolCall::from_raw(
        None,
        "get_weather",
        r#"{"city": "Paris", "days": 3}"#,
    )]);
    let err = router(fallback, reference)
        .chat(&weather_request())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), RouteErrorKind::Unvouched, "{err}");
    assert!(err.to_string().contains("days"), "{err}");
}

#[tokio::test]
async fn a_typed_answer_whose_set_is_reordered_is_vouched_and_a_list_is_not() {
    let schema = json!({"type": "object", "properties": {
        "roles": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
        "steps": {"type": "array", "items": {"type": "string"}}
    }});
    let req = ChatRequest::user("Describe the deploy job as JSON.").with_response_format(
        ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: "job".into(),
            schema,
            strict: false,
        }),
    );
    let fallback = ChatResponse::text(r#"{"roles": ["admin", "dev"], "steps": ["build", "ship"]}"#);
    let reference =
        ChatResponse::text(r#"{"steps": ["build", "ship"], "roles": ["dev", "admin"]}"#);
    let routed = router(fallback, reference).chat(&req).await.unwrap();
    assert_eq!(routed.report.verdict.unwrap().method, "data");
    // The ordered field in another order is a different plan: refused.
    let fallback = ChatResponse::text(r#"{"roles": ["admin", "dev"], "steps": ["ship", "build"]}"#);
    let reference =
        ChatResponse::text(r#"{"steps": ["build", "ship"], "roles": ["dev", "admin"]}"#);
    let err = router(fallback, reference).chat(&req).await.unwrap_err();
    assert_eq!(err.kind(), RouteErrorKind::Unvouched, "{err}");
}
