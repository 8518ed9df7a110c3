//! The go-plugin host contract: everything Terraform expects from a provider *process*, as opposed
//! to the tfplugin6 `Provider` service it then talks to.
//!
//! Terraform starts providers through HashiCorp's go-plugin library, and a Rust provider has to
//! behave exactly like a Go plugin built with it:
//!
//! 1. refuse to run unless Terraform's magic cookie is in the environment ([`handshake`]);
//! 2. pick plugin protocol 6 from `PLUGIN_PROTOCOL_VERSIONS` ([`handshake`]);
//! 3. listen on 127.0.0.1, inside `PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT` ([`listener`]);
//! 4. when Terraform sends its certificate in `PLUGIN_CLIENT_CERT`, serve mutual TLS with an
//!    ephemeral certificate of our own and accept only Terraform's ([`mtls`]);
//! 5. print the one handshake line on stdout and serve gRPC: the provider routes plus go-plugin's
//!    health, controller and stdio services ([`services`], [`server`]);
//! 6. log hclog-style JSON on stderr, which Terraform folds into its own log ([`logging`]).
//!
//! `--debug` runs the same server without Terraform in control (no cookie, no TLS) and prints the
//! `TF_REATTACH_PROVIDERS` value a developer exports so Terraform attaches to it instead.

mod cli;
mod error;
mod handshake;
mod incoming;
mod listener;
pub mod logging;
mod mtls;
mod orphan;
mod server;
mod services;

use std::process::ExitCode;

pub use error::PluginError;
pub use orphan::Lifecycle;

use cli::Mode;

/// The generated go-plugin protocol types (`plugin.GRPCController`, `plugin.GRPCStdio`), checked in
/// (`cargo run -p tfplugin-protogen` regenerates them from `proto/`; `scripts/test.sh` checks them).
pub(crate) mod proto {
    #![allow(clippy::all, missing_docs)]
    include!("generated/plugin.rs");
}

/// The provider's source address; `--debug` keys `TF_REATTACH_PROVIDERS` by it, and Terraform only
/// reattaches when it matches the address the configuration requires.
pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/platformkit/platform";

/// The name the binary reports in `--version` and messages (the Cargo package name).
const BINARY_NAME: &str = env!("CARGO_PKG_NAME");

/// Entry point used by `main.rs`. `make_routes` builds the tfplugin6 Provider service routes; it is
/// called once, inside the Tokio runtime, after the handshake checks passed, with the
/// [`Lifecycle`] the service should honour (stop work when Terraform is gone; run applies on its
/// tracker). Returns the process exit code.
pub fn main(make_routes: impl FnOnce(Lifecycle) -> tonic::service::Routes) -> ExitCode {
    let mode = match cli::parse(std::env::args_os().skip(1)) {
        Ok(mode) => mode,
        Err(err) => {
            eprintln!("{BINARY_NAME}: {err}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match mode {
        Mode::Version => {
            println!(
                "{BINARY_NAME} {} (plugin protocol {})",
                env!("CARGO_PKG_VERSION"),
                handshake::PROTOCOL_VERSION
            );
            return ExitCode::SUCCESS;
        }
        Mode::Help => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Mode::Serve | Mode::Debug => {}
    }

    logging::init();

    match server::run(mode == Mode::Debug, make_routes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(PluginError::NotLaunchedByTerraform) => {
            // Plain text on purpose: whoever sees this is a human at a terminal, not Terraform.
            eprintln!("{}", handshake::NOT_A_COMMAND_MESSAGE);
            ExitCode::FAILURE
        }
        Err(err @ PluginError::UnsupportedProtocol { .. }) => {
            tracing::error!(error = %err, "plugin protocol negotiation failed");
            // Terraform shows a stdout line that is not a handshake in its error message
            // ("Unrecognized remote plugin message: ..."), whereas stderr only reaches TF_LOG.
            println!("{err}");
            // go-plugin's client races reading that line against noticing the exit; a short
            // pause lets the line win, so the user sees the reason instead of "plugin exited".
            std::thread::sleep(std::time::Duration::from_millis(250));
            ExitCode::FAILURE
        }
        Err(err) => {
            tracing::error!(error = %err, "provider plugin failed");
            ExitCode::FAILURE
        }
    }
}
