//! `platform_microservice`: what one backend service needs from AWS to run on an
//! environment's EKS cluster — an ECR repository (immutable tags, scan on push, encryption,
//! lifecycle and pull policies) and an IRSA role only its service account can assume — plus
//! the Helm values that deploy it with `terraform-modules/charts/microservice`.
//!
//! The repository and the role are independent and converge concurrently. Everything else is
//! derived: names, ARNs and URL (from the environment's account and the region), the three
//! policy documents and the Helm values are all in the plan, so a CI apply that only changes
//! `image_tag` shows exactly `image` and `helm_values` changing in place.

mod ecr;
pub(crate) mod policy;
mod validate;
pub mod values;

use async_trait::async_trait;
use platform_aws::lost::settle;
use platform_aws::{irsa, tags, AwsContext};
use std::collections::{BTreeMap, BTreeSet};
use tfplugin_framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, NestedBlock, PlanRequest, Resource,
    Schema, Type, Value,
};

pub const TYPE_NAME: &str = "platform_microservice";
/// The repository tag recording the cluster the service runs on, so import can rebuild
/// `environment.cluster_name` (the only environment field AWS does not otherwise record).
const CLUSTER_TAG: &str = "platform:cluster";
const DEFAULT_KEEP_TAGGED: i64 = 30;
const DEFAULT_REPLICAS: i64 = 2;
const DEFAULT_EXPIRE_UNTAGGED_DAYS: i64 = 7;

/// The `environment` fields the service needs. `platform_environment` exposes computed
/// attributes with these names, so `environment = platform_environment.prod` works (Terraform
/// drops the environment's other attributes when converting to this object type).
const ENV_FIELDS: &[&str] = &[
    "cluster_name",
    "oidc_issuer_url",
    "oidc_provider_arn",
    "node_role_arn",
];

fn environment_type() -> Type {
    Type::object(ENV_FIELDS.iter().map(|f| (*f, Type::String)))
}

/// Guarantees read reports as they are and plan plans as `true`: turning one off out of band
/// is drift that the next apply repairs.
const GUARANTEES: &[(&str, &str)] = &[
    (
        "image_tags_immutable",
        "The repository's tags are IMMUTABLE (always): a tag, once pushed, always names the same image.",
    ),
    (
        "scan_on_push",
        "Images are scanned for vulnerabilities on push (always).",
    ),
];

pub struct Microservice;

/// The environment fields the AWS objects depend on, when all are known (the cluster name
/// only labels the Helm values and tags the repository).
struct Env {
    oidc_issuer_url: String,
    oidc_provider_arn: String,
    node_role_arn: String,
}

impl Env {
    fn from(v: &Value) -> Option<Env> {
        let s = |f: &str| v.get(f).as_str().map(str::to_string);
        Some(Env {
            oidc_issuer_url: s("oidc_issuer_url")?,
            oidc_provider_arn: s("oidc_provider_arn")?,
            node_role_arn: s("node_role_arn")?,
        })
    }
}

/// The Gateway a route attaches to: `platform_cluster_services.<name>.gateway` converts to it
/// (Terraform drops the other attributes).
fn gateway_parent_type() -> Type {
    Type::object([("name", Type::String), ("namespace", Type::String)])
}

fn gateway_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "gateway",
        Block::new()
            .description("Route the service through the in-cluster API gateway of `platform_cluster_services` instead of an Ingress: an HTTPRoute whose parent is the platform Gateway, matching `path_prefix` (PathPrefix), with optional per-service overrides of the gateway-wide rate limit and JWT authentication (Envoy Gateway policies targeting this route, which take precedence over the Gateway's for this service only). Requires `path_prefix`.")
            .attr(Attribute::new("parent", gateway_parent_type()).required().description("The Gateway the route attaches to: `platform_cluster_services.<name>.gateway`, or an object with its `name` and `namespace`."))
            .block(NestedBlock::at_most_one(
                "rate_limit",
                Block::new()
                    .description("This service's rate limit, replacing the gateway-wide `api_gateway.rate_limit` for its route.")
                    .attr(Attribute::number("requests_per_minute").required().description("Requests per minute allowed on this service's route, greater than 0.")),
            ))
            .block(NestedBlock::at_most_one(
                "jwt",
                Block::new()
                    .description("This service's JWT authentication, replacing the gateway-wide `api_gateway.jwt` for its route (e.g. another issuer or audience).")
                    .attr(Attribute::string("issuer").required().description("The `iss` the tokens must carry."))
                    .attr(Attribute::string("jwks_uri").required().description("HTTPS URL of the issuer's JSON Web Key Set."))
                    .attr(Attribute::string_list("audiences").optional().description("Accepted `aud` values; any audience when unset.")),
            )),
    )
}

/// The `gateway` block as the chart's route, `Some(None)` when absent, `None` while unknown.
fn gateway_route(v: &Value) -> Option<Option<values::GatewayRoute>> {
    let Some(g) = v.get("gateway").elements().first() else {
        return if v.get("gateway").is_unknown() {
            None
        } else {
            Some(None)
        };
    };
    if !g.is_wholly_known() {
        return None;
    }
    let parent = g.get("parent");
    let jwt = match g.get("jwt").elements().first() {
        None => None,
        Some(j) => Some(values::RouteJwt {
            issuer: j.get("issuer").as_str()?.to_string(),
            jwks_uri: j.get("jwks_uri").as_str()?.to_string(),
            audiences: j
                .get("audiences")
                .elements()
                .iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
        }),
    };
    let requests_per_minute = match g.get("rate_limit").elements().first() {
        None => None,
        Some(r) => Some(r.get("requests_per_minute").as_i64()?),
    };
    Some(Some(values::GatewayRoute {
        parent_name: parent.get("name").as_str()?.to_string(),
        parent_namespace: parent.get("namespace").as_str()?.to_string(),
        requests_per_minute,
        jwt,
    }))
}

fn set_of(v: &Value) -> Option<Vec<String>> {
    if !v.is_wholly_known() {
        return None;
    }
    let mut out: Vec<String> = v
        .elements()
        .iter()
        .filter_map(|e| e.as_str().map(str::to_string))
        .collect();
    out.sort();
    Some(out)
}

fn known_or_unknown(v: Option<String>) -> Value {
    v.map_or(Value::Unknown, Value::from)
}

fn role_name(name: &str) -> String {
    format!("{name}-irsa")
}

impl Microservice {
    fn all_tags(aws: &AwsContext, v: &Value) -> Option<BTreeMap<String, String>> {
        let name = v.get("name").as_str()?;
        if !v.get("tags").is_wholly_known() {
            return None;
        }
        let mut all = tags::merged(
            &aws.default_tags,
            &v.get("tags").to_string_map(),
            TYPE_NAME,
            name,
        );
        if let Some(c) = v.get("environment").get("cluster_name").as_str() {
            all.insert(CLUSTER_TAG.to_string(), c.to_string());
        }
        Some(all)
    }

    fn trust_policy(v: &Value) -> Option<serde_json::Value> {
        let env = Env::from(v.get("environment"))?;
        let name = v.get("name").as_str()?;
        let ns = v.get("namespace").as_str()?;
        Some(policy::trust_policy(
            &env.oidc_provider_arn,
            validate::issuer_host_path(&env.oidc_issuer_url),
            &policy::service_account_subject(ns, name),
        ))
    }

    fn repository_policy(aws: &AwsContext, v: &Value) -> Option<serde_json::Value> {
        let env = Env::from(v.get("environment"))?;
        let accounts = set_of(v.get("pull_account_ids"))?;
        Some(policy::repository_policy(
            platform_aws::partition(&aws.region),
            &env.node_role_arn,
            &accounts,
        ))
    }

    fn lifecycle_policy(v: &Value) -> Option<serde_json::Value> {
        Some(policy::lifecycle_policy(
            v.get("lifecycle_keep_tagged").as_i64()?,
            v.get("lifecycle_expire_untagged_days").as_i64()?,
        ))
    }

    /// The Helm values, when every input is known.
    fn spec(v: &Value) -> Option<values::ServiceSpec> {
        let replicas = v.get("replicas").as_i64()?;
        let max = match v.get("max_replicas") {
            Value::Null => replicas,
            m => m.as_i64()?,
        };
        let map = |a: &str| {
            let x = v.get(a);
            x.is_wholly_known().then(|| x.to_string_map())
        };
        let path = match v.get("path_prefix") {
            Value::Null => None,
            p => Some(p.as_str()?.to_string()),
        };
        Some(values::ServiceSpec {
            name: v.get("name").as_str()?.to_string(),
            namespace: v.get("namespace").as_str()?.to_string(),
            repository_url: v.get("repository_url").as_str()?.to_string(),
            image_tag: v.get("image_tag").as_str()?.to_string(),
            replicas,
            max_replicas: max,
            container_port: v.get("container_port").as_i64()?,
            health_check_path: v.get("health_check_path").as_str()?.to_string(),
            path_prefix: path,
            resources: map("resources")?,
            env: map("env")?,
            role_arn: v.get("role_arn").as_str()?.to_string(),
            cluster_name: v
                .get("environment")
                .get("cluster_name")
                .as_str()?
                .to_string(),
            gateway: gateway_route(v)?,
        })
    }

    /// Values computed from the others; used by plan and again after apply so both agree.
    fn derive_outputs(v: &mut Value) {
        let image = match (
            v.get("repository_url").as_str(),
            v.get("image_tag").as_str(),
        ) {
            (Some(u), Some(t)) => Value::from(format!("{u}:{t}")),
            _ => Value::Unknown,
        };
        v.set_attr("image", image);
        let hv = Self::spec(v).map(|s| values::render(&s));
        v.set_attr("helm_values", known_or_unknown(hv));
    }

    fn desired(
        aws: &AwsContext,
        v: &Value,
    ) -> Result<(ecr::DesiredRepository, irsa::DesiredRole), Diagnostics> {
        let missing = || {
            Diagnostics::from_error(
                "Incomplete configuration at apply time",
                "An input of platform_microservice was still unknown during apply; this is a bug in the provider.",
            )
        };
        let name = v.get("name").as_str().ok_or_else(missing)?.to_string();
        let all_tags = Self::all_tags(aws, v).ok_or_else(missing)?;
        let owner = tags::owner(TYPE_NAME, &name);
        let policy_arns: BTreeSet<String> = set_of(v.get("iam_policy_arns"))
            .ok_or_else(missing)?
            .into_iter()
            .collect();
        Ok((
            ecr::DesiredRepository {
                name: name.clone(),
                kms_key_arn: v.get("kms_key_arn").as_str().map(str::to_string),
                lifecycle_policy: Self::lifecycle_policy(v).ok_or_else(missing)?,
                repository_policy: Self::repository_policy(aws, v).ok_or_else(missing)?,
                tags: all_tags.clone(),
                owner: owner.clone(),
            },
            irsa::DesiredRole {
                name: role_name(&name),
                trust_policy: Self::trust_policy(v).ok_or_else(missing)?,
                policy_arns,
                inline_policy: v.get("iam_policy_json").as_str().map(str::to_string),
                tags: all_tags,
                description: format!("IRSA role of the {owner} service (platformkit)"),
                owner,
            },
        ))
    }

    async fn converge(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let (repo, role) = match Self::desired(aws, planned) {
            Ok(x) => x,
            Err(d) => return ApplyOutcome::failed(prior.clone(), d),
        };
        // With nothing in state (a create) both go straight to their create call and trust
        // its answer; a name already taken is read and adopted or refused. A lost answer
        // runs the part again (`settle`), which then finds the object by its name and owner tag.
        let fresh = prior.is_null();
        let (r, i) = tokio::join!(
            settle("image repository", || ecr::converge(
                aws.ecr(),
                &repo,
                fresh
            )),
            settle("IRSA role", || async {
                if fresh {
                    irsa::create_or_converge(aws.iam(), &role).await
                } else {
                    irsa::converge(aws.iam(), &role).await
                }
            })
        );
        let mut state = planned.clone();
        let mut diags = Diagnostics::new();
        let resume = platform_aws::resume::after_failure(
            TYPE_NAME,
            planned.get("name").as_str().unwrap_or_default(),
            prior.is_null(),
        );
        match &r {
            Ok(o) => {
                state.set_attr("repository_arn", Value::from(o.arn.clone()));
                state.set_attr("repository_url", Value::from(o.url.clone()));
                state.set_attr("registry_id", Value::from(o.registry_id.clone()));
            }
            Err(e) => {
                diags.error(
                    "Could not set up the image repository",
                    format!("{e}. {resume}"),
                );
                for (g, _) in GUARANTEES {
                    state.set_attr(g, Value::Bool(false));
                }
                state.set_attr("lifecycle_policy", Value::Null);
                state.set_attr("repository_policy", Value::Null);
                for a in ["repository_arn", "repository_url", "registry_id"] {
                    if state.get(a).is_unknown() {
                        state.set_attr(a, prior.get(a).clone());
                    }
                }
            }
        }
        match &i {
            Ok(arn) => state.set_attr("role_arn", Value::from(arn.clone())),
            Err(e) => {
                diags.error("Could not set up the IRSA role", format!("{e}. {resume}"));
                state.set_attr("trust_policy", Value::Null);
                if state.get("role_arn").is_unknown() {
                    state.set_attr("role_arn", prior.get("role_arn").clone());
                }
            }
        }
        Self::derive_outputs(&mut state);
        if r.is_err() && i.is_err() && prior.is_null() {
            let gone = matches!(ecr::observe(aws.ecr(), &repo.name).await, Ok(None))
                && matches!(irsa::observe(aws.iam(), &role.name).await, Ok(None));
            if gone {
                return ApplyOutcome::failed(Value::Null, diags);
            }
        }
        ApplyOutcome {
            state: state.unknown_as_null(),
            diags,
        }
    }
}

impl Microservice {
    /// The `gateway` block: a route needs `path_prefix`; overrides are checked like
    /// `platform_cluster_services`' `api_gateway` (rate > 0, JWKS over https).
    fn validate_gateway(c: &Value, d: &mut Diagnostics) {
        use crate::resources::cluster_services::validate::check_jwt_and_rate_limit;
        let Some(g) = c.get("gateway").elements().first() else {
            return;
        };
        let p = || AttributePath::root("gateway").index(0);
        if c.get("path_prefix").is_null() {
            d.error_at(
                AttributePath::root("path_prefix"),
                "A route on the gateway needs path_prefix",
                "Set path_prefix (e.g. \"/mobile\"): the service's HTTPRoute matches requests under it.",
            );
        }
        for f in ["name", "namespace"] {
            if g.get("parent").get(f).as_str() == Some("") {
                d.error_at(
                    p().attr("parent").attr(f),
                    "Invalid gateway",
                    format!(
                        "The gateway's {f} is empty: use platform_cluster_services.<name>.gateway."
                    ),
                );
            }
        }
        check_jwt_and_rate_limit(d, g, p);
    }
}

fn check_number(
    d: &mut Diagnostics,
    config: &Value,
    attr: &str,
    summary: &str,
    f: impl Fn(i64) -> Result<(), String>,
) {
    if let Value::Number(n) = config.get(attr) {
        let r = match n.as_i64() {
            Some(x) => f(x),
            None => Err(format!("must be a whole number, got {n}")),
        };
        if let Err(why) = r {
            d.error_at(AttributePath::root(attr), summary, format!("{attr} {why}."));
        }
    }
}

#[async_trait]
impl Resource<AwsContext> for Microservice {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    /// The resource identity (Terraform 1.12+): `import` blocks may name the object by it.
    fn identity(&self) -> Option<tfplugin_framework::Identity> {
        Some(tfplugin_framework::Identity::single(
            "name",
            "name",
            "The service name (the import id).",
        ))
    }

    fn schema(&self) -> Schema {
        let mut b = Block::new()
            .description("One backend service on an environment's EKS cluster: its ECR repository (immutable tags, scan on push, encryption, lifecycle and pull policies), its IRSA role, and the Helm values that deploy it with the platformkit microservice chart.")
            .attr(Attribute::string("id").computed().description("The service name."))
            .attr(Attribute::string("name").required().force_new().description("Service name: the ECR repository, the IAM role `<name>-irsa`, and the Kubernetes Deployment, Service, ServiceAccount and Helm release. A lowercase RFC 1035 label of at most 53 characters. Changing it replaces the service."))
            .attr(Attribute::new("environment", environment_type()).required().description("Where the service runs: `platform_environment.<name>` or an object with `cluster_name`, `oidc_issuer_url`, `oidc_provider_arn` and `node_role_arn`."))
            .attr(Attribute::string("image_tag").required().description("The image to deploy: a git commit SHA (7-40 hex digits) or a semantic version. `latest` is refused (tags are immutable). Changing it changes only `image` and `helm_values`, in place."))
            .attr(Attribute::string("namespace").default("default").description("Kubernetes namespace of the service; the IRSA trust is scoped to `system:serviceaccount:<namespace>:<name>`. Default `default`."))
            .attr(Attribute::number("replicas").default(DEFAULT_REPLICAS).description("Replicas (the autoscaler's minimum), 1-100. Default 2."))
            .attr(Attribute::number("max_replicas").optional().description("Autoscaler maximum, from `replicas` to 100. Default: `replicas` (no autoscaling)."))
            .attr(Attribute::number("container_port").default(8080).description("Port the container listens on, 1024-65535 (the container runs as non-root). Default 8080."))
            .attr(Attribute::string("health_check_path").default("/healthz").description("HTTP path of the readiness and liveness probes. Default `/healthz`."))
            .attr(Attribute::string("path_prefix").optional().description("Route on the in-cluster API gateway, e.g. `/mobile`: an HTTPRoute on the platform Gateway when `gateway` is set, otherwise an Ingress of class `api-gateway`. Default: no route."))
            .attr(Attribute::string_map("resources").optional().description("Container resources: any of `cpu_request`, `cpu_limit`, `memory_request`, `memory_limit` (Kubernetes quantities). Defaults 100m / 500m / 128Mi / 128Mi."))
            .attr(Attribute::string_map("env").optional().description("Environment variables of the container."))
            .attr(Attribute::string_set("iam_policy_arns").optional().description("Managed policies attached to the service's IRSA role."))
            .attr(Attribute::string("iam_policy_json").optional().description("An inline policy for the service's IRSA role (JSON, at most 10,240 characters)."))
            .attr(Attribute::string_set("pull_account_ids").optional().description("Further AWS accounts allowed to pull from the repository (e.g. prod pulling images built once)."))
            .attr(Attribute::number("lifecycle_keep_tagged").default(DEFAULT_KEEP_TAGGED).description("How many of the most recent images the lifecycle policy keeps, 1-1000. Default 30. (`lifecycle` is a reserved block name in Terraform, hence the prefix.)"))
            .attr(Attribute::number("lifecycle_expire_untagged_days").default(DEFAULT_EXPIRE_UNTAGGED_DAYS).description("Days after which untagged images expire, 1-3650. Default 7."))
            .attr(Attribute::string("kms_key_arn").optional().force_new().description("KMS key for the repository's encryption. Default AES256. ECR cannot change encryption after creation, so changing it replaces the repository."))
            .attr(Attribute::bool("force_delete").default(false).description("Allow destroy to delete the repository with its images. Default `false`: destroy refuses a repository that still holds images."))
            .attr(Attribute::string_map("tags").optional().description("Tags for the repository and the role, merged over the provider's `default_tags`."))
            .attr(Attribute::string_map("tags_all").computed().description("All tags applied, including `default_tags` and the platform tags."))
            .attr(Attribute::string("repository_arn").computed().description("ARN of the ECR repository."))
            .attr(Attribute::string("repository_url").computed().description("URL of the ECR repository (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`)."))
            .attr(Attribute::string("registry_id").computed().description("Account id of the registry."))
            .attr(Attribute::string("image").computed().description("`repository_url:image_tag`."))
            .attr(Attribute::string("role_name").computed().description("Name of the IRSA role (`<name>-irsa`)."))
            .attr(Attribute::string("role_arn").computed().description("ARN of the IRSA role (the service account's `eks.amazonaws.com/role-arn` annotation)."))
            .attr(Attribute::string("trust_policy").computed().description("The IRSA role's trust policy (JSON)."))
            .attr(Attribute::string("repository_policy").computed().description("The repository policy (JSON): pull for the node role and `pull_account_ids`."))
            .attr(Attribute::string("lifecycle_policy").computed().description("The repository lifecycle policy (JSON)."))
            .attr(Attribute::string("helm_values").computed().description("JSON values for the platformkit microservice chart: image, replicas, port, resources, env, IRSA annotation, autoscaling, disruption budget, and the route (an Ingress, or an HTTPRoute on the platform gateway with its policy overrides when `gateway` is set)."))
            .block(gateway_block());
        for (name, desc) in GUARANTEES {
            b = b.attr(Attribute::bool(name).computed().description(desc));
        }
        Schema::new(0, b)
    }

    fn validate(&self, c: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        let root = AttributePath::root;
        if let Some(s) = c.get("name").as_str() {
            d.check(
                root("name"),
                "Invalid service name",
                s,
                validate::service_name(s),
            );
        }
        if let Some(s) = c.get("image_tag").as_str() {
            d.check(
                root("image_tag"),
                "Invalid image tag",
                s,
                validate::image_tag(s),
            );
        }
        if let Some(s) = c.get("namespace").as_str() {
            d.check(
                root("namespace"),
                "Invalid namespace",
                s,
                validate::namespace(s),
            );
        }
        if let Some(s) = c.get("path_prefix").as_str() {
            d.check(
                root("path_prefix"),
                "Invalid path prefix",
                s,
                validate::path_prefix(s),
            );
        }
        if let Some(s) = c.get("health_check_path").as_str() {
            d.check(
                root("health_check_path"),
                "Invalid health check path",
                s,
                validate::path_prefix(s),
            );
        }
        if let Some(s) = c.get("kms_key_arn").as_str() {
            d.check(
                root("kms_key_arn"),
                "Invalid KMS key ARN",
                s,
                validate::kms_key_arn(s),
            );
        }
        if let Some(s) = c.get("iam_policy_json").as_str() {
            d.check(
                root("iam_policy_json"),
                "Invalid IAM policy",
                "iam_policy_json",
                validate::policy_json(s),
            );
        }
        check_number(
            &mut d,
            c,
            "container_port",
            "Invalid container port",
            validate::container_port,
        );
        check_number(
            &mut d,
            c,
            "replicas",
            "Invalid replica count",
            validate::replicas,
        );
        check_number(
            &mut d,
            c,
            "max_replicas",
            "Invalid replica count",
            validate::replicas,
        );
        // An unset `replicas` is the default, 2; an unknown one is checked at plan time.
        let min = match c.get("replicas") {
            Value::Null => Some(DEFAULT_REPLICAS),
            v => v.as_i64(),
        };
        if let (Some(min), Some(max)) = (min, c.get("max_replicas").as_i64()) {
            if max < min && validate::replicas(max).is_ok() {
                d.error_at(
                    root("max_replicas"),
                    "Invalid replica count",
                    format!("max_replicas ({max}) must not be below replicas ({min})."),
                );
            }
        }
        check_number(
            &mut d,
            c,
            "lifecycle_keep_tagged",
            "Invalid lifecycle setting",
            |n| {
                if (1..=1000).contains(&n) {
                    Ok(())
                } else {
                    Err(format!("must be from 1 to 1000, got {n}"))
                }
            },
        );
        check_number(
            &mut d,
            c,
            "lifecycle_expire_untagged_days",
            "Invalid lifecycle setting",
            |n| {
                if (1..=3650).contains(&n) {
                    Ok(())
                } else {
                    Err(format!("must be from 1 to 3650 days, got {n}"))
                }
            },
        );
        if let Some(m) = c.get("resources").entries() {
            for (k, v) in m {
                let p = root("resources").key(k);
                if !validate::RESOURCE_KEYS.contains(&k.as_str()) {
                    d.error_at(
                        p,
                        "Invalid resources key",
                        format!(
                            "{k:?} is not one of {}.",
                            validate::RESOURCE_KEYS.join(", ")
                        ),
                    );
                } else if let Some(s) = v.as_str() {
                    d.check(p, "Invalid resource quantity", s, validate::quantity(k, s));
                }
            }
        }
        if let Some(m) = c.get("env").entries() {
            for k in m.keys() {
                d.check(
                    root("env").key(k),
                    "Invalid environment variable name",
                    k,
                    validate::env_name(k),
                );
            }
        }
        for (i, e) in c.get("pull_account_ids").elements().iter().enumerate() {
            if let Some(s) = e.as_str() {
                d.check(
                    root("pull_account_ids").index(i as i64),
                    "Invalid account id",
                    s,
                    validate::account_id(s),
                );
            }
        }
        for (i, e) in c.get("iam_policy_arns").elements().iter().enumerate() {
            if let Some(s) = e.as_str() {
                d.check(
                    root("iam_policy_arns").index(i as i64),
                    "Invalid policy ARN",
                    s,
                    validate::policy_arn(s),
                );
            }
        }
        tags::reserved_keys(root("tags"), c.get("tags"), &mut d);
        Self::validate_gateway(c, &mut d);
        let env = c.get("environment");
        let ep = |f: &str| root("environment").attr(f);
        if let Some(s) = env.get("cluster_name").as_str() {
            d.check(
                ep("cluster_name"),
                "Invalid environment",
                s,
                validate::cluster_name(s),
            );
        }
        if let Some(s) = env.get("oidc_issuer_url").as_str() {
            d.check(
                ep("oidc_issuer_url"),
                "Invalid environment",
                s,
                validate::oidc_issuer_url(s),
            );
        }
        if let Some(s) = env.get("oidc_provider_arn").as_str() {
            let issuer = env
                .get("oidc_issuer_url")
                .as_str()
                .filter(|u| validate::oidc_issuer_url(u).is_ok());
            d.check(
                ep("oidc_provider_arn"),
                "Invalid environment",
                s,
                validate::oidc_provider_arn(s, issuer),
            );
        }
        if let Some(s) = env.get("node_role_arn").as_str() {
            d.check(
                ep("node_role_arn"),
                "Invalid environment",
                s,
                validate::role_arn(s),
            );
        }
        d
    }

    async fn modify_plan(
        &self,
        aws: &AwsContext,
        req: &PlanRequest,
        planned: &mut Value,
        d: &mut Diagnostics,
    ) {
        let name = planned.get("name").as_str().map(str::to_string);
        if let Some(n) = &name {
            if !crate::resources::registry::claim(TYPE_NAME, n, req) {
                d.error_at(
                    AttributePath::root("name"),
                    "Duplicate microservice name",
                    format!("Another platform_microservice in this configuration is also named {n:?}. Its ECR repository {n:?}, IAM role {:?} and owner tag are named after the service (in this account, whatever the environment), so each service needs its own name.", role_name(n)),
                );
            }
        }
        planned.set_attr("id", known_or_unknown(name.clone()));
        planned.set_attr(
            "role_name",
            known_or_unknown(name.as_deref().map(role_name)),
        );
        let partition = platform_aws::partition(&aws.region);
        let same_name = !req.prior.is_null() && req.prior.get("name") == planned.get("name");
        let account = aws.account_id.clone().or_else(|| {
            planned
                .get("environment")
                .get("oidc_provider_arn")
                .as_str()
                .and_then(validate::arn_account)
                .map(str::to_string)
        });
        // Known ARNs and URL stay as they are; on create they are derived from the account.
        let keep_or = |attr: &str, derive: Option<String>| {
            if same_name && !req.prior.get(attr).is_null() {
                req.prior.get(attr).clone()
            } else {
                known_or_unknown(derive)
            }
        };
        let (n, a) = (
            name.clone().unwrap_or_default(),
            account.clone().unwrap_or_default(),
        );
        let ok = name.is_some() && account.is_some();
        let repo_arn = keep_or(
            "repository_arn",
            ok.then(|| format!("arn:{partition}:ecr:{}:{a}:repository/{n}", aws.region)),
        );
        let repo_url = keep_or(
            "repository_url",
            ok.then(|| format!("{}/{n}", policy::registry_host(&a, &aws.region))),
        );
        let registry = keep_or("registry_id", account.clone());
        let role_arn = keep_or(
            "role_arn",
            ok.then(|| format!("arn:{partition}:iam::{a}:role/{}", role_name(&n))),
        );
        planned.set_attr("repository_arn", repo_arn);
        planned.set_attr("repository_url", repo_url);
        planned.set_attr("registry_id", registry);
        planned.set_attr("role_arn", role_arn);
        let doc = |d: Option<serde_json::Value>| known_or_unknown(d.map(|j| j.to_string()));
        let trust = doc(Self::trust_policy(planned));
        let repo_policy = doc(Self::repository_policy(aws, planned));
        let lifecycle = doc(Self::lifecycle_policy(planned));
        planned.set_attr("trust_policy", trust);
        planned.set_attr("repository_policy", repo_policy);
        planned.set_attr("lifecycle_policy", lifecycle);
        let all = Self::all_tags(aws, planned)
            .map(Value::string_map)
            .unwrap_or(Value::Unknown);
        planned.set_attr("tags_all", all);
        for (g, _) in GUARANTEES {
            planned.set_attr(g, Value::Bool(true));
        }
        Self::derive_outputs(planned);
        // A create over this service's repository (a failed create that Terraform tainted, or a
        // crash): say what the apply will do with it. One owned by something else is refused at
        // apply, as before, and gets no warning here.
        if req.is_create() && !d.has_errors() {
            if let Some(n) = &name {
                let owner = tags::owner(TYPE_NAME, n);
                let ours = platform_aws::resume::repository_owned_by(aws.ecr(), n, &owner).await;
                if ours {
                    d.warning(
                        "This microservice already exists in AWS",
                        platform_aws::resume::existing_objects(
                            TYPE_NAME,
                            n,
                            &format!("ECR repository {n:?}"),
                        ),
                    );
                }
            }
        }
    }

    async fn create(&self, aws: &AwsContext, planned: &Value) -> ApplyOutcome {
        self.converge(aws, &Value::Null, planned).await
    }

    async fn update(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        self.converge(aws, prior, planned).await
    }

    async fn read(&self, aws: &AwsContext, state: &Value) -> Result<Option<Value>, Diagnostics> {
        let name = state.get("name").as_str().unwrap_or_default().to_string();
        let role = role_name(&name);
        let (r, i) = tokio::join!(
            ecr::observe(aws.ecr(), &name),
            irsa::observe(aws.iam(), &role)
        );
        let r = r.map_err(|e| {
            Diagnostics::from_error("Could not read the image repository", e.to_string())
        })?;
        let i =
            i.map_err(|e| Diagnostics::from_error("Could not read the IRSA role", e.to_string()))?;
        if r.is_none() && i.is_none() {
            tracing::info!(target: "platform::microservice", name, "repository and role are gone; removing from state");
            return Ok(None);
        }
        let mut s = state.clone();
        // A document that says the same as the one in state keeps its text; anything else is
        // drift and shows as AWS has it (or null when it is gone).
        let doc = |attr: &str, actual: Option<&str>| -> Value {
            match (actual, state.get(attr).as_str()) {
                (Some(a), Some(want)) => match serde_json::from_str(want) {
                    Ok(w) if policy::same_document(a, &w) => Value::from(want),
                    _ => Value::from(policy::url_decode(a)),
                },
                (Some(a), None) => Value::from(policy::url_decode(a)),
                (None, _) => Value::Null,
            }
        };
        match &r {
            Some(o) => {
                s.set_attr("image_tags_immutable", Value::Bool(o.immutable));
                s.set_attr("scan_on_push", Value::Bool(o.scan_on_push));
                s.set_attr("repository_arn", Value::from(o.arn.clone()));
                s.set_attr("repository_url", Value::from(o.url.clone()));
                s.set_attr("registry_id", Value::from(o.registry_id.clone()));
                s.set_attr("kms_key_arn", Value::opt_string(o.kms_key_arn.clone()));
                s.set_attr(
                    "lifecycle_policy",
                    doc("lifecycle_policy", o.lifecycle_policy.as_deref()),
                );
                s.set_attr(
                    "repository_policy",
                    doc("repository_policy", o.repository_policy.as_deref()),
                );
                let user = tags::user_tags(&o.tags, &aws.default_tags, state.get("tags"));
                s.set_attr(
                    "tags",
                    if user.is_empty() && state.get("tags").is_null() {
                        Value::Null
                    } else {
                        Value::string_map(user)
                    },
                );
                s.set_attr("tags_all", Value::string_map(o.tags.clone()));
            }
            None => {
                for (g, _) in GUARANTEES {
                    s.set_attr(g, Value::Bool(false));
                }
                s.set_attr("lifecycle_policy", Value::Null);
                s.set_attr("repository_policy", Value::Null);
            }
        }
        match &i {
            Some(o) => {
                s.set_attr("role_arn", Value::from(o.arn.clone()));
                s.set_attr("trust_policy", doc("trust_policy", Some(&o.trust_policy)));
                let arns: Vec<Value> = o.policy_arns.iter().cloned().map(Value::from).collect();
                s.set_attr(
                    "iam_policy_arns",
                    if arns.is_empty() && state.get("iam_policy_arns").is_null() {
                        Value::Null
                    } else {
                        Value::Set(arns)
                    },
                );
                s.set_attr(
                    "iam_policy_json",
                    match (&o.inline_policy, state.get("iam_policy_json").as_str()) {
                        (None, _) => Value::Null,
                        (Some(a), Some(want)) => match serde_json::from_str(want) {
                            Ok(w) if policy::same_document(a, &w) => Value::from(want),
                            _ => Value::from(a.clone()),
                        },
                        (Some(a), None) => Value::from(a.clone()),
                    },
                );
            }
            None => {
                s.set_attr("trust_policy", Value::Null);
            }
        }
        Self::derive_outputs(&mut s);
        Ok(Some(s.unknown_as_null()))
    }

    async fn delete(&self, aws: &AwsContext, prior: &Value) -> ApplyOutcome {
        let name = prior.get("name").as_str().unwrap_or_default();
        let force = prior.get("force_delete").as_bool().unwrap_or(false);
        // The repository first: if it refuses (it still holds images), the role stays too,
        // so the service is left whole rather than half deleted.
        let owner = tags::owner(TYPE_NAME, name);
        if let Err(e) = ecr::delete(aws.ecr(), name, &owner, force).await {
            return ApplyOutcome::failed(
                prior.clone(),
                Diagnostics::from_error("Cannot delete the image repository", e.to_string()),
            );
        }
        if let Err(e) = irsa::delete(aws.iam(), &role_name(name), &owner).await {
            let mut s = prior.clone();
            for (g, _) in GUARANTEES {
                s.set_attr(g, Value::Bool(false));
            }
            s.set_attr("lifecycle_policy", Value::Null);
            s.set_attr("repository_policy", Value::Null);
            return ApplyOutcome::failed(
                s,
                Diagnostics::from_error("Cannot delete the IRSA role", e.to_string()),
            );
        }
        ApplyOutcome::ok(Value::Null)
    }

    async fn import(&self, aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
        if let Err(why) = validate::service_name(id) {
            return Err(Diagnostics::from_error(
                "Invalid import id",
                format!("Import a microservice by its name; {id:?} {why}."),
            ));
        }
        let role = role_name(id);
        let (r, i) = tokio::join!(ecr::observe(aws.ecr(), id), irsa::observe(aws.iam(), &role));
        let r = r.map_err(|e| Diagnostics::from_error("Cannot import", e.to_string()))?;
        let i = i.map_err(|e| Diagnostics::from_error("Cannot import", e.to_string()))?;
        let (Some(repo), Some(role)) = (r, i) else {
            return Err(Diagnostics::from_error(
                "Cannot import: no such service",
                format!("Importing {id:?} needs the ECR repository {id:?} and the IAM role {:?} in this account and region.", role_name(id)),
            ));
        };
        // Rebuild the inputs AWS records: the environment from the trust and repository
        // policies (and the cluster tag), the lifecycle numbers from the lifecycle policy.
        let trust = policy::parse_document(&role.trust_policy).unwrap_or_default();
        let stmt = &trust["Statement"];
        let provider = stmt["Principal"]["Federated"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (issuer, namespace) = stmt["Condition"]["StringEquals"]
            .as_object()
            .and_then(|m| m.iter().find(|(k, _)| k.ends_with(":sub")))
            .map(|(k, v)| {
                let ns = v
                    .as_str()
                    .and_then(|s| s.strip_prefix("system:serviceaccount:"))
                    .and_then(|s| s.split(':').next())
                    .unwrap_or("default");
                (
                    format!("https://{}", k.trim_end_matches(":sub")),
                    ns.to_string(),
                )
            })
            .unwrap_or_default();
        let repo_doc = repo
            .repository_policy
            .as_deref()
            .and_then(policy::parse_document)
            .unwrap_or_default();
        let principals: Vec<String> = match &repo_doc["Statement"]["Principal"]["AWS"] {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            serde_json::Value::String(s) => vec![s.clone()],
            _ => Vec::new(),
        };
        let node_role = principals
            .iter()
            .find(|p| p.contains(":role/"))
            .cloned()
            .unwrap_or_default();
        let accounts: Vec<Value> = principals
            .iter()
            .filter(|p| p.ends_with(":root"))
            .filter_map(|p| validate::arn_account(p).map(Value::from))
            .collect();
        let lc = repo
            .lifecycle_policy
            .as_deref()
            .and_then(policy::parse_document)
            .unwrap_or_default();
        let count = |i: usize, d: i64| {
            lc["rules"]
                .get(i)
                .and_then(|r| r["selection"]["countNumber"].as_i64())
                .unwrap_or(d)
        };
        let env = Value::object([
            (
                "cluster_name",
                Value::opt_string(repo.tags.get(CLUSTER_TAG).cloned()),
            ),
            ("oidc_issuer_url", Value::from(issuer)),
            ("oidc_provider_arn", Value::from(provider)),
            ("node_role_arn", Value::from(node_role)),
        ]);
        let mut v = Value::object([
            ("id", Value::from(id)),
            ("name", Value::from(id)),
            ("environment", env),
            ("image_tag", Value::Null),
            ("namespace", Value::from(namespace)),
            ("replicas", Value::int(DEFAULT_REPLICAS)),
            ("container_port", Value::int(8080)),
            ("health_check_path", Value::from("/healthz")),
            (
                "pull_account_ids",
                if accounts.is_empty() {
                    Value::Null
                } else {
                    Value::Set(accounts)
                },
            ),
            (
                "lifecycle_keep_tagged",
                Value::int(count(1, DEFAULT_KEEP_TAGGED)),
            ),
            (
                "lifecycle_expire_untagged_days",
                Value::int(count(0, DEFAULT_EXPIRE_UNTAGGED_DAYS)),
            ),
            ("force_delete", Value::Bool(false)),
            ("role_name", Value::from(role_name(id))),
            ("gateway", Value::List(Vec::new())),
        ]);
        // Read fills the rest; the documents are compared against what the inputs imply.
        for (attr, d) in [
            ("trust_policy", Self::trust_policy(&v)),
            ("repository_policy", Self::repository_policy(aws, &v)),
            ("lifecycle_policy", Self::lifecycle_policy(&v)),
        ] {
            v.set_attr(attr, Value::opt_string(d.map(|j| j.to_string())));
        }
        let read = self.read(aws, &v).await?;
        read.ok_or_else(|| {
            Diagnostics::from_error(
                "Cannot import",
                format!("Service {id:?} disappeared during import."),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Value {
        Value::object([
            ("cluster_name", Value::from("prod")),
            ("oidc_issuer_url", Value::from("https://oidc.eks.eu-west-1.amazonaws.com/id/ABC")),
            ("oidc_provider_arn", Value::from("arn:aws:iam::111111111111:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC")),
            ("node_role_arn", Value::from("arn:aws:iam::111111111111:role/nodes")),
        ])
    }

    fn paths(d: &Diagnostics) -> Vec<String> {
        d.0.iter()
            .filter_map(|x| x.path.as_ref().map(|p| p.to_string()))
            .collect()
    }

    #[test]
    fn a_good_config_validates() {
        let cfg = Value::object([
            ("name", Value::from("mobile-service")),
            ("environment", env()),
            ("image_tag", Value::from("1.2.3")),
            ("replicas", Value::int(2)),
            ("max_replicas", Value::int(4)),
            ("container_port", Value::int(8080)),
            ("path_prefix", Value::from("/mobile")),
            ("resources", Value::string_map([("cpu_request", "250m")])),
            ("env", Value::string_map([("LOG_LEVEL", "info")])),
        ]);
        let d = Microservice.validate(&cfg);
        assert!(d.is_empty(), "{d}");
    }

    #[test]
    fn validation_points_at_attributes() {
        let mut e = env();
        e.set_attr(
            "oidc_provider_arn",
            Value::from("arn:aws:iam::111111111111:oidc-provider/other/id/X"),
        );
        e.set_attr("node_role_arn", Value::from("nodes"));
        let cfg = Value::object([
            ("name", Value::from("Mobile")),
            ("environment", e),
            ("image_tag", Value::from("latest")),
            ("replicas", Value::int(0)),
            ("container_port", Value::int(80)),
            ("path_prefix", Value::from("mobile")),
            (
                "resources",
                Value::string_map([("cpu", "1"), ("memory_limit", "1GB")]),
            ),
            ("env", Value::string_map([("1X", "y")])),
            ("pull_account_ids", Value::Set(vec![Value::from("123")])),
            ("iam_policy_json", Value::from("{")),
            ("tags", Value::string_map([("platform:owner", "x")])),
        ]);
        let got = paths(&Microservice.validate(&cfg));
        for want in [
            "name",
            "image_tag",
            "path_prefix",
            "iam_policy_json",
            "container_port",
            "replicas",
            "resources[\"cpu\"]",
            "resources[\"memory_limit\"]",
            "env[\"1X\"]",
            "pull_account_ids[0]",
            "tags[\"platform:owner\"]",
            "environment.oidc_provider_arn",
            "environment.node_role_arn",
        ] {
            assert!(got.contains(&want.to_string()), "missing {want} in {got:?}");
        }
    }

    #[test]
    fn unknown_values_are_not_validated() {
        let cfg = Value::object([
            ("name", Value::Unknown),
            ("environment", Value::Unknown),
            ("image_tag", Value::Unknown),
        ]);
        assert!(Microservice.validate(&cfg).is_empty());
    }

    #[test]
    fn helm_values_derive_from_the_plan() {
        let mut v = Value::object([
            ("name", Value::from("api")),
            ("namespace", Value::from("apps")),
            ("environment", env()),
            ("image_tag", Value::from("abcdef1")),
            ("replicas", Value::int(DEFAULT_REPLICAS)),
            ("container_port", Value::int(8080)),
            ("health_check_path", Value::from("/healthz")),
            (
                "repository_url",
                Value::from("111111111111.dkr.ecr.eu-west-1.amazonaws.com/api"),
            ),
            (
                "role_arn",
                Value::from("arn:aws:iam::111111111111:role/api-irsa"),
            ),
        ]);
        Microservice::derive_outputs(&mut v);
        assert_eq!(
            v.get("image").as_str(),
            Some("111111111111.dkr.ecr.eu-west-1.amazonaws.com/api:abcdef1")
        );
        let hv: serde_json::Value =
            serde_json::from_str(v.get("helm_values").as_str().unwrap_or("{}")).unwrap_or_default();
        assert_eq!(hv["image"]["tag"], "abcdef1");
        assert_eq!(
            hv["serviceAccount"]["annotations"][values::IRSA_ANNOTATION],
            "arn:aws:iam::111111111111:role/api-irsa"
        );
        v.set_attr("role_arn", Value::Unknown);
        Microservice::derive_outputs(&mut v);
        assert!(v.get("helm_values").is_unknown());
    }

    #[test]
    fn trust_policy_uses_namespace_and_issuer() {
        let v = Value::object([
            ("name", Value::from("api")),
            ("namespace", Value::from("apps")),
            ("environment", env()),
        ]);
        let t = Microservice::trust_policy(&v).unwrap_or_default();
        assert_eq!(
            t["Statement"][0]["Condition"]["StringEquals"]
                ["oidc.eks.eu-west-1.amazonaws.com/id/ABC:sub"],
            "system:serviceaccount:apps:api"
        );
    }
}
