//! The `nb` command.
//!
//! - `nb demo` — simulated providers (no API key needed), a scripted story, a blind-retry
//!   client and neuralbridge side by side; a table and an HTML report.
//! - `nb chaos --scenario FILE` — the same comparison over any scenario.
//! - `nb call --config nb.toml "prompt"` — a real routed call, with its report.
//! - `nb serve --config nb.toml` — an OpenAI- and Anthropic-compatible gateway.
//! - `nb config schema` — the JSON Schema of `nb.toml`.
//! - `nb key hash` — the SHA-256 of a gateway key, for the config.
//! - `nb check --config nb.toml [--probe]` — validates a config, optionally probes each
//!   target once.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nb_cli::config::Config;
use nb_cli::demo;
use neuralbridge::core::{ChatRequest, ResponseFormat};
use neuralbridge::router::CallOptions;

/// With the opt-in `mimalloc` feature, mimalloc serves every allocation of the process:
/// more throughput for `nb serve` under concurrency, more memory held per request.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "nb",
    version,
    about = "neuralbridge: LLM calls that heal themselves"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the demo against simulated providers (no API key needed).
    Demo {
        /// A 12-second run instead of a minute (for CI).
        #[arg(long)]
        quick: bool,
        /// Seed of the simulated faults and the tasks.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
        /// Where to write the HTML report.
        #[arg(long, default_value = "nb-demo-report.html")]
        report: PathBuf,
    },
    /// Run any nb-chaos scenario through both clients and write the same report.
    Chaos {
        /// The scenario TOML file.
        #[arg(long)]
        scenario: PathBuf,
        /// Seconds to run when the scenario names no phases.
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        /// Calls per second from each client.
        #[arg(long, default_value_t = 20)]
        rate: u32,
        /// Print the results as JSON.
        #[arg(long)]
        json: bool,
        /// Where to write the HTML report.
        #[arg(long, default_value = "nb-chaos-report.html")]
        report: PathBuf,
    },
    /// Route one real call through the targets of a config file.
    Call {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// A named route.
        #[arg(long)]
        route: Option<String>,
        /// A JSON Schema file the answer must match.
        #[arg(long)]
        schema: Option<PathBuf>,
        /// Print the answer and its report as JSON.
        #[arg(long)]
        json: bool,
        /// The prompt.
        prompt: String,
    },
    /// Serve an OpenAI- and Anthropic-compatible gateway over the config's router
    /// (feature `serve`, in the default features).
    Serve {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// Listen here instead of `gateway.listen`.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Config file tools.
    Config {
        #[command(subcommand)]
        what: ConfigCommand,
    },
    /// Gateway key tools.
    Key {
        #[command(subcommand)]
        what: KeyCommand,
    },
    /// Validate a config file; with --probe, send one tiny request to each target.
    Check {
        /// The config file.
        #[arg(long)]
        config: PathBuf,
        /// Probe each target once.
        #[arg(long)]
        probe: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the JSON Schema of `nb.toml` (for editors' completion and checks).
    Schema,
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Print the SHA-256 of a gateway key read from stdin, for `gateway.keys[].sha256`.
    Hash,
}

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("nb: {msg}");
    ExitCode::from(code)
}

fn print_result(r: &demo::DemoResult, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&demo::summary_json(r)).unwrap_or_default()
        );
    } else {
        println!("{}", demo::table(r));
        if let Some(p) = &r.report {
            println!("report: {}", p.display());
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo {
            quick,
            seed,
            json,
            report,
        } => {
            if !json {
                eprintln!(
                    "neuralbridge demo: simulated providers, a scripted story ({}), two clients on the same traffic…",
                    if quick { "12 s" } else { "60 s" }
                );
            }
            let opts = demo::DemoOptions {
                quick,
                seed,
                report: Some(report),
                progress: !json,
                ..demo::DemoOptions::default()
            };
            match demo::run(opts).await {
                Ok(r) => {
                    print_result(&r, json);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(1, e),
            }
        }
        Command::Chaos {
            scenario,
            seconds,
            rate,
            json,
            report,
        } => {
            let s = match nb_chaos::Scenario::from_file(&scenario) {
                Ok(s) => s,
                Err(e) => return fail(2, e),
            };
            let opts = demo::DemoOptions {
                seed: s.seed,
                report: Some(report),
                progress: !json,
                rate,
                seconds: Some(seconds),
                ..demo::DemoOptions::default()
            };
            match demo::run_scenario(s, 1.0, opts).await {
                Ok(r) => {
                    print_result(&r, json);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(1, e),
            }
        }
        Command::Call {
            config,
            route,
            schema,
            json,
            prompt,
        } => {
            let cfg = match Config::from_file(&config) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            let router = match cfg.build() {
                Ok(r) => r,
                Err(e) => return fail(2, e),
            };
            let mut req = ChatRequest::user(prompt);
            let mut opts = CallOptions::default().with_route(route);
            if let Some(path) = schema {
                let text = match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) => {
                        return fail(2, format!("cannot read schema {}: {e}", path.display()));
                    }
                };
                let value: serde_json::Value = match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(e) => {
                        return fail(2, format!("schema {} is not JSON: {e}", path.display()));
                    }
                };
                let compiled = match nb_cli::config::compile_schema(&value) {
                    Ok(c) => c,
                    Err(e) => return fail(2, format!("schema {}: {e}", path.display())),
                };
                req = req.with_response_format(ResponseFormat::JsonSchema(
                    neuralbridge::core::JsonSchemaFormat {
                        name: path
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_else(|| "answer".into()),
                        schema: value,
                        strict: false,
                    },
                ));
                opts.validators.push(compiled);
            }
            match router.chat_with(&req, &opts).await {
                Ok(r) if json => {
                    let out = serde_json::json!({
                        "answer": r.value.text,
                        "served_by": r.report.served_by.as_ref().map(ToString::to_string),
                        "failed_over": r.report.failed_over,
                        "attempts": r.report.attempts.len(),
                        "usage": r.value.usage,
                        "cost": r.report.cost,
                    });
                    println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
                    ExitCode::SUCCESS
                }
                Ok(r) => {
                    // The answer on stdout (pipe it), the report on stderr.
                    println!("{}", r.value.text);
                    eprintln!("{}", r.report);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(1, format!("{e}\n{}", e.report())),
            }
        }
        Command::Serve { config, listen } => {
            let cfg = match Config::from_file(&config) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            #[cfg(feature = "serve")]
            match nb_cli::serve::run(cfg, listen).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(1, e),
            }
            #[cfg(not(feature = "serve"))]
            {
                let _ = (cfg, listen);
                fail(
                    2,
                    "nb serve: this nb was built without the `serve` feature (the default \
                     features have it: cargo install neuralbridge-cli)",
                )
            }
        }
        Command::Config {
            what: ConfigCommand::Schema,
        } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&nb_cli::config::json_schema()).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Command::Key {
            what: KeyCommand::Hash,
        } => {
            let mut key = String::new();
            if let Err(e) = std::io::stdin().read_line(&mut key) {
                return fail(2, format!("cannot read the key from stdin: {e}"));
            }
            let key = key.trim_end_matches(['\r', '\n']);
            if key.is_empty() {
                return fail(2, "no key on stdin (echo -n \"$KEY\" | nb key hash)");
            }
            println!("{}", nb_cli::config::hash_key(key));
            ExitCode::SUCCESS
        }
        Command::Check { config, probe } => {
            let cfg = match Config::from_file(&config) {
                Ok(c) => c,
                Err(e) => return fail(2, e),
            };
            // One route per target, so each probe goes to exactly that target.
            let mut with_probes = cfg.clone();
            for t in &cfg.targets {
                with_probes.routes.insert(
                    format!("probe:{}/{}", t.provider, t.model),
                    nb_cli::config::RouteSpec::Targets(vec![format!("{}/{}", t.provider, t.model)]),
                );
            }
            let router = match with_probes.build() {
                Ok(r) => r,
                Err(e) => return fail(2, e),
            };
            println!(
                "{}: {} targets, {} routes — valid",
                config.display(),
                cfg.targets.len(),
                cfg.routes.len()
            );
            if !probe {
                return ExitCode::SUCCESS;
            }
            let mut bad = 0;
            for t in &cfg.targets {
                let opts = CallOptions::default()
                    .with_route(Some(format!("probe:{}/{}", t.provider, t.model)));
                match router
                    .chat_with(&ChatRequest::user("ping").with_max_tokens(1), &opts)
                    .await
                {
                    Ok(_) => println!("  ok    {}/{}", t.provider, t.model),
                    Err(e) => {
                        bad += 1;
                        println!(
                            "  FAIL  {}/{}: {}",
                            t.provider,
                            t.model,
                            e.last_error()
                                .map_or_else(|| e.to_string(), ToString::to_string)
                        );
                    }
                }
            }
            if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
