//! What a caller may ask of vouching (`x-nb-vouch`, `x-nb-require-equivalence`).

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use nb_router::CallOptions;

use crate::error::{ErrorType, bad_request, error};
use crate::{Format, Gateway};

/// `always`, `on-failover`, `off` or `sampled:0.1`.
pub(crate) fn vouch_mode(v: &str) -> Option<nb_router::VouchMode> {
    use nb_router::VouchMode;
    match v.trim() {
        "always" => Some(VouchMode::Always),
        "on-failover" => Some(VouchMode::OnFailover),
        "off" => Some(VouchMode::Off),
        other => other
            .strip_prefix("sampled:")
            .and_then(|p| p.parse::<f64>().ok())
            .filter(|p| (0.0..=1.0).contains(p))
            .map(VouchMode::Sampled),
    }
}

/// The call's options with what the caller asked of vouching: `x-nb-vouch` may ask for
/// more checking than the route's mode, and for less only from a key allowed to;
/// `x-nb-require-equivalence: true` refuses any answer nothing could vouch for. The
/// cache is scoped to the caller unless shared on purpose.
pub(crate) fn caller_vouching(
    g: &Gateway,
    headers: &HeaderMap,
    caller: &str,
    mut opts: CallOptions,
    f: Format,
) -> Result<CallOptions, Box<Response>> {
    if !g.shared_cache {
        opts = opts.with_cache_scope(Some(caller.to_owned()));
    }
    if let Some(v) = headers.get("x-nb-vouch") {
        let Some(mode) = v.to_str().ok().and_then(vouch_mode) else {
            return Err(Box::new(bad_request(
                f,
                "x-nb-vouch: one of always, on-failover, off, sampled:SHARE (0 to 1)",
            )));
        };
        let route_mode = g.router.vouch_mode_of(&opts);
        if vouch_strength(mode) < vouch_strength(route_mode) && !g.may_weaken_vouch.contains(caller)
        {
            return Err(Box::new(error(
                f,
                StatusCode::FORBIDDEN,
                ErrorType::Permission,
                &format!(
                    "x-nb-vouch: this key may not ask for less vouching than its route's ({})",
                    vouch_name(route_mode)
                ),
                None,
            )));
        }
        opts = opts.with_vouch(Some(mode));
    }
    match headers
        .get("x-nb-require-equivalence")
        .map(|v| v.to_str().map(str::trim))
    {
        None | Some(Ok("false")) => {}
        Some(Ok("true")) => opts = opts.require_equivalence(),
        Some(_) => {
            return Err(Box::new(bad_request(
                f,
                "x-nb-require-equivalence: true or false",
            )));
        }
    }
    Ok(opts)
}

/// How much checking a vouching mode asks for, to compare a caller's with a route's.
fn vouch_strength(m: nb_router::VouchMode) -> f64 {
    use nb_router::VouchMode;
    match m {
        VouchMode::Off => 0.0,
        VouchMode::OnFailover => 1.0,
        VouchMode::Sampled(p) => 1.0 + p.clamp(0.0, 1.0),
        _ => 3.0,
    }
}

fn vouch_name(m: nb_router::VouchMode) -> String {
    use nb_router::VouchMode;
    match m {
        VouchMode::Off => "off".into(),
        VouchMode::OnFailover => "on-failover".into(),
        VouchMode::Sampled(p) => format!("sampled:{p}"),
        _ => "always".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vouch_header_takes_each_mode_and_nothing_else() {
        use nb_router::VouchMode;
        assert_eq!(vouch_mode("always"), Some(VouchMode::Always));
        assert_eq!(vouch_mode(" off "), Some(VouchMode::Off));
        assert_eq!(vouch_mode("on-failover"), Some(VouchMode::OnFailover));
        assert_eq!(vouch_mode("sampled:0.25"), Some(VouchMode::Sampled(0.25)));
        for bad in ["sampled:2", "sampled:x", "yes", ""] {
            assert_eq!(vouch_mode(bad), None, "{bad}");
        }
    }
}
