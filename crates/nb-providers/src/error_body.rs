//! Reads a provider's error body, whatever shape it comes in, into [`ProviderError`].
//!
//! Shapes handled (see `docs/failure-taxonomy.md` for sources):
//! - OpenAI and most compatibles: `{"error":{"message","type","param","code"}}`;
//! - Anthropic: `{"type":"error","error":{"type","message","details":{"error_code"}}}`;
//! - Google RPC: `{"error":{"code":429,"message","status","details":[{"@type":…}]}}`;
//! - Gemini's OpenAI-compatible endpoint: the Google shape wrapped in a JSON array;
//! - Mistral and older vLLM: flat `{"object":"error","message","type","param","code"}`;
//! - Ollama native: `{"error":"<string>"}`; Azure: `innererror.code`; Groq `status_code`.

use nb_core::{ProviderError, QuotaViolation};
use serde_json::Value;

/// Reads an error body. `None` when the bytes are not JSON or hold no error fields (an
/// HTML page from a proxy, say).
pub fn parse_error_body(body: &[u8]) -> Option<ProviderError> {
    let v: Value = crate::http::from_json(body).ok()?;
    parse_error_value(&v).map(|(e, _)| e)
}

/// Reads an error from a JSON value; also returns a status code carried inside the body
/// (Google's numeric `code`, Groq's `status_code`), for errors inside 200 streams.
pub(crate) fn parse_error_value(v: &Value) -> Option<(ProviderError, Option<u16>)> {
    match v {
        Value::Array(items) => items.first().and_then(parse_error_value),
        Value::Object(map) => {
            let (e, st) = match map.get("error") {
                Some(Value::Object(inner)) => {
                    let mut e = fields(inner);
                    let status = inner
                        .get("status_code")
                        .and_then(Value::as_u64)
                        .or_else(|| inner.get("code").and_then(Value::as_u64))
                        .and_then(|n| u16::try_from(n).ok())
                        .filter(|n| (100..600).contains(n));
                    if e.detail_code.is_none() {
                        e.detail_code = map
                            .get("details")
                            .and_then(|d| d.get("error_code"))
                            .and_then(Value::as_str)
                            .map(str::to_owned);
                    }
                    (e, status)
                }
                Some(Value::String(s)) => (
                    ProviderError {
                        message: Some(s.clone()),
                        ..ProviderError::default()
                    },
                    None,
                ),
                _ if map.get("object").and_then(Value::as_str) == Some("error")
                    || ((map.contains_key("message") || map.contains_key("Message"))
                        && !map.contains_key("choices")) =>
                {
                    (fields(map), None)
                }
                _ => return None,
            };
            (!e.is_empty()).then_some((e, st))
        }
        _ => None,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn fields(m: &serde_json::Map<String, Value>) -> ProviderError {
    let mut e = ProviderError {
        r#type: text(m.get("type")),
        code: text(m.get("code")),
        status: text(m.get("status")),
        // AWS bodies (Bedrock) may spell it `Message`.
        message: text(m.get("message")).or_else(|| text(m.get("Message"))),
        param: text(m.get("param")),
        ..ProviderError::default()
    };
    // Anthropic: error.details.error_code; Azure: innererror.code.
    if let Some(Value::Object(d)) = m.get("details") {
        e.detail_code = text(d.get("error_code"));
    }
    if let Some(Value::Object(inner)) = m.get("innererror").or_else(|| m.get("inner_error")) {
        e.detail_code = text(inner.get("code"));
    }
    // Google RPC details: RetryInfo, QuotaFailure, ErrorInfo.
    if let Some(Value::Array(details)) = m.get("details") {
        for d in details {
            let ty = d.get("@type").and_then(Value::as_str).unwrap_or_default();
            if ty.ends_with("google.rpc.RetryInfo") {
                e.retry_delay = text(d.get("retryDelay"));
            } else if ty.ends_with("google.rpc.QuotaFailure") {
                if let Some(Value::Array(vs)) = d.get("violations") {
                    e.quota_violations.extend(vs.iter().map(|v| QuotaViolation {
                        quota_id: text(v.get("quotaId")),
                        quota_metric: text(v.get("quotaMetric")),
                    }));
                }
            } else if ty.ends_with("google.rpc.ErrorInfo") {
                e.reason = text(d.get("reason"));
            }
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_shape() {
        let e = parse_error_body(br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#).unwrap();
        assert_eq!(e.r#type.as_deref(), Some("insufficient_quota"));
        assert_eq!(e.code.as_deref(), Some("insufficient_quota"));
        assert_eq!(e.param, None);
    }

    #[test]
    fn anthropic_shape_with_details() {
        let e = parse_error_body(br#"{"type":"error","error":{"type":"rate_limit_error","message":"spend","details":{"error_code":"enforced_spend_limit_reached"}},"request_id":"req_1"}"#).unwrap();
        assert_eq!(e.r#type.as_deref(), Some("rate_limit_error"));
        assert_eq!(
            e.detail_code.as_deref(),
            Some("enforced_spend_limit_reached")
        );
    }

    #[test]
    fn google_shape_with_retry_and_quota() {
        let e = parse_error_body(br#"{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"m","quotaId":"GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}"#).unwrap();
        assert_eq!(e.status.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(e.code.as_deref(), Some("429"));
        assert_eq!(e.retry_delay.as_deref(), Some("37s"));
        assert_eq!(
            e.quota_violations[0].quota_id.as_deref(),
            Some("GenerateRequestsPerDayPerProjectPerModel-FreeTier")
        );
    }

    #[test]
    fn gemini_openai_compat_array() {
        let e = parse_error_body(
            br#"[{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}]"#,
        )
        .unwrap();
        assert_eq!(e.status.as_deref(), Some("INVALID_ARGUMENT"));
        assert_eq!(e.code.as_deref(), Some("400"));
    }

    #[test]
    fn mistral_flat_ollama_string_and_azure_inner() {
        let m = parse_error_body(br#"{"object":"error","message":"Rate limit exceeded","type":"rate_limited","param":null,"code":"1300"}"#).unwrap();
        assert_eq!(m.r#type.as_deref(), Some("rate_limited"));
        assert_eq!(m.code.as_deref(), Some("1300"));
        let gw = parse_error_body(br#"{"message":"Requests rate limit exceeded"}"#).unwrap();
        assert_eq!(gw.message.as_deref(), Some("Requests rate limit exceeded"));
        let o = parse_error_body(br#"{"error":"model \"x\" not found, try pulling it first"}"#)
            .unwrap();
        assert!(o.message.unwrap().contains("try pulling"));
        let a = parse_error_body(br#"{"error":{"message":"filtered","type":null,"param":"prompt","code":"content_filter","status":400,"innererror":{"code":"ResponsibleAIPolicyViolation"}}}"#).unwrap();
        assert_eq!(
            a.detail_code.as_deref(),
            Some("ResponsibleAIPolicyViolation")
        );
        assert_eq!(a.code.as_deref(), Some("content_filter"));
    }

    #[test]
    fn not_an_error() {
        assert!(parse_error_body(b"<html>502 Bad Gateway</html>").is_none());
        assert!(parse_error_body(b"{}").is_none());
        assert!(parse_error_body(b"[]").is_none());
        assert!(parse_error_body(br#"{"choices":[],"message":"x"}"#).is_none());
    }
}
