//! The strict checker reads text from the network: no input makes it panic, and it is
//! symmetric in what it accepts (an answer equivalent to another is so both ways round).

use nb_semantic::{EquivalenceOutcome, Strict};
use proptest::prelude::*;

/// Text built from pieces that exercise every reader: multi-byte currency and degree
/// signs, digits with separators, units, zones, yes/no words, code symbols, JSON.
fn answer() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("€".to_owned()),
        Just("£".to_owned()),
        Just("°C".to_owned()),
        Just("µs".to_owned()),
        Just("−".to_owned()),
        Just("1,200".to_owned()),
        Just("3.5".to_owned()),
        Just("42".to_owned()),
        Just("2025-06-01".to_owned()),
        Just("09:00".to_owned()),
        Just(" UTC".to_owned()),
        Just(" pm".to_owned()),
        Just(" km".to_owned()),
        Just(" million".to_owned()),
        Just("Yes, it is".to_owned()),
        Just("No".to_owned()),
        Just(" not ".to_owned()),
        Just("`x <= 1`".to_owned()),
        Just("{\"a\": [1, 2]}".to_owned()),
        Just("\n- item".to_owned()),
        Just(", ".to_owned()),
        Just(": ".to_owned()),
        "[a-zA-Z ]{0,8}",
        "\\PC{0,4}",
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|v| v.concat())
}

#[test]
fn fuzz_finding_overlapping_value_spans() {
    // Found by the `equivalence` fuzz target: "0°C" and "C$0" shared a byte, and laying
    // out the residue sliced backwards.
    let v = Strict.compare(
        "What is the freezing point of water?",
        "the freezing point of water?",
        "  of water?\u{FFFD} 0°C$0:K",
    );
    assert_ne!(v.outcome, EquivalenceOutcome::Equivalent);
    let v = Strict.compare("q", "0°C$0", "0°C$0");
    assert_ne!(v.outcome, EquivalenceOutcome::NotEquivalent);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_text_gets_a_verdict_and_equivalence_is_symmetric(
        prompt in answer(), a in answer(), b in answer()
    ) {
        let ab = Strict.compare(&prompt, &a, &b);
        let ba = Strict.compare(&prompt, &b, &a);
        prop_assert_eq!(
            ab.outcome == EquivalenceOutcome::Equivalent,
            ba.outcome == EquivalenceOutcome::Equivalent,
            "{:?} / {:?}", ab, ba
        );
    }

    #[test]
    fn an_answer_is_never_rejected_against_itself(prompt in answer(), a in answer()) {
        let v = Strict.compare(&prompt, &a, &a);
        prop_assert_ne!(v.outcome, EquivalenceOutcome::NotEquivalent, "{:?}", v);
    }
}
