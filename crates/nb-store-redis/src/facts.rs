//! The facts replicas share about health, as they travel and are stored.

use nb_breaker::ScopeKey;
use nb_core::{FailureClass, TargetId};
use serde::{Deserialize, Serialize};

/// A scope, as it travels between replicas.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "scope", rename_all = "snake_case")]
pub(crate) enum WireScope {
    Target {
        target: TargetId,
    },
    Model {
        provider: String,
        model: String,
    },
    Credential {
        provider: String,
        credential: String,
    },
    Provider {
        provider: String,
    },
}

impl WireScope {
    pub(crate) fn of(key: &ScopeKey) -> Self {
        match key {
            ScopeKey::Target(t) => Self::Target { target: t.clone() },
            ScopeKey::Model { provider, model } => Self::Model {
                provider: provider.clone(),
                model: model.clone(),
            },
            ScopeKey::Credential {
                provider,
                credential,
            } => Self::Credential {
                provider: provider.clone(),
                credential: credential.clone(),
            },
            ScopeKey::Provider(p) => Self::Provider {
                provider: p.clone(),
            },
        }
    }

    pub(crate) fn key(&self) -> ScopeKey {
        match self {
            Self::Target { target } => ScopeKey::Target(target.clone()),
            Self::Model { provider, model } => ScopeKey::Model {
                provider: provider.clone(),
                model: model.clone(),
            },
            Self::Credential {
                provider,
                credential,
            } => ScopeKey::Credential {
                provider: provider.clone(),
                credential: credential.clone(),
            },
            Self::Provider { provider } => ScopeKey::Provider(provider.clone()),
        }
    }

    /// The hash tag of its key: one slot per scope on Redis Cluster.
    pub(crate) fn tag(&self) -> String {
        let raw = match self {
            Self::Target { target } => format!("t={target}"),
            Self::Model { provider, model } => format!("m={provider}/{model}"),
            Self::Credential {
                provider,
                credential,
            } => format!("c={provider}@{credential}"),
            Self::Provider { provider } => format!("p={provider}"),
        };
        // Braces would end the hash tag early.
        raw.replace(['{', '}'], "_")
    }
}

/// One fact a replica learned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case")]
pub(crate) enum Fact {
    /// A breaker opened, until then.
    Open { target: TargetId, until_ms: u64 },
    /// A cool-down, until then.
    Cool {
        #[serde(flatten)]
        scope: WireScope,
        until_ms: u64,
        cause: Option<FailureClass>,
    },
    /// A context window a rejection stated; kept a day after it was last learned.
    Window {
        target: TargetId,
        tokens: u64,
        until_ms: u64,
    },
}

impl Fact {
    pub(crate) fn until_ms(&self) -> u64 {
        match self {
            Self::Open { until_ms, .. }
            | Self::Cool { until_ms, .. }
            | Self::Window { until_ms, .. } => *until_ms,
        }
    }

    pub(crate) fn redis_key(&self, ns: &str) -> String {
        match self {
            Self::Open { target, .. } => {
                format!(
                    "nb:{ns}:{{{}}}:open",
                    WireScope::Target {
                        target: target.clone()
                    }
                    .tag()
                )
            }
            Self::Cool { scope, .. } => format!("nb:{ns}:{{{}}}:cool", scope.tag()),
            Self::Window { target, .. } => {
                format!(
                    "nb:{ns}:{{{}}}:window",
                    WireScope::Target {
                        target: target.clone()
                    }
                    .tag()
                )
            }
        }
    }

    pub(crate) fn about(&self) -> String {
        match self {
            Self::Open { target, .. } | Self::Window { target, .. } => target.to_string(),
            Self::Cool { scope, .. } => scope.tag(),
        }
    }
}

/// A fact on the channel, with who sent it and, when the replicas share a secret, the
/// fact's signature (of its JSON).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Message {
    pub(crate) from: String,
    #[serde(flatten)]
    pub(crate) fact: Fact,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sig: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use nb_breaker::ScopeKey;
    use nb_core::{FailureClass, TargetId};

    #[test]
    fn keys_are_hash_tagged_per_scope_and_facts_round_trip() {
        let t = TargetId::new("openai", "gpt-4o");
        let open = Fact::Open {
            target: t.clone(),
            until_ms: 5,
        };
        assert_eq!(open.redis_key("prod"), "nb:prod:{t=openai/gpt-4o}:open");
        let cool = Fact::Cool {
            scope: WireScope::of(&ScopeKey::Credential {
                provider: "openai".into(),
                credential: "default".into(),
            }),
            until_ms: 7,
            cause: Some(FailureClass::AuthFailure),
        };
        assert_eq!(cool.redis_key("prod"), "nb:prod:{c=openai@default}:cool");
        for f in [open, cool] {
            let s = serde_json::to_string(&f).unwrap_or_default();
            assert_eq!(serde_json::from_str::<Fact>(&s).ok(), Some(f));
        }
        // A brace in a name cannot end the hash tag early.
        let odd = Fact::Open {
            target: TargetId::new("a}b", "m{"),
            until_ms: 1,
        };
        assert_eq!(odd.redis_key("x"), "nb:x:{t=a_b/m_}:open");
    }
}
