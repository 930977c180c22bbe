//! `cargo xtask eval-equivalence`: scores `nb_semantic::Strict` on labelled pairs.
//!
//! The checker sees `prompt`, `primary` and `fallback` only — never the label — and its
//! verdicts can be written out (`--predictions OUT`) to be scored elsewhere.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use nb_semantic::{Equivalence, Outcome, Strict};
use serde_json::{Value, json};

#[cfg(test)]
mod tests {
    use super::upper_bound;

    #[test]
    fn bounds_match_known_values() {
        // 0 of 149 at 95%: 1 - 0.05^(1/149) = 0.0199.
        assert!((upper_bound(0, 149, 0.05) - 0.019_9).abs() < 1e-3);
        // 1 of 100: the exact one-sided bound is 0.0466.
        assert!((upper_bound(1, 100, 0.05) - 0.046_6).abs() < 1e-3);
        assert!((upper_bound(10, 10, 0.05) - 1.0).abs() < 1e-12);
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
    fn add(&mut self, outcome: Outcome, label: bool) {
        self.n += 1;
        if label {
            self.positives += 1;
        } else {
            self.negatives += 1;
        }
        match outcome {
            Outcome::Undecided => {}
            Outcome::Equivalent => {
                self.decided += 1;
                if label {
                    self.right += 1;
                } else {
                    self.false_accepts += 1;
                }
            }
            Outcome::NotEquivalent => {
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
        format!(
            "| {name} | {} | {} | {} | {} ({}/{}) | {} | {} |\n",
            self.n,
            pct(self.decided, self.n),
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
const STRUCTURED: &[&str] = &[
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
    let mut data = super::root().join("tests/data/equivalence/pairs.jsonl");
    let mut predictions: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--data" => data = it.next().ok_or("--data needs a file")?.into(),
            "--predictions" => {
                predictions = Some(it.next().ok_or("--predictions needs a file")?.into())
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
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
        let verdict = Strict.compare(
            text(&v, "prompt", i + 1)?,
            text(&v, "primary", i + 1)?,
            text(&v, "fallback", i + 1)?,
        );
        if let Some(f) = &mut out {
            let outcome = match verdict.outcome {
                Outcome::Equivalent => "equivalent",
                Outcome::NotEquivalent => "not_equivalent",
                Outcome::Undecided => "undecided",
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
        if verdict.outcome != Outcome::Undecided
            && (verdict.outcome == Outcome::Equivalent) != label
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
        "| category | pairs | coverage (decided) | accuracy on decided | false-accept rate | 95% upper bound | false rejects |\n|---|---|---|---|---|---|---|\n",
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
         (0 of n is not 0%: it is below about 3/n)."
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
