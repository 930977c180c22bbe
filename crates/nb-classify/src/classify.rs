//! The default taxonomy, decided by facts in a fixed order. Each rule says which fact it
//! reads; `docs/failure-taxonomy.md` lists them with their sources.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nb_core::{
    ApiError, CallError, FailureClass, TimeoutPhase, TransportKind, Violation, ViolationKind,
};

use crate::hint::retry_hint;
use crate::{Classification, Classifier, Disposition, Failure, Scope};

/// Phrases that mean the prompt does not fit the context window, from the providers'
/// messages (OpenAI, Anthropic, Gemini, DeepSeek, vLLM, llama.cpp, Cerebras).
const CONTEXT_PHRASES: &[&str] = &[
    "maximum context length",
    "context_length_exceeded",
    "prompt is too long",
    "exceed context limit",
    "model's maximum context limit",
    "is longer than the model's context length",
    "input tokens exceed the configured limit",
    "exceeds the maximum number of tokens allowed",
    "exceeds the available context size",
    "maximum input length is",
    "context window",
    // AWS Bedrock's ValidationException.
    "input is too long for requested model",
];

/// Phrases of a safety system refusing the request.
const FILTER_PHRASES: &[&str] = &[
    "content_policy_violation",
    "responsibleaipolicyviolation",
    "content management policy",
    "as a result of our safety system",
    "content filtering policy",
    "the response was blocked",
    "violating our usage policy",
];

/// Phrases of capacity trouble on the provider's side, not the caller's rate limit.
const OVERLOAD_PHRASES: &[&str] = &[
    "overloaded",
    "high demand",
    "capacity exceeded",
    "server busy",
    "temporarily out of capacity",
];

/// Codes of exhausted billing or quota (OpenAI's newer billing codes, Anthropic's spend
/// cap).
const QUOTA_CODES: &[&str] = &[
    "insufficient_quota",
    "credit_balance_exhausted",
    "organization_spend_limit_exceeded",
    "project_spend_limit_exceeded",
    "organization_usage_limit_exceeded",
    "enforced_spend_limit_reached",
    "billing_not_active",
    "billing_hard_limit_reached",
    "insufficient_balance",
];

/// Messages that say the account is out of credit, whatever status and type carry them
/// (Anthropic sends a 400 `invalid_request_error`, some OpenAI-compatible providers a
/// 429): a failover, and a cool-down for the credential — never the caller's bug.
const CREDIT_PHRASES: &[&str] = &[
    "credit balance is too low",
    "reached your specified api usage limits",
    "insufficient balance",
    "insufficient credit",
    "out of credits",
    "not enough credits",
    "billing is not active",
    "account is not active, please check your billing",
    "purchase credits",
    "please recharge",
];

type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// The default classifier: total (it always answers), data-driven, and cheap.
///
/// `max_wait_here` is the longest retry hint it will advise waiting out on the same
/// target (default 1 s); a longer hint means fail over and let the target cool down.
#[derive(Clone)]
pub struct DefaultClassifier {
    max_wait_here: Duration,
    clock: Clock,
}

impl std::fmt::Debug for DefaultClassifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DefaultClassifier")
            .field("max_wait_here", &self.max_wait_here)
            .finish_non_exhaustive()
    }
}

impl Default for DefaultClassifier {
    fn default() -> Self {
        Self {
            max_wait_here: Duration::from_secs(1),
            clock: Arc::new(SystemTime::now),
        }
    }
}

impl DefaultClassifier {
    /// The default classifier with the system clock.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `clock` for hints given as dates (HTTP dates, RFC 3339 reset times).
    pub fn with_clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Sets the longest hint worth waiting out on the same target.
    pub fn with_max_wait_here(mut self, d: Duration) -> Self {
        self.max_wait_here = d;
        self
    }

    /// Classifies a failure; never declines.
    pub fn decide(&self, failure: &Failure<'_>) -> Classification {
        match failure {
            Failure::Call(e) => self.call(e),
            Failure::Violation(v) => violation(v),
        }
    }

    fn call(&self, e: &CallError) -> Classification {
        match e {
            CallError::MidStream(m) => self.call(&m.cause),
            CallError::Api(a) => {
                let mut c = self.api(a);
                // The server's own verdict overrides the status (as the official SDKs do),
                // but never the rule that only a short hint is waited out on the same
                // target: "retry, in 20 s" with a healthy fallback is a failover.
                match a.headers.should_retry {
                    Some(false) if c.disposition == Disposition::RetryHere => {
                        c.disposition = Disposition::FailOver;
                    }
                    Some(true)
                        if c.disposition == Disposition::FailOver
                            && c.scope != Scope::Credential
                            && c.retry_after.is_none_or(|d| d <= self.max_wait_here) =>
                    {
                        c.disposition = Disposition::RetryHere;
                    }
                    _ => {}
                }
                c
            }
            CallError::Transport(t) => match t.kind {
                TransportKind::Timeout(phase) => Classification::new(
                    FailureClass::Timeout,
                    Scope::Target,
                    Disposition::FailOver,
                    match phase {
                        TimeoutPhase::Connect => "timeout: connect",
                        TimeoutPhase::FirstByte => "timeout: first byte",
                        TimeoutPhase::FirstToken => "timeout: first token",
                        TimeoutPhase::Idle => "timeout: idle gap",
                        TimeoutPhase::Total => "timeout: total deadline",
                    },
                ),
                TransportKind::ConnectRefused => Classification::new(
                    FailureClass::Network,
                    Scope::Provider,
                    Disposition::FailOver,
                    "connection refused",
                ),
                TransportKind::Dns => Classification::new(
                    FailureClass::Network,
                    Scope::Provider,
                    Disposition::FailOver,
                    "DNS failure",
                ),
                TransportKind::Tls => Classification::new(
                    FailureClass::Network,
                    Scope::Provider,
                    Disposition::FailOver,
                    "TLS failure",
                ),
                TransportKind::Reset => Classification::new(
                    FailureClass::Network,
                    Scope::Target,
                    Disposition::FailOver,
                    "connection reset",
                ),
                _ => Classification::new(
                    FailureClass::Network,
                    Scope::Target,
                    Disposition::FailOver,
                    "transport failure",
                ),
            },
            CallError::Decode(_) => Classification::new(
                FailureClass::MalformedResponse,
                Scope::Target,
                Disposition::RetryHere,
                "undecodable body",
            ),
            CallError::Truncated => Classification::new(
                FailureClass::MalformedResponse,
                Scope::Target,
                Disposition::RetryHere,
                "stream ended before its terminator",
            ),
            CallError::BodyTooLarge { .. } => Classification::new(
                FailureClass::MalformedResponse,
                Scope::Target,
                Disposition::FailOver,
                "response over the size limit",
            ),
            CallError::Blocked(_) => Classification::new(
                FailureClass::ContentFiltered,
                Scope::Attempt,
                Disposition::FailOver,
                "prompt blocked",
            ),
            CallError::Unavailable { retry_after, .. } => Classification::new(
                FailureClass::Overloaded,
                Scope::Target,
                Disposition::FailOver,
                "nothing behind this target can take the call now",
            )
            .with_retry_after(*retry_after),
            CallError::Unsupported { .. } => Classification::new(
                FailureClass::InvalidRequest,
                Scope::Target,
                Disposition::FailOver,
                "target cannot express the request",
            ),
            CallError::Rejected(r) => violation(&r.violation),
            CallError::Cancelled => Classification::new(
                FailureClass::Cancelled,
                Scope::Attempt,
                Disposition::Abort,
                "cancelled by the caller",
            ),
            _ => Classification::new(
                FailureClass::ServerError,
                Scope::Target,
                Disposition::FailOver,
                "unknown failure",
            ),
        }
    }

    fn api(&self, a: &ApiError) -> Classification {
        use Disposition::*;
        use FailureClass as F;
        let st = a.status.unwrap_or(0);
        let e = &a.error;
        let ty = e.r#type.as_deref().unwrap_or("");
        let code = e.code.as_deref().unwrap_or("");
        let gst = e.status.as_deref().unwrap_or("");
        let detail = e.detail_code.as_deref().unwrap_or("");
        let msg = e
            .message
            .as_deref()
            .or(a.body_snippet.as_deref())
            .unwrap_or("")
            .to_ascii_lowercase();
        let has = |phrases: &[&str]| phrases.iter().any(|p| msg.contains(p));
        let hint = || retry_hint(a, (self.clock)());
        let c = Classification::new;

        // 1. Credentials: 401, auth types, Gemini's 400 API_KEY_INVALID, AWS's signature
        //    and token exceptions.
        if st == 401
            || matches!(
                ty,
                "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "IncompleteSignatureException"
                    | "ExpiredTokenException"
                    | "MissingAuthenticationTokenException"
            )
            || ty == "authentication_error"
            || code == "invalid_api_key"
            || e.reason.as_deref() == Some("API_KEY_INVALID")
            // An OAuth token endpoint's refusal (RFC 6749 §5.2), e.g. a Vertex
            // service-account key that was revoked.
            || matches!(
                ty,
                "invalid_grant" | "invalid_client" | "unauthorized_client"
            )
            || gst == "UNAUTHENTICATED"
        {
            return c(
                F::AuthFailure,
                Scope::Credential,
                FailOver,
                "authentication failed",
            );
        }
        // Bedrock grants access per model: a denial naming the model says nothing of the
        // account's other models.
        if ty == "AccessDeniedException" && msg.contains("model") {
            return c(
                F::AuthFailure,
                Scope::Model,
                FailOver,
                "no access to this model",
            );
        }
        if st == 403
            || ty == "AccessDeniedException"
            || ty == "permission_error"
            || ty == "request_forbidden"
            || gst == "PERMISSION_DENIED"
        {
            return c(
                F::AuthFailure,
                Scope::Credential,
                FailOver,
                "permission denied",
            );
        }
        if gst == "FAILED_PRECONDITION" {
            return c(
                F::AuthFailure,
                Scope::Credential,
                FailOver,
                "account precondition (billing or region)",
            );
        }
        // 2. Billing and quota: never retried here, whatever the status says.
        if QUOTA_CODES.contains(&ty)
            || QUOTA_CODES.contains(&code)
            || QUOTA_CODES.contains(&detail)
            || ty == "ServiceQuotaExceededException"
        {
            return c(
                F::QuotaExhausted,
                Scope::Credential,
                FailOver,
                "quota or spend limit exhausted",
            );
        }
        // Bedrock's daily token quota comes as a throttle ("Too many tokens per day"):
        // it lasts until the day turns.
        if ty == "ThrottlingException" && msg.contains("per day") {
            return c(
                F::QuotaExhausted,
                Scope::Credential,
                FailOver,
                "daily token quota exhausted",
            );
        }
        if has(CREDIT_PHRASES) {
            return c(
                F::QuotaExhausted,
                Scope::Credential,
                FailOver,
                "out of credit",
            );
        }
        if st == 402 || ty == "billing_error" {
            return c(
                F::QuotaExhausted,
                Scope::Credential,
                FailOver,
                "billing problem (402)",
            );
        }
        if e.quota_violations.iter().any(|q| {
            q.quota_id
                .as_deref()
                .is_some_and(|id| id.contains("PerDay"))
        }) {
            return c(
                F::QuotaExhausted,
                Scope::Credential,
                FailOver,
                "daily quota exhausted",
            );
        }
        // 3. Context: before rate limits ("request too large" is not a context error).
        if code == "context_length_exceeded"
            || (has(CONTEXT_PHRASES) && !msg.contains("string_above_max_length") && st != 429)
        {
            return c(
                F::ContextTooLong,
                Scope::Model,
                FailOverLargerContext,
                "prompt exceeds the context window",
            );
        }
        // 4. Content policy.
        if code == "content_filter"
            || code == "content_policy_violation"
            // OpenAI Responses' `ResponseError.code` (openai-python `response_error.py`).
            || matches!(code, "bio_policy" | "image_content_policy_violation")
            || detail == "ResponsibleAIPolicyViolation"
            || has(FILTER_PHRASES)
        {
            return c(
                F::ContentFiltered,
                Scope::Attempt,
                FailOver,
                "content policy",
            );
        }
        // 5. Capacity (529, 503, Groq's 498, Mistral's tier capacity): provider trouble,
        //    not the caller's rate limit — checked before 429.
        if st == 529 || ty == "overloaded_error" {
            return c(
                F::Overloaded,
                Scope::Provider,
                FailOver,
                "provider overloaded",
            )
            .with_retry_after(hint());
        }
        // AWS Bedrock: a model not ready to serve (429 ModelNotReadyException) is the
        // model's capacity, not the caller's rate.
        if st == 503
            || st == 498
            || matches!(ty, "ModelNotReadyException" | "ServiceUnavailableException")
            || code == "server_is_overloaded"
            || ty == "service_unavailable_error"
            || gst == "UNAVAILABLE"
            // A 429 that says "rate limit" is one, even when it blames demand
            // (OpenRouter: "Rate limit exceeded: … High demand for … limited to 1
            // requests per minute").
            || (has(OVERLOAD_PHRASES) && !(st == 429 && msg.contains("rate limit")))
        {
            return c(F::Overloaded, Scope::Model, FailOver, "model capacity")
                .with_retry_after(hint());
        }
        // 6. Rate limits.
        if st == 429
            || ty == "rate_limit_error"
            || code == "rate_limit_exceeded"
            || ty == "ThrottlingException"
            || gst == "RESOURCE_EXHAUSTED"
            || matches!(ty, "requests" | "tokens" | "rate_limited")
        {
            if msg.contains("request too large") {
                return c(
                    F::RateLimited,
                    Scope::Attempt,
                    FailOver,
                    "one request larger than the per-minute limit",
                );
            }
            let h = hint();
            let d = match h {
                Some(h) if h <= self.max_wait_here => RetryHere,
                _ => FailOver,
            };
            return c(F::RateLimited, Scope::Target, d, "rate limited").with_retry_after(h);
        }
        // 7. Missing or retired models — a 404 counts only with a sign of a model; a bare
        //    404 (an HTML page, "Not Found") is a wrong base URL or path on this target.
        let model_signal = code == "model_not_found"
            || code == "DeploymentNotFound"
            // Bedrock: a model id it cannot invoke that way (needs an inference profile)
            // or does not know.
            || (ty == "ValidationException"
                && (msg.contains("model identifier is invalid")
                    || msg.contains("on-demand throughput")))
            || (matches!(
                ty,
                "not_found_error" | "NotFoundError" | "not_found" | "ResourceNotFoundException"
            ) || gst == "NOT_FOUND"
                || st == 404)
                && (msg.contains("model")
                    || msg.contains("deployment")
                    || msg.contains("try pulling"));
        if model_signal {
            return c(F::InvalidModel, Scope::Model, FailOver, "model not found");
        }
        if st == 404 || gst == "NOT_FOUND" || matches!(ty, "not_found_error" | "NotFoundError") {
            return c(
                F::EndpointNotFound,
                Scope::Target,
                FailOver,
                "404 without a sign of a model: is the target's base URL or path right?",
            );
        }
        // 8. The model, not the caller, broke the output (Groq tool_use_failed).
        if code == "tool_use_failed" {
            return c(
                F::MalformedResponse,
                Scope::Attempt,
                RetryHere,
                "the model emitted an unparsable tool call",
            );
        }
        // 9. Timeouts and transient server failures.
        if st == 408 || ty == "ModelTimeoutException" {
            return c(
                F::Timeout,
                Scope::Target,
                RetryHere,
                "request timeout (408)",
            );
        }
        if st >= 500
            || st == 409
            || st == 499
            || matches!(
                ty,
                "server_error" | "api_error" | "timeout_error" | "InternalServerError"
            )
            // A failed Responses answer carries its cause in `code` alone.
            || matches!(code, "server_error" | "vector_store_timeout")
            // AWS Bedrock: the model failed (424), or the service did.
            || matches!(
                ty,
                "ModelErrorException" | "ModelStreamErrorException" | "InternalServerException"
            )
            || matches!(gst, "INTERNAL" | "DEADLINE_EXCEEDED")
        {
            return c(F::ServerError, Scope::Target, RetryHere, "server error")
                .with_retry_after(hint());
        }
        // 10. The request itself is wrong.
        if (400..500).contains(&st)
            || matches!(
                ty,
                "invalid_request_error" | "BadRequestError" | "ValidationException"
            )
            || gst == "INVALID_ARGUMENT"
        {
            return c(F::InvalidRequest, Scope::Attempt, Abort, "invalid request");
        }
        c(
            F::ServerError,
            Scope::Target,
            FailOver,
            "unrecognised provider error",
        )
    }
}

fn violation(v: &Violation) -> Classification {
    use Disposition::*;
    use FailureClass as F;
    let c = Classification::new;
    match v.kind {
        ViolationKind::Extraction | ViolationKind::Schema => c(
            F::SchemaViolation,
            Scope::Attempt,
            Repair,
            "answer breaks the requested shape",
        ),
        ViolationKind::Truncated => c(
            F::MalformedResponse,
            Scope::Attempt,
            Repair,
            "answer cut short",
        ),
        ViolationKind::Refusal => c(
            F::ContentFiltered,
            Scope::Attempt,
            FailOver,
            "refused or filtered",
        ),
        ViolationKind::Bounds | ViolationKind::NotEquivalent => c(
            F::SemanticOutOfBounds,
            Scope::Attempt,
            FailOver,
            "answer out of bounds",
        ),
        _ => c(
            F::SemanticOutOfBounds,
            Scope::Attempt,
            FailOver,
            "custom rule broken",
        ),
    }
}

impl Classifier for DefaultClassifier {
    fn classify(&self, failure: &Failure<'_>) -> Option<Classification> {
        Some(self.decide(failure))
    }
}
