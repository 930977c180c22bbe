//! `nb.toml`: providers, credentials (environment variable names, never inline secrets),
//! targets, routes, policy, breakers, cool-downs, pacing, vouching and the gateway —
//! loaded into the same builder the API uses. `docs/config.md` is the reference, with a
//! complete commented example; `nb config schema` prints a JSON Schema of the file for
//! editors. Unknown keys are errors that name the key, where it is, and the closest valid
//! spelling; values that cannot work (a zero timeout, a deadline shorter than one
//! attempt) are errors that name the key.
//!
//! ```toml
//! [providers.openai]
//! kind = "openai"                      # see ProviderKind
//! api_key_env = "OPENAI_API_KEY"       # the default for the kind when absent
//!
//! [providers.claude]
//! kind = "anthropic"
//!
//! [[targets]]
//! provider = "claude"
//! model = "claude-sonnet-4-5"
//! context_window = 200000
//!
//! [[targets]]
//! provider = "openai"
//! model = "gpt-4o-mini"
//! cost = { input_per_mtok = 0.15, output_per_mtok = 0.6 }
//! requests_per_minute = 500
//!
//! [routes]
//! cheap = ["openai/gpt-4o-mini", "claude/claude-sonnet-4-5"]
//!
//! [policy]
//! attempt_timeout_ms = 30000
//! deadline_ms = 60000
//!
//! [vouch]
//! equivalence = "strict"               # strict | lexical | off
//! ```

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use neuralbridge::breaker::{
    BreakerConfig, CooldownPolicy, FailureRate, InMemoryKnowledge, PaceLimits, SystemClock,
};
use neuralbridge::core::{Provider, TargetId};
use neuralbridge::providers::{Anthropic, ApiKey, Gemini, OpenAi, Preset};
use neuralbridge::router::{
    Hedging, OnUnvouchable, Policy, SmartRouter, Strategy, Target, VouchMode, Vouching, WhenAllOpen,
};
use neuralbridge::semantic::{Lexical, Strict};
use neuralbridge::store_redis::{RedisCache, RedisKnowledge, RedisPacer};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which wire format and preset a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    /// api.openai.com.
    Openai,
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
}

/// A gateway key: a caller of `nb serve`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayKey {
    /// Who it is (logs and metrics use this name, never the key).
    pub name: String,
    /// The key's SHA-256, hex (`nb key hash` prints it). Exactly one of `sha256` and
    /// `env` is given.
    #[serde(default)]
    pub sha256: Option<String>,
    /// An environment variable holding the key itself.
    #[serde(default)]
    pub env: Option<String>,
    /// Requests per minute this caller may send (GCRA, as the router's pacing).
    #[serde(default)]
    pub requests_per_minute: Option<u32>,
    /// Tokens per minute (prompt estimate plus `max_tokens`).
    #[serde(default)]
    pub tokens_per_minute: Option<u32>,
    /// The most this caller may spend per day, in the targets' price currency (calls
    /// are refused with a 429 until the day's window ends).
    #[serde(default)]
    pub spend_per_day: Option<f64>,
    /// This caller may ask for less vouching than its route's (`x-nb-vouch: off`, say);
    /// any caller may ask for more. Default false.
    #[serde(default)]
    pub may_weaken_vouch: bool,
}

/// `[gateway]`: `nb serve`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Address to listen on (default `127.0.0.1:8080`).
    #[serde(default)]
    pub listen: Option<String>,
    /// Who may call. Without keys the gateway only listens on loopback and takes any key.
    #[serde(default)]
    pub keys: Vec<GatewayKey>,
    /// The largest request body, bytes (default 8 MiB).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// On shutdown, how long in-flight calls may finish (default 10 000).
    #[serde(default)]
    pub shutdown_grace_ms: Option<u64>,
    /// Log lines as JSON objects (one per line) instead of text. The level comes from
    /// `RUST_LOG` (default `info`).
    #[serde(default)]
    pub json_logs: bool,
    /// Share cached answers between callers. Default false: each key has its own
    /// entries, so a hit tells a tenant nothing about what others asked.
    #[serde(default)]
    pub shared_cache: bool,
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
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("redis", &self.redis.as_ref().map(|_| "<redacted>"))
            .field("namespace", &self.namespace)
            .field("cache", &self.cache)
            .finish()
    }
}

/// A whole `nb.toml`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Providers by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Targets; the default route tries them in this order.
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    /// Named routes.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteSpec>,
    /// Time limits, retries and load.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Breakers.
    #[serde(default)]
    pub breaker: BreakerSection,
    /// Cool-downs.
    #[serde(default)]
    pub cooldowns: CooldownSection,
    /// Vouching.
    #[serde(default)]
    pub vouch: VouchConfig,
    /// `nb serve`.
    #[serde(default)]
    pub gateway: GatewayConfig,
    /// Shared health.
    #[serde(default)]
    pub store: StoreConfig,
    /// Where the file was read from (relative paths in it start there).
    #[serde(skip)]
    #[schemars(skip)]
    pub base_dir: Option<PathBuf>,
}

/// A configuration that cannot be used, with what to change.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A minimal working file, shown when a file has no targets.
pub const MINIMAL_EXAMPLE: &str = r#"[providers.openai]
kind = "openai"            # reads OPENAI_API_KEY

[[targets]]
provider = "openai"
model = "gpt-4o-mini""#;

/// The JSON Schema of `nb.toml` (as JSON), for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
}

fn known_keys() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                    out.extend(props.keys().cloned());
                }
                for x in m.values() {
                    walk(x, out);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&json_schema(), &mut out);
    out.sort();
    out.dedup();
    out
}

fn suggest(message: &str) -> String {
    let Some(start) = message.find("unknown field `") else {
        return message.to_owned();
    };
    let rest = &message[start + "unknown field `".len()..];
    let Some(end) = rest.find('`') else {
        return message.to_owned();
    };
    let bad = &rest[..end];
    let best = known_keys()
        .into_iter()
        .map(|k| (strsim::levenshtein(bad, &k), k))
        .min()
        .filter(|(d, _)| *d <= 3);
    match best {
        Some((_, k)) => format!("{message}\nhint: did you mean `{k}`?"),
        None => message.to_owned(),
    }
}

fn ms(key: &str, v: Option<u64>) -> Result<Option<Duration>, ConfigError> {
    match v {
        Some(0) => Err(ConfigError(format!(
            "{key}: 0 cannot work (give a duration in milliseconds above zero)"
        ))),
        Some(n) => Ok(Some(Duration::from_millis(n))),
        None => Ok(None),
    }
}

fn share(key: &str, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if !(0.0..=1.0).contains(&x) || x.is_nan() => Err(ConfigError(format!(
            "{key}: {x} is not a share between 0 and 1"
        ))),
        other => Ok(other),
    }
}

fn target_id(at: &str, spec: &str) -> Result<TargetId, ConfigError> {
    match spec.split_once('/') {
        Some((p, m)) if !p.is_empty() && !m.is_empty() => Ok(TargetId::new(p, m)),
        _ => Err(ConfigError(format!(
            "{at}: {spec:?} is not provider/model (for example \"openai/gpt-4o-mini\")"
        ))),
    }
}

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let c: Self = toml::from_str(text).map_err(|e| {
            ConfigError(format!(
                "invalid configuration: {}",
                suggest(&e.to_string())
            ))
        })?;
        c.check()?;
        Ok(c)
    }

    /// Reads and parses a file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let mut c = Self::from_toml(&text)
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
        c.base_dir = path.parent().map(Path::to_path_buf);
        // Schemas are read now, so a missing file is an error of the file.
        for (name, r) in &c.routes {
            if let RouteSpec::Table(t) = r {
                c.route_schema(name, t)
                    .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))?;
            }
        }
        Ok(c)
    }

    /// The route names a caller may use as a `model`: the named routes, then every target
    /// as `provider/model`.
    pub fn model_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.routes.keys().cloned().collect();
        for t in &self.targets {
            let n = format!("{}/{}", t.provider, t.model);
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.targets.is_empty() {
            return Err(ConfigError(format!(
                "no [[targets]]: add at least one, for example\n\n{MINIMAL_EXAMPLE}"
            )));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if !self.providers.contains_key(&t.provider) {
                let known: Vec<&String> = self.providers.keys().collect();
                return Err(ConfigError(format!(
                    "targets[{i}].provider: unknown provider {:?} (defined: {known:?})",
                    t.provider
                )));
            }
            if t.weight == Some(0) {
                return Err(ConfigError(format!(
                    "targets[{i}].weight: 0 would never be chosen (at least 1)"
                )));
            }
            if t.requests_per_minute == Some(0) || t.tokens_per_minute == Some(0) {
                return Err(ConfigError(format!(
                    "targets[{i}]: a pace of 0 per minute would never send a request"
                )));
            }
        }
        if matches!(self.policy.strategy.as_deref(), Some("weighted"))
            && self.targets.iter().all(|t| t.weight.is_none())
        {
            return Err(ConfigError(
                "policy.strategy: \"weighted\" needs a `weight` on at least one target".into(),
            ));
        }
        for (name, r) in &self.routes {
            if r.targets().is_empty() {
                return Err(ConfigError(format!("routes.{name}: no targets")));
            }
            for spec in r.targets() {
                let id = target_id(&format!("routes.{name}"), spec)?;
                if !self
                    .targets
                    .iter()
                    .any(|t| t.provider == id.provider() && t.model == id.model())
                {
                    return Err(ConfigError(format!(
                        "routes.{name}: {spec:?} is not one of the [[targets]]"
                    )));
                }
            }
        }
        let policy = self.policy()?;
        if policy.deadline < policy.attempt_timeout {
            return Err(ConfigError(format!(
                "policy.deadline_ms: {} ms is shorter than one attempt (policy.attempt_timeout_ms = {} ms): the call could never fail over",
                policy.deadline.as_millis(),
                policy.attempt_timeout.as_millis()
            )));
        }
        if policy.max_attempts == 0 {
            return Err(ConfigError(
                "policy.max_attempts: 0 would never send a request".into(),
            ));
        }
        self.breaker()?;
        self.cooldowns()?;
        if let Some(e) = &self.vouch.equivalence {
            if !matches!(e.as_str(), "strict" | "lexical" | "off") {
                return Err(ConfigError(format!(
                    "vouch.equivalence: {e:?} is not one of strict, lexical, off"
                )));
            }
        }
        match self.vouch.on_unvouchable.as_deref() {
            None | Some("serve-flagged" | "refuse") => {}
            Some(other) => {
                return Err(ConfigError(format!(
                    "vouch.on_unvouchable: {other:?} is not one of serve-flagged, refuse"
                )));
            }
        }
        if self.vouch.equivalence.as_deref() == Some("off") {
            // A vouching mode with no checker to vouch with would do nothing, silently.
            if self.vouch.always == Some(true) {
                return Err(ConfigError(
                    "vouch.always: vouching needs a checker, and vouch.equivalence is \"off\""
                        .into(),
                ));
            }
            for (name, r) in &self.routes {
                if let RouteSpec::Table(t) = r {
                    if !matches!(route_vouch(name, t)?, None | Some(VouchMode::Off)) {
                        return Err(ConfigError(format!(
                            "routes.{name}.vouch: vouching needs a checker, and vouch.equivalence is \"off\" (set it to \"strict\", or the route's vouch to \"off\")"
                        )));
                    }
                }
            }
        }
        ms("vouch.wait_ms", self.vouch.wait_ms)?;
        share("vouch.shadow_rate", self.vouch.shadow_rate)?;
        for (i, k) in self.gateway.keys.iter().enumerate() {
            match (&k.sha256, &k.env) {
                (Some(h), None) => {
                    if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                        return Err(ConfigError(format!(
                            "gateway.keys[{i}].sha256: not a SHA-256 in hex (64 characters; `nb key hash` prints one)"
                        )));
                    }
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(ConfigError(format!(
                        "gateway.keys[{i}] ({}): give exactly one of `sha256` and `env`",
                        k.name
                    )));
                }
            }
        }
        for (i, k) in self.gateway.keys.iter().enumerate() {
            if k.requests_per_minute == Some(0) || k.tokens_per_minute == Some(0) {
                return Err(ConfigError(format!(
                    "gateway.keys[{i}] ({}): a limit of 0 per minute would refuse every call",
                    k.name
                )));
            }
            if k.spend_per_day.is_some_and(|x| x.is_nan() || x <= 0.0) {
                return Err(ConfigError(format!(
                    "gateway.keys[{i}].spend_per_day: must be above zero"
                )));
            }
        }
        ms("gateway.shutdown_grace_ms", self.gateway.shutdown_grace_ms)?;
        match (self.store.cache.as_deref(), &self.store.redis) {
            (None | Some("memory"), _) | (Some("redis"), Some(_)) => {}
            (Some("redis"), None) => {
                return Err(ConfigError(
                    "store.cache: \"redis\" needs store.redis".into(),
                ));
            }
            (Some(other), _) => {
                return Err(ConfigError(format!(
                    "store.cache: {other:?} is not one of memory, redis"
                )));
            }
        }
        for (name, r) in &self.routes {
            if let RouteSpec::Table(t) = r {
                ms(&format!("routes.{name}.cache_ttl_ms"), t.cache_ttl_ms)?;
                route_vouch(name, t)?;
            }
        }
        if let Some(url) = &self.store.redis {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigError(
                    "store.redis: not a redis:// or rediss:// URL".into(),
                ));
            }
        }
        if self.gateway.max_body_bytes == Some(0) {
            return Err(ConfigError(
                "gateway.max_body_bytes: 0 would refuse every request".into(),
            ));
        }
        if let Some(l) = &self.gateway.listen {
            l.parse::<std::net::SocketAddr>().map_err(|e| {
                ConfigError(format!("gateway.listen: {l:?} is not host:port ({e})"))
            })?;
        }
        Ok(())
    }

    /// The router's policy from `[policy]`.
    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let p = &self.policy;
        let mut policy = Policy::default();
        if let Some(d) = ms("policy.attempt_timeout_ms", p.attempt_timeout_ms)? {
            policy.attempt_timeout = d;
        }
        if let Some(d) = ms("policy.deadline_ms", p.deadline_ms)? {
            policy.deadline = d;
        }
        if let Some(d) = ms("policy.first_token_timeout_ms", p.first_token_timeout_ms)? {
            policy.first_token_timeout = d;
        }
        if let Some(d) = ms("policy.idle_timeout_ms", p.idle_timeout_ms)? {
            policy.idle_timeout = d;
        }
        if let Some(n) = p.max_attempts {
            policy.max_attempts = n;
        }
        if let Some(n) = p.max_retries_per_target {
            policy.max_retries_per_target = n;
        }
        if let Some(n) = p.max_repairs {
            policy.max_repairs = n;
        }
        if let Some(d) = ms("policy.backoff_base_ms", p.backoff_base_ms)? {
            policy.backoff_base = d;
        }
        if let Some(d) = ms("policy.backoff_max_ms", p.backoff_max_ms)? {
            policy.backoff_max = d;
        }
        if policy.backoff_max < policy.backoff_base {
            return Err(ConfigError(
                "policy.backoff_max_ms: shorter than policy.backoff_base_ms".into(),
            ));
        }
        match p.recovery_probe_ms {
            Some(0) => policy.recovery_probe = None,
            Some(n) => policy.recovery_probe = Some(Duration::from_millis(n)),
            None => {}
        }
        if let Some(d) = ms("policy.hedge_after_ms", p.hedge_after_ms)? {
            policy.hedging = Some(Hedging {
                min_delay: d,
                fixed_delay: None,
            });
        }
        if let Some(s) = &p.strategy {
            strategy(s)?;
        }
        if p.budget_ratio.is_some()
            || p.budget_min_per_second.is_some()
            || p.budget_window_ms.is_some()
        {
            let mut b = policy.budget;
            if let Some(r) = share("policy.budget_ratio", p.budget_ratio)? {
                b.ratio = r as f32;
            }
            if let Some(n) = p.budget_min_per_second {
                b.min_per_second = n;
            }
            if let Some(d) = ms("policy.budget_window_ms", p.budget_window_ms)? {
                if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&d) {
                    return Err(ConfigError(
                        "policy.budget_window_ms: between 1000 and 60000".into(),
                    ));
                }
                b.ttl = d;
            }
            policy = policy.with_budget(b);
        }
        match p.when_all_open.as_deref() {
            None | Some("wait") => {}
            Some("fail-fast") => policy = policy.with_when_all_open(WhenAllOpen::FailFast),
            Some(other) => {
                return Err(ConfigError(format!(
                    "policy.when_all_open: {other:?} is not one of wait, fail-fast"
                )));
            }
        }
        Ok(policy)
    }

    /// The breakers from `[breaker]`.
    pub fn breaker(&self) -> Result<BreakerConfig, ConfigError> {
        let b = &self.breaker;
        let mut c = BreakerConfig::default();
        if let Some(n) = b.consecutive_failures {
            c.consecutive_failures = n;
        }
        if let Some(t) = share("breaker.failure_rate", b.failure_rate)? {
            let mut rate = c.failure_rate.unwrap_or(FailureRate {
                threshold: t,
                min_calls: 20,
                window: Duration::from_secs(30),
            });
            rate.threshold = t;
            c.failure_rate = (t > 0.0).then_some(rate);
        }
        if let Some(rate) = c.failure_rate.as_mut() {
            if let Some(n) = b.failure_rate_min_calls {
                rate.min_calls = n;
            }
            if let Some(d) = ms("breaker.failure_rate_window_ms", b.failure_rate_window_ms)? {
                rate.window = d;
            }
        }
        if let Some(d) = ms("breaker.open_ms", b.open_ms)? {
            c.backoff.initial = d;
        }
        if let Some(d) = ms("breaker.open_max_ms", b.open_max_ms)? {
            c.backoff.max = d;
        }
        if c.backoff.max < c.backoff.initial {
            return Err(ConfigError(
                "breaker.open_max_ms: shorter than breaker.open_ms".into(),
            ));
        }
        if let Some(n) = b.half_open_probes {
            if n == 0 {
                return Err(ConfigError(
                    "breaker.half_open_probes: 0 would never let a probe through".into(),
                ));
            }
            c.half_open_probes = n;
        }
        if let Some(n) = b.close_after {
            if n == 0 {
                return Err(ConfigError("breaker.close_after: at least 1".into()));
            }
            c.close_after = n;
        }
        Ok(c)
    }

    /// The cool-downs from `[cooldowns]`.
    pub fn cooldowns(&self) -> Result<CooldownPolicy, ConfigError> {
        let s = &self.cooldowns;
        let mut c = CooldownPolicy::default();
        for (key, v, slot) in [
            (
                "cooldowns.rate_limited_ms",
                s.rate_limited_ms,
                &mut c.rate_limited,
            ),
            (
                "cooldowns.overloaded_ms",
                s.overloaded_ms,
                &mut c.overloaded,
            ),
            ("cooldowns.quota_ms", s.quota_ms, &mut c.quota),
            ("cooldowns.auth_ms", s.auth_ms, &mut c.auth),
            (
                "cooldowns.invalid_model_ms",
                s.invalid_model_ms,
                &mut c.invalid_model,
            ),
            ("cooldowns.max_ms", s.max_ms, &mut c.max),
        ] {
            if let Some(d) = ms(key, v)? {
                *slot = d;
            }
        }
        Ok(c)
    }

    /// Vouching from `[vouch]`, if on.
    pub fn vouching(&self) -> Option<Vouching> {
        let v = &self.vouch;
        let mut vouching = match v.equivalence.as_deref() {
            None | Some("strict") => Vouching::consensus(Strict),
            Some("lexical") => Vouching::consensus(Lexical::default()),
            _ => return None,
        };
        if v.on_unvouchable.as_deref() == Some("refuse") {
            vouching = vouching.with_on_unvouchable(OnUnvouchable::Refuse);
        }
        if let Some(a) = v.always {
            vouching = vouching.with_always(a);
        }
        if let Some(t) = v.tiebreak {
            vouching = vouching.with_tiebreak(t);
        }
        if let Some(w) = v.wait_ms {
            vouching = vouching.with_wait(Duration::from_millis(w));
        }
        if let Some(r) = v.shadow_rate {
            vouching.shadow_rate = r;
        }
        Some(vouching)
    }

    /// Builds the adapters (reading keys from the environment) and the router; with
    /// `[store] redis`, its health is shared through Redis (this needs a tokio runtime:
    /// the connection is made in the background). Besides
    /// the named routes, every target is a route of its own name (`provider/model`):
    /// that target first, then the others in order, so a caller naming one model still
    /// fails over.
    pub fn build(&self) -> Result<SmartRouter, ConfigError> {
        let mut builder = SmartRouter::builder();
        let ids: Vec<TargetId> = self
            .targets
            .iter()
            .map(|t| TargetId::new(&t.provider, &t.model))
            .collect();
        let mut pacing = std::collections::HashMap::new();
        for (i, t) in self.targets.iter().enumerate() {
            let p = &self.providers[&t.provider];
            let provider = adapter(&t.provider, p, &t.model).map_err(|e| {
                ConfigError(format!("targets[{i}] ({}/{}): {e}", t.provider, t.model))
            })?;
            let mut target = Target::shared(ids[i].clone(), provider);
            if let Some(w) = t.weight {
                target = target.with_weight(w);
            }
            if let Some(c) = t.cost {
                target = target.with_cost(c.input_per_mtok, c.output_per_mtok);
            }
            if let Some(w) = t.context_window {
                target = target.with_context_window(w);
            }
            for tag in &t.tags {
                target = target.with_tag(tag);
            }
            if t.without_vision {
                target = target.without_vision();
            }
            if t.without_documents {
                target = target.without_documents();
            }
            builder = builder.target(target);
            if t.requests_per_minute.is_some() || t.tokens_per_minute.is_some() {
                let limits = PaceLimits {
                    requests_per_minute: t.requests_per_minute.and_then(NonZeroU32::new),
                    tokens_per_minute: t.tokens_per_minute.and_then(NonZeroU32::new),
                };
                pacing.insert(ids[i].clone(), limits);
                builder = builder.pace(ids[i].clone(), limits);
            }
        }
        for (name, r) in &self.routes {
            let mut route = Vec::new();
            for spec in r.targets() {
                route.push(target_id(&format!("routes.{name}"), spec)?);
            }
            builder = builder.route(name, route);
        }
        for id in &ids {
            let name = id.to_string();
            if self.routes.contains_key(&name) {
                continue;
            }
            let mut route = vec![id.clone()];
            route.extend(ids.iter().filter(|o| *o != id).cloned());
            builder = builder.route(name, route);
        }
        builder = builder
            .policy(self.policy()?)
            .breaker(self.breaker()?)
            .cooldowns(self.cooldowns()?);
        if let Some(url) = &self.store.redis {
            let mut local =
                InMemoryKnowledge::new(self.breaker()?, self.cooldowns()?, Arc::new(SystemClock));
            let ns = self.store.namespace.as_deref().unwrap_or("default");
            if !pacing.is_empty() {
                // With a shared store, a target's pace holds for the whole fleet.
                let fleet = RedisPacer::connect(url, ns, pacing)
                    .map_err(|e| ConfigError(format!("store.redis: {e}")))?;
                local = local.with_pacer(Arc::new(fleet));
            }
            let shared = RedisKnowledge::connect(url, ns, local)
                .map_err(|e| ConfigError(format!("store.redis: {e}")))?;
            builder = builder.knowledge(Arc::new(shared));
        }
        if let Some(s) = &self.policy.strategy {
            builder = builder.strategy(strategy(s)?);
        }
        if let Some(v) = self.vouching() {
            builder = builder.vouch(v);
        }
        for (name, r) in &self.routes {
            if let RouteSpec::Table(t) = r {
                if let Some(mode) = route_vouch(name, t)? {
                    builder = builder.route_vouch(name, mode);
                }
                if let Some(schema) = self.route_schema(name, t)? {
                    builder = builder.route_validator(name, schema);
                }
            }
        }
        let mut cached = false;
        for (name, r) in &self.routes {
            if let RouteSpec::Table(RouteConfig {
                cache_ttl_ms: Some(ms),
                ..
            }) = r
            {
                builder = builder.cache_route(name, Duration::from_millis(*ms));
                cached = true;
            }
        }
        if cached {
            let cache: Arc<dyn neuralbridge::router::AnswerCache> =
                match (self.store.cache.as_deref(), &self.store.redis) {
                    (Some("redis"), Some(url)) => Arc::new(
                        RedisCache::new(url, self.store.namespace.as_deref().unwrap_or("default"))
                            .map_err(|e| ConfigError(format!("store.redis: {e}")))?,
                    ),
                    _ => Arc::new(neuralbridge::router::InMemoryCache::new(
                        self.store.cache_capacity.unwrap_or(10_000),
                    )),
                };
            builder = builder.cache(cache);
        }
        builder.build().map_err(|e| ConfigError(e.to_string()))
    }
}

impl Config {
    /// A route's JSON Schema validator, read from its file.
    fn route_schema(
        &self,
        name: &str,
        r: &RouteConfig,
    ) -> Result<Option<neuralbridge::guard::JsonSchema>, ConfigError> {
        let Some(file) = &r.schema else {
            return Ok(None);
        };
        let path = match &self.base_dir {
            Some(dir) => dir.join(file),
            None => PathBuf::from(file),
        };
        let at = format!("routes.{name}.schema");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigError(format!("{at}: cannot read {}: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ConfigError(format!("{at}: {} is not JSON: {e}", path.display())))?;
        neuralbridge::guard::JsonSchema::new(&value)
            .map(Some)
            .map_err(|e| ConfigError(format!("{at}: {}: {e}", path.display())))
    }
}

/// Where `nb serve` reads its keys from, resolved: names and SHA-256 digests.
pub fn gateway_key_digests(c: &GatewayConfig) -> Result<Vec<(String, [u8; 32])>, ConfigError> {
    use sha2::Digest as _;
    let mut out = Vec::new();
    for (i, k) in c.keys.iter().enumerate() {
        let digest: [u8; 32] = match (&k.sha256, &k.env) {
            (Some(h), _) => {
                let mut d = [0u8; 32];
                for (j, byte) in d.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(h.get(2 * j..2 * j + 2).unwrap_or("zz"), 16)
                        .map_err(|_| ConfigError(format!("gateway.keys[{i}].sha256: not hex")))?;
                }
                d
            }
            (None, Some(var)) => {
                let key = std::env::var(var).map_err(|_| {
                    ConfigError(format!(
                        "gateway.keys[{i}] ({}): environment variable {var} is not set",
                        k.name
                    ))
                })?;
                sha2::Sha256::digest(key.as_bytes()).into()
            }
            (None, None) => {
                return Err(ConfigError(format!(
                    "gateway.keys[{i}]: give `sha256` or `env`"
                )));
            }
        };
        out.push((k.name.clone(), digest));
    }
    Ok(out)
}

/// The SHA-256 of a key, hex, for `gateway.keys[].sha256`.
pub fn hash_key(key: &str) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The default gateway address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// A route's vouching mode from `vouch` and `vouch_sample_rate`.
fn route_vouch(name: &str, r: &RouteConfig) -> Result<Option<VouchMode>, ConfigError> {
    let rate = share(
        &format!("routes.{name}.vouch_sample_rate"),
        r.vouch_sample_rate,
    )?;
    Ok(match (r.vouch.as_deref(), rate) {
        (None, None) => None,
        (Some("always"), _) => Some(VouchMode::Always),
        (Some("off"), None) => Some(VouchMode::Off),
        (Some("off"), Some(_)) => {
            return Err(ConfigError(format!(
                "routes.{name}.vouch_sample_rate: with vouch = \"off\" nothing is vouched for"
            )));
        }
        (None | Some("on-failover"), Some(p)) => Some(VouchMode::Sampled(p)),
        (Some("on-failover"), None) => Some(VouchMode::OnFailover),
        (Some(other), _) => {
            return Err(ConfigError(format!(
                "routes.{name}.vouch: {other:?} is not one of always, on-failover, off"
            )));
        }
    })
}

fn strategy(s: &str) -> Result<Strategy, ConfigError> {
    Ok(match s {
        "priority" => Strategy::Priority,
        "weighted" => Strategy::Weighted,
        "lowest-latency" => Strategy::LowestLatency,
        "cheapest" => Strategy::Cheapest,
        other => {
            return Err(ConfigError(format!(
                "policy.strategy: {other:?} is not one of priority, weighted, lowest-latency, cheapest"
            )));
        }
    })
}

fn adapter(name: &str, p: &ProviderConfig, model: &str) -> Result<Arc<dyn Provider>, String> {
    let key = match &p.api_key_env {
        Some(var) => Some(ApiKey::from_env(var).map_err(|e| e.to_string())?),
        None => None,
    };
    let openai = |preset: Preset| -> Result<Arc<dyn Provider>, String> {
        let mut b = OpenAi::builder(preset, model).allow_insecure_http(p.allow_insecure_http);
        if let Some(u) = &p.base_url {
            b = b.base_url(u.clone());
        }
        if let Some(k) = key.clone() {
            b = b.api_key(k);
        }
        Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
    };
    match p.kind {
        ProviderKind::Openai => openai(Preset::OpenAi),
        ProviderKind::Deepseek => openai(Preset::DeepSeek),
        ProviderKind::Mistral => openai(Preset::Mistral),
        ProviderKind::Groq => openai(Preset::Groq),
        ProviderKind::Ollama => openai(Preset::Ollama),
        ProviderKind::Vllm => openai(Preset::Vllm),
        ProviderKind::GeminiOpenai => openai(Preset::GeminiOpenAi),
        ProviderKind::OpenaiCompatible => openai(Preset::Generic),
        ProviderKind::Azure => {
            let (Some(deployment), Some(api_version)) =
                (p.deployment.clone(), p.api_version.clone())
            else {
                return Err(format!(
                    "provider {name}: azure needs `deployment` and `api_version`"
                ));
            };
            openai(Preset::Azure {
                deployment,
                api_version,
            })
        }
        ProviderKind::Anthropic => {
            let mut b = Anthropic::builder(model).allow_insecure_http(p.allow_insecure_http);
            if let Some(u) = &p.base_url {
                b = b.base_url(u.clone());
            }
            if let Some(k) = key {
                b = b.api_key(k);
            }
            Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
        }
        ProviderKind::Gemini => {
            let mut b = Gemini::builder(model).allow_insecure_http(p.allow_insecure_http);
            if let Some(u) = &p.base_url {
                b = b.base_url(u.clone());
            }
            if let Some(k) = key {
                b = b.api_key(k);
            }
            Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
        }
    }
}
