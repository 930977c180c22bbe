//! What the two wire formats share: the translation each gives the request flow, and
//! JSON helpers.

use axum::response::Response;
use nb_core::{ChatRequest, ChatResponse, ChatStream};
use serde_json::Value;

use crate::Format;

/// One wire format's translation, for the request flow both endpoints share.
#[derive(Clone, Copy)]
pub(crate) struct Wire {
    pub(crate) format: Format,
    /// The request body as the router's request.
    pub(crate) parse: fn(&Value) -> Result<ChatRequest, String>,
    /// An answer as the format's response body (`id`, `model`).
    pub(crate) render: fn(&ChatResponse, &str, &str) -> Value,
    /// A committed stream as the format's SSE response (`id`, `model`, the request).
    pub(crate) stream: fn(ChatStream, String, String, &Value) -> Response,
}

/// The items of the array at `key` in `v`, numbered (none when it is absent).
pub(crate) fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// The strings of an array (other items skipped).
pub(crate) fn strings(a: &[Value]) -> Vec<String> {
    a.iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}
