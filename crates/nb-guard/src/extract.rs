//! Finding the JSON in an answer: raw, in a fenced block, or one object inside prose.

use serde_json::Value;

use nb_core::{Violation, ViolationKind};

/// The JSON value an answer holds.
///
/// Accepted, in order: the whole text as JSON; the content of fenced code blocks
/// (```` ```json ```` or bare ```` ``` ````); exactly one balanced `{…}` or `[…]`
/// inside prose. Several candidates that disagree, or none, is a violation that says so.
///
/// ```
/// use nb_guard::extract_json;
/// let v = extract_json("Sure! Here it is:\n```json\n{\"age\": 34}\n```").unwrap();
/// assert_eq!(v["age"], 34);
/// assert!(extract_json("no JSON here").is_err());
/// assert!(extract_json("{\"a\":1} and also {\"a\":2}").is_err());
/// ```
pub fn extract_json(text: &str) -> Result<Value, Violation> {
    let trimmed = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(trimmed) {
        if v.is_object() || v.is_array() {
            return Ok(v);
        }
    }
    let fenced = fenced_blocks(text);
    let candidates: Vec<Value> = if fenced.is_empty() {
        balanced_spans(text)
            .into_iter()
            .filter_map(|s| serde_json::from_str::<Value>(s).ok())
            .collect()
    } else {
        fenced
            .into_iter()
            .filter_map(|s| serde_json::from_str::<Value>(s.trim()).ok())
            .collect()
    };
    match candidates.len() {
        0 => Err(Violation::new(
            ViolationKind::Extraction,
            "",
            "the answer holds no JSON value",
        )
        .with_hint("answer with a single JSON object and nothing else")),
        1 => Ok(candidates.into_iter().next().unwrap_or(Value::Null)),
        n if candidates.windows(2).all(|w| w[0] == w[1]) => {
            let _ = n;
            Ok(candidates.into_iter().next().unwrap_or(Value::Null))
        }
        n => Err(Violation::new(
            ViolationKind::Extraction,
            "",
            format!("the answer holds {n} different JSON values; expected one"),
        )
        .with_hint("answer with exactly one JSON object")),
    }
}

fn fenced_blocks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```") {
        let after = &rest[start + 3..];
        // Skip the info string (`json`, `JSON`, ...) up to the end of the line.
        let body_start = after.find('\n').map_or(after.len(), |i| i + 1);
        let body = &after[body_start..];
        let Some(end) = body.find("```") else { break };
        out.push(&body[..end]);
        rest = &body[end + 3..];
    }
    out
}

/// Top-level balanced `{…}`/`[…]` spans, skipping brackets inside strings.
fn balanced_spans(text: &str) -> Vec<&str> {
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
                    spans.push(&text[start..=e]);
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
