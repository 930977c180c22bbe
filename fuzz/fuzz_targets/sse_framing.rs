//! Any bytes as an event stream, split anywhere: the same events however it is split,
//! never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nb_providers::wire::split_events;

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let whole = split_events(&[body]);
    let pieces: Vec<&[u8]> = body.chunks(usize::from(split).max(1)).collect();
    let split = split_events(&pieces);
    assert_eq!(whole.is_ok(), split.is_ok());
    if let (Ok(a), Ok(b)) = (whole, split) {
        assert_eq!(a, b, "the framing does not depend on how bytes arrive");
    }
});
