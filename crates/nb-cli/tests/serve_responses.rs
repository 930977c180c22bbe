//! `nb serve` over OpenAI's Responses API (`kind = "openai-responses"`): callers speak
//! Chat Completions or Anthropic Messages, the gateway translates to and from the
//! Responses wire format (whole and streamed, text and tool calls), and a
//! rate-limited Responses target fails over to an Anthropic one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};
use serde_json::{Value, json};

mod support;
use support::{KEY, client, provider, start};

const Q: &str = "What is 17 + 25? Reply with the number only.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_of_both_formats_are_served_by_a_responses_target_and_fail_over_from_it() {
    let s = ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("resp", WireFormat::OpenAiResponses, "gpt-5-mini")
            .with_api_key("sk-upstream"),
        ProviderSpec::new("limited", WireFormat::OpenAiResponses, "gpt-5-mini")
            .with_fault(Fault::always(FaultKind::RateLimit).with_retry_after(30.0)),
        ProviderSpec::new("claude", WireFormat::Anthropic, "claude-sonnet-4-5"),
    ]))
    .await
    .unwrap();
    let b = |n: &str| s.base_url(n).unwrap();
    let mut config = String::new();
    config += &provider("resp", "openai-responses", &format!("{}/v1", b("resp")));
    config += &provider(
        "limited",
        "openai-responses",
        &format!("{}/v1", b("limited")),
    );
    config += &provider("claude", "anthropic", &b("claude"));
    config += r#"
[[targets]]
provider = "resp"
model = "gpt-5-mini"

[[targets]]
provider = "limited"
model = "gpt-5-mini"

[[targets]]
provider = "claude"
model = "claude-sonnet-4-5"

[routes]
main = ["resp/gpt-5-mini", "claude/claude-sonnet-4-5"]
failover = ["limited/gpt-5-mini", "claude/claude-sonnet-4-5"]

[[gateway.keys]]
name = "test"
env = "NB_GATEWAY_KEY"
"#;
    let g = start(&config, "responses");
    let post = |path: &str, body: Value| {
        let req = client()
            .post(format!("{}{path}", g.base))
            .bearer_auth(KEY)
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01");
        req.json(&body).send()
    };

    // Chat Completions in, Responses upstream, Chat Completions out.
    let r = post(
        "/v1/chat/completions",
        json!({"model": "main", "messages": [{"role": "user", "content": Q}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-nb-served-by"], "resp/gpt-5-mini");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "42");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);

    // Anthropic Messages in, streamed, Responses upstream: Anthropic events out.
    let r = post(
        "/v1/messages",
        json!({"model": "main", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": Q}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("event: message_stop"), "{body}");
    let text: String = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "42");

    // A tool call requested in Chat Completions' shape comes back in it.
    let r = post(
        "/v1/chat/completions",
        json!({"model": "main", "messages": [{"role": "user", "content": Q}],
               "tools": [{"type": "function", "function": {"name": "add", "parameters": {"type": "object",
                   "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}],
               "tool_choice": "required"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let call = &v["choices"][0]["message"]["tool_calls"][0];
    assert_eq!(call["function"]["name"], "add", "{v}");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert!(args.is_object(), "{args}");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");

    // A rate-limited Responses target fails over to Anthropic.
    let r = post(
        "/v1/chat/completions",
        json!({"model": "failover", "messages": [{"role": "user", "content": Q}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-nb-served-by"], "claude/claude-sonnet-4-5");
    assert_eq!(r.headers()["x-nb-failed-over"], "true");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "42");
    assert_eq!(s.handle().requests("limited"), 1);
}
