//! The `nb` command.
//!
//! `nb demo` starts simulated providers on loopback (no API key needed), sends the same
//! checkable tasks to each through the real adapters, and shows what a blind client would
//! have believed next to what neuralbridge knows: every failure classified, every 200
//! checked against the simulator's truth.

mod demo;

use clap::{Parser, Subcommand};

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
    Demo(demo::DemoArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args).await,
    }
}
