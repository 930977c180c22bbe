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

mod build;
mod check;
mod gateway;
mod schema;
mod sections;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

pub use build::compile_schema;
pub use gateway::{DEFAULT_LISTEN, GatewayConfig, GatewayKey, gateway_key_digests, hash_key};
pub use schema::{
    BreakerSection, CooldownSection, CostConfig, PolicyConfig, ProviderConfig, ProviderKind,
    RouteConfig, RouteSpec, StoreConfig, TargetConfig, VouchConfig,
};

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
pub struct ConfigFileError(pub String);

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

impl Config {
    /// Parses TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigFileError> {
        let c: Self = toml::from_str(text).map_err(|e| {
            ConfigFileError(format!(
                "invalid configuration: {}",
                suggest(&e.to_string())
            ))
        })?;
        c.check()?;
        Ok(c)
    }

    /// Reads a configuration already parsed into JSON (the same keys as `nb.toml`), with
    /// the same checks as [`from_toml`](Self::from_toml): how the Python package turns
    /// `SmartRouter(providers=[...])` into a router.
    pub fn from_json(value: serde_json::Value) -> Result<Self, ConfigFileError> {
        let c: Self = serde_json::from_value(value).map_err(|e| {
            ConfigFileError(format!(
                "invalid configuration: {}",
                suggest(&e.to_string())
            ))
        })?;
        c.check()?;
        Ok(c)
    }

    /// Reads and parses a file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigFileError(format!("cannot read {}: {e}", path.display())))?;
        let mut c = Self::from_toml(&text)
            .map_err(|e| ConfigFileError(format!("{}: {}", path.display(), e.0)))?;
        c.base_dir = path.parent().map(Path::to_path_buf);
        // Schemas are read now, so a missing file is an error of the file.
        for (name, r) in &c.routes {
            if let RouteSpec::Table(t) = r {
                c.route_schema(name, t)
                    .map_err(|e| ConfigFileError(format!("{}: {}", path.display(), e.0)))?;
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
}
