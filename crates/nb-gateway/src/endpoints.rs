//! The operational endpoints: models, health, readiness, metrics.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::auth::authorize;
use crate::{Format, Gateway};

pub(crate) async fn models(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&g, &headers, Format::OpenAi) {
        return *r;
    }
    let data: Vec<Value> = g
        .models
        .iter()
        .map(|m| json!({"id": m, "object": "model", "created": 0, "owned_by": "neuralbridge"}))
        .collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

pub(crate) async fn healthz() -> &'static str {
    "ok"
}

pub(crate) async fn readyz(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if g.ops_require_key {
        if let Err(r) = authorize(&g, &headers, Format::OpenAi) {
            return *r;
        }
    }
    use nb_breaker::BreakerState;
    let targets: Vec<(String, BreakerState)> = g
        .router
        .targets()
        .map(|t| (t.to_string(), g.router.health(t).breaker))
        .collect();
    let ready = targets.iter().any(|(_, b)| *b != BreakerState::Open);
    let body = json!({
        "ready": ready,
        "targets": targets.iter().map(|(t, b)| json!({"target": t, "breaker": b.to_string()})).collect::<Vec<_>>(),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

pub(crate) async fn metrics(State(g): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if g.ops_require_key {
        if let Err(r) = authorize(&g, &headers, Format::OpenAi) {
            return *r;
        }
    }
    match &g.metrics {
        Some(h) => ([("content-type", "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (StatusCode::NOT_FOUND, "no metrics recorder in this process").into_response(),
    }
}
