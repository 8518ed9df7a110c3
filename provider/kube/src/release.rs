//! One Helm release's life, shared by every resource that installs releases
//! (`platform_helm_release`, `platform_cluster_services`): observe it as it is in the cluster
//! (Helm's record plus each object checked live), install or upgrade it, and on a failure roll
//! it back to the last good revision (or uninstall a failed first install) so a release is
//! never left failed.

use crate::cluster::{Connection, KubeError, LiveReader};
use crate::helm::{Helm, HelmError, ReleaseInfo, ReleaseSpec};
use crate::manifest::{self, ManifestError, ABSENT};
use std::collections::BTreeMap;
use std::time::Duration;

/// Why a release could not be observed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("{0}")]
    Helm(#[from] HelmError),
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error("{0}")]
    Cluster(#[from] KubeError),
}

impl ObserveError {
    /// A one-line summary for a diagnostic.
    pub fn summary(&self) -> &'static str {
        match self {
            ObserveError::Helm(_) => "Cannot read the release",
            ObserveError::Manifest(_) => "Unreadable release manifest",
            ObserveError::Cluster(_) => "Cannot read the release's objects",
        }
    }
}

/// A release as it is: Helm's record, and each object of its manifest (`Kind/namespace/name`)
/// with its digest, `absent` when deleted, `edited:<digest>` when changed in the cluster.
#[derive(Debug, Clone)]
pub struct Observed {
    pub info: ReleaseInfo,
    pub objects: BTreeMap<String, String>,
}

impl Observed {
    /// Whether an object of the release was deleted or edited out of band.
    pub fn drifted(&self) -> bool {
        self.objects
            .values()
            .any(|m| m == ABSENT || m.starts_with(manifest::EDITED_PREFIX))
    }
}

/// The manifest's objects with their digests.
pub fn manifest_digests(
    info: &ReleaseInfo,
    namespace: &str,
) -> Result<BTreeMap<String, String>, ManifestError> {
    manifest::parse(&info.manifest).map(|objs| manifest::digests(&objs, namespace))
}

/// The live state of the release, `None` when Helm has no such release.
pub async fn observe(
    conn: &Connection,
    helm: &Helm,
    name: &str,
    namespace: &str,
    timeout: Duration,
) -> Result<Option<Observed>, ObserveError> {
    let Some(info) = helm.status(name, namespace, conn, timeout).await? else {
        return Ok(None);
    };
    let objs = manifest::parse(&info.manifest)?;
    let mut reader = LiveReader::new(conn, timeout)?;
    let mut objects = BTreeMap::new();
    for o in &objs {
        let mark = match reader.get(o, namespace).await? {
            None => ABSENT.to_owned(),
            Some(l) if manifest::live_matches(&o.body, &l) => o.digest(),
            Some(l) => manifest::edited_marker(&l),
        };
        objects.insert(o.key(namespace), mark);
    }
    Ok(Some(Observed { info, objects }))
}

/// A failed install or upgrade: Helm's error, and what was done about it.
#[derive(Debug)]
pub struct InstallFailure {
    pub error: HelmError,
    /// What happened next (rolled back, uninstalled, or left as Helm left it).
    pub recovery: String,
}

impl std::fmt::Display for InstallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\n\n{}", self.error, self.recovery)
    }
}

/// Installs or upgrades `spec`. On failure with `atomic`, rolls back to the newest good
/// revision (or uninstalls a failed first install); `call_timeout` bounds the history read.
pub async fn install(
    helm: &Helm,
    conn: &Connection,
    spec: &ReleaseSpec,
    wait: bool,
    atomic: bool,
    limit: Duration,
    call_timeout: Duration,
) -> Result<ReleaseInfo, InstallFailure> {
    tracing::info!(target: "platform::helm", release = %spec.name, namespace = %spec.namespace, wait, "installing or upgrading the release");
    match helm.upgrade(spec, conn, wait, limit).await {
        Ok(info) => {
            // One line per finished install or upgrade (revision 1 is a first install), so a
            // crash test can stop the provider right after each release exists.
            tracing::debug!(target: "platform::helm", release = %spec.name, namespace = %spec.namespace, revision = info.revision, status = %info.status, "helm release installed");
            Ok(info)
        }
        Err(error) => {
            let recovery = if atomic {
                roll_back(helm, conn, spec, limit, call_timeout).await
            } else {
                "`atomic` is off: the release is left as Helm left it.".to_owned()
            };
            Err(InstallFailure { error, recovery })
        }
    }
}

/// Back to the newest revision that was good, or uninstalled when there is none. Says what it
/// did, for the error's detail.
async fn roll_back(
    helm: &Helm,
    conn: &Connection,
    spec: &ReleaseSpec,
    limit: Duration,
    call_timeout: Duration,
) -> String {
    let history = match helm
        .history(&spec.name, &spec.namespace, conn, call_timeout)
        .await
    {
        Ok(h) => h,
        Err(e) if e.is_release_not_found() => return "Nothing was installed.".to_owned(),
        Err(e) => return format!("Reading the release history to roll back failed too: {e}"),
    };
    let latest = history.last().map(|(r, _)| *r).unwrap_or_default();
    let good = history
        .iter()
        .rev()
        .find(|(r, s)| *r != latest && (s == "deployed" || s == "superseded"))
        .map(|(r, _)| *r);
    match good {
        Some(rev) => match helm
            .rollback(&spec.name, &spec.namespace, rev, conn, limit)
            .await
        {
            Ok(()) => {
                format!("The release was rolled back to revision {rev}; it is not left failed.")
            }
            Err(e) => format!("Rolling back to revision {rev} failed too: {e}"),
        },
        None => match helm
            .uninstall(&spec.name, &spec.namespace, conn, limit)
            .await
        {
            Ok(()) => "This was the first install: the failed release was uninstalled.".to_owned(),
            Err(e) => format!("Uninstalling the failed first install failed too: {e}"),
        },
    }
}
