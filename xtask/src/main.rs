//! `cargo xtask`: project jobs that are more than one command.
//!
//! - `cargo xtask test` — the README's test command: `cargo test --workspace` (the
//!   shared-health tests start their own `redis-server`; it fails at once, saying so,
//!   when there is none), then `gateway-clients`, then `python`.
//! - `cargo xtask gateway-clients` — `nb serve` over `nb-chaos serve`, both real
//!   processes, driven by the official `openai` and `anthropic` Python clients (installed
//!   into `target/py-venv`) and `curl` (`tests/gateway/official_clients.py`). Fails, never
//!   skips, when Python, its `venv` module or `curl` is missing.
//! - `cargo xtask python` — builds the Python package's wheel (`crates/nb-python`, with
//!   maturin) into `target/py-venv` (installing maturin, pytest and pydantic there) and
//!   runs its pytest suite against `nb-chaos`.
//! - `cargo xtask bench-python [--calls N]` — the Python package against the Rust SDK
//!   over the same loopback upstream in one run (release builds), at C=1 and C=32:
//!   medians and ratios, for `docs/benchmarks.md`.
//! - `cargo xtask bench-gateway [--rounds R] [--requests N] [--in-flight M] [--serve-threads T] [--serve-bin PATH]` — `nb serve`
//!   as its own process against a direct call and a bare nginx reverse proxy over the
//!   same nb-chaos upstream, at C=1 and C=32, and memory per in-flight request (needs
//!   nginx).
//! - `cargo xtask ci` — what `.ci/run` runs: fmt check, clippy with warnings as errors,
//!   the tests, the docs.
//! - `cargo xtask bench [--quick] [--save-baseline] [--tolerance PCT]` — every criterion
//!   benchmark (`--quick`: only the router's, in criterion's quick mode, as CI runs it),
//!   then a summary of medians and of each measurement against the baseline measured in
//!   the same group and run (written to `target/bench-summary.md`), then each such ratio
//!   against the committed `docs/bench-baseline.json`, flagged when worse by more than the
//!   tolerance (15% unless told; printed, never failed on). `--save-baseline` writes this
//!   run's ratios there and regenerates the README's benchmark table from them.
//! - `cargo xtask bench-summary` — the same summary from the last results, without
//!   running anything.
//! - `cargo xtask eval-equivalence [--data FILE] [--predictions OUT]` — scores the
//!   strict equivalence checker on labelled pairs (default
//!   `tests/data/equivalence/pairs.jsonl`): coverage, accuracy on decided pairs and the
//!   false-accept rate, per category and overall. With `--judge-base-url URL
//!   --judge-model M [--judge-key-env VAR] [--judge-format openai|anthropic]
//!   [--judge-stage entailment|judge]` it scores `Escalate(Strict, Entailment or Judge)`
//!   over that model instead (not run in CI).
//! - `cargo xtask fuzz [--secs N] [TARGET...]` — every libFuzzer target in `fuzz/` (on
//!   nightly; installs `cargo-fuzz` if missing) for N seconds each, corpora seeded from
//!   the test fixtures. See `docs/reliability.md`.
//! - `cargo xtask soak [--secs N]` — the router under mixed faults with 1,000 calls in
//!   flight, then a total outage: outcomes, memory and descriptors over time, upstream
//!   calls per offered call.
//! - `cargo xtask doc-check` — after `cargo doc --workspace`: every type, trait and
//!   function page of every layer also exists under the facade (`neuralbridge::router::…`).
//! - `cargo xtask msrv` — no dependency of the published crates needs a newer Rust than
//!   the workspace's `rust-version` (clippy's `incompatible_msrv` lint checks our own use
//!   of the standard library against it).
//! - `cargo xtask loom` — the loom model check of the breaker store's admission state
//!   machine (`RUSTFLAGS="--cfg loom"`, in its own target directory so the normal build
//!   stays cached).

mod baseline;
mod demo;
mod eval;
mod fuzz;
mod gateway_bench;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("test") => need_redis()
            .and_then(|()| run("cargo", &["test", "--workspace"], &[]))
            .and_then(|()| gateway_clients())
            .and_then(|()| python()),
        Some("gateway-clients") => gateway_clients(),
        Some("python") => python(),
        Some("bench-python") => bench_python(&args[1..]),
        Some("bench-gateway") => gateway_bench::run_bench(&args[1..]),
        Some("bench") => bench(&args[1..]),
        Some("bench-summary") => {
            summarize(&target_dir().join("criterion")).map(|s| println!("{s}"))
        }
        Some("eval-equivalence") => eval::run(&args[1..]),
        Some("loom") => loom(),
        Some("doc-check") => doc_check(),
        Some("msrv") => msrv(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("demo-phases") => demo::run(&args[1..]),
        Some("soak") => {
            let mut a = vec![
                "run",
                "--release",
                "-q",
                "-p",
                "nb-tests",
                "--bin",
                "soak",
                "--",
            ];
            a.extend(args[1..].iter().map(String::as_str));
            run("cargo", &a, &[])
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <ci | test | gateway-clients | python | bench-python [--calls N] | bench [--quick] [--save-baseline] [--tolerance PCT] [cargo bench filter] | bench-summary | eval-equivalence [--data FILE] [--predictions OUT] [--judge-base-url URL --judge-model M [--judge-key-env VAR] [--judge-format openai|anthropic] [--judge-stage entailment|judge]] | loom | doc-check | msrv | fuzz [--secs N] [TARGET...] | soak [--secs N] | demo-phases [--seeds 1,2,3] [--full]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

pub(crate) fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    println!("\n== {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} {} failed ({status})", args.join(" ")))
    }
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root().join(p) })
        .unwrap_or_else(|| root().join("target"))
}

fn found(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The shared-health tests start their own `redis-server`: say so before an hour of
/// building, not after.
fn need_redis() -> Result<(), String> {
    let bin = std::env::var("NB_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
    if found(&bin, "--version") {
        Ok(())
    } else {
        Err(format!(
            "the tests need `{bin}` (they start their own on a free loopback port): \
             install it (Debian: apt-get install redis-server) or set NB_REDIS_SERVER"
        ))
    }
}

fn gateway_clients() -> Result<(), String> {
    for (program, arg, hint) in [
        (
            "python3",
            "--version",
            "install Python 3 (Debian: apt-get install python3 python3-venv)",
        ),
        (
            "curl",
            "--version",
            "install curl (Debian: apt-get install curl)",
        ),
    ] {
        if !found(program, arg) {
            return Err(format!("the gateway client tests need `{program}`: {hint}"));
        }
    }
    run(
        "cargo",
        &["build", "-p", "nb-chaos", "-p", "neuralbridge-cli"],
        &[],
    )?;
    let target = target_dir();
    let py = venv_with(
        "import openai, anthropic",
        &["openai>=1.40,<3", "anthropic>=0.40,<3"],
    )?;
    let bin = |name: &str| {
        target
            .join("debug")
            .join(name)
            .to_string_lossy()
            .into_owned()
    };
    let work = target
        .join("gateway-clients")
        .to_string_lossy()
        .into_owned();
    run(
        &py,
        &[
            "tests/gateway/official_clients.py",
            &bin("nb"),
            &bin("nb-chaos"),
            &work,
        ],
        &[],
    )
}

/// `target/py-venv`'s Python, created if missing, with `packages` installed unless
/// `probe` (a Python statement) already runs.
fn venv_with(probe: &str, packages: &[&str]) -> Result<String, String> {
    let venv = target_dir().join("py-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let v = venv.to_string_lossy().into_owned();
        run("python3", &["-m", "venv", &v], &[]).map_err(|e| {
            format!("{e}: Python's venv module is missing (Debian: apt-get install python3-venv)")
        })?;
    }
    let py = python.to_string_lossy().into_owned();
    let present = Command::new(&py)
        .args(["-c", probe])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        pip_install(&py, packages)?;
    }
    Ok(py)
}

/// `pip install` into the venv, quietly: on success nothing is printed; on failure (once
/// retried: a download can time out) pip's own traceback is kept out of the way and its
/// `ERROR:` lines, or the exception it ended on, say what went wrong.
fn pip_install(py: &str, args: &[&str]) -> Result<(), String> {
    let mut all = vec![
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
    ];
    all.extend_from_slice(args);
    println!("\n== pip install {}", args.join(" "));
    let mut why = String::new();
    for attempt in 1..=2 {
        let out = Command::new(py)
            .args(&all)
            .current_dir(root())
            .output()
            .map_err(|e| format!("cannot run {py}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        why = pip_error(&String::from_utf8_lossy(&out.stderr));
        if attempt == 1 {
            println!("pip failed ({why}); trying once more");
        }
    }
    Err(format!(
        "pip could not install {}: {why} (the Python tests install the official clients \
         and maturin from PyPI: this needs network access to pypi.org, or a mirror in \
         PIP_INDEX_URL)",
        args.join(" ")
    ))
}

/// The gist of pip's stderr: its `ERROR:` lines, else the last line (a traceback's
/// exception), else its status.
fn pip_error(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("ERROR:"))
        .collect();
    if !errors.is_empty() {
        return errors.join("; ");
    }
    stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no message")
        .to_owned()
}

/// Builds the `neuralbridge` wheel with maturin (`release`: optimised) and installs it
/// into the venv; returns the venv's Python.
fn python_wheel(release: bool) -> Result<String, String> {
    let py = venv_with(
        "import maturin, pytest, pydantic",
        &["maturin>=1.9.4,<2", "pytest>=7", "pydantic>=2,<3"],
    )?;
    let bin = Path::new(&py).with_file_name("maturin");
    let maturin = bin.to_string_lossy().into_owned();
    let out = target_dir().join(if release { "wheels-release" } else { "wheels" });
    // A stale wheel of another build must not be the one installed.
    let _ = std::fs::remove_dir_all(&out);
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec![
        "build",
        "--quiet",
        "-m",
        "crates/nb-python/Cargo.toml",
        "-i",
        &py,
        "-o",
        &out_s,
    ];
    if release {
        args.push("--release");
    }
    run(&maturin, &args, &[])?;
    let wheel = std::fs::read_dir(&out)
        .map_err(|e| format!("{}: {e}", out.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| format!("maturin left no wheel in {}", out.display()))?;
    let wheel = wheel.to_string_lossy().into_owned();
    pip_install(&py, &["--force-reinstall", "--no-deps", &wheel])?;
    Ok(py)
}

/// The Python package's pytest suite against `nb-chaos`.
fn python() -> Result<(), String> {
    if !found("python3", "--version") {
        return Err(
            "the Python package's tests need `python3`: install Python 3 (Debian: apt-get install python3 python3-venv)"
                .into(),
        );
    }
    // The same build as gateway-clients': already fresh when `test` runs both.
    run(
        "cargo",
        &["build", "-p", "nb-chaos", "-p", "neuralbridge-cli"],
        &[],
    )?;
    let py = python_wheel(false)?;
    let chaos = target_dir().join("debug/nb-chaos");
    let chaos = chaos.to_string_lossy().into_owned();
    run(
        &py,
        &[
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "crates/nb-python/tests",
        ],
        &[("NB_CHAOS_BIN", &chaos)],
    )
}

/// `router.call`/`acall` against the Rust SDK, same upstream, same run.
fn bench_python(args: &[String]) -> Result<(), String> {
    run("cargo", &["build", "--release", "-p", "nb-chaos"], &[])?;
    let py = python_wheel(true)?;
    let chaos = target_dir().join("release/nb-chaos");
    let chaos = chaos.to_string_lossy().into_owned();
    let mut a = vec!["crates/nb-python/bench/bench_python.py"];
    a.extend(args.iter().map(String::as_str));
    run(&py, &a, &[("NB_CHAOS_BIN", &chaos)])
}

fn ci() -> Result<(), String> {
    run("cargo", &["fmt", "--all", "--check"], &[])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run("cargo", &["test", "--workspace"], &[])?;
    loom()?;
    run(
        "cargo",
        &["doc", "--no-deps", "--workspace", "--quiet"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )
}

fn version_tuple(v: &str) -> (u64, u64, u64) {
    let mut it = v.split('.').map(|x| x.parse::<u64>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// The declared MSRV against every normal dependency's own `rust-version`.
fn msrv() -> Result<(), String> {
    let out = Command::new("cargo")
        .args(["metadata", "--format-version", "1"])
        .current_dir(root())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let packages = meta["packages"].as_array().ok_or("no packages")?;
    let ours = packages
        .iter()
        .find(|p| p["name"] == "nb-core")
        .and_then(|p| p["rust_version"].as_str())
        .ok_or("nb-core declares no rust-version")?;
    let ours_t = version_tuple(ours);
    // Resolve which packages the published crates depend on (normal and build deps).
    let resolve = meta["resolve"]["nodes"]
        .as_array()
        .ok_or("no resolve graph")?;
    let node = |id: &str| resolve.iter().find(|n| n["id"] == id);
    let mut stack: Vec<String> = packages
        .iter()
        .filter(|p| p["publish"] != serde_json::json!([]) && p["source"].is_null())
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let Some(n) = node(&id) else { continue };
        for d in n["deps"].as_array().into_iter().flatten() {
            let normal = d["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if normal {
                if let Some(p) = d["pkg"].as_str() {
                    stack.push(p.to_owned());
                }
            }
        }
    }
    let mut newer = Vec::new();
    for p in packages
        .iter()
        .filter(|p| p["id"].as_str().is_some_and(|id| seen.contains(id)))
    {
        if let Some(rv) = p["rust_version"].as_str() {
            if version_tuple(rv) > ours_t {
                newer.push(format!(
                    "{} {} needs Rust {rv}",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                ));
            }
        }
    }
    if newer.is_empty() {
        println!(
            "msrv: {} dependencies of the published crates all build on Rust {ours}",
            seen.len()
        );
        Ok(())
    } else {
        Err(format!(
            "the declared rust-version {ours} is too old:\n{}",
            newer.join("\n")
        ))
    }
}

/// Every item page of each layer's docs has its twin under the facade's module.
fn doc_check() -> Result<(), String> {
    let doc = root().join("target/doc");
    let layers = [
        ("nb_core", "core"),
        ("nb_providers", "providers"),
        ("nb_classify", "classify"),
        ("nb_breaker", "breaker"),
        ("nb_guard", "guard"),
        ("nb_semantic", "semantic"),
        ("nb_router", "router"),
    ];
    let mut missing = Vec::new();
    let mut checked = 0;
    for (krate, module) in layers {
        let dir = doc.join(krate);
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| format!("{}: {e} (run cargo doc --workspace first)", dir.display()))?;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let item = ["struct.", "enum.", "trait.", "fn.", "type.", "constant."]
                .iter()
                .any(|p| name.starts_with(p));
            if !item {
                continue;
            }
            checked += 1;
            if !doc.join("neuralbridge").join(module).join(&name).exists() {
                missing.push(format!("neuralbridge::{module}: {name}"));
            }
        }
    }
    if checked == 0 {
        return Err("no item pages found: run cargo doc --workspace first".into());
    }
    if missing.is_empty() {
        println!("doc-check: all {checked} item pages of the layers are in the facade's docs");
        Ok(())
    } else {
        Err(format!(
            "missing from the facade's docs:\n{}",
            missing.join("\n")
        ))
    }
}

/// The loom model check, in its own target directory.
fn loom() -> Result<(), String> {
    let dir = root().join("target/loom");
    let dir = dir.to_string_lossy();
    run(
        "cargo",
        &[
            "test",
            "--release",
            "-p",
            "nb-breaker",
            "--test",
            "loom_admission",
        ],
        &[("RUSTFLAGS", "--cfg loom"), ("CARGO_TARGET_DIR", &dir)],
    )
}

/// Benches run by `cargo xtask bench`, as (package, bench target).
const BENCHES: &[(&str, &str)] = &[
    ("nb-classify", "classify"),
    ("nb-chaos", "throughput"),
    ("nb-router", "overhead"),
    ("nb-guard", "guard"),
    ("nb-semantic", "comparators"),
];

/// `cargo xtask bench [--quick] [--save-baseline] [--tolerance PCT] [FILTER...]`: the
/// criterion benchmarks (`--quick`: only the router's, in criterion's quick mode — what CI
/// runs), the summary of medians, then every ratio against the committed
/// `docs/bench-baseline.json`, flagged when worse by more than the tolerance (default
/// 15%; a flag is printed, never an error: timings are noisy here). `--save-baseline`
/// writes the ratios of this run there and regenerates the README's table from them.
fn bench(args: &[String]) -> Result<(), String> {
    let mut quick = false;
    let mut save = false;
    let mut tolerance = 0.15;
    let mut filter = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--save-baseline" => save = true,
            "--tolerance" => {
                tolerance = it
                    .next()
                    .and_then(|v| v.trim_end_matches('%').parse::<f64>().ok())
                    .filter(|v| *v >= 0.0)
                    .ok_or("--tolerance takes a percentage (e.g. 15)")?
                    / 100.0;
            }
            other => filter.push(other),
        }
    }
    let started = std::time::SystemTime::now();
    let benches: &[(&str, &str)] = if quick {
        &[("nb-router", "overhead")]
    } else {
        BENCHES
    };
    for (pkg, target) in benches {
        let mut args = vec!["bench", "-p", pkg, "--bench", target, "--", "--noplot"];
        if quick {
            args.push("--quick");
        }
        args.extend(filter.iter().copied());
        run("cargo", &args, &[])?;
    }
    let criterion = target_dir().join("criterion");
    let summary = summarize(&criterion)?;
    println!("\n{summary}");
    let out = target_dir().join("bench-summary.md");
    std::fs::write(&out, &summary).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    println!("written to {}", out.display());

    let mut fresh = BTreeMap::new();
    baseline::fresh_medians(&criterion, "", started, &mut fresh);
    let mut now = baseline::ratios(&fresh);
    // The gateway as users run it, unless a filter picked other benchmarks.
    if filter.iter().all(|f| "gateway".contains(f)) {
        println!(
            "\n== the gateway as users run it (cargo xtask bench-gateway{})",
            if quick { " --quick" } else { "" }
        );
        let gw_args: Vec<String> = if quick {
            vec!["--quick".into()]
        } else {
            Vec::new()
        };
        now.extend(gateway_bench::measure(&gw_args)?);
    }
    let mut report_args = Vec::new();
    if save {
        report_args.push("--save-baseline".to_owned());
    }
    report_args.extend(["--tolerance".to_owned(), format!("{}", tolerance * 100.0)]);
    baseline_report(&now, &report_args)
}

/// Prints `now` against the committed ratios, flagging worse ones by more than
/// `--tolerance PCT` (default 15%), and with `--save-baseline` writes them there and
/// regenerates the README's table.
pub(crate) fn baseline_report(
    now: &BTreeMap<String, baseline::Ratio>,
    args: &[String],
) -> Result<(), String> {
    let save = args.iter().any(|a| a == "--save-baseline");
    let tolerance = match args.iter().position(|a| a == "--tolerance") {
        None => 0.15,
        Some(i) => {
            args.get(i + 1)
                .and_then(|v| v.trim_end_matches('%').parse::<f64>().ok())
                .filter(|v| *v >= 0.0)
                .ok_or("--tolerance takes a percentage (e.g. 15)")?
                / 100.0
        }
    };
    let file = root().join(baseline::BASELINE);
    let committed = baseline::load(&file)?;
    let (table, worse) = baseline::compare(now, &committed, tolerance);
    println!(
        "\n== ratios against {} (throughput over the group's baseline, this run)\n\n{table}",
        baseline::BASELINE
    );
    if worse > 0 {
        println!(
            "{worse} ratio(s) worse than committed by more than {:.0}% (flagged, not failed: rerun, or profile — docs/benchmarks.md)",
            tolerance * 100.0
        );
    }
    if save {
        baseline::save(&file, now)?;
        let all = baseline::load(&file)?;
        baseline::rewrite_readme(&root().join("README.md"), &baseline::readme_table(&all))?;
        println!(
            "saved {} ratio(s) to {} and regenerated the README's table",
            now.len(),
            baseline::BASELINE
        );
    }
    Ok(())
}

/// Reads every `new/estimates.json` under `dir`: (group, bench) → median ns.
fn medians(dir: &Path, prefix: &str, out: &mut BTreeMap<(String, String), f64>) {
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
        if let Some(median) = std::fs::read_to_string(&est)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["median"]["point_estimate"].as_f64())
        {
            out.insert((prefix.to_owned(), name), median);
        } else {
            let next = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            medians(&path, &next, out);
        }
    }
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

fn summarize(dir: &Path) -> Result<String, String> {
    let mut m = BTreeMap::new();
    medians(dir, "", &mut m);
    if m.is_empty() {
        return Err(format!("no criterion results under {}", dir.display()));
    }
    let mut s = String::from(
        "| group | benchmark | median | per second | vs baseline |\n|---|---|---|---|---|\n",
    );
    for ((group, name), ns) in &m {
        let baseline = m
            .iter()
            .find(|((g, n), _)| g == group && n.starts_with("baseline"))
            .map(|(_, b)| *b);
        let ratio = match baseline {
            Some(b) if !name.starts_with("baseline") => format!(
                "{:.2}× the baseline's time ({:.2} of its throughput)",
                ns / b,
                b / ns
            ),
            _ => "—".into(),
        };
        s.push_str(&format!(
            "| {group} | {name} | {} | {:.0} | {ratio} |\n",
            human(*ns),
            1e9 / ns
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::pip_error;

    #[test]
    fn pip_errors_are_told_without_the_traceback() {
        let network = "WARNING: Retrying (Retry(total=4)) after connection broken\nERROR: Could not find a version that satisfies the requirement openai<3,>=1.40 (from versions: none)\nERROR: No matching distribution found for openai<3,>=1.40\n";
        assert_eq!(
            pip_error(network),
            "ERROR: Could not find a version that satisfies the requirement openai<3,>=1.40 (from versions: none); ERROR: No matching distribution found for openai<3,>=1.40"
        );
        let crash = "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\npip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='files.pythonhosted.org', port=443): Read timed out.\n\n";
        assert_eq!(
            pip_error(crash),
            "pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='files.pythonhosted.org', port=443): Read timed out."
        );
        assert_eq!(pip_error(""), "no message");
    }
}
