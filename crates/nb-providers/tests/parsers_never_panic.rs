//! Property tests: arbitrary bytes and arbitrary JSON fed to every response and stream
//! parser never panic; the answer is a valid value or a decode-class error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use futures_util::StreamExt;
use nb_core::{CallError, ChatChunk};
use nb_providers::Limits;
use nb_providers::wire::{WireFormat, decode_stream, parse_error_body, parse_response};
use proptest::prelude::*;
use serde_json::{Value, json};

const FORMATS: [WireFormat; 4] = [
    WireFormat::OpenAi,
    WireFormat::Anthropic,
    WireFormat::Gemini,
    WireFormat::OpenAiResponses,
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "[a-z_ ]{0,12}".prop_map(Value::String),
        // Words the parsers look for, so the generator reaches their branches.
        prop::sample::select(vec![
            "stop",
            "length",
            "tool_calls",
            "STOP",
            "SAFETY",
            "error",
            "[DONE]",
            "text",
            "tool_use",
            "text_delta",
            "input_json_delta",
            "message_start",
            "message_delta",
            "end_turn",
            "completed",
            "incomplete",
            "failed",
            "output_text",
            "function_call",
            "reasoning",
            "refusal",
            "response.output_text.delta",
            "response.completed",
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        let keys = prop::sample::select(vec![
            "choices",
            "message",
            "content",
            "delta",
            "finish_reason",
            "usage",
            "tool_calls",
            "function",
            "arguments",
            "index",
            "error",
            "type",
            "code",
            "candidates",
            "parts",
            "text",
            "finishReason",
            "promptFeedback",
            "blockReason",
            "usageMetadata",
            "functionCall",
            "stop_reason",
            "content_block",
            "partial_json",
            "details",
            "model",
            "refusal",
            "id",
            "name",
            "args",
            "input",
            "status",
            "output",
            "response",
            "output_index",
            "call_id",
            "incomplete_details",
            "reason",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys, inner), 0..6).prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
            )),
        ]
    })
}

fn decode_class(e: &CallError) -> bool {
    matches!(e, CallError::Decode(_) | CallError::Blocked(_))
}

/// A Responses body may say `status: failed` with an error: an API error is its
/// answer then.
fn decode_class_of(f: WireFormat, e: &CallError) -> bool {
    decode_class(e) || (f == WireFormat::OpenAiResponses && matches!(e, CallError::Api(_)))
}

fn run_stream(format: WireFormat, pieces: Vec<Vec<u8>>) -> (usize, Option<CallError>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let bytes = futures_util::stream::iter(pieces.into_iter().map(|p| Ok(Bytes::from(p))));
        let limits = Limits {
            max_sse_line_bytes: 4096,
            max_stream_bytes: 1 << 16,
            ..Limits::default()
        };
        let mut s = decode_stream(format, bytes, limits);
        let mut n = 0;
        while let Some(item) = s.next().await {
            match item {
                Ok(_) => n += 1,
                Err(e) => {
                    assert!(
                        s.next().await.is_none(),
                        "the stream must end after an error"
                    );
                    return (n, Some(e));
                }
            }
        }
        (n, None)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_a_response_parser(body in prop::collection::vec(any::<u8>(), 0..512)) {
        for f in FORMATS {
            if let Err(e) = parse_response(f, &body) {
                prop_assert!(decode_class_of(f, &e), "{f:?}: {e:?}");
            }
        }
        let _ = parse_error_body(&body);
    }

    #[test]
    fn arbitrary_json_never_panics_a_response_parser(v in arb_json()) {
        let body = serde_json::to_vec(&v).unwrap();
        for f in FORMATS {
            if let Err(e) = parse_response(f, &body) {
                prop_assert!(decode_class_of(f, &e), "{f:?}: {e:?}");
            }
        }
        let _ = parse_error_body(&body);
    }

    #[test]
    fn arbitrary_bytes_never_panic_a_stream_decoder(
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..128), 0..8)
    ) {
        for f in FORMATS {
            let (_, err) = run_stream(f, pieces.clone());
            if let Some(e) = err {
                prop_assert!(matches!(e, CallError::MidStream(_)), "{f:?}: {e:?}");
            }
        }
    }

    #[test]
    fn arbitrary_json_events_never_panic_a_stream_decoder(
        events in prop::collection::vec((prop::option::of(prop::sample::select(vec![
            "message_start", "content_block_start", "content_block_delta", "message_delta",
            "message_stop", "error", "ping", "response.created", "response.output_item.added",
            "response.output_text.delta", "response.function_call_arguments.delta",
            "response.completed", "response.incomplete", "response.failed",
        ])), arb_json()), 0..6),
        split in 1usize..64,
    ) {
        let mut body = Vec::new();
        for (name, v) in &events {
            if let Some(n) = name {
                body.extend_from_slice(format!("event: {n}\n").as_bytes());
            }
            body.extend_from_slice(format!("data: {v}\n\n").as_bytes());
        }
        let pieces: Vec<Vec<u8>> = body.chunks(split).map(<[u8]>::to_vec).collect();
        for f in FORMATS {
            let (_, err) = run_stream(f, pieces.clone());
            if let Some(e) = err {
                prop_assert!(matches!(e, CallError::MidStream(_)), "{f:?}: {e:?}");
            }
        }
    }
}

#[test]
fn the_same_stream_split_anywhere_decodes_the_same() {
    let body = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"héllo\"}}]}\r\n\r\n: ping\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let whole = run_chunks(vec![body.as_bytes().to_vec()]);
    for split in 1..body.len() {
        let pieces: Vec<Vec<u8>> = body.as_bytes().chunks(split).map(<[u8]>::to_vec).collect();
        assert_eq!(run_chunks(pieces), whole, "split {split}");
    }
    assert!(whole.contains(&ChatChunk::Text {
        delta: "héllo".into()
    }));
}

fn run_chunks(pieces: Vec<Vec<u8>>) -> Vec<ChatChunk> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async move {
        let bytes = futures_util::stream::iter(pieces.into_iter().map(|p| Ok(Bytes::from(p))));
        decode_stream(WireFormat::OpenAi, bytes, Limits::default())
            .map(|r| r.unwrap())
            .collect()
            .await
    })
}

/// A valid stream of each format, as its provider sends it.
fn valid_stream(format: WireFormat) -> &'static str {
    match format {
        WireFormat::OpenAi => {
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
        }
        WireFormat::Anthropic => {
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        }
        WireFormat::Gemini => {
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"}]}\n\n"
        }
        WireFormat::OpenAiResponses => {
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"delta\":\"hi\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"status\":\"completed\",\"output\":[]}}\n\n"
        }
    }
}

#[test]
fn a_byte_order_mark_at_the_start_of_a_stream_is_skipped_in_every_format() {
    // Regression: eventsource-stream 0.2.3 panicked here (it sliced into the 3-byte mark).
    for f in FORMATS {
        let body = valid_stream(f).as_bytes();
        let plain = run_stream(f, vec![body.to_vec()]);
        assert!(plain.1.is_none() && plain.0 >= 2, "{f:?}: {plain:?}");
        let with_bom = [b"\xEF\xBB\xBF".as_slice(), body].concat();
        for split in [1, 2, 3, 4, with_bom.len()] {
            let pieces: Vec<Vec<u8>> = with_bom.chunks(split).map(<[u8]>::to_vec).collect();
            let got = run_stream(f, pieces);
            assert_eq!(
                (got.0, got.1.is_none()),
                (plain.0, true),
                "{f:?} split {split}"
            );
        }
    }
}

#[test]
fn an_openai_compatible_chunk_with_a_null_error_is_not_an_error() {
    // Some OpenAI-compatible servers send `"error": null` on every chunk.
    let body = "data: {\"error\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\ndata: {\"error\":null,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let chunks = run_chunks(vec![body.as_bytes().to_vec()]);
    assert!(
        chunks.contains(&ChatChunk::Text { delta: "ok".into() }),
        "{chunks:?}"
    );
}
