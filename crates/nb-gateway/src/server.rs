//! The HTTP server: routes, graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};

use crate::endpoints::{healthz, metrics, models, readyz};
use crate::error::ServeError;
use crate::handler::{Body, handle};
use crate::{Gateway, anthropic, openai};

/// The gateway's HTTP routes, with a request body limit of `max_body` bytes.
pub fn app(g: Arc<Gateway>, max_body: usize) -> Router {
    Router::new()
        .route(
            "/v1/chat/completions",
            post(|g: State<Arc<Gateway>>, h: HeaderMap, b: Body| handle(g.0, h, b, openai::WIRE)),
        )
        .route(
            "/v1/messages",
            post(|g: State<Arc<Gateway>>, h: HeaderMap, b: Body| {
                handle(g.0, h, b, anthropic::WIRE)
            }),
        )
        .route("/v1/models", get(models))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(g)
}

/// Serves `g` on `listener` until `shutdown` resolves, then lets in-flight calls finish
/// for at most `grace`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    g: Arc<Gateway>,
    max_body: usize,
    grace: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut rx2 = rx.clone();
    let server = axum::serve(listener, app(g, max_body)).with_graceful_shutdown(async move {
        let _ = rx.wait_for(|s| *s).await;
    });
    tokio::select! {
        r = server => r.map_err(ServeError::from),
        () = async move {
            let _ = rx2.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            eprintln!("nb serve: calls still in flight after the {grace:?} grace period were dropped");
            Ok(())
        }
    }
}
