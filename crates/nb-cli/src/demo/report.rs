//! The demo's self-contained HTML report: inline SVG, no scripts, no network.

use std::fmt::Write as _;

use super::tally::{DemoResult, Grade};

const W: f64 = 900.0;
const LEFT: f64 = 120.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn x(t: f64, duration: f64) -> f64 {
    LEFT + (W - LEFT - 10.0) * (t / duration.max(1e-9)).clamp(0.0, 1.0)
}

fn phase_bands(r: &DemoResult, height: f64) -> String {
    let mut s = String::new();
    for (i, p) in r.phases.iter().enumerate() {
        let (x0, x1) = (x(p.from_s, r.duration_s), x(p.to_s, r.duration_s));
        let fill = if i % 2 == 0 { "#f4f4f4" } else { "#e9eef5" };
        let _ = write!(
            s,
            r##"<rect x="{x0:.1}" y="0" width="{:.1}" height="{height}" fill="{fill}"/><text x="{:.1}" y="12" font-size="10" fill="#555">{}</text>"##,
            (x1 - x0).max(0.0),
            x0 + 3.0,
            esc(&p.name)
        );
    }
    s
}

fn colour(v: Grade) -> &'static str {
    match v {
        Grade::Correct => "#2e8b57",
        Grade::Silent => "#d62728",
        Grade::Error => "#999999",
    }
}

fn outcomes_svg(r: &DemoResult) -> String {
    let h = 110.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" role="img" aria-label="outcome of every call over time">"#
    );
    s.push_str(&phase_bands(r, h));
    for (row, client, label) in [
        (0.0, "blind", "blind retry"),
        (1.0, "neuralbridge", "neuralbridge"),
    ] {
        let y = 30.0 + row * 40.0;
        let _ = write!(
            s,
            r#"<text x="5" y="{:.1}" font-size="12">{label}</text>"#,
            y + 14.0
        );
        for c in r.calls.iter().filter(|c| c.client == client) {
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{y:.1}" width="2" height="24" fill="{}"/>"#,
                x(c.t_s, r.duration_s),
                colour(c.grade)
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn served_svg(r: &DemoResult) -> String {
    let providers = ["openai", "anthropic", "gemini"];
    let h = 30.0 + 28.0 * providers.len() as f64;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" role="img" aria-label="which provider served neuralbridge's answers">"#
    );
    s.push_str(&phase_bands(r, h));
    for (i, p) in providers.iter().enumerate() {
        let y = 24.0 + 28.0 * i as f64;
        let _ = write!(
            s,
            r#"<text x="5" y="{:.1}" font-size="12">{p}</text>"#,
            y + 12.0
        );
        for c in r
            .calls
            .iter()
            .filter(|c| c.client == "neuralbridge" && c.served_by.as_deref() == Some(p))
        {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="2" fill="{}"/>"#,
                x(c.t_s, r.duration_s),
                y + 8.0,
                colour(c.grade)
            );
        }
        let mut state_start = 0.0;
        let mut state = "closed".to_owned();
        for m in r.breaker_transitions.iter().filter(|m| m.target == *p) {
            s.push_str(&segment(state_start, m.t_s, &state, y + 20.0, r.duration_s));
            state_start = m.t_s;
            state.clone_from(&m.to);
        }
        s.push_str(&segment(
            state_start,
            r.duration_s,
            &state,
            y + 20.0,
            r.duration_s,
        ));
    }
    s.push_str("</svg>");
    s
}

fn segment(from: f64, to: f64, state: &str, y: f64, duration: f64) -> String {
    let fill = match state {
        "open" => "#d62728",
        "half-open" => "#ff9f1c",
        _ => "#2e8b57",
    };
    let (x0, x1) = (x(from, duration), x(to, duration));
    format!(
        r#"<rect x="{x0:.1}" y="{y:.1}" width="{:.1}" height="3" fill="{fill}"><title>breaker {state}</title></rect>"#,
        (x1 - x0).max(0.5)
    )
}

fn latency_svg(r: &DemoResult) -> String {
    let buckets = [
        10.0,
        20.0,
        50.0,
        100.0,
        200.0,
        500.0,
        1000.0,
        2000.0,
        5000.0,
        f64::INFINITY,
    ];
    let h = 180.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{h}" role="img" aria-label="latency distribution">"#
    );
    let count = |client: &str| {
        let mut c = vec![0u64; buckets.len()];
        for m in r.calls.iter().filter(|m| m.client == client) {
            let i = buckets
                .iter()
                .position(|b| m.latency_ms <= *b)
                .unwrap_or(buckets.len() - 1);
            c[i] += 1;
        }
        c
    };
    let (b, n) = (count("blind"), count("neuralbridge"));
    let max = b.iter().chain(&n).copied().max().unwrap_or(1).max(1) as f64;
    let bw = (W - LEFT) / buckets.len() as f64;
    for i in 0..buckets.len() {
        let x0 = LEFT + bw * i as f64;
        for (j, (v, fill)) in [(b[i], "#999999"), (n[i], "#1f77b4")]
            .into_iter()
            .enumerate()
        {
            let bh = 130.0 * v as f64 / max;
            let _ = write!(
                s,
                r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{fill}"><title>{v}</title></rect>"#,
                x0 + 4.0 + j as f64 * (bw / 2.0 - 4.0),
                150.0 - bh,
                bw / 2.0 - 6.0
            );
        }
        let label = if buckets[i].is_finite() {
            format!("≤{} ms", buckets[i])
        } else {
            "more".into()
        };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="168" font-size="10">{label}</text>"#,
            x0 + 4.0
        );
    }
    s.push_str(r##"<text x="5" y="40" font-size="12" fill="#999999">blind retry</text><text x="5" y="58" font-size="12" fill="#1f77b4">neuralbridge</text></svg>"##);
    s
}

/// The report.
pub(crate) fn html(r: &DemoResult) -> String {
    let mut phases = String::new();
    for p in &r.phases {
        let _ = write!(
            phases,
            "<tr><td>{}</td><td>{:.1}–{:.1} s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0} ms</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            p.from_s,
            p.to_s,
            p.blind.correct,
            p.blind.silent,
            p.blind.errors,
            p.neuralbridge.correct,
            p.neuralbridge.silent,
            p.neuralbridge.errors,
            p.neuralbridge_p99_ms,
            p.neuralbridge_unvouchable,
            esc(&super::waits_html(p))
        );
    }
    let (b, n) = (&r.blind, &r.neuralbridge);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>neuralbridge demo report (seed {seed})</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 960px; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: 4px 10px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.bad {{ color: #d62728; font-weight: bold; }}
</style>
</head>
<body>
<h1>neuralbridge demo</h1>
<p>The same {calls} calls, each a task whose correct answer the simulator knows, sent by a blind-retry client (one provider, three retries on any error, trusts HTTP 200) and by neuralbridge (classified failover, breakers, cool-downs, validation, vouching), against three simulated providers following a scripted story. Seed {seed}; {duration:.0} s.</p>
<table>
<tr><th></th><th>blind retry</th><th>neuralbridge</th></tr>
<tr><td>correct answers</td><td>{bc}</td><td>{nc}</td></tr>
<tr><td>silent corruptions (wrong answers returned as success)</td><td class="bad">{bs}</td><td>{ns}</td></tr>
<tr><td>explicit errors</td><td>{be}</td><td>{ne}</td></tr>
<tr><td>p50 / p99 latency</td><td>{bp50:.0} / {bp99:.0} ms</td><td>{np50:.0} / {np99:.0} ms</td></tr>
<tr><td>upstream calls per call</td><td>{bu:.2}</td><td>{nu:.2}</td></tr>
<tr><td>failovers</td><td>—</td><td>{nf}</td></tr>
<tr><td>breaker transitions</td><td>—</td><td>{nt}</td></tr>
</table>
<h2>By phase</h2>
<table>
<tr><th>phase</th><th>time</th><th>blind correct</th><th>blind silent</th><th>blind errors</th><th>nb correct</th><th>nb silent</th><th>nb errors</th><th>nb p99</th><th>nb served flagged (unvouchable)</th><th>what neuralbridge waited for</th></tr>
{phases}
</table>
<h2>Every call over time</h2>
<p>Green: correct. Red: wrong answer returned as a success. Grey: explicit error.</p>
{outcomes}
<h2>Who served neuralbridge, and breaker states</h2>
<p>Dots: answers served by each provider. Bar under each row: its breaker (green closed, red open, orange half-open).</p>
{served}
<h2>Latency</h2>
{latency}
</body>
</html>
"#,
        seed = r.seed,
        calls = b.calls,
        duration = r.duration_s,
        bc = b.correct,
        nc = n.correct,
        bs = b.silent_corruptions,
        ns = n.silent_corruptions,
        be = b.explicit_errors,
        ne = n.explicit_errors,
        bp50 = b.p50_ms,
        bp99 = b.p99_ms,
        np50 = n.p50_ms,
        np99 = n.p99_ms,
        bu = b.upstream_per_call,
        nu = n.upstream_per_call,
        nf = n.failovers,
        nt = r.breaker_transitions.len(),
        phases = phases,
        outcomes = outcomes_svg(r),
        served = served_svg(r),
        latency = latency_svg(r),
    )
}
