//! The `nb` command's machinery, as a library so it is tested like any other code.
//!
//! - [`config`]: `nb.toml`, loaded into the same router builder the API uses;
//! - `serve` (the `serve` feature): `nb serve` — the `nb_gateway` over the config's
//!   router, with logs, metrics and signals;
//! - [`demo`]: the self-healing demo — simulated providers, a scripted story, a
//!   blind-retry client and neuralbridge side by side on the same traffic, a table and
//!   a self-contained HTML report.
//!
//! Features (all in `default`): `serve` (the gateway, `nb serve`), `redis` (`[store]
//! redis`: health, answers and budgets shared by replicas) and `rustls-aws-lc` (TLS to
//! real providers; or `rustls-ring`, or `native-tls`). The demo needs none of them:
//! `cargo run --release -p neuralbridge-cli --no-default-features -- demo` builds only
//! what it uses.
//!
//! ```no_run
//! # async fn run() -> Result<(), String> {
//! let result = nb_cli::demo::run(nb_cli::demo::DemoOptions { quick: true, ..Default::default() }).await?;
//! assert_eq!(result.neuralbridge.silent_corruptions, 0);
//! # Ok(()) }
//! ```

pub mod config;
pub mod demo;
#[cfg(feature = "serve")]
pub mod serve;
