//! One cluster: where it is (endpoint and CA), who we are (a bearer token, fresh for every
//! connection), and the few reads the provider makes itself — the server version (reachability
//! with a deadline) and the live objects of a release (drift detection).

use crate::manifest::ManifestObject;
use base64::Engine;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::Scope;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value as Json};
use std::collections::HashMap;
use std::time::Duration;

/// How to reach a cluster's API server.
#[derive(Clone)]
pub struct Connection {
    /// `https://host[:port]`.
    pub host: String,
    /// The CA bundle, PEM.
    pub ca_pem: String,
    /// A bearer token (an EKS token is valid for 15 minutes: make one per connection).
    pub token: String,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("host", &self.host)
            .field("token", &"(sensitive)")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("{host:?} is not a Kubernetes API endpoint: {reason}")]
    Endpoint { host: String, reason: String },
    #[error("the cluster CA certificate is neither PEM nor base64 of PEM ({0})")]
    Ca(String),
    #[error("the Kubernetes API at {host} did not answer within {secs} s")]
    Timeout { host: String, secs: u64 },
    #[error("the Kubernetes API at {host} is unreachable: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("the Kubernetes API at {host} refused {what}: {reason}")]
    Api {
        host: String,
        what: String,
        reason: String,
    },
}

/// The CA as PEM, from PEM text or from base64 of it (what EKS's `certificateAuthority.data`
/// and the environment's `cluster_certificate_authority` hold).
pub fn ca_pem_from(text: &str) -> Result<String, KubeError> {
    let trimmed = text.trim();
    let pem = if trimmed.starts_with("-----BEGIN") {
        trimmed.to_owned()
    } else {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(trimmed.split_whitespace().collect::<String>())
            .map_err(|e| KubeError::Ca(e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| KubeError::Ca(e.to_string()))?
    };
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| KubeError::Ca(e.to_string()))?;
    if certs.is_empty() {
        return Err(KubeError::Ca("no certificate in it".into()));
    }
    Ok(pem)
}

/// Checks an endpoint before anything connects to it: `https://` and a host.
pub fn check_host(host: &str) -> Result<http::Uri, KubeError> {
    let bad = |reason: &str| KubeError::Endpoint {
        host: host.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: http::Uri = host.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("https") {
        return Err(bad("the scheme must be https"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("there is no host name"));
    }
    Ok(uri)
}

impl Connection {
    /// A client whose every request is bounded by `timeout`, so an unreachable cluster is an
    /// error naming the host instead of a hang.
    pub fn client(&self, timeout: Duration) -> Result<kube::Client, KubeError> {
        let uri = check_host(&self.host)?;
        let ders = CertificateDer::pem_slice_iter(self.ca_pem.as_bytes())
            .map(|c| c.map(|d| d.as_ref().to_vec()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| KubeError::Ca(e.to_string()))?;
        let mut config = kube::Config::new(uri);
        config.root_cert = Some(ders);
        config.connect_timeout = Some(timeout);
        config.read_timeout = Some(timeout);
        config.write_timeout = Some(timeout);
        config.auth_info.token = Some(self.token.clone().into());
        kube::Client::try_from(config).map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> KubeError {
        KubeError::Unreachable {
            host: self.host.clone(),
            reason: e.to_string(),
        }
    }

    /// The server's version (`v1.20.2`), within `timeout`: the reachability check made before
    /// a plan renders anything against the cluster.
    pub async fn version(&self, timeout: Duration) -> Result<String, KubeError> {
        let client = self.client(timeout)?;
        match tokio::time::timeout(timeout, client.apiserver_version()).await {
            Err(_) => Err(KubeError::Timeout {
                host: self.host.clone(),
                secs: timeout.as_secs(),
            }),
            Ok(Err(e)) => Err(self.unreachable(e)),
            Ok(Ok(info)) => Ok(info.git_version),
        }
    }

    /// A kubeconfig for the helm binary (JSON, which is YAML): one cluster, one user, one context.
    pub fn kubeconfig(&self) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(self.ca_pem.as_bytes());
        json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "platform", "cluster": {"server": self.host, "certificate-authority-data": ca}}],
            "users": [{"name": "platform", "user": {"token": self.token}}],
            "contexts": [{"name": "platform", "context": {"cluster": "platform", "user": "platform"}}],
            "current-context": "platform",
        })
        .to_string()
    }
}

/// Reads the live objects of a release, resolving each kind once (discovery) per reader.
pub struct LiveReader {
    conn: Connection,
    client: kube::Client,
    kinds: HashMap<(String, String), (ApiResource, Scope)>,
}

impl LiveReader {
    pub fn new(conn: &Connection, timeout: Duration) -> Result<LiveReader, KubeError> {
        Ok(LiveReader {
            client: conn.client(timeout)?,
            conn: conn.clone(),
            kinds: HashMap::new(),
        })
    }

    fn api_error(&self, what: String, e: impl std::fmt::Display) -> KubeError {
        KubeError::Api {
            host: self.conn.host.clone(),
            what,
            reason: e.to_string(),
        }
    }

    /// The live object, or `None` when it does not exist (or its kind is not served any more).
    pub async fn get(
        &mut self,
        obj: &ManifestObject,
        release_namespace: &str,
    ) -> Result<Option<Json>, KubeError> {
        let what = format!("reading {}/{}", obj.kind, obj.name);
        let cache_key = (obj.api_version.clone(), obj.kind.clone());
        let (resource, scope) = match self.kinds.get(&cache_key) {
            Some(found) => found.clone(),
            None => {
                let (group, version) = match obj.api_version.split_once('/') {
                    Some((g, v)) => (g, v),
                    None => ("", obj.api_version.as_str()),
                };
                let gvk = GroupVersionKind::gvk(group, version, &obj.kind);
                match kube::discovery::pinned_kind(&self.client, &gvk).await {
                    Ok((ar, caps)) => {
                        self.kinds
                            .insert(cache_key, (ar.clone(), caps.scope.clone()));
                        (ar, caps.scope)
                    }
                    Err(kube::Error::Api(s)) if s.code == 404 => return Ok(None),
                    Err(e) => return Err(self.api_error(what, e)),
                }
            }
        };
        let api: Api<DynamicObject> = match scope {
            Scope::Namespaced => {
                let ns = obj
                    .namespace
                    .clone()
                    .unwrap_or_else(|| release_namespace.to_owned());
                Api::namespaced_with(self.client.clone(), &ns, &resource)
            }
            Scope::Cluster => Api::all_with(self.client.clone(), &resource),
        };
        match api.get_opt(&obj.name).await {
            Ok(None) => Ok(None),
            Ok(Some(live)) => serde_json::to_value(live)
                .map(Some)
                .map_err(|e| self.api_error(what, e)),
            Err(e) => Err(self.api_error(what, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_https_with_a_host() {
        assert!(check_host("https://127.0.0.1:6443").is_ok());
        assert!(matches!(
            check_host("http://127.0.0.1:6443"),
            Err(KubeError::Endpoint { .. })
        ));
        assert!(check_host("not a url").is_err());
    }

    #[test]
    fn a_ca_that_is_not_a_certificate_is_refused() {
        assert!(matches!(
            ca_pem_from("bm90IGEgY2VydA=="),
            Err(KubeError::Ca(_))
        ));
        assert!(matches!(ca_pem_from("%%%"), Err(KubeError::Ca(_))));
    }

    #[test]
    fn kubeconfig_names_the_host_and_carries_the_ca() {
        let c = Connection {
            host: "https://127.0.0.1:6443".into(),
            ca_pem: "PEM".into(),
            token: "t0ken".into(),
        };
        let v: Json = serde_json::from_str(&c.kubeconfig()).expect("json");
        assert_eq!(
            v["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(
            v["clusters"][0]["cluster"]["certificate-authority-data"],
            "UEVN"
        );
        assert_eq!(v["users"][0]["user"]["token"], "t0ken");
        assert!(!format!("{c:?}").contains("t0ken"));
    }
}
