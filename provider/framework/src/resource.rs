//! The traits a provider, its resources and its data sources implement. Resources see typed
//! `Value`s and `Diagnostics`, never protobuf; `crate::protocol` does the translation and
//! `super::plan` applies the generic plan rules before a resource's own `modify_plan`.
//!
//! Every trait is generic over the provider's client type `C`: what `Provider::configure`
//! builds from the provider block (an SDK context, an HTTP client, ...) and hands to every call.

use super::diag::{AttributePath, Diagnostics};
use super::function::Function;
use super::schema::Schema;
use super::types::Type;
use super::value::Value;
use async_trait::async_trait;
use std::sync::Arc;
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// The identity of a managed resource type (protocol 6.9, Terraform 1.12+): a few string
/// attributes, taken from the state, that name the remote object. Terraform stores it beside
/// the state and lets `import` blocks name an object by it (`identity = { ... }`) instead of an
/// import id string. The import id is the attributes' values joined with `/`, in order, so
/// importing by identity and by id go through the same `Resource::import`.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Bump to get `Resource::upgrade_identity`-style upgrades (none so far).
    pub version: i64,
    pub attributes: Vec<IdentityAttribute>,
}

/// One identity attribute: a string copied from the state attribute `state_attribute`.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityAttribute {
    pub name: &'static str,
    pub state_attribute: &'static str,
    pub description: &'static str,
}

impl Identity {
    /// An identity of one attribute (most resources: their natural import id).
    pub fn single(
        name: &'static str,
        state_attribute: &'static str,
        description: &'static str,
    ) -> Identity {
        Identity {
            version: 0,
            attributes: vec![IdentityAttribute {
                name,
                state_attribute,
                description,
            }],
        }
    }

    /// Adds an attribute (identities of several parts, e.g. `namespace` and `name`).
    pub fn and(
        mut self,
        name: &'static str,
        state_attribute: &'static str,
        description: &'static str,
    ) -> Identity {
        self.attributes.push(IdentityAttribute {
            name,
            state_attribute,
            description,
        });
        self
    }

    /// The identity's type: an object of strings.
    pub fn value_type(&self) -> Type {
        Type::object(self.attributes.iter().map(|a| (a.name, Type::String)))
    }

    /// The identity of `state`, when every part is a known string (not before create has run).
    pub fn of_state(&self, state: &Value) -> Option<Value> {
        let mut parts = Vec::new();
        for a in &self.attributes {
            let v = state.get(a.state_attribute).as_str()?;
            parts.push((a.name, Value::from(v)));
        }
        Some(Value::object(parts))
    }

    /// The import id an identity stands for; an error at the identity attribute that is missing.
    pub fn import_id(&self, identity: &Value) -> Result<String, Diagnostics> {
        let mut parts = Vec::new();
        for a in &self.attributes {
            match identity.get(a.name).as_str() {
                Some(v) if !v.is_empty() => parts.push(v.to_string()),
                _ => {
                    return Err({
                        let mut d = Diagnostics::new();
                        d.error_at(
                            AttributePath::root(a.name),
                            "Missing identity attribute",
                            format!(
                                "Importing by identity needs `{}`: {}",
                                a.name, a.description
                            ),
                        );
                        d
                    })
                }
            }
        }
        Ok(parts.join("/"))
    }
}

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

    /// The resource identity (Terraform 1.12+), if this type has one. Terraforms that do not
    /// know identities never ask for it, and everything else works without.
    fn identity(&self) -> Option<Identity> {
        None
    }

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

/// What opening an ephemeral resource gives: its result, and when Terraform should renew it
/// (never, when `None`).
#[derive(Debug, Clone)]
pub struct EphemeralOpen {
    pub result: Value,
    pub renew_at: Option<SystemTime>,
}

/// An ephemeral resource (protocol 6.7, Terraform 1.10+): a value produced on every plan and
/// apply (a short-lived credential, say) that Terraform never writes to state or plan files.
/// Terraforms that do not know ephemeral resources never see it.
#[async_trait]
pub trait EphemeralResource<C>: Send + Sync {
    fn type_name(&self) -> &'static str;
    fn schema(&self) -> Schema;
    /// Static checks on configuration, before any remote call.
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// The result for `config` (defaults filled in). Nothing is left open: there is no close.
    async fn open(&self, client: &C, config: &Value) -> Result<EphemeralOpen, Diagnostics>;
}

/// A list resource (protocol 6.10, Terraform 1.14+ `terraform query`): finds the remote objects
/// of the managed resource type of the same name. It names each by its import id; the framework
/// imports it (`Resource::import`) for its identity, display name and, when asked, the whole
/// object, so a listed object is exactly what an `import` block would adopt.
#[async_trait]
pub trait ListResource<C>: Send + Sync {
    /// The managed resource type it lists (which must have an identity).
    fn type_name(&self) -> &'static str;
    /// The schema of the `config` block of a `list` block.
    fn schema(&self) -> Schema;
    fn validate(&self, _config: &Value) -> Diagnostics {
        Diagnostics::new()
    }
    /// Import ids of the objects found, at most `limit` of them.
    async fn list(
        &self,
        client: &C,
        config: &Value,
        limit: usize,
    ) -> Result<Vec<String>, Diagnostics>;
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

    /// Ephemeral resources (Terraform 1.10+).
    fn ephemeral_resources(&self) -> Vec<Arc<dyn EphemeralResource<Self::Client>>> {
        Vec::new()
    }

    /// List resources (Terraform 1.14+).
    fn list_resources(&self) -> Vec<Arc<dyn ListResource<Self::Client>>> {
        Vec::new()
    }

    /// Provider-defined functions (Terraform 1.8+).
    fn functions(&self) -> Vec<Arc<dyn Function>> {
        Vec::new()
    }
}
