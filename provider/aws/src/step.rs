//! `StepError`, the error of one failed AWS step, and the helpers every resource uses to turn
//! SDK results into it: [`fail`] (an SDK error), [`built`] (a builder error), [`absent`]
//! ("not found" is `None`, not an error) and [`Fail`] (`.fail("Operation")` on a result).

use super::errors::{code, describe};
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
}

impl StepError {
    pub fn new(step: &str, message: impl Into<String>) -> StepError {
        StepError {
            step: step.to_string(),
            message: message.into(),
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

/// An SDK error as a `StepError` named after the operation `step`.
pub fn fail<E>(step: &str, e: SdkError<E, Response>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    StepError::new(step, describe(&e))
}

/// A builder's result, its error (a required field left unset) as a `StepError` named `step`.
pub fn built<T>(step: &str, r: Result<T, BuildError>) -> Result<T, StepError> {
    r.map_err(|e| StepError::new(step, e.to_string()))
}

/// `Ok(None)` when the error code is one of `none_codes` ("there is none of that"); any
/// other error fails the step.
pub fn absent<T, E>(
    r: Result<T, SdkError<E, Response>>,
    step: &str,
    none_codes: &[&str],
) -> Result<Option<T>, StepError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if code(&e).is_some_and(|c| none_codes.contains(&c)) => Ok(None),
        Err(e) => Err(fail(step, e)),
    }
}

/// `.fail("Operation")`: an SDK result with its error as a `StepError` (see [`fail`]).
pub trait Fail<T> {
    fn fail(self, step: &str) -> Result<T, StepError>;
}

impl<T, E> Fail<T> for Result<T, SdkError<E, Response>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn fail(self, step: &str) -> Result<T, StepError> {
        self.map_err(|e| fail(step, e))
    }
}
