//! The schema of `platform_environment`: its attributes, nested blocks and their defaults.
//! The computed attribute lists live here because plan, read and apply all walk them: one
//! list per kind of computed value keeps the schema and the code that fills it in step.

use std::time::Duration;
use tfplugin_framework::{Attribute, Block, NestedBlock, Nesting, Schema, Type};

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

pub const DEFAULT_DB_CLASS: &str = "db.t4g.micro";
pub const DEFAULT_DB_STORAGE: i64 = 20;
pub const DEFAULT_DB_BACKUP_DAYS: i64 = 7;
pub const DEFAULT_DB_MONITORING: i64 = 60;
pub const DEFAULT_DB_USER: &str = "platform";

/// Computed database attributes.
pub(super) const DB_IDS: &[(&str, &str)] = &[
    ("database_endpoint", "The database's DNS address."),
    ("database_arn", "ARN of the DB instance."),
    ("database_master_user_secret_arn", "ARN of the Secrets Manager secret holding the master password (the password itself is never in state)."),
    ("database_security_group_id", "The database security group: engine port from the node security group only."),
];

/// Computed cluster attributes: kept from prior state when present, unknown when the
/// cluster is (re)created, null when the environment has no cluster.
pub(super) const CLUSTER_IDS: &[(&str, &str)] = &[
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
pub(super) const AZ_MAPS: &[(&str, &str)] = &[
    ("public_subnet_ids", "Public subnet id by AZ."),
    ("private_subnet_ids", "Private subnet id by AZ."),
    (
        "private_route_table_ids",
        "Private route table id by AZ (default route through that AZ's NAT, or the single NAT).",
    ),
];

/// Computed single ids: kept from prior state when present, unknown (to be created) when not.
pub(super) const IDS: &[(&str, &str)] = &[
    (
        "vpc_id",
        "The VPC id (tagged `platform:owner = platform_environment/<name>`).",
    ),
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
            .attr(Attribute::string("log_format").optional().description("Custom flow-log record format (`${field} ...`), each field at most once from the VPC flow-log fields of versions 2 to 8 (e.g. `${srcaddr}`, `${pkt-dstaddr}`, `${reject-reason}`). Default: AWS's default format."))
            .attr(Attribute::number("max_aggregation_interval").optional().description("60 or 600 seconds. Default 600.")),
    )
}

fn cluster_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "cluster",
        Block::new()
            .description("The EKS cluster. All five control-plane log types are always on, secrets are KMS-encrypted, the private endpoint is always on.")
            .attr(Attribute::string("version").default(DEFAULT_EKS_VERSION).description("Kubernetes version (an EKS-supported minor such as \"1.32\")."))
            .attr(Attribute::bool("endpoint_public_access").default(false).description("Also expose the API endpoint publicly; only together with public_access_cidrs."))
            .attr(Attribute::string_list("public_access_cidrs").optional().description("CIDRs allowed to reach the public endpoint (0.0.0.0/0 is refused)."))
            .attr(Attribute::string("secrets_kms_key_arn").optional().description("KMS key for secrets envelope encryption. Default: a key this resource creates (with rotation)."))
            .attr(Attribute::number("log_retention_in_days").default(DEFAULT_CLUSTER_LOG_RETENTION).description("Retention of the control-plane log group.")),
    )
}

fn database_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "database",
        Block::new()
            .description("An RDS instance in the private subnets: encrypted, not publicly accessible, reachable only from the EKS nodes on the engine port, master password in Secrets Manager. Needs a cluster block.")
            .attr(Attribute::string("engine").required().description("Database engine: `postgres` or `mysql`. Changing it replaces the instance (a new, empty database with the same identifier), which is refused while `deletion_protection` is on."))
            .attr(Attribute::string("engine_version").optional().computed().description("Engine version, pinned to a major by default (postgres 16, mysql 8.0) so AWS minor upgrades never show as drift."))
            .attr(Attribute::string("instance_class").default(DEFAULT_DB_CLASS).description("Instance class."))
            .attr(Attribute::number("allocated_storage").default(DEFAULT_DB_STORAGE).description("Storage in GiB (20 to 65536)."))
            .attr(Attribute::number("max_allocated_storage").optional().description("Storage autoscaling ceiling in GiB; above allocated_storage."))
            .attr(Attribute::bool("multi_az").default(false).description("Standby in a second AZ."))
            .attr(Attribute::bool("deletion_protection").default(false).description("Refuse deletion (the prod preset of the module turns it on)."))
            .attr(Attribute::number("backup_retention_period").default(DEFAULT_DB_BACKUP_DAYS).description("Days of automated backups, 1 to 35."))
            .attr(Attribute::bool("skip_final_snapshot").default(false).description("Skip the final snapshot on destroy."))
            .attr(Attribute::number("monitoring_interval").default(DEFAULT_DB_MONITORING).description("Enhanced monitoring interval in seconds (0, 1, 5, 10, 15, 30, 60); with its role when not 0."))
            .attr(Attribute::bool("performance_insights").default(false).description("Enable Performance Insights."))
            .attr(Attribute::string("master_username").default(DEFAULT_DB_USER).description("Master user name. The password is generated and kept in Secrets Manager.")),
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
            .attr(Attribute::string_list("instance_types").optional().computed().description("EC2 instance types of the group's nodes (`family.size`, e.g. `t3.medium`). Changing them re-creates the node group under the same name. Default [\"t3.medium\"]."))
            .attr(Attribute::string("capacity_type").default("ON_DEMAND").description("ON_DEMAND or SPOT."))
            .attr(Attribute::number("min_size").required().description("Minimum node count (at least 1); scaling updates in place."))
            .attr(Attribute::number("max_size").required().description("Maximum node count, at least `min_size`; scaling updates in place."))
            .attr(Attribute::number("desired_size").optional().computed().description("Desired node count. Default: min_size."))
            .attr(Attribute::number("disk_size").default(DEFAULT_DISK_SIZE).description("Encrypted root volume size in GiB."))
            .attr(Attribute::string_map("labels").optional().description("Kubernetes labels put on every node of the group; updated in place."))
            .attr(Attribute::new("taints", taint_type()).optional().description("Kubernetes taints: objects with key, value and effect (NO_SCHEDULE, NO_EXECUTE, PREFER_NO_SCHEDULE).")),
    )
}

fn timeouts_block() -> NestedBlock {
    NestedBlock::at_most_one(
        "timeouts",
        Block::new()
            .description("How long apply waits for AWS (e.g. \"30m\", \"1h\"). Default 60m each.")
            .attr(Attribute::string("create").optional().description("How long creating the environment may wait for AWS (VPC, NAT, EKS, node groups, RDS), e.g. \"60m\". Default 60m."))
            .attr(Attribute::string("update").optional().description("How long an in-place update may wait (node group scaling, a database change, a cluster upgrade), e.g. \"60m\". Default 60m."))
            .attr(Attribute::string("delete").optional().description("How long destroy may wait for AWS (database, node groups, cluster, NAT, VPC), e.g. \"60m\". Default 60m.")),
    )
}

fn map_type() -> Type {
    Type::map(Type::String)
}

/// The whole schema; `Environment::schema` returns it.
pub(super) fn schema() -> Schema {
    let mut b = Block::new()
        .description("One whole environment, secure by construction: a VPC with public and private subnets per AZ (CIDRs planned and keyed by AZ), NAT (single or per AZ), routing and VPC flow logs that are always on (traffic type ALL, own log group with retention, least-privilege delivery role); optionally an EKS cluster (all five control-plane log types, KMS-encrypted secrets, private endpoint, IRSA) with managed node groups in the private subnets; optionally a private, encrypted RDS instance reachable only from the nodes, its master password in Secrets Manager. Every object carries `platform:owner = platform_environment/<name>`, so a failed apply resumes by adopting what it made; destroy runs in reverse.")
        .attr(Attribute::string("id").computed().description("The environment name."))
        .attr(Attribute::string("name").required().force_new().description("Environment name (e.g. `project-a-prod`): 1-32 lower-case letters, digits and hyphens, starting with a letter. Names every object; import by it."))
        .attr(Attribute::string("vpc_cidr").required().force_new().description("The VPC's IPv4 CIDR, /16 to /28. AWS cannot change it in place: a change replaces the environment."))
        .attr(Attribute::string_list("availability_zones").required().description("2 to 6 distinct AZs of the provider's region, by zone name (`us-east-1a`; AZ ids such as `use1-az1` are refused). Each AZ's subnets live in a slot given by its zone letter, so adding or removing an AZ never touches the others. The form and the region are checked without an AWS call; that an AZ exists for the account is checked at plan, for AZs the plan adds, with one DescribeAvailabilityZones per provider process (cached)."))
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
        .attr(Attribute::string("cluster_secrets_kms_alias").computed().description("Alias of the secrets key this resource creates (`alias/<name>-eks-secrets`), as refresh finds it: null when the alias is missing or names another key (the next apply makes it again), and null when `secrets_kms_key_arn` is given."))
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

#[cfg(test)]
mod tests {
    use super::super::Environment;
    use super::*;
    use tfplugin_framework::Resource;

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
}
