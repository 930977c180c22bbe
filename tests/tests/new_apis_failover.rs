//! A router over the APIs of issue #22 — AWS Bedrock (wiremock speaking Converse and the
//! AWS event stream), Gemini on Vertex AI, OpenAI's Responses API and Chat Completions
//! (nb-chaos) — fails over between them over loopback, whole and streamed, and learns
//! from each failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_core::{ChatRequest, FailureClass, TargetId, collect};
use nb_providers::wire::bedrock_event_message as frame;
use nb_providers::{AwsCredentials, Bedrock, GoogleAuth, Vertex};
use nb_router::{AttemptOutcome, SmartRouter, Target};
use nb_tests::{adapter, model_of};
use serde_json::json;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const Q: &str = "What is 17 + 25? Reply with the number only.";

fn bedrock(server: &MockServer) -> Target {
    let b = Bedrock::builder("anthropic.claude-3-5-haiku-20241022-v1:0")
        .region("us-east-1")
        .base_url(server.uri())
        .credentials(AwsCredentials::new("AKIDEXAMPLE", "secret-key", None))
        .timeouts(nb_tests::test_timeouts())
        .build()
        .unwrap();
    Target::new(TargetId::new("bedrock", "claude-3-5-haiku"), b)
}

fn classes(r: &nb_router::CallReport) -> Vec<Option<FailureClass>> {
    r.attempts
        .iter()
        .map(|a| match &a.outcome {
            AttemptOutcome::Failed { class, .. } => Some(*class),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_responses_and_chat_targets_fail_over_to_one_another() {
    // Bedrock throttles (429, `x-amzn-ErrorType: ThrottlingException`), the Responses
    // target is overloaded, Chat Completions answers.
    let aws = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex("^/model/.+/converse(-stream)?$"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header(
                    "x-amzn-ErrorType",
                    "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                )
                .set_body_json(
                    json!({"message": "Too many requests, please wait before trying again."}),
                ),
        )
        .mount(&aws)
        .await;
    let chaos = ChaosServer::start(Scenario::new(vec![
        // Vertex's Gemini path ends in `/models/{model}:generateContent` as the Gemini
        // API's does: the simulated Gemini serves it.
        ProviderSpec::new("vertex", WireFormat::Gemini, "gemini-2.5-flash")
            .with_fault(Fault::always(FaultKind::Overloaded)),
        ProviderSpec::new(
            "responses",
            WireFormat::OpenAiResponses,
            model_of(WireFormat::OpenAiResponses),
        )
        .with_fault(Fault::always(FaultKind::Overloaded)),
        ProviderSpec::new("chat", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
    ]))
    .await
    .unwrap();
    let h = chaos.handle();
    let vertex = Vertex::gemini("proj-1", "us-central1", "gemini-2.5-flash")
        .base_url(h.base_url("vertex").unwrap())
        .auth(GoogleAuth::token("ya29.test"))
        .timeouts(nb_tests::test_timeouts())
        .build()
        .unwrap();
    let router = SmartRouter::builder()
        .target(bedrock(&aws))
        .target(Target::new(
            TargetId::new("vertex", "gemini-2.5-flash"),
            vertex,
        ))
        .target(Target::shared(
            TargetId::new("responses", model_of(WireFormat::OpenAiResponses)),
            std::sync::Arc::from(adapter(&h, "responses", WireFormat::OpenAiResponses)),
        ))
        .target(Target::shared(
            TargetId::new("chat", model_of(WireFormat::OpenAi)),
            std::sync::Arc::from(adapter(&h, "chat", WireFormat::OpenAi)),
        ))
        .build()
        .unwrap();
    let r = router.chat(&ChatRequest::user(Q)).await.unwrap();
    assert_eq!(r.value.text, "42");
    assert_eq!(r.report.served_by.as_ref().unwrap().provider(), "chat");
    assert_eq!(
        classes(&r.report),
        [
            Some(FailureClass::RateLimited),
            Some(FailureClass::Overloaded),
            Some(FailureClass::Overloaded),
            None
        ]
    );
    // The rate limit cooled Bedrock down: the next call skips it, and is served by chat.
    let again = router.chat(&ChatRequest::user(Q)).await.unwrap();
    assert_eq!(again.report.served_by.as_ref().unwrap().provider(), "chat");
    assert!(
        again
            .report
            .skipped
            .iter()
            .any(|(t, why)| t.provider() == "bedrock"
                && matches!(why, nb_router::SkipReason::CoolingDown { .. })),
        "{:?}",
        again.report.skipped
    );
    assert_eq!(aws.received_requests().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_responses_stream_fails_over_to_a_bedrock_stream_before_any_content() {
    // The Responses stream fails (`response.failed`, server_error) before its first
    // delta; Bedrock answers over the AWS event stream.
    let aws = MockServer::start().await;
    let body: Vec<u8> = [
        frame("event", "messageStart", br#"{"role":"assistant"}"#),
        frame("event", "contentBlockDelta", br#"{"contentBlockIndex":0,"delta":{"text":"4"}}"#),
        frame("event", "contentBlockDelta", br#"{"contentBlockIndex":0,"delta":{"text":"2"}}"#),
        frame("event", "contentBlockStop", br#"{"contentBlockIndex":0}"#),
        frame("event", "messageStop", br#"{"stopReason":"end_turn"}"#),
        frame("event", "metadata", br#"{"usage":{"inputTokens":12,"outputTokens":1,"totalTokens":13},"metrics":{"latencyMs":5}}"#),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path_regex("^/model/.+/converse-stream$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body, "application/vnd.amazon.eventstream"),
        )
        .mount(&aws)
        .await;
    let chaos = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new(
            "responses",
            WireFormat::OpenAiResponses,
            model_of(WireFormat::OpenAiResponses),
        )
        .with_fault(Fault::always(FaultKind::MidStreamError).after_chunks(0)),
    ]))
    .await
    .unwrap();
    let router = SmartRouter::builder()
        .target(Target::shared(
            TargetId::new("responses", model_of(WireFormat::OpenAiResponses)),
            std::sync::Arc::from(adapter(
                &chaos.handle(),
                "responses",
                WireFormat::OpenAiResponses,
            )),
        ))
        .target(bedrock(&aws))
        .build()
        .unwrap();
    let routed = router.stream(&ChatRequest::user(Q)).await.unwrap();
    let answer = collect(routed.value).await.unwrap();
    assert_eq!(answer.text, "42");
    assert_eq!(answer.usage.unwrap().input_tokens, 12);
    let report = routed.report;
    assert_eq!(report.served_by.as_ref().unwrap().provider(), "bedrock");
    assert_eq!(classes(&report)[0], Some(FailureClass::ServerError));
}
