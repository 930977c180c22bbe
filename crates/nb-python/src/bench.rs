//! The benchmark's baseline: the Rust SDK itself, driven from Rust in the same process,
//! on the same runtime, router and upstream as the Python calls it is compared with.

use std::time::Instant;

use neuralbridge::core::ChatRequest;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::router::PyRouter;
use crate::runtime;

/// `calls` calls of `router.chat(prompt)` from Rust, `concurrency` at a time; returns
/// each call's latency in seconds and the wall time of the whole run. Not part of the
/// API: `crates/nb-python/bench/bench_python.py` uses it.
#[pyfunction]
#[pyo3(name = "_bench_rust")]
pub(crate) fn bench_rust(
    py: Python<'_>,
    router: PyRef<'_, PyRouter>,
    prompt: String,
    calls: usize,
    concurrency: usize,
) -> PyResult<(Vec<f64>, f64)> {
    if calls == 0 || concurrency == 0 {
        return Err(PyValueError::new_err(
            "calls and concurrency are at least 1",
        ));
    }
    let router = router.inner.clone();
    py.detach(|| {
        runtime().block_on(async move {
            let req = std::sync::Arc::new(ChatRequest::user(prompt));
            let start = Instant::now();
            let per = calls.div_ceil(concurrency);
            let mut tasks = Vec::new();
            for w in 0..concurrency {
                let n = per.min(calls.saturating_sub(w * per));
                let (router, req) = (router.clone(), req.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::with_capacity(n);
                    for _ in 0..n {
                        let t = Instant::now();
                        let r = router.chat(&req).await;
                        lat.push((t.elapsed().as_secs_f64(), r.is_ok()));
                    }
                    lat
                }));
            }
            let mut all = Vec::with_capacity(calls);
            for t in tasks {
                let lat = t
                    .await
                    .map_err(|e| PyValueError::new_err(format!("a worker failed: {e}")))?;
                for (l, ok) in lat {
                    if !ok {
                        return Err(PyValueError::new_err("a baseline call failed"));
                    }
                    all.push(l);
                }
            }
            Ok((all, start.elapsed().as_secs_f64()))
        })
    })
}
