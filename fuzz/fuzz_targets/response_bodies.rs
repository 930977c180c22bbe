//! Any bytes as a whole response body of any wire format: an answer or an error, never
//! a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nb_providers::wire::{WireFormat, parse_response};

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let format = [
        WireFormat::OpenAi,
        WireFormat::Anthropic,
        WireFormat::Gemini,
        WireFormat::OpenAiResponses,
    ][usize::from(which % 4)];
    let _ = parse_response(format, body);
});
