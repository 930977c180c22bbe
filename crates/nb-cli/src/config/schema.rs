//! The sections of `nb.toml` as types: what serde reads and `nb config schema` prints.

use schemars::JsonSchema;
use serde::Deserialize;

/// Which wire format and preset a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// api.openai.com.
    Openai,
    /// api.openai.com's Responses API (`/v1/responses`).
    OpenaiResponses,
    /// Anthropic Messages.
    Anthropic,
    /// Gemini generateContent.
    Gemini,
    /// DeepSeek.
    Deepseek,
    /// Mistral.
    Mistral,
    /// Groq.
    Groq,
    /// Azure OpenAI (needs `deployment` and `api_version`).
    Azure,
    /// A local Ollama.
    Ollama,
    /// A vLLM server.
    Vllm,
    /// Gemini's OpenAI-compatible endpoint.
    GeminiOpenai,
    /// Any OpenAI-compatible base URL.
    OpenaiCompatible,
    /// AWS Bedrock's Converse API (needs `region`, or `AWS_REGION`; credentials from the
    /// AWS environment variables or `profile` of the shared credentials file).
    Bedrock,
    /// Gemini on Google Vertex AI (needs `project` and `region`; tokens from
    /// `credentials_file`, `GOOGLE_APPLICATION_CREDENTIALS` or the metadata server).
    VertexGemini,
    /// Anthropic models on Google Vertex AI (as `vertex-gemini`).
    VertexAnthropic,
}

/// One provider.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Its kind.
    pub kind: ProviderKind,
    /// A base URL other than the kind's default.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The environment variable holding the key (default: the kind's usual one).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Allow sending the key over plain HTTP to a non-loopback host.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Azure: the deployment.
    #[serde(default)]
    pub deployment: Option<String>,
    /// Azure: the api-version.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Bedrock: the AWS region (default: `AWS_REGION`, else `AWS_DEFAULT_REGION`).
    #[serde(default)]
    pub region: Option<String>,
    /// Bedrock: the profile of `~/.aws/credentials` (default: the AWS environment
    /// variables, else `AWS_PROFILE`, else `default`).
    #[serde(default)]
    pub profile: Option<String>,
    /// Vertex: the Google Cloud project.
    #[serde(default)]
    pub project: Option<String>,
    /// Vertex: a service-account key file (default: `GOOGLE_APPLICATION_CREDENTIALS`, else
    /// the metadata server).
    #[serde(default)]
    pub credentials_file: Option<String>,
}

/// A price.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// Per million input tokens.
    pub input_per_mtok: f64,
    /// Per million output tokens.
    pub output_per_mtok: f64,
}

/// One target: a model at a provider.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The provider's name in `[providers]`.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Weight for the weighted strategy (at least 1).
    #[serde(default)]
    pub weight: Option<u32>,
    /// Price.
    #[serde(default)]
    pub cost: Option<CostConfig>,
    /// Context window in tokens (learned from rejections when absent).
    #[serde(default)]
    pub context_window: Option<u64>,
    /// Tags calls can require.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Pacing: requests per minute this target may be sent.
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Pacing: tokens per minute (prompt estimate plus `max_tokens`).
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
    /// The target cannot read images.
    #[serde(default)]
    pub without_vision: bool,
    /// The target cannot read documents.
    #[serde(default)]
    pub without_documents: bool,
    /// A reference target: asked only to vouch for other targets' answers (a cheap model
    /// on a third provider gives a two-provider route an independent reference), never to
    /// serve.
    #[serde(default)]
    pub vouch_only: bool,
    /// An embedding model: it serves `/v1/embeddings` (OpenAI-compatible providers), is
    /// failed over like a chat target, and is never sent a chat call.
    #[serde(default)]
    pub embeddings: bool,
}

/// A named route: its targets in order, as a list (`cheap = ["openai/gpt-4o-mini"]`) or
/// a table (`[routes.cheap] targets = [...]`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RouteSpec {
    /// `name = ["provider/model", ...]`.
    Targets(Vec<String>),
    /// `[routes.name]` with `targets = [...]`.
    Table(RouteConfig),
}

impl RouteSpec {
    /// The route's targets, as `provider/model`.
    pub fn targets(&self) -> &[String] {
        match self {
            Self::Targets(t) => t,
            Self::Table(r) => &r.targets,
        }
    }
}

/// A named route as a table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Targets as `provider/model`, in order.
    pub targets: Vec<String>,
    /// Cache this route's answers for this long (the cache is `[store] cache`).
    #[serde(default)]
    pub cache_ttl_ms: Option<u64>,
    /// When this route's answers are vouched for: `always`, `on-failover` (default) or
    /// `off` (needs `[vouch] equivalence`).
    #[serde(default)]
    pub vouch: Option<String>,
    /// Also vouch for this share of first-choice answers (0 to 1; a spot check).
    #[serde(default)]
    pub vouch_sample_rate: Option<f64>,
    /// A JSON Schema file (relative to the config file) every answer on this route must
    /// match; an answer that does not is repaired or failed over.
    #[serde(default)]
    pub schema: Option<String>,
}

/// `[policy]`: time limits, retries and load (the fields of `Policy`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// One attempt's limit (default 60 000).
    #[serde(default)]
    pub attempt_timeout_ms: Option<u64>,
    /// The whole call's limit, across attempts and waits (default 120 000).
    #[serde(default)]
    pub deadline_ms: Option<u64>,
    /// Streams: from the request to the first content delta (default 30 000).
    #[serde(default)]
    pub first_token_timeout_ms: Option<u64>,
    /// Streams: the longest gap between deltas (default 30 000).
    #[serde(default)]
    pub idle_timeout_ms: Option<u64>,
    /// Attempts per call at most, every target together (default 4).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Retries on the same target before failing over (default 1).
    #[serde(default)]
    pub max_retries_per_target: Option<u32>,
    /// Re-asks of a target with a validator's violation explained (default 1).
    #[serde(default)]
    pub max_repairs: Option<u32>,
    /// Full-jitter backoff base when the server gives no hint (default 100).
    #[serde(default)]
    pub backoff_base_ms: Option<u64>,
    /// Backoff cap (default 2 000).
    #[serde(default)]
    pub backoff_max_ms: Option<u64>,
    /// Background recovery probes of an open target, every this long (default 250; 0: off).
    #[serde(default)]
    pub recovery_probe_ms: Option<u64>,
    /// Hedging: start the next candidate after the target's p95, at least this long (off
    /// when absent).
    #[serde(default)]
    pub hedge_after_ms: Option<u64>,
    /// `priority`, `weighted`, `lowest-latency`, `cheapest`.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Retry budget: extra attempts allowed per call on average (default 0.2).
    #[serde(default)]
    pub budget_ratio: Option<f64>,
    /// Retry budget: extra attempts always allowed per second (default 1).
    #[serde(default)]
    pub budget_min_per_second: Option<u32>,
    /// Retry budget: the window it counts over (default 10 000; 1 000 to 60 000).
    #[serde(default)]
    pub budget_window_ms: Option<u64>,
    /// When every target is out of rotation: `wait` for the earliest (default) or
    /// `fail-fast` (the error says when to retry).
    #[serde(default)]
    pub when_all_open: Option<String>,
}

/// `[breaker]`: when a target's breaker opens and how it recovers (`BreakerConfig`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakerSection {
    /// Trip after this many health failures in a row (default 5; 0: off).
    #[serde(default)]
    pub consecutive_failures: Option<u32>,
    /// Trip on a failure rate above this share (0 to 1; default 0.5).
    #[serde(default)]
    pub failure_rate: Option<f64>,
    /// ... over at least this many calls (default 20).
    #[serde(default)]
    pub failure_rate_min_calls: Option<u32>,
    /// ... within this window (default 30 000).
    #[serde(default)]
    pub failure_rate_window_ms: Option<u64>,
    /// The first open period (default 2 000).
    #[serde(default)]
    pub open_ms: Option<u64>,
    /// The longest open period (default 60 000).
    #[serde(default)]
    pub open_max_ms: Option<u64>,
    /// Calls let through at once while half-open (default 1).
    #[serde(default)]
    pub half_open_probes: Option<u32>,
    /// Successful probes needed to close (default 1).
    #[serde(default)]
    pub close_after: Option<u32>,
}

/// `[cooldowns]`: how long a target, model or credential is left alone after a failure
/// of each class without a server hint (`CooldownPolicy`).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CooldownSection {
    /// A rate limit (default 1 000).
    #[serde(default)]
    pub rate_limited_ms: Option<u64>,
    /// An overload (default 2 000).
    #[serde(default)]
    pub overloaded_ms: Option<u64>,
    /// Exhausted quota or billing (default 300 000).
    #[serde(default)]
    pub quota_ms: Option<u64>,
    /// A rejected credential (default 60 000).
    #[serde(default)]
    pub auth_ms: Option<u64>,
    /// A missing model (default 600 000).
    #[serde(default)]
    pub invalid_model_ms: Option<u64>,
    /// The longest cool-down (default 3 600 000).
    #[serde(default)]
    pub max_ms: Option<u64>,
}

/// `[vouch]`: checking that an answer from a fallback is what the first choice would have
/// said (`Vouching`). On by default, with the strict checker: a config without `[vouch]`
/// vouches for failover answers; `equivalence = "off"` turns it off.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VouchConfig {
    /// `strict` (default), `lexical` or `off`.
    #[serde(default)]
    pub equivalence: Option<String>,
    /// What to do with an answer nothing could vouch for (no independent target could
    /// answer, or the checker could not decide): `serve-flagged` (default: returned with
    /// `x-nb-verdict: unvouchable`) or `refuse` (a 502 `unvouched_answer`). An answer a
    /// reference contradicted is refused either way.
    #[serde(default)]
    pub on_unvouchable: Option<String>,
    /// Vouch for every answer, not only failovers.
    #[serde(default)]
    pub always: Option<bool>,
    /// Ask a third target when two disagree (default true).
    #[serde(default)]
    pub tiebreak: Option<bool>,
    /// How long a briefly cooling reference target is waited for (default 1 000).
    #[serde(default)]
    pub wait_ms: Option<u64>,
    /// Share of first-choice answers also asked of another target (0 to 1; default 0.05).
    #[serde(default)]
    pub shadow_rate: Option<f64>,
    /// When no independent target can vouch, ask the serving target this many more
    /// times (at temperature 0.7) and vouch, weakly, when every sample agrees (default 0:
    /// off).
    #[serde(default)]
    pub self_consistency: Option<u32>,
}

/// `[store]`: health shared by replicas on Redis.
#[derive(Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `redis://[:password@]host:port/db` (or `rediss://`). A password in it is a secret:
    /// it is never printed. Without it, health stays in this process.
    #[serde(default)]
    pub redis: Option<String>,
    /// The deployment's namespace in Redis (default `default`): replicas that share it
    /// share their breakers and cool-downs.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Where routes with a `cache_ttl_ms` keep answers: `memory` (default) or `redis`
    /// (shared by replicas; needs `redis`).
    #[serde(default)]
    pub cache: Option<String>,
    /// The in-memory cache's size, in answers (default 10 000).
    #[serde(default)]
    pub cache_capacity: Option<u64>,
    /// The environment variable holding a secret every replica of the namespace shares:
    /// facts and cached answers written to Redis are signed with it (HMAC-SHA-256), and
    /// what is read without a valid signature is ignored — a client that can write to
    /// Redis cannot then open a breaker or plant an answer. Needs `redis`.
    #[serde(default)]
    pub secret_env: Option<String>,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("redis", &self.redis.as_ref().map(|_| "<redacted>"))
            .field("namespace", &self.namespace)
            .field("cache", &self.cache)
            .field("secret_env", &self.secret_env)
            .finish()
    }
}
