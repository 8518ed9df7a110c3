//! Read: AWS to state. Each part is observed with a few filtered Describe calls and its
//! observation written into the state value, so read, the end of apply, a failed delete and
//! import all report reality the same way.

use super::desired::{by_name, single_block};
use super::schema::*;
use super::{cluster, database, network, owner, TYPE_NAME};
use network::{NatMode, ObservedNetwork};
use platform_aws::{partition, tags, AwsContext};
use std::collections::BTreeMap;
use std::time::Duration;
use tfplugin_framework::{Diagnostics, Value};

/// Refresh: the three parts observed concurrently and written into `state`; `None` (the
/// environment leaves state) only when nothing owned by it is left in AWS.
pub(super) async fn read(aws: &AwsContext, state: &Value) -> Result<Option<Value>, Diagnostics> {
    let name = state.get("name").as_str().unwrap_or_default().to_string();
    let owner = owner(&name);
    let cctx = cluster_ctx(aws, DEFAULT_TIMEOUT);
    let dctx = database_ctx(aws, DEFAULT_TIMEOUT);
    let sgs = network::OwnedSecurityGroups::default();
    let (o, oc, od) = tokio::join!(
        network::observe(aws.ec2(), aws.logs(), aws.iam(), &name, &owner),
        cluster::observe(&cctx, &name, &owner, &sgs),
        database::observe(&dctx, &name, &owner, &sgs)
    );
    let od = od.map_err(|e| {
        Diagnostics::from_error("Could not read the environment's database", e.to_string())
    })?;
    let o =
        o.map_err(|e| Diagnostics::from_error("Could not read the environment", e.to_string()))?;
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
    fill_network(aws, &mut s, &o);
    fill_cluster(&mut s, &oc);
    fill_database(&mut s, &od);
    Ok(Some(s))
}

/// The clients and deadline the cluster side works with.
pub(super) fn cluster_ctx<'a>(aws: &'a AwsContext, timeout: Duration) -> cluster::Ctx<'a> {
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

/// The clients and deadline the database side works with.
pub(super) fn database_ctx<'a>(aws: &'a AwsContext, timeout: Duration) -> database::Ctx<'a> {
    database::Ctx {
        ec2: aws.ec2(),
        iam: aws.iam(),
        rds: aws.rds(),
        cancel: &aws.cancel,
        timeout,
        partition: partition(&aws.region),
    }
}

/// Fills the computed attributes of `state` from an observation.
pub(super) fn fill_network(aws: &AwsContext, state: &mut Value, o: &ObservedNetwork) {
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
    let mut user = tags::user_tags(&o.vpc_tags, &aws.default_tags, state.get("tags"));
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

/// Fills the cluster attributes of `state` from an observation.
pub(super) fn fill_cluster(state: &mut Value, o: &cluster::ObservedCluster) {
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
        state.set_attr("cluster_secrets_kms_alias", Value::Null);
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
        "cluster_secrets_kms_alias",
        Value::opt_string(cluster::secrets_alias(o, &name)),
    );
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

/// Fills the database attributes of `state` from an observation.
pub(super) fn fill_database(state: &mut Value, o: &database::ObservedDatabase) {
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
