//! The link with Redis: time limits, replica ids, clocks, and URLs without passwords.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(crate) const OP_TIMEOUT: Duration = Duration::from_millis(500);
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A random id for this store (its own messages are skipped when they come back).
pub(crate) fn replica_id() -> String {
    use std::hash::BuildHasher as _;
    let seed = std::collections::hash_map::RandomState::new();
    format!(
        "{:016x}",
        seed.hash_one((std::process::id(), unix_ms_now(), Instant::now()))
    )
}

pub(crate) fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub(crate) fn redact(url: &str) -> String {
    // redis://user:password@host → redis://user:***@host
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        assert_eq!(
            redact("redis://user:hunter2@cache:6379/0"),
            "redis://user:***@cache:6379/0"
        );
        assert_eq!(redact("redis://:hunter2@cache"), "redis://:***@cache");
        assert_eq!(redact("redis://cache:6379"), "redis://cache:6379");
    }
}
