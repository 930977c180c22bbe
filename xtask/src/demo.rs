//! `cargo xtask demo-phases [--seeds 1,2,3] [--full]`: the demo's story over several seeds,
//! per phase — a benchmark of what neuralbridge answers, refuses and waits for in each
//! phase (the numbers vary with the machine's timing; nothing here asserts).

use std::process::Command;

use crate::{root, target_dir};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut seeds = vec![1u64, 2, 3];
    let mut quick = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seeds" => {
                let list = it.next().ok_or("--seeds needs a list, e.g. 1,2,3")?;
                seeds = list
                    .split(',')
                    .map(|s| s.trim().parse().map_err(|_| format!("not a seed: {s:?}")))
                    .collect::<Result<_, _>>()?;
            }
            "--full" => quick = false,
            other => return Err(format!("demo-phases: unknown argument {other:?}")),
        }
    }
    crate::run(
        "cargo",
        &[
            "build",
            "--release",
            "-q",
            "-p",
            "neuralbridge-cli",
            "--no-default-features",
        ],
        &[],
    )?;
    let nb = target_dir().join("release/nb");
    let mut rows = Vec::new();
    for seed in &seeds {
        let seed_s = seed.to_string();
        let mut a = vec!["demo", "--json", "--seed", seed_s.as_str()];
        if quick {
            a.push("--quick");
        }
        let out = Command::new(&nb)
            .args(&a)
            .current_dir(root())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", nb.display()))?;
        if !out.status.success() {
            return Err(format!(
                "nb demo --seed {seed} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("nb demo --json printed no JSON: {e}"))?;
        let Some(phases) = v["phases"].as_object() else {
            return Err("nb demo --json has no phases".into());
        };
        for (name, p) in phases {
            let nb = &p["neuralbridge"];
            let waits = p["neuralbridge_waits"]
                .as_object()
                .map(|w| {
                    w.iter()
                        .map(|(why, t)| format!("{why} {} calls", t["calls"].as_u64().unwrap_or(0)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            rows.push(format!(
                "| {seed} | {name} | {} / {} | {} | {} | {} | {:.0} ms | {} |",
                nb["correct"],
                nb["calls"],
                nb["silent"],
                nb["errors"],
                p["neuralbridge_unvouchable"],
                p["neuralbridge_p99_ms"].as_f64().unwrap_or(0.0),
                if waits.is_empty() {
                    "—".into()
                } else {
                    waits
                },
            ));
        }
    }
    println!(
        "\n| seed | phase | neuralbridge correct / calls | silent | refused | served flagged | p99 | waited for |\n|---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
