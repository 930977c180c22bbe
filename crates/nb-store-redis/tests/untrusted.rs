//! Redis is input, not truth: facts and cached answers forged in a real `redis-server`
//! are bounded by the reading replica's config — clamped, or ignored when they name a
//! target it does not have — and junk is skipped without a panic. With a shared secret,
//! only what a replica holding it signed is believed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nb_breaker::{
    BreakerConfig, CooldownPolicy, InMemoryKnowledge, Knowledge, Refusal, SystemClock,
};
use nb_core::{AnswerCache, TargetId};
use nb_store_redis::{RedisCache, RedisKnowledge, TrustBounds};

struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = std::env::var("NB_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start `{bin}` ({e}): these tests need redis-server")
            });
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const MAX_OPEN: Duration = Duration::from_secs(60);
const MAX_COOL: Duration = Duration::from_secs(5);

fn healthy() -> TargetId {
    TargetId::new("openai", "gpt-4o-mini")
}

async fn replica(redis: &Redis) -> RedisKnowledge {
    replica_with(redis, None).await
}

async fn replica_with(redis: &Redis, secret: Option<&str>) -> RedisKnowledge {
    let mut breaker = BreakerConfig::default();
    breaker.backoff.max = MAX_OPEN;
    let cooldowns = CooldownPolicy {
        max: MAX_COOL,
        ..CooldownPolicy::default()
    };
    let local = InMemoryKnowledge::new(breaker, cooldowns, Arc::new(SystemClock));
    let mut bounds = TrustBounds::new(&breaker, &cooldowns).with_targets([healthy()]);
    if let Some(s) = secret {
        bounds = bounds.with_secret(s.to_owned().into());
    }
    let k = RedisKnowledge::connect_with(&redis.url(), "ns", local, bounds).unwrap();
    let t0 = Instant::now();
    while !k.stats().connected {
        assert!(t0.elapsed() < Duration::from_secs(10), "never connected");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    k
}

async fn publish(redis: &Redis, payload: &str) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: i64 = redis::cmd("PUBLISH")
        .arg("nb:ns:health")
        .arg(payload)
        .query_async(&mut c)
        .await
        .unwrap();
}

/// Waits until `k` merged `n` facts in all (or a second passed).
async fn merged(k: &RedisKnowledge, n: u64) -> u64 {
    let t0 = Instant::now();
    while k.stats().merged < n && t0.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    k.stats().merged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_open_breaker_lasts_no_longer_than_the_configs_longest_open_period() {
    let redis = Redis::start();
    let k = replica(&redis).await;
    // A target the config does not have is ignored; junk is skipped.
    for junk in [
        "{",
        "null",
        r#"{"from":"x","fact":"open"}"#,
        r#"{"from":"x","fact":"open","target":{"provider":"evil","model":"m"},"until_ms":18446744073709551615}"#,
        r#"{"from":"x","fact":"cool","scope":"provider","provider":"evil","until_ms":18446744073709551615,"cause":null}"#,
    ] {
        publish(&redis, junk).await;
    }
    let forged = r#"{"from":"x","fact":"open","target":{"provider":"openai","model":"gpt-4o-mini"},"until_ms":18446744073709551615}"#;
    publish(&redis, forged).await;
    assert_eq!(
        merged(&k, 1).await,
        1,
        "only the known target's fact merges"
    );
    let until = k
        .local()
        .open_until(&healthy())
        .expect("the breaker opened");
    let left = until.saturating_duration_since(Instant::now());
    eprintln!("a forged open-until u64::MAX opened the breaker for {left:?} (max {MAX_OPEN:?})");
    assert!(left <= MAX_OPEN, "{left:?}");
    assert!(k.local().open_until(&TargetId::new("evil", "m")).is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_ten_year_cooldown_is_clamped_to_cooldowns_max() {
    let redis = Redis::start();
    let k = replica(&redis).await;
    let ten_years = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 10 * 365 * 24 * 3600 * 1000;
    let forged = format!(
        r#"{{"from":"x","fact":"cool","scope":"target","target":{{"provider":"openai","model":"gpt-4o-mini"}},"until_ms":{ten_years},"cause":"rate_limited"}}"#
    );
    publish(&redis, &forged).await;
    assert_eq!(merged(&k, 1).await, 1);
    match k.admit(&healthy(), 1) {
        Err(Refusal::CoolingDown { until, .. }) => {
            let wait = until.saturating_duration_since(Instant::now());
            eprintln!("a forged 10-year cool-down: retry after {wait:?} (max {MAX_COOL:?})");
            assert!(wait <= MAX_COOL, "{wait:?}");
        }
        other => panic!("not cooling down: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_cache_entry_naming_an_unknown_target_or_no_check_is_not_served() {
    let redis = Redis::start();
    let cache = RedisCache::new(&redis.url(), "ns")
        .unwrap()
        .with_bounds(TrustBounds::default().with_targets([healthy()]));
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let response = r#"{"text":"42","tool_calls":[],"finish_reason":"stop"}"#;
    for (key, value) in [
        (
            "evil",
            format!(
                r#"{{"served_by":{{"provider":"evil","model":"m"}},"response":{response},"check":"vouched"}}"#
            ),
        ),
        (
            "nocheck",
            format!(
                r#"{{"served_by":{{"provider":"openai","model":"gpt-4o-mini"}},"response":{response}}}"#
            ),
        ),
        ("junk", "\u{0}not json".to_owned()),
        (
            "good",
            format!(
                r#"{{"served_by":{{"provider":"openai","model":"gpt-4o-mini"}},"response":{response},"check":"vouched"}}"#
            ),
        ),
    ] {
        let _: () = redis::cmd("SET")
            .arg(format!("nb:ns:cache:{key}"))
            .arg(value)
            .query_async(&mut c)
            .await
            .unwrap();
    }
    assert!(cache.get("evil").await.is_none());
    assert!(cache.get("nocheck").await.is_none());
    assert!(cache.get("junk").await.is_none());
    let good = cache.get("good").await;
    assert!(
        good.is_some(),
        "a well-formed entry of a known target is served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_shared_secret_only_signed_facts_are_believed() {
    let redis = Redis::start();
    let writer = replica_with(&redis, Some("fleet secret")).await;
    let reader = replica_with(&redis, Some("fleet secret")).await;
    let stranger = replica_with(&redis, Some("another secret")).await;
    // Forged without the secret: a breaker opened forever on a healthy target.
    let forged = r#"{"from":"x","fact":"open","target":{"provider":"openai","model":"gpt-4o-mini"},"until_ms":18446744073709551615}"#;
    publish(&redis, forged).await;
    let forged_sig = forged.replace("}", r#","sig":"00"}"#);
    publish(&redis, &forged_sig).await;
    // A replica holding the secret learns a window: the others hear it, signed.
    writer.learn_window(&healthy(), 8192);
    assert_eq!(merged(&reader, 1).await, 1, "the signed fact merges");
    assert_eq!(reader.learned_window(&healthy()), Some(8192));
    assert!(
        reader.local().open_until(&healthy()).is_none(),
        "unsigned and badly signed facts are ignored"
    );
    assert_eq!(
        merged(&stranger, 1).await,
        0,
        "another secret believes nothing"
    );
    assert_eq!(stranger.learned_window(&healthy()), None);
    // A replica that starts later reads the stored facts: signed ones only.
    let late = replica_with(&redis, Some("fleet secret")).await;
    assert_eq!(late.learned_window(&healthy()), Some(8192));
    let late_stranger = replica_with(&redis, Some("another secret")).await;
    assert_eq!(late_stranger.learned_window(&healthy()), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_shared_secret_only_signed_cache_entries_are_served() {
    let redis = Redis::start();
    let signed = |secret: &str| {
        RedisCache::new(&redis.url(), "ns").unwrap().with_bounds(
            TrustBounds::default()
                .with_targets([healthy()])
                .with_secret(secret.to_owned().into()),
        )
    };
    let (a, b, stranger) = (signed("s"), signed("s"), signed("other"));
    let response: nb_core::ChatResponse =
        serde_json::from_str(r#"{"text":"42","tool_calls":[],"finish_reason":"stop"}"#).unwrap();
    let answer = nb_core::CachedAnswer::new(healthy(), response, nb_core::AnswerCheck::Vouched);
    a.put("q", &answer, Duration::from_secs(60)).await;
    assert_eq!(b.get("q").await.map(|h| h.response.text), Some("42".into()));
    assert!(stranger.get("q").await.is_none(), "another secret");
    // Planted by a client without the secret: ignored.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let planted = r#"{"served_by":{"provider":"openai","model":"gpt-4o-mini"},"response":{"text":"43","tool_calls":[],"finish_reason":"stop"},"check":"vouched"}"#;
    let _: () = redis::cmd("SET")
        .arg("nb:ns:cache:q")
        .arg(planted)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        b.get("q").await.is_none(),
        "an unsigned entry is not served"
    );
}
