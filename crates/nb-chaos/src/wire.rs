//! The simulator's own rendering of each provider's wire format, written from the
//! providers' documented shapes (see `docs/failure-taxonomy.md` for the sources). It
//! shares no type with the adapters it tests.

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::scenario::WireFormat;

/// What the simulator read from a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct Incoming {
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) include_usage: bool,
    /// Every text of the request, for the context-window estimate.
    pub(crate) all_text_len: usize,
    /// The user turns, in order (the task is in the last one that holds one: a repair
    /// request adds a turn after it).
    pub(crate) user_texts: Vec<String>,
    pub(crate) wants_json: bool,
    /// Images and documents the request carried, checked against the format's shapes.
    pub(crate) media: usize,
    /// The tools offered: name and JSON Schema of the arguments, in order.
    pub(crate) tools: Vec<(String, Value)>,
    /// What `tool_choice` (Gemini: `toolConfig`) asks.
    pub(crate) tool_choice: ToolWant,
    /// The last turn carries a tool's result (OpenAI `tool` message, Anthropic
    /// `tool_result` block, Gemini `functionResponse` part).
    pub(crate) after_tool_result: bool,
}

/// What a request's tool choice asks, in any format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum ToolWant {
    /// Absent, or the model decides (`auto`, Gemini `AUTO`/`VALIDATED`).
    #[default]
    Auto,
    /// No tool may be called (`none`, Gemini `NONE`).
    None,
    /// Some tool must be called (OpenAI `required`, Anthropic `any`, Gemini `ANY`).
    Required,
    /// This tool must be called (OpenAI `{"type":"function","function":{"name"}}`,
    /// Anthropic `{"type":"tool","name"}`, Gemini `ANY` with one allowed name).
    Named(String),
}

impl ToolWant {
    /// Whether a tool call is required.
    pub(crate) fn requires(&self) -> bool {
        matches!(self, Self::Required | Self::Named(_))
    }
}

/// Reads the tools offered and the tool choice, in each format's documented request shape
/// (reference: provider-wire-facts.md §1.1 `tools`/`tool_choice`, §3.1, §5.1 `tools:
/// [{functionDeclarations}]`).
fn read_tools(
    format: WireFormat,
    obj: &serde_json::Map<String, Value>,
    inc: &mut Incoming,
) -> Result<(), String> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let tools = obj
        .get("tools")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    match format {
        WireFormat::OpenAi => {
            for (i, t) in tools.iter().enumerate() {
                let f = t.get("function").unwrap_or(&Value::Null);
                let name = s(f, "name").ok_or(format!(
                    "Missing required parameter: 'tools[{i}].function.name'."
                ))?;
                inc.tools
                    .push((name, f.get("parameters").cloned().unwrap_or(Value::Null)));
            }
            inc.tool_choice = match obj.get("tool_choice") {
                Some(Value::String(c)) if c == "none" => ToolWant::None,
                Some(Value::String(c)) if c == "required" => ToolWant::Required,
                Some(c @ Value::Object(_)) => match c.get("function").and_then(|f| s(f, "name")) {
                    Some(n) => ToolWant::Named(n),
                    None => {
                        return Err(
                            "Missing required parameter: 'tool_choice.function.name'.".into()
                        );
                    }
                },
                _ => ToolWant::Auto,
            };
        }
        WireFormat::Anthropic => {
            for (i, t) in tools.iter().enumerate() {
                let name = s(t, "name").ok_or(format!("tools.{i}.name: Field required"))?;
                inc.tools
                    .push((name, t.get("input_schema").cloned().unwrap_or(Value::Null)));
            }
            let c = obj.get("tool_choice").unwrap_or(&Value::Null);
            inc.tool_choice = match s(c, "type").as_deref() {
                Some("none") => ToolWant::None,
                Some("any") => ToolWant::Required,
                Some("tool") => {
                    ToolWant::Named(s(c, "name").ok_or("tool_choice.tool.name: Field required")?)
                }
                _ => ToolWant::Auto,
            };
        }
        // Read by `responses::parse_request`.
        WireFormat::OpenAiResponses => {}
        WireFormat::Gemini => {
            for t in &tools {
                for d in t
                    .get("functionDeclarations")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = s(d, "name").ok_or("* GenerateContentRequest.tools[0].function_declarations[0].name: Name cannot be empty.")?;
                    let params = d
                        .get("parametersJsonSchema")
                        .or_else(|| d.get("parameters"))
                        .cloned()
                        .unwrap_or(Value::Null);
                    inc.tools.push((name, params));
                }
            }
            let cfg = obj
                .get("toolConfig")
                .and_then(|c| c.get("functionCallingConfig"))
                .unwrap_or(&Value::Null);
            let allowed: Vec<String> = cfg
                .get("allowedFunctionNames")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|n| n.as_str().map(str::to_owned))
                .collect();
            inc.tool_choice = match s(cfg, "mode").as_deref() {
                Some("NONE") => ToolWant::None,
                Some("ANY") if allowed.len() == 1 => ToolWant::Named(allowed[0].clone()),
                Some("ANY") => ToolWant::Required,
                _ => ToolWant::Auto,
            };
        }
    }
    Ok(())
}

fn valid_base64(data: &str) -> bool {
    use base64::Engine as _;
    !data.is_empty()
        && base64::engine::general_purpose::STANDARD
            .decode(data)
            .is_ok()
}

/// Checks one content part (OpenAI chat content part, Anthropic content block or Gemini
/// part) against the documented shapes; counts images and documents.
fn check_part(format: WireFormat, p: &Value, at: &str, media: &mut usize) -> Result<(), String> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    match format {
        WireFormat::OpenAi => match s(p, "type").as_deref() {
            Some("text") if s(p, "text").is_some() => Ok(()),
            Some("image_url") => {
                let url = p
                    .get("image_url")
                    .and_then(|i| s(i, "url"))
                    .ok_or(format!("{at}.image_url.url is required"))?;
                *media += 1;
                match url.strip_prefix("data:") {
                    Some(rest) => {
                        let (head, data) = rest.split_once(',').unwrap_or((rest, ""));
                        if !head.starts_with("image/")
                            || !head.ends_with(";base64")
                            || !valid_base64(data)
                        {
                            return Err(format!("{at}: invalid image data URL"));
                        }
                        Ok(())
                    }
                    None if url.starts_with("https://") || url.starts_with("http://") => Ok(()),
                    None => Err(format!("{at}: invalid image URL")),
                }
            }
            Some("file") => {
                let f = p.get("file").ok_or(format!("{at}.file is required"))?;
                *media += 1;
                match (s(f, "file_data"), s(f, "file_id")) {
                    (Some(d), _) => {
                        let data = d.split_once(";base64,").map(|x| x.1).unwrap_or("");
                        if valid_base64(data) {
                            Ok(())
                        } else {
                            Err(format!("{at}.file.file_data: invalid base64 data URL"))
                        }
                    }
                    (None, Some(_)) => Ok(()),
                    (None, None) => Err(format!("{at}.file: file_data or file_id is required")),
                }
            }
            other => Err(format!("Invalid value for '{at}.type': {other:?}")),
        },
        WireFormat::Anthropic => match s(p, "type").as_deref() {
            Some("text") if s(p, "text").is_some() => Ok(()),
            Some(kind @ ("image" | "document")) => {
                let src = p
                    .get("source")
                    .ok_or(format!("{at}.source: Field required"))?;
                *media += 1;
                match s(src, "type").as_deref() {
                    Some("base64") => {
                        let mt = s(src, "media_type").unwrap_or_default();
                        let ok_type = if kind == "image" {
                            matches!(
                                mt.as_str(),
                                "image/jpeg" | "image/png" | "image/gif" | "image/webp"
                            )
                        } else {
                            mt == "application/pdf"
                        };
                        if !ok_type {
                            return Err(format!("{at}.source.media_type: unsupported {mt:?}"));
                        }
                        if valid_base64(&s(src, "data").unwrap_or_default()) {
                            Ok(())
                        } else {
                            Err(format!("{at}.source.data: invalid base64 data"))
                        }
                    }
                    Some("text") if kind == "document" && s(src, "data").is_some() => Ok(()),
                    Some("url") if s(src, "url").is_some() => Ok(()),
                    other => Err(format!("{at}.source.type: unexpected {other:?}")),
                }
            }
            Some("tool_use") if s(p, "id").is_some() && s(p, "name").is_some() => Ok(()),
            Some("tool_result") if s(p, "tool_use_id").is_some() => Ok(()),
            other => Err(format!("{at}.type: unexpected value {other:?}")),
        },
        // Checked by `responses::parse_request`.
        WireFormat::OpenAiResponses => Ok(()),
        WireFormat::Gemini => {
            let fields = [
                "text",
                "inlineData",
                "fileData",
                "functionCall",
                "functionResponse",
            ];
            let present: Vec<&str> = fields.into_iter().filter(|f| p.get(*f).is_some()).collect();
            if present.len() != 1 {
                return Err(format!("{at}: a part holds exactly one of {fields:?}"));
            }
            match present[0] {
                "inlineData" => {
                    let d = &p["inlineData"];
                    *media += 1;
                    if s(d, "mimeType").is_none()
                        || !valid_base64(&s(d, "data").unwrap_or_default())
                    {
                        return Err(format!(
                            "{at}.inlineData: mimeType and base64 data are required"
                        ));
                    }
                    Ok(())
                }
                "fileData" => {
                    *media += 1;
                    s(&p["fileData"], "fileUri")
                        .map(|_| ())
                        .ok_or(format!("{at}.fileData.fileUri is required"))
                }
                "functionResponse" if !p["functionResponse"]["response"].is_object() => {
                    Err(format!("{at}.functionResponse.response must be an object"))
                }
                _ => Ok(()),
            }
        }
    }
}

fn check_parts(
    format: WireFormat,
    content: &Value,
    at: &str,
    media: &mut usize,
) -> Result<(), String> {
    if let Value::Array(parts) = content {
        for (i, p) in parts.iter().enumerate() {
            check_part(format, p, &format!("{at}[{i}]"), media)?;
        }
    }
    Ok(())
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Reads a request body. `Err` holds the reason for a 400.
pub(crate) fn parse_request(
    format: WireFormat,
    path_model: Option<&str>,
    path_stream: bool,
    body: &[u8],
) -> Result<Incoming, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let obj = v.as_object().ok_or("the body is not a JSON object")?;
    if format == WireFormat::OpenAiResponses {
        return crate::responses::parse_request(obj);
    }
    let mut inc = Incoming::default();
    match format {
        WireFormat::OpenAi | WireFormat::Anthropic => {
            inc.model = obj
                .get("model")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| path_model.map(str::to_owned))
                .ok_or("you must provide a model parameter")?;
            let messages = obj
                .get("messages")
                .and_then(Value::as_array)
                .ok_or("'messages' is a required property")?;
            if messages.is_empty() {
                return Err("'messages' must contain at least one message".into());
            }
            for (i, m) in messages.iter().enumerate() {
                let content = m.get("content").unwrap_or(&Value::Null);
                check_parts(
                    format,
                    content,
                    &format!("messages[{i}].content"),
                    &mut inc.media,
                )?;
                if format == WireFormat::OpenAi
                    && m.get("role").and_then(Value::as_str) == Some("tool")
                    && m.get("tool_call_id").and_then(Value::as_str).is_none()
                {
                    return Err(format!(
                        "messages[{i}]: 'tool_call_id' is required for a tool message"
                    ));
                }
                let t = text_of(content);
                inc.all_text_len += t.len();
                if m.get("role").and_then(Value::as_str) == Some("user") {
                    inc.user_texts.push(t);
                }
            }
            if let Some(sys) = obj.get("system") {
                inc.all_text_len += text_of(sys).len();
            }
            let last = messages.last().unwrap_or(&Value::Null);
            inc.after_tool_result = match format {
                WireFormat::OpenAi => last.get("role").and_then(Value::as_str) == Some("tool"),
                _ => last
                    .get("content")
                    .and_then(Value::as_array)
                    .is_some_and(|parts| {
                        parts
                            .iter()
                            .any(|p| p.get("type").and_then(Value::as_str) == Some("tool_result"))
                    }),
            };
            inc.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
            inc.include_usage = obj
                .get("stream_options")
                .and_then(|o| o.get("include_usage"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            inc.wants_json = match format {
                WireFormat::OpenAi => obj
                    .get("response_format")
                    .and_then(|r| r.get("type"))
                    .and_then(Value::as_str)
                    .is_some_and(|t| t == "json_object" || t == "json_schema"),
                _ => obj
                    .get("output_config")
                    .and_then(|o| o.get("format"))
                    .is_some(),
            };
            if format == WireFormat::Anthropic
                && obj.get("max_tokens").and_then(Value::as_u64).is_none()
            {
                return Err("max_tokens: Field required".into());
            }
        }
        WireFormat::OpenAiResponses => {}
        WireFormat::Gemini => {
            inc.model = path_model.unwrap_or_default().to_owned();
            let contents = obj
                .get("contents")
                .and_then(Value::as_array)
                .ok_or("* GenerateContentRequest.contents: contents is not specified")?;
            for (i, c) in contents.iter().enumerate() {
                let parts = c.get("parts").unwrap_or(&Value::Null);
                check_parts(
                    format,
                    parts,
                    &format!("contents[{i}].parts"),
                    &mut inc.media,
                )?;
                let t = text_of(parts);
                inc.all_text_len += t.len();
                if c.get("role").and_then(Value::as_str) != Some("model") {
                    inc.user_texts.push(t);
                }
            }
            if let Some(sys) = obj.get("systemInstruction").and_then(|s| s.get("parts")) {
                inc.all_text_len += text_of(sys).len();
            }
            inc.after_tool_result = contents
                .last()
                .and_then(|c| c.get("parts"))
                .and_then(Value::as_array)
                .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()));
            inc.stream = path_stream;
            inc.wants_json = obj
                .get("generationConfig")
                .and_then(|g| g.get("responseMimeType"))
                .and_then(Value::as_str)
                == Some("application/json");
        }
    }
    read_tools(format, obj, &mut inc)?;
    Ok(inc)
}

/// How an answer ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Stop,
    ContentFilter,
    Refusal,
}

/// Failures the simulator answers with an error status.
#[derive(Debug, Clone)]
pub(crate) enum ErrorKind {
    RateLimit { retry_after_s: Option<f64> },
    Quota,
    Overloaded,
    Server { status: u16, html: bool },
    Unauthorized,
    Forbidden,
    ModelNotFound,
    ContextLength { tokens: u64, limit: u64 },
    InvalidRequest(String),
}

/// A rendered error: status, extra headers, body, content type.
pub(crate) struct ErrorResponse {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    pub(crate) content_type: &'static str,
}

fn rfc3339_in(secs: f64) -> String {
    let at = SystemTime::now() + Duration::from_secs_f64(secs.max(0.0));
    humantime::format_rfc3339_seconds(at).to_string()
}

fn html_page(status: u16) -> String {
    let title = match status {
        502 => "502 Bad Gateway",
        504 => "504 Gateway Time-out",
        _ => "500 Internal Server Error",
    };
    format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
    )
}

/// Renders `kind` in `format`'s documented error shape.
pub(crate) fn error(
    format: WireFormat,
    kind: &ErrorKind,
    model: &str,
    request_id: &str,
) -> ErrorResponse {
    let mut headers: Vec<(&'static str, String)> = Vec::new();
    if let ErrorKind::Server { status, html: true } = kind {
        return ErrorResponse {
            status: *status,
            headers,
            body: html_page(*status),
            content_type: "text/html",
        };
    }
    let (status, body) = match format {
        // The Responses API errors in Chat Completions' shape (provider-wire-facts §2).
        WireFormat::OpenAi | WireFormat::OpenAiResponses => {
            let e = |message: String, ty: &str, param: Value, code: Value| json!({"error": {"message": message, "type": ty, "param": param, "code": code}});
            match kind {
                ErrorKind::RateLimit { retry_after_s } => {
                    let s = retry_after_s.unwrap_or(1.0);
                    if let Some(r) = retry_after_s {
                        headers.push(("retry-after", format_secs(*r)));
                    }
                    headers.push(("x-ratelimit-limit-requests", "60".into()));
                    headers.push(("x-ratelimit-remaining-requests", "0".into()));
                    headers.push(("x-ratelimit-reset-requests", format!("{}s", format_secs(s))));
                    headers.push(("x-ratelimit-limit-tokens", "30000".into()));
                    headers.push(("x-ratelimit-remaining-tokens", "29000".into()));
                    headers.push(("x-ratelimit-reset-tokens", "2s".into()));
                    (429, e(format!("Rate limit reached for {model} in organization org-chaos on requests per min (RPM): Limit 60, Used 60, Requested 1. Please try again in {}s. Visit https://platform.openai.com/account/rate-limits to learn more.", format_secs(s)), "requests", Value::Null, json!("rate_limit_exceeded")))
                }
                ErrorKind::Quota => (429, e("You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.".into(), "insufficient_quota", Value::Null, json!("insufficient_quota"))),
                ErrorKind::Overloaded => (503, e("The server is overloaded or not ready yet.".into(), "service_unavailable_error", Value::Null, json!("server_is_overloaded"))),
                ErrorKind::Server { status, .. } => (*status, e("The server had an error while processing your request. Sorry about that!".into(), "server_error", Value::Null, Value::Null)),
                ErrorKind::Unauthorized => (401, e("Incorrect API key provided: sk-chao************. You can find your API key at https://platform.openai.com/account/api-keys.".into(), "invalid_request_error", Value::Null, json!("invalid_api_key"))),
                ErrorKind::Forbidden => (403, e("Country, region, or territory not supported".into(), "request_forbidden", Value::Null, json!("unsupported_country_region_territory"))),
                ErrorKind::ModelNotFound => (404, e(format!("The model `{model}` does not exist or you do not have access to it."), "invalid_request_error", Value::Null, json!("model_not_found"))),
                ErrorKind::ContextLength { tokens, limit } => (400, e(format!("This model's maximum context length is {limit} tokens. However, your messages resulted in {tokens} tokens. Please reduce the length of the messages."), "invalid_request_error", json!("messages"), json!("context_length_exceeded"))),
                ErrorKind::InvalidRequest(m) => (400, e(m.clone(), "invalid_request_error", Value::Null, Value::Null)),
            }
        }
        WireFormat::Anthropic => {
            headers.push(("request-id", request_id.to_owned()));
            let e = |ty: &str, message: String| json!({"type": "error", "error": {"type": ty, "message": message}, "request_id": request_id});
            match kind {
                ErrorKind::RateLimit { retry_after_s } => {
                    let s = retry_after_s.unwrap_or(1.0);
                    if let Some(r) = retry_after_s {
                        headers.push(("retry-after", format_secs(r.ceil())));
                    }
                    headers.push(("anthropic-ratelimit-requests-limit", "50".into()));
                    headers.push(("anthropic-ratelimit-requests-remaining", "0".into()));
                    headers.push(("anthropic-ratelimit-requests-reset", rfc3339_in(s)));
                    (429, e("rate_limit_error", "This request would exceed your organization's rate limit of 50 requests per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.".into()))
                }
                ErrorKind::Quota => {
                    let mut b = e("rate_limit_error", "You have reached your specified API usage limits. You will regain access on 2026-12-01 at 00:00 UTC.".into());
                    b["error"]["details"] = json!({"error_code": "enforced_spend_limit_reached"});
                    (429, b)
                }
                ErrorKind::Overloaded => (529, e("overloaded_error", "Overloaded".into())),
                ErrorKind::Server { status: 504, .. } => (
                    504,
                    e(
                        "timeout_error",
                        "Request timeout: consider streaming.".into(),
                    ),
                ),
                ErrorKind::Server { status, .. } => {
                    (*status, e("api_error", "Internal server error".into()))
                }
                ErrorKind::Unauthorized => {
                    (401, e("authentication_error", "invalid x-api-key".into()))
                }
                ErrorKind::Forbidden => (
                    403,
                    e(
                        "permission_error",
                        "Your API key does not have permission to use the specified resource."
                            .into(),
                    ),
                ),
                ErrorKind::ModelNotFound => (404, e("not_found_error", format!("model: {model}"))),
                ErrorKind::ContextLength { tokens, limit } => (
                    400,
                    e(
                        "invalid_request_error",
                        format!("prompt is too long: {tokens} tokens > {limit} maximum"),
                    ),
                ),
                ErrorKind::InvalidRequest(m) => (400, e("invalid_request_error", m.clone())),
            }
        }
        WireFormat::Gemini => {
            let e = |code: u16, status: &str, message: String, details: Value| {
                let mut v = json!({"error": {"code": code, "message": message, "status": status}});
                if details.as_array().is_some_and(|d| !d.is_empty()) {
                    v["error"]["details"] = details;
                }
                (code, v)
            };
            let quota = |id: &str| json!({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": id, "quotaDimensions": {"location": "global", "model": model}, "quotaValue": "10"}]});
            match kind {
                ErrorKind::RateLimit { retry_after_s } => {
                    let mut d = vec![quota("GenerateRequestsPerMinutePerProjectPerModel-FreeTier")];
                    if let Some(r) = retry_after_s {
                        d.push(json!({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{}s", format_secs(*r))}));
                    }
                    e(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.".into(), Value::Array(d))
                }
                ErrorKind::Quota => e(429, "RESOURCE_EXHAUSTED", "You exceeded your current quota, please check your plan and billing details.".into(), json!([quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier")])),
                ErrorKind::Overloaded => e(503, "UNAVAILABLE", "The model is overloaded. Please try again later.".into(), json!([])),
                ErrorKind::Server { status: 504, .. } => e(504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.".into(), json!([])),
                ErrorKind::Server { status, .. } => e(*status, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting".into(), json!([])),
                // Gemini answers a bad key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID.
                ErrorKind::Unauthorized => e(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.".into(), json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}])),
                ErrorKind::Forbidden => e(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.".into(), json!([])),
                ErrorKind::ModelNotFound => e(404, "NOT_FOUND", format!("models/{model} is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."), json!([])),
                ErrorKind::ContextLength { tokens, limit } => e(400, "INVALID_ARGUMENT", format!("The input token count ({tokens}) exceeds the maximum number of tokens allowed ({limit})."), json!([])),
                ErrorKind::InvalidRequest(m) => e(400, "INVALID_ARGUMENT", m.clone(), json!([])),
            }
        }
    };
    ErrorResponse {
        status,
        headers,
        body: body.to_string(),
        content_type: "application/json",
    }
}

fn format_secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}

/// Token estimate the simulator uses for usage and context windows.
pub(crate) fn tokens(len: usize) -> u64 {
    (len as u64).div_ceil(4).max(1)
}

/// A whole (non-streamed) success body.
pub(crate) fn success(
    format: WireFormat,
    model: &str,
    id: &str,
    text: &str,
    ending: Ending,
    prompt_tokens: u64,
) -> String {
    let out = tokens(text.len());
    match format {
        WireFormat::OpenAiResponses => {
            crate::responses::success(model, id, text, ending, prompt_tokens)
        }
        WireFormat::OpenAi => {
            let (content, refusal, finish) = match ending {
                Ending::Stop => (json!(text), Value::Null, "stop"),
                Ending::ContentFilter => (json!(""), Value::Null, "content_filter"),
                Ending::Refusal => (Value::Null, json!("I'm sorry, I can't help with that request."), "stop"),
            };
            json!({"id": id, "object": "chat.completion", "created": 1_764_000_000u64, "model": model,
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []}, "logprobs": null, "finish_reason": finish}],
                   "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": out, "total_tokens": prompt_tokens + out,
                             "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                             "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
                   "system_fingerprint": "fp_chaos"}).to_string()
        }
        WireFormat::Anthropic => {
            let (content, stop) = match ending {
                Ending::Stop => (json!([{"type": "text", "text": text}]), "end_turn"),
                // Anthropic has no content-filter stop reason; declining is `refusal`.
                Ending::ContentFilter | Ending::Refusal => (json!([]), "refusal"),
            };
            json!({"id": id, "type": "message", "role": "assistant", "model": model, "content": content,
                   "stop_reason": stop, "stop_sequence": null,
                   "usage": {"input_tokens": prompt_tokens, "output_tokens": out, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}).to_string()
        }
        WireFormat::Gemini => match ending {
            Ending::ContentFilter => json!({"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true}]},
                                            "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}, "modelVersion": model, "responseId": id}).to_string(),
            Ending::Refusal => json!({"candidates": [{"content": {"role": "model"}, "finishReason": "SAFETY", "index": 0}],
                                      "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}, "modelVersion": model, "responseId": id}).to_string(),
            Ending::Stop => json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}],
                                   "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": out, "totalTokenCount": prompt_tokens + out},
                                   "modelVersion": model, "responseId": id}).to_string(),
        },
    }
}

/// A 200 body with nothing usable: no choices, no content blocks, no candidates.
pub(crate) fn empty(format: WireFormat, model: &str, id: &str) -> String {
    match format {
        WireFormat::OpenAi => json!({"id": id, "object": "chat.completion", "created": 1_764_000_000u64, "model": model, "choices": []}),
        WireFormat::Anthropic => json!({"id": id, "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": "end_turn", "stop_sequence": null, "usage": {"input_tokens": 1, "output_tokens": 0}}),
        WireFormat::Gemini => json!({"candidates": [], "modelVersion": model, "responseId": id}),
        WireFormat::OpenAiResponses => return crate::responses::empty(model, id),
    }
    .to_string()
}

/// One piece of an SSE stream.
#[derive(Debug, Clone)]
pub(crate) enum Frame {
    /// Bytes to send.
    Data(String),
    /// A content-bearing frame (paced by tokens per second).
    Content(String),
}

fn sse(event: Option<&str>, data: &Value) -> String {
    match event {
        Some(e) => format!("event: {e}\ndata: {data}\n\n"),
        None => format!("data: {data}\n\n"),
    }
}

/// How a stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// Normally, with the format's terminator.
    Complete(Ending),
    /// After `n` content frames, with the format's mid-stream error event.
    ErrorAfter(u32),
    /// After `n` content frames, with nothing (no finish, no terminator).
    TruncateAfter(u32),
}

/// Splits text into stream pieces of about one token.
pub(crate) fn pieces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if cur.len() >= 4 || ch == ' ' {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The frames of a streamed answer.
pub(crate) fn stream(
    format: WireFormat,
    model: &str,
    id: &str,
    text: &str,
    end: StreamEnd,
    include_usage: bool,
    prompt_tokens: u64,
) -> Vec<Frame> {
    let parts = pieces(text);
    let limit = match end {
        StreamEnd::Complete(_) => usize::MAX,
        StreamEnd::ErrorAfter(n) | StreamEnd::TruncateAfter(n) => n as usize,
    };
    let out_tokens = tokens(text.len());
    let mut f = Vec::new();
    match format {
        WireFormat::OpenAiResponses => {
            return crate::responses::stream(model, id, text, end, prompt_tokens);
        }
        WireFormat::OpenAi => {
            let chunk = |delta: Value, finish: Value| json!({"id": id, "object": "chat.completion.chunk", "created": 1_764_000_000u64, "model": model, "system_fingerprint": "fp_chaos", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}], "usage": null});
            f.push(Frame::Data(sse(
                None,
                &chunk(
                    json!({"role": "assistant", "content": "", "refusal": null}),
                    Value::Null,
                ),
            )));
            let ending = match end {
                StreamEnd::Complete(e) => e,
                _ => Ending::Stop,
            };
            if ending == Ending::Stop {
                for p in parts.iter().take(limit) {
                    f.push(Frame::Content(sse(
                        None,
                        &chunk(json!({"content": p}), Value::Null),
                    )));
                }
            }
            match end {
                StreamEnd::Complete(e) => {
                    let finish = match e {
                        Ending::Stop => "stop",
                        Ending::ContentFilter => "content_filter",
                        Ending::Refusal => {
                            f.push(Frame::Content(sse(None, &chunk(json!({"refusal": "I'm sorry, I can't help with that request."}), Value::Null))));
                            "stop"
                        }
                    };
                    f.push(Frame::Data(sse(None, &chunk(json!({}), json!(finish)))));
                    if include_usage {
                        f.push(Frame::Data(sse(None, &json!({"id": id, "object": "chat.completion.chunk", "created": 1_764_000_000u64, "model": model, "choices": [],
                            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": out_tokens, "total_tokens": prompt_tokens + out_tokens}}))));
                    }
                    f.push(Frame::Data("data: [DONE]\n\n".into()));
                }
                StreamEnd::ErrorAfter(_) => f.push(Frame::Data(sse(None, &json!({"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}})))),
                StreamEnd::TruncateAfter(_) => {}
            }
        }
        WireFormat::Anthropic => {
            f.push(Frame::Data(sse(Some("message_start"), &json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}}))));
            let refusal = matches!(
                end,
                StreamEnd::Complete(Ending::ContentFilter | Ending::Refusal)
            );
            if !refusal {
                f.push(Frame::Data(sse(Some("content_block_start"), &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}))));
                f.push(Frame::Data(sse(Some("ping"), &json!({"type": "ping"}))));
                for p in parts.iter().take(limit) {
                    f.push(Frame::Content(sse(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}))));
                }
            }
            match end {
                StreamEnd::Complete(_) => {
                    if !refusal {
                        f.push(Frame::Data(sse(Some("content_block_stop"), &json!({"type": "content_block_stop", "index": 0}))));
                    }
                    let stop = if refusal { "refusal" } else { "end_turn" };
                    f.push(Frame::Data(sse(Some("message_delta"), &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": out_tokens}}))));
                    f.push(Frame::Data(sse(Some("message_stop"), &json!({"type": "message_stop"}))));
                }
                StreamEnd::ErrorAfter(_) => f.push(Frame::Data(sse(Some("error"), &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})))),
                StreamEnd::TruncateAfter(_) => {}
            }
        }
        WireFormat::Gemini => {
            let chunk = |t: &str| json!({"candidates": [{"content": {"role": "model", "parts": [{"text": t}]}, "index": 0}], "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}, "modelVersion": model, "responseId": id});
            match end {
                StreamEnd::Complete(Ending::ContentFilter) => {
                    f.push(Frame::Data(sse(None, &json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": prompt_tokens}, "modelVersion": model, "responseId": id}))));
                    return f;
                }
                StreamEnd::Complete(Ending::Refusal) => {
                    f.push(Frame::Data(sse(None, &json!({"candidates": [{"content": {"role": "model"}, "finishReason": "SAFETY", "index": 0}], "modelVersion": model, "responseId": id}))));
                    return f;
                }
                _ => {}
            }
            let shown: Vec<&String> = parts.iter().take(limit).collect();
            let n = shown.len();
            for (i, p) in shown.into_iter().enumerate() {
                let mut c = chunk(p);
                if i + 1 == n && matches!(end, StreamEnd::Complete(_)) {
                    c["candidates"][0]["finishReason"] = json!("STOP");
                    c["usageMetadata"] = json!({"promptTokenCount": prompt_tokens, "candidatesTokenCount": out_tokens, "totalTokenCount": prompt_tokens + out_tokens});
                }
                f.push(Frame::Content(sse(None, &c)));
            }
            match end {
                StreamEnd::Complete(_) if n == 0 => {
                    let mut c = chunk("");
                    c["candidates"][0]["finishReason"] = json!("STOP");
                    f.push(Frame::Data(sse(None, &c)));
                }
                StreamEnd::ErrorAfter(_) => f.push(Frame::Data(sse(None, &json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}})))),
                _ => {}
            }
        }
    }
    f
}

/// A tool call the simulator answers with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolUse {
    /// The call's id (OpenAI `call_…`, Anthropic `toolu_…`; Gemini sends none).
    pub(crate) id: String,
    /// The function called.
    pub(crate) name: String,
    /// The arguments, a JSON object.
    pub(crate) arguments: Value,
}

/// A whole (non-streamed) answer that calls a tool.
///
/// - OpenAI (provider-wire-facts.md §1.2): `choices[0].message.tool_calls[{id, type:
///   "function", function: {name, arguments}}]`, `arguments` a JSON *string*, `content`
///   null, `finish_reason: "tool_calls"`.
/// - Anthropic (§3.2): `content: [{type: "tool_use", id, name, input: {…}}]`,
///   `stop_reason: "tool_use"`.
/// - Gemini (§5.1): `candidates[0].content.parts[{functionCall: {name, args}}]` (`args` an
///   object, no id), `finishReason: "STOP"`.
pub(crate) fn tool_success(
    format: WireFormat,
    model: &str,
    id: &str,
    call: &ToolUse,
    prompt_tokens: u64,
) -> String {
    let args = call.arguments.to_string();
    let out = tokens(args.len() + call.name.len());
    match format {
        WireFormat::OpenAiResponses => {
            crate::responses::tool_success(model, id, call, prompt_tokens)
        }
        WireFormat::OpenAi => json!({"id": id, "object": "chat.completion", "created": 1_764_000_000u64, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": null, "annotations": [],
                "tool_calls": [{"id": call.id, "type": "function", "function": {"name": call.name, "arguments": args}}]},
                "logprobs": null, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": out, "total_tokens": prompt_tokens + out,
                      "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                      "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}},
            "system_fingerprint": "fp_chaos"}).to_string(),
        WireFormat::Anthropic => json!({"id": id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": prompt_tokens, "output_tokens": out, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}).to_string(),
        WireFormat::Gemini => json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": call.name, "args": call.arguments}}]},
                "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": prompt_tokens, "candidatesTokenCount": out, "totalTokenCount": prompt_tokens + out},
            "modelVersion": model, "responseId": id}).to_string(),
    }
}

/// The frames of a streamed answer that calls a tool. `end` cuts the argument fragments
/// as it cuts text (`ErrorAfter(n)` / `TruncateAfter(n)`: after `n` content frames).
///
/// - OpenAI (§1.3): `chat.completion.chunk`s whose `delta.tool_calls[k]` carry `index`,
///   then (first fragment only) `id`, `type` and `function.name`, and `function.arguments`
///   string fragments to concatenate; a last chunk with `finish_reason: "tool_calls"`,
///   the usage chunk when asked, `data: [DONE]`.
/// - Anthropic (§3.3): `message_start`, `content_block_start` with a `tool_use` block
///   (`input: {}`), `content_block_delta`s of type `input_json_delta` with
///   `partial_json` fragments, `content_block_stop`, `message_delta` with
///   `stop_reason: "tool_use"`, `message_stop`.
/// - Gemini (§5.1): the `functionCall` part arrives whole in one chunk, which carries
///   `finishReason` and `usageMetadata`; the stream then ends.
pub(crate) fn tool_stream(
    format: WireFormat,
    model: &str,
    id: &str,
    call: &ToolUse,
    end: StreamEnd,
    include_usage: bool,
    prompt_tokens: u64,
) -> Vec<Frame> {
    let args = call.arguments.to_string();
    let parts = pieces(&args);
    let limit = match end {
        StreamEnd::Complete(_) => usize::MAX,
        StreamEnd::ErrorAfter(n) | StreamEnd::TruncateAfter(n) => n as usize,
    };
    let out_tokens = tokens(args.len() + call.name.len());
    let mut f = Vec::new();
    match format {
        WireFormat::OpenAiResponses => {
            return crate::responses::tool_stream(model, id, call, end, prompt_tokens);
        }
        WireFormat::OpenAi => {
            let chunk = |delta: Value, finish: Value| json!({"id": id, "object": "chat.completion.chunk", "created": 1_764_000_000u64, "model": model, "system_fingerprint": "fp_chaos", "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}], "usage": null});
            f.push(Frame::Data(sse(None, &chunk(json!({"role": "assistant", "content": null, "refusal": null,
                "tool_calls": [{"index": 0, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}]}), Value::Null))));
            for p in parts.iter().take(limit) {
                f.push(Frame::Content(sse(
                    None,
                    &chunk(
                        json!({"tool_calls": [{"index": 0, "function": {"arguments": p}}]}),
                        Value::Null,
                    ),
                )));
            }
            match end {
                StreamEnd::Complete(_) => {
                    f.push(Frame::Data(sse(None, &chunk(json!({}), json!("tool_calls")))));
                    if include_usage {
                        f.push(Frame::Data(sse(None, &json!({"id": id, "object": "chat.completion.chunk", "created": 1_764_000_000u64, "model": model, "choices": [],
                            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": out_tokens, "total_tokens": prompt_tokens + out_tokens}}))));
                    }
                    f.push(Frame::Data("data: [DONE]\n\n".into()));
                }
                StreamEnd::ErrorAfter(_) => f.push(Frame::Data(sse(None, &json!({"error": {"message": "The server had an error while processing your request. Sorry about that!", "type": "server_error", "param": null, "code": null}})))),
                StreamEnd::TruncateAfter(_) => {}
            }
        }
        WireFormat::Anthropic => {
            f.push(Frame::Data(sse(Some("message_start"), &json!({"type": "message_start", "message": {"id": id, "type": "message", "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": prompt_tokens, "output_tokens": 1}}}))));
            f.push(Frame::Data(sse(Some("content_block_start"), &json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": call.id, "name": call.name, "input": {}}}))));
            for p in parts.iter().take(limit) {
                f.push(Frame::Content(sse(Some("content_block_delta"), &json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": p}}))));
            }
            match end {
                StreamEnd::Complete(_) => {
                    f.push(Frame::Data(sse(Some("content_block_stop"), &json!({"type": "content_block_stop", "index": 0}))));
                    f.push(Frame::Data(sse(Some("message_delta"), &json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": out_tokens}}))));
                    f.push(Frame::Data(sse(Some("message_stop"), &json!({"type": "message_stop"}))));
                }
                StreamEnd::ErrorAfter(_) => f.push(Frame::Data(sse(Some("error"), &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})))),
                StreamEnd::TruncateAfter(_) => {}
            }
        }
        WireFormat::Gemini => {
            let mut c = json!({"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": call.name, "args": call.arguments}}]}, "index": 0}],
                "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens}, "modelVersion": model, "responseId": id});
            let complete = matches!(end, StreamEnd::Complete(_));
            if complete {
                c["candidates"][0]["finishReason"] = json!("STOP");
                c["usageMetadata"] = json!({"promptTokenCount": prompt_tokens, "candidatesTokenCount": out_tokens, "totalTokenCount": prompt_tokens + out_tokens});
            }
            if complete || limit > 0 {
                f.push(Frame::Content(sse(None, &c)));
            }
            if let StreamEnd::ErrorAfter(_) = end {
                f.push(Frame::Data(sse(None, &json!({"error": {"code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"}}))));
            }
        }
    }
    f
}
