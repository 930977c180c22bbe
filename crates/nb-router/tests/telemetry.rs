//! What the router tells `tracing`: a call span with OpenTelemetry GenAI fields, INFO
//! events for failovers, and no other task's events attributed to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use nb_core::*;
use nb_router::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// An event's message and the name of the span it happened in.
type SeenEvent = (String, Option<String>);

#[derive(Default, Clone)]
struct Seen {
    /// Fields recorded on `nb.route` spans.
    route: Arc<Mutex<BTreeMap<String, String>>>,
    /// (message, the span it happened in).
    events: Arc<Mutex<Vec<SeenEvent>>>,
    /// How many times fields were recorded on `nb.route` spans after they began.
    route_records: Arc<Mutex<usize>>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Seen {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        if attrs.metadata().name() == "nb.route" {
            attrs.record(&mut Fields(&mut self.route.lock().unwrap()));
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if ctx.span(id).is_some_and(|s| s.name() == "nb.route") {
            *self.route_records.lock().unwrap() += 1;
            values.record(&mut Fields(&mut self.route.lock().unwrap()));
        }
    }
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut f = BTreeMap::new();
        event.record(&mut Fields(&mut f));
        let span = ctx.event_span(event).map(|s| s.name().to_owned());
        self.events
            .lock()
            .unwrap()
            .push((f.get("message").cloned().unwrap_or_default(), span));
    }
}

struct Down;

#[async_trait]
impl Provider for Down {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        // Let another task run while this call is "in flight".
        tokio::task::yield_now().await;
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

#[tokio::test(flavor = "current_thread")]
async fn the_call_span_carries_genai_fields_and_failovers_are_info_events() {
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry().with(seen.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let router = SmartRouter::builder()
        .target(Target::new(
            TargetId::new("anthropic", "claude-sonnet-4-5"),
            Down,
        ))
        .target(Target::new(TargetId::new("gemini", "gemini-2.5-flash"), Up))
        .build()
        .unwrap();
    // Another task logs while the call runs: it must not land in the call's span.
    let other = tokio::spawn(async {
        for _ in 0..5 {
            tracing::info!("unrelated background work");
            tokio::task::yield_now().await;
        }
    });
    let routed = router
        .chat(&ChatRequest::user("What is 6 x 7?"))
        .await
        .unwrap();
    other.await.unwrap();
    assert!(routed.report.failed_over);
    let route = seen.route.lock().unwrap().clone();
    assert_eq!(
        route.get("gen_ai.operation.name").map(String::as_str),
        Some("chat")
    );
    assert_eq!(
        route.get("gen_ai.provider.name").map(String::as_str),
        Some("gcp.gemini")
    );
    assert_eq!(
        route.get("gen_ai.request.model").map(String::as_str),
        Some("gemini-2.5-flash")
    );
    assert_eq!(
        route.get("gen_ai.usage.input_tokens").map(String::as_str),
        Some("12")
    );
    assert_eq!(
        route.get("gen_ai.usage.output_tokens").map(String::as_str),
        Some("3")
    );
    assert_eq!(
        route
            .get("gen_ai.usage.cache_read.input_tokens")
            .map(String::as_str),
        Some("8")
    );
    assert_eq!(
        route.get("nb.failed_over").map(String::as_str),
        Some("true")
    );
    assert_eq!(route.get("nb.attempts").map(String::as_str), Some("2"));
    // The outcome arrives in one record: each layer visits the span once, not per field.
    assert_eq!(*seen.route_records.lock().unwrap(), 1);
    let events = seen.events.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|(m, s)| m == "failing over" && s.as_deref() == Some("nb.route")),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .filter(|(m, _)| m == "unrelated background work")
            .all(|(_, s)| s.is_none()),
        "another task's events were attributed to the router's span: {events:?}"
    );
}
