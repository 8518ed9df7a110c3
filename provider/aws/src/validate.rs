//! Input rules for AWS names and ARNs more than one composite checks, before any AWS call.

/// S3 general-purpose bucket naming rules.
pub fn bucket_name(name: &str) -> Result<(), String> {
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(format!("must be 3 to 63 characters long (is {len})"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "may contain only lower-case letters, digits, dots and hyphens (found {c:?})"
        ));
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[len - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err("must begin and end with a letter or digit".into());
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Err("must not contain two adjacent periods or a period next to a hyphen".into());
    }
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() == 4 && parts.iter().all(|p| p.parse::<u8>().is_ok()) {
        return Err("must not be formatted as an IP address".into());
    }
    for p in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(p) {
            return Err(format!("must not start with the reserved prefix {p:?}"));
        }
    }
    for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(s) {
            return Err(format!("must not end with the reserved suffix {s:?}"));
        }
    }
    Ok(())
}

/// A 12-digit AWS account id.
pub fn account_id(s: &str) -> Result<(), String> {
    if s.len() == 12 && s.chars().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err("must be a 12-digit AWS account id".into())
    }
}

/// `arn:<partition>:<service>:<region>:<account>:<resource>` split into its six fields.
pub fn arn_parts(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (parts[0] == "arn" && parts[1].starts_with("aws")).then_some(parts)
}

/// A KMS key ARN or alias ARN.
pub fn kms_key_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "kms"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && (parts[5].starts_with("key/") || parts[5].starts_with("alias/"))
        && parts[5].len() > 4;
    if ok {
        Ok(())
    } else {
        Err("must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>) or alias ARN".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        for ok in [
            "abc",
            "my-state-bucket",
            "a.b.c",
            "0123",
            "platformkit-quickstart-state",
        ] {
            assert!(bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "under_score",
            "-start",
            "end-",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "abc-s3alias",
            &"a".repeat(64),
        ] {
            assert!(bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kms_arns() {
        assert!(kms_key_arn("arn:aws:kms:us-east-1:111111111111:key/1234abcd").is_ok());
        assert!(kms_key_arn("arn:aws:kms:us-east-1:111111111111:alias/state").is_ok());
        assert!(kms_key_arn("alias/state").is_err());
        assert!(kms_key_arn("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn account_ids_and_arns() {
        assert!(account_id("111111111111").is_ok());
        assert!(account_id("11111111111a").is_err());
        assert_eq!(
            arn_parts("arn:aws:iam::111111111111:role/a/b"),
            Some(["arn", "aws", "iam", "", "111111111111", "role/a/b"])
        );
        assert_eq!(arn_parts("arn:foo:iam::1:x"), None);
    }
}
