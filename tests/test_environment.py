"""platform_environment end to end: the real terraform 1.0.3, the real provider binary and a real moto
server. Every AWS-side check goes through boto3, never through the provider."""

from __future__ import annotations

import pytest

from harness.killpoints import apply_killing_provider

pytestmark = pytest.mark.e2e

ENV = "pk-e2e"
OWNER = f"platform_environment/{ENV}"


def flat(text: str) -> str:
    return " ".join(text.split())


def env_hcl(azs=("us-east-1a", "us-east-1b"), nat="single", extra="", name=ENV, cidr="10.20.0.0/16", team="platform") -> str:
    az_list = ", ".join(f'"{a}"' for a in azs)
    return f"""
resource "platform_environment" "e" {{
  name               = "{name}"
  vpc_cidr           = "{cidr}"
  availability_zones = [{az_list}]
  nat_gateways       = "{nat}"
  tags               = {{ team = "{team}" }}
{extra}
}}

output "vpc_id" {{
  value = platform_environment.e.vpc_id
}}
"""


def owned(moto, kind: str) -> list:
    ec2 = moto.client("ec2")
    f = [{"Name": f"tag:platform:owner", "Values": [OWNER]}]
    if kind == "vpc":
        return ec2.describe_vpcs(Filters=f)["Vpcs"]
    if kind == "subnet":
        return ec2.describe_subnets(Filters=f)["Subnets"]
    if kind == "nat":
        return [n for n in ec2.describe_nat_gateways(Filters=f)["NatGateways"] if n["State"] not in ("deleted", "deleting")]
    if kind == "eip":
        return ec2.describe_addresses(Filters=f)["Addresses"]
    if kind == "igw":
        return ec2.describe_internet_gateways(Filters=f)["InternetGateways"]
    if kind == "rt":
        return ec2.describe_route_tables(Filters=f)["RouteTables"]
    raise ValueError(kind)


def subnets_by_key(moto) -> dict:
    out = {}
    for s in owned(moto, "subnet"):
        tags = {t["Key"]: t["Value"] for t in s.get("Tags", [])}
        out[tags["platform:component"]] = (s["SubnetId"], s["CidrBlock"])
    return out


def flow_logs(moto, vpc_id: str) -> list:
    return moto.client("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]


def log_group(moto):
    groups = moto.client("logs").describe_log_groups(logGroupNamePrefix=f"/platform/{ENV}/")["logGroups"]
    return groups[0] if groups else None


def nothing_left(moto) -> None:
    for kind in ("vpc", "subnet", "nat", "eip", "igw", "rt"):
        assert owned(moto, kind) == [], f"{kind} left behind"
    assert log_group(moto) is None
    roles = [r["RoleName"] for r in moto.client("iam").list_roles()["Roles"]]
    assert f"{ENV}-vpc-flow-logs" not in roles


def assert_no_resource_changes(tf) -> None:
    """After an import the outputs are new to the state; the resource itself must plan no change."""
    plan = tf.plan_json()
    actions = [c["change"]["actions"] for c in plan["resource_changes"]]
    assert actions == [["no-op"]], tf.run("plan", "-no-color").stdout


def test_environment_lifecycle(tf, tf_factory, clean_moto):
    moto = clean_moto
    tf.write_config(env_hcl(), endpoint=moto.endpoint)
    tf.init()

    # Plan is informative: subnet CIDRs are known before apply.
    plan = tf.plan_json()
    after = plan["resource_changes"][0]["change"]["after"]
    assert after["private_subnet_cidrs"] == {"us-east-1a": "10.20.0.0/20", "us-east-1b": "10.20.16.0/20"}
    assert after["public_subnet_cidrs"] == {"us-east-1a": "10.20.128.0/20", "us-east-1b": "10.20.144.0/20"}
    assert after["flow_log_traffic_type"] == "ALL"

    tf.apply()
    vals = tf.resource_values("platform_environment.e")
    vpcs = owned(moto, "vpc")
    assert len(vpcs) == 1 and vpcs[0]["VpcId"] == vals["vpc_id"] and vpcs[0]["CidrBlock"] == "10.20.0.0/16"
    keys = subnets_by_key(moto)
    assert keys["subnet/private/us-east-1a"][1] == "10.20.0.0/20"
    assert keys["subnet/public/us-east-1b"][1] == "10.20.144.0/20"
    assert vals["private_subnet_ids"]["us-east-1a"] == keys["subnet/private/us-east-1a"][0]
    assert len(owned(moto, "nat")) == 1 and set(vals["nat_gateway_ids"]) == {"us-east-1a"}
    assert vals["nat_public_ips"]["us-east-1a"]
    fls = flow_logs(moto, vals["vpc_id"])
    assert len(fls) == 1 and fls[0]["TrafficType"] == "ALL" and fls[0]["LogGroupName"] == f"/platform/{ENV}/vpc-flow-logs"
    assert fls[0]["DeliverLogsPermissionArn"] == vals["flow_log_role_arn"]
    assert log_group(moto)["retentionInDays"] == 365
    policy = moto.client("iam").get_role_policy(RoleName=f"{ENV}-vpc-flow-logs", PolicyName="deliver-vpc-flow-logs")
    resources = policy["PolicyDocument"]["Statement"][0]["Resource"]
    assert all(f"/platform/{ENV}/vpc-flow-logs" in r for r in resources)
    # Private routes go through the NAT, public through the IGW.
    rts = {next(t["Value"] for t in r["Tags"] if t["Key"] == "platform:component"): r for r in owned(moto, "rt")}
    default = lambda rt: next(x for x in rt["Routes"] if x.get("DestinationCidrBlock") == "0.0.0.0/0")
    assert default(rts["rt/public"])["GatewayId"] == vals["internet_gateway_id"]
    assert default(rts["rt/private/us-east-1b"])["NatGatewayId"] == vals["nat_gateway_ids"]["us-east-1a"]

    assert tf.plan() == 0, tf.last.output

    # In-place update: retention.
    tf.write_config(env_hcl(extra="  flow_logs {\n    retention_in_days = 30\n  }"), endpoint=moto.endpoint)
    plan = tf.plan_json()
    assert plan["resource_changes"][0]["change"]["actions"] == ["update"]
    tf.apply()
    assert log_group(moto)["retentionInDays"] == 30
    assert tf.plan() == 0, tf.last.output

    # Add an AZ: the other AZs' subnets are untouched.
    before = subnets_by_key(moto)
    tf.write_config(
        env_hcl(azs=("us-east-1a", "us-east-1b", "us-east-1c"), extra="  flow_logs {\n    retention_in_days = 30\n  }"),
        endpoint=moto.endpoint,
    )
    plan = tf.plan_json()
    assert plan["resource_changes"][0]["change"]["actions"] == ["update"]
    tf.apply()
    now = subnets_by_key(moto)
    for k, v in before.items():
        assert now[k] == v, f"{k} changed"
    assert now["subnet/private/us-east-1c"][1] == "10.20.32.0/20"
    assert tf.plan() == 0, tf.last.output

    # Drift: a subnet and the flow log deleted out of band show in the plan; apply repairs them.
    ec2 = moto.client("ec2")
    vals = tf.resource_values("platform_environment.e")
    victim = vals["public_subnet_ids"]["us-east-1c"]
    rt = rts_assoc = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [victim]}])["RouteTables"]
    for r in rts_assoc:
        for a in r["Associations"]:
            if a.get("SubnetId") == victim:
                ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
    ec2.delete_subnet(SubnetId=victim)
    ec2.delete_flow_logs(FlowLogIds=[vals["flow_log_id"]])
    assert tf.plan() == 2
    out = flat(tf.last.output)
    assert "public_subnet_ids" in out and "flow_log_id" in out
    tf.apply()
    assert len(flow_logs(moto, vals["vpc_id"])) == 1
    assert "subnet/public/us-east-1c" in subnets_by_key(moto)
    assert tf.plan() == 0, tf.last.output

    # Drift: traffic type changed out of band (replace the flow log with a REJECT-only one).
    vals = tf.resource_values("platform_environment.e")
    ec2.delete_flow_logs(FlowLogIds=[vals["flow_log_id"]])
    ec2.create_flow_logs(
        ResourceIds=[vals["vpc_id"]], ResourceType="VPC", TrafficType="REJECT",
        LogGroupName=f"/platform/{ENV}/vpc-flow-logs", DeliverLogsPermissionArn=vals["flow_log_role_arn"],
    )
    assert tf.plan() == 2
    assert '"REJECT" -> "ALL"' in tf.last.output
    tf.apply()
    fls = flow_logs(moto, vals["vpc_id"])
    assert [f["TrafficType"] for f in fls] == ["ALL"]
    assert tf.plan() == 0, tf.last.output

    # Import by environment name into a fresh state.
    fresh = tf_factory(name="import")
    fresh.write_config(
        env_hcl(azs=("us-east-1a", "us-east-1b", "us-east-1c"), extra="  flow_logs {\n    retention_in_days = 30\n  }"),
        endpoint=moto.endpoint,
    )
    fresh.init()
    fresh.import_("platform_environment.e", ENV)
    imported = fresh.resource_values("platform_environment.e")
    assert imported["vpc_id"] == vals["vpc_id"]
    assert imported["private_subnet_ids"] == tf.resource_values("platform_environment.e")["private_subnet_ids"]
    assert_no_resource_changes(fresh)

    # NAT per AZ, then destroy: nothing tagged remains.
    tf.write_config(
        env_hcl(azs=("us-east-1a", "us-east-1b", "us-east-1c"), nat="per_az", extra="  flow_logs {\n    retention_in_days = 30\n  }"),
        endpoint=moto.endpoint,
    )
    tf.apply()
    assert len(owned(moto, "nat")) == 3
    assert tf.plan() == 0, tf.last.output

    # Tags update in place on every EC2 object.
    tf.write_config(
        env_hcl(azs=("us-east-1a", "us-east-1b", "us-east-1c"), nat="per_az", team="infra",
                extra="  flow_logs {\n    retention_in_days = 30\n  }"),
        endpoint=moto.endpoint,
    )
    tf.apply()
    for kind in ("vpc", "subnet", "nat", "rt", "igw"):
        for obj in owned(moto, kind):
            assert {"Key": "team", "Value": "infra"} in obj["Tags"], kind
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    nothing_left(moto)


def test_vpc_cidr_change_is_a_replacement(tf, clean_moto):
    tf.write_config(env_hcl(), endpoint=clean_moto.endpoint)
    tf.init()
    tf.apply()
    tf.write_config(env_hcl(cidr="10.30.0.0/16"), endpoint=clean_moto.endpoint)
    plan = tf.plan_json()
    change = plan["resource_changes"][0]["change"]
    assert change["actions"] == ["delete", "create"]
    assert change["after"]["private_subnet_cidrs"]["us-east-1a"] == "10.30.0.0/20"
    tf.destroy()
    nothing_left(clean_moto)


def test_killed_apply_is_adopted_not_duplicated(tf, clean_moto, fault_proxy):
    """Terraform itself is SIGKILLed (its whole process group) the moment moto has made the VPC and
    before the provider hears of it, so nothing reaches the state; the next apply adopts the VPC by its
    owner tag. The fault proxy holds the answer while the kill happens, so no timing can let the apply
    finish first."""
    moto = clean_moto
    tf.write_config(env_hcl(azs=("us-east-1a", "us-east-1b", "us-east-1c"), nat="per_az"), endpoint=fault_proxy.url)
    tf.init()
    run = apply_killing_provider(tf, lambda calls: calls[-1] == "CreateVpc", proxy=fault_proxy, whole_apply=True)
    assert run.killed_after == "CreateVpc", run.output
    assert run.returncode != 0
    assert len(owned(moto, "vpc")) == 1
    assert "platform_environment.e" not in tf.state_list()
    tf.apply()
    assert len(owned(moto, "vpc")) == 1, "a re-apply after a killed apply must adopt, not duplicate"
    assert len(owned(moto, "subnet")) == 6
    assert len(owned(moto, "nat")) == 3
    assert len(owned(moto, "igw")) == 1
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    nothing_left(moto)


def moto_requests(moto) -> list:
    text = moto.log_path.read_text(errors="replace") if moto.log_path.exists() else ""
    return [l for l in text.splitlines() if '"' in l and "HTTP/1.1" in l and "moto-api" not in l]


@pytest.mark.parametrize(
    "kwargs, extra, message, attribute",
    [
        ({"cidr": "10.0.0.0/33"}, "", "Invalid VPC CIDR", "vpc_cidr"),
        ({"cidr": "10.0.0.1/16"}, "", "Invalid VPC CIDR", "vpc_cidr"),
        ({"cidr": "10.0.0.0/26"}, "", "VPC CIDR too small for its subnets", "vpc_cidr"),
        ({"azs": ("us-east-1a", "us-east-1a")}, "", "Duplicate availability zone", "availability_zones"),
        ({"azs": ("us-east-1a",)}, "", "Invalid availability zones", "availability_zones"),
        ({"nat": "some"}, "", "Invalid nat_gateways", "nat_gateways"),
        ({"name": "Bad_Name"}, "", "Invalid environment name", "name"),
        ({}, "  flow_logs {\n    retention_in_days = 42\n  }", "Invalid log retention", "retention_in_days"),
        ({}, "  flow_logs {\n    max_aggregation_interval = 30\n  }", "Invalid max_aggregation_interval", "max_aggregation_interval"),
        ({}, "  subnet_newbits = 2", "Invalid subnet_newbits", "subnet_newbits"),
        ({}, "  timeouts {\n    create = \"soon\"\n  }", "Invalid timeout", "create"),
    ],
)
def test_bad_input_is_a_diagnostic_without_aws_calls(tf, clean_moto, kwargs, extra, message, attribute):
    tf.write_config(env_hcl(extra=extra, **kwargs), endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    assert message in flat(result.output)
    assert attribute in flat(result.output)
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0 and message in flat(result.output)
    assert len(moto_requests(clean_moto)) == before, "the provider called AWS for an invalid config"


REPO = __import__("pathlib").Path(__file__).resolve().parent.parent
STACKS = [f"{p}/{s}" for p in ("project-a", "project-b") for s in ("dev", "qa", "prod")]


@pytest.mark.parametrize("stack", STACKS)
def test_live_infrastructure_stack_inits_and_plans(tf_factory, clean_moto, stack):
    """Each environment stack initialises its S3 backend (here: a bucket and lock table in moto)
    and plans against moto through the module; the plan shows the preset's NAT layout."""
    import shutil

    moto = clean_moto
    tf = tf_factory(name=f"live-infrastructure/{stack}")
    root = tf.workdir.parent.parent.parent
    shutil.copytree(REPO / "terraform-modules", root / "terraform-modules", dirs_exist_ok=True)
    shutil.copytree(REPO / "live-infrastructure" / stack, tf.workdir, dirs_exist_ok=True)
    bucket = "pk-live-tfstate"
    moto.client("s3").create_bucket(Bucket=bucket)
    moto.client("dynamodb").create_table(
        TableName=f"{bucket}-lock", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    )
    tf.write(tf.s3_backend_file(moto.endpoint, bucket, lock_table=f"{bucket}-lock"), name="backend.hcl")
    tf.init("-backend-config=backend.hcl")
    plan = tf.plan_json("-var", f"endpoint_url={moto.endpoint}", "-var", "chart_repository=http://127.0.0.1:9/charts")
    change = next(c for c in plan["resource_changes"] if c["type"] == "platform_environment")
    # The cluster's core services are planned with the stack once a chart repository is set.
    services = [c for c in plan["resource_changes"] if c["type"] == "platform_cluster_services"]
    assert [c["change"]["actions"] for c in services] == [["create"]]
    after = change["change"]["after"]
    stage = stack.split("/")[1]
    assert after["nat_gateways"] == ("per_az" if stage == "prod" else "single")
    assert after["name"] == stack.replace("/", "-")
    assert after["flow_log_traffic_type"] == "ALL"
    assert all(v for v in after["private_subnet_cidrs"].values())


CLUSTER_ENV = "pk-eks"
CLUSTER_OWNER = f"platform_environment/{CLUSTER_ENV}"


def cluster_hcl(desired=2, retention=90, extra_ng="", public="") -> str:
    return f"""
resource "platform_environment" "e" {{
  name               = "{CLUSTER_ENV}"
  vpc_cidr           = "10.40.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]

  cluster {{
    version               = "1.31"
    log_retention_in_days = {retention}
{public}
  }}

  node_groups {{
    name           = "general"
    instance_types = ["t3.large"]
    min_size       = 1
    max_size       = 5
    desired_size   = {desired}
    labels         = {{ role = "general" }}
  }}
{extra_ng}
}}

output "cluster_name" {{
  value = platform_environment.e.cluster_name
}}
output "oidc_issuer_url" {{
  value = platform_environment.e.oidc_issuer_url
}}
output "oidc_provider_arn" {{
  value = platform_environment.e.oidc_provider_arn
}}
output "node_role_arn" {{
  value = platform_environment.e.node_role_arn
}}
"""


def test_cluster_lifecycle(tf, tf_factory, clean_moto):
    moto = clean_moto
    eks = moto.client("eks")
    tf.write_config(cluster_hcl(), endpoint=moto.endpoint)
    tf.init()
    plan = tf.plan_json()
    after = plan["resource_changes"][0]["change"]["after"]
    assert after["cluster_name"] == CLUSTER_ENV
    assert after["cluster_log_group_name"] == f"/aws/eks/{CLUSTER_ENV}/cluster"
    assert after["cluster_enabled_log_types"] == ["api", "audit", "authenticator", "controllerManager", "scheduler"]
    tf.apply()
    vals = tf.resource_values("platform_environment.e")
    out = tf.outputs()
    assert out["cluster_name"] == CLUSTER_ENV
    assert out["oidc_issuer_url"].startswith("https://oidc.eks.us-east-1.amazonaws.com/id/")
    assert out["oidc_provider_arn"].endswith(out["oidc_issuer_url"].replace("https://", ""))
    assert out["node_role_arn"].endswith(f"role/{CLUSTER_ENV}-eks-node")

    cl = eks.describe_cluster(name=CLUSTER_ENV)["cluster"]
    enabled = {t for s in cl["logging"]["clusterLogging"] if s["enabled"] for t in s["types"]}
    assert enabled == {"api", "audit", "authenticator", "controllerManager", "scheduler"}
    assert cl["resourcesVpcConfig"]["endpointPrivateAccess"] is True
    assert cl["resourcesVpcConfig"]["endpointPublicAccess"] is False
    assert set(cl["resourcesVpcConfig"]["subnetIds"]) == set(vals["private_subnet_ids"].values())
    assert cl["resourcesVpcConfig"]["securityGroupIds"] == [vals["node_security_group_id"]]
    assert cl["encryptionConfig"][0]["resources"] == ["secrets"]
    assert cl["encryptionConfig"][0]["provider"]["keyArn"] == vals["cluster_secrets_kms_key_arn"]
    lg = moto.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER_ENV}/")["logGroups"]
    assert lg[0]["retentionInDays"] == 90
    ng = eks.describe_nodegroup(clusterName=CLUSTER_ENV, nodegroupName="general")["nodegroup"]
    assert set(ng["subnets"]) == set(vals["private_subnet_ids"].values())
    assert ng["scalingConfig"] == {"minSize": 1, "maxSize": 5, "desiredSize": 2}
    iam = moto.client("iam")
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=f"{CLUSTER_ENV}-eks-node")["AttachedPolicies"]}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=f"{CLUSTER_ENV}-eks-cluster")["AttachedPolicies"]}
    assert attached == {"AmazonEKSClusterPolicy"}
    assert tf.plan() == 0, tf.last.output

    # In place: node group scaling and log retention.
    tf.write_config(cluster_hcl(desired=3, retention=30), endpoint=moto.endpoint)
    plan = tf.plan_json()
    assert plan["resource_changes"][0]["change"]["actions"] == ["update"]
    tf.apply()
    ng = eks.describe_nodegroup(clusterName=CLUSTER_ENV, nodegroupName="general")["nodegroup"]
    assert ng["scalingConfig"]["desiredSize"] == 3
    assert ng["nodegroupArn"] == vals["node_group_arns"]["general"], "scaling must not replace the node group"
    lg = moto.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER_ENV}/")["logGroups"]
    assert lg[0]["retentionInDays"] == 30
    assert tf.plan() == 0, tf.last.output

    # Drift: a node group deleted out of band is shown and re-created.
    eks.delete_nodegroup(clusterName=CLUSTER_ENV, nodegroupName="general")
    assert tf.plan() == 2
    tf.apply()
    assert eks.list_nodegroups(clusterName=CLUSTER_ENV)["nodegroups"] == ["general"]
    assert tf.plan() == 0, tf.last.output

    # Public endpoint, CIDR-restricted, in place.
    tf.write_config(
        cluster_hcl(desired=3, retention=30, public='    endpoint_public_access = true\n    public_access_cidrs    = ["203.0.113.0/24"]'),
        endpoint=moto.endpoint,
    )
    tf.apply()
    cl = eks.describe_cluster(name=CLUSTER_ENV)["cluster"]
    assert cl["resourcesVpcConfig"]["endpointPublicAccess"] is True
    assert cl["resourcesVpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    assert tf.plan() == 0, tf.last.output

    # Import by name into a fresh state.
    fresh = tf_factory(name="import")
    fresh.write_config(
        cluster_hcl(desired=3, retention=30, public='    endpoint_public_access = true\n    public_access_cidrs    = ["203.0.113.0/24"]'),
        endpoint=moto.endpoint,
    )
    fresh.init()
    fresh.import_("platform_environment.e", CLUSTER_ENV)
    assert fresh.resource_values("platform_environment.e")["oidc_provider_arn"] == tf.outputs()["oidc_provider_arn"]
    assert_no_resource_changes(fresh)

    # Destroy: nothing tagged remains in EC2, EKS, IAM, Logs; our KMS key is pending deletion.
    key_arn = tf.resource_values("platform_environment.e")["cluster_secrets_kms_key_arn"]
    tf.destroy()
    assert eks.list_clusters()["clusters"] == []
    ec2 = moto.client("ec2")
    f = [{"Name": "tag:platform:owner", "Values": [CLUSTER_OWNER]}]
    assert ec2.describe_vpcs(Filters=f)["Vpcs"] == []
    assert ec2.describe_security_groups(Filters=f)["SecurityGroups"] == []
    assert ec2.describe_launch_templates(Filters=f)["LaunchTemplates"] == []
    roles = [r["RoleName"] for r in iam.list_roles()["Roles"]]
    assert not [r for r in roles if r.startswith(CLUSTER_ENV)]
    assert iam.list_open_id_connect_providers()["OpenIDConnectProviderList"] == []
    assert moto.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER_ENV}/")["logGroups"] == []
    assert moto.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "PendingDeletion"


@pytest.mark.parametrize(
    "cluster, node_group, message, attribute",
    [
        ('version = "1.10"', "", "Unsupported EKS version", "version"),
        ("log_retention_in_days = 8", "", "Invalid log retention", "log_retention_in_days"),
        ("endpoint_public_access = true", "", "Public endpoint without CIDR restriction", "public_access_cidrs"),
        ('endpoint_public_access = true\n    public_access_cidrs = ["0.0.0.0/0"]', "", "Public endpoint open to the world", "public_access_cidrs"),
        ("", "min_size = 5\n    max_size = 2", "Invalid node group size", "min_size"),
        ("", 'min_size = 1\n    max_size = 2\n    capacity_type = "CHEAP"', "Invalid capacity type", "capacity_type"),
    ],
)
def test_cluster_bad_input(tf, clean_moto, cluster, node_group, message, attribute):
    ng = node_group or "min_size = 1\n    max_size = 2"
    body = f"""
resource "platform_environment" "e" {{
  name               = "pk-bad"
  vpc_cidr           = "10.0.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]
  cluster {{
    {cluster}
  }}
  node_groups {{
    name = "general"
    {ng}
  }}
}}
"""
    tf.write_config(body, endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    assert message in flat(result.output) and attribute in flat(result.output)
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0 and message in flat(result.output)
    assert len(moto_requests(clean_moto)) == before


DB_ENV = "pk-db"


def db_hcl(db: str) -> str:
    return f"""
resource "platform_environment" "e" {{
  name               = "{DB_ENV}"
  vpc_cidr           = "10.50.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]

  cluster {{
  }}

  database {{
    engine = "postgres"
{db}
  }}
}}
"""


def test_database_lifecycle(tf, clean_moto):
    moto = clean_moto
    rds = moto.client("rds")
    ec2 = moto.client("ec2")
    tf.write_config(db_hcl("    deletion_protection = true"), endpoint=moto.endpoint)
    tf.init()
    plan = tf.plan_json()
    after = plan["resource_changes"][0]["change"]["after"]
    assert after["database_identifier"] == f"{DB_ENV}-db" and after["database_port"] == 5432
    assert after["database"][0]["engine_version"] == "16"
    tf.apply()
    vals = tf.resource_values("platform_environment.e")
    db = rds.describe_db_instances(DBInstanceIdentifier=f"{DB_ENV}-db")["DBInstances"][0]
    assert db["PubliclyAccessible"] is False
    assert db["StorageEncrypted"] is True
    assert db["DeletionProtection"] is True
    assert db["BackupRetentionPeriod"] == 7
    assert db["MonitoringInterval"] == 60 and db["MonitoringRoleArn"].endswith(f"role/{DB_ENV}-rds-monitoring")
    assert db["MasterUserSecret"]["SecretArn"] == vals["database_master_user_secret_arn"]
    subnets = {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]}
    assert subnets == set(vals["private_subnet_ids"].values())
    sg = ec2.describe_security_groups(GroupIds=[vals["database_security_group_id"]])["SecurityGroups"][0]
    assert len(sg["IpPermissions"]) == 1
    perm = sg["IpPermissions"][0]
    assert (perm["IpProtocol"], perm["FromPort"], perm["ToPort"]) == ("tcp", 5432, 5432)
    assert [p["GroupId"] for p in perm["UserIdGroupPairs"]] == [vals["node_security_group_id"]]
    assert perm.get("IpRanges", []) == []
    state_text = (tf.workdir / "terraform.tfstate").read_text()
    assert "MasterUserPassword" not in state_text and "password\"" not in state_text.lower()
    assert tf.plan() == 0, tf.last.output

    # In place: class and storage.
    tf.write_config(
        db_hcl('    deletion_protection = true\n    instance_class = "db.t4g.small"\n    allocated_storage = 50'),
        endpoint=moto.endpoint,
    )
    plan = tf.plan_json()
    assert plan["resource_changes"][0]["change"]["actions"] == ["update"]
    tf.apply()
    db = rds.describe_db_instances(DBInstanceIdentifier=f"{DB_ENV}-db")["DBInstances"][0]
    assert db["DBInstanceClass"] == "db.t4g.small" and db["AllocatedStorage"] == 50
    assert db["DbiResourceId"]  # same instance, modified
    assert tf.plan() == 0, tf.last.output

    # Deletion protection is honoured: destroy refuses and nothing is lost.
    result = tf.destroy(check=False)
    assert result.returncode != 0
    assert "deletion protection" in flat(result.output)
    assert rds.describe_db_instances(DBInstanceIdentifier=f"{DB_ENV}-db")["DBInstances"]
    tf.write_config(
        db_hcl('    deletion_protection = false\n    skip_final_snapshot = true\n    instance_class = "db.t4g.small"\n    allocated_storage = 50'),
        endpoint=moto.endpoint,
    )
    tf.apply()
    tf.destroy()
    assert rds.describe_db_instances()["DBInstances"] == []
    f = [{"Name": "tag:platform:owner", "Values": [f"platform_environment/{DB_ENV}"]}]
    assert ec2.describe_security_groups(Filters=f)["SecurityGroups"] == []
    assert ec2.describe_vpcs(Filters=f)["Vpcs"] == []


@pytest.mark.parametrize(
    "db, message, attribute",
    [
        ("    allocated_storage = 5", "Storage below the engine minimum", "allocated_storage"),
        ('    engine_version = "9.6"', "Unsupported engine version", "engine_version"),
        ("    backup_retention_period = 0", "Invalid backup retention", "backup_retention_period"),
    ],
)
def test_database_bad_input(tf, clean_moto, db, message, attribute):
    tf.write_config(db_hcl(db), endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    assert message in flat(result.output) and attribute in flat(result.output)
    assert len(moto_requests(clean_moto)) == before
