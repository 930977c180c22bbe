//! Answer validation: an answer that arrived intact may still be unusable.
//!
//! - [`Validator`]: one required method; accepts a [`ChatResponse`] or returns the
//!   [`Violation`] that says what broke, where (a JSON pointer) and how to ask for a fix.
//!   Closures are validators.
//! - Built-ins: [`extract_json`] (raw, fenced, or one object inside prose; a clear
//!   violation for none or several), [`JsonSchema`] (compiled once, shared, every error
//!   with its path), [`Bounds`] (ranges, labels, patterns, lengths, required and
//!   forbidden phrases), [`NotTruncated`], [`NotRefused`]; combinators [`All`], [`Any`]
//!   and [`Field`] (a rule on one field).
//! - [`tool_choice_honoured`] / [`ToolChoiceHonoured`]: an answer in text where the
//!   request's `tool_choice` required a tool call (or named one) is a schema violation.
//! - [`Guard`]: any [`Provider`] with validators and one repair round: on a shape
//!   violation it re-asks the same provider with the violation explained
//!   ([`repair_request`]), then gives up with [`CallError::Rejected`].
//!
//! A violation becomes a [`CallError::Rejected`] and is classified like any other
//! failure (`schema_violation` → repair, `semantic_out_of_bounds` → fail over), so in a
//! router a guard failure drives repair and failover exactly like an HTTP failure.
//!
//! ```
//! use nb_core::ChatResponse;
//! use nb_guard::{JsonSchema, Validator};
//! use serde_json::json;
//!
//! let schema = JsonSchema::new(&json!({
//!     "type": "object", "required": ["age"], "properties": {"age": {"type": "integer"}}
//! })).unwrap();
//! assert!(schema.validate(&ChatResponse::text("```json\n{\"age\": 34}\n```")).is_ok());
//! let v = schema.validate(&ChatResponse::text(r#"{"age": "thirty-four"}"#)).unwrap_err();
//! assert_eq!(v.pointer, "/age");
//! ```

use std::sync::Arc;

use async_trait::async_trait;
use nb_core::{CallError, ChatRequest, FinishReason, Message, Provider, ToolChoice};
pub use nb_core::{ChatResponse, Violation, ViolationKind};

mod bounds;
#[cfg(feature = "json-schema")]
mod schema;

pub use bounds::Bounds;
pub use nb_core::extract_json;
#[cfg(feature = "json-schema")]
pub use schema::{JsonSchema, SchemaError};

/// Accepts an answer or says what is wrong with it.
pub trait Validator: Send + Sync {
    /// `Ok(())` when the answer is acceptable, else the violation found.
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation>;
}

impl<F> Validator for F
where
    F: Fn(&ChatResponse) -> Result<(), Violation> + Send + Sync,
{
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        self(response)
    }
}

impl<V: Validator + ?Sized> Validator for Arc<V> {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        (**self).validate(response)
    }
}

/// Rejects an answer cut short by the output limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotTruncated;

impl Validator for NotTruncated {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        match response.finish_reason {
            FinishReason::Length => Err(Violation::new(
                ViolationKind::Truncated,
                "",
                "the answer was cut short by the output limit",
            )
            .with_hint("answer more briefly")),
            _ => Ok(()),
        }
    }
}

/// Rejects a refusal, a filtered answer, or one the provider marked incomplete.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotRefused;

impl Validator for NotRefused {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        let why = match (&response.finish_reason, &response.refusal) {
            (_, Some(r)) => format!("the model refused: {r}"),
            (FinishReason::Refusal, None) => "the model refused".to_owned(),
            (FinishReason::ContentFilter, _) => "a safety filter withheld the answer".to_owned(),
            _ => return Ok(()),
        };
        Err(Violation::new(ViolationKind::Refusal, "", why))
    }
}

/// Whether `resp` honours `req`'s tool choice: [`ToolChoice::Required`] needs at least one
/// tool call, [`ToolChoice::Tool`] a call to that tool, [`ToolChoice::None`] no call at
/// all; `Auto` and no choice accept anything.
///
/// An answer in text where a call was required, or a call to another tool, breaks the
/// requested shape: a [`ViolationKind::Schema`] violation, repaired, then failed over like
/// any schema violation. A refusal or a filtered answer is a [`ViolationKind::Refusal`].
///
/// ```
/// use nb_core::{ChatRequest, ChatResponse, ToolCall, ToolChoice, ToolSpec, ViolationKind};
/// use serde_json::json;
/// let req = ChatRequest::user("Weather in Oslo?")
///     .with_tool(ToolSpec::new("weather", json!({"type": "object"})))
///     .with_tool_choice(ToolChoice::Required);
/// let text = ChatResponse::text("It is sunny in Oslo.");
/// let v = nb_guard::tool_choice_honoured(&req, &text).unwrap_err();
/// assert_eq!(v.kind, ViolationKind::Schema);
/// let mut call = ChatResponse::text("");
/// call.tool_calls.push(ToolCall::from_raw(None, "weather", r#"{"city":"Oslo"}"#));
/// assert!(nb_guard::tool_choice_honoured(&req, &call).is_ok());
/// ```
pub fn tool_choice_honoured(req: &ChatRequest, resp: &ChatResponse) -> Result<(), Violation> {
    ToolChoiceHonoured::of(req).map_or(Ok(()), |v| v.validate(resp))
}

/// [`tool_choice_honoured`] as a [`Validator`], for one request's tool choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolChoiceHonoured {
    choice: ToolChoice,
    tools: Vec<String>,
}

impl ToolChoiceHonoured {
    /// The check of `req`'s tool choice; `None` when there is nothing to check (no
    /// choice, or `Auto`).
    pub fn of(req: &ChatRequest) -> Option<Self> {
        match &req.tool_choice {
            None | Some(ToolChoice::Auto) => None,
            Some(c) => Some(Self {
                choice: c.clone(),
                tools: req.tools.iter().map(|t| t.name.clone()).collect(),
            }),
        }
    }
}

impl Validator for ToolChoiceHonoured {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        let called: Vec<&str> = response
            .tool_calls
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let must_call = matches!(self.choice, ToolChoice::Required | ToolChoice::Tool(_));
        if must_call && called.is_empty() {
            NotRefused.validate(response)?;
        }
        let schema = |message: String, hint: String| {
            Err(Violation::new(ViolationKind::Schema, "", message).with_hint(hint))
        };
        match &self.choice {
            ToolChoice::Required if called.is_empty() => schema(
                "a tool call was required (tool_choice: required) but the answer is text".into(),
                format!(
                    "answer by calling one of the tools ({}), not in text",
                    self.tools.join(", ")
                ),
            ),
            ToolChoice::Tool(name) if !called.contains(&name.as_str()) => schema(
                if called.is_empty() {
                    format!("a call to the tool `{name}` was required but the answer is text")
                } else {
                    format!(
                        "a call to the tool `{name}` was required but the answer called {}",
                        called.join(", ")
                    )
                },
                format!("answer by calling the tool `{name}`"),
            ),
            ToolChoice::None if !called.is_empty() => schema(
                format!(
                    "no tool call was allowed (tool_choice: none) but the answer called {}",
                    called.join(", ")
                ),
                "answer in text, without calling a tool".into(),
            ),
            _ => Ok(()),
        }
    }
}

/// Every validator must accept (the first violation is returned).
pub struct All(pub Vec<Arc<dyn Validator>>);

impl Validator for All {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        self.0.iter().try_for_each(|v| v.validate(response))
    }
}

/// At least one validator must accept (else the first violation is returned).
pub struct Any(pub Vec<Arc<dyn Validator>>);

impl Validator for Any {
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        let mut first = None;
        for v in &self.0 {
            match v.validate(response) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        first.map_or(Ok(()), Err)
    }
}

/// A rule on one field of the answer's JSON: `check` gets the value at `pointer` (or
/// `None` when it is missing) and says what is wrong with it.
///
/// ```
/// use nb_core::ChatResponse;
/// use nb_guard::{Field, Validator};
/// let even = Field::new("/n", |v| match v.and_then(|v| v.as_i64()) {
///     Some(n) if n % 2 == 0 => Ok(()),
///     Some(n) => Err(format!("{n} is odd")),
///     None => Err("missing or not an integer".into()),
/// });
/// assert!(even.validate(&ChatResponse::text(r#"{"n": 4}"#)).is_ok());
/// assert_eq!(even.validate(&ChatResponse::text(r#"{"n": 5}"#)).unwrap_err().pointer, "/n");
/// ```
pub struct Field<F> {
    pointer: String,
    check: F,
}

impl<F> Field<F>
where
    F: Fn(Option<&serde_json::Value>) -> Result<(), String> + Send + Sync,
{
    /// A rule on the value at `pointer`.
    pub fn new(pointer: impl Into<String>, check: F) -> Self {
        Self {
            pointer: pointer.into(),
            check,
        }
    }
}

impl<F> Validator for Field<F>
where
    F: Fn(Option<&serde_json::Value>) -> Result<(), String> + Send + Sync,
{
    fn validate(&self, response: &ChatResponse) -> Result<(), Violation> {
        let json = extract_json(&response.text)?;
        (self.check)(json.pointer(&self.pointer))
            .map_err(|m| Violation::new(ViolationKind::Bounds, self.pointer.clone(), m))
    }
}

/// Whether a violation is worth a repair round (the shape is wrong, not the content).
pub fn repairable(v: &Violation) -> bool {
    matches!(
        v.kind,
        ViolationKind::Schema | ViolationKind::Extraction | ViolationKind::Truncated
    )
}

/// The request that asks the same model to fix its answer: the conversation so far, its
/// answer, and a user turn saying what is wrong and how to fix it.
pub fn repair_request(req: &ChatRequest, bad: &ChatResponse, v: &Violation) -> ChatRequest {
    let mut r = req.clone();
    r.messages.push(Message::assistant(bad.text.clone()));
    let at = if v.pointer.is_empty() {
        String::new()
    } else {
        format!(" at {}", v.pointer)
    };
    let hint = v.hint.as_deref().unwrap_or("answer again, correctly");
    r.messages.push(Message::user(format!(
        "Your answer was rejected{at}: {}. {hint}. Reply with the corrected answer only.",
        v.message
    )));
    r
}

/// Runs every validator over an answer.
pub fn check(validators: &[Arc<dyn Validator>], response: &ChatResponse) -> Result<(), Violation> {
    validators.iter().try_for_each(|v| v.validate(response))
}

/// A provider with validators and a bounded repair round, for users who do not route.
///
/// ```
/// use async_trait::async_trait;
/// use nb_core::{CallError, ChatRequest, ChatResponse, Provider};
/// use nb_guard::{Bounds, Guard};
///
/// struct Model;
/// #[async_trait]
/// impl Provider for Model {
///     async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
///         // Answers badly first, then correctly once told what was wrong.
///         Ok(ChatResponse::text(if req.messages.len() == 1 { "{\"age\": 340}" } else { "{\"age\": 34}" }))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let guarded = Guard::new(Model).validator(Bounds::new().range("/age", 0.0, 130.0)).repairs(1);
/// // Bounds violations are about content, not shape: no repair, a rejection.
/// let err = guarded.chat(&ChatRequest::user("Alice's age?")).await.unwrap_err();
/// assert!(matches!(err, CallError::Rejected(_)));
/// # });
/// ```
pub struct Guard<P> {
    inner: P,
    validators: Vec<Arc<dyn Validator>>,
    repairs: u32,
}

impl<P> std::fmt::Debug for Guard<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("validators", &self.validators.len())
            .field("repairs", &self.repairs)
            .finish_non_exhaustive()
    }
}

/// A validated answer and how many repair rounds it took.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The answer.
    pub response: ChatResponse,
    /// Repair rounds used.
    pub repairs: u32,
}

impl<P: Provider> Guard<P> {
    /// `inner` with no validators and one repair round.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            validators: Vec::new(),
            repairs: 1,
        }
    }

    /// Adds a validator.
    pub fn validator(mut self, v: impl Validator + 'static) -> Self {
        self.validators.push(Arc::new(v));
        self
    }

    /// Sets the number of repair rounds (0: never re-ask).
    pub fn repairs(mut self, n: u32) -> Self {
        self.repairs = n;
        self
    }

    /// Answers, validates, repairs shape violations up to the limit.
    pub async fn chat_checked(&self, req: &ChatRequest) -> Result<Checked, CallError> {
        let mut current = req.clone();
        let mut used = 0;
        loop {
            let resp = self.inner.chat(&current).await?;
            match check(&self.validators, &resp) {
                Ok(()) => {
                    return Ok(Checked {
                        response: resp,
                        repairs: used,
                    });
                }
                Err(v) if repairable(&v) && used < self.repairs => {
                    current = repair_request(&current, &resp, &v);
                    used += 1;
                }
                Err(v) => return Err(CallError::rejected(v, resp)),
            }
        }
    }
}

#[async_trait]
impl<P: Provider> Provider for Guard<P> {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.chat_checked(req).await.map(|c| c.response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nb_core::{ToolCall, ToolSpec};
    use serde_json::json;

    fn calling(names: &[&str]) -> ChatResponse {
        let mut r = ChatResponse::text("");
        r.tool_calls = names
            .iter()
            .map(|n| ToolCall::from_raw(None, *n, "{}"))
            .collect();
        r
    }

    #[test]
    fn tool_choice_named_none_and_refusals() {
        let base = ChatRequest::user("q")
            .with_tool(ToolSpec::new("a", json!({})))
            .with_tool(ToolSpec::new("b", json!({})));
        let named = base.clone().with_tool_choice(ToolChoice::Tool("b".into()));
        assert!(tool_choice_honoured(&named, &calling(&["b"])).is_ok());
        let v = tool_choice_honoured(&named, &calling(&["a"])).unwrap_err();
        assert_eq!(v.kind, ViolationKind::Schema);
        assert!(
            v.message.contains("`b`") && v.message.contains("called a"),
            "{v}"
        );
        let v = tool_choice_honoured(&named, &ChatResponse::text("b says hi")).unwrap_err();
        assert!(v.message.contains("answer is text"), "{v}");
        assert!(repairable(&v));
        let none = base.clone().with_tool_choice(ToolChoice::None);
        assert!(tool_choice_honoured(&none, &ChatResponse::text("fine")).is_ok());
        assert!(tool_choice_honoured(&none, &calling(&["a"])).is_err());
        let auto = base.clone().with_tool_choice(ToolChoice::Auto);
        assert!(ToolChoiceHonoured::of(&auto).is_none());
        assert!(ToolChoiceHonoured::of(&base).is_none());
        let required = base.with_tool_choice(ToolChoice::Required);
        let refused = ChatResponse::text("").with_finish_reason(FinishReason::Refusal);
        let v = tool_choice_honoured(&required, &refused).unwrap_err();
        assert_eq!(v.kind, ViolationKind::Refusal);
        let v = tool_choice_honoured(&required, &ChatResponse::text("x")).unwrap_err();
        assert!(v.hint.unwrap().contains("a, b"));
    }
}
