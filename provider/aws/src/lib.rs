//! AWS plumbing shared by every composite: SDK configuration from the provider block
//! (region, profile, assume role, endpoints for local emulators, retries), the account
//! guard (`allowed_account_ids`), per-call debug logging, tagging and error mapping.

pub mod config;
pub mod errors;
pub mod logging;
pub mod step;
pub mod tags;
pub mod wait;

pub use config::{partition, AwsContext, Endpoints, ProviderSettings};
