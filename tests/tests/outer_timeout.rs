//! The router inside an outer `tower::timeout`: with its deadline set just under the
//! outer one, a hanging primary leaves room to fail over, and the caller gets the
//! fallback's answer instead of the outer timeout's error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_core::ChatRequest;
use nb_router::{Policy, SmartRouter};
use nb_tests::{model_of, router_target};
use tower::{Service, ServiceExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_second_tower_timeout_around_a_hanging_primary_gets_the_fallbacks_answer() {
    let server = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new(
            "hangs",
            WireFormat::Anthropic,
            model_of(WireFormat::Anthropic),
        )
        .with_fault(Fault::always(FaultKind::Hang)),
        ProviderSpec::new("answers", WireFormat::OpenAi, model_of(WireFormat::OpenAi)),
    ]))
    .await
    .unwrap();
    let h = server.handle();
    // Defaults otherwise — the adapter's 600 s head timeout and the router's 60 s attempt
    // timeout — which alone would spend the whole outer budget on the hanging primary.
    let hanging = nb_providers::Anthropic::builder(model_of(WireFormat::Anthropic))
        .base_url(h.base_url("hangs").unwrap())
        .api_key(nb_providers::ApiKey::new("sk-test"))
        .build()
        .unwrap();
    let router = SmartRouter::builder()
        .target(nb_router::Target::new(
            nb_core::TargetId::new("hangs", model_of(WireFormat::Anthropic)),
            hanging,
        ))
        .target(router_target(&h, "answers", WireFormat::OpenAi))
        .policy(Policy::default().with_deadline(Duration::from_millis(1900)))
        .build()
        .unwrap();
    let mut svc = tower::timeout::Timeout::new(router.clone(), Duration::from_secs(2));
    let routed = svc
        .ready()
        .await
        .unwrap()
        .call(ChatRequest::user(
            "What is 17 + 25? Reply with the number only.",
        ))
        .await
        .expect("the fallback answered inside the outer timeout");
    assert_eq!(routed.value.text, "42");
    assert!(routed.report.failed_over);
    assert_eq!((h.requests("hangs"), h.requests("answers")), (1, 1));
}
