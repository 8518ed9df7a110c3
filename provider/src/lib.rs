//! platformkit's Terraform provider: opinionated composite AWS resources, served over the
//! Terraform plugin protocol 6.
//!
//! - [`plugin`]: the go-plugin host contract (handshake, AutoMTLS, controller, stdio, logs).
//! - [`protocol`]: the tfplugin6 gRPC service, translating to the framework.
//! - [`framework`]: cty values, codecs, schemas, diagnostics, plan rules, resource traits.
//! - [`aws`]: SDK configuration, account guard, call logging, tagging, waiters.
//! - [`resources`]: the composites.

pub mod aws;
pub mod framework;
pub mod plugin;
pub mod protocol;
pub mod provider;
pub mod resources;
