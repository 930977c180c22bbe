//! Tool calls and judge mode, spoken to with plain reqwest and checked against the
//! providers' documented shapes (`/work/shared/reference/provider-wire-facts.md`: §1.2
//! and §1.3 for OpenAI, §3.2 and §3.3 for Anthropic, §5.1 for Gemini; §2 and the
//! openai-python SDK's `types/responses/` for the Responses API).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_chaos::tasks::Task;
use nb_chaos::*;
use serde_json::{Value, json};

const MODEL: &str = "m";

fn person_schema() -> Value {
    json!({"type": "object", "required": ["name", "age", "city"], "properties": {
        "name": {"type": "string"}, "age": {"type": "integer"}, "city": {"type": "string"}}})
}

fn task() -> Task {
    Task::Extract {
        name: "Chiara".into(),
        age: 51,
        city: "Tartu".into(),
    }
}

/// How a request asks for tools: not at all, `auto`, required, or a named tool.
#[derive(Clone, Copy, PartialEq)]
enum Choice {
    Auto,
    Required,
    Named,
    None,
}

/// A request offering `save_person` (and `noop`) in `format`'s documented request shape.
fn request(format: WireFormat, prompt: &str, choice: Choice, stream: bool) -> (String, Value) {
    let schema = person_schema();
    match format {
        WireFormat::OpenAi => {
            let mut b = json!({"model": MODEL, "stream": stream, "stream_options": {"include_usage": true},
                "messages": [{"role": "user", "content": prompt}],
                "tools": [{"type": "function", "function": {"name": "noop", "parameters": {"type": "object", "properties": {}}}},
                          {"type": "function", "function": {"name": "save_person", "parameters": schema}}]});
            match choice {
                Choice::Required => b["tool_choice"] = json!("required"),
                Choice::Named => {
                    b["tool_choice"] =
                        json!({"type": "function", "function": {"name": "save_person"}})
                }
                Choice::None => b["tool_choice"] = json!("none"),
                Choice::Auto => {}
            }
            ("/v1/chat/completions".into(), b)
        }
        WireFormat::Anthropic => {
            let mut b = json!({"model": MODEL, "max_tokens": 100, "stream": stream,
                "messages": [{"role": "user", "content": prompt}],
                "tools": [{"name": "noop", "input_schema": {"type": "object", "properties": {}}},
                          {"name": "save_person", "input_schema": schema}]});
            match choice {
                Choice::Required => b["tool_choice"] = json!({"type": "any"}),
                Choice::Named => b["tool_choice"] = json!({"type": "tool", "name": "save_person"}),
                Choice::None => b["tool_choice"] = json!({"type": "none"}),
                Choice::Auto => {}
            }
            ("/v1/messages".into(), b)
        }
        WireFormat::Gemini => {
            let mut b = json!({"contents": [{"role": "user", "parts": [{"text": prompt}]}],
                "tools": [{"functionDeclarations": [{"name": "noop", "parameters": {"type": "object", "properties": {}}},
                                                    {"name": "save_person", "parametersJsonSchema": schema}]}]});
            match choice {
                Choice::Required => {
                    b["toolConfig"] = json!({"functionCallingConfig": {"mode": "ANY"}})
                }
                Choice::Named => {
                    b["toolConfig"] = json!({"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["save_person"]}})
                }
                Choice::None => {
                    b["toolConfig"] = json!({"functionCallingConfig": {"mode": "NONE"}})
                }
                Choice::Auto => {}
            }
            let action = if stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            (format!("/v1beta/models/{MODEL}:{action}"), b)
        }
        WireFormat::OpenAiResponses => {
            // FunctionToolParam is flat; tool_choice names a function as {type, name}.
            let mut b = json!({"model": MODEL, "stream": stream, "input": prompt,
                "tools": [{"type": "function", "name": "noop", "parameters": {"type": "object", "properties": {}}, "strict": false},
                          {"type": "function", "name": "save_person", "parameters": schema, "strict": false}]});
            match choice {
                Choice::Required => b["tool_choice"] = json!("required"),
                Choice::Named => {
                    b["tool_choice"] = json!({"type": "function", "name": "save_person"})
                }
                Choice::None => b["tool_choice"] = json!("none"),
                Choice::Auto => {}
            }
            ("/v1/responses".into(), b)
        }
    }
}

async fn send(server: &ChaosServer, name: &str, path: &str, body: &Value) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}{path}", server.base_url(name).unwrap()))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// The SSE events of a body: (event name, data as JSON); `[DONE]` as a string.
fn events(body: &str) -> Vec<(Option<String>, Value)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = Some(e.to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            let v = serde_json::from_str(&data).unwrap_or(Value::String(data));
            (event, v)
        })
        .collect()
}

/// A called tool, read back from a whole answer in `format`'s documented response shape.
fn call_of(format: WireFormat, body: &str) -> Option<(String, Value)> {
    let v: Value = serde_json::from_str(body).unwrap();
    match format {
        WireFormat::OpenAi => {
            // §1.2: tool_calls[j].function.{name, arguments}; arguments is a JSON string.
            let c = &v["choices"][0];
            let calls = c["message"]["tool_calls"].as_array()?;
            assert_eq!(c["finish_reason"], "tool_calls", "{v}");
            assert!(c["message"]["content"].is_null(), "{v}");
            assert_eq!(calls.len(), 1);
            assert_eq!(calls[0]["type"], "function");
            assert!(calls[0]["id"].as_str().unwrap().starts_with("call_"));
            let args = calls[0]["function"]["arguments"]
                .as_str()
                .expect("a string");
            Some((
                calls[0]["function"]["name"].as_str()?.to_owned(),
                serde_json::from_str(args).unwrap(),
            ))
        }
        WireFormat::Anthropic => {
            // §3.2: content [{type: "tool_use", id, name, input}], stop_reason tool_use.
            let block = v["content"]
                .as_array()
                .unwrap()
                .iter()
                .find(|b| b["type"] == "tool_use")?
                .clone();
            assert_eq!(v["stop_reason"], "tool_use", "{v}");
            assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
            assert!(block["input"].is_object());
            Some((block["name"].as_str()?.to_owned(), block["input"].clone()))
        }
        WireFormat::Gemini => {
            // §5.1: parts[j].functionCall {name, args}; args an object, no id.
            let part = v["candidates"][0]["content"]["parts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p.get("functionCall").is_some())?
                .clone();
            assert_eq!(v["candidates"][0]["finishReason"], "STOP");
            assert!(part["functionCall"].get("id").is_none());
            Some((
                part["functionCall"]["name"].as_str()?.to_owned(),
                part["functionCall"]["args"].clone(),
            ))
        }
        WireFormat::OpenAiResponses => {
            // ResponseFunctionToolCall: an output item {type: "function_call", call_id,
            // name, arguments (a JSON string)}; the response is completed.
            assert_eq!(v["status"], "completed", "{v}");
            let item = v["output"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["type"] == "function_call")?
                .clone();
            assert!(item["call_id"].as_str().is_some());
            let args = item["arguments"].as_str().expect("a string");
            Some((
                item["name"].as_str()?.to_owned(),
                serde_json::from_str(args).unwrap(),
            ))
        }
    }
}

/// A called tool, reassembled from a stream in `format`'s documented event shapes.
fn streamed_call_of(format: WireFormat, body: &str) -> Option<(String, Value)> {
    let evs = events(body);
    match format {
        WireFormat::OpenAi => {
            // §1.3: delta.tool_calls[k] keyed by index; arguments are string fragments.
            assert_eq!(evs.last().unwrap().1, "[DONE]");
            let (mut name, mut args, mut finish, mut fragments) = (None, String::new(), None, 0);
            for (_, e) in &evs {
                let Some(c) = e["choices"].as_array().and_then(|c| c.first()) else {
                    continue;
                };
                if let Some(f) = c["finish_reason"].as_str() {
                    finish = Some(f.to_owned());
                }
                for t in c["delta"]["tool_calls"].as_array().into_iter().flatten() {
                    assert_eq!(t["index"], 0);
                    if let Some(n) = t["function"]["name"].as_str() {
                        assert!(t["id"].as_str().unwrap().starts_with("call_"));
                        assert_eq!(t["type"], "function");
                        name = Some(n.to_owned());
                    }
                    args.push_str(t["function"]["arguments"].as_str().unwrap());
                    fragments += 1;
                }
            }
            let name = name?;
            assert!(
                args.len() <= 4 || fragments > 2,
                "arguments arrive in fragments"
            );
            assert_eq!(finish.as_deref(), Some("tool_calls"));
            Some((name, serde_json::from_str(&args).unwrap()))
        }
        WireFormat::Anthropic => {
            // §3.3: content_block_start (tool_use) + input_json_delta partial_json
            // fragments, message_delta stop_reason tool_use, message_stop.
            assert_eq!(evs.last().unwrap().0.as_deref(), Some("message_stop"));
            let start = evs.iter().find(|(e, v)| {
                e.as_deref() == Some("content_block_start")
                    && v["content_block"]["type"] == "tool_use"
            })?;
            let name = start.1["content_block"]["name"].as_str()?.to_owned();
            let json: String = evs
                .iter()
                .filter(|(e, v)| {
                    e.as_deref() == Some("content_block_delta")
                        && v["delta"]["type"] == "input_json_delta"
                })
                .map(|(_, v)| v["delta"]["partial_json"].as_str().unwrap().to_owned())
                .collect();
            let stop = evs
                .iter()
                .find(|(e, _)| e.as_deref() == Some("message_delta"))
                .unwrap();
            assert_eq!(stop.1["delta"]["stop_reason"], "tool_use");
            Some((name, serde_json::from_str(&json).unwrap()))
        }
        WireFormat::Gemini => {
            // §5.1: each SSE chunk a whole GenerateContentResponse; the call arrives whole.
            let part = evs.iter().find_map(|(_, v)| {
                v["candidates"][0]["content"]["parts"]
                    .as_array()?
                    .iter()
                    .find(|p| p.get("functionCall").is_some())
                    .cloned()
            })?;
            let last = &evs.last().unwrap().1;
            assert_eq!(last["candidates"][0]["finishReason"], "STOP");
            Some((
                part["functionCall"]["name"].as_str()?.to_owned(),
                part["functionCall"]["args"].clone(),
            ))
        }
        WireFormat::OpenAiResponses => {
            // response.output_item.added (a function_call item), then
            // response.function_call_arguments.delta fragments, ending with
            // response.completed; every event numbered by sequence_number.
            assert_eq!(evs.last().unwrap().0.as_deref(), Some("response.completed"));
            for (i, (_, v)) in evs.iter().enumerate() {
                assert_eq!(v["sequence_number"], i, "{v}");
            }
            let added = evs.iter().find(|(e, v)| {
                e.as_deref() == Some("response.output_item.added")
                    && v["item"]["type"] == "function_call"
            })?;
            let name = added.1["item"]["name"].as_str()?.to_owned();
            let args: String = evs
                .iter()
                .filter(|(e, _)| e.as_deref() == Some("response.function_call_arguments.delta"))
                .map(|(_, v)| v["delta"].as_str().unwrap().to_owned())
                .collect();
            Some((name, serde_json::from_str(&args).unwrap()))
        }
    }
}

fn text_of(format: WireFormat, body: &str, stream: bool) -> String {
    if stream {
        return events(body)
            .iter()
            .filter_map(|(_, v)| match format {
                WireFormat::OpenAi => v["choices"][0]["delta"]["content"]
                    .as_str()
                    .map(str::to_owned),
                WireFormat::Anthropic => v["delta"]["text"].as_str().map(str::to_owned),
                WireFormat::Gemini => v["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .map(str::to_owned),
                WireFormat::OpenAiResponses => (v["type"] == "response.output_text.delta")
                    .then(|| v["delta"].as_str().map(str::to_owned))
                    .flatten(),
            })
            .collect();
    }
    let v: Value = serde_json::from_str(body).unwrap();
    match format {
        WireFormat::OpenAi => v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or("")
            .into(),
        WireFormat::Anthropic => v["content"][0]["text"].as_str().unwrap_or("").into(),
        WireFormat::Gemini => v["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap_or("")
            .into(),
        WireFormat::OpenAiResponses => v["output"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|i| i["type"] == "message")
            .flat_map(|i| i["content"].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["text"].as_str().map(str::to_owned))
            .collect(),
    }
}

const FORMATS: [WireFormat; 4] = [
    WireFormat::OpenAi,
    WireFormat::Anthropic,
    WireFormat::Gemini,
    WireFormat::OpenAiResponses,
];

fn name_of(f: WireFormat) -> &'static str {
    match f {
        WireFormat::OpenAi => "o",
        WireFormat::Anthropic => "a",
        WireFormat::Gemini => "g",
        WireFormat::OpenAiResponses => "r",
    }
}

async fn start(edit: impl Fn(ProviderSpec) -> ProviderSpec) -> ChaosServer {
    ChaosServer::start(Scenario::new(
        FORMATS
            .iter()
            .map(|&f| edit(ProviderSpec::new(name_of(f), f, MODEL)))
            .collect(),
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn a_required_tool_is_called_in_each_format_streamed_and_not() {
    let server = start(|p| p).await;
    let expected = json!({"name": "Chiara", "age": 51, "city": "Tartu"});
    for f in FORMATS {
        for stream in [false, true] {
            for choice in [Choice::Named, Choice::Required] {
                let (path, body) = request(f, &task().prompt(), choice, stream);
                let text = send(&server, name_of(f), &path, &body).await;
                let call = if stream {
                    streamed_call_of(f, &text)
                } else {
                    call_of(f, &text)
                };
                let (name, args) = call.unwrap_or_else(|| panic!("{f:?} stream={stream}: {text}"));
                // Named: that tool; required: the first offered.
                let want = if choice == Choice::Named {
                    "save_person"
                } else {
                    "noop"
                };
                assert_eq!(name, want, "{f:?} stream={stream}");
                if choice == Choice::Named {
                    // Derived from the checkable task: the arguments are its truth.
                    assert_eq!(args, expected, "{f:?} stream={stream}");
                } else {
                    assert_eq!(args, json!({}));
                }
            }
        }
        let stats = server.handle().stats(name_of(f)).unwrap();
        assert_eq!(stats.tool_calls, 4, "{f:?}");
    }
}

#[tokio::test]
async fn tools_offered_but_not_required_get_text_unless_a_rule_matches() {
    let server = start(|p| {
        p.with_tool_rule(
            ToolRule::new(r"Save (?P<name>\w+), aged (?P<age>\d+)")
                .calling("save_person")
                .with_arguments(json!({"city": "$3"})),
        )
        .with_tool_rule(ToolRule::new(r"Save (\w+), aged (\d+), of (\w+)"))
    })
    .await;
    for f in FORMATS {
        for stream in [false, true] {
            // `auto` and no rule matching: a text answer.
            let (path, body) = request(f, &task().prompt(), Choice::Auto, stream);
            let text = send(&server, name_of(f), &path, &body).await;
            assert!(
                task().check(&text_of(f, &text, stream)),
                "{f:?} stream={stream}: {text}"
            );
            // A rule matches: its tool, the named groups and its arguments (no group 3:
            // the literal string stays).
            let (path, body) = request(f, "Save Bruno, aged 33, of Lyon.", Choice::Auto, stream);
            let text = send(&server, name_of(f), &path, &body).await;
            let (name, args) = if stream {
                streamed_call_of(f, &text)
            } else {
                call_of(f, &text)
            }
            .unwrap();
            assert_eq!(name, "save_person");
            assert_eq!(
                args,
                json!({"name": "Bruno", "age": 33, "city": "$3"}),
                "{f:?}"
            );
            // `none` forbids tools whatever the rules say.
            let (path, body) = request(f, "Save Bruno, aged 33, of Lyon.", Choice::None, stream);
            let text = send(&server, name_of(f), &path, &body).await;
            let none = if stream {
                streamed_call_of(f, &text)
            } else {
                call_of(f, &text)
            };
            assert!(none.is_none(), "{f:?}: {text}");
        }
    }
}

#[tokio::test]
async fn always_and_never_modes() {
    let always = start(|p| p.with_tool_calls(ToolCalls::Always)).await;
    let never = start(|p| p.with_tool_calls(ToolCalls::Never)).await;
    for f in FORMATS {
        let (path, body) = request(f, &task().prompt(), Choice::Auto, false);
        let text = send(&always, name_of(f), &path, &body).await;
        assert_eq!(call_of(f, &text).unwrap().0, "noop", "{f:?}");
        let (path, body) = request(f, &task().prompt(), Choice::Named, false);
        let text = send(&never, name_of(f), &path, &body).await;
        assert!(call_of(f, &text).is_none(), "{f:?}");
        assert!(task().check(&text_of(f, &text, false)));
    }
}

#[tokio::test]
async fn a_tool_result_turn_is_answered_in_text() {
    let server = start(|p| p.with_tool_calls(ToolCalls::Always)).await;
    let bodies = [
        (
            WireFormat::OpenAi,
            "/v1/chat/completions".to_owned(),
            json!({"model": MODEL, "messages": [
            {"role": "user", "content": "Save Chiara."},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "noop", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "saved"}],
            "tools": [{"type": "function", "function": {"name": "noop", "parameters": {}}}]}),
        ),
        (
            WireFormat::Anthropic,
            "/v1/messages".to_owned(),
            json!({"model": MODEL, "max_tokens": 10, "messages": [
            {"role": "user", "content": "Save Chiara."},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "noop", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "saved"}]}],
            "tools": [{"name": "noop", "input_schema": {"type": "object"}}]}),
        ),
        (
            WireFormat::Gemini,
            format!("/v1beta/models/{MODEL}:generateContent"),
            json!({"contents": [
            {"role": "user", "parts": [{"text": "Save Chiara."}]},
            {"role": "model", "parts": [{"functionCall": {"name": "noop", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "noop", "response": {"ok": true}}}]}],
            "tools": [{"functionDeclarations": [{"name": "noop"}]}]}),
        ),
        (
            WireFormat::OpenAiResponses,
            "/v1/responses".to_owned(),
            json!({"model": MODEL, "input": [
            {"role": "user", "content": "Save Chiara."},
            {"type": "function_call", "call_id": "call_1", "name": "noop", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "saved"}],
            "tools": [{"type": "function", "name": "noop", "parameters": {}, "strict": false}]}),
        ),
    ];
    for (f, path, body) in bodies {
        let text = send(&server, name_of(f), &path, &body).await;
        assert!(call_of(f, &text).is_none(), "{f:?}: {text}");
    }
}

#[tokio::test]
async fn faults_answer_text_to_a_required_tool_or_call_it_with_a_wrong_argument() {
    let text_instead = start(|p| p.with_fault(Fault::always(FaultKind::TextInsteadOfTool))).await;
    let wrong = start(|p| p.with_fault(Fault::always(FaultKind::WrongToolArguments))).await;
    let drift = start(|p| p.with_fault(Fault::always(FaultKind::SemanticDrift))).await;
    for f in FORMATS {
        for stream in [false, true] {
            let (path, body) = request(f, &task().prompt(), Choice::Named, stream);
            let text = send(&text_instead, name_of(f), &path, &body).await;
            let call = if stream {
                streamed_call_of(f, &text)
            } else {
                call_of(f, &text)
            };
            assert!(call.is_none(), "{f:?}: {text}");
            assert!(task().check(&text_of(f, &text, stream)), "{f:?}: {text}");
            for server in [&wrong, &drift] {
                let text = send(server, name_of(f), &path, &body).await;
                let (name, args) = if stream {
                    streamed_call_of(f, &text)
                } else {
                    call_of(f, &text)
                }
                .unwrap();
                assert_eq!(name, "save_person");
                // The first argument in key order changed: the age, by one.
                assert_eq!(args, json!({"name": "Chiara", "age": 52, "city": "Tartu"}));
            }
        }
        let counted = |s: &ChaosServer, k: &str| {
            s.handle()
                .stats(name_of(f))
                .unwrap()
                .faults
                .get(k)
                .copied()
                .unwrap_or(0)
        };
        assert_eq!(counted(&text_instead, "text_instead_of_tool"), 2);
        assert_eq!(counted(&wrong, "wrong_tool_arguments"), 2);
        // Without tools in the request the tool faults change nothing and count nothing.
        let (path, mut body) = request(f, &task().prompt(), Choice::Auto, false);
        body.as_object_mut().unwrap().remove("tools");
        let text = send(&wrong, name_of(f), &path, &body).await;
        assert!(task().check(&text_of(f, &text, false)));
        assert_eq!(counted(&wrong, "wrong_tool_arguments"), 2);
    }
}

#[tokio::test]
async fn a_cut_tool_stream_has_no_terminator() {
    let server =
        start(|p| p.with_fault(Fault::always(FaultKind::TruncatedStream).after_chunks(2))).await;
    for f in [WireFormat::OpenAi, WireFormat::Anthropic] {
        let (path, body) = request(f, &task().prompt(), Choice::Named, true);
        let text = send(&server, name_of(f), &path, &body).await;
        assert!(
            !text.contains("[DONE]") && !text.contains("message_stop"),
            "{text}"
        );
        assert!(!text.contains("tool_calls\"}") && !text.contains("\"stop_reason\":\"tool_use\""));
    }
}

#[test]
fn tool_options_parse_from_toml_and_bad_patterns_are_named() {
    let s = Scenario::from_toml(
        r#"
[[providers]]
name = "p"
format = "anthropic"
models = [{ name = "m" }]
tool_calls = "always"

[[providers.tool_rules]]
pattern = "weather in (?P<city>\\w+)"
tool = "get_weather"
arguments = { days = 3 }

[[providers.faults]]
kind = "wrong_tool_arguments"
probability = 0.5

[[providers.faults]]
kind = "wrong_verdict"
probability = 0.1
"#,
    )
    .unwrap();
    let p = &s.providers[0];
    assert_eq!(p.tool_calls, ToolCalls::Always);
    assert_eq!(p.tool_rules[0].tool.as_deref(), Some("get_weather"));
    assert_eq!(p.tool_rules[0].arguments.as_ref().unwrap()["days"], 3);
    assert_eq!(p.faults[1].kind, FaultKind::WrongVerdict);
    let e = Scenario::from_toml(
        "[[providers]]\nname = \"p\"\nformat = \"openai\"\nmodels = [{ name = \"m\" }]\ntool_calls = \"sometimes\"\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("sometimes"), "{e}");
    let e = Scenario::from_toml(
        "[[providers]]\nname = \"p\"\nformat = \"openai\"\nmodels = [{ name = \"m\" }]\ntool_rules = [{ pattern = \"(\" }]\n",
    )
    .unwrap_err();
    assert!(e.to_string().contains("tool_rules[0]"), "{e}");
}

/// nb-semantic's judge and entailment prompts, as they phrase them (copied: the
/// simulator depends on none of the layers it tests).
fn judge_prompt(q: &str, a: &str, b: &str) -> String {
    format!(
        "You compare two answers to the same question. Judge only whether they state the same result; \
         ignore wording, format and length.\n\nQuestion: {q}\n\nAnswer A: {a}\n\nAnswer B: {b}\n\n\
         Reply with exactly one word: SAME, DIFFERENT or UNSURE."
    )
}

fn entailment_prompt(q: &str, a: &str, b: &str) -> String {
    format!(
        "You check entailment between two answers to the same question. Answer A entails \
         Answer B when everything Answer B states follows from Answer A. Judge meaning only; \
         ignore wording and format.\n\nQuestion: {q}\n\nAnswer A: {a}\n\n\
         Answer B: {b}\n\nDoes Answer A entail Answer B? Reply with exactly one \
         word: YES, NO or UNSURE."
    )
}

async fn ask(server: &ChaosServer, prompt: &str) -> String {
    let (path, mut body) = request(WireFormat::OpenAi, prompt, Choice::Auto, false);
    body.as_object_mut().unwrap().remove("tools");
    let text = send(server, "o", &path, &body).await;
    text_of(WireFormat::OpenAi, &text, false)
}

#[tokio::test]
async fn the_judge_recognises_both_prompts_and_errs_at_its_scripted_rate() {
    let t = Task::Arithmetic {
        a: 6,
        op: '*',
        b: 7,
    };
    let q = t.prompt();
    let honest = start(|p| p).await;
    assert_eq!(
        ask(&honest, &judge_prompt(&q, "6 * 7 = 42", "42")).await,
        "SAME"
    );
    assert_eq!(
        ask(&honest, &judge_prompt(&q, "6 * 7 = 42", "43")).await,
        "DIFFERENT"
    );
    assert_eq!(
        ask(&honest, &entailment_prompt(&q, "6 * 7 = 42", "42")).await,
        "YES"
    );
    assert_eq!(ask(&honest, &entailment_prompt(&q, "42", "48")).await, "NO");
    assert_eq!(
        ask(&honest, &judge_prompt("Who won?", "A", "B")).await,
        "UNSURE"
    );
    assert_eq!(honest.handle().stats("o").unwrap().judge_requests, 5);

    // A judge wrong 30% of the time, seeded: the same seed replays the same mistakes.
    let run = |seed: u64| {
        let q = q.clone();
        async move {
            let server = ChaosServer::start(
                Scenario::new(vec![
                    ProviderSpec::new("o", WireFormat::OpenAi, MODEL)
                        .with_fault(Fault::always(FaultKind::WrongVerdict).with_probability(0.3)),
                ])
                .with_seed(seed),
            )
            .await
            .unwrap();
            let mut answers = Vec::new();
            for i in 0..200 {
                let p = if i % 2 == 0 {
                    judge_prompt(&q, "6 * 7 = 42", "42")
                } else {
                    entailment_prompt(&q, "6 * 7 = 42", "42")
                };
                answers.push(ask(&server, &p).await);
            }
            let stats = server.handle().stats("o").unwrap();
            (
                answers,
                stats.faults.get("wrong_verdict").copied().unwrap_or(0),
            )
        }
    };
    let (a, wrong) = run(4).await;
    let seen_wrong = a.iter().filter(|x| *x == "DIFFERENT" || *x == "NO").count() as u64;
    assert_eq!(
        seen_wrong, wrong,
        "every counted error is a flipped verdict"
    );
    assert!((35..=85).contains(&wrong), "about 30% of 200: {wrong}");
    assert_eq!(run(4).await.0, a, "the same seed replays the same verdicts");
    assert_ne!(run(5).await.0, a);
}
