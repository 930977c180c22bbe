//! Bounds on values inside an answer: numeric ranges, allowed labels, patterns,
//! lengths, required and forbidden phrases.

use nb_core::{ChatResponse, Violation, ViolationKind};
use regex::Regex;
use serde_json::Value;

use crate::{Validator, extract_json};

#[derive(Debug, Clone)]
enum Rule {
    Range {
        pointer: String,
        min: f64,
        max: f64,
    },
    Labels {
        pointer: String,
        allowed: Vec<String>,
    },
    Pattern {
        pointer: String,
        regex: Regex,
    },
    Length {
        pointer: String,
        min: usize,
        max: usize,
    },
    Requires(String),
    Forbids(String),
}

/// Rules on an answer. Pointer rules read the answer's JSON (an empty pointer means the
/// whole answer's text for patterns, lengths and labels); phrase rules read its text.
///
/// ```
/// use nb_core::ChatResponse;
/// use nb_guard::{Bounds, Validator};
/// let b = Bounds::new().range("/age", 0.0, 130.0).labels("/mood", ["happy", "sad"]);
/// assert!(b.validate(&ChatResponse::text(r#"{"age": 34, "mood": "happy"}"#)).is_ok());
/// let v = b.validate(&ChatResponse::text(r#"{"age": 340, "mood": "happy"}"#)).unwrap_err();
/// assert_eq!(v.pointer, "/age");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Bounds {
    rules: Vec<Rule>,
}

impl Bounds {
    /// No rules yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number at `pointer` must lie in `min..=max`.
    pub fn range(mut self, pointer: &str, min: f64, max: f64) -> Self {
        self.rules.push(Rule::Range {
            pointer: pointer.into(),
            min,
            max,
        });
        self
    }

    /// The string at `pointer` must be one of `allowed` (case-insensitive).
    pub fn labels<I, S>(mut self, pointer: &str, allowed: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules.push(Rule::Labels {
            pointer: pointer.into(),
            allowed: allowed.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// The string at `pointer` must match `pattern`. A bad pattern is an error here,
    /// not a panic later.
    pub fn pattern(mut self, pointer: &str, pattern: &str) -> Result<Self, regex::Error> {
        self.rules.push(Rule::Pattern {
            pointer: pointer.into(),
            regex: Regex::new(pattern)?,
        });
        Ok(self)
    }

    /// The string (characters) or array (items) at `pointer` must have a length in
    /// `min..=max`.
    pub fn length(mut self, pointer: &str, min: usize, max: usize) -> Self {
        self.rules.push(Rule::Length {
            pointer: pointer.into(),
            min,
            max,
        });
        self
    }

    /// The text must contain `phrase` (case-insensitive).
    pub fn requires(mut self, phrase: &str) -> Self {
        self.rules.push(Rule::Requires(phrase.to_lowercase()));
        self
    }

    /// The text must not contain `phrase` (case-insensitive).
    pub fn forbids(mut self, phrase: &str) -> Self {
        self.rules.push(Rule::Forbids(phrase.to_lowercase()));
        self
    }
}

fn out(pointer: &str, message: String, hint: String) -> Violation {
    Violation::new(ViolationKind::Bounds, pointer, message).with_hint(hint)
}

impl Validator for Bounds {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        let text = response.text.as_str();
        let lower = text.to_lowercase();
        let mut json: Option<Value> = None;
        for rule in &self.rules {
            let mut at = |pointer: &str| -> Result<Value, Violation> {
                if pointer.is_empty() {
                    return Ok(Value::String(text.trim().to_owned()));
                }
                if json.is_none() {
                    json = Some(extract_json(text)?);
                }
                json.as_ref()
                    .and_then(|j| j.pointer(pointer))
                    .cloned()
                    .ok_or_else(|| {
                        Violation::new(ViolationKind::Schema, pointer, "missing")
                            .with_hint(format!("include {pointer}"))
                    })
            };
            match rule {
                Rule::Range { pointer, min, max } => {
                    let v = at(pointer)?;
                    let n = v
                        .as_f64()
                        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
                    match n {
                        Some(n) if (*min..=*max).contains(&n) => {}
                        Some(n) => {
                            return Err(out(
                                pointer,
                                format!("{n} is outside {min}..={max}"),
                                format!("give a value between {min} and {max}"),
                            ));
                        }
                        None => {
                            return Err(Violation::new(
                                ViolationKind::Schema,
                                pointer,
                                format!("expected a number, got {v}"),
                            )
                            .with_hint("give a number"));
                        }
                    }
                }
                Rule::Labels { pointer, allowed } => {
                    let v = at(pointer)?;
                    let s = v
                        .as_str()
                        .unwrap_or_default()
                        .trim()
                        .trim_end_matches('.')
                        .to_lowercase();
                    if !allowed.iter().any(|a| a.to_lowercase() == s) {
                        return Err(out(
                            pointer,
                            format!("{v} is not one of {allowed:?}"),
                            format!("answer with exactly one of: {}", allowed.join(", ")),
                        ));
                    }
                }
                Rule::Pattern { pointer, regex } => {
                    let v = at(pointer)?;
                    let s = v
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string());
                    if !regex.is_match(&s) {
                        return Err(out(
                            pointer,
                            format!("{s:?} does not match /{}/", regex.as_str()),
                            format!("use the form /{}/", regex.as_str()),
                        ));
                    }
                }
                Rule::Length { pointer, min, max } => {
                    let v = at(pointer)?;
                    let n = match &v {
                        Value::String(s) => s.chars().count(),
                        Value::Array(a) => a.len(),
                        other => other.to_string().chars().count(),
                    };
                    if !(*min..=*max).contains(&n) {
                        return Err(out(
                            pointer,
                            format!("length {n} is outside {min}..={max}"),
                            format!("use between {min} and {max}"),
                        ));
                    }
                }
                Rule::Requires(p) if !lower.contains(p.as_str()) => {
                    return Err(out(
                        "",
                        format!("the answer does not mention {p:?}"),
                        format!("mention {p:?}"),
                    ));
                }
                Rule::Forbids(p) if lower.contains(p.as_str()) => {
                    return Err(out(
                        "",
                        format!("the answer contains the forbidden phrase {p:?}"),
                        format!("do not say {p:?}"),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
