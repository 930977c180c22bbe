//! `POST /v1/embeddings` in OpenAI's format, routed over the router's embedding targets
//! ([`SmartRouter::embed_with`](nb_router::SmartRouter::embed_with)) with the same
//! keys, limits, report headers and error shapes as the chat endpoints.
//!
//! Request: `{"model", "input": string | [string], "encoding_format"?: "float"}`;
//! answer: `{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
//! "model", "usage": {"prompt_tokens", "total_tokens"}}` (openai-python
//! `types/create_embedding_response.py`). `model` is the model that answered: after a
//! failover, another model's vector space. Token counts are estimates (four characters
//! a token): embedders report none.

use std::sync::Arc;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use nb_core::ChatRequest;
use serde_json::{Value, json};

use crate::auth::authorize;
use crate::error::{bad_request, route_error};
use crate::handler::{Body, LogText, parse_json};
use crate::report::{report_headers, report_json, request_id, wants_report};
use crate::{Format, Gateway};

/// The texts of `input`: a string or an array of strings (token arrays are refused).
fn inputs(v: &Value) -> Result<Vec<String>, &'static str> {
    const WHAT: &str =
        "`input` must be a string or a non-empty array of strings (token arrays are not supported)";
    match v.get("input") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(a)) if !a.is_empty() => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or(WHAT),
        _ => Err(WHAT),
    }
}

/// `POST /v1/embeddings`.
pub(crate) async fn embeddings(g: Arc<Gateway>, headers: HeaderMap, body: Body) -> Response {
    let started = std::time::Instant::now();
    let f = Format::OpenAi;
    let caller = match authorize(&g, &headers, f) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let v = match parse_json(body, f) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let texts = match inputs(&v) {
        Ok(t) => t,
        Err(what) => return bad_request(f, what),
    };
    if v.get("encoding_format")
        .and_then(Value::as_str)
        .is_some_and(|e| e != "float")
    {
        return bad_request(f, "only `encoding_format: \"float\"` is supported");
    }
    let model = match v.get("model").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => m.to_owned(),
        _ => {
            return bad_request(
                f,
                "`model` is required: a route of this gateway, or provider/model",
            );
        }
    };
    let opts = match g.options(Some(&model), f) {
        Ok(o) => o,
        Err(r) => return *r,
    };
    // Limits count the texts as a prompt with no output.
    let as_prompt = ChatRequest::user(texts.concat()).with_max_tokens(0);
    let reservation = match g.admit(&caller, &as_prompt, &opts, f).await {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let id = request_id();
    let response = match g.router.embed_with(&texts, &opts).await {
        Ok(routed) => {
            Gateway::settle(reservation, &routed.report);
            let served = routed
                .report
                .served_by
                .as_ref()
                .map_or_else(|| model.clone(), |t| t.model().to_owned());
            let tokens: usize = texts.iter().map(|t| t.len().div_ceil(4)).sum();
            let data: Vec<Value> = routed
                .value
                .iter()
                .enumerate()
                .map(|(i, e)| json!({"object": "embedding", "index": i, "embedding": e}))
                .collect();
            let mut body = json!({
                "object": "list", "data": data, "model": served,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            });
            if wants_report(&headers) {
                body["nb_report"] = report_json(&routed.report);
            }
            let mut r = axum::Json(body).into_response();
            report_headers(r.headers_mut(), &routed.report, &id);
            r
        }
        Err(e) => {
            Gateway::settle(reservation, e.report());
            route_error(f, &e, &id)
        }
    };
    let served_by = response
        .headers()
        .get("x-nb-served-by")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    tracing::info!(
        request_id = %LogText(&id),
        caller = %LogText(&caller),
        route = %LogText(&model),
        status = response.status().as_u16(),
        served_by = %LogText(&served_by),
        latency_ms = started.elapsed().as_secs_f64() * 1e3,
        "embeddings request"
    );
    response
}
