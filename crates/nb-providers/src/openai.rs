//! OpenAI Chat Completions, and every server that speaks it (DeepSeek, Mistral, Groq,
//! Azure OpenAI, Ollama, vLLM, Gemini's OpenAI-compatible endpoint, any base URL).

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
use crate::schema;
use crate::sse::{self, Decoder, Flow};

/// Which OpenAI-compatible server this is: its default base URL, key variable, auth
/// header and quirks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preset {
    /// api.openai.com (`OPENAI_API_KEY`).
    OpenAi,
    /// api.deepseek.com (`DEEPSEEK_API_KEY`). Sends `: keep-alive` comments and blank
    /// lines while queued, and may answer blank content under load.
    DeepSeek,
    /// api.mistral.ai (`MISTRAL_API_KEY`). Flat error bodies; `model_length` finish reason.
    Mistral,
    /// api.groq.com (`GROQ_API_KEY`). 498 flex capacity; `tool_use_failed`.
    Groq,
    /// Azure OpenAI: `{base}/openai/deployments/{deployment}/chat/completions?api-version=…`
    /// with an `api-key` header (`AZURE_OPENAI_API_KEY`). The first stream chunk often has
    /// `choices: []`.
    Azure {
        /// The deployment name (routes the request; it replaces the model).
        deployment: String,
        /// The mandatory `api-version`, e.g. `2024-10-21`.
        api_version: String,
    },
    /// A local Ollama server (`http://localhost:11434/v1`, no key).
    Ollama,
    /// A vLLM server (`http://localhost:8000/v1`, key optional: `VLLM_API_KEY`).
    Vllm,
    /// Gemini's OpenAI-compatible endpoint (`GEMINI_API_KEY`); errors come as a JSON array.
    GeminiOpenAi,
    /// Any other OpenAI-compatible server; give its base URL (key optional).
    Generic,
}

impl Preset {
    /// The provider name used in target ids.
    pub fn name(&self) -> &'static str {
        match self {
            Self::OpenAi => "openai",
            Self::DeepSeek => "deepseek",
            Self::Mistral => "mistral",
            Self::Groq => "groq",
            Self::Azure { .. } => "azure",
            Self::Ollama => "ollama",
            Self::Vllm => "vllm",
            Self::GeminiOpenAi => "gemini-openai",
            Self::Generic => "openai-compatible",
        }
    }

    /// The base URL used when none is given (`None`: one must be given).
    pub fn default_base_url(&self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("https://api.openai.com/v1"),
            Self::DeepSeek => Some("https://api.deepseek.com"),
            Self::Mistral => Some("https://api.mistral.ai/v1"),
            Self::Groq => Some("https://api.groq.com/openai/v1"),
            Self::Ollama => Some("http://localhost:11434/v1"),
            Self::Vllm => Some("http://localhost:8000/v1"),
            Self::GeminiOpenAi => Some("https://generativelanguage.googleapis.com/v1beta/openai"),
            Self::Azure { .. } | Self::Generic => None,
        }
    }

    /// The environment variable the key is read from when none is given.
    pub fn key_env(&self) -> Option<&'static str> {
        match self {
            Self::OpenAi => Some("OPENAI_API_KEY"),
            Self::DeepSeek => Some("DEEPSEEK_API_KEY"),
            Self::Mistral => Some("MISTRAL_API_KEY"),
            Self::Groq => Some("GROQ_API_KEY"),
            Self::Azure { .. } => Some("AZURE_OPENAI_API_KEY"),
            Self::Vllm => Some("VLLM_API_KEY"),
            Self::GeminiOpenAi => Some("GEMINI_API_KEY"),
            Self::Ollama | Self::Generic => None,
        }
    }

    /// DeepSeek documents blank `content` with `finish_reason: stop` under load and in
    /// JSON mode; such an answer is reported as a malformed response, not a success.
    fn rejects_blank(&self) -> bool {
        matches!(self, Self::DeepSeek)
    }

    fn key_required(&self) -> bool {
        !matches!(self, Self::Ollama | Self::Vllm | Self::Generic)
    }
}

/// Builds an [`OpenAi`] adapter.
#[derive(Debug)]
#[must_use]
pub struct OpenAiBuilder {
    preset: Preset,
    model: String,
    base_url: Option<String>,
    organization: Option<String>,
    project: Option<String>,
    common: Common,
}

impl OpenAiBuilder {
    common_setters!("the preset's key variable");

    /// Overrides the base URL (everything before `/chat/completions`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
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

    /// Builds the adapter, resolving the key and checking the URL.
    pub fn build(self) -> Result<OpenAi, ConfigError> {
        let key = match self.common.key {
            Some(k) => Some(k.checked(self.preset.name())?),
            None => match self.preset.key_env() {
                Some(var) if self.preset.key_required() => Some(ApiKey::from_env(var)?),
                Some(var) => ApiKey::from_env(var).ok(),
                None => None,
            },
        };
        let base = self
            .base_url
            .as_deref()
            .or(self.preset.default_base_url())
            .ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::Invalid,
                    format!("the {} preset needs a base URL", self.preset.name()),
                )
            })?;
        let base = checked_base_url(base, key.is_some(), self.common.allow_insecure_http)?;
        let url = match &self.preset {
            Preset::Azure {
                deployment,
                api_version,
            } => {
                if deployment.is_empty() || api_version.is_empty() {
                    return Err(ConfigError::new(
                        ConfigErrorKind::Invalid,
                        "Azure OpenAI needs a deployment name and an api-version",
                    ));
                }
                let mut u = join(
                    &base,
                    &format!("openai/deployments/{deployment}/chat/completions"),
                )?;
                u.query_pairs_mut().append_pair("api-version", api_version);
                u
            }
            _ => join(&base, "chat/completions")?,
        };
        let mut headers = HeaderMap::new();
        if let Some(k) = &key {
            let (name, value) = match self.preset {
                Preset::Azure { .. } => ("api-key", k.expose().to_owned()),
                _ => ("authorization", format!("Bearer {}", k.expose())),
            };
            let v = secret_header(&value)
                .map_err(|e| ConfigError::new(ConfigErrorKind::Invalid, e.to_string()))?;
            headers.insert(name, v);
        }
        if let Some(o) = &self.organization {
            plain_header(&mut headers, "openai-organization", o);
        }
        if let Some(p) = &self.project {
            plain_header(&mut headers, "openai-project", p);
        }
        Ok(OpenAi {
            http: Http::new(self.common.client, self.common.timeouts, self.common.limits)?,
            preset: self.preset,
            model: self.model,
            url,
            headers,
        })
    }
}

pub(crate) fn join(base: &url::Url, path: &str) -> Result<url::Url, ConfigError> {
    let s = format!("{}/{}", base.as_str().trim_end_matches('/'), path);
    url::Url::parse(&s).map_err(|e| {
        ConfigError::new(
            ConfigErrorKind::InvalidUrl,
            format!("invalid endpoint URL {s:?}: {e}"),
        )
    })
}

/// An OpenAI Chat Completions adapter for one model.
///
/// ```no_run
/// use nb_providers::{OpenAi, Preset};
/// # fn f() -> Result<(), nb_providers::ConfigError> {
/// let gpt = OpenAi::from_env("gpt-4o-mini")?;                   // OPENAI_API_KEY
/// let ds = OpenAi::builder(Preset::DeepSeek, "deepseek-chat").build()?; // DEEPSEEK_API_KEY
/// let local = OpenAi::builder(Preset::Ollama, "llama3.2").build()?;   // no key
/// # Ok(()) }
/// ```
pub struct OpenAi {
    http: Http,
    preset: Preset,
    model: String,
    url: url::Url,
    headers: HeaderMap,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAi")
            .field("preset", &self.preset)
            .field("model", &self.model)
            .field("url", &self.url.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl OpenAi {
    /// A builder for `model` on the server `preset` describes.
    pub fn builder(preset: Preset, model: impl Into<String>) -> OpenAiBuilder {
        OpenAiBuilder {
            preset,
            model: model.into(),
            base_url: None,
            organization: None,
            project: None,
            common: Common::default(),
        }
    }

    /// api.openai.com with the key from `OPENAI_API_KEY`.
    pub fn from_env(model: impl Into<String>) -> Result<Self, ConfigError> {
        Self::builder(Preset::OpenAi, model).build()
    }

    /// The model this adapter asks for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The preset.
    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    /// The wire body this adapter sends for `req` (useful for logging and tests).
    pub fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        request_body(&self.model, req, stream)
    }

    fn outgoing(&self, req: &ChatRequest, stream: bool) -> Result<Outgoing, CallError> {
        match PlainBody::of(&self.model, req, stream) {
            Some(plain) => Outgoing::json(&self.url, &self.headers, &plain),
            None => Outgoing::json(&self.url, &self.headers, &self.body(req, stream)),
        }
    }
}

#[async_trait]
impl Provider for OpenAi {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let reject_blank = self.preset.rejects_blank();
        // The request is built in a statement of its own: a temporary in the awaiting
        // statement would be kept in the call's future until the answer comes.
        let out = self.outgoing(req, false)?;
        self.http
            .whole(out, parse_response, move |r| {
                (reject_blank && is_blank(r)).then_some(BLANK)
            })
            .await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        let reject_blank = self.preset.rejects_blank();
        let make = |request_id| {
            let mut d = OpenAiDecoder::new(request_id);
            d.reject_blank = reject_blank;
            d
        };
        let out = self.outgoing(req, true)?;
        self.http.streamed(out, make).await
    }
}

/// The Chat Completions body for `req` on `model`.
pub(crate) fn request_body(model: &str, req: &ChatRequest, stream: bool) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert(
        "messages".into(),
        Value::Array(req.messages.iter().flat_map(message).collect()),
    );
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(n) = req.max_tokens {
        // `max_tokens` is deprecated on api.openai.com but `max_completion_tokens` is not
        // understood by most compatible servers; the deprecated one works on all.
        body.insert("max_tokens".into(), json!(n));
    }
    if !req.stop.is_empty() {
        body.insert("stop".into(), json!(req.stop));
    }
    if let Some(s) = req.seed {
        body.insert("seed".into(), json!(s));
    }
    match &req.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::JsonObject => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        ResponseFormat::JsonSchema(f) => {
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {
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
                let mut f = json!({"name": t.name, "parameters": schema::portable(&t.parameters)});
                if let Some(d) = &t.description {
                    f["description"] = json!(d);
                }
                json!({"type": "function", "function": f})
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
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            },
        );
    }
    if stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    for (k, v) in &req.extra {
        body.insert(k.clone(), v.clone());
    }
    Value::Object(body)
}

/// The body of a request of text turns and plain options — nearly every call — written
/// from borrowed typed structs, without building the [`Value`] that [`request_body`]
/// builds for any request (and serializes to the same JSON: a property test checks it).
#[derive(serde::Serialize)]
struct PlainBody<'a> {
    model: &'a str,
    messages: PlainMessages<'a>,
    // `f64` as `request_body`'s `json!` makes it: 0.7f32 is written 0.699999988079071.
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<JsonObjectFormat>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
}

#[derive(serde::Serialize)]
struct JsonObjectFormat {
    r#type: &'static str,
}

#[derive(serde::Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// Text turns (checked by [`PlainBody::of`]), each written as `{"role", "content"}`.
struct PlainMessages<'a>(&'a [nb_core::Message]);

impl serde::Serialize for PlainMessages<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Turn<'a> {
            role: &'static str,
            content: std::borrow::Cow<'a, str>,
        }
        s.collect_seq(self.0.iter().map(|m| Turn {
            role: role_name(m.role),
            content: match m.parts.as_slice() {
                [nb_core::Part::Text { text, .. }] => std::borrow::Cow::Borrowed(text.as_str()),
                _ => std::borrow::Cow::Owned(m.text()),
            },
        }))
    }
}

impl<'a> PlainBody<'a> {
    /// The plain body of `req`, or `None` if it needs more than text turns and plain
    /// options (tools, media, tool turns, extra fields, a JSON Schema).
    fn of(model: &'a str, req: &'a ChatRequest, stream: bool) -> Option<Self> {
        let text_turns = req.messages.iter().all(|m| {
            m.role != Role::Tool
                && m.parts
                    .iter()
                    .all(|p| matches!(p, nb_core::Part::Text { .. }))
        });
        let response_format = match req.response_format {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(JsonObjectFormat {
                r#type: "json_object",
            }),
            _ => return None,
        };
        let plain =
            text_turns && req.tools.is_empty() && req.tool_choice.is_none() && req.extra.is_empty();
        plain.then(|| Self {
            model,
            messages: PlainMessages(&req.messages),
            temperature: req.temperature.map(f64::from),
            top_p: req.top_p.map(f64::from),
            max_tokens: req.max_tokens,
            stop: &req.stop,
            seed: req.seed,
            response_format,
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
        })
    }
}

/// A role's name on the wire.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// One message as OpenAI's wire messages: usually one; a tool turn with several results
/// becomes one `tool` message per result.
///
/// Text-only content is sent as a string (the most widely accepted form); with images or
/// documents it is an array of parts: `text`, `image_url` (a URL or a `data:` URL) and
/// `file` (inline bytes as `file_data`; a [`Media::Url`](nb_core::Media::Url) document is
/// sent as a `file_id`, so upload the file first). Cache marks are ignored: OpenAI caches
/// prompt prefixes on its own and reports the cached tokens in `usage`.
fn message(m: &nb_core::Message) -> Vec<Value> {
    use nb_core::{Media, Part};
    let role = role_name(m.role);
    if m.role == Role::Tool {
        return m
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::ToolResult {
                    call_id, content, ..
                } => Some(json!({"role": "tool", "tool_call_id": call_id, "content": content})),
                _ => None,
            })
            .collect();
    }
    let media = m
        .parts
        .iter()
        .any(|p| matches!(p, Part::Image { .. } | Part::Document { .. }));
    let content = if media {
        Value::Array(
            m.parts
                .iter()
                .filter_map(|p| match p {
                    Part::Text { text, .. } => Some(json!({"type": "text", "text": text})),
                    Part::Image { source, .. } => {
                        Some(json!({"type": "image_url", "image_url": {"url": source.as_url()}}))
                    }
                    Part::Document { source, name, .. } => Some(match source {
                        Media::Base64 { .. } => {
                            let mut f = json!({"file_data": source.as_url()});
                            if let Some(n) = name {
                                f["filename"] = json!(n);
                            }
                            json!({"type": "file", "file": f})
                        }
                        Media::Url { url, .. } => json!({"type": "file", "file": {"file_id": url}}),
                        _ => return None,
                    }),
                    _ => None,
                })
                .collect(),
        )
    } else {
        Value::String(m.text())
    };
    let mut v = json!({"role": role, "content": content});
    let calls: Vec<Value> = m
        .tool_calls()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "id": c.id.clone().unwrap_or_else(|| format!("call_{i}")),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_raw},
            })
        })
        .collect();
    if !calls.is_empty() {
        if v["content"] == json!("") {
            v["content"] = Value::Null;
        }
        v["tool_calls"] = Value::Array(calls);
    }
    vec![v]
}

#[derive(Deserialize)]
struct WireResponse {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    choices: Vec<WireChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice {
    #[serde(default)]
    message: Option<WireMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Deserialize)]
struct WireToolCall {
    #[serde(default)]
    id: Option<String>,
    function: WireFunction,
}

#[derive(Deserialize)]
struct WireFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    prompt_tokens_details: Option<WireDetails>,
    #[serde(default)]
    completion_tokens_details: Option<WireDetails>,
}

#[derive(Deserialize, Default)]
struct WireDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    fn usage(&self) -> Usage {
        let mut u = Usage::new(
            self.prompt_tokens.unwrap_or(0),
            self.completion_tokens.unwrap_or(0),
        );
        u.cached_tokens = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens);
        u.reasoning_tokens = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        u
    }
}

/// Maps an OpenAI-family `finish_reason`.
pub(crate) fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "stop" => FinishReason::Stop,
        // Mistral's `model_length`: the context window ended the answer.
        "length" | "model_length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Parses a Chat Completions response body.
///
/// A body with `choices: []` or a choice without a message is a decode failure: nothing
/// usable came back. A `refusal` sets [`FinishReason::Refusal`].
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, CallError> {
    let w: WireResponse = crate::http::from_json(body)
        .map_err(|e| CallError::decode(format!("not a chat completion: {e}"), body))?;
    let Some(choice) = w.choices.into_iter().next() else {
        return Err(CallError::decode("the response has no choices", body));
    };
    let Some(msg) = choice.message else {
        return Err(CallError::decode("the first choice has no message", body));
    };
    let tool_calls: Vec<ToolCall> = msg
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            ToolCall::from_raw(
                c.id,
                c.function.name.unwrap_or_default(),
                c.function.arguments.unwrap_or_default(),
            )
        })
        .collect();
    let refusal = msg.refusal.filter(|r| !r.is_empty());
    let mut finish = match choice.finish_reason.as_deref() {
        Some(r) => finish_reason(r),
        None => FinishReason::Other("missing".into()),
    };
    if refusal.is_some() && finish == FinishReason::Stop {
        finish = FinishReason::Refusal;
    }
    let mut resp = ChatResponse::text(msg.content.unwrap_or_default());
    resp.tool_calls = tool_calls;
    resp.refusal = refusal;
    resp.finish_reason = finish;
    resp.usage = w.usage.map(|u| u.usage());
    resp.model = w.model.filter(|m| !m.is_empty());
    resp.request_id = w.id.filter(|i| !i.is_empty());
    Ok(resp)
}

#[derive(Deserialize)]
struct WireChunk {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<WireChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    delta: Option<WireDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize, Default)]
struct WireDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolDelta>>,
}

#[derive(Deserialize)]
struct WireToolDelta {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunction>,
}

const BLANK: &str = "the answer is blank (no text, no tool calls)";

fn is_blank(r: &ChatResponse) -> bool {
    r.finish_reason == FinishReason::Stop && r.tool_calls.is_empty() && r.text.trim().is_empty()
}

/// Decodes `chat.completion.chunk` events; `data: [DONE]` is the terminator.
pub(crate) struct OpenAiDecoder {
    request_id: Option<String>,
    started: bool,
    pub(crate) reject_blank: bool,
    substance: bool,
}

impl OpenAiDecoder {
    pub(crate) fn new(request_id: Option<String>) -> Self {
        Self {
            request_id,
            started: false,
            reject_blank: false,
            substance: false,
        }
    }
}

impl Decoder for OpenAiDecoder {
    fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChatChunk>,
    ) -> Result<Flow, CallError> {
        let data = data.trim();
        if data == "[DONE]" {
            return Ok(Flow::Done);
        }
        if data.is_empty() {
            return Ok(Flow::More);
        }
        let v: Value = sse::json(data)?;
        // Mid-stream errors: `data: {"error":{…}}` (OpenAI, vLLM) or `event: error` (Groq).
        if event == "error" || v.get("error").is_some_and(|e| !e.is_null()) {
            return Err(stream_error(&v, data));
        }
        let chunk: WireChunk = serde_json::from_value(v).map_err(|e| {
            CallError::decode(format!("not a chat.completion.chunk: {e}"), data.as_bytes())
        })?;
        if !self.started {
            let model = chunk.model.clone().filter(|m| !m.is_empty());
            // Azure's first chunk has an empty model and `choices: []`; wait for a real one.
            if model.is_some() || !chunk.choices.is_empty() {
                self.started = true;
                out.push(ChatChunk::Started {
                    model,
                    request_id: self.request_id.clone(),
                });
            }
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let delta = choice.delta.unwrap_or_default();
            if let Some(t) = delta.content.filter(|t| !t.is_empty()) {
                self.substance |= !t.trim().is_empty();
                out.push(ChatChunk::Text { delta: t });
            }
            if let Some(r) = delta.refusal.filter(|r| !r.is_empty()) {
                out.push(ChatChunk::Refusal { delta: r });
            }
            for t in delta.tool_calls.unwrap_or_default() {
                let (name, arguments) = match t.function {
                    Some(f) => (f.name, f.arguments.unwrap_or_default()),
                    None => (None, String::new()),
                };
                self.substance = true;
                out.push(ChatChunk::ToolCall(ToolCallDelta {
                    index: t.index,
                    id: t.id,
                    name,
                    arguments,
                }));
            }
            if let Some(r) = choice.finish_reason {
                let reason = finish_reason(&r);
                if self.reject_blank && reason == FinishReason::Stop && !self.substance {
                    return Err(CallError::decode(BLANK, data.as_bytes()));
                }
                out.push(ChatChunk::Finish { reason });
            }
        }
        if let Some(u) = chunk.usage {
            out.push(ChatChunk::Usage(u.usage()));
        }
        Ok(Flow::More)
    }
}

/// An error event inside a 200 stream, with whatever status it carried.
pub(crate) fn stream_error(v: &Value, data: &str) -> CallError {
    match crate::error_body::parse_error_value(v) {
        Some((error, status)) => CallError::Api(Box::new(nb_core::ApiError {
            status,
            headers: nb_core::HeaderFacts::default(),
            error,
            body_snippet: None,
        })),
        None => CallError::decode("an error event without error fields", data.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use nb_core::{ChatRequest, Message, Part, ResponseFormat, Role, ToolSpec};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{PlainBody, request_body};

    fn turn() -> impl Strategy<Value = Message> {
        (
            prop_oneof![Just(Role::System), Just(Role::User), Just(Role::Assistant)],
            // Any text (quotes, escapes, control characters, non-ASCII), 0–3 parts.
            proptest::collection::vec(any::<String>(), 0..4),
        )
            .prop_map(|(role, texts)| {
                Message::new(role, texts.into_iter().map(Part::text).collect())
            })
    }

    fn float() -> impl Strategy<Value = Option<f32>> {
        prop_oneof![
            Just(None),
            Just(Some(0.7)),
            Just(Some(f32::NAN)),
            any::<f32>().prop_map(Some)
        ]
    }

    fn plain_request() -> impl Strategy<Value = (ChatRequest, bool)> {
        (
            proptest::collection::vec(turn(), 0..5),
            (float(), float()),
            (any::<Option<u32>>(), any::<Option<u64>>()),
            proptest::collection::vec(any::<String>(), 0..3),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(messages, (temperature, top_p), (max_tokens, seed), stop, json, stream)| {
                    let mut req = ChatRequest::new(messages);
                    req.temperature = temperature;
                    req.top_p = top_p;
                    req.max_tokens = max_tokens;
                    req.seed = seed;
                    req.stop = stop;
                    if json {
                        req.response_format = ResponseFormat::JsonObject;
                    }
                    (req, stream)
                },
            )
    }

    proptest! {
        /// The typed body of a plain request is the JSON `request_body` builds for it,
        /// whatever its text, numbers and options. (Both are written and read back: the
        /// same member may come in another order, and serde_json reads some written
        /// floats back a bit off — the same bit off for both.)
        #[test]
        fn a_plain_body_is_the_json_request_body_builds((req, stream) in plain_request()) {
            let plain = PlainBody::of("gpt-4o-mini", &req, stream).expect("a plain request");
            let read = |bytes: Vec<u8>| serde_json::from_slice::<Value>(&bytes).unwrap();
            prop_assert_eq!(
                read(serde_json::to_vec(&plain).unwrap()),
                read(serde_json::to_vec(&request_body("gpt-4o-mini", &req, stream)).unwrap())
            );
        }
    }

    #[test]
    fn requests_beyond_text_and_plain_options_take_the_general_path() {
        let base = ChatRequest::user("hi");
        assert!(PlainBody::of("m", &base, false).is_some());
        let mut tools = base.clone();
        tools
            .tools
            .push(ToolSpec::new("f", json!({"type": "object"})));
        let mut extra = base.clone();
        extra.extra.insert("user".into(), json!("u1"));
        let mut schema = base.clone();
        schema.response_format = ResponseFormat::JsonSchema(nb_core::JsonSchemaFormat {
            name: "x".into(),
            schema: json!({"type": "object"}),
            strict: true,
        });
        let media = ChatRequest::new(vec![Message::user_parts(vec![
            Part::text("look"),
            Part::image(nb_core::Media::url("https://example.com/a.png")),
        ])]);
        let tool_turn = ChatRequest::new(vec![Message::tool_result("call_1", "f", "42")]);
        for (what, req) in [
            ("tools", &tools),
            ("extra fields", &extra),
            ("a JSON Schema", &schema),
            ("media", &media),
            ("a tool turn", &tool_turn),
        ] {
            assert!(
                PlainBody::of("m", req, false).is_none(),
                "{what} taken as plain"
            );
        }
    }
}
