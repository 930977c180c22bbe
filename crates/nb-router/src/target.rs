//! Targets: a provider, a model, a credential, and what the planner needs to know of them.

use std::sync::Arc;

use nb_core::{Provider, TargetId};

/// Price per million tokens, for the cheapest-first strategy and the report's cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// Per million input tokens.
    pub input_per_mtok: f64,
    /// Per million output tokens.
    pub output_per_mtok: f64,
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
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.id)
            .field("weight", &self.weight)
            .field("cost", &self.cost)
            .field("context_window", &self.context_window)
            .field("tags", &self.tags)
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
        }
    }

    /// Its weight for the weighted strategy (default 1).
    pub fn with_weight(mut self, w: u32) -> Self {
        self.weight = w;
        self
    }

    /// Its price.
    pub fn with_cost(mut self, input_per_mtok: f64, output_per_mtok: f64) -> Self {
        self.cost = Some(Cost {
            input_per_mtok,
            output_per_mtok,
        });
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
