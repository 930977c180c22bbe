//! The strict checker: read the values in each answer, then apply one rule.
//!
//! **Account for everything.** Each answer is read into the values a comparator
//! recognises (quantities with units, dates and times, a yes/no, a label from the
//! prompt's own list, a JSON value, a list of items) and a *residue*: every other word,
//! with the documented framing ([`crate::FRAMING`], a restated subject, an agreeing
//! yes/no tag) removed. Then, in [`account`] and nowhere else:
//!
//! - *Equivalent* only when the residues match and every value matches the value in the
//!   same place (or one answer is the bare value and the other only restates the prompt
//!   around it);
//! - *NotEquivalent* when values conflict: the same template with a different value in
//!   it, or a single value of one kind on each side that differs;
//! - *Undecided* otherwise — a word the checker does not understand is never ignored.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::datetime::{self, DateTime};
use crate::quantity::{self, Cmp, Exact, NumCtx, Quantity};
use crate::text::{self, PromptWords, Tok};
use crate::{EquivalenceOutcome, Verdict};

/// A value recognised in an answer.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Qty(Quantity),
    When(DateTime),
    Yes(bool),
    Label(String),
    Json(Value),
    /// List items, and whether they were numbered (`1.`, `2.`): a numbered list may be a
    /// sequence.
    Items(Vec<String>, bool),
    /// An identifier written with separators (`2.0.1`, `INV-2024-00017`,
    /// `978-0-13-110362-7`): compared as written, case aside.
    Ident(String),
}

impl Val {
    fn kind(&self) -> &'static str {
        match self {
            Val::Qty(q) if q.unit.is_some() => "quantity",
            Val::Qty(_) => "number",
            Val::When(_) => "date",
            Val::Yes(_) => "yes_no",
            Val::Label(_) => "label",
            Val::Json(_) => "json",
            Val::Items(..) => "list",
            Val::Ident(_) => "identifier",
        }
    }

    fn slot(&self) -> &'static str {
        match self {
            Val::Qty(_) => "number",
            other => other.kind(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Val::Qty(q) => q.describe(),
            Val::When(d) => d.describe(),
            Val::Yes(y) => if *y { "yes" } else { "no" }.to_owned(),
            Val::Label(l) => l.clone(),
            Val::Json(v) => crate::data::short(v),
            Val::Items(i, _) => i.join(", "),
            Val::Ident(s) => s.clone(),
        }
    }

    fn compare(&self, other: &Val, ctx: &Ctx) -> Cmp {
        match (self, other) {
            (Val::Qty(a), Val::Qty(b)) => a.compare(b, &ctx.num),
            (Val::Ident(a), Val::Ident(b)) if a.to_lowercase() == b.to_lowercase() => Cmp::Same,
            (Val::When(a), Val::When(b)) => a.compare(b),
            (Val::Json(a), Val::Json(b)) => crate::data::compare_values(None, a, b),
            (Val::Items(a, na), Val::Items(b, nb)) => items_compare(a, b, *na || *nb, ctx),
            (Val::Yes(a), Val::Yes(b)) if a == b => Cmp::Same,
            (Val::Label(a), Val::Label(b)) if a == b => Cmp::Same,
            (a, b) if a.kind() == b.kind() => {
                Cmp::Different(format!("{} vs {}", a.describe(), b.describe()))
            }
            (a, b) => Cmp::Incomparable(format!("a {} against a {}", a.kind(), b.kind())),
        }
    }
}

/// Two items of a list: equal text, or the same values with nothing else differing.
fn item_compare(a: &str, b: &str, ctx: &Ctx) -> Cmp {
    if item_text(a) == item_text(b) {
        return Cmp::Same;
    }
    let v = account(ctx, read_values(a, ctx), read_values(b, ctx));
    match v.outcome {
        EquivalenceOutcome::Equivalent => Cmp::Same,
        EquivalenceOutcome::NotEquivalent => Cmp::Different(format!("{a} vs {b}")),
        EquivalenceOutcome::Undecided => Cmp::Different(format!("{a} vs {b}")),
    }
}

fn items_compare(a: &[String], b: &[String], numbered: bool, ctx: &Ctx) -> Cmp {
    if ctx.order == Order::Sequence {
        let same = a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| item_compare(x, y, ctx) == Cmp::Same);
        return if same {
            Cmp::Same
        } else {
            Cmp::Different("the items or their order differ".into())
        };
    }
    // As sets: every item on each side has an equal one on the other.
    let covered = |x: &[String], y: &[String]| {
        x.iter()
            .all(|i| y.iter().any(|j| item_compare(i, j, ctx) == Cmp::Same))
    };
    if covered(a, b) && covered(b, a) {
        let in_order = a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| item_compare(x, y, ctx) == Cmp::Same);
        if !in_order && (ctx.order == Order::Unsure || numbered) {
            return Cmp::Incomparable(
                "the same items in another order, and the question may ask for an order".into(),
            );
        }
        Cmp::Same
    } else {
        Cmp::Different("different items".into())
    }
}

/// Whether the question asks for a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Nothing says order matters: lists compare as sets.
    Set,
    /// Words that may imply an order (`first`, `top`, `largest`): another order is
    /// undecided.
    Unsure,
    /// The question asks for an order (`rank`, `sort`, `steps`, `in order`, `ascending`):
    /// another order is a different answer.
    Sequence,
}

/// Words that ask for a sequence.
const SEQUENCE_WORDS: &[&str] = &[
    "rank",
    "ranked",
    "ranking",
    "rankings",
    "order",
    "ordered",
    "sort",
    "sorted",
    "steps",
    "step",
    "sequence",
    "sequential",
    "ascending",
    "descending",
    "alphabetical",
    "alphabetically",
    "chronological",
    "chronologically",
    "arrange",
    "arranged",
    "outward",
    "outwards",
    "inward",
    "timeline",
    "procedure",
    "instructions",
    "stages",
    "phases",
    "priority",
    "prioritise",
    "prioritize",
    "position",
    "positions",
    "reverse",
    "sequentially",
];

/// Words that may imply an order.
const MAYBE_ORDER_WORDS: &[&str] = &[
    "first",
    "last",
    "top",
    "bottom",
    "earliest",
    "latest",
    "oldest",
    "newest",
    "largest",
    "smallest",
    "biggest",
    "highest",
    "lowest",
    "fastest",
    "slowest",
    "then",
    "before",
    "after",
    "next",
    "followed",
    "most",
    "least",
    "best",
    "worst",
    "leading",
    "preferred",
    "from",
];

/// What the prompt tells the readers.
pub(crate) struct Ctx {
    words: PromptWords,
    labels: Vec<String>,
    pub(crate) order: Order,
    pub(crate) num: NumCtx,
}

static LABEL_LIST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:as|into|from|one of)\s*:?\s*((?:[a-z][a-z-]*\s*,\s*)+[a-z][a-z-]*,?\s+(?:or|and)\s+[a-z][a-z-]*)").ok()
});

impl Ctx {
    pub(crate) fn new(prompt: &str) -> Self {
        let labels = LABEL_LIST
            .as_ref()
            .and_then(|re| re.captures(prompt))
            .map(|c| {
                c[1].split(|c: char| c == ',' || c.is_whitespace())
                    .map(str::trim)
                    .filter(|w| !w.is_empty() && *w != "or" && *w != "and")
                    .map(str::to_lowercase)
                    .collect()
            })
            .unwrap_or_default();
        let words = PromptWords::new(prompt);
        let mut labels: Vec<String> = labels;
        for c in &words.choices {
            if !labels.contains(c) {
                labels.push(c.clone());
            }
        }
        let ws = text::words(prompt);
        let order = if ws.iter().any(|w| SEQUENCE_WORDS.contains(&w.as_str())) {
            Order::Sequence
        } else if ws.iter().any(|w| MAYBE_ORDER_WORDS.contains(&w.as_str())) {
            Order::Unsure
        } else {
            Order::Set
        };
        Self {
            words,
            labels,
            order,
            num: NumCtx {
                requested: quantity::requested_units(prompt),
                identifiers: quantity::identifier_prompt(prompt),
                delta: quantity::delta_prompt(prompt),
            },
        }
    }
}

/// An answer, read: its values in order and its residue.
#[derive(Debug)]
pub(crate) struct Reading {
    vals: Vec<Val>,
    residue: Vec<Tok>,
    /// The restated subject the framing took away ("Sentiment:"), if any.
    label: Option<Vec<String>>,
}

/// Lays `text` out as tokens, with each `(span, value)` as a slot.
fn lay_out(text: &str, found: Vec<(std::ops::Range<usize>, Val)>) -> (Vec<Tok>, Vec<Val>) {
    let mut toks = Vec::new();
    let mut vals = Vec::new();
    let mut at = 0;
    for (r, v) in found {
        // Readers may claim overlapping spans ("0°C$0": a temperature, and C$0 in
        // Canadian dollars sharing the C); the first one claims the text.
        if r.start < at || r.end > text.len() {
            continue;
        }
        text::tokens(&text[at..r.start], &mut toks);
        toks.push(Tok::Slot(v.slot()));
        vals.push(v);
        at = r.end;
    }
    text::tokens(&text[at..], &mut toks);
    (toks, vals)
}

/// Framing, then a yes/no at the head, then labels from the prompt's list.
fn finish(toks: Vec<Tok>, vals: Vec<Val>, ctx: &Ctx) -> Reading {
    let (mut rest, label) = text::strip_framing(&toks, &ctx.words);
    // The slots framing took away (none: framing is words) keep their values in order.
    let kept_slots = rest.iter().filter(|t| matches!(t, Tok::Slot(_))).count();
    let mut vals: Vec<Val> = vals[vals.len().saturating_sub(kept_slots)..].to_vec();
    if let Some((yes, take)) = text::polarity_head(&rest) {
        rest.splice(..take, [Tok::Slot("yes_no")]);
        vals.insert(0, Val::Yes(yes));
    }
    if !ctx.labels.is_empty() {
        let mut out = Vec::with_capacity(rest.len());
        let mut ordered_vals = Vec::with_capacity(vals.len());
        let mut it = vals.into_iter();
        for t in rest {
            match t {
                Tok::Word(w) if label_of(&w, &ctx.labels).is_some() => {
                    out.push(Tok::Slot("label"));
                    ordered_vals.push(Val::Label(label_of(&w, &ctx.labels).unwrap_or(w)));
                }
                Tok::Slot(k) => {
                    out.push(Tok::Slot(k));
                    ordered_vals.extend(it.next());
                }
                other => out.push(other),
            }
        }
        rest = out;
        vals = ordered_vals;
    }
    Reading {
        vals,
        residue: text::settle(rest),
        label,
    }
}

/// The label a word names: itself, or a regular inflection of a label of four letters
/// or more (`passed` for `pass`, `increased` for `increase`).
fn label_of(w: &str, labels: &[String]) -> Option<String> {
    if labels.iter().any(|l| l == w) {
        return Some(w.to_owned());
    }
    labels
        .iter()
        .filter(|l| l.chars().count() >= 4)
        .find(|l| {
            ["ed", "d", "s", "es", "ing"].iter().any(|suf| {
                w.strip_suffix(suf).is_some_and(|stem| {
                    stem == l.as_str() || l.strip_suffix('e').is_some_and(|le| le == stem)
                })
            })
        })
        .cloned()
}

const NUMBER_WORDS: [&str; 28] = [
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
    "twenty",
    "thirty",
    "forty",
    "fifty",
    "sixty",
    "seventy",
    "eighty",
    "ninety",
];

fn small_number(w: &str) -> Option<f64> {
    let i = NUMBER_WORDS.iter().position(|n| *n == w)?;
    Some(if i < 20 {
        i as f64
    } else {
        ((i - 18) * 10) as f64
    })
}

/// "forty-two", "one hundred and five", "minus seven", "two years".
fn number_words(
    text: &str,
    taken: &[std::ops::Range<usize>],
) -> Vec<(std::ops::Range<usize>, Val)> {
    static WORD: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"(?i)\b[a-z]+(?:-[a-z]+)?\b").ok());
    let Some(re) = WORD.as_ref() else {
        return Vec::new();
    };
    let ws: Vec<(std::ops::Range<usize>, String)> = re
        .find_iter(text)
        .map(|m| (m.range(), m.as_str().to_lowercase()))
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < ws.len() {
        let start = i;
        let mut negative = false;
        if matches!(ws[i].1.as_str(), "minus" | "negative")
            && ws
                .get(i + 1)
                .is_some_and(|w| small_number(w.1.split('-').next().unwrap_or("")).is_some())
        {
            negative = true;
            i += 1;
        }
        let (mut total, mut current, mut seen, mut end) = (0.0, 0.0, false, i);
        let mut j = i;
        while j < ws.len() {
            let w = ws[j].1.as_str();
            let adjacent = j == i || text[ws[j - 1].0.end..ws[j].0.start].trim().is_empty();
            if !adjacent {
                break;
            }
            let parts: Vec<Option<f64>> = w.split('-').map(small_number).collect();
            if parts.iter().all(Option::is_some) && !parts.is_empty() {
                current += parts.iter().flatten().sum::<f64>();
                seen = true;
                end = j;
            } else if seen && w == "hundred" {
                current *= 100.0;
                end = j;
            } else if seen && matches!(w, "thousand" | "million" | "billion") {
                let f = match w {
                    "thousand" => 1e3,
                    "million" => 1e6,
                    _ => 1e9,
                };
                total += current * f;
                current = 0.0;
                end = j;
            } else if !(seen && w == "and") {
                break;
            }
            j += 1;
        }
        if !seen {
            i = start + 1;
            continue;
        }
        let value = (total + current) * if negative { -1.0 } else { 1.0 };
        let span_end = ws[end].0.end;
        let unit = quantity::unit_at(&text[span_end..]);
        let lone_one = start == end && !negative && ws[end].1 == "one" && unit.is_none();
        let span = ws[start].0.start..span_end + unit.map_or(0, |u| u.1);
        if !lone_one
            && !taken
                .iter()
                .any(|r| r.start < span.end && span.start < r.end)
        {
            let exact = (value.fract() == 0.0 && value.abs() < 1e15)
                .then(|| Exact::parse(&format!("{}", value.abs()), 0, value < 0.0))
                .flatten();
            let delta = quantity::delta_at(text, &span);
            out.push((
                span,
                Val::Qty(Quantity {
                    number: value,
                    unit: unit.map(|u| u.0),
                    exact,
                    written: format!("{}", value.abs()),
                    ident: false,
                    delta,
                }),
            ));
        }
        i = end + 1;
    }
    out
}

/// Numbers with their scale and unit; digits inside identifiers (`u32`, `H2O`, `v1.2`)
/// are left as words.
fn numbers(
    text: &str,
    taken: &[std::ops::Range<usize>],
    ctx: &Ctx,
) -> Vec<(std::ops::Range<usize>, Val)> {
    let Some(re) = quantity::NUMBER.as_ref() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for c in re.captures_iter(text) {
        let (Some(m), Some(num)) = (c.get(0), c.name("num")) else {
            continue;
        };
        let mut start = ["cur", "sign", "cur2"]
            .iter()
            .find_map(|g| c.name(g))
            .map_or(num.start(), |g| g.start());
        let mut negative = c.name("sign").is_some_and(|s| s.as_str() != "+");
        let before = text[..start].chars().next_back();
        if before.is_some_and(|b| b.is_alphanumeric() || b == '.' || b == '_') {
            if c.name("sign").is_some() && c.name("cur").is_none() {
                // "5-4": a hyphen between numbers, not a sign.
                negative = false;
                start = c.name("sign").map_or(start, |s| s.end());
            } else {
                continue;
            }
        }
        let Ok(mut n) = num.as_str().replace(',', "").parse::<f64>() else {
            continue;
        };
        let mut shift = 0i64;
        let scaled = c.name("e").is_some() || c.name("exp").is_some();
        if let Some(e) = c.name("e").and_then(|e| e.as_str().parse::<i32>().ok()) {
            n *= 10f64.powi(e);
            shift += i64::from(e);
        }
        if let Some(e) = c
            .name("exp")
            .and_then(|e| e.as_str().replace('−', "-").parse::<i32>().ok())
        {
            n *= 10f64.powi(e);
            shift += i64::from(e);
        }
        if negative {
            n = -n;
        }
        let cur = c
            .name("cur")
            .or_else(|| c.name("cur2"))
            .and_then(|s| quantity::currency(s.as_str()));
        let mut end = m.end();
        let mut unit = cur;
        if c.name("ord").is_some() {
            unit = Some(quantity::ordinal());
        } else {
            if let Some((f, len)) = quantity::scale_at(&text[end..], cur.is_some()) {
                n *= f;
                end += len;
                // Scale words are powers of ten.
                shift += f.log10().round() as i64;
            }
            if unit.is_none() {
                if let Some((u, len)) = quantity::unit_at(&text[end..]) {
                    unit = Some(u);
                    end += len;
                }
            }
        }
        // Digits glued to letters that are not a unit: an identifier.
        if text[end..]
            .chars()
            .next()
            .is_some_and(|ch| ch.is_alphanumeric() || ch == '_')
        {
            continue;
        }
        let span = start..end;
        if taken
            .iter()
            .any(|r| r.start < span.end && span.start < r.end)
        {
            continue;
        }
        let written = num.as_str().replace(',', "");
        let plain = unit.is_none() && !scaled && end == m.end();
        let leading_zero =
            written.len() > 1 && written.starts_with('0') && !written.starts_with("0.");
        let ident = plain
            && (leading_zero
                || written.contains('.')
                    && (ctx.num.identifiers || quantity::id_word_before(text, start)));
        let delta = quantity::delta_at(text, &span);
        out.push((
            span,
            Val::Qty(Quantity {
                number: n,
                unit,
                exact: Exact::parse(num.as_str(), shift, negative),
                written,
                ident,
                delta,
            }),
        ));
    }
    out
}

static IDENTS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"\b\d+(?:\.\d+){2,}\b|\b[A-Za-z]+\d*(?:-[A-Za-z0-9]*\d[A-Za-z0-9]*)+\b|\b\d+(?:-\d+){2,}\b",
    )
    .ok()
});

/// Identifiers written with separators: dotted versions and addresses (`2.0.1`),
/// codes (`INV-2024-00017`, `GPT-4`), digit groups (`978-0-13-110362-7`).
fn identifiers(text: &str) -> Vec<std::ops::Range<usize>> {
    IDENTS.as_ref().map_or_else(Vec::new, |re| {
        re.find_iter(text)
            .filter(|m| {
                // Not part of a longer token: `1.2.3.` is fine, `v1.2.3` is a word.
                let before = text[..m.start()].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '-')
            })
            .map(|m| m.range())
            .collect()
    })
}

/// Reads an answer's values and residue.
pub(crate) fn read_values(text: &str, ctx: &Ctx) -> Reading {
    let mut found: Vec<(std::ops::Range<usize>, Val)> = datetime::find(text)
        .into_iter()
        .map(|(r, d)| (r, Val::When(d)))
        .collect();
    for r in identifiers(text) {
        if !found
            .iter()
            .any(|(f, _)| f.start < r.end && r.start < f.end)
        {
            found.push((r.clone(), Val::Ident(text[r].to_owned())));
        }
    }
    let taken: Vec<_> = found.iter().map(|f| f.0.clone()).collect();
    let nums = numbers(text, &taken, ctx);
    found.extend(nums);
    let taken: Vec<_> = found.iter().map(|f| f.0.clone()).collect();
    found.extend(number_words(text, &taken));
    found.sort_by_key(|f| f.0.start);
    let (toks, vals) = lay_out(text, found);
    finish(toks, vals, ctx)
}

/// Reads an answer that holds one JSON value.
pub(crate) fn read_json(text: &str, ctx: &Ctx) -> Option<Reading> {
    let found = nb_core::find_json(text).ok()?;
    let mut spans = found.spans;
    spans.sort_by_key(|r| r.start);
    let mut layout = Vec::new();
    let mut first = true;
    for r in spans {
        // Copies of the same value count once.
        if first {
            layout.push((r, Val::Json(found.value.clone())));
            first = false;
        }
    }
    let (toks, vals) = lay_out(text, layout);
    Some(finish(toks, vals, ctx))
}

static ITEM: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?m)^[ \t]*(?:[-*•]|\d+[.)])[ \t]+(.+?)[ \t]*$").ok());

fn item_text(s: &str) -> String {
    let mut t = Vec::new();
    text::tokens(s, &mut t);
    text::settle(t)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads a bulleted or numbered list (two items or more), or one line of three or more
/// short comma-separated items (two when joined by "and").
pub(crate) fn read_list(text: &str, ctx: &Ctx) -> Option<Reading> {
    let re = ITEM.as_ref()?;
    let caps: Vec<regex::Captures<'_>> = re.captures_iter(text).collect();
    if caps.len() >= 2 {
        let items: Vec<String> = caps.iter().map(|c| c[1].trim().to_owned()).collect();
        if items.iter().any(|i| item_text(i).is_empty()) {
            return None;
        }
        let start = caps[0].get(0)?.start();
        // Text between the items is residue too: only the item lines are the value.
        let mut toks = Vec::new();
        text::tokens(&text[..start], &mut toks);
        toks.push(Tok::Slot("list"));
        let mut at = caps[0].get(0)?.end();
        for c in &caps[1..] {
            let m = c.get(0)?;
            text::tokens(&text[at..m.start()], &mut toks);
            at = m.end();
        }
        text::tokens(&text[at..], &mut toks);
        let numbered = caps.iter().any(|c| {
            c[0].trim_start()
                .starts_with(|ch: char| ch.is_ascii_digit())
        });
        return Some(finish(toks, vec![Val::Items(items, numbered)], ctx));
    }
    let body = text.trim();
    if body.contains('\n') {
        return None;
    }
    let (lead, line) = match body.rfind(':') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => ("", body),
    };
    let line = line.trim().trim_end_matches('.');
    let with_and = line.contains(" and ");
    let parts: Vec<String> = line
        .split(',')
        .flat_map(|p| p.split(" and "))
        .map(|p| p.trim().trim_start_matches("and ").trim().to_owned())
        .filter(|p| !item_text(p).is_empty())
        .collect();
    let short = parts.iter().all(|p| {
        item_text(p).split_whitespace().count() <= 3 && p.chars().any(char::is_alphabetic)
    });
    let first_is_polarity = parts.first().is_some_and(|p| {
        matches!(
            item_text(p).split_whitespace().next(),
            Some("yes" | "no" | "true" | "false")
        )
    });
    let enough = parts.len() >= 3 || (parts.len() == 2 && with_and);
    if !(line.contains(',') || with_and) || !enough || !short || first_is_polarity {
        return None;
    }
    let mut toks = Vec::new();
    text::tokens(lead, &mut toks);
    if !lead.is_empty() {
        toks.push(Tok::Punct(':'));
    }
    toks.push(Tok::Slot("list"));
    Some(finish(toks, vec![Val::Items(parts, false)], ctx))
}

static CODE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?m)`|\b[A-Za-z_][A-Za-z0-9_]*(?:<[A-Za-z_&\[(]|::|\(\s*[A-Za-z0-9_'\x22)\[]|\[[A-Za-z0-9_'\x22]*\])|->|=>|==|!=|&&|\|\||;[ \t]*$|^\s*(?:def|fn|let|const|var|return|import|class|SELECT|#include)\b",
    )
    .ok()
});

/// Whether an answer holds code or identifiers: never compared as numbers or text.
pub(crate) fn looks_like_code(text: &str) -> bool {
    CODE.as_ref().is_some_and(|re| re.is_match(text)) || crate::code::looks_structured(text)
}

fn cmp_all(a: &[Val], b: &[Val], ctx: &Ctx) -> Cmp {
    let mut unsure = None;
    for (x, y) in a.iter().zip(b) {
        match x.compare(y, ctx) {
            Cmp::Same => {}
            Cmp::Different(why) => return Cmp::Different(why),
            Cmp::Incomparable(why) => unsure = unsure.or(Some(why)),
        }
    }
    unsure.map_or(Cmp::Same, Cmp::Incomparable)
}

/// Whether `b` is `a` in another order.
fn permutation(a: &[Val], b: &[Val], ctx: &Ctx) -> bool {
    let mut used = vec![false; b.len()];
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().enumerate().any(|(i, y)| {
                let hit = !used[i] && x.compare(y, ctx) == Cmp::Same;
                if hit {
                    used[i] = true;
                }
                hit
            })
        })
}

/// The one rule every strict comparator goes through. See the module docs.
pub(crate) fn account(ctx: &Ctx, mut a: Reading, mut b: Reading) -> Verdict {
    // A restated subject is framing only when the other answer restates the same one or
    // none: "Passed: 2" and "Failed: 2" keep their labels.
    if let (Some(x), Some(y)) = (&a.label, &b.label) {
        if x != y {
            let back = |l: &[String], r: &mut Vec<Tok>| {
                r.splice(0..0, l.iter().map(|w| Tok::Word(w.clone())));
            };
            back(x, &mut a.residue);
            back(y, &mut b.residue);
        }
    }
    // Who did what to whom: read with the labels as words.
    let (fa, va) = flatten(&a);
    let (fb, vb) = flatten(&b);
    if fa != fb {
        let values_same = va.len() == vb.len() && cmp_all(&va, &vb, ctx) == Cmp::Same;
        if let Some((outcome, why)) = crate::relation::compare(&fa, &fb, values_same) {
            return Verdict::new(outcome, "relation", why);
        }
    }
    let method = a
        .vals
        .first()
        .or(b.vals.first())
        .map_or("normalised_text", Val::kind);
    if a.vals.is_empty() && b.vals.is_empty() {
        return if !a.residue.is_empty() && a.residue == b.residue {
            Verdict::new(
                EquivalenceOutcome::Equivalent,
                "normalised_text",
                "equal after normalisation",
            )
        } else {
            Verdict::undecided(
                "normalised_text",
                "texts differ; this checker cannot tell whether they mean the same",
            )
        };
    }
    let bare = |r: &[Tok]| text::only_function_words(&words_only(r));
    let same_template = a.residue == b.residue
        || (a.vals.len() == b.vals.len()
            && same_slots(&a.residue, &b.residue)
            && (text::only_restates(&words_only(&a.residue), &ctx.words) && bare(&b.residue)
                || text::only_restates(&words_only(&b.residue), &ctx.words) && bare(&a.residue)));
    if same_template && a.vals.len() == b.vals.len() {
        return match cmp_all(&a.vals, &b.vals, ctx) {
            Cmp::Same => Verdict::new(
                EquivalenceOutcome::Equivalent,
                method,
                format!(
                    "the same {}; nothing else differs",
                    a.vals
                        .iter()
                        .map(Val::describe)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Cmp::Different(_) if permutation(&a.vals, &b.vals, ctx) => Verdict::undecided(
                method,
                "the same values in another order; whether order matters is not known",
            ),
            Cmp::Different(why) => Verdict::new(EquivalenceOutcome::NotEquivalent, method, why),
            Cmp::Incomparable(why) => Verdict::undecided(method, why),
        };
    }
    // The templates differ: only a conflict of values can still decide.
    for kind in [
        "json",
        "list",
        "date",
        "yes_no",
        "label",
        "identifier",
        "quantity",
        "number",
    ] {
        let of = |r: &Reading| -> Vec<Val> {
            r.vals
                .iter()
                .filter(|v| v.kind() == kind || (kind == "number" && v.kind() == "quantity"))
                .cloned()
                .collect()
        };
        let (x, y) = (of(&a), of(&b));
        if kind == "quantity" {
            continue;
        }
        let negated = |r: &Reading| {
            r.residue
                .iter()
                .any(|t| t.word().is_some_and(text::is_negation))
        };
        if kind == "label" && (negated(&a) || negated(&b)) {
            // "did not pass" may be "failed": a label under negation decides nothing.
            continue;
        }
        if x.len() == 1 && y.len() == 1 {
            if let Cmp::Different(why) = x[0].compare(&y[0], ctx) {
                return Verdict::new(EquivalenceOutcome::NotEquivalent, x[0].kind(), why);
            }
        }
        if kind == "number" && !x.is_empty() && !y.is_empty() {
            // No number in common with either answer's last: they state different results.
            let (lx, ly) = (&x[x.len() - 1], &y[y.len() - 1]);
            let shares = |v: &Val, all: &[Val]| {
                all.iter()
                    .any(|w| !matches!(v.compare(w, ctx), Cmp::Different(_)))
            };
            if !shares(lx, &y) && !shares(ly, &x) {
                return Verdict::new(
                    EquivalenceOutcome::NotEquivalent,
                    lx.kind(),
                    format!(
                        "no number in common with the final answers {} and {}",
                        lx.describe(),
                        ly.describe()
                    ),
                );
            }
        }
    }
    Verdict::undecided(
        method,
        format!(
            "the words around the values differ and cannot be accounted for: \"{}\" vs \"{}\"",
            text::show(&a.residue),
            text::show(&b.residue)
        ),
    )
}

/// A reading's residue with its labels put back as words, and its other values.
fn flatten(r: &Reading) -> (Vec<Tok>, Vec<Val>) {
    let mut vals = r.vals.iter();
    let mut rest = Vec::new();
    let toks = r
        .residue
        .iter()
        .map(|t| match t {
            Tok::Slot(_) => match vals.next() {
                Some(Val::Label(w)) => Tok::Word(w.clone()),
                Some(v) => {
                    rest.push(v.clone());
                    t.clone()
                }
                None => t.clone(),
            },
            other => other.clone(),
        })
        .collect();
    rest.extend(vals.cloned());
    (toks, rest)
}

fn words_only(t: &[Tok]) -> Vec<Tok> {
    t.iter()
        .filter(|x| !matches!(x, Tok::Slot(_)))
        .cloned()
        .collect()
}

fn same_slots(a: &[Tok], b: &[Tok]) -> bool {
    let slots = |t: &[Tok]| -> Vec<Tok> {
        t.iter()
            .filter(|x| matches!(x, Tok::Slot(_)))
            .cloned()
            .collect()
    };
    slots(a) == slots(b)
}

/// The strict comparison of two texts.
pub(crate) fn compare(prompt: &str, reference: &str, candidate: &str) -> Verdict {
    let ctx = Ctx::new(prompt);
    if let (Some(a), Some(b)) = (read_json(reference, &ctx), read_json(candidate, &ctx)) {
        return account(&ctx, a, b);
    }
    if looks_like_code(reference) || looks_like_code(candidate) {
        return crate::code::compare(prompt, reference, candidate);
    }
    for (which, t) in [("reference", reference), ("candidate", candidate)] {
        if text::ends_mid_phrase(t) {
            return Verdict::undecided(
                "truncation",
                format!("the {which} ends mid-phrase: it may have been cut short"),
            );
        }
    }
    if let (Some(a), Some(b)) = (read_list(reference, &ctx), read_list(candidate, &ctx)) {
        return account(&ctx, a, b);
    }
    account(
        &ctx,
        read_values(reference, &ctx),
        read_values(candidate, &ctx),
    )
}
