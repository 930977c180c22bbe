//! The `nb` command.
//!
//! `nb demo` starts simulated providers on loopback (no API key needed) and sends the
//! same checkable tasks through a blind-retry client and through neuralbridge, then
//! prints what each returned — correct answers, silent corruptions, explicit errors —
//! and writes an HTML report.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nb_cli::demo;

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
                Ok(r) if json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&demo::summary_json(&r)).unwrap_or_default()
                    );
                    ExitCode::SUCCESS
                }
                Ok(r) => {
                    println!("{}", demo::table(&r));
                    if let Some(p) = &r.report {
                        println!("report: {}", p.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("nb demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}
