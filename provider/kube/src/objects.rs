//! The few object operations a cluster's own services need beyond Helm:
//!
//! - CRDs a chart ships are applied before its release and removed after it (Helm installs a
//!   chart's `crds/` once and never upgrades or deletes them);
//! - objects that make AWS load balancers (Ingresses, `LoadBalancer` Services) are deleted
//!   first on destroy and waited for: the load balancer controller removes its finalizer only
//!   once the load balancer is gone, so the VPC can be deleted afterwards;
//! - a Secret written straight through the API (a password that must not pass through Helm,
//!   whose release records hold values in clear);
//! - reading one field of an object (a Gateway's address).

use crate::cluster::{Connection, KubeError};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::ByteString;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::time::Duration;

/// The field manager our server-side applies are recorded under.
const MANAGER: &str = "platformkit";

/// The IngressClass controller of the AWS Load Balancer Controller.
pub const ALB_CONTROLLER: &str = "ingress.k8s.aws/alb";
/// The IngressClass its chart creates (and the legacy `kubernetes.io/ingress.class` value).
pub const ALB_INGRESS_CLASS: &str = "alb";
/// The `loadBalancerClass` of Services the controller turns into NLBs.
pub const NLB_SERVICE_CLASS: &str = "service.k8s.aws/nlb";
const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";
const LEGACY_CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const NLB_TYPE_ANNOTATION: &str = "service.beta.kubernetes.io/aws-load-balancer-type";
/// Finalizer prefixes the controller puts on the objects whose load balancers it made.
const LBC_FINALIZER_PREFIXES: &[&str] = &[
    "ingress.k8s.aws/",
    "group.ingress.k8s.aws/",
    "service.k8s.aws/",
    "elbv2.k8s.aws/",
];

fn has_lbc_finalizer(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    m.finalizers
        .iter()
        .flatten()
        .any(|f| LBC_FINALIZER_PREFIXES.iter().any(|p| f.starts_with(p)))
}

/// Whether the load balancer controller manages this Ingress: its class (`ingressClassName`,
/// else the legacy annotation, else the default IngressClass) is one of the controller's, or
/// it carries the controller's finalizer.
pub fn alb_ingress(
    i: &Ingress,
    alb_classes: &std::collections::BTreeSet<String>,
    default_is_alb: bool,
) -> bool {
    if has_lbc_finalizer(&i.metadata) {
        return true;
    }
    let class = i
        .spec
        .as_ref()
        .and_then(|s| s.ingress_class_name.clone())
        .or_else(|| {
            i.metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(LEGACY_CLASS_ANNOTATION).cloned())
        });
    match class {
        Some(c) => alb_classes.contains(&c),
        None => default_is_alb,
    }
}

/// Whether the load balancer controller manages this Service: type `LoadBalancer` with the
/// controller's `loadBalancerClass`, or (without a class) its NLB annotation
/// (`aws-load-balancer-type: external` or `nlb-ip`), or its finalizer.
pub fn lbc_service(s: &Service) -> bool {
    if has_lbc_finalizer(&s.metadata) {
        return true;
    }
    let Some(spec) = s.spec.as_ref() else {
        return false;
    };
    if spec.type_.as_deref() != Some("LoadBalancer") {
        return false;
    }
    match spec.load_balancer_class.as_deref() {
        Some(c) => c == NLB_SERVICE_CLASS,
        None => s
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(NLB_TYPE_ANNOTATION))
            .is_some_and(|t| t == "external" || t == "nlb-ip"),
    }
}

/// An object that makes an AWS load balancer: `Ingress/ns/name` or `Service/ns/name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LoadBalancerObject {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for LoadBalancerObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.kind, self.namespace, self.name)
    }
}

/// Cluster calls with one client and a bound on each request.
pub struct Objects {
    client: kube::Client,
    host: String,
}

impl Objects {
    pub fn new(conn: &Connection, timeout: Duration) -> Result<Objects, KubeError> {
        Ok(Objects {
            client: conn.client(timeout)?,
            host: conn.host.clone(),
        })
    }

    fn api_error(&self, what: impl Into<String>, e: impl std::fmt::Display) -> KubeError {
        KubeError::Api {
            host: self.host.clone(),
            what: what.into(),
            reason: e.to_string(),
        }
    }

    /// Creates or updates each CRD (server-side apply, so a newer chart's schema replaces
    /// the old one); returns their names.
    pub async fn apply_crds(&self, crds: &[Json]) -> Result<Vec<String>, KubeError> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let pp = PatchParams::apply(MANAGER).force();
        let mut names = Vec::new();
        for crd in crds {
            let name = crd["metadata"]["name"].as_str().unwrap_or_default();
            api.patch(name, &pp, &Patch::Apply(crd))
                .await
                .map_err(|e| self.api_error(format!("applying CRD {name}"), e))?;
            names.push(name.to_owned());
        }
        Ok(names)
    }

    /// Waits until the API server serves each CRD (condition `Established`), polling with
    /// backoff up to `timeout`: a release using the kinds fails until then.
    pub async fn wait_established(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> Result<(), KubeError> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let start = tokio::time::Instant::now();
        let mut delay = Duration::from_millis(50);
        for n in names {
            loop {
                let crd = api
                    .get_opt(n)
                    .await
                    .map_err(|e| self.api_error(format!("reading CRD {n}"), e))?;
                let established = crd
                    .and_then(|c| c.status)
                    .and_then(|s| s.conditions)
                    .is_some_and(|cs| {
                        cs.iter()
                            .any(|c| c.type_ == "Established" && c.status == "True")
                    });
                if established {
                    break;
                }
                if start.elapsed() >= timeout {
                    return Err(KubeError::Timeout {
                        host: self.host.clone(),
                        secs: timeout.as_secs(),
                    });
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
        Ok(())
    }

    /// Which of these CRDs exist.
    pub async fn existing_crds(&self, names: &[String]) -> Result<Vec<String>, KubeError> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let mut out = Vec::new();
        for n in names {
            if api
                .get_opt(n)
                .await
                .map_err(|e| self.api_error(format!("reading CRD {n}"), e))?
                .is_some()
            {
                out.push(n.clone());
            }
        }
        Ok(out)
    }

    /// The objects of a CRD's kind that still exist and are not being deleted
    /// (`namespace/name`, or `name` for a cluster-scoped kind); empty when the CRD is gone.
    pub async fn custom_objects(&self, crd: &str) -> Result<Vec<String>, KubeError> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        let Some(c) = api
            .get_opt(crd)
            .await
            .map_err(|e| self.api_error(format!("reading CRD {crd}"), e))?
        else {
            return Ok(Vec::new());
        };
        let spec = &c.spec;
        let Some(version) = spec
            .versions
            .iter()
            .find(|v| v.storage)
            .or_else(|| spec.versions.iter().find(|v| v.served))
        else {
            return Ok(Vec::new());
        };
        let ar = kube::core::ApiResource {
            group: spec.group.clone(),
            version: version.name.clone(),
            api_version: format!("{}/{}", spec.group, version.name),
            kind: spec.names.kind.clone(),
            plural: spec.names.plural.clone(),
        };
        let objs: Api<kube::api::DynamicObject> = Api::all_with(self.client.clone(), &ar);
        let list = match objs.list(&ListParams::default()).await {
            Ok(l) => l,
            // Not served (yet or any more): nothing can exist of it.
            Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Vec::new()),
            Err(e) => return Err(self.api_error(format!("listing objects of CRD {crd}"), e)),
        };
        let mut out: Vec<String> = list
            .items
            .into_iter()
            .filter(|o| o.metadata.deletion_timestamp.is_none())
            .map(|o| match o.metadata.namespace {
                Some(ns) => format!("{ns}/{}", o.metadata.name.unwrap_or_default()),
                None => o.metadata.name.unwrap_or_default(),
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// Deletes the CRDs (and with them every object of their kinds); gone ones are fine.
    pub async fn delete_crds(&self, names: &[String]) -> Result<(), KubeError> {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        for n in names {
            match api.delete(n, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.api_error(format!("deleting CRD {n}"), e)),
            }
        }
        Ok(())
    }

    /// The Ingresses and `LoadBalancer` Services the AWS Load Balancer Controller manages, in
    /// all namespaces: only those make load balancers that would block deleting the VPC, and
    /// every other one (another ingress controller's, the cloud provider's) is not ours to
    /// delete. See [`alb_ingress`] and [`lbc_service`].
    pub async fn load_balancer_objects(&self) -> Result<Vec<LoadBalancerObject>, KubeError> {
        let mut out = Vec::new();
        let classes: Api<IngressClass> = Api::all(self.client.clone());
        let mut alb_classes = std::collections::BTreeSet::from([ALB_INGRESS_CLASS.to_owned()]);
        let mut default_is_alb = false;
        for c in classes
            .list(&ListParams::default())
            .await
            .map_err(|e| self.api_error("listing IngressClasses", e))?
        {
            let alb = c
                .spec
                .as_ref()
                .and_then(|s| s.controller.as_deref())
                .is_some_and(|ctl| ctl == ALB_CONTROLLER);
            let name = c.metadata.name.clone().unwrap_or_default();
            let is_default = c
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                .is_some_and(|v| v == "true");
            if alb {
                default_is_alb |= is_default;
                alb_classes.insert(name);
            } else if name == ALB_INGRESS_CLASS {
                // An IngressClass named `alb` of another controller is not ours.
                alb_classes.remove(&name);
            }
        }
        let ingresses: Api<Ingress> = Api::all(self.client.clone());
        for i in ingresses
            .list(&ListParams::default())
            .await
            .map_err(|e| self.api_error("listing Ingresses", e))?
        {
            if alb_ingress(&i, &alb_classes, default_is_alb) {
                out.push(LoadBalancerObject {
                    kind: "Ingress",
                    namespace: i.metadata.namespace.unwrap_or_default(),
                    name: i.metadata.name.unwrap_or_default(),
                });
            }
        }
        let services: Api<Service> = Api::all(self.client.clone());
        for s in services
            .list(&ListParams::default())
            .await
            .map_err(|e| self.api_error("listing Services", e))?
        {
            if lbc_service(&s) {
                out.push(LoadBalancerObject {
                    kind: "Service",
                    namespace: s.metadata.namespace.unwrap_or_default(),
                    name: s.metadata.name.unwrap_or_default(),
                });
            }
        }
        out.sort();
        Ok(out)
    }

    /// Asks for each object's deletion; the controller's finalizer keeps it until its load
    /// balancer is gone.
    pub async fn delete_load_balancer_objects(
        &self,
        objs: &[LoadBalancerObject],
    ) -> Result<(), KubeError> {
        for o in objs {
            let dp = DeleteParams::foreground();
            let r = match o.kind {
                "Ingress" => {
                    let api: Api<Ingress> = Api::namespaced(self.client.clone(), &o.namespace);
                    api.delete(&o.name, &dp).await.map(|_| ())
                }
                _ => {
                    let api: Api<Service> = Api::namespaced(self.client.clone(), &o.namespace);
                    api.delete(&o.name, &dp).await.map(|_| ())
                }
            };
            match r {
                Ok(()) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(self.api_error(format!("deleting {o}"), e)),
            }
        }
        Ok(())
    }

    /// Creates the namespace with `labels` when it is missing (an existing one is left as is).
    /// A namespace still terminating (a destroy just deleted it, e.g. the first half of a
    /// replacement) refuses new objects, so it is waited for until it is gone, then created.
    pub async fn ensure_namespace(
        &self,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Result<(), KubeError> {
        const TERMINATING_WAIT: std::time::Duration = std::time::Duration::from_secs(300);
        let api: Api<Namespace> = Api::all(self.client.clone());
        let started = std::time::Instant::now();
        loop {
            let existing = api
                .get_opt(name)
                .await
                .map_err(|e| self.api_error(format!("reading namespace {name}"), e))?;
            match existing {
                None => break,
                Some(ns) if ns.metadata.deletion_timestamp.is_none() => return Ok(()),
                Some(_) if started.elapsed() >= TERMINATING_WAIT => {
                    return Err(self.api_error(
                        format!("waiting for namespace {name} to finish terminating"),
                        format!(
                            "it is still terminating after {}s (objects with finalizers in it?); \
                             apply again once `kubectl get namespace {name}` no longer finds it",
                            TERMINATING_WAIT.as_secs()
                        ),
                    ))
                }
                Some(_) => {
                    if started.elapsed().as_secs() % 10 == 0 {
                        tracing::info!(target: "platform::kube", namespace = name, "waiting for the namespace to finish terminating");
                    }
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
        let mut ns = Namespace::default();
        ns.metadata.name = Some(name.to_owned());
        ns.metadata.labels = Some(
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        );
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
            Err(e) => Err(self.api_error(format!("creating namespace {name}"), e)),
        }
    }

    /// Deletes the namespace when it carries the label `key=value` (one we created).
    pub async fn delete_namespace_if_labelled(
        &self,
        name: &str,
        (key, value): (&str, &str),
    ) -> Result<(), KubeError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let Some(ns) = api
            .get_opt(name)
            .await
            .map_err(|e| self.api_error(format!("reading namespace {name}"), e))?
        else {
            return Ok(());
        };
        let ours = ns
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(key))
            .is_some_and(|v| v == value);
        if !ours {
            return Ok(());
        }
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.api_error(format!("deleting namespace {name}"), e)),
        }
    }

    /// Creates or replaces an Opaque Secret holding `data`.
    pub async fn put_secret(
        &self,
        namespace: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
        data: &BTreeMap<String, String>,
    ) -> Result<(), KubeError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let mut s = Secret::default();
        s.metadata.name = Some(name.to_owned());
        s.metadata.namespace = Some(namespace.to_owned());
        s.metadata.labels = Some(labels.clone());
        s.type_ = Some("Opaque".to_owned());
        s.data = Some(
            data.iter()
                .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        );
        let mut body =
            serde_json::to_value(&s).map_err(|e| self.api_error("encoding Secret", e))?;
        body["apiVersion"] = Json::from("v1");
        body["kind"] = Json::from("Secret");
        self.apply_namespaced(&api, namespace, name, "Secret", &body)
            .await
    }

    /// The keys of a Secret, `None` when it does not exist (values are never read back).
    pub async fn secret_keys(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<String>>, KubeError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let s = api
            .get_opt(name)
            .await
            .map_err(|e| self.api_error(format!("reading Secret {namespace}/{name}"), e))?;
        Ok(s.map(|s| s.data.unwrap_or_default().into_keys().collect()))
    }

    /// Deletes a Secret; a missing one is fine.
    pub async fn delete_secret(&self, namespace: &str, name: &str) -> Result<(), KubeError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        self.delete_namespaced(&api, namespace, name, "Secret")
            .await
    }

    /// Creates or replaces a ConfigMap holding `data`.
    pub async fn put_config_map(
        &self,
        namespace: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
        data: &BTreeMap<String, String>,
    ) -> Result<(), KubeError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let body = serde_json::json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": { "name": name, "namespace": namespace, "labels": labels },
            "data": data,
        });
        self.apply_namespaced(&api, namespace, name, "ConfigMap", &body)
            .await
    }

    /// One key of a ConfigMap, `None` when the ConfigMap or the key does not exist.
    pub async fn config_map_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Option<String>, KubeError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        let cm = api
            .get_opt(name)
            .await
            .map_err(|e| self.api_error(format!("reading ConfigMap {namespace}/{name}"), e))?;
        Ok(cm.and_then(|c| c.data).and_then(|mut d| d.remove(key)))
    }

    /// Deletes a ConfigMap; a missing one is fine.
    pub async fn delete_config_map(&self, namespace: &str, name: &str) -> Result<(), KubeError> {
        let api: Api<ConfigMap> = Api::namespaced(self.client.clone(), namespace);
        self.delete_namespaced(&api, namespace, name, "ConfigMap")
            .await
    }

    /// Server-side applies `body` (a whole object) as this provider's field manager.
    async fn apply_namespaced<K>(
        &self,
        api: &Api<K>,
        namespace: &str,
        name: &str,
        kind: &str,
        body: &Json,
    ) -> Result<(), KubeError>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        api.patch(
            name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(body),
        )
        .await
        .map_err(|e| self.api_error(format!("writing {kind} {namespace}/{name}"), e))?;
        Ok(())
    }

    /// Deletes one object; a missing one is fine.
    async fn delete_namespaced<K>(
        &self,
        api: &Api<K>,
        namespace: &str,
        name: &str,
        kind: &str,
    ) -> Result<(), KubeError>
    where
        K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.api_error(format!("deleting {kind} {namespace}/{name}"), e)),
        }
    }

    /// A namespaced custom object as JSON (`group/version`, plural), `None` when absent or
    /// when its kind is not served.
    pub async fn get_custom(
        &self,
        api_version: &str,
        kind: &str,
        plural: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Json>, KubeError> {
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let ar = kube::core::ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            plural: plural.to_owned(),
        };
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &ar);
        match api.get_opt(name).await {
            Ok(o) => Ok(o.and_then(|o| serde_json::to_value(o).ok())),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
            Err(e) => Err(self.api_error(format!("reading {kind} {namespace}/{name}"), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ingress(v: Json) -> Ingress {
        serde_json::from_value(v).expect("ingress")
    }

    fn service(v: Json) -> Service {
        serde_json::from_value(v).expect("service")
    }

    #[test]
    fn only_the_controllers_ingresses_are_drained() {
        let classes = BTreeSet::from(["alb".to_owned(), "internal-alb".to_owned()]);
        let by_class = |c: &str| {
            ingress(serde_json::json!({"metadata": {"name": "x"}, "spec": {"ingressClassName": c}}))
        };
        assert!(alb_ingress(&by_class("alb"), &classes, false));
        assert!(alb_ingress(&by_class("internal-alb"), &classes, false));
        assert!(!alb_ingress(&by_class("nginx"), &classes, false));
        assert!(!alb_ingress(&by_class("api-gateway"), &classes, true));
        let legacy = ingress(
            serde_json::json!({"metadata": {"name": "x", "annotations": {"kubernetes.io/ingress.class": "alb"}}}),
        );
        assert!(alb_ingress(&legacy, &classes, false));
        let classless = ingress(serde_json::json!({"metadata": {"name": "x"}, "spec": {}}));
        assert!(!alb_ingress(&classless, &classes, false));
        assert!(alb_ingress(&classless, &classes, true));
        let finalized = ingress(
            serde_json::json!({"metadata": {"name": "x", "finalizers": ["ingress.k8s.aws/resources"]}, "spec": {"ingressClassName": "other"}}),
        );
        assert!(alb_ingress(&finalized, &classes, false));
    }

    #[test]
    fn only_the_controllers_load_balancer_services_are_drained() {
        let nlb = service(
            serde_json::json!({"metadata": {"name": "x"}, "spec": {"type": "LoadBalancer", "loadBalancerClass": "service.k8s.aws/nlb"}}),
        );
        assert!(lbc_service(&nlb));
        let other_class = service(
            serde_json::json!({"metadata": {"name": "x"}, "spec": {"type": "LoadBalancer", "loadBalancerClass": "example.com/lb"}}),
        );
        assert!(!lbc_service(&other_class));
        let annotated = service(
            serde_json::json!({"metadata": {"name": "x", "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "external"}}, "spec": {"type": "LoadBalancer"}}),
        );
        assert!(lbc_service(&annotated));
        let in_tree = service(
            serde_json::json!({"metadata": {"name": "x"}, "spec": {"type": "LoadBalancer"}}),
        );
        assert!(!lbc_service(&in_tree));
        let cluster_ip = service(
            serde_json::json!({"metadata": {"name": "x"}, "spec": {"type": "ClusterIP", "loadBalancerClass": "service.k8s.aws/nlb"}}),
        );
        assert!(!lbc_service(&cluster_ip));
    }
}
