//! The gRPC services every go-plugin plugin serves beside its own: health, controller, stdio.

use futures::stream::BoxStream;
use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;

use super::proto::grpc_controller_server::{GrpcController, GrpcControllerServer};
use super::proto::grpc_stdio_server::{GrpcStdio, GrpcStdioServer};
use super::proto::{Empty, StdioData};

/// The service name go-plugin's client health-checks (`Ping`) before using a plugin.
pub(crate) const HEALTH_SERVICE_NAME: &str = "plugin";

/// Adds health (`plugin` = SERVING), `plugin.GRPCController` and `plugin.GRPCStdio` to the
/// provider's routes. Both go-plugin services are tied to `shutdown`: the controller fires it, and
/// the stdio stream ends on it so that it does not hold the graceful shutdown open.
pub(crate) async fn with_plugin_services(routes: Routes, shutdown: CancellationToken) -> Routes {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(HEALTH_SERVICE_NAME, ServingStatus::Serving)
        .await;
    routes
        .add_service(health)
        .add_service(GrpcControllerServer::new(Controller {
            shutdown: shutdown.clone(),
        }))
        .add_service(GrpcStdioServer::new(Stdio { shutdown }))
}

/// `plugin.GRPCController`: Terraform calls `Shutdown` when it is done with the provider (the
/// client's `Kill`), then gives the process two seconds to exit before killing it.
#[derive(Debug)]
pub(crate) struct Controller {
    shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("shutdown requested by Terraform");
        // Graceful: this response is an in-flight request, so it is still delivered.
        self.shutdown.cancel();
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: go-plugin mirrors a Go plugin's stdout/stderr through this stream. The
/// provider logs straight to its real stderr (which Terraform reads as hclog JSON) and never
/// writes to stdout after the handshake, so the stream carries nothing; it stays open until
/// shutdown because the client treats its end as the plugin going away.
#[derive(Debug)]
pub(crate) struct Stdio {
    shutdown: CancellationToken,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    type StreamStdioStream = BoxStream<'static, Result<StdioData, Status>>;

    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        Ok(Response::new(silent_until(self.shutdown.clone())))
    }
}

/// A stream that yields nothing and ends when `shutdown` fires.
fn silent_until(shutdown: CancellationToken) -> BoxStream<'static, Result<StdioData, Status>> {
    Box::pin(futures::stream::unfold(shutdown, |shutdown| async move {
        shutdown.cancelled().await;
        None::<(Result<StdioData, Status>, CancellationToken)>
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt as _;
    use std::time::Duration;

    #[tokio::test]
    async fn shutdown_rpc_fires_the_token() {
        let token = CancellationToken::new();
        let controller = Controller {
            shutdown: token.clone(),
        };
        controller.shutdown(Request::new(Empty {})).await.unwrap();
        assert!(token.is_cancelled());
    }

    #[tokio::test]
    async fn stdio_stream_is_silent_until_shutdown_then_ends() {
        let token = CancellationToken::new();
        let stdio = Stdio {
            shutdown: token.clone(),
        };
        let mut stream = stdio
            .stream_stdio(Request::new(()))
            .await
            .unwrap()
            .into_inner();
        let pending = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(pending.is_err(), "stream must stay open and silent");
        token.cancel();
        assert!(stream.next().await.is_none());
    }
}
