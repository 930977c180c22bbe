//! What came back: whole responses, stream chunks, and an accumulator between them.

use serde::{Deserialize, Serialize};

use crate::request::ToolCall;

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end or a stop sequence.
    Stop,
    /// The output limit (or the context window) cut the answer short.
    Length,
    /// The model wants tools called.
    ToolCalls,
    /// A safety system withheld or cut the output.
    ContentFilter,
    /// The model declined to answer.
    Refusal,
    /// Anything else, as the provider spelt it (`insufficient_system_resource`, `error`,
    /// `MALFORMED_FUNCTION_CALL`, `pause_turn`, ...).
    Other(String),
}

impl FinishReason {
    /// `true` when the answer is known to be complete and usable as text or tool calls.
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Stop | Self::ToolCalls)
    }
}

/// Token accounting, where the provider gives it.
///
/// ```
/// let u = nb_core::Usage::new(1200, 80).with_cached(1000);
/// assert_eq!((u.input_tokens, u.cached_tokens), (1200, Some(1000)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Prompt tokens, including cached ones.
    pub input_tokens: u64,
    /// Output tokens, including reasoning ones.
    pub output_tokens: u64,
    /// Prompt tokens served from a cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<u64>,
    /// Output tokens spent on hidden reasoning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Prompt tokens written to a cache by this call (Anthropic's
    /// `cache_creation_input_tokens`; included in `input_tokens`, billed at a premium).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
}

impl Usage {
    /// Input (prompt, cached included) and output tokens.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            input_tokens,
            output_tokens,
            ..Self::default()
        }
    }

    /// Of the input, this many were read from a prompt cache.
    pub fn with_cached(mut self, n: u64) -> Self {
        self.cached_tokens = Some(n);
        self
    }

    /// Of the input, this many were written to a prompt cache.
    pub fn with_cache_write(mut self, n: u64) -> Self {
        self.cache_write_tokens = Some(n);
        self
    }

    /// Of the output, this many were hidden reasoning.
    pub fn with_reasoning(mut self, n: u64) -> Self {
        self.reasoning_tokens = Some(n);
        self
    }
}

/// A complete answer from one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatResponse {
    /// The answer's text (all text parts joined).
    pub text: String,
    /// Tool calls the model made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A structured-output refusal message (OpenAI `message.refusal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Why the model stopped.
    pub finish_reason: FinishReason,
    /// Token accounting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The model that actually answered, as the provider named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The provider's request id, for support tickets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The response headers that matter (rate-limit budget left, request id), where the
    /// answer came whole over HTTP: a router paces itself by them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<crate::HeaderFacts>,
}

impl ChatResponse {
    /// A plain text answer that stopped normally.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            tool_calls: Vec::new(),
            refusal: None,
            finish_reason: FinishReason::Stop,
            usage: None,
            model: None,
            request_id: None,
            headers: None,
        }
    }

    /// Sets the finish reason.
    pub fn with_finish_reason(mut self, reason: FinishReason) -> Self {
        self.finish_reason = reason;
        self
    }

    /// Sets the usage.
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = Some(usage);
        self
    }

    /// Sets the model that answered.
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }
}

/// A fragment of a tool call in a stream. Fragments with the same `index` belong together;
/// `arguments` fragments are concatenated in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallDelta {
    /// Which call this fragment belongs to.
    pub index: u32,
    /// The call's id, on its first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function's name, on its first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The next piece of the argument text.
    #[serde(default)]
    pub arguments: String,
}

/// One event of a streamed answer, already decoded from the provider's wire format.
/// Keep-alive comments, pings and empty chunks never become a `ChatChunk`: a chunk is
/// always progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChatChunk {
    /// The stream has started: what the provider said about itself.
    Started {
        /// The model that answers.
        model: Option<String>,
        /// The provider's request id.
        request_id: Option<String>,
    },
    /// The next piece of the answer's text.
    Text {
        /// The text fragment.
        delta: String,
    },
    /// The next piece of a structured-output refusal.
    Refusal {
        /// The refusal fragment.
        delta: String,
    },
    /// The next piece of a tool call.
    ToolCall(ToolCallDelta),
    /// The model stopped, and why.
    Finish {
        /// Why it stopped.
        reason: FinishReason,
    },
    /// Token accounting (cumulative: a later `Usage` replaces an earlier one).
    Usage(Usage),
}

impl ChatChunk {
    /// `true` for chunks that carry content the caller sees (text, refusal, tool call):
    /// the stream commit boundary is the first of these.
    pub fn is_content(&self) -> bool {
        matches!(
            self,
            Self::Text { .. } | Self::Refusal { .. } | Self::ToolCall(_)
        )
    }
}

/// Builds a [`ChatResponse`] from stream chunks, and remembers what a broken stream had
/// delivered so far.
///
/// ```
/// use nb_core::{ChatChunk, FinishReason, StreamAccumulator};
/// let mut acc = StreamAccumulator::default();
/// acc.push(&ChatChunk::Text { delta: "Hel".into() });
/// acc.push(&ChatChunk::Text { delta: "lo".into() });
/// acc.push(&ChatChunk::Finish { reason: FinishReason::Stop });
/// let resp = acc.finish().unwrap();
/// assert_eq!(resp.text, "Hello");
/// ```
#[derive(Debug, Clone, Default)]
pub struct StreamAccumulator {
    text: String,
    refusal: Option<String>,
    tools: Vec<(u32, Option<String>, String, String)>,
    finish: Option<FinishReason>,
    usage: Option<Usage>,
    model: Option<String>,
    request_id: Option<String>,
    content_chunks: usize,
}

impl StreamAccumulator {
    /// Takes one chunk into account.
    pub fn push(&mut self, chunk: &ChatChunk) {
        match chunk {
            ChatChunk::Started { model, request_id } => {
                if model.is_some() {
                    self.model.clone_from(model);
                }
                if request_id.is_some() {
                    self.request_id.clone_from(request_id);
                }
            }
            ChatChunk::Text { delta } => {
                self.content_chunks += 1;
                self.text.push_str(delta);
            }
            ChatChunk::Refusal { delta } => {
                self.content_chunks += 1;
                self.refusal.get_or_insert_with(String::new).push_str(delta);
            }
            ChatChunk::ToolCall(d) => {
                self.content_chunks += 1;
                match self.tools.iter_mut().find(|t| t.0 == d.index) {
                    Some(t) => {
                        if t.1.is_none() {
                            t.1.clone_from(&d.id);
                        }
                        if let Some(n) = &d.name {
                            if t.2.is_empty() {
                                t.2.clone_from(n);
                            }
                        }
                        t.3.push_str(&d.arguments);
                    }
                    None => self.tools.push((
                        d.index,
                        d.id.clone(),
                        d.name.clone().unwrap_or_default(),
                        d.arguments.clone(),
                    )),
                }
            }
            ChatChunk::Finish { reason } => self.finish = Some(reason.clone()),
            ChatChunk::Usage(u) => self.usage = Some(*u),
        }
    }

    /// How many content chunks (text, refusal, tool call) were seen.
    pub fn content_chunks(&self) -> usize {
        self.content_chunks
    }

    /// `true` once a finish reason arrived.
    pub fn is_finished(&self) -> bool {
        self.finish.is_some()
    }

    /// What was delivered so far, for an error that breaks the stream.
    pub fn partial(&self) -> PartialOutput {
        PartialOutput {
            text: self.text.clone(),
            tool_calls: self.tool_calls(),
            content_chunks: self.content_chunks,
        }
    }

    fn tool_calls(&self) -> Vec<ToolCall> {
        let mut tools = self.tools.clone();
        tools.sort_by_key(|t| t.0);
        tools
            .into_iter()
            .map(|(_, id, name, args)| ToolCall::from_raw(id, name, args))
            .collect()
    }

    /// The complete response, or `None` when no finish reason arrived (a truncated
    /// stream must not pass for a complete answer).
    pub fn finish(self) -> Option<ChatResponse> {
        let tool_calls = self.tool_calls();
        let finish_reason = self.finish?;
        Some(ChatResponse {
            text: self.text,
            tool_calls,
            refusal: self.refusal,
            finish_reason,
            usage: self.usage,
            model: self.model,
            request_id: self.request_id,
            headers: None,
        })
    }
}

/// What a stream had delivered before it broke.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialOutput {
    /// The text received so far.
    pub text: String,
    /// Tool calls received so far (their arguments may be cut short).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// How many content chunks reached the caller.
    pub content_chunks: usize,
}

impl PartialOutput {
    /// `true` when content had already reached the caller: the stream was committed.
    pub fn is_committed(&self) -> bool {
        self.content_chunks > 0
    }
}
