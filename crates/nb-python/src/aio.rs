//! asyncio futures completed without taking the GIL on the runtime's threads.
//!
//! A call's task runs on the shared tokio runtime; when it ends, it queues a completion
//! and, if the queue was empty, writes one byte to a socket the event loop watches
//! (`loop.add_reader`). The loop's thread then drains the queue — building the Python
//! results there, under the GIL it already holds — and sets each future's result. The
//! runtime's threads never wait for the GIL, and completions that arrive together are
//! delivered in one wake-up. Cancelling the future aborts the task, which drops the call
//! (and so gives back whatever it held). Loops without `add_reader` (Windows' proactor)
//! or without attributes of their own to keep the waker in (uvloop) fall back to
//! pyo3-async-runtimes.

use std::future::Future;
use std::io::{Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use crate::runtime;

/// Builds the Python result on the loop's thread.
pub(crate) type Finish = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

struct Shared {
    queue: Mutex<Vec<(Py<PyAny>, Finish)>>,
    tx: UnixStream,
}

impl Shared {
    fn push(&self, fut: Py<PyAny>, finish: Finish) {
        let was_empty = match self.queue.lock() {
            Ok(mut q) => {
                let e = q.is_empty();
                q.push((fut, finish));
                e
            }
            Err(_) => return,
        };
        if was_empty {
            // Non-blocking: at most one byte is outstanding per drain.
            let _ = (&self.tx).write(&[1]);
        }
    }
}

/// The reader callback registered on one event loop.
#[pyclass(module = "neuralbridge._native", name = "_LoopWaker", frozen)]
pub(crate) struct LoopWaker {
    shared: Arc<Shared>,
    rx: UnixStream,
}

#[pymethods]
impl LoopWaker {
    fn __call__(&self, py: Python<'_>) -> PyResult<()> {
        let mut buf = [0u8; 64];
        while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
        let items = match self.shared.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => return Ok(()),
        };
        for (fut, finish) in items {
            let fut = fut.bind(py);
            if fut.call_method0(intern!(py, "cancelled"))?.is_truthy()? {
                continue;
            }
            match finish(py) {
                Ok(v) => fut.call_method1(intern!(py, "set_result"), (v,))?,
                Err(e) => fut.call_method1(intern!(py, "set_exception"), (e.into_value(py),))?,
            };
        }
        Ok(())
    }
}

/// Aborts the task when its future is cancelled.
#[pyclass(module = "neuralbridge._native", name = "_CancelOnDone", frozen)]
pub(crate) struct CancelOnDone {
    abort: tokio::task::AbortHandle,
}

#[pymethods]
impl CancelOnDone {
    fn __call__(&self, fut: &Bound<'_, PyAny>) -> PyResult<()> {
        if fut
            .call_method0(intern!(fut.py(), "cancelled"))?
            .is_truthy()?
        {
            self.abort.abort();
        }
        Ok(())
    }
}

static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// The running loop's completion queue, made on first use (`None`: the loop cannot
/// watch a socket).
fn shared_for(py: Python<'_>, event_loop: &Bound<'_, PyAny>) -> PyResult<Option<Arc<Shared>>> {
    let attr = intern!(py, "_neuralbridge_waker");
    if let Ok(w) = event_loop.getattr(attr) {
        if let Ok(w) = w.cast::<LoopWaker>() {
            return Ok(Some(w.get().shared.clone()));
        }
    }
    let (tx, rx) =
        UnixStream::pair().map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
    tx.set_nonblocking(true)
        .and_then(|()| rx.set_nonblocking(true))
        .map_err(|e| pyo3::exceptions::PyOSError::new_err(e.to_string()))?;
    let fd = rx.as_raw_fd();
    let shared = Arc::new(Shared {
        queue: Mutex::new(Vec::new()),
        tx,
    });
    let waker = Bound::new(
        py,
        LoopWaker {
            shared: shared.clone(),
            rx,
        },
    )?;
    if event_loop
        .call_method1(intern!(py, "add_reader"), (fd, &waker))
        .is_err()
    {
        return Ok(None);
    }
    if event_loop.setattr(attr, &waker).is_err() {
        // A loop without attributes of its own (uvloop): no place to keep the waker, so
        // this loop takes the fallback.
        event_loop.call_method1(intern!(py, "remove_reader"), (fd,))?;
        return Ok(None);
    }
    Ok(Some(shared))
}

/// Runs `fut` on the shared runtime and returns an `asyncio.Future` of what `finish`
/// makes of its output on the loop's thread.
pub(crate) fn spawn<'py, F, T>(
    py: Python<'py>,
    fut: F,
    finish: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let get = GET_RUNNING_LOOP.get_or_try_init(py, || {
        py.import("asyncio")?
            .getattr("get_running_loop")
            .map(Bound::unbind)
    })?;
    let event_loop = get.bind(py).call0()?;
    let Some(shared) = shared_for(py, &event_loop)? else {
        return pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let out = fut.await;
            Python::attach(|py| finish(py, out))
        });
    };
    let future = event_loop.call_method0(intern!(py, "create_future"))?;
    let handle = future.clone().unbind();
    let task = runtime().spawn(async move {
        let out = fut.await;
        shared.push(handle, Box::new(move |py| finish(py, out)));
    });
    future.call_method1(
        intern!(py, "add_done_callback"),
        (CancelOnDone {
            abort: task.abort_handle(),
        },),
    )?;
    Ok(future)
}
