//! [`FailureClass`]: the names of the failure taxonomy. What each class means for routing
//! is decided in `nb-classify`.

use serde::{Deserialize, Serialize};

/// What kind of failure a call met. See `docs/failure-taxonomy.md` for the signals behind
/// each class and its default disposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureClass {
    /// No progress in time (connect, first byte, first token, idle gap, total).
    Timeout,
    /// A rate window is full; it will reopen.
    RateLimited,
    /// Billing or quota is exhausted; it will not reopen soon.
    QuotaExhausted,
    /// The provider is over capacity.
    Overloaded,
    /// The provider failed (500, 502, 504).
    ServerError,
    /// The connection failed (refused, reset, DNS, TLS).
    Network,
    /// The model does not exist or is not available to this key.
    InvalidModel,
    /// A 404 with no sign of a model: the target's base URL or path is wrong. Only that
    /// target is at fault; the model and the provider are fine.
    EndpointNotFound,
    /// The key is wrong, revoked, or lacks permission.
    AuthFailure,
    /// The prompt does not fit the model's context window.
    ContextTooLong,
    /// A safety system blocked the prompt or the answer.
    ContentFiltered,
    /// The request is wrong; no provider will accept it.
    InvalidRequest,
    /// A 200 whose body is broken, empty or cut short.
    MalformedResponse,
    /// A well-formed answer that breaks the requested schema.
    SchemaViolation,
    /// A well-formed answer that is out of bounds or not equivalent to the reference.
    SemanticOutOfBounds,
    /// The caller gave up.
    Cancelled,
}

impl FailureClass {
    /// Every class, in declaration order.
    pub const ALL: [FailureClass; 16] = [
        Self::Timeout,
        Self::RateLimited,
        Self::QuotaExhausted,
        Self::Overloaded,
        Self::ServerError,
        Self::Network,
        Self::InvalidModel,
        Self::EndpointNotFound,
        Self::AuthFailure,
        Self::ContextTooLong,
        Self::ContentFiltered,
        Self::InvalidRequest,
        Self::MalformedResponse,
        Self::SchemaViolation,
        Self::SemanticOutOfBounds,
        Self::Cancelled,
    ];

    /// The snake_case name used in reports and config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::RateLimited => "rate_limited",
            Self::QuotaExhausted => "quota_exhausted",
            Self::Overloaded => "overloaded",
            Self::ServerError => "server_error",
            Self::Network => "network",
            Self::InvalidModel => "invalid_model",
            Self::EndpointNotFound => "endpoint_not_found",
            Self::AuthFailure => "auth_failure",
            Self::ContextTooLong => "context_too_long",
            Self::ContentFiltered => "content_filtered",
            Self::InvalidRequest => "invalid_request",
            Self::MalformedResponse => "malformed_response",
            Self::SchemaViolation => "schema_violation",
            Self::SemanticOutOfBounds => "semantic_out_of_bounds",
            Self::Cancelled => "cancelled",
        }
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a failure's damage reaches: what to avoid next time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Scope {
    /// Only this attempt; the target is fine.
    Attempt,
    /// This (provider, model, credential).
    Target,
    /// Every target of this model on this provider.
    Model,
    /// Every target using this credential.
    Credential,
    /// Every target of this provider.
    Provider,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Attempt => "attempt",
            Self::Target => "target",
            Self::Model => "model",
            Self::Credential => "credential",
            Self::Provider => "provider",
        })
    }
}
