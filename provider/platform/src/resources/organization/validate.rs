//! Input rules for organizations objects, checked before any AWS call (moto checks almost
//! none of them, and AWS only rejects them half-way through an apply).

use tfplugin_framework::{AttributePath, Diagnostics, Value};

/// Tags on OUs, accounts and policies: at most 45 user tags (Organizations allows 50 and
/// the provider adds its own), no reserved prefixes, AWS's key/value lengths.
pub fn tags(t: &Value, d: &mut Diagnostics) {
    platform_aws::tags::validate(AttributePath::root("tags"), t, 45, "", d);
}

/// An account's root email: AWS's pattern is `[^\s@]+@[^\s@]+\.[^\s@]+`, 6-64 characters;
/// we also refuse what no mail system delivers (empty labels, a one-letter TLD).
pub fn email(e: &str) -> Result<(), String> {
    if !(6..=64).contains(&e.len()) {
        return Err(format!("must be 6 to 64 characters long (is {})", e.len()));
    }
    let Some((local, domain)) = e.split_once('@') else {
        return Err("has no \"@\"".into());
    };
    if local.is_empty() || domain.contains('@') {
        return Err("must be local-part@domain with exactly one \"@\"".into());
    }
    if let Some(c) = local
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(*c)))
    {
        return Err(format!("has an invalid character {c:?} before the \"@\""));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("has a misplaced dot before the \"@\"".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(format!("has no top-level domain in {domain:?}"));
    }
    for l in &labels {
        if l.is_empty()
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(format!("has an invalid domain {domain:?}"));
        }
    }
    let tld = labels[labels.len() - 1];
    if tld.len() < 2 || !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!("has an invalid top-level domain {tld:?}"));
    }
    Ok(())
}

/// Account names: 1-50 printable ASCII characters, no leading or trailing space.
pub fn account_name(n: &str) -> Result<(), String> {
    if n.is_empty() || n.len() > 50 {
        return Err(format!("must be 1 to 50 characters long (is {})", n.len()));
    }
    if let Some(c) = n.chars().find(|c| !(' '..='~').contains(c)) {
        return Err(format!("may contain only printable ASCII (found {c:?})"));
    }
    if n.trim() != n {
        return Err("must not start or end with a space".into());
    }
    Ok(())
}

/// OU names: 1-64 characters of letters, digits, space, `-`, `_` and `.`. Stricter than
/// AWS (1-128 of anything) because the OU name also prefixes its policies' names.
pub fn ou_name(n: &str) -> Result<(), String> {
    if n.is_empty() || n.len() > 64 {
        return Err(format!("must be 1 to 64 characters long (is {})", n.len()));
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.')))
    {
        return Err(format!(
            "may contain only letters, digits, spaces, hyphens, underscores and dots (found {c:?})"
        ));
    }
    if n.trim() != n {
        return Err("must not start or end with a space".into());
    }
    Ok(())
}

/// IAM role names: 1-64 characters of letters, digits and `+=,.@_-`.
pub fn role_name(n: &str) -> Result<(), String> {
    if n.is_empty() || n.len() > 64 {
        return Err(format!("must be 1 to 64 characters long (is {})", n.len()));
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        return Err(format!("has an invalid character {c:?}"));
    }
    Ok(())
}

/// A parent: the root (`r-` and 4-32 lower-case letters or digits) or an OU
/// (`ou-<root part>-<8-32 characters>`).
pub fn parent_id(id: &str) -> Result<(), String> {
    let lower_digits = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    if let Some(r) = id.strip_prefix("r-") {
        if (4..=32).contains(&r.len()) && lower_digits(r) {
            return Ok(());
        }
    } else if let Some(rest) = id.strip_prefix("ou-") {
        if let Some((a, b)) = rest.split_once('-') {
            if (4..=32).contains(&a.len())
                && lower_digits(a)
                && (8..=32).contains(&b.len())
                && lower_digits(b)
            {
                return Ok(());
            }
        }
    }
    Err("is not a root id (r-xxxx) or an organizational unit id (ou-xxxx-xxxxxxxx)".into())
}

pub use platform_aws::wait::duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "aws+dev@example.com",
            "a.b@sub.example.org",
            "x1@ex-ample.io",
        ] {
            assert!(email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "not-an-email",
            "a@b",
            "a@@example.com",
            "a b@example.com",
            "@example.com",
            "a@example.c",
            "a@-x.com",
            ".a@example.com",
            "a@example..com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert!(account_name("ProjectA-Dev").is_ok());
        assert!(account_name("").is_err());
        assert!(account_name(&"x".repeat(51)).is_err());
        assert!(account_name(" x").is_err());
        assert!(ou_name("OU-Project-A").is_ok());
        assert!(ou_name("bad/name").is_err());
        assert!(role_name("OrganizationAccountAccessRole").is_ok());
        assert!(role_name("bad role").is_err());
    }

    #[test]
    fn parents() {
        assert!(parent_id("r-ab12").is_ok());
        assert!(parent_id("ou-ab12-abcd1234").is_ok());
        assert!(parent_id("ou-ab12").is_err());
        assert!(parent_id("root").is_err());
        assert!(parent_id("r-AB12").is_err());
    }
}
