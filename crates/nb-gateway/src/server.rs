//! The HTTP server: routes, graceful shutdown.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};

use crate::embeddings::embeddings;
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
        .route(
            "/v1/embeddings",
            post(|g: State<Arc<Gateway>>, h: HeaderMap, b: Body| embeddings(g.0, h, b)),
        )
        .route("/v1/models", get(models))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(g)
}

/// How the server treats connections.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ServeOptions {
    /// The largest request body, bytes.
    pub max_body: usize,
    /// On shutdown, how long calls in flight may finish.
    pub grace: Duration,
    /// A client must send a request's whole head within this long (HTTP/1), and an idle
    /// keep-alive connection is closed after it.
    pub header_timeout: Duration,
    /// Connections open at once, at most; more are closed as they are accepted.
    pub max_connections: usize,
    /// Connections open at once from one client address, at most.
    pub max_connections_per_client: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            max_body: 8 << 20,
            grace: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_client: 1024,
        }
    }
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
    let options = ServeOptions {
        max_body,
        grace,
        ..ServeOptions::default()
    };
    serve_with(listener, g, options, shutdown).await
}

/// Open connections, in total and per client address.
#[derive(Default)]
struct Open {
    total: usize,
    by_client: HashMap<IpAddr, usize>,
}

/// A connection's place in [`Open`], given back when it closes.
struct Slot {
    open: Arc<Mutex<Open>>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut o = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        o.total = o.total.saturating_sub(1);
        if let Some(n) = o.by_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                o.by_client.remove(&self.client);
            }
        }
    }
}

fn take_slot(open: &Arc<Mutex<Open>>, client: IpAddr, options: &ServeOptions) -> Option<Slot> {
    let mut o = open
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mine = o.by_client.get(&client).copied().unwrap_or(0);
    if o.total >= options.max_connections || mine >= options.max_connections_per_client {
        return None;
    }
    o.total += 1;
    *o.by_client.entry(client).or_default() += 1;
    Some(Slot {
        open: open.clone(),
        client,
    })
}

/// Serves `g` on `listener` with `options` until `shutdown` resolves, then lets calls in
/// flight finish for at most `options.grace`. A slow client cannot starve the others:
/// its request head has `header_timeout` to arrive, and it may hold at most
/// `max_connections_per_client` of the `max_connections`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    g: Arc<Gateway>,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let closing = g.closing.clone();
    let app = app(g, options.max_body);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(options.header_timeout)
        .keep_alive_timeout(options.header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let open = Arc::new(Mutex::new(Open::default()));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors, say: the next accept may succeed.
                Err(e) => {
                    tracing::warn!(error = %e, "gateway: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = take_slot(&open, peer.ip(), &options) else {
            metrics::counter!("nb_gateway_connections_refused").increment(1);
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    let mut done = std::pin::pin!(graceful.shutdown());
    tokio::select! {
        () = &mut done => {}
        () = tokio::time::sleep(options.grace) => {
            // Streams still in flight end with their format's error event (and `[DONE]`),
            // so a client knows the answer is incomplete; a moment to send it.
            let _ = closing.send(true);
            let _ = tokio::time::timeout(Duration::from_millis(500), &mut done).await;
            eprintln!(
                "nb serve: calls still in flight after the {:?} grace period were dropped",
                options.grace
            );
        }
    }
    Ok(())
}
