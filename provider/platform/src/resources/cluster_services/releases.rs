//! The releases in the cluster, through the same release code as `platform_helm_release`
//! (`platform_kube::release`): CRDs applied before a release (Helm installs a chart's `crds/`
//! only on first install and never upgrades them) and deleted after it is uninstalled (Helm
//! never deletes them); namespaces created with a label so destroy removes only its own.

use super::values::PlannedRelease;
use platform_kube::manifest;
use platform_kube::objects::Objects;
use platform_kube::release::{self, Observed};
use platform_kube::{Connection, Helm, ReleaseInfo, ReleaseSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Bound on a single helm or API call that is not an install.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The label on namespaces this resource created.
pub const NAMESPACE_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "platformkit");
/// Namespaces that exist in every cluster and are never ours to delete.
const SYSTEM_NAMESPACES: &[&str] = &["kube-system", "default"];

/// The platform's own gateway chart, embedded so it needs no repository.
const GATEWAY_CHART_FILES: &[(&str, &str)] = &[
    (
        "Chart.yaml",
        include_str!("charts/platform-gateway/Chart.yaml"),
    ),
    (
        "templates/gateway.yaml",
        include_str!("charts/platform-gateway/templates/gateway.yaml"),
    ),
    (
        "templates/policies.yaml",
        include_str!("charts/platform-gateway/templates/policies.yaml"),
    ),
];

/// A chart directory written for one install, removed when dropped.
struct ChartDir(PathBuf);

impl ChartDir {
    fn write(name: &str, files: &[(&str, &str)]) -> Result<ChartDir, String> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let root =
            std::env::temp_dir().join(format!("platformkit-chart-{}-{nanos}", std::process::id()));
        let dir = ChartDir(root);
        for (path, text) in files {
            let p = dir.0.join(name).join(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        Ok(dir)
    }
}

impl Drop for ChartDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A release installed: Helm's answer, the CRDs applied before it and its objects' digests.
pub struct Installed {
    pub info: ReleaseInfo,
    pub crds: Vec<String>,
    pub objects: BTreeMap<String, String>,
}

pub struct Releases<'a> {
    pub helm: &'a Helm,
    pub conn: &'a Connection,
    pub repository: &'a str,
    pub objects: Objects,
}

impl<'a> Releases<'a> {
    pub fn new(helm: &'a Helm, conn: &'a Connection, repository: &'a str) -> Result<Self, String> {
        Ok(Releases {
            helm,
            conn,
            repository,
            objects: Objects::new(conn, CALL_TIMEOUT).map_err(|e| e.to_string())?,
        })
    }

    fn spec(&self, r: &PlannedRelease, chart_path: Option<&PathBuf>) -> ReleaseSpec {
        ReleaseSpec {
            name: r.name.to_owned(),
            namespace: r.namespace.to_owned(),
            chart: match chart_path {
                Some(p) => p.join(r.chart).display().to_string(),
                None => r.chart.to_owned(),
            },
            repository: chart_path.is_none().then(|| self.repository.to_owned()),
            version: chart_path.is_none().then(|| r.version.clone()),
            values: r.values.to_string(),
            create_namespace: false,
            max_history: 10,
            skip_crds: true,
        }
    }

    /// Namespace (labelled, when we create it), CRDs, then the release.
    pub async fn install(
        &self,
        r: &PlannedRelease,
        wait: bool,
        limit: Duration,
    ) -> Result<Installed, String> {
        if !SYSTEM_NAMESPACES.contains(&r.namespace) {
            self.objects
                .ensure_namespace(r.namespace, &[NAMESPACE_LABEL])
                .await
                .map_err(|e| e.to_string())?;
        }
        let dir = if r.embedded {
            Some(ChartDir::write(r.chart, GATEWAY_CHART_FILES)?)
        } else {
            None
        };
        let spec = self.spec(r, dir.as_ref().map(|d| &d.0));
        let crds = self.apply_crds(&spec).await?;
        let info = release::install(self.helm, self.conn, &spec, wait, true, limit, CALL_TIMEOUT)
            .await
            .map_err(|f| {
                format!(
                    "helm could not install or upgrade release {}/{}: {f}",
                    r.namespace, r.name
                )
            })?;
        let objects = release::manifest_digests(&info, r.namespace)
            .map_err(|e| format!("the manifest of release {}: {e}", r.name))?;
        Ok(Installed {
            info,
            crds,
            objects,
        })
    }

    /// The release rendered against the cluster as an upgrade would render it
    /// (`helm upgrade --install --dry-run=server`, the same render `platform_helm_release`
    /// plans with): each object (`Kind/namespace/name`) and its digest.
    pub async fn render(&self, r: &PlannedRelease) -> Result<BTreeMap<String, String>, String> {
        let dir = if r.embedded {
            Some(ChartDir::write(r.chart, GATEWAY_CHART_FILES)?)
        } else {
            None
        };
        let spec = self.spec(r, dir.as_ref().map(|d| &d.0));
        let info = self
            .helm
            .render(&spec, self.conn, CALL_TIMEOUT)
            .await
            .map_err(|e| format!("rendering release {}/{}: {e}", r.namespace, r.name))?;
        release::manifest_digests(&info, r.namespace)
            .map_err(|e| format!("the rendered manifest of {}: {e}", r.name))
    }

    /// The chart's `crds/`, applied (created or updated); their names.
    async fn apply_crds(&self, spec: &ReleaseSpec) -> Result<Vec<String>, String> {
        let text = self.helm.show_crds(spec, CALL_TIMEOUT).await.map_err(|e| {
            format!(
                "reading the CRDs of chart {} {}: {e}",
                spec.chart,
                spec.version.as_deref().unwrap_or("")
            )
        })?;
        let objs =
            manifest::parse(&text).map_err(|e| format!("the CRDs of chart {}: {e}", spec.chart))?;
        let bodies: Vec<_> = objs
            .into_iter()
            .filter(|o| o.kind == "CustomResourceDefinition")
            .map(|o| o.body)
            .collect();
        if bodies.is_empty() {
            return Ok(Vec::new());
        }
        tracing::info!(target: "platform::cluster_services", chart = %spec.chart, count = bodies.len(), "applying the chart's CRDs before its release");
        self.objects
            .apply_crds(&bodies)
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn observe(&self, name: &str, namespace: &str) -> Result<Option<Observed>, String> {
        release::observe(self.conn, self.helm, name, namespace, CALL_TIMEOUT)
            .await
            .map_err(|e| format!("{}: {e}", e.summary()))
    }

    /// Uninstalls the release (waiting for its objects to go), then deletes each of its CRDs
    /// that no object is left of: what remains after the uninstall is not this resource's
    /// (a user's ServiceMonitor, another team's HTTPRoute), and deleting the CRD would delete
    /// it too. Returns a warning for each CRD left in place.
    pub async fn uninstall(
        &self,
        name: &str,
        namespace: &str,
        crds: &[String],
        limit: Duration,
    ) -> Result<Vec<String>, String> {
        tracing::info!(target: "platform::cluster_services", release = name, namespace, "uninstalling the release");
        self.helm
            .uninstall(name, namespace, self.conn, limit)
            .await
            .map_err(|e| format!("uninstalling release {namespace}/{name}: {e}"))?;
        let mut removable = Vec::new();
        let mut kept = Vec::new();
        for crd in crds {
            let left = self
                .objects
                .custom_objects(crd)
                .await
                .map_err(|e| e.to_string())?;
            if left.is_empty() {
                removable.push(crd.clone());
            } else {
                kept.push(crd_kept_warning(crd, name, &left));
            }
        }
        if !removable.is_empty() {
            tracing::info!(target: "platform::cluster_services", release = name, count = removable.len(), "deleting the release's CRDs after it");
            self.objects
                .delete_crds(&removable)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(kept)
    }

    /// Deletes the namespaces this resource created (labelled), except system ones.
    pub async fn delete_own_namespaces(&self, names: &[&str]) -> Result<(), String> {
        for n in names {
            if !SYSTEM_NAMESPACES.contains(n) {
                self.objects
                    .delete_namespace_if_labelled(n, NAMESPACE_LABEL)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

/// The warning for a CRD left because objects of it remain that the release did not create.
pub fn crd_kept_warning(crd: &str, release: &str, left: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut names = left
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if left.len() > SHOWN {
        names.push_str(&format!(" and {} more", left.len() - SHOWN));
    }
    format!(
        "CRD {crd} (installed with release {release}) was left in the cluster: {} object(s) of it remain that platform_cluster_services did not create ({names}); deleting the CRD would delete them. Delete them and then the CRD (`kubectl delete crd {crd}`) when they are no longer needed.",
        left.len()
    )
}

/// Each release's status for state: Helm's, or `missing` / `drifted`.
pub fn status_of(o: &Option<Observed>) -> (String, Option<i64>) {
    match o {
        None => ("missing".to_owned(), None),
        Some(o) if o.drifted() => ("drifted".to_owned(), Some(o.info.revision)),
        Some(o) => (o.info.status.clone(), Some(o.info.revision)),
    }
}
