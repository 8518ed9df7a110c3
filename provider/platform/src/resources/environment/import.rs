//! Import by the environment's name: the owner tag finds every part, and the configuration
//! blocks are rebuilt from what AWS reports, leaving defaults null so the configuration that
//! created the environment plans no change.

use super::schema::*;
use super::{cidr, cluster, database, network, observe, tags, validate, TYPE_NAME};
use platform_aws::AwsContext;
use tfplugin_framework::{Diagnostics, Value};

/// The environment named `id`, as a state that plans no change against the configuration
/// that created it.
pub(super) async fn import(aws: &AwsContext, id: &str) -> Result<Value, Diagnostics> {
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
    observe::fill_network(aws, &mut v, &o);
    let cctx = observe::cluster_ctx(aws, DEFAULT_TIMEOUT);
    let oc = cluster::observe(&cctx, id, &owner, &Default::default())
        .await
        .map_err(|e| Diagnostics::from_error("Cannot import", e.to_string()))?;
    v.set_attr("node_groups", Value::List(vec![]));
    v.set_attr("cluster", Value::List(vec![]));
    if let Some(cl) = &oc.cluster {
        let own_key = cl.secrets_kms_key_arn.is_some() && cl.secrets_kms_key_arn == oc.kms_key_arn;
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
    observe::fill_cluster(&mut v, &oc);
    let dctx = observe::database_ctx(aws, DEFAULT_TIMEOUT);
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
    observe::fill_database(&mut v, &od);
    if oc.cluster.is_none() {
        v.set_attr("node_groups", Value::List(vec![]));
    }
    Ok(v)
}
