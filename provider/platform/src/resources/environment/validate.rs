//! Input rules for `platform_environment`, checked at validate and plan time, before any
//! AWS call. Each problem is a diagnostic naming its attribute. Unknown values are skipped:
//! the plan sees them again once known.

use super::cidr;
use std::collections::BTreeSet;
use tfplugin_framework::{AttributePath, Diagnostics, Value};

/// Retention periods CloudWatch Logs accepts.
pub const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Environment names become parts of VPC, IAM role, log group, EKS and RDS names: keep them
/// within every one of those rules.
pub fn env_name(name: &str) -> Result<(), String> {
    if !(1..=32).contains(&name.len()) {
        return Err(format!(
            "must be 1 to 32 characters long (is {})",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lower-case letter".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "may contain only lower-case letters, digits and hyphens (found {c:?})"
        ));
    }
    if name.ends_with('-') || name.contains("--") {
        return Err("must not end with a hyphen or contain two in a row".into());
    }
    Ok(())
}

use platform_aws::validate::kms_key_arn;
pub use platform_aws::wait::duration;

fn number(v: &Value) -> Option<Result<i64, String>> {
    match v {
        Value::Number(n) => Some(
            n.as_i64()
                .ok_or_else(|| format!("{n} is not a whole number")),
        ),
        _ => None,
    }
}

pub fn config(c: &Value) -> Diagnostics {
    let mut d = Diagnostics::new();
    if let Some(n) = c.get("name").as_str() {
        if let Err(why) = env_name(n) {
            d.error_at(
                AttributePath::root("name"),
                "Invalid environment name",
                format!("Environment name {n:?} {why}."),
            );
        }
    }
    let vpc = c.get("vpc_cidr").as_str().map(|s| (s, cidr::vpc_cidr(s)));
    if let Some((s, Err(e))) = &vpc {
        d.error_at(
            AttributePath::root("vpc_cidr"),
            "Invalid VPC CIDR",
            format!("vpc_cidr {s:?}: {e}."),
        );
    }
    let azs_v = c.get("availability_zones");
    let mut azs_ok: Option<Vec<String>> = None;
    if azs_v.is_wholly_known() && !azs_v.is_null() {
        let azs: Vec<String> = azs_v
            .elements()
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect();
        let path = AttributePath::root("availability_zones");
        let mut ok = true;
        if !(2..=6).contains(&azs.len()) {
            ok = false;
            d.error_at(
                path.clone(),
                "Invalid availability zones",
                format!(
                    "An environment spans 2 to 6 availability zones; {} given.",
                    azs.len()
                ),
            );
        }
        let mut seen = BTreeSet::new();
        let mut region: Option<String> = None;
        for (i, az) in azs.iter().enumerate() {
            let p = path.clone().index(i as i64);
            if !seen.insert(az.clone()) {
                ok = false;
                d.error_at(
                    p,
                    "Duplicate availability zone",
                    format!("{az:?} is listed more than once; each AZ may appear only once."),
                );
                continue;
            }
            let r = match platform_aws::regions::az_region(az) {
                Ok(r) => r,
                Err(e) => {
                    ok = false;
                    d.error_at(p, "Invalid availability zone", format!("{e}."));
                    continue;
                }
            };
            match &region {
                None => region = Some(r.to_string()),
                Some(r0) if r0 != r => {
                    ok = false;
                    d.error_at(
                        p,
                        "Availability zones from different regions",
                        format!("{az:?} is not in region {r0:?}, like the first AZ."),
                    );
                }
                _ => {}
            }
        }
        if ok {
            azs_ok = Some(azs);
        }
    }
    let newbits = c.get("subnet_newbits");
    let mut newbits_ok = None;
    match number(newbits) {
        Some(Ok(n)) if (4..=12).contains(&n) => newbits_ok = Some(n as u8),
        Some(Ok(n)) => d.error_at(
            AttributePath::root("subnet_newbits"),
            "Invalid subnet_newbits",
            format!("subnet_newbits must be 4 to 12 (room for a private and a public subnet in each of the AZ slots a-h), got {n}."),
        ),
        Some(Err(e)) => d.error_at(
            AttributePath::root("subnet_newbits"),
            "Invalid subnet_newbits",
            e,
        ),
        None => {
            if newbits.is_null() {
                newbits_ok = Some(super::DEFAULT_NEWBITS as u8);
            }
        }
    }
    if let (Some((_, Ok(vpc))), Some(azs), Some(nb)) = (&vpc, &azs_ok, newbits_ok) {
        if let Err(e) = cidr::plan(vpc, nb, azs) {
            d.error_at(
                AttributePath::root("vpc_cidr"),
                "VPC CIDR too small for its subnets",
                format!("{e}."),
            );
        }
    }
    if let Some(n) = c.get("nat_gateways").as_str() {
        if super::NatMode::parse(n).is_none() {
            d.error_at(
                AttributePath::root("nat_gateways"),
                "Invalid nat_gateways",
                format!("nat_gateways must be \"single\" or \"per_az\", got {n:?}."),
            );
        }
    }
    if let Some(fl) = c.get("flow_logs").elements().first() {
        let base = AttributePath::root("flow_logs").index(0);
        retention(
            fl.get("retention_in_days"),
            base.clone().attr("retention_in_days"),
            &mut d,
        );
        match number(fl.get("max_aggregation_interval")) {
            Some(Ok(60 | 600)) | None => {}
            Some(_) => d.error_at(
                base.clone().attr("max_aggregation_interval"),
                "Invalid max_aggregation_interval",
                "VPC flow logs aggregate over 60 or 600 seconds.",
            ),
        }
        if let Some(k) = fl.get("kms_key_arn").as_str() {
            if let Err(why) = kms_key_arn(k) {
                d.error_at(
                    base.clone().attr("kms_key_arn"),
                    "Invalid KMS key ARN",
                    format!("{k:?} {why}."),
                );
            }
        }
        if let Some(f) = fl.get("log_format").as_str() {
            if let Err(e) = log_format(f) {
                d.error_at(base.attr("log_format"), "Invalid flow-log format", e);
            }
        }
    }
    cluster(c, &mut d);
    database(c, &mut d);
    if let Some(t) = c.get("timeouts").elements().first() {
        for k in ["create", "update", "delete"] {
            if let Some(s) = t.get(k).as_str() {
                if let Err(e) = duration(s) {
                    d.error_at(
                        AttributePath::root("timeouts").index(0).attr(k),
                        "Invalid timeout",
                        e,
                    );
                }
            }
        }
    }
    if let Some(m) = c.get("tags").entries() {
        for k in m.keys() {
            if k.starts_with("platform:") || k.starts_with("aws:") {
                d.error_at(
                    AttributePath::root("tags").key(k),
                    "Reserved tag key",
                    format!("Tag keys starting with \"platform:\" or \"aws:\" are reserved; {k:?} cannot be set."),
                );
            }
        }
    }
    d
}

/// The `cluster` block and the node groups.
fn cluster(c: &Value, d: &mut Diagnostics) {
    let cl = c.get("cluster").elements().first();
    let ngs = c.get("node_groups");
    if cl.is_none() {
        if !ngs.elements().is_empty() {
            d.error_at(
                AttributePath::root("node_groups"),
                "Node groups without a cluster",
                "node_groups need a cluster block in the same environment.",
            );
        }
        return;
    }
    let Some(cl) = cl else { return };
    let base = AttributePath::root("cluster").index(0);
    if let Some(v) = cl.get("version").as_str() {
        if !super::cluster::SUPPORTED_VERSIONS.contains(&v) {
            d.error_at(
                base.clone().attr("version"),
                "Unsupported EKS version",
                format!(
                    "EKS supports Kubernetes {}; got {v:?}.",
                    super::cluster::SUPPORTED_VERSIONS.join(", ")
                ),
            );
        }
    }
    retention(
        cl.get("log_retention_in_days"),
        base.clone().attr("log_retention_in_days"),
        d,
    );
    if let Some(k) = cl.get("secrets_kms_key_arn").as_str() {
        if let Err(why) = kms_key_arn(k) {
            d.error_at(
                base.clone().attr("secrets_kms_key_arn"),
                "Invalid KMS key ARN",
                format!("{k:?} {why}."),
            );
        }
    }
    let cidrs = cl.get("public_access_cidrs");
    if cidrs.is_wholly_known() {
        for (i, x) in cidrs.elements().iter().enumerate() {
            let Some(s) = x.as_str() else { continue };
            let p = base.clone().attr("public_access_cidrs").index(i as i64);
            match cidr::Cidr::parse(s) {
                Err(e) => d.error_at(p, "Invalid CIDR", format!("{e}.")),
                Ok(c) if c.prefix == 0 => d.error_at(
                    p,
                    "Public endpoint open to the world",
                    "0.0.0.0/0 would expose the Kubernetes API to the internet; list the CIDRs that need it.",
                ),
                Ok(_) => {}
            }
        }
        if cl.get("endpoint_public_access").as_bool() == Some(true) && cidrs.elements().is_empty() {
            d.error_at(
                base.attr("public_access_cidrs"),
                "Public endpoint without CIDR restriction",
                "endpoint_public_access = true needs public_access_cidrs: the public endpoint is only allowed restricted to known CIDRs.",
            );
        }
    }
    let mut seen = BTreeSet::new();
    for (i, g) in ngs.elements().iter().enumerate() {
        let p = AttributePath::root("node_groups").index(i as i64);
        let Some(n) = g.get("name").as_str() else {
            continue;
        };
        if !seen.insert(n.to_string()) {
            d.error_at(
                p.clone().attr("name"),
                "Duplicate node group name",
                format!("Node group {n:?} is defined more than once."),
            );
        }
        let name_ok = !n.is_empty()
            && n.len() <= 63
            && n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            d.error_at(
                p.clone().attr("name"),
                "Invalid node group name",
                format!("{n:?}: 1-63 letters, digits, hyphens and underscores, starting with a letter or digit."),
            );
        }
        let num = |k: &str| number(g.get(k)).and_then(Result::ok);
        let (min, max, desired) = (num("min_size"), num("max_size"), num("desired_size"));
        if let Some(x) = min.filter(|x| *x < 0) {
            d.error_at(
                p.clone().attr("min_size"),
                "Invalid node group size",
                format!("min_size must be 0 or more, got {x}."),
            );
        }
        if let Some(x) = max.filter(|x| *x < 1) {
            d.error_at(
                p.clone().attr("max_size"),
                "Invalid node group size",
                format!("max_size must be at least 1, got {x}."),
            );
        }
        if let (Some(lo), Some(hi)) = (min, max) {
            if lo > hi {
                d.error_at(
                    p.clone().attr("min_size"),
                    "Invalid node group size",
                    format!("min_size ({lo}) is greater than max_size ({hi})."),
                );
            }
        }
        if let (Some(x), Some(lo), Some(hi)) = (desired, min, max) {
            if x < lo || x > hi {
                d.error_at(
                    p.clone().attr("desired_size"),
                    "Invalid node group size",
                    format!(
                        "desired_size ({x}) must be between min_size ({lo}) and max_size ({hi})."
                    ),
                );
            }
        }
        if let Some(x) = num("disk_size").filter(|x| !(20..=16384).contains(x)) {
            d.error_at(
                p.clone().attr("disk_size"),
                "Invalid disk size",
                format!("disk_size must be 20 to 16384 GiB, got {x}."),
            );
        }
        if let Some(ct) = g.get("capacity_type").as_str() {
            if !matches!(ct, "ON_DEMAND" | "SPOT") {
                d.error_at(
                    p.clone().attr("capacity_type"),
                    "Invalid capacity type",
                    format!("capacity_type must be ON_DEMAND or SPOT, got {ct:?}."),
                );
            }
        }
        let it = g.get("instance_types");
        if it.is_wholly_known() && !it.is_null() && it.elements().is_empty() {
            d.error_at(
                p.clone().attr("instance_types"),
                "No instance types",
                "Give at least one instance type, or leave instance_types out for the default.",
            );
        }
        let mut types_seen = BTreeSet::new();
        for (j, t) in it.elements().iter().enumerate() {
            let Some(t) = t.as_str() else { continue };
            let tp = p.clone().attr("instance_types").index(j as i64);
            if let Err(e) = instance_type(t) {
                d.error_at(tp, "Invalid instance type", e);
            } else if !types_seen.insert(t) {
                d.error_at(
                    tp,
                    "Duplicate instance type",
                    format!("{t:?} is listed more than once in instance_types."),
                );
            }
        }
        for (i, t) in g.get("taints").elements().iter().enumerate() {
            if let Some(e) = t.get("effect").as_str() {
                if !matches!(e, "NO_SCHEDULE" | "NO_EXECUTE" | "PREFER_NO_SCHEDULE") {
                    d.error_at(
                        p.clone().attr("taints").index(i as i64).attr("effect"),
                        "Invalid taint effect",
                        format!("effect must be NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE, got {e:?}."),
                    );
                }
            }
        }
    }
}

/// The `database` block.
fn database(c: &Value, d: &mut Diagnostics) {
    let Some(db) = c.get("database").elements().first() else {
        return;
    };
    let base = AttributePath::root("database").index(0);
    if c.get("cluster").elements().is_empty() && c.get("cluster").is_wholly_known() {
        d.error_at(
            base.clone(),
            "Database without a cluster",
            "The database accepts connections only from the EKS node security group; add a cluster block.",
        );
    }
    let engine = db.get("engine").as_str();
    if let Some(e) = engine {
        if !matches!(e, "postgres" | "mysql") {
            d.error_at(
                base.clone().attr("engine"),
                "Unsupported database engine",
                format!("engine must be \"postgres\" or \"mysql\", got {e:?}."),
            );
        }
    }
    if let (Some(v), Some(e)) = (db.get("engine_version").as_str(), engine) {
        let major = v.split('.').next().unwrap_or_default();
        let ok = match e {
            "postgres" => matches!(major, "13" | "14" | "15" | "16" | "17"),
            "mysql" => v.starts_with("8.0") || v.starts_with("8.4"),
            _ => true,
        } && v
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            d.error_at(
                base.clone().attr("engine_version"),
                "Unsupported engine version",
                format!("{v:?} is not a supported {e} version (postgres 13-17, mysql 8.0 or 8.4)."),
            );
        }
    }
    let num = |k: &str| number(db.get(k)).and_then(Result::ok);
    if let Some(x) = num("allocated_storage") {
        if !(20..=65536).contains(&x) {
            d.error_at(
                base.clone().attr("allocated_storage"),
                "Storage below the engine minimum",
                format!(
                    "allocated_storage must be 20 to 65536 GiB for {}, got {x}.",
                    engine.unwrap_or("the engine")
                ),
            );
        }
        if let Some(m) = num("max_allocated_storage").filter(|m| *m <= x) {
            d.error_at(
                base.clone().attr("max_allocated_storage"),
                "Invalid storage autoscaling ceiling",
                format!("max_allocated_storage ({m}) must be above allocated_storage ({x})."),
            );
        }
    }
    if let Some(x) = num("backup_retention_period").filter(|x| !(1..=35).contains(x)) {
        d.error_at(
            base.clone().attr("backup_retention_period"),
            "Invalid backup retention",
            format!("backup_retention_period must be 1 to 35 days (backups cannot be switched off), got {x}."),
        );
    }
    if let Some(x) = num("monitoring_interval").filter(|x| ![0, 1, 5, 10, 15, 30, 60].contains(x)) {
        d.error_at(
            base.clone().attr("monitoring_interval"),
            "Invalid monitoring interval",
            format!("monitoring_interval must be 0, 1, 5, 10, 15, 30 or 60 seconds, got {x}."),
        );
    }
    if let Some(c) = db.get("instance_class").as_str() {
        if !c.starts_with("db.") || c.len() < 6 {
            d.error_at(
                base.clone().attr("instance_class"),
                "Invalid instance class",
                format!("{c:?} is not a DB instance class such as \"db.t4g.micro\"."),
            );
        }
    }
    if let Some(u) = db.get("master_username").as_str() {
        let ok = (1..=16).contains(&u.len())
            && u.starts_with(|c: char| c.is_ascii_alphabetic())
            && u.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !matches!(
                u.to_ascii_lowercase().as_str(),
                "rdsadmin" | "postgres" | "root" | "admin"
            );
        if !ok {
            d.error_at(
                base.attr("master_username"),
                "Invalid master user name",
                format!("{u:?}: 1-16 letters, digits or underscores starting with a letter, not a reserved name (rdsadmin, postgres, root, admin)."),
            );
        }
    }
}

/// The fields a VPC flow-log record can carry (flow-log versions 2 to 8), in AWS's order.
pub const FLOW_LOG_FIELDS: &[&str] = &[
    // version 2 (the default format)
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    // version 3
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    // version 4
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    // version 5
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    // version 7
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    // version 8
    "reject-reason",
];

/// A custom flow-log format: `${field}` tokens from [`FLOW_LOG_FIELDS`], separated by
/// white space, each field at most once.
pub fn log_format(f: &str) -> Result<(), String> {
    if f.trim().is_empty() {
        return Err("log_format is empty; give fields like \"${srcaddr} ${dstaddr}\", or leave it out for AWS's default format.".into());
    }
    let mut seen = BTreeSet::new();
    for t in f.split_whitespace() {
        let Some(field) = t.strip_prefix("${").and_then(|t| t.strip_suffix('}')) else {
            return Err(format!("log_format must be fields like \"${{srcaddr}} ${{dstaddr}}\" separated by spaces; {t:?} is not a ${{field}}."));
        };
        if !FLOW_LOG_FIELDS.contains(&field) {
            let close = FLOW_LOG_FIELDS
                .iter()
                .find(|k| k.replace('-', "") == field.replace(['-', '_'], "").to_ascii_lowercase());
            let hint = match close {
                Some(k) => format!(" Did you mean ${{{k}}}?"),
                None => format!(" Flow logs have the fields {}.", FLOW_LOG_FIELDS.join(", ")),
            };
            return Err(format!(
                "log_format has the unknown field ${{{field}}}.{hint}"
            ));
        }
        if !seen.insert(field) {
            return Err(format!("log_format lists ${{{field}}} more than once."));
        }
    }
    Ok(())
}

/// An EC2 instance type: `<family>.<size>`, lower case (`t3.medium`, `m7g.2xlarge`,
/// `u-6tb1.metal`).
pub fn instance_type(t: &str) -> Result<(), String> {
    let part = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    let ok = match t.split_once('.') {
        Some((family, size)) => {
            part(family) && family.starts_with(|c: char| c.is_ascii_lowercase()) && part(size)
        }
        None => false,
    };
    if ok {
        return Ok(());
    }
    let hint = if let Some(rest) = t.strip_prefix("db.") {
        format!(" {t:?} is an RDS instance class; the EC2 type is {rest:?}.")
    } else if let Some((a, b)) = t.rsplit_once('-').filter(|_| !t.contains('.')) {
        let guess = format!("{a}.{b}").to_ascii_lowercase();
        if instance_type(&guess).is_ok() {
            format!(" Did you mean {guess:?}?")
        } else {
            String::new()
        }
    } else if t.bytes().any(|b| b.is_ascii_uppercase())
        && instance_type(&t.to_ascii_lowercase()).is_ok()
    {
        format!(" Did you mean {:?}?", t.to_ascii_lowercase())
    } else {
        String::new()
    };
    Err(format!(
        "{t:?} is not an EC2 instance type: family and size joined by a dot, e.g. \"t3.medium\".{hint}"
    ))
}

/// CloudWatch Logs accepts only a fixed set of retention periods.
pub fn retention(v: &Value, path: AttributePath, d: &mut Diagnostics) {
    if let Some(r) = number(v) {
        match r {
            Ok(n) if RETENTION_DAYS.contains(&n) => {}
            _ => d.error_at(
                path,
                "Invalid log retention",
                format!(
                    "CloudWatch Logs allows retention of {} days; got {v:?}.",
                    RETENTION_DAYS
                        .iter()
                        .map(|x| x.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        Value::object([
            ("name", Value::from("dev")),
            ("vpc_cidr", Value::from("10.0.0.0/16")),
            (
                "availability_zones",
                Value::List(vec![Value::from("us-east-1a"), Value::from("us-east-1b")]),
            ),
        ])
    }

    fn paths(v: &Value) -> Vec<String> {
        config(v)
            .0
            .iter()
            .filter_map(|x| x.path.as_ref().map(|p| p.to_string()))
            .collect()
    }

    #[test]
    fn a_good_config_passes() {
        assert!(config(&base()).is_empty());
    }

    #[test]
    fn each_problem_names_its_attribute() {
        let mut v = base();
        v.set_attr("name", Value::from("Dev_1"));
        v.set_attr("vpc_cidr", Value::from("10.0.0.1/16"));
        v.set_attr(
            "availability_zones",
            Value::List(vec![Value::from("us-east-1a"), Value::from("us-east-1a")]),
        );
        v.set_attr("nat_gateways", Value::from("many"));
        v.set_attr(
            "flow_logs",
            Value::List(vec![Value::object([
                ("retention_in_days", Value::int(42)),
                ("max_aggregation_interval", Value::int(30)),
            ])]),
        );
        v.set_attr(
            "timeouts",
            Value::List(vec![Value::object([("create", Value::from("soon"))])]),
        );
        assert_eq!(
            paths(&v),
            vec![
                "name",
                "vpc_cidr",
                "availability_zones[1]",
                "nat_gateways",
                "flow_logs[0].retention_in_days",
                "flow_logs[0].max_aggregation_interval",
                "timeouts[0].create"
            ]
        );
    }

    #[test]
    fn cidr_too_small_for_subnets() {
        let mut v = base();
        v.set_attr("vpc_cidr", Value::from("10.0.0.0/26"));
        assert_eq!(paths(&v), vec!["vpc_cidr"]);
        assert!(config(&v).0[0].summary.contains("too small"));
    }

    #[test]
    fn az_count_and_region() {
        let mut v = base();
        v.set_attr(
            "availability_zones",
            Value::List(vec![Value::from("us-east-1a")]),
        );
        assert_eq!(paths(&v), vec!["availability_zones"]);
        v.set_attr(
            "availability_zones",
            Value::List(vec![Value::from("us-east-1a"), Value::from("eu-west-1b")]),
        );
        assert_eq!(paths(&v), vec!["availability_zones[1]"]);
    }

    #[test]
    fn flow_log_formats() {
        assert!(log_format("${version} ${srcaddr} ${reject-reason} ${ecs-task-id}").is_ok());
        assert!(log_format("${srcaddr} ${dstadr}")
            .unwrap_err()
            .contains("unknown field ${dstadr}"));
        assert!(log_format("${log_status}")
            .unwrap_err()
            .contains("Did you mean ${log-status}?"));
        assert!(log_format("srcaddr")
            .unwrap_err()
            .contains("is not a ${field}"));
        assert!(log_format("${srcaddr} ${srcaddr}")
            .unwrap_err()
            .contains("more than once"));
        assert!(log_format("  ").is_err());
    }

    #[test]
    fn instance_types() {
        for ok in [
            "t3.medium",
            "m7g.2xlarge",
            "u-6tb1.metal",
            "c6in.metal-24xl",
            "mac2-m2pro.metal",
        ] {
            assert_eq!(instance_type(ok), Ok(()), "{ok}");
        }
        assert!(instance_type("t3-medium")
            .unwrap_err()
            .contains("Did you mean \"t3.medium\"?"));
        assert!(instance_type("T3.Medium")
            .unwrap_err()
            .contains("Did you mean \"t3.medium\"?"));
        assert!(instance_type("db.t3.micro")
            .unwrap_err()
            .contains("RDS instance class"));
        for bad in ["", "t3", ".medium", "t3.", "t3 .medium", "3t.medium"] {
            assert!(instance_type(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn node_group_instance_types_are_checked_at_their_index() {
        let mut v = base();
        v.set_attr(
            "cluster",
            Value::List(vec![Value::object([("version", Value::Null)])]),
        );
        v.set_attr(
            "node_groups",
            Value::List(vec![Value::object([
                ("name", Value::from("general")),
                (
                    "instance_types",
                    Value::List(vec![
                        Value::from("t3.large"),
                        Value::from("t3-medium"),
                        Value::from("t3.large"),
                    ]),
                ),
            ])]),
        );
        assert_eq!(
            paths(&v),
            vec![
                "node_groups[0].instance_types[1]",
                "node_groups[0].instance_types[2]"
            ]
        );
    }

    #[test]
    fn az_names_and_ids() {
        let mut v = base();
        v.set_attr(
            "availability_zones",
            Value::List(vec![Value::from("use1-az1"), Value::from("us-est-1b")]),
        );
        let d = config(&v);
        assert_eq!(
            paths(&v),
            vec!["availability_zones[0]", "availability_zones[1]"]
        );
        assert!(d.0[0].detail.contains("availability-zone id"));
        assert!(d.0[1].detail.contains("did you mean \"us-east-1b\""));
    }

    #[test]
    fn unknowns_are_skipped() {
        let v = Value::object([
            ("name", Value::Unknown),
            ("vpc_cidr", Value::Unknown),
            ("availability_zones", Value::Unknown),
        ]);
        assert!(config(&v).is_empty());
    }
}
