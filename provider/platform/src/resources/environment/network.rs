//! The environment's network: VPC, internet gateway, public and private subnets per AZ,
//! NAT gateways with their Elastic IPs, route tables, and VPC flow logs (log group,
//! least-privilege delivery role, flow log with traffic type ALL).
//!
//! Every object carries the owner tag and a `platform:component` tag naming its place in
//! the layout (`subnet/private/us-east-1a`, `nat/us-east-1a`, ...). Observation is by
//! those tags and by VPC id, a handful of filtered Describe calls, so the same `converge`
//! creates, repairs drift, resumes after a crash (adopting what carries our tags) and
//! applies updates.

use super::cidr::AzSubnets;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, DomainType, Filter, FlowLogsResourceType, LogDestinationType,
    NatGatewayState, ResourceType, SecurityGroup, Tag, TagSpecification, TrafficType,
};
use futures::future::join_all;
use platform_aws::step::Step;
use platform_aws::step::StepError;
use platform_aws::tags::OWNER_KEY;
use platform_aws::wait;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The tag naming an object's place in the environment's layout.
pub const COMPONENT_KEY: &str = "platform:component";

/// How NAT gateways are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatMode {
    Single,
    PerAz,
}

impl NatMode {
    pub fn parse(s: &str) -> Option<NatMode> {
        match s {
            "single" => Some(NatMode::Single),
            "per_az" => Some(NatMode::PerAz),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FlowLogSettings {
    pub retention_in_days: i32,
    pub kms_key_arn: Option<String>,
    pub log_format: Option<String>,
    pub max_aggregation_interval: i32,
}

/// What the network should look like.
#[derive(Debug, Clone)]
pub struct DesiredNetwork {
    pub name: String,
    pub owner: String,
    pub tags: BTreeMap<String, String>,
    pub vpc_cidr: String,
    pub subnets: BTreeMap<String, AzSubnets>,
    pub nat: NatMode,
    pub flow: FlowLogSettings,
}

impl DesiredNetwork {
    pub fn log_group_name(&self) -> String {
        flow_log_group_name(&self.name)
    }
    pub fn role_name(&self) -> String {
        flow_log_role_name(&self.name)
    }
    /// The AZs that get a NAT gateway: each AZ, or only the first one.
    pub fn nat_azs(&self) -> Vec<String> {
        match self.nat {
            NatMode::PerAz => self.subnets.keys().cloned().collect(),
            NatMode::Single => self.subnets.keys().take(1).cloned().collect(),
        }
    }
    /// The NAT that the private route table of `az` sends traffic through.
    pub fn nat_for(&self, az: &str) -> Option<String> {
        match self.nat {
            NatMode::PerAz => Some(az.to_string()),
            NatMode::Single => self.subnets.keys().next().cloned(),
        }
    }
}

pub fn flow_log_group_name(env: &str) -> String {
    format!("/platform/{env}/vpc-flow-logs")
}

pub fn flow_log_role_name(env: &str) -> String {
    format!("{env}-vpc-flow-logs")
}

const FLOW_POLICY_NAME: &str = "deliver-vpc-flow-logs";

/// A subnet as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct SubnetObs {
    pub id: String,
    pub az: String,
    pub cidr: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NatObs {
    pub id: String,
    pub az: String,
    pub state: String,
    pub public_ip: Option<String>,
    pub allocation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteTableObs {
    pub id: String,
    /// The target of the 0.0.0.0/0 route (gateway or NAT id), if there is one.
    pub default_target: Option<String>,
    /// (association id, subnet id) of explicit subnet associations.
    pub associations: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FlowLogObs {
    pub id: String,
    pub traffic_type: String,
    pub log_group: Option<String>,
    pub role_arn: Option<String>,
    pub max_aggregation_interval: Option<i32>,
    pub log_format: Option<String>,
    /// False when AWS reports that delivery fails (e.g. the role is gone).
    pub delivering: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogGroupObs {
    pub arn: String,
    pub retention_in_days: Option<i32>,
    pub kms_key_arn: Option<String>,
}

/// Everything the network consists of, as one batched observation found it.
#[derive(Debug, Clone, Default)]
pub struct ObservedNetwork {
    pub vpc_id: Option<String>,
    pub vpc_cidr: Option<String>,
    pub vpc_tags: BTreeMap<String, String>,
    /// (id, attached to our VPC)
    pub igw: Option<(String, bool)>,
    /// By component key, e.g. `subnet/private/us-east-1a`.
    pub subnets: BTreeMap<String, SubnetObs>,
    /// Live (not deleted/deleting/failed) NAT gateways by AZ.
    pub nats: BTreeMap<String, NatObs>,
    /// Elastic IPs by AZ: (allocation id, public ip).
    pub eips: BTreeMap<String, (String, Option<String>)>,
    /// Route tables by component key (`rt/public`, `rt/private/<az>`).
    pub route_tables: BTreeMap<String, RouteTableObs>,
    pub flow_logs: Vec<FlowLogObs>,
    pub log_group: Option<LogGroupObs>,
    pub role_arn: Option<String>,
}

pub fn subnet_key(tier: &str, az: &str) -> String {
    format!("subnet/{tier}/{az}")
}
fn nat_key(az: &str) -> String {
    format!("nat/{az}")
}
fn eip_key(az: &str) -> String {
    format!("eip/{az}")
}
pub fn private_rt_key(az: &str) -> String {
    format!("rt/private/{az}")
}
pub const PUBLIC_RT_KEY: &str = "rt/public";
const IGW_KEY: &str = "igw";
const VPC_KEY: &str = "vpc";
const FLOW_LOG_KEY: &str = "flow-log";

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

fn tags_of(t: &[Tag]) -> BTreeMap<String, String> {
    t.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

fn component(t: &[Tag]) -> Option<String> {
    t.iter()
        .find(|t| t.key() == Some(COMPONENT_KEY))
        .and_then(|t| t.value().map(str::to_string))
}

/// The tag specification for a new object: all tags plus its component and Name.
fn spec(d: &DesiredNetwork, rt: ResourceType, comp: &str) -> TagSpecification {
    let mut all = d.tags.clone();
    all.insert(COMPONENT_KEY.to_string(), comp.to_string());
    all.entry("Name".to_string())
        .or_insert_with(|| format!("{}-{}", d.name, comp.replace('/', "-")));
    TagSpecification::builder()
        .resource_type(rt)
        .set_tags(Some(
            all.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn owner_filter(owner: &str) -> Filter {
    filter(&format!("tag:{OWNER_KEY}"), owner)
}

/// The security groups carrying the environment's owner tag, looked up once per observation:
/// the cluster and the database side both need them, and share one DescribeSecurityGroups.
#[derive(Default)]
pub struct OwnedSecurityGroups(tokio::sync::OnceCell<Result<Vec<SecurityGroup>, StepError>>);

impl OwnedSecurityGroups {
    pub async fn get(
        &self,
        ec2: &aws_sdk_ec2::Client,
        owner: &str,
    ) -> Result<&[SecurityGroup], StepError> {
        let r = self
            .0
            .get_or_init(|| async {
                ec2.describe_security_groups()
                    .filters(owner_filter(owner))
                    .send()
                    .await
                    .map(|r| r.security_groups().to_vec())
                    .step("DescribeSecurityGroups")
            })
            .await;
        r.as_deref().map_err(Clone::clone)
    }

    /// The group whose component tag is `component_tag` (e.g. `sg/database`).
    pub async fn find(
        &self,
        ec2: &aws_sdk_ec2::Client,
        owner: &str,
        component_tag: &str,
    ) -> Result<Option<SecurityGroup>, StepError> {
        Ok(self
            .get(ec2, owner)
            .await?
            .iter()
            .find(|g| component(g.tags()).as_deref() == Some(component_tag))
            .cloned())
    }

    /// The id of the group whose component tag is `component_tag`.
    pub async fn id_of(
        &self,
        ec2: &aws_sdk_ec2::Client,
        owner: &str,
        component_tag: &str,
    ) -> Result<Option<String>, StepError> {
        let g = self.find(ec2, owner, component_tag).await?;
        Ok(g.and_then(|g| g.group_id().map(str::to_string)))
    }
}

/// Finds the environment's VPC by its owner tag.
pub async fn find_vpc(
    ec2: &aws_sdk_ec2::Client,
    owner: &str,
) -> Result<Option<(String, String, BTreeMap<String, String>)>, StepError> {
    let r = ec2
        .describe_vpcs()
        .filters(owner_filter(owner))
        .send()
        .await
        .step("DescribeVpcs")?;
    Ok(r.vpcs().iter().find_map(|v| {
        Some((
            v.vpc_id()?.to_string(),
            v.cidr_block().unwrap_or_default().to_string(),
            tags_of(v.tags()),
        ))
    }))
}

/// One batched look at everything: a Describe call per object kind, filtered by VPC id or
/// owner tag, run concurrently.
pub async fn observe(
    ec2: &aws_sdk_ec2::Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
    iam: &aws_sdk_iam::Client,
    env: &str,
    owner: &str,
) -> Result<ObservedNetwork, StepError> {
    let mut o = ObservedNetwork::default();
    let log_group = flow_log_group_name(env);
    let role = flow_log_role_name(env);
    let vpc_fut = find_vpc(ec2, owner);
    let lg_fut = async {
        logs.describe_log_groups()
            .log_group_name_prefix(&log_group)
            .send()
            .await
            .step("DescribeLogGroups")
    };
    let role_fut = async {
        match iam.get_role().role_name(&role).send().await.step("GetRole") {
            Ok(r) => Ok(r.role().map(|r| r.arn().to_string())),
            Err(e) if e.code() == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(e),
        }
    };
    let igw_fut = async {
        ec2.describe_internet_gateways()
            .filters(owner_filter(owner))
            .send()
            .await
            .step("DescribeInternetGateways")
    };
    let eip_fut = async {
        ec2.describe_addresses()
            .filters(owner_filter(owner))
            .send()
            .await
            .step("DescribeAddresses")
    };
    let (vpc, lg, igws, eips) = tokio::join!(vpc_fut, lg_fut, igw_fut, eip_fut);
    o.log_group = lg?
        .log_groups()
        .iter()
        .find(|g| g.log_group_name() == Some(log_group.as_str()))
        .map(|g| LogGroupObs {
            arn: g
                .arn()
                .unwrap_or_default()
                .trim_end_matches(":*")
                .to_string(),
            retention_in_days: g.retention_in_days(),
            kms_key_arn: g.kms_key_id().map(str::to_string),
        });
    for a in eips?.addresses() {
        if let (Some(c), Some(id)) = (component(a.tags()), a.allocation_id()) {
            if let Some(az) = c.strip_prefix("eip/") {
                o.eips.insert(
                    az.to_string(),
                    (id.to_string(), a.public_ip().map(str::to_string)),
                );
            }
        }
    }
    let Some((vpc_id, cidr, vpc_tags)) = vpc? else {
        // Without a VPC nothing else can be attached; a stray IGW is still reported.
        if let Some(g) = igws?.internet_gateways().first() {
            o.igw = g.internet_gateway_id().map(|id| (id.to_string(), false));
        }
        o.role_arn = role_fut.await?;
        return Ok(o);
    };
    for g in igws?.internet_gateways() {
        if let Some(id) = g.internet_gateway_id() {
            let attached = g
                .attachments()
                .iter()
                .any(|a| a.vpc_id() == Some(vpc_id.as_str()));
            if o.igw.as_ref().is_none_or(|(_, att)| !att) {
                o.igw = Some((id.to_string(), attached));
            }
        }
    }
    let vf = || filter("vpc-id", &vpc_id);
    let (subnets, nats, rts, fls) = tokio::join!(
        ec2.describe_subnets().filters(vf()).send(),
        ec2.describe_nat_gateways().filter(vf()).send(),
        ec2.describe_route_tables().filters(vf()).send(),
        ec2.describe_flow_logs()
            .filter(filter("resource-id", &vpc_id))
            .send(),
    );
    for s in subnets.step("DescribeSubnets")?.subnets() {
        if let (Some(c), Some(id)) = (component(s.tags()), s.subnet_id()) {
            o.subnets.insert(
                c,
                SubnetObs {
                    id: id.to_string(),
                    az: s.availability_zone().unwrap_or_default().to_string(),
                    cidr: s.cidr_block().unwrap_or_default().to_string(),
                },
            );
        }
    }
    for n in nats.step("DescribeNatGateways")?.nat_gateways() {
        let state = n
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default();
        if matches!(state.as_str(), "deleted" | "deleting" | "failed") {
            continue;
        }
        if let (Some(c), Some(id)) = (component(n.tags()), n.nat_gateway_id()) {
            if let Some(az) = c.strip_prefix("nat/") {
                let addr = n.nat_gateway_addresses().first();
                o.nats.insert(
                    az.to_string(),
                    NatObs {
                        id: id.to_string(),
                        az: az.to_string(),
                        state,
                        public_ip: addr.and_then(|a| a.public_ip()).map(str::to_string),
                        allocation_id: addr.and_then(|a| a.allocation_id()).map(str::to_string),
                    },
                );
            }
        }
    }
    for t in rts.step("DescribeRouteTables")?.route_tables() {
        if let (Some(c), Some(id)) = (component(t.tags()), t.route_table_id()) {
            let default_target = t
                .routes()
                .iter()
                .find(|r| r.destination_cidr_block() == Some("0.0.0.0/0"))
                .and_then(|r| r.gateway_id().or(r.nat_gateway_id()))
                .map(str::to_string);
            let associations = t
                .associations()
                .iter()
                .filter_map(|a| {
                    Some((
                        a.route_table_association_id()?.to_string(),
                        a.subnet_id()?.to_string(),
                    ))
                })
                .collect();
            o.route_tables.insert(
                c,
                RouteTableObs {
                    id: id.to_string(),
                    default_target,
                    associations,
                },
            );
        }
    }
    for f in fls.step("DescribeFlowLogs")?.flow_logs() {
        if let Some(id) = f.flow_log_id() {
            o.flow_logs.push(FlowLogObs {
                id: id.to_string(),
                traffic_type: f
                    .traffic_type()
                    .map(|t| t.as_str().to_string())
                    .unwrap_or_default(),
                log_group: f.log_group_name().map(str::to_string),
                role_arn: f.deliver_logs_permission_arn().map(str::to_string),
                max_aggregation_interval: f.max_aggregation_interval(),
                log_format: f.log_format().map(str::to_string),
                delivering: f.deliver_logs_status() != Some("FAILED"),
            });
        }
    }
    // A flow log that delivers through our role proves the role exists: no GetRole needed.
    let suffix = format!(":role/{role}");
    o.role_arn = match o
        .good_flow_log(&log_group)
        .filter(|f| f.delivering)
        .and_then(|f| f.role_arn.clone())
        .filter(|a| a.ends_with(&suffix))
    {
        Some(arn) => Some(arn),
        None => role_fut.await?,
    };
    o.vpc_id = Some(vpc_id);
    o.vpc_cidr = Some(cidr);
    o.vpc_tags = vpc_tags;
    Ok(o)
}

impl ObservedNetwork {
    /// The flow log that meets every guarantee: ALL traffic into our log group.
    pub fn good_flow_log(&self, log_group: &str) -> Option<&FlowLogObs> {
        self.flow_logs
            .iter()
            .find(|f| f.traffic_type == "ALL" && f.log_group.as_deref() == Some(log_group))
    }
}

/// The flow-log delivery role's trust policy: only the VPC Flow Logs service may assume it.
pub fn flow_trust_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

/// Least privilege: write streams and events into this one log group, nothing else.
pub fn flow_role_policy(log_group_arn: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DeliverToThisLogGroupOnly",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams"
            ],
            "Resource": [log_group_arn, format!("{log_group_arn}:*")]
        }]
    })
    .to_string()
}

/// The clients and limits one convergence needs.
pub struct Ctx<'a> {
    pub ec2: &'a aws_sdk_ec2::Client,
    pub logs: &'a aws_sdk_cloudwatchlogs::Client,
    pub iam: &'a aws_sdk_iam::Client,
    pub cancel: &'a CancellationToken,
    pub timeout: Duration,
}

const TARGET: &str = "platform::environment";

/// Makes the network match `d`: create what is missing (adopting tagged objects), repair
/// what drifted, remove what is no longer wanted. Independent parts run concurrently.
/// Returns the VPC id and the subnet ids by component key, for the cluster and database.
///
/// `state_has_vpc` says whether the prior state records the VPC. When it does not and a VPC
/// with the owner tag is found (a create killed after CreateVpc, before its DNS attributes
/// were set), the DNS attributes are set on it like on a created one.
pub async fn converge(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    state_has_vpc: bool,
) -> Result<(String, BTreeMap<String, String>), StepError> {
    let mut o = observe(c.ec2, c.logs, c.iam, &d.name, &d.owner).await?;
    let vpc_id = match &o.vpc_id {
        Some(id) if state_has_vpc => id.clone(),
        Some(id) => {
            enable_dns(c, id).await?;
            tracing::info!(target: TARGET, env = %d.name, vpc = %id, "adopted VPC (DNS attributes set)");
            id.clone()
        }
        None => {
            let id = create_vpc(c, d).await?;
            tracing::info!(target: TARGET, env = %d.name, vpc = %id, "created VPC");
            o = observe(c.ec2, c.logs, c.iam, &d.name, &d.owner).await?;
            id
        }
    };
    sync_tags(c, d, &vpc_id, &o).await?;

    // Stage 1, concurrently: internet gateway, every subnet, the flow-log chain.
    let igw_fut = ensure_igw(c, d, &vpc_id, &o);
    let subnet_futs = d.subnets.iter().flat_map(|(az, s)| {
        [
            ("private", s.private.to_string()),
            ("public", s.public.to_string()),
        ]
        .into_iter()
        .map(|(tier, cidr)| ensure_subnet(c, d, &vpc_id, &o, tier, az.clone(), cidr))
    });
    let flow_fut = ensure_flow_logs(c, d, &vpc_id, &o);
    let (igw, subnets, flow) = tokio::join!(igw_fut, join_all(subnet_futs), flow_fut);
    let igw = igw?;
    let mut subnet_ids: BTreeMap<String, String> = BTreeMap::new();
    for s in subnets {
        let (k, id) = s?;
        subnet_ids.insert(k, id);
    }
    flow?;

    // Stage 2: public routing and the NAT gateways (one per AZ concurrently).
    let public_ids: Vec<String> = d
        .subnets
        .keys()
        .filter_map(|az| subnet_ids.get(&subnet_key("public", az)).cloned())
        .collect();
    let public_rt = ensure_route_table(c, d, &vpc_id, &o, PUBLIC_RT_KEY, &igw, true, &public_ids);
    let nat_futs = d.nat_azs().into_iter().map(|az| {
        let subnet = subnet_ids
            .get(&subnet_key("public", &az))
            .cloned()
            .unwrap_or_default();
        ensure_nat(c, d, &o, az, subnet)
    });
    let (rt, nats) = tokio::join!(public_rt, join_all(nat_futs));
    rt?;
    let mut nat_ids = BTreeMap::new();
    for n in nats {
        let (az, id) = n?;
        nat_ids.insert(az, id);
    }

    // Stage 3: private routing per AZ.
    let o = &o;
    let vpc = vpc_id.as_str();
    let rt_futs = d.subnets.keys().map(|az| {
        let nat = d
            .nat_for(az)
            .and_then(|n| nat_ids.get(&n).cloned())
            .unwrap_or_default();
        let subnet: Vec<String> = subnet_ids
            .get(&subnet_key("private", az))
            .cloned()
            .into_iter()
            .collect();
        let key = private_rt_key(az);
        async move { ensure_route_table(c, d, vpc, o, &key, &nat, false, &subnet).await }
    });
    for r in join_all(rt_futs).await {
        r?;
    }

    // Stage 4: remove what is no longer wanted (an AZ taken away, NAT mode reduced).
    remove_stale(c, d, o).await?;
    Ok((vpc_id, subnet_ids))
}

async fn create_vpc(c: &Ctx<'_>, d: &DesiredNetwork) -> Result<String, StepError> {
    // A lost answer is resolved here, not by observing the whole network again, so that the
    // adopted VPC gets its DNS attributes below like a created one.
    let id = platform_aws::lost::create_or_find(
        "VPC",
        || async {
            let r = c
                .ec2
                .create_vpc()
                .cidr_block(&d.vpc_cidr)
                .tag_specifications(spec(d, ResourceType::Vpc, VPC_KEY))
                .send()
                .await
                .step("CreateVpc")?;
            Ok(r.vpc()
                .and_then(|v| v.vpc_id())
                .ok_or_else(|| StepError::new("CreateVpc", "no VPC id in the answer"))?
                .to_string())
        },
        || async {
            Ok(observe(c.ec2, c.logs, c.iam, &d.name, &d.owner)
                .await?
                .vpc_id)
        },
    )
    .await?;
    enable_dns(c, &id).await?;
    Ok(id)
}

/// EKS needs DNS hostnames and resolution inside the VPC (idempotent).
async fn enable_dns(c: &Ctx<'_>, vpc_id: &str) -> Result<(), StepError> {
    for hostnames in [false, true] {
        let on = AttributeBooleanValue::builder().value(true).build();
        let req = c.ec2.modify_vpc_attribute().vpc_id(vpc_id);
        let req = if hostnames {
            req.enable_dns_hostnames(on)
        } else {
            req.enable_dns_support(on)
        };
        req.send().await.step("ModifyVpcAttribute")?;
    }
    Ok(())
}

/// Keeps the tags of the VPC and everything in it, the flow-log group and its role equal to
/// the desired set (user and default tags update in place). The VPC's tags stand for all:
/// when they are right, nothing is called.
async fn sync_tags(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    vpc_id: &str,
    o: &ObservedNetwork,
) -> Result<(), StepError> {
    let diff = super::retag::diff(&o.vpc_tags, &d.tags);
    if diff.is_empty() {
        return Ok(());
    }
    let mut t = super::retag::Targets {
        ec2_ids: vec![vpc_id.to_string()],
        log_group_arns: o.log_group.iter().map(|g| g.arn.clone()).collect(),
        ..Default::default()
    };
    t.ec2_ids.extend(o.igw.iter().map(|(id, _)| id.clone()));
    t.ec2_ids.extend(o.subnets.values().map(|s| s.id.clone()));
    t.ec2_ids.extend(o.nats.values().map(|n| n.id.clone()));
    t.ec2_ids
        .extend(o.route_tables.values().map(|t| t.id.clone()));
    t.ec2_ids.extend(o.eips.values().map(|(id, _)| id.clone()));
    t.ec2_ids.extend(o.flow_logs.iter().map(|f| f.id.clone()));
    if o.role_arn.is_some() {
        t.iam_roles.push(flow_log_role_name(&d.name));
    }
    let clients = super::retag::Clients {
        ec2: c.ec2,
        iam: c.iam,
        logs: Some(c.logs),
        kms: None,
        eks: None,
        rds: None,
    };
    super::retag::apply(&clients, &t, &diff).await
}

async fn ensure_igw(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    vpc_id: &str,
    o: &ObservedNetwork,
) -> Result<String, StepError> {
    let (id, attached) = match &o.igw {
        Some((id, att)) => (id.clone(), *att),
        None => {
            let r = c
                .ec2
                .create_internet_gateway()
                .tag_specifications(spec(d, ResourceType::InternetGateway, IGW_KEY))
                .send()
                .await
                .step("CreateInternetGateway")?;
            let id = r
                .internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .ok_or_else(|| StepError::new("CreateInternetGateway", "no id in the answer"))?
                .to_string();
            tracing::info!(target: TARGET, igw = %id, "created internet gateway");
            (id, false)
        }
    };
    if !attached {
        c.ec2
            .attach_internet_gateway()
            .internet_gateway_id(&id)
            .vpc_id(vpc_id)
            .send()
            .await
            .step("AttachInternetGateway")?;
    }
    Ok(id)
}

async fn ensure_subnet(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    vpc_id: &str,
    o: &ObservedNetwork,
    tier: &str,
    az: String,
    cidr: String,
) -> Result<(String, String), StepError> {
    let key = subnet_key(tier, &az);
    if let Some(s) = o.subnets.get(&key) {
        return Ok((key, s.id.clone()));
    }
    let mut spec_tags = spec(d, ResourceType::Subnet, &key);
    // Kubernetes load balancer discovery: internet-facing ELBs in public subnets,
    // internal ones in private subnets.
    let role = if tier == "public" {
        "kubernetes.io/role/elb"
    } else {
        "kubernetes.io/role/internal-elb"
    };
    let mut tags = spec_tags.tags().to_vec();
    tags.push(Tag::builder().key(role).value("1").build());
    spec_tags = TagSpecification::builder()
        .resource_type(ResourceType::Subnet)
        .set_tags(Some(tags))
        .build();
    let r = c
        .ec2
        .create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(&cidr)
        .availability_zone(&az)
        .tag_specifications(spec_tags)
        .send()
        .await
        .step("CreateSubnet")?;
    let id = r
        .subnet()
        .and_then(|s| s.subnet_id())
        .ok_or_else(|| StepError::new("CreateSubnet", "no id in the answer"))?
        .to_string();
    tracing::info!(target: TARGET, subnet = %id, %key, %cidr, "created subnet");
    Ok((key, id))
}

async fn ensure_flow_logs(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    vpc_id: &str,
    o: &ObservedNetwork,
) -> Result<(), StepError> {
    let lg = d.log_group_name();
    let log_group_arn = match &o.log_group {
        Some(g) => {
            if g.kms_key_arn != d.flow.kms_key_arn {
                let r = match &d.flow.kms_key_arn {
                    Some(k) => c
                        .logs
                        .associate_kms_key()
                        .log_group_name(&lg)
                        .kms_key_id(k)
                        .send()
                        .await
                        .map(|_| ())
                        .step("AssociateKmsKey"),
                    None => c
                        .logs
                        .disassociate_kms_key()
                        .log_group_name(&lg)
                        .send()
                        .await
                        .map(|_| ())
                        .step("DisassociateKmsKey"),
                };
                r?;
            }
            g.arn.clone()
        }
        None => {
            let mut req = c
                .logs
                .create_log_group()
                .log_group_name(&lg)
                .set_tags(Some(d.tags.clone().into_iter().collect()));
            if let Some(k) = &d.flow.kms_key_arn {
                req = req.kms_key_id(k);
            }
            match req.send().await.step("CreateLogGroup") {
                Ok(_) => {}
                Err(e) if e.code() == Some("ResourceAlreadyExistsException") => {}
                Err(e) => return Err(e),
            }
            tracing::info!(target: TARGET, log_group = %lg, "created flow-log log group");
            let r = c
                .logs
                .describe_log_groups()
                .log_group_name_prefix(&lg)
                .send()
                .await
                .step("DescribeLogGroups")?;
            r.log_groups()
                .iter()
                .find(|g| g.log_group_name() == Some(lg.as_str()))
                .and_then(|g| g.arn())
                .map(|a| a.trim_end_matches(":*").to_string())
                .ok_or_else(|| {
                    StepError::new("DescribeLogGroups", "log group missing after creation")
                })?
        }
    };
    if o.log_group.as_ref().and_then(|g| g.retention_in_days) != Some(d.flow.retention_in_days) {
        c.logs
            .put_retention_policy()
            .log_group_name(&lg)
            .retention_in_days(d.flow.retention_in_days)
            .send()
            .await
            .step("PutRetentionPolicy")?;
    }

    let role_name = d.role_name();
    let role_arn = match &o.role_arn {
        Some(a) => a.clone(),
        None => {
            let tags: Vec<aws_sdk_iam::types::Tag> = super::retag::iam_tags(&d.tags);
            let r = c
                .iam
                .create_role()
                .role_name(&role_name)
                .assume_role_policy_document(flow_trust_policy())
                .description("Delivers this environment's VPC flow logs to its log group")
                .set_tags(Some(tags))
                .send()
                .await;
            match r.step("CreateRole") {
                Ok(r) => r.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                Err(e) if e.code() == Some("EntityAlreadyExists") => c
                    .iam
                    .get_role()
                    .role_name(&role_name)
                    .send()
                    .await
                    .step("GetRole")?
                    .role()
                    .map(|r| r.arn().to_string())
                    .unwrap_or_default(),
                Err(e) => return Err(e),
            }
        }
    };
    // Idempotent; keeps the policy pinned to the log group even if edited out of band.
    c.iam
        .put_role_policy()
        .role_name(&role_name)
        .policy_name(FLOW_POLICY_NAME)
        .policy_document(flow_role_policy(&log_group_arn))
        .send()
        .await
        .step("PutRolePolicy")?;

    // The flow log itself: keep one that meets the guarantees and matches the settings;
    // replace anything else (flow logs cannot be modified in place).
    let matches = |f: &FlowLogObs| {
        f.traffic_type == "ALL"
            && f.log_group.as_deref() == Some(lg.as_str())
            && f.max_aggregation_interval
                .is_none_or(|m| m == d.flow.max_aggregation_interval)
            && (d.flow.log_format.is_none() || f.log_format == d.flow.log_format)
    };
    let keep = o
        .flow_logs
        .iter()
        .find(|f| matches(f))
        .map(|f| f.id.clone());
    let stale: Vec<String> = o
        .flow_logs
        .iter()
        .filter(|f| Some(&f.id) != keep.as_ref())
        .filter(|f| f.log_group.as_deref() == Some(lg.as_str()) || !matches(f))
        .map(|f| f.id.clone())
        .collect();
    let delete_stale = || async {
        if stale.is_empty() {
            return Ok(());
        }
        c.ec2
            .delete_flow_logs()
            .set_flow_log_ids(Some(stale.clone()))
            .send()
            .await
            .map(|_| ())
            .step("DeleteFlowLogs")
    };
    let mut stale_deleted = false;
    if keep.is_none() {
        // Create the replacement before deleting the old one, so the VPC is never without
        // flow logs; an endpoint that refuses a second flow log into the same log group
        // gets the old one deleted first.
        let r = create_flow_log(c, d, vpc_id, &lg, &role_arn).await;
        match r {
            Err(e) if e.message.contains("FlowLogAlreadyExists") && !stale.is_empty() => {
                delete_stale().await?;
                stale_deleted = true;
                create_flow_log(c, d, vpc_id, &lg, &role_arn).await?;
            }
            r => r?,
        }
    }
    if !stale_deleted {
        delete_stale().await?;
    }
    Ok(())
}

async fn create_flow_log(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    vpc_id: &str,
    lg: &str,
    role_arn: &str,
) -> Result<(), StepError> {
    {
        let mut req = c
            .ec2
            .create_flow_logs()
            .resource_ids(vpc_id)
            .resource_type(FlowLogsResourceType::Vpc)
            .traffic_type(TrafficType::All)
            .log_destination_type(LogDestinationType::CloudWatchLogs)
            .log_group_name(lg)
            .deliver_logs_permission_arn(role_arn)
            .max_aggregation_interval(d.flow.max_aggregation_interval)
            .tag_specifications(spec(d, ResourceType::VpcFlowLog, FLOW_LOG_KEY));
        if let Some(f) = &d.flow.log_format {
            req = req.log_format(f);
        }
        let r = req.send().await.step("CreateFlowLogs")?;
        if let Some(u) = r.unsuccessful().first() {
            let msg = u
                .error()
                .and_then(|e| e.message())
                .unwrap_or("unknown error");
            return Err(StepError::new("CreateFlowLogs", msg.to_string()));
        }
        tracing::info!(target: TARGET, ids = ?r.flow_log_ids(), "created VPC flow log (traffic type ALL)");
    }
    Ok(())
}

async fn ensure_nat(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    o: &ObservedNetwork,
    az: String,
    public_subnet: String,
) -> Result<(String, String), StepError> {
    let nat_id = match o.nats.get(&az) {
        Some(n) => n.id.clone(),
        None => {
            let alloc = match o.eips.get(&az) {
                Some((id, _)) => id.clone(),
                None => {
                    let r = c
                        .ec2
                        .allocate_address()
                        .domain(DomainType::Vpc)
                        .tag_specifications(spec(d, ResourceType::ElasticIp, &eip_key(&az)))
                        .send()
                        .await
                        .step("AllocateAddress")?;
                    r.allocation_id()
                        .ok_or_else(|| StepError::new("AllocateAddress", "no allocation id"))?
                        .to_string()
                }
            };
            let r = c
                .ec2
                .create_nat_gateway()
                .subnet_id(&public_subnet)
                .allocation_id(&alloc)
                .tag_specifications(spec(d, ResourceType::Natgateway, &nat_key(&az)))
                .send()
                .await
                .step("CreateNatGateway")?;
            let id = r
                .nat_gateway()
                .and_then(|n| n.nat_gateway_id())
                .ok_or_else(|| StepError::new("CreateNatGateway", "no id in the answer"))?
                .to_string();
            tracing::info!(target: TARGET, nat = %id, %az, "created NAT gateway; waiting until available");
            id
        }
    };
    wait_nat(c, &nat_id, NatGatewayState::Available).await?;
    Ok((az, nat_id))
}

/// Polls a NAT gateway until it reaches `want` (or, when waiting for `deleted`, is gone).
async fn wait_nat(c: &Ctx<'_>, id: &str, want: NatGatewayState) -> Result<(), StepError> {
    let what = format!("NAT gateway {id} to be {}", want.as_str());
    wait::until(&what, c.timeout, c.cancel, || async {
        let r = c
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await;
        let r = match r.step("DescribeNatGateways") {
            Ok(r) => r,
            Err(e) if e.code() == Some("NatGatewayNotFound") => {
                return if want == NatGatewayState::Deleted {
                    Ok(Some(()))
                } else {
                    Err(StepError::new(
                        "DescribeNatGateways",
                        format!("{id} vanished"),
                    ))
                };
            }
            Err(e) => return Err(e),
        };
        let state = r.nat_gateways().first().and_then(|n| n.state()).cloned();
        match state {
            None if want == NatGatewayState::Deleted => Ok(Some(())),
            Some(s) if s == want => Ok(Some(())),
            Some(NatGatewayState::Failed) => Err(StepError::new(
                "CreateNatGateway",
                format!(
                    "NAT gateway {id} failed: {}",
                    r.nat_gateways()
                        .first()
                        .and_then(|n| n.failure_message())
                        .unwrap_or("no reason given")
                ),
            )),
            _ => Ok(None),
        }
    })
    .await
    .map_err(StepError::from)
}

/// A route table with its 0.0.0.0/0 route to `target` (IGW or NAT) and exactly the given
/// subnet associations.
#[allow(clippy::too_many_arguments)]
async fn ensure_route_table(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    vpc_id: &str,
    o: &ObservedNetwork,
    key: &str,
    target: &str,
    via_igw: bool,
    subnets: &[String],
) -> Result<String, StepError> {
    let (id, current_target, assocs) = match o.route_tables.get(key) {
        Some(t) => (
            t.id.clone(),
            t.default_target.clone(),
            t.associations.clone(),
        ),
        None => {
            let r = c
                .ec2
                .create_route_table()
                .vpc_id(vpc_id)
                .tag_specifications(spec(d, ResourceType::RouteTable, key))
                .send()
                .await
                .step("CreateRouteTable")?;
            let id = r
                .route_table()
                .and_then(|t| t.route_table_id())
                .ok_or_else(|| StepError::new("CreateRouteTable", "no id in the answer"))?
                .to_string();
            (id, None, Vec::new())
        }
    };
    if current_target.as_deref() != Some(target) && !target.is_empty() {
        let exists = current_target.is_some();
        let r = if exists {
            let req = c
                .ec2
                .replace_route()
                .route_table_id(&id)
                .destination_cidr_block("0.0.0.0/0");
            let req = if via_igw {
                req.gateway_id(target)
            } else {
                req.nat_gateway_id(target)
            };
            req.send().await.map(|_| ()).step("ReplaceRoute")
        } else {
            let req = c
                .ec2
                .create_route()
                .route_table_id(&id)
                .destination_cidr_block("0.0.0.0/0");
            let req = if via_igw {
                req.gateway_id(target)
            } else {
                req.nat_gateway_id(target)
            };
            req.send().await.map(|_| ()).step("CreateRoute")
        };
        r?;
    }
    for s in subnets {
        if !assocs.iter().any(|(_, sub)| sub == s) {
            // A subnet may still be associated with another of our tables (NAT mode change):
            // replace that association instead of failing.
            let other = o
                .route_tables
                .values()
                .flat_map(|t| t.associations.iter())
                .find(|(_, sub)| sub == s)
                .map(|(a, _)| a.clone());
            match other {
                Some(assoc) => {
                    c.ec2
                        .replace_route_table_association()
                        .association_id(assoc)
                        .route_table_id(&id)
                        .send()
                        .await
                        .step("ReplaceRouteTableAssociation")?;
                }
                None => {
                    c.ec2
                        .associate_route_table()
                        .route_table_id(&id)
                        .subnet_id(s)
                        .send()
                        .await
                        .step("AssociateRouteTable")?;
                }
            }
        }
    }
    Ok(id)
}

/// Removes NATs, route tables and subnets of AZs (or NAT slots) no longer wanted.
async fn remove_stale(
    c: &Ctx<'_>,
    d: &DesiredNetwork,
    o: &ObservedNetwork,
) -> Result<(), StepError> {
    let nat_azs = d.nat_azs();
    let stale_nats: Vec<&NatObs> = o
        .nats
        .values()
        .filter(|n| !nat_azs.contains(&n.az))
        .collect();
    delete_nats(c, &stale_nats).await?;
    let stale_eips: Vec<String> = o
        .eips
        .iter()
        .filter(|(az, _)| !nat_azs.contains(az))
        .map(|(_, (id, _))| id.clone())
        .collect();
    release_eips(c, &stale_eips).await?;
    let stale_rts: Vec<&RouteTableObs> = o
        .route_tables
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix("rt/private/")
                .is_some_and(|az| !d.subnets.contains_key(az))
        })
        .map(|(_, t)| t)
        .collect();
    delete_route_tables(c, &stale_rts).await?;
    let stale_subnets: Vec<String> = o
        .subnets
        .iter()
        .filter(|(_, s)| !d.subnets.contains_key(&s.az))
        .map(|(_, s)| s.id.clone())
        .collect();
    delete_subnets(c, &stale_subnets).await
}

async fn delete_nats(c: &Ctx<'_>, nats: &[&NatObs]) -> Result<(), StepError> {
    let futs = nats.iter().map(|n| async move {
        match c
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(&n.id)
            .send()
            .await
            .step("DeleteNatGateway")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("NatGatewayNotFound") => return Ok(()),
            Err(e) => return Err(e),
        }
        tracing::info!(target: TARGET, nat = %n.id, "deleting NAT gateway; waiting until deleted");
        wait_nat(c, &n.id, NatGatewayState::Deleted).await
    });
    join_all(futs).await.into_iter().collect()
}

async fn release_eips(c: &Ctx<'_>, ids: &[String]) -> Result<(), StepError> {
    let futs = ids.iter().map(|id| async move {
        match c
            .ec2
            .release_address()
            .allocation_id(id)
            .send()
            .await
            .step("ReleaseAddress")
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("InvalidAllocationID.NotFound") => Ok(()),
            Err(e) => Err(e),
        }
    });
    join_all(futs).await.into_iter().collect()
}

async fn delete_route_tables(c: &Ctx<'_>, rts: &[&RouteTableObs]) -> Result<(), StepError> {
    let futs = rts.iter().map(|t| async move {
        for (assoc, _) in &t.associations {
            match c
                .ec2
                .disassociate_route_table()
                .association_id(assoc)
                .send()
                .await
                .step("DisassociateRouteTable")
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("InvalidAssociationID.NotFound") => {}
                Err(e) => return Err(e),
            }
        }
        match c
            .ec2
            .delete_route_table()
            .route_table_id(&t.id)
            .send()
            .await
            .step("DeleteRouteTable")
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("InvalidRouteTableID.NotFound") => Ok(()),
            Err(e) => Err(e),
        }
    });
    join_all(futs).await.into_iter().collect()
}

async fn delete_subnets(c: &Ctx<'_>, ids: &[String]) -> Result<(), StepError> {
    let futs = ids.iter().map(|id| async move {
        match c
            .ec2
            .delete_subnet()
            .subnet_id(id)
            .send()
            .await
            .step("DeleteSubnet")
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("InvalidSubnetID.NotFound") => Ok(()),
            Err(e) => Err(e),
        }
    });
    join_all(futs).await.into_iter().collect()
}

/// Deletes the whole network in reverse dependency order: flow logs, NAT gateways (and
/// wait until gone) before releasing their EIPs and detaching the IGW, route tables,
/// subnets, the VPC, then the log group and the delivery role.
pub async fn delete(c: &Ctx<'_>, env: &str, owner: &str) -> Result<(), StepError> {
    let o = observe(c.ec2, c.logs, c.iam, env, owner).await?;
    if !o.flow_logs.is_empty() {
        c.ec2
            .delete_flow_logs()
            .set_flow_log_ids(Some(o.flow_logs.iter().map(|f| f.id.clone()).collect()))
            .send()
            .await
            .step("DeleteFlowLogs")?;
    }
    let nats: Vec<&NatObs> = o.nats.values().collect();
    delete_nats(c, &nats).await?;
    let eips: Vec<String> = o.eips.values().map(|(id, _)| id.clone()).collect();
    release_eips(c, &eips).await?;
    let rts: Vec<&RouteTableObs> = o.route_tables.values().collect();
    delete_route_tables(c, &rts).await?;
    if let Some((igw, attached)) = &o.igw {
        if let (true, Some(vpc)) = (attached, &o.vpc_id) {
            match c
                .ec2
                .detach_internet_gateway()
                .internet_gateway_id(igw)
                .vpc_id(vpc)
                .send()
                .await
                .step("DetachInternetGateway")
            {
                Ok(_) => {}
                Err(e) if e.code() == Some("Gateway.NotAttached") => {}
                Err(e) => return Err(e),
            }
        }
        match c
            .ec2
            .delete_internet_gateway()
            .internet_gateway_id(igw)
            .send()
            .await
            .step("DeleteInternetGateway")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("InvalidInternetGatewayID.NotFound") => {}
            Err(e) => return Err(e),
        }
    }
    let subnets: Vec<String> = o.subnets.values().map(|s| s.id.clone()).collect();
    delete_subnets(c, &subnets).await?;
    if let Some(vpc) = &o.vpc_id {
        // ENIs left by load balancers or nodes can hold the VPC for a while after their
        // owners are gone: retry DependencyViolation until the deadline.
        wait::until(
            &format!("VPC {vpc} to be deletable"),
            c.timeout,
            c.cancel,
            || async {
                match c
                    .ec2
                    .delete_vpc()
                    .vpc_id(vpc)
                    .send()
                    .await
                    .step("DeleteVpc")
                {
                    Ok(_) => Ok(Some(())),
                    Err(e) if e.code() == Some("InvalidVpcID.NotFound") => Ok(Some(())),
                    Err(e) if e.code() == Some("DependencyViolation") => Ok(None),
                    Err(e) => Err(e),
                }
            },
        )
        .await
        .map_err(|e| match e {
            wait::WaitError::Failed(s) => s,
            other => StepError::new("DeleteVpc", other.to_string()),
        })?;
    }
    if o.log_group.is_some() {
        match c
            .logs
            .delete_log_group()
            .log_group_name(flow_log_group_name(env))
            .send()
            .await
            .step("DeleteLogGroup")
        {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceNotFoundException") => {}
            Err(e) => return Err(e),
        }
    }
    if o.role_arn.is_some() {
        platform_aws::iam::delete_role(c.iam, &flow_log_role_name(env)).await?;
    }
    Ok(())
}

/// Deletes a security group, retrying while ENIs of deleted clusters, nodes or databases
/// still hold it (DependencyViolation), up to `timeout`.
pub async fn delete_security_group(
    ec2: &aws_sdk_ec2::Client,
    sg: &str,
    timeout: Duration,
    cancel: &CancellationToken,
) -> Result<(), StepError> {
    wait::until(
        &format!("security group {sg} to be deletable"),
        timeout,
        cancel,
        || async {
            match ec2
                .delete_security_group()
                .group_id(sg)
                .send()
                .await
                .step("DeleteSecurityGroup")
            {
                Ok(_) => Ok(Some(())),
                Err(e) if e.code() == Some("InvalidGroup.NotFound") => Ok(Some(())),
                Err(e) if e.code() == Some("DependencyViolation") => Ok(None),
                Err(e) => Err(e),
            }
        },
    )
    .await
    .map_err(StepError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_role_is_scoped_to_one_log_group() {
        let p: serde_json::Value = serde_json::from_str(&flow_role_policy(
            "arn:aws:logs:us-east-1:111111111111:log-group:/platform/dev/vpc-flow-logs",
        ))
        .unwrap();
        let res = p["Statement"][0]["Resource"].as_array().unwrap();
        assert!(res
            .iter()
            .all(|r| r.as_str().unwrap().contains("/platform/dev/vpc-flow-logs")));
        assert!(!p.to_string().contains("\"*\""));
        let t: serde_json::Value = serde_json::from_str(&flow_trust_policy()).unwrap();
        assert_eq!(
            t["Statement"][0]["Principal"]["Service"],
            "vpc-flow-logs.amazonaws.com"
        );
    }

    #[test]
    fn single_nat_serves_every_az() {
        let vpc = super::super::cidr::Cidr::parse("10.0.0.0/16").unwrap();
        let azs = vec!["us-east-1b".to_string(), "us-east-1a".to_string()];
        let d = DesiredNetwork {
            name: "dev".into(),
            owner: "platform_environment/dev".into(),
            tags: BTreeMap::new(),
            vpc_cidr: "10.0.0.0/16".into(),
            subnets: super::super::cidr::plan(&vpc, 4, &azs).unwrap(),
            nat: NatMode::Single,
            flow: FlowLogSettings {
                retention_in_days: 90,
                kms_key_arn: None,
                log_format: None,
                max_aggregation_interval: 600,
            },
        };
        assert_eq!(d.nat_azs(), vec!["us-east-1a".to_string()]);
        assert_eq!(d.nat_for("us-east-1b").as_deref(), Some("us-east-1a"));
        let d = DesiredNetwork {
            nat: NatMode::PerAz,
            ..d
        };
        assert_eq!(d.nat_azs().len(), 2);
        assert_eq!(d.nat_for("us-east-1b").as_deref(), Some("us-east-1b"));
    }
}
