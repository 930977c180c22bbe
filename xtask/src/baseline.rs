//! `cargo xtask bench`'s watch on the ratios: each benchmark measured against the baseline
//! of its own group and run (a direct call, a bare client), compared with the ratios
//! committed in `docs/bench-baseline.json`.
//!
//! A ratio is the measured throughput over its group's baseline (1.00: as fast as the
//! bare thing; 0.50: half its throughput). Ratios move less than absolute times on a
//! shared machine, but they still move: a ratio worse than the committed one by more than
//! the tolerance is flagged, never failed on.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use serde_json::{Value, json};

/// Where the committed ratios live (relative to the workspace root).
pub(crate) const BASELINE: &str = "docs/bench-baseline.json";
/// The README's table, between these two lines, is rewritten by `--save-baseline`.
const README_START: &str =
    "<!-- bench-baseline:start (cargo xtask bench --save-baseline rewrites this table) -->";
const README_END: &str = "<!-- bench-baseline:end -->";

/// One benchmark against its group's baseline.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ratio {
    /// The baseline it is measured against (a sibling in the same group).
    pub(crate) vs: String,
    /// Its median time, in nanoseconds.
    pub(crate) median_ns: f64,
    /// The baseline's median time, in nanoseconds.
    pub(crate) baseline_ns: f64,
}

impl Ratio {
    /// Throughput over the baseline's throughput.
    pub(crate) fn throughput(&self) -> f64 {
        self.baseline_ns / self.median_ns
    }
}

/// Every `new/estimates.json` under `dir` written after `since`: (group, bench) → median
/// ns. Results of benchmarks not run this time are left out.
pub(crate) fn fresh_medians(
    dir: &Path,
    prefix: &str,
    since: SystemTime,
    out: &mut BTreeMap<(String, String), f64>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "report" || !path.is_dir() {
            continue;
        }
        let est = path.join("new/estimates.json");
        if est.exists() {
            let fresh = std::fs::metadata(&est)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if let Some(median) = std::fs::read_to_string(&est)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| v["median"]["point_estimate"].as_f64())
                .filter(|_| fresh)
            {
                out.insert((prefix.to_owned(), name), median);
            }
        } else {
            let next = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            fresh_medians(&path, &next, since, out);
        }
    }
}

/// The ratio of every benchmark whose group has a baseline (`baseline…`), keyed
/// `group/bench`.
pub(crate) fn ratios(m: &BTreeMap<(String, String), f64>) -> BTreeMap<String, Ratio> {
    let mut out = BTreeMap::new();
    for ((group, name), ns) in m {
        if name.starts_with("baseline") {
            continue;
        }
        let Some(((_, vs), b)) = m
            .iter()
            .find(|((g, n), _)| g == group && n.starts_with("baseline"))
        else {
            continue;
        };
        if *ns > 0.0 && *b > 0.0 {
            out.insert(
                format!("{group}/{name}"),
                Ratio {
                    vs: vs.clone(),
                    median_ns: *ns,
                    baseline_ns: *b,
                },
            );
        }
    }
    out
}

/// The committed ratios, if any.
pub(crate) fn load(path: &Path) -> Result<BTreeMap<String, Ratio>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    if let Some(rs) = v["ratios"].as_object() {
        for (k, r) in rs {
            if let (Some(vs), Some(median_ns), Some(baseline_ns)) = (
                r["vs"].as_str(),
                r["median_ns"].as_f64(),
                r["baseline_ns"].as_f64(),
            ) {
                out.insert(
                    k.clone(),
                    Ratio {
                        vs: vs.to_owned(),
                        median_ns,
                        baseline_ns,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// Writes `now` over the committed ratios (benchmarks not run this time keep theirs).
pub(crate) fn save(path: &Path, now: &BTreeMap<String, Ratio>) -> Result<(), String> {
    let mut all = load(path)?;
    all.extend(now.iter().map(|(k, r)| (k.clone(), r.clone())));
    let ratios: serde_json::Map<String, Value> = all
        .iter()
        .map(|(k, r)| {
            (
                k.clone(),
                json!({
                    "vs": r.vs,
                    "throughput_ratio": (r.throughput() * 1000.0).round() / 1000.0,
                    "median_ns": r.median_ns.round(),
                    "baseline_ns": r.baseline_ns.round(),
                }),
            )
        })
        .collect();
    let doc = json!({
        "about": "Written by `cargo xtask bench --save-baseline` (or `bench-gateway --save-baseline`): each benchmark's median against its group's baseline in the same run (the gateway's: time per request, nginx's and nb serve's against the direct call's, at C=1 and C=32). `cargo xtask bench` compares with these ratios; the README's table is rendered from them.",
        "ratios": ratios,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Now against the committed ratios, a line each; a ratio worse than its baseline's by
/// more than `tolerance` (a fraction) is flagged `WORSE`. Returns the table and how many
/// were flagged.
pub(crate) fn compare(
    now: &BTreeMap<String, Ratio>,
    base: &BTreeMap<String, Ratio>,
    tolerance: f64,
) -> (String, usize) {
    let mut s = String::from(
        "| benchmark | vs | throughput ratio now | committed | change | |\n|---|---|---|---|---|---|\n",
    );
    let mut worse = 0;
    for (k, r) in now {
        let t = r.throughput();
        let (committed, change, flag) = match base.get(k) {
            Some(b) => {
                let change = t / b.throughput() - 1.0;
                let flag = if change < -tolerance {
                    worse += 1;
                    format!("WORSE by more than {:.0}%", tolerance * 100.0)
                } else if change > tolerance {
                    "better".to_owned()
                } else {
                    "within noise".to_owned()
                };
                (
                    format!("{:.3}", b.throughput()),
                    format!("{:+.1}%", change * 100.0),
                    flag,
                )
            }
            None => ("—".into(), "—".into(), "no baseline yet".into()),
        };
        s.push_str(&format!(
            "| {k} | {} | {t:.3} | {committed} | {change} | {flag} |\n",
            r.vs
        ));
    }
    (s, worse)
}

/// The README's table of the committed ratios.
pub(crate) fn readme_table(base: &BTreeMap<String, Ratio>) -> String {
    let mut s = String::from(
        "| benchmark | against | median | baseline | throughput ratio |\n|---|---|---|---|---|\n",
    );
    for (k, r) in base {
        s.push_str(&format!(
            "| `{k}` | `{}` | {} | {} | {:.2}× |\n",
            r.vs,
            crate::human(r.median_ns),
            crate::human(r.baseline_ns),
            r.throughput()
        ));
    }
    s
}

/// Replaces the text between the README's markers with `table`.
pub(crate) fn rewrite_readme(readme: &Path, table: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(readme)
        .map_err(|e| format!("cannot read {}: {e}", readme.display()))?;
    let (Some(a), Some(b)) = (text.find(README_START), text.find(README_END)) else {
        return Err(format!(
            "{}: the markers `{README_START}` and `{README_END}` are missing",
            readme.display()
        ));
    };
    if b < a {
        return Err(format!(
            "{}: the bench markers are out of order",
            readme.display()
        ));
    }
    let out = format!("{}{README_START}\n{table}{}", &text[..a], &text[b..]);
    std::fs::write(readme, out).map_err(|e| format!("cannot write {}: {e}", readme.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(entries: &[(&str, &str, f64)]) -> BTreeMap<(String, String), f64> {
        entries
            .iter()
            .map(|(g, n, v)| (((*g).to_owned(), (*n).to_owned()), *v))
            .collect()
    }

    #[test]
    fn ratios_are_against_the_groups_own_baseline_and_worse_ones_are_flagged() {
        let base = ratios(&m(&[
            ("router_in_process", "baseline_direct_provider", 250.0),
            ("router_in_process", "smart_router", 1000.0),
            ("router_loopback/c1", "baseline_reqwest", 140.0),
            ("router_loopback/c1", "smart_router", 150.0),
            ("classify", "transport", 5.0),
        ]));
        assert_eq!(base.len(), 2, "a group without a baseline has no ratio");
        let r = &base["router_in_process/smart_router"];
        assert_eq!(r.vs, "baseline_direct_provider");
        assert!((r.throughput() - 0.25).abs() < 1e-9);

        let now = ratios(&m(&[
            ("router_in_process", "baseline_direct_provider", 260.0),
            ("router_in_process", "smart_router", 1040.0),
            ("router_loopback/c1", "baseline_reqwest", 140.0),
            ("router_loopback/c1", "smart_router", 200.0),
        ]));
        let (table, worse) = compare(&now, &base, 0.15);
        assert_eq!(worse, 1, "{table}");
        assert!(table.contains(
            "| router_loopback/c1/smart_router | baseline_reqwest | 0.700 | 0.933 | -25.0% | WORSE"
        ));
        assert!(table.contains("router_in_process/smart_router | baseline_direct_provider | 0.250 | 0.250 | +0.0% | within noise"));
    }

    #[test]
    fn the_baseline_file_round_trips_and_the_readme_table_is_replaced_between_its_markers() {
        let dir = std::env::temp_dir().join(format!("xtask-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("baseline.json");
        let now = ratios(&m(&[("g", "baseline", 100.0), ("g", "x", 200.0)]));
        save(&file, &now).unwrap();
        assert_eq!(load(&file).unwrap(), now);

        let readme = dir.join("README.md");
        std::fs::write(
            &readme,
            format!("intro\n{README_START}\nold table\n{README_END}\nrest\n"),
        )
        .unwrap();
        rewrite_readme(&readme, &readme_table(&now)).unwrap();
        let text = std::fs::read_to_string(&readme).unwrap();
        assert!(!text.contains("old table"), "{text}");
        assert!(text.contains("| `g/x` | `baseline` | 200.0 ns | 100.0 ns | 0.50× |\n<!-- bench-baseline:end -->\nrest\n"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
