//! Python values in: prompts and OpenAI-shaped messages, per-call options, dicts as JSON.

use std::sync::Arc;
use std::time::Duration;

use neuralbridge::core::{ChatRequest, Message, ToolCall};
use neuralbridge::router::{CallOptions, VouchMode};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};

use crate::router::PySchema;

static JSON: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn json_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    JSON.get_or_try_init(py, || py.import("json").map(Bound::unbind))
        .map(|m| m.bind(py))
}

/// A Python value (dicts, lists, strings, numbers) as JSON, through `json.dumps`.
pub(crate) fn to_json(v: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let text: String = json_module(v.py())?
        .call_method1("dumps", (v,))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| PyValueError::new_err(format!("not JSON: {e}")))
}

/// JSON as a Python value, through `json.loads`.
pub(crate) fn from_json<'py>(
    py: Python<'py>,
    v: &serde_json::Value,
) -> PyResult<Bound<'py, PyAny>> {
    json_module(py)?.call_method1("loads", (v.to_string(),))
}

/// A plain prompt, or a list of messages in the OpenAI shape.
pub(crate) fn messages(prompt: &Bound<'_, PyAny>) -> PyResult<Vec<Message>> {
    if let Ok(s) = prompt.cast::<PyString>() {
        return Ok(vec![Message::user(s.to_cow()?)]);
    }
    let Ok(list) = prompt.cast::<PyList>() else {
        return Err(PyTypeError::new_err(
            "a prompt is a str or a list of messages ({\"role\": ..., \"content\": ...})",
        ));
    };
    let mut out = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let m = m.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!("messages[{i}] is not a dict with role and content"))
        })?;
        out.push(message(i, m)?);
    }
    if out.is_empty() {
        return Err(PyValueError::new_err("messages is empty"));
    }
    Ok(out)
}

fn message(i: usize, m: &Bound<'_, PyDict>) -> PyResult<Message> {
    let role: String = m
        .get_item("role")?
        .ok_or_else(|| PyValueError::new_err(format!("messages[{i}] has no role")))?
        .extract()?;
    let content = match m.get_item("content")? {
        None => String::new(),
        Some(c) if c.is_none() => String::new(),
        Some(c) => content_text(i, &c)?,
    };
    Ok(match role.as_str() {
        "system" | "developer" => Message::system(content),
        "user" => Message::user(content),
        "assistant" => {
            let calls = match m.get_item("tool_calls")? {
                Some(c) if !c.is_none() => tool_calls(i, &c)?,
                _ => Vec::new(),
            };
            if calls.is_empty() {
                Message::assistant(content)
            } else {
                let mut msg = Message::assistant_tool_calls(calls);
                if !content.is_empty() {
                    msg = msg.with_part(neuralbridge::core::Part::text(content));
                }
                msg
            }
        }
        "tool" => {
            let id: String = m
                .get_item("tool_call_id")?
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "messages[{i}]: a tool message needs tool_call_id"
                    ))
                })?
                .extract()?;
            let name: String = m
                .get_item("name")?
                .map(|n| n.extract())
                .transpose()?
                .unwrap_or_default();
            Message::tool_result(id, name, content)
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "messages[{i}]: role {other:?} is not one of system, user, assistant, tool"
            )));
        }
    })
}

/// `content` as a string, or a list of `{"type": "text", "text": ...}` parts.
fn content_text(i: usize, c: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = c.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    let parts = c.cast::<PyList>().map_err(|_| {
        PyTypeError::new_err(format!(
            "messages[{i}].content is not a str or a list of parts"
        ))
    })?;
    let mut text = String::new();
    for p in parts.iter() {
        let p = p.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!("messages[{i}].content: a part is not a dict"))
        })?;
        let kind: String = p
            .get_item("type")?
            .map(|t| t.extract())
            .transpose()?
            .unwrap_or_else(|| "text".into());
        if kind != "text" {
            return Err(PyValueError::new_err(format!(
                "messages[{i}].content: parts of type {kind:?} are not supported yet (text only)"
            )));
        }
        if let Some(t) = p.get_item("text")? {
            text.push_str(&t.extract::<String>()?);
        }
    }
    Ok(text)
}

fn tool_calls(i: usize, c: &Bound<'_, PyAny>) -> PyResult<Vec<ToolCall>> {
    let list = c
        .cast::<PyList>()
        .map_err(|_| PyTypeError::new_err(format!("messages[{i}].tool_calls is not a list")))?;
    let mut out = Vec::new();
    for call in list.iter() {
        let v = to_json(&call)?;
        let f = &v["function"];
        let name = f["name"].as_str().unwrap_or_default();
        let args = f["arguments"].as_str().unwrap_or("{}");
        out.push(ToolCall::from_raw(
            v["id"].as_str().map(str::to_owned),
            name,
            args,
        ));
    }
    Ok(out)
}

/// What every call takes besides the prompt.
pub(crate) struct CallArgs<'py> {
    pub(crate) require_equivalence: bool,
    pub(crate) vouch: Option<String>,
    pub(crate) route: Option<String>,
    pub(crate) deadline: Option<f64>,
    pub(crate) temperature: Option<f32>,
    pub(crate) max_tokens: Option<u32>,
    pub(crate) schema: Option<Bound<'py, PyAny>>,
}

/// A request and its options, ready for the router; and the compiled schema, if any.
pub(crate) fn call(
    prompt: &Bound<'_, PyAny>,
    a: CallArgs<'_>,
) -> PyResult<(ChatRequest, CallOptions, Option<Arc<PySchemaInner>>)> {
    let mut req = ChatRequest::new(messages(prompt)?);
    req.temperature = a.temperature;
    req.max_tokens = a.max_tokens;
    let mut opts = CallOptions::default().with_route(a.route);
    if let Some(d) = a.deadline {
        if !(d.is_finite() && d > 0.0) {
            return Err(PyValueError::new_err(
                "deadline is a number of seconds above 0",
            ));
        }
        opts = opts.with_deadline(Some(Duration::from_secs_f64(d)));
    }
    if let Some(v) = a.vouch.as_deref() {
        opts = opts.with_vouch(Some(vouch_mode(v)?));
    }
    if a.require_equivalence {
        opts = opts.require_equivalence();
    }
    let schema = match a.schema {
        None => None,
        Some(s) => {
            let compiled = match s.cast::<PySchema>() {
                Ok(c) => c.get().inner.clone(),
                Err(_) => Arc::new(PySchemaInner::new(&to_json(&s)?, None)?),
            };
            req.response_format = compiled.format.clone();
            opts.validators.push(compiled.validator.clone());
            Some(compiled)
        }
    };
    Ok((req, opts, schema))
}

fn vouch_mode(v: &str) -> PyResult<VouchMode> {
    Ok(match v {
        "always" => VouchMode::Always,
        "on-failover" | "on_failover" => VouchMode::OnFailover,
        "off" => VouchMode::Off,
        other => {
            let share = other
                .strip_prefix("sampled:")
                .and_then(|s| s.parse::<f64>().ok())
                .filter(|s| (0.0..=1.0).contains(s));
            match share {
                Some(s) => VouchMode::Sampled(s),
                None => {
                    return Err(PyValueError::new_err(format!(
                        "vouch={other:?}: one of \"always\", \"on-failover\", \"off\", \"sampled:0.1\""
                    )));
                }
            }
        }
    })
}

/// A JSON Schema compiled once: the response format sent to providers and the validator.
pub(crate) struct PySchemaInner {
    pub(crate) schema: serde_json::Value,
    pub(crate) format: neuralbridge::core::ResponseFormat,
    pub(crate) validator: Arc<dyn neuralbridge::guard::Validator>,
}

impl PySchemaInner {
    pub(crate) fn new(schema: &serde_json::Value, name: Option<String>) -> PyResult<Self> {
        let validator = neuralbridge::guard::JsonSchema::new(schema)
            .map_err(|e| PyValueError::new_err(format!("not a usable JSON Schema: {e}")))?;
        let name = name
            .or_else(|| schema["title"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "answer".into());
        let name: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(64)
            .collect();
        Ok(Self {
            schema: schema.clone(),
            format: neuralbridge::core::ResponseFormat::JsonSchema(
                neuralbridge::core::JsonSchemaFormat {
                    name,
                    schema: schema.clone(),
                    strict: false,
                },
            ),
            validator: Arc::new(validator),
        })
    }
}

/// The seconds of a duration, for Python.
pub(crate) fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// `"provider/model"` as a target id.
pub(crate) fn target_id(s: &str) -> PyResult<neuralbridge::core::TargetId> {
    match s.split_once('/') {
        Some((p, m)) if !p.is_empty() && !m.is_empty() => {
            Ok(neuralbridge::core::TargetId::new(p, m))
        }
        _ => Err(PyValueError::new_err(format!(
            "{s:?} is not a target (\"provider/model\")"
        ))),
    }
}
