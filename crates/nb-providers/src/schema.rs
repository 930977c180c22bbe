//! Carrying a JSON Schema to each provider's native structured-output form.
//!
//! What each adapter drops, and why:
//! - every provider: `$schema`, `$id` and `$comment` at any depth. They carry no
//!   constraint on the answer, and Gemini rejects `$schema` outright.
//! - OpenAI-compatible: the schema name is cut to OpenAI's `^[a-zA-Z0-9_-]{1,64}$`.
//!
//! Nothing that constrains the answer is dropped: the caller's guard still validates the
//! full schema on every answer.

use serde_json::{Map, Value};

const DROPPED: [&str; 3] = ["$schema", "$id", "$comment"];

/// The schema without the annotation keywords no provider needs.
pub fn portable(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                if DROPPED.contains(&k.as_str()) {
                    continue;
                }
                let v = match (k.as_str(), v) {
                    // Maps from names to schemas: the names are data, not keywords.
                    (
                        "properties" | "patternProperties" | "$defs" | "definitions"
                        | "dependentSchemas",
                        Value::Object(named),
                    ) => Value::Object(
                        named
                            .iter()
                            .map(|(n, s)| (n.clone(), portable(s)))
                            .collect(),
                    ),
                    // Literal values, not schemas.
                    ("const" | "enum" | "default" | "examples", _) => v.clone(),
                    _ => portable(v),
                };
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(portable).collect()),
        other => other.clone(),
    }
}

/// A schema name OpenAI accepts: `[a-zA-Z0-9_-]`, 1 to 64 characters.
pub fn schema_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() {
        s.push_str("response");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotations_go_constraints_stay() {
        let s = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "x",
            "type": "object",
            "properties": {"$comment": {"type": "string"}, "a": {"type": "integer", "minimum": 0, "$comment": "c"}},
            "required": ["a"]
        });
        let p = portable(&s);
        assert_eq!(
            p,
            json!({"type": "object", "properties": {"$comment": {"type": "string"}, "a": {"type": "integer", "minimum": 0}}, "required": ["a"]})
        );
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(schema_name("my schema/v1"), "my_schema_v1");
        assert_eq!(schema_name(""), "response");
        assert_eq!(schema_name(&"x".repeat(100)).len(), 64);
    }
}
