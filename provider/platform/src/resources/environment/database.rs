//! The environment's database: a DB subnet group over the private subnets, a security group
//! whose only ingress is the engine port from the EKS node security group, an enhanced
//! monitoring role, and an RDS instance that is encrypted, not publicly accessible, backed
//! up, and whose master password lives in Secrets Manager (`ManageMasterUserPassword`):
//! state holds only the secret's ARN.

use super::network::{OwnedSecurityGroups, COMPONENT_KEY};
use super::replace::{self, DatabaseFixed};
use super::StepError;
use aws_sdk_ec2::types::{IpPermission, UserIdGroupPair};
use platform_aws::step::{Absent, Step};
use platform_aws::wait;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const TARGET: &str = "platform::environment";
const MONITORING_POLICY: &str = "service-role/AmazonRDSEnhancedMonitoringRole";

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredDatabase {
    pub env: String,
    pub owner: String,
    pub tags: BTreeMap<String, String>,
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub allocated_storage: i32,
    pub max_allocated_storage: Option<i32>,
    pub multi_az: bool,
    pub deletion_protection: bool,
    pub backup_retention_period: i32,
    pub monitoring_interval: i32,
    pub performance_insights: bool,
    pub master_username: String,
    pub skip_final_snapshot: bool,
}

pub fn identifier(env: &str) -> String {
    format!("{env}-db")
}
fn monitoring_role_name(env: &str) -> String {
    format!("{env}-rds-monitoring")
}
pub fn port(engine: &str) -> i32 {
    if engine == "mysql" {
        3306
    } else {
        5432
    }
}

/// The default major version per engine: pinned to a major so AWS minor upgrades never
/// show as a downgrade.
pub fn default_version(engine: &str) -> &'static str {
    if engine == "mysql" {
        "8.0"
    } else {
        "16"
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstanceObs {
    pub status: String,
    pub engine: Option<String>,
    pub master_username: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub endpoint: Option<String>,
    pub port: Option<i32>,
    pub engine_version: Option<String>,
    pub instance_class: Option<String>,
    pub allocated_storage: Option<i32>,
    pub max_allocated_storage: Option<i32>,
    pub multi_az: bool,
    pub deletion_protection: bool,
    pub backup_retention_period: Option<i32>,
    pub monitoring_interval: Option<i32>,
    pub performance_insights: bool,
    pub publicly_accessible: bool,
    pub storage_encrypted: bool,
    pub secret_arn: Option<String>,
    pub arn: Option<String>,
    pub monitoring_role_arn: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ObservedDatabase {
    pub instance: Option<InstanceObs>,
    pub subnet_group: Option<Vec<String>>,
    pub subnet_group_arn: Option<String>,
    pub sg_id: Option<String>,
    /// The security group's ingress permissions as AWS reports them.
    pub sg_ingress: Vec<IpPermission>,
    pub monitoring_role_arn: Option<String>,
}

impl ObservedDatabase {
    pub fn is_empty(&self) -> bool {
        self.instance.is_none()
            && self.subnet_group.is_none()
            && self.sg_id.is_none()
            && self.monitoring_role_arn.is_none()
    }
}

pub struct Ctx<'a> {
    pub ec2: &'a aws_sdk_ec2::Client,
    pub iam: &'a aws_sdk_iam::Client,
    pub rds: &'a aws_sdk_rds::Client,
    pub cancel: &'a CancellationToken,
    pub timeout: Duration,
    pub partition: &'a str,
}

/// Whether an observed version satisfies a pinned one: `16` is met by `16.4`.
pub fn version_matches(pinned: &str, actual: &str) -> bool {
    actual == pinned || actual.starts_with(&format!("{pinned}."))
}

/// Three calls, concurrently: the instance, the subnet group, the security group (by owner
/// tag, shared with the cluster side); the monitoring role only when the instance does not
/// already use it.
pub async fn observe(
    c: &Ctx<'_>,
    env: &str,
    owner: &str,
    sgs: &OwnedSecurityGroups,
) -> Result<ObservedDatabase, StepError> {
    let id = identifier(env);
    let (inst, sng, sgs) = tokio::join!(
        c.rds
            .describe_db_instances()
            .db_instance_identifier(&id)
            .send(),
        c.rds
            .describe_db_subnet_groups()
            .db_subnet_group_name(&id)
            .send(),
        sgs.find(c.ec2, owner, "sg/database"),
    );
    let mut o = ObservedDatabase::default();
    match inst.step("DescribeDBInstances") {
        Ok(r) => {
            if let Some(i) = r.db_instances().first() {
                let status = i.db_instance_status().unwrap_or_default().to_string();
                if status != "deleting" {
                    o.instance = Some(InstanceObs {
                        status,
                        engine: i.engine().map(str::to_string),
                        master_username: i.master_username().map(str::to_string),
                        tags: i
                            .tag_list()
                            .iter()
                            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                            .collect(),
                        endpoint: i.endpoint().and_then(|e| e.address()).map(str::to_string),
                        port: i.endpoint().and_then(|e| e.port()),
                        engine_version: i.engine_version().map(str::to_string),
                        instance_class: i.db_instance_class().map(str::to_string),
                        allocated_storage: i.allocated_storage(),
                        max_allocated_storage: i.max_allocated_storage(),
                        multi_az: i.multi_az().unwrap_or(false),
                        deletion_protection: i.deletion_protection().unwrap_or(false),
                        backup_retention_period: i.backup_retention_period(),
                        monitoring_interval: i.monitoring_interval(),
                        performance_insights: i.performance_insights_enabled().unwrap_or(false),
                        publicly_accessible: i.publicly_accessible().unwrap_or(false),
                        storage_encrypted: i.storage_encrypted().unwrap_or(false),
                        secret_arn: i
                            .master_user_secret()
                            .and_then(|s| s.secret_arn())
                            .map(str::to_string),
                        arn: i.db_instance_arn().map(str::to_string),
                        monitoring_role_arn: i.monitoring_role_arn().map(str::to_string),
                    });
                }
            }
        }
        Err(e) if e.code() == Some("DBInstanceNotFound") => {}
        Err(e) => return Err(e),
    }
    match sng.step("DescribeDBSubnetGroups") {
        Ok(r) => {
            o.subnet_group_arn = r
                .db_subnet_groups()
                .first()
                .and_then(|g| g.db_subnet_group_arn())
                .map(str::to_string);
            o.subnet_group = r.db_subnet_groups().first().map(|g| {
                g.subnets()
                    .iter()
                    .filter_map(|s| s.subnet_identifier().map(str::to_string))
                    .collect()
            })
        }
        Err(e) if e.code() == Some("DBSubnetGroupNotFoundFault") => {}
        Err(e) => return Err(e),
    }
    if let Some(g) = sgs? {
        o.sg_id = g.group_id().map(str::to_string);
        o.sg_ingress = g.ip_permissions().to_vec();
    }
    // The role the instance monitors with is proven to exist by that use.
    let role = monitoring_role_name(env);
    let used = o
        .instance
        .as_ref()
        .and_then(|i| i.monitoring_role_arn.clone())
        .filter(|a| a.ends_with(&format!(":role/{role}")));
    o.monitoring_role_arn = match used {
        Some(a) => Some(a),
        None => match c
            .iam
            .get_role()
            .role_name(&role)
            .send()
            .await
            .step("GetRole")
        {
            Ok(r) => r.role().map(|r| r.arn().to_string()),
            Err(e) if e.code() == Some("NoSuchEntity") => None,
            Err(e) => return Err(e),
        },
    };
    Ok(o)
}

fn rds_tags(d: &DesiredDatabase) -> Vec<aws_sdk_rds::types::Tag> {
    d.tags
        .iter()
        .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
        .collect()
}

/// The database security group: the engine port from the node security group, nothing else.
async fn ensure_sg(
    c: &Ctx<'_>,
    d: &DesiredDatabase,
    vpc_id: &str,
    node_sg: &str,
    o: &ObservedDatabase,
) -> Result<String, StepError> {
    let id = match &o.sg_id {
        Some(id) => id.clone(),
        None => {
            let mut all = d.tags.clone();
            all.insert(COMPONENT_KEY.into(), "sg/database".into());
            all.entry("Name".into())
                .or_insert_with(|| format!("{}-database", d.env));
            let spec = aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup)
                .set_tags(Some(
                    all.iter()
                        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .build();
            let r = c
                .ec2
                .create_security_group()
                .group_name(format!("{}-database", d.env))
                .description("Database of this environment: engine port from EKS nodes only")
                .vpc_id(vpc_id)
                .tag_specifications(spec)
                .send()
                .await
                .step("CreateSecurityGroup")?;
            r.group_id().unwrap_or_default().to_string()
        }
    };
    let p = port(&d.engine);
    let (has_rule, extra) = ingress_audit(&o.sg_ingress, p, node_sg);
    if !extra.is_empty() {
        tracing::warn!(target: TARGET, sg = %id, rules = extra.len(), "revoking database ingress other than the engine port from the node security group");
        c.ec2
            .revoke_security_group_ingress()
            .group_id(&id)
            .set_ip_permissions(Some(extra))
            .send()
            .await
            .step("RevokeSecurityGroupIngress")?;
    }
    if has_rule {
        return Ok(id);
    }
    let rule = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(p)
        .to_port(p)
        .user_id_group_pairs(UserIdGroupPair::builder().group_id(node_sg).build())
        .build();
    match c
        .ec2
        .authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(rule)
        .send()
        .await
        .step("AuthorizeSecurityGroupIngress")
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("InvalidPermission.Duplicate") => {}
        Err(e) => return Err(e),
    }
    Ok(id)
}

/// Splits a security group's ingress into "the one allowed rule is there" and everything
/// else (other ports, other sources on the engine port), which is to be revoked.
pub fn ingress_audit(
    ingress: &[IpPermission],
    port: i32,
    node_sg: &str,
) -> (bool, Vec<IpPermission>) {
    let mut has_rule = false;
    let mut extra = Vec::new();
    for perm in ingress {
        let ours = perm.ip_protocol() == Some("tcp")
            && perm.from_port() == Some(port)
            && perm.to_port() == Some(port);
        let (mine, others): (Vec<UserIdGroupPair>, Vec<UserIdGroupPair>) = perm
            .user_id_group_pairs()
            .iter()
            .cloned()
            .partition(|g| ours && g.group_id() == Some(node_sg));
        has_rule |= !mine.is_empty();
        let rest = IpPermission::builder()
            .set_ip_protocol(perm.ip_protocol().map(str::to_string))
            .set_from_port(perm.from_port())
            .set_to_port(perm.to_port())
            .set_user_id_group_pairs(Some(others.clone()))
            .set_ip_ranges(Some(perm.ip_ranges().to_vec()))
            .set_ipv6_ranges(Some(perm.ipv6_ranges().to_vec()))
            .set_prefix_list_ids(Some(perm.prefix_list_ids().to_vec()))
            .build();
        if !others.is_empty()
            || !perm.ip_ranges().is_empty()
            || !perm.ipv6_ranges().is_empty()
            || !perm.prefix_list_ids().is_empty()
        {
            extra.push(rest);
        }
    }
    (has_rule, extra)
}

async fn ensure_monitoring_role(
    c: &Ctx<'_>,
    d: &DesiredDatabase,
    o: &ObservedDatabase,
) -> Result<String, StepError> {
    let name = monitoring_role_name(&d.env);
    let policy = format!("arn:{}:iam::aws:policy/{MONITORING_POLICY}", c.partition);
    let attach = || {
        c.iam
            .attach_role_policy()
            .role_name(&name)
            .policy_arn(&policy)
            .send()
    };
    if let Some(a) = &o.monitoring_role_arn {
        // Also finds a role deleted out of band (observation trusts the role the instance
        // points at): it is re-created below.
        match attach().await.step("AttachRolePolicy") {
            Ok(_) => return Ok(a.clone()),
            Err(e) if e.code() == Some("NoSuchEntity") => {
                tracing::warn!(target: TARGET, role = %name, "role deleted out of band; re-creating it");
            }
            Err(e) => return Err(e),
        }
    }
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "monitoring.rds.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string();
    let tags: Vec<aws_sdk_iam::types::Tag> = super::retag::iam_tags(&d.tags);
    let arn = match c
        .iam
        .create_role()
        .role_name(&name)
        .assume_role_policy_document(trust)
        .set_tags(Some(tags))
        .send()
        .await
        .step("CreateRole")
    {
        Ok(r) => r.role().map(|r| r.arn().to_string()).unwrap_or_default(),
        Err(e) if e.code() == Some("EntityAlreadyExists") => c
            .iam
            .get_role()
            .role_name(&name)
            .send()
            .await
            .step("GetRole")?
            .role()
            .map(|r| r.arn().to_string())
            .unwrap_or_default(),
        Err(e) => return Err(e),
    };
    attach().await.step("AttachRolePolicy")?;
    Ok(arn)
}

async fn wait_available(c: &Ctx<'_>, id: &str) -> Result<(), StepError> {
    wait::until(
        &format!("DB instance {id} to be available"),
        c.timeout,
        c.cancel,
        || async {
            let r = c
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .step("DescribeDBInstances")?;
            match r
                .db_instances()
                .first()
                .and_then(|i| i.db_instance_status())
            {
                Some("available") => Ok(Some(())),
                Some(s @ ("failed" | "incompatible-parameters" | "storage-full")) => Err(
                    StepError::new("CreateDBInstance", format!("DB instance {id} is {s}")),
                ),
                _ => Ok(None),
            }
        },
    )
    .await
    .map_err(StepError::from)
}

pub async fn converge(
    c: &Ctx<'_>,
    d: &DesiredDatabase,
    vpc_id: &str,
    node_sg: &str,
    private_subnets: &[String],
) -> Result<(), StepError> {
    let o = observe(c, &d.env, &d.owner, &OwnedSecurityGroups::default()).await?;
    let id = identifier(&d.env);
    let subnet_group_fut = async {
        match &o.subnet_group {
            None => {
                c.rds
                    .create_db_subnet_group()
                    .db_subnet_group_name(&id)
                    .db_subnet_group_description("Private subnets of this environment")
                    .set_subnet_ids(Some(private_subnets.to_vec()))
                    .set_tags(Some(rds_tags(d)))
                    .send()
                    .await
                    .step("CreateDBSubnetGroup")?;
            }
            Some(have) => {
                let mut a = have.clone();
                a.sort();
                let mut b = private_subnets.to_vec();
                b.sort();
                if a != b {
                    c.rds
                        .modify_db_subnet_group()
                        .db_subnet_group_name(&id)
                        .set_subnet_ids(Some(private_subnets.to_vec()))
                        .send()
                        .await
                        .step("ModifyDBSubnetGroup")?;
                }
            }
        }
        Ok::<(), StepError>(())
    };
    let (sng, sg, role) = tokio::join!(
        subnet_group_fut,
        ensure_sg(c, d, vpc_id, node_sg, &o),
        ensure_monitoring_role(c, d, &o)
    );
    sng?;
    let sg = sg?;
    let role = role?;
    let mut existing = o.instance.clone();
    if let Some(i) = &existing {
        // The rule the plan shows (`replace::database`).
        let have = DatabaseFixed {
            engine: i.engine.as_deref(),
            master_username: i.master_username.as_deref(),
        };
        let want = DatabaseFixed {
            engine: Some(&d.engine),
            master_username: Some(&d.master_username),
        };
        if let Some(why) = replace::database(have, want) {
            tracing::warn!(target: TARGET, db = %id, reason = %why, "replacing DB instance");
            delete_instance(c, &id, i.deletion_protection, d.skip_final_snapshot).await?;
            existing = None;
        }
    }
    match &existing {
        None => {
            let mut req = c
                .rds
                .create_db_instance()
                .db_instance_identifier(&id)
                .engine(&d.engine)
                .engine_version(&d.engine_version)
                .db_instance_class(&d.instance_class)
                .allocated_storage(d.allocated_storage)
                .set_max_allocated_storage(d.max_allocated_storage)
                .master_username(&d.master_username)
                .manage_master_user_password(true)
                .db_subnet_group_name(&id)
                .vpc_security_group_ids(&sg)
                .publicly_accessible(false)
                .storage_encrypted(true)
                .multi_az(d.multi_az)
                .deletion_protection(d.deletion_protection)
                .backup_retention_period(d.backup_retention_period)
                .auto_minor_version_upgrade(true)
                .copy_tags_to_snapshot(true)
                .enable_performance_insights(d.performance_insights)
                .monitoring_interval(d.monitoring_interval)
                .set_tags(Some(rds_tags(d)));
            if d.monitoring_interval > 0 {
                req = req.monitoring_role_arn(&role);
            }
            match req.send().await.step("CreateDBInstance") {
                Ok(_) => {}
                Err(e) if e.code() == Some("DBInstanceAlreadyExists") => {}
                // Emulators that keep a deleted instance's automated backups as snapshots named
                // by the minute (moto) refuse a new instance of the same identifier within that
                // minute *after* creating it; AWS keeps retained backups apart and never
                // answers CreateDBInstance so. The instance exists: carry on with it.
                Err(e) if e.code() == Some("DBSnapshotAlreadyExists") => {
                    let found = c
                        .rds
                        .describe_db_instances()
                        .db_instance_identifier(&id)
                        .send()
                        .await
                        .step("DescribeDBInstances")
                        .absent(&["DBInstanceNotFound"])?
                        .is_some_and(|r| !r.db_instances().is_empty());
                    if !found {
                        return Err(e);
                    }
                    tracing::warn!(target: TARGET, db = %id, error = %e, "CreateDBInstance answered with a snapshot name clash but created the instance; carrying on");
                }
                Err(e) => return Err(e),
            }
            tracing::info!(target: TARGET, db = %id, "creating DB instance; waiting until available");
        }
        Some(i) => {
            sync_tags(c, d, &o, i).await?;
            let changed = i.instance_class.as_deref() != Some(d.instance_class.as_str())
                || i.allocated_storage != Some(d.allocated_storage)
                || i.max_allocated_storage != d.max_allocated_storage
                || i.multi_az != d.multi_az
                || i.deletion_protection != d.deletion_protection
                || i.backup_retention_period != Some(d.backup_retention_period)
                || i.monitoring_interval.unwrap_or(0) != d.monitoring_interval
                || i.performance_insights != d.performance_insights
                || i.publicly_accessible
                || i.engine_version
                    .as_deref()
                    .is_some_and(|v| !version_matches(&d.engine_version, v));
            if changed {
                let mut req = c
                    .rds
                    .modify_db_instance()
                    .db_instance_identifier(&id)
                    .apply_immediately(true)
                    .db_instance_class(&d.instance_class)
                    .allocated_storage(d.allocated_storage)
                    .multi_az(d.multi_az)
                    .deletion_protection(d.deletion_protection)
                    .backup_retention_period(d.backup_retention_period)
                    .publicly_accessible(false)
                    .enable_performance_insights(d.performance_insights)
                    .monitoring_interval(d.monitoring_interval);
                if let Some(m) = d.max_allocated_storage {
                    req = req.max_allocated_storage(m);
                }
                if d.monitoring_interval > 0 {
                    req = req.monitoring_role_arn(&role);
                }
                if i.engine_version
                    .as_deref()
                    .is_some_and(|v| !version_matches(&d.engine_version, v))
                {
                    req = req
                        .engine_version(&d.engine_version)
                        .allow_major_version_upgrade(true);
                }
                req.send().await.step("ModifyDBInstance")?;
                tracing::info!(target: TARGET, db = %id, "modifying DB instance in place");
            }
        }
    }
    wait_available(c, &id).await
}

/// Keeps the tags of the database side equal to the desired set; the instance's own tags
/// stand for all of them.
async fn sync_tags(
    c: &Ctx<'_>,
    d: &DesiredDatabase,
    o: &ObservedDatabase,
    i: &InstanceObs,
) -> Result<(), StepError> {
    use super::retag::{apply, Clients, Targets};
    let diff = super::retag::diff(&i.tags, &d.tags);
    let t = Targets {
        ec2_ids: o.sg_id.iter().cloned().collect(),
        iam_roles: o
            .monitoring_role_arn
            .iter()
            .map(|_| monitoring_role_name(&d.env))
            .collect(),
        rds_arns: i.arn.iter().chain(&o.subnet_group_arn).cloned().collect(),
        ..Default::default()
    };
    let clients = Clients {
        ec2: c.ec2,
        iam: c.iam,
        logs: None,
        kms: None,
        eks: None,
        rds: Some(c.rds),
    };
    apply(&clients, &t, &diff).await
}

/// Deletes the DB instance and waits until it is gone. Refuses while deletion protection is
/// on (AWS would too; we say how to proceed); takes a final snapshot unless told to skip it.
async fn delete_instance(
    c: &Ctx<'_>,
    id: &str,
    protected: bool,
    skip_final_snapshot: bool,
) -> Result<(), StepError> {
    if protected {
        return Err(StepError::new(
            "DeleteDBInstance",
            format!(
                "DB instance {id} has deletion protection on; set database.deletion_protection = false and apply before destroying"
            ),
        ));
    }
    // Automated backups: removed (AWS's default) when the final snapshot keeps the data; kept
    // for their retention period when there is no final snapshot, as the only copy left.
    let mut req = c
        .rds
        .delete_db_instance()
        .db_instance_identifier(id)
        .delete_automated_backups(!skip_final_snapshot);
    req = if skip_final_snapshot {
        req.skip_final_snapshot(true)
    } else {
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        req.skip_final_snapshot(false)
            .final_db_snapshot_identifier(format!("{id}-final-{stamp}"))
    };
    match req.send().await.step("DeleteDBInstance") {
        Ok(_) => {}
        Err(e) if e.code() == Some("DBInstanceNotFound") => {}
        Err(e) => return Err(e),
    }
    tracing::info!(target: TARGET, db = %id, "deleting DB instance; waiting until gone");
    wait::until(
        &format!("DB instance {id} to be deleted"),
        c.timeout,
        c.cancel,
        || async {
            match c
                .rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .step("DescribeDBInstances")
            {
                Err(e) if e.code() == Some("DBInstanceNotFound") => Ok(Some(())),
                Err(e) => Err(e),
                Ok(r) if r.db_instances().is_empty() => Ok(Some(())),
                Ok(_) => Ok(None),
            }
        },
    )
    .await
    .map_err(StepError::from)?;
    Ok(())
}

/// Deletes the database side. Refuses while deletion protection is on (AWS would too; we say
/// how to proceed), takes a final snapshot unless told to skip it.
pub async fn delete(c: &Ctx<'_>, env: &str, skip_final_snapshot: bool) -> Result<(), StepError> {
    let owner = super::owner(env);
    let o = observe(c, env, &owner, &OwnedSecurityGroups::default()).await?;
    let id = identifier(env);
    if let Some(i) = &o.instance {
        delete_instance(c, &id, i.deletion_protection, skip_final_snapshot).await?;
    }
    if o.subnet_group.is_some() {
        match c
            .rds
            .delete_db_subnet_group()
            .db_subnet_group_name(&id)
            .send()
            .await
            .step("DeleteDBSubnetGroup")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("DBSubnetGroupNotFoundFault") => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(sg) = &o.sg_id {
        super::network::delete_security_group(c.ec2, sg, c.timeout, c.cancel).await?;
    }
    platform_aws::iam::delete_role(c.iam, &monitoring_role_name(env)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_major_version_accepts_minor_upgrades() {
        assert!(version_matches("16", "16.4"));
        assert!(version_matches("16.4", "16.4"));
        assert!(!version_matches("16", "15.8"));
        assert!(!version_matches("1", "16.4"));
        assert!(version_matches("8.0", "8.0.39"));
    }

    #[test]
    fn ingress_audit_keeps_only_the_engine_port_from_nodes() {
        let pair = |g: &str| UserIdGroupPair::builder().group_id(g).build();
        let perm = |port: i32, groups: &[&str], cidr: Option<&str>| {
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(port)
                .to_port(port)
                .set_user_id_group_pairs(Some(groups.iter().map(|g| pair(g)).collect()))
                .set_ip_ranges(
                    cidr.map(|c| vec![aws_sdk_ec2::types::IpRange::builder().cidr_ip(c).build()]),
                )
                .build()
        };
        assert_eq!(
            ingress_audit(&[perm(5432, &["sg-n"], None)], 5432, "sg-n"),
            (true, vec![])
        );
        assert_eq!(ingress_audit(&[], 5432, "sg-n"), (false, vec![]));
        // Engine changed: the old port's rule goes, the new one is missing.
        let (has, extra) = ingress_audit(&[perm(5432, &["sg-n"], None)], 3306, "sg-n");
        assert!(!has && extra.len() == 1 && extra[0].from_port() == Some(5432));
        // Someone opened the port to the world and to another group: only those go.
        let (has, extra) = ingress_audit(
            &[perm(5432, &["sg-n", "sg-x"], Some("0.0.0.0/0"))],
            5432,
            "sg-n",
        );
        assert!(has);
        assert_eq!(extra.len(), 1);
        assert_eq!(extra[0].user_id_group_pairs(), &[pair("sg-x")]);
        assert_eq!(extra[0].ip_ranges().len(), 1);
    }

    #[test]
    fn engine_ports() {
        assert_eq!(port("postgres"), 5432);
        assert_eq!(port("mysql"), 3306);
    }
}
