//! Building the router a file describes: adapters, targets, routes, the shared store.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "redis")]
use neuralbridge::breaker::{InMemoryKnowledge, SystemClock};
use neuralbridge::breaker::{Knowledge, PaceLimits};
use neuralbridge::core::{Embedder, Provider, TargetId};
use neuralbridge::providers::{
    Anthropic, ApiKey, Gemini, OpenAi, OpenAiEmbeddings, OpenAiResponses, Preset,
};
#[cfg(feature = "bedrock")]
use neuralbridge::providers::{AwsCredentials, Bedrock};
#[cfg(feature = "vertex")]
use neuralbridge::providers::{GoogleAuth, Vertex};
use neuralbridge::router::{AnswerCache, SmartRouter, Target};
#[cfg(feature = "redis")]
use neuralbridge::store_redis::{RedisCache, RedisKnowledge, RedisPacer, TrustBounds};

use super::check::{route_vouch, target_id};
use super::sections::strategy;
use super::{Config, ConfigFileError, ProviderConfig, ProviderKind, RouteConfig, RouteSpec};

impl Config {
    /// Builds the adapters (reading keys from the environment) and the router; with
    /// `[store] redis`, its health is shared through Redis (this needs a tokio runtime:
    /// the connection is made in the background). Besides
    /// the named routes, every target is a route of its own name (`provider/model`):
    /// that target first, then the others in order, so a caller naming one model still
    /// fails over.
    pub fn build(&self) -> Result<SmartRouter, ConfigFileError> {
        #[cfg(not(any(
            feature = "rustls-aws-lc",
            feature = "rustls-ring",
            feature = "native-tls"
        )))]
        for (name, p) in &self.providers {
            if !p
                .base_url
                .as_deref()
                .is_some_and(|u| u.starts_with("http://"))
            {
                return Err(ConfigFileError(format!(
                    "providers.{name}: this nb was built without TLS (no default features): \
                     it reaches only http:// base URLs (the default features have TLS: \
                     cargo install neuralbridge-cli)"
                )));
            }
        }
        let mut builder = SmartRouter::builder();
        let ids: Vec<TargetId> = self
            .targets
            .iter()
            .map(|t| TargetId::new(&t.provider, &t.model))
            .collect();
        let mut pacing = HashMap::new();
        for (i, t) in self.targets.iter().enumerate() {
            let p = &self.providers[&t.provider];
            let at = |e: String| {
                ConfigFileError(format!("targets[{i}] ({}/{}): {e}", t.provider, t.model))
            };
            let mut target = if t.embeddings {
                Target::embedding(ids[i].clone(), embedder(p, &t.model).map_err(at)?)
            } else {
                Target::shared(
                    ids[i].clone(),
                    adapter(&t.provider, p, &t.model).map_err(at)?,
                )
            };
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
            target = target.with_vouch_only(t.vouch_only);
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
            builder = builder.knowledge(self.shared_knowledge(url, &ids, pacing)?);
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
            let cache: Arc<dyn AnswerCache> = match (self.store.cache.as_deref(), &self.store.redis)
            {
                (Some("redis"), Some(url)) => self.shared_cache(url, &ids)?,
                _ => Arc::new(neuralbridge::router::InMemoryCache::new(
                    self.store.cache_capacity.unwrap_or(10_000),
                )),
            };
            builder = builder.cache(cache);
        }
        builder.build().map_err(|e| ConfigFileError(e.to_string()))
    }

    /// `[store] redis`: the health every replica sees, kept in Redis (with the fleet's
    /// pace when targets have one).
    #[cfg(feature = "redis")]
    fn shared_knowledge(
        &self,
        url: &str,
        ids: &[TargetId],
        pacing: HashMap<TargetId, PaceLimits>,
    ) -> Result<Arc<dyn Knowledge>, ConfigFileError> {
        let mut local =
            InMemoryKnowledge::new(self.breaker()?, self.cooldowns()?, Arc::new(SystemClock));
        let ns = self.store.namespace.as_deref().unwrap_or("default");
        if !pacing.is_empty() {
            // With a shared store, a target's pace holds for the whole fleet.
            let fleet = RedisPacer::connect(url, ns, pacing)
                .map_err(|e| ConfigFileError(format!("store.redis: {e}")))?;
            local = local.with_pacer(Arc::new(fleet));
        }
        let shared = RedisKnowledge::connect_with(url, ns, local, self.bounds(ids)?)
            .map_err(|e| ConfigFileError(format!("store.redis: {e}")))?;
        Ok(Arc::new(shared))
    }

    /// `[store] redis` in an `nb` built without the `redis` feature: a clear error.
    #[cfg(not(feature = "redis"))]
    fn shared_knowledge(
        &self,
        _url: &str,
        _ids: &[TargetId],
        _pacing: HashMap<TargetId, PaceLimits>,
    ) -> Result<Arc<dyn Knowledge>, ConfigFileError> {
        Err(without_redis())
    }

    /// `[store] cache = "redis"`: answers shared by replicas.
    #[cfg(feature = "redis")]
    fn shared_cache(
        &self,
        url: &str,
        ids: &[TargetId],
    ) -> Result<Arc<dyn AnswerCache>, ConfigFileError> {
        Ok(Arc::new(
            RedisCache::new(url, self.store.namespace.as_deref().unwrap_or("default"))
                .map_err(|e| ConfigFileError(format!("store.redis: {e}")))?
                .with_bounds(self.bounds(ids)?),
        ))
    }

    /// `[store] cache = "redis"` in an `nb` built without the `redis` feature.
    #[cfg(not(feature = "redis"))]
    fn shared_cache(
        &self,
        _url: &str,
        _ids: &[TargetId],
    ) -> Result<Arc<dyn AnswerCache>, ConfigFileError> {
        Err(without_redis())
    }

    /// What this config takes from Redis: facts and answers about its own targets,
    /// cool-downs and open breakers no longer than its own maxima, signed with the
    /// shared secret when `store.secret_env` names one.
    #[cfg(feature = "redis")]
    fn bounds(&self, ids: &[TargetId]) -> Result<TrustBounds, ConfigFileError> {
        let bounds = TrustBounds::new(&self.breaker()?, &self.cooldowns()?)
            .with_targets(ids.iter().cloned());
        let Some(var) = &self.store.secret_env else {
            return Ok(bounds);
        };
        match std::env::var(var) {
            Ok(s) if !s.is_empty() => Ok(bounds.with_secret(s.into())),
            _ => Err(ConfigFileError(format!(
                "store.secret_env: the environment variable {var} is not set (every replica \
                 needs the same secret)"
            ))),
        }
    }

    /// A route's JSON Schema validator, read from its file.
    pub(super) fn route_schema(
        &self,
        name: &str,
        r: &RouteConfig,
    ) -> Result<Option<Arc<dyn neuralbridge::guard::Validator>>, ConfigFileError> {
        let Some(file) = &r.schema else {
            return Ok(None);
        };
        let path = match &self.base_dir {
            Some(dir) => dir.join(file),
            None => PathBuf::from(file),
        };
        let at = format!("routes.{name}.schema");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| ConfigFileError(format!("{at}: cannot read {}: {e}", path.display())))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| ConfigFileError(format!("{at}: {} is not JSON: {e}", path.display())))?;
        compile_schema(&value)
            .map(Some)
            .map_err(|e| ConfigFileError(format!("{at}: {}: {e}", path.display())))
    }
}

/// A JSON Schema document compiled into a validator.
#[cfg(feature = "schema")]
pub fn compile_schema(
    value: &serde_json::Value,
) -> Result<Arc<dyn neuralbridge::guard::Validator>, String> {
    neuralbridge::guard::JsonSchema::new(value)
        .map(|s| Arc::new(s) as Arc<dyn neuralbridge::guard::Validator>)
        .map_err(|e| e.to_string())
}

/// A JSON Schema document compiled into a validator: refused, in an `nb` built without
/// the `schema` feature.
#[cfg(not(feature = "schema"))]
pub fn compile_schema(
    _: &serde_json::Value,
) -> Result<Arc<dyn neuralbridge::guard::Validator>, String> {
    Err(
        "this nb was built without the `schema` feature (JSON Schema validation; the \
         default features have it: cargo install neuralbridge-cli)"
            .into(),
    )
}

/// The error of a `[store] redis` config in an `nb` built without Redis.
#[cfg(not(feature = "redis"))]
fn without_redis() -> ConfigFileError {
    ConfigFileError(
        "store.redis: this nb was built without the `redis` feature (the default \
         features have it: cargo install neuralbridge-cli)"
            .into(),
    )
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
        ProviderKind::OpenaiResponses => {
            let mut b = OpenAiResponses::builder(model).allow_insecure_http(p.allow_insecure_http);
            if let Some(u) = &p.base_url {
                b = b.base_url(u.clone());
            }
            if let Some(k) = key {
                b = b.api_key(k);
            }
            Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
        }
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
        ProviderKind::Bedrock => bedrock(p, model),
        ProviderKind::VertexGemini | ProviderKind::VertexAnthropic => vertex(name, p, model),
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

/// An AWS Bedrock adapter (the `bedrock` feature).
#[cfg(feature = "bedrock")]
fn bedrock(p: &ProviderConfig, model: &str) -> Result<Arc<dyn Provider>, String> {
    let mut b = Bedrock::builder(model).allow_insecure_http(p.allow_insecure_http);
    if let Some(r) = &p.region {
        b = b.region(r.clone());
    }
    if let Some(u) = &p.base_url {
        b = b.base_url(u.clone());
    }
    if let Some(profile) = &p.profile {
        b = b.credentials(AwsCredentials::from_profile(Some(profile)).map_err(|e| e.to_string())?);
    }
    Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
}

/// `kind = "bedrock"` in an `nb` built without the `bedrock` feature: a clear error.
#[cfg(not(feature = "bedrock"))]
fn bedrock(_: &ProviderConfig, _: &str) -> Result<Arc<dyn Provider>, String> {
    Err(
        "this nb was built without the `bedrock` feature (the default features have it: \
         cargo install neuralbridge-cli)"
            .into(),
    )
}

/// A Vertex AI adapter, Gemini or Anthropic models (the `vertex` feature).
#[cfg(feature = "vertex")]
fn vertex(name: &str, p: &ProviderConfig, model: &str) -> Result<Arc<dyn Provider>, String> {
    let (Some(project), Some(region)) = (p.project.clone(), p.region.clone()) else {
        return Err(format!(
            "provider {name}: Vertex needs `project` and `region`"
        ));
    };
    let mut b = if p.kind == ProviderKind::VertexGemini {
        Vertex::gemini(project, region, model)
    } else {
        Vertex::anthropic(project, region, model)
    }
    .allow_insecure_http(p.allow_insecure_http);
    if let Some(u) = &p.base_url {
        b = b.base_url(u.clone());
    }
    if let Some(f) = &p.credentials_file {
        b = b.auth(
            GoogleAuth::service_account_file(std::path::Path::new(f)).map_err(|e| e.to_string())?,
        );
    }
    Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
}

/// A Vertex AI kind in an `nb` built without the `vertex` feature: a clear error.
#[cfg(not(feature = "vertex"))]
fn vertex(_: &str, _: &ProviderConfig, _: &str) -> Result<Arc<dyn Provider>, String> {
    Err(
        "this nb was built without the `vertex` feature (the default features have it: \
         cargo install neuralbridge-cli)"
            .into(),
    )
}

/// The embeddings client of an OpenAI-compatible provider (`POST {base}/embeddings`).
fn embedder(p: &ProviderConfig, model: &str) -> Result<Arc<dyn Embedder>, String> {
    let preset = match p.kind {
        ProviderKind::Openai | ProviderKind::OpenaiResponses => Preset::OpenAi,
        ProviderKind::Deepseek => Preset::DeepSeek,
        ProviderKind::Mistral => Preset::Mistral,
        ProviderKind::Groq => Preset::Groq,
        ProviderKind::Ollama => Preset::Ollama,
        ProviderKind::Vllm => Preset::Vllm,
        ProviderKind::GeminiOpenai => Preset::GeminiOpenAi,
        ProviderKind::OpenaiCompatible => Preset::Generic,
        ProviderKind::Azure
        | ProviderKind::Anthropic
        | ProviderKind::Gemini
        | ProviderKind::Bedrock
        | ProviderKind::VertexGemini
        | ProviderKind::VertexAnthropic => {
            return Err(format!(
                "embeddings need an OpenAI-compatible provider, not {:?}",
                p.kind
            ));
        }
    };
    let Some(base) = p.base_url.as_deref().or(preset.default_base_url()) else {
        return Err("embeddings need the provider's `base_url`".into());
    };
    let var = p
        .api_key_env
        .as_deref()
        .or(preset.key_env())
        .ok_or("embeddings need a key: set the provider's `api_key_env`")?;
    let key = ApiKey::from_env(var).map_err(|e| e.to_string())?;
    let b = OpenAiEmbeddings::builder(model)
        .base_url(base)
        .api_key(key)
        .allow_insecure_http(p.allow_insecure_http);
    Ok(Arc::new(b.build().map_err(|e| e.to_string())?))
}

#[cfg(test)]
mod schema_tests {
    use super::compile_schema;
    use serde_json::json;

    #[cfg(feature = "schema")]
    #[test]
    fn a_schema_compiles_into_a_validator_and_a_bad_one_is_an_error() {
        use neuralbridge::core::ChatResponse;
        let v = compile_schema(&json!({"type": "object", "required": ["a"]})).unwrap();
        assert!(v.validate(&ChatResponse::text(r#"{"a": 1}"#)).is_ok());
        assert!(v.validate(&ChatResponse::text("{}")).is_err());
        assert!(compile_schema(&json!({"type": 12})).is_err());
    }

    /// An `nb` built without the feature refuses a schema and names the feature.
    #[cfg(not(feature = "schema"))]
    #[test]
    fn without_the_schema_feature_a_schema_is_refused_naming_the_feature() {
        let e = compile_schema(&json!({"type": "object"}))
            .err()
            .unwrap_or_default();
        assert!(e.contains("the `schema` feature"), "{e}");
    }
}
