//! Google Gemini `generateContent` / `streamGenerateContent?alt=sse`.

use async_trait::async_trait;
use nb_core::{
    BlockedError, CallError, ChatChunk, ChatRequest, ChatResponse, ChatStream, FinishReason,
    Provider, ResponseFormat, Role, ToolCall, ToolCallDelta, ToolChoice, Usage,
};
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use crate::config::{
    ApiKey, Common, ConfigError, ConfigErrorKind, checked_base_url, common_setters,
};
use crate::http::{Http, Outgoing, secret_header};
use crate::openai::join;
use crate::schema;
use crate::sse::{self, Decoder, Flow};

/// Builds a [`Gemini`] adapter.
#[derive(Debug)]
#[must_use]
pub struct GeminiBuilder {
    model: String,
    base_url: String,
    common: Common,
}

impl GeminiBuilder {
    common_setters!("GEMINI_API_KEY");

    /// Overrides the base URL (default `https://generativelanguage.googleapis.com`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Builds the adapter.
    pub fn build(self) -> Result<Gemini, ConfigError> {
        let key = match self.common.key {
            Some(k) => k.checked("gemini")?,
            None => ApiKey::from_env("GEMINI_API_KEY")
                .or_else(|e| ApiKey::from_env("GOOGLE_API_KEY").map_err(|_| e))?,
        };
        let base = checked_base_url(&self.base_url, true, self.common.allow_insecure_http)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-goog-api-key",
            secret_header(key.expose())
                .map_err(|e| ConfigError::new(ConfigErrorKind::Invalid, e.to_string()))?,
        );
        let mut stream_url = join(
            &base,
            &format!("v1beta/models/{}:streamGenerateContent", self.model),
        )?;
        stream_url.query_pairs_mut().append_pair("alt", "sse");
        Ok(Gemini {
            http: Http::new(self.common.client, self.common.timeouts, self.common.limits)?,
            url: join(
                &base,
                &format!("v1beta/models/{}:generateContent", self.model),
            )?,
            stream_url,
            model: self.model,
            headers,
        })
    }
}

/// A Gemini adapter for one model.
///
/// System messages go to `systemInstruction`; a JSON Schema goes to
/// `generationConfig.responseJsonSchema` with `responseMimeType: application/json`
/// (annotation keywords such as `$schema`, which Gemini rejects, are stripped); the key
/// travels in the `x-goog-api-key` header, never in the URL.
///
/// ```no_run
/// # fn f() -> Result<(), nb_providers::ConfigError> {
/// let gemini = nb_providers::Gemini::from_env("gemini-2.5-flash")?; // GEMINI_API_KEY
/// # Ok(()) }
/// ```
pub struct Gemini {
    http: Http,
    url: url::Url,
    stream_url: url::Url,
    model: String,
    headers: HeaderMap,
}

impl std::fmt::Debug for Gemini {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gemini")
            .field("model", &self.model)
            .field("url", &self.url.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Gemini {
    /// A builder for `model`.
    pub fn builder(model: impl Into<String>) -> GeminiBuilder {
        GeminiBuilder {
            model: model.into(),
            base_url: "https://generativelanguage.googleapis.com".into(),
            common: Common::default(),
        }
    }

    /// generativelanguage.googleapis.com with the key from `GEMINI_API_KEY`.
    pub fn from_env(model: impl Into<String>) -> Result<Self, ConfigError> {
        Self::builder(model).build()
    }

    /// The model this adapter asks for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The wire body this adapter sends for `req` (the same for both endpoints).
    pub fn body(&self, req: &ChatRequest) -> Value {
        request_body(req)
    }

    fn outgoing(&self, req: &ChatRequest, stream: bool) -> Result<Outgoing, CallError> {
        let url = if stream { &self.stream_url } else { &self.url };
        Outgoing::json(url, &self.headers, &self.body(req))
    }
}

#[async_trait]
impl Provider for Gemini {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let out = self.outgoing(req, false)?;
        self.http.whole(out, parse_response, |_| None).await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        let out = self.outgoing(req, true)?;
        self.http.streamed(out, GeminiDecoder::new).await
    }
}

/// One part as a Gemini part: `text`, `inlineData` (inline bytes) or `fileData` (a file
/// URI) for images and documents, `functionCall`, `functionResponse` (whose `response`
/// must be an object: a result that is not one is wrapped as `{"content": …}`). Gemini
/// caches on its own (implicit caching) and reports it in `usageMetadata`; cache marks are
/// not sent.
fn part(p: &nb_core::Part) -> Option<Value> {
    use nb_core::{Media, Part};
    let media = |m: &Media| match m {
        Media::Base64 { media_type, data } => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        Media::Url { url, media_type } => {
            let mut f = json!({"fileUri": url});
            if let Some(t) = media_type {
                f["mimeType"] = json!(t);
            }
            json!({"fileData": f})
        }
        _ => json!({}),
    };
    Some(match p {
        Part::Text { text, .. } => json!({"text": text}),
        Part::Image { source, .. } | Part::Document { source, .. } => media(source),
        Part::ToolCall { call } => json!({"functionCall": {
            "name": call.name,
            "args": call.arguments.clone().unwrap_or_else(|| json!({})),
        }}),
        Part::ToolResult { name, content, .. } => {
            let response = match serde_json::from_str::<Value>(content) {
                Ok(v @ Value::Object(_)) => v,
                _ => json!({"content": content}),
            };
            json!({"functionResponse": {
                "name": name.clone().unwrap_or_default(),
                "response": response,
            }})
        }
        _ => return None,
    })
}

pub(crate) fn request_body(req: &ChatRequest) -> Value {
    let system: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .flat_map(|m| m.parts.iter().filter(|p| p.as_text().is_some()))
        .filter_map(part)
        .collect();
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in req.messages.iter().filter(|m| m.role != Role::System) {
        let role = match m.role {
            Role::Assistant => "model",
            _ => "user",
        };
        let parts: Vec<Value> = m
            .parts
            .iter()
            .filter(|p| p.as_text() != Some(""))
            .filter_map(part)
            .collect();
        match contents.last_mut() {
            Some((r, existing)) if *r == role => existing.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    let mut body = Map::new();
    body.insert(
        "contents".into(),
        Value::Array(
            contents
                .into_iter()
                .map(|(role, parts)| json!({"role": role, "parts": parts}))
                .collect(),
        ),
    );
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    let mut config = Map::new();
    if let Some(t) = req.temperature {
        config.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        config.insert("topP".into(), json!(p));
    }
    if let Some(n) = req.max_tokens {
        config.insert("maxOutputTokens".into(), json!(n));
    }
    if !req.stop.is_empty() {
        config.insert("stopSequences".into(), json!(req.stop));
    }
    if let Some(s) = req.seed {
        config.insert("seed".into(), json!(s));
    }
    match &req.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::JsonObject => {
            config.insert("responseMimeType".into(), json!("application/json"));
        }
        ResponseFormat::JsonSchema(f) => {
            config.insert("responseMimeType".into(), json!("application/json"));
            config.insert("responseJsonSchema".into(), schema::portable(&f.schema));
        }
    }
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut d = json!({"name": t.name, "parametersJsonSchema": schema::portable(&t.parameters)});
                if let Some(desc) = &t.description {
                    d["description"] = json!(desc);
                }
                d
            })
            .collect();
        body.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    if let Some(c) = &req.tool_choice {
        let cfg = match c {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Tool(n) => json!({"mode": "ANY", "allowedFunctionNames": [n]}),
        };
        body.insert("toolConfig".into(), json!({"functionCallingConfig": cfg}));
    }
    for (k, v) in &req.extra {
        body.insert(k.clone(), v.clone());
    }
    Value::Object(body)
}

fn finish_reason(raw: &str, called_tools: bool) -> FinishReason {
    match raw {
        "STOP" if called_tools => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

fn usage(v: &Value) -> Option<Usage> {
    let m = v.get("usageMetadata")?;
    let n = |k: &str| m.get(k).and_then(Value::as_u64);
    let thoughts = n("thoughtsTokenCount");
    let mut u = Usage::new(
        n("promptTokenCount").unwrap_or(0),
        n("candidatesTokenCount").unwrap_or(0) + thoughts.unwrap_or(0),
    );
    u.cached_tokens = n("cachedContentTokenCount");
    u.reasoning_tokens = thoughts;
    Some(u)
}

fn blocked(v: &Value) -> Option<CallError> {
    let no_candidates = v
        .get("candidates")
        .and_then(Value::as_array)
        .is_none_or(|c| c.is_empty());
    let reason = v
        .get("promptFeedback")
        .and_then(|p| p.get("blockReason"))
        .and_then(Value::as_str)?;
    no_candidates.then(|| {
        CallError::Blocked(Box::new(BlockedError {
            reason: reason.to_owned(),
            request_id: v
                .get("responseId")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }))
    })
}

/// The parts of the first candidate: (text, tool calls), skipping thought parts.
fn parts(v: &Value) -> (String, Vec<ToolCall>) {
    let mut text = String::new();
    let mut calls = Vec::new();
    let parts = v
        .get("candidates")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("content"))
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array);
    for p in parts.into_iter().flatten() {
        if p.get("thought").and_then(Value::as_bool) == Some(true) {
            continue;
        }
        if let Some(t) = p.get("text").and_then(Value::as_str) {
            text.push_str(t);
        }
        if let Some(f) = p.get("functionCall") {
            calls.push(ToolCall::from_value(
                f.get("id").and_then(Value::as_str).map(str::to_owned),
                f.get("name").and_then(Value::as_str).unwrap_or_default(),
                f.get("args").cloned().unwrap_or_else(|| json!({})),
            ));
        }
    }
    (text, calls)
}

fn candidate_finish(v: &Value) -> Option<&str> {
    v.get("candidates")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("finishReason"))
        .and_then(Value::as_str)
}

/// Parses a `generateContent` response body.
///
/// A blocked prompt (`promptFeedback.blockReason`, no candidates) is
/// [`CallError::Blocked`]; no candidates for any other reason is a decode failure.
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, CallError> {
    let v: Value = crate::http::from_json(body)
        .map_err(|e| CallError::decode(format!("not a GenerateContentResponse: {e}"), body))?;
    if !v.is_object() {
        return Err(CallError::decode(
            "not a GenerateContentResponse object",
            body,
        ));
    }
    if let Some(b) = blocked(&v) {
        return Err(b);
    }
    if v.get("candidates").and_then(|c| c.get(0)).is_none() {
        return Err(CallError::decode("the response has no candidates", body));
    }
    let (text, tool_calls) = parts(&v);
    let finish_reason = match candidate_finish(&v) {
        Some(r) => finish_reason(r, !tool_calls.is_empty()),
        None => FinishReason::Other("missing".into()),
    };
    let mut resp = ChatResponse::text(text);
    resp.tool_calls = tool_calls;
    resp.refusal = None;
    resp.finish_reason = finish_reason;
    resp.usage = usage(&v);
    resp.model = v
        .get("modelVersion")
        .and_then(Value::as_str)
        .map(str::to_owned);
    resp.request_id = v
        .get("responseId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(resp)
}

/// Decodes `streamGenerateContent?alt=sse` chunks. There is no terminator: the stream is
/// complete when a chunk carried a `finishReason`, truncated otherwise.
pub(crate) struct GeminiDecoder {
    request_id: Option<String>,
    started: bool,
    finished: bool,
    tools: u32,
}

impl GeminiDecoder {
    pub(crate) fn new(request_id: Option<String>) -> Self {
        Self {
            request_id,
            started: false,
            finished: false,
            tools: 0,
        }
    }
}

impl Decoder for GeminiDecoder {
    fn event(
        &mut self,
        _event: &str,
        data: &str,
        out: &mut Vec<ChatChunk>,
    ) -> Result<Flow, CallError> {
        if data.trim().is_empty() {
            return Ok(Flow::More);
        }
        let v: Value = sse::json(data)?;
        if v.get("error").is_some() {
            return Err(crate::openai::stream_error(&v, data));
        }
        if !v.is_object() {
            return Err(CallError::decode(
                "a stream chunk is not a JSON object",
                data.as_bytes(),
            ));
        }
        if let Some(b) = blocked(&v) {
            return Err(b);
        }
        if !self.started {
            self.started = true;
            out.push(ChatChunk::Started {
                model: v
                    .get("modelVersion")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                request_id: self.request_id.clone().or_else(|| {
                    v.get("responseId")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                }),
            });
        }
        let (text, calls) = parts(&v);
        if !text.is_empty() {
            out.push(ChatChunk::Text { delta: text });
        }
        for c in calls {
            out.push(ChatChunk::ToolCall(ToolCallDelta {
                index: self.tools,
                id: c.id,
                name: Some(c.name),
                arguments: c.arguments_raw,
            }));
            self.tools += 1;
        }
        if let Some(r) = candidate_finish(&v) {
            self.finished = true;
            out.push(ChatChunk::Finish {
                reason: finish_reason(r, self.tools > 0),
            });
        }
        if let Some(u) = usage(&v) {
            out.push(ChatChunk::Usage(u));
        }
        Ok(Flow::More)
    }

    fn complete_at_eof(&self) -> bool {
        self.finished
    }
}
