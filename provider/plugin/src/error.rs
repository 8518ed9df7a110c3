//! Why the plugin host could not start or keep serving.

use std::io;

/// A failure of the go-plugin host layer (not of a provider RPC: those are gRPC statuses or
/// diagnostics). Each variant names what the operator can do something about.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Bad command-line arguments.
    #[error("{0}")]
    Usage(String),

    /// The magic cookie is missing: a human ran the binary instead of Terraform.
    #[error("not started by Terraform (the plugin handshake cookie is missing)")]
    NotLaunchedByTerraform,

    /// Terraform offered plugin protocols, none of them 6.
    #[error(
        "terraform-provider-platform requires Terraform >= 1.0 (plugin protocol 6); \
         this Terraform offered plugin protocol(s) {offered}. Upgrade Terraform to use this provider."
    )]
    UnsupportedProtocol {
        /// The raw `PLUGIN_PROTOCOL_VERSIONS` value.
        offered: String,
    },

    /// `PLUGIN_MIN_PORT` or `PLUGIN_MAX_PORT` is not a port number.
    #[error("{var}={value:?} is not a TCP port number (0-65535)")]
    InvalidPort {
        /// The environment variable.
        var: &'static str,
        /// Its value.
        value: String,
    },

    /// `PLUGIN_MIN_PORT` is above `PLUGIN_MAX_PORT`.
    #[error("PLUGIN_MIN_PORT ({min}) is greater than PLUGIN_MAX_PORT ({max})")]
    InvertedPortRange {
        /// Lower bound.
        min: u16,
        /// Upper bound.
        max: u16,
    },

    /// No port in the allowed range could be bound.
    #[error("could not listen on any port of 127.0.0.1:{min}..={max}: {source}")]
    Bind {
        /// Lower bound.
        min: u16,
        /// Upper bound.
        max: u16,
        /// The last bind error.
        #[source]
        source: io::Error,
    },

    /// `PLUGIN_CLIENT_CERT` holds no usable certificate, so no client could ever be accepted.
    #[error("PLUGIN_CLIENT_CERT does not contain a PEM certificate: {0}")]
    ClientCertificate(String),

    /// Generating the ephemeral server certificate failed.
    #[error("generating the TLS server certificate failed: {0}")]
    CertificateGeneration(#[from] rcgen::Error),

    /// rustls rejected the TLS configuration.
    #[error("configuring TLS failed: {0}")]
    Tls(#[from] rustls::Error),

    /// Local I/O the host needs (runtime threads, stdout for the handshake line, signal handlers).
    #[error("{what} failed: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// The gRPC server stopped with an error.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
}

impl PluginError {
    /// Wraps an I/O error with what the host was doing, for the log line an operator reads.
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { what, source }
    }
}
