//! `platform_environment`: one resource for a whole environment — a VPC with public and
//! private subnets per AZ, NAT, routing and flow logs (`network`), an EKS cluster with node
//! groups (`cluster`), and a private RDS instance (`database`), with security defaults that
//! cannot be switched off (docs/design.md "Non-negotiable security defaults").
//!
//! Subnet CIDRs are planned at plan time and keyed by AZ (`cidr`), so the plan shows them
//! and adding or removing an AZ never touches another AZ's subnets. Apply observes the
//! environment with a few filtered Describe calls and converges it, so create, update,
//! drift repair and resume after a crash are the same code path.

/// `call!("Operation", request.send())`: awaits an SDK call, its error as a `StepError`.
macro_rules! call {
    ($step:expr, $fut:expr) => {
        ::platform_aws::step::Fail::fail($fut.await, $step)
    };
}

pub mod cidr;
mod cluster;
mod database;
mod network;
mod retag;
mod validate;

use async_trait::async_trait;
use network::{NatMode, ObservedNetwork};
use platform_aws::{partition, tags, AwsContext};
use std::collections::BTreeMap;
use std::time::Duration;
use tfplugin_framework::{
    ApplyOutcome, Attribute, AttributePath, Block, Diagnostics, NestedBlock, Nesting, PlanRequest,
    Resource, Schema, Type, Value,
};

pub use platform_aws::step::StepError;

pub const TYPE_NAME: &str = "platform_environment";
pub const DEFAULT_NEWBITS: i64 = 4;
pub const DEFAULT_FLOW_RETENTION: i64 = 365;
pub const DEFAULT_AGGREGATION: i64 = 600;
/// Real AWS: NAT gateways take minutes, EKS 10-15 minutes; these leave room for both.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60 * 60);

pub const DEFAULT_EKS_VERSION: &str = "1.32";
pub const DEFAULT_CLUSTER_LOG_RETENTION: i64 = 90;
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.medium";
pub const DEFAULT_DISK_SIZE: i64 = 20;

pub struct Environment;

/// The owner tag value of an environment's objects.
pub fn owner(env: &str) -> String {
    tags::owner(TYPE_NAME, env)
}

pub const DEFAULT_DB_CLASS: &str = "db.t4g.micro";
pub const DEFAULT_DB_STORAGE: i64 = 20;
pub const DEFAULT_DB_BACKUP_DAYS: i64 = 7;
pub const DEFAULT_DB_MONITORING: i64 = 60;
pub const DEFAULT_DB_USER: &str = "platform";

/// Computed database attributes.
const DB_IDS: &[(&str, &str)] = &[
    ("database_endpoint", "The database's DNS address."),
    ("database_arn", "ARN of the DB instance."),
    ("database_master_user_secret_arn", "ARN of the Secrets Manager secret holding the master password (the password itself is never in state)."),
    ("database_security_group_id", "The database security group: engine port from the node security group only."),
];

/// Computed cluster attributes: kept from prior state when present, unknown when the
/// cluster is (re)created, null when the environment has no cluster.
const CLUSTER_IDS: &[(&str, &str)] = &[
    ("cluster_arn", "ARN of the EKS cluster."),
    ("cluster_endpoint", "The cluster's Kubernetes API endpoint."),
    (
        "cluster_certificate_authority",
        "Base64 CA data of the cluster's API endpoint.",
    ),
    (
        "oidc_issuer_url",
        "The cluster's OIDC issuer URL (for IRSA trust policies).",
    ),
    (
        "oidc_provider_arn",
        "ARN of the IAM OIDC provider for IRSA.",
    ),
    (
        "cluster_role_arn",
        "ARN of the cluster IAM role (AmazonEKSClusterPolicy).",
    ),
    (
        "node_role_arn",
        "ARN of the node IAM role (worker node, CNI and ECR read-only policies).",
    ),
    (
        "node_security_group_id",
        "The node security group this resource owns; the database trusts it.",
    ),
    (
        "cluster_secrets_kms_key_arn",
        "KMS key encrypting Kubernetes secrets (given, or created by this resource).",
    ),
];

/// Computed maps keyed by AZ.
const AZ_MAPS: &[(&str, &str)] = &[
    ("public_subnet_ids", "Public subnet id by AZ."),
    ("private_subnet_ids", "Private subnet id by AZ."),
    (
        "private_route_table_ids",
        "Private route table id by AZ (default route through that AZ's NAT, or the single NAT).",
    ),
];

/// Computed single ids: kept from prior state when present, unknown (to be created) when not.
const IDS: &[(&str, &str)] = &[
    ("vpc_id", "The VPC id."),
    ("internet_gateway_id", "The internet gateway id."),
    (
        "public_route_table_id",
        "The public route table id (default route through the internet gateway).",
    ),
    (
        "flow_log_id",
        "The VPC flow log id (traffic type ALL, always on).",
    ),
    (
        "flow_log_role_arn",
        "ARN of the least-privilege role that delivers flow logs to the log group.",
    ),
];

fn flow_logs_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "flow_logs",
        Block::new()
            .description("VPC flow-log settings. Flow logs are always on with traffic type ALL; there is no switch to turn them off.")
            .attr(Attribute::number("retention_in_days").optional().description("Log group retention in days; one of the values CloudWatch Logs allows. Default 365."))
            .attr(Attribute::string("kms_key_arn").optional().description("KMS key ARN to encrypt the log group with. Default: CloudWatch Logs' own encryption."))
            .attr(Attribute::string("log_format").optional().description("Custom flow-log record format (`${field} ...`). Default: AWS's default format."))
            .attr(Attribute::number("max_aggregation_interval").optional().description("60 or 600 seconds. Default 600.")),
    )
}

fn cluster_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "cluster",
        Block::new()
            .description("The EKS cluster. All five control-plane log types are always on, secrets are KMS-encrypted, the private endpoint is always on.")
            .attr(Attribute::string("version").optional().computed().description("Kubernetes version (an EKS-supported minor such as \"1.32\"). Default 1.32."))
            .attr(Attribute::bool("endpoint_public_access").optional().computed().description("Also expose the API endpoint publicly; only together with public_access_cidrs. Default false."))
            .attr(Attribute::string_list("public_access_cidrs").optional().description("CIDRs allowed to reach the public endpoint (0.0.0.0/0 is refused)."))
            .attr(Attribute::string("secrets_kms_key_arn").optional().description("KMS key for secrets envelope encryption. Default: a key this resource creates (with rotation)."))
            .attr(Attribute::number("log_retention_in_days").optional().computed().description("Retention of the control-plane log group. Default 90.")),
    )
}

fn database_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "database",
        Block::new()
            .description("An RDS instance in the private subnets: encrypted, not publicly accessible, reachable only from the EKS nodes on the engine port, master password in Secrets Manager. Needs a cluster block.")
            .attr(Attribute::string("engine").required().description("postgres or mysql."))
            .attr(Attribute::string("engine_version").optional().computed().description("Engine version, pinned to a major by default (postgres 16, mysql 8.0) so AWS minor upgrades never show as drift."))
            .attr(Attribute::string("instance_class").optional().computed().description("Instance class. Default db.t4g.micro."))
            .attr(Attribute::number("allocated_storage").optional().computed().description("Storage in GiB (20 to 65536). Default 20."))
            .attr(Attribute::number("max_allocated_storage").optional().description("Storage autoscaling ceiling in GiB; above allocated_storage."))
            .attr(Attribute::bool("multi_az").optional().computed().description("Standby in a second AZ. Default false."))
            .attr(Attribute::bool("deletion_protection").optional().computed().description("Refuse deletion. Default false (the prod preset of the module turns it on)."))
            .attr(Attribute::number("backup_retention_period").optional().computed().description("Days of automated backups, 1 to 35. Default 7."))
            .attr(Attribute::bool("skip_final_snapshot").optional().computed().description("Skip the final snapshot on destroy. Default false."))
            .attr(Attribute::number("monitoring_interval").optional().computed().description("Enhanced monitoring interval in seconds (0, 1, 5, 10, 15, 30, 60). Default 60, with its role."))
            .attr(Attribute::bool("performance_insights").optional().computed().description("Enable Performance Insights. Default false."))
            .attr(Attribute::string("master_username").optional().computed().description("Master user name. Default \"platform\". The password is generated and kept in Secrets Manager.")),
    )
}

fn taint_type() -> Type {
    Type::list(Type::object([
        ("key", Type::String),
        ("value", Type::String),
        ("effect", Type::String),
    ]))
}

/// Node groups are a list block keyed by their `name` attribute, not a labelled map block:
/// Terraform 1.0 refuses `dynamic` blocks whose labels come from module variables (unknown
/// during validation), which would make the block unusable from a module. Everything inside
/// the provider is keyed by name, so reordering the list changes nothing in AWS.
fn node_groups_block() -> NestedBlock {
    NestedBlock::new(
        "node_groups",
        Nesting::List,
        Block::new()
            .description("Managed node groups, keyed by name, always in the private subnets. Scaling, labels and taints update in place; instance types, capacity type and disk size replace the node group.")
            .attr(Attribute::string("name").required().description("Node group name (unique in the environment)."))
            .attr(Attribute::string_list("instance_types").optional().computed().description("Instance types. Default [\"t3.medium\"]."))
            .attr(Attribute::string("capacity_type").optional().computed().description("ON_DEMAND (default) or SPOT."))
            .attr(Attribute::number("min_size").required().description("Minimum node count."))
            .attr(Attribute::number("max_size").required().description("Maximum node count."))
            .attr(Attribute::number("desired_size").optional().computed().description("Desired node count. Default: min_size."))
            .attr(Attribute::number("disk_size").optional().computed().description("Encrypted root volume size in GiB. Default 20."))
            .attr(Attribute::string_map("labels").optional().description("Kubernetes labels."))
            .attr(Attribute::new("taints", taint_type()).optional().description("Kubernetes taints: objects with key, value and effect (NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE).")),
    )
}

fn timeouts_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "timeouts",
        Block::new()
            .description("How long apply waits for AWS (e.g. \"30m\", \"1h\"). Default 60m each.")
            .attr(Attribute::string("create").optional())
            .attr(Attribute::string("update").optional())
            .attr(Attribute::string("delete").optional()),
    )
}

/// The one `flow_logs` / `timeouts` block's object, or null when the block is absent.
fn single_block<'a>(v: &'a Value, name: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.get(name).elements().first().unwrap_or(&NULL)
}

fn int_or(v: &Value, default: i64) -> i64 {
    v.as_i64().unwrap_or(default)
}

/// The AZ list of a configuration, when wholly known.
fn azs_of(v: &Value) -> Option<Vec<String>> {
    let a = v.get("availability_zones");
    if !a.is_wholly_known() || a.is_null() {
        return None;
    }
    Some(
        a.elements()
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
    )
}

/// Subnet CIDRs for a (planned) configuration, if everything they depend on is known.
fn plan_subnets(v: &Value) -> Option<Result<BTreeMap<String, cidr::AzSubnets>, cidr::CidrError>> {
    let vpc = v.get("vpc_cidr").as_str()?;
    let azs = azs_of(v)?;
    let newbits = v.get("subnet_newbits");
    if newbits.is_unknown() {
        return None;
    }
    let newbits = int_or(newbits, DEFAULT_NEWBITS);
    Some(cidr::vpc_cidr(vpc).and_then(|c| cidr::plan(&c, newbits.clamp(0, 32) as u8, &azs)))
}

fn cidr_maps(s: &BTreeMap<String, cidr::AzSubnets>) -> (Value, Value) {
    (
        Value::string_map(s.iter().map(|(az, x)| (az.clone(), x.public.to_string()))),
        Value::string_map(s.iter().map(|(az, x)| (az.clone(), x.private.to_string()))),
    )
}

impl Environment {
    fn desired(aws: &AwsContext, v: &Value) -> Result<network::DesiredNetwork, StepError> {
        let name = v.get("name").as_str().unwrap_or_default().to_string();
        let subnets = plan_subnets(v)
            .ok_or_else(|| StepError::new("plan", "subnet layout is not known"))?
            .map_err(|e| StepError::new("plan", e.to_string()))?;
        let fl = single_block(v, "flow_logs");
        Ok(network::DesiredNetwork {
            owner: tags::owner(TYPE_NAME, &name),
            tags: tags::merged(
                &aws.default_tags,
                &v.get("tags").to_string_map(),
                TYPE_NAME,
                &name,
            ),
            vpc_cidr: v.get("vpc_cidr").as_str().unwrap_or_default().to_string(),
            subnets,
            nat: NatMode::parse(v.get("nat_gateways").as_str().unwrap_or("single"))
                .unwrap_or(NatMode::Single),
            flow: network::FlowLogSettings {
                retention_in_days: int_or(fl.get("retention_in_days"), DEFAULT_FLOW_RETENTION)
                    as i32,
                kms_key_arn: fl.get("kms_key_arn").as_str().map(str::to_string),
                log_format: fl.get("log_format").as_str().map(str::to_string),
                max_aggregation_interval: int_or(
                    fl.get("max_aggregation_interval"),
                    DEFAULT_AGGREGATION,
                ) as i32,
            },
            name,
        })
    }

    /// The cluster to have, or `None` when the configuration has no `cluster` block.
    fn desired_cluster(
        aws: &AwsContext,
        prior: &Value,
        v: &Value,
    ) -> Option<cluster::DesiredCluster> {
        let cl = single_block(v, "cluster");
        if cl.is_null() {
            return None;
        }
        let name = v.get("name").as_str().unwrap_or_default().to_string();
        let node_groups = by_name(v.get("node_groups"))
            .iter()
            .map(|(n, g)| (n.clone(), node_group_spec(g)))
            .collect();
        Some(cluster::DesiredCluster {
            owner: owner(&name),
            tags: tags::merged(
                &aws.default_tags,
                &v.get("tags").to_string_map(),
                TYPE_NAME,
                &name,
            ),
            version: cl
                .get("version")
                .as_str()
                .unwrap_or(DEFAULT_EKS_VERSION)
                .to_string(),
            endpoint_public_access: cl.get("endpoint_public_access").as_bool().unwrap_or(false),
            public_access_cidrs: cl
                .get("public_access_cidrs")
                .elements()
                .iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect(),
            secrets_kms_key_arn: cl.get("secrets_kms_key_arn").as_str().map(str::to_string),
            log_retention_in_days: int_or(
                cl.get("log_retention_in_days"),
                DEFAULT_CLUSTER_LOG_RETENTION,
            ) as i32,
            replace: {
                let now = by_name(v.get("node_groups"));
                by_name(prior.get("node_groups"))
                    .into_iter()
                    .filter(|(n, p)| {
                        now.get(n)
                            .is_some_and(|g| p.get("disk_size") != g.get("disk_size"))
                    })
                    .map(|(n, _)| n)
                    .collect()
            },
            node_groups,
            name,
        })
    }

    /// The database to have, or `None` without a `database` block.
    fn desired_database(aws: &AwsContext, v: &Value) -> Option<database::DesiredDatabase> {
        let db = single_block(v, "database");
        if db.is_null() {
            return None;
        }
        let env = v.get("name").as_str().unwrap_or_default().to_string();
        let engine = db.get("engine").as_str().unwrap_or("postgres").to_string();
        Some(database::DesiredDatabase {
            owner: owner(&env),
            tags: tags::merged(
                &aws.default_tags,
                &v.get("tags").to_string_map(),
                TYPE_NAME,
                &env,
            ),
            engine_version: db
                .get("engine_version")
                .as_str()
                .unwrap_or(database::default_version(&engine))
                .to_string(),
            instance_class: db
                .get("instance_class")
                .as_str()
                .unwrap_or(DEFAULT_DB_CLASS)
                .to_string(),
            allocated_storage: int_or(db.get("allocated_storage"), DEFAULT_DB_STORAGE) as i32,
            max_allocated_storage: db.get("max_allocated_storage").as_i64().map(|x| x as i32),
            multi_az: db.get("multi_az").as_bool().unwrap_or(false),
            deletion_protection: db.get("deletion_protection").as_bool().unwrap_or(false),
            backup_retention_period: int_or(
                db.get("backup_retention_period"),
                DEFAULT_DB_BACKUP_DAYS,
            ) as i32,
            monitoring_interval: int_or(db.get("monitoring_interval"), DEFAULT_DB_MONITORING)
                as i32,
            performance_insights: db.get("performance_insights").as_bool().unwrap_or(false),
            master_username: db
                .get("master_username")
                .as_str()
                .unwrap_or(DEFAULT_DB_USER)
                .to_string(),
            skip_final_snapshot: db.get("skip_final_snapshot").as_bool().unwrap_or(false),
            engine,
            env,
        })
    }

    fn database_ctx<'a>(aws: &'a AwsContext, timeout: Duration) -> database::Ctx<'a> {
        database::Ctx {
            ec2: aws.ec2(),
            iam: aws.iam(),
            rds: aws.rds(),
            cancel: &aws.cancel,
            timeout,
            partition: partition(&aws.region),
        }
    }

    /// Fills the database attributes of `state` from an observation.
    fn fill_database(state: &mut Value, o: &database::ObservedDatabase) {
        let name = state.get("name").as_str().unwrap_or_default().to_string();
        let Some(i) = &o.instance else {
            for (k, _) in DB_IDS {
                state.set_attr(k, Value::Null);
            }
            state.set_attr(
                "database_security_group_id",
                Value::opt_string(o.sg_id.clone()),
            );
            state.set_attr("database_ingress_restricted", Value::Null);
            return;
        };
        state.set_attr("database_endpoint", Value::opt_string(i.endpoint.clone()));
        state.set_attr("database_arn", Value::opt_string(i.arn.clone()));
        state.set_attr(
            "database_master_user_secret_arn",
            Value::opt_string(i.secret_arn.clone()),
        );
        state.set_attr(
            "database_security_group_id",
            Value::opt_string(o.sg_id.clone()),
        );
        state.set_attr(
            "database_identifier",
            Value::from(database::identifier(&name)),
        );
        state.set_attr(
            "database_subnet_group_name",
            Value::opt_string(o.subnet_group.as_ref().map(|_| database::identifier(&name))),
        );
        let blk = single_block(state, "database").clone();
        if blk.is_null() {
            return;
        }
        let mut b = blk;
        let engine = i
            .engine
            .clone()
            .or_else(|| b.get("engine").as_str().map(str::to_string))
            .unwrap_or_else(|| "postgres".into());
        let restricted = match state.get("node_security_group_id").as_str() {
            Some(node_sg) => {
                let (has_rule, extra) =
                    database::ingress_audit(&o.sg_ingress, database::port(&engine), node_sg);
                has_rule && extra.is_empty()
            }
            None => false,
        };
        state.set_attr("database_ingress_restricted", Value::Bool(restricted));
        state.set_attr(
            "database_port",
            Value::int(i.port.unwrap_or(database::port(&engine)).into()),
        );
        if let Some(v) = &i.engine_version {
            let pinned = b.get("engine_version").as_str().map(str::to_string);
            if !pinned
                .as_deref()
                .is_some_and(|p| database::version_matches(p, v))
            {
                b.set_attr("engine_version", Value::from(v.clone()));
            }
        }
        // Engine and master user as AWS has them: a difference from the configuration plans
        // a replacement of the database (see `plan_database`).
        if let Some(e) = &i.engine {
            b.set_attr("engine", Value::from(e.clone()));
        }
        if let Some(u) = &i.master_username {
            b.set_attr("master_username", Value::from(u.clone()));
        }
        let opt_int = |x: Option<i32>| x.map_or(Value::Null, |v| Value::int(v.into()));
        b.set_attr(
            "instance_class",
            Value::opt_string(i.instance_class.clone()),
        );
        b.set_attr("allocated_storage", opt_int(i.allocated_storage));
        if !b.get("max_allocated_storage").is_null() || i.max_allocated_storage.is_some() {
            b.set_attr("max_allocated_storage", opt_int(i.max_allocated_storage));
        }
        b.set_attr("multi_az", Value::Bool(i.multi_az));
        b.set_attr("deletion_protection", Value::Bool(i.deletion_protection));
        b.set_attr(
            "backup_retention_period",
            opt_int(i.backup_retention_period),
        );
        b.set_attr(
            "monitoring_interval",
            Value::int(i.monitoring_interval.unwrap_or(0).into()),
        );
        b.set_attr("performance_insights", Value::Bool(i.performance_insights));
        state.set_attr("database", Value::List(vec![b]));
    }

    fn cluster_ctx<'a>(aws: &'a AwsContext, timeout: Duration) -> cluster::Ctx<'a> {
        cluster::Ctx {
            ec2: aws.ec2(),
            logs: aws.logs(),
            iam: aws.iam(),
            eks: aws.eks(),
            kms: aws.kms(),
            cancel: &aws.cancel,
            timeout,
            partition: partition(&aws.region),
        }
    }

    /// Fills the cluster attributes of `state` from an observation.
    fn fill_cluster(state: &mut Value, o: &cluster::ObservedCluster) {
        let has_block = !single_block(state, "cluster").is_null();
        let name = state.get("name").as_str().unwrap_or_default().to_string();
        let Some(cl) = &o.cluster else {
            for (k, _) in CLUSTER_IDS {
                state.set_attr(k, Value::Null);
            }
            state.set_attr(
                "cluster_role_arn",
                Value::opt_string(o.cluster_role_arn.clone()),
            );
            state.set_attr("node_role_arn", Value::opt_string(o.node_role_arn.clone()));
            state.set_attr(
                "node_security_group_id",
                Value::opt_string(o.node_sg_id.clone()),
            );
            state.set_attr("cluster_name", Value::Null);
            state.set_attr("cluster_enabled_log_types", Value::Null);
            state.set_attr("cluster_security_group_ids", Value::Null);
            state.set_attr("node_group_arns", Value::Null);
            state.set_attr(
                "cluster_log_group_name",
                Value::opt_string(
                    o.log_group_retention
                        .map(|_| cluster::log_group_name(&name)),
                ),
            );
            if has_block {
                // The cluster is gone: keep the block so the plan re-creates it.
                state.set_attr("cluster_arn", Value::Null);
            }
            return;
        };
        let s = |v: &Option<String>| Value::opt_string(v.clone());
        state.set_attr("cluster_name", Value::from(name.clone()));
        state.set_attr("cluster_arn", Value::from(cl.arn.clone()));
        state.set_attr("cluster_endpoint", s(&cl.endpoint));
        state.set_attr(
            "cluster_certificate_authority",
            s(&cl.certificate_authority),
        );
        state.set_attr("oidc_issuer_url", s(&cl.oidc_issuer));
        state.set_attr("oidc_provider_arn", s(&o.oidc_provider_arn));
        state.set_attr("cluster_role_arn", s(&o.cluster_role_arn));
        state.set_attr("node_role_arn", s(&o.node_role_arn));
        state.set_attr("node_security_group_id", s(&o.node_sg_id));
        state.set_attr("cluster_secrets_kms_key_arn", s(&cl.secrets_kms_key_arn));
        state.set_attr(
            "cluster_log_group_name",
            Value::opt_string(
                o.log_group_retention
                    .map(|_| cluster::log_group_name(&name)),
            ),
        );
        let mut logs: Vec<&str> = cluster::LOG_TYPES
            .iter()
            .copied()
            .filter(|t| cl.enabled_logs.contains(*t))
            .collect();
        logs.sort_by_key(|t| cluster::LOG_TYPES.iter().position(|x| x == t));
        state.set_attr(
            "cluster_enabled_log_types",
            Value::List(logs.into_iter().map(Value::from).collect()),
        );
        state.set_attr(
            "cluster_security_group_ids",
            Value::List(
                cl.security_group_ids
                    .iter()
                    .map(|x| Value::from(x.clone()))
                    .collect(),
            ),
        );
        state.set_attr(
            "node_group_arns",
            Value::string_map(
                o.node_groups
                    .iter()
                    .map(|(n, g)| (n.clone(), g.arn.clone())),
            ),
        );
        // The cluster block follows reality where AWS reports it.
        if let Some(mut b) = single_block(state, "cluster")
            .clone()
            .entries()
            .cloned()
            .map(Value::Object)
        {
            b.set_attr("version", s(&cl.version));
            b.set_attr(
                "endpoint_public_access",
                Value::Bool(cl.endpoint_public_access),
            );
            if cl.endpoint_public_access || !b.get("public_access_cidrs").is_null() {
                b.set_attr(
                    "public_access_cidrs",
                    Value::List(
                        cl.public_access_cidrs
                            .iter()
                            .map(|x| Value::from(x.clone()))
                            .collect(),
                    ),
                );
            }
            if !b.get("secrets_kms_key_arn").is_null() {
                b.set_attr("secrets_kms_key_arn", s(&cl.secrets_kms_key_arn));
            }
            if let Some(r) = o.log_group_retention {
                b.set_attr(
                    "log_retention_in_days",
                    r.map_or(Value::Null, |d| Value::int(d.into())),
                );
            }
            state.set_attr("cluster", Value::List(vec![b]));
        }
        // Node groups: those that exist, with their live scaling, labels and taints.
        let prior_list = state.get("node_groups").clone();
        let prior_ngs = by_name(&prior_list);
        // Prior order first, new node groups after, so an unchanged list reads back unchanged.
        let mut order: Vec<String> = prior_list
            .elements()
            .iter()
            .filter_map(|g| g.get("name").as_str().map(str::to_string))
            .filter(|n| o.node_groups.contains_key(n))
            .collect();
        let new: Vec<String> = o
            .node_groups
            .keys()
            .filter(|n| !order.contains(n))
            .cloned()
            .collect();
        order.extend(new);
        let mut ngs = Vec::new();
        for n in &order {
            let Some(g) = o.node_groups.get(n) else {
                continue;
            };
            let p = prior_ngs.get(n).cloned().unwrap_or(Value::Null);
            let labels = if g.labels.is_empty() && p.get("labels").is_null() {
                Value::Null
            } else {
                Value::string_map(g.labels.clone())
            };
            let taints = if g.taints.is_empty() && p.get("taints").is_null() {
                Value::Null
            } else {
                Value::List(
                    g.taints
                        .iter()
                        .map(|t| {
                            Value::object([
                                ("key", Value::from(t.key.clone())),
                                ("value", Value::opt_string(t.value.clone())),
                                ("effect", Value::from(t.effect.clone())),
                            ])
                        })
                        .collect(),
                )
            };
            ngs.push(Value::object([
                ("name", Value::from(n.clone())),
                (
                    "instance_types",
                    Value::List(
                        g.instance_types
                            .iter()
                            .map(|x| Value::from(x.clone()))
                            .collect(),
                    ),
                ),
                ("capacity_type", Value::from(g.capacity_type.clone())),
                ("min_size", Value::int(g.min_size.into())),
                ("max_size", Value::int(g.max_size.into())),
                ("desired_size", Value::int(g.desired_size.into())),
                (
                    "disk_size",
                    match p.get("disk_size") {
                        Value::Null => Value::int(DEFAULT_DISK_SIZE),
                        v => v.clone(),
                    },
                ),
                ("labels", labels),
                ("taints", taints),
            ]));
        }
        state.set_attr("node_groups", Value::List(ngs));
    }

    fn timeout(v: &Value, which: &str) -> Duration {
        single_block(v, "timeouts")
            .get(which)
            .as_str()
            .and_then(|s| validate::duration(s).ok())
            .unwrap_or(DEFAULT_TIMEOUT)
    }

    /// Fills the computed attributes of `state` from an observation.
    fn fill(aws: &AwsContext, state: &mut Value, o: &ObservedNetwork) {
        let nat_mode = NatMode::parse(state.get("nat_gateways").as_str().unwrap_or("single"))
            .unwrap_or(NatMode::Single);
        state.set_attr("vpc_id", Value::opt_string(o.vpc_id.clone()));
        state.set_attr(
            "internet_gateway_id",
            Value::opt_string(
                o.igw
                    .as_ref()
                    .filter(|(_, att)| *att)
                    .map(|(id, _)| id.clone()),
            ),
        );
        let mut ids = [BTreeMap::new(), BTreeMap::new()];
        let mut cidrs = [BTreeMap::new(), BTreeMap::new()];
        for s in o.subnets.values() {
            for (i, tier) in ["public", "private"].iter().enumerate() {
                if o.subnets.get(&network::subnet_key(tier, &s.az)) == Some(s) {
                    ids[i].insert(s.az.clone(), s.id.clone());
                    cidrs[i].insert(s.az.clone(), s.cidr.clone());
                }
            }
        }
        let [pub_ids, priv_ids] = ids;
        let [pub_cidrs, priv_cidrs] = cidrs;
        state.set_attr("public_subnet_ids", Value::string_map(pub_ids.clone()));
        state.set_attr("private_subnet_ids", Value::string_map(priv_ids.clone()));
        state.set_attr("public_subnet_cidrs", Value::string_map(pub_cidrs));
        state.set_attr("private_subnet_cidrs", Value::string_map(priv_cidrs));
        state.set_attr(
            "nat_gateway_ids",
            Value::string_map(o.nats.iter().map(|(az, n)| (az.clone(), n.id.clone()))),
        );
        state.set_attr(
            "nat_public_ips",
            Value::string_map(
                o.nats
                    .iter()
                    .filter_map(|(az, n)| Some((az.clone(), n.public_ip.clone()?))),
            ),
        );
        // A route table counts only if its default route and subnet association are right:
        // otherwise it is drift, and the plan shows it as to be repaired.
        let igw = o.igw.as_ref().map(|(id, _)| id.clone());
        let public_rt = o.route_tables.get(network::PUBLIC_RT_KEY).filter(|t| {
            t.default_target.is_some()
                && t.default_target == igw
                && pub_ids
                    .values()
                    .all(|s| t.associations.iter().any(|(_, a)| a == s))
        });
        state.set_attr(
            "public_route_table_id",
            Value::opt_string(public_rt.map(|t| t.id.clone())),
        );
        let first_az = priv_ids.keys().next().cloned();
        let mut private_rts = BTreeMap::new();
        for (az, subnet) in &priv_ids {
            let nat_az = match nat_mode {
                NatMode::PerAz => Some(az.clone()),
                NatMode::Single => o.nats.keys().next().cloned().or(first_az.clone()),
            };
            let want_target = nat_az.and_then(|n| o.nats.get(&n)).map(|n| n.id.clone());
            if let Some(t) = o.route_tables.get(&network::private_rt_key(az)) {
                if want_target.is_some()
                    && t.default_target == want_target
                    && t.associations.iter().any(|(_, s)| s == subnet)
                {
                    private_rts.insert(az.clone(), t.id.clone());
                }
            }
        }
        state.set_attr("private_route_table_ids", Value::string_map(private_rts));
        let name = state.get("name").as_str().unwrap_or_default().to_string();
        let lg = network::flow_log_group_name(&name);
        let good = o.good_flow_log(&lg);
        state.set_attr("flow_log_id", Value::opt_string(good.map(|f| f.id.clone())));
        state.set_attr(
            "flow_log_traffic_type",
            Value::opt_string(good.or(o.flow_logs.first()).map(|f| f.traffic_type.clone())),
        );
        state.set_attr(
            "flow_log_group_name",
            Value::opt_string(o.log_group.as_ref().map(|_| lg.clone())),
        );
        state.set_attr("flow_log_role_arn", Value::opt_string(o.role_arn.clone()));
        // Settings in the flow_logs block follow reality, so out-of-band edits show as drift.
        if let Some(g) = &o.log_group {
            let fl = single_block(state, "flow_logs").clone();
            if !fl.is_null() {
                let mut fl = fl;
                if !fl.get("retention_in_days").is_null()
                    || g.retention_in_days.map(i64::from) != Some(DEFAULT_FLOW_RETENTION)
                {
                    fl.set_attr(
                        "retention_in_days",
                        g.retention_in_days
                            .map_or(Value::Null, |d| Value::int(d.into())),
                    );
                }
                if !fl.get("kms_key_arn").is_null() || g.kms_key_arn.is_some() {
                    fl.set_attr("kms_key_arn", Value::opt_string(g.kms_key_arn.clone()));
                }
                state.set_attr("flow_logs", Value::List(vec![fl]));
            }
        }
        let mut user = tags::user_tags(&o.vpc_tags, &aws.default_tags);
        user.remove(network::COMPONENT_KEY);
        if state.get("tags").get("Name").is_null() {
            user.remove("Name");
        }
        if !o.vpc_tags.is_empty() {
            state.set_attr(
                "tags",
                if user.is_empty() && state.get("tags").is_null() {
                    Value::Null
                } else {
                    Value::string_map(user.clone())
                },
            );
            state.set_attr(
                "tags_all",
                Value::string_map(tags::merged(&aws.default_tags, &user, TYPE_NAME, &name)),
            );
        }
    }

    async fn converge(&self, aws: &AwsContext, prior: &Value, planned: &Value) -> ApplyOutcome {
        let which = if prior.is_null() { "create" } else { "update" };
        let d = match Self::desired(aws, planned) {
            Ok(d) => d,
            Err(e) => {
                return ApplyOutcome::failed(
                    prior.clone(),
                    Diagnostics::from_error("Invalid environment", e.to_string()),
                )
            }
        };
        let timeout = Self::timeout(planned, which);
        let ctx = network::Ctx {
            ec2: aws.ec2(),
            logs: aws.logs(),
            iam: aws.iam(),
            cancel: &aws.cancel,
            timeout,
        };
        let cctx = Self::cluster_ctx(aws, timeout);
        let started = std::time::Instant::now();
        let mut diags = Diagnostics::new();
        let net = network::converge(&ctx, &d).await;
        tracing::info!(target: "platform::environment", env = %d.name, elapsed_ms = started.elapsed().as_millis() as u64, ok = net.is_ok(), "network converged");
        let mut ok = net.is_ok();
        match &net {
            Err(e) => diags.error(
                "Could not set up the environment's network",
                format!("{e}. Everything created so far is kept in state; the next apply resumes."),
            ),
            Ok((vpc_id, subnet_ids)) => {
                let private: Vec<String> = d
                    .subnets
                    .keys()
                    .filter_map(|az| subnet_ids.get(&network::subnet_key("private", az)).cloned())
                    .collect();
                let dctx = Self::database_ctx(aws, timeout);
                let dc = Self::desired_cluster(aws, prior, planned);
                let dd = Self::desired_database(aws, planned);
                // The node security group first: the database trusts it, so with it in place
                // the cluster and the database converge concurrently.
                let node_sg = match &dc {
                    Some(dc) => cluster::node_security_group(&cctx, dc, vpc_id)
                        .await
                        .map(Some),
                    None => Ok(None),
                };
                let (cres, dres) = match node_sg {
                    Err(e) => (Err(e), Ok(())),
                    Ok(node_sg) => {
                        let cluster_fut = async {
                            match &dc {
                                Some(dc) => cluster::converge(&cctx, dc, vpc_id, &private).await,
                                None => Ok(()),
                            }
                        };
                        let db_fut = async {
                            match (&dd, &node_sg) {
                                (Some(dd), Some(sg)) => {
                                    database::converge(&dctx, dd, vpc_id, sg, &private).await
                                }
                                (None, _) if !prior.get("database_arn").is_null() => {
                                    let skip = single_block(prior, "database")
                                        .get("skip_final_snapshot")
                                        .as_bool()
                                        .unwrap_or(false);
                                    database::delete(&dctx, &d.name, skip).await
                                }
                                _ => Ok(()),
                            }
                        };
                        tokio::join!(cluster_fut, db_fut)
                    }
                };
                // A cluster taken out of the configuration goes after its database.
                let cres = match (cres, &dc) {
                    (Ok(()), None)
                        if !prior.get("cluster_arn").is_null()
                            || !prior.get("node_role_arn").is_null() =>
                    {
                        cluster::delete(&cctx, &d.name).await
                    }
                    (r, _) => r,
                };
                tracing::info!(target: "platform::environment", env = %d.name, elapsed_ms = started.elapsed().as_millis() as u64, cluster_ok = cres.is_ok(), database_ok = dres.is_ok(), "cluster and database converged");
                if let Err(e) = cres {
                    ok = false;
                    diags.error(
                        "Could not set up the environment's EKS cluster",
                        format!("{e}. Everything created so far is kept in state; the next apply resumes."),
                    );
                }
                if let Err(e) = dres {
                    ok = false;
                    diags.error(
                        "Could not set up the environment's database",
                        format!("{e}. Everything created so far is kept in state; the next apply resumes."),
                    );
                }
            }
        }
        let dctx = Self::database_ctx(aws, timeout);
        let sgs = network::OwnedSecurityGroups::default();
        let (observed, observed_cluster, observed_db) = tokio::join!(
            network::observe(ctx.ec2, ctx.logs, ctx.iam, &d.name, &d.owner),
            cluster::observe(&cctx, &d.name, &d.owner, &sgs),
            database::observe(&dctx, &d.name, &d.owner, &sgs)
        );
        let mut state = planned.clone();
        match (observed, observed_cluster, observed_db) {
            (Ok(o), Ok(oc), Ok(od)) => {
                let nothing = o.vpc_id.is_none()
                    && o.log_group.is_none()
                    && o.role_arn.is_none()
                    && oc.is_empty()
                    && od.is_empty();
                if !ok && prior.is_null() && nothing {
                    return ApplyOutcome::failed(Value::Null, diags);
                }
                if ok {
                    // Success: reality equals the plan; fill only what the plan left unknown.
                    let mut seen = planned.clone();
                    Self::fill(aws, &mut seen, &o);
                    Self::fill_cluster(&mut seen, &oc);
                    Self::fill_database(&mut seen, &od);
                    let computed = AZ_MAPS
                        .iter()
                        .chain(IDS)
                        .chain(CLUSTER_IDS)
                        .chain(DB_IDS)
                        .map(|(k, _)| *k)
                        .chain([
                            "nat_gateway_ids",
                            "nat_public_ips",
                            "cluster_security_group_ids",
                            "node_group_arns",
                        ]);
                    for k in computed {
                        if !state.get(k).is_wholly_known() {
                            state.set_attr(k, seen.get(k).clone());
                        }
                    }
                } else {
                    Self::fill(aws, &mut state, &o);
                    Self::fill_cluster(&mut state, &oc);
                    Self::fill_database(&mut state, &od);
                }
            }
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
                diags.error("Could not read the environment back", e.to_string());
            }
        }
        ApplyOutcome {
            state: state.unknown_as_null(),
            diags,
        }
    }
}

/// Plans the cluster side: defaults shown, derived names known, ids kept or unknown.
fn plan_cluster(prior: &Value, config: &Value, planned: &mut Value, diags: &mut Diagnostics) {
    let name = planned.get("name").clone();
    let cfg_cl = single_block(config, "cluster");
    if single_block(planned, "cluster").is_null() {
        for (k, _) in CLUSTER_IDS {
            planned.set_attr(k, Value::Null);
        }
        for k in [
            "cluster_name",
            "cluster_log_group_name",
            "cluster_enabled_log_types",
            "cluster_security_group_ids",
            "node_group_arns",
        ] {
            planned.set_attr(k, Value::Null);
        }
        return;
    }
    // Defaults inside the cluster block.
    if let Value::List(items) = planned.get_mut("cluster") {
        if let Some(b) = items.first_mut() {
            if cfg_cl.get("version").is_null() {
                b.set_attr("version", Value::from(DEFAULT_EKS_VERSION));
            }
            if cfg_cl.get("endpoint_public_access").is_null() {
                b.set_attr("endpoint_public_access", Value::Bool(false));
            }
            if cfg_cl.get("log_retention_in_days").is_null() {
                b.set_attr(
                    "log_retention_in_days",
                    Value::int(DEFAULT_CLUSTER_LOG_RETENTION),
                );
            }
        }
    }
    let cluster_gone = prior.get("cluster_arn").is_null();
    let keep = |k: &str| {
        let v = prior.get(k);
        if v.is_null() || cluster_gone {
            Value::Unknown
        } else {
            v.clone()
        }
    };
    for (k, _) in CLUSTER_IDS {
        let v = match *k {
            // Roles and the node security group outlive a cluster re-creation.
            "cluster_role_arn" | "node_role_arn" | "node_security_group_id" => match prior.get(k) {
                Value::Null => Value::Unknown,
                v => v.clone(),
            },
            _ => keep(k),
        };
        planned.set_attr(k, v);
    }
    check_version_change(prior, planned, cluster_gone, diags);
    if let Some(k) = cfg_cl.get("secrets_kms_key_arn").as_str() {
        match prior.get("cluster_secrets_kms_key_arn").as_str() {
            Some(had) if !cluster_gone && had != k => diags.error_at(
                AttributePath::root("cluster")
                    .index(0)
                    .attr("secrets_kms_key_arn"),
                "EKS cannot change a cluster's secrets encryption key",
                format!(
                    "The cluster's Kubernetes secrets are encrypted with {had}; EKS cannot switch an encrypted cluster to another key, and replacing the cluster would replace every node group with it. Keep secrets_kms_key_arn = {had:?}, or replace the cluster on purpose: remove the cluster and node_groups blocks, apply, then add them back with the new key."
                ),
            ),
            _ => {}
        }
        planned.set_attr("cluster_secrets_kms_key_arn", Value::from(k));
    }
    planned.set_attr(
        "cluster_security_group_ids",
        keep("cluster_security_group_ids"),
    );
    planned.set_attr("cluster_name", name.clone());
    planned.set_attr(
        "cluster_log_group_name",
        match &name {
            Value::String(n) => Value::from(cluster::log_group_name(n)),
            _ => Value::Unknown,
        },
    );
    planned.set_attr(
        "cluster_enabled_log_types",
        Value::List(cluster::LOG_TYPES.iter().map(|t| Value::from(*t)).collect()),
    );
    // Node groups: defaults, and an unknown ARN for any group that is new or replaced.
    let cfg_ngs = by_name(config.get("node_groups"));
    let prior_ngs = by_name(prior.get("node_groups"));
    let mut arns = BTreeMap::new();
    if let Value::List(ngs) = planned.get_mut("node_groups") {
        for g in ngs.iter_mut() {
            let Some(n) = g.get("name").as_str().map(str::to_string) else {
                continue;
            };
            let c = cfg_ngs.get(&n).cloned().unwrap_or(Value::Null);
            let p = prior_ngs.get(&n).cloned().unwrap_or(Value::Null);
            if c.get("instance_types").is_null() {
                g.set_attr(
                    "instance_types",
                    Value::List(vec![Value::from(DEFAULT_INSTANCE_TYPE)]),
                );
            }
            if c.get("capacity_type").is_null() {
                g.set_attr("capacity_type", Value::from("ON_DEMAND"));
            }
            if c.get("disk_size").is_null() {
                g.set_attr("disk_size", Value::int(DEFAULT_DISK_SIZE));
            }
            if c.get("desired_size").is_null() {
                let min = g.get("min_size").clone();
                let max = g.get("max_size").clone();
                let v = match (min.as_i64(), max.as_i64(), p.get("desired_size").as_i64()) {
                    (Some(lo), Some(hi), Some(d)) => Value::int(d.clamp(lo, hi.max(lo))),
                    (Some(_), _, _) => min,
                    _ => Value::Unknown,
                };
                g.set_attr("desired_size", v);
            }
            let changed: Vec<&str> = ["instance_types", "capacity_type", "disk_size"]
                .into_iter()
                .filter(|k| !p.is_null() && p.get(k) != g.get(k))
                .collect();
            let replaced = p.is_null() || !changed.is_empty();
            let arn = prior.get("node_group_arns").get(&n);
            if !changed.is_empty() && !arn.is_null() && !cluster_gone {
                diags.warning_at(
                    AttributePath::root("node_groups").attr(changed[0]),
                    format!("Node group \"{n}\" will be replaced"),
                    format!(
                        "EKS cannot change a node group's {} in place: apply deletes the group (EKS drains its nodes) and creates it again with the same name. Workloads are rescheduled; plan for the capacity gap or add a second group first.",
                        changed.join(", ")
                    ),
                );
            }
            arns.insert(
                n.clone(),
                if replaced || arn.is_null() || cluster_gone {
                    Value::Unknown
                } else {
                    arn.clone()
                },
            );
        }
    }
    planned.set_attr("node_group_arns", Value::Map(arns));
}

/// EKS upgrades a cluster one minor version at a time and never downgrades: say so at plan
/// time rather than fail half-way through an apply.
fn check_version_change(
    prior: &Value,
    planned: &Value,
    cluster_gone: bool,
    diags: &mut Diagnostics,
) {
    let minor = |v: &Value| {
        v.as_str()
            .and_then(|s| s.strip_prefix("1."))
            .and_then(|m| m.parse::<i64>().ok())
    };
    let (had, want) = (
        single_block(prior, "cluster").get("version"),
        single_block(planned, "cluster").get("version"),
    );
    let (Some(a), Some(b)) = (minor(had), minor(want)) else {
        return;
    };
    if cluster_gone || a == b {
        return;
    }
    let path = AttributePath::root("cluster").index(0).attr("version");
    let (had, want) = (had.as_str().unwrap_or("?"), want.as_str().unwrap_or("?"));
    if b < a {
        diags.error_at(
            path,
            "EKS cannot downgrade a cluster",
            format!("The cluster runs Kubernetes {had}; EKS cannot go back to {want}. Keep version = {had:?} (or a later version)."),
        );
    } else if b > a + 1 {
        diags.error_at(
            path,
            "EKS upgrades one minor version at a time",
            format!(
                "The cluster runs Kubernetes {had}; EKS cannot go straight to {want}. Apply version = \"1.{}\" first, then the next, up to {want}.",
                a + 1
            ),
        );
    }
}

/// Plans the database side: defaults shown, identifier and port known, ids kept or unknown.
fn plan_database(prior: &Value, config: &Value, planned: &mut Value, diags: &mut Diagnostics) {
    let name = planned.get("name").clone();
    if single_block(planned, "database").is_null() {
        for (k, _) in DB_IDS {
            planned.set_attr(k, Value::Null);
        }
        for k in [
            "database_identifier",
            "database_port",
            "database_subnet_group_name",
            "database_ingress_restricted",
        ] {
            planned.set_attr(k, Value::Null);
        }
        return;
    }
    planned.set_attr("database_ingress_restricted", Value::Bool(true));
    let cfg = single_block(config, "database").clone();
    let mut engine = None;
    if let Value::List(items) = planned.get_mut("database") {
        if let Some(b) = items.first_mut() {
            engine = b.get("engine").as_str().map(str::to_string);
            let defaults: [(&str, Value); 10] = [
                (
                    "engine_version",
                    engine.as_deref().map_or(Value::Unknown, |e| {
                        Value::from(database::default_version(e))
                    }),
                ),
                ("instance_class", Value::from(DEFAULT_DB_CLASS)),
                ("allocated_storage", Value::int(DEFAULT_DB_STORAGE)),
                ("multi_az", Value::Bool(false)),
                ("deletion_protection", Value::Bool(false)),
                (
                    "backup_retention_period",
                    Value::int(DEFAULT_DB_BACKUP_DAYS),
                ),
                ("skip_final_snapshot", Value::Bool(false)),
                ("monitoring_interval", Value::int(DEFAULT_DB_MONITORING)),
                ("performance_insights", Value::Bool(false)),
                ("master_username", Value::from(DEFAULT_DB_USER)),
            ];
            for (k, v) in defaults {
                if cfg.get(k).is_null() {
                    b.set_attr(k, v);
                }
            }
        }
    }
    let replaced = !prior.get("database_arn").is_null() && database_replaced(prior, planned, diags);
    let gone = prior.get("database_arn").is_null() || replaced;
    for (k, _) in DB_IDS {
        let v = prior.get(k);
        let keep = match *k {
            "database_security_group_id" => !v.is_null(),
            _ => !v.is_null() && !gone,
        };
        planned.set_attr(k, if keep { v.clone() } else { Value::Unknown });
    }
    planned.set_attr(
        "database_identifier",
        match &name {
            Value::String(n) => Value::from(database::identifier(n)),
            _ => Value::Unknown,
        },
    );
    planned.set_attr(
        "database_subnet_group_name",
        planned.get("database_identifier").clone(),
    );
    planned.set_attr(
        "database_port",
        engine.map_or(Value::Unknown, |e| Value::int(database::port(&e).into())),
    );
}

/// Whether the planned database block changes something AWS cannot change on an existing
/// instance (engine, master user name): then the database is replaced, which the plan says
/// in a warning at the attribute, and refuses while deletion protection is on.
fn database_replaced(prior: &Value, planned: &Value, diags: &mut Diagnostics) -> bool {
    let (p, n) = (
        single_block(prior, "database"),
        single_block(planned, "database"),
    );
    let Some(attr) = ["engine", "master_username"]
        .into_iter()
        .find(|k| n.get(k).is_wholly_known() && p.get(k) != n.get(k))
    else {
        return false;
    };
    let path = AttributePath::root("database").index(0).attr(attr);
    let id = prior
        .get("database_identifier")
        .as_str()
        .unwrap_or("the database");
    let (from, to) = (
        p.get(attr).as_str().unwrap_or("?"),
        n.get(attr).as_str().unwrap_or("?"),
    );
    if p.get("deletion_protection").as_bool() == Some(true) {
        diags.error_at(
            path,
            "The database cannot be replaced while deletion protection is on",
            format!(
                "Changing database.{attr} from {from:?} to {to:?} needs a new DB instance: AWS cannot change an instance's {attr}. {id} has deletion protection on, so it is kept. To replace it, first apply with database.deletion_protection = false (and skip_final_snapshot = false to keep a final snapshot), then change {attr}."
            ),
        );
        return true;
    }
    let snapshot = if n.get("skip_final_snapshot").as_bool() == Some(true) {
        "without a final snapshot (skip_final_snapshot = true)".to_string()
    } else {
        format!("after taking a final snapshot {id}-final-<time>")
    };
    diags.warning_at(
        path,
        "The database will be replaced",
        format!(
            "AWS cannot change a DB instance's {attr} ({from:?} to {to:?}): apply deletes {id} {snapshot} and creates a new, empty instance with the same name, endpoint and a new master password secret. The VPC, cluster and everything else stay in place."
        ),
    );
    true
}

/// A node-group list as a map by name (entries without a known name are skipped).
fn by_name(list: &Value) -> BTreeMap<String, Value> {
    list.elements()
        .iter()
        .filter_map(|g| Some((g.get("name").as_str()?.to_string(), g.clone())))
        .collect()
}

fn node_group_spec(g: &Value) -> cluster::NodeGroupSpec {
    let min = int_or(g.get("min_size"), 1) as i32;
    let instance_types: Vec<String> = g
        .get("instance_types")
        .elements()
        .iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect();
    cluster::NodeGroupSpec {
        instance_types: if instance_types.is_empty() {
            vec![DEFAULT_INSTANCE_TYPE.to_string()]
        } else {
            instance_types
        },
        capacity_type: g
            .get("capacity_type")
            .as_str()
            .unwrap_or("ON_DEMAND")
            .to_string(),
        min_size: min,
        max_size: int_or(g.get("max_size"), min.into()) as i32,
        desired_size: int_or(g.get("desired_size"), min.into()) as i32,
        disk_size: int_or(g.get("disk_size"), DEFAULT_DISK_SIZE) as i32,
        labels: g.get("labels").to_string_map(),
        taints: g
            .get("taints")
            .elements()
            .iter()
            .map(|t| cluster::Taint {
                key: t.get("key").as_str().unwrap_or_default().to_string(),
                value: t.get("value").as_str().map(str::to_string),
                effect: t.get("effect").as_str().unwrap_or_default().to_string(),
            })
            .collect(),
    }
}

fn map_type() -> Type {
    Type::map(Type::String)
}

#[async_trait]
impl Resource<AwsContext> for Environment {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn schema(&self) -> Schema {
        let mut b = Block::new()
            .description("One environment's network, secure by construction: a VPC with public and private subnets per AZ (CIDRs planned and keyed by AZ), NAT (single or per AZ), routing, and VPC flow logs that are always on (traffic type ALL, own log group with retention, least-privilege delivery role).")
            .attr(Attribute::string("id").computed().description("The environment name."))
            .attr(Attribute::string("name").required().force_new().description("Environment name (e.g. `project-a-prod`): 1-32 lower-case letters, digits and hyphens, starting with a letter. Names every object; import by it."))
            .attr(Attribute::string("vpc_cidr").required().force_new().description("The VPC's IPv4 CIDR, /16 to /28. AWS cannot change it in place: a change replaces the environment."))
            .attr(Attribute::string_list("availability_zones").required().description("2 to 6 distinct AZs of the provider's region. Each AZ's subnets live in a slot given by its zone letter, so adding or removing an AZ never touches the others."))
            .attr(Attribute::string("nat_gateways").default("single").description("`single` (one NAT in the first AZ; cheap, for dev/qa) or `per_az` (one NAT per AZ; for prod)."))
            .attr(Attribute::number("subnet_newbits").default(DEFAULT_NEWBITS).force_new().description("Bits added to the VPC prefix for each subnet (4 to 12). Default 4: a /16 VPC gets /20 subnets."))
            .attr(Attribute::string_map("tags").optional().description("Tags for every object, merged over the provider's `default_tags`."))
            .attr(Attribute::string_map("tags_all").computed().description("All tags applied, including `default_tags` and the platform ownership tags."))
            .attr(Attribute::new("public_subnet_cidrs", map_type()).computed().description("Public subnet CIDR by AZ (planned)."))
            .attr(Attribute::new("private_subnet_cidrs", map_type()).computed().description("Private subnet CIDR by AZ (planned)."))
            .attr(Attribute::new("nat_gateway_ids", map_type()).computed().description("NAT gateway id by the AZ it lives in."))
            .attr(Attribute::new("nat_public_ips", map_type()).computed().description("NAT gateway public (Elastic) IP by AZ."))
            .attr(Attribute::string("flow_log_group_name").computed().description("The CloudWatch log group receiving the flow logs."))
            .attr(Attribute::string("flow_log_traffic_type").computed().description("Traffic type of the flow log: always `ALL` (drift shows here)."));
        for (n, d) in AZ_MAPS {
            b = b.attr(Attribute::new(n, map_type()).computed().description(d));
        }
        for (n, d) in IDS {
            b = b.attr(Attribute::string(n).computed().description(d));
        }
        for (n, d) in CLUSTER_IDS {
            b = b.attr(Attribute::string(n).computed().description(d));
        }
        b = b
            .attr(Attribute::string("cluster_name").computed().description("Name of the EKS cluster (the environment name)."))
            .attr(Attribute::string("cluster_log_group_name").computed().description("Log group of the control-plane logs, created with its retention before the cluster."))
            .attr(Attribute::string_list("cluster_enabled_log_types").computed().description("Control-plane log types enabled: always all five (drift shows here)."))
            .attr(Attribute::string_list("cluster_security_group_ids").computed().description("Security groups attached to the control plane's ENIs (the node security group)."))
            .attr(Attribute::new("node_group_arns", map_type()).computed().description("Node group ARN by name."));
        b = b
            .block(flow_logs_block())
            .block(cluster_block())
            .block(node_groups_block())
            .block(database_block())
            .block(timeouts_block());
        for (n, d) in DB_IDS {
            b = b.attr(Attribute::string(n).computed().description(d));
        }
        b = b
            .attr(
                Attribute::string("database_identifier")
                    .computed()
                    .description("The DB instance identifier (`<name>-db`)."),
            )
            .attr(
                Attribute::number("database_port")
                    .computed()
                    .description("The engine port."),
            )
            .attr(
                Attribute::string("database_subnet_group_name")
                    .computed()
                    .description("The DB subnet group over the private subnets."),
            )
            .attr(
                Attribute::bool("database_ingress_restricted")
                    .computed()
                    .description("Read back from AWS: true when the database security group's only ingress is the engine port from the node security group. A rule added out of band reads false, shows in the plan, and apply revokes it."),
            );
        Schema::new(0, b)
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
        if planned.is_null() {
            return;
        }
        let prior = &req.prior;
        let name = planned.get("name").clone();
        planned.set_attr("id", name.clone());
        planned.set_attr(
            "flow_log_group_name",
            match &name {
                Value::String(n) => Value::from(network::flow_log_group_name(n)),
                _ => Value::Unknown,
            },
        );
        planned.set_attr("flow_log_traffic_type", Value::from("ALL"));
        let tags_all = tags::planned_all(&aws.default_tags, &name, planned.get("tags"), TYPE_NAME);
        planned.set_attr("tags_all", tags_all);
        plan_cluster(prior, &req.config, planned, diags);
        plan_database(prior, &req.config, planned, diags);

        let subnets = match plan_subnets(planned) {
            Some(Ok(s)) => Some(s),
            Some(Err(e)) => {
                diags.error_at(
                    AttributePath::root("vpc_cidr"),
                    "Cannot lay out subnets",
                    e.to_string(),
                );
                return;
            }
            None => None,
        };
        match &subnets {
            Some(s) => {
                let (p, q) = cidr_maps(s);
                planned.set_attr("public_subnet_cidrs", p);
                planned.set_attr("private_subnet_cidrs", q);
            }
            None => {
                planned.set_attr("public_subnet_cidrs", Value::Unknown);
                planned.set_attr("private_subnet_cidrs", Value::Unknown);
            }
        }

        // Ids: keep what exists, mark what must be (re)created as unknown, drop what goes.
        let keep_or_unknown = |v: &Value| {
            if v.is_null() {
                Value::Unknown
            } else {
                v.clone()
            }
        };
        for (k, _) in IDS {
            let v = if prior.is_null() {
                Value::Unknown
            } else {
                keep_or_unknown(prior.get(k))
            };
            planned.set_attr(k, v);
        }
        let azs: Option<Vec<String>> = subnets.as_ref().map(|s| s.keys().cloned().collect());
        let keyed = |attr: &str, keys: &Option<Vec<String>>| -> Value {
            match keys {
                None => Value::Unknown,
                Some(keys) => Value::Map(
                    keys.iter()
                        .map(|az| (az.clone(), keep_or_unknown(prior.get(attr).get(az))))
                        .collect(),
                ),
            }
        };
        for (k, _) in AZ_MAPS {
            planned.set_attr(k, keyed(k, &azs));
        }
        let nat_mode = planned
            .get("nat_gateways")
            .as_str()
            .and_then(NatMode::parse);
        let nat_azs = match (&azs, nat_mode) {
            (Some(a), Some(NatMode::PerAz)) => Some(a.clone()),
            (Some(a), Some(NatMode::Single)) => Some(a.iter().take(1).cloned().collect()),
            _ => None,
        };
        planned.set_attr("nat_gateway_ids", keyed("nat_gateway_ids", &nat_azs));
        planned.set_attr("nat_public_ips", keyed("nat_public_ips", &nat_azs));

        // A NAT change re-points private routes; a subnet change re-associates the public table.
        if !prior.is_null() {
            if planned.get("nat_gateway_ids") != prior.get("nat_gateway_ids") {
                planned.set_attr(
                    "private_route_table_ids",
                    keyed("private_route_table_ids", &azs)
                        .entries()
                        .map_or(Value::Unknown, |m| {
                            Value::Map(m.keys().map(|k| (k.clone(), Value::Unknown)).collect())
                        }),
                );
            }
            if planned.get("public_subnet_ids") != prior.get("public_subnet_ids") {
                planned.set_attr("public_route_table_id", Value::Unknown);
            }
            // Flow logs cannot be modified: a format or interval change replaces the flow log.
            let pf = single_block(prior, "flow_logs");
            let nf = single_block(planned, "flow_logs").clone();
            let agg = |b: &Value| int_or(b.get("max_aggregation_interval"), DEFAULT_AGGREGATION);
            if pf.get("log_format") != nf.get("log_format") || agg(pf) != agg(&nf) {
                planned.set_attr("flow_log_id", Value::Unknown);
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
        let owner = owner(&name);
        let cctx = Self::cluster_ctx(aws, DEFAULT_TIMEOUT);
        let dctx = Self::database_ctx(aws, DEFAULT_TIMEOUT);
        let sgs = network::OwnedSecurityGroups::default();
        let (o, oc, od) = tokio::join!(
            network::observe(aws.ec2(), aws.logs(), aws.iam(), &name, &owner),
            cluster::observe(&cctx, &name, &owner, &sgs),
            database::observe(&dctx, &name, &owner, &sgs)
        );
        let od = od.map_err(|e| {
            Diagnostics::from_error("Could not read the environment's database", e.to_string())
        })?;
        let o = o.map_err(|e| {
            Diagnostics::from_error("Could not read the environment", e.to_string())
        })?;
        let oc = oc.map_err(|e| {
            Diagnostics::from_error("Could not read the environment's cluster", e.to_string())
        })?;
        if o.vpc_id.is_none()
            && o.log_group.is_none()
            && o.role_arn.is_none()
            && oc.is_empty()
            && od.is_empty()
        {
            tracing::info!(target: "platform::environment", env = %name, "environment is gone; removing from state");
            return Ok(None);
        }
        let mut s = state.clone();
        Self::fill(aws, &mut s, &o);
        Self::fill_cluster(&mut s, &oc);
        Self::fill_database(&mut s, &od);
        Ok(Some(s))
    }

    async fn delete(&self, aws: &AwsContext, prior: &Value) -> ApplyOutcome {
        let name = prior.get("name").as_str().unwrap_or_default().to_string();
        let owner = tags::owner(TYPE_NAME, &name);
        let ctx = network::Ctx {
            ec2: aws.ec2(),
            logs: aws.logs(),
            iam: aws.iam(),
            cancel: &aws.cancel,
            timeout: Self::timeout(prior, "delete"),
        };
        let cctx = Self::cluster_ctx(aws, Self::timeout(prior, "delete"));
        let dctx = Self::database_ctx(aws, Self::timeout(prior, "delete"));
        let skip = single_block(prior, "database")
            .get("skip_final_snapshot")
            .as_bool()
            .unwrap_or(false);
        // The database (it trusts the node security group), then the cluster (node groups
        // before the cluster), then the network under both.
        let r = match database::delete(&dctx, &name, skip).await {
            Ok(()) => match cluster::delete(&cctx, &name).await {
                Ok(()) => network::delete(&ctx, &name, &owner).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        match r {
            Ok(()) => ApplyOutcome::ok(Value::Null),
            Err(e) => {
                // Report what is left so the next destroy resumes.
                let mut s = prior.clone();
                if let Ok(o) = network::observe(ctx.ec2, ctx.logs, ctx.iam, &name, &owner).await {
                    Self::fill(aws, &mut s, &o);
                }
                if let Ok(oc) = cluster::observe(&cctx, &name, &owner, &Default::default()).await {
                    Self::fill_cluster(&mut s, &oc);
                }
                if let Ok(od) = database::observe(&dctx, &name, &owner, &Default::default()).await {
                    Self::fill_database(&mut s, &od);
                }
                ApplyOutcome::failed(
                    s,
                    Diagnostics::from_error("Cannot delete the environment", e.to_string()),
                )
            }
        }
    }

    async fn import(&self, aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
        if let Err(why) = validate::env_name(id) {
            return Err(Diagnostics::from_error(
                "Invalid import id",
                format!("Import an environment by its name; {id:?} {why}."),
            ));
        }
        let owner = tags::owner(TYPE_NAME, id);
        let o = network::observe(aws.ec2(), aws.logs(), aws.iam(), id, &owner)
            .await
            .map_err(|e| Diagnostics::from_error("Cannot import", e.to_string()))?;
        let Some(vpc_cidr) = o.vpc_cidr.clone() else {
            return Err(Diagnostics::from_error(
                "Cannot import: no such environment",
                format!(
                    "No VPC tagged {}={owner:?} exists in this account and region.",
                    platform_aws::tags::OWNER_KEY
                ),
            ));
        };
        let azs: Vec<String> = o
            .subnets
            .iter()
            .filter(|(k, _)| k.starts_with("subnet/private/"))
            .map(|(_, s)| s.az.clone())
            .collect();
        let vpc_prefix = cidr::Cidr::parse(&vpc_cidr)
            .map(|c| c.prefix as i64)
            .unwrap_or(16);
        let newbits = o
            .subnets
            .values()
            .next()
            .and_then(|s| cidr::Cidr::parse(&s.cidr).ok())
            .map_or(DEFAULT_NEWBITS, |c| c.prefix as i64 - vpc_prefix);
        let nat = if o.nats.len() > 1 { "per_az" } else { "single" };
        let lg = network::flow_log_group_name(id);
        let flow = o.good_flow_log(&lg);
        let retention = o.log_group.as_ref().and_then(|g| g.retention_in_days);
        let agg = flow.and_then(|f| f.max_aggregation_interval);
        let non_default = retention.is_some_and(|r| i64::from(r) != DEFAULT_FLOW_RETENTION)
            || agg.is_some_and(|a| i64::from(a) != DEFAULT_AGGREGATION)
            || o.log_group
                .as_ref()
                .is_some_and(|g| g.kms_key_arn.is_some());
        let flow_block = if non_default {
            Value::List(vec![Value::object([
                (
                    "retention_in_days",
                    retention.map_or(Value::Null, |r| Value::int(r.into())),
                ),
                (
                    "kms_key_arn",
                    Value::opt_string(o.log_group.as_ref().and_then(|g| g.kms_key_arn.clone())),
                ),
                ("log_format", Value::Null),
                (
                    "max_aggregation_interval",
                    agg.filter(|a| i64::from(*a) != DEFAULT_AGGREGATION)
                        .map_or(Value::Null, |a| Value::int(a.into())),
                ),
            ])])
        } else {
            Value::List(vec![])
        };
        let mut v = Value::object([
            ("id", Value::from(id)),
            ("name", Value::from(id)),
            ("vpc_cidr", Value::from(vpc_cidr)),
            (
                "availability_zones",
                Value::List(azs.into_iter().map(Value::from).collect()),
            ),
            ("nat_gateways", Value::from(nat)),
            ("subnet_newbits", Value::int(newbits)),
            ("flow_logs", flow_block),
            ("timeouts", Value::List(vec![])),
        ]);
        Self::fill(aws, &mut v, &o);
        let cctx = Self::cluster_ctx(aws, DEFAULT_TIMEOUT);
        let oc = cluster::observe(&cctx, id, &owner, &Default::default())
            .await
            .map_err(|e| Diagnostics::from_error("Cannot import", e.to_string()))?;
        v.set_attr("node_groups", Value::List(vec![]));
        v.set_attr("cluster", Value::List(vec![]));
        if let Some(cl) = &oc.cluster {
            let own_key =
                cl.secrets_kms_key_arn.is_some() && cl.secrets_kms_key_arn == oc.kms_key_arn;
            v.set_attr(
                "cluster",
                Value::List(vec![Value::object([
                    ("version", Value::opt_string(cl.version.clone())),
                    (
                        "endpoint_public_access",
                        Value::Bool(cl.endpoint_public_access),
                    ),
                    (
                        "public_access_cidrs",
                        if cl.endpoint_public_access {
                            Value::List(
                                cl.public_access_cidrs
                                    .iter()
                                    .map(|x| Value::from(x.clone()))
                                    .collect(),
                            )
                        } else {
                            Value::Null
                        },
                    ),
                    (
                        "secrets_kms_key_arn",
                        if own_key {
                            Value::Null
                        } else {
                            Value::opt_string(cl.secrets_kms_key_arn.clone())
                        },
                    ),
                    ("log_retention_in_days", Value::Null),
                ])]),
            );
        }
        Self::fill_cluster(&mut v, &oc);
        let dctx = Self::database_ctx(aws, DEFAULT_TIMEOUT);
        let od = database::observe(&dctx, id, &owner, &Default::default())
            .await
            .map_err(|e| Diagnostics::from_error("Cannot import", e.to_string()))?;
        v.set_attr("database", Value::List(vec![]));
        if let Some(i) = &od.instance {
            let engine = if i.port == Some(3306) {
                "mysql"
            } else {
                "postgres"
            };
            let major = i
                .engine_version
                .as_deref()
                .map(|v| {
                    let parts: Vec<&str> = v.split('.').collect();
                    if engine == "mysql" && parts.len() > 1 {
                        format!("{}.{}", parts[0], parts[1])
                    } else {
                        parts[0].to_string()
                    }
                })
                .unwrap_or_else(|| database::default_version(engine).to_string());
            v.set_attr(
                "database",
                Value::List(vec![Value::object([
                    ("engine", Value::from(engine)),
                    ("engine_version", Value::from(major)),
                    ("skip_final_snapshot", Value::Bool(false)),
                    ("master_username", Value::from(DEFAULT_DB_USER)),
                ])]),
            );
        }
        Self::fill_database(&mut v, &od);
        if oc.cluster.is_none() {
            v.set_attr("node_groups", Value::List(vec![]));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_types_are_consistent() {
        let s = Environment.schema();
        for (n, _) in AZ_MAPS.iter().chain(IDS) {
            assert!(s
                .block
                .attribute(n)
                .is_some_and(|a| a.computed && !a.optional));
        }
        assert!(s.block.attribute("vpc_cidr").is_some_and(|a| a.force_new));
        assert!(!s
            .block
            .attribute("availability_zones")
            .is_some_and(|a| a.force_new));
    }

    #[test]
    fn planned_cidrs_follow_the_config() {
        let cfg = Value::object([
            ("vpc_cidr", Value::from("10.0.0.0/16")),
            (
                "availability_zones",
                Value::List(vec![Value::from("us-east-1a"), Value::from("us-east-1b")]),
            ),
            ("subnet_newbits", Value::int(4)),
        ]);
        let s = plan_subnets(&cfg).unwrap().unwrap();
        let (p, q) = cidr_maps(&s);
        assert_eq!(p.get("us-east-1b").as_str(), Some("10.0.144.0/20"));
        assert_eq!(q.get("us-east-1a").as_str(), Some("10.0.0.0/20"));
        let unknown = Value::object([
            ("vpc_cidr", Value::from("10.0.0.0/16")),
            ("availability_zones", Value::Unknown),
        ]);
        assert!(plan_subnets(&unknown).is_none());
    }
}
