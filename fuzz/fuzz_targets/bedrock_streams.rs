//! Any bytes as a Bedrock ConverseStream body (AWS event-stream frames), split into
//! chunks of any size: chunks and at most one error, then the end — never a panic; and
//! the same bytes as a whole Converse response body.
#![no_main]

use bytes::Bytes;
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use nb_providers::Limits;
use nb_providers::wire::{decode_bedrock_stream, parse_bedrock_response};

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let _ = parse_bedrock_response(body);
    let size = usize::from(split).max(1);
    let pieces: Vec<Result<Bytes, nb_core::CallError>> = body
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let limits = Limits {
        max_sse_line_bytes: 4096,
        max_stream_bytes: 1 << 16,
        ..Limits::default()
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    rt.block_on(async {
        let mut s = decode_bedrock_stream(futures_util::stream::iter(pieces), limits);
        while let Some(item) = s.next().await {
            if item.is_err() {
                assert!(s.next().await.is_none(), "nothing after an error");
                break;
            }
        }
    });
});
