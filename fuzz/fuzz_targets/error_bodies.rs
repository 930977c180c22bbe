//! Any bytes as an error body (JSON of any provider's shape, HTML from a proxy, garbage),
//! then classified as the router would.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nb_core::{ApiError, CallError, HeaderFacts};
use nb_providers::wire::parse_error_body;

fuzz_target!(|data: &[u8]| {
    let Some((&status, body)) = data.split_first() else {
        return;
    };
    let error = parse_error_body(body).unwrap_or_default();
    let e = CallError::Api(Box::new(ApiError {
        status: Some(400 + u16::from(status) % 200),
        headers: HeaderFacts::default(),
        error,
        body_snippet: Some(nb_core::snippet(body)),
    }));
    let _ = nb_classify::classify(&e);
});
