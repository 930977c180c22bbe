//! Google Vertex AI: Gemini models (`publishers/google`, `:generateContent` and
//! `:streamGenerateContent?alt=sse`, the Gemini wire format) and Anthropic models
//! (`publishers/anthropic`, `:rawPredict` and `:streamRawPredict`, the Messages wire
//! format with `anthropic_version: "vertex-2023-10-16"` in the body and the model in
//! the path), on the regional endpoint
//! `https://{region}-aiplatform.googleapis.com/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{model}:{method}`
//! (`aiplatform.googleapis.com` for the `global` location, `aiplatform.{us,eu}.rep.googleapis.com`
//! for the multi-regions), with OAuth access tokens ([`GoogleAuth`]).
//!
//! Sources: Google Cloud's Vertex AI REST reference (`projects.locations.publishers.models`
//! `generateContent`, `streamGenerateContent`, `rawPredict`, `streamRawPredict`) and
//! Anthropic's "Claude on Vertex AI" guide (the `anthropic_version` value, the model in
//! the URL); the Anthropic Python SDK (PyPI `anthropic`, `lib/vertex/_client.py`) builds
//! the same URLs and body.

mod auth;

use async_trait::async_trait;
use nb_core::{CallError, ChatRequest, ChatResponse, ChatStream, Provider};
use reqwest::header::HeaderMap;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub use auth::{CLOUD_PLATFORM_SCOPE, GOOGLE_TOKEN_URL, GoogleAuth, METADATA_URL};

use crate::config::{Common, ConfigError, ConfigErrorKind, checked_base_url};
use crate::http::{Http, Outgoing, secret_header};

/// The `anthropic_version` Anthropic models on Vertex take in the body, as Google's
/// Vertex documentation gives it. (The Anthropic Python SDK 2.17.0 sends its general API
/// version there instead; [`VertexBuilder::anthropic_version`] sets another.)
pub const VERTEX_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Which publisher's model, and so which wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VertexPublisher {
    /// Gemini (`publishers/google`): the Gemini wire format.
    Google,
    /// Claude (`publishers/anthropic`): the Messages wire format.
    Anthropic,
}

/// Builds a [`Vertex`] adapter.
#[derive(Debug)]
#[must_use]
pub struct VertexBuilder {
    publisher: VertexPublisher,
    project: String,
    region: String,
    model: String,
    base_url: Option<String>,
    auth: Option<GoogleAuth>,
    anthropic_version: String,
    common: Common,
}

impl VertexBuilder {
    /// The `anthropic_version` sent to Anthropic models (default
    /// [`VERTEX_ANTHROPIC_VERSION`]).
    pub fn anthropic_version(mut self, v: impl Into<String>) -> Self {
        self.anthropic_version = v.into();
        self
    }

    /// Overrides the endpoint (everything before `/v1/projects/…`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Where tokens come from (default [`GoogleAuth::from_env`]: the key file named by
    /// `GOOGLE_APPLICATION_CREDENTIALS`, else the metadata server).
    pub fn auth(mut self, auth: GoogleAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Allows sending tokens over plain HTTP to a host that is not loopback.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.common.allow_insecure_http = allow;
        self
    }

    /// Sets the adapter's timeouts.
    pub fn timeouts(mut self, t: crate::Timeouts) -> Self {
        self.common.timeouts = t;
        self
    }

    /// Sets the body and stream limits.
    pub fn limits(mut self, l: crate::Limits) -> Self {
        self.common.limits = l;
        self
    }

    /// Shares a [`reqwest::Client`](crate::reqwest::Client) (used for tokens too).
    pub fn client(mut self, c: crate::reqwest::Client) -> Self {
        self.common.client = Some(c);
        self
    }

    /// Builds the adapter, checking the project, region and key.
    pub fn build(self) -> Result<Vertex, ConfigError> {
        let invalid = |m: String| ConfigError::new(ConfigErrorKind::Invalid, m);
        let segment_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
        };
        if !segment_ok(&self.project) || !segment_ok(&self.region) || !segment_ok(&self.model) {
            return Err(invalid(format!(
                "Vertex needs a project, a region and a model of letters, digits, `-`, `_`, `.` or `@` (got {:?}, {:?}, {:?})",
                self.project, self.region, self.model
            )));
        }
        let auth = match self.auth {
            Some(a) => a,
            None => GoogleAuth::from_env()?,
        };
        let base = self.base_url.unwrap_or_else(|| match self.region.as_str() {
            "global" => "https://aiplatform.googleapis.com".to_owned(),
            // The multi-region endpoints.
            "us" | "eu" => format!("https://aiplatform.{}.rep.googleapis.com", self.region),
            r => format!("https://{r}-aiplatform.googleapis.com"),
        });
        let base = checked_base_url(&base, true, self.common.allow_insecure_http)?;
        let publisher = match self.publisher {
            VertexPublisher::Google => "google",
            VertexPublisher::Anthropic => "anthropic",
        };
        let model_url = format!(
            "v1/projects/{}/locations/{}/publishers/{publisher}/models/{}",
            self.project, self.region, self.model
        );
        let (whole, streamed) = match self.publisher {
            VertexPublisher::Google => (
                format!("{model_url}:generateContent"),
                format!("{model_url}:streamGenerateContent?alt=sse"),
            ),
            VertexPublisher::Anthropic => (
                format!("{model_url}:rawPredict"),
                format!("{model_url}:streamRawPredict"),
            ),
        };
        let http = Http::new(self.common.client, self.common.timeouts, self.common.limits)?;
        Ok(Vertex {
            tokens: auth::TokenSource::new(auth, http.client().clone()),
            http,
            publisher: self.publisher,
            model: self.model,
            anthropic_version: self.anthropic_version,
            url: crate::openai::join(&base, &whole)?,
            stream_url: crate::openai::join(&base, &streamed)?,
        })
    }
}

/// A Vertex AI adapter for one model of one publisher, in one project and region.
///
/// ```no_run
/// use nb_providers::{GoogleAuth, Vertex};
/// # fn f() -> Result<(), nb_providers::ConfigError> {
/// let auth = GoogleAuth::service_account_file("sa.json".as_ref())?;
/// let gemini = Vertex::gemini("my-project", "us-central1", "gemini-2.5-flash")
///     .auth(auth.clone())
///     .build()?;
/// let claude = Vertex::anthropic("my-project", "us-east5", "claude-sonnet-4-5@20250929")
///     .auth(auth)
///     .build()?;
/// # Ok(()) }
/// ```
pub struct Vertex {
    http: Http,
    tokens: auth::TokenSource,
    publisher: VertexPublisher,
    model: String,
    anthropic_version: String,
    url: url::Url,
    stream_url: url::Url,
}

impl std::fmt::Debug for Vertex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vertex")
            .field("publisher", &self.publisher)
            .field("model", &self.model)
            .field("url", &self.url.as_str())
            .field("auth", self.tokens.auth())
            .finish()
    }
}

impl Vertex {
    fn builder(
        publisher: VertexPublisher,
        project: impl Into<String>,
        region: impl Into<String>,
        model: impl Into<String>,
    ) -> VertexBuilder {
        VertexBuilder {
            publisher,
            project: project.into(),
            region: region.into(),
            model: model.into(),
            base_url: None,
            auth: None,
            anthropic_version: VERTEX_ANTHROPIC_VERSION.to_owned(),
            common: Common::default(),
        }
    }

    /// A Gemini model (`gemini-2.5-flash`) on Vertex.
    pub fn gemini(
        project: impl Into<String>,
        region: impl Into<String>,
        model: impl Into<String>,
    ) -> VertexBuilder {
        Self::builder(VertexPublisher::Google, project, region, model)
    }

    /// An Anthropic model (`claude-sonnet-4-5@20250929`) on Vertex.
    pub fn anthropic(
        project: impl Into<String>,
        region: impl Into<String>,
        model: impl Into<String>,
    ) -> VertexBuilder {
        Self::builder(VertexPublisher::Anthropic, project, region, model)
    }

    /// The model this adapter asks for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The wire body this adapter sends for `req`.
    pub fn body(&self, req: &ChatRequest, stream: bool) -> Value {
        match self.publisher {
            VertexPublisher::Google => crate::gemini::request_body(req),
            VertexPublisher::Anthropic => {
                let mut b = crate::anthropic::request_body(&self.model, req, stream);
                if let Value::Object(m) = &mut b {
                    // The model travels in the URL; the version in the body.
                    m.remove("model");
                    m.insert("anthropic_version".into(), json!(self.anthropic_version));
                }
                b
            }
        }
    }

    async fn outgoing(&self, req: &ChatRequest, stream: bool) -> Result<Outgoing, CallError> {
        let token = self.tokens.token().await?;
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            secret_header(&format!("Bearer {}", token.expose_secret()))?,
        );
        let url = if stream { &self.stream_url } else { &self.url };
        Outgoing::json(url, &headers, &self.body(req, stream))
    }
}

#[async_trait]
impl Provider for Vertex {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let out = self.outgoing(req, false).await?;
        let parse = match self.publisher {
            VertexPublisher::Google => crate::gemini::parse_response,
            VertexPublisher::Anthropic => crate::anthropic::parse_response,
        };
        self.http.whole(out, parse, |_| None).await
    }

    async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, CallError> {
        let out = self.outgoing(req, true).await?;
        match self.publisher {
            VertexPublisher::Google => {
                self.http
                    .streamed(out, crate::gemini::GeminiDecoder::new)
                    .await
            }
            VertexPublisher::Anthropic => {
                self.http
                    .streamed(out, crate::anthropic::AnthropicDecoder::new)
                    .await
            }
        }
    }
}
