//! `cargo xtask bench-gateway [--quick] [--rounds R] [--requests N] [--in-flight M]
//! [--serve-threads T] [--serve-bin PATH] [--save-baseline] [--tolerance PCT]`: the
//! gateway as users run it (`cargo xtask bench` runs it too, after criterion).
//!
//! Real processes on loopback, release builds: `nb-chaos serve` twice (one healthy
//! OpenAI-format provider with no latency; one that accepts requests and never
//! answers), `nb serve` over it, and Debian's nginx as a bare keep-alive reverse proxy in
//! front of the same provider (one worker process, access log off). A load generator in this
//! process — std threads, one keep-alive HTTP/1.1 connection each, a fixed concurrency —
//! sends the same chat completion straight to the provider (the baseline), through nginx
//! and through `nb serve`, at C=1 and C=32, the three back to back in every round. Each
//! round gives the added p50 over the direct call and the throughput as a fraction of the
//! direct call's; the medians of the rounds' figures are printed. With `--serve-threads T`
//! a second `nb serve` runs with `TOKIO_WORKER_THREADS=T` and is measured in the same
//! rounds, as a further endpoint; with `--serve-bin PATH`, so does `nb serve` from another
//! `nb` binary (one built with other features, copied aside), so two builds are compared
//! in one run.
//!
//! Then memory: the RSS of the `nb serve` process idle, and with M requests waiting on
//! the provider that never answers (M connections, one request each), per request; and
//! the same for an SDK process (`crates/nb-router/examples/inflight.rs`: M calls through
//! a `SmartRouter` over the OpenAI adapter) against a bare reqwest client.
//!
//! Last, the throughput ratios of nginx and `nb serve` over the direct call, at C=1 and
//! C=32, against those committed in `docs/bench-baseline.json` (`gateway_c1/nb_serve`,
//! ...): a worse one is flagged, as `cargo xtask bench` flags the router's.
//!
//! A benchmark, not a test: nothing here asserts a timing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use crate::baseline::Ratio;
use crate::{run, target_dir};

const BODY: &str = r#"{"model":"MODEL","messages":[{"role":"user","content":"What is 17 + 25? Reply with the number only."}]}"#;

const FAST: &str = r#"
description = "bench-gateway: a healthy provider with no latency"
seed = 1

[[providers]]
name = "fast"
format = "openai"
models = [{ name = "gpt-4o-mini" }]
"#;

// In a process of its own: its stats stay small (the other's log holds every request).
const HANG: &str = r#"
description = "bench-gateway: a provider that takes requests and never answers"
seed = 1

[[providers]]
name = "hang"
format = "openai"
models = [{ name = "gpt-4o-mini" }]
faults = [{ kind = "hang", probability = 1.0 }]
"#;

/// Kills its child process when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An `nb serve` process under test: the process, where it listens, and its name in the
/// tables.
struct Gateway {
    proc: Proc,
    addr: String,
    name: String,
}

/// One endpoint under load: where to send, and what `model` to ask for.
struct Endpoint {
    name: String,
    addr: String,
    path: String,
    model: &'static str,
}

/// `cargo xtask bench-gateway`: the bench, then its ratios against the committed
/// baseline (`--save-baseline` writes them there; `--tolerance PCT` as for `bench`).
pub(crate) fn run_bench(args: &[String]) -> Result<(), String> {
    let now = measure(args)?;
    crate::baseline_report(&now, args)
}

/// Runs the bench (`--quick`: 3 rounds of 1,000 requests, as CI runs it) and returns
/// the ratios `cargo xtask bench` watches: nginx's and `nb serve`'s throughput over the
/// direct call's, at C=1 and C=32 (the medians of the rounds' ratios).
pub(crate) fn measure(args: &[String]) -> Result<BTreeMap<String, Ratio>, String> {
    // A flag's value: `None` without the flag, `Some(None)` when its value is missing.
    let value = |name: &str| args.iter().position(|a| a == name).map(|i| args.get(i + 1));
    let quick = args.iter().any(|a| a == "--quick");
    let flag = |name: &str, default: usize| -> Result<usize, String> {
        match value(name) {
            Some(v) => v
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} takes a number")),
            None => Ok(default),
        }
    };
    let rounds = flag("--rounds", if quick { 3 } else { 5 })?;
    let requests = flag("--requests", if quick { 1000 } else { 2000 })?;
    let in_flight = flag("--in-flight", 1000)?;
    let serve_threads = flag("--serve-threads", 0)?;
    // Another `nb` binary (e.g. one built with other features, copied aside) measured
    // in the same rounds as a further endpoint.
    let serve_bin = match value("--serve-bin") {
        None => None,
        Some(v) => Some(PathBuf::from(
            v.ok_or("--serve-bin takes the path of an nb binary")?,
        )),
    };
    let nginx = which_nginx()?;
    run(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "nb-chaos",
            "-p",
            "neuralbridge-cli",
            "--bin",
            "nb-chaos",
            "--bin",
            "nb",
        ],
        &[],
    )?;
    run(
        "cargo",
        &[
            "build",
            "--release",
            "-p",
            "nb-router",
            "--example",
            "inflight",
        ],
        &[],
    )?;
    let release = target_dir().join("release");
    let work = target_dir().join("gateway-bench");
    std::fs::create_dir_all(work.join("nginx/logs")).map_err(|e| e.to_string())?;

    // The providers.
    let chaos = |name: &str, scenario: &str| -> Result<(Proc, String), String> {
        let path = work.join(format!("{name}.toml"));
        std::fs::write(&path, scenario).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(release.join("nb-chaos"));
        cmd.args(["serve", "--scenario"])
            .arg(&path)
            .stdout(Stdio::piped());
        let (p, lines) = spawn_reading(cmd, true, |l| l.starts_with("stats:"))?;
        let base = lines
            .iter()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
            .map(|u| u.trim_start_matches("http://").to_owned())
            .ok_or_else(|| format!("nb-chaos did not list `{name}`: {lines:?}"))?;
        Ok((p, base))
    };
    let (fast_chaos, fast) = chaos("fast", FAST)?;
    let (hang_chaos, hang) = chaos("hang", HANG)?;

    // The gateway.
    let config = work.join("nb.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[providers.fast]
kind = "openai"
base_url = "http://{fast}/v1"
api_key_env = "NB_BENCH_UPSTREAM_KEY"

[providers.hang]
kind = "openai"
base_url = "http://{hang}/v1"
api_key_env = "NB_BENCH_UPSTREAM_KEY"

[[targets]]
provider = "fast"
model = "gpt-4o-mini"

[[targets]]
provider = "hang"
model = "gpt-4o-mini"

[routes]
fast = ["fast/gpt-4o-mini"]
hang = ["hang/gpt-4o-mini"]

[policy]
attempt_timeout_ms = 600000
deadline_ms = 600000
"#
        ),
    )
    .map_err(|e| e.to_string())?;
    let serve = |bin: &Path, threads: usize, name: String| -> Result<Gateway, String> {
        let mut nb = Command::new(bin);
        nb.args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .env("NB_BENCH_UPSTREAM_KEY", "sk-bench")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if threads > 0 {
            nb.env("TOKIO_WORKER_THREADS", threads.to_string());
        }
        let (nb, lines) = spawn_reading(nb, false, |l| l.contains("listening on"))?;
        let gateway = lines
            .last()
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
            .map(|u| u.trim_start_matches("http://").to_owned())
            .ok_or_else(|| format!("nb serve did not say where it listens: {lines:?}"))?;
        Ok(Gateway {
            proc: nb,
            addr: gateway,
            name,
        })
    };
    // The default build first; the others are measured beside it.
    let mut gateways = vec![serve(&release.join("nb"), 0, "nb serve".into())?];
    if serve_threads > 0 {
        gateways.push(serve(
            &release.join("nb"),
            serve_threads,
            format!("nb serve, {serve_threads} worker thread(s)"),
        )?);
    }
    if let Some(bin) = &serve_bin {
        gateways.push(serve(bin, 0, format!("nb serve from {}", bin.display()))?);
    }

    // nginx, one worker, keep-alive to the provider.
    let nginx_port = free_port()?;
    let prefix = work.join("nginx");
    std::fs::write(
        prefix.join("nginx.conf"),
        format!(
            r#"worker_processes 1;
# One process that serves (no master): killed at the end, it leaves no worker behind.
master_process off;
daemon off;
pid nginx.pid;
error_log logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path tmp_body;
    proxy_temp_path tmp_proxy;
    upstream provider {{ server {fast}; keepalive 64; keepalive_requests 1000000; }}
    server {{
        listen 127.0.0.1:{nginx_port};
        location / {{
            proxy_pass http://provider;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
"#
        ),
    )
    .map_err(|e| e.to_string())?;
    let _nginx = Proc(
        Command::new(&nginx)
            .arg("-p")
            .arg(&prefix)
            .args(["-c", "nginx.conf", "-e", "logs/error.log"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{nginx}: {e}"))?,
    );
    let nginx_addr = format!("127.0.0.1:{nginx_port}");
    wait_listening(&nginx_addr)?;

    let mut endpoints = vec![
        Endpoint {
            name: "direct".into(),
            addr: fast.clone(),
            path: "/v1/chat/completions".into(),
            model: "gpt-4o-mini",
        },
        Endpoint {
            name: "nginx".into(),
            addr: nginx_addr,
            path: "/v1/chat/completions".into(),
            model: "gpt-4o-mini",
        },
    ];
    for g in &gateways {
        endpoints.push(Endpoint {
            name: g.name.clone(),
            addr: g.addr.clone(),
            path: "/v1/chat/completions".into(),
            model: "fast",
        });
    }
    let n = endpoints.len();
    for e in &endpoints {
        let r = load(e, 1, 50)?;
        if r.failed > 0 {
            return Err(format!(
                "{}: {} of 50 warm-up requests failed",
                e.name, r.failed
            ));
        }
    }

    println!(
        "bench-gateway: {rounds} rounds of {requests} requests per endpoint and concurrency; load average before: {}",
        loadavg()
    );
    let mut table = String::new();
    let mut watched = BTreeMap::new();
    for c in [1usize, 32] {
        // Per proxy (nginx, nb serve, ...): added p50 µs and throughput ratio, per round.
        let mut added = vec![Vec::new(); n - 1];
        let mut ratio = vec![Vec::new(); n - 1];
        let mut direct_p50 = Vec::new();
        let mut direct_rps = Vec::new();
        for round in 0..rounds {
            let mut results = Vec::new();
            // Interleaved, and the order turned each round.
            let order: Vec<usize> = (0..n).map(|k| (k + round) % n).collect();
            let mut by: Vec<Option<Load>> = (0..n).map(|_| None).collect();
            for &k in &order {
                by[k] = Some(load(&endpoints[k], c, requests)?);
            }
            for r in by.into_iter().flatten() {
                results.push(r);
            }
            let d = &results[0];
            direct_p50.push(d.p50_us);
            direct_rps.push(d.rps);
            for k in 0..n - 1 {
                let r = &results[k + 1];
                if r.failed > 0 {
                    println!(
                        "  {} c{c}: {} failed requests",
                        endpoints[k + 1].name,
                        r.failed
                    );
                }
                added[k].push(r.p50_us - d.p50_us);
                ratio[k].push(r.rps / d.rps);
            }
        }
        let direct_rps = median(&mut direct_rps);
        let mut line = format!(
            "| {c} | {:.0} µs, {direct_rps:.0} req/s |",
            median(&mut direct_p50),
        );
        let added: Vec<f64> = added.iter_mut().map(|v| median(v)).collect();
        let ratio: Vec<f64> = ratio.iter_mut().map(|v| median(v)).collect();
        // nginx and the default `nb serve` (endpoints 1 and 2) are watched: a ratio as a
        // request's time against the direct call's, so its throughput is the median ratio.
        for (k, key) in [(0, "nginx"), (1, "nb_serve")] {
            watched.insert(
                format!("gateway_c{c}/{key}"),
                watched_ratio(direct_rps, ratio[k]),
            );
        }
        let (nginx_added, nginx_ratio) = (added[0], ratio[0]);
        for (k, (a, r)) in added.iter().zip(&ratio).enumerate() {
            line.push_str(&format!(" +{a:.0} µs, {r:.3}× |"));
            if k > 0 {
                line.push_str(&format!(
                    " {:.2} | {:.2} |",
                    a / nginx_added,
                    r / nginx_ratio
                ));
            }
        }
        table.push_str(&line);
        table.push('\n');
    }
    let mut head =
        String::from("| C | direct p50, throughput | nginx: added p50, throughput ratio |");
    let mut rule = String::from("|---|---|---|");
    for e in &endpoints[2..] {
        head.push_str(&format!(
            " {0}: added p50, throughput ratio | {0} ÷ nginx, added | {0} ÷ nginx, ratio |",
            e.name
        ));
        rule.push_str("---|---|---|");
    }
    println!("\n{head}\n{rule}\n{table}");
    println!("load average after: {}", loadavg());

    // Memory per in-flight request, each gateway process.
    for Gateway { proc, addr, name } in &gateways {
        let idle = rss_kib(proc.0.id())?;
        let before = hang_requests(&hang)?;
        let mut held = Vec::with_capacity(in_flight);
        let req = request("hang", addr, "/v1/chat/completions");
        for _ in 0..in_flight {
            let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
            s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
            held.push(s);
        }
        wait_for(|| Ok(hang_requests(&hang)? >= before + in_flight as u64))?;
        std::thread::sleep(Duration::from_millis(500));
        let busy = rss_kib(proc.0.id())?;
        drop(held);
        println!(
            "\n{name} RSS: idle {idle} KiB, {in_flight} requests in flight {busy} KiB: {:.1} KiB per in-flight request",
            (busy as f64 - idle as f64) / in_flight as f64
        );
    }

    // Memory per in-flight call, an SDK process against a bare reqwest client.
    let example = release.join("examples/inflight");
    for mode in ["bare", "router"] {
        let before = hang_requests(&hang)?;
        let out = Command::new(&example)
            .args([mode, &format!("http://{hang}"), &in_flight.to_string()])
            .output()
            .map_err(|e| format!("{}: {e}", example.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || hang_requests(&hang)? < before + in_flight as u64 {
            return Err(format!(
                "inflight {mode} failed: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        print!("SDK process, {text}");
    }
    drop(gateways);
    drop(fast_chaos);
    drop(hang_chaos);
    Ok(watched)
}

/// A proxy's throughput `ratio` over the direct call's (`direct_rps`) as a baseline
/// entry: the time per request of each, so that its throughput is `ratio`.
fn watched_ratio(direct_rps: f64, ratio: f64) -> Ratio {
    let direct_ns = 1e9 / direct_rps;
    Ratio {
        vs: "direct".into(),
        median_ns: direct_ns / ratio,
        baseline_ns: direct_ns,
    }
}

/// Starts `cmd` and reads its stdout (or stderr) until a line satisfies `done`; a thread
/// drains the rest so the child never blocks on a full pipe.
fn spawn_reading(
    mut cmd: Command,
    stdout: bool,
    done: impl Fn(&str) -> bool,
) -> Result<(Proc, Vec<String>), String> {
    let mut child = Proc(cmd.spawn().map_err(|e| format!("{cmd:?}: {e}"))?);
    let pipe: Box<dyn Read + Send> = if stdout {
        Box::new(child.0.stdout.take().ok_or("no stdout")?)
    } else {
        Box::new(child.0.stderr.take().ok_or("no stderr")?)
    };
    let mut reader = BufReader::new(pipe);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err(format!("{cmd:?} exited: {lines:?}"));
        }
        let finished = done(&line);
        lines.push(line.trim_end().to_owned());
        if finished {
            break;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    Ok((child, lines))
}

fn which_nginx() -> Result<String, String> {
    for p in ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"] {
        if Path::new(p).exists() {
            return Ok(p.into());
        }
    }
    Err("bench-gateway needs nginx (Debian: apt-get install nginx-light)".into())
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

fn wait_for(mut ready: impl FnMut() -> Result<bool, String>) -> Result<(), String> {
    let start = Instant::now();
    while !ready()? {
        if start.elapsed() > Duration::from_secs(30) {
            return Err("timed out waiting".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn wait_listening(addr: &str) -> Result<(), String> {
    wait_for(|| Ok(TcpStream::connect(addr).is_ok()))
}

fn request(model: &str, host: &str, path: &str) -> String {
    let body = BODY.replace("MODEL", model);
    format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\nauthorization: Bearer sk-bench\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// What one endpoint did under one load.
struct Load {
    p50_us: f64,
    rps: f64,
    failed: usize,
}

/// `n` requests to `e` over `c` keep-alive connections, one thread each.
fn load(e: &Endpoint, c: usize, n: usize) -> Result<Load, String> {
    let req = request(e.model, &e.addr, &e.path);
    let per = n.div_ceil(c);
    let start = Instant::now();
    let threads: Vec<_> = (0..c)
        .map(|_| {
            let (addr, req) = (e.addr.clone(), req.clone());
            std::thread::spawn(move || -> Result<(Vec<u32>, usize), String> {
                let mut s = TcpStream::connect(&addr).map_err(|e| e.to_string())?;
                s.set_nodelay(true).map_err(|e| e.to_string())?;
                let mut buf = Vec::with_capacity(4096);
                let mut times = Vec::with_capacity(per);
                let mut failed = 0;
                for _ in 0..per {
                    let t0 = Instant::now();
                    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
                    let status = read_response(&mut s, &mut buf)?;
                    times.push(t0.elapsed().as_micros() as u32);
                    if status != 200 {
                        failed += 1;
                    }
                }
                Ok((times, failed))
            })
        })
        .collect();
    let mut times = Vec::with_capacity(n);
    let mut failed = 0;
    for t in threads {
        let (t, f) = t.join().map_err(|_| "a load thread panicked")??;
        times.extend(t);
        failed += f;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut t: Vec<f64> = times.iter().map(|&x| f64::from(x)).collect();
    Ok(Load {
        p50_us: median(&mut t),
        rps: (per * c) as f64 / elapsed,
        failed,
    })
}

/// Reads one HTTP/1.1 response (content-length or chunked) and returns its status.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<u16, String> {
    buf.clear();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed before a response".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length = head.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    match length {
        Some(len) => {
            while buf.len() < head_end + len {
                let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("connection closed inside a body".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        // Chunked: read until the last chunk.
        None => {
            while find(&buf[head_end..], b"0\r\n\r\n").is_none() {
                let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
                if n == 0 {
                    return Err("connection closed inside a body".into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
    }
    Ok(status)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 0 {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("the RSS of process {pid}: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| "no VmRSS".into())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// How many requests the hanging provider has taken (nb-chaos's stats).
fn hang_requests(hang: &str) -> Result<u64, String> {
    let mut s = TcpStream::connect(hang).map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /_chaos/stats HTTP/1.1\r\nhost: {hang}\r\nconnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value = serde_json::from_str(body.trim())
        .or_else(|_| {
            // A chunked body: the JSON is between the size line and the end.
            let start = body.find('{').unwrap_or(0);
            let end = body.rfind('}').map_or(body.len(), |e| e + 1);
            serde_json::from_str(&body[start..end])
        })
        .map_err(|e| format!("nb-chaos stats: {e}: {body}"))?;
    Ok(v["hang"]["requests"].as_u64().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_watched_ratio_is_the_proxys_throughput_over_the_direct_calls() {
        let r = super::watched_ratio(20_000.0, 0.25);
        assert_eq!(r.vs, "direct");
        assert!((r.baseline_ns - 50_000.0).abs() < 1e-6, "{r:?}");
        assert!((r.median_ns - 200_000.0).abs() < 1e-6, "{r:?}");
        assert!((r.throughput() - 0.25).abs() < 1e-12);
    }
}
