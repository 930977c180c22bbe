//! Metamorphic tests of the strict checker by class of answer: for each class the issue
//! names (identifiers and versions, code where whitespace is syntax, prompt words that
//! name the alternatives, temperature differences, ordered sequences, role swaps,
//! comparatives, SQL), generators build many answers from small vocabularies and apply
//! edits that change the meaning (never *equivalent*) or keep it (never *not
//! equivalent*). Nothing here comes from a dataset: the vocabularies are generic and the
//! cases are their cross products.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nb_semantic::{EquivalenceOutcome, Strict};

#[derive(Default)]
struct Tally {
    changed: usize,
    preserved: usize,
    decided_changed: usize,
    wrong: Vec<String>,
}

impl Tally {
    /// A meaning-changing edit: never equivalent, both ways round.
    fn changed(&mut self, class: &str, prompt: &str, a: &str, b: &str) {
        for (x, y) in [(a, b), (b, a)] {
            let v = Strict.compare(prompt, x, y);
            self.changed += 1;
            if v.outcome == EquivalenceOutcome::NotEquivalent {
                self.decided_changed += 1;
            }
            if v.outcome == EquivalenceOutcome::Equivalent {
                self.wrong.push(format!(
                    "[{class}] changed, judged equivalent: {prompt:?} {x:?} vs {y:?}: {}",
                    v.reason
                ));
            }
        }
    }

    /// A meaning-preserving edit: never not equivalent, both ways round.
    fn preserved(&mut self, class: &str, prompt: &str, a: &str, b: &str) {
        for (x, y) in [(a, b), (b, a)] {
            let v = Strict.compare(prompt, x, y);
            self.preserved += 1;
            if v.outcome == EquivalenceOutcome::NotEquivalent {
                self.wrong.push(format!(
                    "[{class}] preserved, judged not equivalent: {prompt:?} {x:?} vs {y:?}: {}",
                    v.reason
                ));
            }
        }
    }

    fn check(self, name: &str, min_changed: usize, min_preserved: usize, min_decided: f64) {
        println!(
            "{name}: {} meaning-changed ({} decided not equivalent), {} meaning-preserved",
            self.changed, self.decided_changed, self.preserved
        );
        assert!(
            self.wrong.is_empty(),
            "{} wrong:\n{}",
            self.wrong.len(),
            self.wrong[..self.wrong.len().min(20)].join("\n")
        );
        assert!(
            self.changed >= min_changed,
            "{name}: {} changed",
            self.changed
        );
        assert!(
            self.preserved >= min_preserved,
            "{name}: {} preserved",
            self.preserved
        );
        let decided = self.decided_changed as f64 / self.changed.max(1) as f64;
        assert!(
            decided >= min_decided,
            "{name}: only {decided:.2} of meaning-changed cases decided"
        );
    }
}

/// A deterministic stream of digits.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn digits(&mut self, n: usize) -> String {
        let mut s = String::new();
        s.push(char::from(b'1' + (self.next() % 9) as u8));
        while s.len() < n {
            s.push(char::from(b'0' + (self.next() % 10) as u8));
        }
        s
    }
}

#[test]
fn identifiers_versions_and_leading_zeros() {
    let mut t = Tally::default();
    let mut r = Lcg(7);
    let id_prompts = [
        "What is the order ID?",
        "What is the account number?",
        "Which tracking number was issued?",
        "What is the customer's reference number?",
    ];
    for p in id_prompts {
        for len in 16..=26 {
            let id = r.digits(len);
            let last = id.as_bytes()[len - 1] - b'0';
            let other = format!("{}{}", &id[..len - 1], (last + 1) % 10);
            t.changed("id", p, &id, &other);
            t.changed(
                "id",
                p,
                &format!("The ID is {id}."),
                &format!("The ID is {other}."),
            );
            t.preserved("id", p, &id, &format!("**Answer:** {id}"));
            // Leading zeros are part of an identifier.
            let short = r.digits(4);
            t.changed("id", p, &format!("00{short}"), &short);
        }
    }
    for (p, word) in [
        ("Which version fixed the bug?", "Version"),
        ("Which release added it?", "Release"),
        ("Which section covers it?", "Section"),
        ("Which clause applies?", "Clause"),
    ] {
        for major in 1..=9 {
            for minor in 1..=9 {
                let a = format!("{major}.{minor}0");
                let b = format!("{major}.{minor}");
                t.changed("version", p, &a, &b);
                t.changed("version", p, &format!("{word} {a}"), &format!("{word} {b}"));
                t.changed(
                    "version",
                    p,
                    &format!("{major}.0.{minor}"),
                    &format!("{major}.0.{minor}0"),
                );
                t.preserved("version", p, &a, &format!("{word} {a}"));
                t.preserved(
                    "version",
                    p,
                    &format!("{major}.0.{minor}"),
                    &format!("{word} {major}.0.{minor}"),
                );
            }
        }
    }
    // Amounts with units still compare by value.
    for (p, unit) in [
        ("How much does it cost?", "USD"),
        ("How heavy is it?", "kg"),
        ("How long is it?", "m"),
    ] {
        for whole in 1..=12 {
            for tenth in 1..=9 {
                t.preserved(
                    "amount",
                    p,
                    &format!("{whole}.{tenth}0 {unit}"),
                    &format!("{whole}.{tenth} {unit}"),
                );
                t.changed(
                    "amount",
                    p,
                    &format!("{whole}.{tenth}0 {unit}"),
                    &format!("{whole}.0{tenth} {unit}"),
                );
            }
        }
    }
    t.check("identifiers", 2000, 1000, 0.9);
}

fn python_functions() -> Vec<(String, Vec<String>)> {
    // (name, body lines at one level of nesting under an `if`)
    let names = ["f", "total", "check", "parse", "run", "area"];
    let bodies = [
        vec!["x = a + 1", "return x"],
        vec!["print('done')", "return 0"],
        vec!["n += 1", "log(n)"],
        vec!["items.append(v)", "return items"],
    ];
    let mut out = Vec::new();
    for n in names {
        for b in &bodies {
            out.push((n.to_owned(), b.iter().map(|s| (*s).to_owned()).collect()));
        }
    }
    out
}

fn render(name: &str, body: &[String], ind: &str, last_out: bool) -> String {
    let mut s = format!("def {name}(a):\n{ind}if a:\n");
    for (i, l) in body.iter().enumerate() {
        let depth = if last_out && i + 1 == body.len() {
            1
        } else {
            2
        };
        s.push_str(&ind.repeat(depth));
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&format!("{ind}return None"));
    s
}

#[test]
fn code_where_whitespace_is_syntax() {
    let mut t = Tally::default();
    let p = "Write the Python function.";
    for (name, body) in python_functions() {
        let four = render(&name, &body, "    ", false);
        for ind in ["  ", "   ", "\t"] {
            t.preserved("python", p, &four, &render(&name, &body, ind, false));
        }
        t.preserved("python", p, &four, &format!("```python\n{four}\n```"));
        t.changed("python", p, &four, &render(&name, &body, "    ", true));
        t.changed("python", p, &four, &render(&name, &body, "  ", true));
        // Whitespace inside a string literal.
        let spaced = four
            .replace("'done'", "'done '")
            .replace("log(n)", "log('n  ')");
        if spaced != four {
            t.changed("python", p, &four, &spaced);
        }
    }
    // YAML: a key moved out of its block changes the document; uniform re-indenting
    // does not.
    let keys = ["host", "port", "user", "timeout", "path", "mode"];
    for (i, a) in keys.iter().enumerate() {
        for b in keys.iter().skip(i + 1) {
            for top in ["server", "db", "cache"] {
                let y2 = format!("{top}:\n  {a}: one\n  {b}: two");
                let y4 = format!("{top}:\n    {a}: one\n    {b}: two");
                let out = format!("{top}:\n  {a}: one\n{b}: two");
                let glued = format!("{top}:\n  {a}: one\n  {b}:two");
                let p = "Give the YAML.";
                t.preserved("yaml", p, &y2, &y4);
                t.changed("yaml", p, &y2, &out);
                t.changed("yaml", p, &y2, &glued);
                t.changed("yaml", p, &y2, &y2.replace("one", "one two"));
            }
        }
    }
    // C-like code: spaces between tokens do not count; literals and operators do.
    for var in ["x", "count", "limit", "total"] {
        for n in 1..=12 {
            let p = "Write the statement.";
            let a = format!("let {var} = f(\"a b\", {n});");
            t.preserved("plain", p, &a, &format!("let {var}=f(\"a b\",{n});"));
            t.preserved("plain", p, &a, &format!("`{a}`"));
            t.changed("plain", p, &a, &format!("let {var} = f(\"a  b\", {n});"));
            t.changed(
                "plain",
                p,
                &a,
                &format!("let {var} = f(\"a b\", {});", n + 1),
            );
            t.changed(
                "plain",
                p,
                &format!("if {var} > {n} {{ g(); }}"),
                &format!("if {var} >= {n} {{ g(); }}"),
            );
        }
    }
    t.check("code", 600, 400, 0.4);
}

#[test]
fn sql_by_normalised_tokens() {
    let mut t = Tally::default();
    let p = "Write the SQL query.";
    let tables = ["users", "orders", "events", "accounts"];
    let cols = ["name", "city", "status", "email"];
    for table in tables {
        for col in cols {
            for (value, n) in [("New York", 7), ("active", 30), ("a b", 100)] {
                let q = format!(
                    "SELECT {col} FROM {table} WHERE {col} = '{value}' AND id > {n} ORDER BY id DESC LIMIT 10;"
                );
                let lower = format!(
                    "select {col} from {table} where {col} = '{value}' and id > {n} order by id desc limit 10"
                );
                let lines = format!(
                    "SELECT {col}\nFROM {table}\nWHERE {col} = '{value}'\n  AND id > {n}\nORDER BY id DESC\nLIMIT 10;"
                );
                t.preserved("sql", p, &q, &lower);
                t.preserved("sql", p, &q, &lines);
                t.preserved("sql", p, &q, &format!("```sql\n{lines}\n```"));
                t.changed("sql", p, &q, &q.replace(value, &value.to_uppercase()));
                t.changed("sql", p, &q, &q.replace(value, &format!(" {value}")));
                t.changed("sql", p, &q, &q.replace("DESC", "ASC"));
                t.changed("sql", p, &q, &q.replace("id >", "id >="));
                t.changed("sql", p, &q, &q.replace(" AND ", " OR "));
                t.changed(
                    "sql",
                    p,
                    &q,
                    &q.replace(&format!("> {n}"), &format!("> {}", n + 1)),
                );
            }
        }
    }
    t.check("sql", 500, 200, 0.95);
}

#[test]
fn prompt_words_that_name_the_alternatives() {
    let mut t = Tally::default();
    let pairs = [
        ("a loss", "income", "reported"),
        ("a profit", "a loss", "made"),
        ("passed", "failed", "the build"),
        ("approved", "rejected", "the request"),
        ("accepted", "declined", "the offer"),
        ("delivered", "returned", "the parcel"),
        ("won", "lost", "the team"),
        ("increased", "decreased", "revenue"),
        ("rose", "fell", "the price"),
        ("improved", "worsened", "the condition"),
    ];
    let parties = [
        ("Labour", "the Conservatives"),
        ("the Democrats", "the Republicans"),
        ("the plaintiff", "the defendant"),
        ("the home team", "the away team"),
        ("the buyer", "the seller"),
    ];
    for (a, b, subject) in pairs {
        let p = format!("Did {subject} end with {a} or {b}?");
        t.changed("alternative", &p, a, b);
        t.changed("alternative", &p, &format!("{a}."), &format!("It was {b}."));
        t.changed(
            "alternative",
            &p,
            &format!("**Answer:** {a}"),
            &format!("**Answer:** {b}"),
        );
        t.preserved("alternative", &p, a, &format!("**Answer:** {a}"));
        t.preserved("alternative", &p, a, &format!("{a}."));
    }
    for (a, b) in parties {
        for q in [
            "Who won, {a} or {b}?",
            "Which side prevailed, {a} or {b}?",
            "Who was at fault, {a} or {b}?",
        ] {
            let p = q.replace("{a}", a).replace("{b}", b);
            t.changed("party", &p, a, b);
            t.changed("party", &p, &format!("{a}."), &format!("{b}."));
            t.preserved("party", &p, a, &format!("The answer is {a}."));
        }
    }
    t.check("alternatives", 100, 50, 0.8);
}

#[test]
fn temperature_differences_convert_by_scale_only() {
    let mut t = Tally::default();
    for d in (5..=60).step_by(5) {
        let f = d * 9 / 5;
        for (p, phrase) in [
            ("How much warmer is it today?", "{} warmer"),
            ("By how much did the temperature rise?", "a rise of {}"),
            (
                "What is the temperature difference between the rooms?",
                "{}",
            ),
            ("How much did it cool down overnight?", "it dropped by {}"),
        ] {
            let c = phrase.replace("{}", &format!("{d} °C"));
            t.preserved("delta", p, &c, &phrase.replace("{}", &format!("{f} °F")));
            t.changed(
                "delta",
                p,
                &c,
                &phrase.replace("{}", &format!("{} °F", f + 32)),
            );
            t.preserved("delta", p, &c, &phrase.replace("{}", &format!("{d} K")));
        }
        // Readings still convert with the offset.
        let p = "What is the temperature?";
        t.preserved("reading", p, &format!("{d} °C"), &format!("{} °F", f + 32));
        t.changed("reading", p, &format!("{d} °C"), &format!("{f} °F"));
    }
    t.check("temperature", 100, 100, 0.9);
}

#[test]
fn sequences_whose_order_the_question_implies() {
    let mut t = Tally::default();
    let items = [
        ["Mercury", "Venus", "Earth", "Mars"],
        ["boil water", "add tea", "steep", "pour"],
        ["gold", "silver", "bronze", "fourth place"],
        ["Alice", "Bob", "Carol", "Dave"],
    ];
    let orders: [[usize; 4]; 5] = [
        [1, 0, 2, 3],
        [0, 2, 1, 3],
        [3, 2, 1, 0],
        [0, 1, 3, 2],
        [2, 0, 3, 1],
    ];
    let sequence_prompts = [
        "Rank them.",
        "Sort them in ascending order.",
        "List the steps in order.",
        "Arrange them from first to last.",
        "Put them in chronological order.",
        "List them from the Sun outward.",
    ];
    for list in &items {
        let comma = list.join(", ");
        let bullets = list
            .iter()
            .map(|i| format!("- {i}"))
            .collect::<Vec<_>>()
            .join("\n");
        for o in orders {
            let other: Vec<&str> = o.iter().map(|&k| list[k]).collect();
            let numbered = other
                .iter()
                .enumerate()
                .map(|(k, i)| format!("{}. {i}", k + 1))
                .collect::<Vec<_>>()
                .join("\n");
            for p in sequence_prompts {
                t.changed("sequence", p, &comma, &other.join(", "));
                t.changed("sequence", p, &bullets, &numbered);
            }
            // Where nothing asks for an order, the same items are the same answer.
            t.preserved("set", "Which ones are there?", &comma, &other.join(", "));
        }
        for p in sequence_prompts {
            t.preserved("sequence", p, &comma, &bullets);
        }
    }
    t.check("order", 400, 50, 0.9);
}

#[test]
fn role_swaps_and_comparatives() {
    let mut t = Tally::default();
    let names = [
        ("Spain", "Italy"),
        ("Alice", "Bob"),
        ("Acme Corp", "Globex"),
        ("the Lakers", "the Celtics"),
        ("Dana", "Lee"),
    ];
    let verbs = [
        "beat",
        "sued",
        "paid",
        "acquired",
        "interviewed",
        "hired",
        "replaced",
        "defeated",
        "overtook",
        "invited",
        "visited",
        "blamed",
    ];
    for (x, y) in names {
        let p = "Who did what to whom?";
        for v in verbs {
            t.changed(
                "swap",
                p,
                &format!("{x} {v} {y}."),
                &format!("{y} {v} {x}."),
            );
            t.changed(
                "swap",
                p,
                &format!("In the end, {x} {v} {y} last year."),
                &format!("In the end, {y} {v} {x} last year."),
            );
            t.preserved(
                "swap",
                p,
                &format!("{x} {v} {y}."),
                &format!("**Answer:** {x} {v} {y}"),
            );
        }
        t.preserved(
            "converse",
            p,
            &format!("{x} beat {y}."),
            &format!("{y} lost to {x}."),
        );
        t.changed(
            "converse",
            p,
            &format!("{x} beat {y}."),
            &format!("{x} lost to {y}."),
        );
        t.preserved(
            "passive",
            p,
            &format!("{x} interviewed {y}."),
            &format!("{y} was interviewed by {x}."),
        );
        t.changed(
            "passive",
            p,
            &format!("{x} interviewed {y}."),
            &format!("{x} was interviewed by {y}."),
        );
        for (more, less) in [
            ("larger", "smaller"),
            ("older", "younger"),
            ("faster", "slower"),
            ("heavier", "lighter"),
            ("cheaper", "more expensive"),
            ("taller", "shorter"),
            ("higher", "lower"),
        ] {
            let q = format!("Which is {more}, {x} or {y}?");
            let a = format!("{x} is {more} than {y}.");
            t.preserved("comparative", &q, &a, &format!("{y} is {less} than {x}."));
            t.changed("comparative", &q, &a, &format!("{x} is {less} than {y}."));
            t.changed("comparative", &q, &a, &format!("{y} is {more} than {x}."));
            // The same without the prompt naming them.
            let q = "How do they compare?";
            t.preserved("comparative", q, &a, &format!("{y} is {less} than {x}."));
            t.changed("comparative", q, &a, &format!("{y} is {more} than {x}."));
        }
    }
    // Symmetric relations are never called a swap.
    for (x, y) in names {
        for v in ["met", "played", "married", "drew with"] {
            let a = format!("{x} {v} {y}.");
            let b = format!("{y} {v} {x}.");
            let o = Strict.compare("What happened?", &a, &b).outcome;
            assert_ne!(o, EquivalenceOutcome::NotEquivalent, "{a} / {b}");
        }
    }
    t.check("relations", 400, 150, 0.9);
}
