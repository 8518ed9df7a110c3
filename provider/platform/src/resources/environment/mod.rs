//! `platform_environment`: one resource for a whole environment — a VPC with public and
//! private subnets per AZ, NAT, routing and flow logs (`network`), an EKS cluster with node
//! groups (`cluster`), and a private RDS instance (`database`), with security defaults that
//! cannot be switched off (docs/design.md "Non-negotiable security defaults").
//!
//! Subnet CIDRs are planned at plan time and keyed by AZ (`cidr`), so the plan shows them
//! and adding or removing an AZ never touches another AZ's subnets. Apply observes the
//! environment with a few filtered Describe calls and converges it, so create, update,
//! drift repair and resume after a crash are the same code path.

mod apply;
pub mod cidr;
mod cluster;
mod database;
mod desired;
mod import;
mod network;
mod observe;
mod plan;
mod replace;
mod retag;
mod schema;
mod validate;
mod zones;

use async_trait::async_trait;
use network::NatMode;
use platform_aws::{tags, AwsContext};
use tfplugin_framework::{ApplyOutcome, Diagnostics, PlanRequest, Resource, Schema, Value};

pub use platform_aws::step::StepError;
pub use schema::{
    DEFAULT_AGGREGATION, DEFAULT_CLUSTER_LOG_RETENTION, DEFAULT_DB_BACKUP_DAYS, DEFAULT_DB_CLASS,
    DEFAULT_DB_MONITORING, DEFAULT_DB_STORAGE, DEFAULT_DB_USER, DEFAULT_DISK_SIZE,
    DEFAULT_EKS_VERSION, DEFAULT_FLOW_RETENTION, DEFAULT_INSTANCE_TYPE, DEFAULT_NEWBITS,
    DEFAULT_TIMEOUT, TYPE_NAME,
};

pub struct Environment;

/// The owner tag value of an environment's objects.
pub fn owner(env: &str) -> String {
    tags::owner(TYPE_NAME, env)
}

/// Each method hands over to the file that does that job.
#[async_trait]
impl Resource<AwsContext> for Environment {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// The resource identity (Terraform 1.12+): `import` blocks may name the object by it.
    fn identity(&self) -> Option<tfplugin_framework::Identity> {
        Some(tfplugin_framework::Identity::single(
            "name",
            "name",
            "The environment name (the import id).",
        ))
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn validate(&self, config: &Value) -> Diagnostics {
        validate::config(config)
    }

    async fn modify_plan(
        &self,
        aws: &AwsContext,
        req: &PlanRequest,
        planned: &mut Value,
        diags: &mut Diagnostics,
    ) {
        if !planned.is_null() {
            if let Some(n) = planned.get("name").as_str() {
                if !crate::resources::registry::claim(TYPE_NAME, n, req) {
                    diags.error_at(
                        tfplugin_framework::AttributePath::root("name"),
                        "Duplicate environment name",
                        format!("Another platform_environment in this configuration is also named {n:?}. Both would manage the same VPC, cluster and database (one owner tag, {:?}); give each environment its own name.", owner(n)),
                    );
                }
            }
            zones::check(aws, req, planned, diags).await;
        }
        plan::modify_plan(aws, req, planned, diags);
        if req.is_create() && !diags.has_errors() {
            if let Some(name) = planned.get("name").as_str() {
                plan::warn_if_objects_exist(aws, name, diags).await;
            }
        }
    }

    async fn create(&self, aws: &AwsContext, planned: &Value) -> ApplyOutcome {
        apply::converge(aws, &Value::Null, planned).await
    }

    async fn update(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        apply::converge(aws, prior, planned).await
    }

    async fn read(&self, aws: &AwsContext, state: &Value) -> Result<Option<Value>, Diagnostics> {
        observe::read(aws, state).await
    }

    async fn delete(&self, aws: &AwsContext, prior: &Value) -> ApplyOutcome {
        apply::delete(aws, prior).await
    }

    async fn import(&self, aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
        import::import(aws, id).await
    }
}
