//! The `nb` command's machinery, as a library so it is tested like any other code.
//!
//! - [`config`]: `nb.toml`, loaded into the same router builder the API uses;
//! - [`serve`]: `nb serve` — the [`nb_gateway`] over the config's router, with logs,
//!   metrics and signals;
//! - [`demo`]: the self-healing demo — simulated providers, a scripted story, a
//!   blind-retry client and neuralbridge side by side on the same traffic, a table and
//!   a self-contained HTML report.
//!
//! ```no_run
//! # async fn run() -> Result<(), String> {
//! let result = nb_cli::demo::run(nb_cli::demo::DemoOptions { quick: true, ..Default::default() }).await?;
//! assert_eq!(result.neuralbridge.silent_corruptions, 0);
//! # Ok(()) }
//! ```

pub mod config;
pub mod demo;
pub mod serve;
