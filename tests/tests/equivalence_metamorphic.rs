//! Metamorphic tests of the strict checker: take every pair of the dataset labelled
//! equivalent and edit one side. A meaning-changing edit (a digit changed, a unit
//! swapped, a negation inserted or removed, an antonym, two entities swapped, a zone
//! changed, a clause added, the text cut short, a yes turned into a no) must never be
//! judged *equivalent*; a meaning-preserving edit (a number reformatted, JSON keys
//! reordered, framing added) must never be judged *not equivalent*.
//!
//! The edits are generic string operations, not tuned to any item: they run over every
//! labelled-equivalent pair, both ways round, and over thousands of cases.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_semantic::{EquivalenceOutcome, Strict};
use serde_json::Value;

struct Pair {
    id: String,
    prompt: String,
    a: String,
    b: String,
}

fn equivalent_pairs() -> Vec<Pair> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/equivalence/pairs.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["equivalent"] == Value::Bool(true))
        .map(|v| Pair {
            id: v["id"].as_str().unwrap().to_owned(),
            prompt: v["prompt"].as_str().unwrap().to_owned(),
            a: v["primary"].as_str().unwrap().to_owned(),
            b: v["fallback"].as_str().unwrap().to_owned(),
        })
        .collect()
}

/// Replaces whole-word `from` with `to` (first occurrence), if present.
fn swap_word(s: &str, from: &str, to: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut at = 0;
    while let Some(i) = s[at..].find(from).map(|i| i + at) {
        let before = s[..i].chars().next_back();
        let after = s[i + from.len()..].chars().next();
        let word_char = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric());
        let needs_boundary = from.chars().all(char::is_alphanumeric);
        if !needs_boundary || (!word_char(before) && !word_char(after)) {
            let _ = bytes;
            return Some(format!("{}{}{}", &s[..i], to, &s[i + from.len()..]));
        }
        at = i + from.len();
    }
    None
}

/// Every digit changed, one at a time (list markers at a line's start are skipped).
fn digit_edits(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let Some(d) = c.to_digit(10) else { continue };
        let line_start = s[..i].rsplit('\n').next().unwrap_or("").trim().is_empty();
        let marker = line_start
            && chars
                .get(k + 1)
                .is_some_and(|&(_, n)| n == '.' || n == ')' || n.is_ascii_digit());
        if marker {
            continue;
        }
        let nd = char::from_digit((d + 3) % 10, 10).unwrap();
        out.push(format!("{}{}{}", &s[..i], nd, &s[i + 1..]));
    }
    out
}

const UNIT_SWAPS: &[(&str, &str)] = &[
    ("ms", "s"),
    ("seconds", "minutes"),
    ("minutes", "hours"),
    ("hours", "days"),
    ("min", "h"),
    ("days", "weeks"),
    ("weeks", "months"),
    ("months", "weeks"),
    ("years", "months"),
    ("kg", "g"),
    ("g", "mg"),
    ("km", "m"),
    ("m", "cm"),
    ("miles", "km"),
    ("feet", "yards"),
    ("GB", "GiB"),
    ("MB", "GB"),
    ("KiB", "kB"),
    ("bytes", "bits"),
    ("L", "ml"),
    ("ml", "L"),
    ("°C", "°F"),
    ("°F", "°C"),
    ("$", "€"),
    ("€", "£"),
    ("£", "$"),
    ("USD", "EUR"),
    ("EUR", "GBP"),
    ("GBP", "USD"),
    ("dollars", "euros"),
    ("%", " percentage points"),
    ("percentage points", "%"),
    ("basis points", "percentage points"),
];

const ZONE_SWAPS: &[(&str, &str)] = &[
    ("UTC", "CET"),
    ("GMT", "EST"),
    ("CET", "UTC"),
    ("EST", "PST"),
    ("PST", "EST"),
    ("PDT", "PST"),
    ("JST", "UTC"),
    ("+02:00", "+03:00"),
    ("UTC+2", "UTC+3"),
    ("Z", "+05:00"),
    ("am", "pm"),
    ("pm", "am"),
];

const ANTONYMS: &[(&str, &str)] = &[
    ("approved", "rejected"),
    ("rose", "fell"),
    ("climbed", "dropped"),
    ("increased", "decreased"),
    ("raised", "cut"),
    ("gained", "lost"),
    ("beat", "lost to"),
    ("won", "lost"),
    ("hired", "fired"),
    ("opened", "closed"),
    ("reopened", "closed"),
    ("open", "closed"),
    ("closed", "open"),
    ("reduced", "increased"),
    ("fell", "rose"),
    ("dropped", "rose"),
    ("before", "after"),
    ("after", "before"),
    ("passed", "failed"),
    ("failed", "passed"),
    ("positive", "negative"),
    ("negative", "positive"),
    ("neutral", "positive"),
    ("first", "last"),
    ("higher", "lower"),
    ("more", "less"),
    ("up", "down"),
    ("sent", "received"),
    ("billing", "technical"),
    ("spam", "ham"),
];

const CLAUSES: &[&str] = &[
    ", but the figures were later revised",
    " according to an unverified report",
    ", except in the northern region",
];

fn negations(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (from, to) in [
        (" is ", " is not "),
        (" was ", " was not "),
        (" are ", " are not "),
        (" will ", " will not "),
        (" has ", " has not "),
        (" did not ", " did "),
        (" is not ", " is "),
        (" isn't", " is"),
        (" not ", " "),
        ("n't", ""),
        (" never ", " "),
    ] {
        if let Some(i) = s.find(from) {
            out.push(format!("{}{}{}", &s[..i], to, &s[i + from.len()..]));
        }
    }
    for (from, to) in [
        ("Yes", "No"),
        ("No", "Yes"),
        ("yes", "no"),
        ("no", "yes"),
        ("True", "False"),
        ("False", "True"),
    ] {
        if let Some(e) = swap_word(s, from, to) {
            out.push(e);
        }
    }
    if out.is_empty() {
        out.push(format!("Not {s}"));
    }
    out
}

/// Two capitalised words (not the first word) swapped, when a word that is not a list
/// separator stands between them: "Spain beat Italy" -> "Italy beat Spain".
fn entity_swap(s: &str) -> Option<String> {
    let mut caps: Vec<(usize, &str)> = Vec::new();
    let mut at = 0;
    for w in s.split(|c: char| !c.is_alphanumeric()) {
        let i = s[at..].find(w).map_or(at, |i| i + at);
        at = i + w.len();
        if i > 0 && w.chars().next().is_some_and(char::is_uppercase) && w.len() > 2 {
            caps.push((i, w));
        }
    }
    let (&(i, x), &(j, y)) = (caps.first()?, caps.iter().find(|c| c.1 != caps[0].1)?);
    let between = &s[i + x.len()..j];
    let relation = between
        .split(|c: char| !c.is_alphabetic())
        .any(|w| w.len() > 1 && w.chars().all(char::is_lowercase) && w != "and" && w != "or");
    relation.then(|| format!("{}{}{}{}{}", &s[..i], y, between, x, &s[j + y.len()..]))
}

/// The answer cut off as a token limit would: after three fifths of its words and part
/// of the next one (tokens are pieces of words), when at least two words are lost.
/// Cutting "1.5 hours" to "1.5 h" leaves a valid, complete answer: not a truncation.
fn truncate(s: &str) -> Option<String> {
    let starts: Vec<usize> = s
        .char_indices()
        .filter(|&(i, c)| {
            !c.is_whitespace()
                && (i == 0 || s[..i].chars().next_back().is_some_and(char::is_whitespace))
        })
        .map(|(i, _)| i)
        .collect();
    let keep = starts.len() * 3 / 5;
    if starts.len() < 4 || starts.len() - keep < 2 {
        return None;
    }
    let next: Vec<char> = s[starts[keep]..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let part: String = next[..next.len() / 2].iter().collect();
    Some(format!("{}{part}", &s[..starts[keep]]))
}

fn meaning_changing(s: &str) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    out.extend(digit_edits(s).into_iter().map(|e| ("digit", e)));
    for (f, t) in UNIT_SWAPS {
        out.extend(swap_word(s, f, t).map(|e| ("unit", e)));
    }
    for (f, t) in ZONE_SWAPS {
        out.extend(swap_word(s, f, t).map(|e| ("zone", e)));
    }
    for (f, t) in ANTONYMS {
        out.extend(swap_word(s, f, t).map(|e| ("antonym", e)));
    }
    out.extend(negations(s).into_iter().map(|e| ("negation", e)));
    out.extend(entity_swap(s).map(|e| ("entities", e)));
    for c in CLAUSES {
        let body = s.trim_end();
        let e = match body.strip_suffix('.') {
            Some(b) => format!("{b}{c}."),
            None => format!("{body}{c}"),
        };
        out.push(("clause", e));
    }
    out.extend(truncate(s).map(|e| ("truncated", e)));
    // An edit that leaves the text as it was changes nothing.
    out.retain(|(_, e)| e != s);
    out
}

/// Integers standing alone (not in dates, times, identifiers or list markers).
fn reformat_numbers(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut changed = false;
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = c.is_ascii_digit()
            && (i == 0 || matches!(chars[i - 1], ' ' | '$' | '€' | '£'))
            && !(i == 0 || chars[i - 1] == '\n') | (i > 0 && chars[i - 1] != '\n');
        if starts {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let next = chars.get(j).copied();
            let after = chars.get(j + 1).copied();
            let standalone = match next {
                None | Some(' ' | ',' | '%' | '\n') => {
                    !(next == Some(',') && after.is_some_and(|a| a.is_ascii_digit()))
                }
                Some('.') => !after.is_some_and(|a| a.is_ascii_digit() || a == ' ' && i == 0),
                _ => false,
            };
            let digits: String = chars[i..j].iter().collect();
            let list_marker = (i == 0 || chars[i - 1] == '\n') && next == Some('.');
            if standalone
                && !list_marker
                && !(1000..=2100).contains(&digits.parse::<u32>().unwrap_or(0))
            {
                let n: u64 = digits.parse().unwrap_or(0);
                if n >= 10_000 {
                    let mut grouped = String::new();
                    for (k, d) in digits.chars().enumerate() {
                        if k > 0 && (digits.len() - k) % 3 == 0 {
                            grouped.push(',');
                        }
                        grouped.push(d);
                    }
                    out.push_str(&grouped);
                } else {
                    out.push_str(&digits);
                    out.push_str(".0");
                }
                changed = true;
                i = j;
                continue;
            }
            out.extend(&chars[i..j]);
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    changed.then_some(out)
}

fn reorder_keys(s: &str) -> Option<String> {
    let Value::Object(m) = serde_json::from_str::<Value>(s.trim()).ok()? else {
        return None;
    };
    (m.len() >= 2).then(|| {
        let parts: Vec<String> = m
            .iter()
            .rev()
            .map(|(k, v)| format!("{}: {v}", Value::String(k.clone())))
            .collect();
        format!("{{{}}}", parts.join(", "))
    })
}

fn meaning_preserving(s: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let looks_like_code = s.contains('`') || s.contains("fn ") || s.contains(';');
    if !looks_like_code {
        out.extend(reformat_numbers(s).map(|e| ("reformatted", e)));
        let framed = if s.contains('\n') {
            format!("**Answer:**\n{s}")
        } else {
            format!("**Answer:** {s}")
        };
        out.push(("framing", framed));
    }
    out.extend(reorder_keys(s).map(|e| ("keys", e)));
    out.retain(|(_, e)| e != s);
    out
}

#[test]
fn meaning_changing_edits_are_never_equivalent_and_preserving_ones_never_rejected() {
    let pairs = equivalent_pairs();
    assert!(pairs.len() >= 300, "{} equivalent pairs", pairs.len());
    let (mut changed, mut preserved) = (0usize, 0usize);
    let mut false_accepts = Vec::new();
    let mut false_rejects = Vec::new();
    for p in &pairs {
        // Edit either side, and compare it with the other, both ways round.
        for (fixed, edited_from, flip) in [(&p.a, &p.b, false), (&p.b, &p.a, true)] {
            for (kind, e) in meaning_changing(edited_from) {
                let (r, c) = if flip { (&e, fixed) } else { (fixed, &e) };
                let v = Strict.compare(&p.prompt, r, c);
                changed += 1;
                if v.outcome == EquivalenceOutcome::Equivalent {
                    false_accepts.push(format!("{} [{kind}] {r:?} vs {c:?}: {}", p.id, v.reason));
                }
            }
            for (kind, e) in meaning_preserving(edited_from) {
                let (r, c) = if flip { (&e, fixed) } else { (fixed, &e) };
                let v = Strict.compare(&p.prompt, r, c);
                preserved += 1;
                if v.outcome == EquivalenceOutcome::NotEquivalent {
                    false_rejects.push(format!("{} [{kind}] {r:?} vs {c:?}: {}", p.id, v.reason));
                }
            }
        }
    }
    println!("{changed} meaning-changed cases, {preserved} meaning-preserved cases");
    assert!(
        false_accepts.is_empty(),
        "{} of {changed} meaning-changed cases judged equivalent:\n{}",
        false_accepts.len(),
        false_accepts[..false_accepts.len().min(30)].join("\n")
    );
    assert!(
        false_rejects.is_empty(),
        "{} of {preserved} meaning-preserved cases judged not equivalent:\n{}",
        false_rejects.len(),
        false_rejects[..false_rejects.len().min(30)].join("\n")
    );
    assert!(changed >= 5000, "only {changed} meaning-changed cases");
    assert!(preserved >= 500, "only {preserved} meaning-preserved cases");
}
