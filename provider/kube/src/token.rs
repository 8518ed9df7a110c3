//! Bearer tokens for the Kubernetes API of an Amazon EKS cluster.
//!
//! EKS does not issue Kubernetes credentials of its own. Instead, its authenticator
//! accepts a *presigned* STS `GetCallerIdentity` URL as bearer token: it replays the
//! request against STS and maps the returned IAM principal to Kubernetes users and
//! groups. This is the algorithm used by `aws-iam-authenticator token` and
//! `aws eks get-token`, reimplemented here so the provider needs neither binary
//! nor a kubeconfig `exec` plugin.
//!
//! The token is `k8s-aws-v1.` followed by the unpadded base64url encoding of the
//! presigned URL. The URL signs the extra header `x-k8s-aws-id: <cluster name>`,
//! which binds the token to a single cluster: a token minted for one cluster is
//! rejected by every other cluster, even in the same account.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningError, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

/// Prefix EKS expects in front of the encoded presigned URL.
pub const TOKEN_PREFIX: &str = "k8s-aws-v1.";

/// Header that binds the presigned request to one cluster; EKS checks that it is signed.
const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";

/// Signing name of STS.
const STS_SERVICE: &str = "sts";

/// The request being presigned; EKS only ever replays `GetCallerIdentity`.
const STS_QUERY: &str = "Action=GetCallerIdentity&Version=2011-06-15";

/// `X-Amz-Expires` of the presigned URL.
///
/// aws-iam-authenticator uses 60 s. EKS ignores it and accepts a token for
/// 15 minutes after `X-Amz-Date`, so callers should refresh well before that.
const PRESIGN_EXPIRES: Duration = Duration::from_secs(60);

/// Input for [`eks_token`].
#[derive(Debug, Clone, Copy)]
pub struct EksTokenRequest<'a> {
    /// Name of the EKS cluster (not its ARN); signed as `x-k8s-aws-id`.
    pub cluster_name: &'a str,
    /// Region of the cluster, e.g. `eu-central-1`; used for both the STS host and the
    /// signing scope, since EKS validates against the regional STS endpoint.
    pub region: &'a str,
    /// Replaces scheme and host of the STS URL, e.g. `http://127.0.0.1:5000` for a
    /// local STS emulator. Must be `scheme://host[:port]` with at most a trailing `/`.
    pub sts_endpoint: Option<&'a str>,
    /// Signing time; `SystemTime::now()` outside tests.
    pub time: SystemTime,
}

/// Why a token could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// EKS would reject a token bound to no cluster, so fail early instead.
    #[error("EKS cluster name is empty")]
    EmptyClusterName,
    /// The name is signed as a header value; characters that canonicalisation would
    /// alter (whitespace, control characters, non-ASCII) would make the signature
    /// depend on how the verifier normalises them.
    #[error("EKS cluster name {0:?} contains characters not allowed in an HTTP header")]
    InvalidClusterName(String),
    /// The region becomes part of a host name and the signing scope.
    #[error("invalid AWS region {0:?}: expected lowercase letters, digits and '-'")]
    InvalidRegion(String),
    /// The override must name only scheme, host and optional port.
    #[error("invalid STS endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint {
        /// The rejected value.
        endpoint: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signing parameters could not be assembled.
    #[error("building SigV4 signing parameters failed: {0}")]
    SigningParams(#[from] v4::signing_params::BuildError),
    /// aws-sigv4 refused to sign the request.
    #[error("SigV4 presigning failed: {0}")]
    Signing(#[from] SigningError),
}

/// Builds an EKS bearer token from `credentials`.
///
/// Tokens are valid 15 minutes after signing on EKS's side; the URL itself says
/// 60 s, as aws-iam-authenticator does.
///
/// The credentials are used as given (no refresh, no expiry check): resolving
/// and caching them is the caller's job, and a token signed with expired
/// credentials is simply rejected by EKS.
pub fn eks_token(
    req: &EksTokenRequest<'_>,
    credentials: &Credentials,
) -> Result<String, TokenError> {
    validate_cluster_name(req.cluster_name)?;
    validate_region(req.region)?;
    let base = match req.sts_endpoint {
        Some(endpoint) => endpoint_base(endpoint)?,
        None => default_sts_base(req.region),
    };
    let url = format!("{base}/?{STS_QUERY}");

    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(PRESIGN_EXPIRES);

    // `Identity` comes from aws-smithy-runtime-api; letting inference pick it keeps
    // that crate out of our direct dependencies.
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(req.region)
        .name(STS_SERVICE)
        .time(req.time)
        .settings(settings)
        .build()?
        .into();

    let signable = SignableRequest::new(
        "GET",
        url.as_str(),
        std::iter::once((CLUSTER_ID_HEADER, req.cluster_name)),
        SignableBody::Bytes(&[]),
    )?;
    let (instructions, _signature) = sign(signable, &params)?.into_parts();

    // In query mode the instructions carry only query parameters (algorithm,
    // credential, date, expires, signed headers, signature, security token); the
    // header itself is not part of the URL and is sent by EKS when it replays it.
    let mut request = http::Request::new(());
    *request.uri_mut() = http::Uri::try_from(url.as_str()).map_err(|_| {
        // Unreachable in practice: `SignableRequest::new` already parsed the same string.
        TokenError::InvalidEndpoint {
            endpoint: base.clone(),
            reason: "does not form a valid URL",
        }
    })?;
    instructions.apply_to_request_http1x(&mut request);
    let presigned = request.uri().to_string();

    Ok(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(presigned.as_bytes())
    ))
}

fn validate_cluster_name(name: &str) -> Result<(), TokenError> {
    if name.is_empty() {
        return Err(TokenError::EmptyClusterName);
    }
    // Visible ASCII only: anything else is either rejected by `http` or rewritten by
    // SigV4 header canonicalisation (trimming, space folding).
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TokenError::InvalidClusterName(name.to_owned()));
    }
    Ok(())
}

fn validate_region(region: &str) -> Result<(), TokenError> {
    let ok = !region.is_empty()
        && !region.starts_with('-')
        && !region.ends_with('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(TokenError::InvalidRegion(region.to_owned()))
    }
}

/// Regional STS endpoint; the China partition lives under a different DNS suffix.
fn default_sts_base(region: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://sts.{region}.{suffix}")
}

/// Normalises an endpoint override to `scheme://authority` (no trailing slash).
///
/// Checked here because aws-sigv4 panics on a URL without host, and a path or query
/// would silently change what is signed.
fn endpoint_base(endpoint: &str) -> Result<String, TokenError> {
    let invalid = |reason| TokenError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason,
    };
    let uri: http::Uri = endpoint.parse().map_err(|_| invalid("not a valid URL"))?;
    let scheme = match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => s,
        _ => return Err(invalid("scheme must be http or https")),
    };
    let authority = match uri.authority() {
        Some(a) if !a.host().is_empty() => a,
        _ => return Err(invalid("host is missing")),
    };
    if authority.as_str().contains('@') {
        return Err(invalid("user info is not allowed"));
    }
    if !matches!(uri.path(), "" | "/") {
        return Err(invalid("path is not allowed"));
    }
    if uri.query().is_some() {
        return Err(invalid("query is not allowed"));
    }
    Ok(format!("{}://{}", scheme.to_ascii_lowercase(), authority))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};

    const AKID: &str = "AKIDEXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    /// Contains `+`, `/` and `=` so query encoding is exercised.
    const SESSION_TOKEN: &str = "FQoGZXIvYXdzE+example/session=token";
    const REGION: &str = "eu-central-1";

    /// 2026-11-29T12:00:00Z
    fn fixed_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_953_600)
    }

    fn creds(token: Option<&str>) -> Credentials {
        Credentials::new(AKID, SECRET, token.map(str::to_owned), None, "test")
    }

    fn request<'a>(region: &'a str, endpoint: Option<&'a str>) -> EksTokenRequest<'a> {
        EksTokenRequest {
            cluster_name: "demo",
            region,
            sts_endpoint: endpoint,
            time: fixed_time(),
        }
    }

    fn decode_url(token: &str) -> String {
        let encoded = token.strip_prefix(TOKEN_PREFIX).expect("token prefix");
        assert!(!encoded.contains('='), "padding in {encoded}");
        assert!(!encoded.contains('+') && !encoded.contains('/'));
        let bytes = URL_SAFE_NO_PAD.decode(encoded).expect("base64url");
        String::from_utf8(bytes).expect("utf-8 url")
    }

    /// Splits `scheme://authority/path?query` into (scheme+authority, path, raw pairs).
    fn split_url(url: &str) -> (String, String, Vec<(String, String)>) {
        let (before, query) = url.split_once('?').expect("query");
        let scheme_end = before.find("://").expect("scheme") + 3;
        let path_start = before[scheme_end..].find('/').expect("path") + scheme_end;
        let pairs = query
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').expect("key=value");
                (k.to_owned(), v.to_owned())
            })
            .collect();
        (
            before[..path_start].to_owned(),
            before[path_start..].to_owned(),
            pairs,
        )
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("hex digit"));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).expect("utf-8")
    }

    /// SigV4 URI encoding: everything but unreserved characters, uppercase hex.
    fn sigv4_encode(s: &str) -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }

    /// Decoded query parameter; panics unless it occurs exactly once.
    fn param(pairs: &[(String, String)], key: &str) -> String {
        let values: Vec<_> = pairs.iter().filter(|(k, _)| k == key).collect();
        assert_eq!(values.len(), 1, "{key} in {pairs:?}");
        percent_decode(&values[0].1)
    }

    fn hmac(key: &[u8], data: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac key");
        mac.update(data.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// Recomputes X-Amz-Signature from the documented SigV4 algorithm, independently of aws-sigv4.
    fn expected_signature(host: &str, path: &str, pairs: &[(String, String)]) -> String {
        let mut canonical_query: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "X-Amz-Signature")
            .map(|(k, v)| {
                (
                    sigv4_encode(&percent_decode(k)),
                    sigv4_encode(&percent_decode(v)),
                )
            })
            .collect();
        canonical_query.sort();
        let canonical_query = canonical_query
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let empty_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(hex::encode(Sha256::digest(b"")), empty_hash);
        let canonical_request = format!(
            "GET\n{path}\n{canonical_query}\nhost:{host}\nx-k8s-aws-id:demo\n\nhost;x-k8s-aws-id\n{empty_hash}"
        );
        let date_time = param(pairs, "X-Amz-Date");
        let date = &date_time[..8];
        let region = param(pairs, "X-Amz-Credential")
            .split('/')
            .nth(2)
            .expect("region in scope")
            .to_owned();
        let scope = format!("{date}/{region}/sts/aws4_request");
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let k_date = hmac(format!("AWS4{SECRET}").as_bytes(), date);
        let k_region = hmac(&k_date, &region);
        let k_service = hmac(&k_region, "sts");
        let k_signing = hmac(&k_service, "aws4_request");
        hex::encode(hmac(&k_signing, &string_to_sign))
    }

    #[test]
    fn token_has_prefix_and_unpadded_base64url() {
        let token = eks_token(&request(REGION, None), &creds(None)).unwrap();
        assert!(token.starts_with("k8s-aws-v1."));
        let url = decode_url(&token);
        assert!(url.starts_with("https://"), "{url}");
    }

    #[test]
    fn url_has_expected_host_path_and_params() {
        let token = eks_token(&request(REGION, None), &creds(None)).unwrap();
        let url = decode_url(&token);
        let (base, path, pairs) = split_url(&url);
        assert_eq!(base, "https://sts.eu-central-1.amazonaws.com");
        assert_eq!(path, "/");
        assert_eq!(param(&pairs, "Action"), "GetCallerIdentity");
        assert_eq!(param(&pairs, "Version"), "2011-06-15");
        assert_eq!(param(&pairs, "X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
        assert_eq!(
            param(&pairs, "X-Amz-Credential"),
            "AKIDEXAMPLE/20261129/eu-central-1/sts/aws4_request"
        );
        assert_eq!(param(&pairs, "X-Amz-Date"), "20261129T120000Z");
        assert_eq!(param(&pairs, "X-Amz-Expires"), "60");
        assert_eq!(param(&pairs, "X-Amz-SignedHeaders"), "host;x-k8s-aws-id");
        let signature = param(&pairs, "X-Amz-Signature");
        assert_eq!(signature.len(), 64);
        assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(pairs.iter().all(|(k, _)| k != "X-Amz-Security-Token"));
        assert_eq!(pairs.len(), 8, "{pairs:?}");
    }

    #[test]
    fn signature_matches_independent_sigv4() {
        let token = eks_token(&request(REGION, None), &creds(None)).unwrap();
        let (_, path, pairs) = split_url(&decode_url(&token));
        let expected = expected_signature("sts.eu-central-1.amazonaws.com", &path, &pairs);
        assert_eq!(param(&pairs, "X-Amz-Signature"), expected);
    }

    #[test]
    fn session_token_is_in_query_and_signed() {
        let token = eks_token(&request(REGION, None), &creds(Some(SESSION_TOKEN))).unwrap();
        let (_, path, pairs) = split_url(&decode_url(&token));
        assert_eq!(param(&pairs, "X-Amz-Security-Token"), SESSION_TOKEN);
        // The independent signature includes the token in the canonical query string,
        // as the Go SDK (aws-iam-authenticator) does for presigned URLs.
        let expected = expected_signature("sts.eu-central-1.amazonaws.com", &path, &pairs);
        assert_eq!(param(&pairs, "X-Amz-Signature"), expected);
    }

    #[test]
    fn endpoint_override_replaces_scheme_and_host() {
        for endpoint in ["http://127.0.0.1:5000", "http://127.0.0.1:5000/"] {
            let token = eks_token(&request(REGION, Some(endpoint)), &creds(None)).unwrap();
            let (base, path, pairs) = split_url(&decode_url(&token));
            assert_eq!(base, "http://127.0.0.1:5000");
            assert_eq!(path, "/");
            assert_eq!(param(&pairs, "Action"), "GetCallerIdentity");
            assert_eq!(
                param(&pairs, "X-Amz-Credential"),
                "AKIDEXAMPLE/20261129/eu-central-1/sts/aws4_request"
            );
            // A non-default port is part of the signed host header.
            let expected = expected_signature("127.0.0.1:5000", &path, &pairs);
            assert_eq!(param(&pairs, "X-Amz-Signature"), expected);
        }
    }

    #[test]
    fn invalid_endpoint_override_is_an_error() {
        for endpoint in [
            "127.0.0.1:5000",
            "ftp://sts.example.com",
            "http://sts.example.com/path",
            "http://sts.example.com/?a=b",
            "not a url",
        ] {
            let err = eks_token(&request(REGION, Some(endpoint)), &creds(None)).unwrap_err();
            assert!(
                matches!(err, TokenError::InvalidEndpoint { .. }),
                "{endpoint}: {err:?}"
            );
        }
    }

    #[test]
    fn china_region_uses_cn_suffix() {
        let token = eks_token(&request("cn-north-1", None), &creds(None)).unwrap();
        let (base, path, pairs) = split_url(&decode_url(&token));
        assert_eq!(base, "https://sts.cn-north-1.amazonaws.com.cn");
        assert_eq!(
            param(&pairs, "X-Amz-Credential"),
            "AKIDEXAMPLE/20261129/cn-north-1/sts/aws4_request"
        );
        let expected = expected_signature("sts.cn-north-1.amazonaws.com.cn", &path, &pairs);
        assert_eq!(param(&pairs, "X-Amz-Signature"), expected);
    }

    #[test]
    fn empty_cluster_name_is_an_error() {
        let mut req = request(REGION, None);
        req.cluster_name = "";
        let err = eks_token(&req, &creds(None)).unwrap_err();
        assert!(matches!(err, TokenError::EmptyClusterName), "{err:?}");
    }

    #[test]
    fn cluster_name_with_whitespace_is_an_error() {
        let mut req = request(REGION, None);
        req.cluster_name = "demo cluster";
        let err = eks_token(&req, &creds(None)).unwrap_err();
        assert!(matches!(err, TokenError::InvalidClusterName(_)), "{err:?}");
    }

    #[test]
    fn bad_region_is_an_error() {
        for region in [
            "",
            "EU-CENTRAL-1",
            "eu-central-1.evil.com",
            "-eu",
            "eu central",
        ] {
            let err = eks_token(&request(region, None), &creds(None)).unwrap_err();
            assert!(
                matches!(err, TokenError::InvalidRegion(_)),
                "{region}: {err:?}"
            );
        }
    }

    #[test]
    fn token_is_deterministic_for_fixed_inputs() {
        let a = eks_token(&request(REGION, None), &creds(None)).unwrap();
        let b = eks_token(&request(REGION, None), &creds(None)).unwrap();
        assert_eq!(a, b);
    }
}
