//! Turns SDK errors into readable diagnostics and answers the few questions resources ask
//! of an error ("does this mean not found?").

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A short, user-facing description: the AWS error code and message when there are
/// some, else the transport problem (e.g. connection refused to the endpoint).
pub fn describe<E>(err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(se) => {
            let e = se.err();
            match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => {
                    // No error code: say what came back, so an odd endpoint is diagnosable.
                    let raw = se.raw();
                    let body = raw
                        .body()
                        .bytes()
                        .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned())
                        .unwrap_or_default();
                    format!(
                        "{e} (HTTP {}{}{})",
                        raw.status().as_u16(),
                        if body.is_empty() { "" } else { ": " },
                        body
                    )
                }
            }
        }
        SdkError::DispatchFailure(df) => {
            let mut s = String::from("could not reach the AWS endpoint");
            if let Some(src) = std::error::Error::source(err) {
                s.push_str(&format!(": {}", chain(src)));
            } else if df.is_io() {
                s.push_str(": I/O error");
            }
            s
        }
        SdkError::TimeoutError(_) => "the request to AWS timed out".to_string(),
        other => chain(other),
    }
}

/// An error and its sources, joined with `: `.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// The service error code, if the error is a service error.
pub fn code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(se) => se.err().code(),
        _ => None,
    }
}

/// The HTTP status of the raw response, when there was one.
pub fn http_status<E>(err: &SdkError<E, aws_smithy_runtime_api::http::Response>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}
