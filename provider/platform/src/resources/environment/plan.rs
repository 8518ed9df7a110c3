//! Plan: what `terraform plan` shows. Everything derivable is computed here (CIDRs, names,
//! defaults), values that will not change keep their prior value, and what AWS cannot do is
//! said at the attribute before any API call (docs/design.md "How a composite behaves").

use super::desired::{by_name, cidr_maps, int_or, plan_subnets, single_block};
use super::replace::{self, DatabaseFixed, NodeGroupFixed, NODE_GROUP_FIXED};
use super::schema::*;
use super::{cluster, database, network, TYPE_NAME};
use network::NatMode;
use platform_aws::{tags, AwsContext};
use std::collections::BTreeMap;
use tfplugin_framework::{AttributePath, Diagnostics, PlanRequest, Value};

/// Plans the whole environment: ids, names and tags, then the cluster and database sides,
/// then the network (subnet CIDRs, ids kept or unknown, what a change re-creates).
pub(super) fn modify_plan(
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

/// A part the configuration does not have: its ids and derived attributes are null, so
/// the plan shows it going rather than "(known after apply)".
fn set_null(planned: &mut Value, ids: &[(&str, &str)], derived: &[&str]) {
    for k in ids.iter().map(|(k, _)| k).chain(derived) {
        planned.set_attr(k, Value::Null);
    }
}

/// Plans the cluster side: defaults shown, derived names known, ids kept or unknown.
fn plan_cluster(prior: &Value, config: &Value, planned: &mut Value, diags: &mut Diagnostics) {
    let name = planned.get("name").clone();
    let cfg_cl = single_block(config, "cluster");
    if single_block(planned, "cluster").is_null() {
        set_null(
            planned,
            CLUSTER_IDS,
            &[
                "cluster_name",
                "cluster_log_group_name",
                "cluster_secrets_kms_alias",
                "cluster_enabled_log_types",
                "cluster_security_group_ids",
                "node_group_arns",
            ],
        );
        return;
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
    // Our own secrets key has its alias; a given key has none of ours.
    planned.set_attr(
        "cluster_secrets_kms_alias",
        match (&name, cfg_cl.get("secrets_kms_key_arn")) {
            (_, Value::String(_)) => Value::Null,
            (Value::String(n), Value::Null) => Value::from(cluster::kms_alias(n)),
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
            // The rule apply follows (`replace::node_group`); a value not yet known may
            // replace the group, so the plan says so and leaves its ARN unknown.
            let changed: Vec<&str> = if p.is_null() {
                Vec::new()
            } else {
                match (NodeGroupFixed::of(&p), NodeGroupFixed::of(g)) {
                    (Some(have), Some(want)) => replace::node_group(&have, &want),
                    _ => NODE_GROUP_FIXED
                        .into_iter()
                        .filter(|k| !g.get(k).is_wholly_known())
                        .collect(),
                }
            };
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

/// EKS upgrades a cluster one minor version at a time and never downgrades
/// (`replace::cluster_version`): say so at plan time rather than fail half-way through an
/// apply.
fn check_version_change(
    prior: &Value,
    planned: &Value,
    cluster_gone: bool,
    diags: &mut Diagnostics,
) {
    let (had, want) = (
        single_block(prior, "cluster").get("version").as_str(),
        single_block(planned, "cluster").get("version").as_str(),
    );
    let (Some(had), Some(want)) = (had, want) else {
        return;
    };
    if cluster_gone {
        return;
    }
    if let Err(refusal) = replace::cluster_version(had, want) {
        diags.error_at(
            AttributePath::root("cluster").index(0).attr("version"),
            refusal.summary(),
            refusal.to_string(),
        );
    }
}

/// Plans the database side: defaults shown, identifier and port known, ids kept or unknown.
fn plan_database(prior: &Value, config: &Value, planned: &mut Value, diags: &mut Diagnostics) {
    let name = planned.get("name").clone();
    if single_block(planned, "database").is_null() {
        set_null(
            planned,
            DB_IDS,
            &[
                "database_identifier",
                "database_port",
                "database_subnet_group_name",
                "database_ingress_restricted",
            ],
        );
        return;
    }
    planned.set_attr("database_ingress_restricted", Value::Bool(true));
    let cfg = single_block(config, "database").clone();
    let mut engine = None;
    if let Value::List(items) = planned.get_mut("database") {
        if let Some(b) = items.first_mut() {
            engine = b.get("engine").as_str().map(str::to_string);
            // The engine version's default depends on the engine; the others are the schema's.
            if cfg.get("engine_version").is_null() {
                b.set_attr(
                    "engine_version",
                    engine.as_deref().map_or(Value::Unknown, |e| {
                        Value::from(database::default_version(e))
                    }),
                );
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
/// instance (`replace::database`, the rule apply follows too): then the database is replaced, which the plan says
/// in a warning at the attribute, and refuses while deletion protection is on.
fn database_replaced(prior: &Value, planned: &Value, diags: &mut Diagnostics) -> bool {
    let (p, n) = (
        single_block(prior, "database"),
        single_block(planned, "database"),
    );
    let Some(replace::Replacement { attr, from, to }) =
        replace::database(DatabaseFixed::of(p), DatabaseFixed::of(n))
    else {
        return false;
    };
    let path = AttributePath::root("database").index(0).attr(attr);
    let id = prior
        .get("database_identifier")
        .as_str()
        .unwrap_or("the database");
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

/// A create planned while this environment's VPC already exists (one DescribeVpcs by owner
/// tag): a warning that says what this apply will do with it. Terraform plans a tainted
/// environment's replacement as a create, so this is where the user learns that
/// `terraform untaint` resumes instead. A failed lookup only skips the warning.
pub(super) async fn warn_if_objects_exist(aws: &AwsContext, name: &str, diags: &mut Diagnostics) {
    let owner = tags::owner(TYPE_NAME, name);
    let r = aws
        .ec2()
        .describe_vpcs()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{}", tags::OWNER_KEY))
                .values(&owner)
                .build(),
        )
        .send()
        .await;
    let Ok(r) = r else { return };
    if let Some(id) = r.vpcs().iter().find_map(|v| v.vpc_id()) {
        diags.warning(
            "This environment already exists in AWS",
            platform_aws::resume::existing_objects(TYPE_NAME, name, &format!("VPC {id}")),
        );
    }
}
