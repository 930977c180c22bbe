//! Catching a drifting first choice fast, with the default vouching: the drift test
//! (Wald's SPRT over shadow checks) puts a first choice that disagrees on alert — every
//! answer it serves is then checked before it is returned — and demotes it once the test
//! decides. Measured over 500 calls per seed, as counts (never times):
//!
//! - a primary wrong on 30% of answers: at most 3% of calls silently wrong, at most 1.3
//!   upstream calls per call;
//! - a healthy primary: at most 1.1 upstream calls per call.
//!
//! The figures are printed for docs/benchmarks.md (`--nocapture`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_chaos::tasks::Task;
use nb_chaos::{ChaosServer, Fault, FaultKind, Personality, ProviderSpec, Scenario, WireFormat};
use nb_core::ChatRequest;
use nb_router::{AnswerCheck, SmartRouter, Vouching};
use nb_semantic::Strict;
use nb_tests::{model_of, router_target};
use rand::SeedableRng;

struct Run {
    silent: usize,
    refused: usize,
    upstream_per_call: f64,
}

const CALLS: usize = 500;

async fn run(drift: Option<f64>, seed: u64) -> Run {
    let mut primary =
        ProviderSpec::new("primary", WireFormat::OpenAi, model_of(WireFormat::OpenAi));
    if let Some(p) = drift {
        primary = primary.with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(p));
    }
    let server = ChaosServer::start(
        Scenario::new(vec![
            primary,
            ProviderSpec::new(
                "second",
                WireFormat::Anthropic,
                model_of(WireFormat::Anthropic),
            )
            .with_personality(Personality::Chatty),
            ProviderSpec::new("third", WireFormat::Gemini, model_of(WireFormat::Gemini))
                .with_personality(Personality::Markdown),
        ])
        .with_seed(seed),
    )
    .await
    .unwrap();
    let h = server.handle();
    let router = SmartRouter::builder()
        .target(router_target(&h, "primary", WireFormat::OpenAi))
        .target(router_target(&h, "second", WireFormat::Anthropic))
        .target(router_target(&h, "third", WireFormat::Gemini))
        .vouch(Vouching::consensus(Strict))
        .seed(seed)
        .build()
        .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + 1);
    let (mut silent, mut refused) = (0, 0);
    for _ in 0..CALLS {
        let task = Task::generate(&mut rng);
        match router.chat(&ChatRequest::user(task.prompt())).await {
            Ok(a) => {
                // Silent: a wrong answer returned as a plain success.
                let flagged = matches!(
                    a.report.check,
                    AnswerCheck::Unchecked | AnswerCheck::Unvouchable
                );
                if !task.check(&a.value.text) && !flagged {
                    silent += 1;
                }
            }
            Err(_) => refused += 1,
        }
        // Shadow checks run in the background: let them land before the next call.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let upstream: u64 = ["primary", "second", "third"]
        .iter()
        .map(|n| h.stats(n).unwrap().requests)
        .sum();
    Run {
        silent,
        refused,
        upstream_per_call: upstream as f64 / CALLS as f64,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_wrong_on_30_percent_is_caught_before_3_percent_go_out_silently() {
    for seed in [7, 21, 42] {
        let r = run(Some(0.3), seed).await;
        eprintln!(
            "drift 30%, seed {seed}: {} silent of {CALLS} ({:.1}%), {} refused, {:.2} upstream calls per call",
            r.silent,
            100.0 * r.silent as f64 / CALLS as f64,
            r.refused,
            r.upstream_per_call
        );
        assert!(
            r.silent * 100 <= 3 * CALLS,
            "seed {seed}: {} silent",
            r.silent
        );
        assert!(
            r.silent > 0,
            "seed {seed}: it really drifted before it was caught"
        );
        assert!(
            r.upstream_per_call <= 1.3,
            "seed {seed}: {:.2}",
            r.upstream_per_call
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_primary_costs_at_most_one_tenth_more() {
    for seed in [7, 21, 42] {
        let r = run(None, seed).await;
        eprintln!(
            "healthy, seed {seed}: {} silent, {} refused, {:.2} upstream calls per call",
            r.silent, r.refused, r.upstream_per_call
        );
        assert_eq!(r.silent, 0);
        assert!(
            r.upstream_per_call <= 1.1,
            "seed {seed}: {:.2}",
            r.upstream_per_call
        );
    }
}
