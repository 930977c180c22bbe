//! Tower, both halves: the router is a `Service<ChatRequest>` (so tower middleware goes
//! around it), and [`RouterLayer`] puts the router around an inner service, which
//! becomes one of its targets (so the router is middleware itself). [`ServiceProvider`]
//! turns any tower service over [`ChatRequest`]s into a [`Provider`], for a target with a
//! tower stack of its own.
//!
//! Nothing here spawns: a call is one future, and dropping it — an outer
//! `tower::timeout::Timeout` firing, say — drops every attempt under way, whatever the
//! router's own (longer) timeouts are.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use async_trait::async_trait;
use nb_core::{
    CallError, ChatRequest, ChatResponse, Provider, TargetId, TimeoutPhase, TransportKind,
};
use tower::{Layer, Service, ServiceExt as _};

use crate::{BuildError, RouteError, Routed, RouterBuilder, SmartRouter, Target};

/// The error type tower middleware uses (`tower::BoxError`).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Service<ChatRequest> for SmartRouter {
    type Response = Routed<ChatResponse>;
    type Error = RouteError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let router = self.clone();
        Box::pin(async move { router.chat(&req).await })
    }
}

/// A tower [`Service`] over [`ChatRequest`]s as a [`Provider`]: a target whose client is
/// a tower stack (a concurrency limit, a per-target timeout, a service of your own).
///
/// Each call drives a clone of the service (`oneshot`: ready, then call), as tower's
/// shared services expect. Errors become [`CallError`]s the classifier understands: a
/// `CallError` as it is, a nested router's [`RouteError`] through
/// [`RouteError::into_call_error`], tower's `Elapsed` (a `tower::timeout` inside) as a
/// total timeout, anything else as a transport failure with the error's text.
pub struct ServiceProvider<S> {
    service: Mutex<S>,
}

impl<S> ServiceProvider<S> {
    /// `service` as a provider.
    pub fn new(service: S) -> Self {
        Self {
            service: Mutex::new(service),
        }
    }
}

impl<S> std::fmt::Debug for ServiceProvider<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceProvider").finish_non_exhaustive()
    }
}

#[async_trait]
impl<S> Provider for ServiceProvider<S>
where
    S: Service<ChatRequest, Response = ChatResponse> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        let service = self
            .service
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        service
            .oneshot(req.clone())
            .await
            .map_err(|e| call_error(e.into()))
    }
}

/// What a tower error says, as failure facts.
fn call_error(e: BoxError) -> CallError {
    let e = match e.downcast::<CallError>() {
        Ok(e) => return *e,
        Err(e) => e,
    };
    let e = match e.downcast::<RouteError>() {
        Ok(e) => return e.into_call_error(),
        Err(e) => e,
    };
    if e.is::<tower::timeout::error::Elapsed>() {
        return CallError::timeout(TimeoutPhase::Total);
    }
    CallError::transport(TransportKind::Other, e.to_string())
}

/// The router as tower middleware: [`Layer::layer`] makes the inner service a target
/// (named by the layer's [`TargetId`], through [`ServiceProvider`]) and builds the
/// router around it with a configuration of your choosing — its other targets, its
/// policy, vouching. The result is a [`SmartRouter`], itself a `Service<ChatRequest>`,
/// so it goes inside a [`tower::ServiceBuilder`] like any other layer:
///
/// ```
/// use std::time::Duration;
///
/// use async_trait::async_trait;
/// use nb_core::{CallError, ChatRequest, ChatResponse, Provider, TargetId, TransportKind};
/// use nb_router::{RouterLayer, SmartRouter, Target};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// struct Up;
/// #[async_trait]
/// impl Provider for Up {
///     async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
///         Ok(ChatResponse::text("42"))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// // The service being wrapped: here, a client that is down.
/// let primary = service_fn(|_: ChatRequest| async {
///     Err::<ChatResponse, _>(CallError::transport(TransportKind::ConnectRefused, "refused"))
/// });
/// // The router around it: the inner service first, a fallback after it.
/// let fallback = Target::new(TargetId::new("fallback", "m"), Up);
/// let layer = RouterLayer::new(TargetId::new("primary", "m"), move |inner| {
///     SmartRouter::builder().target(inner).target(fallback.clone())
/// })
/// .unwrap();
/// let service = ServiceBuilder::new()
///     .timeout(Duration::from_secs(5))
///     .layer(layer)
///     .service(primary);
/// let routed = service.oneshot(ChatRequest::user("6 x 7?")).await.unwrap();
/// assert_eq!(routed.value.text, "42");
/// assert!(routed.report.failed_over);
/// # });
/// ```
///
/// An outer timeout always wins: when it fires, it drops the router's call and every
/// attempt under way with it, however long the router's own attempt timeout and
/// deadline are. To fail over *inside* the outer timeout rather than be cut off by it,
/// set the policy's deadline a little under it
/// ([`Policy::with_deadline`](crate::Policy::with_deadline)): with less than two
/// attempts' time left, the router gives the first attempt half of what remains.
///
/// Each [`Layer::layer`] builds a new router, with health state of its own unless the
/// configuration shares a [`Knowledge`](nb_breaker::Knowledge) store.
#[derive(Clone)]
pub struct RouterLayer {
    id: TargetId,
    make: Arc<dyn Fn(Target) -> RouterBuilder + Send + Sync>,
}

impl std::fmt::Debug for RouterLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterLayer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Stands in for the inner service while [`RouterLayer::new`] checks the configuration.
struct NotYetLayered;

#[async_trait]
impl Provider for NotYetLayered {
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, CallError> {
        Err(CallError::transport(
            TransportKind::Other,
            "the layer's inner service is not set",
        ))
    }
}

impl RouterLayer {
    /// A layer that names the inner service `id` and builds the router with `make`,
    /// which receives the inner service as a [`Target`] and places it (first, as a
    /// fallback, in routes, with a weight or a context window). The configuration is
    /// checked here, once, so that [`Layer::layer`] cannot fail.
    ///
    /// # Errors
    ///
    /// The [`BuildError`] of the configuration `make` returns.
    pub fn new(
        id: TargetId,
        make: impl Fn(Target) -> RouterBuilder + Send + Sync + 'static,
    ) -> Result<Self, BuildError> {
        make(Target::new(id.clone(), NotYetLayered)).build()?;
        Ok(Self {
            id,
            make: Arc::new(make),
        })
    }
}

impl<S> Layer<S> for RouterLayer
where
    S: Service<ChatRequest, Response = ChatResponse> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
{
    type Service = SmartRouter;

    /// # Panics
    ///
    /// If `make` returns a configuration that does not build although the one it
    /// returned to [`RouterLayer::new`] did (it should build the same one every time).
    fn layer(&self, inner: S) -> SmartRouter {
        (self.make)(Target::new(self.id.clone(), ServiceProvider::new(inner)))
            .build()
            .expect("RouterLayer::new checked this configuration")
    }
}
