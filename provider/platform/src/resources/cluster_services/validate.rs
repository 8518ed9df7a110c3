//! Static checks on a `platform_cluster_services` configuration, before any AWS or cluster
//! call. Unknown values are skipped: the plan sees them again once known.

use tfplugin_framework::{AttributePath, Diagnostics, Value};

/// The retention values CloudWatch Logs accepts (PutRetentionPolicy refuses any other).
pub const CLOUDWATCH_RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Gateway implementations the resource knows how to configure.
pub const GATEWAY_IMPLEMENTATIONS: &[&str] = &["envoy-gateway"];

/// IAM's limit on role names.
const MAX_ROLE_NAME: usize = 64;

pub fn retention_days(n: i64) -> Result<(), String> {
    if CLOUDWATCH_RETENTION_DAYS.contains(&n) {
        Ok(())
    } else {
        Err(format!(
            "CloudWatch Logs accepts only these retention values (days): {}; got {n}.",
            CLOUDWATCH_RETENTION_DAYS
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// A Prometheus duration: one or more `<number><unit>` with units y, w, d, h, m, s, ms in
/// that order.
pub fn prometheus_duration(s: &str) -> Result<(), String> {
    let units = ["y", "w", "d", "h", "ms", "m", "s"];
    let order = |u: &str| match u {
        "y" => 0,
        "w" => 1,
        "d" => 2,
        "h" => 3,
        "m" => 4,
        "s" => 5,
        _ => 6,
    };
    let bad =
        || format!("{s:?} is not a Prometheus duration such as \"15d\", \"12h\" or \"1w3d\".");
    let mut rest = s;
    let mut last = -1;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        rest = &rest[digits..];
        let unit = units
            .iter()
            .find(|u| rest.starts_with(**u))
            .ok_or_else(bad)?;
        let o = order(unit);
        if o <= last {
            return Err(bad());
        }
        last = o;
        rest = &rest[unit.len()..];
    }
    Ok(())
}

/// An `https://host/...` URL.
pub fn https_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .ok_or_else(|| format!("{s:?} must be an https:// URL (keys fetched over plain HTTP could be forged in transit)."))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(format!("{s:?} has no host."));
    }
    Ok(())
}

fn http_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("{s:?} is not an http(s) URL of a chart repository."))?;
    if rest.split('/').next().unwrap_or_default().is_empty() {
        return Err(format!("{s:?} has no host."));
    }
    Ok(())
}

/// A chart version: non-empty, no spaces.
fn chart_version(s: &str) -> Result<(), String> {
    if s.is_empty() || s.contains(char::is_whitespace) {
        Err(format!("{s:?} is not a chart version."))
    } else {
        Ok(())
    }
}

fn block<'a>(c: &'a Value, name: &str) -> Option<&'a Value> {
    c.get(name).elements().first()
}

/// The `jwt` and `rate_limit` blocks of `api_gateway`, and of a microservice's `gateway` override (`at`
/// is the path of the block holding them).
pub(crate) fn check_jwt_and_rate_limit(
    d: &mut Diagnostics,
    g: &Value,
    at: impl Fn() -> AttributePath,
) {
    if let Some(j) = g.get("jwt").elements().first() {
        let jp = || at().attr("jwt").index(0);
        if let Some(u) = j.get("jwks_uri").as_str() {
            if let Err(e) = https_url(u) {
                d.error_at(jp().attr("jwks_uri"), "JWKS URI must be https", e);
            }
        }
        if j.get("issuer").as_str() == Some("") {
            d.error_at(
                jp().attr("issuer"),
                "Empty issuer",
                "Set the `iss` value the tokens carry.",
            );
        }
        for (i, a) in j.get("audiences").elements().iter().enumerate() {
            if a.as_str() == Some("") {
                d.error_at(
                    jp().attr("audiences").index(i as i64),
                    "Empty audience",
                    "Audiences must be non-empty strings.",
                );
            }
        }
    }
    if let Some(r) = g.get("rate_limit").elements().first() {
        if let Some(n) = r.get("requests_per_minute").as_i64() {
            if n <= 0 {
                d.error_at(
                    at().attr("rate_limit").index(0).attr("requests_per_minute"),
                    "Invalid rate limit",
                    format!("requests_per_minute must be greater than 0, got {n}."),
                );
            }
        }
    }
}

pub fn validate(c: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let at = AttributePath::root;
    if let Some(r) = c.get("chart_repository").as_str() {
        if let Err(e) = http_url(r) {
            d.error_at(at("chart_repository"), "Invalid chart repository", e);
        }
    }
    if let Some(name) = c.get("cluster").get("cluster_name").as_str() {
        let longest = format!("{name}-aws-load-balancer-controller");
        if name.is_empty() || longest.len() > MAX_ROLE_NAME {
            d.error_at(
                at("cluster").attr("cluster_name"),
                "Cluster name too long for the IRSA role names",
                format!("The role {longest:?} would exceed IAM's {MAX_ROLE_NAME} characters; use a cluster name of at most {} characters.", MAX_ROLE_NAME - "-aws-load-balancer-controller".len()),
            );
        }
    }
    for f in ["oidc_issuer_url"] {
        if let Some(u) = c.get("cluster").get(f).as_str() {
            if let Err(e) = https_url(u) {
                d.error_at(at("cluster").attr(f), "Invalid OIDC issuer URL", e);
            }
        }
    }
    if let Some(l) = block(c, "load_balancer_controller") {
        let p = || at("load_balancer_controller").index(0);
        if let Some(n) = l.get("replicas").as_i64() {
            if !(1..=10).contains(&n) {
                d.error_at(
                    p().attr("replicas"),
                    "Invalid replicas",
                    format!("replicas must be 1 to 10, got {n}."),
                );
            }
        }
        if let Some(v) = l.get("version").as_str() {
            if let Err(e) = chart_version(v) {
                d.error_at(p().attr("version"), "Invalid chart version", e);
            }
        }
    }
    if let Some(o) = block(c, "observability") {
        let p = || at("observability").index(0);
        if let Some(n) = o.get("log_retention_in_days").as_i64() {
            if let Err(e) = retention_days(n) {
                d.error_at(
                    p().attr("log_retention_in_days"),
                    "Retention CloudWatch refuses",
                    e,
                );
            }
        }
        if let Some(r) = o.get("prometheus_retention").as_str() {
            if let Err(e) = prometheus_duration(r) {
                d.error_at(
                    p().attr("prometheus_retention"),
                    "Invalid Prometheus retention",
                    e,
                );
            }
        }
        for v in ["fluent_bit_version", "prometheus_stack_version"] {
            if let Some(s) = o.get(v).as_str() {
                if let Err(e) = chart_version(s) {
                    d.error_at(p().attr(v), "Invalid chart version", e);
                }
            }
        }
    }
    if let Some(g) = block(c, "api_gateway") {
        let p = || at("api_gateway").index(0);
        if let Some(i) = g.get("implementation").as_str() {
            if !GATEWAY_IMPLEMENTATIONS.contains(&i) {
                d.error_at(
                    p().attr("implementation"),
                    "Unknown gateway implementation",
                    format!(
                        "{i:?} is not a gateway implementation platformkit configures; use one of: {}.",
                        GATEWAY_IMPLEMENTATIONS.join(", ")
                    ),
                );
            }
        }
        if let Some(v) = g.get("version").as_str() {
            if let Err(e) = chart_version(v) {
                d.error_at(p().attr("version"), "Invalid chart version", e);
            }
        }
        check_jwt_and_rate_limit(&mut d, g, p);
    }
    if let Some(t) = block(c, "timeouts") {
        for op in ["create", "update", "delete"] {
            if let Some(s) = t.get(op).as_str() {
                if let Err(e) = platform_aws::wait::duration(s) {
                    d.error_at(at("timeouts").index(0).attr(op), "Invalid timeout", e);
                }
            }
        }
    }
    if let Value::Map(_) = c.get("tags") {
        platform_aws::tags::validate(
            at("tags"),
            c.get("tags"),
            50,
            " (IAM allows 50 per role)",
            &mut d,
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_values_are_cloudwatchs() {
        assert!(retention_days(30).is_ok());
        assert!(retention_days(3653).is_ok());
        for bad in [0, 2, 31, 10000, -1] {
            assert!(retention_days(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prometheus_durations() {
        for ok in ["15d", "12h", "1w3d", "90m", "1y", "500ms"] {
            assert!(prometheus_duration(ok).is_ok(), "{ok}");
        }
        for bad in ["", "15", "d", "3d1w", "15 d", "15days"] {
            assert!(prometheus_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jwks_must_be_https() {
        assert!(https_url("https://issuer.example/.well-known/jwks.json").is_ok());
        assert!(https_url("http://issuer.example/jwks").is_err());
        assert!(https_url("https:///jwks").is_err());
    }
}
