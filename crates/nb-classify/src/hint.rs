//! Retry hints from every place providers put them.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use nb_core::{ApiError, HeaderFacts};
use regex::Regex;

/// Parses a Go/protobuf-style duration: `6m0s`, `1.57s`, `12ms`, `1h2m3s`, `37s`, `500us`.
/// A bare number is seconds.
///
/// ```
/// use std::time::Duration;
/// use nb_classify::parse_duration;
/// assert_eq!(parse_duration("6m0s"), Some(Duration::from_secs(360)));
/// assert_eq!(parse_duration("1.57s"), Some(Duration::from_millis(1570)));
/// assert_eq!(parse_duration("12ms"), Some(Duration::from_millis(12)));
/// assert_eq!(parse_duration("soon"), None);
/// ```
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs);
    }
    let mut total = 0.0_f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_end..];
    }
    secs_to_duration(total)
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    (0.0..1e9)
        .contains(&secs)
        .then(|| Duration::from_secs_f64(secs))
}

// `None` only if a pattern failed to compile: then body phrases are simply not read.
static BODY_HINT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:try again in|retry after|retry in|reset(?:s)? (?:after|in)|resets in)\s+((?:\d+(?:\.\d+)?\s*[a-z]+\s*)+)",
    )
    .ok()
});

static SPAN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(\d+(?:\.\d+)?)\s*([a-z]+)").ok());

/// What a context-window rejection says about sizes: the model's limit and, when the
/// message gives it, the request's actual size in tokens.
///
/// ```
/// use nb_classify::context_sizes;
/// assert_eq!(context_sizes("This model's maximum context length is 8192 tokens. However, your messages resulted in 8227 tokens."), (Some(8192), Some(8227)));
/// assert_eq!(context_sizes("prompt is too long: 207791 tokens > 200000 maximum"), (Some(200000), Some(207791)));
/// assert_eq!(context_sizes("input length and `max_tokens` exceed context limit: 182831 + 64000 > 200000"), (Some(200000), Some(246831)));
/// assert_eq!(context_sizes("The input token count (1200000) exceeds the maximum number of tokens allowed (1048576)."), (Some(1048576), Some(1200000)));
/// assert_eq!(context_sizes("something else"), (None, None));
/// ```
pub fn context_sizes(msg: &str) -> (Option<u64>, Option<u64>) {
    static PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
        [
            // OpenAI, DeepSeek, vLLM: "maximum context length is 8192 tokens. However,
            // you requested 8203 tokens" / "your messages resulted in 8227 tokens".
            r"(?i)maximum context length is (?P<limit>\d+)(?:.*?(?:requested|resulted in) (?P<size>\d+))?",
            // Anthropic: "prompt is too long: 207791 tokens > 200000 maximum".
            r"(?i)prompt is too long: (?P<size>\d+) tokens > (?P<limit>\d+)",
            // Anthropic: "exceed context limit: 182831 + 64000 > 200000".
            r"(?i)exceed context limit: (?P<a>\d+) \+ (?P<b>\d+) > (?P<limit>\d+)",
            // Gemini: "input token count (1200000) exceeds the maximum number of tokens
            // allowed (1048576)".
            r"(?i)token count \(?(?P<size>\d+)\)? exceeds the maximum number of tokens allowed \(?(?P<limit>\d+)",
            r"(?i)maximum input length is (?P<limit>\d+)",
            r"(?i)context (?:window|length|size) (?:of|is) (?P<limit>\d+)",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    });
    for re in PATTERNS.iter() {
        if let Some(c) = re.captures(msg) {
            let n = |k: &str| c.name(k).and_then(|m| m.as_str().parse::<u64>().ok());
            let size = n("size").or_else(|| Some(n("a")? + n("b")?));
            return (n("limit"), size);
        }
    }
    (None, None)
}

/// A reset phrase in an error message: "Please try again in 644ms", "retry after 6
/// seconds", "reset after 2m 13s", and compound durations written together ("try again
/// in 7m12s", "1m26.4s", "1h2m"). A phrase whose first unit is not a time unit ("retry
/// in 3 attempts") is no hint.
pub fn hint_from_message(msg: &str) -> Option<Duration> {
    let cap = BODY_HINT.as_ref()?.captures(msg)?;
    let mut total = 0.0;
    let mut read = 0;
    for m in SPAN.as_ref()?.captures_iter(&cap[1]) {
        let n: f64 = m[1].parse().ok()?;
        let factor = match m[2].to_ascii_lowercase().as_str() {
            "ms" | "millisecond" | "milliseconds" => 1e-3,
            "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
            _ => break,
        };
        total += n * factor;
        read += 1;
    }
    if read == 0 {
        return None;
    }
    secs_to_duration(total)
}

fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now).unwrap_or(Duration::ZERO)
}

/// The server's retry hint from headers alone: `retry-after-ms`, `retry-after` (seconds
/// or an HTTP date), then exhausted rate-limit buckets' reset times (OpenAI/Groq
/// durations, Anthropic RFC 3339 times).
pub fn hint_from_headers(h: &HeaderFacts, now: SystemTime) -> Option<Duration> {
    if let Some(ms) = h
        .retry_after_ms
        .as_deref()
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        if let Some(d) = secs_to_duration(ms / 1000.0) {
            return Some(d);
        }
    }
    if let Some(v) = h.retry_after.as_deref() {
        if let Some(d) = v.trim().parse::<f64>().ok().and_then(secs_to_duration) {
            return Some(d);
        }
        if let Ok(at) = httpdate::parse_http_date(v.trim()) {
            return Some(until(at, now));
        }
    }
    let mut best: Option<Duration> = None;
    for (name, value) in &h.rate_limit {
        // OpenAI/Groq: x-ratelimit-reset-{kind} pairs with x-ratelimit-remaining-{kind};
        // Anthropic: anthropic-ratelimit-{kind}-reset with anthropic-ratelimit-{kind}-remaining.
        let remaining_name = if let Some(kind) = name.strip_prefix("x-ratelimit-reset-") {
            format!("x-ratelimit-remaining-{kind}")
        } else if let Some(prefix) = name.strip_suffix("-reset") {
            format!("{prefix}-remaining")
        } else {
            continue;
        };
        if h.rate_limit(&remaining_name).map(str::trim) != Some("0") {
            continue;
        }
        let d = parse_duration(value).or_else(|| {
            humantime::parse_rfc3339_weak(value.trim())
                .ok()
                .map(|at| until(at, now))
        });
        if let Some(d) = d {
            best = Some(best.map_or(d, |b| b.max(d)));
        }
    }
    best
}

/// Every source in order of authority: headers, Gemini's `RetryInfo.retryDelay`, then a
/// reset phrase in the message.
pub fn retry_hint(e: &ApiError, now: SystemTime) -> Option<Duration> {
    hint_from_headers(&e.headers, now)
        .or_else(|| e.error.retry_delay.as_deref().and_then(parse_duration))
        .or_else(|| e.error.message.as_deref().and_then(hint_from_message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderFacts {
        let mut h = HeaderFacts::default();
        for (n, v) in pairs {
            h.record(n, v);
        }
        h
    }

    #[test]
    fn durations_in_every_documented_shape() {
        for (s, ms) in [
            ("6m0s", 360_000),
            ("1.57s", 1570),
            ("12ms", 12),
            ("1h2m3s", 3_723_000),
            ("37s", 37_000),
            ("2", 2000),
            ("0.5", 500),
        ] {
            assert_eq!(parse_duration(s), Some(Duration::from_millis(ms)), "{s}");
        }
        for bad in ["", "s", "5x", "-1", "1e400", "NaN", "inf"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn header_hints_in_order_of_authority() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            hint_from_headers(
                &headers(&[("retry-after", "2"), ("retry-after-ms", "1500")]),
                now
            ),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            hint_from_headers(&headers(&[("retry-after", "2.5")]), now),
            Some(Duration::from_millis(2500))
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            hint_from_headers(&headers(&[("retry-after", &date)]), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            hint_from_headers(&headers(&[("retry-after", &past)]), now),
            Some(Duration::ZERO)
        );
        // OpenAI buckets: only an exhausted bucket's reset counts.
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "1.5s"),
            ("x-ratelimit-remaining-tokens", "100"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ]);
        assert_eq!(
            hint_from_headers(&h, now),
            Some(Duration::from_millis(1500))
        );
        let h = headers(&[
            ("x-ratelimit-remaining-requests", "5"),
            ("x-ratelimit-reset-requests", "1.5s"),
        ]);
        assert_eq!(hint_from_headers(&h, now), None);
        // Anthropic: RFC 3339 reset times.
        let at = humantime::format_rfc3339_seconds(now + Duration::from_secs(42)).to_string();
        let h = headers(&[
            ("anthropic-ratelimit-requests-remaining", "0"),
            ("anthropic-ratelimit-requests-reset", &at),
        ]);
        assert_eq!(hint_from_headers(&h, now), Some(Duration::from_secs(42)));
        assert_eq!(
            hint_from_headers(&headers(&[("retry-after", "soon")]), now),
            None
        );
    }

    #[test]
    fn compound_durations_written_together() {
        // Regression: "7m12s" and "1m26.4s" were not found, so a 1 s default applied.
        assert_eq!(
            hint_from_message("Rate limit reached. Please try again in 7m12s."),
            Some(Duration::from_secs(432))
        );
        assert_eq!(
            hint_from_message("Please try again in 1m26.4s. Visit https://x/"),
            Some(Duration::from_secs_f64(86.4))
        );
        assert_eq!(
            hint_from_message("retry after 1h2m"),
            Some(Duration::from_secs(3720))
        );
        assert_eq!(hint_from_message("retry in 3 attempts"), None);
    }

    #[test]
    fn phrases_in_bodies() {
        assert_eq!(
            hint_from_message(
                "Limit 30000, Used 29937, Requested 385. Please try again in 644ms. Visit"
            ),
            Some(Duration::from_millis(644))
        );
        assert_eq!(
            hint_from_message("Please retry after 6 seconds."),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            hint_from_message("Rate limit; reset after 2m 13s"),
            Some(Duration::from_secs(133))
        );
        assert_eq!(
            hint_from_message("Please try again in 1.5s"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(hint_from_message("Please try again later."), None);
    }
}
