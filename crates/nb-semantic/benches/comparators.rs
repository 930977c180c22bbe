//! Cost of each deterministic comparator on typical answer pairs.

#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use nb_semantic::{Lexical, Strict};

fn bench(c: &mut Criterion) {
    let cases = [
        ("number", "What is 17 + 25?", "42", "The answer is 42."),
        (
            "yes_no",
            "Answer yes or no: is 91 a prime number?",
            "No, it is not.",
            "**Answer:** No",
        ),
        (
            "label",
            "Classify the sentiment of this review as positive, negative or neutral: \"great value\"",
            "The sentiment is positive.",
            "**Sentiment:** positive",
        ),
        (
            "json",
            "Extract name, age and city as JSON",
            "{\"name\":\"Ana\",\"age\":34,\"city\":\"Lyon\"}",
            "```json\n{\n  \"city\": \"Lyon\",\n  \"name\": \"Ana\",\n  \"age\": 34\n}\n```",
        ),
        ("text", "Name the capital of France.", "Paris.", "paris"),
    ];
    let mut g = c.benchmark_group("strict");
    for (name, p, a, b) in cases {
        g.bench_function(name, |bn| {
            bn.iter(|| Strict.compare(black_box(p), black_box(a), black_box(b)))
        });
    }
    g.finish();
    c.bench_function("lexical/sentence", |bn| {
        bn.iter(|| {
            Lexical::default().compare(
                "",
                black_box("The quick brown fox jumps over the lazy dog"),
                black_box("A quick brown fox jumped over a lazy dog"),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
