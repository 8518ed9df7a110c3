//! `StepError`, the error of one failed AWS step, and [`Step`], the one way a composite turns
//! an SDK (or builder) result into it: `client.create_x().send().await.step("CreateX")?`.
//!
//! The error keeps AWS's error code and the HTTP status, so a caller decides what an answer
//! means on the `StepError` ([`StepError::code`], [`StepError::is_not_found`],
//! [`Absent::absent`]) instead of on the SDK error.

use super::errors::{code, describe, http_status};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;

/// A failed AWS step, named after the API operation that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{step}: {message}")]
pub struct StepError {
    pub step: String,
    pub message: String,
    code: Option<String>,
    status: Option<u16>,
    /// The call's answer may have been lost after AWS applied it ([`super::lost`]).
    lost: bool,
}

impl StepError {
    /// A step error of our own making (no AWS error code).
    pub fn new(step: &str, message: impl Into<String>) -> StepError {
        StepError {
            step: step.to_string(),
            message: message.into(),
            code: None,
            status: None,
            lost: false,
        }
    }

    /// The error of a creating call whose answer was lost (see [`super::lost`]).
    pub fn lost_answer(step: &str) -> StepError {
        StepError {
            lost: true,
            ..StepError::new(
                step,
                super::lost::LostAnswer {
                    operation: step.to_string(),
                }
                .to_string(),
            )
        }
    }

    /// An SDK error as a `StepError` named after the operation `step`, keeping its code.
    pub fn from_sdk<E>(step: &str, e: &SdkError<E, Response>) -> StepError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        StepError {
            step: step.to_string(),
            message: describe(e),
            code: code(e).map(str::to_string),
            status: http_status(e),
            lost: super::lost::find(e).is_some(),
        }
    }

    /// Whether AWS may have applied this creating call although its answer never arrived:
    /// the caller observes again before creating anything ([`super::lost::settle`]).
    pub fn is_lost_answer(&self) -> bool {
        self.lost
    }

    /// AWS's error code (`NoSuchBucket`, `EntityAlreadyExists`, ...), when AWS sent one.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// The HTTP status of AWS's answer, when there was one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Whether AWS said the object is not there: `NotFound`, `NoSuch*` or `*NotFoundException`
    /// (and a code-less HTTP 404, which is how S3 answers a HEAD request).
    pub fn is_not_found(&self) -> bool {
        match self.code() {
            Some(c) => {
                c == "NotFound" || c.starts_with("NoSuch") || c.ends_with("NotFoundException")
            }
            None => self.status == Some(404),
        }
    }
}

/// A waiter's end as a `StepError`: a failed poll keeps its own step; a timeout or a stop
/// request is the step `wait`, with the message saying what was awaited.
impl From<super::wait::WaitError<StepError>> for StepError {
    fn from(e: super::wait::WaitError<StepError>) -> StepError {
        match e {
            super::wait::WaitError::Failed(s) => s,
            other => StepError::new("wait", other.to_string()),
        }
    }
}

/// `.step("Operation")`: an SDK result, or a builder's result (a required field left unset),
/// with its error as a [`StepError`] named after the operation.
pub trait Step<T> {
    fn step(self, step: &str) -> Result<T, StepError>;
}

impl<T, E> Step<T> for Result<T, SdkError<E, Response>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn step(self, step: &str) -> Result<T, StepError> {
        self.map_err(|e| StepError::from_sdk(step, &e))
    }
}

impl<T> Step<T> for Result<T, BuildError> {
    fn step(self, step: &str) -> Result<T, StepError> {
        self.map_err(|e| StepError::new(step, e.to_string()))
    }
}

/// `.absent(&["NoSuchX"])`: `Ok(None)` when the step failed with one of these codes ("there
/// is none of that"), `Ok(Some(v))` when it succeeded; any other error stays an error.
pub trait Absent<T> {
    fn absent(self, none_codes: &[&str]) -> Result<Option<T>, StepError>;
}

impl<T> Absent<T> for Result<T, StepError> {
    fn absent(self, none_codes: &[&str]) -> Result<Option<T>, StepError> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.code().is_some_and(|c| none_codes.contains(&c)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coded(c: &str) -> StepError {
        StepError {
            code: Some(c.to_string()),
            ..StepError::new("Op", "m")
        }
    }

    #[test]
    fn not_found_family() {
        for c in [
            "NotFound",
            "NoSuchBucket",
            "NoSuchEntity",
            "RepositoryNotFoundException",
            "OrganizationalUnitNotFoundException",
        ] {
            assert!(coded(c).is_not_found(), "{c}");
        }
        for c in ["AccessDenied", "EntityAlreadyExists", "NotFoundish"] {
            assert!(!coded(c).is_not_found(), "{c}");
        }
        assert!(!StepError::new("Op", "m").is_not_found());
    }

    #[test]
    fn absent_only_for_the_named_codes() {
        let r: Result<(), StepError> = Err(coded("NoSuchTagSet"));
        assert!(matches!(r.absent(&["NoSuchTagSet"]), Ok(None)));
        let r: Result<(), StepError> = Err(coded("AccessDenied"));
        assert!(r.absent(&["NoSuchTagSet"]).is_err());
        assert_eq!(coded("X").to_string(), "Op: m");
    }
}
