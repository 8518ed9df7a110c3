//! platformkit's cluster toolbox, shared by every resource that works inside a cluster:
//!
//! - [`token`]: the EKS bearer token (a presigned STS GetCallerIdentity), signed fresh per
//!   connection, so no kubeconfig, no `aws eks get-token` and no 15-minute expiry mid-apply;
//! - [`cluster`]: a connection (endpoint, CA, token), the reachability check, live object reads;
//! - [`helm`]: the helm v3 binary (render, upgrade, status, history, rollback, uninstall);
//! - [`manifest`]: a rendered manifest as keyed objects with digests, and live-vs-manifest drift;
//! - [`objects`]: CRDs before and after their release, load-balancer objects first on destroy,
//!   Secrets written straight through the API;
//! - [`release`]: one release's life: observe, install or upgrade, roll back a failure;
//! - [`settings`]: the provider block's `kubernetes` override and `helm_binary`.
//!
//! It knows nothing of AWS beyond signing the token: callers pass credentials and a region.

pub mod cluster;
pub mod helm;
pub mod manifest;
pub mod objects;
pub mod release;
pub mod settings;
pub mod token;

pub use cluster::{Connection, KubeError, LiveReader};
pub use helm::{Helm, HelmError, ReleaseInfo, ReleaseSpec};
pub use settings::KubeSettings;
