//! Logs every AWS call at debug level with service, operation and duration, so
//! `TF_LOG_PROVIDER=debug terraform apply` shows exactly what the provider did.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use std::time::Instant;

#[derive(Debug, Clone)]
struct CallStart(Instant);

impl Storable for CallStart {
    type Storer = StoreReplace<CallStart>;
}

/// The interceptor added to every client the provider builds.
#[derive(Debug, Default)]
pub struct CallLogger;

impl Intercept for CallLogger {
    fn name(&self) -> &'static str {
        "platformkit.CallLogger"
    }

    fn read_before_execution(
        &self,
        _ctx: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(CallStart(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        ctx: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let elapsed_ms = cfg
            .load::<CallStart>()
            .map(|s| s.0.elapsed().as_secs_f64() * 1000.0)
            .unwrap_or_default();
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_string(), m.name().to_string()))
            .unwrap_or_default();
        let status = ctx
            .response()
            .map(|r| r.status().as_u16())
            .unwrap_or_default();
        let failed = ctx.output_or_error().is_some_and(|r| r.is_err());
        tracing::debug!(
            target: "platform::aws",
            service = %service,
            operation = %operation,
            duration_ms = elapsed_ms,
            http_status = status,
            failed,
            "AWS call"
        );
        Ok(())
    }
}
