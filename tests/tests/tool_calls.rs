//! Tool calls over loopback: the real adapters read nb-chaos's tool calls in each wire
//! format (streamed and not); a text answer where `tool_choice` required a call is a
//! violation the router repairs, then fails over from, and says so in the report; a
//! failover tool call is vouched for by comparing the calls as data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures_util::StreamExt;
use nb_chaos::tasks::Task;
use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_core::{
    CallError, ChatRequest, FinishReason, StreamAccumulator, ToolChoice, ToolSpec, ViolationKind,
};
use nb_router::{AttemptOutcome, Policy, RouteErrorKind, SmartRouter, Vouching};
use nb_semantic::{EquivalenceOutcome, Strict};
use nb_tests::{adapter, model_of, router_target};
use serde_json::json;

const FORMATS: [WireFormat; 3] = [
    WireFormat::OpenAi,
    WireFormat::Anthropic,
    WireFormat::Gemini,
];

fn task() -> Task {
    Task::Extract {
        name: "Chiara".into(),
        age: 51,
        city: "Tartu".into(),
    }
}

/// The task's prompt, offering `save_person` and requiring a call to it.
fn save_request(choice: ToolChoice) -> ChatRequest {
    ChatRequest::user(task().prompt())
        .with_tool(ToolSpec::new("lookup", json!({"type": "object", "properties": {}})))
        .with_tool(ToolSpec::new(
            "save_person",
            json!({"type": "object", "required": ["name", "age", "city"], "properties": {
                "name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}}}),
        ))
        .with_tool_choice(choice)
}

fn truth() -> serde_json::Value {
    json!({"name": "Chiara", "age": 51, "city": "Tartu"})
}

fn policy() -> Policy {
    Policy::default()
        .with_attempt_timeout(Duration::from_secs(2))
        .with_deadline(Duration::from_secs(10))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapters_read_simulated_tool_calls_in_every_format_streamed_and_not() {
    let server = ChaosServer::start(Scenario::new(
        FORMATS
            .iter()
            .map(|&f| ProviderSpec::new(format!("{f:?}"), f, model_of(f)))
            .collect(),
    ))
    .await
    .unwrap();
    for f in FORMATS {
        let p = adapter(&server.handle(), &format!("{f:?}"), f);
        let req = save_request(ToolChoice::Tool("save_person".into()));
        let whole = p.chat(&req).await.unwrap();
        assert_eq!(whole.finish_reason, FinishReason::ToolCalls, "{f:?}");
        assert_eq!(whole.tool_calls.len(), 1, "{f:?}");
        assert_eq!(whole.tool_calls[0].name, "save_person");
        assert_eq!(
            whole.tool_calls[0].arguments.as_ref(),
            Some(&truth()),
            "{f:?}"
        );
        if f != WireFormat::Gemini {
            assert!(whole.tool_calls[0].id.is_some(), "{f:?}");
        }
        let mut acc = StreamAccumulator::default();
        let mut s = p.stream(&req).await.unwrap();
        while let Some(c) = s.next().await {
            acc.push(&c.unwrap());
        }
        let streamed = acc.finish().expect("a finished stream");
        assert_eq!(streamed.finish_reason, FinishReason::ToolCalls, "{f:?}");
        assert_eq!(streamed.tool_calls.len(), 1, "{f:?}");
        assert_eq!(streamed.tool_calls[0].name, "save_person");
        assert_eq!(
            streamed.tool_calls[0].arguments.as_ref(),
            Some(&truth()),
            "{f:?}: {}",
            streamed.tool_calls[0].arguments_raw
        );
    }
}

/// `primary` answers in text to required tools (always, or only its first request).
async fn text_answering_primary(only_first: bool) -> (ChaosServer, SmartRouter) {
    let mut fault = Fault::always(FaultKind::TextInsteadOfTool);
    if only_first {
        fault = fault.for_requests(0, Some(1));
    }
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(fault),
        ProviderSpec::new(
            "fallback",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        ),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(router_target(&h, "primary", WireFormat::OpenAi))
        .target(router_target(&h, "fallback", WireFormat::Anthropic))
        .policy(policy())
        .build()
        .unwrap();
    (server, router)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_answer_to_a_required_tool_is_repaired_then_failed_over_and_the_report_says_why() {
    let (server, router) = text_answering_primary(false).await;
    let h = server.handle();
    let routed = router
        .chat(&save_request(ToolChoice::Tool("save_person".into())))
        .await
        .unwrap();
    assert_eq!(routed.value.tool_calls[0].name, "save_person");
    assert_eq!(
        routed.value.tool_calls[0].arguments.as_ref(),
        Some(&truth())
    );
    let report = &routed.report;
    assert_eq!(report.served_by.as_ref().unwrap().provider(), "fallback");
    assert!(report.failed_over);
    assert_eq!(report.repairs, 1, "one repair round on the primary first");
    assert_eq!(
        (h.requests("primary"), h.requests("fallback")),
        (2, 1),
        "answer, repair, then failover"
    );
    let classes: Vec<String> = report
        .attempts
        .iter()
        .filter_map(|a| match &a.outcome {
            AttemptOutcome::Failed { class, .. } => Some(class.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(classes, ["schema_violation", "schema_violation"]);
    // The report keeps the violation and the text answer it rejected.
    let Some(CallError::Rejected(r)) = &report.first_error else {
        panic!("{:?}", report.first_error);
    };
    assert_eq!(r.violation.kind, ViolationKind::Schema);
    assert!(
        r.violation.message.contains("`save_person` was required")
            && r.violation.message.contains("text"),
        "{}",
        r.violation
    );
    assert!(task().check(&r.response.text), "{}", r.response.text);
    assert_eq!(
        h.stats("primary").unwrap().faults["text_instead_of_tool"],
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_answer_to_tool_choice_required_is_repaired_on_the_same_target() {
    let (server, router) = text_answering_primary(true).await;
    let routed = router
        .chat(&save_request(ToolChoice::Required))
        .await
        .unwrap();
    assert_eq!(
        routed.report.served_by.as_ref().unwrap().provider(),
        "primary"
    );
    assert_eq!(routed.report.repairs, 1);
    assert!(!routed.report.failed_over);
    // `required` and no rule: the first tool offered.
    assert_eq!(routed.value.tool_calls[0].name, "lookup");
    let h = server.handle();
    assert_eq!((h.requests("primary"), h.requests("fallback")), (2, 0));
    // Without a required tool, the same text answer is a plain success.
    let routed = router.chat(&save_request(ToolChoice::Auto)).await.unwrap();
    assert!(routed.value.tool_calls.is_empty());
    assert!(task().check(&routed.value.text));
    assert_eq!(routed.report.repairs, 0);
}

/// Primary down; the failover answer comes from `fallback` and `reference` vouches for it.
async fn vouched_tool_call(
    fallback: ProviderSpec,
) -> Result<nb_router::Routed<nb_core::ChatResponse>, nb_router::RouteError> {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi))
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
        fallback,
        ProviderSpec::new(
            "reference",
            WireFormat::Gemini,
            model_of(WireFormat::Gemini),
        ),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    nb_tests::until_down(&h, "primary", true).await;
    let router = SmartRouter::builder()
        .target(router_target(&h, "primary", WireFormat::OpenAi))
        .target(router_target(&h, "fallback", WireFormat::Anthropic))
        .target(router_target(&h, "reference", WireFormat::Gemini))
        .policy(policy())
        .vouch(Vouching::consensus(Strict).with_tiebreak(false))
        .build()
        .unwrap();
    let out = router
        .chat(&save_request(ToolChoice::Tool("save_person".into())))
        .await;
    assert_eq!(h.requests("reference"), 1, "the reference was asked once");
    out
}

fn fallback() -> ProviderSpec {
    ProviderSpec::new(
        "fallback",
        WireFormat::Anthropic,
        model_of(WireFormat::Anthropic),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_tool_call_with_agreeing_arguments_is_vouched_for_as_data() {
    let routed = vouched_tool_call(fallback()).await.unwrap();
    assert_eq!(
        routed.report.served_by.as_ref().unwrap().provider(),
        "fallback"
    );
    assert_eq!(
        routed.value.tool_calls[0].arguments.as_ref(),
        Some(&truth())
    );
    let v = routed
        .report
        .verdict
        .expect("a failover answer carries its verdict");
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::Equivalent, "tool_call"),
        "{v:?}"
    );
    assert_eq!(v.reference.provider(), "reference");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_tool_call_with_a_wrong_argument_is_refused() {
    let drifting = fallback().with_fault(Fault::always(FaultKind::WrongToolArguments));
    let err = vouched_tool_call(drifting).await.unwrap_err();
    assert_eq!(err.kind(), RouteErrorKind::Unvouched, "{err}");
    let v = err.report().verdict.as_ref().unwrap();
    assert_eq!(
        (v.outcome, v.method),
        (EquivalenceOutcome::NotEquivalent, "tool_call"),
        "{v:?}"
    );
    assert!(v.reason.contains("age"), "{v:?}");
    // Semantic drift drifts a tool call's arguments too.
    let drifting = fallback().with_fault(Fault::always(FaultKind::SemanticDrift));
    let err = vouched_tool_call(drifting).await.unwrap_err();
    assert_eq!(err.kind(), RouteErrorKind::Unvouched, "{err}");
}
