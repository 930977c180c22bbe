//! Who is calling: gateway keys, known by their SHA-256 only.

use std::num::NonZeroU32;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::error::{ErrorType, error};
use crate::{Format, Gateway};

/// A caller of the gateway: a name (for logs and limits; the key itself is never kept)
/// and the SHA-256 of its key, with optional limits.
#[derive(Clone)]
#[non_exhaustive]
pub struct Key {
    /// Who it is.
    pub name: String,
    /// The SHA-256 of the key.
    pub sha256: [u8; 32],
    /// Requests per minute it may send.
    pub requests_per_minute: Option<NonZeroU32>,
    /// Tokens per minute (prompt estimate plus `max_tokens`).
    pub tokens_per_minute: Option<NonZeroU32>,
    /// The most it may spend per day, in the targets' price currency.
    pub spend_per_day: Option<f64>,
    /// It may ask for *less* vouching than its route's with `x-nb-vouch` (any key may
    /// ask for more).
    pub may_weaken_vouch: bool,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Key {
    /// A key known by its SHA-256.
    pub fn new(name: impl Into<String>, sha256: [u8; 32]) -> Self {
        Self {
            name: name.into(),
            sha256,
            requests_per_minute: None,
            tokens_per_minute: None,
            spend_per_day: None,
            may_weaken_vouch: false,
        }
    }

    /// A key given in clear (from the environment, say); only its digest is kept.
    pub fn from_secret(name: impl Into<String>, key: &str) -> Self {
        use sha2::Digest as _;
        Self::new(name, sha2::Sha256::digest(key.as_bytes()).into())
    }

    /// Limits its requests and tokens per minute.
    pub fn with_pace(mut self, requests: Option<NonZeroU32>, tokens: Option<NonZeroU32>) -> Self {
        self.requests_per_minute = requests;
        self.tokens_per_minute = tokens;
        self
    }

    /// Limits its spend per day.
    pub fn with_spend_per_day(mut self, limit: Option<f64>) -> Self {
        self.spend_per_day = limit;
        self
    }

    /// Lets it ask for less vouching than its route's.
    pub fn with_may_weaken_vouch(mut self, may: bool) -> Self {
        self.may_weaken_vouch = may;
        self
    }
}

impl Gateway {
    /// Who is calling: the key's name, or `None` when the key is not one of ours. A
    /// gateway without keys takes any caller.
    pub(crate) fn caller(&self, headers: &HeaderMap) -> Option<String> {
        use sha2::Digest as _;
        if self.keys.is_empty() {
            return Some("anonymous".into());
        }
        let key = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| {
                        // The scheme is case-insensitive (RFC 9110 §11.1).
                        let (scheme, rest) = v.split_once(' ')?;
                        scheme.eq_ignore_ascii_case("bearer").then_some(rest)
                    })
            })?;
        let digest: [u8; 32] = sha2::Sha256::digest(key.trim().as_bytes()).into();
        self.keys
            .iter()
            .find(|(_, d)| constant_time_eq(d, &digest))
            .map(|(n, _)| n.clone())
    }
}

pub(crate) fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the caller's key; `Err` is the 401 to send.
pub(crate) fn authorize(
    g: &Gateway,
    headers: &HeaderMap,
    format: Format,
) -> Result<String, Box<Response>> {
    g.caller(headers).ok_or_else(|| {
        Box::new(error(
            format,
            StatusCode::UNAUTHORIZED,
            ErrorType::Authentication,
            "the gateway does not know this key (send it as `Authorization: Bearer KEY` or `x-api-key: KEY`)",
            None,
        ))
    })
}
