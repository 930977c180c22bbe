//! JSON Schema validation, compiled once per schema and shared.

use std::sync::Arc;

use nb_core::{ChatResponse, Violation, ViolationKind};
use serde_json::Value;

use crate::{Validator, extract_json};

/// A compiled JSON Schema. Cheap to clone (the compiled form is shared). The
/// `jsonschema` crate stays behind this type so an upgrade touches one file.
#[derive(Clone)]
pub struct JsonSchema {
    compiled: Arc<jsonschema::Validator>,
    schema: Arc<Value>,
}

impl std::fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonSchema")
            .field("schema", &self.schema)
            .finish()
    }
}

/// A schema that does not compile.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid JSON Schema: {0}")]
pub struct SchemaError(String);

impl JsonSchema {
    /// Compiles `schema` (drafts 4 to 2020-12, detected from `$schema`).
    pub fn new(schema: &Value) -> Result<Self, SchemaError> {
        let compiled = jsonschema::validator_for(schema).map_err(|e| SchemaError(e.to_string()))?;
        Ok(Self {
            compiled: Arc::new(compiled),
            schema: Arc::new(schema.clone()),
        })
    }

    /// The schema as given.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Every error of `value` against the schema, each with its JSON pointer.
    pub fn errors(&self, value: &Value) -> Vec<Violation> {
        self.compiled
            .iter_errors(value)
            .map(|e| {
                let at = e.instance_path().as_str().to_owned();
                Violation::new(ViolationKind::Schema, at.clone(), e.to_string()).with_hint(format!(
                    "fix the value at {}",
                    if at.is_empty() { "the top level" } else { &at }
                ))
            })
            .collect()
    }

    /// Checks a value: `Ok`, or one violation listing every error with its path.
    pub fn check(&self, value: &Value) -> Result<(), Violation> {
        let errors = self.errors(value);
        if errors.is_empty() {
            return Ok(());
        }
        let pointer = errors[0].pointer.clone();
        let message = errors
            .iter()
            .map(|v| {
                if v.pointer.is_empty() {
                    v.message.clone()
                } else {
                    format!("{}: {}", v.pointer, v.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        Err(Violation::new(ViolationKind::Schema, pointer, message)
            .with_hint("answer with JSON that matches the schema exactly"))
    }
}

impl Validator for JsonSchema {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        self.check(&extract_json(&response.text)?)
    }
}
