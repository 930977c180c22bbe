//! Typed answers and tool calls, compared as data.
//!
//! With a JSON Schema (a typed call's `response_format`, a tool's `parameters`), values
//! compare field by field: numbers by value, strings exactly unless the field's `format`
//! is `date` or `date-time`, arrays as sets when the schema says `uniqueItems: true` or
//! marks the field `"x-nb-set": true`, otherwise in order. Without a schema, an array in
//! another order is undecided (order may or may not matter), never equivalent.

use serde_json::Value;

use nb_core::{ChatRequest, ChatResponse, ResponseFormat, ToolCall, ToolSpec};

use crate::quantity::Cmp;
use crate::{Equivalence, EquivalenceOutcome, Verdict};

/// A value, shortened for a reason string.
pub(crate) fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// Two JSON numbers: integers exactly (any size serde_json keeps as an integer), others
/// by value; an integer beyond 2^53 against a float cannot be told apart, so it is not
/// called equal.
fn num_cmp(x: &serde_json::Number, y: &serde_json::Number) -> Option<bool> {
    let int = |n: &serde_json::Number| {
        n.as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
    };
    if let (Some(a), Some(b)) = (int(x), int(y)) {
        return Some(a == b);
    }
    const EXACT: f64 = 9_007_199_254_740_992.0;
    match (x.as_f64(), y.as_f64()) {
        (Some(a), Some(b)) => {
            let near = (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0);
            if near && (a.abs() >= EXACT || b.abs() >= EXACT) && a != b {
                None
            } else {
                Some(near)
            }
        }
        _ => Some(x == y),
    }
}

fn sub<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    schema?.get("properties")?.get(key)
}

fn items(schema: Option<&Value>) -> Option<&Value> {
    schema?.get("items")
}

fn is_set(schema: Option<&Value>) -> bool {
    schema.is_some_and(|s| {
        s.get("uniqueItems") == Some(&Value::Bool(true))
            || s.get("x-nb-set") == Some(&Value::Bool(true))
    })
}

fn same_string(schema: Option<&Value>, a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match schema.and_then(|s| s.get("format")).and_then(Value::as_str) {
        Some("date" | "date-time") => {
            let p = |s: &str| crate::datetime::find(s);
            let (x, y) = (p(a), p(b));
            x.len() == 1 && y.len() == 1 && x[0].1.compare(&y[0].1) == Cmp::Same
        }
        _ => false,
    }
}

/// Compares two JSON values under an optional schema; `path` names where they differ.
fn walk(schema: Option<&Value>, a: &Value, b: &Value, path: &str) -> Cmp {
    let differ = || {
        Cmp::Different(format!(
            "{}: {} vs {}",
            if path.is_empty() { "$" } else { path },
            short(a),
            short(b)
        ))
    };
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match num_cmp(x, y) {
            Some(true) => Cmp::Same,
            Some(false) => differ(),
            None => Cmp::Incomparable(format!(
                "{}: {} vs {}: too large to compare as floating point",
                if path.is_empty() { "$" } else { path },
                short(a),
                short(b)
            )),
        },
        (Value::String(x), Value::String(y)) => {
            if same_string(schema, x, y) {
                Cmp::Same
            } else {
                differ()
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() || x.keys().any(|k| !y.contains_key(k)) {
                let mut ka: Vec<&String> = x.keys().collect();
                let mut kb: Vec<&String> = y.keys().collect();
                ka.sort();
                kb.sort();
                return Cmp::Different(format!(
                    "{}: fields {ka:?} vs {kb:?}",
                    if path.is_empty() { "$" } else { path }
                ));
            }
            let mut unsure = None;
            for (k, v) in x {
                let Some(w) = y.get(k) else {
                    return differ();
                };
                match walk(sub(schema, k), v, w, &format!("{path}.{k}")) {
                    Cmp::Same => {}
                    d @ Cmp::Different(_) => return d,
                    Cmp::Incomparable(why) => unsure = unsure.or(Some(why)),
                }
            }
            unsure.map_or(Cmp::Same, Cmp::Incomparable)
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return differ();
            }
            let inner = items(schema);
            let mut unsure = None;
            let mut in_order = true;
            for (i, (v, w)) in x.iter().zip(y).enumerate() {
                match walk(inner, v, w, &format!("{path}[{i}]")) {
                    Cmp::Same => {}
                    Cmp::Different(_) => {
                        in_order = false;
                        break;
                    }
                    Cmp::Incomparable(why) => unsure = unsure.or(Some(why)),
                }
            }
            if in_order {
                return unsure.map_or(Cmp::Same, Cmp::Incomparable);
            }
            // Another order: the same items as a multiset?
            let mut used = vec![false; y.len()];
            let permuted = x.iter().all(|v| {
                y.iter().enumerate().any(|(j, w)| {
                    let hit = !used[j] && walk(inner, v, w, path) == Cmp::Same;
                    if hit {
                        used[j] = true;
                    }
                    hit
                })
            });
            match (permuted, is_set(schema)) {
                (true, true) => Cmp::Same,
                (true, false) if schema.is_some() => Cmp::Different(format!(
                    "{}: the same items in another order, and the schema says order matters",
                    if path.is_empty() { "$" } else { path }
                )),
                (true, false) => Cmp::Incomparable(format!(
                    "{}: the same items in another order; without a schema, whether order matters is not known",
                    if path.is_empty() { "$" } else { path }
                )),
                (false, _) => differ(),
            }
        }
        _ if a == b => Cmp::Same,
        _ => differ(),
    }
}

/// Compares two JSON values under an optional schema.
pub(crate) fn compare_values(schema: Option<&Value>, a: &Value, b: &Value) -> Cmp {
    walk(schema, a, b, "")
}

fn to_verdict(c: Cmp, method: &'static str, same: &str) -> Verdict {
    match c {
        Cmp::Same => Verdict::new(EquivalenceOutcome::Equivalent, method, same),
        Cmp::Different(why) => Verdict::new(EquivalenceOutcome::NotEquivalent, method, why),
        Cmp::Incomparable(why) => Verdict::undecided(method, why),
    }
}

/// Compares two structured answers as data, under the answer's JSON Schema when there
/// is one.
///
/// ```
/// use nb_semantic::{EquivalenceOutcome, compare_data};
/// use serde_json::json;
/// let schema = json!({"type": "object", "properties": {"tags": {"type": "array", "uniqueItems": true}}});
/// let v = compare_data(Some(&schema), &json!({"tags": ["a", "b"]}), &json!({"tags": ["b", "a"]}));
/// assert_eq!(v.outcome, EquivalenceOutcome::Equivalent);
/// let v = compare_data(None, &json!({"tags": ["a", "b"]}), &json!({"tags": ["b", "a"]}));
/// assert_eq!(v.outcome, EquivalenceOutcome::Undecided);
/// ```
pub fn compare_data(schema: Option<&Value>, reference: &Value, candidate: &Value) -> Verdict {
    to_verdict(
        compare_values(schema, reference, candidate),
        "data",
        "the same data",
    )
}

/// Compares two answers' tool calls: the same functions, in the same order, with
/// arguments equal as data under each tool's parameter schema.
///
/// ```
/// use nb_core::ToolCall;
/// use nb_semantic::{EquivalenceOutcome, compare_tool_calls};
/// let a = [ToolCall::from_raw(Some("1".into()), "get_weather", r#"{"city":"Paris","days":3}"#)];
/// let b = [ToolCall::from_raw(Some("x".into()), "get_weather", r#"{"days": 3, "city": "Paris"}"#)];
/// assert_eq!(compare_tool_calls(&[], &a, &b).outcome, EquivalenceOutcome::Equivalent);
/// let c = [ToolCall::from_raw(None, "get_weather", r#"{"city":"Lyon","days":3}"#)];
/// assert_eq!(compare_tool_calls(&[], &a, &c).outcome, EquivalenceOutcome::NotEquivalent);
/// ```
pub fn compare_tool_calls(
    tools: &[ToolSpec],
    reference: &[ToolCall],
    candidate: &[ToolCall],
) -> Verdict {
    if reference.len() != candidate.len() {
        return Verdict::new(
            EquivalenceOutcome::NotEquivalent,
            "tool_call",
            format!("{} tool call(s) vs {}", reference.len(), candidate.len()),
        );
    }
    let mut unsure = None;
    let mut differ = None;
    for (i, (a, b)) in reference.iter().zip(candidate).enumerate() {
        match one_call(tools, a, b) {
            Cmp::Same => {}
            Cmp::Different(why) => {
                differ.get_or_insert(format!("call {i}: {why}"));
            }
            Cmp::Incomparable(why) => {
                unsure.get_or_insert(format!("call {i}: {why}"));
            }
        }
    }
    if let Some(why) = differ {
        // The same calls in another order are a different plan only if order matters.
        let mut used = vec![false; candidate.len()];
        let permuted = reference.iter().all(|a| {
            candidate.iter().enumerate().any(|(j, b)| {
                let hit = !used[j] && one_call(tools, a, b) == Cmp::Same;
                if hit {
                    used[j] = true;
                }
                hit
            })
        });
        return if permuted {
            Verdict::undecided("tool_call", "the same calls in another order")
        } else {
            Verdict::new(EquivalenceOutcome::NotEquivalent, "tool_call", why)
        };
    }
    match unsure {
        Some(why) => Verdict::undecided("tool_call", why),
        None => Verdict::new(
            EquivalenceOutcome::Equivalent,
            "tool_call",
            "the same tool calls with the same arguments",
        ),
    }
}

fn one_call(tools: &[ToolSpec], a: &ToolCall, b: &ToolCall) -> Cmp {
    if a.name != b.name {
        return Cmp::Different(format!("{} vs {}", a.name, b.name));
    }
    let schema = tools
        .iter()
        .find(|t| t.name == a.name)
        .map(|t| &t.parameters);
    match (&a.arguments, &b.arguments) {
        (Some(x), Some(y)) => match compare_values(schema, x, y) {
            Cmp::Different(why) => Cmp::Different(format!("{}: {why}", a.name)),
            other => other,
        },
        _ if a.arguments_raw.trim() == b.arguments_raw.trim() => Cmp::Same,
        _ => Cmp::Incomparable(format!("{}: arguments that are not JSON", a.name)),
    }
}

/// The question two answers respond to, as far as comparing them needs it.
#[derive(Debug, Clone)]
pub struct Question<'a> {
    /// The last user message's text.
    pub prompt: String,
    /// The JSON Schema the answer must follow, for typed calls.
    pub schema: Option<&'a Value>,
    /// Whether the answer must be JSON (a schema or JSON mode).
    pub json: bool,
    /// The tools the model could call.
    pub tools: &'a [ToolSpec],
}

impl<'a> Question<'a> {
    /// The question a request asks.
    pub fn of(req: &'a ChatRequest) -> Self {
        let prompt = req
            .messages
            .iter()
            .rev()
            .find(|m| m.role == nb_core::Role::User)
            .map(nb_core::Message::text)
            .unwrap_or_default();
        let (schema, json) = match &req.response_format {
            ResponseFormat::JsonSchema(f) => (Some(&f.schema), true),
            ResponseFormat::JsonObject => (None, true),
            ResponseFormat::Text => (None, false),
        };
        Self {
            prompt,
            schema,
            json,
            tools: &req.tools,
        }
    }
}

/// Vouches for a whole answer: tool calls and typed answers are compared as data
/// (deterministically, whatever the checker); text goes to `checker`.
///
/// - Either answer has tool calls → [`compare_tool_calls`] with the tools' schemas.
/// - The call asked for JSON and both answers hold it → [`compare_data`] with its schema.
/// - Otherwise → `checker.check(prompt, reference text, candidate text)`.
pub async fn check_answers(
    checker: &(dyn Equivalence + '_),
    question: &Question<'_>,
    reference: &ChatResponse,
    candidate: &ChatResponse,
) -> Verdict {
    if !reference.tool_calls.is_empty() || !candidate.tool_calls.is_empty() {
        return compare_tool_calls(question.tools, &reference.tool_calls, &candidate.tool_calls);
    }
    if question.json {
        if let (Ok(a), Ok(b)) = (
            nb_core::extract_json(&reference.text),
            nb_core::extract_json(&candidate.text),
        ) {
            return compare_data(question.schema, &a, &b);
        }
    }
    checker
        .check(&question.prompt, &reference.text, &candidate.text)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn schema_sets_dates_and_order() {
        let schema = json!({"type": "object", "properties": {
            "roles": {"type": "array", "items": {"type": "string"}, "x-nb-set": true},
            "steps": {"type": "array", "items": {"type": "string"}},
            "due": {"type": "string", "format": "date"}
        }});
        let a = json!({"roles": ["admin", "dev"], "steps": ["a", "b"], "due": "2025-06-01"});
        let b = json!({"due": "June 1, 2025", "steps": ["a", "b"], "roles": ["dev", "admin"]});
        assert_eq!(
            compare_data(Some(&schema), &a, &b).outcome,
            EquivalenceOutcome::Equivalent
        );
        let c = json!({"roles": ["admin", "dev"], "steps": ["b", "a"], "due": "2025-06-01"});
        assert_eq!(
            compare_data(Some(&schema), &a, &c).outcome,
            EquivalenceOutcome::NotEquivalent
        );
        let d = json!({"roles": ["admin", "dev"], "steps": ["a", "b"], "due": "2025-06-02"});
        assert_eq!(
            compare_data(Some(&schema), &a, &d).outcome,
            EquivalenceOutcome::NotEquivalent
        );
        assert_eq!(
            compare_data(None, &json!([1, 2]), &json!([2, 1])).outcome,
            EquivalenceOutcome::Undecided
        );
        assert_eq!(
            compare_data(None, &json!({"a": 1}), &json!({"a": 1.0})).outcome,
            EquivalenceOutcome::Equivalent
        );
    }

    #[test]
    fn tool_calls_by_name_arguments_and_order() {
        let call = |n: &str, a: &str| ToolCall::from_raw(None, n, a);
        let a = [call("f", r#"{"x": 1}"#), call("g", "{}")];
        let b = [call("g", "{}"), call("f", r#"{"x": 1}"#)];
        assert_eq!(
            compare_tool_calls(&[], &a, &b).outcome,
            EquivalenceOutcome::Undecided
        );
        assert_eq!(
            compare_tool_calls(&[], &a, &a).outcome,
            EquivalenceOutcome::Equivalent
        );
        assert_eq!(
            compare_tool_calls(&[], &a[..1], &a).outcome,
            EquivalenceOutcome::NotEquivalent
        );
        let c = [call("f", r#"{"x": 2}"#), call("g", "{}")];
        assert_eq!(
            compare_tool_calls(&[], &a, &c).outcome,
            EquivalenceOutcome::NotEquivalent
        );
        let raw = [call("f", "not json")];
        assert_eq!(
            compare_tool_calls(&[], &raw, &raw).outcome,
            EquivalenceOutcome::Equivalent
        );
    }
}
