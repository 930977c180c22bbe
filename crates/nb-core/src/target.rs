//! [`TargetId`]: the unit of health. A target is (provider, model, credential).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Names one target: a provider, a model on it, and which of the provider's credentials
/// is used. Cheap to clone (shared strings). The credential is a *label* the user chose
/// ("primary-key"), never the key itself.
///
/// ```
/// use nb_core::TargetId;
/// let t = TargetId::new("openai", "gpt-4o-mini").with_credential("team-a");
/// assert_eq!(t.to_string(), "openai/gpt-4o-mini@team-a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TargetId {
    provider: Arc<str>,
    model: Arc<str>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credential: Option<Arc<str>>,
}

impl TargetId {
    /// A target on `provider` serving `model` with the provider's default credential.
    pub fn new(provider: impl AsRef<str>, model: impl AsRef<str>) -> Self {
        Self {
            provider: Arc::from(provider.as_ref()),
            model: Arc::from(model.as_ref()),
            credential: None,
        }
    }

    /// The same target with a named credential.
    pub fn with_credential(mut self, label: impl AsRef<str>) -> Self {
        self.credential = Some(Arc::from(label.as_ref()));
        self
    }

    /// The provider's name.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The model's name.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The credential's label, if not the default.
    pub fn credential(&self) -> Option<&str> {
        self.credential.as_deref()
    }
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)?;
        if let Some(c) = &self.credential {
            write!(f, "@{c}")?;
        }
        Ok(())
    }
}
