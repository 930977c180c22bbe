//! Slow clients cannot starve others: `nb serve` as a real process, 1,000 slowloris
//! connections (loopback only, from their own address) and a normal client meanwhile.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use nb_chaos::{ChaosServer, ProviderSpec, Scenario, WireFormat};
use serde_json::json;
use support::{KEY, client, provider, start};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_connections_are_closed_within_the_header_timeout_while_others_are_served() {
    let s = ChaosServer::start(Scenario::new(vec![ProviderSpec::new(
        "openai",
        WireFormat::OpenAi,
        "gpt-4o-mini",
    )]))
    .await
    .unwrap();
    let cfg = provider(
        "openai",
        "openai",
        &format!("{}/v1", s.base_url("openai").unwrap()),
    ) + "[[targets]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\n\n[gateway]\nheader_timeout_ms = 1000\nmax_connections_per_client = 256\n\n[[gateway.keys]]\nname = \"t\"\nenv = \"NB_GATEWAY_KEY\"\n";
    let g = start(&cfg, "slowloris");
    let addr: std::net::SocketAddr = g.base.trim_start_matches("http://").parse().unwrap();

    // 1,000 connections from 127.0.0.2, each sending half a request head and no more.
    let t0 = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..1000 {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        let Ok(mut c) = socket.connect(addr).await else {
            continue;
        };
        let _ = c
            .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
            .await;
        slow.push(c);
    }
    assert!(!slow.is_empty());

    // A normal client on another address is served meanwhile.
    let r = client()
        .post(format!("{}/v1/chat/completions", g.base))
        .bearer_auth(KEY)
        .json(&json!({"model": "openai/gpt-4o-mini",
                      "messages": [{"role": "user", "content": "What is 17 + 25?"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Every slow connection is closed by the server: those over the per-client cap at
    // once, the others when their head has not come within the header timeout.
    let mut closed = 0;
    for mut c in slow {
        let mut buf = [0u8; 512];
        let read = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf)).await;
        // A close is EOF, a reset, or a 408 response followed by EOF.
        if matches!(read, Ok(Ok(_) | Err(_))) {
            closed += 1;
        }
    }
    let elapsed = t0.elapsed();
    eprintln!("1000 slowloris connections: {closed} closed by the server within {elapsed:?}");
    assert_eq!(closed, 1000);
    // An idle keep-alive connection is closed too.
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = c.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let eof = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf)).await;
    assert!(
        matches!(eof, Ok(Ok(0) | Err(_))),
        "an idle keep-alive connection stayed open"
    );
}
