//! Content parts over loopback, per adapter: an image, a document, a tool call and its
//! result go out in each provider's documented shape; a tool call and cached-token counts
//! come back, whole and streamed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use nb_core::*;
use nb_providers::{Anthropic, ApiKey, Gemini, OpenAi, Preset};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// A conversation with every kind of part: a cached system prompt, a user turn with text,
/// an image and a PDF, an assistant turn that calls a tool, and the tool's result.
fn conversation() -> ChatRequest {
    let call = ToolCall::from_raw(Some("call_7".into()), "lookup", r#"{"sku":"A-1"}"#);
    ChatRequest::new(vec![
        Message::new(
            Role::System,
            vec![Part::text("You are a careful clerk.").cached()],
        ),
        Message::user_parts(vec![
            Part::text("What is on this label, and is it in stock?"),
            Part::image(Media::bytes("image/png", PNG)),
            Part::document(
                Media::bytes("application/pdf", b"%PDF-1.7"),
                Some("spec.pdf".into()),
            ),
        ]),
        Message::assistant_tool_calls(vec![call]),
        Message::tool_result("call_7", "lookup", r#"{"in_stock": 3}"#),
    ])
    .with_tool(ToolSpec::new(
        "lookup",
        json!({"type": "object", "properties": {"sku": {"type": "string"}}}),
    ))
}

async fn sent(server: &MockServer) -> Value {
    let reqs = server.received_requests().await.unwrap();
    serde_json::from_slice(&reqs.last().unwrap().body).unwrap()
}

#[tokio::test]
async fn openai_sends_parts_as_content_arrays_and_reads_cached_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "c", "object": "chat.completion", "model": "gpt-4o",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
                "tool_calls": [{"id": "call_8", "type": "function", "function": {"name": "lookup", "arguments": "{\"sku\":\"B-2\"}"}}]}}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 9, "prompt_tokens_details": {"cached_tokens": 1536}}
        })))
        .mount(&server)
        .await;
    let gpt = OpenAi::builder(Preset::OpenAi, "gpt-4o")
        .base_url(format!("{}/v1", server.uri()))
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let resp = gpt.chat(&conversation()).await.unwrap();
    let body = sent(&server).await;
    let m = &body["messages"];
    assert_eq!(
        m[0],
        json!({"role": "system", "content": "You are a careful clerk."})
    );
    assert_eq!(
        m[1]["content"][0],
        json!({"type": "text", "text": "What is on this label, and is it in stock?"})
    );
    assert_eq!(
        m[1]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}})
    );
    assert_eq!(
        m[1]["content"][2],
        json!({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0xLjc=", "filename": "spec.pdf"}})
    );
    assert_eq!(m[2]["content"], Value::Null);
    assert_eq!(
        m[2]["tool_calls"][0]["function"],
        json!({"name": "lookup", "arguments": "{\"sku\":\"A-1\"}"})
    );
    assert_eq!(
        m[3],
        json!({"role": "tool", "tool_call_id": "call_7", "content": "{\"in_stock\": 3}"})
    );
    assert_eq!(resp.tool_calls[0].arguments, Some(json!({"sku": "B-2"})));
    assert_eq!(resp.usage, Some(Usage::new(2000, 9).with_cached(1536)));
}

#[tokio::test]
async fn anthropic_sends_blocks_with_cache_control_and_reads_cache_reads_and_writes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [{"type": "tool_use", "id": "toolu_2", "name": "lookup", "input": {"sku": "B-2"}}],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 50, "output_tokens": 9, "cache_creation_input_tokens": 1200, "cache_read_input_tokens": 800}
        })))
        .mount(&server)
        .await;
    let claude = Anthropic::builder("claude-sonnet-4-5")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let resp = claude.chat(&conversation()).await.unwrap();
    let body = sent(&server).await;
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are a careful clerk.", "cache_control": {"type": "ephemeral"}}])
    );
    let m = &body["messages"];
    assert_eq!(
        m[0]["content"][1],
        json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        m[0]["content"][2],
        json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjc="}, "title": "spec.pdf"})
    );
    assert_eq!(m[1]["role"], "assistant");
    assert_eq!(
        m[1]["content"][0],
        json!({"type": "tool_use", "id": "call_7", "name": "lookup", "input": {"sku": "A-1"}})
    );
    assert_eq!(m[2]["role"], "user");
    assert_eq!(
        m[2]["content"][0],
        json!({"type": "tool_result", "tool_use_id": "call_7", "content": "{\"in_stock\": 3}"})
    );
    assert_eq!(resp.tool_calls[0].arguments, Some(json!({"sku": "B-2"})));
    assert_eq!(
        resp.usage,
        Some(Usage::new(2050, 9).with_cached(800).with_cache_write(1200))
    );
}

#[tokio::test]
async fn gemini_sends_inline_data_and_function_parts_and_reads_cached_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"sku": "B-2"}}}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 3000, "candidatesTokenCount": 7, "cachedContentTokenCount": 2048}
        })))
        .mount(&server)
        .await;
    let gemini = Gemini::builder("gemini-2.5-flash")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let resp = gemini.chat(&conversation()).await.unwrap();
    let body = sent(&server).await;
    assert_eq!(
        body["systemInstruction"],
        json!({"parts": [{"text": "You are a careful clerk."}]})
    );
    let c = &body["contents"];
    assert_eq!(
        c[0]["parts"][1],
        json!({"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}})
    );
    assert_eq!(
        c[0]["parts"][2],
        json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0xLjc="}})
    );
    assert_eq!(
        c[1],
        json!({"role": "model", "parts": [{"functionCall": {"name": "lookup", "args": {"sku": "A-1"}}}]})
    );
    assert_eq!(
        c[2],
        json!({"role": "user", "parts": [{"functionResponse": {"name": "lookup", "response": {"in_stock": 3}}}]})
    );
    assert_eq!(resp.tool_calls[0].name, "lookup");
    assert_eq!(resp.usage, Some(Usage::new(3000, 7).with_cached(2048)));
}

#[tokio::test]
async fn image_urls_go_out_as_urls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "c",
            "content": [{"type": "text", "text": "a cat"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 2}
        })))
        .mount(&server)
        .await;
    let claude = Anthropic::builder("c")
        .base_url(server.uri())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let req = ChatRequest::new(vec![
        Message::user("What is this?")
            .with_part(Part::image(Media::url("https://example.com/cat.jpg"))),
    ]);
    claude.chat(&req).await.unwrap();
    let body = sent(&server).await;
    assert_eq!(
        body["messages"][0]["content"][1],
        json!({"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}})
    );
    assert_eq!(req.media_kinds(), ["image"]);
}
