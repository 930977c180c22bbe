//! `nb.toml`: providers, credentials (environment variable names, never inline secrets by
//! default), targets, routes, policy and vouching — loaded into the same builder the API
//! uses. Unknown keys are errors that name the key, where it is, and the closest valid
//! spelling.
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
//!
//! [routes.cheap]
//! targets = ["openai/gpt-4o-mini", "claude/claude-sonnet-4-5"]
//!
//! [policy]
//! attempt_timeout_ms = 30000
//! deadline_ms = 60000
//! strategy = "priority"
//!
//! [vouch]
//! equivalence = "strict"               # strict | lexical | off
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use neuralbridge::core::{Provider, TargetId};
use neuralbridge::providers::{Anthropic, ApiKey, Gemini, OpenAi, Preset};
use neuralbridge::router::{Policy, SmartRouter, Strategy, Target, Vouching};
use neuralbridge::semantic::{Lexical, Strict};
use serde::Deserialize;

/// Which wire format and preset a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostConfig {
    /// Per million input tokens.
    pub input_per_mtok: f64,
    /// Per million output tokens.
    pub output_per_mtok: f64,
}

/// One target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The provider's name in `[providers]`.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Weight for the weighted strategy.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Price.
    #[serde(default)]
    pub cost: Option<CostConfig>,
    /// Context window in tokens.
    #[serde(default)]
    pub context_window: Option<u64>,
    /// Tags calls can require.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A named route.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Targets as `provider/model`, in order.
    pub targets: Vec<String>,
}

/// The policy subset a config can set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// One attempt's limit.
    #[serde(default)]
    pub attempt_timeout_ms: Option<u64>,
    /// The whole call's limit.
    #[serde(default)]
    pub deadline_ms: Option<u64>,
    /// Attempts per call at most.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// `priority`, `weighted`, `lowest-latency`, `cheapest`.
    #[serde(default)]
    pub strategy: Option<String>,
}

/// Vouching.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VouchConfig {
    /// `strict`, `lexical` or `off`.
    #[serde(default)]
    pub equivalence: Option<String>,
}

/// A whole `nb.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Providers by name.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// Targets; the default route tries them in this order.
    pub targets: Vec<TargetConfig>,
    /// Named routes.
    #[serde(default)]
    pub routes: BTreeMap<String, RouteConfig>,
    /// The policy.
    #[serde(default)]
    pub policy: PolicyConfig,
    /// Vouching.
    #[serde(default)]
    pub vouch: VouchConfig,
}

/// A configuration that cannot be used, with what to change.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

const KNOWN_KEYS: &[&str] = &[
    "providers",
    "targets",
    "routes",
    "policy",
    "vouch",
    "kind",
    "base_url",
    "api_key_env",
    "allow_insecure_http",
    "deployment",
    "api_version",
    "provider",
    "model",
    "weight",
    "cost",
    "context_window",
    "tags",
    "input_per_mtok",
    "output_per_mtok",
    "attempt_timeout_ms",
    "deadline_ms",
    "max_attempts",
    "strategy",
    "equivalence",
];

fn suggest(message: &str) -> String {
    let Some(start) = message.find("unknown field `") else {
        return message.to_owned();
    };
    let rest = &message[start + "unknown field `".len()..];
    let Some(end) = rest.find('`') else {
        return message.to_owned();
    };
    let bad = &rest[..end];
    let best = KNOWN_KEYS
        .iter()
        .map(|k| (strsim::levenshtein(bad, k), *k))
        .min()
        .filter(|(d, _)| *d <= 3);
    match best {
        Some((_, k)) => format!("{message}\nhint: did you mean `{k}`?"),
        None => message.to_owned(),
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
        Self::from_toml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.targets.is_empty() {
            return Err(ConfigError("no [[targets]]: add at least one".into()));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if !self.providers.contains_key(&t.provider) {
                let known: Vec<&String> = self.providers.keys().collect();
                return Err(ConfigError(format!(
                    "targets[{i}].provider: unknown provider {:?} (defined: {known:?})",
                    t.provider
                )));
            }
        }
        if let Some(s) = &self.policy.strategy {
            strategy(s)?;
        }
        if let Some(e) = &self.vouch.equivalence {
            if !matches!(e.as_str(), "strict" | "lexical" | "off") {
                return Err(ConfigError(format!(
                    "vouch.equivalence: {e:?} is not one of strict, lexical, off"
                )));
            }
        }
        Ok(())
    }

    /// Builds the adapters (reading keys from the environment) and the router.
    pub fn build(&self) -> Result<SmartRouter, ConfigError> {
        let mut builder = SmartRouter::builder();
        for (i, t) in self.targets.iter().enumerate() {
            let p = &self.providers[&t.provider];
            let provider = adapter(&t.provider, p, &t.model).map_err(|e| {
                ConfigError(format!("targets[{i}] ({}/{}): {e}", t.provider, t.model))
            })?;
            let mut target = Target::shared(TargetId::new(&t.provider, &t.model), provider);
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
            builder = builder.target(target);
        }
        for (name, r) in &self.routes {
            let mut ids = Vec::new();
            for spec in &r.targets {
                let (p, m) = spec.split_once('/').ok_or_else(|| {
                    ConfigError(format!("routes.{name}: {spec:?} is not provider/model"))
                })?;
                ids.push(TargetId::new(p, m));
            }
            builder = builder.route(name, ids);
        }
        let mut policy = Policy::default();
        if let Some(ms) = self.policy.attempt_timeout_ms {
            policy.attempt_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = self.policy.deadline_ms {
            policy.deadline = Duration::from_millis(ms);
        }
        if let Some(n) = self.policy.max_attempts {
            policy.max_attempts = n;
        }
        builder = builder.policy(policy);
        if let Some(s) = &self.policy.strategy {
            builder = builder.strategy(strategy(s)?);
        }
        builder = match self.vouch.equivalence.as_deref() {
            Some("strict") => builder.vouch(Vouching::consensus(Strict)),
            Some("lexical") => builder.vouch(Vouching::consensus(Lexical::default())),
            _ => builder,
        };
        builder.build().map_err(|e| ConfigError(e.to_string()))
    }
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
