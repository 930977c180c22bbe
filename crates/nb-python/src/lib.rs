//! The Python package `neuralbridge`: the self-healing router of the Rust core, with the
//! API Python users of NeuralBridge know — `SmartRouter`, `Shield`, `Guard` and
//! `require_equivalence` — in the calling process, no proxy in between.
//!
//! This crate is the native half, the module `neuralbridge._native`, built by maturin
//! into an abi3 wheel (CPython 3.9 and later): `SmartRouter` with
//! `call`/`acall` and `stream`/`astream`, the call report, the router's events and the
//! exception classes' mapping from [`RouteError`](neuralbridge::router::RouteError). The
//! pure-Python half (`python/neuralbridge/`) adds `Shield`, `Guard` (JSON Schema dicts
//! and pydantic models), the exception hierarchy and the type stubs. Every call runs on
//! one tokio runtime shared by the process; a blocking call releases the GIL while it
//! waits, and an asyncio call is an `asyncio.Future` that cancelling cancels the Rust
//! call (its permits are given back on drop).
//!
//! Install and use it from Python (`docs/python.md` has the whole API):
//!
//! ```text
//! pip install ./crates/nb-python
//! ```
//!
//! ```python
//! from neuralbridge import SmartRouter
//!
//! router = SmartRouter(providers=[{"name": "openai", "model": "gpt-4o"},
//!                                 {"name": "anthropic", "model": "claude-opus-4"}])
//! result = router.call("What is 17 + 25?", require_equivalence=True)
//! print(result.text, result.report.served_by)
//! ```

mod aio;
mod bench;
mod convert;
mod errors;
mod events;
mod report;
mod router;
mod stream;

use pyo3::prelude::*;

/// The shared runtime: one per process, started on first use.
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// The module `neuralbridge._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<router::PyRouter>()?;
    m.add_class::<router::PyResponse>()?;
    m.add_class::<router::PySchema>()?;
    m.add_class::<report::PyReport>()?;
    m.add_class::<report::PyAttempt>()?;
    m.add_class::<report::PyVerdict>()?;
    m.add_class::<report::PyUsage>()?;
    m.add_class::<stream::PyStream>()?;
    m.add_class::<events::PyEvent>()?;
    m.add_class::<events::PyEvents>()?;
    m.add_class::<events::PyEventCallback>()?;
    m.add_function(wrap_pyfunction!(bench::bench_rust, m)?)?;
    Ok(())
}
