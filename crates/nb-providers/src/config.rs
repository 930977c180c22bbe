//! Keys, endpoints, limits and timeouts shared by every adapter.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// An API key. It never appears in `Debug`, `Display`, logs or errors: only the adapter
/// that sends it can read it.
///
/// ```
/// use nb_providers::ApiKey;
/// let key = ApiKey::new("sk-live-very-secret");
/// assert!(!format!("{key:?}").contains("very-secret"));
/// ```
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    /// Wraps a key given explicitly.
    pub fn new(key: impl Into<String>) -> Self {
        Self(SecretString::from(key.into()))
    }

    /// Reads a key from the environment variable `var`.
    pub fn from_env(var: &str) -> Result<Self, ConfigError> {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => Ok(Self::new(v.trim().to_owned())),
            Ok(_) => Err(ConfigError::new(
                ConfigErrorKind::MissingKey,
                format!("the environment variable {var} is set but empty"),
            )),
            Err(_) => Err(ConfigError::new(
                ConfigErrorKind::MissingKey,
                format!("no API key: set the environment variable {var} or pass a key explicitly"),
            )),
        }
    }

    /// Refuses a key that is empty or only white space: the provider would answer 401
    /// on every call, far from where the mistake was made.
    pub(crate) fn checked(self, provider: &str) -> Result<Self, ConfigError> {
        if self.0.expose_secret().trim().is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::MissingKey,
                format!("the API key given for {provider} is empty"),
            ));
        }
        Ok(self)
    }

    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

/// What went wrong while building an adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// No API key was given and the usual environment variable is unset.
    MissingKey,
    /// The base URL does not parse or has no host.
    InvalidUrl,
    /// A key would be sent over plain HTTP to a host that is not loopback.
    InsecureTransport,
    /// A required setting is missing or invalid (an Azure deployment, a header value).
    Invalid,
    /// The HTTP client could not be built.
    Client,
}

/// An adapter could not be built. The message says what to change; it never holds a key.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    kind: ConfigErrorKind,
    message: String,
}

impl ConfigError {
    pub(crate) fn new(kind: ConfigErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What sort of problem this is.
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }
}

/// Bounds on what a response may make us hold in memory. Exceeding one is a
/// [`CallError::BodyTooLarge`](nb_core::CallError::BodyTooLarge), never an allocation
/// blow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes of a non-streamed body (default 16 MiB).
    pub max_body_bytes: usize,
    /// Most bytes of one SSE line (default 1 MiB).
    pub max_sse_line_bytes: usize,
    /// Most bytes of a whole stream (default 64 MiB).
    pub max_stream_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 << 20,
            max_sse_line_bytes: 1 << 20,
            max_stream_bytes: 64 << 20,
        }
    }
}

/// Adapter-level timeouts: every exchange is bounded in time whether or not a router
/// wraps the adapter. Deadlines across attempts and time-to-first-token belong to the
/// router; these keep a single HTTP exchange from hanging forever.
///
/// ```
/// use std::time::Duration;
/// let t = nb_providers::Timeouts {
///     body_idle: Duration::from_secs(30),
///     ..nb_providers::Timeouts::default()
/// };
/// assert_eq!(t.total, Duration::from_secs(1800));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection (default 10 s).
    pub connect: Duration,
    /// From sending the request to the response head (default 600 s, as the official
    /// SDKs: a non-streamed answer's head only comes when the whole answer is ready).
    pub response_head: Duration,
    /// The longest gap between two pieces of a body once its head has arrived, whole or
    /// streamed (default 300 s; keep-alive comments count as progress here).
    pub body_idle: Duration,
    /// The whole exchange, head and body, streamed or not (default 30 min).
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            response_head: Duration::from_secs(600),
            body_idle: Duration::from_secs(300),
            total: Duration::from_secs(1800),
        }
    }
}

/// The settings every adapter builder shares.
#[derive(Debug, Default)]
pub(crate) struct Common {
    pub(crate) key: Option<ApiKey>,
    pub(crate) allow_insecure_http: bool,
    pub(crate) timeouts: Timeouts,
    pub(crate) limits: Limits,
    pub(crate) client: Option<reqwest::Client>,
}

/// The setters of [`Common`], for each builder's `impl` block.
macro_rules! common_setters {
    ($env:literal) => {
        #[doc = concat!("Uses this key instead of the one in `", $env, "`.")]
        pub fn api_key(mut self, key: $crate::ApiKey) -> Self {
            self.common.key = Some(key);
            self
        }

        /// Allows sending the key over plain HTTP to a host that is not loopback.
        pub fn allow_insecure_http(mut self, allow: bool) -> Self {
            self.common.allow_insecure_http = allow;
            self
        }

        /// Sets the adapter's timeouts.
        pub fn timeouts(mut self, t: $crate::Timeouts) -> Self {
            self.common.timeouts = t;
            self
        }

        /// Sets the body and stream limits.
        pub fn limits(mut self, l: $crate::Limits) -> Self {
            self.common.limits = l;
            self
        }

        /// Shares a [`reqwest::Client`](crate::reqwest::Client) (and its connection pool)
        /// with other adapters. The client is used as it is: its own redirect, proxy and
        /// timeout settings apply instead of the adapter's transport policy (see
        /// `docs/reliability.md`). Build it with the re-exported [`crate::reqwest`], the
        /// exact version the adapters take.
        pub fn client(mut self, c: $crate::reqwest::Client) -> Self {
            self.common.client = Some(c);
            self
        }
    };
}
pub(crate) use common_setters;

/// Parses `base` and checks that a key sent to it travels safely: HTTPS, or plain HTTP to
/// a loopback host, or plain HTTP with the caller's explicit opt-in.
pub(crate) fn checked_base_url(
    base: &str,
    sends_key: bool,
    allow_insecure_http: bool,
) -> Result<Url, ConfigError> {
    let url = Url::parse(base.trim_end_matches('/')).map_err(|e| {
        ConfigError::new(
            ConfigErrorKind::InvalidUrl,
            format!("invalid base URL {base:?}: {e}"),
        )
    })?;
    let Some(host) = url.host_str() else {
        return Err(ConfigError::new(
            ConfigErrorKind::InvalidUrl,
            format!("base URL {base:?} has no host"),
        ));
    };
    match url.scheme() {
        "https" => {}
        "http" => {
            if sends_key && !allow_insecure_http && !is_loopback(host) {
                return Err(ConfigError::new(
                    ConfigErrorKind::InsecureTransport,
                    format!(
                        "refusing to send an API key over plain HTTP to {host}; use https, \
                         a loopback address, or opt in with allow_insecure_http(true)"
                    ),
                ));
            }
        }
        other => {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidUrl,
                format!("base URL scheme {other:?} is not http or https"),
            ));
        }
    }
    Ok(url)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_with_a_key_is_refused_unless_loopback_or_opted_in() {
        assert!(checked_base_url("https://api.openai.com/v1", true, false).is_ok());
        assert!(checked_base_url("http://127.0.0.1:9/v1", true, false).is_ok());
        assert!(checked_base_url("http://[::1]:9/v1", true, false).is_ok());
        assert!(checked_base_url("http://localhost:11434/v1", true, false).is_ok());
        let e = checked_base_url("http://10.0.0.5/v1", true, false).unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::InsecureTransport);
        assert!(checked_base_url("http://10.0.0.5/v1", true, true).is_ok());
        assert!(checked_base_url("http://10.0.0.5/v1", false, false).is_ok());
        assert_eq!(
            checked_base_url("ftp://x", true, false).unwrap_err().kind(),
            ConfigErrorKind::InvalidUrl
        );
        assert_eq!(
            checked_base_url("not a url", true, false)
                .unwrap_err()
                .kind(),
            ConfigErrorKind::InvalidUrl
        );
    }
}
