//! Input rules for the state backend, checked before any AWS call.

use tfplugin_framework::{AttributePath, Diagnostics, Value};

pub use platform_aws::validate::{bucket_name, kms_key_arn};

/// DynamoDB table names: 3-255 characters of letters, digits, `_`, `-` and `.`.
pub fn table_name(name: &str) -> Result<(), String> {
    if !(3..=255).contains(&name.len()) {
        return Err(format!(
            "must be 3 to 255 characters long (is {})",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "may contain only letters, digits, underscores, hyphens and dots (found {c:?})"
        ));
    }
    Ok(())
}

/// User tags: AWS limits and the keys the provider reserves.
pub fn tags(path: AttributePath, tags: &Value, d: &mut Diagnostics) {
    let note = " (S3 allows 50 and the provider adds its own)";
    platform_aws::tags::validate(path, tags, 40, note, d);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert!(table_name("my-state-lock").is_ok());
        assert!(table_name("ab").is_err());
        assert!(table_name("has space").is_err());
    }

    #[test]
    fn reserved_tags() {
        let mut d = Diagnostics::new();
        tags(
            AttributePath::root("tags"),
            &Value::string_map([("platform:owner", "x"), ("ok", "y")]),
            &mut d,
        );
        assert_eq!(d.0.len(), 1);
        assert_eq!(
            d.0[0].path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("tags[\"platform:owner\"]")
        );
    }
}
