//! Code compared by tokens, not by whitespace-normalised text.
//!
//! Whitespace is syntax in some languages and not in others, and it is always part of a
//! string literal. So each answer is unwrapped (one fenced block or one inline code span)
//! and read into tokens in one of four modes:
//!
//! - **SQL** (both answers are SQL statements, or fenced as `sql`): whitespace and line
//!   breaks outside string literals do not count, keywords and built-in functions are
//!   case-insensitive, a final `;` is optional; identifiers keep their case;
//! - **indented** (Python or YAML: fenced so, or a line ending in `:` followed by a more
//!   indented one): each line's indentation becomes indent/dedent tokens by nesting (two
//!   spaces or four, the same structure), line breaks count; YAML also keeps whether a
//!   space stood between two tokens (`key: v` is not `key:v`);
//! - **shell** (fenced as a shell, a prompt about a command, or flags like ` -a`):
//!   words split at whitespace, quoted parts exact;
//! - **plain** otherwise: line breaks and indentation structure count (it is syntax in
//!   languages not recognised here), spaces between tokens do not.
//!
//! String literals are kept exactly. Two answers are *equivalent* when their tokens are
//! the same; *not equivalent* when the tokens are the same except for literals whose
//! values differ (`'a  b'` / `'a b'`, `7` / `17`), or for one operator or keyword swapped
//! for its opposite (`>` / `>=`, `ASC` / `DESC`, `AND` / `OR`); anything else is
//! undecided (`vec![]` and `Vec::new()` may well be the same).

use std::sync::LazyLock;

use regex::Regex;

use crate::{EquivalenceOutcome, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sql,
    Python,
    Yaml,
    Shell,
    Plain,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CTok {
    /// A string literal: its quote and its body, exactly.
    Str(char, String),
    /// A number literal as written.
    Num(String),
    /// An identifier or keyword (SQL keywords upper-cased).
    Ident(String),
    /// An operator or punctuation.
    Op(String),
    /// A shell word.
    Word(String),
    Newline,
    Indent,
    Dedent,
    /// An indentation that does not match any open level: kept as written.
    BadIndent(String),
    /// Whitespace between two tokens (YAML only).
    Space,
}

/// Unwraps one fenced block or one inline code span; returns the language tag, if any,
/// and the code.
fn unwrap(s: &str) -> (Option<String>, &str) {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix("```") {
        if let Some(body) = rest.strip_suffix("```") {
            if !body.contains("```") {
                let (lang, code) = body.split_once('\n').unwrap_or(("", body));
                let lang = lang.trim().to_lowercase();
                return (
                    (!lang.is_empty()).then_some(lang),
                    code.trim_end_matches('\n'),
                );
            }
        }
    }
    if t.len() >= 2 && t.starts_with('`') && t.ends_with('`') && !t[1..t.len() - 1].contains('`') {
        return (None, &t[1..t.len() - 1]);
    }
    (None, s.trim_matches('\n').trim_end())
}

static SQL_START: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?is)^\s*(?:SELECT\b.*\bFROM\b|SELECT\s|WITH\s+\w+\s+AS\s*\(|INSERT\s+INTO\b|UPDATE\s+\S+\s+SET\b|DELETE\s+FROM\b|CREATE\s+(?:TABLE|INDEX|VIEW)\b|ALTER\s+TABLE\b|DROP\s+(?:TABLE|INDEX|VIEW)\b)",
    )
    .ok()
});

/// Whether `s` (unwrapped) is one SQL statement.
pub(crate) fn is_sql(s: &str) -> bool {
    let (lang, code) = unwrap(s);
    lang.as_deref() == Some("sql") || SQL_START.as_ref().is_some_and(|re| re.is_match(code))
}

const SQL_KEYWORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "ORDER",
    "BY",
    "GROUP",
    "HAVING",
    "LIMIT",
    "OFFSET",
    "JOIN",
    "LEFT",
    "RIGHT",
    "INNER",
    "OUTER",
    "FULL",
    "CROSS",
    "ON",
    "AS",
    "DESC",
    "ASC",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "CREATE",
    "TABLE",
    "DROP",
    "ALTER",
    "ADD",
    "DISTINCT",
    "COUNT",
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "NULL",
    "IS",
    "IN",
    "LIKE",
    "ILIKE",
    "BETWEEN",
    "EXISTS",
    "UNION",
    "ALL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "WITH",
    "TRUE",
    "FALSE",
    "NOW",
    "COALESCE",
    "PRIMARY",
    "KEY",
    "DEFAULT",
    "INDEX",
    "LOWER",
    "UPPER",
    "CAST",
    "RETURNING",
    "USING",
    "VIEW",
    "ANY",
    "SOME",
    "OVER",
    "PARTITION",
    "ROUND",
    "LENGTH",
    "NULLS",
    "FIRST",
    "LAST",
    "INTERVAL",
    "CURRENT_DATE",
    "CURRENT_TIMESTAMP",
    "EXCEPT",
    "INTERSECT",
    "IF",
    "REFERENCES",
    "FOREIGN",
    "UNIQUE",
    "CONSTRAINT",
    "INTEGER",
    "INT",
    "TEXT",
    "VARCHAR",
    "BOOLEAN",
    "DATE",
    "TIMESTAMP",
];

const SHELL_COMMANDS: &[&str] = &[
    "ls",
    "cd",
    "git",
    "grep",
    "cat",
    "echo",
    "rm",
    "cp",
    "mv",
    "mkdir",
    "chmod",
    "chown",
    "curl",
    "wget",
    "docker",
    "kubectl",
    "npm",
    "npx",
    "pip",
    "cargo",
    "sudo",
    "find",
    "tar",
    "ssh",
    "scp",
    "export",
    "apt",
    "apt-get",
    "brew",
    "yarn",
    "make",
    "touch",
    "head",
    "tail",
    "sed",
    "awk",
    "ps",
    "kill",
    "systemctl",
    "python",
    "python3",
    "node",
    "go",
    "du",
    "df",
];

const PYTHON_STARTS: &[&str] = &[
    "def", "class", "if", "elif", "else", "for", "while", "with", "try", "except", "return",
    "import", "from", "print", "async", "await", "lambda", "raise", "finally",
];

static FLAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)--?[A-Za-z][A-Za-z0-9-]*(?:\s|$|=)").ok());

/// Whether an answer holds code that nests by indentation (Python, YAML) or SQL.
pub(crate) fn looks_structured(text: &str) -> bool {
    let (lang, code) = unwrap(text);
    let nests = nests_by_indentation(code)
        && !code.lines().skip(1).any(|l| {
            let t = l.trim_start();
            t.starts_with("- ") && !t.contains(':')
                || t.starts_with("* ")
                || t.split_once(". ")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        });
    lang.is_some() || nests || is_sql(text)
}

/// Whether a line ending in `:` is followed by a more indented line.
fn nests_by_indentation(code: &str) -> bool {
    let lines: Vec<&str> = code.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.windows(2).any(|w| {
        let ind = |l: &str| l.len() - l.trim_start().len();
        w[0].trim_end().ends_with(':') && ind(w[1]) > ind(w[0])
    })
}

fn mode_of(prompt: &str, lang: Option<&str>, code: &str) -> Mode {
    let first = code.split_whitespace().next().unwrap_or("");
    let first_word = first.trim_end_matches(':').to_lowercase();
    match lang {
        Some("sql") => return Mode::Sql,
        Some("python" | "py" | "python3") => return Mode::Python,
        Some("yaml" | "yml") => return Mode::Yaml,
        Some("sh" | "bash" | "shell" | "console" | "zsh" | "powershell") => return Mode::Shell,
        _ => {}
    }
    if SQL_START.as_ref().is_some_and(|re| re.is_match(code)) {
        return Mode::Sql;
    }
    let p = prompt.to_lowercase();
    let shell_prompt = ["shell", "command", "terminal", "bash", "cli "]
        .iter()
        .any(|w| p.contains(w));
    if shell_prompt
        || SHELL_COMMANDS.contains(&first)
        || !code.contains('\n') && FLAG.as_ref().is_some_and(|re| re.is_match(code))
    {
        return Mode::Shell;
    }
    let python_line = code.lines().any(|l| {
        let w = l.trim_start().split([' ', '(', ':']).next().unwrap_or("");
        PYTHON_STARTS.contains(&w)
    });
    if nests_by_indentation(code) || p.contains("yaml") || p.contains("python") {
        if python_line && !p.contains("yaml") || p.contains("python") {
            return Mode::Python;
        }
        return Mode::Yaml;
    }
    let _ = first_word;
    Mode::Plain
}

const OPS: &[&str] = &[
    "===", "!==", "**=", "//=", "<<=", ">>=", "...", "==", "!=", "<=", ">=", "->", "=>", "::",
    "&&", "||", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<>", "?.", "??", ":=", "++", "--",
    "**", "//", "<<", ">>", "..",
];

/// Reads one line's tokens (not its indentation) into `out`.
fn line_tokens(line: &str, mode: Mode, out: &mut Vec<CTok>) {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let mut i = 0;
    let mut spaced = false;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c.is_whitespace() {
            spaced = true;
            i += 1;
            continue;
        }
        if mode == Mode::Yaml && spaced && !out.is_empty() {
            out.push(CTok::Space);
        }
        spaced = false;
        if c == '"' || c == '\'' || c == '`' && mode != Mode::Shell {
            // A literal to its closing quote on the same line; none: a lone symbol.
            let mut j = i + 1;
            let mut body = String::new();
            let mut closed = false;
            while j < chars.len() {
                let d = chars[j].1;
                if d == '\\' && j + 1 < chars.len() {
                    body.push(d);
                    body.push(chars[j + 1].1);
                    j += 2;
                    continue;
                }
                if d == c {
                    closed = true;
                    break;
                }
                body.push(d);
                j += 1;
            }
            if closed {
                out.push(CTok::Str(c, body));
                i = j + 1;
                continue;
            }
            out.push(CTok::Op(c.to_string()));
            i += 1;
            continue;
        }
        if mode == Mode::Shell {
            // A word runs to the next whitespace; quoted parts keep their spaces.
            let mut w = String::new();
            let mut quote = None;
            while i < chars.len() {
                let d = chars[i].1;
                match quote {
                    Some(q) if d == q => quote = None,
                    Some(_) => {}
                    None if d == '"' || d == '\'' => quote = Some(d),
                    None if d.is_whitespace() => break,
                    None => {}
                }
                w.push(d);
                i += 1;
            }
            out.push(CTok::Word(w));
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len()
                && (chars[j].1.is_alphanumeric() || matches!(chars[j].1, '.' | '_'))
            {
                // `1..5`: a range, not a decimal point.
                if chars[j].1 == '.' && chars.get(j + 1).is_some_and(|n| n.1 == '.') {
                    break;
                }
                j += 1;
            }
            let end = chars.get(j).map_or(line.len(), |x| x.0);
            out.push(CTok::Num(line[at..end].to_owned()));
            i = j;
            continue;
        }
        if c.is_alphabetic() || c == '_' || c == '$' {
            let mut j = i;
            while j < chars.len()
                && (chars[j].1.is_alphanumeric() || matches!(chars[j].1, '_' | '$'))
            {
                j += 1;
            }
            let end = chars.get(j).map_or(line.len(), |x| x.0);
            let w = &line[at..end];
            let upper = w.to_uppercase();
            out.push(CTok::Ident(
                if mode == Mode::Sql && SQL_KEYWORDS.contains(&upper.as_str()) {
                    upper
                } else {
                    w.to_owned()
                },
            ));
            i = j;
            continue;
        }
        let rest = &line[at..];
        let op = OPS
            .iter()
            .find(|o| rest.starts_with(**o))
            .map_or_else(|| c.to_string(), |o| (*o).to_owned());
        i += op.chars().count();
        out.push(CTok::Op(op));
    }
}

fn tokens(code: &str, mode: Mode) -> Vec<CTok> {
    let mut out = Vec::new();
    let mut levels: Vec<String> = vec![String::new()];
    for line in code.lines() {
        if line.trim().is_empty() {
            continue;
        }
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        match mode {
            // Indentation is kept as structure everywhere but SQL: in Python and YAML it
            // is syntax, and in a language we did not recognise (Haskell, F#, a Makefile)
            // it may be.
            Mode::Python | Mode::Yaml | Mode::Plain | Mode::Shell => {
                let top = levels.last().cloned().unwrap_or_default();
                if indent == top {
                } else if indent.starts_with(top.as_str()) {
                    levels.push(indent.to_owned());
                    out.push(CTok::Indent);
                } else if let Some(k) = levels.iter().position(|l| l == indent) {
                    for _ in k + 1..levels.len() {
                        out.push(CTok::Dedent);
                    }
                    levels.truncate(k + 1);
                } else {
                    out.push(CTok::BadIndent(indent.to_owned()));
                }
            }
            Mode::Sql => {}
        }
        line_tokens(body, mode, &mut out);
        if mode != Mode::Sql {
            out.push(CTok::Newline);
        }
    }
    if mode == Mode::Sql && out.last() == Some(&CTok::Op(";".into())) {
        out.pop();
    }
    out
}

/// Opposites: one swapped for the other changes what the code does.
const OPPOSITES: &[&[&str]] = &[
    &["<", ">", "<=", ">=", "==", "!=", "<>", "===", "!=="],
    &["&&", "||"],
    &["AND", "OR"],
    &["ASC", "DESC"],
    &["MIN", "MAX"],
    &["true", "false"],
    &["True", "False"],
    &["TRUE", "FALSE"],
    &["+", "-"],
    &["*", "/"],
];

fn text_of(t: &CTok) -> Option<&str> {
    match t {
        CTok::Op(s) | CTok::Ident(s) => Some(s),
        _ => None,
    }
}

/// Compares two answers that hold code.
pub(crate) fn compare(prompt: &str, reference: &str, candidate: &str) -> Verdict {
    let (la, ca) = unwrap(reference);
    let (lb, cb) = unwrap(candidate);
    let (ma, mb) = (
        mode_of(prompt, la.as_deref(), ca),
        mode_of(prompt, lb.as_deref(), cb),
    );
    // Both answers are read the same way; where they disagree, the stricter mode.
    let mode = if ma == mb {
        ma
    } else if [ma, mb].contains(&Mode::Yaml) {
        Mode::Yaml
    } else if [ma, mb].contains(&Mode::Python) {
        Mode::Python
    } else if [ma, mb].contains(&Mode::Shell) {
        Mode::Shell
    } else {
        Mode::Plain
    };
    let (ta, tb) = (tokens(ca, mode), tokens(cb, mode));
    if ta.is_empty() || tb.is_empty() {
        return Verdict::undecided("code", "an empty answer");
    }
    if ta == tb {
        return Verdict::new(
            EquivalenceOutcome::Equivalent,
            "code",
            format!("the same code, token by token ({mode:?})"),
        );
    }
    if ta.len() == tb.len() {
        let diffs: Vec<(&CTok, &CTok)> = ta.iter().zip(&tb).filter(|(x, y)| x != y).collect();
        let literal_change = diffs.iter().all(|(x, y)| match (x, y) {
            (CTok::Str(q, a), CTok::Str(r, b)) => q == r && a != b,
            (CTok::Num(a), CTok::Num(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(p), Ok(q)) => p != q,
                _ => false,
            },
            _ => false,
        });
        if literal_change {
            return Verdict::new(
                EquivalenceOutcome::NotEquivalent,
                "code",
                "the same code with a different literal value",
            );
        }
        if let [(x, y)] = diffs.as_slice() {
            if let (Some(a), Some(b)) = (text_of(x), text_of(y)) {
                if OPPOSITES.iter().any(|g| g.contains(&a) && g.contains(&b)) {
                    return Verdict::new(
                        EquivalenceOutcome::NotEquivalent,
                        "code",
                        format!("the same code with `{a}` in place of `{b}`"),
                    );
                }
            }
        }
    }
    Verdict::undecided(
        "code",
        "the code differs; only the same tokens are vouched for",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(p: &str, a: &str, b: &str) -> EquivalenceOutcome {
        compare(p, a, b).outcome
    }

    #[test]
    fn indentation_is_structure_in_python_and_yaml() {
        let p = "Write it in Python.";
        assert_eq!(
            c(p, "def f(x):\n    return x", "def f(x):\n  return x"),
            EquivalenceOutcome::Equivalent
        );
        assert_ne!(
            c(
                p,
                "for i in a:\n    f(i)\ng()",
                "for i in a:\n    f(i)\n    g()"
            ),
            EquivalenceOutcome::Equivalent
        );
        assert_eq!(
            c("YAML", "a:\n  b: 1\n  c: 2", "a:\n    b: 1\n    c: 2"),
            EquivalenceOutcome::Equivalent
        );
        assert_ne!(
            c("YAML", "a:\n  b: 1\n  c: 2", "a:\n  b: 1\nc: 2"),
            EquivalenceOutcome::Equivalent
        );
        assert_ne!(
            c("YAML", "a:\n  b: 1", "a:\n  b:1"),
            EquivalenceOutcome::Equivalent
        );
    }

    #[test]
    fn literals_are_exact_and_spaces_between_tokens_are_not() {
        assert_eq!(
            c("x", "print('a  b')", "print('a b')"),
            EquivalenceOutcome::NotEquivalent
        );
        assert_eq!(
            c("x", "print('hi')", "print( 'hi' )"),
            EquivalenceOutcome::Equivalent
        );
        assert_eq!(
            c("x", "const x = 1;", "const x=1;"),
            EquivalenceOutcome::Equivalent
        );
        assert_eq!(c("x", "a - -b;", "a --b;"), EquivalenceOutcome::Undecided);
        assert_eq!(
            c("x", "f(1, 2);", "f(1, 3);"),
            EquivalenceOutcome::NotEquivalent
        );
        assert_eq!(c("x", "f(1);", "f(1.0);"), EquivalenceOutcome::Undecided);
        assert_eq!(
            c("x", "if a > b {}", "if a >= b {}"),
            EquivalenceOutcome::NotEquivalent
        );
        assert_eq!(
            c("x", "`Vec::new()`", "`vec![]`"),
            EquivalenceOutcome::Undecided
        );
        assert_eq!(
            c("shell command", "ls -a", "`ls -a`"),
            EquivalenceOutcome::Equivalent
        );
        assert_eq!(
            c("shell command", "ls -a", "ls - a"),
            EquivalenceOutcome::Undecided
        );
        assert_eq!(
            c("shell command", "echo 'a  b'", "echo 'a b'"),
            EquivalenceOutcome::NotEquivalent
        );
    }

    #[test]
    fn sql_by_normalised_tokens() {
        let p = "Write the query.";
        assert_eq!(
            c(
                p,
                "SELECT COUNT(*) FROM users;",
                "select count(*)\nfrom users"
            ),
            EquivalenceOutcome::Equivalent
        );
        assert_eq!(
            c(
                p,
                "SELECT * FROM t WHERE city = 'New York'",
                "SELECT * FROM t WHERE city = 'new york'"
            ),
            EquivalenceOutcome::NotEquivalent
        );
        assert_eq!(
            c(
                p,
                "SELECT a FROM t ORDER BY a DESC",
                "SELECT a FROM t ORDER BY a ASC"
            ),
            EquivalenceOutcome::NotEquivalent
        );
        assert_eq!(
            c(p, "SELECT name FROM Users", "SELECT name FROM users"),
            EquivalenceOutcome::Undecided,
            "identifiers keep their case"
        );
        assert_eq!(
            c(
                p,
                "SELECT id FROM t WHERE a = 1 AND b = 2",
                "SELECT id FROM t WHERE b = 2 AND a = 1"
            ),
            EquivalenceOutcome::Undecided
        );
    }
}
