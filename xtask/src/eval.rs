//! `cargo xtask eval-equivalence`: scores `nb_semantic::Strict` on labelled pairs, or
//! `Escalate(Strict, Entailment or Judge)` when a model is given for the escalation stage
//! (`--judge-base-url URL --judge-model M [--judge-key-env VAR] [--judge-format
//! openai|anthropic] [--judge-stage entailment|judge]`).
//!
//! The checker sees `prompt`, `primary` and `fallback` only — never the label — and its
//! verdicts can be written out (`--predictions OUT`) to be scored elsewhere.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use nb_core::Provider;
use nb_providers::{Anthropic, ApiKey, OpenAi, Preset};
use nb_semantic::{Entailment, Equivalence, EquivalenceOutcome, Escalate, Judge, Strict};
use serde_json::{Value, json};

/// The model behind the escalation stage, from the command line.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct JudgeArgs {
    base_url: Option<String>,
    model: Option<String>,
    key_env: Option<String>,
    /// `openai` (any OpenAI-compatible server) or `anthropic`.
    format: String,
    /// `entailment` (both directions) or `judge` (SAME/DIFFERENT in both orders).
    stage: String,
}

/// Everything `eval-equivalence` reads from its arguments.
#[derive(Debug, PartialEq)]
pub(crate) struct Args {
    data: PathBuf,
    predictions: Option<PathBuf>,
    judge: JudgeArgs,
}

pub(crate) fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        data: super::root().join("tests/data/equivalence/pairs.jsonl"),
        predictions: None,
        judge: JudgeArgs {
            format: "openai".into(),
            stage: "entailment".into(),
            ..JudgeArgs::default()
        },
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| -> Result<String, String> {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs {what}"))
        };
        match a.as_str() {
            "--data" => out.data = value("a file")?.into(),
            "--predictions" => out.predictions = Some(value("a file")?.into()),
            "--judge-base-url" => out.judge.base_url = Some(value("a URL")?),
            "--judge-model" => out.judge.model = Some(value("a model name")?),
            "--judge-key-env" => out.judge.key_env = Some(value("an environment variable")?),
            "--judge-format" => {
                out.judge.format = value("openai or anthropic")?;
                if !matches!(out.judge.format.as_str(), "openai" | "anthropic") {
                    return Err(format!(
                        "--judge-format: {:?} is not openai or anthropic",
                        out.judge.format
                    ));
                }
            }
            "--judge-stage" => {
                out.judge.stage = value("entailment or judge")?;
                if !matches!(out.judge.stage.as_str(), "entailment" | "judge") {
                    return Err(format!(
                        "--judge-stage: {:?} is not entailment or judge",
                        out.judge.stage
                    ));
                }
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if out.judge.base_url.is_some() != out.judge.model.is_some() {
        return Err("--judge-base-url and --judge-model go together".into());
    }
    Ok(out)
}

/// The checker to score: `Strict`, or `Escalate(Strict, stage)` over the given model.
fn checker(j: &JudgeArgs) -> Result<Arc<dyn Equivalence>, String> {
    let (Some(url), Some(model)) = (&j.base_url, &j.model) else {
        return Ok(Arc::new(Strict));
    };
    let key = match &j.key_env {
        Some(var) => Some(ApiKey::new(
            std::env::var(var).map_err(|_| format!("--judge-key-env: {var} is not set"))?,
        )),
        None => None,
    };
    let provider: Arc<dyn Provider> = match j.format.as_str() {
        "anthropic" => {
            let mut b = Anthropic::builder(model.as_str()).base_url(url.as_str());
            if let Some(k) = key {
                b = b.api_key(k);
            }
            Arc::new(b.build().map_err(|e| format!("the judge: {e}"))?)
        }
        _ => {
            let mut b = OpenAi::builder(Preset::Generic, model.as_str()).base_url(url.as_str());
            if let Some(k) = key {
                b = b.api_key(k);
            }
            Arc::new(b.build().map_err(|e| format!("the judge: {e}"))?)
        }
    };
    let stage: Arc<dyn Equivalence> = if j.stage == "judge" {
        Arc::new(Judge::new(provider))
    } else {
        Arc::new(Entailment::new(provider))
    };
    Ok(Arc::new(Escalate(vec![Arc::new(Strict), stage])))
}

#[cfg(test)]
mod tests {
    use super::{parse_args, run, upper_bound};

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn judge_arguments_parse_and_are_checked() {
        let a = parse_args(&strings(&[
            "--data",
            "d.jsonl",
            "--judge-base-url",
            "https://api.openai.com/v1",
            "--judge-model",
            "gpt-4o-mini",
            "--judge-key-env",
            "OPENAI_API_KEY",
            "--judge-stage",
            "judge",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.judge.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(
            (a.judge.format.as_str(), a.judge.stage.as_str()),
            ("openai", "judge")
        );
        assert!(parse_args(&strings(&["--judge-model", "m"])).is_err());
        assert!(parse_args(&strings(&["--judge-format", "gemini"])).is_err());
        assert!(parse_args(&strings(&["--judge-stage"])).is_err());
    }

    /// The escalation path end to end: nb-chaos acts as the entailment model (it knows
    /// the truth of its own tasks) and decides what the strict checker leaves open.
    #[test]
    fn escalation_reaches_the_model_for_what_strict_leaves_open() {
        use nb_chaos::tasks::Task;
        use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
        let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
        let server = rt
            .block_on(ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
                "nli",
                WireFormat::OpenAi,
                "gpt-4o-mini",
            )])))
            .unwrap_or_else(|e| panic!("{e}"));
        let base = server.base_url("nli").unwrap_or_default();
        let prompt = Task::Arithmetic {
            a: 6,
            op: '*',
            b: 7,
        }
        .prompt();
        let dir = std::env::temp_dir().join(format!("nb-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let (data, out) = (dir.join("pairs.jsonl"), dir.join("out.jsonl"));
        let line = |id: &str, a: &str, b: &str, eq: bool| {
            serde_json::json!({"id": id, "category": "numbers", "prompt": prompt,
                "primary": a, "fallback": b, "equivalent": eq})
            .to_string()
        };
        let body = [
            line("open", "6 * 7 = 42", "7 * 6 = 42 (checked twice: 42)", true),
            line("strict", "42", "The answer is 42.", true),
        ]
        .join("\n");
        std::fs::write(&data, body).unwrap_or_else(|e| panic!("{e}"));
        run(&strings(&[
            "--data",
            data.to_str().unwrap_or_default(),
            "--predictions",
            out.to_str().unwrap_or_default(),
            "--judge-base-url",
            &format!("{base}/v1"),
            "--judge-model",
            "gpt-4o-mini",
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
        let got = std::fs::read_to_string(&out).unwrap_or_default();
        let rows: Vec<serde_json::Value> = got
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        assert_eq!(rows.len(), 2, "{got}");
        assert_eq!(rows[0]["method"], "entailment", "{got}");
        assert_eq!(rows[0]["outcome"], "equivalent", "{got}");
        assert_eq!(
            rows[1]["method"], "number",
            "the strict stage decides first: {got}"
        );
        assert_eq!(
            server.handle().requests("nli"),
            2,
            "two calls, one per direction"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bounds_match_known_values() {
        // 0 of 149 at 95%: 1 - 0.05^(1/149) = 0.0199.
        assert!((upper_bound(0, 149, 0.05) - 0.019_9).abs() < 1e-3);
        // 1 of 100: the exact one-sided bound is 0.0466.
        assert!((upper_bound(1, 100, 0.05) - 0.046_6).abs() < 1e-3);
        assert!((upper_bound(10, 10, 0.05) - 1.0).abs() < 1e-12);
        // 50 of 100: Wilson 95% is 40.4%..59.6%.
        let (lo, hi) = super::wilson(50, 100);
        assert!((lo - 0.404).abs() < 1e-3 && (hi - 0.596).abs() < 1e-3);
    }
}

#[derive(Default)]
struct Score {
    n: u64,
    decided: u64,
    right: u64,
    negatives: u64,
    false_accepts: u64,
    positives: u64,
    false_rejects: u64,
}

impl Score {
    fn add(&mut self, outcome: EquivalenceOutcome, label: bool) {
        self.n += 1;
        if label {
            self.positives += 1;
        } else {
            self.negatives += 1;
        }
        match outcome {
            EquivalenceOutcome::Undecided => {}
            EquivalenceOutcome::Equivalent => {
                self.decided += 1;
                if label {
                    self.right += 1;
                } else {
                    self.false_accepts += 1;
                }
            }
            EquivalenceOutcome::NotEquivalent => {
                self.decided += 1;
                if label {
                    self.false_rejects += 1;
                } else {
                    self.right += 1;
                }
            }
        }
    }

    /// The one-sided 95% Clopper–Pearson upper bound on the false-accept rate.
    fn fa_bound(&self) -> Option<f64> {
        (self.negatives > 0).then(|| upper_bound(self.false_accepts, self.negatives, 0.05))
    }

    fn row(&self, name: &str) -> String {
        let pct = |a: u64, b: u64| {
            if b == 0 {
                "—".to_owned()
            } else {
                format!("{:.1}%", 100.0 * a as f64 / b as f64)
            }
        };
        let (lo, hi) = wilson(self.decided, self.n);
        format!(
            "| {name} | {} | {} ({:.1}–{:.1}%) | {} | {} ({}/{}) | {} | {} |\n",
            self.n,
            pct(self.decided, self.n),
            100.0 * lo,
            100.0 * hi,
            pct(self.right, self.decided),
            pct(self.false_accepts, self.negatives),
            self.false_accepts,
            self.negatives,
            self.fa_bound()
                .map_or_else(|| "—".to_owned(), |b| format!("{:.1}%", 100.0 * b)),
            self.false_rejects,
        )
    }
}

/// The 95% Wilson score interval on a proportion observed as `x` of `n`.
pub(crate) fn wilson(x: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (n, p, z) = (n as f64, x as f64 / n as f64, 1.959_964);
    let centre = p + z * z / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let denom = 1.0 + z * z / n;
    (
        ((centre - spread) / denom).max(0.0),
        ((centre + spread) / denom).min(1.0),
    )
}

/// ln C(n, k) + k ln p + (n - k) ln(1 - p), summed over k = 0..=x: the binomial CDF.
fn binomial_cdf(x: u64, n: u64, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if x >= n { 1.0 } else { 0.0 };
    }
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_choose = 0.0f64; // ln C(n, 0)
    let mut total = 0.0;
    for k in 0..=x.min(n) {
        if k > 0 {
            log_choose += ((n - k + 1) as f64).ln() - (k as f64).ln();
        }
        total += (log_choose + k as f64 * lp + (n - k) as f64 * lq).exp();
    }
    total.min(1.0)
}

/// The exact (Clopper–Pearson) one-sided upper confidence bound at level `1 - alpha` on
/// a rate observed as `x` of `n`: the `p` at which seeing `x` or fewer has probability
/// `alpha`. For `x = 0` it is `1 - alpha^(1/n)` (about 3/n at 95%).
pub(crate) fn upper_bound(x: u64, n: u64, alpha: f64) -> f64 {
    if x >= n {
        return 1.0;
    }
    let (mut lo, mut hi) = (x as f64 / n as f64, 1.0f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if binomial_cdf(x, n, mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Categories of answers with a checkable value: the comparators aim to decide these.
/// `identifiers` (IDs, versions, section numbers) is structured too: it has one checkable
/// value. It was added with the second held-out set, the first to have that category.
const STRUCTURED: &[&str] = &[
    "identifiers",
    "numbers",
    "quantities",
    "json",
    "dates",
    "datetimes",
    "lists",
    "yes_no",
    "labels",
    "refusal",
    "truncation",
];

fn text<'a>(v: &'a Value, key: &str, line: usize) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("line {line}: missing string field {key:?}"))
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let Args {
        data,
        predictions,
        judge,
    } = parse_args(args)?;
    let checker = checker(&judge)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("a runtime for the judge: {e}"))?;
    let body = std::fs::read_to_string(&data)
        .map_err(|e| format!("cannot read {}: {e}", data.display()))?;
    let mut out = match &predictions {
        Some(p) => Some(
            std::fs::File::create(p).map_err(|e| format!("cannot write {}: {e}", p.display()))?,
        ),
        None => None,
    };
    let mut by_cat: BTreeMap<String, Score> = BTreeMap::new();
    let mut all = Score::default();
    let mut mistakes = Vec::new();
    for (i, line) in body
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        let id = v
            .get("id")
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
            .unwrap_or_else(|| format!("line-{}", i + 1));
        let verdict = rt.block_on(checker.check(
            text(&v, "prompt", i + 1)?,
            text(&v, "primary", i + 1)?,
            text(&v, "fallback", i + 1)?,
        ));
        if let Some(f) = &mut out {
            let outcome = match verdict.outcome {
                EquivalenceOutcome::Equivalent => "equivalent",
                EquivalenceOutcome::NotEquivalent => "not_equivalent",
                EquivalenceOutcome::Undecided => "undecided",
            };
            writeln!(f, "{}", json!({"id": id, "outcome": outcome, "score": verdict.score, "method": verdict.method}))
                .map_err(|e| e.to_string())?;
        }
        // The label is read only now, after the verdict, and only for scoring.
        let Some(label) = v.get("equivalent").and_then(Value::as_bool) else {
            continue;
        };
        let category = v
            .get("category")
            .and_then(Value::as_str)
            .unwrap_or("uncategorised")
            .to_owned();
        by_cat
            .entry(category)
            .or_default()
            .add(verdict.outcome, label);
        all.add(verdict.outcome, label);
        if verdict.outcome != EquivalenceOutcome::Undecided
            && (verdict.outcome == EquivalenceOutcome::Equivalent) != label
        {
            mistakes.push(format!(
                "{id}: judged {:?} by {} ({}), labelled {}",
                verdict.outcome,
                verdict.method,
                verdict.reason,
                if label {
                    "equivalent"
                } else {
                    "not equivalent"
                }
            ));
        }
    }
    let mut table = String::from(
        "| category | pairs | coverage (decided, 95% Wilson interval) | accuracy on decided | false-accept rate | 95% upper bound | false rejects |\n|---|---|---|---|---|---|---|\n",
    );
    let mut structured = Score::default();
    for (c, s) in &by_cat {
        table.push_str(&s.row(c));
        if STRUCTURED.contains(&c.as_str()) {
            structured.n += s.n;
            structured.decided += s.decided;
            structured.right += s.right;
            structured.negatives += s.negatives;
            structured.false_accepts += s.false_accepts;
            structured.positives += s.positives;
            structured.false_rejects += s.false_rejects;
        }
    }
    if structured.n > 0 {
        table.push_str(&structured.row("*structured*"));
    }
    table.push_str(&all.row("**all**"));
    println!("{table}");
    println!(
        "95% upper bound: one-sided Clopper-Pearson on false accepts / non-equivalent pairs \
         (0 of n is not 0%: it is below about 3/n). Coverage: 95% Wilson score interval."
    );
    if !mistakes.is_empty() {
        println!("decided wrongly:");
        for m in &mistakes {
            println!("  {m}");
        }
    }
    if let Some(p) = predictions {
        println!("predictions written to {}", p.display());
    }
    Ok(())
}
