//! [`CallError`]: the facts of a failed call, as the wire gave them. No prose to re-parse,
//! no decisions: classification lives in `nb-classify`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::response::PartialOutput;

/// The most bytes of a bad body an error keeps, so an error never holds a megabyte of HTML.
pub const SNIPPET_LIMIT: usize = 512;

/// Cuts `body` to at most [`SNIPPET_LIMIT`] bytes on a character boundary, lossily
/// decoding invalid UTF-8.
pub fn snippet(body: &[u8]) -> String {
    let cut = &body[..body.len().min(SNIPPET_LIMIT)];
    let text = String::from_utf8_lossy(cut);
    let mut s = text.into_owned();
    if body.len() > SNIPPET_LIMIT {
        s.push('…');
    }
    s
}

/// The response headers a classifier needs, copied verbatim (values are parsed by
/// `nb-classify`, which knows every format they come in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderFacts {
    /// `retry-after`: seconds or an HTTP date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<String>,
    /// `retry-after-ms`: milliseconds, possibly fractional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<String>,
    /// `x-should-retry`: the server's own verdict, `true` or `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub should_retry: Option<bool>,
    /// `x-request-id` / `request-id` / `x-goog-request-id` / `apim-request-id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every `x-ratelimit-*` and `anthropic-ratelimit-*` header, name lower-cased.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rate_limit: Vec<(String, String)>,
}

impl HeaderFacts {
    /// The value of a rate-limit header by its lower-case name.
    pub fn rate_limit(&self, name: &str) -> Option<&str> {
        self.rate_limit
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Records one header if it is one that matters; ignores the rest. Names match in
    /// any case; nothing is allocated for a header that does not matter (every response
    /// passes each of its headers here).
    pub fn record(&mut self, name: &str, value: &str) {
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("retry-after") {
            self.retry_after = Some(value.trim().to_owned());
        } else if is("retry-after-ms") {
            self.retry_after_ms = Some(value.trim().to_owned());
        } else if is("x-should-retry") {
            match value.trim() {
                "true" => self.should_retry = Some(true),
                "false" => self.should_retry = Some(false),
                _ => {}
            }
        } else if [
            "x-request-id",
            "request-id",
            "x-goog-request-id",
            "apim-request-id",
            "x-amzn-requestid",
        ]
        .into_iter()
        .any(is)
        {
            if self.request_id.is_none() {
                self.request_id = Some(value.to_owned());
            }
        } else if starts_with_ignore_case(name, "x-ratelimit-")
            || starts_with_ignore_case(name, "anthropic-ratelimit-")
        {
            self.rate_limit
                .push((name.to_ascii_lowercase(), value.to_owned()));
        }
    }
}

/// Whether `s` begins with `prefix`, ASCII case ignored.
fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// One entry of Gemini's `QuotaFailure.violations`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaViolation {
    /// e.g. `GenerateRequestsPerDayPerProjectPerModel-FreeTier`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_id: Option<String>,
    /// e.g. `generativelanguage.googleapis.com/generate_content_free_tier_requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_metric: Option<String>,
}

/// What the provider said went wrong, read from its error body in whatever shape it uses
/// (OpenAI `{"error":{...}}`, Mistral's flat body, Anthropic, Google RPC, Gemini's
/// OpenAI-compatible array, Ollama's `{"error":"..."}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderError {
    /// `error.type` (OpenAI, Anthropic, Mistral, vLLM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    /// `error.code` as text: OpenAI's string codes, vLLM's and Google's numeric ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Google RPC `error.status` (`RESOURCE_EXHAUSTED`, `NOT_FOUND`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The human message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `error.param` (OpenAI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
    /// Anthropic `error.details.error_code`, Azure `innererror.code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_code: Option<String>,
    /// Google `ErrorInfo.reason` (e.g. `API_KEY_INVALID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Google `RetryInfo.retryDelay` as given (`"37s"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<String>,
    /// Google `QuotaFailure.violations`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quota_violations: Vec<QuotaViolation>,
}

impl ProviderError {
    /// `true` when no field was found.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The provider answered and said no: a non-success status, or an error event inside a
/// stream that had started with 200.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The HTTP status. For an error event inside a 200 stream this is the status the
    /// event carried (Groq's `status_code`, Google's `code`), or `None`.
    pub status: Option<u16>,
    /// The headers that matter.
    pub headers: HeaderFacts,
    /// The parsed error body.
    pub error: ProviderError,
    /// The start of the body when it could not be parsed (an HTML page from a proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_snippet: Option<String>,
}

/// What went wrong below HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransportKind {
    /// The connection was refused (nothing listening, or a firewall said no).
    ConnectRefused,
    /// The host name did not resolve.
    Dns,
    /// The TLS handshake failed.
    Tls,
    /// The peer reset or closed the connection mid-exchange.
    Reset,
    /// Time ran out in one phase of the call.
    Timeout(TimeoutPhase),
    /// Some other I/O or protocol failure.
    Other,
}

/// The phase of a call in which a timeout fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeoutPhase {
    /// Establishing the connection.
    Connect,
    /// Waiting for the response head.
    FirstByte,
    /// Waiting for the first content delta of a stream.
    FirstToken,
    /// Waiting for the next delta of a stream that had started.
    Idle,
    /// The whole call's deadline.
    Total,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::FirstByte => "first byte",
            Self::FirstToken => "first token",
            Self::Idle => "idle gap",
            Self::Total => "total deadline",
        })
    }
}

/// A failure below HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransportError {
    /// What kind of failure.
    pub kind: TransportKind,
    /// The underlying library's description (never holds a secret: URLs are stripped of
    /// their query before they get here).
    pub detail: String,
}

/// A body that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeError {
    /// What was expected and not found (`"response body is not JSON"`, ...).
    pub what: String,
    /// The start of the offending bytes.
    pub snippet: String,
    /// The HTTP status of the response that carried it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The headers that matter.
    #[serde(default)]
    pub headers: HeaderFacts,
}

/// The provider answered 200 but blocked the prompt and produced nothing
/// (Gemini `promptFeedback.blockReason`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockedError {
    /// The provider's reason (`SAFETY`, `PROHIBITED_CONTENT`, ...).
    pub reason: String,
    /// The provider's request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// A stream that broke after it had started, with what it had delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MidStreamError {
    /// What broke it.
    pub cause: CallError,
    /// What had reached the caller before it broke.
    pub partial: PartialOutput,
}

/// Why one call to one target failed: facts, not prose.
///
/// Each variant keeps what a classifier needs (status, headers, the provider's error
/// fields, a bounded snippet of a bad body). None of them can hold an API key.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallError {
    /// The provider answered with an error status or an error event.
    #[error("{}", describe_api(.0))]
    Api(Box<ApiError>),
    /// The connection failed or timed out.
    #[error("transport failure ({:?}): {}", .0.kind, .0.detail)]
    Transport(Box<TransportError>),
    /// A body or event could not be decoded.
    #[error("could not decode the response: {} (body starts {:?})", .0.what, .0.snippet)]
    Decode(Box<DecodeError>),
    /// The prompt was blocked and nothing was generated.
    #[error("the provider blocked the prompt: {}", .0.reason)]
    Blocked(Box<BlockedError>),
    /// A stream ended before its terminator (`[DONE]`, `message_stop`, a finish reason).
    #[error("the stream ended before its terminator")]
    Truncated,
    /// The response body or an SSE line exceeded its configured limit.
    #[error("the response exceeded the {limit}-byte limit on {what}")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
        /// What was limited (`"response body"`, `"SSE line"`, `"stream"`).
        what: String,
    },
    /// The request cannot be expressed on this target (a feature it lacks).
    #[error("this target cannot serve the request: {what}")]
    Unsupported {
        /// What it lacks.
        what: String,
    },
    /// Nothing could take the call now, and that will pass: a router nested inside
    /// another found every target cooling down or open. Unlike a failed request it keeps
    /// the time to wait, so the outer router cools this target down for it instead of
    /// blaming the caller.
    #[error("no target can take the call now{}: {reason}", .retry_after.map(|d| format!(" (retry in {d:?})")).unwrap_or_default())]
    Unavailable {
        /// Why.
        reason: Unavailability,
        /// When something comes back, if known.
        retry_after: Option<std::time::Duration>,
    },
    /// A stream broke after it had started.
    #[error("the stream failed after {} content chunks: {}", .0.partial.content_chunks, .0.cause)]
    MidStream(Box<MidStreamError>),
    /// The caller gave up (the future was dropped or a deadline passed above this call).
    #[error("the call was cancelled")]
    Cancelled,
    /// The answer arrived intact but a validator rejected it.
    #[error("the answer was rejected: {}", .0.violation)]
    Rejected(Box<RejectedAnswer>),
}

/// An answer a validator rejected, with the violation and the answer itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedAnswer {
    /// What is wrong.
    pub violation: crate::Violation,
    /// The answer as it came.
    pub response: crate::ChatResponse,
}

/// Why nothing could take a call now ([`CallError::Unavailable`]): what a router nested
/// inside another says instead of a provider error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unavailability {
    /// Every target was out of rotation (breakers open, cooling down, paced).
    #[error("every target is out of rotation")]
    OutOfRotation,
    /// Every attempt was turned away for capacity (rate limits, overload, quota).
    #[error("every attempt was turned away for capacity")]
    Capacity,
    /// The retry budget is spent: failures are broad, and more attempts would add load.
    #[error("the retry budget is spent")]
    RetryBudgetSpent,
    /// No target serves this call (an unknown route, tags no target has).
    #[error("no target serves this call")]
    NoRoute,
}

fn describe_api(e: &ApiError) -> String {
    let mut s = match e.status {
        Some(st) => format!("provider error (HTTP {st})"),
        None => "provider error event".to_owned(),
    };
    for (label, v) in [
        ("type", &e.error.r#type),
        ("code", &e.error.code),
        ("status", &e.error.status),
    ] {
        if let Some(v) = v {
            s.push_str(&format!(" {label}={v}"));
        }
    }
    if let Some(m) = &e.error.message {
        s.push_str(": ");
        s.push_str(m);
    } else if let Some(b) = &e.body_snippet {
        s.push_str(&format!(": body {b:?}"));
    }
    s
}

impl CallError {
    /// A transport failure.
    pub fn transport(kind: TransportKind, detail: impl Into<String>) -> Self {
        Self::Transport(Box::new(TransportError {
            kind,
            detail: detail.into(),
        }))
    }

    /// A timeout in the given phase.
    pub fn timeout(phase: TimeoutPhase) -> Self {
        Self::transport(
            TransportKind::Timeout(phase),
            format!("no progress before the {phase} timeout"),
        )
    }

    /// A decode failure, keeping a bounded snippet of `body`.
    pub fn decode(what: impl Into<String>, body: &[u8]) -> Self {
        Self::Decode(Box::new(DecodeError {
            what: what.into(),
            snippet: snippet(body),
            status: None,
            headers: HeaderFacts::default(),
        }))
    }

    /// An answer rejected by a validator.
    pub fn rejected(violation: crate::Violation, response: crate::ChatResponse) -> Self {
        Self::Rejected(Box::new(RejectedAnswer {
            violation,
            response,
        }))
    }

    /// Wraps `cause` as a failure after `partial` had been delivered.
    pub fn mid_stream(cause: CallError, partial: PartialOutput) -> Self {
        Self::MidStream(Box::new(MidStreamError { cause, partial }))
    }

    /// The HTTP status, where there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => e.status,
            Self::Decode(e) => e.status,
            Self::MidStream(m) => m.cause.status(),
            _ => None,
        }
    }

    /// The headers that matter, where a response was received.
    pub fn headers(&self) -> Option<&HeaderFacts> {
        match self {
            Self::Api(e) => Some(&e.headers),
            Self::Decode(e) => Some(&e.headers),
            Self::MidStream(m) => m.cause.headers(),
            _ => None,
        }
    }

    /// The provider's error fields, where it sent any.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            Self::Api(e) => Some(&e.error),
            Self::MidStream(m) => m.cause.provider_error(),
            _ => None,
        }
    }

    /// The innermost cause (unwraps [`CallError::MidStream`]).
    pub fn root(&self) -> &CallError {
        match self {
            Self::MidStream(m) => m.cause.root(),
            other => other,
        }
    }

    /// What a broken stream had delivered, if this is a mid-stream failure.
    pub fn partial(&self) -> Option<&PartialOutput> {
        match self {
            Self::MidStream(m) => Some(&m.partial),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HeaderFacts;

    #[test]
    fn header_facts_keep_the_headers_that_matter_in_any_case() {
        let mut f = HeaderFacts::default();
        for (name, value) in [
            ("Content-Type", "application/json"),
            ("Retry-After", " 7 "),
            ("retry-after-ms", "1500.5"),
            ("X-Should-Retry", "false"),
            ("X-Request-Id", "req_1"),
            ("request-id", "req_2"),
            ("X-RateLimit-Remaining-Requests", "12"),
            ("anthropic-ratelimit-tokens-reset", "2026-01-01T00:00:00Z"),
            ("x-ratelimit", "not a rate-limit header: no suffix"),
            ("ratelimit-remaining", "not ours either"),
        ] {
            f.record(name, value);
        }
        assert_eq!(f.retry_after.as_deref(), Some("7"));
        assert_eq!(f.retry_after_ms.as_deref(), Some("1500.5"));
        assert_eq!(f.should_retry, Some(false));
        assert_eq!(
            f.request_id.as_deref(),
            Some("req_1"),
            "the first id is kept"
        );
        assert_eq!(
            f.rate_limit,
            vec![
                ("x-ratelimit-remaining-requests".to_owned(), "12".to_owned()),
                (
                    "anthropic-ratelimit-tokens-reset".to_owned(),
                    "2026-01-01T00:00:00Z".to_owned()
                ),
            ]
        );
        assert_eq!(f.rate_limit("x-ratelimit-remaining-requests"), Some("12"));
        f.record("x-should-retry", "maybe");
        assert_eq!(
            f.should_retry,
            Some(false),
            "an unknown verdict changes nothing"
        );
    }
}
