//! What the caller wants: messages, sampling, output contract, tools.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Part;

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the model. Providers that keep the system prompt outside the
    /// conversation (Anthropic, Gemini) get it moved there by their adapter.
    System,
    /// The human or calling program.
    User,
    /// The model, in earlier turns.
    Assistant,
    /// The result of a tool call, answering the assistant's `tool_calls`.
    Tool,
}

/// One turn of the conversation: who speaks, and the [`Part`]s of what they say —
/// text, images, documents, tool calls, tool results.
///
/// ```
/// use nb_core::{Message, Part, Media, Role, ToolCall};
/// let ask = Message::user("Describe the chart.").with_part(Part::image(Media::url("https://example.com/c.png")));
/// assert_eq!(ask.parts.len(), 2);
/// let call = ToolCall::from_raw(Some("c1".into()), "weather", r#"{"city":"Oslo"}"#);
/// let turn = Message::assistant_tool_calls(vec![call]);
/// assert_eq!(turn.tool_calls().count(), 1);
/// let result = Message::tool_result("c1", "weather", r#"{"temp": 3}"#);
/// assert_eq!(result.role, Role::Tool);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What they say, in order.
    pub parts: Vec<Part>,
}

impl Message {
    /// A message of `role` made of `parts`.
    pub fn new(role: Role, parts: Vec<Part>) -> Self {
        Self { role, parts }
    }

    fn of_text(role: Role, text: impl Into<String>) -> Self {
        let text = text.into();
        let parts = if text.is_empty() {
            Vec::new()
        } else {
            vec![Part::text(text)]
        };
        Self { role, parts }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::of_text(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::of_text(Role::User, content)
    }

    /// A user message made of parts (text with images or documents, say).
    pub fn user_parts(parts: Vec<Part>) -> Self {
        Self::new(Role::User, parts)
    }

    /// An assistant message (an earlier answer of the model).
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::of_text(Role::Assistant, content)
    }

    /// An assistant turn that called tools.
    pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
        Self::new(
            Role::Assistant,
            tool_calls.into_iter().map(Part::tool_call).collect(),
        )
    }

    /// The result of the tool call `call_id` to the tool `name`.
    pub fn tool_result(
        call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self::new(Role::Tool, vec![Part::tool_result(call_id, name, content)])
    }

    /// The same message with one more part.
    pub fn with_part(mut self, part: Part) -> Self {
        self.parts.push(part);
        self
    }

    /// The text parts, joined by a new line (empty when there are none).
    pub fn text(&self) -> String {
        let mut texts = self.parts.iter().filter_map(Part::as_text);
        let Some(first) = texts.next() else {
            return String::new();
        };
        texts.fold(first.to_owned(), |mut acc, t| {
            acc.push('\n');
            acc.push_str(t);
            acc
        })
    }

    /// The tool calls this turn makes.
    pub fn tool_calls(&self) -> impl Iterator<Item = &ToolCall> {
        self.parts.iter().filter_map(|p| match p {
            Part::ToolCall { call } => Some(call),
            _ => None,
        })
    }

    /// Whether any part is of `kind` (see [`Part::kind`]).
    pub fn has(&self, kind: &str) -> bool {
        self.parts.iter().any(|p| p.kind() == kind)
    }
}

/// A JSON Schema the answer must satisfy, with the name providers ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// A short name for the schema (OpenAI requires one: `^[a-zA-Z0-9_-]{1,64}$`).
    pub name: String,
    /// The schema itself, as standard JSON Schema. Adapters translate it to each
    /// provider's native form and strip keywords that provider rejects.
    pub schema: Value,
    /// Ask the provider to enforce the schema strictly where it can.
    #[serde(default)]
    pub strict: bool,
}

/// The shape of output the caller wants.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text (the default).
    #[default]
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema(JsonSchemaFormat),
}

/// A function the model may call.
///
/// ```
/// use serde_json::json;
/// let t = nb_core::ToolSpec::new("lookup", json!({"type": "object", "properties": {"sku": {"type": "string"}}}))
///     .with_description("Finds a product by SKU");
/// assert_eq!(t.name, "lookup");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolSpec {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    pub parameters: Value,
}

impl ToolSpec {
    /// A function `name` whose arguments follow the JSON Schema `parameters`.
    pub fn new(name: impl Into<String>, parameters: Value) -> Self {
        Self {
            name: name.into(),
            description: None,
            parameters,
        }
    }

    /// What it does, for the model.
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// The model must not call a tool.
    None,
    /// The model must call some tool.
    Required,
    /// The model must call this tool.
    Tool(String),
}

/// A request for a chat completion. It names *what* is wanted; the target that serves it
/// decides the model.
///
/// ```
/// use nb_core::{ChatRequest, Message};
/// let req = ChatRequest::new(vec![Message::system("Be terse."), Message::user("2+2?")])
///     .with_max_tokens(16)
///     .with_temperature(0.0);
/// assert_eq!(req.max_tokens, Some(16));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatRequest {
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Upper bound on output tokens. Anthropic requires one; its adapter supplies a default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Seed for providers that support deterministic sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// The output contract.
    #[serde(default)]
    pub response_format: ResponseFormat,
    /// Functions the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Whether and which tool the model must call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Provider-specific fields merged into the top level of the wire body as given
    /// (for example `{"reasoning_effort": "low"}`). They override what the adapter wrote.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// A request with these messages and provider defaults for everything else.
    pub fn new(messages: Vec<Message>) -> Self {
        Self {
            messages,
            ..Self::default()
        }
    }

    /// A request with a single user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(vec![Message::user(content)])
    }

    /// Sets the sampling temperature.
    pub fn with_temperature(mut self, t: f32) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Sets the output token limit.
    pub fn with_max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// Adds a stop sequence.
    pub fn with_stop(mut self, s: impl Into<String>) -> Self {
        self.stop.push(s.into());
        self
    }

    /// Sets the output contract.
    pub fn with_response_format(mut self, f: ResponseFormat) -> Self {
        self.response_format = f;
        self
    }

    /// Requires JSON matching `schema`, strictly where the provider can enforce it.
    pub fn with_json_schema(self, name: impl Into<String>, schema: Value) -> Self {
        self.with_response_format(ResponseFormat::JsonSchema(JsonSchemaFormat {
            name: name.into(),
            schema,
            strict: true,
        }))
    }

    /// Offers a tool to the model.
    pub fn with_tool(mut self, tool: ToolSpec) -> Self {
        self.tools.push(tool);
        self
    }

    /// Sets the tool choice.
    pub fn with_tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    /// Adds a provider-specific top-level field to the wire body.
    pub fn with_extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    /// The kinds of parts the request's messages hold beyond text and tool traffic
    /// (`"image"`, `"document"`), for capability checks.
    pub fn media_kinds(&self) -> Vec<&'static str> {
        let mut kinds: Vec<&'static str> = self
            .messages
            .iter()
            .flat_map(|m| &m.parts)
            .map(Part::kind)
            .filter(|k| matches!(*k, "image" | "document"))
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// A rough count of the characters the prompt holds, for budget estimates.
    pub fn prompt_chars(&self) -> usize {
        self.messages
            .iter()
            .flat_map(|m| &m.parts)
            .map(Part::approx_chars)
            .sum()
    }
}

/// A tool call made by the model. The arguments are kept exactly as received, and parsed
/// when they are valid JSON: providers do send truncated or invalid arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's id for the call (Gemini gives none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function called.
    pub name: String,
    /// The arguments exactly as the provider sent them.
    pub arguments_raw: String,
    /// The arguments parsed, when `arguments_raw` is valid JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
}

impl ToolCall {
    /// A tool call from the raw argument text; parses it when it is valid JSON.
    pub fn from_raw(id: Option<String>, name: impl Into<String>, raw: impl Into<String>) -> Self {
        let arguments_raw = raw.into();
        let arguments = serde_json::from_str(&arguments_raw).ok();
        Self {
            id,
            name: name.into(),
            arguments_raw,
            arguments,
        }
    }

    /// A tool call whose arguments arrived already parsed (Gemini, Anthropic).
    pub fn from_value(id: Option<String>, name: impl Into<String>, args: Value) -> Self {
        Self {
            id,
            name: name.into(),
            arguments_raw: args.to_string(),
            arguments: Some(args),
        }
    }
}
