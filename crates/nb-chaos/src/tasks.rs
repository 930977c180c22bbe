//! Checkable tasks: prompts whose correct answers the simulator can compute, so every
//! answer a client receives can be verified and silent corruptions counted.
//!
//! ```
//! use nb_chaos::tasks::Task;
//! let t = Task::Arithmetic { a: 17, op: '+', b: 25 };
//! let prompt = t.prompt();
//! assert_eq!(Task::parse(&prompt), Some(t.clone()));
//! assert!(t.check("The answer is 42."));
//! assert!(!t.check("The answer is 43."));
//! ```

use std::sync::LazyLock;

use rand::Rng;
use regex::Regex;
use serde_json::{Value, json};

use crate::scenario::Personality;

const POSITIVE: [&str; 6] = [
    "loved",
    "great",
    "excellent",
    "wonderful",
    "fast",
    "friendly",
];
const NEGATIVE: [&str; 6] = ["hated", "awful", "broken", "slow", "rude", "terrible"];
const NEUTRAL: [&str; 6] = ["arrived", "on", "tuesday", "the", "box", "was"];
const NAMES: [&str; 6] = ["Alice", "Bruno", "Chiara", "Dmitri", "Emeka", "Fatima"];
const CITIES: [&str; 6] = ["Lyon", "Porto", "Osaka", "Quito", "Tartu", "Accra"];
const LABELS: [&str; 3] = ["positive", "negative", "neutral"];

/// A task with a computable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// `a op b` with `op` one of `+`, `-`, `*`.
    Arithmetic {
        /// Left operand.
        a: i64,
        /// Operator.
        op: char,
        /// Right operand.
        b: i64,
    },
    /// Sentiment of a short review: positive, negative or neutral.
    Sentiment {
        /// The review.
        text: String,
    },
    /// Extract `name`, `age`, `city` as JSON from a sentence.
    Extract {
        /// The person's name.
        name: String,
        /// Their age.
        age: u32,
        /// Their city.
        city: String,
    },
    /// Is `n` prime (`prime = true`) or even (`prime = false`)? Answer yes or no.
    YesNo {
        /// The number.
        n: u64,
        /// Which property is asked about.
        prime: bool,
    },
}

/// The correct answer of a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A number.
    Number(i64),
    /// A label from a fixed set.
    Label(&'static str),
    /// Yes (`true`) or no.
    YesNo(bool),
    /// A JSON object.
    Json(Value),
}

static ARITH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"What is (-?\d+) ([+\-*]) (-?\d+)\?").unwrap_or_else(|_| unreachable!())
});
static SENTIMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"sentiment of this review as positive, negative or neutral: "([^"]*)""#)
        .unwrap_or_else(|_| unreachable!())
});
static EXTRACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"from: (\w+) is (\d+) years old and lives in (\w+)\.")
        .unwrap_or_else(|_| unreachable!())
});
static YESNO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Answer yes or no: is (\d+) an? (prime|even) number\?")
        .unwrap_or_else(|_| unreachable!())
});
static INT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-?\d+").unwrap_or_else(|_| unreachable!()));
static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z]+").unwrap_or_else(|_| unreachable!()));

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

impl Task {
    /// A random task.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        match rng.random_range(0..4) {
            0 => Self::Arithmetic {
                a: rng.random_range(-50..500),
                op: ['+', '-', '*'][rng.random_range(0..3)],
                b: rng.random_range(1..100),
            },
            1 => {
                let words: Vec<&str> = (0..5)
                    .map(|_| match rng.random_range(0..3) {
                        0 => POSITIVE[rng.random_range(0..6)],
                        1 => NEGATIVE[rng.random_range(0..6)],
                        _ => NEUTRAL[rng.random_range(0..6)],
                    })
                    .collect();
                Self::Sentiment {
                    text: words.join(" "),
                }
            }
            2 => Self::Extract {
                name: NAMES[rng.random_range(0..6)].into(),
                age: rng.random_range(18..90),
                city: CITIES[rng.random_range(0..6)].into(),
            },
            _ => Self::YesNo {
                n: rng.random_range(2..200),
                prime: rng.random_bool(0.5),
            },
        }
    }

    /// The prompt that asks for this task.
    pub fn prompt(&self) -> String {
        match self {
            Self::Arithmetic { a, op, b } => {
                format!("What is {a} {op} {b}? Reply with the number only.")
            }
            Self::Sentiment { text } => format!(
                "Classify the sentiment of this review as positive, negative or neutral: \"{text}\""
            ),
            Self::Extract { name, age, city } => format!(
                "Extract name, age and city as JSON from: {name} is {age} years old and lives in {city}."
            ),
            Self::YesNo { n, prime } => format!(
                "Answer yes or no: is {n} a{} {} number?",
                if *prime { "" } else { "n" },
                if *prime { "prime" } else { "even" }
            ),
        }
    }

    /// Recognises a task in a prompt (anywhere in the text).
    pub fn parse(prompt: &str) -> Option<Self> {
        if let Some(c) = ARITH.captures(prompt) {
            return Some(Self::Arithmetic {
                a: c[1].parse().ok()?,
                op: c[2].chars().next()?,
                b: c[3].parse().ok()?,
            });
        }
        if let Some(c) = SENTIMENT.captures(prompt) {
            return Some(Self::Sentiment {
                text: c[1].to_owned(),
            });
        }
        if let Some(c) = EXTRACT.captures(prompt) {
            return Some(Self::Extract {
                name: c[1].to_owned(),
                age: c[2].parse().ok()?,
                city: c[3].to_owned(),
            });
        }
        if let Some(c) = YESNO.captures(prompt) {
            return Some(Self::YesNo {
                n: c[1].parse().ok()?,
                prime: &c[2] == "prime",
            });
        }
        None
    }

    /// The correct answer.
    pub fn truth(&self) -> Answer {
        match self {
            Self::Arithmetic { a, op, b } => Answer::Number(match op {
                '+' => a.saturating_add(*b),
                '-' => a.saturating_sub(*b),
                _ => a.saturating_mul(*b),
            }),
            Self::Sentiment { text } => {
                let score: i32 = text
                    .split_whitespace()
                    .map(|w| {
                        if POSITIVE.contains(&w) {
                            1
                        } else if NEGATIVE.contains(&w) {
                            -1
                        } else {
                            0
                        }
                    })
                    .sum();
                Answer::Label(match score.signum() {
                    1 => "positive",
                    -1 => "negative",
                    _ => "neutral",
                })
            }
            Self::Extract { name, age, city } => {
                Answer::Json(json!({"name": name, "age": age, "city": city}))
            }
            Self::YesNo { n, prime } => {
                Answer::YesNo(if *prime { is_prime(*n) } else { n % 2 == 0 })
            }
        }
    }

    /// A confident wrong answer: close to the truth, never equal to it.
    pub fn drift<R: Rng + ?Sized>(&self, rng: &mut R) -> Answer {
        match self.truth() {
            Answer::Number(n) => {
                let delta = [1, -1, 10, -10, 2][rng.random_range(0..5)];
                Answer::Number(n.saturating_add(delta))
            }
            Answer::Label(l) => {
                let others: Vec<&'static str> = LABELS.into_iter().filter(|x| *x != l).collect();
                Answer::Label(others[rng.random_range(0..others.len())])
            }
            Answer::YesNo(b) => Answer::YesNo(!b),
            Answer::Json(mut v) => {
                if rng.random_bool(0.5) {
                    let age = v["age"].as_u64().unwrap_or(0);
                    v["age"] = json!(age + 1);
                } else {
                    let city = v["city"].as_str().unwrap_or("").to_owned();
                    let other = CITIES.into_iter().find(|c| *c != city).unwrap_or("Nowhere");
                    v["city"] = json!(other);
                }
                Answer::Json(v)
            }
        }
    }

    /// `answer` to this task as `personality` phrases it (JSON text when `json` is set):
    /// like [`Answer::render`], except that [`Personality::Worked`] writes an arithmetic
    /// answer out as `a op b = answer`.
    pub fn phrase(&self, answer: &Answer, personality: Personality, json: bool) -> String {
        match (self, answer, personality, json) {
            (Self::Arithmetic { a, op, b }, Answer::Number(n), Personality::Worked, false) => {
                format!("{a} {op} {b} = {n}")
            }
            _ => answer.render(personality, json),
        }
    }

    /// Whether `text` (an answer in any of the simulator's phrasings, or JSON) is
    /// correct.
    pub fn check(&self, text: &str) -> bool {
        self.read(text).is_some_and(|a| a == self.truth())
    }

    /// Reads an answer of this task's kind out of `text`; `None` when it holds none or
    /// several.
    pub fn read(&self, text: &str) -> Option<Answer> {
        let json = extract_json(text);
        match self.truth() {
            Answer::Number(_) => {
                if let Some(n) = json
                    .as_ref()
                    .and_then(|v| v.get("answer"))
                    .and_then(Value::as_i64)
                {
                    return Some(Answer::Number(n));
                }
                let last = INT.find_iter(text).last()?;
                last.as_str().parse().ok().map(Answer::Number)
            }
            Answer::Label(_) => {
                let source = json
                    .as_ref()
                    .and_then(|v| v.get("label"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| text.to_owned());
                let found: Vec<&'static str> = LABELS
                    .into_iter()
                    .filter(|l| {
                        WORD.find_iter(&source)
                            .any(|w| w.as_str().eq_ignore_ascii_case(l))
                    })
                    .collect();
                (found.len() == 1).then(|| Answer::Label(found[0]))
            }
            Answer::YesNo(_) => {
                let source = json
                    .as_ref()
                    .and_then(|v| v.get("answer"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| text.to_owned());
                let has = |w: &str| {
                    WORD.find_iter(&source)
                        .any(|m| m.as_str().eq_ignore_ascii_case(w))
                };
                match (has("yes"), has("no")) {
                    (true, false) => Some(Answer::YesNo(true)),
                    (false, true) => Some(Answer::YesNo(false)),
                    _ => None,
                }
            }
            Answer::Json(_) => json.map(Answer::Json),
        }
    }
}

/// The first JSON object in `text`: raw, in a fenced block, or inside prose.
pub fn extract_json(text: &str) -> Option<Value> {
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(text.trim()) {
        return Some(v);
    }
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    (end > start)
        .then(|| serde_json::from_str::<Value>(&text[start..=end]).ok())
        .flatten()
        .filter(Value::is_object)
}

impl Answer {
    /// The answer as JSON, for JSON-mode requests.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Number(n) => json!({"answer": n}),
            Self::Label(l) => json!({"label": l}),
            Self::YesNo(b) => json!({"answer": if *b { "yes" } else { "no" }}),
            Self::Json(v) => v.clone(),
        }
    }

    /// The answer phrased by `personality`, or as JSON text when `json` is set.
    pub fn render(&self, personality: Personality, json: bool) -> String {
        if json {
            let v = self.to_json();
            return match personality {
                Personality::Markdown => format!(
                    "```json\n{}\n```",
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                ),
                _ => v.to_string(),
            };
        }
        // Without the task's operands there is no working to show: `Worked` reads as
        // `Chatty` here (see `Task::phrase`).
        match (self, personality) {
            (Self::Number(n), Personality::Terse) => n.to_string(),
            (Self::Number(n), Personality::Chatty | Personality::Worked) => {
                format!("The answer is {n}.")
            }
            (Self::Number(n), Personality::Markdown) => format!("**Answer:** {n}"),
            (Self::Label(l), Personality::Terse) => (*l).to_owned(),
            (Self::Label(l), Personality::Chatty | Personality::Worked) => {
                format!("The sentiment is {l}.")
            }
            (Self::Label(l), Personality::Markdown) => format!("**Sentiment:** {l}"),
            (Self::YesNo(b), Personality::Terse) => (if *b { "yes" } else { "no" }).to_owned(),
            (Self::YesNo(b), Personality::Chatty | Personality::Worked) => {
                (if *b { "Yes, it is." } else { "No, it is not." }).to_owned()
            }
            (Self::YesNo(b), Personality::Markdown) => {
                format!("**Answer:** {}", if *b { "Yes" } else { "No" })
            }
            (Self::Json(v), Personality::Terse) => v.to_string(),
            (Self::Json(v), Personality::Chatty | Personality::Worked) => {
                format!("Here is the data you asked for: {v}")
            }
            (Self::Json(v), Personality::Markdown) => format!(
                "```json\n{}\n```",
                serde_json::to_string_pretty(v).unwrap_or_default()
            ),
        }
    }

    /// The same kind of answer in a shape that breaks its schema (a type change or a
    /// missing field).
    pub fn schema_break(&self) -> Value {
        match self {
            Self::Number(n) => json!({"answer": n.to_string()}),
            Self::Label(l) => json!({"sentiment": l}),
            Self::YesNo(b) => json!({"answer": b}),
            Self::Json(v) => {
                let mut v = v.clone();
                if let Some(o) = v.as_object_mut() {
                    o.remove("city");
                    if let Some(age) = o.get("age").cloned() {
                        o.insert("age".into(), json!(age.to_string()));
                    }
                }
                v
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn every_generated_task_round_trips_and_checks_its_own_truth_in_every_phrasing() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..500 {
            let t = Task::generate(&mut rng);
            assert_eq!(Task::parse(&t.prompt()), Some(t.clone()), "{}", t.prompt());
            let truth = t.truth();
            for p in [
                Personality::Terse,
                Personality::Chatty,
                Personality::Markdown,
            ] {
                for json in [false, true] {
                    let text = truth.render(p, json);
                    assert!(t.check(&text), "{t:?} {p:?} json={json}: {text}");
                    let wrong = t.drift(&mut rng).render(p, json);
                    assert!(!t.check(&wrong), "{t:?} drift passed: {wrong}");
                }
            }
        }
    }

    #[test]
    fn ambiguous_answers_are_not_correct() {
        let t = Task::YesNo { n: 7, prime: true };
        assert!(t.check("Yes"));
        assert!(!t.check("yes and no"));
        let s = Task::Sentiment {
            text: "loved".into(),
        };
        assert!(!s.check("positive or negative"));
        assert!(
            !Task::Arithmetic {
                a: 1,
                op: '+',
                b: 1
            }
            .check("no number here")
        );
    }
}
