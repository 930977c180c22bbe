//! Typed calls (a schema sent natively, validated, repaired, deserialized) and the validators every answer passes.

use std::sync::Arc;

use nb_core::{CallError, ChatRequest, ChatResponse};

use super::{CallOptions, SmartRouter};
use crate::report::{RouteError, RouteErrorKind, Routed};

impl SmartRouter {
    /// Routes a request for a typed answer: the JSON Schema of `T` (derived with
    /// `schemars`) is sent in each provider's native structured-output form, every answer
    /// is validated against it (with the `json-schema` feature, on by default) and must
    /// deserialize into `T` — a violation is repaired on the same target, then failed
    /// over, like any other failure.
    pub async fn chat_typed<T>(&self, req: &ChatRequest) -> Result<Routed<T>, RouteError>
    where
        T: serde::de::DeserializeOwned + schemars::JsonSchema + Send + 'static,
    {
        self.chat_typed_with(req, &super::options::NO_OPTIONS).await
    }

    /// [`chat_typed`](Self::chat_typed) with per-call options.
    pub async fn chat_typed_with<T>(
        &self,
        req: &ChatRequest,
        opts: &CallOptions,
    ) -> Result<Routed<T>, RouteError>
    where
        T: serde::de::DeserializeOwned + schemars::JsonSchema + Send + 'static,
    {
        let schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default();
        let name = T::schema_name();
        let mut typed = req.clone();
        typed.response_format = nb_core::ResponseFormat::JsonSchema(nb_core::JsonSchemaFormat {
            name: name.to_string(),
            schema: schema.clone(),
            strict: false,
        });
        let mut opts = opts.clone();
        #[cfg(feature = "json-schema")]
        if let Ok(compiled) = nb_guard::JsonSchema::new(&schema) {
            opts.validators.push(Arc::new(compiled));
        }
        opts.validators.push(Arc::new(|r: &ChatResponse| {
            parse_typed::<T>(&r.text).map(|_| ())
        }));
        let routed = self.chat_with(&typed, &opts).await?;
        match parse_typed::<T>(&routed.value.text) {
            Ok(value) => Ok(Routed {
                value,
                report: routed.report,
            }),
            // The validator above accepted this very text; this arm is unreachable in
            // practice and reported as a rejection rather than a panic.
            Err(v) => {
                let mut report = routed.report;
                report.last_error = Some(CallError::rejected(v, routed.value));
                Err(RouteError::new(RouteErrorKind::Exhausted, report))
            }
        }
    }
}

/// The JSON in `text`, as a `T`.
pub(super) fn parse_typed<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, nb_core::Violation> {
    let v = nb_guard::extract_json(text)?;
    serde_json::from_value(v).map_err(|e| {
        nb_core::Violation::new(
            nb_core::ViolationKind::Schema,
            "",
            format!("does not fit the expected type: {e}"),
        )
        .with_hint("answer with JSON that matches the schema exactly")
    })
}
