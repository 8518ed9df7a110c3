//! Input rules for `platform_microservice`, checked before any AWS call. Each function returns
//! `Err(why)` with a sentence fragment the caller puts behind the offending value.

/// Service names become the ECR repository, the IAM role (`<name>-irsa`), the Kubernetes
/// Deployment/Service/ServiceAccount and the Helm release, so the strictest rule wins: an
/// RFC 1035 label of at most 53 characters (Helm's release-name limit).
pub fn service_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 53 {
        return Err("must be 1 to 53 characters (it is also the Helm release name)".into());
    }
    dns_label_chars(s)?;
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter".into());
    }
    Ok(())
}

/// A Kubernetes namespace: an RFC 1123 label.
pub fn namespace(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    dns_label_chars(s)
}

fn dns_label_chars(s: &str) -> Result<(), String> {
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("may contain only lowercase letters, digits and hyphens".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

/// Tags are immutable in the repository, so a moving tag like `latest` could never be pushed
/// twice: only a git commit SHA (7-40 hex digits) or a semantic version is accepted.
pub fn image_tag(s: &str) -> Result<(), String> {
    if s.eq_ignore_ascii_case("latest") {
        return Err("is refused: the repository's tags are immutable, so deploy a git commit SHA or a semantic version instead of a moving tag".into());
    }
    if is_git_sha(s) || is_semver(s) {
        return Ok(());
    }
    if s.contains('+') && is_semver_with_build(s) {
        return Err("is a semantic version with build metadata; `+` is not allowed in an image tag (use `-` instead)".into());
    }
    Err("must be a git commit SHA (7 to 40 lowercase hex digits) or a semantic version such as 1.4.2, v1.4.2 or 1.4.2-rc.1".into())
}

fn is_git_sha(s: &str) -> bool {
    (7..=40).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn numeric_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

fn dotted_ids(s: &str) -> bool {
    s.split('.')
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

/// `[v]MAJOR.MINOR.PATCH[-PRERELEASE]`, the semver 2.0 grammar without build metadata.
fn is_semver(s: &str) -> bool {
    let s = s.strip_prefix('v').unwrap_or(s);
    let (core, pre) = match s.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (s, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric_id(p))
        && pre.is_none_or(dotted_ids)
        && s.len() <= 128
}

fn is_semver_with_build(s: &str) -> bool {
    match s.split_once('+') {
        Some((v, build)) => is_semver(v) && dotted_ids(build),
        None => false,
    }
}

/// Containers run as a non-root user, which cannot bind privileged ports.
pub fn container_port(p: i64) -> Result<(), String> {
    if (1024..=65535).contains(&p) {
        Ok(())
    } else {
        Err(format!("must be from 1024 to 65535 (containers run as a non-root user, which cannot bind ports below 1024), got {p}"))
    }
}

pub const MAX_REPLICAS: i64 = 100;

pub fn replicas(n: i64) -> Result<(), String> {
    if (1..=MAX_REPLICAS).contains(&n) {
        Ok(())
    } else {
        Err(format!("must be from 1 to {MAX_REPLICAS}, got {n}"))
    }
}

/// A route on the in-cluster gateway: `/` or `/segment[/segment...]`, no trailing slash.
pub fn path_prefix(s: &str) -> Result<(), String> {
    if s == "/" {
        return Ok(());
    }
    let Some(rest) = s.strip_prefix('/') else {
        return Err("must start with `/`".into());
    };
    if s.len() > 256 {
        return Err("must be at most 256 characters".into());
    }
    for seg in rest.split('/') {
        if seg.is_empty() {
            return Err(
                "must not contain empty segments or end with `/` (write `/mobile`, not `/mobile/`)"
                    .into(),
            );
        }
        if !seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        {
            return Err("may contain only letters, digits, `-`, `.`, `_`, `~` and `/`".into());
        }
    }
    Ok(())
}

pub const RESOURCE_KEYS: &[&str] = &["cpu_request", "cpu_limit", "memory_request", "memory_limit"];

/// A Kubernetes quantity as people write them: `250m`, `0.5`, `2`, `512Mi`, `1Gi`.
pub fn quantity(key: &str, s: &str) -> Result<(), String> {
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let num_ok = !num.is_empty()
        && !num.starts_with('.')
        && !num.ends_with('.')
        && num.matches('.').count() <= 1;
    let suffixes: &[&str] = if key.starts_with("cpu") {
        &["", "m"]
    } else {
        &["", "k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti"]
    };
    if num_ok && suffixes.contains(&suffix) && num.chars().any(|c| c != '0' && c != '.') {
        Ok(())
    } else if key.starts_with("cpu") {
        Err("must be a positive CPU quantity such as 250m, 0.5 or 2".into())
    } else {
        Err("must be a positive memory quantity such as 128Mi, 1Gi or 512M".into())
    }
}

/// An environment variable name (C identifier, as Kubernetes recommends).
pub fn env_name(s: &str) -> Result<(), String> {
    let ok = s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err("must be a letter or `_` followed by letters, digits or `_`".into())
    }
}

pub use platform_aws::validate::account_id;
use platform_aws::validate::arn_parts;

pub fn policy_arn(s: &str) -> Result<(), String> {
    match arn_parts(s) {
        Some([_, _, "iam", "", acct, res])
            if (acct == "aws" || account_id(acct).is_ok())
                && res.strip_prefix("policy/").is_some_and(|n| !n.is_empty()) =>
        {
            Ok(())
        }
        _ => Err("must be an IAM policy ARN such as arn:aws:iam::aws:policy/ReadOnlyAccess".into()),
    }
}

pub fn role_arn(s: &str) -> Result<(), String> {
    match arn_parts(s) {
        Some([_, _, "iam", "", acct, res])
            if account_id(acct).is_ok()
                && res.strip_prefix("role/").is_some_and(|n| !n.is_empty()) =>
        {
            Ok(())
        }
        _ => Err("must be an IAM role ARN such as arn:aws:iam::111111111111:role/nodes".into()),
    }
}

pub fn kms_key_arn(s: &str) -> Result<(), String> {
    match arn_parts(s) {
        Some([_, _, "kms", region, acct, res])
            if !region.is_empty()
                && account_id(acct).is_ok()
                && res.strip_prefix("key/").is_some_and(|k| !k.is_empty()) =>
        {
            Ok(())
        }
        _ => Err(
            "must be a KMS key ARN such as arn:aws:kms:eu-west-1:111111111111:key/<key-id>".into(),
        ),
    }
}

pub use platform_aws::irsa::issuer_host_path;

pub fn oidc_issuer_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .ok_or_else(|| "must be an https:// URL (the cluster's OIDC issuer)".to_string())?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err("must be an https:// URL with a host".into());
    }
    Ok(())
}

/// The provider ARN must name the issuer, or the trust policy would point at the wrong IdP.
pub fn oidc_provider_arn(s: &str, issuer_url: Option<&str>) -> Result<(), String> {
    let host = match arn_parts(s) {
        Some([_, _, "iam", "", acct, res]) if account_id(acct).is_ok() => {
            res.strip_prefix("oidc-provider/").filter(|h| !h.is_empty())
        }
        _ => None,
    };
    let Some(host) = host else {
        return Err("must be an IAM OIDC provider ARN such as arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLE".into());
    };
    if let Some(url) = issuer_url {
        if issuer_host_path(url) != host {
            return Err(format!("names the issuer {host:?}, but oidc_issuer_url is {url:?}; both must describe the same cluster"));
        }
    }
    Ok(())
}

/// The account an IAM ARN lives in.
pub fn arn_account(s: &str) -> Option<&str> {
    arn_parts(s).map(|p| p[4]).filter(|a| account_id(a).is_ok())
}

pub fn cluster_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 100
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err("must be an EKS cluster name: 1 to 100 letters, digits, `-` or `_`, starting with a letter or digit".into())
    }
}

/// An inline IAM policy: a JSON object with a `Statement`, within IAM's 10,240-character limit.
pub fn policy_json(s: &str) -> Result<(), String> {
    if s.len() > 10_240 {
        return Err(format!(
            "is {} characters; an inline role policy may have at most 10,240",
            s.len()
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| format!("is not valid JSON ({e})"))?;
    if !v.is_object() || v.get("Statement").is_none() {
        return Err("must be a JSON policy document with a `Statement` (use jsonencode or aws_iam_policy_document)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["api-gateway", "mobile-service", "a", "login2"] {
            assert!(service_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Api", "1svc", "svc-", "-svc", "a_b", &"a".repeat(54)] {
            assert!(service_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        for ok in [
            "0123abc",
            "0123456789abcdef0123456789abcdef01234567",
            "1.2.3",
            "v1.2.3",
            "1.0.0-rc.1",
            "10.20.30-alpha-2",
        ] {
            assert!(image_tag(ok).is_ok(), "{ok}");
        }
        for bad in [
            "latest",
            "LATEST",
            "main",
            "1.2",
            "01.2.3",
            "abc12",
            "1.2.3+build.5",
            "1.2.3-",
            "v1.2.3-rc..1",
            "0123ABC",
        ] {
            assert!(image_tag(bad).is_err(), "{bad}");
        }
        assert!(image_tag("latest").unwrap_err().contains("immutable"));
        assert!(image_tag("1.2.3+b").unwrap_err().contains("build metadata"));
    }

    #[test]
    fn ports_and_replicas() {
        assert!(container_port(8080).is_ok());
        assert!(container_port(80).is_err());
        assert!(container_port(70000).is_err());
        assert!(replicas(1).is_ok() && replicas(100).is_ok());
        assert!(replicas(0).is_err() && replicas(101).is_err());
    }

    #[test]
    fn paths() {
        for ok in ["/", "/mobile", "/api/v1", "/a.b~c_d-e"] {
            assert!(path_prefix(ok).is_ok(), "{ok}");
        }
        for bad in ["", "mobile", "/mobile/", "//x", "/a b", "/a?b"] {
            assert!(path_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quantities() {
        assert!(quantity("cpu_request", "250m").is_ok());
        assert!(quantity("cpu_limit", "0.5").is_ok());
        assert!(quantity("cpu_limit", "2").is_ok());
        assert!(quantity("memory_limit", "512Mi").is_ok());
        assert!(quantity("memory_limit", "1Gi").is_ok());
        for (k, bad) in [
            ("cpu_request", "250Mi"),
            ("cpu_request", "0"),
            ("memory_request", "1GB"),
            ("memory_request", ""),
            ("cpu_limit", "1."),
        ] {
            assert!(quantity(k, bad).is_err(), "{k}={bad}");
        }
    }

    #[test]
    fn arns() {
        assert!(policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess").is_ok());
        assert!(policy_arn("arn:aws:iam::111111111111:policy/team/x").is_ok());
        assert!(policy_arn("arn:aws:iam::111111111111:role/x").is_err());
        assert!(role_arn("arn:aws:iam::111111111111:role/nodes").is_ok());
        assert!(role_arn("nodes").is_err());
        assert!(kms_key_arn("arn:aws:kms:eu-west-1:111111111111:key/abc").is_ok());
        assert!(kms_key_arn("alias/x").is_err());
        let url = "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC";
        let arn = "arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC";
        assert!(oidc_issuer_url(url).is_ok());
        assert!(oidc_issuer_url("http://x").is_err());
        assert!(oidc_provider_arn(arn, Some(url)).is_ok());
        assert!(oidc_provider_arn(arn, Some("https://other/id/X")).is_err());
        assert_eq!(arn_account(arn), Some("111111111111"));
    }

    #[test]
    fn policies() {
        assert!(policy_json(r#"{"Version":"2012-10-17","Statement":[]}"#).is_ok());
        assert!(policy_json("{").is_err());
        assert!(policy_json("[]").is_err());
        assert!(policy_json(&format!("{{\"Statement\":\"{}\"}}", "x".repeat(10_300))).is_err());
    }
}
