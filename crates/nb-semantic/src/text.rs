//! Tokens, normalisation and answer framing: what is left of an answer once the values a
//! comparator recognised are taken out.
//!
//! The framing that may be dropped is a short, fixed list (see [`FRAMING`]) plus two
//! rules that read the prompt: a leading label or subject that only restates the
//! question ("Sentiment: positive", "The capital is Paris" for "What is the capital…"),
//! and a yes/no tag that agrees with its answer ("Yes, it is", "No, it isn't"). Nothing
//! else is ever dropped: every other word stays, and a word that differs between two
//! answers keeps them from being called equivalent.

use std::collections::BTreeSet;

/// One token of an answer's residue.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tok {
    /// A word, lower-cased (letters, digits, inner `'` and `-`).
    Word(String),
    /// A symbol that carries meaning (`<`, `<=`, `=`, `+`, `/`, `^`, `~`, ...).
    Sym(String),
    /// Sentence punctuation (`.`, `,`, `:`, `;`, `!`, `?`, quotes, brackets): kept while
    /// framing is read, then dropped.
    Punct(char),
    /// Where a recognised value stood, by kind.
    Slot(&'static str),
}

impl Tok {
    pub(crate) fn word(&self) -> Option<&str> {
        match self {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Word(w) | Tok::Sym(w) => f.write_str(w),
            Tok::Punct(c) => write!(f, "{c}"),
            Tok::Slot(k) => write!(f, "<{k}>"),
        }
    }
}

const SYMBOLS: &str = "<>=≤≥≠≈~+/^&|@%§±→←×÷";

/// Splits `s` into tokens. Markdown emphasis (`*`, `_` runs, `#` headings) and dashes
/// used as punctuation are sentence punctuation.
pub(crate) fn tokens(s: &str, out: &mut Vec<Tok>) {
    let mut chars = s.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c.is_alphanumeric() {
            let mut w = String::new();
            w.extend(c.to_lowercase());
            while let Some(&(_, n)) = chars.peek() {
                if n.is_alphanumeric() {
                    w.extend(n.to_lowercase());
                    chars.next();
                } else if matches!(n, '\'' | '’' | '-') {
                    // Inner apostrophes and hyphens join words ("isn't", "well-known").
                    let mut ahead = chars.clone();
                    ahead.next();
                    if ahead.peek().is_some_and(|&(_, x)| x.is_alphanumeric()) {
                        w.push(if n == '’' { '\'' } else { n });
                        chars.next();
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w));
        } else if SYMBOLS.contains(c) || c == '!' && chars.peek().is_some_and(|&(_, n)| n == '=') {
            let mut sym = String::from(c);
            while let Some(&(_, n)) = chars.peek() {
                if matches!(n, '<' | '>' | '=') && sym.chars().all(|x| "<>=!".contains(x)) {
                    sym.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Sym(sym));
        } else if c == '-' && chars.peek().is_some_and(|&(_, n)| n == '>') {
            chars.next();
            out.push(Tok::Sym("->".into()));
        } else if !c.is_whitespace() {
            out.push(Tok::Punct(c));
        }
    }
}

/// The words of `s`, lower-cased.
pub(crate) fn words(s: &str) -> Vec<String> {
    let mut t = Vec::new();
    tokens(s, &mut t);
    t.into_iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(w),
            _ => None,
        })
        .collect()
}

/// Answer framing that never carries meaning, as word sequences (punctuation between
/// them is ignored). Stripped from the start of an answer, repeatedly, in any order.
pub const FRAMING: &[&[&str]] = &[
    &["the", "final", "answer", "is"],
    &["the", "correct", "answer", "is"],
    &["the", "answer", "is"],
    &["my", "answer", "is"],
    &["final", "answer"],
    &["correct", "answer"],
    &["answer"],
    &["the", "result", "is"],
    &["result"],
    &["output"],
    &["that", "equals"],
    &["this", "equals"],
    &["it", "equals"],
    &["equals"],
    &["that", "is"],
    &["that's"],
    &["it", "is"],
    &["it's"],
    &["this", "is"],
    &["so"],
    &["therefore"],
    &["thus"],
    &["hence"],
    &["sure"],
    &["certainly"],
    &["here", "is", "the", "answer"],
    &["here", "it", "is"],
    &["here's", "the", "answer"],
    &["it", "comes", "to"],
    &["that", "comes", "to"],
    &["i'd", "classify", "this", "as"],
    &["i", "would", "classify", "this", "as"],
    &["this", "is", "classified", "as"],
    &["classification"],
    &["category"],
    &["label"],
    &["verdict"],
    &["overall"],
];

/// A lead-in that only introduces the value after it: "Here is the data you asked
/// for:", "Here are the steps:". Dropped only when it ends in a colon, holds no
/// negation and starts with one of these.
const LEAD_INS: &[&str] = &["here", "here's", "below", "following"];

/// Words that confirm a yes ("Yes, definitely.", "Yes — that's correct.").
const YES_TAGS: &[&[&str]] = &[
    &["definitely"],
    &["absolutely"],
    &["indeed"],
    &["certainly"],
    &["of", "course"],
    &["correct"],
    &["that's", "correct"],
    &["that", "is", "correct"],
    &["that's", "right"],
    &["that", "is", "right"],
    &["yes"],
    &["true"],
];

/// Words that confirm a no ("No — that's not the case.").
const NO_TAGS: &[&[&str]] = &[
    &["definitely", "not"],
    &["certainly", "not"],
    &["not", "at", "all"],
    &["that's", "not", "the", "case"],
    &["that", "is", "not", "the", "case"],
    &["that's", "not", "right"],
    &["that's", "incorrect"],
    &["no"],
    &["false"],
];

/// Words that restate a question's subject without adding to it ("the", "of", ...).
const FUNCTION_WORDS: &[&str] = &[
    "the", "a", "an", "of", "in", "on", "for", "to", "at", "by", "with", "and", "its", "their",
    "this", "that", "these", "those",
];

/// Linking words after a restated subject: "The capital **is** Paris".
const COPULAS: &[&str] = &["is", "are", "was", "were", "equals", "will", "be", "would"];

const PRONOUNS: &[&str] = &[
    "it", "they", "he", "she", "i", "we", "you", "that", "this", "there",
];
const AUXILIARIES: &[&str] = &[
    "is", "are", "was", "were", "do", "does", "did", "can", "will", "would", "should", "has",
    "have", "had", "could", "am",
];

/// What a prompt tells the framing rules.
#[derive(Debug, Default)]
pub(crate) struct PromptWords {
    /// Content words of the prompt.
    pub(crate) words: BTreeSet<String>,
    /// Words the prompt offers as alternatives ("approved **or** rejected"): never framing.
    pub(crate) alternatives: BTreeSet<String>,
    /// The words that tell the alternatives of an "A or B" question apart ("a loss or
    /// income": `loss`, `income`; "the home team or the away team": `home`, `away`):
    /// read as labels, so an answer naming one is compared by which it names.
    pub(crate) choices: Vec<String>,
}

/// Words that are never a choice between alternatives.
fn not_a_choice(w: &str) -> bool {
    FUNCTION_WORDS.contains(&w)
        || COPULAS.contains(&w)
        || PRONOUNS.contains(&w)
        || AUXILIARIES.contains(&w)
        || is_negation(w)
        || matches!(
            w,
            "yes" | "true" | "false" | "both" | "either" | "neither" | "other"
        )
}

/// The choices an "A or B" question offers. See [`PromptWords::choices`].
fn choices(prompt: &str) -> Vec<String> {
    let mut t = Vec::new();
    tokens(prompt, &mut t);
    let mut out: Vec<String> = Vec::new();
    let push = |w: &str, out: &mut Vec<String>| {
        if !not_a_choice(w) && !out.iter().any(|x| x == w) {
            out.push(w.to_owned());
        }
    };
    for i in 0..t.len() {
        if !matches!(t[i].word(), Some("or" | "versus" | "vs")) {
            continue;
        }
        let right: Vec<&str> = t[i + 1..].iter().map_while(Tok::word).take(4).collect();
        let right: Vec<&str> = right
            .iter()
            .copied()
            .skip_while(|w| matches!(*w, "the" | "a" | "an"))
            .collect();
        let mut left: Vec<&str> = t[..i].iter().rev().map_while(Tok::word).take(4).collect();
        left.reverse();
        let (Some(first), Some(last)) = (right.first(), left.last()) else {
            continue;
        };
        if is_negation(first) {
            continue;
        }
        let head = right.last().copied().unwrap_or("");
        if right.len() >= 2 && *last == head && left.len() > right.len() - 1 {
            // "the home team or the away team": the words before the shared head.
            let k = right.len() - 1;
            for w in &right[..k] {
                push(w, &mut out);
            }
            for w in &left[left.len() - 1 - k..left.len() - 1] {
                push(w, &mut out);
            }
        } else {
            // Only the two words around "or": in "won, Labour or the Conservatives" the
            // word before the comma is not a choice.
            push(last, &mut out);
            push(first, &mut out);
        }
    }
    out
}

impl PromptWords {
    pub(crate) fn new(prompt: &str) -> Self {
        let ws = words(prompt);
        let mut alternatives = BTreeSet::new();
        for (i, w) in ws.iter().enumerate() {
            if w == "or" || w == "versus" || w == "vs" {
                if let Some(p) = i.checked_sub(1).and_then(|j| ws.get(j)) {
                    alternatives.insert(p.clone());
                }
                if let Some(n) = ws.get(i + 1) {
                    alternatives.insert(n.clone());
                }
            }
        }
        let choices = choices(prompt);
        alternatives.extend(choices.iter().cloned());
        Self {
            words: ws.into_iter().collect(),
            alternatives,
            choices,
        }
    }

    fn restates(&self, w: &str) -> bool {
        // Regular inflections of a prompt word restate it ("opened" for "open").
        // Stems of three letters or more only: "i" + "s" is not "is".
        let inflected = w.chars().count() >= 4
            && (["s", "es", "ed", "d", "ing"].iter().any(|suf| {
                w.strip_suffix(suf)
                    .is_some_and(|s| s.chars().count() >= 3 && self.words.contains(s))
            }) || self.words.contains(&format!("{w}s")));
        !self.alternatives.contains(w)
            && (self.words.contains(w) || FUNCTION_WORDS.contains(&w) || inflected)
    }
}

fn skip_punct(t: &[Tok], mut i: usize) -> usize {
    while matches!(t.get(i), Some(Tok::Punct(_))) {
        i += 1;
    }
    i
}

/// Strips the fixed framing phrases from the start, repeatedly.
fn strip_fixed(t: &[Tok]) -> usize {
    let mut i = skip_punct(t, 0);
    'again: loop {
        for phrase in FRAMING {
            let mut j = i;
            let mut ok = true;
            for w in *phrase {
                j = skip_punct(t, j);
                if t.get(j).and_then(Tok::word) == Some(*w) {
                    j += 1;
                } else {
                    ok = false;
                    break;
                }
            }
            // A phrase is framing only when something follows it.
            if ok && skip_punct(t, j) < t.len() {
                i = skip_punct(t, j);
                continue 'again;
            }
        }
        return i;
    }
}

/// A leading label or subject that restates the prompt: `X:` or `the X is`, where X is
/// one to six words the prompt uses (not words it offers as alternatives). Returns
/// where the rest starts and the label's words.
fn restated_subject(t: &[Tok], from: usize, p: &PromptWords) -> Option<(usize, Vec<String>)> {
    let mut i = from;
    let mut label = Vec::new();
    while let Some(Tok::Word(w)) = t.get(i) {
        if COPULAS.contains(&w.as_str()) && !label.is_empty() {
            let rest = i + 1;
            return (rest < t.len()).then_some((skip_punct(t, rest), label));
        }
        if !p.restates(w) {
            return None;
        }
        label.push(w.clone());
        if label.len() > 6 {
            return None;
        }
        i += 1;
        if t.get(i) == Some(&Tok::Punct(':')) {
            let rest = skip_punct(t, i);
            let content = label.iter().any(|w| !FUNCTION_WORDS.contains(&w.as_str()));
            return (content && rest < t.len()).then_some((rest, label));
        }
    }
    None
}

/// The residue of an answer: its tokens with the framing at the start taken away, and
/// the content words of the subject it restated, if any (the caller drops a restated
/// subject only when the other answer restates the same one or none).
pub(crate) fn strip_framing(t: &[Tok], p: &PromptWords) -> (Vec<Tok>, Option<Vec<String>>) {
    let mut i = strip_fixed(t);
    if t.get(i)
        .and_then(Tok::word)
        .is_some_and(|w| LEAD_INS.contains(&w))
    {
        if let Some(colon) = t[i..].iter().position(|x| *x == Tok::Punct(':')) {
            let lead = &t[i..i + colon];
            let plain = lead.iter().all(|x| match x {
                Tok::Word(w) => !is_negation(w),
                Tok::Punct(_) => true,
                _ => false,
            });
            if plain && i + colon + 1 < t.len() {
                i = strip_fixed(&t[i + colon + 1..]) + i + colon + 1;
            }
        }
    }
    let mut label = None;
    if let Some((j, l)) = restated_subject(t, i, p) {
        i = strip_fixed(&t[j..]) + j;
        label = Some(
            l.into_iter()
                .filter(|w| !FUNCTION_WORDS.contains(&w.as_str()))
                .collect(),
        );
    }
    (t[i..].to_vec(), label)
}

/// Reads a yes/no at the head of the residue: the word and, when present, the tag that
/// agrees with it ("Yes, it is." / "No, it isn't."), which is framing. A head word
/// followed by a noun ("No checks failed") is not an answer polarity.
pub(crate) fn polarity_head(t: &[Tok]) -> Option<(bool, usize)> {
    let yes = match t.first()?.word()? {
        "yes" | "true" | "yeah" | "yep" | "correct" => true,
        "no" | "false" | "nope" | "incorrect" => false,
        _ => return None,
    };
    let next = 1;
    // A confirming phrase that agrees with the answer, then nothing else.
    let j = skip_punct(t, next);
    for tag in if yes { YES_TAGS } else { NO_TAGS } {
        let n = tag.len();
        let fits = t.len() >= j + n
            && tag
                .iter()
                .zip(&t[j..j + n])
                .all(|(w, x)| x.word() == Some(*w));
        if fits && t[j + n..].iter().all(|x| matches!(x, Tok::Punct(_))) {
            return Some((yes, t.len()));
        }
    }
    match t.get(next) {
        None | Some(Tok::Punct(_)) => {}
        Some(Tok::Word(w)) if PRONOUNS.contains(&w.as_str()) => {}
        _ => return None,
    }
    // The agreeing tag: pronoun, auxiliary, and "not"/"n't" exactly when the answer is no.
    if let (Some(Tok::Word(pr)), Some(Tok::Word(aux))) = (t.get(j), t.get(j + 1)) {
        if PRONOUNS.contains(&pr.as_str()) {
            let (base, neg) = match aux.strip_suffix("n't") {
                Some(b) => (b, true),
                None => (aux.as_str(), false),
            };
            let base = match base {
                "is" | "are" | "was" | "were" | "does" | "do" | "did" | "has" | "have" | "had"
                | "could" | "would" | "should" => base,
                "ca" => "can",
                "wo" => "will",
                other => other,
            };
            if AUXILIARIES.contains(&base) {
                let mut k = j + 2;
                let mut negated = neg;
                if !neg && t.get(k).and_then(Tok::word) == Some("not") {
                    negated = true;
                    k += 1;
                }
                let ends = t[k..].iter().all(|x| matches!(x, Tok::Punct(_)));
                if ends && negated != yes {
                    return Some((yes, t.len()));
                }
            }
        }
    }
    Some((yes, next))
}

/// The residue with punctuation gone: what must match between two answers.
pub(crate) fn settle(t: Vec<Tok>) -> Vec<Tok> {
    t.into_iter()
        .filter(|x| !matches!(x, Tok::Punct(_)))
        .collect()
}

/// A residue as text, for reasons.
pub(crate) fn show(t: &[Tok]) -> String {
    let s: Vec<String> = t.iter().map(ToString::to_string).collect();
    let s = s.join(" ");
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Whether an answer stops mid-phrase: on a comma, colon, semicolon, dash or opening
/// bracket, or on a word that cannot end a sentence ("of", "the", "and", ...). Such an
/// answer may have been cut short and is never vouched for by the strict checker.
pub(crate) fn ends_mid_phrase(s: &str) -> bool {
    let t = s.trim_end();
    let Some(last) = t.chars().next_back() else {
        return false;
    };
    if matches!(
        last,
        ',' | ':' | ';' | '—' | '–' | '-' | '(' | '[' | '{' | '/'
    ) {
        return true;
    }
    let word = t
        .rsplit(|c: char| !c.is_alphanumeric() && c != '\'')
        .next()
        .unwrap_or("")
        .to_lowercase();
    last.is_alphanumeric()
        && matches!(
            word.as_str(),
            "of" | "the"
                | "a"
                | "an"
                | "to"
                | "and"
                | "or"
                | "with"
                | "for"
                | "from"
                | "by"
                | "but"
                | "than"
                | "that"
                | "which"
                | "whose"
                | "its"
                | "their"
                | "our"
                | "your"
                | "my"
                | "his"
                | "her"
                | "because"
                | "if"
                | "while"
                | "whereas"
                | "nor"
        )
}

/// Negation words: never framing, and their presence keeps a restatement from counting.
pub(crate) fn is_negation(w: &str) -> bool {
    matches!(
        w,
        "not" | "no" | "never" | "none" | "nor" | "neither" | "without"
    ) || w.ends_with("n't")
}

/// Whether `ws` holds nothing but function words ("a", "the"), or nothing.
pub(crate) fn only_function_words(ws: &[Tok]) -> bool {
    ws.iter()
        .all(|t| t.word().is_some_and(|w| FUNCTION_WORDS.contains(&w)))
}

/// Whether `extra` only restates the prompt: every word is a prompt word or a
/// function/copula word, none negates, and the prompt offers no alternatives among them.
pub(crate) fn only_restates(extra: &[Tok], p: &PromptWords) -> bool {
    !extra.is_empty()
        && extra.iter().all(|t| match t {
            Tok::Word(w) => !is_negation(w) && (p.restates(w) || COPULAS.contains(&w.as_str())),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        let mut t = Vec::new();
        tokens(s, &mut t);
        t
    }

    #[test]
    fn tokens_keep_meaningful_symbols() {
        let t = toks("x <= 5 isn't -> y != z");
        assert!(t.contains(&Tok::Sym("<=".into())));
        assert!(t.contains(&Tok::Sym("!=".into())));
        assert!(t.contains(&Tok::Sym("->".into())));
        assert!(t.contains(&Tok::Word("isn't".into())));
        assert_ne!(toks("a < b"), toks("a <= b"));
    }

    #[test]
    fn fixed_framing_and_restated_subjects() {
        let p = PromptWords::new("Classify the sentiment of this review.");
        let (r, _) = strip_framing(&toks("**Answer:** The sentiment is positive."), &p);
        assert_eq!(settle(r), vec![Tok::Word("positive".into())]);
        let (r, l) = strip_framing(&toks("Sentiment: positive"), &p);
        assert_eq!(settle(r), vec![Tok::Word("positive".into())]);
        assert_eq!(l, Some(vec!["sentiment".to_owned()]));
        // A label the prompt offers as an alternative is content, not framing.
        let p = PromptWords::new("Was it approved or rejected?");
        let (r, _) = strip_framing(&toks("Approved: 5-4"), &p);
        assert_eq!(r.first(), Some(&Tok::Word("approved".into())));
    }

    #[test]
    fn yes_no_tags_agree_or_stay() {
        assert_eq!(polarity_head(&toks("yes, it is.")), Some((true, 5)));
        assert_eq!(polarity_head(&toks("no, it isn't")), Some((false, 4)));
        assert_eq!(polarity_head(&toks("no, it is not")).map(|x| x.1), Some(5));
        // A tag that contradicts its answer is left in the residue.
        assert_eq!(polarity_head(&toks("yes, it isn't")), Some((true, 1)));
        assert_eq!(polarity_head(&toks("no checks failed")), None);
    }
}
