//! Equivalence: may a fallback's answer stand in for the primary's?
//!
//! "Failover is not correctover." An [`Equivalence`] checker compares a candidate answer
//! with a reference, for a given prompt, and returns a [`Verdict`]. *Undecided* is a
//! first-class outcome: a checker that cannot tell says so instead of guessing, and the
//! router refuses an answer it cannot vouch for.
//!
//! - [`Strict`]: deterministic comparators, cheapest first — refusals, JSON by value,
//!   dates in common formats (an ambiguous day/month order is undecided), lists (ordered
//!   when the prompt asks for a ranking or steps, else as sets), numbers (separators,
//!   signs, scientific notation, currency symbols, scale words, number words), yes/no
//!   (hedges are undecided), labels from the prompt's own list (negations are
//!   undecided), normalised text;
//! - [`Lexical`]: token overlap with calibrated thresholds, for tolerant free text;
//! - [`Unvouchable`]: for creative tasks, always undecided, and says why;
//! - [`Cascade`]: runs checkers in order and keeps the first decided verdict, recording
//!   which stage decided;
//! - escalation, for what stays undecided: [`Checker`] (async; every [`Equivalence`] is
//!   one), [`EmbeddingCheck`] (cosine similarity through any [`nb_core::Embedder`]),
//!   [`Judge`] (an LLM through any [`nb_core::Provider`], strict rubric, asked in both
//!   orders), and [`Escalate`] (cheap stages first).
//!
//! ```
//! use nb_semantic::{Equivalence, Outcome, Strict};
//! let prompt = "What is 17 + 25? Reply with the number only.";
//! assert_eq!(Strict.compare(prompt, "42", "The answer is 42.").outcome, Outcome::Equivalent);
//! assert_eq!(Strict.compare(prompt, "42", "**Answer:** 43").outcome, Outcome::NotEquivalent);
//! let v = Strict.compare("Write a poem about rain.", "Rain taps...", "Grey skies...");
//! assert_eq!(v.outcome, Outcome::Undecided);
//! ```

mod escalate;

pub use escalate::{Checker, EmbeddingCheck, Escalate, Judge, judge_prompt, parse_judgement};

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use regex::Regex;
use serde_json::Value;

/// Whether two answers mean the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// They do.
    Equivalent,
    /// They do not.
    NotEquivalent,
    /// This checker cannot tell.
    Undecided,
}

/// A checker's answer, with how it decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// The outcome.
    pub outcome: Outcome,
    /// A similarity in `0.0..=1.0`, where the method has one.
    pub score: Option<f64>,
    /// Which method decided (`"json"`, `"number"`, `"yes_no"`, `"label"`, ...).
    pub method: &'static str,
    /// Why, for people and reports.
    pub reason: String,
}

impl Verdict {
    fn new(outcome: Outcome, method: &'static str, reason: impl Into<String>) -> Self {
        Self {
            outcome,
            score: None,
            method,
            reason: reason.into(),
        }
    }

    /// A verdict from a similarity: equivalent at or above `accept`, not equivalent at
    /// or below `reject`, undecided between.
    pub fn scored(
        score: f64,
        accept: f64,
        reject: f64,
        method: &'static str,
        reason: String,
    ) -> Self {
        let outcome = if score >= accept {
            Outcome::Equivalent
        } else if score <= reject {
            Outcome::NotEquivalent
        } else {
            Outcome::Undecided
        };
        Self {
            outcome,
            score: Some(score),
            method,
            reason,
        }
    }

    /// An undecided verdict.
    pub fn undecided(method: &'static str, reason: impl Into<String>) -> Self {
        Self::new(Outcome::Undecided, method, reason)
    }

    /// Whether it decided either way.
    pub fn is_decided(&self) -> bool {
        self.outcome != Outcome::Undecided
    }
}

/// Compares a candidate answer with a reference, for a prompt.
pub trait Equivalence: Send + Sync {
    /// The verdict on `candidate` against `reference`.
    fn compare(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict;
}

impl<E: Equivalence + ?Sized> Equivalence for Arc<E> {
    fn compare(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
        (**self).compare(prompt, reference, candidate)
    }
}

/// Checkers in order; the first decided verdict wins.
pub struct Cascade(pub Vec<Arc<dyn Equivalence>>);

impl Equivalence for Cascade {
    fn compare(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
        let mut last = Verdict::undecided("cascade", "no checker decided");
        for c in &self.0 {
            let v = c.compare(prompt, reference, candidate);
            if v.is_decided() {
                return v;
            }
            last = v;
        }
        last
    }
}

/// For creative tasks: equivalence cannot be claimed, and the verdict says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unvouchable;

impl Equivalence for Unvouchable {
    fn compare(&self, _: &str, _: &str, _: &str) -> Verdict {
        Verdict::undecided(
            "unvouchable",
            "this route's answers are creative: no checker can vouch for a substitute",
        )
    }
}

/// The same exact text, after trimming and case folding; anything else is undecided.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExactText;

impl Equivalence for ExactText {
    fn compare(&self, _: &str, reference: &str, candidate: &str) -> Verdict {
        if normalise(reference) == normalise(candidate) && !normalise(reference).is_empty() {
            Verdict::new(
                Outcome::Equivalent,
                "normalised_text",
                "equal after normalisation",
            )
        } else {
            Verdict::undecided(
                "normalised_text",
                "texts differ; this checker cannot tell whether they mean the same",
            )
        }
    }
}

/// Token overlap (Jaccard) with two thresholds: at or above `accept` equivalent, at or
/// below `reject` not equivalent, undecided between.
#[derive(Debug, Clone, Copy)]
pub struct Lexical {
    /// Equivalent at or above this score.
    pub accept: f64,
    /// Not equivalent at or below this score.
    pub reject: f64,
}

impl Default for Lexical {
    fn default() -> Self {
        Self {
            accept: 0.9,
            reject: 0.1,
        }
    }
}

impl Equivalence for Lexical {
    fn compare(&self, _: &str, reference: &str, candidate: &str) -> Verdict {
        let a: BTreeSet<String> = words(reference).collect();
        let b: BTreeSet<String> = words(candidate).collect();
        let union = a.union(&b).count();
        let score = if union == 0 {
            1.0
        } else {
            a.intersection(&b).count() as f64 / union as f64
        };
        Verdict::scored(
            score,
            self.accept,
            self.reject,
            "lexical",
            format!("token overlap {score:.2}"),
        )
    }
}

/// The deterministic cascade for strict domains (numbers, labels, yes/no, JSON).
#[derive(Debug, Clone, Copy, Default)]
pub struct Strict;

impl Equivalence for Strict {
    fn compare(&self, prompt: &str, reference: &str, candidate: &str) -> Verdict {
        let (r_refuses, c_refuses) = (is_refusal(reference), is_refusal(candidate));
        if r_refuses != c_refuses {
            return Verdict::new(
                Outcome::NotEquivalent,
                "refusal",
                "one answer is a refusal, the other is not",
            );
        }
        if r_refuses {
            return Verdict::undecided("refusal", "both answers are refusals");
        }
        if let Some(v) = truncated(reference, candidate) {
            return v;
        }
        if let (Ok(a), Ok(b)) = (
            nb_guard::extract_json(reference),
            nb_guard::extract_json(candidate),
        ) {
            return if json_eq(&a, &b) {
                Verdict::new(Outcome::Equivalent, "json", "the same JSON value")
            } else {
                Verdict::new(
                    Outcome::NotEquivalent,
                    "json",
                    format!("different JSON values: {a} vs {b}"),
                )
            };
        }
        if let Some(v) = dates(reference, candidate) {
            return v;
        }
        if let Some(v) = lists(prompt, reference, candidate) {
            return v;
        }
        if let Some(v) = numbers(reference, candidate) {
            return v;
        }
        if let Some(v) = yes_no(reference, candidate) {
            return v;
        }
        if let Some(v) = labels(prompt, reference, candidate) {
            return v;
        }
        ExactText.compare(prompt, reference, candidate)
    }
}

fn normalise(s: &str) -> String {
    words(s).collect::<Vec<_>>().join(" ")
}

fn words(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(|c: char| !c.is_alphanumeric() && c != '.' && c != '-')
        .map(|w| {
            w.trim_matches(|c: char| c == '.' || c == '-')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
}

/// One answer is the other cut short: its words are a proper prefix of the other's, it
/// has at least three of them, and it stops without closing punctuation.
fn truncated(reference: &str, candidate: &str) -> Option<Verdict> {
    let (a, b) = (reference.trim(), candidate.trim());
    let (short, long) = if a.len() < b.len() { (a, b) } else { (b, a) };
    let (ws, wl): (Vec<String>, Vec<String>) = (words(short).collect(), words(long).collect());
    let ends_cleanly = short.ends_with(['.', '!', '?', '}', ']', '`', '"', ')']);
    (ws.len() >= 3 && ws.len() < wl.len() && wl.starts_with(&ws) && !ends_cleanly).then(|| {
        Verdict::new(
            Outcome::NotEquivalent,
            "truncation",
            "one answer is the other cut short",
        )
    })
}

const REFUSALS: &[&str] = &[
    "i can't help",
    "i cannot help",
    "i can't assist",
    "i cannot assist",
    "i'm sorry, but",
    "i am unable to",
    "i'm unable to",
    "i won't be able to",
    "i can't provide",
    "i cannot provide",
];

fn is_refusal(s: &str) -> bool {
    let l = s.to_lowercase().replace('’', "'");
    REFUSALS.iter().any(|p| l.contains(p))
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
            _ => x == y,
        },
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| json_eq(v, w))
        }
        _ => a == b,
    }
}

static NUM: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)([-−]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[-−]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?:\s*[x×*]\s*10\^([-−]?\d+))?(?:\s*(thousand|million|billion|trillion|bn\b|%|percent\b))?").ok()
});

fn parse_numbers(s: &str) -> Vec<f64> {
    let Some(re) = NUM.as_ref() else {
        return Vec::new();
    };
    let found: Vec<f64> = re
        .captures_iter(s)
        .filter_map(|c| {
            let mut n: f64 = c[1]
                .replace([',', '_'], "")
                .replace('−', "-")
                .parse()
                .ok()?;
            if let Some(exp) = c
                .get(2)
                .and_then(|e| e.as_str().replace('−', "-").parse::<i32>().ok())
            {
                n *= 10f64.powi(exp);
            }
            let scale = match c.get(3).map(|m| m.as_str().to_lowercase()).as_deref() {
                Some("thousand") => 1e3,
                Some("million") => 1e6,
                Some("billion" | "bn") => 1e9,
                Some("trillion") => 1e12,
                Some("%" | "percent") => 1e-2,
                _ => 1.0,
            };
            Some(n * scale)
        })
        .collect();
    if found.is_empty() {
        word_number(s).into_iter().collect()
    } else {
        found
    }
}

/// "forty-two", "one hundred and five", "minus seven", "three thousand".
fn word_number(s: &str) -> Option<f64> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 10] = [
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let lower = s.to_lowercase();
    let mut total = 0.0;
    let mut current = 0.0;
    let mut seen = false;
    let mut negative = false;
    for w in lower
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
    {
        if let Some(n) = UNITS.iter().position(|u| *u == w) {
            current += n as f64;
            seen = true;
        } else if let Some(n) = TENS.iter().position(|t| !t.is_empty() && *t == w) {
            current += (n * 10) as f64;
            seen = true;
        } else if w == "hundred" && seen {
            current *= 100.0;
        } else if w == "thousand" && seen {
            total += current * 1000.0;
            current = 0.0;
        } else if w == "million" && seen {
            total += current * 1e6;
            current = 0.0;
        } else if (w == "minus" || w == "negative") && !seen {
            negative = true;
        } else if w == "and" && seen {
        } else if seen {
            break;
        }
    }
    seen.then(|| {
        if negative {
            -(total + current)
        } else {
            total + current
        }
    })
}

fn numbers(reference: &str, candidate: &str) -> Option<Verdict> {
    let a = parse_numbers(reference);
    let b = parse_numbers(candidate);
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0);
    if a.len() == 1 && b.len() == 1 {
        return Some(if close(a[0], b[0]) {
            Verdict::new(Outcome::Equivalent, "number", format!("both say {}", a[0]))
        } else {
            Verdict::new(
                Outcome::NotEquivalent,
                "number",
                format!("{} vs {}", a[0], b[0]),
            )
        });
    }
    let (la, lb) = (a[a.len() - 1], b[b.len() - 1]);
    let mut sa = a.clone();
    let mut sb = b.clone();
    sa.sort_by(f64::total_cmp);
    sb.sort_by(f64::total_cmp);
    if close(la, lb) && sa.len() == sb.len() && sa.iter().zip(&sb).all(|(x, y)| close(*x, *y)) {
        return Some(Verdict::new(
            Outcome::Equivalent,
            "number",
            format!("the same numbers, ending in {la}"),
        ));
    }
    if !b.iter().any(|y| close(la, *y)) && !a.iter().any(|x| close(lb, *x)) {
        return Some(Verdict::new(
            Outcome::NotEquivalent,
            "number",
            format!("no number in common with the final answers {la} and {lb}"),
        ));
    }
    Some(Verdict::undecided(
        "number",
        "several numbers; cannot tell which is the answer",
    ))
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

static ISO_DATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b").ok());
static SLASH_DATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4})\b").ok());
static MONTH_FIRST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b").ok()
});
static DAY_FIRST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([a-z]{3,9})\.?,?\s+(\d{4})\b").ok()
});

fn month(name: &str) -> Option<u32> {
    let l = name.to_lowercase();
    MONTHS
        .iter()
        .position(|m| l.starts_with(m))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// The date an answer states: `Ok((y, m, d))`, `Err(())` when it is ambiguous
/// (`03/04/2024` could be either), `None` when it states none or several.
fn date_of(s: &str) -> Option<Result<(i32, u32, u32), ()>> {
    let mut found: Vec<Result<(i32, u32, u32), ()>> = Vec::new();
    let valid = |y: i32, m: u32, d: u32| (1..=12).contains(&m) && (1..=31).contains(&d) && y > 0;
    for c in ISO_DATE.as_ref()?.captures_iter(s) {
        if let (Ok(y), Ok(m), Ok(d)) = (c[1].parse(), c[2].parse(), c[3].parse()) {
            if valid(y, m, d) {
                found.push(Ok((y, m, d)));
            }
        }
    }
    for c in MONTH_FIRST.as_ref()?.captures_iter(s) {
        if let (Some(m), Ok(d), Ok(y)) = (month(&c[1]), c[2].parse(), c[3].parse()) {
            if valid(y, m, d) {
                found.push(Ok((y, m, d)));
            }
        }
    }
    for c in DAY_FIRST.as_ref()?.captures_iter(s) {
        if let (Ok(d), Some(m), Ok(y)) = (c[1].parse(), month(&c[2]), c[3].parse()) {
            if valid(y, m, d) {
                found.push(Ok((y, m, d)));
            }
        }
    }
    for c in SLASH_DATE.as_ref()?.captures_iter(s) {
        if let (Ok(a), Ok(b), Ok(y)) = (
            c[1].parse::<u32>(),
            c[2].parse::<u32>(),
            c[3].parse::<i32>(),
        ) {
            found.push(match (a <= 12, b <= 12) {
                // Both could be the month: only the same reading of the same digits is safe.
                (true, true) if a != b => Err(()),
                (true, true) => Ok((y, a, b)),
                (true, false) if valid(y, a, b) => Ok((y, a, b)),
                (false, true) if valid(y, b, a) => Ok((y, b, a)),
                _ => continue,
            });
        }
    }
    found.dedup();
    match found.len() {
        0 => None,
        1 => found.pop(),
        _ => Some(Err(())),
    }
}

fn dates(reference: &str, candidate: &str) -> Option<Verdict> {
    match (date_of(reference)?, date_of(candidate)?) {
        (Ok(a), Ok(b)) if a == b => Some(Verdict::new(
            Outcome::Equivalent,
            "date",
            format!("both say {}-{:02}-{:02}", a.0, a.1, a.2),
        )),
        (Ok(a), Ok(b)) => Some(Verdict::new(
            Outcome::NotEquivalent,
            "date",
            format!(
                "{}-{:02}-{:02} vs {}-{:02}-{:02}",
                a.0, a.1, a.2, b.0, b.1, b.2
            ),
        )),
        _ => Some(Verdict::undecided(
            "date",
            "an ambiguous day/month order or several dates",
        )),
    }
}

static ITEM: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+(.+?)\s*$").ok());

/// The items of a bulleted or numbered list, or of a single comma-separated line.
fn list_of(s: &str) -> Option<Vec<String>> {
    let items: Vec<String> = ITEM
        .as_ref()?
        .captures_iter(s)
        .map(|c| normalise(&c[1]))
        .filter(|i| !i.is_empty())
        .collect();
    if items.len() >= 2 {
        return Some(items);
    }
    let body = s.trim().trim_end_matches('.');
    let line = body.rsplit(':').next().unwrap_or(body);
    if !body.contains('\n') && line.matches(',').count() >= 1 {
        let parts: Vec<String> = line
            .split(',')
            .flat_map(|p| p.split(" and "))
            .map(normalise)
            .filter(|p| !p.is_empty())
            .collect();
        // A list is short items only: a sentence with commas in it is not one.
        if parts.len() >= 2
            && parts
                .iter()
                .all(|p| p.split_whitespace().count() <= 3 && p.chars().any(char::is_alphabetic))
        {
            return Some(parts);
        }
    }
    None
}

fn lists(prompt: &str, reference: &str, candidate: &str) -> Option<Verdict> {
    let (a, b) = (list_of(reference)?, list_of(candidate)?);
    let p = prompt.to_lowercase();
    let ordered = [
        "rank",
        "order",
        "steps",
        "sort",
        "first to last",
        "sequence",
    ]
    .iter()
    .any(|w| p.contains(w));
    if ordered {
        return Some(if a == b {
            Verdict::new(
                Outcome::Equivalent,
                "list",
                "the same items in the same order",
            )
        } else {
            Verdict::new(
                Outcome::NotEquivalent,
                "list",
                "the items or their order differ",
            )
        });
    }
    let sa: BTreeSet<&String> = a.iter().collect();
    let sb: BTreeSet<&String> = b.iter().collect();
    Some(if sa == sb {
        Verdict::new(Outcome::Equivalent, "list", "the same items")
    } else {
        Verdict::new(Outcome::NotEquivalent, "list", "different items")
    })
}

const HEDGES: &[&str] = &[
    "probably", "likely", "maybe", "perhaps", "possibly", "might", "unclear", "not sure", "depends",
];

fn polarity(s: &str) -> Option<Result<bool, ()>> {
    let l = s.to_lowercase();
    let ws: Vec<String> = words(&l).collect();
    let yes = ws.iter().any(|w| w == "yes" || w == "true");
    let no = ws.iter().any(|w| w == "no" || w == "false");
    if !yes && !no {
        return None;
    }
    if HEDGES.iter().any(|h| l.contains(h)) || (yes && no) {
        return Some(Err(()));
    }
    Some(Ok(yes))
}

fn yes_no(reference: &str, candidate: &str) -> Option<Verdict> {
    match (polarity(reference)?, polarity(candidate)?) {
        (Ok(a), Ok(b)) if a == b => Some(Verdict::new(
            Outcome::Equivalent,
            "yes_no",
            if a { "both say yes" } else { "both say no" },
        )),
        (Ok(_), Ok(_)) => Some(Verdict::new(
            Outcome::NotEquivalent,
            "yes_no",
            "one says yes, the other no",
        )),
        _ => Some(Verdict::undecided(
            "yes_no",
            "a hedged or contradictory yes/no",
        )),
    }
}

static LABEL_LIST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:as|into|from|one of)\s*:?\s*((?:[a-z][a-z-]*\s*,\s*)+[a-z][a-z-]*,?\s+(?:or|and)\s+[a-z][a-z-]*)").ok()
});

fn labels(prompt: &str, reference: &str, candidate: &str) -> Option<Verdict> {
    let caps = LABEL_LIST.as_ref()?.captures(prompt)?;
    let set: Vec<String> = caps[1]
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|w| !w.is_empty() && *w != "or" && *w != "and")
        .map(str::to_lowercase)
        .collect();
    let pick = |s: &str| -> Option<Result<String, ()>> {
        let ws: Vec<String> = words(s).collect();
        let found: Vec<&String> = set.iter().filter(|l| ws.contains(l)).collect();
        match found.len() {
            0 => None,
            1 => {
                let i = ws.iter().position(|w| w == found[0]).unwrap_or(0);
                let negated = i > 0 && matches!(ws[i - 1].as_str(), "not" | "isn't" | "never");
                Some(if negated {
                    Err(())
                } else {
                    Ok(found[0].clone())
                })
            }
            _ => Some(Err(())),
        }
    };
    match (pick(reference)?, pick(candidate)?) {
        (Ok(a), Ok(b)) if a == b => Some(Verdict::new(
            Outcome::Equivalent,
            "label",
            format!("both say {a}"),
        )),
        (Ok(a), Ok(b)) => Some(Verdict::new(
            Outcome::NotEquivalent,
            "label",
            format!("{a} vs {b}"),
        )),
        _ => Some(Verdict::undecided(
            "label",
            "several labels or a negated label",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(p: &str, a: &str, b: &str) -> Outcome {
        Strict.compare(p, a, b).outcome
    }

    use Outcome::*;

    #[test]
    fn numbers_in_every_phrasing() {
        let p = "What is 6 * 7?";
        assert_eq!(s(p, "42", "The answer is 42."), Equivalent);
        assert_eq!(s(p, "42", "forty-two"), Equivalent);
        assert_eq!(s(p, "1,234", "1234.0"), Equivalent);
        assert_eq!(s(p, "$1,200", "1.2e3 USD"), Equivalent);
        assert_eq!(s(p, "1.2 million", "1,200,000"), Equivalent);
        assert_eq!(s(p, "1.2 million", "1.2 billion"), NotEquivalent);
        assert_eq!(s(p, "6.022e23", "6.022 x 10^23"), Equivalent);
        assert_eq!(s(p, "0.5%", "0.005"), Equivalent);
        assert_eq!(
            s(
                p,
                "The median is 7 (from 3, 7 and 9).",
                "The median is 9 (from 3, 7 and 9)."
            ),
            Undecided
        );
        assert_eq!(
            s(
                p,
                "Sales rose 4% on strong demand.",
                "Sales rose 4% on strong"
            ),
            NotEquivalent
        );
        assert_eq!(s(p, "-5", "minus five"), Equivalent);
        assert_eq!(s(p, "42", "43"), NotEquivalent);
        assert_eq!(s(p, "-42", "42"), NotEquivalent);
        assert_eq!(
            s(p, "6 * 7 = 42", "Six times seven is 42, so 42"),
            Undecided
        );
        assert_eq!(s(p, "6 * 7 = 42", "7 * 6 = 42"), Equivalent);
        assert_eq!(s(p, "It is 42", "It is 40 or 41"), NotEquivalent);
    }

    #[test]
    fn yes_no_labels_json_and_refusals() {
        assert_eq!(
            s("Is 7 prime?", "Yes, it is.", "**Answer:** Yes"),
            Equivalent
        );
        assert_eq!(s("Is 7 prime?", "Yes", "No, it is not."), NotEquivalent);
        assert_eq!(s("Is 7 prime?", "Yes", "Probably yes"), Undecided);
        let p = "Classify the sentiment of this review as positive, negative or neutral: \"meh\"";
        assert_eq!(
            s(p, "The sentiment is positive.", "**Sentiment:** positive"),
            Equivalent
        );
        assert_eq!(s(p, "positive", "negative"), NotEquivalent);
        assert_eq!(s(p, "positive", "not positive"), Undecided);
        assert_eq!(s(p, "positive", "positive or neutral"), Undecided);
        assert_eq!(
            s(
                "x",
                "{\"a\": 1, \"b\": [1, 2]}",
                "```json\n{\"b\": [1, 2.0], \"a\": 1}\n```"
            ),
            Equivalent
        );
        assert_eq!(s("x", "{\"a\": 1}", "{\"a\": \"1\"}"), NotEquivalent);
        assert_eq!(s("x", "{\"a\": 1}", "{\"a\": 1, \"b\": 2}"), NotEquivalent);
        assert_eq!(
            s("x", "42", "I'm sorry, but I can't help with that."),
            NotEquivalent
        );
        assert_eq!(
            s("Write a haiku", "Leaves fall softly", "Snow on quiet pines"),
            Undecided
        );
        assert_eq!(s("Name the capital", "Paris.", "paris"), Equivalent);
    }

    #[test]
    fn dates_and_lists() {
        assert_eq!(s("When?", "2024-03-05", "March 5, 2024"), Equivalent);
        assert_eq!(s("When?", "5 March 2024", "Mar 5th, 2024"), Equivalent);
        assert_eq!(s("When?", "2024-03-05", "2024-03-06"), NotEquivalent);
        assert_eq!(
            s("When?", "03/04/2024", "2024-03-04"),
            Undecided,
            "day/month ambiguous"
        );
        assert_eq!(s("When?", "25/12/2024", "December 25, 2024"), Equivalent);
        assert_eq!(
            s(
                "List the primary colours",
                "- red\n- blue\n- yellow",
                "Blue, yellow and red."
            ),
            Equivalent
        );
        assert_eq!(
            s(
                "List the primary colours",
                "red, blue, yellow",
                "red, blue, green"
            ),
            NotEquivalent
        );
        assert_eq!(
            s(
                "Rank them from first to last",
                "1. gold\n2. silver\n3. bronze",
                "1. silver\n2. gold\n3. bronze"
            ),
            NotEquivalent
        );
        assert_eq!(
            s(
                "Rank them from first to last",
                "1. gold\n2. silver",
                "- gold\n- silver"
            ),
            Equivalent
        );
    }

    #[test]
    fn lexical_and_cascade_and_unvouchable() {
        let l = Lexical::default();
        assert_eq!(
            l.compare("", "the cat sat on the mat", "the cat sat on the mat")
                .outcome,
            Equivalent
        );
        assert_eq!(
            l.compare("", "alpha beta gamma", "delta epsilon zeta")
                .outcome,
            NotEquivalent
        );
        assert_eq!(
            l.compare("", "the cat sat on the mat", "a cat sat on a rug")
                .outcome,
            Undecided
        );
        let c = Cascade(vec![
            Arc::new(ExactText),
            Arc::new(Lexical {
                accept: 0.5,
                reject: 0.0,
            }),
        ]);
        let v = c.compare("", "the cat sat on the mat", "the cat sat on a mat");
        assert_eq!((v.outcome, v.method), (Equivalent, "lexical"));
        assert_eq!(Unvouchable.compare("", "a", "a").outcome, Undecided);
    }
}
