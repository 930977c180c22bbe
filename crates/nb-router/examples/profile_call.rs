//! N healthy calls in process, routed or direct, for a profiler.
//!
//! `cargo run --release -p nb-router --example profile_call -- router 100000` makes
//! 100,000 calls through a `SmartRouter` over a provider that answers at once (`direct`
//! calls that provider itself) on a current-thread runtime, after 1,000 warm-up calls,
//! and prints the time per call; a third argument `--block-on-each` enters the runtime
//! once per call instead, as criterion's in-process bench does. Allocations per call
//! come from valgrind's DHAT (two counts, the difference divided by the difference of
//! calls).
//! The measured loop is `profile_loop`, so callgrind can count it alone:
//!
//! ```sh
//! valgrind --tool=callgrind --toggle-collect='*profile_loop*' \
//!     target/release/examples/profile_call router 20000
//! ```
//!
//! docs/benchmarks.md ("Where a routed call's time goes") has the figures and the rest
//! of the commands.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use nb_core::{CallError, ChatRequest, ChatResponse, Provider, TargetId};
use nb_router::{SmartRouter, Target};

struct Instant0;

#[async_trait]
impl Provider for Instant0 {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        Ok(ChatResponse::text("42"))
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Direct,
    Router,
}

#[inline(never)]
fn profile_loop(
    rt: &tokio::runtime::Runtime,
    mode: Mode,
    n: usize,
    direct: &Arc<dyn Provider>,
    router: &SmartRouter,
    req: &ChatRequest,
    each: bool,
) {
    // The call is written out in each loop rather than shared as a closure: a closure
    // here is named `profile_loop::{{closure}}`, and callgrind's `--toggle-collect`
    // pattern would turn counting off inside it.
    if each {
        // As criterion's `b.iter(|| rt.block_on(...))` does: the runtime entered per call.
        for _ in 0..n {
            match mode {
                Mode::Direct => {
                    black_box(rt.block_on(direct.chat(black_box(req))).unwrap());
                }
                Mode::Router => {
                    black_box(rt.block_on(router.chat(black_box(req))).unwrap());
                }
            }
        }
        return;
    }
    rt.block_on(async {
        for _ in 0..n {
            match mode {
                Mode::Direct => {
                    black_box(direct.chat(black_box(req)).await.unwrap());
                }
                Mode::Router => {
                    black_box(router.chat(black_box(req)).await.unwrap());
                }
            }
        }
    });
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        Some("direct") => Mode::Direct,
        Some("router") | None => Mode::Router,
        Some(other) => panic!("mode is `direct` or `router`, not {other:?}"),
    };
    let n: usize = args.next().map_or(100_000, |s| s.parse().expect("a count"));
    let each = args.next().as_deref() == Some("--block-on-each");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let direct: Arc<dyn Provider> = Arc::new(Instant0);
    let router = SmartRouter::builder()
        .target(Target::shared(
            TargetId::new("instant", "m"),
            direct.clone(),
        ))
        .target(Target::new(TargetId::new("fallback", "m"), Instant0))
        .build()
        .unwrap();
    let req = ChatRequest::user("What is 17 + 25? Reply with the number only.");
    profile_loop(&rt, mode, 1_000, &direct, &router, &req, each);
    let start = Instant::now();
    profile_loop(&rt, mode, n, &direct, &router, &req, each);
    let elapsed = start.elapsed();
    println!(
        "{} x{n}: {:.0} ns/call",
        if mode == Mode::Direct {
            "direct"
        } else {
            "router"
        },
        elapsed.as_nanos() as f64 / n as f64,
    );
}
