//! Numbers with their units: a unit is part of a number's value.
//!
//! Values of one dimension convert (`1.5 s` = `1500 ms`, `2 KiB` = `2048 B`) unless the
//! prompt asks for a unit; different dimensions (`3 kg` / `3 m`), different magnitudes
//! (`3 kg` / `3 g`) or different currencies never agree. Percent is a plain ratio
//! (`0.5%` = `0.005`); percentage points are their own dimension. Calendar units
//! (months, years) convert among themselves; against days or weeks they agree only
//! when far apart is ruled out, and are otherwise undecided.

use std::sync::LazyLock;

use regex::Regex;

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    /// Seconds and fixed multiples (ms, min, h, day, week).
    Time,
    /// Months and their multiples (year, decade): not a fixed number of seconds.
    Calendar,
    Length,
    Mass,
    Volume,
    /// Bytes.
    Data,
    Temperature,
    /// A plain number or a percentage.
    Ratio,
    PercentagePoint,
    Currency(&'static str),
    Ordinal,
    /// A word that names two things ("pounds": mass or money; "degrees": angle or
    /// temperature): equal only to itself.
    Ambiguous(&'static str),
}

/// A unit: base value = (x + offset) * factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Unit {
    pub(crate) name: &'static str,
    pub(crate) dim: Dim,
    factor: f64,
    offset: f64,
}

const fn u(name: &'static str, dim: Dim, factor: f64) -> Unit {
    Unit {
        name,
        dim,
        factor,
        offset: 0.0,
    }
}

/// Aliases (matched case-sensitively when `exact`, else case-insensitively) to units.
struct Alias {
    text: &'static str,
    exact: bool,
    unit: Unit,
}

const fn a(text: &'static str, exact: bool, unit: Unit) -> Alias {
    Alias { text, exact, unit }
}

const DAY: f64 = 86_400.0;

const CELSIUS: Unit = Unit {
    name: "°C",
    dim: Dim::Temperature,
    factor: 1.0,
    offset: 273.15,
};
const FAHRENHEIT: Unit = Unit {
    name: "°F",
    dim: Dim::Temperature,
    factor: 5.0 / 9.0,
    offset: 459.67,
};
const MONTH_DAYS: f64 = 30.436_875;

static ALIASES: &[Alias] = &[
    // Time.
    a("ns", true, u("ns", Dim::Time, 1e-9)),
    a("nanoseconds", false, u("ns", Dim::Time, 1e-9)),
    a("nanosecond", false, u("ns", Dim::Time, 1e-9)),
    a("µs", true, u("µs", Dim::Time, 1e-6)),
    a("μs", true, u("µs", Dim::Time, 1e-6)),
    a("us", true, u("µs", Dim::Time, 1e-6)),
    a("microseconds", false, u("µs", Dim::Time, 1e-6)),
    a("microsecond", false, u("µs", Dim::Time, 1e-6)),
    a("ms", true, u("ms", Dim::Time, 1e-3)),
    a("msec", false, u("ms", Dim::Time, 1e-3)),
    a("milliseconds", false, u("ms", Dim::Time, 1e-3)),
    a("millisecond", false, u("ms", Dim::Time, 1e-3)),
    a("s", true, u("s", Dim::Time, 1.0)),
    a("sec", false, u("s", Dim::Time, 1.0)),
    a("secs", false, u("s", Dim::Time, 1.0)),
    a("seconds", false, u("s", Dim::Time, 1.0)),
    a("second", false, u("s", Dim::Time, 1.0)),
    a("min", false, u("min", Dim::Time, 60.0)),
    a("mins", false, u("min", Dim::Time, 60.0)),
    a("minutes", false, u("min", Dim::Time, 60.0)),
    a("minute", false, u("min", Dim::Time, 60.0)),
    a("h", true, u("h", Dim::Time, 3600.0)),
    a("hr", false, u("h", Dim::Time, 3600.0)),
    a("hrs", false, u("h", Dim::Time, 3600.0)),
    a("hours", false, u("h", Dim::Time, 3600.0)),
    a("hour", false, u("h", Dim::Time, 3600.0)),
    a("days", false, u("day", Dim::Time, DAY)),
    a("day", false, u("day", Dim::Time, DAY)),
    a("weeks", false, u("week", Dim::Time, 7.0 * DAY)),
    a("week", false, u("week", Dim::Time, 7.0 * DAY)),
    a("wk", false, u("week", Dim::Time, 7.0 * DAY)),
    a("fortnights", false, u("fortnight", Dim::Time, 14.0 * DAY)),
    a("fortnight", false, u("fortnight", Dim::Time, 14.0 * DAY)),
    a("months", false, u("month", Dim::Calendar, 1.0)),
    a("month", false, u("month", Dim::Calendar, 1.0)),
    a("mo", false, u("month", Dim::Calendar, 1.0)),
    a("quarters", false, u("quarter", Dim::Calendar, 3.0)),
    a("quarter", false, u("quarter", Dim::Calendar, 3.0)),
    a("years", false, u("year", Dim::Calendar, 12.0)),
    a("year", false, u("year", Dim::Calendar, 12.0)),
    a("yrs", false, u("year", Dim::Calendar, 12.0)),
    a("yr", false, u("year", Dim::Calendar, 12.0)),
    a("decades", false, u("decade", Dim::Calendar, 120.0)),
    a("decade", false, u("decade", Dim::Calendar, 120.0)),
    a("centuries", false, u("century", Dim::Calendar, 1200.0)),
    a("century", false, u("century", Dim::Calendar, 1200.0)),
    // Length (metres).
    a("nm", true, u("nm", Dim::Length, 1e-9)),
    a("µm", true, u("µm", Dim::Length, 1e-6)),
    a("mm", true, u("mm", Dim::Length, 1e-3)),
    a("millimeters", false, u("mm", Dim::Length, 1e-3)),
    a("millimetres", false, u("mm", Dim::Length, 1e-3)),
    a("millimeter", false, u("mm", Dim::Length, 1e-3)),
    a("millimetre", false, u("mm", Dim::Length, 1e-3)),
    a("cm", true, u("cm", Dim::Length, 1e-2)),
    a("centimeters", false, u("cm", Dim::Length, 1e-2)),
    a("centimetres", false, u("cm", Dim::Length, 1e-2)),
    a("centimeter", false, u("cm", Dim::Length, 1e-2)),
    a("centimetre", false, u("cm", Dim::Length, 1e-2)),
    a("m", true, u("m", Dim::Length, 1.0)),
    a("meters", false, u("m", Dim::Length, 1.0)),
    a("metres", false, u("m", Dim::Length, 1.0)),
    a("meter", false, u("m", Dim::Length, 1.0)),
    a("metre", false, u("m", Dim::Length, 1.0)),
    a("km", false, u("km", Dim::Length, 1e3)),
    a("kilometers", false, u("km", Dim::Length, 1e3)),
    a("kilometres", false, u("km", Dim::Length, 1e3)),
    a("kilometer", false, u("km", Dim::Length, 1e3)),
    a("kilometre", false, u("km", Dim::Length, 1e3)),
    a("in", true, u("in", Dim::Length, 0.0254)),
    a("inches", false, u("in", Dim::Length, 0.0254)),
    a("inch", false, u("in", Dim::Length, 0.0254)),
    a("ft", false, u("ft", Dim::Length, 0.3048)),
    a("feet", false, u("ft", Dim::Length, 0.3048)),
    a("foot", false, u("ft", Dim::Length, 0.3048)),
    a("yd", false, u("yd", Dim::Length, 0.9144)),
    a("yards", false, u("yd", Dim::Length, 0.9144)),
    a("yard", false, u("yd", Dim::Length, 0.9144)),
    a("mi", true, u("mi", Dim::Length, 1609.344)),
    a("miles", false, u("mi", Dim::Length, 1609.344)),
    a("mile", false, u("mi", Dim::Length, 1609.344)),
    // Mass (grams).
    a("mg", true, u("mg", Dim::Mass, 1e-3)),
    a("milligrams", false, u("mg", Dim::Mass, 1e-3)),
    a("milligram", false, u("mg", Dim::Mass, 1e-3)),
    a("g", true, u("g", Dim::Mass, 1.0)),
    a("grams", false, u("g", Dim::Mass, 1.0)),
    a("gram", false, u("g", Dim::Mass, 1.0)),
    a("kg", false, u("kg", Dim::Mass, 1e3)),
    a("kilograms", false, u("kg", Dim::Mass, 1e3)),
    a("kilogram", false, u("kg", Dim::Mass, 1e3)),
    a("kilos", false, u("kg", Dim::Mass, 1e3)),
    a("t", true, u("t", Dim::Mass, 1e6)),
    a("tonnes", false, u("t", Dim::Mass, 1e6)),
    a("tonne", false, u("t", Dim::Mass, 1e6)),
    a("lbs", false, u("lb", Dim::Mass, 453.592_37)),
    a("lb", false, u("lb", Dim::Mass, 453.592_37)),
    a("oz", false, u("oz", Dim::Mass, 28.349_523_125)),
    a("ounces", false, u("oz", Dim::Mass, 28.349_523_125)),
    a("ounce", false, u("oz", Dim::Mass, 28.349_523_125)),
    // Volume (litres).
    a("ml", false, u("ml", Dim::Volume, 1e-3)),
    a("milliliters", false, u("ml", Dim::Volume, 1e-3)),
    a("millilitres", false, u("ml", Dim::Volume, 1e-3)),
    a("cl", false, u("cl", Dim::Volume, 1e-2)),
    a("dl", false, u("dl", Dim::Volume, 1e-1)),
    a("l", false, u("l", Dim::Volume, 1.0)),
    a("liters", false, u("l", Dim::Volume, 1.0)),
    a("litres", false, u("l", Dim::Volume, 1.0)),
    a("liter", false, u("l", Dim::Volume, 1.0)),
    a("litre", false, u("l", Dim::Volume, 1.0)),
    a("gallons", false, u("gal", Dim::Volume, 3.785_411_784)),
    a("gallon", false, u("gal", Dim::Volume, 3.785_411_784)),
    a("gal", false, u("gal", Dim::Volume, 3.785_411_784)),
    a("cups", false, u("cup", Dim::Volume, 0.236_588_236_5)),
    a("cup", false, u("cup", Dim::Volume, 0.236_588_236_5)),
    // Data (bytes). Lower-case "kb" is ambiguous (bits or bytes) and is not a unit here.
    a("bits", false, u("bit", Dim::Data, 0.125)),
    a("bit", false, u("bit", Dim::Data, 0.125)),
    a("B", true, u("B", Dim::Data, 1.0)),
    a("bytes", false, u("B", Dim::Data, 1.0)),
    a("byte", false, u("B", Dim::Data, 1.0)),
    a("kB", true, u("kB", Dim::Data, 1e3)),
    a("KB", true, u("kB", Dim::Data, 1e3)),
    a("KiB", true, u("KiB", Dim::Data, 1024.0)),
    a("MB", true, u("MB", Dim::Data, 1e6)),
    a("MiB", true, u("MiB", Dim::Data, 1_048_576.0)),
    a("GB", true, u("GB", Dim::Data, 1e9)),
    a("GiB", true, u("GiB", Dim::Data, 1_073_741_824.0)),
    a("TB", true, u("TB", Dim::Data, 1e12)),
    a("TiB", true, u("TiB", Dim::Data, 1_099_511_627_776.0)),
    a("PB", true, u("PB", Dim::Data, 1e15)),
    a("Kb", true, u("kbit", Dim::Data, 125.0)),
    a("Mb", true, u("Mbit", Dim::Data, 1.25e5)),
    a("Gb", true, u("Gbit", Dim::Data, 1.25e8)),
    a("kilobytes", false, u("kB", Dim::Data, 1e3)),
    a("megabytes", false, u("MB", Dim::Data, 1e6)),
    a("gigabytes", false, u("GB", Dim::Data, 1e9)),
    a("terabytes", false, u("TB", Dim::Data, 1e12)),
    // Temperature (kelvin).
    a("°C", false, CELSIUS),
    a("degrees celsius", false, CELSIUS),
    a("degrees c", false, CELSIUS),
    a("celsius", false, CELSIUS),
    a("°F", false, FAHRENHEIT),
    a("degrees fahrenheit", false, FAHRENHEIT),
    a("degrees f", false, FAHRENHEIT),
    a("fahrenheit", false, FAHRENHEIT),
    a("kelvin", false, u("K", Dim::Temperature, 1.0)),
    a("K", true, u("K", Dim::Temperature, 1.0)),
    a(
        "degrees",
        false,
        u("degrees", Dim::Ambiguous("degrees"), 1.0),
    ),
    a(
        "degree",
        false,
        u("degrees", Dim::Ambiguous("degrees"), 1.0),
    ),
    a("°", false, u("degrees", Dim::Ambiguous("degrees"), 1.0)),
    // Ratios.
    a("%", false, u("%", Dim::Ratio, 0.01)),
    a("percent", false, u("%", Dim::Ratio, 0.01)),
    a("per cent", false, u("%", Dim::Ratio, 0.01)),
    a(
        "percentage points",
        false,
        u("pp", Dim::PercentagePoint, 1.0),
    ),
    a(
        "percentage point",
        false,
        u("pp", Dim::PercentagePoint, 1.0),
    ),
    a("pp", false, u("pp", Dim::PercentagePoint, 1.0)),
    a("basis points", false, u("pp", Dim::PercentagePoint, 0.01)),
    a("bps", false, u("pp", Dim::PercentagePoint, 0.01)),
    // Currencies (after the number).
    a("USD", false, u("USD", Dim::Currency("USD"), 1.0)),
    a("dollars", false, u("USD", Dim::Currency("USD"), 1.0)),
    a("dollar", false, u("USD", Dim::Currency("USD"), 1.0)),
    a("EUR", false, u("EUR", Dim::Currency("EUR"), 1.0)),
    a("euros", false, u("EUR", Dim::Currency("EUR"), 1.0)),
    a("euro", false, u("EUR", Dim::Currency("EUR"), 1.0)),
    a("GBP", false, u("GBP", Dim::Currency("GBP"), 1.0)),
    a("JPY", false, u("JPY", Dim::Currency("JPY"), 1.0)),
    a("yen", false, u("JPY", Dim::Currency("JPY"), 1.0)),
    a("CNY", false, u("CNY", Dim::Currency("CNY"), 1.0)),
    a("yuan", false, u("CNY", Dim::Currency("CNY"), 1.0)),
    a("RMB", false, u("CNY", Dim::Currency("CNY"), 1.0)),
    a("INR", false, u("INR", Dim::Currency("INR"), 1.0)),
    a("rupees", false, u("INR", Dim::Currency("INR"), 1.0)),
    a("CHF", false, u("CHF", Dim::Currency("CHF"), 1.0)),
    a("CAD", false, u("CAD", Dim::Currency("CAD"), 1.0)),
    a("AUD", false, u("AUD", Dim::Currency("AUD"), 1.0)),
    a("pounds", false, u("pounds", Dim::Ambiguous("pounds"), 1.0)),
    a("pound", false, u("pounds", Dim::Ambiguous("pounds"), 1.0)),
];

/// Currency symbols before a number.
fn currency_symbol(s: &str) -> Option<Unit> {
    let code = match s {
        "US$" | "$" => "USD",
        "€" => "EUR",
        "£" => "GBP",
        "¥" => "JPY",
        "₹" => "INR",
        "C$" => "CAD",
        "A$" => "AUD",
        _ => return None,
    };
    Some(u(code, Dim::Currency(code), 1.0))
}

/// A number with its unit, as read from an answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Quantity {
    /// The number as written, scale words applied (`1.2 million` = 1 200 000).
    pub(crate) number: f64,
    /// Its unit, if any.
    pub(crate) unit: Option<Unit>,
    /// The same number as an exact decimal, when it was written in digits (or number
    /// words): integers of any length compare exactly, never through `f64`.
    pub(crate) exact: Option<Exact>,
    /// The digits as written (no sign, no thousands separators), for identifiers.
    pub(crate) written: String,
    /// Read as an identifier rather than an amount: leading zeros (`007`), or a decimal
    /// in a version or section context (`version 1.10`, `§ 3.10`). Compared as written.
    pub(crate) ident: bool,
    /// For temperatures: whether the words around it say it is a difference (`a rise of
    /// 10 °C`, `15 °C warmer`) — `Some(true)` — or a reading (`rose to 25 °C`) —
    /// `Some(false)`; `None` when they do not say.
    pub(crate) delta: Option<bool>,
}

/// A decimal number, exactly: sign, significant digits (no leading or trailing zeros)
/// and a power of ten. `1.2 million` and `1,200,000` are both `+12e5`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Exact {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Exact {
    /// Reads `1,234.50` (thousands separators allowed) times `10^shift`.
    pub(crate) fn parse(mantissa: &str, shift: i64, negative: bool) -> Option<Self> {
        let m = mantissa.replace(',', "");
        let (int, frac) = m.split_once('.').unwrap_or((&m, ""));
        if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
            return None;
        }
        let all = format!("{int}{frac}");
        let mut exponent = shift - i64::try_from(frac.len()).ok()?;
        let trimmed = all.trim_start_matches('0');
        let digits = trimmed.trim_end_matches('0');
        exponent += i64::try_from(trimmed.len() - digits.len()).ok()?;
        if digits.is_empty() {
            return Some(Self {
                negative: false,
                digits: String::new(),
                exponent: 0,
            });
        }
        Some(Self {
            negative,
            digits: digits.to_owned(),
            exponent,
        })
    }

    /// How many significant digits it has.
    pub(crate) fn precision(&self) -> usize {
        self.digits.len()
    }
}

/// What the comparison of two numbers needs from the prompt.
#[derive(Debug, Clone, Default)]
pub(crate) struct NumCtx {
    /// Units the prompt asks for.
    pub(crate) requested: Vec<Unit>,
    /// The prompt asks for an identifier (a version, a section, an account number...).
    pub(crate) identifiers: bool,
    /// The prompt asks about a temperature difference (`How much warmer`, `rise`).
    pub(crate) delta: bool,
}

/// How two values compare.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cmp {
    Same,
    Different(String),
    /// Cannot tell (a unit or a zone on one side only, a calendar against days).
    Incomparable(String),
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

impl Quantity {
    fn base(&self, unit: &Unit) -> f64 {
        (self.number + unit.offset) * unit.factor
    }

    /// Written with leading zeros: `007`, `00501`.
    fn leading_zero(&self) -> bool {
        self.written.len() > 1 && self.written.starts_with('0') && !self.written.starts_with("0.")
    }

    pub(crate) fn describe(&self) -> String {
        match &self.unit {
            Some(u) => format!("{} {}", self.number, u.name),
            None => format!("{}", self.number),
        }
    }

    /// Compares two quantities, with what the prompt says (units asked for, whether it
    /// asks for an identifier or a temperature difference).
    pub(crate) fn compare(&self, other: &Quantity, ctx: &NumCtx) -> Cmp {
        let requested = ctx.requested.as_slice();
        let (a, b) = (self, other);
        let differ = || Cmp::Different(format!("{} vs {}", a.describe(), b.describe()));
        let exact_differs = match (&a.exact, &b.exact) {
            (Some(x), Some(y)) => Some(x != y),
            _ => None,
        };
        // Identifiers compare as written: `007` is not `7`, `version 1.10` is not `1.1`.
        if (a.ident || b.ident) && a.unit.is_none() && b.unit.is_none() {
            return if a.written == b.written && exact_differs != Some(true) {
                Cmp::Same
            } else if exact_differs == Some(true)
                || (a.ident && b.ident)
                || ctx.identifiers && (a.leading_zero() || b.leading_zero())
            {
                Cmp::Different(format!(
                    "{} vs {}: identifiers differ as written",
                    a.written, b.written
                ))
            } else {
                Cmp::Incomparable(format!(
                    "{} vs {}: the same number written differently, and it may be an identifier",
                    a.written, b.written
                ))
            };
        }
        // Too many digits for a float: only an exact comparison may call them the same.
        let long = a.exact.as_ref().is_some_and(|e| e.precision() > 15)
            || b.exact.as_ref().is_some_and(|e| e.precision() > 15);
        let near = |x: f64, y: f64| -> Option<bool> {
            match (close(x, y), long) {
                (true, true) => None,
                (c, _) => Some(c),
            }
        };
        let ratio = |u: &Option<Unit>| u.is_none_or(|u| u.dim == Dim::Ratio);
        // A bare number takes the unit the prompt asks for.
        let pick = |q: &Quantity, other: &Option<Unit>| -> Option<Unit> {
            q.unit.or_else(|| {
                let dim = other.map(|u| u.dim)?;
                requested.iter().copied().find(|r| r.dim == dim)
            })
        };
        let (ua, ub) = (pick(a, &b.unit), pick(b, &a.unit));
        let too_long = || {
            Cmp::Incomparable(format!(
                "{} vs {}: too many digits to compare through a conversion",
                a.describe(),
                b.describe()
            ))
        };
        // The same unit (or none): exact decimals decide, whatever their length.
        if ua == ub {
            if let Some(d) = exact_differs {
                return if d { differ() } else { Cmp::Same };
            }
        }
        match (ua, ub) {
            _ if ratio(&ua) && ratio(&ub) => {
                let (x, y) = (
                    ua.map_or(a.number, |u| a.base(&u)),
                    ub.map_or(b.number, |u| b.base(&u)),
                );
                match near(x, y) {
                    Some(true) => Cmp::Same,
                    Some(false) => differ(),
                    None => too_long(),
                }
            }
            (Some(x), Some(y)) if x.dim == y.dim => {
                if x.name != y.name
                    && requested
                        .iter()
                        .any(|r| r.dim == x.dim && (r.name == x.name || r.name == y.name))
                {
                    return Cmp::Different(format!(
                        "{} vs {}: the prompt asks for a unit",
                        a.describe(),
                        b.describe()
                    ));
                }
                let (mut p, mut q) = (a.base(&x), b.base(&y));
                if x.dim == Dim::Temperature && x.name != y.name {
                    // A difference of temperatures converts by scale only: a rise of
                    // 10 °C is a rise of 18 °F, not 50 °F.
                    let da = a.delta.unwrap_or(ctx.delta);
                    let db = b.delta.unwrap_or(ctx.delta);
                    if da != db {
                        return Cmp::Incomparable(format!(
                            "{} vs {}: one reads as a temperature difference, the other as a reading",
                            a.describe(),
                            b.describe()
                        ));
                    }
                    if da {
                        (p, q) = (a.number * x.factor, b.number * y.factor);
                    }
                }
                match near(p, q) {
                    Some(true) => Cmp::Same,
                    Some(false) => differ(),
                    None => too_long(),
                }
            }
            (Some(x), Some(y)) => {
                let months = |q: &Quantity, u: &Unit| match u.dim {
                    Dim::Calendar => Some(q.base(u) * MONTH_DAYS * DAY),
                    Dim::Time => Some(q.base(u)),
                    _ => None,
                };
                match (months(a, &x), months(b, &y)) {
                    // A calendar span against a fixed one: only far apart decides.
                    (Some(p), Some(q)) if (p - q).abs() <= 0.05 * p.abs().max(q.abs()) => {
                        Cmp::Incomparable(format!(
                            "{} and {} are about the same span",
                            a.describe(),
                            b.describe()
                        ))
                    }
                    _ => differ(),
                }
            }
            _ if close(a.number, b.number) => Cmp::Incomparable(format!(
                "{} vs {}: a unit on one side only",
                a.describe(),
                b.describe()
            )),
            _ => Cmp::Incomparable(format!(
                "{} vs {}: a unit on one side only",
                a.describe(),
                b.describe()
            )),
        }
    }
}

/// Words that make a temperature a difference rather than a reading.
const DELTA_WORDS: &[&str] = &[
    "rise",
    "rises",
    "rose",
    "risen",
    "rising",
    "drop",
    "drops",
    "dropped",
    "fall",
    "falls",
    "fell",
    "fallen",
    "increase",
    "increased",
    "increases",
    "decrease",
    "decreased",
    "decreases",
    "difference",
    "differences",
    "differ",
    "differs",
    "change",
    "changed",
    "changes",
    "delta",
    "warmer",
    "cooler",
    "colder",
    "hotter",
    "gain",
    "gained",
    "swing",
    "variation",
    "up",
    "down",
    "higher",
    "lower",
    "warming",
    "cooling",
];

/// Words right before a temperature that make it a reading: `rose to 25 °C`.
const READING_WORDS: &[&str] = &[
    "to", "at", "reached", "reaches", "reach", "hit", "hits", "from",
];

fn ascii_words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether the prompt asks about a temperature difference.
pub(crate) fn delta_prompt(prompt: &str) -> bool {
    ascii_words(prompt)
        .iter()
        .any(|w| DELTA_WORDS.contains(&w.as_str()))
}

/// Whether the words around `span` in `text` make a temperature there a difference
/// (`Some(true)`: `a rise of 10 °C`, `by 5 °C`, `15 °C warmer`) or a reading
/// (`Some(false)`: `rose to 25 °C`); `None` when they do not say.
pub(crate) fn delta_at(text: &str, span: &std::ops::Range<usize>) -> Option<bool> {
    let before = text.get(..span.start)?;
    // Only the same sentence counts.
    let sentence = before
        .rfind(['!', '?', ';', '\n'])
        .into_iter()
        .chain(before.rfind(". "))
        .max()
        .map_or(before, |i| &before[i + 1..]);
    let words = ascii_words(sentence);
    let last = words.last().map(String::as_str);
    if last.is_some_and(|w| READING_WORDS.contains(&w)) {
        return Some(false);
    }
    let after = text.get(span.end..).unwrap_or("");
    let after = after
        .split(['.', '!', '?', ';', ',', '\n'])
        .next()
        .unwrap_or("");
    let after = ascii_words(after);
    let near = words.iter().rev().take(5).chain(after.iter().take(2));
    let mut delta = last == Some("by");
    for w in near {
        delta |= DELTA_WORDS.contains(&w.as_str());
    }
    delta.then_some(true)
}

/// Words that make a number an identifier when they stand right before it
/// (`version 1.10`, `section 3.10`, `§ 4.2`).
const ID_WORDS_BEFORE: &[&str] = &[
    "version",
    "ver",
    "v",
    "release",
    "section",
    "sec",
    "clause",
    "chapter",
    "ch",
    "article",
    "art",
    "paragraph",
    "para",
    "rule",
    "rfc",
    "kernel",
    "build",
    "revision",
    "rev",
    "extension",
    "ext",
    "port",
    "zip",
    "pin",
];

/// Prompt words that ask for an identifier.
const ID_PROMPT_WORDS: &[&str] = &[
    "version",
    "versions",
    "release",
    "section",
    "clause",
    "chapter",
    "article",
    "paragraph",
    "id",
    "ids",
    "identifier",
    "zip",
    "postal",
    "postcode",
    "extension",
    "isbn",
    "serial",
    "invoice",
    "ticket",
    "kernel",
    "rfc",
    "sku",
    "pin",
    "code",
    "port",
    "build",
    "revision",
];

/// Prompt words that, before `number`, ask for an identifier (`account number`).
const ID_NUMBER_WORDS: &[&str] = &[
    "account",
    "order",
    "phone",
    "telephone",
    "serial",
    "reference",
    "agent",
    "case",
    "model",
    "invoice",
    "ticket",
    "tracking",
    "part",
    "version",
    "build",
    "flight",
    "policy",
    "registration",
    "license",
    "licence",
    "membership",
    "customer",
    "employee",
    "routing",
    "confirmation",
    "section",
    "chapter",
    "clause",
    "room",
    "seat",
    "gate",
    "platform",
];

/// Whether the prompt asks for an identifier: a version, a section, an account number.
pub(crate) fn identifier_prompt(prompt: &str) -> bool {
    let ws = ascii_words(prompt);
    prompt.contains('§')
        || ws.iter().any(|w| ID_PROMPT_WORDS.contains(&w.as_str()))
        || ws.windows(2).any(|p| {
            matches!(p[1].as_str(), "number" | "numbers" | "no")
                && ID_NUMBER_WORDS.contains(&p[0].as_str())
        })
}

/// Whether the word right before `start` makes the number there an identifier.
pub(crate) fn id_word_before(text: &str, start: usize) -> bool {
    let before = text.get(..start).unwrap_or("").trim_end();
    before.ends_with('§')
        || ascii_words(before)
            .last()
            .is_some_and(|w| ID_WORDS_BEFORE.contains(&w.as_str()))
            && before
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
}

/// Reads a unit at the start of `s` (after at most one space); returns it and the bytes
/// it took.
pub(crate) fn unit_at(s: &str) -> Option<(Unit, usize)> {
    let trimmed = s.strip_prefix(' ').unwrap_or(s);
    let skipped = s.len() - trimmed.len();
    let mut best: Option<(Unit, usize)> = None;
    for al in ALIASES {
        let n = al.text.len();
        let Some(head) = trimmed.get(..n) else {
            continue;
        };
        let matched = if al.exact {
            head == al.text
        } else {
            head.eq_ignore_ascii_case(al.text)
        };
        // A unit ends at a word boundary ("m" is not the start of "more").
        let boundary = trimmed[n..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        // Symbols like `%` and `°C` attach without a space; letters need a boundary.
        if matched && boundary && best.is_none_or(|b| n + skipped > b.1) {
            best = Some((al.unit, n + skipped));
        }
    }
    best
}

/// Units a prompt asks for: "in ms", "how many minutes", "(in kg)", "to GiB".
pub(crate) fn requested_units(prompt: &str) -> Vec<Unit> {
    static ASKS: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"(?i)\b(?:in|into|to|as|how\s+many|how\s+much|number\s+of)\s+").ok()
    });
    let Some(re) = ASKS.as_ref() else {
        return Vec::new();
    };
    re.find_iter(prompt)
        .filter_map(|m| unit_at(&prompt[m.end()..]).map(|(u, _)| u))
        .filter(|u| !matches!(u.dim, Dim::Ambiguous(_)))
        .collect()
}

/// The number-and-unit pattern: an optional currency symbol and sign, the digits (with
/// thousands separators, decimals, exponents, `x 10^n`), an ordinal suffix.
pub(crate) static NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        (?P<cur>US\$|C\$|A\$|\$|€|£|¥|₹)?\s?
        (?P<sign>[-−+])?
        (?P<cur2>US\$|\$|€|£|¥|₹)?
        (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
        (?:[eE](?P<e>[-+]?\d+))?
        (?:\s*[x×*]\s*10\^(?P<exp>[-−]?\d+))?
        (?P<ord>st\b|nd\b|rd\b|th\b)?",
    )
    .ok()
});

/// Scale words after a number: `thousand`, `million`, `bn`; `k`, `M`, `B` only when
/// attached to the digits (`10k`, `$2M`, `$3B`).
pub(crate) fn scale_at(s: &str, money: bool) -> Option<(f64, usize)> {
    for (w, f) in [
        ("thousand", 1e3),
        ("million", 1e6),
        ("billion", 1e9),
        ("trillion", 1e12),
        ("bn", 1e9),
        ("mn", 1e6),
    ] {
        let t = s.strip_prefix(' ').unwrap_or(s);
        if t.get(..w.len()).is_some_and(|h| h.eq_ignore_ascii_case(w))
            && t[w.len()..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_alphanumeric())
        {
            return Some((f, s.len() - t.len() + w.len()));
        }
    }
    let attached = |c: &str, f: f64| -> Option<(f64, usize)> {
        (s.starts_with(c)
            && s[c.len()..]
                .chars()
                .next()
                .is_none_or(|n| !n.is_alphanumeric()))
        .then_some((f, c.len()))
    };
    attached("k", 1e3)
        .or_else(|| attached("K", 1e3).filter(|_| money))
        .or_else(|| attached("M", 1e6).filter(|_| money))
        .or_else(|| attached("B", 1e9).filter(|_| money))
}

pub(crate) fn currency(sym: &str) -> Option<Unit> {
    currency_symbol(sym)
}

pub(crate) fn ordinal() -> Unit {
    u("ordinal", Dim::Ordinal, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(n: f64, unit: &str) -> Quantity {
        Quantity {
            number: n,
            unit: unit_at(unit).map(|x| x.0),
            ..Quantity::default()
        }
    }

    #[test]
    fn one_dimension_converts_others_never_agree() {
        assert_eq!(
            q(1.5, "s").compare(&q(1500.0, "ms"), &NumCtx::default()),
            Cmp::Same
        );
        assert_eq!(
            q(2.0, "KiB").compare(&q(2048.0, "bytes"), &NumCtx::default()),
            Cmp::Same
        );
        assert_eq!(
            q(100.0, "°C").compare(&q(212.0, "°F"), &NumCtx::default()),
            Cmp::Same
        );
        assert!(matches!(
            q(3.0, "kg").compare(&q(3.0, "g"), &NumCtx::default()),
            Cmp::Different(_)
        ));
        assert!(matches!(
            q(90.0, "seconds").compare(&q(90.0, "minutes"), &NumCtx::default()),
            Cmp::Different(_)
        ));
        assert!(matches!(
            q(18.0, "months").compare(&q(18.0, "weeks"), &NumCtx::default()),
            Cmp::Different(_)
        ));
        assert!(matches!(
            q(1.0, "month").compare(&q(30.0, "days"), &NumCtx::default()),
            Cmp::Incomparable(_)
        ));
        assert_eq!(
            q(2.0, "years").compare(&q(24.0, "months"), &NumCtx::default()),
            Cmp::Same
        );
        assert!(matches!(
            q(3.0, "kg").compare(&q(3.0, ""), &NumCtx::default()),
            Cmp::Incomparable(_)
        ));
        assert!(matches!(
            q(5.0, "%").compare(&q(5.0, "percentage points"), &NumCtx::default()),
            Cmp::Different(_)
        ));
        assert!(matches!(
            q(5.0, "USD").compare(&q(5.0, "EUR"), &NumCtx::default()),
            Cmp::Different(_)
        ));
    }

    #[test]
    fn a_requested_unit_is_not_converted_away() {
        let req = requested_units("How long does it take, in ms?");
        assert_eq!(req.len(), 1);
        let rq = NumCtx {
            requested: req,
            ..NumCtx::default()
        };
        assert!(matches!(
            q(1.5, "s").compare(&q(1500.0, "ms"), &rq),
            Cmp::Different(_)
        ));
        // A bare number takes the requested unit.
        assert_eq!(q(1500.0, "").compare(&q(1500.0, "ms"), &rq), Cmp::Same);
    }

    #[test]
    fn units_end_at_word_boundaries() {
        assert!(unit_at(" more").is_none());
        assert_eq!(unit_at(" km/h").map(|u| u.0.name), Some("km"));
        assert_eq!(unit_at("%").map(|u| u.1), Some(1));
        assert_eq!(unit_at(" degrees Celsius").map(|u| u.0.name), Some("°C"));
    }
}
