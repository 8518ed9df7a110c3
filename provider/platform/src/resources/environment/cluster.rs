//! The environment's EKS cluster: its control-plane log group (created by us, with a
//! retention, *before* the cluster, so destroy and re-create never meet "log group already
//! exists"), a KMS key for secrets envelope encryption (when none is given), the cluster and
//! node IAM roles with the AWS managed policies, a node security group this resource owns
//! (EKS's own cluster security group is not relied on), the cluster with all five
//! control-plane log types and a private endpoint, the OIDC provider for IRSA, and managed
//! node groups in private subnets only, launched from a launch template that pins the node
//! security group, IMDSv2 and encrypted root volumes.

use super::network::{OwnedSecurityGroups, COMPONENT_KEY};
use super::replace::{self, NodeGroupFixed};
use super::StepError;
use futures::future::join_all;
use platform_aws::step::Step;
use platform_aws::tags::OWNER_KEY;
use platform_aws::wait;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Every control-plane log type; all are always enabled.
pub const LOG_TYPES: &[&str] = &[
    "api",
    "audit",
    "authenticator",
    "controllerManager",
    "scheduler",
];

/// Kubernetes versions EKS currently supports (standard and extended support).
pub const SUPPORTED_VERSIONS: &[&str] = &["1.29", "1.30", "1.31", "1.32", "1.33", "1.34"];

const CLUSTER_POLICIES: &[&str] = &["AmazonEKSClusterPolicy"];
const NODE_POLICIES: &[&str] = &[
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
];
/// The thumbprint of the root CA that signs every EKS OIDC issuer's certificate. IAM no
/// longer checks it for EKS issuers, but the API still requires one.
const OIDC_THUMBPRINT: &str = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280";
const TARGET: &str = "platform::environment";

#[derive(Debug, Clone, PartialEq)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeGroupSpec {
    pub instance_types: Vec<String>,
    pub capacity_type: String,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_size: i32,
    pub disk_size: i32,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
}

#[derive(Debug, Clone)]
pub struct DesiredCluster {
    pub name: String,
    pub owner: String,
    pub tags: BTreeMap<String, String>,
    pub version: String,
    pub endpoint_public_access: bool,
    pub public_access_cidrs: Vec<String>,
    pub secrets_kms_key_arn: Option<String>,
    pub log_retention_in_days: i32,
    pub node_groups: BTreeMap<String, NodeGroupSpec>,
    /// Root disk size of each node group as prior state records it: AWS does not report it
    /// on the node group (it is in the launch template), and `replace::node_group` needs it.
    pub prior_disk_sizes: BTreeMap<String, i64>,
}

pub fn log_group_name(env: &str) -> String {
    format!("/aws/eks/{env}/cluster")
}
pub fn cluster_role_name(env: &str) -> String {
    format!("{env}-eks-cluster")
}
pub fn node_role_name(env: &str) -> String {
    format!("{env}-eks-node")
}
fn node_sg_name(env: &str) -> String {
    format!("{env}-eks-nodes")
}
pub fn kms_alias(env: &str) -> String {
    format!("alias/{env}-eks-secrets")
}
fn launch_template_name(env: &str, ng: &str) -> String {
    format!("{env}-{ng}")
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterObs {
    pub arn: String,
    pub endpoint: Option<String>,
    pub certificate_authority: Option<String>,
    pub oidc_issuer: Option<String>,
    pub version: Option<String>,
    pub status: String,
    pub endpoint_public_access: bool,
    pub endpoint_private_access: bool,
    pub public_access_cidrs: Vec<String>,
    pub enabled_logs: BTreeSet<String>,
    pub secrets_kms_key_arn: Option<String>,
    pub security_group_ids: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeGroupObs {
    pub arn: String,
    pub status: String,
    pub min_size: i32,
    pub max_size: i32,
    pub desired_size: i32,
    pub instance_types: Vec<String>,
    pub capacity_type: String,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ObservedCluster {
    pub log_group_retention: Option<Option<i32>>,
    pub log_group_arn: Option<String>,
    pub cluster: Option<ClusterObs>,
    pub node_groups: BTreeMap<String, NodeGroupObs>,
    pub cluster_role_arn: Option<String>,
    pub node_role_arn: Option<String>,
    pub node_sg_id: Option<String>,
    pub kms_key_arn: Option<String>,
    /// Whether our key's alias exists. `false` with a `kms_key_arn` means a key found by its
    /// owner tag whose alias was never made (a crash between CreateKey and CreateAlias).
    pub kms_alias: bool,
    pub oidc_provider_arn: Option<String>,
    /// Launch templates by node group name: (id, latest version).
    pub launch_templates: BTreeMap<String, (String, i64)>,
}

impl ObservedCluster {
    pub fn is_empty(&self) -> bool {
        self.cluster.is_none()
            && self.log_group_retention.is_none()
            && self.cluster_role_arn.is_none()
            && self.node_role_arn.is_none()
            && self.node_sg_id.is_none()
            && self.kms_key_arn.is_none()
    }
}

pub struct Ctx<'a> {
    pub ec2: &'a aws_sdk_ec2::Client,
    pub logs: &'a aws_sdk_cloudwatchlogs::Client,
    pub iam: &'a aws_sdk_iam::Client,
    pub eks: &'a aws_sdk_eks::Client,
    pub kms: &'a aws_sdk_kms::Client,
    pub cancel: &'a CancellationToken,
    pub timeout: Duration,
    pub partition: &'a str,
}

async fn role_arn(iam: &aws_sdk_iam::Client, role: &str) -> Result<Option<String>, StepError> {
    match iam.get_role().role_name(role).send().await.step("GetRole") {
        Ok(r) => Ok(r.role().map(|r| r.arn().to_string())),
        Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
        Err(e) => Err(e),
    }
}

/// Keeps the tags of everything on the cluster side equal to the desired set; the cluster's
/// own tags stand for all of them.
async fn sync_tags(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    o: &ObservedCluster,
    cl: &ClusterObs,
) -> Result<(), StepError> {
    use super::retag::{apply, Clients, Targets};
    let diff = super::retag::diff(&cl.tags, &d.tags);
    if diff.is_empty() {
        return Ok(());
    }
    let mut t = Targets {
        ec2_ids: o.node_sg_id.iter().cloned().collect(),
        iam_roles: vec![cluster_role_name(&d.name), node_role_name(&d.name)],
        oidc_providers: o.oidc_provider_arn.iter().cloned().collect(),
        log_group_arns: o.log_group_arn.iter().cloned().collect(),
        kms_key_ids: o.kms_key_arn.iter().cloned().collect(),
        eks_arns: vec![cl.arn.clone()],
        rds_arns: Vec::new(),
    };
    t.ec2_ids
        .extend(o.launch_templates.values().map(|(id, _)| id.clone()));
    t.eks_arns
        .extend(o.node_groups.values().map(|g| g.arn.clone()));
    t.iam_roles.retain(|r| {
        (r == &cluster_role_name(&d.name) && o.cluster_role_arn.is_some())
            || (r == &node_role_name(&d.name) && o.node_role_arn.is_some())
    });
    let clients = Clients {
        ec2: c.ec2,
        iam: c.iam,
        logs: Some(c.logs),
        kms: Some(c.kms),
        eks: Some(c.eks),
        rds: None,
    };
    apply(&clients, &t, &diff).await
}

/// A batched look at the cluster side: one call per kind, concurrently, then for an existing
/// cluster its node group list and one DescribeNodegroup per group (EKS has no batch describe).
pub async fn observe(
    c: &Ctx<'_>,
    env: &str,
    owner: &str,
    sgs: &OwnedSecurityGroups,
) -> Result<ObservedCluster, StepError> {
    let lg = log_group_name(env);
    let (cluster_role, node_role) = (cluster_role_name(env), node_role_name(env));
    let (lgs, cluster, sgs, key, oidc, lts) = tokio::join!(
        c.logs
            .describe_log_groups()
            .log_group_name_prefix(&lg)
            .send(),
        c.eks.describe_cluster().name(env).send(),
        sgs.id_of(c.ec2, owner, "sg/eks-nodes"),
        c.kms.describe_key().key_id(kms_alias(env)).send(),
        c.iam.list_open_id_connect_providers().send(),
        c.ec2
            .describe_launch_templates()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name(format!("tag:{OWNER_KEY}"))
                    .values(owner)
                    .build()
            )
            .send(),
    );
    let mut o = ObservedCluster::default();
    // Roles the cluster and its node groups use are proven to exist by that use; GetRole
    // only for a role nothing uses yet.
    let (mut used_cluster_role, mut used_node_role) = (None, None);
    let lgs = lgs.step("DescribeLogGroups")?;
    let group = lgs
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(lg.as_str()));
    o.log_group_retention = group.map(|g| g.retention_in_days());
    o.log_group_arn = group
        .and_then(|g| g.arn())
        .map(|a| a.trim_end_matches(":*").to_string());
    o.node_sg_id = sgs?;
    o.kms_key_arn = match key.step("DescribeKey") {
        Ok(k) => k
            .key_metadata()
            .filter(|m| m.deletion_date().is_none())
            .and_then(|m| m.arn().map(str::to_string)),
        Err(e) if e.code() == Some("NotFoundException") => None,
        Err(e) => return Err(e),
    };
    o.kms_alias = o.kms_key_arn.is_some();
    let lts = lts.step("DescribeLaunchTemplates")?;
    for t in lts.launch_templates() {
        let ng = t
            .tags()
            .iter()
            .find(|t| t.key() == Some(COMPONENT_KEY))
            .and_then(|t| t.value())
            .and_then(|v| v.strip_prefix("lt/"));
        if let (Some(ng), Some(id)) = (ng, t.launch_template_id()) {
            o.launch_templates.insert(
                ng.to_string(),
                (id.to_string(), t.latest_version_number().unwrap_or(1)),
            );
        }
    }
    match cluster.step("DescribeCluster") {
        Ok(r) => {
            if let Some(cl) = r.cluster() {
                let vpc = cl.resources_vpc_config();
                let enabled_logs = cl
                    .logging()
                    .map(|l| {
                        l.cluster_logging()
                            .iter()
                            .filter(|s| s.enabled() == Some(true))
                            .flat_map(|s| s.types().iter().map(|t| t.as_str().to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                let status = cl
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                if status != "DELETING" {
                    used_cluster_role = cl.role_arn().map(str::to_string);
                    o.cluster = Some(ClusterObs {
                        arn: cl.arn().unwrap_or_default().to_string(),
                        endpoint: cl.endpoint().map(str::to_string),
                        certificate_authority: cl
                            .certificate_authority()
                            .and_then(|c| c.data())
                            .map(str::to_string),
                        oidc_issuer: cl
                            .identity()
                            .and_then(|i| i.oidc())
                            .and_then(|o| o.issuer())
                            .map(str::to_string),
                        version: cl.version().map(str::to_string),
                        status,
                        endpoint_public_access: vpc.is_some_and(|v| v.endpoint_public_access()),
                        endpoint_private_access: vpc.is_some_and(|v| v.endpoint_private_access()),
                        public_access_cidrs: vpc
                            .map(|v| v.public_access_cidrs().to_vec())
                            .unwrap_or_default(),
                        enabled_logs,
                        secrets_kms_key_arn: cl
                            .encryption_config()
                            .iter()
                            .find_map(|e| e.provider().and_then(|p| p.key_arn()))
                            .map(str::to_string),
                        security_group_ids: vpc
                            .map(|v| v.security_group_ids().to_vec())
                            .unwrap_or_default(),
                        tags: cl
                            .tags()
                            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .unwrap_or_default(),
                    });
                }
            }
        }
        Err(e) if e.code() == Some("ResourceNotFoundException") => {}
        Err(e) => return Err(e),
    }
    // The cluster's key, when the alias does not name it (the alias deleted out of band, a
    // create that failed at CreateAlias, or an alias moved to another key): ours if it carries
    // our owner tag, and then its alias is what is missing. One ListResourceTags, only then.
    if let Some(k) = o
        .cluster
        .as_ref()
        .and_then(|cl| cl.secrets_kms_key_arn.clone())
    {
        let named = o.kms_alias && o.kms_key_arn.as_deref().is_some_and(|a| same_key(a, &k));
        if !named && key_owned(c.kms, &k, owner).await? {
            o.kms_key_arn = Some(k);
            o.kms_alias = false;
        }
    }
    // No alias and no cluster yet: a key may have been created by a run that died before
    // its alias was made; it has no name, so it is found by its owner tag. (Once the cluster
    // exists the key is the one it uses; no account-wide key listing on every refresh.)
    if o.kms_key_arn.is_none() && o.cluster.is_none() {
        o.kms_key_arn = owned_keys(c.kms, owner).await?.into_iter().next();
    }
    if let Some(issuer) = o.cluster.as_ref().and_then(|c| c.oidc_issuer.clone()) {
        let host_path = issuer.trim_start_matches("https://").to_string();
        let oidc = oidc.step("ListOpenIDConnectProviders")?;
        o.oidc_provider_arn = oidc
            .open_id_connect_provider_list()
            .iter()
            .filter_map(|p| p.arn())
            .find(|a| a.ends_with(&format!("oidc-provider/{host_path}")))
            .map(str::to_string);
    }
    if o.cluster.is_some() {
        // Only for a cluster that exists: (moto answers ListNodegroups for a missing cluster
        // with HTTP 500, which the SDK retries with backoff.)
        let names = match c
            .eks
            .list_nodegroups()
            .cluster_name(env)
            .send()
            .await
            .step("ListNodegroups")
        {
            Ok(r) => r.nodegroups().to_vec(),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Vec::new(),
            Err(e) => return Err(e),
        };
        let descs = join_all(names.iter().map(|n| {
            c.eks
                .describe_nodegroup()
                .cluster_name(env)
                .nodegroup_name(n)
                .send()
        }))
        .await;
        for (n, d) in names.iter().zip(descs) {
            let d = match d.step("DescribeNodegroup") {
                Ok(d) => d,
                Err(e) if e.code() == Some("ResourceNotFoundException") => continue,
                Err(e) => return Err(e),
            };
            let Some(g) = d.nodegroup() else { continue };
            let status = g
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            if status == "DELETING" {
                continue;
            }
            let sc = g.scaling_config();
            if let Some(r) = g.node_role() {
                used_node_role.get_or_insert_with(|| r.to_string());
            }
            o.node_groups.insert(
                n.clone(),
                NodeGroupObs {
                    arn: g.nodegroup_arn().unwrap_or_default().to_string(),
                    status,
                    min_size: sc.and_then(|s| s.min_size()).unwrap_or_default(),
                    max_size: sc.and_then(|s| s.max_size()).unwrap_or_default(),
                    desired_size: sc.and_then(|s| s.desired_size()).unwrap_or_default(),
                    instance_types: g.instance_types().to_vec(),
                    capacity_type: g
                        .capacity_type()
                        .map(|c| c.as_str().to_string())
                        .unwrap_or_else(|| "ON_DEMAND".into()),
                    labels: g
                        .labels()
                        .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    taints: g
                        .taints()
                        .iter()
                        .map(|t| Taint {
                            key: t.key().unwrap_or_default().to_string(),
                            value: t.value().map(str::to_string),
                            effect: t
                                .effect()
                                .map(|e| e.as_str().to_string())
                                .unwrap_or_default(),
                        })
                        .collect(),
                    subnets: g.subnets().to_vec(),
                },
            );
        }
    }
    let proven =
        |used: Option<String>, name: &str| used.filter(|a| a.ends_with(&format!(":role/{name}")));
    let (crole, nrole) = (
        proven(used_cluster_role, &cluster_role),
        proven(used_node_role, &node_role),
    );
    let (crole, nrole) = tokio::join!(
        async {
            match crole {
                Some(a) => Ok(Some(a)),
                None => role_arn(c.iam, &cluster_role).await,
            }
        },
        async {
            match nrole {
                Some(a) => Ok(Some(a)),
                None => role_arn(c.iam, &node_role).await,
            }
        }
    );
    o.cluster_role_arn = crole?;
    o.node_role_arn = nrole?;
    Ok(o)
}

fn trust(service: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

async fn ensure_role(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    name: &str,
    service: &str,
    policies: &[&str],
    existing: &Option<String>,
) -> Result<String, StepError> {
    // The policies attached to a role we believe exists; this call also finds a role deleted
    // out of band (observation trusts a role its user points at), which is then re-created.
    let mut attached: Option<Vec<String>> = None;
    if existing.is_some() {
        match c
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .step("ListAttachedRolePolicies")
        {
            Ok(r) => {
                attached = Some(
                    r.attached_policies()
                        .iter()
                        .filter_map(|a| a.policy_arn().map(str::to_string))
                        .collect(),
                )
            }
            Err(e) if e.code() == Some("NoSuchEntity") => {
                tracing::warn!(target: TARGET, role = name, "role deleted out of band; re-creating it");
            }
            Err(e) => return Err(e),
        }
    }
    let arn =
        match (existing, &attached) {
            (Some(a), Some(_)) => a.clone(),
            _ => {
                let tags: Vec<aws_sdk_iam::types::Tag> = super::retag::iam_tags(&d.tags);
                match c
                    .iam
                    .create_role()
                    .role_name(name)
                    .assume_role_policy_document(trust(service))
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .step("CreateRole")
                {
                    Ok(r) => r.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                    Err(e) if e.code() == Some("EntityAlreadyExists") => role_arn(c.iam, name)
                        .await?
                        .ok_or_else(|| StepError::new("GetRole", format!("{name} vanished")))?,
                    Err(e) => return Err(e),
                }
            }
        };
    let attached = match attached {
        Some(a) => a,
        None => c
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
            .step("ListAttachedRolePolicies")?
            .attached_policies()
            .iter()
            .filter_map(|a| a.policy_arn().map(str::to_string))
            .collect(),
    };
    for p in policies {
        let parn = format!("arn:{}:iam::aws:policy/{p}", c.partition);
        if !attached.contains(&parn) {
            c.iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(&parn)
                .send()
                .await
                .step("AttachRolePolicy")?;
        }
    }
    Ok(arn)
}

async fn ensure_log_group(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    o: &ObservedCluster,
) -> Result<(), StepError> {
    let lg = log_group_name(&d.name);
    if o.log_group_retention.is_none() {
        match c
            .logs
            .create_log_group()
            .log_group_name(&lg)
            .set_tags(Some(d.tags.clone().into_iter().collect()))
            .send()
            .await
            .step("CreateLogGroup")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {}
            Err(e) => return Err(e),
        }
    }
    if o.log_group_retention.flatten() != Some(d.log_retention_in_days) {
        c.logs
            .put_retention_policy()
            .log_group_name(&lg)
            .retention_in_days(d.log_retention_in_days)
            .send()
            .await
            .step("PutRetentionPolicy")?;
    }
    Ok(())
}

/// Whether two key references (ARNs or bare ids) name the same key.
fn same_key(a: &str, b: &str) -> bool {
    a == b || a.rsplit('/').next() == b.rsplit('/').next()
}

/// Whether the key carries this environment's owner tag (a key we cannot read is not ours).
async fn key_owned(kms: &aws_sdk_kms::Client, key: &str, owner: &str) -> Result<bool, StepError> {
    let key_id = key.rsplit('/').next().unwrap_or(key);
    match kms
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
        .step("ListResourceTags")
    {
        Ok(t) => Ok(t
            .tags()
            .iter()
            .any(|t| t.tag_key() == OWNER_KEY && t.tag_value() == owner)),
        Err(e) if e.is_not_found() || e.code() == Some("AccessDeniedException") => Ok(false),
        Err(e) => Err(e),
    }
}

/// The alias state records for the cluster's secrets key: our alias when it names the key the
/// cluster uses, `None` when it is missing (or names another key), so the next plan shows the
/// alias coming back.
pub fn secrets_alias(o: &ObservedCluster, env: &str) -> Option<String> {
    let cl = o.cluster.as_ref()?;
    let used = cl.secrets_kms_key_arn.as_deref()?;
    (o.kms_alias && o.kms_key_arn.as_deref().is_some_and(|k| same_key(k, used)))
        .then(|| kms_alias(env))
}

/// The keys (ARNs, oldest first) that carry this environment's owner tag and are not pending
/// deletion: ListKeys, then ListResourceTags per key concurrently, then DescribeKey for the
/// matches. KMS keys have no name to find them by; the alias is a second call, so a crash
/// between the two leaves a key only its tags identify.
pub async fn owned_keys(kms: &aws_sdk_kms::Client, owner: &str) -> Result<Vec<String>, StepError> {
    let mut ids = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let r = kms
            .list_keys()
            .set_marker(marker.clone())
            .send()
            .await
            .step("ListKeys")?;
        ids.extend(
            r.keys()
                .iter()
                .filter_map(|k| k.key_id().map(str::to_string)),
        );
        match r.next_marker() {
            Some(m) if r.truncated() => marker = Some(m.to_string()),
            _ => break,
        }
    }
    let tagged = join_all(ids.iter().map(|id| async move {
        let r = kms
            .list_resource_tags()
            .key_id(id)
            .send()
            .await
            .step("ListResourceTags");
        match r {
            Ok(t) => Ok(t
                .tags()
                .iter()
                .any(|t| t.tag_key() == OWNER_KEY && t.tag_value() == owner)
                .then(|| id.clone())),
            // A key of another principal, or one deleted meanwhile: not ours.
            Err(e) if e.is_not_found() || e.code() == Some("AccessDeniedException") => Ok(None),
            Err(e) => Err(e),
        }
    }))
    .await
    .into_iter()
    .collect::<Result<Vec<_>, StepError>>()?;
    let mut keys = Vec::new();
    for id in tagged.into_iter().flatten() {
        let m = kms
            .describe_key()
            .key_id(&id)
            .send()
            .await
            .step("DescribeKey")?;
        if let Some(m) = m.key_metadata() {
            let pending = m.deletion_date().is_some()
                || m.key_state()
                    .is_some_and(|s| s.as_str() == "PendingDeletion");
            if !pending {
                keys.push((
                    m.creation_date().map(|d| d.secs()),
                    m.arn().unwrap_or(&id).to_string(),
                ));
            }
        }
    }
    keys.sort();
    Ok(keys.into_iter().map(|(_, arn)| arn).collect())
}

/// The key for secrets encryption: the one given, or ours (found by alias or owner tag, else
/// created). A key found by its tag alone gets the rotation and alias it may have missed.
async fn ensure_kms_key(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    o: &ObservedCluster,
) -> Result<String, StepError> {
    if let Some(k) = &d.secrets_kms_key_arn {
        return Ok(k.clone());
    }
    if let Some(k) = &o.kms_key_arn {
        if !o.kms_alias {
            let key_id = k.rsplit('/').next().unwrap_or(k);
            tracing::info!(target: TARGET, key = %k, "adopting the KMS key found by its owner tag; making its alias");
            rotate_and_alias(c, key_id, &d.name).await?;
        }
        return Ok(k.clone());
    }
    let tags: Vec<aws_sdk_kms::types::Tag> = super::retag::kms_tags(&d.tags);
    let r = c
        .kms
        .create_key()
        .description(format!(
            "EKS secrets envelope encryption for environment {}",
            d.name
        ))
        .set_tags(Some(tags))
        .send()
        .await
        .step("CreateKey")?;
    let meta = r
        .key_metadata()
        .ok_or_else(|| StepError::new("CreateKey", "no key metadata"))?;
    let arn = meta.arn().unwrap_or_default().to_string();
    rotate_and_alias(c, meta.key_id(), &d.name).await?;
    tracing::info!(target: TARGET, key = %arn, "created KMS key for EKS secrets");
    Ok(arn)
}

/// What a new (or adopted, alias-less) secrets key gets after CreateKey: rotation, then the alias that
/// names it for the environment.
async fn rotate_and_alias(c: &Ctx<'_>, key_id: &str, environment: &str) -> Result<(), StepError> {
    c.kms
        .enable_key_rotation()
        .key_id(key_id)
        .send()
        .await
        .step("EnableKeyRotation")?;
    match c
        .kms
        .create_alias()
        .alias_name(kms_alias(environment))
        .target_key_id(key_id)
        .send()
        .await
        .step("CreateAlias")
    {
        Ok(_) => Ok(()),
        // The alias exists but names another key (moved out of band, or its key is pending
        // deletion): point it back at ours.
        Err(e) if e.code() == Some("AlreadyExistsException") => c
            .kms
            .update_alias()
            .alias_name(kms_alias(environment))
            .target_key_id(key_id)
            .send()
            .await
            .step("UpdateAlias")
            .map(|_| ()),
        Err(e) => Err(e),
    }
}

fn ec2_tags(
    d: &DesiredCluster,
    rt: aws_sdk_ec2::types::ResourceType,
    comp: &str,
) -> aws_sdk_ec2::types::TagSpecification {
    let mut all = d.tags.clone();
    all.insert(COMPONENT_KEY.into(), comp.into());
    all.entry("Name".into())
        .or_insert_with(|| format!("{}-{}", d.name, comp.replace('/', "-")));
    aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(
            all.iter()
                .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

/// The node security group, created before the cluster and the database so that both can
/// be converged concurrently (the database trusts this group).
pub async fn node_security_group(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    vpc_id: &str,
) -> Result<String, StepError> {
    let r = c
        .ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{COMPONENT_KEY}"))
                .values("sg/eks-nodes")
                .build(),
        )
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name(format!("tag:{OWNER_KEY}"))
                .values(&d.owner)
                .build(),
        )
        .send()
        .await
        .step("DescribeSecurityGroups")?;
    let o = ObservedCluster {
        node_sg_id: r
            .security_groups()
            .first()
            .and_then(|g| g.group_id().map(str::to_string)),
        ..Default::default()
    };
    ensure_node_sg(c, d, vpc_id, &o).await
}

/// The node security group: nodes talk to each other and to the control plane (which
/// carries the same group), nothing else comes in.
async fn ensure_node_sg(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    vpc_id: &str,
    o: &ObservedCluster,
) -> Result<String, StepError> {
    if let Some(id) = &o.node_sg_id {
        return Ok(id.clone());
    }
    let r = c
        .ec2
        .create_security_group()
        .group_name(node_sg_name(&d.name))
        .description("EKS nodes and control plane of this environment")
        .vpc_id(vpc_id)
        .tag_specifications(ec2_tags(
            d,
            aws_sdk_ec2::types::ResourceType::SecurityGroup,
            "sg/eks-nodes",
        ))
        .send()
        .await
        .step("CreateSecurityGroup")?;
    let id = r.group_id().unwrap_or_default().to_string();
    let self_rule = aws_sdk_ec2::types::IpPermission::builder()
        .ip_protocol("-1")
        .user_id_group_pairs(
            aws_sdk_ec2::types::UserIdGroupPair::builder()
                .group_id(&id)
                .build(),
        )
        .build();
    match c
        .ec2
        .authorize_security_group_ingress()
        .group_id(&id)
        .ip_permissions(self_rule)
        .send()
        .await
        .step("AuthorizeSecurityGroupIngress")
    {
        Ok(_) => {}
        Err(e) if e.code() == Some("InvalidPermission.Duplicate") => {}
        Err(e) => return Err(e),
    }
    tracing::info!(target: TARGET, sg = %id, "created node security group");
    Ok(id)
}

fn logging_all() -> aws_sdk_eks::types::Logging {
    aws_sdk_eks::types::Logging::builder()
        .cluster_logging(
            aws_sdk_eks::types::LogSetup::builder()
                .enabled(true)
                .set_types(Some(
                    LOG_TYPES
                        .iter()
                        .map(|t| aws_sdk_eks::types::LogType::from(*t))
                        .collect(),
                ))
                .build(),
        )
        .build()
}

async fn wait_cluster_active(c: &Ctx<'_>, name: &str) -> Result<(), StepError> {
    wait::until(
        &format!("EKS cluster {name} to be ACTIVE"),
        c.timeout,
        c.cancel,
        || async {
            let r = c
                .eks
                .describe_cluster()
                .name(name)
                .send()
                .await
                .step("DescribeCluster")?;
            match r.cluster().and_then(|c| c.status()).map(|s| s.as_str()) {
                Some("ACTIVE") => Ok(Some(())),
                Some("FAILED") => Err(StepError::new(
                    "CreateCluster",
                    format!("cluster {name} is FAILED"),
                )),
                _ => Ok(None),
            }
        },
    )
    .await
    .map_err(StepError::from)
}

/// Cluster endpoint settings as EKS wants them: public access only with explicit CIDRs.
fn vpc_config(
    d: &DesiredCluster,
    subnets: Option<&[String]>,
    sg: Option<&str>,
) -> aws_sdk_eks::types::VpcConfigRequest {
    let mut b = aws_sdk_eks::types::VpcConfigRequest::builder()
        .endpoint_private_access(true)
        .endpoint_public_access(d.endpoint_public_access);
    if d.endpoint_public_access {
        b = b.set_public_access_cidrs(Some(d.public_access_cidrs.clone()));
    }
    if let Some(s) = subnets {
        b = b.set_subnet_ids(Some(s.to_vec()));
    }
    if let Some(sg) = sg {
        b = b.security_group_ids(sg);
    }
    b.build()
}

/// Outputs of a converged cluster needed by the caller.
pub async fn converge(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    vpc_id: &str,
    private_subnets: &[String],
) -> Result<(), StepError> {
    let o = observe(
        c,
        &d.name,
        &super::owner(&d.name),
        &OwnedSecurityGroups::default(),
    )
    .await?;
    // Independent first steps, concurrently.
    let (cluster_role, node_role) = (cluster_role_name(&d.name), node_role_name(&d.name));
    let (lg, key, crole, nrole, sg) = tokio::join!(
        ensure_log_group(c, d, &o),
        ensure_kms_key(c, d, &o),
        ensure_role(
            c,
            d,
            &cluster_role,
            "eks.amazonaws.com",
            CLUSTER_POLICIES,
            &o.cluster_role_arn
        ),
        ensure_role(
            c,
            d,
            &node_role,
            "ec2.amazonaws.com",
            NODE_POLICIES,
            &o.node_role_arn
        ),
        ensure_node_sg(c, d, vpc_id, &o),
    );
    lg?;
    let key = key?;
    let crole = crole?;
    let nrole = nrole?;
    let sg = sg?;
    if let Some(cl) = &o.cluster {
        sync_tags(c, d, &o, cl).await?;
    }

    match &o.cluster {
        None => {
            // `resources` is deprecated in the SDK model (EKS now encrypts all API data), but
            // the API still takes it and it documents the intent: envelope-encrypt secrets.
            #[allow(deprecated)]
            let encryption = aws_sdk_eks::types::EncryptionConfig::builder()
                .resources("secrets")
                .provider(
                    aws_sdk_eks::types::Provider::builder()
                        .key_arn(&key)
                        .build(),
                )
                .build();
            let mut req = c
                .eks
                .create_cluster()
                .name(&d.name)
                .version(&d.version)
                .role_arn(&crole)
                .resources_vpc_config(vpc_config(d, Some(private_subnets), Some(&sg)))
                .logging(logging_all())
                .encryption_config(encryption);
            for (k, v) in &d.tags {
                req = req.tags(k, v);
            }
            match req.send().await.step("CreateCluster") {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceInUseException") => {}
                Err(e) => return Err(e),
            }
            tracing::info!(target: TARGET, cluster = %d.name, "creating EKS cluster; waiting until ACTIVE");
        }
        Some(cl) => {
            // In-place upgrade, one minor version at a time (the plan refuses others with
            // the same rule; a cluster changed out of band since is refused here too).
            let upgrade = match cl.version.as_deref() {
                Some(had) => replace::cluster_version(had, &d.version).map_err(|r| {
                    StepError::new("UpdateClusterVersion", format!("{}: {r}", r.summary()))
                })?,
                None => true,
            };
            if upgrade {
                c.eks
                    .update_cluster_version()
                    .name(&d.name)
                    .version(&d.version)
                    .send()
                    .await
                    .step("UpdateClusterVersion")?;
                wait_cluster_active(c, &d.name).await?;
            }
            let logs_ok = LOG_TYPES.iter().all(|t| cl.enabled_logs.contains(*t));
            if !logs_ok {
                c.eks
                    .update_cluster_config()
                    .name(&d.name)
                    .logging(logging_all())
                    .send()
                    .await
                    .step("UpdateClusterConfig")?;
                wait_cluster_active(c, &d.name).await?;
            }
            let mut cidrs_have: Vec<String> = cl.public_access_cidrs.clone();
            cidrs_have.sort();
            let mut cidrs_want = d.public_access_cidrs.clone();
            cidrs_want.sort();
            let access_ok = cl.endpoint_private_access
                && cl.endpoint_public_access == d.endpoint_public_access
                && (!d.endpoint_public_access || cidrs_have == cidrs_want);
            if !access_ok {
                // moto answers UpdateClusterConfig without an update id: poll the cluster
                // status rather than DescribeUpdate.
                c.eks
                    .update_cluster_config()
                    .name(&d.name)
                    .resources_vpc_config(vpc_config(d, None, None))
                    .send()
                    .await
                    .step("UpdateClusterConfig")?;
            }
        }
    }
    wait_cluster_active(c, &d.name).await?;
    let cl = c
        .eks
        .describe_cluster()
        .name(&d.name)
        .send()
        .await
        .step("DescribeCluster")?;
    let issuer = cl
        .cluster()
        .and_then(|c| c.identity())
        .and_then(|i| i.oidc())
        .and_then(|o| o.issuer())
        .map(str::to_string);

    // OIDC provider for IRSA and node groups, concurrently.
    let oidc_fut = async {
        if let (Some(issuer), None) = (&issuer, &o.oidc_provider_arn) {
            let host_path = issuer.trim_start_matches("https://");
            let existing = c
                .iam
                .list_open_id_connect_providers()
                .send()
                .await
                .step("ListOpenIDConnectProviders")?;
            let found = existing
                .open_id_connect_provider_list()
                .iter()
                .filter_map(|p| p.arn())
                .any(|a| a.ends_with(&format!("oidc-provider/{host_path}")));
            if !found {
                let tags: Vec<aws_sdk_iam::types::Tag> = super::retag::iam_tags(&d.tags);
                c.iam
                    .create_open_id_connect_provider()
                    .url(issuer)
                    .client_id_list("sts.amazonaws.com")
                    .thumbprint_list(OIDC_THUMBPRINT)
                    .set_tags(Some(tags))
                    .send()
                    .await
                    .step("CreateOpenIDConnectProvider")?;
            }
        }
        Ok::<(), StepError>(())
    };
    let ng_futs = d
        .node_groups
        .iter()
        .map(|(n, spec)| ensure_node_group(c, d, &o, n, spec, &nrole, &sg, private_subnets));
    let (oidc, ngs) = tokio::join!(oidc_fut, join_all(ng_futs));
    oidc?;
    for r in ngs {
        r?;
    }
    // Node groups no longer configured go, with their launch templates.
    let stale: Vec<String> = o
        .node_groups
        .keys()
        .filter(|n| !d.node_groups.contains_key(*n))
        .cloned()
        .collect();
    delete_node_groups(c, &d.name, &stale, &o).await
}

/// A node group's fixed settings, observed or desired, in the shape `replace` compares.
fn fixed<'a>(types: &'a [String], capacity_type: &'a str, disk_size: i64) -> NodeGroupFixed<'a> {
    NodeGroupFixed {
        instance_types: types.iter().map(String::as_str).collect(),
        capacity_type,
        disk_size,
    }
}

/// The attributes that replace an existing node group (`replace::node_group`, the rule the
/// plan shows); a disk size prior state does not record is taken as unchanged.
fn replaced_by(
    d: &DesiredCluster,
    name: &str,
    have: &NodeGroupObs,
    want: &NodeGroupSpec,
) -> Vec<&'static str> {
    let disk_size = i64::from(want.disk_size);
    replace::node_group(
        &fixed(
            &have.instance_types,
            &have.capacity_type,
            d.prior_disk_sizes.get(name).copied().unwrap_or(disk_size),
        ),
        &fixed(&want.instance_types, &want.capacity_type, disk_size),
    )
}

#[allow(clippy::too_many_arguments)]
async fn ensure_node_group(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    o: &ObservedCluster,
    name: &str,
    spec: &NodeGroupSpec,
    node_role: &str,
    sg: &str,
    subnets: &[String],
) -> Result<(), StepError> {
    let scaling = aws_sdk_eks::types::NodegroupScalingConfig::builder()
        .min_size(spec.min_size)
        .max_size(spec.max_size)
        .desired_size(spec.desired_size)
        .build();
    if let Some(have) = o.node_groups.get(name) {
        let replaced = replaced_by(d, name, have, spec);
        if !replaced.is_empty() {
            tracing::info!(target: TARGET, node_group = name, changed = ?replaced, "replacing node group");
            delete_node_groups(c, &d.name, &[name.to_string()], o).await?;
        } else {
            let scaling_ok = have.min_size == spec.min_size
                && have.max_size == spec.max_size
                && have.desired_size == spec.desired_size;
            let labels_ok = have.labels == spec.labels;
            let taints_ok = have.taints == spec.taints;
            if !(scaling_ok && labels_ok && taints_ok) {
                let mut req = c
                    .eks
                    .update_nodegroup_config()
                    .cluster_name(&d.name)
                    .nodegroup_name(name)
                    .scaling_config(scaling);
                if !labels_ok {
                    let remove: Vec<String> = have
                        .labels
                        .keys()
                        .filter(|k| !spec.labels.contains_key(*k))
                        .cloned()
                        .collect();
                    let mut l = aws_sdk_eks::types::UpdateLabelsPayload::builder();
                    for (k, v) in &spec.labels {
                        l = l.add_or_update_labels(k, v);
                    }
                    l = l.set_remove_labels(Some(remove));
                    req = req.labels(l.build());
                }
                if !taints_ok {
                    let mut t = aws_sdk_eks::types::UpdateTaintsPayload::builder();
                    for x in &spec.taints {
                        t = t.add_or_update_taints(taint(x));
                    }
                    for x in &have.taints {
                        if !spec.taints.iter().any(|s| s.key == x.key) {
                            t = t.remove_taints(taint(x));
                        }
                    }
                    req = req.taints(t.build());
                }
                req.send().await.step("UpdateNodegroupConfig")?;
                tracing::info!(target: TARGET, node_group = name, "updating node group in place");
            }
            return wait_node_group(c, &d.name, name).await;
        }
    }
    let lt = ensure_launch_template(c, d, o, name, spec, sg).await?;
    let mut req = c
        .eks
        .create_nodegroup()
        .cluster_name(&d.name)
        .nodegroup_name(name)
        .node_role(node_role)
        .set_subnets(Some(subnets.to_vec()))
        .scaling_config(scaling)
        .set_instance_types(Some(spec.instance_types.clone()))
        .capacity_type(aws_sdk_eks::types::CapacityTypes::from(
            spec.capacity_type.as_str(),
        ))
        .launch_template(
            aws_sdk_eks::types::LaunchTemplateSpecification::builder()
                .id(&lt.0)
                .version(lt.1.to_string())
                .build(),
        );
    for (k, v) in &spec.labels {
        req = req.labels(k, v);
    }
    for t in &spec.taints {
        req = req.taints(taint(t));
    }
    for (k, v) in &d.tags {
        req = req.tags(k, v);
    }
    match req.send().await.step("CreateNodegroup") {
        Ok(_) => {}
        Err(e) if e.code() == Some("ResourceInUseException") => {}
        Err(e) => return Err(e),
    }
    tracing::info!(target: TARGET, node_group = name, "creating node group; waiting until ACTIVE");
    wait_node_group(c, &d.name, name).await
}

fn taint(t: &Taint) -> aws_sdk_eks::types::Taint {
    aws_sdk_eks::types::Taint::builder()
        .key(&t.key)
        .set_value(t.value.clone())
        .effect(aws_sdk_eks::types::TaintEffect::from(t.effect.as_str()))
        .build()
}

/// The node group's launch template: the node security group, IMDSv2 only (hop limit 2 for
/// pods that need it), an encrypted gp3 root volume of the configured size.
async fn ensure_launch_template(
    c: &Ctx<'_>,
    d: &DesiredCluster,
    o: &ObservedCluster,
    ng: &str,
    spec: &NodeGroupSpec,
    sg: &str,
) -> Result<(String, i64), StepError> {
    use aws_sdk_ec2::types as t;
    let data = t::RequestLaunchTemplateData::builder()
        .security_group_ids(sg)
        .metadata_options(
            t::LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_tokens(t::LaunchTemplateHttpTokensState::Required)
                .http_put_response_hop_limit(2)
                .http_endpoint(t::LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .build(),
        )
        .block_device_mappings(
            t::LaunchTemplateBlockDeviceMappingRequest::builder()
                .device_name("/dev/xvda")
                .ebs(
                    t::LaunchTemplateEbsBlockDeviceRequest::builder()
                        .volume_size(spec.disk_size)
                        .volume_type(t::VolumeType::Gp3)
                        .encrypted(true)
                        .delete_on_termination(true)
                        .build(),
                )
                .build(),
        )
        .build();
    if let Some((id, _)) = o.launch_templates.get(ng) {
        let r = c
            .ec2
            .create_launch_template_version()
            .launch_template_id(id)
            .launch_template_data(data)
            .send()
            .await
            .step("CreateLaunchTemplateVersion")?;
        let v = r
            .launch_template_version()
            .and_then(|v| v.version_number())
            .unwrap_or(1);
        return Ok((id.clone(), v));
    }
    let r = c
        .ec2
        .create_launch_template()
        .launch_template_name(launch_template_name(&d.name, ng))
        .launch_template_data(data)
        .tag_specifications(ec2_tags(
            d,
            t::ResourceType::LaunchTemplate,
            &format!("lt/{ng}"),
        ))
        .send()
        .await
        .step("CreateLaunchTemplate")?;
    let lt = r
        .launch_template()
        .ok_or_else(|| StepError::new("CreateLaunchTemplate", "no launch template"))?;
    Ok((
        lt.launch_template_id().unwrap_or_default().to_string(),
        lt.latest_version_number().unwrap_or(1),
    ))
}

async fn wait_node_group(c: &Ctx<'_>, cluster: &str, ng: &str) -> Result<(), StepError> {
    wait::until(
        &format!("node group {ng} to be ACTIVE"),
        c.timeout,
        c.cancel,
        || async {
            let r = c
                .eks
                .describe_nodegroup()
                .cluster_name(cluster)
                .nodegroup_name(ng)
                .send()
                .await
                .step("DescribeNodegroup")?;
            match r.nodegroup().and_then(|g| g.status()).map(|s| s.as_str()) {
                Some("ACTIVE") => Ok(Some(())),
                Some("CREATE_FAILED") | Some("DEGRADED") => Err(StepError::new(
                    "CreateNodegroup",
                    format!("node group {ng} is not healthy"),
                )),
                _ => Ok(None),
            }
        },
    )
    .await
    .map_err(StepError::from)
}

async fn delete_node_groups(
    c: &Ctx<'_>,
    cluster: &str,
    names: &[String],
    o: &ObservedCluster,
) -> Result<(), StepError> {
    let futs = names.iter().map(|n| async move {
        match c
            .eks
            .delete_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(n)
            .send()
            .await
            .step("DeleteNodegroup")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(e),
        }
        tracing::info!(target: TARGET, node_group = %n, "deleting node group; waiting until gone");
        wait::until(
            &format!("node group {n} to be deleted"),
            c.timeout,
            c.cancel,
            || async {
                match c
                    .eks
                    .describe_nodegroup()
                    .cluster_name(cluster)
                    .nodegroup_name(n)
                    .send()
                    .await
                    .step("DescribeNodegroup")
                {
                    Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Some(())),
                    Err(e) => Err(e),
                    Ok(_) => Ok(None),
                }
            },
        )
        .await
        .map_err(StepError::from)?;
        if let Some((id, _)) = o.launch_templates.get(n) {
            match c
                .ec2
                .delete_launch_template()
                .launch_template_id(id)
                .send()
                .await
                .step("DeleteLaunchTemplate")
            {
                Ok(_) => {}
                Err(e) if e.code().is_some_and(|c| c.contains("NotFound")) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    });
    join_all(futs).await.into_iter().collect()
}

/// Deletes the cluster side in reverse order: node groups (waiting until gone), the
/// cluster (waiting until gone), the OIDC provider, launch templates, the node security
/// group, the log group, the roles, and our KMS key (scheduled for deletion, as KMS
/// requires; its alias goes at once).
pub async fn delete(c: &Ctx<'_>, env: &str) -> Result<(), StepError> {
    let owner = super::owner(env);
    let o = observe(c, env, &owner, &OwnedSecurityGroups::default()).await?;
    let ngs: Vec<String> = o.node_groups.keys().cloned().collect();
    delete_node_groups(c, env, &ngs, &o).await?;
    for (ng, (id, _)) in &o.launch_templates {
        if !ngs.contains(ng) {
            let _ = c
                .ec2
                .delete_launch_template()
                .launch_template_id(id)
                .send()
                .await;
        }
    }
    if o.cluster.is_some() {
        match c
            .eks
            .delete_cluster()
            .name(env)
            .send()
            .await
            .step("DeleteCluster")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(e),
        }
        tracing::info!(target: TARGET, cluster = env, "deleting EKS cluster; waiting until gone");
        wait::until(
            &format!("EKS cluster {env} to be deleted"),
            c.timeout,
            c.cancel,
            || async {
                match c
                    .eks
                    .describe_cluster()
                    .name(env)
                    .send()
                    .await
                    .step("DescribeCluster")
                {
                    Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(Some(())),
                    Err(e) => Err(e),
                    Ok(_) => Ok(None),
                }
            },
        )
        .await
        .map_err(StepError::from)?;
    }
    if let Some(arn) = &o.oidc_provider_arn {
        match c
            .iam
            .delete_open_id_connect_provider()
            .open_id_connect_provider_arn(arn)
            .send()
            .await
            .step("DeleteOpenIDConnectProvider")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("NoSuchEntity") => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(sg) = &o.node_sg_id {
        // ENIs of the deleted cluster and nodes may hold the group for a while.
        super::network::delete_security_group(c.ec2, sg, c.timeout, c.cancel).await?;
    }
    if o.log_group_retention.is_some() {
        match c
            .logs
            .delete_log_group()
            .log_group_name(log_group_name(env))
            .send()
            .await
            .step("DeleteLogGroup")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(e),
        }
    }
    platform_aws::iam::delete_role(c.iam, &cluster_role_name(env)).await?;
    platform_aws::iam::delete_role(c.iam, &node_role_name(env)).await?;
    // Every key carrying our owner tag, not only the one the alias names: a key left by a
    // crash before its alias was made is ours too.
    let mut keys: Vec<String> = o.kms_key_arn.iter().cloned().collect();
    for k in owned_keys(c.kms, &owner).await? {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if o.kms_alias {
        let _ = c.kms.delete_alias().alias_name(kms_alias(env)).send().await;
    }
    for k in &keys {
        // The bare key id: AWS takes the ARN too, moto only the id.
        let key_id = k.rsplit('/').next().unwrap_or(k);
        match c
            .kms
            .schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(7)
            .send()
            .await
            .step("ScheduleKeyDeletion")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("KMSInvalidStateException") => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(alias: bool, ours: Option<&str>, used: Option<&str>) -> ObservedCluster {
        ObservedCluster {
            cluster: Some(ClusterObs {
                secrets_kms_key_arn: used.map(str::to_string),
                ..ClusterObs::default()
            }),
            kms_key_arn: ours.map(str::to_string),
            kms_alias: alias,
            ..ObservedCluster::default()
        }
    }

    #[test]
    fn the_alias_is_recorded_only_when_it_names_the_clusters_key() {
        let arn = "arn:aws:kms:us-east-1:123456789012:key/k1";
        assert_eq!(
            secrets_alias(&observed(true, Some(arn), Some(arn)), "dev").as_deref(),
            Some("alias/dev-eks-secrets")
        );
        // The same key named by id on one side and by ARN on the other.
        assert!(secrets_alias(&observed(true, Some("k1"), Some(arn)), "dev").is_some());
        // Missing alias (our key found through the cluster), an alias on another key, a given key.
        assert_eq!(
            secrets_alias(&observed(false, Some(arn), Some(arn)), "dev"),
            None
        );
        assert_eq!(
            secrets_alias(
                &observed(
                    true,
                    Some("arn:aws:kms:us-east-1:123456789012:key/k2"),
                    Some(arn)
                ),
                "dev"
            ),
            None
        );
        assert_eq!(
            secrets_alias(&observed(false, None, Some(arn)), "dev"),
            None
        );
        // No cluster: nothing to name.
        let none = ObservedCluster {
            kms_key_arn: Some(arn.into()),
            kms_alias: true,
            ..ObservedCluster::default()
        };
        assert_eq!(secrets_alias(&none, "dev"), None);
    }
}
