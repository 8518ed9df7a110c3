//! The bucket policy document: deny any request that does not use TLS.

use serde_json::json;

/// TLS-only policy for `bucket` in `partition` (`aws`, `aws-cn`, `aws-us-gov`).
pub fn tls_only(partition: &str, bucket: &str) -> String {
    let arn = format!("arn:{partition}:s3:::{bucket}");
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn.clone(), format!("{arn}/*")],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}
        }]
    })
    .to_string()
}

/// Whether a policy read back from AWS contains our TLS-only statement (AWS may reformat
/// the JSON, so compare structurally, by the statement id and effect).
pub fn has_tls_statement(policy: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(policy) else {
        return false;
    };
    let stmts = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => return false,
    };
    stmts.iter().any(|s| {
        s["Sid"] == "DenyInsecureTransport"
            && s["Effect"] == "Deny"
            && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_recognises() {
        let p = tls_only("aws", "my-state");
        let v: serde_json::Value = serde_json::from_str(&p).expect("json");
        assert_eq!(v["Statement"][0]["Resource"][1], "arn:aws:s3:::my-state/*");
        assert!(has_tls_statement(&p));
        assert!(!has_tls_statement("{}"));
        assert!(!has_tls_statement("not json"));
    }
}
