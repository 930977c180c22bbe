//! What the caller wants: messages, sampling, output contract, tools.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// The text of the turn (may be empty for an assistant turn that only calls tools).
    pub content: String,
    /// Tool calls made by an assistant turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For a [`Role::Tool`] turn: the id of the call this result answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// For a [`Role::Tool`] turn: the name of the tool (Gemini needs it; others ignore it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Message {
    fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
            name: None,
        }
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message (an earlier answer of the model).
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// An assistant turn that called tools.
    pub fn assistant_tool_calls(tool_calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls,
            ..Self::new(Role::Assistant, "")
        }
    }

    /// The result of the tool call `call_id` to the tool `name`.
    pub fn tool_result(
        call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            tool_call_id: Some(call_id.into()),
            name: Some(name.into()),
            ..Self::new(Role::Tool, content)
        }
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// The function's name.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    pub parameters: Value,
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

    /// A rough count of the characters the prompt holds, for budget estimates.
    pub fn prompt_chars(&self) -> usize {
        self.messages.iter().map(|m| m.content.len()).sum()
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
