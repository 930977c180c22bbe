//! OpenAI-compatible `POST {base}/embeddings`.

use async_trait::async_trait;
use nb_core::{CallError, Embedder};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::config::{
    ApiKey, Common, ConfigError, ConfigErrorKind, checked_base_url, common_setters,
};
use crate::http::{Http, Outgoing, secret_header};
use crate::openai::join;

/// Builds an [`OpenAiEmbeddings`] client.
#[derive(Debug)]
#[must_use]
pub struct OpenAiEmbeddingsBuilder {
    model: String,
    base_url: String,
    common: Common,
}

impl OpenAiEmbeddingsBuilder {
    common_setters!("OPENAI_API_KEY");

    /// The base URL before `/embeddings` (default `https://api.openai.com/v1`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Builds the client; without an explicit key, `OPENAI_API_KEY` is read.
    pub fn build(self) -> Result<OpenAiEmbeddings, ConfigError> {
        let key = match self.common.key {
            Some(k) => k.checked("embeddings")?,
            None => ApiKey::from_env("OPENAI_API_KEY")?,
        };
        let base = checked_base_url(&self.base_url, true, self.common.allow_insecure_http)?;
        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            secret_header(&format!("Bearer {}", key.expose()))
                .map_err(|e| ConfigError::new(ConfigErrorKind::Invalid, e.to_string()))?,
        );
        Ok(OpenAiEmbeddings {
            http: Http::new(self.common.client, self.common.timeouts, self.common.limits)?,
            url: join(&base, "embeddings")?,
            model: self.model,
            headers,
        })
    }
}

/// An [`Embedder`] over any OpenAI-compatible embeddings endpoint.
pub struct OpenAiEmbeddings {
    http: Http,
    url: url::Url,
    model: String,
    headers: HeaderMap,
}

impl std::fmt::Debug for OpenAiEmbeddings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiEmbeddings")
            .field("model", &self.model)
            .field("url", &self.url.as_str())
            .field("key", &"[redacted]")
            .finish()
    }
}

impl OpenAiEmbeddings {
    /// A builder for `model` (`text-embedding-3-small`, ...).
    pub fn builder(model: impl Into<String>) -> OpenAiEmbeddingsBuilder {
        OpenAiEmbeddingsBuilder {
            model: model.into(),
            base_url: "https://api.openai.com/v1".into(),
            common: Common::default(),
        }
    }
}

/// Parses an embeddings response: `data[i].embedding`, ordered by `index`.
pub(crate) fn parse(body: &[u8], expected: usize) -> Result<Vec<Vec<f32>>, CallError> {
    let v: Value = crate::http::from_json(body)
        .map_err(|e| CallError::decode(format!("not an embeddings response: {e}"), body))?;
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| CallError::decode("the response has no data array", body))?;
    let mut out: Vec<(u64, Vec<f32>)> = Vec::with_capacity(data.len());
    for (i, d) in data.iter().enumerate() {
        let idx = d.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
        let emb = d
            .get("embedding")
            .and_then(Value::as_array)
            .ok_or_else(|| CallError::decode("an item has no embedding array", body))?
            .iter()
            .map(|x| x.as_f64().map(|f| f as f32))
            .collect::<Option<Vec<f32>>>()
            .ok_or_else(|| CallError::decode("an embedding holds a non-number", body))?;
        out.push((idx, emb));
    }
    if out.len() != expected {
        return Err(CallError::decode(
            format!("expected {expected} embeddings, got {}", out.len()),
            body,
        ));
    }
    out.sort_by_key(|(i, _)| *i);
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

#[async_trait]
impl Embedder for OpenAiEmbeddings {
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, CallError> {
        let body = json!({"model": self.model, "input": texts});
        let out = Outgoing::json(&self.url, &self.headers, &body)?;
        let expected = texts.len();
        let bytes = self.http.raw(out).await?;
        parse(&bytes, expected)
    }
}
