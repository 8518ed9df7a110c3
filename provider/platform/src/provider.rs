//! The `platform` provider: its configuration schema, the AWS context its block configures,
//! and the resources and data sources it offers. Adding a composite means adding it to
//! `resources()`.

use async_trait::async_trait;
use platform_aws::config::ENDPOINT_SERVICES;
use platform_aws::{AwsContext, ProviderSettings};
use platform_kube::settings::{helm_binary_attribute, kubernetes_block};
use platform_kube::KubeSettings;
use std::sync::Arc;
use tfplugin_framework::{
    ApplyOutcome, Attribute, Block, DataSource, Diagnostics, EphemeralResource, Function, Identity,
    NestedBlock, PlanRequest, Provider, Resource, Schema, Value,
};
use tokio_util::sync::CancellationToken;

pub const PROVIDER_ADDRESS: &str = "registry.terraform.io/platformkit/platform";

pub fn provider_schema() -> Schema {
    let mut endpoints = Block::new()
        .description("Endpoint overrides, for local emulators and private endpoints.")
        .attr(
            Attribute::string("url")
                .optional()
                .description("One base URL used for every service (e.g. a local emulator)."),
        );
    for svc in ENDPOINT_SERVICES {
        endpoints = endpoints.attr(
            Attribute::string(svc)
                .optional()
                .description(&format!("Endpoint URL for the {svc} API only (e.g. a local emulator or a VPC endpoint); overrides `url` for that service.")),
        );
    }
    Schema::new(
        0,
        Block::new()
            .description("platformkit: opinionated, secure-by-default AWS platform building blocks for an Organization with an OU per project and an account per environment: remote state per account, OUs with guardrail SCPs and member accounts, environments (VPC with flow logs, EKS, private RDS), microservices (ECR, IRSA, Helm releases) and S3 + CloudFront frontends. Each piece is one composite resource whose secure defaults cannot be switched off; plans show what will exist, applies run independent steps concurrently and never orphan what they created. Every AWS object carries `platform:managed-by = platformkit` and `platform:owner = <resource type>/<name>`.")
            .attr(Attribute::string("region").optional().description(
                "AWS region. Defaults to the AWS_REGION or AWS_DEFAULT_REGION environment variable. Must be a region of the provider's maintained list of AWS regions (a near miss such as `us-est-1` gets a suggestion).",
            ))
            .attr(
                Attribute::string("profile")
                    .optional()
                    .description("Named profile from the shared AWS config and credentials files."),
            )
            .attr(Attribute::string_list("allowed_account_ids").optional().description(
                "Refuse to run unless the credentials belong to one of these accounts (checked with STS GetCallerIdentity before any change).",
            ))
            .attr(Attribute::number("max_retries").optional().description(
                "Retries for throttled and 5xx AWS calls, with exponential backoff. Default 5.",
            ))
            .block(NestedBlock::at_most_one(
                "assume_role",
                Block::new()
                    .description("Assume this role for every AWS call (deploying into a member account).")
                    .attr(Attribute::string("role_arn").required().description("ARN of the role to assume, e.g. a member account's `OrganizationAccountAccessRole` (the management stack outputs them). Pin the account with `allowed_account_ids` too."))
                    .attr(Attribute::string("session_name").optional().description("Session name of the assumed role, shown in CloudTrail. Default `platformkit`."))
                    .attr(Attribute::string("external_id").optional().sensitive().description("External id the role's trust policy requires.")),
            ))
            .block(NestedBlock::at_most_one(
                "default_tags",
                Block::new()
                    .description("Tags added to every AWS object the provider creates.")
                    .attr(Attribute::string_map("tags").optional().description("Tags (key => value) on every AWS object the provider creates; a resource's own `tags` win on the same key. At most 40; keys of 1 to 128 and values of at most 256 characters of AWS's tag character set (letters, digits, spaces and `_ . : / = + - @`); keys starting with `platform:` or `aws:` are reserved.")),
            ))
            .block(NestedBlock::at_most_one("endpoints", endpoints))
            .attr(helm_binary_attribute())
            .block(kubernetes_block()),
    )
}

/// What a configured provider hands every resource: the AWS context, and how to reach
/// clusters (the `kubernetes` override, the helm binary).
pub struct Clients {
    pub aws: AwsContext,
    pub kube: KubeSettings,
}

pub fn resources() -> Vec<Arc<dyn Resource<Clients>>> {
    vec![
        Arc::new(OnAws(crate::resources::state_backend::StateBackend)),
        Arc::new(OnAws(crate::resources::organization::org::Organization)),
        Arc::new(OnAws(
            crate::resources::organization::ou::OrganizationalUnit,
        )),
        Arc::new(OnAws(
            crate::resources::organization::account::OrgAccount::default(),
        )),
        Arc::new(OnAws(crate::resources::environment::Environment)),
        Arc::new(OnAws(crate::resources::microservice::Microservice)),
        Arc::new(OnAws(crate::resources::frontend::Frontend)),
        Arc::new(crate::resources::helm_release::HelmRelease),
        Arc::new(crate::resources::cluster_services::ClusterServices),
    ]
}

pub fn data_sources() -> Vec<Arc<dyn DataSource<Clients>>> {
    vec![Arc::new(OnAws(
        crate::resources::organization::guardrail_data::GuardrailPolicy,
    ))]
}

/// Serves a composite that needs only AWS (`Resource<AwsContext>`) as a resource of this
/// provider, so the AWS composites never see the cluster settings they do not use.
pub struct OnAws<R>(pub R);

#[async_trait]
impl<R: Resource<AwsContext>> Resource<Clients> for OnAws<R> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn schema(&self) -> Schema {
        self.0.schema()
    }
    fn validate(&self, config: &Value) -> Diagnostics {
        self.0.validate(config)
    }
    async fn modify_plan(
        &self,
        c: &Clients,
        req: &PlanRequest,
        planned: &mut Value,
        diags: &mut Diagnostics,
    ) {
        self.0.modify_plan(&c.aws, req, planned, diags).await
    }
    async fn create(&self, c: &Clients, planned: &Value) -> ApplyOutcome {
        self.0.create(&c.aws, planned).await
    }
    async fn read(&self, c: &Clients, state: &Value) -> Result<Option<Value>, Diagnostics> {
        self.0.read(&c.aws, state).await
    }
    async fn update(&self, c: &Clients, prior: &Value, planned: &Value) -> ApplyOutcome {
        self.0.update(&c.aws, prior, planned).await
    }
    async fn delete(&self, c: &Clients, prior: &Value) -> ApplyOutcome {
        self.0.delete(&c.aws, prior).await
    }
    async fn import(&self, c: &Clients, id: &str) -> Result<Value, Diagnostics> {
        self.0.import(&c.aws, id).await
    }
    fn identity(&self) -> Option<Identity> {
        self.0.identity()
    }
    fn upgrade_state(
        &self,
        from_version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        self.0.upgrade_state(from_version, state)
    }
}

#[async_trait]
impl<D: DataSource<AwsContext>> DataSource<Clients> for OnAws<D> {
    fn type_name(&self) -> &'static str {
        self.0.type_name()
    }
    fn schema(&self) -> Schema {
        self.0.schema()
    }
    fn validate(&self, config: &Value) -> Diagnostics {
        self.0.validate(config)
    }
    async fn read(&self, c: &Clients, config: &Value) -> Result<Value, Diagnostics> {
        self.0.read(&c.aws, config).await
    }
}

/// The provider served by `main`: configuring it builds the [`AwsContext`] every composite uses.
pub struct PlatformProvider;

#[async_trait]
impl Provider for PlatformProvider {
    type Client = Clients;

    fn schema(&self) -> Schema {
        provider_schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = ProviderSettings::from_config(config)
            .err()
            .unwrap_or_default();
        d.extend(KubeSettings::from_config(config).err().unwrap_or_default());
        d
    }

    async fn configure(
        &self,
        config: &Value,
        cancel: CancellationToken,
    ) -> Result<Clients, Diagnostics> {
        let kube = KubeSettings::from_config(config)?;
        let settings = ProviderSettings::from_config(config)?;
        let aws = AwsContext::configure(&settings, cancel).await?;
        Ok(Clients { aws, kube })
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<Clients>>> {
        resources()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Clients>>> {
        data_sources()
    }

    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource<Clients>>> {
        crate::ephemeral::ephemeral_resources()
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        crate::functions::functions()
    }

    fn list_resources(&self) -> Vec<Arc<dyn tfplugin_framework::ListResource<Clients>>> {
        crate::list::list_resources()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tfplugin_framework::codec;
    use tfplugin_framework::protocol::pb::provider_server::Provider as _;
    use tfplugin_framework::protocol::{convert, pb, ProviderService};
    use tfplugin_framework::Value;
    use tonic::Request;

    fn backend_type() -> tfplugin_framework::Type {
        crate::resources::state_backend::StateBackend
            .schema()
            .value_type()
    }

    #[tokio::test]
    async fn schema_attributes_have_exactly_one_type() {
        let svc = ProviderService::new(PlatformProvider);
        let r = svc
            .get_provider_schema(Request::new(Default::default()))
            .await
            .expect("schema")
            .into_inner();
        let provider = r.provider.expect("provider schema");
        let block = provider.block.expect("block");
        assert!(block.attributes.iter().any(|a| a.name == "region"));
        assert!(block
            .block_types
            .iter()
            .any(|b| b.type_name == "assume_role"));
        for s in r.resource_schemas.values() {
            for a in &s.block.as_ref().expect("block").attributes {
                assert!(a.r#type.is_empty() != a.nested_type.is_none(), "{}", a.name);
                assert!(!a.description.is_empty(), "{} has no description", a.name);
            }
        }
    }

    #[tokio::test]
    async fn upgrade_state_accepts_json_with_removed_attributes() {
        let svc = ProviderService::new(PlatformProvider);
        let raw = serde_json::json!({
            "bucket": "my-state", "lock_table_name": "my-state-lock", "force_destroy": false,
            "an_attribute_from_an_older_version": 1
        });
        let r = svc
            .upgrade_resource_state(Request::new(pb::upgrade_resource_state::Request {
                type_name: "platform_state_backend".into(),
                version: 0,
                raw_state: Some(pb::RawState {
                    json: raw.to_string().into_bytes(),
                    flatmap: Default::default(),
                }),
            }))
            .await
            .expect("rpc")
            .into_inner();
        assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
        let v = codec::from_msgpack(&r.upgraded_state.expect("state").msgpack, &backend_type())
            .expect("decode");
        assert_eq!(v.get("bucket").as_str(), Some("my-state"));
        assert!(v.get("tags").is_null());
    }

    #[tokio::test]
    async fn validate_reports_attribute_paths() {
        let svc = ProviderService::new(PlatformProvider);
        let ty = backend_type();
        let cfg = Value::object([("bucket", Value::from("Not_Valid"))]);
        let r = svc
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: "platform_state_backend".into(),
                config: Some(convert::encode(&cfg, &ty).expect("encode")),
                client_capabilities: None,
            }))
            .await
            .expect("rpc")
            .into_inner();
        assert_eq!(r.diagnostics.len(), 1);
        let path = r.diagnostics[0].attribute.as_ref().expect("path");
        assert_eq!(
            path.steps[0].selector,
            Some(pb::attribute_path::step::Selector::AttributeName(
                "bucket".into()
            ))
        );
    }
}
