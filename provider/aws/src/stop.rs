//! Refusing new AWS calls once the provider is stopping.
//!
//! `StopProvider` (Terraform interrupted) and the host noticing that Terraform is gone both
//! cancel the context's token. Waiters already stop on it; this interceptor, on every client,
//! makes each *new* operation fail at once with a clear error instead of starting, so a
//! composite ends at its next AWS call and returns what it has created so far. A call already
//! on the wire is not cut: it completes (with its retries), so AWS and the returned state agree.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_types::config_bag::ConfigBag;
use tokio_util::sync::CancellationToken;

/// The message of a call refused because the provider is stopping.
pub const STOPPING: &str =
    "the provider is stopping (Terraform asked it to stop, or Terraform is gone), so no new AWS call is started";

/// The interceptor; holds the context's cancellation token.
#[derive(Debug, Clone)]
pub struct StopGate(pub CancellationToken);

#[derive(Debug, thiserror::Error)]
#[error("{STOPPING}")]
struct Stopping;

impl Intercept for StopGate {
    fn name(&self) -> &'static str {
        "platformkit.StopGate"
    }

    fn read_before_execution(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.0.is_cancelled() {
            return Err(Box::new(Stopping));
        }
        Ok(())
    }
}
