//! Any text as a retry hint: a header value, an error message, a set of headers.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use nb_core::HeaderFacts;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = nb_classify::parse_duration(&text);
    let _ = nb_classify::hint_from_message(&text);
    let mut h = HeaderFacts::default();
    for line in text.lines() {
        if let Some((name, value)) = line.split_once(':') {
            h.record(&name.trim().to_ascii_lowercase(), value.trim());
        }
    }
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let _ = nb_classify::hint_from_headers(&h, now);
});
