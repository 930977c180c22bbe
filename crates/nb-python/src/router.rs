//! `SmartRouter`: built from a list of providers or from `nb.toml` (both through the `nb`
//! command's config loader), called blocking or from asyncio.

use std::sync::Arc;
use std::time::Instant;

use nb_cli::config::Config;
use neuralbridge::core::ChatResponse;
use neuralbridge::router::{CallOptions, Routed, SmartRouter};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::{Map, Value, json};

use crate::convert::{self, CallArgs, PySchemaInner};
use crate::errors;
use crate::events::{PyEventCallback, PyEvents};
use crate::report::{PyReport, PyUsage};
use crate::runtime;
use crate::stream::PyStream;

/// Provider kinds a provider's name stands for when it gives no `kind`.
const KINDS: &[&str] = &[
    "openai",
    "anthropic",
    "gemini",
    "deepseek",
    "mistral",
    "groq",
    "azure",
    "ollama",
    "vllm",
    "gemini-openai",
    "openai-compatible",
];

/// Keys of a provider entry that describe the provider (the rest describe the target).
const PROVIDER_KEYS: &[&str] = &[
    "kind",
    "base_url",
    "api_key_env",
    "allow_insecure_http",
    "deployment",
    "api_version",
];

/// Keys of a provider entry that describe the target.
const TARGET_KEYS: &[&str] = &[
    "weight",
    "cost",
    "context_window",
    "tags",
    "requests_per_minute",
    "tokens_per_minute",
    "without_vision",
    "without_documents",
    "vouch_only",
];

/// `SmartRouter(providers=[...])` as the JSON form of an `nb.toml`.
fn config_json(providers: Value, sections: Vec<(&str, Value)>) -> Result<Value, String> {
    let Value::Array(list) = providers else {
        return Err("providers is a list of dicts with a name and a model".into());
    };
    if list.is_empty() {
        return Err("providers is empty: give at least one {\"name\": ..., \"model\": ...}".into());
    }
    let mut provs: Map<String, Value> = Map::new();
    let mut targets = Vec::new();
    for (i, p) in list.into_iter().enumerate() {
        let Value::Object(p) = p else {
            return Err(format!("providers[{i}] is not a dict"));
        };
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("providers[{i}] has no \"name\""))?
            .to_owned();
        let model = p
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("providers[{i}] ({name}) has no \"model\""))?
            .to_owned();
        let mut prov = Map::new();
        let mut target = Map::new();
        target.insert("provider".into(), json!(name));
        target.insert("model".into(), json!(model));
        for (k, v) in p {
            if k == "name" || k == "model" || v.is_null() {
                continue;
            }
            if PROVIDER_KEYS.contains(&k.as_str()) {
                prov.insert(k, v);
            } else if TARGET_KEYS.contains(&k.as_str()) {
                target.insert(k, v);
            } else {
                return Err(format!(
                    "providers[{i}] ({name}): unknown key {k:?} (known: name, model, {}, {})",
                    PROVIDER_KEYS.join(", "),
                    TARGET_KEYS.join(", ")
                ));
            }
        }
        if !prov.contains_key("kind") {
            let kind = if KINDS.contains(&name.as_str()) {
                name.clone()
            } else if prov.contains_key("base_url") {
                "openai-compatible".into()
            } else {
                return Err(format!(
                    "providers[{i}]: {name:?} is not a known provider ({}): give its \"kind\", or a \"base_url\" of an OpenAI-compatible server",
                    KINDS.join(", ")
                ));
            };
            prov.insert("kind".into(), json!(kind));
        }
        match provs.get(&name) {
            Some(Value::Object(seen)) if *seen != prov => {
                return Err(format!(
                    "providers[{i}] ({name}): the same provider is described twice with different settings"
                ));
            }
            Some(_) => {}
            None => {
                provs.insert(name, Value::Object(prov));
            }
        }
        targets.push(Value::Object(target));
    }
    let mut out = Map::new();
    out.insert("providers".into(), Value::Object(provs));
    out.insert("targets".into(), Value::Array(targets));
    for (k, v) in sections {
        if !v.is_null() {
            out.insert(k.into(), v);
        }
    }
    Ok(Value::Object(out))
}

fn json_opt(v: Option<&Bound<'_, PyAny>>) -> PyResult<Value> {
    v.map_or(Ok(Value::Null), convert::to_json)
}

/// The self-healing router.
///
/// Every call is planned over the targets, each attempt classified, failed over, vouched
/// for and reported. Thread-safe; cheap to share.
#[pyclass(
    module = "neuralbridge._native",
    name = "SmartRouter",
    frozen,
    subclass
)]
pub(crate) struct PyRouter {
    pub(crate) inner: SmartRouter,
}

/// The arguments of one call, turned into what the router takes.
struct Prepared {
    req: neuralbridge::core::ChatRequest,
    opts: CallOptions,
    schema: Option<Arc<PySchemaInner>>,
}

#[allow(clippy::too_many_arguments)]
fn prepare<'py>(
    prompt: &Bound<'py, PyAny>,
    require_equivalence: bool,
    vouch: Option<String>,
    route: Option<String>,
    deadline: Option<f64>,
    temperature: Option<f32>,
    max_tokens: Option<u32>,
    schema: Option<Bound<'py, PyAny>>,
) -> PyResult<Prepared> {
    let (req, opts, schema) = convert::call(
        prompt,
        CallArgs {
            require_equivalence,
            vouch,
            route,
            deadline,
            temperature,
            max_tokens,
            schema,
        },
    )?;
    Ok(Prepared { req, opts, schema })
}

impl PyRouter {
    fn build_from(c: &Config) -> PyResult<Self> {
        // Building connects nothing, but a shared store spawns its connection task.
        let _guard = runtime().enter();
        let inner = c
            .build()
            .map_err(|e| Python::attach(|py| errors::config(py, e.0)))?;
        Ok(Self { inner })
    }
}

#[pymethods]
impl PyRouter {
    /// `SmartRouter(providers=[{"name": "openai", "model": "gpt-4o"}, ...])`.
    ///
    /// Each provider dict has a `name` and a `model`, and optionally `kind` (when the
    /// name is not one), `base_url`, `api_key_env`, `weight`, `context_window`, `cost`
    /// (`{"input_per_mtok": ..., "output_per_mtok": ...}`), `tags`, `vouch_only`,
    /// `requests_per_minute`. The sections take `nb.toml`'s keys (`docs/config.md`).
    #[new]
    #[pyo3(signature = (providers, *, policy=None, breaker=None, cooldowns=None, vouch=None, routes=None))]
    fn new(
        py: Python<'_>,
        providers: &Bound<'_, PyAny>,
        policy: Option<&Bound<'_, PyAny>>,
        breaker: Option<&Bound<'_, PyAny>>,
        cooldowns: Option<&Bound<'_, PyAny>>,
        vouch: Option<&Bound<'_, PyAny>>,
        routes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let sections = vec![
            ("policy", json_opt(policy)?),
            ("breaker", json_opt(breaker)?),
            ("cooldowns", json_opt(cooldowns)?),
            ("vouch", json_opt(vouch)?),
            ("routes", json_opt(routes)?),
        ];
        let value = config_json(convert::to_json(providers)?, sections)
            .map_err(|e| errors::config(py, e))?;
        let config = Config::from_json(value).map_err(|e| errors::config(py, e.0))?;
        Self::build_from(&config)
    }

    /// A router from an `nb.toml` file (the `nb` command's format, `docs/config.md`).
    #[staticmethod]
    #[pyo3(name = "from_config")]
    fn from_config_file(py: Python<'_>, path: std::path::PathBuf) -> PyResult<Self> {
        let config = Config::from_file(&path).map_err(|e| errors::config(py, e.0))?;
        Self::build_from(&config)
    }

    /// The targets, as `"provider/model"`, in the order added.
    #[getter]
    fn targets(&self) -> Vec<String> {
        self.inner.targets().map(ToString::to_string).collect()
    }

    /// Routes one call and waits for its answer (the GIL is released meanwhile).
    ///
    /// `prompt` is a str or a list of OpenAI-shaped message dicts. Raises a
    /// `neuralbridge.errors.NeuralBridgeError` subclass when no answer can be returned.
    #[pyo3(signature = (prompt, *, require_equivalence=false, vouch=None, route=None, deadline=None, temperature=None, max_tokens=None, schema=None))]
    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        py: Python<'_>,
        prompt: &Bound<'_, PyAny>,
        require_equivalence: bool,
        vouch: Option<String>,
        route: Option<String>,
        deadline: Option<f64>,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
        schema: Option<Bound<'_, PyAny>>,
    ) -> PyResult<PyResponse> {
        let p = prepare(
            prompt,
            require_equivalence,
            vouch,
            route,
            deadline,
            temperature,
            max_tokens,
            schema,
        )?;
        // The call runs on the runtime's threads, as a Rust caller's would; this thread
        // only waits for its end, without the GIL.
        let router = self.inner.clone();
        let (req, opts) = (p.req, p.opts);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let task = runtime().spawn(async move {
            let _ = tx.send(router.chat_with(&req, &opts).await);
        });
        // Woken every 100 ms to let Ctrl-C (or any signal handler's exception) through;
        // the call is then aborted, which gives back whatever it held.
        let mut rx = rx;
        let result = loop {
            let (r, back) = py.detach(move || {
                let r = rx.recv_timeout(std::time::Duration::from_millis(100));
                (r, rx)
            });
            rx = back;
            match r {
                Ok(r) => break r,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = py.check_signals() {
                        task.abort();
                        return Err(e);
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(pyo3::exceptions::PyRuntimeError::new_err(
                        "the call's task ended without an answer",
                    ));
                }
            }
        };
        match result {
            Ok(routed) => PyResponse::new(py, routed, p.schema.as_deref()),
            Err(e) => Err(errors::route(py, e)),
        }
    }

    /// `call` for asyncio: returns an awaitable. Cancelling it cancels the call (every
    /// attempt under way is dropped and its permits given back).
    #[pyo3(signature = (prompt, *, require_equivalence=false, vouch=None, route=None, deadline=None, temperature=None, max_tokens=None, schema=None))]
    #[allow(clippy::too_many_arguments)]
    fn acall<'py>(
        &self,
        py: Python<'py>,
        prompt: &Bound<'py, PyAny>,
        require_equivalence: bool,
        vouch: Option<String>,
        route: Option<String>,
        deadline: Option<f64>,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
        schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let p = prepare(
            prompt,
            require_equivalence,
            vouch,
            route,
            deadline,
            temperature,
            max_tokens,
            schema,
        )?;
        let router = self.inner.clone();
        crate::aio::spawn(
            py,
            async move {
                let result = router.chat_with(&p.req, &p.opts).await;
                (result, p.schema)
            },
            |py, (result, schema)| match result {
                Ok(routed) => {
                    Ok(Py::new(py, PyResponse::new(py, routed, schema.as_deref())?)?.into_any())
                }
                Err(e) => Err(errors::route(py, e)),
            },
        )
    }

    /// Streams one call: an iterator (and async iterator) of text deltas; its `report`
    /// is complete when it ends. It fails over freely until the first delta.
    #[pyo3(signature = (prompt, *, require_equivalence=false, vouch=None, route=None, deadline=None, temperature=None, max_tokens=None))]
    #[allow(clippy::too_many_arguments)]
    fn stream(
        &self,
        prompt: &Bound<'_, PyAny>,
        require_equivalence: bool,
        vouch: Option<String>,
        route: Option<String>,
        deadline: Option<f64>,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
    ) -> PyResult<PyStream> {
        let p = prepare(
            prompt,
            require_equivalence,
            vouch,
            route,
            deadline,
            temperature,
            max_tokens,
            None,
        )?;
        Ok(PyStream::new(self.inner.clone(), p.req, p.opts))
    }

    /// `stream` for `async for`: the same object, iterated asynchronously.
    #[pyo3(signature = (prompt, *, require_equivalence=false, vouch=None, route=None, deadline=None, temperature=None, max_tokens=None))]
    #[allow(clippy::too_many_arguments)]
    fn astream(
        &self,
        prompt: &Bound<'_, PyAny>,
        require_equivalence: bool,
        vouch: Option<String>,
        route: Option<String>,
        deadline: Option<f64>,
        temperature: Option<f32>,
        max_tokens: Option<u32>,
    ) -> PyResult<PyStream> {
        self.stream(
            prompt,
            require_equivalence,
            vouch,
            route,
            deadline,
            temperature,
            max_tokens,
        )
    }

    /// A target's health: its breaker, cool-down, latency and outcome counts.
    fn health<'py>(&self, py: Python<'py>, target: &str) -> PyResult<Bound<'py, PyDict>> {
        let id = convert::target_id(target)?;
        if !self.inner.targets().any(|t| *t == id) {
            return Err(PyValueError::new_err(format!(
                "{target:?} is not a target of this router"
            )));
        }
        let h = self.inner.health(&id);
        let d = PyDict::new(py);
        d.set_item("breaker", h.breaker.to_string())?;
        let now = Instant::now();
        d.set_item(
            "cooling_for",
            h.cooling_until
                .map(|u| u.saturating_duration_since(now).as_secs_f64()),
        )?;
        d.set_item("ewma_latency", h.ewma_latency.map(|d| d.as_secs_f64()))?;
        d.set_item("p95_latency", h.p95_latency.map(|d| d.as_secs_f64()))?;
        d.set_item("successes", h.successes)?;
        let failures = PyDict::new(py);
        for (c, n) in &h.failures {
            failures.set_item(c.as_str(), n)?;
        }
        d.set_item("failures", failures)?;
        Ok(d)
    }

    /// A new subscription to the router's events (attempts, breaker moves, cool-downs,
    /// recovery probes), from now on.
    fn events(&self) -> PyEvents {
        PyEvents::new(self.inner.subscribe())
    }

    /// Calls `callback(event)` for every event from now on, from a background thread,
    /// until the returned handle is closed or dropped.
    fn on_event(&self, callback: Py<PyAny>) -> PyEventCallback {
        PyEventCallback::spawn(self.inner.subscribe(), callback)
    }

    fn __repr__(&self) -> String {
        format!("SmartRouter(targets={:?})", self.targets())
    }
}

/// A JSON Schema compiled once, for `schema=` on many calls.
#[pyclass(module = "neuralbridge._native", name = "Schema", frozen)]
pub(crate) struct PySchema {
    pub(crate) inner: Arc<PySchemaInner>,
}

#[pymethods]
impl PySchema {
    /// Compiles `schema` (a JSON Schema dict); `name` is what providers are told it is.
    #[new]
    #[pyo3(signature = (schema, name=None))]
    fn new(schema: &Bound<'_, PyAny>, name: Option<String>) -> PyResult<Self> {
        let value = convert::to_json(schema)?;
        Ok(Self {
            inner: Arc::new(PySchemaInner::new(&value, name)?),
        })
    }

    /// The schema, as a dict.
    #[getter]
    fn schema<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::from_json(py, &self.inner.schema)
    }

    fn __repr__(&self) -> String {
        match &self.inner.format {
            neuralbridge::core::ResponseFormat::JsonSchema(f) => format!("Schema({:?})", f.name),
            _ => "Schema()".into(),
        }
    }
}

/// An answer: its text, and the report of how it was obtained.
#[pyclass(module = "neuralbridge._native", name = "Response", frozen)]
pub(crate) struct PyResponse {
    value: ChatResponse,
    report: Py<PyReport>,
    data: Option<Py<PyAny>>,
}

impl PyResponse {
    pub(crate) fn new(
        py: Python<'_>,
        routed: Routed<ChatResponse>,
        schema: Option<&PySchemaInner>,
    ) -> PyResult<Self> {
        let data = match schema {
            None => None,
            Some(_) => match neuralbridge::guard::extract_json(&routed.value.text) {
                Ok(v) => Some(convert::from_json(py, &v)?.unbind()),
                Err(v) => {
                    return Err(errors::raise(
                        py,
                        "SchemaViolation",
                        format!("the answer is not JSON: {v}"),
                        &[(
                            "report",
                            Bound::new(py, PyReport::new(routed.report))?.into_any(),
                        )],
                    ));
                }
            },
        };
        Ok(Self {
            value: routed.value,
            report: Py::new(py, PyReport::new(routed.report))?,
            data,
        })
    }
}

#[pymethods]
impl PyResponse {
    /// The answer's text.
    #[getter]
    fn text(&self) -> &str {
        &self.value.text
    }

    /// The report: who served, what failed before, how the answer was checked.
    #[getter]
    fn report(&self, py: Python<'_>) -> Py<PyReport> {
        self.report.clone_ref(py)
    }

    /// The parsed JSON of a call made with `schema=`, else `None`.
    #[getter]
    fn data(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.data.as_ref().map(|d| d.clone_ref(py))
    }

    /// Tokens of the answer, when the provider said.
    #[getter]
    fn usage(&self) -> Option<PyUsage> {
        self.value.usage.map(PyUsage)
    }

    /// Why the model stopped (`stop`, `length`, `tool_calls`, `content_filter`, ...).
    #[getter]
    fn finish_reason(&self) -> String {
        use neuralbridge::core::FinishReason as F;
        match &self.value.finish_reason {
            F::Stop => "stop".into(),
            F::Length => "length".into(),
            F::ToolCalls => "tool_calls".into(),
            F::ContentFilter => "content_filter".into(),
            F::Refusal => "refusal".into(),
            F::Other(s) => s.clone(),
        }
    }

    /// The model that answered, as the provider named it.
    #[getter]
    fn model(&self) -> Option<&str> {
        self.value.model.as_deref()
    }

    /// Tool calls, as OpenAI-shaped dicts.
    #[getter]
    fn tool_calls<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for c in &self.value.tool_calls {
            let d = PyDict::new(py);
            d.set_item("id", &c.id)?;
            d.set_item("type", "function")?;
            let f = PyDict::new(py);
            f.set_item("name", &c.name)?;
            f.set_item("arguments", &c.arguments_raw)?;
            d.set_item("function", f)?;
            list.append(d)?;
        }
        Ok(list)
    }

    fn __str__(&self) -> &str {
        &self.value.text
    }

    fn __repr__(&self) -> String {
        let r = &self.report.get().inner;
        let served = r
            .served_by
            .as_ref()
            .map_or_else(|| "None".to_owned(), |t| format!("{:?}", t.to_string()));
        format!(
            "Response(text={:?}, served_by={served}, check={:?})",
            self.value.text,
            r.check.as_str()
        )
    }
}
