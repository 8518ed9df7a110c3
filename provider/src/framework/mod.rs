//! The provider-facing framework: cty types and values, their wire codecs, schemas,
//! diagnostics with attribute paths, the `Resource`/`DataSource` traits and the plan rules.
//! Nothing in here knows about protobuf; `crate::protocol` translates.

pub mod codec;
pub mod diag;
pub mod plan;
pub mod resource;
pub mod schema;
pub mod types;
pub mod value;

pub use diag::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
pub use resource::{ApplyOutcome, DataSource, PlanRequest, PlanResponse, Resource};
pub use schema::{Attribute, Block, NestedBlock, Nesting, Schema};
pub use types::Type;
pub use value::{Number, Value};
