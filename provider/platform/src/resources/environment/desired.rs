//! Configuration to desired state: what the network, the cluster and the database should be,
//! read from a planned value with the schema's defaults applied. Apply converges AWS to
//! these; plan uses the same helpers (`plan_subnets`, `by_name`) so both agree on the shape.

use super::schema::*;
use super::{cidr, cluster, database, network, owner, validate, StepError};
use network::NatMode;
use platform_aws::{tags, AwsContext};
use std::collections::BTreeMap;
use std::time::Duration;
use tfplugin_framework::Value;

/// The one `flow_logs` / `timeouts` block's object, or null when the block is absent.
pub(super) fn single_block<'a>(v: &'a Value, name: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    v.get(name).elements().first().unwrap_or(&NULL)
}

/// A number attribute, or its default when null or unknown.
pub(super) fn int_or(v: &Value, default: i64) -> i64 {
    v.as_i64().unwrap_or(default)
}

/// The AZ list of a configuration, when wholly known.
pub(super) fn azs_of(v: &Value) -> Option<Vec<String>> {
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
pub(super) fn plan_subnets(
    v: &Value,
) -> Option<Result<BTreeMap<String, cidr::AzSubnets>, cidr::CidrError>> {
    let vpc = v.get("vpc_cidr").as_str()?;
    let azs = azs_of(v)?;
    let newbits = v.get("subnet_newbits");
    if newbits.is_unknown() {
        return None;
    }
    let newbits = int_or(newbits, DEFAULT_NEWBITS);
    Some(cidr::vpc_cidr(vpc).and_then(|c| cidr::plan(&c, newbits.clamp(0, 32) as u8, &azs)))
}

/// Planned CIDRs as the `public_subnet_cidrs` / `private_subnet_cidrs` maps.
pub(super) fn cidr_maps(s: &BTreeMap<String, cidr::AzSubnets>) -> (Value, Value) {
    (
        Value::string_map(s.iter().map(|(az, x)| (az.clone(), x.public.to_string()))),
        Value::string_map(s.iter().map(|(az, x)| (az.clone(), x.private.to_string()))),
    )
}

/// The network to have; an error only when the subnet layout cannot be worked out (the
/// plan has refused such a configuration already).
pub(super) fn network(aws: &AwsContext, v: &Value) -> Result<network::DesiredNetwork, StepError> {
    let name = v.get("name").as_str().unwrap_or_default().to_string();
    let subnets = plan_subnets(v)
        .ok_or_else(|| StepError::new("plan", "subnet layout is not known"))?
        .map_err(|e| StepError::new("plan", e.to_string()))?;
    let fl = single_block(v, "flow_logs");
    Ok(network::DesiredNetwork {
        owner: tags::owner(TYPE_NAME, &name),
        tags: all_tags(aws, v, &name),
        vpc_cidr: v.get("vpc_cidr").as_str().unwrap_or_default().to_string(),
        subnets,
        nat: NatMode::parse(v.get("nat_gateways").as_str().unwrap_or("single"))
            .unwrap_or(NatMode::Single),
        flow: network::FlowLogSettings {
            retention_in_days: int_or(fl.get("retention_in_days"), DEFAULT_FLOW_RETENTION) as i32,
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

/// Every part carries the same tags: the configuration's over the provider's defaults,
/// plus the ownership tags that let observe find the part again.
fn all_tags(aws: &AwsContext, v: &Value, name: &str) -> BTreeMap<String, String> {
    tags::merged(
        &aws.default_tags,
        &v.get("tags").to_string_map(),
        TYPE_NAME,
        name,
    )
}

/// The cluster to have, or `None` when the configuration has no `cluster` block.
pub(super) fn cluster(
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
        tags: all_tags(aws, v, &name),
        version: cl.get("version").as_str().unwrap_or_default().to_string(),
        endpoint_public_access: cl
            .get("endpoint_public_access")
            .as_bool()
            .unwrap_or_default(),
        public_access_cidrs: cl
            .get("public_access_cidrs")
            .elements()
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        secrets_kms_key_arn: cl.get("secrets_kms_key_arn").as_str().map(str::to_string),
        log_retention_in_days: cl.get("log_retention_in_days").as_i64().unwrap_or_default() as i32,
        prior_disk_sizes: by_name(prior.get("node_groups"))
            .into_iter()
            .filter_map(|(n, p)| Some((n, p.get("disk_size").as_i64()?)))
            .collect(),
        node_groups,
        name,
    })
}

/// The database to have, or `None` without a `database` block.
pub(super) fn database(aws: &AwsContext, v: &Value) -> Option<database::DesiredDatabase> {
    let db = single_block(v, "database");
    if db.is_null() {
        return None;
    }
    let env = v.get("name").as_str().unwrap_or_default().to_string();
    let engine = db.get("engine").as_str().unwrap_or("postgres").to_string();
    Some(database::DesiredDatabase {
        owner: owner(&env),
        tags: all_tags(aws, v, &env),
        engine_version: db
            .get("engine_version")
            .as_str()
            .unwrap_or(database::default_version(&engine))
            .to_string(),
        instance_class: db
            .get("instance_class")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        allocated_storage: db.get("allocated_storage").as_i64().unwrap_or_default() as i32,
        max_allocated_storage: db.get("max_allocated_storage").as_i64().map(|x| x as i32),
        multi_az: db.get("multi_az").as_bool().unwrap_or_default(),
        deletion_protection: db.get("deletion_protection").as_bool().unwrap_or_default(),
        backup_retention_period: db
            .get("backup_retention_period")
            .as_i64()
            .unwrap_or_default() as i32,
        monitoring_interval: db.get("monitoring_interval").as_i64().unwrap_or_default() as i32,
        performance_insights: db.get("performance_insights").as_bool().unwrap_or_default(),
        master_username: db
            .get("master_username")
            .as_str()
            .unwrap_or_default()
            .to_string(),
        skip_final_snapshot: db.get("skip_final_snapshot").as_bool().unwrap_or_default(),
        engine,
        env,
    })
}

/// The `timeouts` block's `which` value, or the default: the deadline for every wait.
pub(super) fn timeout(v: &Value, which: &str) -> Duration {
    single_block(v, "timeouts")
        .get(which)
        .as_str()
        .and_then(|s| validate::duration(s).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// A node-group list as a map by name (entries without a known name are skipped).
pub(super) fn by_name(list: &Value) -> BTreeMap<String, Value> {
    list.elements()
        .iter()
        .filter_map(|g| Some((g.get("name").as_str()?.to_string(), g.clone())))
        .collect()
}

/// A planned `node_groups` element as the cluster side wants it (the plan filled the defaults).
pub(super) fn node_group_spec(g: &Value) -> cluster::NodeGroupSpec {
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
            .unwrap_or_default()
            .to_string(),
        min_size: min,
        max_size: int_or(g.get("max_size"), min.into()) as i32,
        desired_size: int_or(g.get("desired_size"), min.into()) as i32,
        disk_size: g.get("disk_size").as_i64().unwrap_or_default() as i32,
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

#[cfg(test)]
mod tests {
    use super::*;

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
