//! `cargo xtask eval-equivalence`: scores `nb_semantic::Strict` on labelled pairs.
//!
//! The checker sees `prompt`, `primary` and `fallback` only — never the label — and its
//! verdicts can be written out (`--predictions OUT`) to be scored elsewhere.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use nb_semantic::{Equivalence, Outcome, Strict};
use serde_json::{Value, json};

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

    fn row(&self, name: &str) -> String {
        let pct = |a: u64, b: u64| {
            if b == 0 {
                "—".to_owned()
            } else {
                format!("{:.1}%", 100.0 * a as f64 / b as f64)
            }
        };
        format!(
            "| {name} | {} | {} | {} | {} ({}/{}) | {} |\n",
            self.n,
            pct(self.decided, self.n),
            pct(self.right, self.decided),
            pct(self.false_accepts, self.negatives),
            self.false_accepts,
            self.negatives,
            self.false_rejects,
        )
    }
}

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
        "| category | pairs | coverage (decided) | accuracy on decided | false-accept rate | false rejects |\n|---|---|---|---|---|---|\n",
    );
    for (c, s) in &by_cat {
        table.push_str(&s.row(c));
    }
    table.push_str(&all.row("**all**"));
    println!("{table}");
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
