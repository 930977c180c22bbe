//! `POST /v1/chat/completions`: OpenAI Chat Completions in and out.

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use nb_core::{
    ChatChunk, ChatRequest, ChatResponse, FinishReason, JsonSchemaFormat, Media, Message, Part,
    ResponseFormat, Role, ToolCall, ToolChoice, ToolSpec, Usage,
};
use serde_json::{Value, json};

use crate::Format;
use crate::error::{ErrorType, error_body};
use crate::wire::{Wire, items, stream_error_message, strings};

const F: Format = Format::OpenAi;

fn text_of(content: &Value) -> Result<String, String> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for p in parts {
                match p.get("type").and_then(Value::as_str) {
                    Some("text") => out.push(
                        p.get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    ),
                    other => {
                        return Err(format!("a content part of type {other:?} cannot go here"));
                    }
                }
            }
            Ok(out.join("\n"))
        }
        _ => Err("`content` must be a string or an array of parts".into()),
    }
}

fn media_of_url(url: &str) -> Media {
    // `data:image/png;base64,....`
    if let Some(rest) = url.strip_prefix("data:") {
        if let Some((meta, data)) = rest.split_once(',') {
            if let Some(media_type) = meta.strip_suffix(";base64") {
                return Media::Base64 {
                    media_type: media_type.to_owned(),
                    data: data.to_owned(),
                };
            }
        }
    }
    Media::url(url)
}

fn user_parts(content: &Value, at: &str) -> Result<Vec<Part>, String> {
    match content {
        Value::String(s) => Ok(vec![Part::text(s.clone())]),
        Value::Array(parts) => {
            let mut out = Vec::new();
            for (j, p) in parts.iter().enumerate() {
                let kind = p.get("type").and_then(Value::as_str);
                match kind {
                    Some("text") => out.push(Part::text(
                        p.get("text").and_then(Value::as_str).unwrap_or_default(),
                    )),
                    Some("image_url") => {
                        let url = p
                            .pointer("/image_url/url")
                            .and_then(Value::as_str)
                            .ok_or(format!("{at}.content[{j}].image_url.url is missing"))?;
                        out.push(Part::image(media_of_url(url)));
                    }
                    Some("file") => {
                        let f = p.get("file").cloned().unwrap_or_default();
                        let name = f.get("filename").and_then(Value::as_str).map(str::to_owned);
                        let media = match f.get("file_data").and_then(Value::as_str) {
                            Some(d) => media_of_url(d),
                            None => {
                                return Err(format!(
                                    "{at}.content[{j}]: only inline `file_data` files are supported"
                                ));
                            }
                        };
                        out.push(Part::document(media, name));
                    }
                    other => {
                        return Err(format!(
                            "{at}.content[{j}]: a part of type {other:?} is not supported"
                        ));
                    }
                }
            }
            Ok(out)
        }
        _ => Err(format!(
            "{at}.content must be a string or an array of parts"
        )),
    }
}

/// An OpenAI Chat Completions request as the router's `ChatRequest`.
pub(crate) fn parse_request(v: &Value) -> Result<ChatRequest, String> {
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("`messages` is required and must be an array")?;
    if messages.is_empty() {
        return Err("`messages` is empty".into());
    }
    if v.get("n").and_then(Value::as_u64).is_some_and(|n| n != 1) {
        return Err("`n` other than 1 is not supported by the gateway".into());
    }
    refuse_uncarried(v)?;
    let mut out = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
        if role != "tool" && m.get("name").is_some_and(|n| !n.is_null()) {
            return Err(format!(
                "{at}.name cannot be carried by the gateway (its routes may fail over to providers without participant names): remove it"
            ));
        }
        let content = m.get("content").cloned().unwrap_or(Value::Null);
        let msg = match role {
            "system" | "developer" => {
                Message::system(text_of(&content).map_err(|e| format!("{at}: {e}"))?)
            }
            "user" => Message::user_parts(user_parts(&content, &at)?),
            "assistant" => {
                let mut parts = Vec::new();
                let text = text_of(&content).map_err(|e| format!("{at}: {e}"))?;
                if !text.is_empty() {
                    parts.push(Part::text(text));
                }
                for (j, c) in items(m, "tool_calls") {
                    let name = c
                        .pointer("/function/name")
                        .and_then(Value::as_str)
                        .ok_or(format!("{at}.tool_calls[{j}].function.name is missing"))?;
                    let args = c
                        .pointer("/function/arguments")
                        .and_then(Value::as_str)
                        .unwrap_or("{}");
                    let id = c.get("id").and_then(Value::as_str).map(str::to_owned);
                    parts.push(Part::tool_call(ToolCall::from_raw(id, name, args)));
                }
                Message::new(Role::Assistant, parts)
            }
            "tool" => {
                let id = m
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or(format!("{at}.tool_call_id is required for a tool message"))?;
                let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
                Message::tool_result(
                    id,
                    name,
                    text_of(&content).map_err(|e| format!("{at}: {e}"))?,
                )
            }
            other => return Err(format!("{at}.role: {other:?} is not a role")),
        };
        out.push(msg);
    }
    let mut req = ChatRequest::new(out);
    if let Some(t) = v.get("temperature").and_then(Value::as_f64) {
        req.temperature = Some(t as f32);
    }
    if let Some(t) = v.get("top_p").and_then(Value::as_f64) {
        req.top_p = Some(t as f32);
    }
    for field in ["max_completion_tokens", "max_tokens"] {
        match v.get(field) {
            None | Some(Value::Null) => {}
            Some(n) => {
                let n = n
                    .as_u64()
                    .filter(|n| *n >= 1)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or(format!(
                        "`{field}` must be a whole number from 1 to {}",
                        u32::MAX
                    ))?;
                req.max_tokens.get_or_insert(n);
            }
        }
    }
    match v.get("stop") {
        Some(Value::String(s)) => req.stop = vec![s.clone()],
        Some(Value::Array(a)) => req.stop = strings(a),
        _ => {}
    }
    if let Some(s) = v.get("seed").and_then(Value::as_u64) {
        req.seed = Some(s);
    }
    if let Some(rf) = v.get("response_format") {
        req.response_format = match rf.get("type").and_then(Value::as_str) {
            Some("text") | None => ResponseFormat::Text,
            Some("json_object") => ResponseFormat::JsonObject,
            Some("json_schema") => {
                let js = rf
                    .get("json_schema")
                    .ok_or("response_format.json_schema is required")?;
                ResponseFormat::JsonSchema(JsonSchemaFormat {
                    name: js
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("answer")
                        .to_owned(),
                    schema: js
                        .get("schema")
                        .cloned()
                        .ok_or("response_format.json_schema.schema is required")?,
                    strict: js.get("strict").and_then(Value::as_bool).unwrap_or(false),
                })
            }
            Some(other) => return Err(format!("response_format.type {other:?} is not supported")),
        };
    }
    for (i, t) in items(v, "tools") {
        let f = t
            .get("function")
            .ok_or(format!("tools[{i}].function is required"))?;
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or(format!("tools[{i}].function.name is required"))?;
        let mut spec = ToolSpec::new(
            name,
            f.get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        );
        if let Some(d) = f.get("description").and_then(Value::as_str) {
            spec = spec.with_description(d);
        }
        req.tools.push(spec);
    }
    req.tool_choice = match v.get("tool_choice") {
        Some(Value::String(s)) if s == "auto" => Some(ToolChoice::Auto),
        Some(Value::String(s)) if s == "none" => Some(ToolChoice::None),
        Some(Value::String(s)) if s == "required" => Some(ToolChoice::Required),
        Some(Value::Object(o)) => Some(ToolChoice::Tool(
            o.get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .ok_or("tool_choice.function.name is required")?
                .to_owned(),
        )),
        None | Some(Value::Null) => None,
        Some(other) => return Err(format!("tool_choice {other} is not supported")),
    };
    Ok(req)
}

/// Fields the router's request cannot carry to every provider a route may fail over to:
/// refused by name rather than silently dropped (their neutral values pass).
const UNCARRIED: [&str; 6] = [
    "logit_bias",
    "presence_penalty",
    "frequency_penalty",
    "reasoning_effort",
    "logprobs",
    "top_logprobs",
];

fn refuse_uncarried(v: &Value) -> Result<(), String> {
    for field in UNCARRIED {
        let neutral = match v.get(field) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => true,
            Some(Value::Number(n)) => n.as_f64() == Some(0.0),
            Some(Value::Object(o)) => o.is_empty(),
            Some(_) => false,
        };
        if !neutral {
            return Err(format!(
                "`{field}` cannot be carried by the gateway (its routes may fail over to providers that do not take it): remove it"
            ));
        }
    }
    Ok(())
}

pub(crate) fn finish(reason: &FinishReason) -> &'static str {
    match reason {
        FinishReason::Stop | FinishReason::Other(_) => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter | FinishReason::Refusal => "content_filter",
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A `chat.completion` as written to the caller: borrowed from the answer, serialized
/// once, no `serde_json::Value` built on the way.
#[derive(serde::Serialize)]
struct Completion<'a> {
    id: &'a str,
    object: &'static str,
    created: u64,
    model: &'a str,
    choices: [Choice<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<UsageOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nb_report: Option<Value>,
}

#[derive(serde::Serialize)]
struct Choice<'a> {
    index: u32,
    message: MessageOut<'a>,
    finish_reason: &'static str,
    logprobs: Option<()>,
}

#[derive(serde::Serialize)]
struct MessageOut<'a> {
    role: &'static str,
    /// `null` when the answer is tool calls alone.
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<ToolCallOut<'a>>,
}

#[derive(serde::Serialize)]
struct ToolCallOut<'a> {
    id: std::borrow::Cow<'a, str>,
    r#type: &'static str,
    function: FunctionOut<'a>,
}

#[derive(serde::Serialize)]
struct FunctionOut<'a> {
    name: &'a str,
    arguments: &'a str,
}

#[derive(serde::Serialize)]
struct UsageOut {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    prompt_tokens_details: Option<CachedOut>,
}

impl UsageOut {
    /// The usage of an answer (or of a stream's last chunk).
    fn of(u: &Usage) -> Self {
        Self {
            prompt_tokens: u.input_tokens,
            completion_tokens: u.output_tokens,
            total_tokens: u.input_tokens + u.output_tokens,
            prompt_tokens_details: u.cached_tokens.map(|c| CachedOut { cached_tokens: c }),
        }
    }
}

#[derive(serde::Serialize)]
struct CachedOut {
    cached_tokens: u64,
}

/// A `ChatResponse` as an OpenAI `chat.completion`'s bytes, with the call's report as
/// `nb_report` when the caller asked for it.
pub(crate) fn render(resp: &ChatResponse, id: &str, model: &str, report: Option<Value>) -> Vec<u8> {
    let message = MessageOut {
        role: "assistant",
        content: (!resp.text.is_empty() || resp.tool_calls.is_empty())
            .then_some(resp.text.as_str()),
        refusal: resp.refusal.as_deref(),
        tool_calls: resp
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, c)| ToolCallOut {
                id: c
                    .id
                    .as_deref()
                    .map_or_else(|| format!("call_{i}").into(), Into::into),
                r#type: "function",
                function: FunctionOut {
                    name: &c.name,
                    arguments: &c.arguments_raw,
                },
            })
            .collect(),
    };
    let body = Completion {
        id,
        object: "chat.completion",
        created: now_secs(),
        model,
        choices: [Choice {
            index: 0,
            message,
            finish_reason: finish(&resp.finish_reason),
            logprobs: None,
        }],
        usage: resp.usage.as_ref().map(UsageOut::of),
        nb_report: report,
    };
    crate::wire::to_json(&body)
}

/// The OpenAI Chat Completions wire format, for the request flow both endpoints share.
pub(crate) const WIRE: Wire = Wire {
    format: F,
    parse: parse_request,
    render,
    stream,
};

fn chunk(id: &str, model: &str, created: u64, delta: Value, finish: Option<&str>) -> Event {
    let v = json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}],
    });
    Event::default().data(v.to_string())
}

/// The router's stream as OpenAI chunks, ended by `data: [DONE]`; a stream that breaks
/// ends with an `error` object instead, which the official clients raise.
fn stream(upstream: nb_core::ChatStream, id: String, model: String, req: &Value) -> Response {
    let include_usage = req
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let created = now_secs();
    let head = futures_util::stream::once({
        let (id, model) = (id.clone(), model.clone());
        async move {
            chunk(
                &id,
                &model,
                created,
                json!({"role": "assistant", "content": ""}),
                None,
            )
        }
    });
    let state = (upstream, false, None::<Usage>);
    let body = futures_util::stream::unfold(Some(state), move |st| {
        let (id, model) = (id.clone(), model.clone());
        async move {
            let (mut upstream, mut done, mut usage) = st?;
            if done {
                return None;
            }
            loop {
                match upstream.next().await {
                    Some(Ok(ChatChunk::Text { delta })) => {
                        let ev = chunk(&id, &model, created, json!({"content": delta}), None);
                        return Some((vec![ev], Some((upstream, done, usage))));
                    }
                    Some(Ok(ChatChunk::Refusal { delta })) => {
                        let ev = chunk(&id, &model, created, json!({"refusal": delta}), None);
                        return Some((vec![ev], Some((upstream, done, usage))));
                    }
                    Some(Ok(ChatChunk::ToolCall(d))) => {
                        let mut call =
                            json!({"index": d.index, "function": {"arguments": d.arguments}});
                        if let Some(i) = &d.id {
                            call["id"] = json!(i);
                            call["type"] = json!("function");
                        }
                        if let Some(n) = &d.name {
                            call["function"]["name"] = json!(n);
                        }
                        let ev = chunk(&id, &model, created, json!({"tool_calls": [call]}), None);
                        return Some((vec![ev], Some((upstream, done, usage))));
                    }
                    Some(Ok(ChatChunk::Finish { reason })) => {
                        let ev = chunk(&id, &model, created, json!({}), Some(finish(&reason)));
                        return Some((vec![ev], Some((upstream, done, usage))));
                    }
                    Some(Ok(ChatChunk::Usage(u))) => usage = Some(u),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        let body = error_body(F, ErrorType::Upstream, &stream_error_message(&e));
                        done = true;
                        // The error object, then the terminator the clients wait for.
                        return Some((
                            vec![
                                Event::default().data(body.to_string()),
                                Event::default().data("[DONE]"),
                            ],
                            Some((upstream, done, usage)),
                        ));
                    }
                    None => {
                        let mut out = Vec::new();
                        if let (true, Some(u)) = (include_usage, &usage) {
                            let v = json!({
                                "id": id, "object": "chat.completion.chunk", "created": created,
                                "model": model, "choices": [], "usage": UsageOut::of(u),
                            });
                            out.push(Event::default().data(v.to_string()));
                        }
                        out.push(Event::default().data("[DONE]"));
                        done = true;
                        return Some((out, Some((upstream, done, usage))));
                    }
                }
            }
        }
    })
    .flat_map(futures_util::stream::iter);
    Sse::new(head.chain(body).map(Ok::<_, std::convert::Infallible>)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_every_part_maps_to_the_routers_vocabulary() {
        let v = json!({
            "model": "m",
            "messages": [
                {"role": "developer", "content": "Be terse."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in it?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "2"},
            ],
            "max_completion_tokens": 50,
            "stop": "END",
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}, "strict": true}},
            "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "f"}},
        });
        let r = parse_request(&v).unwrap();
        assert_eq!(r.messages.len(), 4);
        assert_eq!(r.messages[0].role, Role::System);
        let user = &r.messages[1];
        assert!(
            matches!(&user.parts[1], Part::Image { source: Media::Base64 { media_type, .. }, .. } if media_type == "image/png")
        );
        assert!(matches!(
            &user.parts[2],
            Part::Image {
                source: Media::Url { .. },
                ..
            }
        ));
        assert!(matches!(&user.parts[3], Part::Document { name: Some(n), .. } if n == "a.pdf"));
        assert_eq!(r.messages[2].tool_calls().next().unwrap().name, "f");
        assert!(
            matches!(&r.messages[3].parts[0], Part::ToolResult { call_id, .. } if call_id == "c1")
        );
        assert_eq!(r.max_tokens, Some(50));
        assert_eq!(r.stop, vec!["END".to_owned()]);
        assert!(matches!(&r.response_format, ResponseFormat::JsonSchema(s) if s.strict));
        assert_eq!(r.tools[0].name, "f");
        assert_eq!(r.tool_choice, Some(ToolChoice::Tool("f".into())));
    }

    #[test]
    fn requests_that_cannot_be_served_say_why() {
        for (v, says) in [
            (json!({"messages": []}), "empty"),
            (json!({}), "messages"),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "n": 3}),
                "`n`",
            ),
            (
                json!({"messages": [{"role": "robot", "content": "x"}]}),
                "role",
            ),
            (
                json!({"messages": [{"role": "tool", "content": "x"}]}),
                "tool_call_id",
            ),
            (
                json!({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}),
                "audio",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": -1}),
                "max_tokens",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1e30}),
                "max_tokens",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "logit_bias": {"50256": -100}}),
                "logit_bias",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "presence_penalty": 0.5}),
                "presence_penalty",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x", "name": "ann"}]}),
                "messages[0].name",
            ),
        ] {
            let e = parse_request(&v).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn an_answer_with_tool_calls_renders_as_a_chat_completion() {
        let mut resp = ChatResponse::text("");
        resp.tool_calls
            .push(ToolCall::from_raw(Some("c9".into()), "f", "{\"x\":1}"));
        resp.finish_reason = FinishReason::ToolCalls;
        let v: Value = serde_json::from_slice(&render(&resp, "id", "m", None)).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], Value::Null);
        assert_eq!(v["choices"][0]["message"]["tool_calls"][0]["id"], "c9");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    }

    #[test]
    fn an_answer_renders_every_field_of_a_chat_completion() {
        let mut resp = ChatResponse::text("42");
        resp.refusal = Some("no".into());
        let mut usage = Usage::new(10, 2);
        usage.cached_tokens = Some(4);
        resp.usage = Some(usage);
        resp.finish_reason = FinishReason::Length;
        let mut v: Value =
            serde_json::from_slice(&render(&resp, "chatcmpl-1", "m", Some(json!({"k": 1}))))
                .unwrap();
        assert!(v["created"].as_u64().is_some_and(|c| c > 1_700_000_000));
        v["created"] = json!(0);
        assert_eq!(
            v,
            json!({
                "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "42", "refusal": "no"},
                    "finish_reason": "length",
                    "logprobs": null,
                }],
                "usage": {
                    "prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12,
                    "prompt_tokens_details": {"cached_tokens": 4},
                },
                "nb_report": {"k": 1},
            })
        );
        // No usage, no report, a tool call without an id: numbered, arguments as sent.
        let mut resp = ChatResponse::text("");
        resp.tool_calls.push(ToolCall::from_raw(None, "f", "{bad"));
        let v: Value = serde_json::from_slice(&render(&resp, "i", "m", None)).unwrap();
        assert!(v.get("usage").is_none() && v.get("nb_report").is_none());
        assert_eq!(
            v["choices"][0]["message"]["tool_calls"],
            json!([{"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{bad"}}])
        );
    }
}
