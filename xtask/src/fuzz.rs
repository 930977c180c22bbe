//! `cargo xtask fuzz [--secs N] [TARGET...]`: builds the libFuzzer targets in `fuzz/` on
//! the nightly toolchain (installing `cargo-fuzz` from crates.io if it is missing), seeds
//! each corpus from the test fixtures, and runs every target (or those named) for `N`
//! seconds each. A crash fails the command and leaves its input in
//! `fuzz/artifacts/TARGET/`; turn it into a regression test.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const TARGETS: &[&str] = &[
    "response_bodies",
    "error_bodies",
    "streams",
    "sse_framing",
    "bedrock_streams",
    "retry_hints",
    "config",
    "equivalence",
];

fn have_cargo_fuzz() -> bool {
    Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))
}

/// Seeds for every target, from the fixtures the tests already use.
fn seed(root: &Path, seeds: &Path) -> Result<(), String> {
    let read = |p: &str| std::fs::read_to_string(root.join(p)).map_err(|e| format!("{p}: {e}"));
    // Real error bodies: for the error parser, and as stream/response noise.
    for (i, line) in read("tests/data/real_errors/rows.jsonl")?
        .lines()
        .enumerate()
    {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let body = v["body"].as_str().unwrap_or_default();
        let status = u8::try_from(v["status"].as_u64().unwrap_or(0) % 200).unwrap_or(0);
        write(
            &seeds.join("error_bodies"),
            &format!("row{i}"),
            &[&[status], body.as_bytes()].concat(),
        )?;
        write(
            &seeds.join("response_bodies"),
            &format!("err{i}"),
            &[&[(i % 3) as u8], body.as_bytes()].concat(),
        )?;
        let hint = v["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| format!("{k}: {}\n", v.as_str().unwrap_or("")))
                    .collect::<String>()
            })
            .unwrap_or_default();
        write(
            &seeds.join("retry_hints"),
            &format!("row{i}"),
            format!("{hint}{body}").as_bytes(),
        )?;
    }
    // Labelled answer pairs: prompt, primary, fallback separated by 0xFF.
    for (i, line) in read("tests/data/equivalence/pairs.jsonl")?
        .lines()
        .enumerate()
        .step_by(7)
    {
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().as_bytes().to_vec();
        let seed = [
            s("prompt"),
            vec![0xFF],
            s("primary"),
            vec![0xFF],
            s("fallback"),
        ]
        .concat();
        write(&seeds.join("equivalence"), &format!("pair{i}"), &seed)?;
    }
    // Valid answers and streams of each format, as the adapters' tests send them.
    let bodies = [
        r#"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
        r#"{"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"hi"},{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#,
        r#"{"candidates":[{"content":{"parts":[{"text":"hi"},{"functionCall":{"name":"f","args":{"a":1}}}],"role":"model"},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":1}}"#,
    ];
    let streams = [
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n: keep-alive\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"}]}\r\n\r\n",
    ];
    for (i, (b, s)) in bodies.iter().zip(streams).enumerate() {
        let fmt = u8::try_from(i).unwrap_or(0);
        write(
            &seeds.join("response_bodies"),
            &format!("ok{i}"),
            &[&[fmt], b.as_bytes()].concat(),
        )?;
        write(
            &seeds.join("streams"),
            &format!("ok{i}"),
            &[&[fmt, 7], s.as_bytes()].concat(),
        )?;
        write(
            &seeds.join("sse_framing"),
            &format!("ok{i}"),
            &[&[5], s.as_bytes()].concat(),
        )?;
    }
    write(
        &seeds.join("sse_framing"),
        "bom",
        b"\x03\xEF\xBB\xBFdata: x\r\n\r\n",
    )?;
    // A Bedrock ConverseStream (AWS event-stream frames) and a Converse body.
    let frame = nb_providers::wire::bedrock_event_message;
    let bedrock: Vec<u8> = [
        frame("event", "messageStart", br#"{"role":"assistant"}"#),
        frame(
            "event",
            "contentBlockDelta",
            br#"{"contentBlockIndex":0,"delta":{"text":"hi"}}"#,
        ),
        frame(
            "event",
            "contentBlockStart",
            br#"{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t","name":"f"}}}"#,
        ),
        frame(
            "event",
            "contentBlockDelta",
            br#"{"contentBlockIndex":1,"delta":{"toolUse":{"input":"{\"a\":1}"}}}"#,
        ),
        frame("event", "messageStop", br#"{"stopReason":"tool_use"}"#),
        frame(
            "event",
            "metadata",
            br#"{"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}"#,
        ),
        frame(
            "exception",
            "throttlingException",
            br#"{"message":"Too many requests"}"#,
        ),
    ]
    .concat();
    write(
        &seeds.join("bedrock_streams"),
        "ok",
        &[&[7], bedrock.as_slice()].concat(),
    )?;
    write(
        &seeds.join("bedrock_streams"),
        "body",
        &[&[0], br#"{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1}}"#.as_slice()].concat(),
    )?;
    // A complete config file.
    let config = "[providers.openai]\nkind = \"openai\"\napi_key_env = \"OPENAI_API_KEY\"\n\n[providers.claude]\nkind = \"anthropic\"\n\n[[targets]]\nprovider = \"claude\"\nmodel = \"claude-sonnet-4-5\"\ncontext_window = 200000\n\n[[targets]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\ncost = { input_per_mtok = 0.15, output_per_mtok = 0.6 }\n\n[routes.cheap]\ntargets = [\"openai/gpt-4o-mini\", \"claude/claude-sonnet-4-5\"]\n\n[policy]\nattempt_timeout_ms = 30000\ndeadline_ms = 60000\nstrategy = \"priority\"\n\n[vouch]\nequivalence = \"strict\"\n";
    write(&seeds.join("config"), "basic", config.as_bytes())?;
    Ok(())
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut secs = 60u64;
    let mut chosen: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--secs" => {
                secs = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--secs needs a number of seconds")?;
            }
            t if TARGETS.contains(&t) => {
                chosen.push(TARGETS[TARGETS.iter().position(|x| *x == t).unwrap_or(0)])
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}; targets: {}",
                    TARGETS.join(", ")
                ));
            }
        }
    }
    if chosen.is_empty() {
        chosen = TARGETS.to_vec();
    }
    let root = super::root();
    if !have_cargo_fuzz() {
        super::run("cargo", &["install", "cargo-fuzz", "--locked"], &[])?;
    }
    let seeds: PathBuf = root.join("target/fuzz-seeds");
    seed(&root, &seeds)?;
    // No sanitizer: the code is safe Rust, and the targets hunt panics, hangs and
    // quadratic time, which need no instrumentation beyond coverage.
    super::run("cargo", &["+nightly", "fuzz", "build", "-s", "none"], &[])?;
    for t in chosen {
        let corpus = root.join("target/fuzz-corpus").join(t);
        std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
        let corpus = corpus.to_string_lossy().into_owned();
        let seed_dir = seeds.join(t).to_string_lossy().into_owned();
        let total = format!("-max_total_time={secs}");
        super::run(
            "cargo",
            &[
                "+nightly",
                "fuzz",
                "run",
                "-s",
                "none",
                t,
                &corpus,
                &seed_dir,
                "--",
                &total,
                "-timeout=10",
                "-rss_limit_mb=2048",
                "-max_len=65536",
                "-print_final_stats=1",
            ],
            &[],
        )?;
    }
    Ok(())
}
