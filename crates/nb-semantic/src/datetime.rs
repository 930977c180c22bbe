//! Dates and times, with the time of day and the zone as part of the value.
//!
//! A changed date, time or zone offset is a different value; a time or zone stated on
//! one side only cannot be compared (undecided); `03/04/2024` is ambiguous and never
//! guessed; a named zone whose offset is not fixed (`ET`, `PT`) equals only itself.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::quantity::Cmp;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// A date: known, or ambiguous between two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Day {
    Known(i32, u32, u32),
    Ambiguous,
}

/// A zone: its name as written and its offset from UTC in minutes, when fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Zone {
    name: String,
    offset: Option<i32>,
}

/// A date, a time of day, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DateTime {
    pub(crate) day: Option<Day>,
    /// Hours, minutes, seconds; `half_day` when written without am/pm and ≤ 12.
    time: Option<(u32, u32, u32, bool)>,
    zone: Option<Zone>,
}

fn month(name: &str) -> Option<u32> {
    let l = name.to_lowercase();
    if l.len() < 3 {
        return None;
    }
    let i = MONTHS.iter().position(|m| l.starts_with(m))?;
    // The rest must be the month's own name ("marching" is not March).
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ][i];
    (full.starts_with(&l) || l == "sept")
        .then(|| u32::try_from(i + 1).ok())
        .flatten()
}

fn zone(name: &str) -> Option<Zone> {
    let n = name.trim();
    let upper = n.to_uppercase();
    let fixed = |m: i32| {
        Some(Zone {
            name: upper.clone(),
            offset: Some(m),
        })
    };
    match upper.as_str() {
        "Z" | "UTC" | "GMT" | "UT" => return fixed(0),
        "CET" | "BST" | "WEST" => return fixed(60),
        "CEST" | "EET" => return fixed(120),
        "EEST" | "MSK" => return fixed(180),
        "WET" => return fixed(0),
        "EST" => return fixed(-300),
        "EDT" | "CDT" => return fixed(if upper == "EDT" { -240 } else { -300 }),
        "CST" => return None,
        "MST" => return fixed(-420),
        "MDT" => return fixed(-360),
        "PST" => return fixed(-480),
        "PDT" => return fixed(-420),
        "JST" | "KST" => return fixed(540),
        "SGT" | "HKT" | "AWST" => return fixed(480),
        "AEST" => return fixed(600),
        "AEDT" => return fixed(660),
        "NZST" => return fixed(720),
        "ET" | "PT" | "CT" | "MT" | "IST" => {
            return Some(Zone {
                name: upper,
                offset: None,
            });
        }
        _ => {}
    }
    // UTC+2, GMT-05:30, +02:00, -0500
    static OFFSET: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$").ok());
    let c = OFFSET.as_ref()?.captures(&upper)?;
    let h: i32 = c[2].parse().ok()?;
    let m: i32 = c.get(3).map_or(Some(0), |m| m.as_str().parse().ok())?;
    let sign = if &c[1] == "-" { -1 } else { 1 };
    Some(Zone {
        name: upper.clone(),
        offset: Some(sign * (h * 60 + m)),
    })
}

/// A time of day needs minutes or am/pm: "9:30", "9 pm", "14:05:10".
const TIME: &str = r"(?P<h>\d{1,2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?:\.\d+)?\s*(?P<ap>[aApP]\.?[mM]\.?(?:\W|$))?|\s*(?P<ap2>[aApP]\.?[mM]\.?(?:\W|$)))";
const ZONE: &str = r"(?:\s*(?P<z>Z\b|(?:UTC|GMT)\s*[+-]\d{1,2}(?::?\d{2})?|[+-]\d{2}:?\d{2}\b|UTC\b|GMT\b|UT\b|[A-Z]{2,4}T\b|ET\b|PT\b|CT\b|MT\b|CET\b|CEST\b|EET\b|EEST\b|WET\b|WEST\b|MSK\b|IST\b))?";

static PATTERNS: LazyLock<Vec<(Kind, Regex)>> = LazyLock::new(|| {
    let time = format!(r"(?:(?:,?\s*(?:at\s+)?|T){TIME}{ZONE})?");
    let src = [
        (
            Kind::Iso,
            format!(r"\b(?P<y>\d{{4}})-(?P<m>\d{{1,2}})-(?P<d>\d{{1,2}})(?:\b|T){time}"),
        ),
        (
            Kind::MonthFirst,
            format!(
                r"(?i:\b(?P<mn>[a-z]{{3,9}})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b){time}"
            ),
        ),
        (
            Kind::DayFirst,
            format!(
                r"(?i:\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mn>[a-z]{{3,9}})\.?,?\s+(?P<y>\d{{4}})\b){time}"
            ),
        ),
        (
            Kind::Slash,
            format!(r"\b(?P<a>\d{{1,2}})[/.](?P<b>\d{{1,2}})[/.](?P<y>\d{{4}})\b{time}"),
        ),
        (Kind::Time, format!(r"\b{TIME}{ZONE}")),
    ];
    src.into_iter()
        .filter_map(|(k, s)| Regex::new(&s).ok().map(|r| (k, r)))
        .collect()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Iso,
    MonthFirst,
    DayFirst,
    Slash,
    Time,
}

fn valid(y: i32, m: u32, d: u32) -> bool {
    (1..=12).contains(&m) && (1..=31).contains(&d) && y > 0
}

fn read_time(c: &regex::Captures<'_>) -> Option<(u32, u32, u32, bool)> {
    let h: u32 = c.name("h")?.as_str().parse().ok()?;
    let mi: u32 = c.name("mi").map_or(Some(0), |m| m.as_str().parse().ok())?;
    let s: u32 = c.name("s").map_or(Some(0), |m| m.as_str().parse().ok())?;
    let ap = c
        .name("ap")
        .or_else(|| c.name("ap2"))
        .map(|m| m.as_str().to_lowercase());
    let (h, half) = match ap.as_deref().map(|a| a.starts_with('p')) {
        Some(pm) if (1..=12).contains(&h) => ((h % 12) + if pm { 12 } else { 0 }, false),
        Some(_) => return None,
        None => (h, h <= 12),
    };
    (h < 24 && mi < 60 && s < 61).then_some((h, mi, s, half))
}

/// Every date or time in `s`, with where it stands. Later patterns skip what earlier
/// ones took.
pub(crate) fn find(s: &str) -> Vec<(Range<usize>, DateTime)> {
    let mut out: Vec<(Range<usize>, DateTime)> = Vec::new();
    for (kind, re) in PATTERNS.iter() {
        for c in re.captures_iter(s) {
            let Some(whole) = c.get(0) else { continue };
            let mut span = whole.range();
            // Trailing space or punctuation eaten by `am\W` goes back.
            while span.end > span.start
                && s[..span.end]
                    .chars()
                    .last()
                    .is_some_and(|ch| !ch.is_alphanumeric() && ch != '.')
            {
                span.end -= s[..span.end].chars().last().map_or(1, char::len_utf8);
            }
            if out
                .iter()
                .any(|(r, _)| r.start < span.end && span.start < r.end)
            {
                continue;
            }
            let day = match kind {
                Kind::Iso => {
                    let (y, m, d) = (
                        c["y"].parse().ok(),
                        c["m"].parse().ok(),
                        c["d"].parse().ok(),
                    );
                    match (y, m, d) {
                        (Some(y), Some(m), Some(d)) if valid(y, m, d) => Some(Day::Known(y, m, d)),
                        _ => continue,
                    }
                }
                Kind::MonthFirst | Kind::DayFirst => {
                    match (month(&c["mn"]), c["d"].parse().ok(), c["y"].parse().ok()) {
                        (Some(m), Some(d), Some(y)) if valid(y, m, d) => Some(Day::Known(y, m, d)),
                        _ => continue,
                    }
                }
                Kind::Slash => {
                    let (Ok(a), Ok(b), Ok(y)) = (
                        c["a"].parse::<u32>(),
                        c["b"].parse::<u32>(),
                        c["y"].parse::<i32>(),
                    ) else {
                        continue;
                    };
                    Some(match (a <= 12, b <= 12) {
                        // Both could be the month: only the same digits are safe.
                        (true, true) if a != b => Day::Ambiguous,
                        (true, true) => Day::Known(y, a, b),
                        (true, false) if valid(y, a, b) => Day::Known(y, a, b),
                        (false, true) if valid(y, b, a) => Day::Known(y, b, a),
                        _ => continue,
                    })
                }
                Kind::Time => None,
            };
            let time = if c.name("h").is_some() {
                match read_time(&c) {
                    Some(t) => Some(t),
                    None if day.is_some() => None,
                    None => continue,
                }
            } else {
                None
            };
            let zone = c.name("z").and_then(|z| zone(z.as_str()));
            if c.name("z").is_some() && zone.is_none() {
                // A zone we cannot read: keep the value, but it compares with nothing.
                out.push((
                    span,
                    DateTime {
                        day,
                        time,
                        zone: Some(Zone {
                            name: c["z"].to_uppercase(),
                            offset: None,
                        }),
                    },
                ));
                continue;
            }
            out.push((span, DateTime { day, time, zone }));
        }
    }
    out.sort_by_key(|(r, _)| r.start);
    out
}

impl DateTime {
    pub(crate) fn describe(&self) -> String {
        let mut s = String::new();
        match self.day {
            Some(Day::Known(y, m, d)) => s.push_str(&format!("{y}-{m:02}-{d:02}")),
            Some(Day::Ambiguous) => s.push_str("an ambiguous date"),
            None => {}
        }
        if let Some((h, m, sec, _)) = self.time {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(&format!("{h:02}:{m:02}:{sec:02}"));
        }
        if let Some(z) = &self.zone {
            s.push(' ');
            s.push_str(&z.name);
        }
        s
    }

    pub(crate) fn compare(&self, other: &DateTime) -> Cmp {
        let differ = || Cmp::Different(format!("{} vs {}", self.describe(), other.describe()));
        let unsure = |why: &str| {
            Cmp::Incomparable(format!(
                "{} vs {}: {why}",
                self.describe(),
                other.describe()
            ))
        };
        match (self.day, other.day) {
            // Different days may still be the same instant across zones.
            (Some(Day::Known(..)), Some(Day::Known(..)))
                if self.day != other.day && (self.time.is_none() || other.time.is_none()) =>
            {
                return differ();
            }
            (Some(Day::Ambiguous), _) | (_, Some(Day::Ambiguous)) => {
                return unsure("an ambiguous day/month order");
            }
            (Some(_), None) | (None, Some(_)) => return unsure("a date on one side only"),
            _ => {}
        }
        let (a, b) = match (self.time, other.time) {
            (None, None) => return Cmp::Same,
            (Some(a), Some(b)) => (a, b),
            _ => return unsure("a time of day on one side only"),
        };
        let minutes = |day: Option<Day>, (h, m, s, _): (u32, u32, u32, bool)| -> i64 {
            let days = match day {
                Some(Day::Known(y, mo, d)) => {
                    i64::from(y) * 372 + i64::from(mo) * 31 + i64::from(d)
                }
                _ => 0,
            };
            days * 1440 * 60 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)
        };
        let half_day_doubt = (a.3 || b.3) && a.0 % 12 == b.0 % 12 && a.0 != b.0;
        match (&self.zone, &other.zone) {
            (None, None) => {
                if minutes(self.day, a) == minutes(other.day, b) {
                    Cmp::Same
                } else if half_day_doubt {
                    unsure("am or pm is not said")
                } else {
                    differ()
                }
            }
            (Some(x), Some(y)) => match (x.offset, y.offset) {
                (Some(p), Some(q)) => {
                    let ia = minutes(self.day, a) - i64::from(p) * 60;
                    let ib = minutes(other.day, b) - i64::from(q) * 60;
                    if ia == ib && p == q {
                        Cmp::Same
                    } else if ia == ib {
                        unsure("the same instant written in two zones")
                    } else if half_day_doubt {
                        unsure("am or pm is not said")
                    } else {
                        differ()
                    }
                }
                _ if x.name == y.name && minutes(self.day, a) == minutes(other.day, b) => Cmp::Same,
                _ => unsure("a zone whose offset is not fixed"),
            },
            _ => unsure("a zone on one side only"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> DateTime {
        let mut f = find(s);
        assert_eq!(f.len(), 1, "{s}: {f:?}");
        f.remove(0).1
    }

    #[test]
    fn dates_times_and_zones() {
        assert_eq!(one("2024-03-05").compare(&one("March 5, 2024")), Cmp::Same);
        assert_eq!(
            one("2025-06-01 09:00 UTC").compare(&one("June 1, 2025 at 9:00 am UTC")),
            Cmp::Same
        );
        assert!(matches!(
            one("2025-06-01 09:00 UTC").compare(&one("2025-06-01 09:00 CET")),
            Cmp::Different(_)
        ));
        assert!(matches!(
            one("2025-06-01 09:00").compare(&one("2025-06-01")),
            Cmp::Incomparable(_)
        ));
        assert!(matches!(
            one("2025-06-01 09:00 UTC").compare(&one("2025-06-01 09:00")),
            Cmp::Incomparable(_)
        ));
        assert_eq!(one("9 pm").compare(&one("21:00")), Cmp::Same);
        assert!(matches!(
            one("9:00").compare(&one("21:00")),
            Cmp::Incomparable(_)
        ));
        assert!(matches!(
            one("9:00").compare(&one("9:30")),
            Cmp::Different(_)
        ));
        assert!(matches!(
            one("03/04/2024").compare(&one("2024-03-04")),
            Cmp::Incomparable(_)
        ));
        assert_eq!(
            one("2025-06-01T09:00:00Z").compare(&one("2025-06-01 09:00 GMT")),
            Cmp::Same
        );
    }
}
