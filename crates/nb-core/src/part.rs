//! The pieces a message is made of: text, images, documents, tool calls and tool results.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::ToolCall;

/// Where an image's or a document's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Media {
    /// At a URL the provider fetches (`https://…`), or a provider file URI (Gemini's
    /// `fileData`).
    Url {
        /// The address.
        url: String,
        /// The media type, when known (Gemini needs one for a file URI).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_type: Option<String>,
    },
    /// Inline, base64-encoded, with its media type (`image/png`, `application/pdf`).
    Base64 {
        /// The media type.
        media_type: String,
        /// The bytes, base64 (standard alphabet, padded).
        data: String,
    },
}

impl Media {
    /// Inline bytes of `media_type`.
    pub fn bytes(media_type: impl Into<String>, bytes: &[u8]) -> Self {
        Self::Base64 {
            media_type: media_type.into(),
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// A URL the provider fetches.
    pub fn url(url: impl Into<String>) -> Self {
        Self::Url {
            url: url.into(),
            media_type: None,
        }
    }

    /// The media type, when known.
    pub fn media_type(&self) -> Option<&str> {
        match self {
            Self::Url { media_type, .. } => media_type.as_deref(),
            Self::Base64 { media_type, .. } => Some(media_type),
        }
    }

    /// A `data:` URL of inline bytes, or the URL itself (what OpenAI's wire format takes).
    pub fn as_url(&self) -> String {
        match self {
            Self::Url { url, .. } => url.clone(),
            Self::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

/// A prompt-caching mark: the provider may cache the prompt up to and including this
/// part (Anthropic's `cache_control`; other providers cache on their own and ignore it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Cache {
    /// The provider's default lifetime (Anthropic: 5 minutes).
    Ephemeral,
}

/// One piece of a message.
///
/// ```
/// use nb_core::{Message, Part, Media};
/// let m = Message::user_parts(vec![
///     Part::text("What is in this picture?"),
///     Part::image(Media::bytes("image/png", &[0x89, b'P', b'N', b'G'])),
/// ]);
/// assert_eq!(m.text(), "What is in this picture?");
/// assert!(m.parts.iter().any(|p| matches!(p, Part::Image { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Part {
    /// Text.
    Text {
        /// The text.
        text: String,
        /// A prompt-caching mark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache: Option<Cache>,
    },
    /// An image.
    Image {
        /// Its bytes or URL.
        source: Media,
        /// A prompt-caching mark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache: Option<Cache>,
    },
    /// A document (a PDF, a text file).
    Document {
        /// Its bytes or URL.
        source: Media,
        /// A file name, where the provider takes one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// A prompt-caching mark.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cache: Option<Cache>,
    },
    /// A tool call, in an assistant turn.
    ToolCall {
        /// The call.
        call: ToolCall,
    },
    /// The result of a tool call, in a tool turn.
    ToolResult {
        /// The id of the call it answers (Gemini gives none: the tool's name pairs them).
        call_id: String,
        /// The tool's name (Gemini needs it; others ignore it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// What the tool returned, as text (often JSON).
        content: String,
        /// Whether the tool failed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

impl Part {
    /// Text.
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text {
            text: text.into(),
            cache: None,
        }
    }

    /// An image from its bytes or URL.
    pub fn image(source: Media) -> Self {
        Self::Image {
            source,
            cache: None,
        }
    }

    /// A document from its bytes or URL, with a file name where the provider wants one.
    pub fn document(source: Media, name: Option<String>) -> Self {
        Self::Document {
            source,
            name,
            cache: None,
        }
    }

    /// A tool call.
    pub fn tool_call(call: ToolCall) -> Self {
        Self::ToolCall { call }
    }

    /// A tool's result.
    pub fn tool_result(
        call_id: impl Into<String>,
        name: impl Into<String>,
        content: impl Into<String>,
    ) -> Self {
        Self::ToolResult {
            call_id: call_id.into(),
            name: Some(name.into()),
            content: content.into(),
            is_error: false,
        }
    }

    /// Marks this part as the end of a cacheable prompt prefix (text, images and
    /// documents; other parts are returned as they are).
    pub fn cached(mut self) -> Self {
        match &mut self {
            Self::Text { cache, .. } | Self::Image { cache, .. } | Self::Document { cache, .. } => {
                *cache = Some(Cache::Ephemeral);
            }
            Self::ToolCall { .. } | Self::ToolResult { .. } => {}
        }
        self
    }

    /// The part's text, for text parts.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text { text, .. } => Some(text),
            _ => None,
        }
    }

    /// What kind of part this is, for capability checks and reports: `"text"`,
    /// `"image"`, `"document"`, `"tool_call"`, `"tool_result"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Document { .. } => "document",
            Self::ToolCall { .. } => "tool_call",
            Self::ToolResult { .. } => "tool_result",
        }
    }

    /// A rough size in characters, for budget estimates (inline media count by their
    /// encoded size divided by four: providers bill images far below their byte size).
    pub fn approx_chars(&self) -> usize {
        match self {
            Self::Text { text, .. } => text.len(),
            Self::Image { source, .. } | Self::Document { source, .. } => match source {
                Media::Base64 { data, .. } => data.len() / 4,
                Media::Url { url, .. } => url.len(),
            },
            Self::ToolCall { call } => call.name.len() + call.arguments_raw.len(),
            Self::ToolResult { content, .. } => content.len(),
        }
    }
}
