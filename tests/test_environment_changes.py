"""platform_environment changes after creation, end to end (real terraform 1.0.3, real provider binary,
real moto): tags update every object in place; an engine change replaces only the database, says so in
the plan and is refused under deletion protection; a node group change that EKS cannot make in place is
announced in the plan. Every AWS-side check goes through boto3."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

ENV = "pk-chg"
OWNER = f"platform_environment/{ENV}"
DB_ID = f"{ENV}-db"


def flat(text: str) -> str:
    return " ".join(text.split())


def hcl(tags: str = 'team = "platform"', engine: str = "postgres", db: str = "", instance_type: str = "t3.large", cluster: str = "") -> str:
    return f"""
resource "platform_environment" "e" {{
  name               = "{ENV}"
  vpc_cidr           = "10.60.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]
  tags               = {{ {tags} }}

  cluster {{
{cluster}
  }}

  node_groups {{
    name           = "general"
    instance_types = ["{instance_type}"]
    min_size       = 1
    max_size       = 3
  }}

  database {{
    engine = "{engine}"
{db}
  }}
}}
"""


def every_tag_set(moto, vals: dict) -> dict:
    """The tags of every object the environment owns, by a readable name, read through boto3."""
    ec2, iam, logs = moto.client("ec2"), moto.client("iam"), moto.client("logs")
    eks, rds, kms = moto.client("eks"), moto.client("rds"), moto.client("kms")

    def kv(tags, k="Key", v="Value"):
        return {t[k]: t[v] for t in tags or []}

    out = {}
    f = [{"Name": "tag:platform:owner", "Values": [OWNER]}]
    for v in ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vals["vpc_id"]]}])["Vpcs"]:
        out["vpc"] = kv(v.get("Tags"))
    for sn in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vals["vpc_id"]]}])["Subnets"]:
        out[f"subnet {sn['SubnetId']}"] = kv(sn.get("Tags"))
    for sg in ec2.describe_security_groups(Filters=f)["SecurityGroups"]:
        out[f"sg {sg['GroupName']}"] = kv(sg.get("Tags"))
    for lt in ec2.describe_launch_templates(Filters=f)["LaunchTemplates"]:
        # DescribeTags: moto's DescribeLaunchTemplates shows the tags a template was created with.
        rid = [{"Name": "resource-id", "Values": [lt["LaunchTemplateId"]]}]
        out[f"launch template {lt['LaunchTemplateName']}"] = kv(ec2.describe_tags(Filters=rid)["Tags"])
    for role in (f"{ENV}-vpc-flow-logs", f"{ENV}-eks-cluster", f"{ENV}-eks-node", f"{ENV}-rds-monitoring"):
        out[f"role {role}"] = kv(iam.list_role_tags(RoleName=role)["Tags"])
    for name in (vals["flow_log_group_name"], vals["cluster_log_group_name"]):
        group = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
        out[f"log group {name}"] = logs.list_tags_for_resource(resourceArn=group["arn"].removesuffix(":*"))["tags"]
    out["oidc provider"] = kv(iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=vals["oidc_provider_arn"])["Tags"])
    out["kms key"] = kv(kms.list_resource_tags(KeyId=vals["cluster_secrets_kms_key_arn"])["Tags"], "TagKey", "TagValue")
    out["eks cluster"] = eks.describe_cluster(name=ENV)["cluster"]["tags"]
    # moto cannot tag a node group after creation (TagResource takes cluster ARNs only), so the node
    # group's tags are not compared here; the provider tags it all the same on AWS.
    out["db instance"] = kv(rds.list_tags_for_resource(ResourceName=vals["database_arn"])["TagList"])
    group_arn = rds.describe_db_subnet_groups(DBSubnetGroupName=DB_ID)["DBSubnetGroups"][0]["DBSubnetGroupArn"]
    out["db subnet group"] = kv(rds.list_tags_for_resource(ResourceName=group_arn)["TagList"])
    return out


def test_changes_after_creation(tf, clean_moto):
    moto = clean_moto
    rds, ec2 = moto.client("rds"), moto.client("ec2")
    tf.write_config(hcl(), endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    vals = tf.resource_values("platform_environment.e")
    before = every_tag_set(moto, vals)
    assert all(t.get("team") == "platform" and t.get("platform:owner") == OWNER for t in before.values()), before

    # The node and monitoring roles deleted out of band: refresh trusts a role its user points at, so
    # the plan does not show it, but the next apply finds them gone and re-creates them (with policies).
    iam = moto.client("iam")
    node_role = f"{ENV}-eks-node"
    for role in (node_role, f"{ENV}-rds-monitoring"):
        for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
            iam.detach_role_policy(RoleName=role, PolicyArn=p["PolicyArn"])
        iam.delete_role(RoleName=role)

    # Tags: one edit updates every object in place (a key changed, one added, one removed).
    tf.write_config(hcl(tags='cost-center = "42", owner-team = "data"'), endpoint=moto.endpoint)
    plan = tf.plan_json()
    assert plan["resource_changes"][0]["change"]["actions"] == ["update"]
    tf.apply()
    after = every_tag_set(moto, tf.resource_values("platform_environment.e"))
    assert after.keys() == before.keys()
    for what, tags in after.items():
        assert tags.get("cost-center") == "42" and tags.get("owner-team") == "data", (what, tags)
        assert "team" not in tags, (what, tags)
        assert tags.get("platform:owner") == OWNER, (what, tags)
    assert tf.plan() == 0, tf.last.output
    tags = 'cost-center = "42", owner-team = "data"'
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=node_role)["AttachedPolicies"]}
    assert attached == {"AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"}
    attached = iam.list_attached_role_policies(RoleName=f"{ENV}-rds-monitoring")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["AmazonRDSEnhancedMonitoringRole"]

    # What EKS cannot do is refused at plan time, at the attribute, with no AWS write.
    other_key = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"
    for cluster, message in [
        ('    version = "1.30"', "EKS cannot downgrade a cluster"),
        ('    version = "1.34"', "EKS upgrades one minor version at a time"),
        (f'    secrets_kms_key_arn = "{other_key}"', "EKS cannot change a cluster's secrets encryption key"),
    ]:
        tf.write_config(hcl(tags=tags, cluster=cluster), endpoint=moto.endpoint)
        result = tf.run("plan", "-no-color", check=False)
        assert result.returncode != 0 and message in flat(result.output), result.output
        assert cluster.strip() in flat(result.output)  # Terraform quotes the attribute's line
    assert moto.client("eks").describe_cluster(name=ENV)["cluster"]["version"] == "1.32"

    # Engine change under deletion protection: refused at plan, pointing at the attribute; nothing touched.
    tf.write_config(hcl(tags=tags, db="    deletion_protection = true"), endpoint=moto.endpoint)
    tf.apply()
    first = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"][0]["InstanceCreateTime"]
    tf.write_config(hcl(tags=tags, engine="mysql", db="    deletion_protection = true"), endpoint=moto.endpoint)
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0
    text = flat(result.output)
    assert "The database cannot be replaced while deletion protection is on" in text
    assert 'database[0].engine' in text or "engine" in text.split("deletion protection is on", 1)[1]
    db = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"][0]
    assert (db["Engine"], db["InstanceCreateTime"]) == ("postgres", first)

    # Without protection the plan announces the replacement of the database only, and apply does it,
    # keeping a final snapshot; the rest of the environment stays.
    tf.write_config(hcl(tags=tags), endpoint=moto.endpoint)
    tf.apply()
    vpc_id = tf.resource_values("platform_environment.e")["vpc_id"]
    cluster_arn = tf.resource_values("platform_environment.e")["cluster_arn"]
    tf.write_config(hcl(tags=tags, engine="mysql"), endpoint=moto.endpoint)
    result = tf.run("plan", "-no-color", "-out=replace.tfplan")
    text = flat(result.output)
    assert "Warning: The database will be replaced" in text
    assert 'postgres" to "mysql' in text and "final snapshot" in text
    assert "update in-place" in text and "must be replaced" not in text
    assert "database_endpoint" in text and "(known after apply)" in text
    tf.run("apply", "replace.tfplan")
    db = rds.describe_db_instances(DBInstanceIdentifier=DB_ID)["DBInstances"][0]
    assert db["Engine"] == "mysql"
    # The old instance's data is in its final snapshot (moto derives DbiResourceId from the name,
    # so the snapshot, not the resource id, shows that a new instance replaced it).
    snaps = rds.describe_db_snapshots(DBInstanceIdentifier=DB_ID, SnapshotType="manual")["DBSnapshots"]
    assert [s["Engine"] for s in snaps if s["DBSnapshotIdentifier"].startswith(f"{DB_ID}-final-")] == ["postgres"], snaps
    vals = tf.resource_values("platform_environment.e")
    assert vals["database_port"] == 3306 and vals["database"][0]["engine_version"] == "8.0"
    assert (vals["vpc_id"], vals["cluster_arn"]) == (vpc_id, cluster_arn)
    sg = ec2.describe_security_groups(GroupIds=[vals["database_security_group_id"]])["SecurityGroups"][0]
    assert [(p["FromPort"], p["ToPort"]) for p in sg["IpPermissions"]] == [(3306, 3306)]
    assert tf.plan() == 0, tf.last.output

    # Someone opens the database to the world: the next plan shows it, apply revokes exactly that.
    sg_id = vals["database_security_group_id"]
    ec2.authorize_security_group_ingress(
        GroupId=sg_id, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    text = flat(tf.run("plan", "-no-color").output)
    assert "database_ingress_restricted = false -> true" in text, text
    tf.apply()
    perms = ec2.describe_security_groups(GroupIds=[sg_id])["SecurityGroups"][0]["IpPermissions"]
    assert [(p["FromPort"], p.get("IpRanges", []), [g["GroupId"] for g in p["UserIdGroupPairs"]]) for p in perms] == [
        (3306, [], [vals["node_security_group_id"]])
    ]
    assert tf.plan() == 0, tf.last.output

    # A node group change EKS cannot make in place is announced where it is configured.
    tf.write_config(hcl(tags=tags, engine="mysql", instance_type="m5.large"), endpoint=moto.endpoint)
    text = flat(tf.run("plan", "-no-color").output)
    assert 'Warning: Node group "general" will be replaced' in text and "instance_types" in text

    tf.write_config(hcl(tags=tags, engine="mysql", db="    skip_final_snapshot = true"), endpoint=moto.endpoint)
    tf.destroy()
    f = [{"Name": "tag:platform:owner", "Values": [OWNER]}]
    assert ec2.describe_vpcs(Filters=f)["Vpcs"] == []
    assert rds.describe_db_instances()["DBInstances"] == []


def test_short_delete_timeout_stops_a_blocked_waiter_and_keeps_state(tf, clean_moto):
    """A route table someone added by hand holds the VPC (DependencyViolation, as a stray ENI would on
    AWS). Destroy waits for the VPC to become deletable only as long as `timeouts.delete` allows, then
    fails with a clear error and keeps the VPC in state; once the blocker is gone, destroy finishes."""
    moto = clean_moto
    ec2 = moto.client("ec2")
    config = f"""
resource "platform_environment" "e" {{
  name               = "{ENV}"
  vpc_cidr           = "10.61.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]

  timeouts {{
    delete = "4s"
  }}
}}
"""
    tf.write_config(config, endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    vpc_id = tf.resource_values("platform_environment.e")["vpc_id"]
    stray = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]

    result = tf.destroy(check=False)
    assert result.returncode != 0
    text = flat(result.output)
    assert f"VPC {vpc_id} to be deletable" in text and "4s" in text, text
    # Nothing is lost: the VPC is still there and still in state, so the next destroy can finish.
    assert ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"]
    assert tf.resource_values("platform_environment.e")["vpc_id"] == vpc_id

    ec2.delete_route_table(RouteTableId=stray)
    tf.destroy()
    f = [{"Name": "tag:platform:owner", "Values": [OWNER]}]
    assert ec2.describe_vpcs(Filters=f)["Vpcs"] == []
