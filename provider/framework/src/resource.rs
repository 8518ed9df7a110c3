//! The traits a provider, its resources and its data sources implement. Resources see typed
//! `Value`s and `Diagnostics`, never protobuf; `crate::protocol` does the translation and
//! `super::plan` applies the generic plan rules before a resource's own `modify_plan`.
//!
//! Every trait is generic over the provider's client type `C`: what `Provider::configure`
//! builds from the provider block (an SDK context, an HTTP client, ...) and hands to every call.

use super::diag::Diagnostics;
use super::schema::Schema;
use super::value::Value;
use async_trait::async_trait;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What `PlanResourceChange` hands a resource.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    /// Prior state; `Null` when the resource is being created.
    pub prior: Value,
    /// The configuration as written (unknown where it depends on other resources).
    pub config: Value,
    /// Terraform's proposed new state (config merged with prior computed values).
    pub proposed: Value,
}

impl PlanRequest {
    pub fn is_create(&self) -> bool {
        self.prior.is_null()
    }
}

/// The result of a plan: the planned state and the attributes whose change forces
/// replacement (filled by the framework from `force_new` attributes).
#[derive(Debug, Clone, Default)]
pub struct PlanResponse {
    pub planned: Value,
    pub requires_replace: Vec<super::diag::AttributePath>,
    pub diags: Diagnostics,
}

/// The outcome of create or update. On a part-way failure `state` holds everything that
/// exists so far (never `Null` if anything was created) and `diags` the error, so
/// Terraform records it and the next apply resumes instead of orphaning objects.
#[derive(Debug, Clone, Default)]
pub struct ApplyOutcome {
    pub state: Value,
    pub diags: Diagnostics,
}

impl ApplyOutcome {
    pub fn ok(state: Value) -> ApplyOutcome {
        ApplyOutcome {
            state,
            diags: Diagnostics::new(),
        }
    }
    pub fn failed(state: Value, diags: Diagnostics) -> ApplyOutcome {
        ApplyOutcome { state, diags }
    }
}

#[async_trait]
pub trait Resource<C>: Send + Sync {
    /// The resource type name, e.g. `platform_state_backend`.
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;

    /// Static checks on configuration, before any remote call. Values may be unknown: skip
    /// those, the plan will see them again once known.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Fill in derived values after the framework rules (defaults, unknown computed values
    /// on create) have run. Must not change anything remotely; it may read (a chart rendered
    /// against the cluster's capabilities), but most resources derive everything locally.
    async fn modify_plan(
        &self,
        _client: &C,
        _req: &PlanRequest,
        _planned: &mut Value,
        _diags: &mut Diagnostics,
    ) {
    }

    async fn create(&self, client: &C, planned: &Value) -> ApplyOutcome;
    /// Current state from AWS; `Ok(None)` when the object no longer exists.
    async fn read(&self, client: &C, state: &Value) -> Result<Option<Value>, Diagnostics>;
    async fn update(&self, client: &C, prior: &Value, planned: &Value) -> ApplyOutcome;
    /// Delete; on failure return what still exists (or `Null` if everything is gone).
    async fn delete(&self, client: &C, prior: &Value) -> ApplyOutcome;
    /// A state for the natural id (bucket name, environment name, account id).
    async fn import(&self, client: &C, id: &str) -> Result<Value, Diagnostics>;

    /// Upgrade a JSON state written by an older schema version to the current one.
    fn upgrade_state(
        &self,
        _from_version: i64,
        state: serde_json::Value,
    ) -> Result<serde_json::Value, Diagnostics> {
        Ok(state)
    }
}

#[async_trait]
pub trait DataSource<C>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    async fn read(&self, client: &C, config: &Value) -> Result<Value, Diagnostics>;
}

/// A whole provider: its configuration schema, how a configuration becomes the client every
/// resource call receives, and the resources and data sources it serves.
/// `crate::protocol::routes` serves one over tfplugin6.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// What `configure` builds and every resource and data source call receives.
    type Client: Send + Sync + 'static;

    fn schema(&self) -> Schema;

    /// Static checks on the provider block (ValidateProviderConfig), before any remote call.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }

    /// Builds the client from the provider block. `cancel` is cancelled by StopProvider:
    /// long waits the client runs should watch it.
    async fn configure(
        &self,
        config: &Value,
        cancel: CancellationToken,
    ) -> Result<Self::Client, Diagnostics>;

    fn resources(&self) -> Vec<Arc<dyn Resource<Self::Client>>>;

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Self::Client>>> {
        Vec::new()
    }
}
