//! Who did what to whom: role swaps and comparatives.
//!
//! Two readings whose words are the same but for two names that changed places around a
//! relation that is not symmetric (`Spain beat Italy` / `Italy beat Spain`, `Alice paid
//! Bob` / `Bob paid Alice`, `X is larger than Y` / `Y is larger than X`) are *not
//! equivalent*. Symmetric relations (`met`, `and`, `played`) never decide: only the verbs
//! and comparatives listed here do.
//!
//! A short sentence `S REL O` is also read into a relation, with its converse undone:
//! `Y is smaller than X` is `X is larger than Y`, `Y lost to X` is `X beat Y`, `Y was
//! interviewed by X` is `X interviewed Y`. The same relation between the same two is
//! *equivalent*; the same relation the other way round, or the converse one the same way
//! round, is *not equivalent*. Anything else — a name written differently, a word left
//! over — stays undecided.

use crate::EquivalenceOutcome;
use crate::text::Tok;

/// Verbs whose subject and object cannot change places without changing the meaning.
const ASYMMETRIC: &[&str] = &[
    "beat",
    "beats",
    "beaten",
    "defeated",
    "defeats",
    "defeat",
    "acquired",
    "acquires",
    "acquire",
    "bought",
    "buys",
    "sued",
    "sues",
    "paid",
    "pays",
    "owes",
    "owed",
    "supplies",
    "supplied",
    "reports",
    "reported",
    "interviewed",
    "interviews",
    "hired",
    "hires",
    "fired",
    "fires",
    "replaced",
    "replaces",
    "succeeded",
    "succeeds",
    "follows",
    "followed",
    "precedes",
    "preceded",
    "manages",
    "managed",
    "employs",
    "employed",
    "invited",
    "invites",
    "attacked",
    "attacks",
    "called",
    "emailed",
    "taught",
    "teaches",
    "owns",
    "owned",
    "killed",
    "kills",
    "chased",
    "chases",
    "bit",
    "bites",
    "bitten",
    "trusts",
    "trusted",
    "sold",
    "sells",
    "gave",
    "gives",
    "sent",
    "sends",
    "lent",
    "lends",
    "borrowed",
    "overtook",
    "overtakes",
    "overtaken",
    "outperformed",
    "outperforms",
    "outsold",
    "outsells",
    "hosted",
    "hosts",
    "visited",
    "visits",
    "funded",
    "funds",
    "sponsored",
    "sponsors",
    "told",
    "tells",
    "warned",
    "warns",
    "blamed",
    "blames",
    "appointed",
    "appoints",
    "elected",
    "nominated",
    "leads",
    "led",
    "trails",
    "trailed",
    "invaded",
    "invades",
    "conquered",
    "annexed",
    "lost",
    "loses",
    "won",
    "wins",
    "than",
    "scolded",
    "thanked",
    "praised",
    "criticised",
    "criticized",
    "mentored",
    "coached",
    "trained",
    "rescued",
    "saved",
    "defended",
    "accused",
];

/// Comparatives and their converses: `A is larger than B` is `B is smaller than A`.
const CONVERSES: &[(&str, &str)] = &[
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("greater", "smaller"),
    ("older", "younger"),
    ("older", "newer"),
    ("taller", "shorter"),
    ("longer", "shorter"),
    ("heavier", "lighter"),
    ("faster", "slower"),
    ("quicker", "slower"),
    ("cheaper", "more expensive"),
    ("cheaper", "pricier"),
    ("cheaper", "costlier"),
    ("higher", "lower"),
    ("warmer", "colder"),
    ("warmer", "cooler"),
    ("hotter", "colder"),
    ("hotter", "cooler"),
    ("earlier", "later"),
    ("richer", "poorer"),
    ("stronger", "weaker"),
    ("wider", "narrower"),
    ("deeper", "shallower"),
    ("better", "worse"),
    ("closer", "farther"),
    ("closer", "further"),
    ("nearer", "farther"),
    ("louder", "quieter"),
    ("thicker", "thinner"),
    ("denser", "less dense"),
    ("busier", "quieter"),
    ("more", "fewer"),
    ("more", "less"),
];

/// Verbs read the other way round: `Y lost to X` is `X beat Y`.
const VERB_CONVERSES: &[(&str, &str)] = &[("beat", "lost to"), ("defeated", "lost to")];

/// Forms of one verb that mean the same: `defeated` is `beat`; a passive participle is its
/// past tense (`was beaten by`).
fn verb_base(v: &str) -> &str {
    match v {
        "defeated" | "beaten" => "beat",
        "bitten" => "bit",
        "overtaken" => "overtook",
        other => other,
    }
}

/// A sentence read as `subject relation object`.
#[derive(Debug, PartialEq)]
struct Rel {
    subject: Vec<String>,
    /// The relation: a verb in the past or present, or a comparative (`larger`, `more
    /// users`), with its linking verb.
    relation: String,
    link: String,
    object: Vec<String>,
    negated: bool,
}

const LINKS: &[&str] = &[
    "is", "are", "was", "were", "has", "have", "had", "seems", "became", "becomes", "runs", "ran",
    "grew", "grows", "looks",
];

fn name(ws: &[&str]) -> Option<Vec<String>> {
    let ws: Vec<&str> = ws
        .iter()
        .copied()
        .skip_while(|w| matches!(*w, "the" | "a" | "an"))
        .collect();
    let bad = ws.is_empty()
        || ws.len() > 4
        || ws
            .iter()
            .any(|w| matches!(*w, "and" | "or" | "than" | "by" | "to" | "not" | "the"));
    (!bad).then(|| ws.iter().map(|w| (*w).to_owned()).collect())
}

/// Reads `S [link] [not] CMP than O`, `S VERB O`, `O was VERB by S`, `S lost to O`.
fn parse(ws: &[&str]) -> Option<Rel> {
    // Comparatives.
    if let Some(than) = ws.iter().position(|w| *w == "than") {
        if ws.iter().filter(|w| **w == "than").count() != 1 || than < 2 {
            return None;
        }
        let mut c = than - 1;
        let mut relation = ws[c].to_owned();
        if c >= 1 && matches!(ws[c - 1], "more" | "less" | "fewer") {
            relation = format!("{} {}", ws[c - 1], ws[c]);
            c -= 1;
        }
        let mut negated = false;
        if c >= 1 && ws[c - 1] == "not" {
            negated = true;
            c -= 1;
        }
        let (link, s_end) = if c >= 1 && LINKS.contains(&ws[c - 1]) {
            (ws[c - 1].to_owned(), c - 1)
        } else {
            (String::new(), c)
        };
        return Some(Rel {
            subject: name(&ws[..s_end])?,
            relation,
            link,
            object: name(&ws[than + 1..])?,
            negated,
        });
    }
    // `X lost to Y`: the converse of `Y beat X`, kept as written here.
    if let Some(i) = ws.windows(2).position(|w| w == ["lost", "to"]) {
        return Some(Rel {
            subject: name(&ws[..i])?,
            relation: "lost to".into(),
            link: String::new(),
            object: name(&ws[i + 2..])?,
            negated: false,
        });
    }
    // Passive: `Y was VERB by X` is `X VERB Y`.
    if let Some(by) = ws.iter().position(|w| *w == "by") {
        if by >= 3 && matches!(ws[by - 2], "was" | "were") && ASYMMETRIC.contains(&ws[by - 1]) {
            return Some(Rel {
                subject: name(&ws[by + 1..])?,
                relation: verb_base(ws[by - 1]).to_owned(),
                link: String::new(),
                object: name(&ws[..by - 2])?,
                negated: false,
            });
        }
    }
    let verbs: Vec<usize> = (0..ws.len())
        .filter(|&i| ASYMMETRIC.contains(&ws[i]) && ws[i] != "than")
        .collect();
    let [v] = verbs.as_slice() else {
        return None;
    };
    Some(Rel {
        subject: name(&ws[..*v])?,
        relation: verb_base(ws[*v]).to_owned(),
        link: String::new(),
        object: name(&ws[v + 1..])?,
        negated: false,
    })
}

fn converse(a: &str, b: &str) -> bool {
    CONVERSES
        .iter()
        .chain(VERB_CONVERSES)
        .any(|(x, y)| (*x == a && *y == b) || (*x == b && *y == a))
        || match (a.split_once(' '), b.split_once(' ')) {
            // `more users` / `fewer users`.
            (Some((p, n)), Some((q, m))) if n == m => converse(p, q),
            _ => false,
        }
}

/// Two names changed places around an asymmetric relation, everything else the same.
fn swapped(a: &[Tok], b: &[Tok]) -> bool {
    if a.len() != b.len() || a == b {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let s = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    if p + s >= a.len() {
        return false;
    }
    let (am, bm) = (&a[p..a.len() - s], &b[p..b.len() - s]);
    let n = am.len();
    let content = |r: &[Tok]| {
        r.iter().all(|t| matches!(t, Tok::Word(_)))
            && r.iter()
                .any(|t| t.word().is_some_and(|w| !matches!(w, "the" | "a" | "an")))
    };
    for lp in 1..=3 {
        for lm in 1..=3 {
            if n < lp + lm + 1 {
                continue;
            }
            let (pp, y, mm) = (&am[..lp], &am[lp..n - lm], &am[n - lm..]);
            if pp == mm || !content(pp) || !content(mm) {
                continue;
            }
            let relation = y
                .iter()
                .any(|t| t.word().is_some_and(|w| ASYMMETRIC.contains(&w)));
            let expect: Vec<&Tok> = mm.iter().chain(y).chain(pp).collect();
            if relation && bm.iter().collect::<Vec<_>>() == expect {
                return true;
            }
        }
    }
    false
}

/// The verdict on two residues (labels as words), if role or comparative reading
/// decides; `values_same` says whether the values in them matched.
pub(crate) fn compare(
    a: &[Tok],
    b: &[Tok],
    values_same: bool,
) -> Option<(EquivalenceOutcome, String)> {
    if swapped(a, b) {
        return Some((
            EquivalenceOutcome::NotEquivalent,
            "two names changed places around a relation that is not symmetric".into(),
        ));
    }
    let words = |t: &[Tok]| -> Option<Vec<String>> {
        t.iter().map(|x| x.word().map(str::to_owned)).collect()
    };
    let (wa, wb) = (words(a)?, words(b)?);
    let ra = parse(&wa.iter().map(String::as_str).collect::<Vec<_>>())?;
    let rb = parse(&wb.iter().map(String::as_str).collect::<Vec<_>>())?;
    if ra.negated != rb.negated || ra.link != rb.link || ra.subject == ra.object {
        return None;
    }
    let same_way = ra.subject == rb.subject && ra.object == rb.object;
    let other_way = ra.subject == rb.object && ra.object == rb.subject;
    let same_rel = ra.relation == rb.relation;
    let conv = converse(&ra.relation, &rb.relation);
    match (same_rel, conv, same_way, other_way) {
        (true, _, true, _) | (_, true, _, true) if values_same => Some((
            EquivalenceOutcome::Equivalent,
            format!(
                "the same relation between the same two ({} {} {})",
                ra.subject.join(" "),
                ra.relation,
                ra.object.join(" ")
            ),
        )),
        (true, _, _, true) | (_, true, true, _) => Some((
            EquivalenceOutcome::NotEquivalent,
            format!(
                "{} {} {} is the other way round",
                ra.subject.join(" "),
                ra.relation,
                ra.object.join(" ")
            ),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        crate::text::words(s).into_iter().map(Tok::Word).collect()
    }

    fn c(a: &str, b: &str) -> Option<EquivalenceOutcome> {
        compare(&toks(a), &toks(b), true).map(|x| x.0)
    }

    #[test]
    fn role_swaps_and_converses() {
        use EquivalenceOutcome::*;
        assert_eq!(
            c("Spain beat Italy", "Italy beat Spain"),
            Some(NotEquivalent)
        );
        assert_eq!(
            c("Spain defeated Italy", "Spain beat Italy"),
            Some(Equivalent)
        );
        assert_eq!(
            c(
                "Maria sent the email to John",
                "John sent the email to Maria"
            ),
            Some(NotEquivalent)
        );
        assert_eq!(
            c(
                "The Lakers beat the Celtics",
                "The Celtics lost to the Lakers"
            ),
            Some(Equivalent)
        );
        assert_eq!(
            c("Oprah interviewed Obama", "Obama was interviewed by Oprah"),
            Some(Equivalent)
        );
        assert_eq!(
            c(
                "Obama was interviewed by Oprah",
                "Oprah was interviewed by Obama"
            ),
            Some(NotEquivalent)
        );
        assert_eq!(
            c("Spain played Italy", "Italy played Spain"),
            None,
            "symmetric"
        );
        assert_eq!(c("Alice met Bob", "Bob met Alice"), None);
        assert_eq!(c("Alice and Bob", "Bob and Alice"), None);
        assert_eq!(
            c("Real Madrid beat Barcelona", "Madrid beat Barcelona"),
            None
        );
    }

    #[test]
    fn comparatives() {
        use EquivalenceOutcome::*;
        let x = "Jupiter is larger than Saturn";
        assert_eq!(c(x, "Saturn is smaller than Jupiter"), Some(Equivalent));
        assert_eq!(c(x, "Jupiter is smaller than Saturn"), Some(NotEquivalent));
        assert_eq!(c(x, "Saturn is larger than Jupiter"), Some(NotEquivalent));
        assert_eq!(c(x, "Saturn is not smaller than Jupiter"), None);
        assert_eq!(
            c("X has more users than Y", "Y has fewer users than X"),
            Some(Equivalent)
        );
        assert_eq!(
            c(
                "Plan A is cheaper than plan B",
                "Plan B is more expensive than plan A"
            ),
            Some(Equivalent)
        );
        assert_eq!(c(x, "Jupiter was larger than Saturn"), None);
        assert_eq!(c(x, "Jupiter is hotter than Saturn"), None);
    }
}
