//! Putting the host together: checks, listener, TLS, handshake line, gRPC server, signals and
//! shutdown.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic::service::Routes;
use tonic::transport::Server;

use super::error::PluginError;
use super::handshake::{self, MAGIC_COOKIE_KEY, PROTOCOL_VERSIONS_ENV};
use super::incoming;
use super::listener::{self, PortRange};
use super::mtls::{AutoMtls, CLIENT_CERT_ENV};
use super::orphan::{self, Lifecycle};
use super::services;

/// After shutdown starts, how long open connections get to finish before the process exits
/// anyway. go-plugin's client waits two seconds after `Shutdown` before killing the process;
/// exiting on our own first is cleaner.
const DRAIN_TIMEOUT: Duration = Duration::from_millis(1500);

/// How long the runtime gets to wind down blocking work after serving ended.
const RUNTIME_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// How to serve, decided from the mode and the environment before any I/O.
#[derive(Debug)]
struct Settings {
    debug: bool,
    protocol: u32,
    ports: PortRange,
    client_cert_pem: Option<String>,
}

impl Settings {
    /// Normal mode: Terraform's environment. `--debug`: no cookie, no TLS, any free port.
    fn from_env(debug: bool) -> Result<Self, PluginError> {
        if debug {
            return Ok(Settings {
                debug,
                protocol: handshake::PROTOCOL_VERSION,
                ports: PortRange::ANY,
                client_cert_pem: None,
            });
        }
        let cookie = std::env::var(MAGIC_COOKIE_KEY).ok();
        if !handshake::has_magic_cookie(cookie.as_deref()) {
            return Err(PluginError::NotLaunchedByTerraform);
        }
        let offered = std::env::var(PROTOCOL_VERSIONS_ENV).ok();
        let protocol = handshake::negotiate_protocol(offered.as_deref())?;
        Ok(Settings {
            debug,
            protocol,
            ports: PortRange::from_env()?,
            client_cert_pem: std::env::var(CLIENT_CERT_ENV)
                .ok()
                .filter(|pem| !pem.trim().is_empty()),
        })
    }
}

/// Runs the plugin host until Terraform shuts it down (or SIGTERM; or Ctrl-C in debug mode; or
/// Terraform is gone, see `orphan.rs`).
pub(crate) fn run(
    debug: bool,
    make_routes: impl FnOnce(Lifecycle) -> Routes,
) -> Result<(), PluginError> {
    let settings = Settings::from_env(debug)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(PluginError::io("starting the Tokio runtime"))?;
    let result = runtime.block_on(serve(settings, make_routes));
    // A blocking task stuck in a slow call must not keep a finished provider alive.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_TIMEOUT);
    result
}

async fn serve(
    settings: Settings,
    make_routes: impl FnOnce(Lifecycle) -> Routes,
) -> Result<(), PluginError> {
    let shutdown = CancellationToken::new();
    // Before the handshake line: from then on a Ctrl-C in Terraform's terminal reaches us too.
    install_signal_handlers(settings.debug, shutdown.clone())?;

    // Terraform gone (killed, or our stdio closed): stop the work, let it end, then shut down.
    let life = Lifecycle::default();
    if !settings.debug {
        tokio::spawn(orphan::watch(life.terraform_gone.clone()));
        let (life, shutdown) = (life.clone(), shutdown.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = orphan::wind_down(&life, orphan::GONE_GRACE) => shutdown.cancel(),
            }
        });
    }

    let mtls = match &settings.client_cert_pem {
        Some(pem) => Some(AutoMtls::for_client_cert(pem)?),
        None => None,
    };
    let (std_listener, addr) = listener::bind(settings.ports)?;
    let tcp_listener = tokio::net::TcpListener::from_std(std_listener)
        .map_err(PluginError::io("registering the listener with Tokio"))?;

    let routes = services::with_plugin_services(make_routes(life), shutdown.clone()).await;
    let connections = incoming::incoming(
        tcp_listener,
        mtls.as_ref().map(|m| m.acceptor.clone()),
        shutdown.clone(),
    );

    if settings.debug {
        print_reattach_instructions(addr)?;
    } else {
        let cert = mtls.as_ref().map(|m| m.server_cert_der.as_ref());
        print_stdout_line(&handshake::handshake_line(settings.protocol, addr, cert))?;
    }
    tracing::info!(
        address = %addr,
        protocol = settings.protocol,
        mtls = mtls.is_some(),
        debug = settings.debug,
        "provider plugin serving"
    );

    let signal = {
        let shutdown = shutdown.clone();
        async move { shutdown.cancelled().await }
    };
    let server = Server::builder()
        .add_routes(routes)
        .serve_with_incoming_shutdown(connections, signal);
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => result?,
        () = drain_deadline(&shutdown) => {
            tracing::warn!("connections still open after shutdown; exiting without them");
        }
    }
    tracing::debug!("provider plugin stopped");
    Ok(())
}

/// Resolves [`DRAIN_TIMEOUT`] after shutdown began.
async fn drain_deadline(shutdown: &CancellationToken) {
    shutdown.cancelled().await;
    tokio::time::sleep(DRAIN_TIMEOUT).await;
}

/// Writes one line to stdout and flushes: go-plugin's client reads the handshake line as soon as
/// it arrives, and a buffered line would leave it waiting until its start timeout.
fn print_stdout_line(line: &str) -> Result<(), PluginError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(PluginError::io("writing the handshake line to stdout"))
}

/// `--debug`: tell the developer how to point Terraform at this process.
fn print_reattach_instructions(addr: SocketAddr) -> Result<(), PluginError> {
    let json = handshake::reattach_json(addr, std::process::id());
    print_stdout_line(&format!(
        "Provider {name} started in debug mode; Terraform will not start its own copy while\n\
         this variable is set in the shell that runs it:\n\n\
         \tTF_REATTACH_PROVIDERS='{json}'\n\n\
         Press Ctrl-C to stop the provider.",
        name = super::PROVIDER_ADDRESS,
    ))
}

/// SIGTERM ends the provider gracefully in every mode. SIGINT is ignored when Terraform runs us,
/// like go-plugin plugins do: a Ctrl-C in Terraform's terminal reaches the whole process group,
/// and Terraform itself asks the provider to stop (StopProvider) and then shuts it down, so
/// dying on the signal would only lose the state of the operation in progress. In `--debug`
/// the developer owns the process and Ctrl-C stops it.
#[cfg(unix)]
fn install_signal_handlers(debug: bool, shutdown: CancellationToken) -> Result<(), PluginError> {
    use tokio::signal::unix::{signal, SignalKind};

    let mut terminate = signal(SignalKind::terminate())
        .map_err(PluginError::io("installing the SIGTERM handler"))?;
    let mut interrupt = signal(SignalKind::interrupt())
        .map_err(PluginError::io("installing the SIGINT handler"))?;
    tokio::spawn(async move {
        let mut ignored = 0u64;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                Some(()) = terminate.recv() => {
                    tracing::info!("received SIGTERM; shutting down");
                    shutdown.cancel();
                    break;
                }
                Some(()) = interrupt.recv() => {
                    if debug {
                        tracing::info!("interrupted; shutting down");
                        shutdown.cancel();
                        break;
                    }
                    ignored += 1;
                    tracing::trace!(count = ignored, "ignoring SIGINT; Terraform stops the provider itself");
                }
                else => break,
            }
        }
    });
    Ok(())
}

/// Non-Unix: only Ctrl-C exists; same policy as on Unix.
#[cfg(not(unix))]
fn install_signal_handlers(debug: bool, shutdown: CancellationToken) -> Result<(), PluginError> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                result = tokio::signal::ctrl_c() => {
                    if result.is_err() {
                        break;
                    }
                    if debug {
                        tracing::info!("interrupted; shutting down");
                        shutdown.cancel();
                        break;
                    }
                    tracing::trace!("ignoring Ctrl-C; Terraform stops the provider itself");
                }
            }
        }
    });
    Ok(())
}
