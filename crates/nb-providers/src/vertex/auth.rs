//! OAuth 2.0 access tokens for Vertex AI: from a service-account key file (a JWT bearer
//! grant, RFC 7523, signed RS256 by `jsonwebtoken`), from the metadata server of a
//! Google Cloud machine, or given. A token is reused until a minute before it expires,
//! then refreshed; it lives in [`SecretString`]s and never reaches `Debug`, logs or
//! errors.

use std::sync::Mutex;
use std::time::Duration;

use nb_core::{ApiError, CallError, ProviderError};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use tokio::time::Instant;

use crate::config::{ConfigError, ConfigErrorKind};
use crate::http::{header_facts, read_limited, transport_error};

/// The scope Vertex AI calls need.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint (a key file's `token_uri` overrides it).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
/// The metadata server (the `GCE_METADATA_HOST` variable overrides its host).
pub const METADATA_URL: &str = "http://metadata.google.internal";

/// A token is refreshed this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Where Vertex access tokens come from.
#[derive(Clone)]
pub enum GoogleAuth {
    /// A service-account key: its email, RSA private key (PEM) and token URL.
    ServiceAccount {
        /// `client_email`.
        client_email: String,
        /// `private_key`, PEM.
        private_key: SecretString,
        /// `token_uri` (default [`GOOGLE_TOKEN_URL`]); tests point it at loopback.
        token_url: String,
    },
    /// The metadata server of the machine (Compute Engine, Cloud Run, GKE), at this base
    /// URL.
    MetadataServer {
        /// Default [`METADATA_URL`].
        base_url: String,
    },
    /// A token obtained elsewhere (`gcloud auth print-access-token`); never refreshed.
    Token(SecretString),
}

impl std::fmt::Debug for GoogleAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ServiceAccount {
                client_email,
                token_url,
                ..
            } => f
                .debug_struct("ServiceAccount")
                .field("client_email", client_email)
                .field("private_key", &"[redacted]")
                .field("token_url", token_url)
                .finish(),
            Self::MetadataServer { base_url } => f
                .debug_struct("MetadataServer")
                .field("base_url", base_url)
                .finish(),
            Self::Token(_) => f.write_str("Token([redacted])"),
        }
    }
}

fn config_error(message: String) -> ConfigError {
    ConfigError::new(ConfigErrorKind::MissingKey, message)
}

impl GoogleAuth {
    /// A service-account key file's JSON (`type: service_account`, `client_email`,
    /// `private_key`, optional `token_uri`).
    pub fn service_account_json(json: &str) -> Result<Self, ConfigError> {
        let v: Value = serde_json::from_str(json)
            .map_err(|e| config_error(format!("the service-account key is not JSON: {e}")))?;
        let field = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        if field("type").is_some_and(|t| t != "service_account") {
            return Err(config_error(
                "the key file is not a service-account key (`type` is not `service_account`)"
                    .into(),
            ));
        }
        let (Some(email), Some(key)) = (field("client_email"), field("private_key")) else {
            return Err(config_error(
                "the service-account key lacks `client_email` or `private_key`".into(),
            ));
        };
        // Checked now, so a bad key fails at build time, not on the first call.
        jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).map_err(|e| {
            config_error(format!(
                "the service-account private key is not an RSA PEM key: {e}"
            ))
        })?;
        Ok(Self::ServiceAccount {
            client_email: email.to_owned(),
            private_key: SecretString::from(key.to_owned()),
            token_url: field("token_uri").unwrap_or(GOOGLE_TOKEN_URL).to_owned(),
        })
    }

    /// The service-account key file at `path`.
    pub fn service_account_file(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            config_error(format!("cannot read the key file {}: {e}", path.display()))
        })?;
        Self::service_account_json(&text)
    }

    /// The key file named by `GOOGLE_APPLICATION_CREDENTIALS`, else the metadata server
    /// (`GCE_METADATA_HOST` overrides its host).
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
            Some(p) if !p.is_empty() => Self::service_account_file(std::path::Path::new(&p)),
            _ => Ok(Self::MetadataServer {
                base_url: std::env::var("GCE_METADATA_HOST")
                    .map(|h| format!("http://{h}"))
                    .unwrap_or_else(|_| METADATA_URL.to_owned()),
            }),
        }
    }

    /// A token given explicitly.
    pub fn token(token: impl Into<String>) -> Self {
        Self::Token(SecretString::from(token.into()))
    }
}

/// A cached access token.
struct Cached {
    token: SecretString,
    refresh_at: Option<Instant>,
}

/// Fetches and caches tokens for one [`GoogleAuth`].
pub(crate) struct TokenSource {
    auth: GoogleAuth,
    client: reqwest::Client,
    cached: Mutex<Option<Cached>>,
}

impl TokenSource {
    pub(crate) fn new(auth: GoogleAuth, client: reqwest::Client) -> Self {
        Self {
            auth,
            client,
            cached: Mutex::new(None),
        }
    }

    pub(crate) fn auth(&self) -> &GoogleAuth {
        &self.auth
    }

    /// A valid token: the cached one until a minute before it expires, else a new one.
    pub(crate) async fn token(&self) -> Result<SecretString, CallError> {
        if let GoogleAuth::Token(t) = &self.auth {
            return Ok(t.clone());
        }
        let now = Instant::now();
        {
            let cached = self
                .cached
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(c) = cached.as_ref() {
                if c.refresh_at.is_none_or(|at| now < at) {
                    return Ok(c.token.clone());
                }
            }
        }
        let (token, expires_in) = self.fetch().await?;
        let refresh_at = expires_in.map(|s| now + s.saturating_sub(REFRESH_MARGIN));
        *self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Cached {
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }

    async fn fetch(&self) -> Result<(SecretString, Option<Duration>), CallError> {
        let request = match &self.auth {
            GoogleAuth::ServiceAccount {
                client_email,
                private_key,
                token_url,
            } => {
                let assertion = jwt(client_email, private_key, token_url)?;
                let form = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
                    .append_pair("assertion", &assertion)
                    .finish();
                self.client
                    .post(token_url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(form)
            }
            GoogleAuth::MetadataServer { base_url } => self
                .client
                .get(format!(
                    "{}/computeMetadata/v1/instance/service-accounts/default/token",
                    base_url.trim_end_matches('/')
                ))
                .header("metadata-flavor", "Google"),
            GoogleAuth::Token(t) => return Ok((t.clone(), None)),
        };
        let response = tokio::time::timeout(Duration::from_secs(30), request.send())
            .await
            .map_err(|_| CallError::timeout(nb_core::TimeoutPhase::Total))?
            .map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let headers = header_facts(response.headers());
        let mut response = response;
        let body = read_limited(&mut response, 1 << 16, Duration::from_secs(30)).await?;
        let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(token_error(status, headers, &v));
        }
        let Some(token) = v.get("access_token").and_then(Value::as_str) else {
            // The body holds a token or nothing useful: never echo it.
            return Err(CallError::decode(
                "the token response has no access_token",
                b"",
            ));
        };
        let expires_in = v
            .get("expires_in")
            .and_then(Value::as_u64)
            .map(Duration::from_secs);
        Ok((SecretString::from(token.to_owned()), expires_in))
    }
}

/// A token endpoint's refusal (RFC 6749 §5.2: `{"error": "invalid_grant",
/// "error_description"}`) as an API error whose type is the OAuth error code.
fn token_error(status: u16, headers: nb_core::HeaderFacts, v: &Value) -> CallError {
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    CallError::Api(Box::new(ApiError {
        status: Some(status),
        headers,
        error: ProviderError {
            r#type: text("error"),
            message: text("error_description")
                .or_else(|| Some("the OAuth token request was refused".to_owned())),
            ..ProviderError::default()
        },
        body_snippet: None,
    }))
}

/// The signed JWT of a service account's token request: `iss` the account, `scope`
/// cloud-platform, `aud` the token URL, valid for an hour.
fn jwt(email: &str, key: &SecretString, token_url: &str) -> Result<String, CallError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let claims = serde_json::json!({
        "iss": email, "scope": CLOUD_PLATFORM_SCOPE, "aud": token_url,
        "iat": now, "exp": now + 3600,
    });
    let fail = |_| CallError::Unsupported {
        what: "the service-account key cannot sign a token request".into(),
    };
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(key.expose_secret().as_bytes()).map_err(fail)?;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = include_str!("../../tests/data/vertex-test-key.pem");
    const PUBLIC: &str = include_str!("../../tests/data/vertex-test-key.pub.pem");

    #[test]
    fn the_token_request_is_an_rs256_jwt_of_the_service_account() {
        let jwt = jwt(
            "sa@p.iam.gserviceaccount.com",
            &SecretString::from(KEY.to_owned()),
            "https://oauth2.googleapis.com/token",
        )
        .unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.set_audience(&["https://oauth2.googleapis.com/token"]);
        v.set_issuer(&["sa@p.iam.gserviceaccount.com"]);
        let data = jsonwebtoken::decode::<Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC.as_bytes()).unwrap(),
            &v,
        )
        .unwrap();
        assert_eq!(data.claims["scope"], CLOUD_PLATFORM_SCOPE);
        let (iat, exp) = (
            data.claims["iat"].as_u64().unwrap(),
            data.claims["exp"].as_u64().unwrap(),
        );
        assert_eq!(exp - iat, 3600);
    }

    #[test]
    fn key_files_are_checked_when_read_and_never_printed() {
        let json = serde_json::json!({"type": "service_account", "client_email": "sa@p",
            "private_key": KEY, "token_uri": "http://127.0.0.1:9/token"})
        .to_string();
        let a = GoogleAuth::service_account_json(&json).unwrap();
        assert!(!format!("{a:?}").contains("PRIVATE KEY"));
        let bad = serde_json::json!({"type": "service_account", "client_email": "sa@p",
            "private_key": "not a key"})
        .to_string();
        assert!(GoogleAuth::service_account_json(&bad).is_err());
        let user = serde_json::json!({"type": "authorized_user"}).to_string();
        assert!(GoogleAuth::service_account_json(&user).is_err());
        assert_eq!(
            format!("{:?}", GoogleAuth::token("ya29.x")),
            "Token([redacted])"
        );
    }
}
