//! AWS plumbing shared by every composite: SDK configuration from the provider block
//! (region, profile, assume role, endpoints for local emulators, retries), the account
//! guard (`allowed_account_ids`), per-call debug logging, tagging, the one SDK-error idiom
//! ([`step::Step`]), and the steps more than one composite takes (S3 buckets, IAM roles,
//! policy documents, name and ARN validators).

pub mod config;
pub mod errors;
pub mod iam;
pub mod irsa;
pub mod logging;
pub mod lost;
pub mod policy;
pub mod regions;
pub mod resume;
pub mod s3;
pub mod step;
pub mod stop;
pub mod tags;
pub mod validate;
pub mod wait;

pub use config::{partition, AwsContext, Endpoints, ProviderSettings};
