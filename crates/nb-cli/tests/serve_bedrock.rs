//! `nb serve` over AWS Bedrock (`kind = "bedrock"`, a loopback stand-in speaking the
//! Converse API and the AWS event stream): Chat Completions and Anthropic callers are
//! translated to Converse and back, whole and streamed; the request is SigV4-signed
//! with the credentials of the AWS environment variables; a throttled Bedrock target
//! fails over to an OpenAI one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
use neuralbridge::providers::wire::bedrock_event_message as frame;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header_regex, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::{KEY, client, provider, start_with_env};

const MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
const CONVERSE: &str = "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_of_both_formats_are_served_by_bedrock_and_fail_over_from_it() {
    let aws = MockServer::start().await;
    let signed = || {
        header_regex(
            "authorization",
            "^AWS4-HMAC-SHA256 Credential=AKIDTEST/[0-9]{8}/us-west-2/bedrock/aws4_request, ",
        )
    };
    Mock::given(method("POST"))
        .and(path(CONVERSE))
        .and(signed())
        .and(body_partial_json(json!({"messages": [{"role": "user", "content": [{"text": "hello"}]}]})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "output": {"message": {"role": "assistant", "content": [{"text": "hi from bedrock"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}})))
        .mount(&aws)
        .await;
    let stream: Vec<u8> = [
        frame("event", "messageStart", br#"{"role":"assistant"}"#),
        frame(
            "event",
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"streamed "}}"#,
        ),
        frame(
            "event",
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#,
        ),
        frame("event", "messageStop", br#"{"stopReason":"end_turn"}"#),
        frame(
            "event",
            "metadata",
            br#"{"usage":{"inputTokens":3,"outputTokens":2,"totalTokens":5}}"#,
        ),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path(format!("{CONVERSE}-stream")))
        .and(signed())
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(stream, "application/vnd.amazon.eventstream"),
        )
        .mount(&aws)
        .await;
    // Anything else (the "throttled" prompt) is throttled.
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header(
                    "x-amzn-ErrorType",
                    "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
                )
                .set_body_json(
                    json!({"message": "Too many requests, please wait before trying again."}),
                ),
        )
        .mount(&aws)
        .await;
    let chaos = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
        "openai",
        WireFormat::OpenAi,
        "gpt-4o-mini",
    )]))
    .await
    .unwrap();
    let mut config = String::new();
    config += &format!(
        "[providers.bedrock]\nkind = \"bedrock\"\nregion = \"us-west-2\"\nbase_url = \"{}\"\n\n",
        aws.uri()
    );
    config += &provider(
        "openai",
        "openai",
        &format!("{}/v1", chaos.base_url("openai").unwrap()),
    );
    config += &format!(
        r#"
[[targets]]
provider = "bedrock"
model = "{MODEL}"

[[targets]]
provider = "openai"
model = "gpt-4o-mini"

[[gateway.keys]]
name = "test"
env = "NB_GATEWAY_KEY"
"#
    );
    let g = start_with_env(
        &config,
        "bedrock",
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "secret-test-key"),
        ],
    );
    let post = |p: &str, body: Value| {
        client()
            .post(format!("{}{p}", g.base))
            .bearer_auth(KEY)
            .header("x-api-key", KEY)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
    };

    let r = post(
        "/v1/chat/completions",
        json!({"model": "default", "messages": [{"role": "user", "content": "hello"}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-nb-served-by"], format!("bedrock/{MODEL}"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "hi from bedrock");
    assert_eq!(v["usage"]["completion_tokens"], 4);

    let r = post(
        "/v1/messages",
        json!({"model": "default", "max_tokens": 50, "stream": true, "messages": [{"role": "user", "content": "hello"}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    let text: String = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|e| e["type"] == "content_block_delta")
        .filter_map(|e| e["delta"]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "streamed hi", "{body}");

    let r = post(
        "/v1/chat/completions",
        json!({"model": "default", "messages": [{"role": "user", "content": "What is 17 + 25? Reply with the number only."}]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-nb-served-by"], "openai/gpt-4o-mini");
    assert_eq!(r.headers()["x-nb-failed-over"], "true");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "42");
    // The secret key never reached a log line.
    assert!(
        !g.logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("secret-test-key"))
    );
}
