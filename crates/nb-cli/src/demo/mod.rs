//! `nb demo`: the same traffic through a blind-retry client and through neuralbridge,
//! against simulated providers that follow a scripted story.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nb_chaos::tasks::Task;
use std::sync::Arc;

use nb_chaos::{ChaosServer, Scenario, WireFormat};
use neuralbridge::breaker::{BreakerConfig, CooldownPolicy, HealthEvent, OpenBackoff};
use neuralbridge::core::{ChatRequest, Provider, TargetId, Violation, ViolationKind};
use neuralbridge::guard::NotRefused;
use neuralbridge::providers::{Anthropic, ApiKey, Gemini, OpenAi, OpenAiResponses, Preset};
use neuralbridge::router::{
    AnswerCheck, Policy, RouterEvent, SmartRouter, Target, Vouching, WaitReport,
};
use neuralbridge::semantic::Strict;
use rand::SeedableRng;
use serde_json::{Value, json};

mod report;
mod tally;

pub use tally::{
    BreakerMark, CallMark, ClientTally, Counts, DemoResult, Grade, PhaseTally, WaitTally,
};

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// A 12-second run instead of a minute.
    pub quick: bool,
    /// Seed of the simulated faults and of the tasks.
    pub seed: u64,
    /// Where to write the HTML report (`None`: no report).
    pub report: Option<PathBuf>,
    /// Show a progress bar (only on a terminal).
    pub progress: bool,
    /// Calls per second from each client.
    pub rate: u32,
    /// How long to run a scenario that names no phases.
    pub seconds: Option<f64>,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            quick: false,
            seed: 42,
            report: None,
            progress: false,
            rate: 20,
            seconds: None,
        }
    }
}

struct CallRecord {
    t_s: f64,
    client: &'static str,
    grade: Grade,
    latency: Duration,
    upstream: u64,
    served_by: Option<String>,
    failed_over: bool,
    waits: Vec<WaitReport>,
    unvouchable: bool,
}

/// What most code does today: call one provider, retry up to three times on any error,
/// and trust any answer that came back with HTTP 200 — filtered, blank or wrong.
async fn blind_call(provider: &dyn Provider, prompt: &str) -> (Option<String>, u64) {
    let req = ChatRequest::user(prompt);
    let mut attempts = 0;
    for _ in 0..4 {
        attempts += 1;
        if let Ok(Ok(resp)) =
            tokio::time::timeout(Duration::from_secs(5), provider.chat(&req)).await
        {
            return (Some(resp.text), attempts);
        }
    }
    (None, attempts)
}

fn adapter(
    chaos: &nb_chaos::ChaosHandle,
    spec: &nb_chaos::ProviderSpec,
) -> Result<Arc<dyn Provider>, String> {
    let base = chaos.base_url(&spec.name).unwrap_or_default();
    let model = spec
        .models
        .first()
        .map(|m| m.name.clone())
        .unwrap_or_default();
    let key = ApiKey::new(spec.api_key.clone().unwrap_or_else(|| "sk-demo".into()));
    Ok(match spec.format {
        WireFormat::OpenAi => Arc::new(
            OpenAi::builder(Preset::OpenAi, model)
                .base_url(format!("{base}/v1"))
                .api_key(key)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        WireFormat::Anthropic => Arc::new(
            Anthropic::builder(model)
                .base_url(base)
                .api_key(key)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        WireFormat::Gemini => Arc::new(
            Gemini::builder(model)
                .base_url(base)
                .api_key(key)
                .build()
                .map_err(|e| e.to_string())?,
        ),
        WireFormat::OpenAiResponses => Arc::new(
            OpenAiResponses::builder(model)
                .base_url(format!("{base}/v1"))
                .api_key(key)
                .build()
                .map_err(|e| e.to_string())?,
        ),
    })
}

fn non_empty(r: &neuralbridge::core::ChatResponse) -> Result<(), Violation> {
    if r.text.trim().is_empty() && r.tool_calls.is_empty() {
        Err(
            Violation::new(ViolationKind::Truncated, "", "the answer is empty")
                .with_hint("answer the question"),
        )
    } else {
        Ok(())
    }
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Runs the demo: the embedded story, scaled to 12 s with `quick`.
pub async fn run(opts: DemoOptions) -> Result<DemoResult, String> {
    let factor = if opts.quick { 0.2 } else { 1.0 };
    let mut scenario = Scenario::demo_story().scaled(factor);
    scenario.seed = opts.seed;
    run_scenario(scenario, factor, opts).await
}

/// Runs any scenario the same way: the blind client on its first provider, neuralbridge
/// over all of them in order; cool-downs and open periods are scaled by `factor`.
pub async fn run_scenario(
    scenario: Scenario,
    factor: f64,
    opts: DemoOptions,
) -> Result<DemoResult, String> {
    if scenario.providers.is_empty() {
        return Err("the scenario has no providers".into());
    }
    let duration = scenario
        .phases
        .last()
        .map_or(opts.seconds.unwrap_or(60.0 * factor), |p| p.to_s);
    let specs = scenario.providers.clone();
    let phases = scenario.phases.clone();
    let server = ChaosServer::start(scenario)
        .await
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
    let h = server.handle();
    let scaled = |s: f64| Duration::from_secs_f64((s * factor).max(0.05));
    let mut builder = SmartRouter::builder();
    for spec in &specs {
        let model = spec
            .models
            .first()
            .map(|m| m.name.clone())
            .unwrap_or_default();
        builder = builder.target(Target::shared(
            TargetId::new(&spec.name, model),
            adapter(&h, spec)?,
        ));
    }
    let router = builder
        .validator(NotRefused)
        .validator(non_empty)
        .vouch(Vouching::consensus(Strict).with_wait(scaled(2.5)))
        .policy(
            Policy::default()
                .with_attempt_timeout(Duration::from_secs(2))
                .with_deadline(Duration::from_secs(6)),
        )
        .breaker(BreakerConfig {
            consecutive_failures: 3,
            backoff: OpenBackoff {
                initial: scaled(1.0),
                max: scaled(4.0),
                jitter: true,
            },
            ..BreakerConfig::default()
        })
        .cooldowns(CooldownPolicy {
            auth: scaled(3.0),
            overloaded: scaled(2.0),
            rate_limited: scaled(1.0),
            ..CooldownPolicy::default()
        })
        .seed(opts.seed)
        .build()
        .map_err(|e| e.to_string())?;
    let blind = adapter(&h, &specs[0])?;
    // Breaker transitions are collected as they happen, so the timeline is true; a
    // lagging receiver skips ahead instead of stopping.
    let mut events = router.subscribe();
    let collector_start = Instant::now();
    let collector = tokio::spawn(async move {
        let mut marks = Vec::new();
        loop {
            match events.recv().await {
                Ok(RouterEvent::Health(HealthEvent::Breaker { target, transition })) => {
                    marks.push(BreakerMark {
                        t_s: collector_start.elapsed().as_secs_f64(),
                        target: target.provider().to_owned(),
                        from: transition.from.to_string(),
                        to: transition.to.to_string(),
                    })
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return marks,
            }
        }
    });
    let blind_name = specs[0].name.clone();

    let total = (duration * f64::from(opts.rate.max(1))) as u64;
    let bar = (opts.progress && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(total);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} calls  {msg}")
        {
            b.set_style(style);
        }
        b
    });
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<CallRecord>();
    let start = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(opts.seed);
    let interval = Duration::from_secs_f64(1.0 / f64::from(opts.rate.max(1)));
    let mut tick = tokio::time::interval(interval);
    let mut tasks = Vec::new();
    for _ in 0..total {
        tick.tick().await;
        let t_s = start.elapsed().as_secs_f64();
        if let Some(b) = &bar {
            b.inc(1);
            if let Some(p) = phases.iter().find(|p| t_s >= p.from_s && t_s < p.to_s) {
                b.set_message(p.name.clone());
            }
        }
        let task = Task::generate(&mut rng);
        let prompt = task.prompt();
        {
            let (tx, blind, name, task, prompt) = (
                tx.clone(),
                blind.clone(),
                blind_name.clone(),
                task.clone(),
                prompt.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let (text, upstream) = blind_call(blind.as_ref(), &prompt).await;
                let grade = match text {
                    Some(t) if task.check(&t) => Grade::Correct,
                    Some(_) => Grade::Silent,
                    None => Grade::Error,
                };
                let served_by = (grade != Grade::Error).then_some(name);
                let _ = tx.send(CallRecord {
                    t_s,
                    client: "blind",
                    grade,
                    latency: t0.elapsed(),
                    upstream,
                    served_by,
                    failed_over: false,
                    waits: Vec::new(),
                    unvouchable: false,
                });
            }));
        }
        {
            let (tx, router) = (tx.clone(), router.clone());
            tasks.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let r = router.chat(&ChatRequest::user(prompt)).await;
                let (grade, upstream, served_by, failed_over) = match &r {
                    Ok(routed) => (
                        if task.check(&routed.value.text) {
                            Grade::Correct
                        } else {
                            Grade::Silent
                        },
                        routed.report.upstream_calls() as u64,
                        routed
                            .report
                            .served_by
                            .as_ref()
                            .map(|t| t.provider().to_owned()),
                        routed.report.failed_over,
                    ),
                    Err(e) => (
                        Grade::Error,
                        e.report().upstream_calls() as u64,
                        None,
                        false,
                    ),
                };
                let (waits, unvouchable) = match &r {
                    Ok(routed) => (
                        routed.report.waits.clone(),
                        routed.report.check == AnswerCheck::Unvouchable,
                    ),
                    Err(e) => (e.report().waits.clone(), false),
                };
                let _ = tx.send(CallRecord {
                    t_s,
                    client: "neuralbridge",
                    grade,
                    latency: t0.elapsed(),
                    upstream,
                    served_by,
                    failed_over,
                    waits,
                    unvouchable,
                });
            }));
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    drop(tx);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    drop(router);
    let breaker_transitions = collector.await.unwrap_or_default();
    server.shutdown().await;

    let mut outcomes = Vec::new();
    while let Some(o) = rx.recv().await {
        outcomes.push(o);
    }
    outcomes.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let tally = |client: &'static str, name: &str| {
        let mine: Vec<&CallRecord> = outcomes.iter().filter(|o| o.client == client).collect();
        let mut lat: Vec<f64> = mine
            .iter()
            .map(|o| o.latency.as_secs_f64() * 1000.0)
            .collect();
        lat.sort_by(f64::total_cmp);
        let calls = mine.len() as u64;
        let upstream: u64 = mine.iter().map(|o| o.upstream).sum();
        ClientTally {
            name: name.to_owned(),
            calls,
            correct: mine.iter().filter(|o| o.grade == Grade::Correct).count() as u64,
            silent_corruptions: mine.iter().filter(|o| o.grade == Grade::Silent).count() as u64,
            explicit_errors: mine.iter().filter(|o| o.grade == Grade::Error).count() as u64,
            p50_ms: percentile(&lat, 0.5),
            p99_ms: percentile(&lat, 0.99),
            upstream_calls: upstream,
            upstream_per_call: if calls == 0 {
                0.0
            } else {
                upstream as f64 / calls as f64
            },
            failovers: mine.iter().filter(|o| o.failed_over).count() as u64,
        }
    };
    let count = |client: &'static str, from: f64, to: f64| {
        let mut c = Counts::default();
        for o in outcomes
            .iter()
            .filter(|o| o.client == client && o.t_s >= from && o.t_s < to)
        {
            c.calls += 1;
            match o.grade {
                Grade::Correct => c.correct += 1,
                Grade::Silent => c.silent += 1,
                Grade::Error => c.errors += 1,
            }
        }
        c
    };
    let phase_tallies = phases
        .iter()
        .map(|p| PhaseTally {
            name: p.name.clone(),
            from_s: p.from_s,
            to_s: p.to_s,
            neuralbridge_p99_ms: {
                let mut lat: Vec<f64> = outcomes
                    .iter()
                    .filter(|o| o.client == "neuralbridge" && o.t_s >= p.from_s && o.t_s < p.to_s)
                    .map(|o| o.latency.as_secs_f64() * 1000.0)
                    .collect();
                lat.sort_by(f64::total_cmp);
                percentile(&lat, 0.99)
            },
            neuralbridge_waits: waits_in(&outcomes, p.from_s, p.to_s),
            neuralbridge_unvouchable: outcomes
                .iter()
                .filter(|o| o.unvouchable && o.t_s >= p.from_s && o.t_s < p.to_s)
                .count() as u64,
            blind: count("blind", p.from_s, p.to_s),
            neuralbridge: count("neuralbridge", p.from_s, p.to_s),
        })
        .collect();
    let mut result = DemoResult {
        seed: opts.seed,
        duration_s: duration,
        blind: tally("blind", "blind retry (3 retries, trusts HTTP 200)"),
        neuralbridge: tally("neuralbridge", "neuralbridge"),
        phases: phase_tallies,
        breaker_transitions,
        calls: outcomes
            .iter()
            .map(|o| CallMark {
                t_s: o.t_s,
                client: o.client,
                grade: o.grade,
                latency_ms: o.latency.as_secs_f64() * 1000.0,
                served_by: o.served_by.clone(),
            })
            .collect(),
        report: None,
    };
    if let Some(path) = &opts.report {
        std::fs::write(path, report::html(&result))
            .map_err(|e| format!("cannot write the report to {}: {e}", path.display()))?;
        result.report = Some(path.clone());
    }
    Ok(result)
}

/// What neuralbridge's calls issued between `from` and `to` waited for, by reason.
fn waits_in(outcomes: &[CallRecord], from: f64, to: f64) -> BTreeMap<&'static str, WaitTally> {
    let mut by: BTreeMap<&'static str, WaitTally> = BTreeMap::new();
    for o in outcomes
        .iter()
        .filter(|o| o.client == "neuralbridge" && o.t_s >= from && o.t_s < to)
    {
        let mut seen = Vec::new();
        for w in &o.waits {
            let t = by.entry(w.reason.as_str()).or_default();
            if !seen.contains(&w.reason) {
                seen.push(w.reason);
                t.calls += 1;
            }
            let ms = w.waited.as_secs_f64() * 1000.0;
            t.total_ms += ms;
            t.max_ms = t.max_ms.max(ms);
            *t.targets.entry(w.target.provider().to_owned()).or_default() += 1;
        }
    }
    by
}

/// What the calls of a phase waited for, in one line (`—` when nothing).
fn waits_line(p: &PhaseTally) -> String {
    if p.neuralbridge_waits.is_empty() {
        return "—".into();
    }
    p.neuralbridge_waits
        .iter()
        .map(|(why, t)| {
            let on: Vec<String> = t.targets.keys().cloned().collect();
            format!(
                "{why} on {}: {} calls, {:.0} ms in all, longest {:.0} ms",
                on.join("+"),
                t.calls,
                t.total_ms,
                t.max_ms
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The final table, as text.
pub fn table(r: &DemoResult) -> String {
    let (b, n) = (&r.blind, &r.neuralbridge);
    let rows: Vec<(&str, String, String)> = vec![
        ("calls", b.calls.to_string(), n.calls.to_string()),
        (
            "correct answers",
            pct(b.correct, b.calls),
            pct(n.correct, n.calls),
        ),
        (
            "silent corruptions",
            b.silent_corruptions.to_string(),
            n.silent_corruptions.to_string(),
        ),
        (
            "explicit errors",
            b.explicit_errors.to_string(),
            n.explicit_errors.to_string(),
        ),
        (
            "p50 latency",
            format!("{:.0} ms", b.p50_ms),
            format!("{:.0} ms", n.p50_ms),
        ),
        (
            "p99 latency",
            format!("{:.0} ms", b.p99_ms),
            format!("{:.0} ms", n.p99_ms),
        ),
        (
            "upstream calls per call",
            format!("{:.2}", b.upstream_per_call),
            format!("{:.2}", n.upstream_per_call),
        ),
        ("failovers", "—".into(), n.failovers.to_string()),
        (
            "breaker transitions",
            "—".into(),
            r.breaker_transitions.len().to_string(),
        ),
    ];
    let mut s = format!("{:<26} {:>18} {:>18}\n", "", "blind retry", "neuralbridge");
    for (k, a, c) in rows {
        s.push_str(&format!("{k:<26} {a:>18} {c:>18}\n"));
    }
    s.push_str("\nby phase (correct / silent / errors):\n");
    for p in &r.phases {
        s.push_str(&format!(
            "  {:<30} blind {:>4} / {:>3} / {:>4}    neuralbridge {:>4} / {:>3} / {:>4}\n",
            p.name,
            p.blind.correct,
            p.blind.silent,
            p.blind.errors,
            p.neuralbridge.correct,
            p.neuralbridge.silent,
            p.neuralbridge.errors
        ));
    }
    s.push_str("\nwhat neuralbridge waited for, by phase (p99; served flagged unvouchable):\n");
    for p in &r.phases {
        s.push_str(&format!(
            "  {:<30} p99 {:>5.0} ms; {} unvouchable; {}\n",
            p.name,
            p.neuralbridge_p99_ms,
            p.neuralbridge_unvouchable,
            waits_line(p)
        ));
    }
    s
}

/// The waits of a phase, for the HTML report.
pub(crate) fn waits_html(p: &PhaseTally) -> String {
    waits_line(p)
}

fn pct(a: u64, b: u64) -> String {
    if b == 0 {
        return "0".into();
    }
    format!("{a} ({:.1}%)", 100.0 * a as f64 / b as f64)
}

/// Per-provider upstream counts are in the report; this keeps the JSON small.
pub fn summary_json(r: &DemoResult) -> Value {
    let phases: BTreeMap<&str, &PhaseTally> =
        r.phases.iter().map(|p| (p.name.as_str(), p)).collect();
    json!({
        "seed": r.seed,
        "duration_s": r.duration_s,
        "blind": r.blind,
        "neuralbridge": r.neuralbridge,
        "phases": phases,
        "breaker_transitions": r.breaker_transitions.len(),
        "report": r.report,
    })
}
