//! The tfplugin6 `Provider` gRPC service: decodes requests, calls the framework and the
//! resources, encodes responses. Every RPC is logged at debug with its duration.

pub mod convert;

/// The generated tfplugin6 types and server, checked in (`cargo run -p tfplugin-protogen` regenerates them
/// from `proto/tfplugin6.proto`; `scripts/test.sh` checks they are current).
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    include!("generated/tfplugin6.rs");
}

use crate::{
    plan, ApplyOutcome, DataSource, Diagnostics, EphemeralResource, Function, ListResource,
    PlanRequest, Provider, Resource, Schema, Type, Value,
};
use convert::{codec_diag, decode, diagnostics, encode};
use pb::provider_server::{Provider as ProviderRpc, ProviderServer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

/// gRPC messages from Terraform can be large (big states); 256 MiB like go-plugin hosts.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Builds the routes serving `provider` as the tfplugin6 Provider service.
pub fn routes<P: Provider>(provider: P) -> tonic::service::Routes {
    routes_with(provider, CancellationToken::new(), WorkLock::default())
}

/// Held (read) by every apply while it runs; whoever takes the write side waits for all of them.
pub type WorkLock = Arc<tokio::sync::RwLock<()>>;

/// [`routes`] tied to the host's life: `gone` (cancelled when Terraform is gone) stops work like
/// StopProvider does, and every apply runs as its own task holding a read guard of `work`, so
/// the host can let it end before the process exits. An apply on the tracker also survives Terraform's connection
/// dropping mid-call: the work is not abandoned between two AWS calls.
pub fn routes_with<P: Provider>(
    provider: P,
    gone: CancellationToken,
    work: WorkLock,
) -> tonic::service::Routes {
    let svc = ProviderServer::new(ProviderService::with_lifecycle(provider, gone, work))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    tonic::service::Routes::new(svc)
}

/// One provider served over tfplugin6: the schemas encoded once, the client built by
/// ConfigureProvider, and the cancellation token StopProvider cancels.
pub struct ProviderService<P: Provider> {
    provider: P,
    provider_schema: Schema,
    resources: HashMap<&'static str, ResourceEntry<P::Client>>,
    data_sources: HashMap<&'static str, DataSourceEntry<P::Client>>,
    ephemeral: HashMap<&'static str, EphemeralEntry<P::Client>>,
    functions: HashMap<&'static str, Arc<dyn Function>>,
    lists: HashMap<&'static str, ListEntry<P::Client>>,
    /// Encoded once: GetProviderSchema is called by every Terraform command.
    schema_response: pb::get_provider_schema::Response,
    client: RwLock<Option<Arc<P::Client>>>,
    stop: Mutex<CancellationToken>,
    /// Held by applies while they run (see [`routes_with`]).
    work: WorkLock,
}

type ResourceEntry<C> = (Arc<dyn Resource<C>>, Schema);
type DataSourceEntry<C> = (Arc<dyn DataSource<C>>, Schema);
type EphemeralEntry<C> = (Arc<dyn EphemeralResource<C>>, Schema);
type ListEntry<C> = (Arc<dyn ListResource<C>>, Schema);

/// The stream ListResource answers with.
pub type ListEvents = std::pin::Pin<
    Box<
        dyn tonic::codegen::tokio_stream::Stream<Item = Result<pb::list_resource::Event, Status>>
            + Send,
    >,
>;

type Rpc<T> = Result<Response<T>, Status>;

impl<P: Provider> ProviderService<P> {
    pub fn new(provider: P) -> ProviderService<P> {
        Self::with_lifecycle(provider, CancellationToken::new(), WorkLock::default())
    }

    /// A service whose stop token is also cancelled by `gone`, running applies on `work`.
    pub fn with_lifecycle(
        provider: P,
        gone: CancellationToken,
        work: WorkLock,
    ) -> ProviderService<P> {
        let provider_schema = provider.schema();
        let resources: HashMap<_, _> = provider
            .resources()
            .into_iter()
            .map(|r| (r.type_name(), (r.clone(), r.schema())))
            .collect();
        let data_sources: HashMap<_, _> = provider
            .data_sources()
            .into_iter()
            .map(|d| (d.type_name(), (d.clone(), d.schema())))
            .collect();
        let ephemeral: HashMap<_, _> = provider
            .ephemeral_resources()
            .into_iter()
            .map(|e| (e.type_name(), (e.clone(), e.schema())))
            .collect();
        let functions: HashMap<_, _> = provider
            .functions()
            .into_iter()
            .map(|f| (f.name(), f))
            .collect();
        let lists: HashMap<_, _> = provider
            .list_resources()
            .into_iter()
            .map(|l| (l.type_name(), (l.clone(), l.schema())))
            .collect();
        // Terraforms before 1.8 (functions), 1.10 (ephemeral resources) and 1.14 (list
        // resources) skip these fields.
        let schema_response = pb::get_provider_schema::Response {
            provider: Some(convert::schema(&provider_schema)),
            resource_schemas: resources
                .iter()
                .map(|(n, (_, s))| (n.to_string(), convert::schema(s)))
                .collect(),
            data_source_schemas: data_sources
                .iter()
                .map(|(n, (_, s))| (n.to_string(), convert::schema(s)))
                .collect(),
            functions: functions
                .iter()
                .map(|(n, f)| (n.to_string(), convert::function(f.as_ref())))
                .collect(),
            ephemeral_resource_schemas: ephemeral
                .iter()
                .map(|(n, (_, s))| (n.to_string(), convert::schema(s)))
                .collect(),
            list_resource_schemas: lists
                .iter()
                .map(|(n, (_, s))| (n.to_string(), convert::schema(s)))
                .collect(),
            server_capabilities: Some(capabilities()),
            ..Default::default()
        };
        ProviderService {
            provider,
            provider_schema,
            resources,
            data_sources,
            ephemeral,
            functions,
            lists,
            schema_response,
            client: RwLock::new(None),
            stop: Mutex::new(gone.child_token()),
            work,
        }
    }

    fn resource(&self, name: &str) -> Result<&ResourceEntry<P::Client>, Status> {
        self.resources
            .get(name)
            .ok_or_else(|| Status::not_found(format!("unknown resource type {name}")))
    }

    fn data_source(&self, name: &str) -> Result<&DataSourceEntry<P::Client>, Status> {
        self.data_sources
            .get(name)
            .ok_or_else(|| Status::not_found(format!("unknown data source {name}")))
    }

    fn ephemeral_resource(&self, name: &str) -> Result<&EphemeralEntry<P::Client>, Status> {
        self.ephemeral
            .get(name)
            .ok_or_else(|| Status::not_found(format!("unknown ephemeral resource {name}")))
    }

    /// The identity of `state` for `res`, encoded; `None` when the type has none or the state
    /// does not determine it yet.
    fn identity_of(
        res: &Arc<dyn Resource<P::Client>>,
        state: &Value,
    ) -> Option<pb::ResourceIdentityData> {
        let identity = res.identity()?;
        let v = identity.of_state(state)?;
        let dv = encode(&v, &identity.value_type()).ok()?;
        Some(pb::ResourceIdentityData {
            identity_data: Some(dv),
        })
    }

    fn client(&self) -> Result<Arc<P::Client>, Diagnostics> {
        self.client
            .read()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| {
                Diagnostics::from_error(
                    "Provider not configured",
                    "Terraform called the provider before ConfigureProvider. This is a bug.",
                )
            })
    }

    /// The token StopProvider cancels (a fresh one is not made: one stop ends the process).
    pub fn cancel_token(&self) -> CancellationToken {
        self.stop
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

fn capabilities() -> pb::ServerCapabilities {
    pb::ServerCapabilities {
        plan_destroy: false,
        get_provider_schema_optional: false,
        move_resource_state: false,
    }
}

fn timed<T>(rpc: &'static str, type_name: &str, start: Instant, r: T) -> T {
    tracing::debug!(
        target: "platform::rpc",
        rpc,
        type_name,
        duration_ms = start.elapsed().as_secs_f64() * 1000.0,
        "served"
    );
    r
}

/// A configuration decoded against `ty` and checked by `validate`, as response diagnostics;
/// a configuration that does not decode is reported as `what`.
fn validated(
    config: Option<&pb::DynamicValue>,
    ty: &Type,
    what: &str,
    validate: impl FnOnce(&Value) -> Diagnostics,
) -> Vec<pb::Diagnostic> {
    let diags = match decode(config, ty) {
        Ok(cfg) => validate(&cfg),
        Err(e) => codec_diag(what, &e),
    };
    diagnostics(&diags)
}

/// `ok_or_answer!(out, result)`: the `Ok` value, or else `result`'s diagnostics put in the
/// response `out`, which is returned at once.
macro_rules! ok_or_answer {
    ($out:ident, $result:expr) => {
        match $result {
            Ok(v) => v,
            Err(d) => {
                $out.diagnostics = diagnostics(&d);
                return Ok(Response::new($out));
            }
        }
    };
}

#[tonic::async_trait]
impl<P: Provider> ProviderRpc for ProviderService<P> {
    async fn get_metadata(
        &self,
        _r: Request<pb::get_metadata::Request>,
    ) -> Rpc<pb::get_metadata::Response> {
        Ok(Response::new(pb::get_metadata::Response {
            server_capabilities: Some(capabilities()),
            resources: self
                .resources
                .keys()
                .map(|n| pb::get_metadata::ResourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            data_sources: self
                .data_sources
                .keys()
                .map(|n| pb::get_metadata::DataSourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            functions: self
                .functions
                .keys()
                .map(|n| pb::get_metadata::FunctionMetadata {
                    name: n.to_string(),
                })
                .collect(),
            ephemeral_resources: self
                .ephemeral
                .keys()
                .map(|n| pb::get_metadata::EphemeralMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            list_resources: self
                .lists
                .keys()
                .map(|n| pb::get_metadata::ListResourceMetadata {
                    type_name: n.to_string(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _r: Request<pb::get_provider_schema::Request>,
    ) -> Rpc<pb::get_provider_schema::Response> {
        Ok(Response::new(self.schema_response.clone()))
    }

    async fn validate_provider_config(
        &self,
        r: Request<pb::validate_provider_config::Request>,
    ) -> Rpc<pb::validate_provider_config::Response> {
        let r = r.into_inner();
        Ok(Response::new(pb::validate_provider_config::Response {
            diagnostics: validated(
                r.config.as_ref(),
                &self.provider_schema.value_type(),
                "provider configuration",
                |cfg| self.provider.validate(cfg),
            ),
        }))
    }

    async fn validate_resource_config(
        &self,
        r: Request<pb::validate_resource_config::Request>,
    ) -> Rpc<pb::validate_resource_config::Response> {
        let r = r.into_inner();
        let (res, schema) = self.resource(&r.type_name)?;
        Ok(Response::new(pb::validate_resource_config::Response {
            diagnostics: validated(
                r.config.as_ref(),
                &schema.value_type(),
                "resource configuration",
                |cfg| res.validate(cfg),
            ),
        }))
    }

    async fn validate_data_resource_config(
        &self,
        r: Request<pb::validate_data_resource_config::Request>,
    ) -> Rpc<pb::validate_data_resource_config::Response> {
        let r = r.into_inner();
        let (ds, schema) = self.data_source(&r.type_name)?;
        Ok(Response::new(pb::validate_data_resource_config::Response {
            diagnostics: validated(
                r.config.as_ref(),
                &schema.value_type(),
                "data source configuration",
                |cfg| ds.validate(cfg),
            ),
        }))
    }

    async fn upgrade_resource_state(
        &self,
        r: Request<pb::upgrade_resource_state::Request>,
    ) -> Rpc<pb::upgrade_resource_state::Response> {
        let r = r.into_inner();
        let (res, schema) = self.resource(&r.type_name)?;
        let ty = schema.value_type();
        let result = (|| {
            let raw = r.raw_state.unwrap_or_default();
            if raw.json.is_empty() {
                if raw.flatmap.is_empty() {
                    return Ok(Value::Null);
                }
                return Err(Diagnostics::from_error(
                    "Unsupported state format",
                    "This state was written in the pre-0.12 flatmap format, which platformkit never wrote.",
                ));
            }
            let json: serde_json::Value = serde_json::from_slice(&raw.json).map_err(|e| {
                Diagnostics::from_error(
                    "Corrupt state",
                    format!("The stored state is not JSON: {e}"),
                )
            })?;
            let json = if r.version < schema.version {
                res.upgrade_state(r.version, json)?
            } else {
                json
            };
            crate::codec::from_json(json.to_string().as_bytes(), &ty)
                .map_err(|e| codec_diag("stored state", &e))
        })();
        let (upgraded_state, diags) =
            match result.and_then(|v| encode(&v, &ty).map_err(|e| codec_diag("state", &e))) {
                Ok(dv) => (Some(dv), Diagnostics::new()),
                Err(d) => (None, d),
            };
        Ok(Response::new(pb::upgrade_resource_state::Response {
            upgraded_state,
            diagnostics: diagnostics(&diags),
        }))
    }

    async fn get_resource_identity_schemas(
        &self,
        _r: Request<pb::get_resource_identity_schemas::Request>,
    ) -> Rpc<pb::get_resource_identity_schemas::Response> {
        Ok(Response::new(pb::get_resource_identity_schemas::Response {
            identity_schemas: self
                .resources
                .iter()
                .filter_map(|(n, (res, _))| {
                    res.identity()
                        .map(|i| (n.to_string(), convert::identity_schema(&i)))
                })
                .collect(),
            diagnostics: Vec::new(),
        }))
    }

    async fn upgrade_resource_identity(
        &self,
        r: Request<pb::upgrade_resource_identity::Request>,
    ) -> Rpc<pb::upgrade_resource_identity::Response> {
        let r = r.into_inner();
        let (res, _) = self.resource(&r.type_name)?;
        let mut out = pb::upgrade_resource_identity::Response::default();
        let identity = ok_or_answer!(
            out,
            res.identity().ok_or_else(|| Diagnostics::from_error(
                "No resource identity",
                format!("{} has no identity schema.", r.type_name),
            ))
        );
        // Version 0 is the only one so far: the stored JSON is the identity as it is.
        let raw = r.raw_identity.unwrap_or_default();
        let ty = identity.value_type();
        let v = ok_or_answer!(
            out,
            crate::codec::from_json(&raw.json, &ty).map_err(|e| codec_diag("stored identity", &e))
        );
        let dv = ok_or_answer!(out, encode(&v, &ty).map_err(|e| codec_diag("identity", &e)));
        out.upgraded_identity = Some(pb::ResourceIdentityData {
            identity_data: Some(dv),
        });
        Ok(Response::new(out))
    }

    async fn configure_provider(
        &self,
        r: Request<pb::configure_provider::Request>,
    ) -> Rpc<pb::configure_provider::Response> {
        let start = Instant::now();
        let r = r.into_inner();
        tracing::info!(target: "platform::rpc", terraform_version = %r.terraform_version, "configuring provider");
        let diags = match decode(r.config.as_ref(), &self.provider_schema.value_type()) {
            Err(e) => codec_diag("provider configuration", &e),
            Ok(cfg) => match self.provider.configure(&cfg, self.cancel_token()).await {
                Err(d) => d,
                Ok(client) => {
                    if let Ok(mut g) = self.client.write() {
                        *g = Some(Arc::new(client));
                    }
                    Diagnostics::new()
                }
            },
        };
        timed(
            "ConfigureProvider",
            "",
            start,
            Ok(Response::new(pb::configure_provider::Response {
                diagnostics: diagnostics(&diags),
            })),
        )
    }

    async fn read_resource(
        &self,
        r: Request<pb::read_resource::Request>,
    ) -> Rpc<pb::read_resource::Response> {
        let start = Instant::now();
        let r = r.into_inner();
        let (res, schema) = self.resource(&r.type_name)?;
        let ty = schema.value_type();
        let mut out = pb::read_resource::Response {
            new_state: r.current_state.clone(),
            private: r.private.clone(),
            ..Default::default()
        };
        let state = ok_or_answer!(
            out,
            decode(r.current_state.as_ref(), &ty).map_err(|e| codec_diag("state", &e))
        );
        let client = ok_or_answer!(out, self.client());
        match res.read(&client, &state).await {
            Ok(new) => {
                let new = new.unwrap_or(Value::Null);
                out.new_identity = Self::identity_of(res, &new).or(r.current_identity.clone());
                if new.is_null() {
                    out.new_identity = None;
                }
                match encode(&new, &ty) {
                    Ok(dv) => out.new_state = Some(dv),
                    Err(e) => out.diagnostics = diagnostics(&codec_diag("state", &e)),
                }
            }
            Err(d) => out.diagnostics = diagnostics(&d),
        }
        timed("ReadResource", &r.type_name, start, Ok(Response::new(out)))
    }

    async fn plan_resource_change(
        &self,
        r: Request<pb::plan_resource_change::Request>,
    ) -> Rpc<pb::plan_resource_change::Response> {
        let start = Instant::now();
        let r = r.into_inner();
        let (res, schema) = self.resource(&r.type_name)?;
        let ty = schema.value_type();
        let mut out = pb::plan_resource_change::Response {
            planned_state: r.proposed_new_state.clone(),
            planned_private: r.prior_private.clone(),
            planned_identity: r.prior_identity.clone(),
            ..Default::default()
        };
        let decoded = (|| {
            Ok::<_, crate::codec::CodecError>(PlanRequest {
                prior: decode(r.prior_state.as_ref(), &ty)?,
                config: decode(r.config.as_ref(), &ty)?,
                proposed: decode(r.proposed_new_state.as_ref(), &ty)?,
            })
        })();
        let req = ok_or_answer!(out, decoded.map_err(|e| codec_diag("plan", &e)));
        if req.config.is_null() {
            // Destroy: nothing to plan.
            return Ok(Response::new(out));
        }
        let mut diags = res.validate(&req.config);
        if diags.has_errors() {
            out.diagnostics = diagnostics(&diags);
            return Ok(Response::new(out));
        }
        let client = ok_or_answer!(out, self.client());
        let mut planned = plan::apply_rules(&schema.block, &req.prior, &req.config, &req.proposed);
        res.modify_plan(&client, &req, &mut planned, &mut diags)
            .await;
        out.requires_replace = plan::requires_replace(&schema.block, &req.prior, &planned)
            .iter()
            .map(convert::path)
            .collect();
        if !out.requires_replace.is_empty() {
            out.planned_identity = None;
        }
        if let Some(id) = Self::identity_of(res, &planned) {
            out.planned_identity = Some(id);
        }
        match encode(&planned, &ty) {
            Ok(dv) => out.planned_state = Some(dv),
            Err(e) => diags.extend(codec_diag("planned state", &e)),
        }
        out.diagnostics = diagnostics(&diags);
        timed(
            "PlanResourceChange",
            &r.type_name,
            start,
            Ok(Response::new(out)),
        )
    }

    async fn apply_resource_change(
        &self,
        r: Request<pb::apply_resource_change::Request>,
    ) -> Rpc<pb::apply_resource_change::Response> {
        let start = Instant::now();
        let r = r.into_inner();
        let (res, schema) = self.resource(&r.type_name)?;
        let ty = schema.value_type();
        let mut out = pb::apply_resource_change::Response {
            new_state: r.prior_state.clone(),
            private: r.planned_private.clone(),
            ..Default::default()
        };
        let decoded = (|| {
            Ok::<_, crate::codec::CodecError>((
                decode(r.prior_state.as_ref(), &ty)?,
                decode(r.planned_state.as_ref(), &ty)?,
            ))
        })();
        let (prior, planned) = ok_or_answer!(out, decoded.map_err(|e| codec_diag("apply", &e)));
        let client = ok_or_answer!(out, self.client());
        // A task of its own, not this RPC's future: if Terraform's connection drops, the work is
        // not dropped between two AWS calls, and the host (holding off on the lock) lets it end
        // before exiting.
        let guard = Arc::clone(&self.work).read_owned().await;
        let work = {
            let res = Arc::clone(res);
            let prior = prior.clone();
            tokio::spawn(async move {
                let _running = guard;
                if prior.is_null() {
                    res.create(&client, &planned).await
                } else if planned.is_null() {
                    res.delete(&client, &prior).await
                } else {
                    res.update(&client, &prior, &planned).await
                }
            })
        };
        let outcome = match work.await {
            Ok(outcome) => outcome,
            Err(e) => ApplyOutcome {
                state: prior,
                diags: Diagnostics::from_error(
                    "Provider error",
                    format!(
                        "The apply of {} ended abnormally ({e}). This is a bug in the provider; \
                         the state is left as it was before this apply.",
                        r.type_name
                    ),
                ),
            },
        };
        let mut diags = outcome.diags;
        out.new_identity = Self::identity_of(res, &outcome.state);
        match encode(&outcome.state, &ty) {
            Ok(dv) => out.new_state = Some(dv),
            Err(e) => diags.extend(codec_diag("new state", &e)),
        }
        out.diagnostics = diagnostics(&diags);
        timed(
            "ApplyResourceChange",
            &r.type_name,
            start,
            Ok(Response::new(out)),
        )
    }

    async fn import_resource_state(
        &self,
        r: Request<pb::import_resource_state::Request>,
    ) -> Rpc<pb::import_resource_state::Response> {
        let start = Instant::now();
        let r = r.into_inner();
        let (res, schema) = self.resource(&r.type_name)?;
        let ty = schema.value_type();
        let mut out = pb::import_resource_state::Response::default();
        // An `import` block with `identity = {...}` (Terraform 1.12+) sends no id: the identity
        // names the object, and stands for the same id.
        let id = match (&r.identity, res.identity()) {
            (Some(given), Some(identity)) if r.id.is_empty() => {
                let given = ok_or_answer!(
                    out,
                    decode(given.identity_data.as_ref(), &identity.value_type())
                        .map_err(|e| codec_diag("identity", &e))
                );
                ok_or_answer!(out, identity.import_id(&given))
            }
            _ => r.id.clone(),
        };
        let result = match self.client() {
            Ok(client) => res.import(&client, &id).await,
            Err(d) => Err(d),
        };
        let result = result.and_then(|v| {
            let dv = encode(&v, &ty).map_err(|e| codec_diag("imported state", &e))?;
            Ok((dv, Self::identity_of(res, &v)))
        });
        match result {
            Ok((dv, identity)) => {
                out.imported_resources
                    .push(pb::import_resource_state::ImportedResource {
                        type_name: r.type_name.clone(),
                        state: Some(dv),
                        identity,
                        ..Default::default()
                    })
            }
            Err(d) => out.diagnostics = diagnostics(&d),
        }
        timed(
            "ImportResourceState",
            &r.type_name,
            start,
            Ok(Response::new(out)),
        )
    }

    async fn move_resource_state(
        &self,
        _r: Request<pb::move_resource_state::Request>,
    ) -> Rpc<pb::move_resource_state::Response> {
        let d = Diagnostics::from_error(
            "Moving state is not supported",
            "platformkit resources cannot be moved from another resource type.",
        );
        Ok(Response::new(pb::move_resource_state::Response {
            diagnostics: diagnostics(&d),
            ..Default::default()
        }))
    }

    async fn read_data_source(
        &self,
        r: Request<pb::read_data_source::Request>,
    ) -> Rpc<pb::read_data_source::Response> {
        let start = Instant::now();
        let r = r.into_inner();
        let (ds, schema) = self.data_source(&r.type_name)?;
        let ty = schema.value_type();
        let mut out = pb::read_data_source::Response::default();
        let result = match decode(r.config.as_ref(), &ty) {
            Err(e) => Err(codec_diag("data source configuration", &e)),
            Ok(cfg) => {
                let v = ds.validate(&cfg);
                if v.has_errors() {
                    Err(v)
                } else {
                    let cfg = plan::with_defaults(&schema.block, &cfg);
                    match self.client() {
                        Ok(client) => ds.read(&client, &cfg).await,
                        Err(d) => Err(d),
                    }
                }
            }
        };
        match result.and_then(|v| encode(&v, &ty).map_err(|e| codec_diag("data", &e))) {
            Ok(dv) => out.state = Some(dv),
            Err(d) => out.diagnostics = diagnostics(&d),
        }
        timed(
            "ReadDataSource",
            &r.type_name,
            start,
            Ok(Response::new(out)),
        )
    }

    async fn validate_ephemeral_resource_config(
        &self,
        r: Request<pb::validate_ephemeral_resource_config::Request>,
    ) -> Rpc<pb::validate_ephemeral_resource_config::Response> {
        let r = r.into_inner();
        let (eph, schema) = self.ephemeral_resource(&r.type_name)?;
        Ok(Response::new(
            pb::validate_ephemeral_resource_config::Response {
                diagnostics: validated(
                    r.config.as_ref(),
                    &schema.value_type(),
                    "ephemeral resource configuration",
                    |cfg| eph.validate(cfg),
                ),
            },
        ))
    }

    async fn open_ephemeral_resource(
        &self,
        r: Request<pb::open_ephemeral_resource::Request>,
    ) -> Rpc<pb::open_ephemeral_resource::Response> {
        let start = Instant::now();
        let r = r.into_inner();
        let (eph, schema) = self.ephemeral_resource(&r.type_name)?;
        let ty = schema.value_type();
        let mut out = pb::open_ephemeral_resource::Response::default();
        let cfg = ok_or_answer!(
            out,
            decode(r.config.as_ref(), &ty)
                .map_err(|e| codec_diag("ephemeral resource configuration", &e))
        );
        let v = eph.validate(&cfg);
        if v.has_errors() {
            out.diagnostics = diagnostics(&v);
            return Ok(Response::new(out));
        }
        let cfg = plan::with_defaults(&schema.block, &cfg);
        let client = ok_or_answer!(out, self.client());
        let opened = ok_or_answer!(out, eph.open(&client, &cfg).await);
        let dv = ok_or_answer!(
            out,
            encode(&opened.result, &ty).map_err(|e| codec_diag("ephemeral result", &e))
        );
        out.result = Some(dv);
        out.renew_at = opened.renew_at.map(prost_types::Timestamp::from);
        timed(
            "OpenEphemeralResource",
            &r.type_name,
            start,
            Ok(Response::new(out)),
        )
    }

    async fn renew_ephemeral_resource(
        &self,
        r: Request<pb::renew_ephemeral_resource::Request>,
    ) -> Rpc<pb::renew_ephemeral_resource::Response> {
        // Nothing is kept open and no renew_at is ever set, so there is nothing to renew.
        self.ephemeral_resource(&r.into_inner().type_name)?;
        Ok(Response::new(Default::default()))
    }

    async fn close_ephemeral_resource(
        &self,
        r: Request<pb::close_ephemeral_resource::Request>,
    ) -> Rpc<pb::close_ephemeral_resource::Response> {
        self.ephemeral_resource(&r.into_inner().type_name)?;
        Ok(Response::new(Default::default()))
    }

    type ListResourceStream = ListEvents;

    async fn list_resource(
        &self,
        r: Request<pb::list_resource::Request>,
    ) -> Rpc<Self::ListResourceStream> {
        let start = Instant::now();
        let r = r.into_inner();
        let (list, schema) = self
            .lists
            .get(r.type_name.as_str())
            .ok_or_else(|| Status::not_found(format!("unknown list resource {}", r.type_name)))?;
        let (res, res_schema) = self.resource(&r.type_name)?;
        let only = |d: Diagnostics| -> Vec<pb::list_resource::Event> {
            vec![pb::list_resource::Event {
                diagnostic: diagnostics(&d),
                ..Default::default()
            }]
        };
        let events = async {
            let cfg = match decode(r.config.as_ref(), &schema.value_type()) {
                Ok(v) => plan::with_defaults(&schema.block, &v),
                Err(e) => return only(codec_diag("list configuration", &e)),
            };
            let v = list.validate(&cfg);
            if v.has_errors() {
                return only(v);
            }
            let client = match self.client() {
                Ok(c) => c,
                Err(d) => return only(d),
            };
            // Terraform always sends a limit (default 100); none means no limit.
            let limit = usize::try_from(r.limit)
                .ok()
                .filter(|l| *l > 0)
                .unwrap_or(usize::MAX);
            let ids = match list.list(&client, &cfg, limit).await {
                Ok(ids) => ids,
                Err(d) => return only(d),
            };
            let ty = res_schema.value_type();
            let mut out = Vec::new();
            for id in ids.into_iter().take(limit) {
                let mut ev = pb::list_resource::Event {
                    display_name: id.clone(),
                    ..Default::default()
                };
                // Imported one by one, so one object that vanished meanwhile is a warning only.
                match res.import(&client, &id).await {
                    Ok(state) => {
                        ev.identity = Self::identity_of(res, &state);
                        if let Some(name) = state.get("name").as_str() {
                            if name != id {
                                ev.display_name = format!("{name} ({id})");
                            }
                        }
                        if r.include_resource_object {
                            match encode(&state, &ty) {
                                Ok(dv) => ev.resource_object = Some(dv),
                                Err(e) => ev.diagnostic = diagnostics(&codec_diag("object", &e)),
                            }
                        }
                    }
                    Err(d) => {
                        let mut w = Diagnostics::new();
                        for x in d.0 {
                            w.warning(format!("Skipped {id}: {}", x.summary), x.detail);
                        }
                        ev.diagnostic = diagnostics(&w);
                    }
                }
                if ev.identity.is_some() || !ev.diagnostic.is_empty() {
                    out.push(ev);
                }
            }
            out
        }
        .await;
        let stream: ListEvents = Box::pin(tonic::codegen::tokio_stream::iter(
            events.into_iter().map(Ok),
        ));
        timed(
            "ListResource",
            &r.type_name,
            start,
            Ok(Response::new(stream)),
        )
    }

    async fn validate_list_resource_config(
        &self,
        r: Request<pb::validate_list_resource_config::Request>,
    ) -> Rpc<pb::validate_list_resource_config::Response> {
        let r = r.into_inner();
        let (list, schema) = self
            .lists
            .get(r.type_name.as_str())
            .ok_or_else(|| Status::not_found(format!("unknown list resource {}", r.type_name)))?;
        Ok(Response::new(pb::validate_list_resource_config::Response {
            diagnostics: validated(
                r.config.as_ref(),
                &schema.value_type(),
                "list configuration",
                |cfg| list.validate(cfg),
            ),
        }))
    }

    async fn get_functions(
        &self,
        _r: Request<pb::get_functions::Request>,
    ) -> Rpc<pb::get_functions::Response> {
        Ok(Response::new(pb::get_functions::Response {
            functions: self.schema_response.functions.clone(),
            diagnostics: Vec::new(),
        }))
    }

    async fn call_function(
        &self,
        r: Request<pb::call_function::Request>,
    ) -> Rpc<pb::call_function::Response> {
        let start = Instant::now();
        let r = r.into_inner();
        let fail = |text: String, argument: Option<usize>| {
            Ok(Response::new(pb::call_function::Response {
                result: None,
                error: Some(pb::FunctionError {
                    text,
                    function_argument: argument.map(|i| i as i64),
                }),
            }))
        };
        let Some(f) = self.functions.get(r.name.as_str()) else {
            return fail(
                format!("platformkit defines no function {:?}", r.name),
                None,
            );
        };
        let params = f.parameters();
        if r.arguments.len() != params.len() {
            return fail(
                format!(
                    "{} takes {} arguments, got {}",
                    r.name,
                    params.len(),
                    r.arguments.len()
                ),
                None,
            );
        }
        let mut args = Vec::with_capacity(params.len());
        for (i, (dv, p)) in r.arguments.iter().zip(&params).enumerate() {
            match decode(Some(dv), &p.ty) {
                Ok(v) => args.push(v),
                Err(e) => return fail(format!("argument {}: {e}", p.name), Some(i)),
            }
        }
        let result = match f.call(&args) {
            Ok(v) => v,
            Err(e) => return fail(e.text, e.argument),
        };
        let out = match encode(&result, &f.return_type()) {
            Ok(dv) => pb::call_function::Response {
                result: Some(dv),
                error: None,
            },
            Err(e) => {
                return fail(
                    format!(
                        "could not encode the result of {}: {e}; this is a bug",
                        r.name
                    ),
                    None,
                )
            }
        };
        timed("CallFunction", &r.name, start, Ok(Response::new(out)))
    }

    async fn stop_provider(
        &self,
        _r: Request<pb::stop_provider::Request>,
    ) -> Rpc<pb::stop_provider::Response> {
        tracing::info!(target: "platform::rpc", "StopProvider: cancelling in-flight operations");
        self.cancel_token().cancel();
        Ok(Response::new(pb::stop_provider::Response {
            error: String::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApplyOutcome, Attribute, Block};
    use async_trait::async_trait;

    /// The smallest provider: one resource whose state is its configuration, and a client that
    /// is the provider block's `greeting`. Also the example in the crate's README.
    struct Toy;
    struct Note;

    #[async_trait]
    impl Resource<String> for Note {
        fn type_name(&self) -> &'static str {
            "toy_note"
        }
        fn schema(&self) -> Schema {
            Schema::new(0, Block::new().attr(Attribute::string("text").required()))
        }
        async fn create(&self, _c: &String, planned: &Value) -> ApplyOutcome {
            ApplyOutcome::ok(planned.clone())
        }
        async fn read(&self, _c: &String, state: &Value) -> Result<Option<Value>, Diagnostics> {
            Ok(Some(state.clone()))
        }
        async fn update(&self, _c: &String, _p: &Value, planned: &Value) -> ApplyOutcome {
            ApplyOutcome::ok(planned.clone())
        }
        async fn delete(&self, _c: &String, _p: &Value) -> ApplyOutcome {
            ApplyOutcome::ok(Value::Null)
        }
        async fn import(&self, _c: &String, id: &str) -> Result<Value, Diagnostics> {
            Ok(Value::object([("text", Value::from(id))]))
        }
    }

    #[async_trait]
    impl Provider for Toy {
        type Client = String;
        fn schema(&self) -> Schema {
            Schema::new(
                0,
                Block::new().attr(Attribute::string("greeting").optional()),
            )
        }
        async fn configure(
            &self,
            config: &Value,
            _cancel: CancellationToken,
        ) -> Result<String, Diagnostics> {
            Ok(config
                .get("greeting")
                .as_str()
                .unwrap_or("hello")
                .to_owned())
        }
        fn resources(&self) -> Vec<Arc<dyn Resource<String>>> {
            vec![Arc::new(Note)]
        }
    }

    #[tokio::test]
    async fn plan_before_configure_is_a_diagnostic_not_a_panic() {
        let svc = ProviderService::new(Toy);
        let ty = Note.schema().value_type();
        let cfg = Value::object([("text", Value::from("hi"))]);
        let dv = convert::encode(&cfg, &ty).expect("encode");
        let r = svc
            .plan_resource_change(Request::new(pb::plan_resource_change::Request {
                type_name: "toy_note".into(),
                prior_state: Some(convert::encode(&Value::Null, &ty).expect("encode")),
                proposed_new_state: Some(dv.clone()),
                config: Some(dv),
                ..Default::default()
            }))
            .await
            .expect("rpc")
            .into_inner();
        assert!(r
            .diagnostics
            .iter()
            .any(|d| d.summary == "Provider not configured"));
    }

    #[tokio::test]
    async fn unknown_resource_type_is_an_error_status() {
        let svc = ProviderService::new(Toy);
        let r = svc
            .validate_resource_config(Request::new(pb::validate_resource_config::Request {
                type_name: "toy_nope".into(),
                ..Default::default()
            }))
            .await;
        assert!(r.is_err());
    }

    /// `toy_upper(s)`: `s` in upper case; an empty `s` is an error at argument 0.
    struct Upper;

    impl Function for Upper {
        fn name(&self) -> &'static str {
            "upper"
        }
        fn summary(&self) -> &'static str {
            "Upper case."
        }
        fn description(&self) -> &'static str {
            "Upper case."
        }
        fn parameters(&self) -> Vec<crate::Parameter> {
            vec![crate::Parameter {
                name: "s",
                ty: Type::String,
                description: "text",
            }]
        }
        fn return_type(&self) -> Type {
            Type::String
        }
        fn call(&self, args: &[Value]) -> Result<Value, crate::FunctionError> {
            match args[0].as_str() {
                Some("") | None => Err(crate::FunctionError::at(0, "empty")),
                Some(s) => Ok(Value::from(s.to_uppercase())),
            }
        }
    }

    struct ToyWithFunction;

    #[async_trait]
    impl Provider for ToyWithFunction {
        type Client = String;
        fn schema(&self) -> Schema {
            Toy.schema()
        }
        async fn configure(
            &self,
            _config: &Value,
            _cancel: CancellationToken,
        ) -> Result<String, Diagnostics> {
            Ok(String::new())
        }
        fn resources(&self) -> Vec<Arc<dyn Resource<String>>> {
            vec![Arc::new(Note)]
        }
        fn functions(&self) -> Vec<Arc<dyn Function>> {
            vec![Arc::new(Upper)]
        }
    }

    #[tokio::test]
    async fn functions_are_listed_and_called_without_configure() {
        let svc = ProviderService::new(ToyWithFunction);
        let schema = svc
            .get_provider_schema(Request::new(Default::default()))
            .await
            .expect("rpc")
            .into_inner();
        assert!(schema.functions.contains_key("upper"));
        let call = |s: &str| {
            let arg = convert::encode(&Value::from(s), &Type::String).expect("encode");
            svc.call_function(Request::new(pb::call_function::Request {
                name: "upper".into(),
                arguments: vec![arg],
            }))
        };
        let ok = call("abc").await.expect("rpc").into_inner();
        let v = convert::decode(ok.result.as_ref(), &Type::String).expect("decode");
        assert_eq!(v.as_str(), Some("ABC"));
        let err = call("").await.expect("rpc").into_inner();
        assert_eq!(err.error.expect("error").function_argument, Some(0));
    }

    #[test]
    fn identity_round_trips_through_the_import_id() {
        let id = crate::Identity::single("namespace", "namespace", "ns").and("name", "name", "n");
        let state = Value::object([
            ("namespace", Value::from("apps")),
            ("name", Value::from("web")),
        ]);
        let identity = id.of_state(&state).expect("identity");
        assert_eq!(id.import_id(&identity).expect("id"), "apps/web");
        assert!(id
            .of_state(&Value::object([("name", Value::Unknown)]))
            .is_none());
        let missing = id
            .import_id(&Value::object([("name", Value::from("web"))]))
            .unwrap_err();
        assert_eq!(
            missing.0[0].path.as_ref().map(|p| p.to_string()).as_deref(),
            Some("namespace")
        );
    }

    #[tokio::test]
    async fn stop_provider_cancels_the_shared_token() {
        let svc = ProviderService::new(Toy);
        let token = svc.cancel_token();
        svc.stop_provider(Request::new(Default::default()))
            .await
            .expect("rpc");
        assert!(token.is_cancelled());
    }
}
