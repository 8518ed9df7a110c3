//! platformkit's Terraform provider: opinionated composite AWS resources, served over the
//! Terraform plugin protocol 6. The layers are crates of their own (see `docs/design.md`):
//!
//! - `tfplugin-host`: the go-plugin host contract (handshake, AutoMTLS, controller, stdio, logs).
//! - `tfplugin-framework`: the tfplugin6 service, cty values, codecs, schemas, diagnostics, plan
//!   rules and the `Provider`/`Resource` traits; no AWS.
//! - `platform-aws`: the AWS toolbox (SDK config, account guard, call logging, tags, waiters, steps).
//! - `platform-kube`: the cluster toolbox (EKS tokens, Kubernetes reads, helm, releases).
//! - this crate: [`provider`] (the `Provider` impl), [`resources`] (the composites) and
//!   [`cluster_access`] (which cluster a resource talks to, and as whom).

pub mod cluster_access;
pub mod ephemeral;
pub mod functions;
pub mod list;
pub mod provider;
pub mod resources;
