//! The provider block's cluster settings: a `kubernetes { host, token, cluster_ca_certificate }`
//! override for local clusters and tests (like `endpoints` for AWS), and `helm_binary`.
//! Without the override, releases reach EKS through the cluster object they are given,
//! with a token the provider signs itself.

use crate::cluster::{ca_pem_from, check_host, Connection};
use tfplugin_framework::{Attribute, AttributePath, Block, Diagnostics, NestedBlock, Value};

/// What the provider block says about clusters.
#[derive(Debug, Clone, Default)]
pub struct KubeSettings {
    /// Every release talks to this cluster when set.
    pub cluster_override: Option<Connection>,
    /// The helm binary; `None` means the first `helm` on PATH.
    pub helm_binary: Option<String>,
}

/// The `kubernetes` block of the provider schema.
pub fn kubernetes_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "kubernetes",
        Block::new()
            .description("A fixed Kubernetes API server for every `platform_helm_release`, instead of the EKS cluster each release names (local clusters, tests). No kubeconfig and no CLI plugin is read.")
            .attr(Attribute::string("host").required().description("The API server URL, `https://host:port`."))
            .attr(Attribute::string("token").required().sensitive().description("A bearer token for the API server (for example a service account token); never stored in state or logs."))
            .attr(Attribute::string("cluster_ca_certificate").required().description("The CA that signed the server's certificate: PEM, or base64 of PEM.")),
    )
}

/// The `helm_binary` attribute of the provider schema.
pub fn helm_binary_attribute() -> Attribute {
    Attribute::string("helm_binary")
        .optional()
        .description("Path of the helm v3 binary `platform_helm_release` runs. Default: the first `helm` on PATH.")
}

impl KubeSettings {
    /// Reads and checks the provider block; diagnostics point at the attribute.
    pub fn from_config(config: &Value) -> Result<KubeSettings, Diagnostics> {
        let mut d = Diagnostics::new();
        let mut s = KubeSettings {
            helm_binary: config.get("helm_binary").as_str().map(str::to_owned),
            ..Default::default()
        };
        if s.helm_binary.as_deref() == Some("") {
            d.error_at(
                AttributePath::root("helm_binary"),
                "Empty helm_binary",
                "Set the path of a helm v3 binary, or remove the attribute to use the first `helm` on PATH.",
            );
        }
        if let Some(k) = config.get("kubernetes").elements().first() {
            let at = |f: &str| AttributePath::root("kubernetes").index(0).attr(f);
            let (host, token, ca) = (
                k.get("host").as_str(),
                k.get("token").as_str(),
                k.get("cluster_ca_certificate").as_str(),
            );
            if let Some(h) = host {
                if let Err(e) = check_host(h) {
                    d.error_at(at("host"), "Invalid Kubernetes API host", e.to_string());
                }
            }
            if token == Some("") {
                d.error_at(
                    at("token"),
                    "Empty token",
                    "Set a bearer token for the API server.",
                );
            }
            let ca_pem = match ca.map(ca_pem_from) {
                Some(Err(e)) => {
                    d.error_at(
                        at("cluster_ca_certificate"),
                        "Invalid cluster CA certificate",
                        e.to_string(),
                    );
                    None
                }
                Some(Ok(pem)) => Some(pem),
                None => None,
            };
            if let (Some(host), Some(token), Some(ca_pem)) = (host, token, ca_pem) {
                s.cluster_override = Some(Connection {
                    host: host.trim_end_matches('/').to_owned(),
                    token: token.to_owned(),
                    ca_pem,
                });
            }
        }
        if d.has_errors() {
            Err(d)
        } else {
            Ok(s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_override_points_at_the_attribute() {
        let cfg = Value::object([(
            "kubernetes",
            Value::List(vec![Value::object([
                ("host", Value::from("http://127.0.0.1:1")),
                ("token", Value::from("")),
                ("cluster_ca_certificate", Value::from("nope")),
            ])]),
        )]);
        let d = KubeSettings::from_config(&cfg).expect_err("invalid");
        let text = format!("{d:?}");
        assert!(
            text.contains("host")
                && text.contains("token")
                && text.contains("cluster_ca_certificate"),
            "{text}"
        );
    }

    #[test]
    fn no_block_is_no_override() {
        let s = KubeSettings::from_config(&Value::object([(
            "helm_binary",
            Value::from("/usr/bin/helm"),
        )]))
        .expect("valid");
        assert!(s.cluster_override.is_none());
        assert_eq!(s.helm_binary.as_deref(), Some("/usr/bin/helm"));
    }
}
