//! `nb demo`: the taxonomy at work against simulated providers.

use std::collections::BTreeMap;
use std::process::ExitCode;

use nb_chaos::tasks::Task;
use nb_chaos::{ChaosServer, Fault, FaultKind, Personality, ProviderSpec, Scenario, WireFormat};
use neuralbridge::classify::classify;
use neuralbridge::core::{ChatRequest, FailureClass, FinishReason, Provider};
use neuralbridge::providers::{Anthropic, ApiKey, Gemini, OpenAi, Preset};
use rand::SeedableRng;

/// Options of `nb demo`.
#[derive(clap::Args)]
pub(crate) struct DemoArgs {
    /// Fewer calls, for CI.
    #[arg(long)]
    quick: bool,
    /// Seed of the simulated faults and the tasks.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print the results as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Default, serde::Serialize)]
struct Tally {
    calls: u64,
    correct: u64,
    /// HTTP 200 answers that were wrong: what a client trusting the status would return.
    silent_wrong: u64,
    /// 200 answers that were unusable (filtered, refused, cut short).
    unusable: u64,
    failures: BTreeMap<String, u64>,
}

fn scenario(seed: u64) -> Scenario {
    Scenario::new(vec![
        ProviderSpec::new("openai", WireFormat::OpenAi, "gpt-4o-mini")
            .with_fault(
                Fault::always(FaultKind::RateLimit)
                    .with_probability(0.15)
                    .with_retry_after(2.0),
            )
            .with_fault(Fault::always(FaultKind::Quota).with_probability(0.05))
            .with_fault(
                Fault::always(FaultKind::ServerError)
                    .with_probability(0.05)
                    .with_status(502)
                    .with_html(),
            )
            .with_fault(Fault::always(FaultKind::MalformedJson).with_probability(0.05)),
        ProviderSpec::new("anthropic", WireFormat::Anthropic, "claude-sonnet-4-5")
            .with_personality(Personality::Chatty)
            .with_fault(Fault::always(FaultKind::Overloaded).with_probability(0.10))
            .with_fault(
                Fault::always(FaultKind::MidStreamError)
                    .with_probability(0.10)
                    .after_chunks(1),
            )
            .with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(0.15)),
        ProviderSpec::new("gemini", WireFormat::Gemini, "gemini-2.5-flash")
            .with_personality(Personality::Markdown)
            .with_fault(Fault::always(FaultKind::ContentFilter).with_probability(0.05))
            .with_fault(Fault::always(FaultKind::TruncatedStream).with_probability(0.10))
            .with_fault(Fault::always(FaultKind::SemanticDrift).with_probability(0.10)),
    ])
    .with_seed(seed)
}

pub(crate) async fn run(args: DemoArgs) -> ExitCode {
    let calls = if args.quick { 60 } else { 600 };
    let server = match ChaosServer::start(scenario(args.seed)).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nb demo: cannot start the simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    let h = server.handle();
    let key = ApiKey::new("sk-demo");
    let base = |n: &str| h.base_url(n).unwrap_or_default();
    let built: Result<Vec<(&str, Box<dyn Provider>)>, _> = (|| {
        Ok::<_, neuralbridge::providers::ConfigError>(vec![
            (
                "openai",
                Box::new(
                    OpenAi::builder(Preset::OpenAi, "gpt-4o-mini")
                        .base_url(format!("{}/v1", base("openai")))
                        .api_key(key.clone())
                        .build()?,
                ) as Box<dyn Provider>,
            ),
            (
                "anthropic",
                Box::new(
                    Anthropic::builder("claude-sonnet-4-5")
                        .base_url(base("anthropic"))
                        .api_key(key.clone())
                        .build()?,
                ),
            ),
            (
                "gemini",
                Box::new(
                    Gemini::builder("gemini-2.5-flash")
                        .base_url(base("gemini"))
                        .api_key(key.clone())
                        .build()?,
                ),
            ),
        ])
    })();
    let providers = match built {
        Ok(p) => p,
        Err(e) => {
            eprintln!("nb demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.json {
        println!(
            "neuralbridge demo — {calls} checkable tasks sent to each of three simulated providers (seed {})\n",
            args.seed
        );
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(args.seed);
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for i in 0..calls {
        let task = Task::generate(&mut rng);
        let req = ChatRequest::user(task.prompt());
        for (name, p) in &providers {
            let t = tallies.entry(name).or_default();
            t.calls += 1;
            // Half the calls stream, so stream faults show up too.
            let result = if i % 2 == 0 {
                p.chat(&req).await
            } else {
                match p.stream(&req).await {
                    Ok(s) => neuralbridge::core::collect(s).await,
                    Err(e) => Err(e),
                }
            };
            match result {
                Ok(r) if r.finish_reason != FinishReason::Stop => t.unusable += 1,
                Ok(r) if task.check(&r.text) => t.correct += 1,
                Ok(_) => t.silent_wrong += 1,
                Err(e) => {
                    *t.failures
                        .entry(classify(&e).class.to_string())
                        .or_default() += 1
                }
            }
        }
    }
    server.shutdown().await;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&tallies).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<10} {:>6} {:>8} {:>13} {:>9}   failures, classified",
        "provider", "calls", "correct", "200 but wrong", "unusable"
    );
    for (name, t) in &tallies {
        let classes: Vec<String> = t.failures.iter().map(|(c, n)| format!("{c}×{n}")).collect();
        println!(
            "{name:<10} {:>6} {:>8} {:>13} {:>9}   {}",
            t.calls,
            t.correct,
            t.silent_wrong,
            t.unusable,
            classes.join(", ")
        );
    }
    let wrong: u64 = tallies.values().map(|t| t.silent_wrong).sum();
    println!(
        "\nA client that trusts HTTP 200 would have returned {wrong} wrong answers as successes.\n\
         Every failure above was classified from wire facts (status, error type/code, retry hints),\n\
         so a router can act on the class: wait out a short retry-after, fail over on quota,\n\
         never retry an invalid request. Classes seen: {}.",
        FailureClass::ALL
            .iter()
            .filter(|c| tallies
                .values()
                .any(|t| t.failures.contains_key(c.as_str())))
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    ExitCode::SUCCESS
}
