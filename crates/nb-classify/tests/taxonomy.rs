//! The tricky cases from the wire-facts reference, decided by facts; and totality.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use nb_classify::*;
use nb_core::*;
use proptest::prelude::*;
use serde_json::json;

fn api(status: Option<u16>, headers: &[(&str, &str)], body: serde_json::Value) -> CallError {
    let mut h = HeaderFacts::default();
    for (n, v) in headers {
        h.record(n, v);
    }
    let error = provider_error(&body);
    CallError::Api(Box::new(ApiError {
        status,
        headers: h,
        error,
        body_snippet: None,
    }))
}

// A tiny reader of the documented bodies, so the cases below read like the wire.
fn provider_error(body: &serde_json::Value) -> ProviderError {
    let e = body.get("error").unwrap_or(body);
    let s = |k: &str| {
        e.get(k).and_then(|v| {
            v.as_str()
                .map(str::to_owned)
                .or_else(|| v.as_u64().map(|n| n.to_string()))
        })
    };
    let mut pe = ProviderError {
        r#type: s("type"),
        code: s("code"),
        status: s("status"),
        message: s("message"),
        ..ProviderError::default()
    };
    pe.detail_code = e
        .get("details")
        .and_then(|d| d.get("error_code"))
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    if let Some(ds) = e.get("details").and_then(|d| d.as_array()) {
        for d in ds {
            if let Some(r) = d.get("retryDelay").and_then(|v| v.as_str()) {
                pe.retry_delay = Some(r.into());
            }
            for v in d
                .get("violations")
                .and_then(|v| v.as_array())
                .into_iter()
                .flatten()
            {
                pe.quota_violations.push(QuotaViolation {
                    quota_id: v.get("quotaId").and_then(|q| q.as_str()).map(str::to_owned),
                    quota_metric: None,
                });
            }
        }
    }
    pe
}

fn c(e: &CallError) -> Classification {
    classify(e)
}

#[test]
fn openai_request_too_large_is_not_retryable_on_the_same_target() {
    let e = api(
        Some(429),
        &[("retry-after", "1")],
        json!({"error": {"message": "Request too large for gpt-4o in organization org-x on tokens per min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced in order to run successfully.", "type": "tokens", "code": "rate_limit_exceeded"}}),
    );
    let k = c(&e);
    assert_eq!(
        (k.class, k.scope, k.disposition),
        (
            FailureClass::RateLimited,
            Scope::Attempt,
            Disposition::FailOver
        )
    );
}

#[test]
fn insufficient_quota_is_not_a_rate_limit() {
    for code in [
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
    ] {
        let e = api(
            Some(429),
            &[],
            json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": code}}),
        );
        let k = c(&e);
        assert_eq!(
            (k.class, k.scope, k.disposition),
            (
                FailureClass::QuotaExhausted,
                Scope::Credential,
                Disposition::FailOver
            ),
            "{code}"
        );
    }
}

#[test]
fn anthropic_529_overload_vs_429_rate_limit_vs_spend_cap() {
    let overloaded = c(&api(
        Some(529),
        &[],
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ));
    assert_eq!(
        (overloaded.class, overloaded.scope),
        (FailureClass::Overloaded, Scope::Provider)
    );
    let limited = c(&api(
        Some(429),
        &[("retry-after", "30")],
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "rate limit"}}),
    ));
    assert_eq!(
        (limited.class, limited.disposition, limited.retry_after),
        (
            FailureClass::RateLimited,
            Disposition::FailOver,
            Some(Duration::from_secs(30))
        )
    );
    let short = c(&api(
        Some(429),
        &[("retry-after", "1")],
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "rate limit"}}),
    ));
    assert_eq!(short.disposition, Disposition::RetryHere);
    let capped = c(&api(
        Some(429),
        &[],
        json!({"type": "error", "error": {"type": "rate_limit_error", "message": "You will regain access on 2026-12-01 at 00:00 UTC.", "details": {"error_code": "enforced_spend_limit_reached"}}}),
    ));
    assert_eq!(capped.class, FailureClass::QuotaExhausted);
}

#[test]
fn gemini_per_day_vs_per_minute_quota() {
    let body = |id: &str, delay: Option<&str>| {
        let mut d = vec![
            json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": id}]}),
        ];
        if let Some(r) = delay {
            d.push(json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": r}));
        }
        json!({"error": {"code": 429, "message": "You exceeded your current quota", "status": "RESOURCE_EXHAUSTED", "details": d}})
    };
    let minute = c(&api(
        Some(429),
        &[],
        body(
            "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            Some("37s"),
        ),
    ));
    assert_eq!(
        (minute.class, minute.retry_after),
        (FailureClass::RateLimited, Some(Duration::from_secs(37)))
    );
    let day = c(&api(
        Some(429),
        &[],
        body("GenerateRequestsPerDayPerProjectPerModel-FreeTier", None),
    ));
    assert_eq!(
        (day.class, day.disposition),
        (FailureClass::QuotaExhausted, Disposition::FailOver)
    );
}

#[test]
fn deepseek_context_error_with_a_generic_code() {
    let e = api(
        Some(400),
        &[],
        json!({"error": {"message": "This model's maximum context length is 131072 tokens. However, you requested 131134 tokens (131134 in the messages, 0 in the completion).", "type": "invalid_request_error", "code": "invalid_request_error"}}),
    );
    let k = c(&e);
    assert_eq!(
        (k.class, k.disposition),
        (
            FailureClass::ContextTooLong,
            Disposition::FailOverLargerContext
        )
    );
}

#[test]
fn mistral_tier_capacity_is_overload_not_your_rate_limit() {
    let e = api(
        Some(503),
        &[],
        json!({"object": "error", "message": "Service tier capacity exceeded for this model.", "type": "invalid_request_error", "code": null}),
    );
    assert_eq!(c(&e).class, FailureClass::Overloaded);
    let e = api(
        Some(429),
        &[],
        json!({"object": "error", "message": "Service tier capacity exceeded for this model.", "type": "invalid_request_error", "code": null}),
    );
    assert_eq!(c(&e).class, FailureClass::Overloaded);
}

#[test]
fn a_mid_stream_error_is_classified_by_its_type_never_by_the_200() {
    let inner = api(
        None,
        &[],
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    let e = CallError::mid_stream(inner, PartialOutput::default());
    assert_eq!(c(&e).class, FailureClass::Overloaded);
    let groq = api(
        Some(400),
        &[],
        json!({"error": {"message": "Failed to call a function.", "type": "invalid_request_error", "code": "tool_use_failed"}}),
    );
    assert_eq!(
        (c(&groq).class, c(&groq).disposition),
        (FailureClass::MalformedResponse, Disposition::RetryHere)
    );
}

#[test]
fn a_failed_responses_answer_is_classified_by_its_code_alone() {
    // OpenAI Responses: `status: failed` / `response.failed` inside a 200 carries
    // `error: {code, message}` and no type (openai-python `types/responses/response_error.py`).
    for (code, class) in [
        ("server_error", FailureClass::ServerError),
        ("rate_limit_exceeded", FailureClass::RateLimited),
        ("bio_policy", FailureClass::ContentFiltered),
        ("vector_store_timeout", FailureClass::ServerError),
    ] {
        let e = api(
            None,
            &[],
            json!({"error": {"code": code, "message": "failed"}}),
        );
        let e = CallError::mid_stream(e, PartialOutput::default());
        assert_eq!(c(&e).class, class, "{code}");
    }
    let e = api(
        None,
        &[],
        json!({"error": {"code": "server_error", "message": "x"}}),
    );
    assert_eq!(c(&e).disposition, Disposition::RetryHere);
}

#[test]
fn bedrock_exceptions_over_http_and_mid_stream() {
    // The Bedrock Runtime service model (botocore `bedrock-runtime/2023-09-30/
    // service-2.json`): each exception's status; over HTTP the type is the
    // `x-amzn-ErrorType` header, mid-stream the `:exception-type` (no status).
    use Disposition::*;
    for (status, ty, msg, class, scope, disposition) in [
        (
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
            FailureClass::RateLimited,
            Scope::Target,
            FailOver,
        ),
        (
            429,
            "ModelNotReadyException",
            "Model is not ready to serve inference requests.",
            FailureClass::Overloaded,
            Scope::Model,
            FailOver,
        ),
        (
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
            FailureClass::AuthFailure,
            Scope::Model,
            FailOver,
        ),
        (
            400,
            "ValidationException",
            "Malformed input request, please reformat your input and try again.",
            FailureClass::InvalidRequest,
            Scope::Attempt,
            Abort,
        ),
        (
            400,
            "ValidationException",
            "Input is too long for requested model.",
            FailureClass::ContextTooLong,
            Scope::Model,
            FailOverLargerContext,
        ),
        (
            400,
            "ServiceQuotaExceededException",
            "Your request exceeds the service quota for your account.",
            FailureClass::QuotaExhausted,
            Scope::Credential,
            FailOver,
        ),
        (
            424,
            "ModelErrorException",
            "The model produced an error.",
            FailureClass::ServerError,
            Scope::Target,
            RetryHere,
        ),
        (
            408,
            "ModelTimeoutException",
            "Model has timed out in processing the request.",
            FailureClass::Timeout,
            Scope::Target,
            RetryHere,
        ),
        (
            503,
            "ServiceUnavailableException",
            "Service is temporarily unavailable.",
            FailureClass::Overloaded,
            Scope::Model,
            FailOver,
        ),
        (
            404,
            "ResourceNotFoundException",
            "Could not resolve the foundation model from the provided model identifier.",
            FailureClass::InvalidModel,
            Scope::Model,
            FailOver,
        ),
        // An OAuth token endpoint's refusal (RFC 6749 §5.2), as a Vertex token request
        // with a revoked service-account key gets it.
        (
            400,
            "invalid_grant",
            "Invalid JWT Signature.",
            FailureClass::AuthFailure,
            Scope::Credential,
            FailOver,
        ),
        (
            403,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            FailureClass::AuthFailure,
            Scope::Credential,
            FailOver,
        ),
    ] {
        let body = json!({"error": {"type": ty, "message": msg}});
        for st in [Some(status), None] {
            let got = c(&api(st, &[], body.clone()));
            assert_eq!(
                (got.class, got.scope, got.disposition),
                (class, scope, disposition),
                "{ty} ({st:?}): {msg}"
            );
        }
    }
}

#[test]
fn x_should_retry_overrides_the_status() {
    let no = api(
        Some(500),
        &[("x-should-retry", "false")],
        json!({"error": {"message": "boom", "type": "server_error"}}),
    );
    assert_eq!(c(&no).disposition, Disposition::FailOver);
    let yes = api(
        Some(500),
        &[("x-should-retry", "true")],
        json!({"error": {"message": "boom", "type": "server_error"}}),
    );
    assert_eq!(c(&yes).disposition, Disposition::RetryHere);
    // Regression: a long hint is not waited out on the same target, whatever the header
    // says (a 429 with `retry-after: 20` and a healthy fallback took 20 s).
    let long = api(
        Some(429),
        &[("x-should-retry", "true"), ("retry-after", "20")],
        json!({"error": {"message": "Rate limit reached", "type": "rate_limit_error"}}),
    );
    assert_eq!(c(&long).disposition, Disposition::FailOver);
    assert_eq!(c(&long).retry_after, Some(Duration::from_secs(20)));
}

#[test]
fn hints_given_as_dates_use_the_injected_clock() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
    let e = api(
        Some(429),
        &[("retry-after", &date)],
        json!({"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}),
    );
    let k = DefaultClassifier::new()
        .with_clock(move || now)
        .decide(&Failure::Call(&e));
    assert_eq!(k.retry_after, Some(Duration::from_secs(90)));
}

#[test]
fn violations_are_classified_for_repair_or_failover() {
    let schema = Violation::new(ViolationKind::Schema, "/age", "expected integer");
    let k = DefaultClassifier::new().decide(&Failure::Violation(&schema));
    assert_eq!(
        (k.class, k.disposition),
        (FailureClass::SchemaViolation, Disposition::Repair)
    );
    let bounds = Violation::new(ViolationKind::Bounds, "/score", "above 10");
    let k = DefaultClassifier::new().decide(&Failure::Violation(&bounds));
    assert_eq!(
        (k.class, k.disposition),
        (FailureClass::SemanticOutOfBounds, Disposition::FailOver)
    );
}

#[test]
fn a_custom_classifier_answers_first_and_defers_the_rest() {
    // Treat a 500 from our own flaky proxy as an overload.
    let mine = |f: &Failure<'_>| match f {
        Failure::Call(e) if e.status() == Some(500) => Some(Classification::new(
            FailureClass::Overloaded,
            Scope::Provider,
            Disposition::FailOver,
            "our proxy",
        )),
        _ => None,
    };
    let chain = mine.then(DefaultClassifier::new());
    let e500 = api(Some(500), &[], json!({"error": {"message": "x"}}));
    assert_eq!(
        chain.classify(&Failure::Call(&e500)).unwrap().reason,
        "our proxy"
    );
    let e401 = api(Some(401), &[], json!({"error": {"message": "x"}}));
    assert_eq!(
        classify_with(&chain, Failure::Call(&e401)).class,
        FailureClass::AuthFailure
    );
    let only_mine = mine;
    assert_eq!(
        classify_with(&only_mine, Failure::Call(&e401)).class,
        FailureClass::AuthFailure,
        "falls back to the default"
    );
}

fn arb_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "[ -~]{0,40}",
        prop::sample::select(vec![
            "rate_limit_error",
            "overloaded_error",
            "insufficient_quota",
            "RESOURCE_EXHAUSTED",
            "context_length_exceeded",
            "429",
            "Please try again in 99999999999h",
            "retry after 1e308 seconds"
        ])
        .prop_map(String::from),
    ])
}

fn arb_call_error() -> impl Strategy<Value = CallError> {
    let api_err = (
        prop::option::of(any::<u16>()),
        arb_text(),
        arb_text(),
        arb_text(),
        arb_text(),
        arb_text(),
        arb_text(),
        prop::collection::vec(("[a-z-]{1,30}", "[ -~]{0,30}"), 0..4),
    )
        .prop_map(|(status, ty, code, st, msg, delay, detail, hs)| {
            let mut headers = HeaderFacts::default();
            for (n, v) in &hs {
                headers.record(n, v);
            }
            headers.record("retry-after", hs.first().map_or("", |h| h.1.as_str()));
            CallError::Api(Box::new(ApiError {
                status,
                headers,
                error: ProviderError {
                    r#type: ty,
                    code,
                    status: st,
                    message: msg,
                    retry_delay: delay,
                    detail_code: detail,
                    ..ProviderError::default()
                },
                body_snippet: None,
            }))
        });
    let leaf = prop_oneof![
        api_err,
        Just(CallError::Truncated),
        Just(CallError::Cancelled),
        any::<usize>().prop_map(|limit| CallError::BodyTooLarge {
            limit,
            what: "x".into()
        }),
        "[ -~]{0,20}".prop_map(|s| CallError::decode(s.clone(), s.as_bytes())),
        prop::sample::select(vec![
            TransportKind::ConnectRefused,
            TransportKind::Dns,
            TransportKind::Tls,
            TransportKind::Reset,
            TransportKind::Other,
            TransportKind::Timeout(TimeoutPhase::Idle)
        ])
        .prop_map(|k| CallError::transport(k, "x")),
    ];
    leaf.prop_recursive(2, 4, 1, |inner| {
        inner.prop_map(|e| CallError::mid_stream(e, PartialOutput::default()))
    })
}

proptest! {
    #[test]
    fn classification_is_total(e in arb_call_error()) {
        let k = classify(&e);
        if let Some(d) = k.retry_after {
            prop_assert!(d < Duration::from_secs(1_000_000_000));
        }
    }
}

#[test]
fn out_of_credit_is_a_quota_failover_never_the_callers_bug() {
    // Regression: these were classified as invalid requests (abort) or rate limits, so
    // the router aborted instead of failing over, and never cooled the credential.
    let cases = [
        (
            400,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."}}),
        ),
        (
            400,
            json!({"type": "error", "error": {"type": "invalid_request_error", "message": "You have reached your specified API usage limits. You will regain access on 2025-06-01 at 00:00 UTC."}}),
        ),
        (
            400,
            json!({"error": {"message": "Your account is not active, please check your billing details on our website.", "type": "billing_not_active", "param": null, "code": "billing_not_active"}}),
        ),
        (
            429,
            json!({"error": {"message": "Your account is not active, please check your billing details on our website.", "type": "billing_not_active", "param": null, "code": "billing_not_active"}}),
        ),
        (
            429,
            json!({"error": {"message": "Insufficient balance or no resource package. Please recharge.", "code": "1113"}}),
        ),
    ];
    for (status, body) in cases {
        let e = api(Some(status), &[], body.clone());
        let got = c(&e);
        assert_eq!(
            (got.class, got.scope, got.disposition),
            (
                FailureClass::QuotaExhausted,
                Scope::Credential,
                Disposition::FailOver
            ),
            "{status} {body}"
        );
    }
}

#[test]
fn a_bare_404_is_a_wrong_endpoint_on_this_target_not_a_missing_model() {
    // Regression: a wrong base path was an invalid model with a model-wide cool-down.
    for body in [
        json!("404 page not found"),
        json!({"error": "Not Found"}),
        json!({"error": {"message": "Unknown request URL: POST /v2/chat/completions. Please check the URL for typos.", "type": "invalid_request_error"}}),
    ] {
        let e = api(Some(404), &[], body.clone());
        let got = c(&e);
        assert_eq!(
            (got.class, got.scope, got.disposition),
            (
                FailureClass::EndpointNotFound,
                Scope::Target,
                Disposition::FailOver
            ),
            "{body}"
        );
        assert!(got.reason.contains("base URL"), "{}", got.reason);
    }
    // With a sign of a model it is still a missing model, for the whole model.
    let e = api(
        Some(404),
        &[],
        json!({"error": {"message": "The model `gpt-5x` does not exist or you do not have access to it.", "type": "invalid_request_error", "code": "model_not_found"}}),
    );
    assert_eq!(
        (c(&e).class, c(&e).scope),
        (FailureClass::InvalidModel, Scope::Model)
    );
}

#[test]
fn a_classification_reason_can_carry_runtime_detail() {
    let detail = format!("gateway {} answered {}", "eu-1", 599);
    let c = Classification::new(
        FailureClass::ServerError,
        Scope::Target,
        Disposition::FailOver,
        detail.clone(),
    );
    assert_eq!(c.reason, detail);
}
