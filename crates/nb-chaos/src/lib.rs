//! A provider simulator: a real HTTP server that speaks the providers' wire formats and
//! injects scripted faults, for tests, benchmarks and the demo.
//!
//! It writes every wire format from the providers' documented shapes on its own and
//! depends on none of the layers it tests: a type shared by the simulator and an adapter
//! would let a bug in that type pass every test.
//!
//! ```
//! use nb_chaos::WireFormat;
//! assert_eq!(WireFormat::Anthropic.chat_path(), "/v1/messages");
//! ```

/// A provider wire format the simulator can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
    /// Google Gemini `generateContent`.
    Gemini,
}

impl WireFormat {
    /// The path of the non-streaming chat endpoint (Gemini's holds the model name).
    pub fn chat_path(self) -> &'static str {
        match self {
            Self::OpenAi => "/v1/chat/completions",
            Self::Anthropic => "/v1/messages",
            Self::Gemini => "/v1beta/models/{model}:generateContent",
        }
    }
}
