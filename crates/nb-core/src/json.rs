//! Finding the JSON in an answer: raw, in a fenced block, or one object inside prose.
//!
//! It lives in the vocabulary crate because two layers read answers this way: the guard
//! (validation) and the equivalence checkers. Neither pulls in the other for it.

use std::ops::Range;

use serde_json::Value;

use crate::{Violation, ViolationKind};

/// The JSON value an answer holds, and the byte ranges of the answer it was read from
/// (a fenced block with its fences, or a balanced span): the rest of the answer is
/// prose around it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FoundJson {
    /// The value.
    pub value: Value,
    /// Where in the answer the value (or its identical copies) stood.
    pub spans: Vec<Range<usize>>,
}

/// The JSON value an answer holds.
///
/// Accepted, in order: the whole text as JSON; the content of fenced code blocks
/// (```` ```json ```` or bare ```` ``` ````); exactly one balanced `{…}` or `[…]`
/// inside prose. Several candidates that disagree, or none, is a violation that says so.
///
/// ```
/// use nb_core::extract_json;
/// let v = extract_json("Sure! Here it is:\n```json\n{\"age\": 34}\n```").unwrap();
/// assert_eq!(v["age"], 34);
/// assert!(extract_json("no JSON here").is_err());
/// assert!(extract_json("{\"a\":1} and also {\"a\":2}").is_err());
/// ```
pub fn extract_json(text: &str) -> Result<Value, Violation> {
    find_json(text).map(|f| f.value)
}

/// Like [`extract_json`], and also says where in `text` the value stood.
///
/// ```
/// use nb_core::find_json;
/// let text = "Here: {\"a\": 1} done";
/// let found = find_json(text).unwrap();
/// assert_eq!(&text[found.spans[0].clone()], "{\"a\": 1}");
/// ```
pub fn find_json(text: &str) -> Result<FoundJson, Violation> {
    let lead = text.len() - text.trim_start().len();
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        if v.is_object() || v.is_array() {
            return Ok(FoundJson {
                value: v,
                spans: std::iter::once(lead..lead + trimmed.len()).collect(),
            });
        }
    }
    let fenced = fenced_blocks(text);
    let candidates: Vec<(Value, Range<usize>)> = if fenced.is_empty() {
        balanced_spans(text)
            .into_iter()
            .filter_map(|r| Some((serde_json::from_str::<Value>(&text[r.clone()]).ok()?, r)))
            .collect()
    } else {
        fenced
            .into_iter()
            .filter_map(|(body, whole)| {
                Some((
                    serde_json::from_str::<Value>(text[body].trim()).ok()?,
                    whole,
                ))
            })
            .collect()
    };
    let Some(first) = candidates.first().map(|c| c.0.clone()) else {
        return Err(Violation::new(
            ViolationKind::Extraction,
            "",
            "the answer holds no JSON value",
        )
        .with_hint("answer with a single JSON object and nothing else"));
    };
    if candidates.iter().any(|c| c.0 != first) {
        return Err(Violation::new(
            ViolationKind::Extraction,
            "",
            format!(
                "the answer holds {} different JSON values; expected one",
                candidates.len()
            ),
        )
        .with_hint("answer with exactly one JSON object"));
    }
    Ok(FoundJson {
        value: first,
        spans: candidates.into_iter().map(|c| c.1).collect(),
    })
}

/// Fenced blocks: (the body, the whole block with its fences).
fn fenced_blocks(text: &str) -> Vec<(Range<usize>, Range<usize>)> {
    let mut out = Vec::new();
    let mut offset = 0;
    while let Some(start) = text[offset..].find("```") {
        let open = offset + start;
        let after = open + 3;
        // Skip the info string (`json`, `JSON`, ...) up to the end of the line.
        let body_start = text[after..]
            .find('\n')
            .map_or(text.len(), |i| after + i + 1);
        let Some(end) = text[body_start..].find("```") else {
            break;
        };
        let close = body_start + end;
        out.push((body_start..close, open..close + 3));
        offset = close + 3;
    }
    out
}

/// Top-level balanced `{…}`/`[…]` spans, skipping brackets inside strings.
fn balanced_spans(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' || bytes[i] == b'[' {
            let start = i;
            let mut depth = 0i32;
            let mut in_str = false;
            let mut escaped = false;
            let mut end = None;
            for (j, &b) in bytes.iter().enumerate().skip(start) {
                if in_str {
                    match (escaped, b) {
                        (true, _) => escaped = false,
                        (false, b'\\') => escaped = true,
                        (false, b'"') => in_str = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            end = Some(j);
                            break;
                        }
                    }
                    _ => {}
                }
            }
            match end {
                Some(e) => {
                    spans.push(start..e + 1);
                    i = e + 1;
                }
                None => break,
            }
        } else {
            i += 1;
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_common_shape() {
        assert_eq!(extract_json("{\"a\": 1}").unwrap(), json!({"a": 1}));
        assert_eq!(extract_json("  [1, 2]  ").unwrap(), json!([1, 2]));
        assert_eq!(
            extract_json("```json\n{\"a\": 1}\n```").unwrap(),
            json!({"a": 1})
        );
        assert_eq!(
            extract_json("Result:\n```\n{\"a\": \"}\"}\n```\nDone.").unwrap(),
            json!({"a": "}"})
        );
        assert_eq!(
            extract_json("The data is {\"name\": \"Ana\", \"tags\": [\"x\"]} as asked.").unwrap(),
            json!({"name": "Ana", "tags": ["x"]})
        );
        assert_eq!(
            extract_json("{\"a\":1} repeated: {\"a\":1}").unwrap(),
            json!({"a": 1}),
            "the same value twice is one value"
        );
    }

    #[test]
    fn clear_violations() {
        let none = extract_json("forty-two").unwrap_err();
        assert_eq!(none.kind, ViolationKind::Extraction);
        assert!(none.message.contains("no JSON"));
        let two = extract_json("```json\n{\"a\":1}\n```\n```json\n{\"a\":2}\n```").unwrap_err();
        assert!(two.message.contains("2 different"), "{}", two.message);
        assert!(extract_json("{\"a\": 1").is_err(), "truncated JSON");
        assert!(extract_json("\"just a string\"").is_err());
    }
}
