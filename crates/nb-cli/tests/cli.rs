//! The `nb` binary: real calls from a config file against nb-chaos, and bad configs that
//! get a clear, specific message and a non-zero exit code, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

use nb_chaos::{ChaosServer, Fault, FaultKind, ProviderSpec, Scenario, WireFormat};

fn nb() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nb"))
}

fn write(name: &str, body: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("nb-cli-test-{}-{name}", std::process::id()));
    std::fs::write(&p, body).unwrap();
    p
}

async fn chaos() -> ChaosServer {
    ChaosServer::start(Scenario::new(vec![
        ProviderSpec::new("down", WireFormat::Anthropic, "claude-sonnet-4-5")
            .with_fault(Fault::always(FaultKind::Overloaded)),
        ProviderSpec::new("up", WireFormat::OpenAi, "gpt-4o-mini"),
    ]))
    .await
    .unwrap()
}

fn config(server: &ChaosServer) -> String {
    format!(
        r#"
[providers.down]
kind = "anthropic"
base_url = "{}"
api_key_env = "NB_CLI_TEST_KEY"

[providers.up]
kind = "openai"
base_url = "{}/v1"
api_key_env = "NB_CLI_TEST_KEY"

[[targets]]
provider = "down"
model = "claude-sonnet-4-5"

[[targets]]
provider = "up"
model = "gpt-4o-mini"

[vouch]
equivalence = "off"
"#,
        server.base_url("down").unwrap(),
        server.base_url("up").unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nb_call_routes_a_call_from_a_config_file_and_reports_it() {
    let server = chaos().await;
    let cfg = write("ok.toml", &config(&server));
    let out = tokio::task::spawn_blocking(move || {
        nb().args(["call", "--json", "--config"])
            .arg(&cfg)
            .arg("What is 2 + 2? Reply with the number only.")
            .env("NB_CLI_TEST_KEY", "sk-x")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["answer"], "4");
    assert_eq!(v["served_by"], "up/gpt-4o-mini");
    assert_eq!(v["failed_over"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nb_check_probes_each_target() {
    let server = chaos().await;
    let cfg = write("check.toml", &config(&server));
    let out = tokio::task::spawn_blocking(move || {
        nb().args(["check", "--probe", "--config"])
            .arg(&cfg)
            .env("NB_CLI_TEST_KEY", "sk-x")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "one target is down: {stdout}");
    assert!(stdout.contains("ok    up/gpt-4o-mini"), "{stdout}");
    assert!(
        stdout.contains("FAIL  down/claude-sonnet-4-5") && stdout.contains("overloaded"),
        "{stdout}"
    );
}

fn bad(name: &str, body: &str, env: bool, extra: &[&str]) -> (i32, String) {
    let cfg = write(name, body);
    let mut cmd = nb();
    cmd.args(["call", "--config"])
        .arg(&cfg)
        .args(extra)
        .arg("hi");
    if env {
        cmd.env("NB_CLI_TEST_KEY", "sk-x");
    } else {
        cmd.env_remove("NB_CLI_TEST_KEY");
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const MINIMAL: &str = "[providers.p]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"NB_CLI_TEST_KEY\"\n\n[[targets]]\nprovider = \"p\"\nmodel = \"m\"\n";

#[test]
fn a_misspelt_key_is_named_with_a_suggestion() {
    let (code, err) = bad(
        "typo.toml",
        &MINIMAL.replace("model = ", "modle = "),
        true,
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown field `modle`") && err.contains("did you mean `model`"),
        "{err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn a_missing_env_var_is_named() {
    let (code, err) = bad("noenv.toml", MINIMAL, false, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("NB_CLI_TEST_KEY"), "{err}");
}

#[test]
fn an_unknown_provider_kind_or_name_is_specific() {
    let (code, err) = bad(
        "kind.toml",
        &MINIMAL.replace("kind = \"openai\"", "kind = \"openia\""),
        true,
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("openia"), "{err}");
    let (code, err) = bad(
        "name.toml",
        &MINIMAL.replace("provider = \"p\"", "provider = \"q\""),
        true,
        &[],
    );
    assert_eq!(code, 2);
    assert!(err.contains("unknown provider \"q\""), "{err}");
}

#[test]
fn an_invalid_schema_file_is_reported() {
    let schema = write("bad-schema.json", r#"{"type": "no-such-type"}"#);
    let (code, err) = bad(
        "schema.toml",
        MINIMAL,
        true,
        &["--schema", schema.to_str().unwrap()],
    );
    assert_eq!(code, 2);
    assert!(err.contains("schema"), "{err}");
    let not_json = write("not-json.json", "{ nope");
    let (code, err) = bad(
        "schema2.toml",
        MINIMAL,
        true,
        &["--schema", not_json.to_str().unwrap()],
    );
    assert_eq!(code, 2);
    assert!(err.contains("not JSON"), "{err}");
}

fn check(name: &str, body: &str) -> (i32, String) {
    let cfg = write(name, body);
    let out = nb()
        .args(["check", "--config"])
        .arg(&cfg)
        .env("NB_CLI_TEST_KEY", "sk-x")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn values_that_cannot_work_are_errors_that_name_the_key() {
    for (edit, key) in [
        (
            "[policy]\nattempt_timeout_ms = 0\n",
            "policy.attempt_timeout_ms",
        ),
        (
            "[policy]\nattempt_timeout_ms = 5000\ndeadline_ms = 1000\n",
            "policy.deadline_ms",
        ),
        ("[breaker]\nopen_ms = 0\n", "breaker.open_ms"),
        ("[breaker]\nfailure_rate = 1.5\n", "breaker.failure_rate"),
        ("[cooldowns]\nauth_ms = 0\n", "cooldowns.auth_ms"),
        ("[vouch]\nshadow_rate = -0.1\n", "vouch.shadow_rate"),
        ("[policy]\nstrategy = \"weighted\"\n", "policy.strategy"),
        ("[gateway]\nlisten = \"nowhere\"\n", "gateway.listen"),
        (
            "[[gateway.keys]]\nname = \"a\"\nsha256 = \"abc\"\n",
            "gateway.keys[0].sha256",
        ),
        ("[routes]\nr = [\"p/other\"]\n", "routes.r"),
    ] {
        let (code, err) = check("bad-value.toml", &format!("{MINIMAL}\n{edit}"));
        assert_eq!(code, 2, "{edit}: {err}");
        assert!(err.contains(key), "{edit}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn an_empty_file_says_what_to_write() {
    let (code, err) = check("empty.toml", "");
    assert_eq!(code, 2);
    assert!(
        err.contains("[[targets]]") && err.contains("kind = \"openai\""),
        "{err}"
    );
}

#[test]
fn a_route_is_a_list_of_targets_or_a_table() {
    let body =
        format!("{MINIMAL}\n[routes]\nfast = [\"p/m\"]\n\n[routes.slow]\ntargets = [\"p/m\"]\n");
    let (code, err) = check("routes.toml", &body);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn the_complete_example_in_the_docs_is_valid() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/nb.example.toml");
    let out = nb()
        .args(["check", "--config"])
        .arg(&path)
        .env("OPENAI_API_KEY", "sk-x")
        .env("ANTHROPIC_API_KEY", "sk-x")
        .env("GEMINI_API_KEY", "x")
        .env("AZURE_OPENAI_API_KEY", "x")
        .env("NB_GATEWAY_KEY_SEARCH", "x")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every key of the file's schema appears in the example.
    let example = std::fs::read_to_string(&path).unwrap();
    let schema = nb().args(["config", "schema"]).output().unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    let mut keys = Vec::new();
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        if let Some(m) = v.as_object() {
            if let Some(p) = m.get("properties").and_then(|p| p.as_object()) {
                out.extend(p.keys().cloned());
            }
            m.values().for_each(|x| walk(x, out));
        } else if let Some(a) = v.as_array() {
            a.iter().for_each(|x| walk(x, out));
        }
    }
    walk(&schema, &mut keys);
    assert!(keys.len() > 40, "{keys:?}");
    for k in keys {
        assert!(example.contains(&k), "docs/nb.example.toml lacks `{k}`");
    }
}

#[test]
fn nb_call_prints_the_answer_on_stdout_and_the_report_on_stderr() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(chaos());
    let cfg = write("split.toml", &config(&server));
    let out = nb()
        .args(["call", "--config"])
        .arg(&cfg)
        .arg("What is 2 + 2? Reply with the number only.")
        .env("NB_CLI_TEST_KEY", "sk-x")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "4");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("served by up/gpt-4o-mini"), "{err}");
    drop(server);
}

#[test]
fn a_route_schema_file_that_cannot_be_read_names_the_key() {
    let body =
        format!("{MINIMAL}\n[routes.r]\ntargets = [\"p/m\"]\nschema = \"no-such-schema.json\"\n");
    let (code, err) = check("route-schema.toml", &body);
    assert_eq!(code, 2);
    assert!(
        err.contains("routes.r.schema") && err.contains("no-such-schema.json"),
        "{err}"
    );
    let schema = write("ok-schema.json", r#"{"type": "object"}"#);
    let body = format!(
        "{MINIMAL}\n[routes.r]\ntargets = [\"p/m\"]\nschema = \"{}\"\n",
        schema.display()
    );
    let (code, err) = check("route-schema-ok.toml", &body);
    assert_eq!(code, 0, "{err}");
}
