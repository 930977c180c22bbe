//! Targets: a provider, a model, a credential, and what the planner needs to know of them.

use std::sync::Arc;

use async_trait::async_trait;
use nb_core::{CallError, ChatRequest, ChatResponse, Embedder, Provider, TargetId};

/// Price per million tokens, for the cheapest-first strategy and the report's cost.
///
/// ```
/// use nb_core::Usage;
/// use nb_router::Cost;
/// // Anthropic-style prompt caching: reads at 10%, writes at 125% of the input price.
/// let c = Cost::new(3.0, 15.0).with_cached_input(0.3).with_cache_write(3.75);
/// let u = Usage::new(1_000_000, 0).with_cached(800_000);
/// assert!((c.price(&u) - (0.2 * 3.0 + 0.8 * 0.3)).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct Cost {
    /// Per million input tokens.
    pub input_per_mtok: f64,
    /// Per million output tokens.
    pub output_per_mtok: f64,
    /// Per million input tokens read from a prompt cache (default: the input price).
    pub cached_input_per_mtok: Option<f64>,
    /// Per million input tokens written to a prompt cache (default: the input price).
    pub cache_write_per_mtok: Option<f64>,
}

impl Cost {
    /// A price per million input and output tokens.
    pub fn new(input_per_mtok: f64, output_per_mtok: f64) -> Self {
        Self {
            input_per_mtok,
            output_per_mtok,
            cached_input_per_mtok: None,
            cache_write_per_mtok: None,
        }
    }

    /// The price of input tokens read from a cache.
    pub fn with_cached_input(mut self, per_mtok: f64) -> Self {
        self.cached_input_per_mtok = Some(per_mtok);
        self
    }

    /// The price of input tokens written to a cache.
    pub fn with_cache_write(mut self, per_mtok: f64) -> Self {
        self.cache_write_per_mtok = Some(per_mtok);
        self
    }

    /// What `usage` costs, in the currency of the prices: cached and cache-written
    /// input at their own prices, the rest of the input and the output at theirs.
    pub fn price(&self, usage: &nb_core::Usage) -> f64 {
        let read = usage.cached_tokens.unwrap_or(0);
        let write = usage.cache_write_tokens.unwrap_or(0);
        let plain = usage.input_tokens.saturating_sub(read + write);
        (plain as f64 * self.input_per_mtok
            + read as f64 * self.cached_input_per_mtok.unwrap_or(self.input_per_mtok)
            + write as f64 * self.cache_write_per_mtok.unwrap_or(self.input_per_mtok)
            + usage.output_tokens as f64 * self.output_per_mtok)
            / 1e6
    }
}

/// One target the router may send a request to.
#[derive(Clone)]
pub struct Target {
    pub(crate) id: TargetId,
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) weight: u32,
    pub(crate) cost: Option<Cost>,
    pub(crate) context_window: Option<u64>,
    pub(crate) tags: Vec<String>,
    /// Part kinds it cannot take (`"image"`, `"document"`).
    pub(crate) refuses: Vec<&'static str>,
    /// Asked only to vouch for other targets' answers, never to serve.
    pub(crate) vouch_only: bool,
    /// What answers [`SmartRouter::embed`](crate::SmartRouter::embed) on this target.
    pub(crate) embedder: Option<Arc<dyn Embedder>>,
    /// An embedding model only: never planned for chat.
    pub(crate) embed_only: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.id)
            .field("weight", &self.weight)
            .field("cost", &self.cost)
            .field("context_window", &self.context_window)
            .field("tags", &self.tags)
            .field("vouch_only", &self.vouch_only)
            .field("embeds", &self.embedder.is_some())
            .finish_non_exhaustive()
    }
}

impl Target {
    /// A target named `id`, served by `provider`.
    pub fn new(id: TargetId, provider: impl Provider + 'static) -> Self {
        Self::shared(id, Arc::new(provider))
    }

    /// A target served by a shared provider.
    pub fn shared(id: TargetId, provider: Arc<dyn Provider>) -> Self {
        Self {
            id,
            provider,
            weight: 1,
            cost: None,
            context_window: None,
            tags: Vec::new(),
            refuses: Vec::new(),
            vouch_only: false,
            embedder: None,
            embed_only: false,
        }
    }

    /// An embedding model: it answers [`SmartRouter::embed`](crate::SmartRouter::embed)
    /// (with the same breakers, cool-downs, pacing and classifier as chat targets) and is
    /// never planned for a chat call.
    ///
    /// Vectors from different embedding models live in different spaces: a failover to
    /// another model is only safe where the caller keeps the model with each vector
    /// (the report's `served_by`), or every target of the route serves the same model.
    pub fn embedding(id: TargetId, embedder: Arc<dyn Embedder>) -> Self {
        let mut t = Self::new(id, EmbedProbe(embedder.clone()));
        t.embedder = Some(embedder);
        t.embed_only = true;
        t
    }

    /// Lets this chat target answer [`SmartRouter::embed`](crate::SmartRouter::embed)
    /// too (a provider serving both under one model name, such as a local server).
    pub fn with_embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// A *reference target*: asked only to vouch for the answers of the other targets of
    /// its routes, never to serve one. With two serving providers, the only other
    /// possible reference for a failover answer is the target that just failed; a cheap
    /// model on a third provider (another model family: its errors are less correlated)
    /// gives failover answers an independent reference. Answers it vouched for say so
    /// ([`AnswerCheck::VouchedByReference`](nb_core::AnswerCheck::VouchedByReference)).
    pub fn with_vouch_only(mut self, vouch_only: bool) -> Self {
        self.vouch_only = vouch_only;
        self
    }

    /// Its weight for the weighted strategy (default 1).
    pub fn with_weight(mut self, w: u32) -> Self {
        self.weight = w;
        self
    }

    /// Its price per million input and output tokens.
    pub fn with_cost(mut self, input_per_mtok: f64, output_per_mtok: f64) -> Self {
        self.cost = Some(Cost::new(input_per_mtok, output_per_mtok));
        self
    }

    /// Its price, with prompt-cache prices.
    pub fn with_pricing(mut self, cost: Cost) -> Self {
        self.cost = Some(cost);
        self
    }

    /// It takes no images (a model without vision): requests with image parts skip it,
    /// with the reason in the call's report.
    pub fn without_vision(mut self) -> Self {
        if !self.refuses.contains(&"image") {
            self.refuses.push("image");
        }
        self
    }

    /// It takes no documents (PDFs, files): requests with document parts skip it.
    pub fn without_documents(mut self) -> Self {
        if !self.refuses.contains(&"document") {
            self.refuses.push("document");
        }
        self
    }

    /// Its context window in tokens: prompts estimated larger skip it.
    pub fn with_context_window(mut self, tokens: u64) -> Self {
        self.context_window = Some(tokens);
        self
    }

    /// A tag a call can require (`"same-family"`, `"eu"`, ...).
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Its id.
    pub fn id(&self) -> &TargetId {
        &self.id
    }
}

/// How candidates are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// In the order given: a primary and its fallbacks.
    #[default]
    Priority,
    /// A weighted random order (seeded: reproducible).
    Weighted,
    /// Lowest recent latency first (targets without data first, to learn them).
    LowestLatency,
    /// Cheapest first (targets without a price last).
    Cheapest,
}

/// The chat side of an embedding-only target. It is never planned for a chat call; the
/// router's background recovery probes and health checks call it, and it embeds the
/// probe's text, so an embedding target's breaker is healed by real embedding calls.
struct EmbedProbe(Arc<dyn Embedder>);

#[async_trait]
impl Provider for EmbedProbe {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let text = req.messages.last().map(|m| m.text()).unwrap_or_default();
        self.0.embed(&[text]).await?;
        Ok(ChatResponse::text(""))
    }
}
