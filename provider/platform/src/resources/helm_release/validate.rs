//! Static checks on a `platform_helm_release` configuration, before any cluster call:
//! names Kubernetes and Helm accept, a chart reference of one of the three forms, values that
//! parse as a YAML or JSON mapping, and timeouts.

use serde_json::Value as Json;
use tfplugin_framework::{AttributePath, Diagnostics, Value};

/// Helm's release-name rule: a DNS-1123 label of at most 53 characters (Helm appends
/// suffixes to reach Kubernetes' 63).
pub fn release_name(name: &str) -> Result<(), String> {
    dns_label(name, 53)
}

/// A namespace name: a DNS-1123 label of at most 63 characters.
pub fn namespace(name: &str) -> Result<(), String> {
    dns_label(name, 63)
}

fn dns_label(s: &str, max: usize) -> Result<(), String> {
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = s
        .bytes()
        .next()
        .zip(s.bytes().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if s.is_empty() || s.len() > max || !ok_chars || !ok_ends {
        Err(format!(
            "{s:?} must be 1-{max} characters of lowercase letters, digits and '-', starting and ending with a letter or digit."
        ))
    } else {
        Ok(())
    }
}

/// An `oci://host[:port]/path/to/chart` reference (the version goes in `version`).
pub fn oci_reference(r: &str) -> Result<(), String> {
    let rest = r
        .strip_prefix("oci://")
        .ok_or_else(|| format!("{r:?} does not start with oci://"))?;
    let (host, path) = rest
        .split_once('/')
        .ok_or_else(|| format!("{r:?} has no repository path after the registry host"))?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    if !host_ok {
        return Err(format!("{r:?}: {host:?} is not a registry host"));
    }
    for seg in path.split('/') {
        let valid = !seg.is_empty()
            && seg.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && seg
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric());
        if !valid {
            return Err(format!(
                "{r:?}: {seg:?} is not a repository path component (lowercase letters, digits, '.', '_', '-'; a tag belongs in `version`)"
            ));
        }
    }
    Ok(())
}

/// The values as a JSON mapping, from YAML or JSON text (JSON is YAML).
pub fn values_document(text: &str) -> Result<Json, String> {
    if text.trim().is_empty() {
        return Ok(Json::Object(Default::default()));
    }
    let v: Json = serde_yaml::from_str(text).map_err(|e| format!("not YAML or JSON: {e}"))?;
    match v {
        Json::Object(_) => Ok(v),
        Json::Null => Ok(Json::Object(Default::default())),
        other => Err(format!(
            "values must be a mapping of keys to values, not {}",
            match other {
                Json::Array(_) => "a list",
                Json::String(_) => "a string",
                _ => "a scalar",
            }
        )),
    }
}

/// Every static check; unknown values are skipped (the plan sees them again once known).
pub fn validate(c: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    let at = AttributePath::root;
    if let Some(n) = c.get("name").as_str() {
        if let Err(e) = release_name(n) {
            d.error_at(at("name"), "Invalid release name", e);
        }
    }
    if let Some(n) = c.get("namespace").as_str() {
        if let Err(e) = namespace(n) {
            d.error_at(at("namespace"), "Invalid namespace", e);
        }
    }
    let repository = c.get("repository").as_str();
    if let Some(chart) = c.get("chart").as_str() {
        if chart.trim().is_empty() {
            d.error_at(
                at("chart"),
                "Empty chart",
                "Set a local chart path, a chart name with `repository`, or an oci:// reference.",
            );
        } else if chart.starts_with("oci:") {
            if let Err(e) = oci_reference(chart) {
                d.error_at(at("chart"), "Invalid OCI chart reference", e);
            }
            if repository.is_some() {
                d.error_at(
                    at("repository"),
                    "repository with an OCI chart",
                    "An oci:// chart names its registry itself: remove `repository`.",
                );
            }
        } else if repository.is_some() && (chart.contains('/') || chart.starts_with('.')) {
            d.error_at(
                at("chart"),
                "Chart path with a repository",
                format!("With `repository`, `chart` is a chart name in that repository (e.g. \"nginx\"), not a path ({chart:?})."),
            );
        }
    }
    if let Some(r) = repository {
        if !(r.starts_with("https://") || r.starts_with("http://")) {
            d.error_at(
                at("repository"),
                "Invalid chart repository",
                format!("{r:?} is not an http(s) URL of a chart repository."),
            );
        }
    }
    if let Some(v) = c.get("values").as_str() {
        if let Err(e) = values_document(v) {
            d.error_at(at("values"), "Invalid values", e);
        }
    }
    if let Some(n) = c.get("max_history").as_i64() {
        if !(0..=1000).contains(&n) {
            d.error_at(
                at("max_history"),
                "Invalid max_history",
                format!("max_history must be 0 (unlimited) to 1000, got {n}."),
            );
        }
    }
    if let Some(t) = c.get("timeouts").elements().first() {
        for op in ["create", "update", "delete"] {
            if let Some(s) = t.get(op).as_str() {
                if let Err(e) = platform_aws::wait::duration(s) {
                    d.error_at(at("timeouts").index(0).attr(op), "Invalid timeout", e);
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_names_follow_helm() {
        assert!(release_name("mobile-service").is_ok());
        assert!(release_name("Mobile").is_err());
        assert!(release_name("-x").is_err());
        assert!(release_name(&"a".repeat(54)).is_err());
        assert!(namespace(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn oci_references() {
        assert!(oci_reference("oci://127.0.0.1:5000/charts/microservice").is_ok());
        assert!(oci_reference("oci://registry.example/charts/app").is_ok());
        for bad in [
            "oci://",
            "oci:///chart",
            "oci://registry",
            "oci://registry/Charts",
            "oci://registry/chart:1.0.0",
            "oci://registry//chart",
            "oci:registry/chart",
        ] {
            assert!(oci_reference(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn values_are_a_mapping_in_yaml_or_json() {
        assert_eq!(values_document("{\"a\": 1}").expect("json")["a"], 1);
        assert_eq!(
            values_document("a:\n  b: x\n").expect("yaml")["a"]["b"],
            "x"
        );
        assert!(values_document("").expect("empty").is_object());
        assert!(values_document("[1, 2]").is_err());
        assert!(values_document("a: [").is_err());
    }

    #[test]
    fn diagnostics_point_at_the_attribute() {
        let c = Value::object([
            ("name", Value::from("Bad_Name")),
            ("chart", Value::from("oci://registry")),
            ("values", Value::from("- 1")),
        ]);
        let d = validate(&c);
        let text = format!("{d:?}");
        for attr in ["name", "chart", "values"] {
            assert!(
                text.contains(&format!("AttributeName(\"{attr}\")")) || text.contains(attr),
                "{text}"
            );
        }
        assert!(d.has_errors());
    }
}
