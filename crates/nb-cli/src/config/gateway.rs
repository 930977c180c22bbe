//! `[gateway]`: who may call `nb serve`, and how their keys are resolved.

use schemars::JsonSchema;
use serde::Deserialize;

use super::ConfigFileError;

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
    /// A client must send a request's head within this long, and an idle keep-alive
    /// connection is closed after it (default 10 000).
    #[serde(default)]
    pub header_timeout_ms: Option<u64>,
    /// Connections open at once, at most (default 10 000).
    #[serde(default)]
    pub max_connections: Option<usize>,
    /// Connections open at once from one client address, at most (default 1024; behind a
    /// proxy every connection comes from the proxy).
    #[serde(default)]
    pub max_connections_per_client: Option<usize>,
    /// `/readyz` and `/metrics` need a gateway key too (default false: open, for probes
    /// and scrapers on a private network).
    #[serde(default)]
    pub ops_require_key: bool,
    /// The `max_tokens` given to a call that sets none, from a key with a
    /// `spend_per_day`: its worst case must be known to hold it (default 4096).
    #[serde(default)]
    pub default_max_tokens: Option<u32>,
    /// Share cached answers between callers. Default false: each key has its own
    /// entries, so a hit tells a tenant nothing about what others asked.
    #[serde(default)]
    pub shared_cache: bool,
}

/// Where `nb serve` reads its keys from, resolved: names and SHA-256 digests.
pub fn gateway_key_digests(c: &GatewayConfig) -> Result<Vec<(String, [u8; 32])>, ConfigFileError> {
    use sha2::Digest as _;
    let mut out = Vec::new();
    for (i, k) in c.keys.iter().enumerate() {
        let digest: [u8; 32] = match (&k.sha256, &k.env) {
            (Some(h), _) => {
                let mut d = [0u8; 32];
                for (j, byte) in d.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(h.get(2 * j..2 * j + 2).unwrap_or("zz"), 16)
                        .map_err(|_| {
                            ConfigFileError(format!("gateway.keys[{i}].sha256: not hex"))
                        })?;
                }
                d
            }
            (None, Some(var)) => {
                let key = std::env::var(var).map_err(|_| {
                    ConfigFileError(format!(
                        "gateway.keys[{i}] ({}): environment variable {var} is not set",
                        k.name
                    ))
                })?;
                sha2::Sha256::digest(key.as_bytes()).into()
            }
            (None, None) => {
                return Err(ConfigFileError(format!(
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
