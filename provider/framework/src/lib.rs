//! A framework for Terraform providers written in Rust.
//!
//! - [`protocol`]: the tfplugin6 gRPC service; [`protocol::routes`] serves any [`Provider`].
//! - [`types`], [`value`], [`codec`]: cty types and values and their msgpack/JSON wire codecs.
//! - [`schema`]: schemas built with a small builder; [`diag`]: diagnostics with attribute paths.
//! - [`plan`]: the generic plan rules (defaults, computed values, requires-replace).
//! - [`resource`]: the [`Provider`], [`Resource`], [`DataSource`] and [`EphemeralResource`] traits a
//!   provider implements, and resource [`Identity`]; [`function`]: provider-defined functions.
//!
//! Nothing outside [`protocol`] knows about protobuf, and nothing here knows about any cloud:
//! a provider picks its own client type ([`Provider::Client`]). Serve it from `main` with a
//! go-plugin host (the `tfplugin-host` crate).

pub mod codec;
pub mod diag;
pub mod function;
pub mod plan;
pub mod protocol;
pub mod resource;
pub mod schema;
pub mod types;
pub mod value;

pub use diag::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use function::{Function, FunctionError, Parameter};
pub use resource::{
    ApplyOutcome, DataSource, EphemeralOpen, EphemeralResource, Identity, IdentityAttribute,
    ListResource, PlanRequest, PlanResponse, Provider, Resource,
};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use types::Type;
pub use value::{Number, Value};
