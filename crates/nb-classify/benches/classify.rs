//! Cost of one classification, for the common cases.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use nb_classify::{DefaultClassifier, Failure};
use nb_core::{ApiError, CallError, HeaderFacts, ProviderError, TransportKind};

fn api(
    status: u16,
    ty: &str,
    code: Option<&str>,
    msg: &str,
    headers: &[(&str, &str)],
) -> CallError {
    let mut h = HeaderFacts::default();
    for (n, v) in headers {
        h.record(n, v);
    }
    CallError::Api(Box::new(ApiError {
        status: Some(status),
        headers: h,
        error: ProviderError {
            r#type: Some(ty.into()),
            code: code.map(Into::into),
            message: Some(msg.into()),
            ..ProviderError::default()
        },
        body_snippet: None,
    }))
}

fn bench(c: &mut Criterion) {
    let cls = DefaultClassifier::new();
    let cases = [
        (
            "rate_limit_429_retry_after",
            api(
                429,
                "requests",
                Some("rate_limit_exceeded"),
                "Rate limit reached for gpt-4o. Please try again in 1s.",
                &[
                    ("retry-after", "1"),
                    ("x-ratelimit-remaining-requests", "0"),
                    ("x-ratelimit-reset-requests", "1s"),
                ],
            ),
        ),
        (
            "quota_429",
            api(
                429,
                "insufficient_quota",
                Some("insufficient_quota"),
                "You exceeded your current quota, please check your plan and billing details.",
                &[],
            ),
        ),
        (
            "overloaded_529",
            api(529, "overloaded_error", None, "Overloaded", &[]),
        ),
        (
            "server_500",
            api(
                500,
                "server_error",
                None,
                "The server had an error while processing your request.",
                &[],
            ),
        ),
        (
            "invalid_400",
            api(
                400,
                "invalid_request_error",
                None,
                "Invalid value for 'temperature': must be between 0 and 2.",
                &[],
            ),
        ),
        (
            "connect_refused",
            CallError::transport(TransportKind::ConnectRefused, "connection refused"),
        ),
    ];
    let mut g = c.benchmark_group("classify");
    for (name, e) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| cls.decide(black_box(&Failure::Call(e))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
