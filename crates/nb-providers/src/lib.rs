//! Wire adapters: each speaks one provider's HTTP API exactly and implements
//! [`nb_core::Provider`].
//!
//! - [`OpenAi`]: OpenAI Chat Completions and every compatible server, with [`Preset`]s
//!   for DeepSeek, Mistral, Groq, Azure OpenAI, Ollama, vLLM, Gemini's OpenAI endpoint
//!   and any base URL;
//! - [`OpenAiResponses`]: OpenAI's Responses API (`/v1/responses`), typed stream events;
//! - [`Anthropic`]: the Messages API;
//! - [`Gemini`]: `generateContent` and `streamGenerateContent?alt=sse`;
//! - `Bedrock` (cargo feature `bedrock`): AWS Bedrock's Converse and ConverseStream,
//!   SigV4-signed, the AWS event-stream framing decoded;
//! - `Vertex` (cargo feature `vertex`): Gemini and Anthropic models on Google Vertex AI,
//!   with OAuth tokens from a service-account key or the metadata server;
//! - [`OpenAiEmbeddings`]: any OpenAI-compatible `/embeddings` endpoint, as an
//!   [`nb_core::Embedder`];
//! - [`wire`]: the parsers on their own, for recorded bodies and streams.
//!
//! Adapters report facts, not verdicts: every failure becomes a [`nb_core::CallError`]
//! carrying the status, the headers that matter (`retry-after`, rate-limit headers,
//! request id), the provider's error fields in whatever shape it sent them, and a bounded
//! snippet of any body that would not parse. Deciding what a failure *means* is
//! `nb-classify`'s job. Streams are split by our own linear-time WHATWG event-stream parser (a
//! leading byte-order mark is skipped, bad bytes are an error, never a panic); keep-alive
//! comments and pings never surface as chunks, an error event inside a 200 stream becomes
//! an error (never swallowed), and a stream that stops before its terminator is
//! [`CallError::Truncated`](nb_core::CallError::Truncated) with the partial output.
//! Bodies, SSE lines and whole streams are bounded by [`Limits`]. Keys are
//! [`secrecy`]-wrapped: never in `Debug`, `Display`, logs or errors, and never sent over
//! plain HTTP to a non-loopback host unless the caller opts in.
//!
//! ```no_run
//! use nb_core::{ChatRequest, Provider};
//! use nb_providers::{Anthropic, OpenAi, Preset};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let primary = Anthropic::from_env("claude-sonnet-4-5")?;
//! let fallback = OpenAi::builder(Preset::DeepSeek, "deepseek-chat").build()?;
//! let req = ChatRequest::user("Name the capital of France in one word.");
//! let answer = match primary.chat(&req).await {
//!     Ok(a) => a,
//!     Err(e) => {
//!         eprintln!("primary failed: {e}");
//!         fallback.chat(&req).await?
//!     }
//! };
//! println!("{}", answer.text);
//! # Ok(()) }
//! ```

mod anthropic;
#[cfg(feature = "bedrock")]
mod bedrock;
mod config;
mod embeddings;
mod error_body;
mod gemini;
mod http;
mod openai;
mod responses;
pub mod schema;
mod sse;
#[cfg(feature = "vertex")]
mod vertex;

/// The HTTP client crate the adapters are built on, re-exported so a client you pass to
/// a builder's `client(…)` is of the exact version they take.
pub use reqwest;

pub use anthropic::{ANTHROPIC_VERSION, Anthropic, AnthropicBuilder, DEFAULT_MAX_TOKENS};
#[cfg(feature = "bedrock")]
pub use bedrock::{AwsCredentials, Bedrock, BedrockBuilder};
pub use config::{ApiKey, ConfigError, ConfigErrorKind, Limits, Timeouts};
pub use embeddings::{OpenAiEmbeddings, OpenAiEmbeddingsBuilder};
pub use gemini::{Gemini, GeminiBuilder};
pub use openai::{OpenAi, OpenAiBuilder, Preset};
pub use responses::{OpenAiResponses, OpenAiResponsesBuilder};
#[cfg(feature = "vertex")]
pub use vertex::{
    CLOUD_PLATFORM_SCOPE, GOOGLE_TOKEN_URL, GoogleAuth, METADATA_URL, VERTEX_ANTHROPIC_VERSION,
    Vertex, VertexBuilder, VertexPublisher,
};

/// The parsers on their own: decode recorded bodies and byte streams without a network.
pub mod wire {
    use bytes::Bytes;
    use futures_core::Stream;
    use nb_core::{CallError, ChatResponse, ChatStream};

    use crate::config::Limits;
    use crate::http::Bounded;

    pub use crate::error_body::parse_error_body;

    /// Splits an event stream, delivered in `chunks`, into its events as (event type,
    /// data) pairs by the WHATWG rules the adapters use — for tests and fuzzing.
    ///
    /// ```
    /// let events = nb_providers::wire::split_events(&[b"\xEF\xBB\xBFdata: a\n", b"\ndata: b\r\n\r\n"]).unwrap();
    /// assert_eq!(events, [("message".to_owned(), "a".to_owned()), ("message".to_owned(), "b".to_owned())]);
    /// ```
    pub fn split_events(chunks: &[&[u8]]) -> Result<Vec<(String, String)>, CallError> {
        let mut p = crate::sse::EventParser::default();
        let mut out = std::collections::VecDeque::new();
        for c in chunks {
            p.push(c, &mut out)?;
        }
        p.finish(&mut out)?;
        Ok(out.into_iter().map(|e| (e.event, e.data)).collect())
    }

    /// A provider wire format.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum WireFormat {
        /// OpenAI Chat Completions and compatibles.
        OpenAi,
        /// Anthropic Messages.
        Anthropic,
        /// Gemini `generateContent`.
        Gemini,
        /// OpenAI Responses (`/v1/responses`).
        OpenAiResponses,
    }

    /// Parses a whole (2xx) response body of `format`.
    pub fn parse_response(format: WireFormat, body: &[u8]) -> Result<ChatResponse, CallError> {
        match format {
            WireFormat::OpenAi => crate::openai::parse_response(body),
            WireFormat::Anthropic => crate::anthropic::parse_response(body),
            WireFormat::Gemini => crate::gemini::parse_response(body),
            WireFormat::OpenAiResponses => crate::responses::parse_response(body),
        }
    }

    /// Parses a whole Bedrock `ConverseResponse` body.
    #[cfg(feature = "bedrock")]
    pub fn parse_bedrock_response(body: &[u8]) -> Result<ChatResponse, CallError> {
        crate::bedrock::parse_response(body)
    }

    /// Decodes a ConverseStream body (the `application/vnd.amazon.eventstream`
    /// framing), bounded by `limits` (`max_sse_line_bytes` bounds one message), exactly
    /// as the adapter does.
    #[cfg(feature = "bedrock")]
    pub fn decode_bedrock_stream<S>(bytes: S, limits: Limits) -> ChatStream
    where
        S: Stream<Item = Result<Bytes, CallError>> + Send + 'static,
    {
        let frame_limit = limits.max_sse_line_bytes;
        let limits = Limits {
            max_sse_line_bytes: usize::MAX,
            ..limits
        };
        let bounded = Box::pin(Bounded::new(Box::pin(bytes), limits));
        crate::sse::decode_framed(
            bounded,
            crate::bedrock::eventstream::EventStreamFramer::new(frame_limit),
            crate::bedrock::BedrockDecoder::new(None, None),
        )
    }

    /// One AWS event-stream message as Bedrock frames it (`message_type` `event` with
    /// `:event-type` `kind`, or `exception` with `:exception-type` `kind`), for tests
    /// and fuzz seeds.
    #[cfg(feature = "bedrock")]
    pub fn bedrock_event_message(message_type: &str, kind: &str, payload: &[u8]) -> Vec<u8> {
        crate::bedrock::eventstream::encode(message_type, kind, payload)
    }

    /// Decodes an SSE byte stream of `format`, bounded by `limits`, exactly as the
    /// adapters do.
    pub fn decode_stream<S>(format: WireFormat, bytes: S, limits: Limits) -> ChatStream
    where
        S: Stream<Item = Result<Bytes, CallError>> + Send + 'static,
    {
        let bounded = Box::pin(Bounded::new(Box::pin(bytes), limits));
        match format {
            WireFormat::OpenAi => {
                crate::sse::decode(bounded, crate::openai::OpenAiDecoder::new(None))
            }
            WireFormat::Anthropic => {
                crate::sse::decode(bounded, crate::anthropic::AnthropicDecoder::new(None))
            }
            WireFormat::Gemini => {
                crate::sse::decode(bounded, crate::gemini::GeminiDecoder::new(None))
            }
            WireFormat::OpenAiResponses => {
                crate::sse::decode(bounded, crate::responses::ResponsesDecoder::new(None))
            }
        }
    }
}
