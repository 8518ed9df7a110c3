//! Input rules for `platform_frontend`, checked before any AWS call.

pub const PRICE_CLASSES: &[&str] = &["PriceClass_100", "PriceClass_200", "PriceClass_All"];

/// The resource name: it names the OAC and (by default) the bucket.
pub fn name(s: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err("must be 3 to 63 lowercase letters, digits or hyphens, starting with a letter and not ending with a hyphen (it also names the bucket by default)".into())
    }
}

/// S3 naming rules, plus no dots: a dotted bucket name breaks the TLS certificate of the
/// bucket's virtual-hosted endpoint that CloudFront connects to.
pub fn bucket(s: &str) -> Result<(), String> {
    platform_aws::validate::bucket_name(s)?;
    if s.contains('.') {
        return Err("must not contain dots (CloudFront reaches the bucket over TLS at <bucket>.s3.<region>.amazonaws.com, which a dotted name breaks)".into());
    }
    Ok(())
}

/// A DNS host name (lowercase; a leading `*.` wildcard allowed for aliases).
pub fn hostname(s: &str, wildcard: bool) -> Result<(), String> {
    let body = match s.strip_prefix("*.") {
        Some(rest) if wildcard => rest,
        _ => s,
    };
    let labels: Vec<&str> = body.trim_end_matches('.').split('.').collect();
    let ok = s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
    if ok {
        Ok(())
    } else {
        Err("must be a lowercase DNS name such as www.example.com".into())
    }
}

/// Whether `host` is `zone` or inside it.
pub fn in_zone(host: &str, zone: &str) -> bool {
    let (h, z) = (host.trim_end_matches('.'), zone.trim_end_matches('.'));
    h == z || h.ends_with(&format!(".{z}"))
}

/// CloudFront only uses ACM certificates from us-east-1.
pub fn certificate_arn(s: &str) -> Result<(), String> {
    let p: Vec<&str> = s.splitn(6, ':').collect();
    let ok = p.len() == 6
        && p[0] == "arn"
        && p[1].starts_with("aws")
        && p[2] == "acm"
        && p[4].len() == 12
        && p[4].chars().all(|c| c.is_ascii_digit())
        && p[5]
            .strip_prefix("certificate/")
            .is_some_and(|id| !id.is_empty());
    if !ok {
        return Err("must be an ACM certificate ARN such as arn:aws:acm:us-east-1:111111111111:certificate/<id>".into());
    }
    if p[3] != "us-east-1" {
        return Err(format!(
            "is in {}; CloudFront only accepts ACM certificates from us-east-1",
            p[3]
        ));
    }
    Ok(())
}

/// Route53 zone ids are upper-case letters and digits (AWS's start with `Z`; emulators' need not).
pub fn hosted_zone_id(s: &str) -> Result<(), String> {
    let s = s.trim_start_matches("/hostedzone/");
    if (2..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err("must be a Route53 hosted zone id such as Z0123456789ABCDEFGHIJ".into())
    }
}

pub fn root_object(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 255 || s.starts_with('/') || s.contains(char::is_whitespace) {
        Err("must be an object key without a leading `/`, such as index.html".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(name("web-app").is_ok());
        assert!(name("Web").is_err() && name("ab").is_err() && name("web-").is_err());
        assert!(bucket("acme-web").is_ok());
        assert!(bucket("acme.web").is_err() && bucket("A").is_err());
        assert!(hostname("www.your-app.com", true).is_ok());
        assert!(hostname("*.your-app.com", true).is_ok());
        assert!(hostname("*.your-app.com", false).is_err());
        assert!(hostname("WWW.x.com", true).is_err() && hostname("localhost", true).is_err());
        assert!(
            in_zone("www.your-app.com", "your-app.com") && in_zone("your-app.com", "your-app.com.")
        );
        assert!(
            !in_zone("www.other.com", "your-app.com")
                && !in_zone("evilyour-app.com", "your-app.com")
        );
        assert!(certificate_arn("arn:aws:acm:us-east-1:111111111111:certificate/abc").is_ok());
        assert!(
            certificate_arn("arn:aws:acm:eu-west-1:111111111111:certificate/abc")
                .unwrap_err()
                .contains("us-east-1")
        );
        assert!(hosted_zone_id("Z0123456789ABC").is_ok() && hosted_zone_id("zone").is_err());
        assert!(root_object("index.html").is_ok() && root_object("/index.html").is_err());
    }
}
