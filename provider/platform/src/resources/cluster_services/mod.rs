//! `platform_cluster_services`: the cluster's core services, installed before any
//! microservice (docs/design.md "Phase 3") — the AWS Load Balancer Controller, Fluent Bit to
//! a CloudWatch log group created here, kube-prometheus-stack with Grafana, and an API
//! gateway (Envoy Gateway) with JWT authentication and rate limits.
//!
//! - **Plan is informative.** Role ARNs, the log group and each release's chart, pinned
//!   version and values are derived from the configuration, so the plan shows them; a release
//!   whose inputs did not change keeps its revision.
//! - **AWS first, then the cluster.** The IRSA roles, the log group (with its retention) and
//!   Grafana's secret exist before the releases that use them; releases go in order, each
//!   chart's CRDs applied before it. Releases go through the same code as
//!   `platform_helm_release` (`platform_kube::release`), so a failed upgrade is rolled back.
//! - **Refresh finds drift**: a release uninstalled (`missing`) or with objects deleted or
//!   edited (`drifted`), a role, log group or secret deleted; the next apply repairs it.
//! - **Plan shows each release's rendered change**: a release whose chart, version or values
//!   change is rendered against the cluster (`helm upgrade --install --dry-run=server`, as
//!   `platform_helm_release` plans), so `releases[*].objects` names the objects that change.
//! - **Destroy** deletes the Ingresses and `LoadBalancer` Services the load balancer controller
//!   manages (its IngressClasses, its `loadBalancerClass` or NLB annotation, its finalizers;
//!   never another controller's) and waits until they are gone (the controller removes its
//!   finalizer once the load balancer is deleted), then uninstalls the releases in reverse
//!   order and deletes each CRD no object is left of (a CRD still holding objects this resource
//!   did not create is left, with a warning), then the AWS objects; Grafana's secret with a
//!   7-day recovery window (a re-create restores it).
//! - **Import** by cluster name, from the record apply keeps in the cluster.

mod desired;
mod logs;
mod releases;
mod roles;
mod schema;
mod secret;
pub(crate) mod validate;
pub mod values;

use crate::cluster_access;
use crate::provider::Clients;
use async_trait::async_trait;
use desired::*;
use platform_aws::lost::settle;
use platform_aws::{irsa, tags};
use platform_kube::objects::Objects;
use platform_kube::{Connection, Helm};
use releases::{Releases, NAMESPACE_LABEL};
use schema::{COMPUTED, TYPE_NAME};
use std::collections::BTreeMap;
use std::time::Duration;
use tfplugin_framework::{ApplyOutcome, Diagnostics, PlanRequest, Resource, Schema, Value};
use values::PlannedRelease;

pub struct ClusterServices;

/// Where apply records the resource's last applied state (inputs and computed attributes; no
/// secret is in it) in the cluster, so `terraform import` by cluster name can rebuild exactly
/// the configuration it was applied with (the chart repository, `wait`, timeouts and tags are
/// not otherwise observable), and refresh then checks it against AWS and the cluster.
const RECORD_NAMESPACE: &str = "kube-system";
const RECORD_NAME: &str = "platformkit-cluster-services";
const RECORD_KEY: &str = "state.json";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20 * 60);
const TARGET: &str = "platform::cluster_services";
/// Releases in uninstall order (the reverse of install order).
const UNINSTALL_ORDER: &[&str] = &[
    GATEWAY_CONFIG_RELEASE,
    GATEWAY_RELEASE,
    PROMETHEUS_RELEASE,
    FLUENT_BIT_RELEASE,
    LBC_RELEASE,
];

fn timeout(v: &Value, op: &str) -> Duration {
    v.get("timeouts")
        .elements()
        .first()
        .and_then(|t| t.get(op).as_str())
        .and_then(|s| platform_aws::wait::duration(s).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// A `releases` entry.
fn entry(r: &PlannedRelease, status: Value, revision: Value, crds: Value, objects: Value) -> Value {
    Value::object([
        ("chart", Value::from(r.chart)),
        ("version", Value::from(r.version.clone())),
        ("namespace", Value::from(r.namespace)),
        ("values", Value::from(r.values.to_string())),
        ("status", status),
        ("revision", revision),
        ("crds", crds),
        ("objects", objects),
    ])
}

fn objects_value(m: &BTreeMap<String, String>) -> Value {
    Value::string_map(m.iter().map(|(k, v)| (k.clone(), v.clone())))
}

/// The `gateway` attribute: the platform Gateway (named after its class) when there is one.
fn gateway_value(d: &Desired) -> Value {
    if d.gateway.is_some() {
        Value::object([
            ("name", Value::from(GATEWAY_CLASS)),
            ("namespace", Value::from(GATEWAY_NAMESPACE)),
            ("class_name", Value::from(GATEWAY_CLASS)),
        ])
    } else {
        Value::Null
    }
}

fn strings(v: &[String]) -> Value {
    Value::List(v.iter().cloned().map(Value::from).collect())
}

/// Whether the prior entry is this release, deployed, with the same chart, version and values.
fn unchanged(prior: &Value, r: &PlannedRelease) -> bool {
    prior.get("chart").as_str() == Some(r.chart)
        && prior.get("version").as_str() == Some(r.version.as_str())
        && prior.get("namespace").as_str() == Some(r.namespace)
        && prior
            .get("values")
            .as_str()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
            .as_ref()
            == Some(&r.values)
        && prior.get("status").as_str() == Some("deployed")
}

fn crds_of(entry: &Value) -> Vec<String> {
    entry
        .get("crds")
        .elements()
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect()
}

fn all_tags(c: &Clients, v: &Value, cluster: &str) -> BTreeMap<String, String> {
    tags::merged(
        &c.aws.default_tags,
        &v.get("tags").to_string_map(),
        TYPE_NAME,
        cluster,
    )
}

fn helm(c: &Clients) -> Result<Helm, Diagnostics> {
    Helm::locate(c.kube.helm_binary.as_deref())
        .map_err(|e| Diagnostics::from_error("helm v3 is needed", e.to_string()))
}

async fn connection(c: &Clients, v: &Value) -> Result<Option<Connection>, Diagnostics> {
    cluster_access::connection(c, v).await
}

impl ClusterServices {
    /// AWS objects: roles, log group, secret; each created or deleted as the switches say.
    /// Fills the ARNs into `state` as it goes, so a failure part-way keeps what exists.
    async fn converge_aws(
        c: &Clients,
        d: &Desired,
        tags: &BTreeMap<String, String>,
        state: &mut Value,
    ) -> Result<(), String> {
        let owner = tags::owner(TYPE_NAME, &d.cluster);
        let iam = c.aws.iam();
        let err = |what: &str, e: platform_aws::step::StepError| format!("{what}: {e}");
        if d.lbc.is_some() {
            let role = roles::lbc_role(d, tags, &owner);
            let arn = settle("load balancer controller role", || {
                irsa::converge(iam, &role)
            })
            .await
            .map_err(|e| err("the load balancer controller's role", e))?;
            state.set_attr("load_balancer_controller_role_arn", Value::from(arn));
        } else {
            irsa::delete(iam, &d.lbc_role_name(), &owner)
                .await
                .map_err(|e| err("deleting the load balancer controller's role", e))?;
            state.set_attr("load_balancer_controller_role_arn", Value::Null);
        }
        if let Some(o) = &d.observability {
            let group = d.log_group_name();
            let arn = settle("container log group", || {
                logs::converge(c.aws.logs(), &group, o.log_retention_in_days, tags, &owner)
            })
            .await
            .map_err(|e| err("the container log group", e))?;
            state.set_attr("log_group_name", Value::from(d.log_group_name()));
            state.set_attr("log_group_arn", Value::from(arn));
            let role = roles::fluent_bit_role(d, tags, &owner);
            let arn = settle("Fluent Bit role", || irsa::converge(iam, &role))
                .await
                .map_err(|e| err("Fluent Bit's role", e))?;
            state.set_attr("fluent_bit_role_arn", Value::from(arn));
        } else {
            irsa::delete(iam, &d.fluent_bit_role_name(), &owner)
                .await
                .map_err(|e| err("deleting Fluent Bit's role", e))?;
            logs::delete(c.aws.logs(), &d.log_group_name(), &owner)
                .await
                .map_err(|e| err("deleting the container log group", e))?;
            for a in ["fluent_bit_role_arn", "log_group_name", "log_group_arn"] {
                state.set_attr(a, Value::Null);
            }
        }
        if d.grafana() {
            let secret_name = d.grafana_secret_name();
            let arn = settle("Grafana admin secret", || {
                secret::converge(c.aws.secretsmanager(), &secret_name, tags, &owner)
            })
            .await
            .map_err(|e| err("Grafana's admin secret", e))?;
            state.set_attr("grafana_admin_secret_arn", Value::from(arn));
        } else {
            secret::delete(c.aws.secretsmanager(), &d.grafana_secret_name(), &owner)
                .await
                .map_err(|e| err("deleting Grafana's admin secret", e))?;
            state.set_attr("grafana_admin_secret_arn", Value::Null);
        }
        Ok(())
    }

    /// The releases: Grafana's Secret, releases no longer wanted uninstalled, the wanted ones
    /// installed or upgraded where they changed or drifted. `state.releases` is updated as it
    /// goes.
    async fn converge_cluster(
        c: &Clients,
        d: &Desired,
        prior: &Value,
        planned: &Value,
        state: &mut Value,
        limit: Duration,
    ) -> Result<Vec<String>, String> {
        let conn = match connection(c, planned).await {
            Ok(Some(conn)) => conn,
            Ok(None) => {
                return Err(
                    "the cluster's endpoint, CA or name is still unknown at apply time".into(),
                )
            }
            Err(d) => return Err(d.to_string()),
        };
        let helm = helm(c).map_err(|d| d.to_string())?;
        let rel = Releases::new(&helm, &conn, &d.repository)?;
        let wait = planned.get("wait").as_bool().unwrap_or(true);
        let mut done: BTreeMap<String, Value> =
            prior.get("releases").entries().cloned().unwrap_or_default();
        let wanted = values::releases(d);
        let mut warnings = Vec::new();
        let result = async {
            for name in UNINSTALL_ORDER {
                if wanted.iter().any(|r| r.name == *name) {
                    continue;
                }
                if let Some(e) = done.get(*name).cloned() {
                    let ns = e.get("namespace").as_str().unwrap_or_default().to_owned();
                    warnings.extend(rel.uninstall(name, &ns, &crds_of(&e), limit).await?);
                    done.remove(*name);
                }
            }
            Self::grafana_secret(c, d, &rel.objects).await?;
            for r in &wanted {
                if done.get(r.name).is_some_and(|p| unchanged(p, r)) {
                    continue;
                }
                let installed = rel.install(r, wait, limit).await?;
                done.insert(
                    r.name.to_owned(),
                    entry(
                        r,
                        Value::from(installed.info.status.clone()),
                        Value::int(installed.info.revision),
                        strings(&installed.crds),
                        // The plan's render when it had one (Terraform holds apply to a
                        // known planned value; a chart that generates a value on each
                        // render would otherwise differ), else what was installed.
                        match planned.get("releases").get(r.name).get("objects") {
                            o @ Value::Map(_) => o.clone(),
                            _ => objects_value(&installed.objects),
                        },
                    ),
                );
            }
            Ok::<(), String>(())
        }
        .await;
        state.set_attr("releases", Value::Map(done));
        result?;
        let address = if d.gateway.is_some() {
            Self::gateway_address(&rel.objects).await
        } else {
            None
        };
        state.set_attr("gateway_address", Value::opt_string(address));
        Ok(warnings)
    }

    /// A create planned while this resource's first IAM role (the load balancer controller's,
    /// else Fluent Bit's) exists with its owner tag: after a failed create that Terraform
    /// tainted, say that `terraform untaint` resumes. One GetRole (its answer carries the
    /// tags); a failed look-up only skips the warning.
    async fn warn_if_objects_exist(c: &Clients, d: &Desired, diags: &mut Diagnostics) {
        let role = if d.lbc.is_some() {
            d.lbc_role_name()
        } else if d.observability.is_some() {
            d.fluent_bit_role_name()
        } else {
            return;
        };
        let owner = tags::owner(TYPE_NAME, &d.cluster);
        if platform_aws::resume::role_owned_by(c.aws.iam(), &role, &owner).await {
            diags.warning(
                "These cluster services already exist in AWS",
                platform_aws::resume::existing_objects(
                    TYPE_NAME,
                    &d.cluster,
                    &format!("IAM role {role:?}"),
                ),
            );
        }
    }

    /// Grafana's admin credentials as a Kubernetes Secret, from Secrets Manager.
    async fn grafana_secret(c: &Clients, d: &Desired, objects: &Objects) -> Result<(), String> {
        if !d.grafana() {
            return objects
                .delete_secret(MONITORING_NAMESPACE, GRAFANA_SECRET)
                .await
                .map_err(|e| e.to_string());
        }
        let sm = c.aws.secretsmanager();
        let Some((arn, _)) = secret::observe(sm, &d.grafana_secret_name())
            .await
            .map_err(|e| e.to_string())?
        else {
            return Err("Grafana's admin secret vanished from Secrets Manager".into());
        };
        let password = secret::value(sm, &arn).await.map_err(|e| e.to_string())?;
        objects
            .ensure_namespace(MONITORING_NAMESPACE, &[NAMESPACE_LABEL])
            .await
            .map_err(|e| e.to_string())?;
        let labels = BTreeMap::from([(NAMESPACE_LABEL.0.to_owned(), NAMESPACE_LABEL.1.to_owned())]);
        let data = BTreeMap::from([
            ("admin-user".to_owned(), "admin".to_owned()),
            ("admin-password".to_owned(), password),
        ]);
        objects
            .put_secret(MONITORING_NAMESPACE, GRAFANA_SECRET, &labels, &data)
            .await
            .map_err(|e| e.to_string())
    }

    /// The first address in the platform Gateway's status, once its controller assigned one.
    async fn gateway_address(objects: &Objects) -> Option<String> {
        let gw = objects
            .get_custom(
                "gateway.networking.k8s.io/v1",
                "Gateway",
                "gateways",
                GATEWAY_NAMESPACE,
                GATEWAY_CLASS,
            )
            .await
            .ok()??;
        gw["status"]["addresses"][0]["value"]
            .as_str()
            .map(str::to_owned)
    }

    async fn converge(
        &self,
        c: &Clients,
        prior: &Value,
        planned: &Value,
        op: &str,
    ) -> ApplyOutcome {
        let Some(d) = Desired::from(planned, &c.aws.region) else {
            return ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error(
                    "Incomplete configuration at apply time",
                    "An input of platform_cluster_services was still unknown during apply; this is a bug in the provider.",
                ),
            );
        };
        let tags = all_tags(c, planned, &d.cluster);
        let mut state = planned.clone();
        state.set_attr("id", Value::from(d.cluster.clone()));
        let resume = platform_aws::resume::after_failure(TYPE_NAME, &d.cluster, prior.is_null());
        let fail = |mut state: Value, what: &str, e: String| {
            if state.get("releases").is_unknown() {
                state.set_attr("releases", prior.get("releases").clone());
            }
            for (a, _) in COMPUTED {
                if state.get(a).is_unknown() {
                    state.set_attr(a, prior.get(a).clone());
                }
            }
            ApplyOutcome::failed(
                state.unknown_as_null(),
                Diagnostics::from_error(what.to_owned(), format!("{e}\n\n{resume}")),
            )
        };
        // The AWS objects' attributes are what exists until converge_aws has made each one (it
        // sets every one of them when it succeeds): a failure part-way leaves those not yet
        // made null, not the planned ARNs.
        for a in [
            "load_balancer_controller_role_arn",
            "fluent_bit_role_arn",
            "log_group_name",
            "log_group_arn",
            "grafana_admin_secret_arn",
        ] {
            state.set_attr(a, prior.get(a).clone());
        }
        if let Err(e) = Self::converge_aws(c, &d, &tags, &mut state).await {
            return fail(
                state,
                "Could not set up the AWS side of the cluster services",
                e,
            );
        }
        let limit = timeout(planned, op);
        let warnings = match Self::converge_cluster(c, &d, prior, planned, &mut state, limit).await
        {
            Ok(w) => w,
            Err(e) => return fail(state, "Could not install the cluster services", e),
        };
        state.set_attr(
            "gateway_class_name",
            Value::opt_string(d.gateway.as_ref().map(|_| GATEWAY_CLASS)),
        );
        state.set_attr("gateway", gateway_value(&d));
        let state = state.unknown_as_null();
        let mut outcome = ApplyOutcome::ok(state.clone());
        for w in warnings {
            outcome.diags.warning("A CRD was left in the cluster", w);
        }
        if let Err(e) = Self::record(c, &state).await {
            outcome.diags.warning(
                "Could not record the cluster services in the cluster",
                format!("{e}\n\nEverything is installed; only `terraform import` of this resource needs the record (ConfigMap {RECORD_NAMESPACE}/{RECORD_NAME}), which the next apply writes."),
            );
        }
        outcome
    }

    /// The releases that change, rendered against the cluster (as `platform_helm_release`
    /// plans), when the cluster is reachable now. A release that cannot be rendered yet (the
    /// cluster is created in this apply, a namespace or the CRDs it uses are installed by this
    /// apply) plans its objects as unknown; apply reports any real error.
    async fn render_changed(
        c: &Clients,
        planned: &Value,
        d: &Desired,
        changed: &[&PlannedRelease],
    ) -> BTreeMap<&'static str, BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        if changed.is_empty() {
            return out;
        }
        let Ok(Some(conn)) = connection(c, planned).await else {
            return out;
        };
        let Ok(helm) = helm(c) else {
            return out;
        };
        let Ok(rel) = Releases::new(&helm, &conn, &d.repository) else {
            return out;
        };
        for r in changed {
            match rel.render(r).await {
                Ok(objects) => {
                    out.insert(r.name, objects);
                }
                Err(e) => {
                    tracing::info!(target: TARGET, release = r.name, error = %e, "cannot render the release at plan time; its objects are known after apply");
                }
            }
        }
        out
    }

    /// Records `state` in the cluster (the ConfigMap import reads).
    async fn record(c: &Clients, state: &Value) -> Result<(), String> {
        let Some(conn) = connection(c, state).await.map_err(|d| d.to_string())? else {
            return Ok(());
        };
        let objects = Objects::new(&conn, releases::CALL_TIMEOUT).map_err(|e| e.to_string())?;
        let json = tfplugin_framework::codec::to_json(state, &schema::schema().value_type())
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8(json).map_err(|e| e.to_string())?;
        let labels = BTreeMap::from([(NAMESPACE_LABEL.0.to_owned(), NAMESPACE_LABEL.1.to_owned())]);
        objects
            .put_config_map(
                RECORD_NAMESPACE,
                RECORD_NAME,
                &labels,
                &BTreeMap::from([(RECORD_KEY.to_owned(), text)]),
            )
            .await
            .map_err(|e| e.to_string())
    }

    /// The connection an import uses: the provider's `kubernetes` override, else the EKS
    /// cluster of that name (endpoint and CA from DescribeCluster).
    async fn import_connection(c: &Clients, cluster: &str) -> Result<Connection, Diagnostics> {
        if let Some(conn) = &c.kube.cluster_override {
            return Ok(conn.clone());
        }
        use platform_aws::step::Step;
        let out = c
            .aws
            .eks()
            .describe_cluster()
            .name(cluster)
            .send()
            .await
            .step("DescribeCluster")
            .map_err(|e| {
                Diagnostics::from_error("Cannot import: no such EKS cluster", e.to_string())
            })?;
        let cl = out.cluster();
        let field = |v: Option<&str>| Value::opt_string(v.map(str::to_owned));
        let v = Value::object([(
            "cluster",
            Value::object([
                ("cluster_name", Value::from(cluster)),
                ("cluster_endpoint", field(cl.and_then(|c| c.endpoint()))),
                (
                    "cluster_certificate_authority",
                    field(
                        cl.and_then(|c| c.certificate_authority())
                            .and_then(|a| a.data()),
                    ),
                ),
            ]),
        )]);
        connection(c, &v).await?.ok_or_else(|| {
            Diagnostics::from_error(
                "Cannot import",
                format!("EKS cluster {cluster:?} has no endpoint or CA yet."),
            )
        })
    }

    /// Destroy: load-balancer objects first (and waited for), releases in reverse order with
    /// their CRDs, our namespaces and Secret, then the AWS objects.
    async fn destroy(c: &Clients, prior: &Value) -> Result<Vec<String>, String> {
        let limit = timeout(prior, "delete");
        let mut warnings = Vec::new();
        if let Some(conn) = connection(c, prior).await.map_err(|d| d.to_string())? {
            let helm = helm(c).map_err(|d| d.to_string())?;
            let repo = prior.get("chart_repository").as_str().unwrap_or_default();
            let rel = Releases::new(&helm, &conn, repo)?;
            Self::drain_load_balancers(c, &rel.objects, limit).await?;
            let entries = prior.get("releases").entries().cloned().unwrap_or_default();
            for name in UNINSTALL_ORDER {
                if let Some(e) = entries.get(*name) {
                    let ns = e.get("namespace").as_str().unwrap_or_default();
                    warnings.extend(rel.uninstall(name, ns, &crds_of(e), limit).await?);
                }
            }
            rel.objects
                .delete_secret(MONITORING_NAMESPACE, GRAFANA_SECRET)
                .await
                .map_err(|e| e.to_string())?;
            rel.delete_own_namespaces(&[MONITORING_NAMESPACE, GATEWAY_NAMESPACE])
                .await?;
            rel.objects
                .delete_config_map(RECORD_NAMESPACE, RECORD_NAME)
                .await
                .map_err(|e| e.to_string())?;
        }
        let cluster = prior
            .get("cluster")
            .get("cluster_name")
            .as_str()
            .unwrap_or_default();
        let owner = tags::owner(TYPE_NAME, cluster);
        let names = Desired {
            cluster: cluster.to_owned(),
            ..Desired::from(prior, &c.aws.region).ok_or("the prior state has no cluster")?
        };
        secret::delete(c.aws.secretsmanager(), &names.grafana_secret_name(), &owner)
            .await
            .map_err(|e| format!("deleting Grafana's admin secret: {e}"))?;
        logs::delete(c.aws.logs(), &names.log_group_name(), &owner)
            .await
            .map_err(|e| format!("deleting the container log group: {e}"))?;
        for role in [names.fluent_bit_role_name(), names.lbc_role_name()] {
            irsa::delete(c.aws.iam(), &role, &owner)
                .await
                .map_err(|e| format!("deleting role {role}: {e}"))?;
        }
        Ok(warnings)
    }

    /// Deletes the Ingresses and `LoadBalancer` Services the load balancer controller manages
    /// and waits until they are gone.
    async fn drain_load_balancers(
        c: &Clients,
        objects: &Objects,
        limit: Duration,
    ) -> Result<(), String> {
        let first = objects
            .load_balancer_objects()
            .await
            .map_err(|e| e.to_string())?;
        if first.is_empty() {
            return Ok(());
        }
        tracing::info!(target: TARGET, count = first.len(), "deleting the load balancer controller's Ingresses and LoadBalancer Services before it goes");
        objects
            .delete_load_balancer_objects(&first)
            .await
            .map_err(|e| e.to_string())?;
        let mut left = first.clone();
        let r = platform_aws::wait::until(
            "Ingresses and LoadBalancer Services (and their load balancers) to be deleted",
            limit,
            &c.aws.cancel,
            || async {
                let now = objects
                    .load_balancer_objects()
                    .await
                    .map_err(|e| e.to_string())?;
                if now.is_empty() {
                    Ok::<_, String>(Some(()))
                } else {
                    tracing::info!(target: TARGET, remaining = now.len(), "load balancers still being deleted");
                    Ok(None)
                }
            },
        )
        .await;
        if let Err(e) = r {
            if let Ok(now) = objects.load_balancer_objects().await {
                left = now;
            }
            let names: Vec<String> = left.iter().map(ToString::to_string).collect();
            return Err(format!(
                "{e}. Still there: {}. Their load balancers are probably not deleted yet (check the load balancer controller's logs); nothing else was deleted, run destroy again.",
                names.join(", ")
            ));
        }
        Ok(())
    }
}

#[async_trait]
impl Resource<Clients> for ClusterServices {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn validate(&self, config: &Value) -> tfplugin_framework::Diagnostics {
        validate::validate(config)
    }

    async fn modify_plan(
        &self,
        c: &Clients,
        req: &PlanRequest,
        planned: &mut Value,
        diags: &mut Diagnostics,
    ) {
        if planned.is_null() {
            return;
        }
        let prior = &req.prior;
        if let Some(n) = planned.get("cluster").get("cluster_name").as_str() {
            planned.set_attr("id", Value::from(n.to_owned()));
        }
        let Some(d) = Desired::from(planned, &c.aws.region) else {
            for (a, _) in COMPUTED {
                planned.set_attr(a, Value::Unknown);
            }
            planned.set_attr("releases", Value::Unknown);
            planned.set_attr("gateway", Value::Unknown);
            return;
        };
        planned.set_attr("gateway", gateway_value(&d));
        let keep_or = |a: &str, v: Value| -> Value {
            match prior.get(a) {
                Value::String(s) if Some(s.as_str()) == v.as_str() => v,
                Value::String(_) if v.is_unknown() => prior.get(a).clone(),
                _ => v,
            }
        };
        let lbc = d
            .lbc
            .as_ref()
            .map(|_| Value::from(d.role_arn(&d.lbc_role_name())));
        planned.set_attr(
            "load_balancer_controller_role_arn",
            keep_or(
                "load_balancer_controller_role_arn",
                lbc.unwrap_or(Value::Null),
            ),
        );
        let obs = d.observability.is_some();
        let fb = if obs {
            Value::from(d.role_arn(&d.fluent_bit_role_name()))
        } else {
            Value::Null
        };
        planned.set_attr("fluent_bit_role_arn", fb);
        planned.set_attr(
            "log_group_name",
            if obs {
                Value::from(d.log_group_name())
            } else {
                Value::Null
            },
        );
        planned.set_attr(
            "log_group_arn",
            if obs {
                Value::from(d.log_group_arn())
            } else {
                Value::Null
            },
        );
        let secret = if d.grafana() {
            keep_or("grafana_admin_secret_arn", Value::Unknown)
        } else {
            Value::Null
        };
        planned.set_attr("grafana_admin_secret_arn", secret);
        let gw = d.gateway.is_some();
        planned.set_attr(
            "gateway_class_name",
            if gw {
                Value::from(GATEWAY_CLASS)
            } else {
                Value::Null
            },
        );
        let address = match (gw, prior.get("gateway_address")) {
            (false, _) => Value::Null,
            (true, a) if !prior.is_null() && prior.get("gateway_class_name").as_str().is_some() => {
                a.clone()
            }
            (true, _) => Value::Unknown,
        };
        planned.set_attr("gateway_address", address);
        let prior_releases = prior.get("releases");
        let mut map = BTreeMap::new();
        let wanted = values::releases(&d);
        let changed: Vec<&PlannedRelease> = wanted
            .iter()
            .filter(|r| !unchanged(prior_releases.get(r.name), r))
            .collect();
        let rendered = Self::render_changed(c, planned, &d, &changed).await;
        for r in &wanted {
            let p = prior_releases.get(r.name);
            let e = if unchanged(p, r) {
                p.clone()
            } else {
                let objects = rendered
                    .get(r.name)
                    .map(objects_value)
                    .unwrap_or(Value::Unknown);
                entry(
                    r,
                    Value::from("deployed"),
                    Value::Unknown,
                    Value::Unknown,
                    objects,
                )
            };
            map.insert(r.name.to_owned(), e);
        }
        planned.set_attr("releases", Value::Map(map));
        if req.is_create() && !diags.has_errors() {
            Self::warn_if_objects_exist(c, &d, diags).await;
        }
    }

    async fn create(&self, c: &Clients, planned: &Value) -> ApplyOutcome {
        self.converge(c, &Value::Null, planned, "create").await
    }

    async fn update(&self, c: &Clients, prior: &Value, planned: &Value) -> ApplyOutcome {
        self.converge(c, prior, planned, "update").await
    }

    async fn read(&self, c: &Clients, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let mut s = state.clone();
        let owner_cluster = state
            .get("cluster")
            .get("cluster_name")
            .as_str()
            .unwrap_or_default();
        // AWS: a role, the log group or the secret deleted out of band is drift.
        let iam = c.aws.iam();
        let gone = |e: platform_aws::step::StepError| {
            Diagnostics::from_error("Cannot read the cluster services", e.to_string())
        };
        for (attr, name) in [
            (
                "load_balancer_controller_role_arn",
                format!("{owner_cluster}-aws-load-balancer-controller"),
            ),
            ("fluent_bit_role_arn", format!("{owner_cluster}-fluent-bit")),
        ] {
            if s.get(attr).as_str().is_some()
                && irsa::observe(iam, &name).await.map_err(gone)?.is_none()
            {
                s.set_attr(attr, Value::Null);
            }
        }
        if let Some(name) = state.get("log_group_name").as_str() {
            match logs::observe(c.aws.logs(), name).await.map_err(gone)? {
                None => s.set_attr("log_group_arn", Value::Null),
                // A retention changed out of band shows as a change of the configured value.
                Some(g) => {
                    let block = s.get("observability").elements().first().cloned();
                    if let (Some(days), Some(mut b)) = (g.retention, block) {
                        if b.get("log_retention_in_days").as_i64() != Some(i64::from(days)) {
                            b.set_attr("log_retention_in_days", Value::int(i64::from(days)));
                            s.set_attr("observability", Value::List(vec![b]));
                        }
                    }
                }
            }
        }
        if s.get("grafana_admin_secret_arn").as_str().is_some() {
            let name = format!("platformkit/{owner_cluster}/grafana-admin");
            if secret::observe(c.aws.secretsmanager(), &name)
                .await
                .map_err(gone)?
                .is_none()
            {
                s.set_attr("grafana_admin_secret_arn", Value::Null);
            }
        }
        // The cluster: each release's status as Helm and the API server see it.
        let Some(conn) = connection(c, state).await? else {
            return Ok(Some(s));
        };
        let helm = helm(c)?;
        let repo = state.get("chart_repository").as_str().unwrap_or_default();
        let rel = Releases::new(&helm, &conn, repo)
            .map_err(|e| Diagnostics::from_error("Cannot reach the cluster", e))?;
        let mut entries = state.get("releases").entries().cloned().unwrap_or_default();
        for (name, e) in entries.iter_mut() {
            let ns = e.get("namespace").as_str().unwrap_or_default().to_owned();
            let o = rel.observe(name, &ns).await.map_err(|x| {
                Diagnostics::from_error("Cannot read the cluster services' releases", x)
            })?;
            let (status, revision) = releases::status_of(&o);
            e.set_attr("status", Value::from(status));
            if let Some(o) = &o {
                e.set_attr("objects", objects_value(&o.objects));
            }
            if let Some(r) = revision {
                e.set_attr("revision", Value::int(r));
            }
        }
        s.set_attr("releases", Value::Map(entries));
        if s.get("gateway_class_name").as_str().is_some() {
            if let Some(a) = Self::gateway_address(&rel.objects).await {
                s.set_attr("gateway_address", Value::from(a));
            }
        }
        Ok(Some(s))
    }

    /// Import by cluster name: the state apply recorded in the cluster (ConfigMap
    /// `kube-system/platformkit-cluster-services`), then refreshed like any other read.
    async fn import(&self, c: &Clients, id: &str) -> Result<Value, Diagnostics> {
        if id.is_empty() || id.contains(['/', ' ', ',']) {
            return Err(Diagnostics::from_error(
                "Invalid import id",
                format!("{id:?}: import platform_cluster_services by the EKS cluster's name."),
            ));
        }
        let conn = Self::import_connection(c, id).await?;
        let objects = Objects::new(&conn, releases::CALL_TIMEOUT)
            .map_err(|e| Diagnostics::from_error("Cannot reach the cluster", e.to_string()))?;
        let text = objects
            .config_map_value(RECORD_NAMESPACE, RECORD_NAME, RECORD_KEY)
            .await
            .map_err(|e| Diagnostics::from_error("Cannot read the cluster", e.to_string()))?
            .ok_or_else(|| {
                Diagnostics::from_error(
                    "Nothing to import",
                    format!("Cluster {id:?} has no record of platform_cluster_services (ConfigMap {RECORD_NAMESPACE}/{RECORD_NAME}): it was not installed by this resource, or by a provider version before import was supported. Apply the resource over the cluster instead: it adopts the roles, log group and secret carrying its owner tag and upgrades the releases in place."),
                )
            })?;
        let state =
            tfplugin_framework::codec::from_json(text.as_bytes(), &schema::schema().value_type())
                .map_err(|e| {
                Diagnostics::from_error(
                    "Unreadable record of the cluster services",
                    format!("ConfigMap {RECORD_NAMESPACE}/{RECORD_NAME}: {e}"),
                )
            })?;
        if state.get("cluster").get("cluster_name").as_str() != Some(id) {
            return Err(Diagnostics::from_error(
                "Nothing to import",
                format!(
                    "The record in this cluster is for cluster {:?}, not {id:?}.",
                    state
                        .get("cluster")
                        .get("cluster_name")
                        .as_str()
                        .unwrap_or_default()
                ),
            ));
        }
        self.read(c, &state).await?.ok_or_else(|| {
            Diagnostics::from_error(
                "Cannot import",
                format!("{id:?} disappeared during import."),
            )
        })
    }

    async fn delete(&self, c: &Clients, prior: &Value) -> ApplyOutcome {
        match Self::destroy(c, prior).await {
            Ok(warnings) => {
                let mut outcome = ApplyOutcome::ok(Value::Null);
                for w in warnings {
                    outcome.diags.warning("A CRD was left in the cluster", w);
                }
                outcome
            }
            Err(e) => ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error(
                    "Cannot destroy the cluster services",
                    format!("{e}\n\nThe resource stays in state; every step is idempotent, so run destroy again once the cause is fixed."),
                ),
            ),
        }
    }
}
