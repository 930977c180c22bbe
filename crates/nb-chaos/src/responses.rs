//! The simulator's own rendering of OpenAI's Responses API (`POST /v1/responses`),
//! written from the official openai-python SDK's types (v3.63.0,
//! `openai/types/responses/`: `response_create_params.py`, `response.py`,
//! `response_*_event.py`) and provider-wire-facts §2. Like the other formats it shares
//! no type with the adapter it tests.
//!
//! - Request: `model`, `input` (a string, or items: messages with `input_text` /
//!   `input_image` / `input_file` parts, `function_call`, `function_call_output`),
//!   `instructions`, `max_output_tokens`, flat function `tools`, `tool_choice`,
//!   `text.format`, `stream`. Chat Completions' `messages`, `max_tokens`,
//!   `response_format` and `stop` are refused as unknown parameters.
//! - Answer: a `Response` object (`status`, `output` items, `incomplete_details`,
//!   `usage` with `input_tokens` / `output_tokens`).
//! - Stream: typed events, each with `sequence_number`: `response.created`,
//!   `response.in_progress`, `response.output_item.added`, `response.output_text.delta`,
//!   `response.function_call_arguments.delta`, …, ending with `response.completed`,
//!   `response.incomplete` or `response.failed`.

use serde_json::{Value, json};

use crate::wire::{Ending, Frame, Incoming, StreamEnd, ToolUse, ToolWant, pieces, tokens};

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn check_part(p: &Value, at: &str, media: &mut usize) -> Result<(), String> {
    match s(p, "type").as_deref() {
        Some("input_text" | "output_text") if s(p, "text").is_some() => Ok(()),
        Some("input_image") => {
            *media += 1;
            match (s(p, "image_url"), s(p, "file_id")) {
                (Some(u), _)
                    if u.starts_with("data:image/")
                        || u.starts_with("https://")
                        || u.starts_with("http://") =>
                {
                    Ok(())
                }
                (None, Some(_)) => Ok(()),
                _ => Err(format!("{at}: image_url or file_id is required")),
            }
        }
        Some("input_file") => {
            *media += 1;
            if s(p, "file_data").is_some()
                || s(p, "file_id").is_some()
                || s(p, "file_url").is_some()
            {
                Ok(())
            } else {
                Err(format!("{at}: file_data, file_id or file_url is required"))
            }
        }
        other => Err(format!("Invalid value for '{at}.type': {other:?}")),
    }
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

/// Reads a `POST /responses` body. `Err` holds the reason for a 400.
pub(crate) fn parse_request(obj: &serde_json::Map<String, Value>) -> Result<Incoming, String> {
    for unknown in [
        "messages",
        "max_tokens",
        "response_format",
        "stop",
        "stream_options",
    ] {
        if obj.contains_key(unknown) {
            return Err(format!("Unsupported parameter: '{unknown}'."));
        }
    }
    let mut inc = Incoming {
        model: s(&Value::Object(obj.clone()), "model")
            .ok_or("Missing required parameter: 'model'.")?,
        ..Incoming::default()
    };
    match obj.get("input") {
        Some(Value::String(t)) => {
            inc.all_text_len += t.len();
            inc.user_texts.push(t.clone());
        }
        Some(Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("input[{i}]");
                match (s(item, "type").as_deref(), s(item, "role").as_deref()) {
                    (Some("function_call"), _) => {
                        if s(item, "call_id").is_none()
                            || s(item, "name").is_none()
                            || s(item, "arguments").is_none()
                        {
                            return Err(format!(
                                "{at}: call_id, name and arguments (a string) are required"
                            ));
                        }
                    }
                    (Some("function_call_output"), _) => {
                        if s(item, "call_id").is_none() || item.get("output").is_none() {
                            return Err(format!("{at}: call_id and output are required"));
                        }
                        inc.all_text_len += text_of(&item["output"]).len();
                    }
                    (
                        None | Some("message"),
                        Some(role @ ("user" | "assistant" | "system" | "developer")),
                    ) => {
                        let content = item.get("content").unwrap_or(&Value::Null);
                        if let Value::Array(parts) = content {
                            for (j, p) in parts.iter().enumerate() {
                                check_part(p, &format!("{at}.content[{j}]"), &mut inc.media)?;
                            }
                        } else if !content.is_string() {
                            return Err(format!("{at}.content must be a string or an array"));
                        }
                        let t = text_of(content);
                        inc.all_text_len += t.len();
                        if role == "user" {
                            inc.user_texts.push(t);
                        }
                    }
                    (other, _) => return Err(format!("Invalid value for '{at}.type': {other:?}")),
                }
            }
            inc.after_tool_result = items
                .last()
                .is_some_and(|l| s(l, "type").as_deref() == Some("function_call_output"));
        }
        _ => return Err("Missing required parameter: 'input'.".into()),
    }
    if let Some(Value::String(t)) = obj.get("instructions") {
        inc.all_text_len += t.len();
    }
    inc.stream = obj.get("stream").and_then(Value::as_bool).unwrap_or(false);
    // Usage always travels in the final `response.completed` event.
    inc.include_usage = true;
    inc.wants_json = obj
        .get("text")
        .and_then(|t| t.get("format"))
        .and_then(|f| s(f, "type"))
        .is_some_and(|t| t == "json_object" || t == "json_schema");
    for (i, t) in obj
        .get("tools")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        // FunctionToolParam is flat: no nested `function` object.
        let name = s(t, "name").ok_or(format!("Missing required parameter: 'tools[{i}].name'."))?;
        inc.tools
            .push((name, t.get("parameters").cloned().unwrap_or(Value::Null)));
    }
    inc.tool_choice = match obj.get("tool_choice") {
        Some(Value::String(c)) if c == "none" => ToolWant::None,
        Some(Value::String(c)) if c == "required" => ToolWant::Required,
        Some(c @ Value::Object(_)) => {
            ToolWant::Named(s(c, "name").ok_or("Missing required parameter: 'tool_choice.name'.")?)
        }
        _ => ToolWant::Auto,
    };
    Ok(inc)
}

fn usage(prompt: u64, out: u64) -> Value {
    json!({"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0},
           "output_tokens": out, "output_tokens_details": {"reasoning_tokens": 0},
           "total_tokens": prompt + out})
}

fn response(id: &str, model: &str, status: &str, output: Value, usage: Value) -> Value {
    json!({"id": id, "object": "response", "created_at": 1_764_000_000u64, "status": status,
           "error": null, "incomplete_details": null, "model": model, "output": output,
           "parallel_tool_calls": true, "store": false, "usage": usage})
}

const REFUSAL: &str = "I'm sorry, I can't help with that request.";

/// The output items of a text answer: a reasoning item (not content) and the message.
fn text_output(id: &str, text: &str, ending: Ending) -> Value {
    let content = match ending {
        Ending::Refusal => json!([{"type": "refusal", "refusal": REFUSAL}]),
        _ => json!([{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]),
    };
    json!([
        {"id": format!("rs_{id}"), "type": "reasoning", "summary": []},
        {"id": format!("msg_{id}"), "type": "message", "role": "assistant", "status": "completed", "content": content}
    ])
}

/// A whole answer.
pub(crate) fn success(model: &str, id: &str, text: &str, ending: Ending, prompt: u64) -> String {
    let out = tokens(text.len());
    let mut r = match ending {
        Ending::ContentFilter => response(id, model, "incomplete", json!([]), usage(prompt, 0)),
        _ => response(
            id,
            model,
            "completed",
            text_output(id, text, ending),
            usage(prompt, out),
        ),
    };
    if ending == Ending::ContentFilter {
        r["incomplete_details"] = json!({"reason": "content_filter"});
    }
    r.to_string()
}

/// A completed answer with no output item: nothing usable.
pub(crate) fn empty(model: &str, id: &str) -> String {
    response(id, model, "completed", json!([]), usage(1, 0)).to_string()
}

/// A whole answer that calls a tool.
pub(crate) fn tool_success(model: &str, id: &str, call: &ToolUse, prompt: u64) -> String {
    let args = call.arguments.to_string();
    let out = tokens(args.len() + call.name.len());
    let item = json!({"id": format!("fc_{id}"), "type": "function_call", "call_id": call.id,
                      "name": call.name, "arguments": args, "status": "completed"});
    response(id, model, "completed", json!([item]), usage(prompt, out)).to_string()
}

/// Numbers events as the API does (`sequence_number` from 0).
struct Events {
    seq: u64,
    frames: Vec<Frame>,
}

impl Events {
    fn new() -> Self {
        Self {
            seq: 0,
            frames: Vec::new(),
        }
    }

    fn event(&mut self, kind: &str, mut data: Value) -> String {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        format!("event: {kind}\ndata: {data}\n\n")
    }

    fn data(&mut self, kind: &str, data: Value) {
        let e = self.event(kind, data);
        self.frames.push(Frame::Data(e));
    }

    fn content(&mut self, kind: &str, data: Value) {
        let e = self.event(kind, data);
        self.frames.push(Frame::Content(e));
    }

    fn start(&mut self, id: &str, model: &str) {
        let shell = response(id, model, "in_progress", json!([]), Value::Null);
        self.data("response.created", json!({"response": shell.clone()}));
        self.data("response.in_progress", json!({"response": shell}));
    }

    fn failed(&mut self, id: &str, model: &str) {
        let mut r = response(id, model, "failed", json!([]), Value::Null);
        r["error"] = json!({"code": "server_error", "message": "The server had an error while processing your request. Sorry about that!"});
        self.data("response.failed", json!({"response": r}));
    }
}

/// The frames of a streamed text answer.
pub(crate) fn stream(model: &str, id: &str, text: &str, end: StreamEnd, prompt: u64) -> Vec<Frame> {
    let parts = pieces(text);
    let limit = match end {
        StreamEnd::Complete(_) => usize::MAX,
        StreamEnd::ErrorAfter(n) | StreamEnd::TruncateAfter(n) => n as usize,
    };
    let mut e = Events::new();
    e.start(id, model);
    if let StreamEnd::Complete(Ending::ContentFilter) = end {
        let mut r = response(id, model, "incomplete", json!([]), usage(prompt, 0));
        r["incomplete_details"] = json!({"reason": "content_filter"});
        e.data("response.incomplete", json!({"response": r}));
        return e.frames;
    }
    let msg = format!("msg_{id}");
    e.data(
        "response.output_item.added",
        json!({"output_index": 1, "item": {"id": msg, "type": "message", "role": "assistant", "status": "in_progress", "content": []}}),
    );
    if let StreamEnd::Complete(Ending::Refusal) = end {
        e.content(
            "response.refusal.delta",
            json!({"item_id": msg, "output_index": 1, "content_index": 0, "delta": REFUSAL}),
        );
    } else {
        for p in parts.iter().take(limit) {
            e.content(
                "response.output_text.delta",
                json!({"item_id": msg, "output_index": 1, "content_index": 0, "delta": p, "logprobs": []}),
            );
        }
    }
    match end {
        StreamEnd::Complete(ending) => {
            if ending == Ending::Stop {
                e.data(
                    "response.output_text.done",
                    json!({"item_id": msg, "output_index": 1, "content_index": 0, "text": text, "logprobs": []}),
                );
            }
            let r = response(
                id,
                model,
                "completed",
                text_output(id, text, ending),
                usage(prompt, tokens(text.len())),
            );
            e.data("response.completed", json!({"response": r}));
        }
        StreamEnd::ErrorAfter(_) => e.failed(id, model),
        StreamEnd::TruncateAfter(_) => {}
    }
    e.frames
}

/// The frames of a streamed answer that calls a tool: the `function_call` item is added
/// with its name and call id, its arguments arrive as
/// `response.function_call_arguments.delta` fragments.
pub(crate) fn tool_stream(
    model: &str,
    id: &str,
    call: &ToolUse,
    end: StreamEnd,
    prompt: u64,
) -> Vec<Frame> {
    let args = call.arguments.to_string();
    let parts = pieces(&args);
    let limit = match end {
        StreamEnd::Complete(_) => usize::MAX,
        StreamEnd::ErrorAfter(n) | StreamEnd::TruncateAfter(n) => n as usize,
    };
    let item_id = format!("fc_{id}");
    let mut e = Events::new();
    e.start(id, model);
    e.data(
        "response.output_item.added",
        json!({"output_index": 0, "item": {"id": item_id, "type": "function_call", "call_id": call.id, "name": call.name, "arguments": "", "status": "in_progress"}}),
    );
    for p in parts.iter().take(limit) {
        e.content(
            "response.function_call_arguments.delta",
            json!({"item_id": item_id, "output_index": 0, "delta": p}),
        );
    }
    match end {
        StreamEnd::Complete(_) => {
            e.data(
                "response.function_call_arguments.done",
                json!({"item_id": item_id, "output_index": 0, "arguments": args}),
            );
            let item = json!({"id": item_id, "type": "function_call", "call_id": call.id, "name": call.name, "arguments": args, "status": "completed"});
            let out = tokens(args.len() + call.name.len());
            let r = response(id, model, "completed", json!([item]), usage(prompt, out));
            e.data("response.completed", json!({"response": r}));
        }
        StreamEnd::ErrorAfter(_) => e.failed(id, model),
        StreamEnd::TruncateAfter(_) => {}
    }
    e.frames
}
