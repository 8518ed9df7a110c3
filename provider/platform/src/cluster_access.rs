//! Which cluster a release talks to, and as whom: the provider's `kubernetes` override when
//! set, else the EKS cluster in `cluster` with a token signed now from the provider's AWS
//! credentials (a token per connection never expires mid-apply).

use crate::provider::Clients;
use aws_credential_types::provider::ProvideCredentials;
use platform_kube::cluster::ca_pem_from;
use platform_kube::token::{eks_token, EksTokenRequest};
use platform_kube::{Connection, KubeError};
use tfplugin_framework::{AttributePath, Diagnostics, Value};

/// The connection for a release, `Ok(None)` while the cluster's fields are unknown.
pub async fn connection(c: &Clients, v: &Value) -> Result<Option<Connection>, Diagnostics> {
    if let Some(conn) = &c.kube.cluster_override {
        return Ok(Some(conn.clone()));
    }
    let cluster = v.get("cluster");
    let at = |f: &str| AttributePath::root("cluster").attr(f);
    if cluster.is_null() {
        let mut d = Diagnostics::new();
        d.error_at(
            AttributePath::root("cluster"),
            "No cluster to install into",
            "Set `cluster = platform_environment.<name>` (or an object with cluster_name, cluster_endpoint and cluster_certificate_authority), or configure the provider's `kubernetes` block.",
        );
        return Err(d);
    }
    if !cluster.is_wholly_known() {
        return Ok(None);
    }
    let field = |f: &str| cluster.get(f).as_str().unwrap_or_default().to_owned();
    let (name, host, ca) = (
        field("cluster_name"),
        field("cluster_endpoint"),
        field("cluster_certificate_authority"),
    );
    let mut d = Diagnostics::new();
    let ca_pem = match ca_pem_from(&ca) {
        Ok(p) => Some(p),
        Err(e) => {
            d.error_at(
                at("cluster_certificate_authority"),
                "Invalid cluster CA certificate",
                e.to_string(),
            );
            None
        }
    };
    if let Err(e) = platform_kube::cluster::check_host(&host) {
        d.error_at(
            at("cluster_endpoint"),
            "Invalid cluster endpoint",
            e.to_string(),
        );
    }
    let (Some(ca_pem), false) = (ca_pem, d.has_errors()) else {
        return Err(d);
    };
    let token = sign_token(c, &name).await.map_err(|e| {
        let mut d = Diagnostics::new();
        d.error_at(at("cluster_name"), "Cannot make an EKS token", e);
        d
    })?;
    Ok(Some(Connection {
        host: host.trim_end_matches('/').to_owned(),
        ca_pem,
        token,
    }))
}

pub(crate) async fn sign_token(c: &Clients, cluster_name: &str) -> Result<String, String> {
    let provider = c
        .aws
        .sdk
        .credentials_provider()
        .ok_or("the provider has no AWS credentials to sign it with")?;
    let creds = provider
        .provide_credentials()
        .await
        .map_err(|e| format!("loading AWS credentials: {e}"))?;
    eks_token(
        &EksTokenRequest {
            cluster_name,
            region: &c.aws.region,
            sts_endpoint: c.aws.endpoints.for_service("sts"),
            time: std::time::SystemTime::now(),
        },
        &creds,
    )
    .map_err(|e| e.to_string())
}

/// The diagnostic for a cluster that does not answer: it names the host and where it came from.
pub fn unreachable(c: &Clients, e: &KubeError) -> Diagnostics {
    let mut d = Diagnostics::new();
    let (path, source) = if c.kube.cluster_override.is_some() {
        (None, "the provider's `kubernetes.host`")
    } else {
        (
            Some(AttributePath::root("cluster").attr("cluster_endpoint")),
            "`cluster.cluster_endpoint`",
        )
    };
    let detail = format!(
        "{e}.\n\nThe endpoint comes from {source}. Check that the cluster exists and that this machine can reach its API server (private endpoint: run Terraform inside the VPC or through a VPN). Nothing was changed."
    );
    match path {
        Some(p) => d.error_at(p, "Kubernetes cluster unreachable", detail),
        None => d.error("Kubernetes cluster unreachable", detail),
    }
    d
}
