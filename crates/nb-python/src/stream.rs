//! Streams: text deltas as a Python iterator and async iterator, the report at the end.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use neuralbridge::core::{CallError, ChatChunk, ChatRequest, ChatStream};
use neuralbridge::router::{CallOptions, CallReport, RouteError, SmartRouter};
use pyo3::exceptions::{PyRuntimeError, PyStopAsyncIteration};
use pyo3::prelude::*;

use crate::errors;
use crate::report::PyReport;
use crate::runtime;

enum State {
    /// Not opened yet: the first `next` opens it (failing over until the first delta).
    Pending(Box<(ChatRequest, CallOptions)>),
    Open(ChatStream),
    Done,
}

struct Inner {
    router: SmartRouter,
    state: State,
}

/// What went wrong while streaming.
enum Broken {
    Route(RouteError),
    Mid(CallError),
}

/// The report of a stream: set when it opens, completed (usage) when it ends.
type SharedReport = Arc<Mutex<Option<CallReport>>>;

/// A streamed answer: iterate it (`for` or `async for`) for text deltas.
#[pyclass(module = "neuralbridge._native", name = "Stream", frozen)]
pub(crate) struct PyStream {
    inner: Arc<tokio::sync::Mutex<Inner>>,
    report: SharedReport,
    text: Arc<Mutex<String>>,
}

impl PyStream {
    pub(crate) fn new(router: SmartRouter, req: ChatRequest, opts: CallOptions) -> Self {
        Self {
            inner: Arc::new(tokio::sync::Mutex::new(Inner {
                router,
                state: State::Pending(Box::new((req, opts))),
            })),
            report: Arc::new(Mutex::new(None)),
            text: Arc::new(Mutex::new(String::new())),
        }
    }
}

fn set_report(report: &SharedReport, f: impl FnOnce(&mut Option<CallReport>)) {
    if let Ok(mut r) = report.lock() {
        f(&mut r);
    }
}

async fn next_delta(
    inner: Arc<tokio::sync::Mutex<Inner>>,
    report: SharedReport,
    text: Arc<Mutex<String>>,
) -> Result<Option<String>, Broken> {
    let mut guard = inner.lock().await;
    let inner = &mut *guard;
    if let State::Pending(p) = &inner.state {
        let (req, opts) = &**p;
        match inner.router.stream_with(req, opts).await {
            Ok(routed) => {
                set_report(&report, |r| *r = Some(routed.report));
                inner.state = State::Open(routed.value);
            }
            Err(e) => {
                inner.state = State::Done;
                set_report(&report, |r| *r = Some(e.report().clone()));
                return Err(Broken::Route(e));
            }
        }
    }
    let State::Open(stream) = &mut inner.state else {
        return Ok(None);
    };
    loop {
        match stream.next().await {
            None => {
                inner.state = State::Done;
                return Ok(None);
            }
            Some(Ok(ChatChunk::Text { delta })) => {
                if let Ok(mut t) = text.lock() {
                    t.push_str(&delta);
                }
                return Ok(Some(delta));
            }
            Some(Ok(ChatChunk::Usage(u))) => {
                set_report(&report, |r| {
                    if let Some(r) = r {
                        r.usage = Some(u);
                    }
                });
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                inner.state = State::Done;
                set_report(&report, |r| {
                    if let Some(r) = r {
                        r.last_error = Some(e.clone());
                    }
                });
                return Err(Broken::Mid(e));
            }
        }
    }
}

fn raise(py: Python<'_>, b: Broken, report: &SharedReport, text: &Arc<Mutex<String>>) -> PyErr {
    match b {
        Broken::Route(e) => errors::route(py, e),
        Broken::Mid(e) => {
            let partial = text.lock().map(|t| t.clone()).unwrap_or_default();
            let report = report
                .lock()
                .ok()
                .and_then(|r| r.clone())
                .unwrap_or_default();
            use neuralbridge::classify::Classifier as _;
            let class = neuralbridge::classify::DefaultClassifier::default()
                .classify(&neuralbridge::classify::Failure::Call(&e))
                .map(|c| c.class);
            errors::stream_broken(
                py,
                format!("the stream broke after content was delivered: {e}"),
                partial,
                class,
                report,
            )
        }
    }
}

#[pymethods]
impl PyStream {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let (inner, report, text) = (self.inner.clone(), self.report.clone(), self.text.clone());
        let r = py.detach(|| runtime().block_on(next_delta(inner, report, text)));
        r.map_err(|b| raise(py, b, &self.report, &self.text))
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (inner, report, text) = (self.inner.clone(), self.report.clone(), self.text.clone());
        crate::aio::spawn(
            py,
            async move {
                let r = next_delta(inner, report.clone(), text.clone()).await;
                (r, report, text)
            },
            |py, (r, report, text)| match r {
                Ok(Some(delta)) => Ok(delta.into_pyobject(py)?.into_any().unbind()),
                Ok(None) => Err(PyStopAsyncIteration::new_err(())),
                Err(b) => Err(raise(py, b, &report, &text)),
            },
        )
    }

    /// The report: `None` before the stream opens; complete once it has ended.
    #[getter]
    fn report(&self) -> PyResult<Option<PyReport>> {
        let r = self
            .report
            .lock()
            .map_err(|_| PyRuntimeError::new_err("the stream's report is poisoned"))?;
        Ok(r.clone().map(PyReport::new))
    }

    /// The text delivered so far.
    #[getter]
    fn text(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn __repr__(&self) -> String {
        let served = self.report.lock().ok().and_then(|r| {
            r.as_ref()
                .and_then(|r| r.served_by.as_ref().map(ToString::to_string))
        });
        let served = served.map_or_else(|| "None".to_owned(), |s| format!("{s:?}"));
        format!("Stream(served_by={served})")
    }
}
