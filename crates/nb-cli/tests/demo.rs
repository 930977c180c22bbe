//! The quick demo, end to end: neuralbridge returns no wrong answer as a success, answers
//! more calls correctly than blind retry on the same seed, and writes a well-formed report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_cli::demo::{DemoOptions, run, summary_json, table};

/// Checks that every opened element is closed in order (void and self-closed ones
/// excepted): enough to catch a broken template.
fn well_formed(html: &str) -> Result<(), String> {
    const VOID: [&str; 3] = ["meta", "br", "hr"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').ok_or("an unterminated tag")?;
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if tag.ends_with('/') || VOID.contains(&name.as_str()) {
            continue;
        }
        stack.push(name);
    }
    if stack.is_empty() {
        Ok(())
    } else {
        Err(format!("unclosed: {stack:?}"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quick_demo_shows_zero_silent_corruptions_and_a_well_formed_report() {
    let path = std::env::temp_dir().join(format!("nb-demo-test-{}.html", std::process::id()));
    let r = run(DemoOptions {
        quick: true,
        seed: 42,
        report: Some(path.clone()),
        ..DemoOptions::default()
    })
    .await
    .unwrap();
    let (b, n) = (&r.blind, &r.neuralbridge);
    assert_eq!(n.silent_corruptions, 0, "{}", table(&r));
    assert!(n.correct > b.correct, "{}", table(&r));
    assert!(
        b.silent_corruptions > 0,
        "the blind client trusted some broken 200s: {}",
        table(&r)
    );
    assert_eq!(b.calls, n.calls);
    assert_eq!(
        n.correct + n.silent_corruptions + n.explicit_errors,
        n.calls
    );
    assert!(
        !r.breaker_transitions.is_empty(),
        "the outage moved a breaker"
    );
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    well_formed(&html).unwrap();
    assert!(html.matches("<svg").count() >= 3);
    let json = summary_json(&r);
    assert_eq!(json["neuralbridge"]["silent_corruptions"], 0);
    std::fs::remove_file(&path).ok();
}

#[test]
fn the_well_formedness_check_catches_broken_markup() {
    assert!(well_formed("<p><b>x</b></p>").is_ok());
    assert!(well_formed("<p><b>x</p></b>").is_err());
    assert!(well_formed("<svg><rect/></svg><div>").is_err());
}
