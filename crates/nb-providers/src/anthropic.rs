//! Anthropic Messages (`POST /v1/messages`).

use async_trait::async_trait;
use nb_core::{
    CallError, ChatChunk, ChatRequest, ChatResponse, ChatStream, FinishReason, Provider,
    ResponseFormat, Role, ToolCall, ToolCallDelta, ToolChoice, Usage,
};
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::config::{
    ApiKey, Common, ConfigError, ConfigErrorKind, checked_base_url, common_setters,
};
use crate::http::{Http, Outgoing, plain_header, secret_header};
use crate::openai::join;
use crate::schema;
use crate::sse::{self, Decoder, Flow};

/// The `anthropic-version` header every request carries.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// `max_tokens` is required by the Messages API; this is sent when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

const JSON_ONLY: &str = "Respond with a single JSON object and nothing else.";

/// Builds an [`Anthropic`] adapter.
#[derive(Debug)]
#[must_use]
pub struct AnthropicBuilder {
    model: String,
    base_url: String,
    betas: Vec<String>,
    common: Common,
}

impl AnthropicBuilder {
    common_setters!("ANTHROPIC_API_KEY");

    /// Overrides the base URL (default `https://api.anthropic.com`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Adds an `anthropic-beta` flag.
    pub fn beta(mut self, flag: impl Into<String>) -> Self {
        self.betas.push(flag.into());
        self
    }

    /// Builds the adapter.
    pub fn build(self) -> Result<Anthropic, ConfigError> {
        let key = match self.common.key {
            Some(k) => k.checked("anthropic")?,
            None => ApiKey::from_env("ANTHROPIC_API_KEY")?,
        };
        let base = checked_base_url(&self.base_url, true, self.common.allow_insecure_http)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-api-key",
            secret_header(key.expose())
                .map_err(|e| ConfigError::new(ConfigErrorKind::Invalid, e.to_string()))?,
        );
        plain_header(&mut headers, "anthropic-version", ANTHROPIC_VERSION);
        if !self.betas.is_empty() {
            plain_header(&mut headers, "anthropic-beta", &self.betas.join(","));
        }
        Ok(Anthropic {
            http: Http::new(self.common.client, self.common.timeouts, self.common.limits)?,
            url: join(&base, "v1/messages")?,
            model: self.model,
            headers,
        })
    }
}

/// An Anthropic Messages adapter for one model.
///
/// The system prompt moves to the top-level `system` field; `max_tokens` defaults to
/// [`DEFAULT_MAX_TOKENS`]; a JSON Schema goes to `output_config.format`; a plain
/// JSON-object request (no schema) adds a one-line instruction to the system prompt,
/// since the API has no schemaless JSON mode.
///
/// ```no_run
/// # fn f() -> Result<(), nb_providers::ConfigError> {
/// let claude = nb_providers::Anthropic::from_env("claude-sonnet-4-5")?; // ANTHROPIC_API_KEY
/// # Ok(()) }
/// ```
pub struct Anthropic {
    http: Http,
    url: url::Url,
    model: String,
    headers: HeaderMap,
}

impl std::fmt::Debug for Anthropic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anthropic")
            .field("model", &self.model)
            .field("url", &self.url.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Anthropic {
    /// A builder for `model`.
    pub fn builder(model: impl Into<String>) -> AnthropicBuilder {
        AnthropicBuilder {
            model: model.into(),
            base_url: "https://api.anthropic.com".into(),
            betas: Vec::new(),
            common: Common::default(),
        }
    }

    /// api.anthropic.com with the key from `ANTHROPIC_API_KEY`.
    pub fn from_env(model: impl Into<String>) -> Result<Self, ConfigError> {
        Self::builder(model).build()
    }

    /// The model this adapter asks for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The wire body this adapter sends for `req`.
    pub fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        request_body(&self.model, req, stream)
    }

    fn outgoing(&self, req: &ChatRequest, stream: bool) -> Result<Outgoing, CallError> {
        Outgoing::json(&self.url, &self.headers, &self.body(req, stream))
    }
}

#[async_trait]
impl Provider for Anthropic {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let out = self.outgoing(req, false)?;
        self.http.whole(out, parse_response, |_| None).await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        let out = self.outgoing(req, true)?;
        self.http.streamed(out, AnthropicDecoder::new).await
    }
}

/// One part as an Anthropic content block: `text`, `image` and `document` (inline
/// `base64` or a `url` source; a plain-text document inline as `text`), `tool_use`,
/// `tool_result` — with `cache_control` where the part is marked for caching.
fn block(p: &nb_core::Part, i: usize) -> Option<Value> {
    use nb_core::{Media, Part};
    let source = |m: &Media| match m {
        Media::Base64 { media_type, data } if media_type == "text/plain" => {
            use base64::Engine as _;
            match base64::engine::general_purpose::STANDARD
                .decode(data)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
            {
                Some(text) => json!({"type": "text", "media_type": "text/plain", "data": text}),
                None => json!({"type": "base64", "media_type": media_type, "data": data}),
            }
        }
        Media::Base64 { media_type, data } => {
            json!({"type": "base64", "media_type": media_type, "data": data})
        }
        Media::Url { url, .. } => json!({"type": "url", "url": url}),
        _ => json!({}),
    };
    let (mut v, cache) = match p {
        Part::Text { text, cache } => (json!({"type": "text", "text": text}), cache),
        Part::Image { source: m, cache } => (json!({"type": "image", "source": source(m)}), cache),
        Part::Document {
            source: m,
            name,
            cache,
        } => {
            let mut d = json!({"type": "document", "source": source(m)});
            if let Some(n) = name {
                d["title"] = json!(n);
            }
            (d, cache)
        }
        Part::ToolCall { call } => (
            json!({
                "type": "tool_use",
                "id": call.id.clone().unwrap_or_else(|| format!("toolu_{i}")),
                "name": call.name,
                "input": call.arguments.clone().unwrap_or_else(|| json!({})),
            }),
            &None,
        ),
        Part::ToolResult {
            call_id,
            content,
            is_error,
            ..
        } => {
            let mut r = json!({"type": "tool_result", "tool_use_id": call_id, "content": content});
            if *is_error {
                r["is_error"] = json!(true);
            }
            (r, &None)
        }
        _ => return None,
    };
    if cache.is_some() {
        v["cache_control"] = json!({"type": "ephemeral"});
    }
    Some(v)
}

pub(crate) fn request_body(model: &str, req: &ChatRequest, stream: bool) -> Value {
    let system_parts: Vec<&nb_core::Part> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .flat_map(|m| &m.parts)
        .filter(|p| p.as_text().is_some())
        .collect();
    let cached_system = system_parts
        .iter()
        .any(|p| matches!(p, nb_core::Part::Text { cache: Some(_), .. }));
    let mut system: Vec<&str> = system_parts.iter().filter_map(|p| p.as_text()).collect();
    if req.response_format == ResponseFormat::JsonObject {
        system.push(JSON_ONLY);
    }
    // Consecutive turns of one role are merged into one message of several blocks; tool
    // results travel in user turns.
    let mut messages: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in req.messages.iter().filter(|m| m.role != Role::System) {
        let role = match m.role {
            Role::Assistant => "assistant",
            _ => "user",
        };
        let blocks: Vec<Value> = m
            .parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.as_text() != Some(""))
            .filter_map(|(i, p)| block(p, i))
            .collect();
        match messages.last_mut() {
            Some((r, existing)) if *r == role => existing.extend(blocks),
            _ => messages.push((role, blocks)),
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert(
        "max_tokens".into(),
        json!(req.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)),
    );
    body.insert(
        "messages".into(),
        Value::Array(
            messages
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        ),
    );
    if cached_system {
        // Blocks, so the cache marks travel with the text they end.
        let mut blocks: Vec<Value> = system_parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| block(p, i))
            .collect();
        if req.response_format == ResponseFormat::JsonObject {
            blocks.push(json!({"type": "text", "text": JSON_ONLY}));
        }
        body.insert("system".into(), Value::Array(blocks));
    } else if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    if let ResponseFormat::JsonSchema(f) = &req.response_format {
        body.insert(
            "output_config".into(),
            json!({"format": {"type": "json_schema", "schema": schema::portable(&f.schema)}}),
        );
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut v =
                    json!({"name": t.name, "input_schema": schema::portable(&t.parameters)});
                if let Some(d) = &t.description {
                    v["description"] = json!(d);
                }
                v
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(c) = &req.tool_choice {
        body.insert(
            "tool_choice".into(),
            match c {
                ToolChoice::Auto => json!({"type": "auto"}),
                ToolChoice::None => json!({"type": "none"}),
                ToolChoice::Required => json!({"type": "any"}),
                ToolChoice::Tool(n) => json!({"type": "tool", "name": n}),
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

fn stop_reason(raw: &str) -> FinishReason {
    match raw {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        // The context window, not max_tokens, ended it: still a cut-short answer.
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::Refusal,
        other => FinishReason::Other(other.to_owned()),
    }
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    content: Vec<Value>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize, Default, Clone, Copy)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    cache_creation_input_tokens: Option<u64>,
    #[serde(default)]
    cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    fn merge(&mut self, later: WireUsage) {
        self.input_tokens = later.input_tokens.or(self.input_tokens);
        self.output_tokens = later.output_tokens.or(self.output_tokens);
        self.cache_creation_input_tokens = later
            .cache_creation_input_tokens
            .or(self.cache_creation_input_tokens);
        self.cache_read_input_tokens = later
            .cache_read_input_tokens
            .or(self.cache_read_input_tokens);
    }

    fn usage(self) -> Usage {
        let cache_read = self.cache_read_input_tokens;
        // Total input = input + cache creation + cache read.
        let mut u = Usage::new(
            self.input_tokens.unwrap_or(0)
                + self.cache_creation_input_tokens.unwrap_or(0)
                + cache_read.unwrap_or(0),
            self.output_tokens.unwrap_or(0),
        );
        u.cached_tokens = cache_read;
        u.cache_write_tokens = self.cache_creation_input_tokens.filter(|n| *n > 0);
        u
    }
}

/// Parses a Messages API response body.
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, CallError> {
    let w: WireMessage = crate::http::from_json(body)
        .map_err(|e| CallError::decode(format!("not a Messages response: {e}"), body))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in &w.content {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or("")),
            Some("tool_use") => tool_calls.push(ToolCall::from_value(
                block.get("id").and_then(Value::as_str).map(str::to_owned),
                block
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                block.get("input").cloned().unwrap_or(Value::Null),
            )),
            _ => {}
        }
    }
    let finish_reason = match w.stop_reason.as_deref() {
        Some(r) => stop_reason(r),
        None => return Err(CallError::decode("the message has no stop_reason", body)),
    };
    let mut resp = ChatResponse::text(text);
    resp.tool_calls = tool_calls;
    resp.refusal = None;
    resp.finish_reason = finish_reason;
    resp.usage = w.usage.map(WireUsage::usage);
    resp.model = w.model;
    resp.request_id = w.id;
    Ok(resp)
}

/// Decodes the named Messages events; `message_stop` is the terminator.
pub(crate) struct AnthropicDecoder {
    request_id: Option<String>,
    usage: WireUsage,
}

impl AnthropicDecoder {
    pub(crate) fn new(request_id: Option<String>) -> Self {
        Self {
            request_id,
            usage: WireUsage::default(),
        }
    }
}

fn index(v: &Value) -> u32 {
    v.get("index")
        .and_then(Value::as_u64)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(0)
}

impl Decoder for AnthropicDecoder {
    fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChatChunk>,
    ) -> Result<Flow, CallError> {
        match event {
            "ping" => return Ok(Flow::More),
            "message_stop" => return Ok(Flow::Done),
            _ => {}
        }
        if data.trim().is_empty() {
            return Ok(Flow::More);
        }
        let v: Value = sse::json(data)?;
        // Some proxies drop the event name; the payload's `type` says the same.
        let kind = match event {
            "message" => v.get("type").and_then(Value::as_str).unwrap_or(""),
            e => e,
        };
        match kind {
            "error" => return Err(crate::openai::stream_error(&v, data)),
            "message_stop" => return Ok(Flow::Done),
            "message_start" => {
                let msg = v.get("message").cloned().unwrap_or(Value::Null);
                if let Some(u) = msg.get("usage").cloned() {
                    if let Ok(u) = serde_json::from_value::<WireUsage>(u) {
                        self.usage.merge(u);
                    }
                }
                out.push(ChatChunk::Started {
                    model: msg.get("model").and_then(Value::as_str).map(str::to_owned),
                    request_id: self
                        .request_id
                        .clone()
                        .or_else(|| msg.get("id").and_then(Value::as_str).map(str::to_owned)),
                });
            }
            "content_block_start" => {
                let block = v.get("content_block").cloned().unwrap_or(Value::Null);
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => out.push(ChatChunk::ToolCall(ToolCallDelta {
                        index: index(&v),
                        id: block.get("id").and_then(Value::as_str).map(str::to_owned),
                        name: block.get("name").and_then(Value::as_str).map(str::to_owned),
                        arguments: String::new(),
                    })),
                    Some("text") => {
                        if let Some(t) = block
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            out.push(ChatChunk::Text {
                                delta: t.to_owned(),
                            });
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = v.get("delta").cloned().unwrap_or(Value::Null);
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => {
                        if let Some(t) = delta
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            out.push(ChatChunk::Text {
                                delta: t.to_owned(),
                            });
                        }
                    }
                    Some("input_json_delta") => out.push(ChatChunk::ToolCall(ToolCallDelta {
                        index: index(&v),
                        id: None,
                        name: None,
                        arguments: delta
                            .get("partial_json")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    })),
                    // thinking, signature and citation deltas are not answer content.
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage").cloned() {
                    if let Ok(u) = serde_json::from_value::<WireUsage>(u) {
                        self.usage.merge(u);
                    }
                }
                if let Some(r) = v
                    .get("delta")
                    .and_then(|d| d.get("stop_reason"))
                    .and_then(Value::as_str)
                {
                    out.push(ChatChunk::Finish {
                        reason: stop_reason(r),
                    });
                }
                out.push(ChatChunk::Usage(self.usage.usage()));
            }
            // content_block_stop and events added later carry nothing we need.
            _ => {}
        }
        Ok(Flow::More)
    }
}
