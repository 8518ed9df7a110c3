//! Policy documents: the TLS-only bucket statement, and comparing a document AWS returns with
//! the one we want semantically, since AWS may reorder keys, collapse one-element arrays or
//! URL-encode what it returns.

use serde_json::{json, Value as J};

/// The statement denying any request to `bucket` (in `partition`) that does not use TLS.
pub fn tls_only_statement(partition: &str, bucket: &str) -> J {
    let arn = format!("arn:{partition}:s3:::{bucket}");
    json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn.clone(), format!("{arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })
}

/// TLS-only bucket policy for `bucket` in `partition` (`aws`, `aws-cn`, `aws-us-gov`).
pub fn tls_only(partition: &str, bucket: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [tls_only_statement(partition, bucket)]
    })
    .to_string()
}

/// Whether a policy read back from AWS contains the TLS-only statement (AWS may reformat
/// the JSON, so compare structurally, by the statement id and effect).
pub fn has_tls_statement(policy: &str) -> bool {
    let Ok(doc) = serde_json::from_str::<J>(policy) else {
        return false;
    };
    let stmts = match &doc["Statement"] {
        J::Array(a) => a.clone(),
        s @ J::Object(_) => vec![s.clone()],
        _ => return false,
    };
    stmts.iter().any(|s| {
        s["Sid"] == "DenyInsecureTransport"
            && s["Effect"] == "Deny"
            && s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    })
}

/// Decodes `%XX` escapes (IAM returns policy documents URL-encoded).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Some(x) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(x);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A policy document as returned by AWS, URL-decoded when needed, normalised so that a
/// one-element array and its single value compare equal (IAM and ECR collapse them).
pub fn parse_document(text: &str) -> Option<J> {
    let v = serde_json::from_str::<J>(text)
        .ok()
        .or_else(|| serde_json::from_str::<J>(&url_decode(text)).ok())?;
    Some(normalise(v))
}

fn normalise(v: J) -> J {
    match v {
        J::Array(a) if a.len() == 1 => normalise(a.into_iter().next().unwrap_or(J::Null)),
        J::Array(a) => {
            let mut items: Vec<J> = a.into_iter().map(normalise).collect();
            items.sort_by_key(|x| x.to_string());
            J::Array(items)
        }
        J::Object(m) => J::Object(m.into_iter().map(|(k, v)| (k, normalise(v))).collect()),
        other => other,
    }
}

/// Whether the document AWS returned says the same as the one we want.
pub fn same_document(actual: &str, wanted: &J) -> bool {
    parse_document(actual).is_some_and(|a| a == normalise(wanted.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_only_renders_and_recognises() {
        let p = tls_only("aws", "my-state");
        let v: J = serde_json::from_str(&p).expect("json");
        assert_eq!(v["Statement"][0]["Resource"][1], "arn:aws:s3:::my-state/*");
        assert!(has_tls_statement(&p));
        assert!(!has_tls_statement("{}"));
        assert!(!has_tls_statement("not json"));
    }

    #[test]
    fn documents_compare_semantically() {
        let want =
            json!({"Version": "2012-10-17", "Statement": [{"Action": ["a"], "Effect": "Allow"}]});
        assert!(same_document(
            r#"{"Statement":{"Effect":"Allow","Action":"a"},"Version":"2012-10-17"}"#,
            &want
        ));
        assert!(same_document("%7B%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22a%22%7D%2C%22Version%22%3A%222012-10-17%22%7D", &want));
        assert!(!same_document(r#"{"Statement":[]}"#, &want));
        assert_eq!(url_decode("a%2Fb"), "a/b");
    }
}
