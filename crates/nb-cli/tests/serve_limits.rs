//! Per-key limits of `nb serve` under concurrency, as real processes over nb-chaos (and a
//! real `redis-server` for the fleet): a burst of calls, streamed and not, never spends
//! more than the key's limit plus one call's hold; two replicas sharing Redis hold the
//! same limits together, for spend and for requests per minute.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
use serde_json::{Value, json};
use support::{KEY, Redis, client, provider, start};

const Q: &str = "What is 17 + 25? Reply with the number only.";
/// Output tokens at 250 per million, input free: a call's hold is `max_tokens` × 250e-6.
const OUTPUT_PER_MTOK: f64 = 250.0;
const MAX_TOKENS: u64 = 20;
const LIMIT: f64 = 0.05;

async fn chaos() -> ChaosServer {
    ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("openai", WireFormat::OpenAi, "gpt-4o-mini").with_latency(
            nb_chaos::Latency {
                base_ms: 100,
                ..nb_chaos::Latency::default()
            },
        ),
    ]))
    .await
    .unwrap()
}

fn config(s: &ChaosServer, key_limits: &str, store: &str) -> String {
    provider(
        "openai",
        "openai",
        &format!("{}/v1", s.base_url("openai").unwrap()),
    ) + &format!(
        "[[targets]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\ncost = {{ input_per_mtok = 0.0, output_per_mtok = {OUTPUT_PER_MTOK} }}\n\n{store}\n[[gateway.keys]]\nname = \"tenant\"\nenv = \"NB_GATEWAY_KEY\"\n{key_limits}\n"
    )
}

/// One call, streamed or not; its status and what its answer cost (by its usage).
async fn call(base: String, stream: bool) -> (u16, f64, bool) {
    let mut body = json!({"model": "openai/gpt-4o-mini", "max_tokens": MAX_TOKENS,
                          "messages": [{"role": "user", "content": Q}]});
    if stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    let r = client()
        .post(format!("{base}/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let has_retry_after = r.headers().get("retry-after").is_some();
    if status != 200 {
        return (status, 0.0, has_retry_after);
    }
    let out = if stream {
        let text = r.text().await.unwrap();
        text.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter(|l| *l != "[DONE]")
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|c| c["usage"]["completion_tokens"].as_u64())
            .next_back()
            // No usage: the gateway keeps the whole hold.
            .unwrap_or(MAX_TOKENS)
    } else {
        let v: Value = r.json().await.unwrap();
        v["usage"]["completion_tokens"].as_u64().unwrap()
    };
    (status, out as f64 * OUTPUT_PER_MTOK / 1e6, has_retry_after)
}

/// 200 calls at once, half streamed, spread over `bases`: what was served and spent.
async fn burst(bases: &[String]) -> (usize, usize, f64) {
    let calls: Vec<_> = (0..200)
        .map(|i| tokio::spawn(call(bases[i % bases.len()].clone(), i % 2 == 0)))
        .collect();
    let (mut ok, mut refused, mut spent) = (0, 0, 0.0);
    for c in calls {
        let (status, cost, retry_after) = c.await.unwrap();
        match status {
            200 => {
                ok += 1;
                spent += cost;
            }
            429 => {
                assert!(retry_after, "a 429 says when to come back");
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    (ok, refused, spent)
}

const HOLD: f64 = MAX_TOKENS as f64 * OUTPUT_PER_MTOK / 1e6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_calls_never_spends_more_than_the_limit_plus_one_hold() {
    let s = chaos().await;
    let g = start(
        &config(&s, &format!("spend_per_day = {LIMIT}"), ""),
        "spend-burst",
    );
    let (ok, refused, spent) = burst(std::slice::from_ref(&g.base)).await;
    eprintln!(
        "one replica: {ok} served, {refused} refused, spent {spent:.5} of {LIMIT} (hold {HOLD})"
    );
    assert!(ok >= (LIMIT / HOLD) as usize, "{ok} served");
    assert!(refused > 0, "the limit refused nothing");
    assert!(spent <= LIMIT + HOLD, "spent {spent} over {LIMIT} + {HOLD}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_hold_one_spend_limit_together() {
    let redis = Redis::start();
    let s = chaos().await;
    let store = format!(
        "[store]\nredis = \"{}\"\nnamespace = \"spend\"\n",
        redis.url()
    );
    let cfg = config(&s, &format!("spend_per_day = {LIMIT}"), &store);
    let a = start(&cfg, "spend-a");
    let b = start(&cfg, "spend-b");
    let (ok, refused, spent) = burst(&[a.base.clone(), b.base.clone()]).await;
    eprintln!(
        "two replicas: {ok} served, {refused} refused, spent {spent:.5} of {LIMIT} (hold {HOLD})"
    );
    assert!(ok >= (LIMIT / HOLD) as usize, "{ok} served");
    assert!(refused > 0, "the limit refused nothing");
    assert!(spent <= LIMIT + HOLD, "spent {spent} over {LIMIT} + {HOLD}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_sharing_redis_hold_one_requests_per_minute_limit() {
    let redis = Redis::start();
    let s = chaos().await;
    let store = format!(
        "[store]\nredis = \"{}\"\nnamespace = \"rpm\"\n",
        redis.url()
    );
    let cfg = config(&s, "requests_per_minute = 60", &store);
    let a = start(&cfg, "rpm-a");
    let b = start(&cfg, "rpm-b");
    let t0 = Instant::now();
    let calls: Vec<_> = (0..160)
        .map(|i| {
            let base = if i % 2 == 0 { &a.base } else { &b.base };
            tokio::spawn(call(base.clone(), false))
        })
        .collect();
    let mut ok = 0;
    for c in calls {
        if c.await.unwrap().0 == 200 {
            ok += 1;
        }
    }
    // The budget is a minute's worth at once, then one a second.
    let refilled = t0.elapsed().as_secs() + 1;
    eprintln!(
        "two replicas at 60 rpm: {ok} of 160 admitted in {:?}",
        t0.elapsed()
    );
    assert!(ok >= 60, "{ok} admitted");
    assert!(ok as u64 <= 60 + refilled, "{ok} admitted");
    let _ = Duration::ZERO;
}
