//! The failure taxonomy as a specification: for every wire format × every fault that
//! applies to it, nb-chaos produces the fault over loopback, the real adapter turns it
//! into a `CallError`, and the default classifier must return the expected class, scope,
//! disposition and retry hint. The same table is in `docs/failure-taxonomy.md`; this
//! test fails when the two differ (run with `NB_BLESS=1` to rewrite the doc's table).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::time::Duration;

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use nb_classify::{Classification, Disposition, Scope, classify};
use nb_core::{ChatRequest, FailureClass, FinishReason, collect};
use nb_providers::Preset;
use nb_tests::{adapter_with, model_of};

#[derive(Clone)]
enum Expect {
    /// The call fails and classifies so.
    Error(FailureClass, Scope, Disposition, Option<Duration>),
    /// The call succeeds at the wire level; the answer's finish reason tells the guard.
    Answer(FinishReason, &'static str),
}

struct Row {
    format: WireFormat,
    fault: Fault,
    stream: bool,
    preset: Option<Preset>,
    expect: Expect,
}

fn err(class: FailureClass, scope: Scope, d: Disposition, hint_ms: Option<u64>) -> Expect {
    Expect::Error(class, scope, d, hint_ms.map(Duration::from_millis))
}

fn rows() -> Vec<Row> {
    use Disposition::*;
    use FailureClass as F;
    use WireFormat::*;
    let mut rows = Vec::new();
    let mut add = |format, fault: Fault, stream, expect| {
        rows.push(Row {
            format,
            fault,
            stream,
            preset: None,
            expect,
        })
    };
    for f in [OpenAi, Anthropic, Gemini, OpenAiResponses] {
        add(
            f,
            Fault::always(FaultKind::RateLimit).with_retry_after(2.0),
            false,
            err(F::RateLimited, Scope::Target, FailOver, Some(2000)),
        );
        add(
            f,
            Fault::always(FaultKind::RateLimit).with_retry_after(2.0),
            true,
            err(F::RateLimited, Scope::Target, FailOver, Some(2000)),
        );
        // Anthropic's retry-after is whole seconds: 0.5 s is sent as 1.
        let short = if f == Anthropic { 1000 } else { 500 };
        add(
            f,
            Fault::always(FaultKind::RateLimit).with_retry_after(0.5),
            false,
            err(F::RateLimited, Scope::Target, RetryHere, Some(short)),
        );
        add(
            f,
            Fault::always(FaultKind::Quota),
            false,
            err(F::QuotaExhausted, Scope::Credential, FailOver, None),
        );
        let overload_scope = if f == Anthropic {
            Scope::Provider
        } else {
            Scope::Model
        };
        add(
            f,
            Fault::always(FaultKind::Overloaded),
            false,
            err(F::Overloaded, overload_scope, FailOver, None),
        );
        add(
            f,
            Fault::always(FaultKind::ServerError).with_status(500),
            false,
            err(F::ServerError, Scope::Target, RetryHere, None),
        );
        add(
            f,
            Fault::always(FaultKind::ServerError)
                .with_status(502)
                .with_html(),
            false,
            err(F::ServerError, Scope::Target, RetryHere, None),
        );
        add(
            f,
            Fault::always(FaultKind::ServerError).with_status(504),
            false,
            err(F::ServerError, Scope::Target, RetryHere, None),
        );
        add(
            f,
            Fault::always(FaultKind::Unauthorized),
            false,
            err(F::AuthFailure, Scope::Credential, FailOver, None),
        );
        add(
            f,
            Fault::always(FaultKind::Forbidden),
            false,
            err(F::AuthFailure, Scope::Credential, FailOver, None),
        );
        add(
            f,
            Fault::always(FaultKind::ModelNotFound),
            false,
            err(F::InvalidModel, Scope::Model, FailOver, None),
        );
        add(
            f,
            Fault::always(FaultKind::ContextLength),
            false,
            err(F::ContextTooLong, Scope::Model, FailOverLargerContext, None),
        );
        add(
            f,
            Fault::always(FaultKind::InvalidRequest),
            false,
            err(F::InvalidRequest, Scope::Attempt, Abort, None),
        );
        add(
            f,
            Fault::always(FaultKind::MalformedJson),
            false,
            err(F::MalformedResponse, Scope::Target, RetryHere, None),
        );
        add(
            f,
            Fault::always(FaultKind::ResetMidBody),
            false,
            err(F::Network, Scope::Target, FailOver, None),
        );
        add(
            f,
            Fault::always(FaultKind::ResetMidBody),
            true,
            err(F::Network, Scope::Target, FailOver, None),
        );
        add(
            f,
            Fault::always(FaultKind::Hang),
            false,
            err(F::Timeout, Scope::Target, FailOver, None),
        );
        add(
            f,
            Fault::always(FaultKind::Outage).in_window(0.0, None),
            false,
            err(F::Network, Scope::Provider, FailOver, None),
        );
        add(
            f,
            Fault::always(FaultKind::TruncatedStream),
            true,
            err(F::MalformedResponse, Scope::Target, RetryHere, None),
        );
        let mid = match f {
            OpenAi => err(F::ServerError, Scope::Target, RetryHere, None),
            Anthropic => err(F::Overloaded, Scope::Provider, FailOver, None),
            Gemini => err(F::Overloaded, Scope::Model, FailOver, None),
            // `response.failed` with `error.code: server_error`.
            OpenAiResponses => err(F::ServerError, Scope::Target, RetryHere, None),
        };
        add(
            f,
            Fault::always(FaultKind::MidStreamError).after_chunks(0),
            true,
            mid.clone(),
        );
        add(
            f,
            Fault::always(FaultKind::MidStreamError).after_chunks(2),
            true,
            mid,
        );
        let empty = match f {
            Anthropic => Expect::Answer(FinishReason::Stop, "empty content: the guard's job"),
            _ => err(F::MalformedResponse, Scope::Target, RetryHere, None),
        };
        add(f, Fault::always(FaultKind::EmptyChoices), false, empty);
        let filter = match f {
            OpenAi => Expect::Answer(
                FinishReason::ContentFilter,
                "finish_reason content_filter: the guard's job",
            ),
            Anthropic => Expect::Answer(
                FinishReason::Refusal,
                "stop_reason refusal: the guard's job",
            ),
            Gemini => err(F::ContentFiltered, Scope::Attempt, FailOver, None),
            OpenAiResponses => Expect::Answer(
                FinishReason::ContentFilter,
                "status incomplete, reason content_filter: the guard's job",
            ),
        };
        add(
            f,
            Fault::always(FaultKind::ContentFilter),
            false,
            filter.clone(),
        );
        add(f, Fault::always(FaultKind::ContentFilter), true, filter);
    }
    rows.push(Row {
        format: OpenAi,
        fault: Fault::always(FaultKind::BlankContent),
        stream: false,
        preset: Some(Preset::DeepSeek),
        expect: err(F::MalformedResponse, Scope::Target, RetryHere, None),
    });
    rows.push(Row {
        format: OpenAi,
        fault: Fault::always(FaultKind::BlankContent),
        stream: true,
        preset: Some(Preset::DeepSeek),
        expect: err(F::MalformedResponse, Scope::Target, RetryHere, None),
    });
    rows
}

async fn observe(row: &Row) -> Result<FinishReason, Classification> {
    let spec =
        ProviderSpec::new("p", row.format, model_of(row.format)).with_fault(row.fault.clone());
    let server = ChaosServer::start(Scenario::new(vec![spec])).await.unwrap();
    if row.fault.kind == FaultKind::Outage {
        nb_tests::until_down(&server.handle(), "p", true).await;
    }
    let p = adapter_with(&server.handle(), "p", row.format, row.preset.clone());
    let req = ChatRequest::user("What is 2 + 2? Reply with the number only.");
    let result = if row.stream {
        match p.stream(&req).await {
            Ok(s) => collect(s).await,
            Err(e) => Err(e),
        }
    } else {
        p.chat(&req).await
    };
    server.shutdown().await;
    result.map(|r| r.finish_reason).map_err(|e| classify(&e))
}

fn fmt_name(f: WireFormat) -> &'static str {
    match f {
        WireFormat::OpenAi => "openai",
        WireFormat::Anthropic => "anthropic",
        WireFormat::Gemini => "gemini",
        WireFormat::OpenAiResponses => "openai-responses",
    }
}

fn describe_fault(row: &Row) -> String {
    let f = &row.fault;
    let mut s = f.kind.name();
    if let Some(r) = f.retry_after_s {
        s.push_str(&format!(" (retry-after {r}s)"));
    }
    if let Some(st) = f.status {
        s.push_str(&format!(" {st}{}", if f.html { " HTML" } else { "" }));
    }
    if let Some(n) = f.after_chunks {
        s.push_str(&format!(" after {n} chunks"));
    }
    if let Some(p) = &row.preset {
        s.push_str(&format!(" ({} preset)", p.name()));
    }
    s
}

fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| format | fault | stream | class | scope | disposition | retry hint |\n|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let (class, scope, disp, hint) = match &r.expect {
            Expect::Error(c, sc, d, h) => (
                c.to_string(),
                sc.to_string(),
                d.to_string(),
                h.map_or("—".into(), |h| format!("{} ms", h.as_millis())),
            ),
            Expect::Answer(fr, why) => (
                format!("(answer: {fr:?})"),
                "—".into(),
                (*why).to_owned(),
                "—".into(),
            ),
        };
        writeln!(
            s,
            "| {} | {} | {} | {class} | {scope} | {disp} | {hint} |",
            fmt_name(r.format),
            describe_fault(r),
            if r.stream { "yes" } else { "no" }
        )
        .unwrap();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_format_times_every_fault_classifies_as_specified() {
    let rows = rows();
    let mut failures = Vec::new();
    for row in &rows {
        let got = observe(row).await;
        let ok = match (&row.expect, &got) {
            (Expect::Error(c, sc, d, h), Err(k)) => {
                k.class == *c && k.scope == *sc && k.disposition == *d && k.retry_after == *h
            }
            (Expect::Answer(fr, _), Ok(got)) => fr == got,
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{} / {} / stream={}: got {:?}",
                fmt_name(row.format),
                describe_fault(row),
                row.stream,
                got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );

    let doc_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/failure-taxonomy.md");
    let doc = std::fs::read_to_string(&doc_path).unwrap_or_default();
    let (start, end) = ("<!-- table:start -->\n", "<!-- table:end -->");
    let table = markdown(&rows);
    let current = doc
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(t, _)| t);
    if current != Some(table.as_str()) {
        if std::env::var_os("NB_BLESS").is_some() {
            let (head, rest) = doc
                .split_once(start)
                .expect("the doc has a table:start marker");
            let (_, tail) = rest
                .split_once(end)
                .expect("the doc has a table:end marker");
            std::fs::write(&doc_path, format!("{head}{start}{table}{end}{tail}")).unwrap();
        } else {
            panic!(
                "docs/failure-taxonomy.md's table is out of date; run `NB_BLESS=1 cargo test -p nb-tests --test taxonomy_over_loopback`. Expected:\n{table}"
            );
        }
    }
}
