//! The strict checker on the labelled dataset: no false accept, and the coverage the
//! deterministic comparators can honestly give. `cargo xtask eval-equivalence` prints
//! the full table.

#![allow(clippy::unwrap_used)]

use nb_semantic::{Equivalence, Outcome, Strict};
use serde_json::Value;

#[test]
fn strict_never_accepts_a_non_equivalent_pair_and_decides_most() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/equivalence/pairs.jsonl");
    let body = std::fs::read_to_string(path).unwrap();
    let (mut n, mut decided, mut false_accepts, mut wrong) = (0, 0, Vec::new(), 0);
    for line in body.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let s = |k: &str| v[k].as_str().unwrap();
        let verdict = Strict.compare(s("prompt"), s("primary"), s("fallback"));
        let label = v["equivalent"].as_bool().unwrap();
        n += 1;
        match verdict.outcome {
            Outcome::Undecided => {}
            Outcome::Equivalent => {
                decided += 1;
                if !label {
                    false_accepts.push(s("id").to_owned());
                }
            }
            Outcome::NotEquivalent => {
                decided += 1;
                if label {
                    wrong += 1;
                }
            }
        }
    }
    assert!(n >= 250, "{n} pairs");
    assert!(false_accepts.is_empty(), "false accepts: {false_accepts:?}");
    let coverage = f64::from(decided) / f64::from(n);
    assert!(coverage >= 0.7, "coverage {coverage:.2}");
    assert!(wrong <= 3, "{wrong} equivalent pairs judged different");
}
