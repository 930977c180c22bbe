//! What the Redis store adds per call, against the in-memory store in the same run: a
//! routed call over an in-process provider that answers at once, with health in memory
//! (the baseline) and shared through Redis — which makes no Redis round trip on a
//! healthy call — and a response-cache hit from memory and from Redis (one `GET`), at
//! concurrency 1 and 32. Starts its own `redis-server` on a free loopback port.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nb_breaker::{BreakerConfig, CooldownPolicy, InMemoryKnowledge, SystemClock};
use nb_core::{CallError, ChatRequest, ChatResponse, Provider, TargetId};
use nb_router::{AnswerCache, InMemoryCache, SmartRouter, Target};
use nb_store_redis::{RedisCache, RedisKnowledge};

struct Instant0;

#[async_trait]
impl Provider for Instant0 {
    async fn chat(&self, _req: &ChatRequest) -> Result<ChatResponse, CallError> {
        Ok(ChatResponse::text("42"))
    }
}

struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis() -> (Redis, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("this benchmark needs redis-server (apt-get install redis-server)");
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(20));
    }
    (Redis(child), format!("redis://127.0.0.1:{port}/0"))
}

fn router(
    k: Option<Arc<dyn nb_breaker::Knowledge>>,
    cache: Option<Arc<dyn AnswerCache>>,
) -> SmartRouter {
    let mut b = SmartRouter::builder().target(Target::new(TargetId::new("p", "m"), Instant0));
    if let Some(k) = k {
        b = b.knowledge(k);
    }
    if let Some(c) = cache {
        b = b.cache(c).cache_route("default", Duration::from_secs(600));
    }
    b.build().unwrap()
}

async fn load(r: &SmartRouter, n: u64, concurrency: u64) -> Duration {
    let start = Instant::now();
    let per = n.div_ceil(concurrency);
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let r = r.clone();
            tokio::spawn(async move {
                let req = ChatRequest::user("What is 17 + 25?");
                for _ in 0..per {
                    black_box(r.chat(&req).await.unwrap());
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    start.elapsed()
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (_redis, url) = redis();
    let routers = rt.block_on(async {
        let local = || {
            InMemoryKnowledge::new(
                BreakerConfig::default(),
                CooldownPolicy::default(),
                Arc::new(SystemClock),
            )
        };
        let shared = Arc::new(RedisKnowledge::connect(&url, "bench", local()).unwrap());
        let t0 = Instant::now();
        while !shared.stats().connected {
            assert!(t0.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let routers = vec![
            ("baseline_in_memory_store", router(None, None)),
            ("redis_store", router(Some(shared), None)),
            (
                "cache_hit_in_memory",
                router(None, Some(Arc::new(InMemoryCache::new(1000)))),
            ),
            (
                "cache_hit_redis",
                router(
                    None,
                    Some(Arc::new(RedisCache::new(&url, "bench").unwrap())),
                ),
            ),
        ];
        // Fill the caches.
        for (_, r) in &routers {
            r.chat(&ChatRequest::user("What is 17 + 25?"))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        routers
    });
    for concurrency in [1u64, 32] {
        let mut g = c.benchmark_group(format!("store/c{concurrency}"));
        g.throughput(Throughput::Elements(1));
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(3));
        for (name, r) in &routers {
            g.bench_function(*name, |b| {
                b.iter_custom(|n| rt.block_on(load(r, n, concurrency.min(n.max(1)))))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, store);
criterion_main!(benches);
