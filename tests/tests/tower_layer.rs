//! Tower, both halves, on paused time: `RouterLayer` puts the router around an inner
//! service (which becomes a target), `ServiceProvider` makes a tower stack a target, and
//! an outer `tower::timeout` always wins over the router's longer defaults — the call and
//! its attempts are dropped when it fires.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nb_core::{CallError, ChatRequest, ChatResponse, FailureClass, Provider, TargetId};
use nb_router::{AttemptOutcome, Policy, RouterLayer, ServiceProvider, SmartRouter, Target};
use nb_tests::{Behaviour, Timed};
use tokio::time::Instant;
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const FOREVER: Duration = Duration::from_secs(3600);

fn question() -> ChatRequest {
    ChatRequest::user("What is 17 + 25? Reply with the number only.")
}

/// Records when the inner call's future was dropped, since the start.
struct DropClock {
    start: Instant,
    dropped: Arc<Mutex<Vec<Duration>>>,
}

impl Drop for DropClock {
    fn drop(&mut self) {
        self.dropped.lock().unwrap().push(self.start.elapsed());
    }
}

/// A tower service over a [`Timed`] target, which logs when each of its calls ends
/// (answered, failed or dropped).
fn service_of(
    timed: Timed,
    ended: Arc<Mutex<Vec<Duration>>>,
) -> impl Service<ChatRequest, Response = ChatResponse, Error = CallError, Future = impl Send + 'static>
+ Clone
+ Send
+ 'static {
    let start = Instant::now();
    service_fn(move |req: ChatRequest| {
        let (timed, ended) = (timed.clone(), ended.clone());
        async move {
            let _clock = DropClock {
                start,
                dropped: ended,
            };
            timed.chat(&req).await
        }
    })
}

fn primary() -> TargetId {
    TargetId::new("primary", "m")
}

fn fallback() -> TargetId {
    TargetId::new("fallback", "m")
}

#[tokio::test(start_paused = true)]
async fn an_outer_tower_timeout_drops_a_hanging_call_when_it_fires_not_when_the_router_would() {
    let hanging = Timed::new(vec![(FOREVER, Behaviour::Hang)]);
    let ended = Arc::new(Mutex::new(Vec::new()));
    // The router's own defaults are far longer than the outer timeout (a 60 s attempt
    // timeout, a 120 s deadline), and its second target hangs too.
    let also_hanging = Timed::new(vec![(FOREVER, Behaviour::Hang)]);
    let layer = RouterLayer::new(primary(), move |inner| {
        SmartRouter::builder()
            .target(inner)
            .target(Target::new(fallback(), also_hanging.clone()))
    })
    .unwrap();
    let service = ServiceBuilder::new()
        .timeout(Duration::from_secs(1))
        .layer(layer)
        .service(service_of(hanging.clone(), ended.clone()));
    let start = Instant::now();
    let err = service.oneshot(question()).await.unwrap_err();
    assert!(
        err.is::<tower::timeout::error::Elapsed>(),
        "the outer timeout answered: {err}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    // The inner call was dropped at that instant, not left running to the router's 60 s.
    assert_eq!(*ended.lock().unwrap(), vec![Duration::from_secs(1)]);
    // Nothing keeps calling after the caller is gone.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(hanging.arrivals().len(), 1);
    assert_eq!(ended.lock().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn with_the_deadline_under_the_outer_timeout_a_hanging_inner_service_fails_over_inside_it() {
    let hanging = Timed::new(vec![(FOREVER, Behaviour::Hang)]);
    let answers = Timed::new(vec![(
        FOREVER,
        Behaviour::answer(Duration::from_millis(50), "42"),
    )]);
    let ended = Arc::new(Mutex::new(Vec::new()));
    let fallback_target = Target::new(fallback(), answers.clone());
    let layer = RouterLayer::new(primary(), move |inner| {
        SmartRouter::builder()
            .target(inner)
            .target(fallback_target.clone())
            .policy(Policy::default().with_deadline(Duration::from_millis(1900)))
    })
    .unwrap();
    let service = ServiceBuilder::new()
        .timeout(Duration::from_secs(2))
        .layer(layer)
        .service(service_of(hanging, ended.clone()));
    let start = Instant::now();
    let routed = service.oneshot(question()).await.unwrap();
    assert_eq!(routed.value.text, "42");
    assert_eq!(routed.report.served_by, Some(fallback()));
    // The hanging attempt had half of the 1.9 s deadline; the fallback took 50 ms.
    assert_eq!(start.elapsed(), Duration::from_millis(950 + 50));
    assert_eq!(*ended.lock().unwrap(), vec![Duration::from_millis(950)]);
    assert_eq!(answers.arrivals().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_layer_makes_the_inner_service_the_first_target_and_reports_for_it() {
    let refuses = Timed::new(vec![(FOREVER, Behaviour::Refuse)]);
    let answers = Timed::new(vec![(
        FOREVER,
        Behaviour::answer(Duration::from_millis(20), "42"),
    )]);
    let ended = Arc::new(Mutex::new(Vec::new()));
    let fallback_target = Target::new(fallback(), answers.clone());
    let layer = RouterLayer::new(primary(), move |inner| {
        SmartRouter::builder()
            .target(inner)
            .target(fallback_target.clone())
    })
    .unwrap();
    let mut service = ServiceBuilder::new()
        .layer(layer)
        .service(service_of(refuses.clone(), ended));
    let start = Instant::now();
    let routed = service
        .ready()
        .await
        .unwrap()
        .call(question())
        .await
        .unwrap();
    assert_eq!(routed.value.text, "42");
    assert!(routed.report.failed_over);
    assert_eq!(routed.report.attempts[0].target, primary());
    assert!(matches!(
        routed.report.attempts[0].outcome,
        AttemptOutcome::Failed {
            class: FailureClass::Network,
            ..
        }
    ));
    assert_eq!(start.elapsed(), Duration::from_millis(20));
    assert_eq!((refuses.arrivals().len(), answers.arrivals().len()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_tower_timeout_inside_a_target_is_a_timeout_the_router_fails_over_from() {
    let hanging = Timed::new(vec![(FOREVER, Behaviour::Hang)]);
    let answers = Timed::new(vec![(
        FOREVER,
        Behaviour::answer(Duration::from_millis(20), "42"),
    )]);
    let ended = Arc::new(Mutex::new(Vec::new()));
    let stack = ServiceBuilder::new()
        .timeout(Duration::from_millis(300))
        .service(service_of(hanging, ended.clone()));
    let router = SmartRouter::builder()
        .target(Target::new(primary(), ServiceProvider::new(stack)))
        .target(Target::new(fallback(), answers))
        .build()
        .unwrap();
    let start = Instant::now();
    let routed = router.chat(&question()).await.unwrap();
    assert_eq!(routed.value.text, "42");
    assert!(matches!(
        routed.report.attempts[0].outcome,
        AttemptOutcome::Failed {
            class: FailureClass::Timeout,
            ..
        }
    ));
    assert_eq!(start.elapsed(), Duration::from_millis(300 + 20));
    assert_eq!(*ended.lock().unwrap(), vec![Duration::from_millis(300)]);
}

#[tokio::test(start_paused = true)]
async fn a_layer_whose_configuration_cannot_build_is_refused_when_made() {
    // The closure names a second target with the inner service's id.
    let err = RouterLayer::new(primary(), |inner| {
        SmartRouter::builder()
            .target(inner)
            .target(Target::new(primary(), Timed::new(vec![])))
    })
    .unwrap_err();
    assert!(err.to_string().contains("added twice"), "{err}");
}
