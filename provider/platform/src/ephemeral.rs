//! Ephemeral resources (Terraform 1.10+): values made fresh on every plan and apply and never
//! written to state or plan files.
//!
//! `platform_cluster_token`: an EKS bearer token for a cluster, signed with the provider's AWS
//! credentials by the same code `platform_helm_release` uses (`platform_kube::token`), so other
//! providers (kubernetes, helm) can reach the cluster without a token ever landing in state.

use crate::cluster_access::sign_token;
use crate::provider::Clients;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tfplugin_framework::{
    Attribute, AttributePath, Block, Diagnostics, EphemeralOpen, EphemeralResource, Schema, Value,
};

/// How long EKS accepts a token after it was signed.
const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub fn ephemeral_resources() -> Vec<Arc<dyn EphemeralResource<Clients>>> {
    vec![Arc::new(ClusterToken)]
}

pub struct ClusterToken;

#[async_trait]
impl EphemeralResource<Clients> for ClusterToken {
    fn type_name(&self) -> &'static str {
        "platform_cluster_token"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            0,
            Block::new()
                .description("A bearer token for the Kubernetes API of an EKS cluster (what `aws eks get-token` prints), signed with the provider's AWS credentials. Ephemeral (Terraform 1.10+): made on every plan and apply, never stored in state or plan files; pass it to other providers, e.g. `provider \"kubernetes\" { token = ephemeral.platform_cluster_token.this.token }`.")
                .attr(Attribute::string("cluster_name").required().description("Name of the EKS cluster (not its ARN), e.g. `platform_environment.prod.cluster_name`. The token is bound to this cluster: every other cluster rejects it."))
                .attr(Attribute::string("token").computed().sensitive().description("The bearer token (`k8s-aws-v1.` followed by a presigned STS GetCallerIdentity URL)."))
                .attr(Attribute::string("expiration").computed().description("When EKS stops accepting the token (RFC 3339, 15 minutes after it was signed).")),
        )
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if let Some(name) = config.get("cluster_name").as_str() {
            let ok = !name.is_empty()
                && name.len() <= 100
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                && name
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric());
            if !ok {
                d.error_at(
                    AttributePath::root("cluster_name"),
                    "Invalid cluster name",
                    format!("{name:?} is not an EKS cluster name: 1-100 letters, digits, hyphens and underscores, starting with a letter or digit."),
                );
            }
        }
        d
    }

    async fn open(&self, c: &Clients, config: &Value) -> Result<EphemeralOpen, Diagnostics> {
        let name = config.get("cluster_name").as_str().unwrap_or_default();
        let signed_at = SystemTime::now();
        let token = sign_token(c, name).await.map_err(|e| {
            let mut d = Diagnostics::new();
            d.error_at(
                AttributePath::root("cluster_name"),
                "Cannot make an EKS token",
                e,
            );
            d
        })?;
        let expiration = time::OffsetDateTime::from(signed_at + TOKEN_LIFETIME)
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        Ok(EphemeralOpen {
            result: Value::object([
                ("cluster_name", Value::from(name)),
                ("token", Value::from(token)),
                ("expiration", Value::from(expiration)),
            ]),
            renew_at: None,
        })
    }
}
