//! Cost of validating one answer: JSON Schema over a ~1 KB JSON answer, and bounds.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use nb_core::ChatResponse;
use nb_guard::{Bounds, JsonSchema, Validator, extract_json};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let schema = JsonSchema::new(&json!({
        "type": "object",
        "required": ["id", "customer", "items", "total", "status"],
        "properties": {
            "id": {"type": "string", "pattern": "^ord_[a-z0-9]+$"},
            "customer": {"type": "object", "required": ["name", "email"], "properties": {"name": {"type": "string"}, "email": {"type": "string"}}},
            "items": {"type": "array", "items": {"type": "object", "required": ["sku", "qty", "price"], "properties": {"sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}, "price": {"type": "number", "minimum": 0}}}},
            "total": {"type": "number"},
            "status": {"enum": ["new", "paid", "shipped"]}
        }
    }))
    .unwrap();
    let items: Vec<_> = (0..12)
        .map(|i| json!({"sku": format!("sku-{i:04}"), "qty": i + 1, "price": 9.99 + i as f64}))
        .collect();
    let answer = json!({"id": "ord_9f8e7d", "customer": {"name": "Ada Lovelace", "email": "ada@example.com"}, "items": items, "total": 1234.5, "status": "paid"});
    let text = format!(
        "Here is the order:\n```json\n{}\n```",
        serde_json::to_string_pretty(&answer).unwrap()
    );
    assert!((900..2000).contains(&text.len()), "{}", text.len());
    let resp = ChatResponse::text(text.clone());
    let bounds = Bounds::new()
        .range("/total", 0.0, 1e6)
        .labels("/status", ["new", "paid", "shipped"]);
    let mut g = c.benchmark_group("guard");
    g.bench_function("extract_json_1kb_fenced", |b| {
        b.iter(|| extract_json(black_box(&text)).unwrap())
    });
    g.bench_function("json_schema_1kb", |b| {
        b.iter(|| schema.validate(black_box(&resp)).unwrap())
    });
    g.bench_function("bounds_1kb", |b| {
        b.iter(|| bounds.validate(black_box(&resp)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
