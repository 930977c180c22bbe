//! AWS Bedrock's Converse API (`POST /model/{modelId}/converse`) and ConverseStream
//! (`/converse-stream`, answered in the `application/vnd.amazon.eventstream` framing),
//! signed with SigV4 by `aws-sigv4`.
//!
//! Shapes are those of the Bedrock Runtime service model (botocore 1.44.18,
//! `botocore/data/bedrock-runtime/2023-09-30/service-2.json`): `ConverseRequest`
//! (`messages` of `ContentBlock`s, `system`, `inferenceConfig`, `toolConfig`),
//! `ConverseResponse` (`output.message`, `stopReason`, `usage`), `ConverseStreamOutput`
//! (`messageStart`, `contentBlockStart`, `contentBlockDelta`, `contentBlockStop`,
//! `messageStop`, `metadata`, and the exceptions `internalServerException`,
//! `modelStreamErrorException`, `validationException`, `throttlingException`,
//! `serviceUnavailableException`). Errors name their type in the `x-amzn-ErrorType`
//! header (a stream's exceptions in `:exception-type`), the body is `{"message"}`.

mod credentials;
pub(crate) mod eventstream;

use std::collections::HashMap;
use std::time::SystemTime;

use async_trait::async_trait;
use nb_core::{
    ApiError, CallError, ChatChunk, ChatRequest, ChatResponse, ChatStream, FinishReason,
    HeaderFacts, Provider, ProviderError, ResponseFormat, Role, ToolCall, ToolCallDelta,
    ToolChoice, Usage,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value, json};

pub use credentials::AwsCredentials;

use crate::config::{Common, ConfigError, ConfigErrorKind, Limits, checked_base_url};
use crate::http::{Http, Outgoing};
use crate::schema;
use crate::sse::{self, Decoder, Flow};

/// Builds a [`Bedrock`] adapter.
#[derive(Debug)]
#[must_use]
pub struct BedrockBuilder {
    model: String,
    region: Option<String>,
    base_url: Option<String>,
    credentials: Option<AwsCredentials>,
    common: Common,
}

impl BedrockBuilder {
    /// The AWS region (default: `AWS_REGION`, else `AWS_DEFAULT_REGION`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// Overrides the endpoint (default `https://bedrock-runtime.{region}.amazonaws.com`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Uses these credentials instead of the environment's or the profile's.
    pub fn credentials(mut self, c: AwsCredentials) -> Self {
        self.credentials = Some(c);
        self
    }

    /// Allows sending signed requests over plain HTTP to a host that is not loopback.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.common.allow_insecure_http = allow;
        self
    }

    /// Sets the adapter's timeouts.
    pub fn timeouts(mut self, t: crate::Timeouts) -> Self {
        self.common.timeouts = t;
        self
    }

    /// Sets the body and stream limits (`max_sse_line_bytes` bounds one event-stream
    /// message).
    pub fn limits(mut self, l: Limits) -> Self {
        self.common.limits = l;
        self
    }

    /// Shares a [`reqwest::Client`](crate::reqwest::Client) with other adapters.
    pub fn client(mut self, c: crate::reqwest::Client) -> Self {
        self.common.client = Some(c);
        self
    }

    /// Builds the adapter: credentials from the builder, else the environment, else the
    /// shared credentials file's profile.
    pub fn build(self) -> Result<Bedrock, ConfigError> {
        let region = match self.region {
            Some(r) => r,
            None => std::env::var("AWS_REGION")
                .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
                .map_err(|_| {
                    ConfigError::new(
                        ConfigErrorKind::Invalid,
                        "no AWS region: set AWS_REGION or give one to the builder",
                    )
                })?,
        };
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Invalid,
                format!("{region:?} is not an AWS region"),
            ));
        }
        let credentials = match self.credentials {
            Some(c) => c,
            None => AwsCredentials::resolve()?,
        };
        let base = self
            .base_url
            .unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
        let base = checked_base_url(&base, true, self.common.allow_insecure_http)?;
        let limits = self.common.limits;
        // The SSE line bound does not apply to binary frames; the framer bounds each
        // message by it instead.
        let http_limits = Limits {
            max_sse_line_bytes: usize::MAX,
            ..limits
        };
        Ok(Bedrock {
            http: Http::new(self.common.client, self.common.timeouts, http_limits)?,
            model: self.model,
            region,
            base,
            credentials,
            limits,
        })
    }
}

/// An AWS Bedrock adapter (Converse and ConverseStream) for one model id, inference
/// profile or ARN.
///
/// ```no_run
/// use nb_providers::Bedrock;
/// # fn f() -> Result<(), nb_providers::ConfigError> {
/// // AWS_REGION and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or ~/.aws/credentials).
/// let claude = Bedrock::builder("anthropic.claude-3-5-haiku-20241022-v1:0").build()?;
/// # Ok(()) }
/// ```
pub struct Bedrock {
    http: Http,
    model: String,
    region: String,
    base: url::Url,
    credentials: AwsCredentials,
    limits: Limits,
}

impl std::fmt::Debug for Bedrock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bedrock")
            .field("model", &self.model)
            .field("region", &self.region)
            .field("base", &self.base.as_str())
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// Percent-encodes a path segment as AWS does: everything but unreserved characters
/// (a model id's `:` becomes `%3A`).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Bedrock {
    /// A builder for `model` (a model id such as
    /// `anthropic.claude-3-5-haiku-20241022-v1:0`, an inference profile or an ARN).
    pub fn builder(model: impl Into<String>) -> BedrockBuilder {
        BedrockBuilder {
            model: model.into(),
            region: None,
            base_url: None,
            credentials: None,
            common: Common::default(),
        }
    }

    /// The model this adapter asks for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The wire body this adapter sends for `req` (useful for logging and tests).
    pub fn body(&self, req: &ChatRequest) -> Value {
        request_body(req)
    }

    /// The request for `req`, signed now.
    fn signed(&self, req: &ChatRequest, stream: bool) -> Result<Outgoing, CallError> {
        let action = if stream {
            "converse-stream"
        } else {
            "converse"
        };
        let path = format!("model/{}/{action}", encode_segment(&self.model));
        let url = crate::openai::join(&self.base, &path).map_err(|e| CallError::Unsupported {
            what: e.to_string(),
        })?;
        let body = serde_json::to_vec(&self.body(req)).map_err(|e| CallError::Unsupported {
            what: format!("the request does not serialize: {e}"),
        })?;
        let headers = sign(
            &self.credentials,
            &self.region,
            &url,
            &body,
            stream,
            SystemTime::now(),
        )?;
        Ok(Outgoing { url, headers, body })
    }
}

/// SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a POST of
/// `body` to `url`, signed at `time` for service `bedrock`. `content-type` and `host`
/// are signed as reqwest will send them.
pub(crate) fn sign(
    creds: &AwsCredentials,
    region: &str,
    url: &url::Url,
    body: &[u8],
    stream: bool,
    time: SystemTime,
) -> Result<HeaderMap, CallError> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let fail = |what: String| CallError::Unsupported { what };
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(fail("the endpoint has no host".into())),
    };
    let mut plain = vec![
        ("host", host.as_str()),
        ("content-type", "application/json"),
    ];
    if stream {
        plain.push(("accept", "application/vnd.amazon.eventstream"));
    }
    let identity = creds.to_smithy().into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| fail(format!("cannot sign: {e}")))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        url.as_str(),
        plain.iter().copied(),
        SignableBody::Bytes(body),
    )
    .map_err(|e| fail(format!("cannot sign: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| fail(format!("cannot sign: {e}")))?
        .into_parts();
    let mut headers = HeaderMap::new();
    if stream {
        headers.insert(
            "accept",
            HeaderValue::from_static("application/vnd.amazon.eventstream"),
        );
    }
    for (name, value) in instructions.headers() {
        let mut v = HeaderValue::from_str(value)
            .map_err(|_| fail("a signed header is not ASCII".into()))?;
        // The signature and the session token are secrets of the request.
        v.set_sensitive(
            name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("x-amz-security-token"),
        );
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| fail("a signed header name is invalid".into()))?;
        headers.insert(name, v);
    }
    Ok(headers)
}

#[async_trait]
impl Provider for Bedrock {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let out = self.signed(req, false)?;
        let secrets = self.credentials.secrets();
        self.http
            .whole(out, parse_response, |_| None)
            .await
            .map_err(|e| scrub(e, &secrets))
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        let out = self.signed(req, true)?;
        let framer = eventstream::EventStreamFramer::new(self.limits.max_sse_line_bytes);
        let model = self.model.clone();
        self.http
            .streamed_framed(out, framer, |request_id| {
                BedrockDecoder::new(request_id, Some(model))
            })
            .await
    }
}

/// The signing secret never goes over the wire, but a session token does: redact both
/// from anything an error kept.
fn scrub(e: CallError, secrets: &[String]) -> CallError {
    match e {
        CallError::Decode(mut d) => {
            for s in secrets {
                if !s.is_empty() {
                    d.snippet = d.snippet.replace(s.as_str(), "[redacted]");
                }
            }
            CallError::Decode(d)
        }
        other => other,
    }
}

/// The `ConverseRequest` body for `req` (the model id travels in the path).
pub(crate) fn request_body(req: &ChatRequest) -> Value {
    let mut body = Map::new();
    let system: Vec<Value> = req
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| json!({"text": m.text()}))
        .collect();
    let mut messages: Vec<Value> = Vec::new();
    for m in req.messages.iter().filter(|m| m.role != Role::System) {
        // Tool results travel in a user turn; consecutive turns of one role merge, as
        // the API requires alternation.
        let role = if m.role == Role::Assistant {
            "assistant"
        } else {
            "user"
        };
        let content = blocks(m);
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(a) = last["content"].as_array_mut() {
                    a.extend(content);
                }
            }
            _ => messages.push(json!({"role": role, "content": content})),
        }
    }
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let mut inference = Map::new();
    if let Some(n) = req.max_tokens {
        inference.insert("maxTokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        inference.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        inference.insert("topP".into(), json!(p));
    }
    if !req.stop.is_empty() {
        inference.insert("stopSequences".into(), json!(req.stop));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let mut tools: Vec<Value> = req
        .tools
        .iter()
        .map(|t| {
            let mut spec =
                json!({"name": t.name, "inputSchema": {"json": schema::portable(&t.parameters)}});
            if let Some(d) = &t.description {
                spec["description"] = json!(d);
            }
            json!({"toolSpec": spec})
        })
        .collect();
    let mut choice = req.tool_choice.clone();
    // Converse has no JSON mode: a schema travels as a tool the model must call, whose
    // input is the answer (the tool-use pattern AWS documents for structured output).
    if let ResponseFormat::JsonSchema(f) = &req.response_format {
        let name = schema::schema_name(&f.name);
        tools.push(
            json!({"toolSpec": {"name": name, "description": "Answer with this structure.",
            "inputSchema": {"json": schema::portable(&f.schema)}}}),
        );
        choice = Some(ToolChoice::Tool(name));
    }
    if !tools.is_empty() {
        let mut config = json!({"tools": tools});
        match choice {
            Some(ToolChoice::Auto) => config["toolChoice"] = json!({"auto": {}}),
            Some(ToolChoice::Required) => config["toolChoice"] = json!({"any": {}}),
            Some(ToolChoice::Tool(name)) => config["toolChoice"] = json!({"tool": {"name": name}}),
            // `none` has no Converse form: the tools are not offered.
            Some(ToolChoice::None) => config = Value::Null,
            None => {}
        }
        if !config.is_null() {
            body.insert("toolConfig".into(), config);
        }
    }
    for (k, v) in &req.extra {
        body.insert(k.clone(), v.clone());
    }
    Value::Object(body)
}

/// A message's content blocks: `text`, `image` / `document` (bytes only; a URL cannot be
/// sent), `toolUse`, `toolResult`.
fn blocks(m: &nb_core::Message) -> Vec<Value> {
    use nb_core::{Media, Part};
    let format_of = |media_type: &str| {
        media_type
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_start_matches("x-")
            .to_owned()
    };
    m.parts
        .iter()
        .filter_map(|p| match p {
            Part::Text { text, .. } if !text.is_empty() => Some(json!({"text": text})),
            Part::Image {
                source: Media::Base64 { media_type, data },
                ..
            } => Some(json!({"image": {"format": format_of(media_type), "source": {"bytes": data}}})),
            Part::Document {
                source: Media::Base64 { media_type, data },
                name,
                ..
            } => Some(json!({"document": {"format": format_of(media_type),
                "name": name.clone().unwrap_or_else(|| "document".into()), "source": {"bytes": data}}})),
            Part::ToolCall { call } => Some(json!({"toolUse": {
                "toolUseId": call.id.clone().unwrap_or_default(), "name": call.name,
                "input": call.arguments.clone().unwrap_or_else(|| json!({}))}})),
            Part::ToolResult {
                call_id,
                content,
                is_error,
                ..
            } => {
                let mut r = json!({"toolUseId": call_id, "content": [{"text": content}]});
                if *is_error {
                    r["status"] = json!("error");
                }
                Some(json!({"toolResult": r}))
            }
            _ => None,
        })
        .collect()
}

/// Maps a Converse `StopReason`.
fn stop_reason(raw: &str) -> FinishReason {
    match raw {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// `TokenUsage`: `inputTokens`, `outputTokens`, `cacheReadInputTokens`,
/// `cacheWriteInputTokens`.
fn usage(u: &Value) -> Option<Usage> {
    let n = |k: &str| u.get(k).and_then(Value::as_u64);
    let mut out = Usage::new(n("inputTokens")?, n("outputTokens").unwrap_or(0));
    out.cached_tokens = n("cacheReadInputTokens");
    out.cache_write_tokens = n("cacheWriteInputTokens");
    Some(out)
}

/// Parses a `ConverseResponse`.
pub(crate) fn parse_response(body: &[u8]) -> Result<ChatResponse, CallError> {
    let v: Value = crate::http::from_json(body)
        .map_err(|e| CallError::decode(format!("not a Converse response: {e}"), body))?;
    let Some(content) = v
        .get("output")
        .and_then(|o| o.get("message"))
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
    else {
        return Err(CallError::decode(
            "the response has no output message",
            body,
        ));
    };
    let Some(reason) = v.get("stopReason").and_then(Value::as_str) else {
        return Err(CallError::decode("the response has no stopReason", body));
    };
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in content {
        if let Some(t) = block.get("text").and_then(Value::as_str) {
            text.push_str(t);
        } else if let Some(u) = block.get("toolUse") {
            tool_calls.push(ToolCall::from_value(
                u.get("toolUseId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                u.get("name").and_then(Value::as_str).unwrap_or_default(),
                u.get("input").cloned().unwrap_or(Value::Null),
            ));
        }
        // reasoningContent, citations and the rest are not answer text.
    }
    let mut resp = ChatResponse::text(text);
    resp.tool_calls = tool_calls;
    resp.finish_reason = stop_reason(reason);
    resp.usage = v.get("usage").and_then(usage);
    Ok(resp)
}

/// An exception of a stream (`throttlingException`) as the API error it names, by the
/// name its HTTP form has (`ThrottlingException`).
fn exception(kind: &str, data: &str) -> CallError {
    let v: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let mut ty = kind.to_owned();
    if let Some(first) = ty.get(..1) {
        let upper = first.to_ascii_uppercase();
        ty.replace_range(..1, &upper);
    }
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    CallError::Api(Box::new(ApiError {
        status: None,
        headers: HeaderFacts::default(),
        error: ProviderError {
            r#type: (!ty.is_empty()).then_some(ty),
            message,
            ..ProviderError::default()
        },
        body_snippet: None,
    }))
}

/// Decodes ConverseStream events. `messageStop` carries the finish reason and
/// `metadata` (the usage) follows it and ends the stream; a stream that ends after
/// `messageStop` without `metadata` is complete.
pub(crate) struct BedrockDecoder {
    request_id: Option<String>,
    model: Option<String>,
    started: bool,
    stopped: bool,
    /// `contentBlockIndex` of each tool-use block → its index among the tool calls.
    calls: HashMap<u64, u32>,
}

impl BedrockDecoder {
    pub(crate) fn new(request_id: Option<String>, model: Option<String>) -> Self {
        Self {
            request_id,
            model,
            started: false,
            stopped: false,
            calls: HashMap::new(),
        }
    }

    fn start(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push(ChatChunk::Started {
                model: self.model.clone(),
                request_id: self.request_id.clone(),
            });
        }
    }
}

impl Decoder for BedrockDecoder {
    fn event(
        &mut self,
        event: &str,
        data: &str,
        out: &mut Vec<ChatChunk>,
    ) -> Result<Flow, CallError> {
        if let Some(kind) = event
            .strip_prefix("exception:")
            .or_else(|| event.strip_prefix("error:"))
        {
            return Err(exception(kind, data));
        }
        let v: Value = if data.trim().is_empty() {
            Value::Null
        } else {
            sse::json(data)?
        };
        let index = v.get("contentBlockIndex").and_then(Value::as_u64);
        match event {
            "messageStart" => self.start(out),
            "contentBlockStart" => {
                self.start(out);
                if let Some(t) = v.get("start").and_then(|s| s.get("toolUse")) {
                    let i = u32::try_from(self.calls.len()).unwrap_or(u32::MAX);
                    if let Some(at) = index {
                        self.calls.insert(at, i);
                    }
                    out.push(ChatChunk::ToolCall(ToolCallDelta {
                        index: i,
                        id: t
                            .get("toolUseId")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        name: t.get("name").and_then(Value::as_str).map(str::to_owned),
                        arguments: String::new(),
                    }));
                }
            }
            "contentBlockDelta" => {
                self.start(out);
                let delta = v.get("delta").unwrap_or(&Value::Null);
                if let Some(t) = delta.get("text").and_then(Value::as_str) {
                    if !t.is_empty() {
                        out.push(ChatChunk::Text {
                            delta: t.to_owned(),
                        });
                    }
                } else if let Some(input) = delta
                    .get("toolUse")
                    .and_then(|u| u.get("input"))
                    .and_then(Value::as_str)
                {
                    let Some(&i) = index.and_then(|at| self.calls.get(&at)) else {
                        return Err(CallError::decode(
                            "tool input for a block that never started",
                            data.as_bytes(),
                        ));
                    };
                    out.push(ChatChunk::ToolCall(ToolCallDelta {
                        index: i,
                        id: None,
                        name: None,
                        arguments: input.to_owned(),
                    }));
                }
                // reasoningContent and citation deltas are not answer content.
            }
            "messageStop" => {
                let Some(r) = v.get("stopReason").and_then(Value::as_str) else {
                    return Err(CallError::decode(
                        "messageStop without a stopReason",
                        data.as_bytes(),
                    ));
                };
                self.start(out);
                self.stopped = true;
                out.push(ChatChunk::Finish {
                    reason: stop_reason(r),
                });
            }
            "metadata" => {
                if let Some(u) = v.get("usage").and_then(usage) {
                    out.push(ChatChunk::Usage(u));
                }
                if self.stopped {
                    return Ok(Flow::Done);
                }
            }
            // contentBlockStop and events added later carry nothing we need.
            _ => {}
        }
        Ok(Flow::More)
    }

    fn complete_at_eof(&self) -> bool {
        self.stopped
    }
}
