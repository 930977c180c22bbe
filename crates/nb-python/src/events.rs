//! The router's events for Python: an iterator over a subscription, or a callback run by
//! a background task.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use neuralbridge::breaker::HealthEvent;
use neuralbridge::router::broadcast::Receiver;
use neuralbridge::router::broadcast::error::{RecvError, TryRecvError};
use neuralbridge::router::{AttemptOutcome, RouterEvent};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::runtime;

/// Something the router did or learned.
#[pyclass(module = "neuralbridge._native", name = "Event", frozen, get_all)]
#[derive(Clone)]
pub(crate) struct PyEvent {
    /// `attempt`, `breaker`, `cooldown` or `recovery_probe`.
    kind: &'static str,
    /// The target (`"provider/model"`), or for a cool-down the scope it covers.
    target: String,
    /// Attempts: `ok`, `failed` or `cancelled`; breakers: the new state (`open`,
    /// `half-open`, `closed`); probes: `passed` or `failed`; cool-downs: `cooling`.
    outcome: String,
    /// The failure class that caused it, when one did.
    failure_class: Option<String>,
    /// Why, in words (the classifier's reason, the breaker's cause).
    detail: Option<String>,
    /// Attempts and probes: seconds they took; cool-downs: seconds left.
    seconds: Option<f64>,
}

impl PyEvent {
    fn new(e: &RouterEvent) -> Self {
        let mut out = Self {
            kind: "other",
            target: String::new(),
            outcome: String::new(),
            failure_class: None,
            detail: None,
            seconds: None,
        };
        match e {
            RouterEvent::Attempt(a) => {
                out.kind = "attempt";
                out.target = a.target.to_string();
                out.seconds = Some(a.latency.as_secs_f64());
                out.outcome = match &a.outcome {
                    AttemptOutcome::Success => "ok".into(),
                    AttemptOutcome::Failed { class, reason, .. } => {
                        out.failure_class = Some(class.as_str().into());
                        out.detail = Some(reason.to_string());
                        "failed".into()
                    }
                    _ => "cancelled".into(),
                };
            }
            RouterEvent::Health(HealthEvent::Breaker { target, transition }) => {
                out.kind = "breaker";
                out.target = target.to_string();
                out.outcome = transition.to.to_string();
                out.detail = Some(format!(
                    "{} → {}: {}",
                    transition.from, transition.to, transition.cause
                ));
            }
            RouterEvent::Health(HealthEvent::Cooldown { key, until, cause }) => {
                out.kind = "cooldown";
                out.target = key.to_string();
                out.outcome = "cooling".into();
                out.failure_class = cause.map(|c| c.as_str().into());
                out.seconds = Some(
                    until
                        .saturating_duration_since(Instant::now())
                        .as_secs_f64(),
                );
            }
            RouterEvent::RecoveryProbe {
                target,
                passed,
                latency,
            } => {
                out.kind = "recovery_probe";
                out.target = target.to_string();
                out.outcome = if *passed { "passed" } else { "failed" }.into();
                out.seconds = Some(latency.as_secs_f64());
            }
            _ => {}
        }
        out
    }
}

#[pymethods]
impl PyEvent {
    fn __repr__(&self) -> String {
        let mut s = format!("Event({}, {:?}, {:?}", self.kind, self.target, self.outcome);
        if let Some(c) = &self.failure_class {
            s.push_str(&format!(", failure_class={c:?}"));
        }
        s.push(')');
        s
    }
}

/// A subscription to a router's events: iterate it (blocking), or `get`/`drain` it.
#[pyclass(module = "neuralbridge._native", name = "Events", frozen)]
pub(crate) struct PyEvents {
    rx: Mutex<Receiver<RouterEvent>>,
}

impl PyEvents {
    pub(crate) fn new(rx: Receiver<RouterEvent>) -> Self {
        Self { rx: Mutex::new(rx) }
    }

    fn recv(&self, py: Python<'_>, timeout: Option<Duration>) -> PyResult<Option<PyEvent>> {
        py.detach(|| {
            let mut rx = self
                .rx
                .lock()
                .map_err(|_| PyRuntimeError::new_err("the subscription is poisoned"))?;
            runtime().block_on(async {
                loop {
                    let next = match timeout {
                        Some(t) => match tokio::time::timeout(t, rx.recv()).await {
                            Ok(r) => r,
                            Err(_) => return Ok(None),
                        },
                        None => rx.recv().await,
                    };
                    match next {
                        Ok(e) => return Ok(Some(PyEvent::new(&e))),
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return Ok(None),
                    }
                }
            })
        })
    }
}

#[pymethods]
impl PyEvents {
    /// The next event, waiting at most `timeout` seconds (`None`: until one comes or the
    /// router is gone); `None` on timeout.
    #[pyo3(signature = (timeout=None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<PyEvent>> {
        self.recv(py, timeout.map(|t| Duration::from_secs_f64(t.max(0.0))))
    }

    /// Every event already received, without waiting.
    fn drain(&self, py: Python<'_>) -> PyResult<Vec<PyEvent>> {
        // Without the GIL: another thread may hold the subscription in `get`.
        py.detach(|| {
            let mut rx = self
                .rx
                .lock()
                .map_err(|_| PyRuntimeError::new_err("the subscription is poisoned"))?;
            let mut out = Vec::new();
            loop {
                match rx.try_recv() {
                    Ok(e) => out.push(PyEvent::new(&e)),
                    Err(TryRecvError::Lagged(_)) => continue,
                    Err(_) => return Ok(out),
                }
            }
        })
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<PyEvent>> {
        self.recv(py, None)
    }
}

/// A callback receiving a router's events; `close()` (or dropping it) stops it.
#[pyclass(module = "neuralbridge._native", name = "EventCallback", frozen)]
pub(crate) struct PyEventCallback {
    task: tokio::task::JoinHandle<()>,
}

impl PyEventCallback {
    pub(crate) fn spawn(mut rx: Receiver<RouterEvent>, callback: Py<PyAny>) -> Self {
        let task = runtime().spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        let event = PyEvent::new(&e);
                        Python::attach(|py| {
                            if let Err(err) = callback.call1(py, (event,)) {
                                // The callback's own exception: reported as unraisable
                                // (like an exception in `__del__`), never fatal.
                                err.write_unraisable(py, Some(callback.bind(py)));
                            }
                        });
                    }
                    Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Self { task }
    }
}

impl Drop for PyEventCallback {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[pymethods]
impl PyEventCallback {
    /// Stops calling the callback.
    fn close(&self) {
        self.task.abort();
    }
}
