//! Redis is input, not truth: what a fact or cached answer read from it may say is
//! bounded by the configuration of the replica reading it, and — with a shared secret —
//! only what a replica holding the secret wrote is believed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use nb_breaker::{BreakerConfig, CooldownPolicy};
use nb_core::TargetId;

use crate::facts::WireScope;

/// What a fact or entry read from Redis may say, at most. A fact beyond a bound is
/// clamped to it (an open breaker or a cool-down never lasts longer than this replica's
/// own config allows); a fact or answer about a target the config does not have is
/// ignored.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TrustBounds {
    /// The longest cool-down a fact may start (`cooldowns.max_ms`).
    pub max_cooldown: Duration,
    /// The longest a fact may open a breaker for (the breaker's longest open period).
    pub max_open: Duration,
    /// The config's targets; facts and answers about any other are ignored. Empty: any
    /// target is taken (a store used without a config).
    pub targets: HashSet<TargetId>,
    /// A secret every replica shares ([`with_secret`](Self::with_secret)): what they
    /// write is signed with it (HMAC-SHA-256), and what is read without a valid
    /// signature is ignored. `None`: nothing is signed, anything well formed is read.
    secret: Option<Arc<SecretString>>,
}

impl Default for TrustBounds {
    fn default() -> Self {
        Self {
            max_cooldown: CooldownPolicy::default().max,
            max_open: BreakerConfig::default().backoff.max,
            targets: HashSet::new(),
            secret: None,
        }
    }
}

impl TrustBounds {
    /// The bounds of a replica with these breakers and cool-downs.
    pub fn new(breaker: &BreakerConfig, cooldowns: &CooldownPolicy) -> Self {
        Self {
            max_cooldown: cooldowns.max,
            max_open: breaker.backoff.max,
            targets: HashSet::new(),
            secret: None,
        }
    }

    /// Signs what this replica writes (facts, cached answers) with `secret`, and ignores
    /// what it reads unless signed with the same secret: a client that can write to
    /// Redis but does not hold the secret cannot open a breaker, start a cool-down nor
    /// plant an answer. Every replica of a namespace needs the same secret.
    pub fn with_secret(mut self, secret: SecretString) -> Self {
        self.secret = Some(Arc::new(secret));
        self
    }

    /// Whether writes are signed and reads must be.
    pub fn signs(&self) -> bool {
        self.secret.is_some()
    }

    /// `body` as written to Redis: as is without a secret, else prefixed by its
    /// signature (hex) and a space.
    pub(crate) fn seal(&self, body: &str) -> String {
        match self.mac(body) {
            Some(mac) => format!("{} {body}", hex(&mac.finalize().into_bytes())),
            None => body.to_owned(),
        }
    }

    /// The body of `sealed`, read from Redis, when it is to be believed: without a
    /// secret, all of it; with one, the part after a signature that matches it (in
    /// constant time).
    pub(crate) fn open<'a>(&self, sealed: &'a str) -> Option<&'a str> {
        let Some(mac) = self.mac_prefix() else {
            return Some(sealed);
        };
        let (sig, body) = sealed.split_once(' ')?;
        let sig = unhex(sig)?;
        let mut mac = mac;
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).ok()?;
        Some(body)
    }

    /// The signature of `body` (hex), when there is a secret.
    pub(crate) fn signature(&self, body: &str) -> Option<String> {
        self.mac(body).map(|m| hex(&m.finalize().into_bytes()))
    }

    /// Whether `sig` is the signature of `body` (always, without a secret).
    pub(crate) fn verify(&self, body: &str, sig: Option<&str>) -> bool {
        let Some(mut mac) = self.mac_prefix() else {
            return true;
        };
        let Some(sig) = sig.and_then(unhex) else {
            return false;
        };
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).is_ok()
    }

    fn mac(&self, body: &str) -> Option<Hmac<Sha256>> {
        let mut mac = self.mac_prefix()?;
        mac.update(body.as_bytes());
        Some(mac)
    }

    fn mac_prefix(&self) -> Option<Hmac<Sha256>> {
        let s = self.secret.as_ref()?;
        // HMAC takes a key of any length.
        Hmac::<Sha256>::new_from_slice(s.expose_secret().as_bytes()).ok()
    }

    /// Takes facts and answers about these targets only.
    pub fn with_targets(mut self, targets: impl IntoIterator<Item = TargetId>) -> Self {
        self.targets.extend(targets);
        self
    }

    /// Whether `t` is one of the config's targets.
    pub fn knows_target(&self, t: &TargetId) -> bool {
        self.targets.is_empty() || self.targets.contains(t)
    }

    pub(crate) fn knows_scope(&self, s: &WireScope) -> bool {
        if self.targets.is_empty() {
            return true;
        }
        match s {
            WireScope::Target { target } => self.targets.contains(target),
            WireScope::Model { provider, model } => self
                .targets
                .iter()
                .any(|t| t.provider() == provider && t.model() == model),
            WireScope::Credential { provider, .. } | WireScope::Provider { provider } => {
                self.targets.iter().any(|t| t.provider() == provider)
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_the_secret_signed_is_opened() {
        let plain = TrustBounds::default();
        assert_eq!(plain.seal("{}"), "{}");
        assert_eq!(plain.open("{}"), Some("{}"));
        let a = TrustBounds::default().with_secret(SecretString::from("one secret"));
        let b = TrustBounds::default().with_secret(SecretString::from("another"));
        let sealed = a.seal(r#"{"until_ms":1}"#);
        assert_eq!(a.open(&sealed), Some(r#"{"until_ms":1}"#));
        assert_eq!(b.open(&sealed), None, "another secret does not open it");
        assert_eq!(
            a.open(r#"{"until_ms":1}"#),
            None,
            "unsigned is not believed"
        );
        let forged = sealed.replace("\"until_ms\":1", "\"until_ms\":9");
        assert_eq!(a.open(&forged), None, "a changed body fails its signature");
        assert_eq!(a.open("zz {}"), None, "junk never panics");
        let sig = a.signature("x");
        assert!(a.verify("x", sig.as_deref()));
        assert!(!a.verify("y", sig.as_deref()));
        assert!(!a.verify("x", None));
        assert!(plain.verify("x", None));
        assert!(!format!("{a:?}").contains("one secret"), "never printed");
    }
}
