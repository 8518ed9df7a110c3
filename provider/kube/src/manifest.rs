//! A rendered Helm manifest as objects: split the multi-document YAML, key each object by
//! `Kind/namespace/name`, and digest it, so a plan can show which objects of a release change
//! (not only "values changed"), and a refresh can tell an object deleted or edited in the cluster.
//!
//! Digests are over a canonical JSON form (keys sorted at every depth), so the same object
//! rendered twice has the same digest whatever order the chart wrote its keys in.

use serde::Deserialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// What a refresh records for an object of the release that is gone from the cluster.
pub const ABSENT: &str = "absent";
/// Prefix of what a refresh records for an object whose live fields differ from the manifest.
pub const EDITED_PREFIX: &str = "edited:";

/// One object of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestObject {
    pub api_version: String,
    pub kind: String,
    /// `None` for objects without a namespace in the manifest (cluster-scoped, or Helm's release
    /// namespace applies; [`ManifestObject::key`] fills the latter in).
    pub namespace: Option<String>,
    pub name: String,
    pub body: Json,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ManifestError {
    #[error("the manifest is not valid YAML: {0}")]
    Yaml(String),
    #[error("a manifest document has no {0}")]
    Missing(&'static str),
}

impl ManifestObject {
    /// `Kind/namespace/name`, or `Kind/name` for kinds that are never namespaced.
    pub fn key(&self, release_namespace: &str) -> String {
        if is_cluster_scoped(&self.kind) {
            format!("{}/{}", self.kind, self.name)
        } else {
            let ns = self.namespace.as_deref().unwrap_or(release_namespace);
            format!("{}/{}/{}", self.kind, ns, self.name)
        }
    }

    /// The namespace the object lives in (`None` when cluster-scoped).
    pub fn namespace_in(&self, release_namespace: &str) -> Option<String> {
        if is_cluster_scoped(&self.kind) {
            None
        } else {
            Some(
                self.namespace
                    .clone()
                    .unwrap_or_else(|| release_namespace.to_owned()),
            )
        }
    }

    /// `sha256:` and the first 16 hex digits of the canonical JSON's hash.
    pub fn digest(&self) -> String {
        digest(&self.body)
    }
}

/// The built-in kinds that have no namespace. A chart's custom cluster-scoped kinds are keyed
/// with the release namespace, which only affects the key's text, not drift detection (the live
/// read asks discovery for the scope).
fn is_cluster_scoped(kind: &str) -> bool {
    matches!(
        kind,
        "Namespace"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "CustomResourceDefinition"
            | "PersistentVolume"
            | "StorageClass"
            | "PriorityClass"
            | "IngressClass"
            | "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "APIService"
            | "Node"
    )
}

/// Splits a multi-document manifest into objects, skipping empty documents (Helm writes a
/// `---` and a `# Source:` comment before each template, some of which render to nothing).
pub fn parse(manifest: &str) -> Result<Vec<ManifestObject>, ManifestError> {
    let mut out = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(manifest) {
        let value = Json::deserialize(doc).map_err(|e| ManifestError::Yaml(e.to_string()))?;
        if value.is_null() {
            continue;
        }
        let s = |v: &Json| v.as_str().map(str::to_owned);
        let api_version = s(&value["apiVersion"]).ok_or(ManifestError::Missing("apiVersion"))?;
        let kind = s(&value["kind"]).ok_or(ManifestError::Missing("kind"))?;
        let name = s(&value["metadata"]["name"]).ok_or(ManifestError::Missing("metadata.name"))?;
        let namespace = s(&value["metadata"]["namespace"]);
        out.push(ManifestObject {
            api_version,
            kind,
            namespace,
            name,
            body: value,
        });
    }
    Ok(out)
}

/// Each object's key and digest: what a plan shows and what a state records.
pub fn digests(objects: &[ManifestObject], release_namespace: &str) -> BTreeMap<String, String> {
    objects
        .iter()
        .map(|o| (o.key(release_namespace), o.digest()))
        .collect()
}

/// The digest of a JSON value in canonical form.
pub fn digest(v: &Json) -> String {
    let mut canonical = String::new();
    write_canonical(v, &mut canonical);
    let hash = Sha256::digest(canonical.as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn write_canonical(v: &Json, out: &mut String) {
    match v {
        Json::Object(m) => {
            out.push('{');
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Json::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&m[k], out);
            }
            out.push('}');
        }
        Json::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Whether the live object still holds everything the manifest says: every field the manifest
/// sets has the same value live (fields the API server adds — defaults, status, metadata such
/// as uid — are ignored). Null and empty maps or lists in the manifest match an absent field,
/// since the API server drops them. A number and a string with the same text match (YAML
/// writes `"8080"` and `8080` for the same port in different charts).
pub fn live_matches(manifest: &Json, live: &Json) -> bool {
    match (manifest, live) {
        (Json::Null, _) => true,
        (Json::Object(m), Json::Object(l)) => m.iter().all(|(k, mv)| match l.get(k) {
            Some(lv) => live_matches(mv, lv),
            None => is_empty(mv),
        }),
        (Json::Object(m), Json::Null) => m.values().all(is_empty),
        (Json::Array(m), Json::Array(l)) => {
            m.len() == l.len() && m.iter().zip(l).all(|(mv, lv)| live_matches(mv, lv))
        }
        (Json::Array(m), Json::Null) => m.is_empty(),
        (Json::Number(a), Json::String(b)) | (Json::String(b), Json::Number(a)) => {
            a.to_string() == *b
        }
        (Json::Number(a), Json::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

fn is_empty(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::Object(m) => m.values().all(is_empty),
        Json::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The part of a live object that stands for it when it differs: everything but the fields
/// the API server writes on its own, so an edit shows as a new digest.
pub fn edited_marker(live: &Json) -> String {
    let mut v = live.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
        if let Some(Json::Object(meta)) = m.get_mut("metadata") {
            for k in [
                "uid",
                "resourceVersion",
                "generation",
                "creationTimestamp",
                "managedFields",
                "selfLink",
            ] {
                meta.remove(k);
            }
        }
    }
    format!("{EDITED_PREFIX}{}", digest(&v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MANIFEST: &str = r#"---
# Source: microservice/templates/serviceaccount.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: mobile
  annotations:
    eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/mobile
---
# Source: microservice/templates/empty.yaml
---
# Source: microservice/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: mobile
  namespace: apps
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: repo/mobile:abc1234
          ports:
            - containerPort: 8080
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
"#;

    #[test]
    fn splits_documents_and_skips_empty_ones() {
        let objs = parse(MANIFEST).expect("parse");
        let keys: Vec<String> = objs.iter().map(|o| o.key("default")).collect();
        assert_eq!(
            keys,
            [
                "ServiceAccount/default/mobile",
                "Deployment/apps/mobile",
                "ClusterRole/reader"
            ]
        );
        assert_eq!(objs[1].api_version, "apps/v1");
        assert_eq!(objs[2].namespace_in("default"), None);
    }

    #[test]
    fn digest_ignores_key_order_but_not_values() {
        let a = json!({"a": 1, "b": {"x": [1, 2], "y": "z"}});
        let b = json!({"b": {"y": "z", "x": [1, 2]}, "a": 1});
        let c = json!({"b": {"y": "z", "x": [2, 1]}, "a": 1});
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&c));
        assert!(digest(&a).starts_with("sha256:"));
        assert_eq!(digest(&a).len(), "sha256:".len() + 16);
    }

    #[test]
    fn an_image_change_changes_only_the_deployment_digest() {
        let before = digests(&parse(MANIFEST).expect("parse"), "apps");
        let after = digests(
            &parse(&MANIFEST.replace("abc1234", "def5678")).expect("parse"),
            "apps",
        );
        let changed: Vec<&String> = before
            .keys()
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        assert_eq!(changed, ["Deployment/apps/mobile"]);
    }

    #[test]
    fn live_objects_with_server_fields_match_their_manifest() {
        let manifest = json!({"kind": "Service", "metadata": {"name": "s", "labels": {}},
            "spec": {"ports": [{"port": 80, "targetPort": "8080"}], "selector": {"app": "s"}}});
        let live = json!({"kind": "Service", "metadata": {"name": "s", "uid": "u", "namespace": "n"},
            "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}],
                     "selector": {"app": "s"}, "clusterIP": "10.0.0.1"}, "status": {}});
        assert!(live_matches(&manifest, &live));
    }

    #[test]
    fn an_edited_field_or_a_missing_list_item_is_drift() {
        let manifest = json!({"spec": {"template": {"spec": {"containers": [{"image": "a:1"}]}}}});
        let edited = json!({"spec": {"template": {"spec": {"containers": [{"image": "a:2"}]}}}});
        let fewer = json!({"spec": {"template": {"spec": {"containers": []}}}});
        assert!(!live_matches(&manifest, &edited));
        assert!(!live_matches(&manifest, &fewer));
        assert_ne!(edited_marker(&edited), edited_marker(&manifest));
        assert!(edited_marker(&edited).starts_with(EDITED_PREFIX));
    }

    #[test]
    fn edited_marker_ignores_server_bookkeeping() {
        let a = json!({"metadata": {"name": "x", "resourceVersion": "1"}, "spec": {"a": 1}});
        let b = json!({"metadata": {"name": "x", "resourceVersion": "2"}, "spec": {"a": 1},
                       "status": {"ready": true}});
        assert_eq!(edited_marker(&a), edited_marker(&b));
    }

    #[test]
    fn malformed_yaml_and_nameless_objects_are_errors() {
        assert!(matches!(parse("a: [1, 2"), Err(ManifestError::Yaml(_))));
        assert_eq!(
            parse("apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"),
            Err(ManifestError::Missing("metadata.name"))
        );
    }
}
