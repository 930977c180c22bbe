//! Any bytes as a streamed answer of any wire format, split into chunks of any size:
//! chunks and at most one error, then the end — never a panic.
#![no_main]

use bytes::Bytes;
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;
use nb_providers::Limits;
use nb_providers::wire::{WireFormat, decode_stream};

fuzz_target!(|data: &[u8]| {
    let [which, split, body @ ..] = data else {
        return;
    };
    let format = [
        WireFormat::OpenAi,
        WireFormat::Anthropic,
        WireFormat::Gemini,
        WireFormat::OpenAiResponses,
    ][usize::from(which % 4)];
    let size = usize::from(*split).max(1);
    let pieces: Vec<Result<Bytes, nb_core::CallError>> =
        body.chunks(size).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let limits = Limits {
        max_sse_line_bytes: 4096,
        max_stream_bytes: 1 << 16,
        ..Limits::default()
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().build() else {
        return;
    };
    rt.block_on(async {
        let mut s = decode_stream(format, futures_util::stream::iter(pieces), limits);
        while let Some(item) = s.next().await {
            if item.is_err() {
                assert!(s.next().await.is_none(), "nothing after an error");
                break;
            }
        }
    });
});
