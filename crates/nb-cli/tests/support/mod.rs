//! What the gateway's integration tests share: `nb serve` and `redis-server` as real
//! processes (each stopped by its own PID when dropped), and config snippets.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The gateway key every test config reads from `NB_GATEWAY_KEY`.
pub(crate) const KEY: &str = "nb-test-gateway-key";

/// A running `nb serve`; killed (by its own PID) when dropped.
pub(crate) struct Gateway {
    pub(crate) child: Child,
    pub(crate) base: String,
    /// Its log lines so far (stderr, drained so it never blocks on a full pipe).
    pub(crate) logs: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `nb serve` on a free loopback port with `config`.
pub(crate) fn start(config: &str, name: &str) -> Gateway {
    start_with_env(config, name, &[])
}

/// Starts `nb serve` with `config` and these environment variables besides the keys.
pub(crate) fn start_with_env(config: &str, name: &str, env: &[(&str, &str)]) -> Gateway {
    let path =
        std::env::temp_dir().join(format!("nb-serve-test-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nb"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env("NB_UPSTREAM_KEY", "sk-upstream")
        .env("NB_GATEWAY_KEY", KEY)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut reader = BufReader::new(stderr);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let logs = logs.clone();
        std::thread::spawn(move || {
            for l in reader.lines().map_while(Result::ok) {
                logs.lock().unwrap().push(l);
            }
        });
    }
    let base = line
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("nb serve did not start: {line}"))
        .to_owned();
    Gateway { child, base, logs }
}

/// A `[providers.NAME]` section reading its key from `NB_UPSTREAM_KEY`.
pub(crate) fn provider(name: &str, kind: &str, base: &str) -> String {
    format!(
        "[providers.{name}]\nkind = \"{kind}\"\nbase_url = \"{base}\"\napi_key_env = \"NB_UPSTREAM_KEY\"\n\n"
    )
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// A `redis-server` of this test's own, on a free loopback port.
pub(crate) struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    pub(crate) fn start() -> Self {
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
                panic!(
                    "cannot start `{bin}` ({e}): these tests need a real Redis — install \
                     redis-server (Debian: apt-get install redis-server), or run `cargo xtask test`"
                )
            });
        let r = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
