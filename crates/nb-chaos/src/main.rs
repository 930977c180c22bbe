//! `nb-chaos serve --scenario FILE [--port N]`: runs a simulator until Ctrl-C.

use clap::{Parser, Subcommand};
use nb_chaos::{ChaosServer, Scenario};

#[derive(Parser)]
#[command(
    name = "nb-chaos",
    version,
    about = "A provider simulator with scripted faults"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a scenario on loopback.
    Serve {
        /// The scenario TOML file.
        #[arg(long)]
        scenario: std::path::PathBuf,
        /// The first provider's port; the next ones take the following ports.
        #[arg(long)]
        port: Option<u16>,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Command::Serve { scenario, port } = Cli::parse().command;
    let mut scenario = match Scenario::from_file(&scenario) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nb-chaos: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(first) = port {
        for (i, p) in scenario.providers.iter_mut().enumerate() {
            p.port = u16::try_from(i).ok().and_then(|i| first.checked_add(i));
        }
    }
    let names: Vec<(String, nb_chaos::WireFormat)> = scenario
        .providers
        .iter()
        .map(|p| (p.name.clone(), p.format))
        .collect();
    let server = match ChaosServer::start(scenario).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("nb-chaos: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    for (name, format) in &names {
        let base = server.base_url(name).unwrap_or_default();
        println!("{name:<16} {format:?}  {base}");
    }
    println!("stats: GET <any base URL>/_chaos/stats    (Ctrl-C to stop)");
    let _ = tokio::signal::ctrl_c().await;
    server.shutdown().await;
    std::process::ExitCode::SUCCESS
}
