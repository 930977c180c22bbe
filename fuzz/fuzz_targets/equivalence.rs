//! Any three texts (split at 0xFF bytes) as a prompt and two answers: a verdict from the
//! strict checker, symmetric in acceptance; answers that are JSON compared as data too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nb_semantic::{EquivalenceOutcome, Strict, compare_data};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0xFF).map(String::from_utf8_lossy);
    let (Some(prompt), Some(a), Some(b)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let ab = Strict.compare(&prompt, &a, &b);
    let ba = Strict.compare(&prompt, &b, &a);
    assert_eq!(
        ab.outcome == EquivalenceOutcome::Equivalent,
        ba.outcome == EquivalenceOutcome::Equivalent,
        "{ab:?} / {ba:?}"
    );
    if let (Ok(x), Ok(y)) = (
        serde_json::from_str::<serde_json::Value>(&a),
        serde_json::from_str::<serde_json::Value>(&b),
    ) {
        let _ = compare_data(None, &x, &y);
        let _ = compare_data(Some(&x), &x, &y);
    }
});
