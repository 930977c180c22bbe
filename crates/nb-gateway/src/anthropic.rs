//! `POST /v1/messages`: Anthropic Messages in and out.

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use nb_core::{
    ChatChunk, ChatRequest, ChatResponse, FinishReason, Media, Message, Part, Role, ToolCall,
    ToolChoice, ToolSpec, Usage,
};
use serde_json::{Value, json};

use crate::Format;
use crate::error::{ErrorType, error_body};
use crate::wire::{Wire, items, stream_error_message, strings};

const F: Format = Format::Anthropic;

fn media(source: &Value, at: &str) -> Result<Media, String> {
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(Media::Base64 {
            media_type: source
                .get("media_type")
                .and_then(Value::as_str)
                .ok_or(format!("{at}.source.media_type is required"))?
                .to_owned(),
            data: source
                .get("data")
                .and_then(Value::as_str)
                .ok_or(format!("{at}.source.data is required"))?
                .to_owned(),
        }),
        Some("url") => Ok(Media::url(
            source
                .get("url")
                .and_then(Value::as_str)
                .ok_or(format!("{at}.source.url is required"))?,
        )),
        other => Err(format!("{at}.source.type {other:?} is not supported")),
    }
}

fn blocks_text(content: &Value, at: &str) -> Result<String, String> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Array(bs) => Ok(bs
            .iter()
            .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")),
        Value::Null => Ok(String::new()),
        _ => Err(format!("{at} must be a string or an array of blocks")),
    }
}

/// An Anthropic Messages request as the router's `ChatRequest`.
pub(crate) fn parse_request(v: &Value) -> Result<ChatRequest, String> {
    let messages = v
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages: Field required")?;
    let max_tokens = match v.get("max_tokens") {
        None | Some(Value::Null) => return Err("max_tokens: Field required".into()),
        Some(n) => n
            .as_u64()
            .filter(|n| *n >= 1 && u32::try_from(*n).is_ok())
            .ok_or("max_tokens: must be a whole number of at least 1")?,
    };
    let mut out = Vec::new();
    if let Some(system) = v.get("system") {
        let s = blocks_text(system, "system")?;
        if !s.is_empty() {
            out.push(Message::system(s));
        }
    }
    for (i, m) in messages.iter().enumerate() {
        let at = format!("messages.{i}");
        let role = match m.get("role").and_then(Value::as_str) {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            other => return Err(format!("{at}.role: {other:?} is not user or assistant")),
        };
        let content = m.get("content").cloned().unwrap_or(Value::Null);
        let blocks = match content {
            Value::String(s) => vec![json!({"type": "text", "text": s})],
            Value::Array(a) => a,
            _ => {
                return Err(format!(
                    "{at}.content must be a string or an array of blocks"
                ));
            }
        };
        let mut parts = Vec::new();
        let mut results = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            let at = format!("{at}.content.{j}");
            match b.get("type").and_then(Value::as_str) {
                Some("text") => parts.push(Part::text(
                    b.get("text").and_then(Value::as_str).unwrap_or_default(),
                )),
                Some("image") => parts.push(Part::image(media(
                    b.get("source").unwrap_or(&Value::Null),
                    &at,
                )?)),
                Some("document") => parts.push(Part::document(
                    media(b.get("source").unwrap_or(&Value::Null), &at)?,
                    b.get("title").and_then(Value::as_str).map(str::to_owned),
                )),
                Some("tool_use") => {
                    let name = b
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or(format!("{at}.name is required"))?;
                    let input = b.get("input").cloned().unwrap_or_else(|| json!({}));
                    let id = b.get("id").and_then(Value::as_str).map(str::to_owned);
                    parts.push(Part::tool_call(ToolCall::from_raw(
                        id,
                        name,
                        input.to_string(),
                    )));
                }
                Some("tool_result") => {
                    let id = b
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .ok_or(format!("{at}.tool_use_id is required"))?;
                    let text = blocks_text(b.get("content").unwrap_or(&Value::Null), &at)?;
                    let mut msg = Message::tool_result(id, "", text);
                    if b.get("is_error").and_then(Value::as_bool) == Some(true) {
                        if let Some(Part::ToolResult { is_error, .. }) = msg.parts.first_mut() {
                            *is_error = true;
                        }
                    }
                    results.push(msg);
                }
                other => return Err(format!("{at}.type {other:?} is not supported")),
            }
        }
        // Tool results are their own turns in the router's vocabulary.
        out.extend(results);
        if !parts.is_empty() {
            out.push(Message::new(role, parts));
        }
    }
    if out.iter().all(|m| m.role == Role::System) {
        return Err("messages: at least one message is required".into());
    }
    let mut req = ChatRequest::new(out);
    req.max_tokens = Some(u32::try_from(max_tokens).map_err(|_| "max_tokens is too large")?);
    if let Some(t) = v.get("temperature").and_then(Value::as_f64) {
        req.temperature = Some(t as f32);
    }
    if let Some(t) = v.get("top_p").and_then(Value::as_f64) {
        req.top_p = Some(t as f32);
    }
    if let Some(a) = v.get("stop_sequences").and_then(Value::as_array) {
        req.stop = strings(a);
    }
    for (i, t) in items(v, "tools") {
        let name = t
            .get("name")
            .and_then(Value::as_str)
            .ok_or(format!("tools.{i}.name: Field required"))?;
        let mut spec = ToolSpec::new(
            name,
            t.get("input_schema")
                .cloned()
                .ok_or(format!("tools.{i}.input_schema: Field required"))?,
        );
        if let Some(d) = t.get("description").and_then(Value::as_str) {
            spec = spec.with_description(d);
        }
        req.tools.push(spec);
    }
    req.tool_choice = match v.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(c) => Some(match c.get("type").and_then(Value::as_str) {
            Some("auto") => ToolChoice::Auto,
            Some("any") => ToolChoice::Required,
            Some("none") => ToolChoice::None,
            Some("tool") => ToolChoice::Tool(
                c.get("name")
                    .and_then(Value::as_str)
                    .ok_or("tool_choice.name: Field required")?
                    .to_owned(),
            ),
            other => return Err(format!("tool_choice.type {other:?} is not supported")),
        }),
    };
    Ok(req)
}

fn stop_reason(r: &FinishReason) -> &'static str {
    match r {
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter | FinishReason::Refusal => "refusal",
        FinishReason::Stop | FinishReason::Other(_) => "end_turn",
    }
}

/// A `message` as written to the caller: borrowed from the answer, serialized once, no
/// `serde_json::Value` built on the way.
#[derive(serde::Serialize)]
struct MessageOut<'a> {
    id: &'a str,
    r#type: &'static str,
    role: &'static str,
    model: &'a str,
    content: Vec<Block<'a>>,
    stop_reason: &'static str,
    stop_sequence: Option<()>,
    usage: UsageOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    nb_report: Option<Value>,
}

#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Block<'a> {
    Text {
        text: &'a str,
    },
    ToolUse {
        id: std::borrow::Cow<'a, str>,
        name: &'a str,
        input: std::borrow::Cow<'a, Value>,
    },
}

#[derive(serde::Serialize)]
struct UsageOut {
    input_tokens: u64,
    output_tokens: u64,
    cache_read_input_tokens: u64,
    cache_creation_input_tokens: u64,
}

impl UsageOut {
    /// An answer's usage (zeros where there is none, as the API always has one).
    fn of(u: Option<&Usage>) -> Self {
        let u = u.copied().unwrap_or_else(|| Usage::new(0, 0));
        Self {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            cache_read_input_tokens: u.cached_tokens.unwrap_or(0),
            cache_creation_input_tokens: u.cache_write_tokens.unwrap_or(0),
        }
    }
}

/// A `ChatResponse` as an Anthropic `message`'s bytes, with the call's report as
/// `nb_report` when the caller asked for it.
pub(crate) fn render(resp: &ChatResponse, id: &str, model: &str, report: Option<Value>) -> Vec<u8> {
    let mut content = Vec::with_capacity(1 + resp.tool_calls.len());
    if !resp.text.is_empty() || resp.tool_calls.is_empty() {
        content.push(Block::Text { text: &resp.text });
    }
    for (i, c) in resp.tool_calls.iter().enumerate() {
        content.push(Block::ToolUse {
            id: c
                .id
                .as_deref()
                .map_or_else(|| format!("toolu_{i}").into(), Into::into),
            name: &c.name,
            input: c.arguments.as_ref().map_or_else(
                || std::borrow::Cow::Owned(Value::Object(serde_json::Map::new())),
                std::borrow::Cow::Borrowed,
            ),
        });
    }
    let body = MessageOut {
        id,
        r#type: "message",
        role: "assistant",
        model,
        content,
        stop_reason: stop_reason(&resp.finish_reason),
        stop_sequence: None,
        usage: UsageOut::of(resp.usage.as_ref()),
        nb_report: report,
    };
    crate::wire::to_json(&body)
}

/// The Anthropic Messages wire format, for the request flow both endpoints share.
pub(crate) const WIRE: Wire = Wire {
    format: F,
    parse: parse_request,
    render,
    stream,
};

fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// Where the Anthropic stream is: which content block is open.
struct Blocks {
    index: u32,
    open: Option<Open>,
}

#[derive(PartialEq)]
enum Open {
    Text,
    Tool(u32),
}

impl Blocks {
    fn close(&mut self, out: &mut Vec<Event>) {
        if self.open.take().is_some() {
            out.push(event(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": self.index}),
            ));
            self.index += 1;
        }
    }

    fn open(&mut self, which: Open, block: Value, out: &mut Vec<Event>) {
        if self.open.as_ref() == Some(&which) {
            return;
        }
        self.close(out);
        out.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": self.index, "content_block": block}),
        ));
        self.open = Some(which);
    }
}

/// The router's stream as Anthropic events (`message_start` … `message_stop`); a stream
/// that breaks ends with an `error` event, which the official clients raise.
fn stream(upstream: nb_core::ChatStream, id: String, model: String, _req: &Value) -> Response {
    let start = event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": id, "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": UsageOut::of(None),
        }}),
    );
    let head = futures_util::stream::once(async move { vec![start] });
    struct St {
        upstream: nb_core::ChatStream,
        blocks: Blocks,
        reason: Option<FinishReason>,
        usage: Option<Usage>,
        done: bool,
    }
    let st = St {
        upstream,
        blocks: Blocks {
            index: 0,
            open: None,
        },
        reason: None,
        usage: None,
        done: false,
    };
    let body = futures_util::stream::unfold(st, |mut st| async move {
        if st.done {
            return None;
        }
        loop {
            let mut out = Vec::new();
            match st.upstream.next().await {
                Some(Ok(ChatChunk::Text { delta } | ChatChunk::Refusal { delta })) => {
                    st.blocks
                        .open(Open::Text, json!({"type": "text", "text": ""}), &mut out);
                    out.push(event(
                        "content_block_delta",
                        &json!({"type": "content_block_delta", "index": st.blocks.index,
                                "delta": {"type": "text_delta", "text": delta}}),
                    ));
                }
                Some(Ok(ChatChunk::ToolCall(d))) => {
                    st.blocks.open(
                        Open::Tool(d.index),
                        json!({"type": "tool_use", "id": d.id.clone().unwrap_or_else(|| format!("toolu_{}", d.index)),
                               "name": d.name.clone().unwrap_or_default(), "input": {}}),
                        &mut out,
                    );
                    if !d.arguments.is_empty() {
                        out.push(event(
                            "content_block_delta",
                            &json!({"type": "content_block_delta", "index": st.blocks.index,
                                    "delta": {"type": "input_json_delta", "partial_json": d.arguments}}),
                        ));
                    }
                }
                Some(Ok(ChatChunk::Finish { reason })) => st.reason = Some(reason),
                Some(Ok(ChatChunk::Usage(u))) => st.usage = Some(u),
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    st.done = true;
                    out.push(event(
                        "error",
                        &error_body(F, ErrorType::Upstream, &stream_error_message(&e)),
                    ));
                }
                None => {
                    st.done = true;
                    st.blocks.close(&mut out);
                    let reason = st.reason.as_ref().map_or("end_turn", stop_reason);
                    out.push(event(
                        "message_delta",
                        &json!({"type": "message_delta",
                                "delta": {"stop_reason": reason, "stop_sequence": null},
                                "usage": {"input_tokens": st.usage.map_or(0, |u| u.input_tokens),
                                          "output_tokens": st.usage.map_or(0, |u| u.output_tokens)}}),
                    ));
                    out.push(event("message_stop", &json!({"type": "message_stop"})));
                }
            }
            if !out.is_empty() {
                return Some((out, st));
            }
        }
    });
    Sse::new(
        head.chain(body)
            .flat_map(futures_util::stream::iter)
            .map(Ok::<_, std::convert::Infallible>),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_map_to_the_routers_vocabulary() {
        let v = json!({
            "model": "m", "max_tokens": 10,
            "system": [{"type": "text", "text": "Be terse."}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                ]},
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {"x": 1}},
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "2", "is_error": true},
                ]},
            ],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "any"},
            "stop_sequences": ["END"],
        });
        let r = parse_request(&v).unwrap();
        assert_eq!(r.messages[0].role, Role::System);
        assert!(matches!(&r.messages[1].parts[1], Part::Image { .. }));
        let call = r.messages[2].tool_calls().next().unwrap();
        assert_eq!((call.name.as_str(), call.id.as_deref()), ("f", Some("t1")));
        assert!(matches!(
            &r.messages[3].parts[0],
            Part::ToolResult { is_error: true, .. }
        ));
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.max_tokens, Some(10));
        assert_eq!(r.stop, vec!["END".to_owned()]);
    }

    #[test]
    fn max_tokens_is_required_as_the_api_requires_it() {
        let e =
            parse_request(&json!({"messages": [{"role": "user", "content": "x"}]})).unwrap_err();
        assert!(e.contains("max_tokens"), "{e}");
    }

    #[test]
    fn a_tool_call_renders_as_a_tool_use_block() {
        let mut resp = ChatResponse::text("");
        resp.tool_calls
            .push(ToolCall::from_raw(Some("t9".into()), "f", "{\"x\":1}"));
        resp.finish_reason = FinishReason::ToolCalls;
        let v: Value = serde_json::from_slice(&render(&resp, "id", "m", None)).unwrap();
        assert_eq!(v["content"][0]["type"], "tool_use");
        assert_eq!(v["content"][0]["input"], json!({"x": 1}));
        assert_eq!(v["stop_reason"], "tool_use");
    }

    #[test]
    fn an_answer_renders_every_field_of_a_message() {
        let mut resp = ChatResponse::text("42");
        resp.tool_calls.push(ToolCall::from_raw(None, "f", "{bad"));
        let v: Value =
            serde_json::from_slice(&render(&resp, "msg_1", "m", Some(json!({"k": 1})))).unwrap();
        assert_eq!(
            v,
            json!({
                "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
                "content": [
                    {"type": "text", "text": "42"},
                    {"type": "tool_use", "id": "toolu_0", "name": "f", "input": {}},
                ],
                "stop_reason": "end_turn",
                "stop_sequence": null,
                "usage": {
                    "input_tokens": 0, "output_tokens": 0,
                    "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0,
                },
                "nb_report": {"k": 1},
            })
        );
        // An empty answer is one empty text block.
        let v: Value =
            serde_json::from_slice(&render(&ChatResponse::text(""), "i", "m", None)).unwrap();
        assert_eq!(v["content"], json!([{"type": "text", "text": ""}]));
        assert!(v.get("nb_report").is_none());
    }
}
