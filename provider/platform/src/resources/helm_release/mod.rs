//! `platform_helm_release`: one Helm release in a cluster, reached without a kubeconfig, a CLI
//! plugin or a second provider (docs/design.md "Phase 3").
//!
//! - **Plan shows the cluster's change.** The release is rendered against the cluster as an
//!   upgrade would render it (`helm upgrade --install --dry-run=server`) and `objects` maps each
//!   object (`Kind/namespace/name`) to a digest, so a plan names the objects that change.
//!   Bad values (`values.schema.json`), a missing chart and an unreachable cluster are errors at
//!   the attribute, before anything changes.
//! - **Refresh finds drift.** `objects` in state is read from the cluster: the release's current
//!   manifest (an out-of-band upgrade or rollback changes it), each object checked live
//!   (`absent` when deleted, `edited:<digest>` when a field the manifest sets was changed).
//!   Apply upgrades, and Helm's three-way merge restores what drifted.
//! - **A failed upgrade never leaves the release failed** (`atomic`): it is rolled back to the
//!   last good revision (a failed first install is uninstalled) and the error says what failed.
//! - **Destroy** uninstalls and waits until the release's objects are gone.
//! - **Import** by `namespace/name`.

pub mod validate;

use crate::cluster_access as access;
use crate::provider::Clients;
use async_trait::async_trait;
use platform_kube::release::{self, Observed};
use platform_kube::{Connection, Helm, HelmError, ReleaseInfo, ReleaseSpec};
use std::collections::BTreeMap;
use std::time::Duration;
use tfplugin_framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, NestedBlock, PlanRequest, Resource,
    Schema, Type, Value,
};

pub struct HelmRelease;

const DEFAULT_NAMESPACE: &str = "default";
const DEFAULT_MAX_HISTORY: i64 = 10;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a plan waits for the API server to answer before saying it is unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on a render, a status read or a history listing.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// The cluster fields a release needs; `platform_environment` exposes them under these names,
/// so `cluster = platform_environment.prod` works.
fn cluster_type() -> Type {
    Type::object([
        ("cluster_name", Type::String),
        ("cluster_endpoint", Type::String),
        ("cluster_certificate_authority", Type::String),
    ])
}

fn schema() -> Schema {
    Schema::new(
        0,
        Block::new()
            .description("One Helm release in a cluster, installed and upgraded with helm v3 so `helm list/history/rollback` work on it. The plan names the objects of the rendered manifest that change; refresh shows objects deleted or edited in the cluster and out-of-band upgrades or rollbacks; a failed upgrade is rolled back.")
            .attr(Attribute::string("id").computed().description("`namespace/name`; the import id."))
            .attr(Attribute::string("name").required().force_new().description("Release name (a DNS label of at most 53 characters). Changing it replaces the release."))
            .attr(Attribute::string("namespace").default(DEFAULT_NAMESPACE).force_new().description("Namespace of the release. Changing it replaces the release."))
            .attr(Attribute::bool("create_namespace").default(false).description("Create the namespace if it does not exist."))
            .attr(Attribute::string("chart").required().description("A local chart directory or archive, a chart name in `repository`, or an `oci://registry/path/chart` reference."))
            .attr(Attribute::string("repository").optional().description("URL of the chart repository `chart` is a name in."))
            .attr(Attribute::string("version").optional().description("Chart version (a repository or OCI chart); a local chart is used as it is."))
            .attr(Attribute::string("values").optional().description("Values as a JSON or YAML document, e.g. `platform_microservice.<name>.helm_values`. Checked against the chart's values.schema.json at plan time."))
            .attr(Attribute::new("cluster", cluster_type()).optional().description("The EKS cluster: `platform_environment.<name>` or an object with `cluster_name`, `cluster_endpoint`, `cluster_certificate_authority`. The provider signs a fresh EKS token for every connection. Ignored when the provider block has a `kubernetes` override."))
            .attr(Attribute::bool("atomic").default(true).description("On a failed install or upgrade, roll back to the last good revision (uninstall a failed first install)."))
            .attr(Attribute::bool("wait").default(true).description("Wait until the release's Deployments, StatefulSets, Services and Jobs are ready, up to the timeout."))
            .attr(Attribute::number("max_history").default(DEFAULT_MAX_HISTORY).description("Revisions Helm keeps (0: unlimited)."))
            .attr(Attribute::number("revision").computed().description("The deployed revision."))
            .attr(Attribute::string("status").computed().description("Helm's status of the release (`deployed`)."))
            .attr(Attribute::string("chart_version").computed().description("Version of the deployed chart."))
            .attr(Attribute::string("app_version").computed().description("App version of the deployed chart."))
            .attr(Attribute::string_map("objects").computed().description("Each object of the release (`Kind/namespace/name`) and a digest of it; `absent` or `edited:<digest>` when refresh found it deleted or changed in the cluster."))
            .block(NestedBlock::at_most_one(
                "timeouts",
                Block::new()
                    .description("How long install/upgrade (with `wait`) and uninstall may take, e.g. \"5m\". Default 10m each.")
                    .attr(Attribute::string("create").optional().description("How long the first install (and, with `wait`, the rollout) may take, e.g. \"5m\". Default 10m."))
                    .attr(Attribute::string("update").optional().description("How long an upgrade (and, with `wait`, the rollout) may take, e.g. \"5m\". Default 10m."))
                    .attr(Attribute::string("delete").optional().description("How long the uninstall may take, until the release's objects are gone, e.g. \"5m\". Default 10m.")),
            )),
    )
}

/// The operation a timeout is for.
#[derive(Clone, Copy)]
enum Op {
    Create,
    Update,
    Delete,
}

fn timeout(v: &Value, op: Op) -> Duration {
    let key = match op {
        Op::Create => "create",
        Op::Update => "update",
        Op::Delete => "delete",
    };
    v.get("timeouts")
        .elements()
        .first()
        .and_then(|t| t.get(key).as_str())
        .and_then(|s| platform_aws::wait::duration(s).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

fn str_of<'a>(v: &'a Value, name: &str) -> &'a str {
    v.get(name).as_str().unwrap_or_default()
}

fn namespace_of(v: &Value) -> &str {
    v.get("namespace").as_str().unwrap_or(DEFAULT_NAMESPACE)
}

/// The release Helm should install, from a wholly known configuration.
fn spec_of(v: &Value) -> Result<ReleaseSpec, Diagnostics> {
    let values = validate::values_document(str_of(v, "values")).map_err(|e| {
        let mut d = Diagnostics::new();
        d.error_at(AttributePath::root("values"), "Invalid values", e);
        d
    })?;
    Ok(ReleaseSpec {
        name: str_of(v, "name").to_owned(),
        namespace: namespace_of(v).to_owned(),
        chart: str_of(v, "chart").to_owned(),
        repository: v.get("repository").as_str().map(str::to_owned),
        version: v.get("version").as_str().map(str::to_owned),
        values: values.to_string(),
        create_namespace: v.get("create_namespace").as_bool().unwrap_or(false),
        max_history: v.get("max_history").as_i64().unwrap_or(DEFAULT_MAX_HISTORY),
        skip_crds: false,
    })
}

/// A render or install error, at the attribute it is about: values that break the chart's
/// schema at `values`, anything about finding or loading the chart at `chart`.
fn helm_diag(e: &HelmError, doing: &str) -> Diagnostics {
    let mut d = Diagnostics::new();
    let text = e.stderr();
    if text.contains("values don't meet the specifications of the schema") {
        d.error_at(
            AttributePath::root("values"),
            "Values break the chart's values.schema.json",
            format!("{text}\n\nFix the values (or the chart's schema); nothing was changed in the cluster."),
        );
    } else if matches!(e, HelmError::NotFound(_) | HelmError::WrongVersion { .. }) {
        d.error(format!("Cannot {doing}"), e.to_string());
    } else if text.contains("chart")
        || text.contains("no such file")
        || text.contains("not found")
        || text.contains("failed to")
    {
        d.error_at(
            AttributePath::root("chart"),
            format!("Cannot {doing}: chart problem"),
            e.to_string(),
        );
    } else {
        d.error(format!("Cannot {doing}"), e.to_string());
    }
    d
}

fn objects_value(m: &BTreeMap<String, String>) -> Value {
    Value::string_map(m.iter().map(|(k, v)| (k.clone(), v.clone())))
}

/// The manifest's objects with their digests, or the error as a diagnostic.
fn manifest_digests(
    info: &ReleaseInfo,
    namespace: &str,
) -> Result<BTreeMap<String, String>, Diagnostics> {
    release::manifest_digests(info, namespace)
        .map_err(|e| Diagnostics::from_error("Unreadable release manifest", e.to_string()))
}

/// Fills the computed attributes from what Helm says of the deployed release.
fn fill(state: &mut Value, info: &ReleaseInfo, objects: &BTreeMap<String, String>) {
    let id = format!("{}/{}", namespace_of(state), str_of(state, "name"));
    state.set_attr("id", Value::from(id));
    state.set_attr("revision", Value::int(info.revision));
    state.set_attr("status", Value::from(info.status.clone()));
    state.set_attr("chart_version", Value::from(info.chart_version.clone()));
    state.set_attr("app_version", Value::from(info.app_version.clone()));
    state.set_attr("objects", objects_value(objects));
}

/// Whether the inputs Helm sees are the same as in the prior state.
fn same_inputs(prior: &Value, planned: &Value) -> bool {
    [
        "chart",
        "repository",
        "version",
        "values",
        "create_namespace",
        "max_history",
    ]
    .iter()
    .all(|k| prior.get(k) == planned.get(k))
}

impl HelmRelease {
    fn helm(c: &Clients) -> Result<Helm, Diagnostics> {
        Helm::locate(c.kube.helm_binary.as_deref())
            .map_err(|e| Diagnostics::from_error("helm v3 is needed", e.to_string()))
    }

    /// The live state of the release: Helm's record, and each object checked in the cluster.
    async fn observe(
        conn: &Connection,
        helm: &Helm,
        name: &str,
        namespace: &str,
    ) -> Result<Option<(ReleaseInfo, BTreeMap<String, String>)>, Diagnostics> {
        match release::observe(conn, helm, name, namespace, CALL_TIMEOUT).await {
            Ok(o) => Ok(o.map(|Observed { info, objects }| (info, objects))),
            Err(e) => Err(Diagnostics::from_error(e.summary(), e.to_string())),
        }
    }

    /// Install or upgrade; on failure with `atomic`, roll back (or uninstall a failed first
    /// install) and return the release as it is then, with the error.
    async fn converge(&self, c: &Clients, prior: &Value, planned: &Value, op: Op) -> ApplyOutcome {
        let fail = |state: &Value, d: Diagnostics| ApplyOutcome::failed(state.clone(), d);
        let conn = match access::connection(c, planned).await {
            Ok(Some(conn)) => conn,
            Ok(None) => {
                return fail(
                    prior,
                    Diagnostics::from_error(
                        "The cluster is not known yet",
                        "The cluster's endpoint, CA or name is still unknown at apply time.",
                    ),
                )
            }
            Err(d) => return fail(prior, d),
        };
        let helm = match Self::helm(c) {
            Ok(h) => h,
            Err(d) => return fail(prior, d),
        };
        let spec = match spec_of(planned) {
            Ok(s) => s,
            Err(d) => return fail(prior, d),
        };
        let wait = planned.get("wait").as_bool().unwrap_or(true);
        let atomic = planned.get("atomic").as_bool().unwrap_or(true);
        let limit = timeout(planned, op);
        match release::install(&helm, &conn, &spec, wait, atomic, limit, CALL_TIMEOUT).await {
            Ok(info) => match manifest_digests(&info, &spec.namespace) {
                Ok(objects) => {
                    let mut state = planned.clone();
                    fill(&mut state, &info, &objects);
                    ApplyOutcome::ok(state)
                }
                Err(d) => fail(prior, d),
            },
            Err(failure) => {
                let mut d = Diagnostics::new();
                let what = format!(
                    "helm could not install or upgrade release {}/{}",
                    spec.namespace, spec.name
                );
                d.error(what, failure.to_string());
                match Self::observe(&conn, &helm, &spec.name, &spec.namespace).await {
                    Ok(Some((info, objects))) => {
                        let mut state = if prior.is_null() {
                            planned.clone()
                        } else {
                            prior.clone()
                        };
                        fill(&mut state, &info, &objects);
                        ApplyOutcome::failed(state, d)
                    }
                    Ok(None) => ApplyOutcome::failed(Value::Null, d),
                    Err(more) => {
                        d.extend(more);
                        fail(prior, d)
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Resource<Clients> for HelmRelease {
    fn type_name(&self) -> &'static str {
        "platform_helm_release"
    }

    /// The resource identity (Terraform 1.12+): `import` blocks may name the object by it.
    fn identity(&self) -> Option<tfplugin_framework::Identity> {
        Some(
            tfplugin_framework::Identity::single(
                "namespace",
                "namespace",
                "Namespace of the release.",
            )
            .and(
                "name",
                "name",
                "Name of the release. The import id is `namespace/name`.",
            ),
        )
    }

    fn schema(&self) -> Schema {
        schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate::validate(config)
    }

    async fn modify_plan(
        &self,
        c: &Clients,
        req: &PlanRequest,
        planned: &mut Value,
        diags: &mut Diagnostics,
    ) {
        // The framework ran `validate` on this configuration before calling here.
        if planned.is_null() {
            return;
        }
        let (name, namespace) = (planned.get("name"), planned.get("namespace"));
        if let (Some(n), Some(ns)) = (name.as_str(), namespace.as_str()) {
            planned.set_attr("id", Value::from(format!("{ns}/{n}")));
        }
        let unknown_outputs = |p: &mut Value| {
            for k in ["revision", "chart_version", "app_version", "objects"] {
                p.set_attr(k, Value::Unknown);
            }
            p.set_attr("status", Value::from("deployed"));
        };
        let inputs = [
            "name",
            "namespace",
            "chart",
            "repository",
            "version",
            "values",
            "cluster",
            "create_namespace",
            "max_history",
        ];
        if !inputs.iter().all(|k| planned.get(k).is_wholly_known()) {
            unknown_outputs(planned);
            return;
        }
        let helm = match Self::helm(c) {
            Ok(h) => h,
            Err(d) => {
                diags.extend(d);
                return;
            }
        };
        if let Err(e) = helm.check_version().await {
            diags.extend(Diagnostics::from_error("helm v3 is needed", e.to_string()));
            return;
        }
        let spec = match spec_of(planned) {
            Ok(s) => s,
            Err(d) => {
                diags.extend(d);
                return;
            }
        };
        let conn = match access::connection(c, planned).await {
            Ok(Some(conn)) => conn,
            Ok(None) => {
                // The cluster is created in this apply: the objects are known only then.
                unknown_outputs(planned);
                return;
            }
            Err(d) => {
                diags.extend(d);
                return;
            }
        };
        if let Err(e) = conn.version(PROBE_TIMEOUT).await {
            diags.extend(access::unreachable(c, &e));
            return;
        }
        let info = match helm.render(&spec, &conn, CALL_TIMEOUT).await {
            Ok(i) => i,
            Err(e) => {
                diags.extend(helm_diag(&e, "render the chart"));
                return;
            }
        };
        let objects = match manifest_digests(&info, &spec.namespace) {
            Ok(o) => o,
            Err(d) => {
                diags.extend(d);
                return;
            }
        };
        let rendered = objects_value(&objects);
        let prior = &req.prior;
        let unchanged = !prior.is_null()
            && prior.get("objects") == &rendered
            && same_inputs(prior, planned)
            && prior.get("status").as_str() == Some("deployed");
        if unchanged {
            for k in [
                "revision",
                "status",
                "chart_version",
                "app_version",
                "objects",
            ] {
                planned.set_attr(k, prior.get(k).clone());
            }
        } else {
            planned.set_attr("revision", Value::Unknown);
            planned.set_attr("status", Value::from("deployed"));
            planned.set_attr("chart_version", Value::from(info.chart_version));
            planned.set_attr("app_version", Value::from(info.app_version));
            planned.set_attr("objects", rendered);
        }
    }

    async fn create(&self, c: &Clients, planned: &Value) -> ApplyOutcome {
        self.converge(c, &Value::Null, planned, Op::Create).await
    }

    async fn update(&self, c: &Clients, prior: &Value, planned: &Value) -> ApplyOutcome {
        self.converge(c, prior, planned, Op::Update).await
    }

    async fn read(&self, c: &Clients, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let conn = match access::connection(c, state).await? {
            Some(conn) => conn,
            None => return Ok(Some(state.clone())),
        };
        let helm = Self::helm(c)?;
        match Self::observe(&conn, &helm, str_of(state, "name"), namespace_of(state)).await? {
            None => Ok(None),
            Some((info, objects)) => {
                let mut s = state.clone();
                fill(&mut s, &info, &objects);
                Ok(Some(s))
            }
        }
    }

    async fn delete(&self, c: &Clients, prior: &Value) -> ApplyOutcome {
        let (name, namespace) = (str_of(prior, "name"), namespace_of(prior));
        let conn = match access::connection(c, prior).await {
            Ok(Some(conn)) => conn,
            Ok(None) => return ApplyOutcome::ok(Value::Null),
            Err(d) => return ApplyOutcome::failed(prior.clone(), d),
        };
        let helm = match Self::helm(c) {
            Ok(h) => h,
            Err(d) => return ApplyOutcome::failed(prior.clone(), d),
        };
        let limit = timeout(prior, Op::Delete);
        tracing::info!(target: "platform::helm", release = %name, namespace = %namespace, "uninstalling the release");
        match helm.uninstall(name, namespace, &conn, limit).await {
            Ok(()) => ApplyOutcome::ok(Value::Null),
            Err(e) => ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error(
                    format!("Cannot uninstall release {namespace}/{name}"),
                    format!("{e}\n\nThe release stays in state; run destroy again once the cause is fixed."),
                ),
            ),
        }
    }

    async fn import(&self, c: &Clients, id: &str) -> Result<Value, Diagnostics> {
        let Some((namespace, name)) = id.split_once('/') else {
            return Err(Diagnostics::from_error(
                "Invalid import id",
                format!("{id:?}: import a release as `namespace/name`."),
            ));
        };
        let conn = match &c.kube.cluster_override {
            Some(conn) => conn.clone(),
            None => {
                return Err(Diagnostics::from_error(
                    "Import needs the provider's kubernetes block",
                    "Import cannot read the `cluster` attribute from configuration; configure the provider's `kubernetes { host, token, cluster_ca_certificate }` for the import.",
                ))
            }
        };
        let helm = Self::helm(c)?;
        let Some((info, objects)) = Self::observe(&conn, &helm, name, namespace).await? else {
            return Err(Diagnostics::from_error(
                "No such release",
                format!("There is no Helm release {name} in namespace {namespace}."),
            ));
        };
        let mut state = Value::object([
            ("name", Value::from(name)),
            ("namespace", Value::from(namespace)),
            ("create_namespace", Value::Bool(false)),
            ("chart", Value::from(info.chart_name.clone())),
            ("repository", Value::Null),
            ("version", Value::Null),
            ("values", Value::from(info.values.to_string())),
            ("cluster", Value::Null),
            ("atomic", Value::Bool(true)),
            ("wait", Value::Bool(true)),
            ("max_history", Value::int(DEFAULT_MAX_HISTORY)),
            ("timeouts", Value::List(Vec::new())),
        ]);
        fill(&mut state, &info, &objects);
        Ok(state)
    }
}
