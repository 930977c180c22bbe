//! `nb serve` as a real process over nb-chaos, driven over HTTP the way the official
//! OpenAI and Anthropic clients call it (`cargo xtask test` also drives it with those
//! clients themselves): answers and failover in both formats, streamed and not, errors in
//! the caller's format, the report headers, keys, and the operational endpoints.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Duration;

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use serde_json::{Value, json};

mod support;
use support::{Gateway, KEY, client, provider, start};

async fn chaos() -> ChaosServer {
    ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("down", WireFormat::OpenAi, "gpt-4o-mini")
            .with_fault(Fault::always(FaultKind::Outage).in_window(0.0, None)),
        ProviderSpec::new("openai", WireFormat::OpenAi, "gpt-4o-mini"),
        ProviderSpec::new("claude", WireFormat::Anthropic, "claude-sonnet-4-5"),
        ProviderSpec::new("gemini", WireFormat::Gemini, "gemini-2.5-flash"),
        ProviderSpec::new("drift", WireFormat::Anthropic, "claude-sonnet-4-5")
            .with_fault(Fault::always(FaultKind::SemanticDrift)),
        ProviderSpec::new("storm", WireFormat::OpenAi, "gpt-4o-mini")
            .with_fault(Fault::always(FaultKind::RateLimit).with_retry_after(30.0)),
    ]))
    .await
    .unwrap()
}

fn config(s: &ChaosServer) -> String {
    let b = |n: &str| s.base_url(n).unwrap();
    let mut c = String::new();
    c += &provider("down", "openai", &format!("{}/v1", b("down")));
    c += &provider("openai", "openai", &format!("{}/v1", b("openai")));
    c += &provider("claude", "anthropic", &b("claude"));
    c += &provider("gemini", "gemini", &b("gemini"));
    c += &provider("drift", "anthropic", &b("drift"));
    c += &provider("storm", "openai", &format!("{}/v1", b("storm")));
    c += r#"
[[targets]]
provider = "down"
model = "gpt-4o-mini"

[[targets]]
provider = "openai"
model = "gpt-4o-mini"

[[targets]]
provider = "claude"
model = "claude-sonnet-4-5"

[[targets]]
provider = "gemini"
model = "gemini-2.5-flash"

[[targets]]
provider = "drift"
model = "claude-sonnet-4-5"

[[targets]]
provider = "storm"
model = "gpt-4o-mini"

[routes]
main = ["down/gpt-4o-mini", "openai/gpt-4o-mini", "claude/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]
wrong = ["down/gpt-4o-mini", "drift/claude-sonnet-4-5", "gemini/gemini-2.5-flash"]
storm = ["storm/gpt-4o-mini"]

[policy]
attempt_timeout_ms = 2000
deadline_ms = 5000

[vouch]
equivalence = "strict"

[[gateway.keys]]
name = "tests"
env = "NB_GATEWAY_KEY"
"#;
    c
}

async fn openai(g: &Gateway, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/chat/completions", g.base))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn anthropic(g: &Gateway, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}/v1/messages", g.base))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

const Q: &str = "What is 17 + 25? Reply with the number only.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_serves_both_formats_fails_over_and_reports() {
    let s = chaos().await;
    let g = start(&config(&s), "main");

    // OpenAI, not streamed: the dead first choice is failed over, the answer vouched.
    let r = client()
        .post(format!("{}/v1/chat/completions", g.base))
        .bearer_auth(KEY)
        .header("x-nb-report", "full")
        .json(&json!({"model": "main", "messages": [{"role": "user", "content": Q}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-nb-served-by"), "openai/gpt-4o-mini");
    assert_eq!(header(&r, "x-nb-verdict"), "equivalent");
    assert!(header(&r, "x-nb-request-id").starts_with("nb-"));
    assert!(header(&r, "x-nb-attempts").parse::<u32>().unwrap() >= 2);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    // The model that answered, not the route.
    assert_eq!(v["model"], "gpt-4o-mini");
    assert_eq!(v["choices"][0]["message"]["content"], "42");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(v["nb_report"]["failed_over"], true);
    assert_eq!(v["nb_report"]["verdict"]["outcome"], "equivalent");
    // Names, not Rust Debug strings.
    assert_eq!(v["nb_report"]["attempts"][0]["role"], "answer");
    for a in v["nb_report"]["attempts"].as_array().unwrap() {
        let role = a["role"].as_str().unwrap();
        assert!(
            role.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
            "{a}"
        );
    }

    // OpenAI, streamed: chunks, then [DONE].
    let r = openai(
        &g,
        json!({"model": "openai/gpt-4o-mini", "stream": true,
               "stream_options": {"include_usage": true},
               "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-type").starts_with("text/event-stream"));
    let text = r.text().await.unwrap();
    let mut content = String::new();
    let mut saw_usage = false;
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        if line == "[DONE]" {
            continue;
        }
        let c: Value = serde_json::from_str(line).unwrap();
        assert_eq!(c["object"], "chat.completion.chunk");
        if let Some(d) = c["choices"][0]["delta"]["content"].as_str() {
            content.push_str(d);
        }
        saw_usage |= c["usage"]["completion_tokens"].is_u64();
    }
    assert_eq!(content, "42");
    assert!(saw_usage, "{text}");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");

    // Anthropic, not streamed, over the same route.
    let r = anthropic(
        &g,
        json!({"model": "main", "max_tokens": 64, "system": "Be terse.",
               "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["content"][0]["type"], "text");
    assert_eq!(v["content"][0]["text"], "42");
    assert_eq!(v["stop_reason"], "end_turn");

    // Anthropic, streamed: the event sequence of the Messages API.
    let r = anthropic(
        &g,
        json!({"model": "claude/claude-sonnet-4-5", "max_tokens": 64, "stream": true,
               "messages": [{"role": "user", "content": [{"type": "text", "text": Q}]}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "x-nb-served-by"), "claude/claude-sonnet-4-5");
    let text = r.text().await.unwrap();
    let events: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(events.first(), Some(&"message_start"));
    assert_eq!(events.last(), Some(&"message_stop"));
    assert!(events.contains(&"content_block_start") && events.contains(&"message_delta"));
    let mut content = String::new();
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let e: Value = serde_json::from_str(line).unwrap();
        if e["type"] == "content_block_delta" {
            content.push_str(e["delta"]["text"].as_str().unwrap());
        }
        if e["type"] == "message_delta" {
            assert!(e["usage"]["input_tokens"].as_u64().unwrap() > 0, "{e}");
        }
    }
    assert_eq!(content.trim(), "42");

    // The routes as models; health; readiness.
    let v: Value = client()
        .get(format!("{}/v1/models", g.base))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"main") && ids.contains(&"openai/gpt-4o-mini"),
        "{ids:?}"
    );
    let r = client()
        .get(format!("{}/healthz", g.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .get(format!("{}/readyz", g.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A model that is no route: refused, and counted without the name the caller chose
    // (a label a caller picks freely would grow the metrics without bound).
    for i in 0..3 {
        let r = client()
            .post(format!("{}/v1/chat/completions", g.base))
            .bearer_auth(KEY)
            .json(&json!({"model": format!("no-such-model-{i}"), "messages": [{"role": "user", "content": Q}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let r = client()
        .get(format!("{}/metrics", g.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("no-such-model"), "{text}");
    // The `nb_gateway_requests_total` series lines holding every one of `parts`.
    let requests = |parts: &[&str]| -> Vec<&str> {
        text.lines()
            .filter(|l| {
                l.starts_with("nb_gateway_requests_total{") && parts.iter().all(|p| l.contains(p))
            })
            .collect()
    };
    assert!(
        requests(&["status=\"404\"", "route=\"-\""])
            .iter()
            .any(|l| l.ends_with(" 3")),
        "{text}"
    );
    assert!(text.contains("neuralbridge_calls"), "{text}");
    // Prometheus conventions: HELP and TYPE, `_total` counters, histograms with units.
    assert!(text.contains("# HELP nb_gateway_requests_total "), "{text}");
    assert!(
        text.contains("# TYPE nb_gateway_requests_total counter"),
        "{text}"
    );
    assert!(
        !requests(&["status=\"200\"", "route=\"main\"", "key=\"tests\""]).is_empty(),
        "{text}"
    );
    assert!(
        text.contains("# TYPE nb_gateway_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("nb_gateway_request_duration_seconds_bucket{"),
        "{text}"
    );
    assert!(!text.contains("quantile="), "summaries: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_come_in_the_callers_format() {
    let s = chaos().await;
    let g = start(&config(&s), "errors");

    // An unknown key: 401, nothing sent upstream.
    let before = s.handle().requests("openai");
    let r = client()
        .post(format!("{}/v1/chat/completions", g.base))
        .bearer_auth("not-our-key")
        .json(&json!({"model": "main", "messages": [{"role": "user", "content": Q}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "authentication_error");
    let r = client()
        .post(format!("{}/v1/messages", g.base))
        .header("x-api-key", "not-our-key")
        .json(&json!({"model": "main", "max_tokens": 5, "messages": [{"role": "user", "content": Q}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
    assert_eq!(s.handle().requests("openai"), before);

    // The caller's invalid request: 400 in each format, nothing sent upstream.
    let r = openai(&g, json!({"model": "main", "messages": []})).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    let r = anthropic(
        &g,
        json!({"model": "main", "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens")
    );
    let r = client()
        .post(format!("{}/v1/chat/completions", g.base))
        .bearer_auth(KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(s.handle().requests("openai"), before);

    // An unknown model: 404 naming the routes.
    let r = openai(
        &g,
        json!({"model": "gpt-5", "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("main"));

    // No model: a 400 in the caller's format; fields the gateway cannot carry and
    // impossible max_tokens: 400s naming the field; nothing sent upstream.
    let before = s.handle().requests("openai");
    for (body, says) in [
        (
            json!({"messages": [{"role": "user", "content": Q}]}),
            "model",
        ),
        (
            json!({"model": "main", "max_tokens": -1, "messages": [{"role": "user", "content": Q}]}),
            "max_tokens",
        ),
        (
            json!({"model": "main", "max_tokens": 1e30, "messages": [{"role": "user", "content": Q}]}),
            "max_tokens",
        ),
        (
            json!({"model": "main", "logit_bias": {"1": 5}, "messages": [{"role": "user", "content": Q}]}),
            "logit_bias",
        ),
        (
            json!({"model": "main", "frequency_penalty": 1.0, "messages": [{"role": "user", "content": Q}]}),
            "frequency_penalty",
        ),
    ] {
        let r = openai(&g, body).await;
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{v}"
        );
    }
    let r = anthropic(
        &g,
        json!({"max_tokens": 5, "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(s.handle().requests("openai"), before);

    // A route without an embedding target has no route for embeddings: a 404 in
    // OpenAI's format, and no provider is asked.
    let r = client()
        .post(format!("{}/v1/embeddings", g.base))
        .bearer_auth(KEY)
        .json(&json!({"model": "main", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(s.handle().requests("openai"), before);

    // A wrong answer nobody can vouch for: an error, never a 200.
    let r = openai(
        &g,
        json!({"model": "wrong", "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 502);
    assert_eq!(header(&r, "x-should-retry"), "false");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "unvouched_answer");
    let r = anthropic(
        &g,
        json!({"model": "wrong", "max_tokens": 16, "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 502);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["type"], "unvouched_answer");

    // A 429 storm: the caller is told when to come back, and while it waits the gateway
    // sends nothing upstream.
    let storm = json!({"model": "storm", "messages": [{"role": "user", "content": Q}]});
    let r = openai(&g, storm.clone()).await;
    assert_eq!(r.status(), 429);
    let first_wait: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((25..=30).contains(&first_wait), "{first_wait}");
    let sent = s.handle().requests("storm");
    assert_eq!(sent, 1);
    for _ in 0..10 {
        let r = openai(&g, storm.clone()).await;
        assert_eq!(r.status(), 429);
        assert!(header(&r, "retry-after").parse::<u64>().unwrap() >= 1);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["type"], "rate_limit_error");
    }
    assert_eq!(
        s.handle().requests("storm"),
        sent,
        "nothing sent while told to wait"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_and_the_gateway_keeps_serving() {
    let s = chaos().await;
    let g = start(
        &config(&s).replace(
            "[[gateway.keys]]",
            "[gateway]\nmax_body_bytes = 4096\n\n[[gateway.keys]]",
        ),
        "limit",
    );
    let big = "x".repeat(10_000);
    let r = openai(
        &g,
        json!({"model": "main", "messages": [{"role": "user", "content": big}]}),
    )
    .await;
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "request_too_large");
    let r = openai(
        &g,
        json!({"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let _ = Duration::ZERO;
}

/// A tool call answered upstream in OpenAI's format reaches an Anthropic client as a
/// `tool_use` block, streamed and not; the tools go upstream in OpenAI's format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_call_crosses_formats_both_ways() {
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let upstream = MockServer::start().await;
    let call = json!({"id": "call_9", "type": "function",
                      "function": {"name": "get_weather", "arguments": "{\"city\":\"Lyon\"}"}});
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).insert_header("content-type", "text/event-stream").set_body_string(
            [
                json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": null}]}),
                json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}, "finish_reason": null}]}),
                json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "\"Lyon\"}"}}]}, "finish_reason": null}]}),
                json!({"id": "c", "object": "chat.completion.chunk", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
            ]
            .iter()
            .map(|c| format!("data: {c}\n\n"))
            .collect::<String>()
                + "data: [DONE]\n\n",
        ))
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"tools": [{"type": "function", "function": {"name": "get_weather"}}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "c", "object": "chat.completion", "created": 0, "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "tool_calls",
                         "message": {"role": "assistant", "content": null, "tool_calls": [call]}}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
        })))
        .mount(&upstream)
        .await;
    let cfg = provider("tools", "openai", &format!("{}/v1", upstream.uri()))
        + "[[targets]]\nprovider = \"tools\"\nmodel = \"gpt-4o-mini\"\n\n[[gateway.keys]]\nname = \"t\"\nenv = \"NB_GATEWAY_KEY\"\n";
    let g = start(&cfg, "tools");
    let body = json!({
        "model": "tools/gpt-4o-mini", "max_tokens": 100,
        "tools": [{"name": "get_weather", "description": "Weather by city",
                   "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
        "messages": [{"role": "user", "content": "Weather in Lyon?"}],
    });
    let r = anthropic(&g, body.clone()).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["stop_reason"], "tool_use", "{v}");
    let block = v["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap();
    assert_eq!(block["id"], "call_9");
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({"city": "Lyon"}));

    let mut streamed = body;
    streamed["stream"] = json!(true);
    let r = anthropic(&g, streamed).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let mut json_args = String::new();
    let mut started = None;
    let mut stop = None;
    for line in text.lines().filter_map(|l| l.strip_prefix("data: ")) {
        let e: Value = serde_json::from_str(line).unwrap();
        match e["type"].as_str().unwrap() {
            "content_block_start" => started = Some(e["content_block"].clone()),
            "content_block_delta" => {
                json_args.push_str(e["delta"]["partial_json"].as_str().unwrap())
            }
            "message_delta" => stop = Some(e["delta"]["stop_reason"].clone()),
            _ => {}
        }
    }
    let started = started.unwrap();
    assert_eq!(started["type"], "tool_use");
    assert_eq!(started["name"], "get_weather");
    assert_eq!(
        serde_json::from_str::<Value>(&json_args).unwrap(),
        json!({"city": "Lyon"})
    );
    assert_eq!(stop, Some(json!("tool_use")));
}

/// A gateway key's requests per minute and spend per day are enforced before anything
/// goes upstream, with a 429 that says when to come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_key_limits_refuse_before_anything_goes_upstream() {
    let s = chaos().await;
    let base = format!("{}/v1", s.base_url("openai").unwrap());
    let cfg = provider("openai", "openai", &base)
        + r#"[[targets]]
provider = "openai"
model = "gpt-4o-mini"
cost = { input_per_mtok = 1000.0, output_per_mtok = 1000.0 }

[[gateway.keys]]
name = "paced"
env = "NB_GATEWAY_KEY"
requests_per_minute = 2
"#;
    let g = start(&cfg, "paced");
    let req = json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": Q}]});
    assert_eq!(openai(&g, req.clone()).await.status(), 200);
    assert_eq!(openai(&g, req.clone()).await.status(), 200);
    let sent = s.handle().requests("openai");
    let r = openai(&g, req.clone()).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = header(&r, "retry-after").parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("paced"),
        "{v}"
    );
    assert_eq!(s.handle().requests("openai"), sent);
    drop(g);

    let g = start(
        &cfg.replace("requests_per_minute = 2", "spend_per_day = 0.5"),
        "spend",
    );
    // A call whose worst case (its prompt and max_tokens at 1000 per million) is over
    // the day's budget is refused as the caller's to fix, before anything goes upstream.
    let sent = s.handle().requests("openai");
    let mut big = req.clone();
    big["max_tokens"] = json!(1000);
    let r = openai(&g, big).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens"),
        "{v}"
    );
    assert_eq!(s.handle().requests("openai"), sent);
    // Calls that fit are served until the day's budget is spent, then refused.
    let mut small = req;
    small["max_tokens"] = json!(5);
    let mut served = 0;
    let r = loop {
        let r = openai(&g, small.clone()).await;
        if r.status() != 200 {
            break r;
        }
        served += 1;
        assert!(served < 100, "the spend limit never refused");
    };
    assert_eq!(r.status(), 429);
    let wait: u64 = header(&r, "retry-after").parse().unwrap();
    assert!(wait > 3600, "{wait}");
    assert!(served >= 1);
    let sent = s.handle().requests("openai");
    let r = openai(&g, small).await;
    assert_eq!(r.status(), 429);
    assert_eq!(s.handle().requests("openai"), sent);
}

/// With `json_logs`, each request is one JSON log line naming the caller by its key's
/// name — never the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_name_the_caller_never_the_key() {
    let s = chaos().await;
    let g = start(
        &config(&s).replace(
            "[[gateway.keys]]",
            "[gateway]\njson_logs = true\nops_require_key = true\n\n[[gateway.keys]]",
        ),
        "logs",
    );
    // With ops_require_key, /metrics and /readyz need a gateway key.
    for path in ["metrics", "readyz"] {
        let url = format!("{}/{path}", g.base);
        assert_eq!(client().get(&url).send().await.unwrap().status(), 401);
        let r = client().get(&url).bearer_auth(KEY).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
    }
    let r = openai(
        &g,
        json!({"model": "main", "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let t0 = std::time::Instant::now();
    let line = loop {
        let found = g
            .logs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("\"request\""))
            .cloned();
        if let Some(l) = found {
            break l;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "no request log line");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["fields"]["caller"], "tests");
    assert_eq!(v["fields"]["status"], 200);
    assert_eq!(v["fields"]["served_by"], "openai/gpt-4o-mini");
    assert_eq!(v["fields"]["route"], "main");
    assert!(v["fields"]["latency_ms"].as_f64().is_some(), "{v}");
    // A refused request has its line too, with the reason.
    let r = openai(
        &g,
        json!({"model": "nope", "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let t0 = std::time::Instant::now();
    let line = loop {
        let found = g
            .logs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("\"request\"") && l.contains("\"status\":404"))
            .cloned();
        if let Some(l) = found {
            break l;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "no log line for a refusal"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let v: Value = serde_json::from_str(&line).unwrap();
    assert!(
        v["fields"]["reason"].as_str().unwrap().contains("nope"),
        "{v}"
    );
    for l in g.logs.lock().unwrap().iter() {
        assert!(
            !l.contains(KEY) && !l.contains("sk-upstream"),
            "a key in the logs: {l}"
        );
    }
}

/// SIGTERM lets a call in flight finish, then the process exits cleanly.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_calls_in_flight_finish() {
    let s = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("openai", WireFormat::OpenAi, "gpt-4o-mini").with_latency(
            nb_chaos::Latency {
                base_ms: 800,
                ..nb_chaos::Latency::default()
            },
        ),
    ]))
    .await
    .unwrap();
    let cfg = provider(
        "openai",
        "openai",
        &format!("{}/v1", s.base_url("openai").unwrap()),
    ) + "[[targets]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\n\n[[gateway.keys]]\nname = \"t\"\nenv = \"NB_GATEWAY_KEY\"\n";
    let mut g = start(&cfg, "sigterm");
    let base = g.base.clone();
    let call = tokio::spawn(async move {
        client()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": Q}]}))
            .send()
            .await
    });
    // The call is upstream now.
    let t0 = std::time::Instant::now();
    while s.handle().requests("openai") == 0 {
        assert!(t0.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = Command::new("kill")
        .args(["-TERM", &g.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let r = call
        .await
        .unwrap()
        .expect("the call in flight was answered");
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "42");
    let status = tokio::task::spawn_blocking(move || {
        let status = g.child.wait().unwrap();
        (status, g)
    })
    .await
    .unwrap()
    .0;
    assert!(status.success(), "{status:?}");
}

/// A prompt longer than every target's context window is the caller's to fix: a 400
/// `context_length_exceeded`, not a retryable 5xx; an upstream failure reaches the caller
/// as its class and a short message, the provider's own text only in the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_too_long_everywhere_is_a_400_and_upstream_text_stays_in_the_log() {
    let s = chaos().await;
    let cfg = provider(
        "openai",
        "openai",
        &format!("{}/v1", s.base_url("openai").unwrap()),
    ) + &provider(
        "down",
        "openai",
        &format!("{}/v1", s.base_url("down").unwrap()),
    ) + "[[targets]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\ncontext_window = 16\n\n[[targets]]\nprovider = \"down\"\nmodel = \"gpt-4o-mini\"\n\n[routes]\ndead = [\"down/gpt-4o-mini\"]\ntiny = [\"openai/gpt-4o-mini\"]\n\n[policy]\nattempt_timeout_ms = 2000\ndeadline_ms = 5000\n\n[[gateway.keys]]\nname = \"t\"\nenv = \"NB_GATEWAY_KEY\"\n";
    let g = start(&cfg, "context");
    let long = "word ".repeat(200);
    let r = openai(
        &g,
        json!({"model": "tiny", "messages": [{"role": "user", "content": long}]}),
    )
    .await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "context_length_exceeded", "{v}");

    let r = openai(
        &g,
        json!({"model": "dead", "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert!(
        r.status().is_server_error() || r.status() == 429,
        "{}",
        r.status()
    );
    let v: Value = r.json().await.unwrap();
    let message = v["error"]["message"].as_str().unwrap();
    eprintln!("the caller reads: {message}");
    assert!(message.len() < 200, "{message}");
}

/// In the text logs a new user gets, a value the caller chose cannot forge a line: a
/// model name holding a newline, a fake request line and an ANSI escape shows up escaped
/// inside its own request's line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_cannot_forge_a_log_line() {
    let s = chaos().await;
    let g = start(&config(&s), "forge");
    let forged = "main\n2026-12-06T05:00:00.000000Z  INFO nb_gateway::handler: request \
                  request_id=forged caller=admin route=main status=200 \u{1b}[31m";
    let r = openai(
        &g,
        json!({"model": forged, "messages": [{"role": "user", "content": Q}]}),
    )
    .await;
    assert_eq!(r.status(), 404);
    let t0 = std::time::Instant::now();
    let line = loop {
        let found = g
            .logs
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains(" request ") && l.contains("status=404"))
            .cloned();
        if let Some(l) = found {
            break l;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "no request log line");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        line.contains(r"route=main\n2026-12-06T05:00:00.000000Z  INFO"),
        "{line}"
    );
    for l in g.logs.lock().unwrap().iter() {
        assert!(!l.starts_with("2026-12-06T05:00:00"), "a forged line: {l}");
        assert!(
            !l.contains('\u{1b}'),
            "an escape code reached the log: {l:?}"
        );
    }
}

/// At the end of the SIGTERM grace a stream still in flight ends with the format's error
/// event, then `[DONE]`: the client knows its answer is incomplete.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_still_running_at_the_end_of_the_grace_ends_with_an_error_then_done() {
    let mut slow = ProviderSpec::new("openai", WireFormat::OpenAi, "gpt-4o-mini");
    slow.tokens_per_second = 2.0;
    let s = ChaosServer::start(Scenario::new(vec![slow])).await.unwrap();
    let cfg = provider(
        "openai",
        "openai",
        &format!("{}/v1", s.base_url("openai").unwrap()),
    ) + "[[targets]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\n\n[gateway]\nshutdown_grace_ms = 1000\n\n[[gateway.keys]]\nname = \"t\"\nenv = \"NB_GATEWAY_KEY\"\n";
    let mut g = start(&cfg, "grace-stream");
    let mut r = openai(
        &g,
        json!({"model": "gpt-4o-mini", "stream": true,
               "messages": [{"role": "user", "content": "Tell me about the sea."}]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let mut text = String::new();
    while !text.contains("\"content\":\"") || text.matches("data: ").count() < 2 {
        let chunk = r.chunk().await.unwrap().expect("a first chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let killed = Command::new("kill")
        .args(["-TERM", &g.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    while let Ok(Some(chunk)) = r.chunk().await {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.last(), Some(&"[DONE]"), "{text}");
    let error: Value = serde_json::from_str(data[data.len() - 2]).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("shutting down"),
        "{text}"
    );
    let status = tokio::task::spawn_blocking(move || g.child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}
