//! OpenAI's Responses API (`POST {base}/responses`), its own wire format beside Chat
//! Completions.
//!
//! Shapes are those of the official `openai-python` SDK (v3.63.0,
//! `openai/types/responses/*.py`) and OpenAI's `openapi.yaml` (`Response`,
//! `ResponseStreamEvent`, `ResponseErrorEvent`):
//! the request is a list of input items (messages, `function_call`,
//! `function_call_output`); the answer is a list of output items (`message` with
//! `output_text` / `refusal` parts, `function_call`, `reasoning`), a `status` and
//! `incomplete_details`; the stream is typed events (`response.output_text.delta`,
//! `response.function_call_arguments.delta`, `response.completed`, …) whose terminal
//! event is `response.completed`, `response.incomplete`, `response.failed` or `error`.

use std::collections::HashMap;

use async_trait::async_trait;
use nb_core::{
    ApiError, CallError, ChatChunk, ChatRequest, ChatResponse, ChatStream, FinishReason,
    HeaderFacts, Provider, ProviderError, ResponseFormat, Role, ToolCall, ToolCallDelta,
    ToolChoice, Usage,
};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use crate::config::{
    ApiKey, Common, ConfigError, ConfigErrorKind, checked_base_url, common_setters,
};
use crate::http::{Http, Outgoing, plain_header, secret_header};
use crate::openai::join;
use crate::schema;
use crate::sse::{self, Decoder, Flow};

/// Builds an [`OpenAiResponses`] adapter.
#[derive(Debug)]
#[must_use]
pub struct OpenAiResponsesBuilder {
    model: String,
    base_url: String,
    organization: Option<String>,
    project: Option<String>,
    common: Common,
}

impl OpenAiResponsesBuilder {
    common_setters!("OPENAI_API_KEY");

    /// Overrides the base URL (everything before `/responses`; default
    /// `https://api.openai.com/v1`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sends `OpenAI-Organization`.
    pub fn organization(mut self, org: impl Into<String>) -> Self {
        self.organization = Some(org.into());
        self
    }

    /// Sends `OpenAI-Project`.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Builds the adapter; without an explicit key, `OPENAI_API_KEY` is read.
    pub fn build(self) -> Result<OpenAiResponses, ConfigError> {
        let key = match self.common.key {
            Some(k) => k.checked("openai-responses")?,
            None => ApiKey::from_env("OPENAI_API_KEY")?,
        };
        let base = checked_base_url(&self.base_url, true, self.common.allow_insecure_http)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            secret_header(&format!("Bearer {}", key.expose()))
                .map_err(|e| ConfigError::new(ConfigErrorKind::Invalid, e.to_string()))?,
        );
        if let Some(o) = &self.organization {
            plain_header(&mut headers, "openai-organization", o);
        }
        if let Some(p) = &self.project {
            plain_header(&mut headers, "openai-project", p);
        }
        Ok(OpenAiResponses {
            http: Http::new(self.common.client, self.common.timeouts, self.common.limits)?,
            url: join(&base, "responses")?,
            model: self.model,
            headers,
        })
    }
}

/// An adapter for OpenAI's Responses API (`POST /v1/responses`), for one model.
///
/// It is stateless: every call sends the whole conversation with `store: false`, so no
/// answer is kept on OpenAI's side and a failover from another target carries on the
/// same conversation. Reasoning items are not answer content: their tokens are counted
/// in [`Usage::reasoning_tokens`], their text is not returned. The API has no stop
/// sequences, so a request with [`ChatRequest::stop`] is [`CallError::Unsupported`]
/// here; a `seed` is not sent.
///
/// ```no_run
/// use nb_providers::OpenAiResponses;
/// # fn f() -> Result<(), nb_providers::ConfigError> {
/// let gpt = OpenAiResponses::from_env("gpt-5-mini")?; // OPENAI_API_KEY
/// # Ok(()) }
/// ```
pub struct OpenAiResponses {
    http: Http,
    model: String,
    url: url::Url,
    headers: HeaderMap,
}

impl std::fmt::Debug for OpenAiResponses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiResponses")
            .field("model", &self.model)
            .field("url", &self.url.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl OpenAiResponses {
    /// A builder for `model` on api.openai.com.
    pub fn builder(model: impl Into<String>) -> OpenAiResponsesBuilder {
        OpenAiResponsesBuilder {
            model: model.into(),
            base_url: "https://api.openai.com/v1".into(),
            organization: None,
            project: None,
            common: Common::default(),
        }
    }

    /// api.openai.com with the key from `OPENAI_API_KEY`.
    pub fn from_env(model: impl Into<String>) -> Result<Self, ConfigError> {
        Self::builder(model).build()
    }

    /// The model this adapter asks for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The wire body this adapter sends for `req` (useful for logging and tests).
    pub fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        request_body(&self.model, req, stream)
    }

    fn outgoing(&self, req: &ChatRequest, stream: bool) -> Result<Outgoing, CallError> {
        if !req.stop.is_empty() {
            return Err(CallError::Unsupported {
                what: "stop sequences (the Responses API has none)".into(),
            });
        }
        Outgoing::json(&self.url, &self.headers, &self.body(req, stream))
    }
}

#[async_trait]
impl Provider for OpenAiResponses {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let out = self.outgoing(req, false)?;
        self.http.whole(out, parse_response, |_| None).await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        let out = self.outgoing(req, true)?;
        self.http.streamed(out, ResponsesDecoder::new).await
    }
}

/// The `POST /responses` body for `req` on `model`.
pub(crate) fn request_body(model: &str, req: &ChatRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert(
        "input".into(),
        Value::Array(req.messages.iter().flat_map(input_items).collect()),
    );
    // Stateless by design: the whole conversation travels with every call.
    body.insert("store".into(), json!(false));
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(n) = req.max_tokens {
        body.insert("max_output_tokens".into(), json!(n));
    }
    match &req.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::JsonObject => {
            body.insert("text".into(), json!({"format": {"type": "json_object"}}));
        }
        ResponseFormat::JsonSchema(f) => {
            // ResponseFormatTextJSONSchemaConfigParam: flat, unlike Chat Completions'
            // nested `json_schema` object.
            body.insert(
                "text".into(),
                json!({"format": {
                    "type": "json_schema",
                    "name": schema::schema_name(&f.name),
                    "schema": schema::portable(&f.schema),
                    "strict": f.strict,
                }}),
            );
        }
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                // FunctionToolParam: flat, and `strict` is required. Not strict, as on
                // Chat Completions: strict mode rejects schemas that are not closed.
                let mut f = json!({"type": "function", "name": t.name,
                    "parameters": schema::portable(&t.parameters), "strict": false});
                if let Some(d) = &t.description {
                    f["description"] = json!(d);
                }
                f
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(c) = &req.tool_choice {
        body.insert(
            "tool_choice".into(),
            match c {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
            },
        );
    }
    if stream {
        body.insert("stream".into(), json!(true));
    }
    for (k, v) in &req.extra {
        body.insert(k.clone(), v.clone());
    }
    Value::Object(body)
}

/// One message as input items: a message item (`EasyInputMessageParam`) for its text
/// and media, then one `function_call` item per tool call, or one
/// `function_call_output` item per tool result.
fn input_items(m: &nb_core::Message) -> Vec<Value> {
    use nb_core::{Media, Part};
    let mut items = Vec::new();
    if m.role == Role::Tool {
        for p in &m.parts {
            if let Part::ToolResult {
                call_id, content, ..
            } = p
            {
                items.push(
                    json!({"type": "function_call_output", "call_id": call_id, "output": content}),
                );
            }
        }
        return items;
    }
    let role = match m.role {
        Role::System => "system",
        Role::Assistant => "assistant",
        _ => "user",
    };
    let media = m
        .parts
        .iter()
        .any(|p| matches!(p, Part::Image { .. } | Part::Document { .. }));
    // Assistant turns are sent as text: input parts (`input_text`, `input_image`) are
    // for the other roles.
    if media && m.role != Role::Assistant {
        let parts: Vec<Value> = m
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Text { text, .. } => Some(json!({"type": "input_text", "text": text})),
                Part::Image { source, .. } => Some(
                    json!({"type": "input_image", "image_url": source.as_url(), "detail": "auto"}),
                ),
                Part::Document { source, name, .. } => Some(match source {
                    Media::Base64 { .. } => {
                        let mut f = json!({"type": "input_file", "file_data": source.as_url()});
                        if let Some(n) = name {
                            f["filename"] = json!(n);
                        }
                        f
                    }
                    Media::Url { url, .. } => json!({"type": "input_file", "file_url": url}),
                    _ => return None,
                }),
                _ => None,
            })
            .collect();
        items.push(json!({"role": role, "content": parts}));
    } else {
        let text = m.text();
        if !text.is_empty() || m.tool_calls().next().is_none() {
            items.push(json!({"role": role, "content": text}));
        }
    }
    for (i, c) in m.tool_calls().enumerate() {
        items.push(json!({
            "type": "function_call",
            "call_id": c.id.clone().unwrap_or_else(|| format!("call_{i}")),
            "name": c.name,
            "arguments": c.arguments_raw,
        }));
    }
    items
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// `ResponseUsage`: input/output tokens with cached and reasoning details.
fn usage(v: &Value) -> Option<Usage> {
    let u = v.get("usage").filter(|u| u.is_object())?;
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let mut out = Usage::new(
        n("input_tokens").unwrap_or(0),
        n("output_tokens").unwrap_or(0),
    );
    out.cached_tokens = u
        .get("input_tokens_details")
        .and_then(|d| d.get("cached_tokens"))
        .and_then(Value::as_u64);
    out.reasoning_tokens = u
        .get("output_tokens_details")
        .and_then(|d| d.get("reasoning_tokens"))
        .and_then(Value::as_u64);
    Some(out)
}

/// The finish reason of a `Response` object from its `status` and
/// `incomplete_details.reason`; `None` for a failed or unfinished response.
fn finish(resp: &Value, has_tool_calls: bool) -> Option<FinishReason> {
    match str_of(resp, "status")? {
        "completed" if has_tool_calls => Some(FinishReason::ToolCalls),
        "completed" => Some(FinishReason::Stop),
        "incomplete" => Some(
            match resp
                .get("incomplete_details")
                .and_then(|d| str_of(d, "reason"))
            {
                Some("max_output_tokens") => FinishReason::Length,
                Some("content_filter") => FinishReason::ContentFilter,
                Some(other) => FinishReason::Other(other.to_owned()),
                None => FinishReason::Other("incomplete".into()),
            },
        ),
        _ => None,
    }
}

/// A failed response (`status: failed`, `error: {code, message}`, HTTP 200) or an
/// `error` stream event (`{type: "error", code, message, param}`) as an API error: the
/// classifier reads its `code` (`rate_limit_exceeded`, `server_error`, …), never the
/// 200 it came with.
fn failure(err: &Value, data: &[u8]) -> CallError {
    let text = |k: &str| match err.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let error = ProviderError {
        code: text("code"),
        message: text("message"),
        param: text("param"),
        // ResponseError has an optional `type`; an error event's `type` is the literal
        // "error", which says nothing.
        r#type: text("type").filter(|t| t != "error"),
        ..ProviderError::default()
    };
    if error.is_empty() {
        return CallError::decode("a failed response without error fields", data);
    }
    CallError::Api(Box::new(ApiError {
        status: None,
        headers: HeaderFacts::default(),
        error,
        body_snippet: None,
    }))
}

/// Parses a whole `Response` object.
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, CallError> {
    let v: Value = crate::http::from_json(body)
        .map_err(|e| CallError::decode(format!("not a Responses API response: {e}"), body))?;
    if !v.is_object() {
        return Err(CallError::decode("the response is not an object", body));
    }
    if str_of(&v, "status") == Some("failed") {
        return Err(failure(v.get("error").unwrap_or(&Value::Null), body));
    }
    let Some(output) = v.get("output").and_then(Value::as_array) else {
        return Err(CallError::decode("the response has no output array", body));
    };
    if output.is_empty() && str_of(&v, "status") == Some("completed") {
        return Err(CallError::decode(
            "the completed response has no output",
            body,
        ));
    }
    let mut text = String::new();
    let mut refusal = String::new();
    let mut tool_calls = Vec::new();
    for item in output {
        match str_of(item, "type") {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match str_of(part, "type") {
                        Some("output_text") => text.push_str(str_of(part, "text").unwrap_or("")),
                        Some("refusal") => refusal.push_str(str_of(part, "refusal").unwrap_or("")),
                        _ => {}
                    }
                }
            }
            Some("function_call") => tool_calls.push(ToolCall::from_raw(
                str_of(item, "call_id").map(str::to_owned),
                str_of(item, "name").unwrap_or_default(),
                str_of(item, "arguments").unwrap_or_default(),
            )),
            // `reasoning` items and built-in tool calls are not answer content.
            _ => {}
        }
    }
    let Some(mut reason) = finish(&v, !tool_calls.is_empty()) else {
        return Err(CallError::decode(
            "the response is neither completed nor incomplete",
            body,
        ));
    };
    if !refusal.is_empty() && reason == FinishReason::Stop {
        reason = FinishReason::Refusal;
    }
    let mut resp = ChatResponse::text(text);
    resp.tool_calls = tool_calls;
    resp.refusal = (!refusal.is_empty()).then_some(refusal);
    resp.finish_reason = reason;
    resp.usage = usage(&v);
    resp.model = str_of(&v, "model")
        .filter(|m| !m.is_empty())
        .map(str::to_owned);
    resp.request_id = str_of(&v, "id")
        .filter(|i| !i.is_empty())
        .map(str::to_owned);
    Ok(resp)
}

/// Decodes the typed Responses events; `response.completed`, `response.incomplete`,
/// `response.failed` and `error` end the stream.
pub(crate) struct ResponsesDecoder {
    request_id: Option<String>,
    started: bool,
    /// `output_index` of each function-call item → its index among the tool calls.
    calls: HashMap<u64, u32>,
}

impl ResponsesDecoder {
    pub(crate) fn new(request_id: Option<String>) -> Self {
        Self {
            request_id,
            started: false,
            calls: HashMap::new(),
        }
    }

    fn start(&mut self, resp: Option<&Value>, out: &mut Vec<ChatChunk>) {
        if self.started {
            return;
        }
        self.started = true;
        let of = |k: &str| {
            resp.and_then(|r| str_of(r, k))
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        out.push(ChatChunk::Started {
            model: of("model"),
            request_id: self.request_id.clone().or_else(|| of("id")),
        });
    }

    fn call_index(&self, v: &Value) -> Option<u32> {
        let at = v.get("output_index").and_then(Value::as_u64)?;
        self.calls.get(&at).copied()
    }
}

impl Decoder for ResponsesDecoder {
    fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChatChunk>,
    ) -> Result<Flow, CallError> {
        if data.trim().is_empty() {
            return Ok(Flow::More);
        }
        let v: Value = sse::json(data)?;
        // Every event names its type in the payload too; a proxy may drop `event:`.
        let kind = match event {
            "message" => str_of(&v, "type").unwrap_or(""),
            e => e,
        };
        match kind {
            "error" => return Err(failure(&v, data.as_bytes())),
            "response.failed" => {
                let err = v
                    .get("response")
                    .and_then(|r| r.get("error"))
                    .unwrap_or(&Value::Null);
                return Err(failure(err, data.as_bytes()));
            }
            "response.created" | "response.in_progress" | "response.queued" => {
                self.start(v.get("response"), out);
            }
            "response.output_item.added" => {
                self.start(None, out);
                let item = v.get("item").unwrap_or(&Value::Null);
                if str_of(item, "type") == Some("function_call") {
                    let index = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
                    if let Some(at) = v.get("output_index").and_then(Value::as_u64) {
                        self.calls.insert(at, index);
                    }
                    out.push(ChatChunk::ToolCall(ToolCallDelta {
                        index,
                        id: str_of(item, "call_id").map(str::to_owned),
                        name: str_of(item, "name").map(str::to_owned),
                        // Arguments stream in `function_call_arguments.delta` events.
                        arguments: String::new(),
                    }));
                }
            }
            "response.output_text.delta" => {
                self.start(None, out);
                if let Some(t) = str_of(&v, "delta").filter(|t| !t.is_empty()) {
                    out.push(ChatChunk::Text {
                        delta: t.to_owned(),
                    });
                }
            }
            "response.refusal.delta" => {
                self.start(None, out);
                if let Some(t) = str_of(&v, "delta").filter(|t| !t.is_empty()) {
                    out.push(ChatChunk::Refusal {
                        delta: t.to_owned(),
                    });
                }
            }
            "response.function_call_arguments.delta" => {
                let Some(index) = self.call_index(&v) else {
                    return Err(CallError::decode(
                        "function-call arguments for an item that was never added",
                        data.as_bytes(),
                    ));
                };
                if let Some(d) = str_of(&v, "delta").filter(|d| !d.is_empty()) {
                    out.push(ChatChunk::ToolCall(ToolCallDelta {
                        index,
                        id: None,
                        name: None,
                        arguments: d.to_owned(),
                    }));
                }
            }
            "response.completed" | "response.incomplete" => {
                let resp = v.get("response").unwrap_or(&Value::Null);
                self.start(Some(resp), out);
                let Some(reason) = finish(resp, !self.calls.is_empty()) else {
                    return Err(CallError::decode(
                        "a terminal event whose response has no final status",
                        data.as_bytes(),
                    ));
                };
                out.push(ChatChunk::Finish { reason });
                if let Some(u) = usage(resp) {
                    out.push(ChatChunk::Usage(u));
                }
                return Ok(Flow::Done);
            }
            // `.done` events repeat what the deltas carried; reasoning, annotation and
            // built-in tool events are not answer content; later event types are
            // ignored.
            _ => {}
        }
        Ok(Flow::More)
    }
}
