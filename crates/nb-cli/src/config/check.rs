//! Refusing a file that cannot work, with the key to change.

use std::time::Duration;

use neuralbridge::core::TargetId;
use neuralbridge::router::VouchMode;

use super::{Config, ConfigFileError, MINIMAL_EXAMPLE, RouteConfig, RouteSpec};

pub(super) fn ms(key: &str, v: Option<u64>) -> Result<Option<Duration>, ConfigFileError> {
    match v {
        Some(0) => Err(ConfigFileError(format!(
            "{key}: 0 cannot work (give a duration in milliseconds above zero)"
        ))),
        Some(n) => Ok(Some(Duration::from_millis(n))),
        None => Ok(None),
    }
}

pub(super) fn share(key: &str, v: Option<f64>) -> Result<Option<f64>, ConfigFileError> {
    match v {
        Some(x) if !(0.0..=1.0).contains(&x) || x.is_nan() => Err(ConfigFileError(format!(
            "{key}: {x} is not a share between 0 and 1"
        ))),
        other => Ok(other),
    }
}

pub(super) fn target_id(at: &str, spec: &str) -> Result<TargetId, ConfigFileError> {
    match spec.split_once('/') {
        Some((p, m)) if !p.is_empty() && !m.is_empty() => Ok(TargetId::new(p, m)),
        _ => Err(ConfigFileError(format!(
            "{at}: {spec:?} is not provider/model (for example \"openai/gpt-4o-mini\")"
        ))),
    }
}

impl Config {
    pub(super) fn check(&self) -> Result<(), ConfigFileError> {
        if self.targets.is_empty() {
            return Err(ConfigFileError(format!(
                "no [[targets]]: add at least one, for example\n\n{MINIMAL_EXAMPLE}"
            )));
        }
        for (i, t) in self.targets.iter().enumerate() {
            if !self.providers.contains_key(&t.provider) {
                let known: Vec<&String> = self.providers.keys().collect();
                return Err(ConfigFileError(format!(
                    "targets[{i}].provider: unknown provider {:?} (defined: {known:?})",
                    t.provider
                )));
            }
            if t.weight == Some(0) {
                return Err(ConfigFileError(format!(
                    "targets[{i}].weight: 0 would never be chosen (at least 1)"
                )));
            }
            if t.requests_per_minute == Some(0) || t.tokens_per_minute == Some(0) {
                return Err(ConfigFileError(format!(
                    "targets[{i}]: a pace of 0 per minute would never send a request"
                )));
            }
        }
        if matches!(self.policy.strategy.as_deref(), Some("weighted"))
            && self.targets.iter().all(|t| t.weight.is_none())
        {
            return Err(ConfigFileError(
                "policy.strategy: \"weighted\" needs a `weight` on at least one target".into(),
            ));
        }
        for (name, r) in &self.routes {
            if r.targets().is_empty() {
                return Err(ConfigFileError(format!("routes.{name}: no targets")));
            }
            for spec in r.targets() {
                let id = target_id(&format!("routes.{name}"), spec)?;
                if !self
                    .targets
                    .iter()
                    .any(|t| t.provider == id.provider() && t.model == id.model())
                {
                    return Err(ConfigFileError(format!(
                        "routes.{name}: {spec:?} is not one of the [[targets]]"
                    )));
                }
            }
        }
        let policy = self.policy()?;
        if policy.deadline < policy.attempt_timeout {
            return Err(ConfigFileError(format!(
                "policy.deadline_ms: {} ms is shorter than one attempt (policy.attempt_timeout_ms = {} ms): the call could never fail over",
                policy.deadline.as_millis(),
                policy.attempt_timeout.as_millis()
            )));
        }
        if policy.max_attempts == 0 {
            return Err(ConfigFileError(
                "policy.max_attempts: 0 would never send a request".into(),
            ));
        }
        self.breaker()?;
        self.cooldowns()?;
        if let Some(e) = &self.vouch.equivalence {
            if !matches!(e.as_str(), "strict" | "lexical" | "off") {
                return Err(ConfigFileError(format!(
                    "vouch.equivalence: {e:?} is not one of strict, lexical, off"
                )));
            }
        }
        match self.vouch.on_unvouchable.as_deref() {
            None | Some("serve-flagged" | "refuse") => {}
            Some(other) => {
                return Err(ConfigFileError(format!(
                    "vouch.on_unvouchable: {other:?} is not one of serve-flagged, refuse"
                )));
            }
        }
        if self.vouch.equivalence.as_deref() == Some("off") {
            // A vouching mode with no checker to vouch with would do nothing, silently.
            if self.vouch.always == Some(true) {
                return Err(ConfigFileError(
                    "vouch.always: vouching needs a checker, and vouch.equivalence is \"off\""
                        .into(),
                ));
            }
            for (name, r) in &self.routes {
                if let RouteSpec::Table(t) = r {
                    if !matches!(route_vouch(name, t)?, None | Some(VouchMode::Off)) {
                        return Err(ConfigFileError(format!(
                            "routes.{name}.vouch: vouching needs a checker, and vouch.equivalence is \"off\" (set it to \"strict\", or the route's vouch to \"off\")"
                        )));
                    }
                }
            }
        }
        ms("vouch.wait_ms", self.vouch.wait_ms)?;
        share("vouch.shadow_rate", self.vouch.shadow_rate)?;
        for (i, k) in self.gateway.keys.iter().enumerate() {
            match (&k.sha256, &k.env) {
                (Some(h), None) => {
                    if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
                        return Err(ConfigFileError(format!(
                            "gateway.keys[{i}].sha256: not a SHA-256 in hex (64 characters; `nb key hash` prints one)"
                        )));
                    }
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(ConfigFileError(format!(
                        "gateway.keys[{i}] ({}): give exactly one of `sha256` and `env`",
                        k.name
                    )));
                }
            }
        }
        for (i, k) in self.gateway.keys.iter().enumerate() {
            if k.requests_per_minute == Some(0) || k.tokens_per_minute == Some(0) {
                return Err(ConfigFileError(format!(
                    "gateway.keys[{i}] ({}): a limit of 0 per minute would refuse every call",
                    k.name
                )));
            }
            if k.spend_per_day.is_some_and(|x| x.is_nan() || x <= 0.0) {
                return Err(ConfigFileError(format!(
                    "gateway.keys[{i}].spend_per_day: must be above zero"
                )));
            }
        }
        ms("gateway.shutdown_grace_ms", self.gateway.shutdown_grace_ms)?;
        match (self.store.cache.as_deref(), &self.store.redis) {
            (None | Some("memory"), _) | (Some("redis"), Some(_)) => {}
            (Some("redis"), None) => {
                return Err(ConfigFileError(
                    "store.cache: \"redis\" needs store.redis".into(),
                ));
            }
            (Some(other), _) => {
                return Err(ConfigFileError(format!(
                    "store.cache: {other:?} is not one of memory, redis"
                )));
            }
        }
        for (name, r) in &self.routes {
            if let RouteSpec::Table(t) = r {
                ms(&format!("routes.{name}.cache_ttl_ms"), t.cache_ttl_ms)?;
                route_vouch(name, t)?;
            }
        }
        if self.store.secret_env.is_some() && self.store.redis.is_none() {
            return Err(ConfigFileError(
                "store.secret_env: a secret signs what is shared on Redis; it needs store.redis"
                    .into(),
            ));
        }
        if let Some(url) = &self.store.redis {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(ConfigFileError(
                    "store.redis: not a redis:// or rediss:// URL".into(),
                ));
            }
        }
        ms("gateway.header_timeout_ms", self.gateway.header_timeout_ms)?;
        if self.gateway.max_connections == Some(0)
            || self.gateway.max_connections_per_client == Some(0)
        {
            return Err(ConfigFileError(
                "gateway.max_connections: 0 would refuse every connection".into(),
            ));
        }
        if self.gateway.default_max_tokens == Some(0) {
            return Err(ConfigFileError(
                "gateway.default_max_tokens: 0 would refuse every answer".into(),
            ));
        }
        if self.gateway.max_body_bytes == Some(0) {
            return Err(ConfigFileError(
                "gateway.max_body_bytes: 0 would refuse every request".into(),
            ));
        }
        if let Some(l) = &self.gateway.listen {
            l.parse::<std::net::SocketAddr>().map_err(|e| {
                ConfigFileError(format!("gateway.listen: {l:?} is not host:port ({e})"))
            })?;
        }
        Ok(())
    }
}

/// A route's vouching mode from `vouch` and `vouch_sample_rate`.
pub(super) fn route_vouch(
    name: &str,
    r: &RouteConfig,
) -> Result<Option<VouchMode>, ConfigFileError> {
    let rate = share(
        &format!("routes.{name}.vouch_sample_rate"),
        r.vouch_sample_rate,
    )?;
    Ok(match (r.vouch.as_deref(), rate) {
        (None, None) => None,
        (Some("always"), _) => Some(VouchMode::Always),
        (Some("off"), None) => Some(VouchMode::Off),
        (Some("off"), Some(_)) => {
            return Err(ConfigFileError(format!(
                "routes.{name}.vouch_sample_rate: with vouch = \"off\" nothing is vouched for"
            )));
        }
        (None | Some("on-failover"), Some(p)) => Some(VouchMode::Sampled(p)),
        (Some("on-failover"), None) => Some(VouchMode::OnFailover),
        (Some(other), _) => {
            return Err(ConfigFileError(format!(
                "routes.{name}.vouch: {other:?} is not one of always, on-failover, off"
            )));
        }
    })
}
