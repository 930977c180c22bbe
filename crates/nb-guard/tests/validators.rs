//! Validators and the guard's repair round.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use nb_core::*;
use nb_guard::*;
use serde_json::json;

fn person_schema() -> JsonSchema {
    JsonSchema::new(&json!({
        "type": "object",
        "required": ["name", "age", "city"],
        "additionalProperties": false,
        "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}, "city": {"type": "string"}}
    }))
    .unwrap()
}

#[test]
fn schema_errors_are_all_collected_with_their_paths() {
    let s = person_schema();
    let errors = s.errors(&json!({"name": 7, "age": -1, "extra": true}));
    let pointers: Vec<&str> = errors.iter().map(|v| v.pointer.as_str()).collect();
    assert!(pointers.contains(&"/name"), "{pointers:?}");
    assert!(pointers.contains(&"/age"), "{pointers:?}");
    assert!(
        errors.len() >= 4,
        "type, minimum, required city, additional property: {errors:?}"
    );
    let v = s
        .validate(&ChatResponse::text(
            r#"{"name": "Ana", "age": "34", "city": "Lyon"}"#,
        ))
        .unwrap_err();
    assert_eq!(
        (v.kind, v.pointer.as_str()),
        (ViolationKind::Schema, "/age")
    );
    assert!(
        s.validate(&ChatResponse::text(
            "Here you go: {\"name\": \"Ana\", \"age\": 34, \"city\": \"Lyon\"}"
        ))
        .is_ok()
    );
}

#[test]
fn an_invalid_schema_is_an_error_not_a_panic() {
    assert!(JsonSchema::new(&json!({"type": "no-such-type"})).is_err());
    assert!(JsonSchema::new(&json!({"minimum": "ten"})).is_err());
}

#[test]
fn bounds_cover_ranges_labels_patterns_lengths_and_phrases() {
    let b = Bounds::new()
        .range("/score", 0.0, 10.0)
        .labels("/label", ["positive", "negative", "neutral"])
        .pattern("/date", r"^\d{4}-\d{2}-\d{2}$")
        .unwrap()
        .length("/tags", 1, 3)
        .forbids("as an ai");
    let ok = r#"{"score": 7.5, "label": "Positive", "date": "2026-11-28", "tags": ["a"]}"#;
    assert!(b.validate(&ChatResponse::text(ok)).is_ok());
    for (bad, at) in [
        (
            r#"{"score": 11, "label": "positive", "date": "2026-11-28", "tags": ["a"]}"#,
            "/score",
        ),
        (
            r#"{"score": 1, "label": "mixed", "date": "2026-11-28", "tags": ["a"]}"#,
            "/label",
        ),
        (
            r#"{"score": 1, "label": "neutral", "date": "28/11/2026", "tags": ["a"]}"#,
            "/date",
        ),
        (
            r#"{"score": 1, "label": "neutral", "date": "2026-11-28", "tags": []}"#,
            "/tags",
        ),
        (
            r#"{"score": 1, "label": "neutral", "date": "2026-11-28"}"#,
            "/tags",
        ),
    ] {
        assert_eq!(
            b.validate(&ChatResponse::text(bad)).unwrap_err().pointer,
            at,
            "{bad}"
        );
    }
    let v = b
        .validate(&ChatResponse::text(format!("As an AI, {ok}")))
        .unwrap_err();
    assert!(v.message.contains("forbidden"));
    assert!(Bounds::new().pattern("/x", "(unclosed").is_err());
    let whole = Bounds::new().labels("", ["yes", "no"]).requires("yes");
    assert!(whole.validate(&ChatResponse::text("Yes.")).is_ok());
    assert!(whole.validate(&ChatResponse::text("Maybe")).is_err());
}

#[test]
fn closures_and_combinators() {
    let short = |r: &ChatResponse| {
        if r.text.len() <= 5 {
            Ok(())
        } else {
            Err(Violation::new(ViolationKind::Custom, "", "too long"))
        }
    };
    let yes = Bounds::new().labels("", ["yes"]);
    let all = All(vec![Arc::new(short), Arc::new(NotRefused)]);
    assert!(all.validate(&ChatResponse::text("ok")).is_ok());
    assert!(all.validate(&ChatResponse::text("far too long")).is_err());
    let any = Any(vec![Arc::new(short), Arc::new(yes)]);
    assert!(any.validate(&ChatResponse::text("yes")).is_ok());
    assert_eq!(
        any.validate(&ChatResponse::text("a long no"))
            .unwrap_err()
            .message,
        "too long"
    );
    let refused = ChatResponse::text("").with_finish_reason(FinishReason::ContentFilter);
    assert_eq!(
        NotRefused.validate(&refused).unwrap_err().kind,
        ViolationKind::Refusal
    );
    let cut = ChatResponse::text("{\"a\":").with_finish_reason(FinishReason::Length);
    assert_eq!(
        NotTruncated.validate(&cut).unwrap_err().kind,
        ViolationKind::Truncated
    );
}

/// Answers with broken JSON until it is told what is wrong.
struct Sloppy {
    calls: AtomicU32,
    fixes: bool,
}

#[async_trait]
impl Provider for Sloppy {
    async fn chat(&self, req: &ChatRequest) -> Result<ChatResponse, CallError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let told = req
            .messages
            .last()
            .is_some_and(|m| m.text().contains("rejected"));
        Ok(ChatResponse::text(if told && self.fixes {
            r#"{"name": "Ana", "age": 34, "city": "Lyon"}"#
        } else {
            r#"{"name": "Ana", "age": "34"}"#
        }))
    }
}

#[tokio::test]
async fn one_violation_is_repaired_by_re_asking_with_the_violation_explained() {
    let g = Guard::new(Sloppy {
        calls: AtomicU32::new(0),
        fixes: true,
    })
    .validator(person_schema());
    let checked = g
        .chat_checked(&ChatRequest::user("Extract the person"))
        .await
        .unwrap();
    assert_eq!(checked.repairs, 1);
    assert!(checked.response.text.contains("Lyon"));
}

#[tokio::test]
async fn a_violation_that_persists_is_rejected_with_the_answer_kept() {
    let g = Guard::new(Sloppy {
        calls: AtomicU32::new(0),
        fixes: false,
    })
    .validator(person_schema())
    .repairs(1);
    let err = g
        .chat(&ChatRequest::user("Extract the person"))
        .await
        .unwrap_err();
    let CallError::Rejected(r) = err else {
        panic!("expected Rejected")
    };
    assert_eq!(r.violation.kind, ViolationKind::Schema);
    assert!(r.response.text.contains("Ana"));
    assert!(g.repairs(0).chat(&ChatRequest::user("x")).await.is_err());
}

#[test]
fn the_repair_request_keeps_the_conversation_and_explains() {
    let req = ChatRequest::new(vec![Message::system("s"), Message::user("u")]);
    let bad = ChatResponse::text("{\"age\": \"x\"}");
    let v = Violation::new(
        ViolationKind::Schema,
        "/age",
        "\"x\" is not of type \"integer\"",
    )
    .with_hint("give age as an integer");
    let r = repair_request(&req, &bad, &v);
    assert_eq!(r.messages.len(), 4);
    assert_eq!(r.messages[2].role, Role::Assistant);
    assert!(
        r.messages[3].text().contains("/age")
            && r.messages[3].text().contains("give age as an integer")
    );
}
