"""Counting what exists in moto, per kind of AWS object, straight through boto3 (never through the provider).

``census(moto)`` returns ``{kind: count}`` over every kind of object a composite creates. Tests compare two
censuses (e.g. after an apply with injected faults against one without) to prove that nothing was
duplicated or lost; ``census_diff`` says which kinds differ. Objects that are on their way out (KMS keys
pending deletion, NAT gateways deleting or deleted, RDS instances deleting) are not counted.
"""

from __future__ import annotations

from typing import Callable, Dict, List


def _pages(client, method: str, key: str, **kwargs) -> List[dict]:
    out: List[dict] = []
    for page in client.get_paginator(method).paginate(**kwargs):
        out.extend(page.get(key, []))
    return out


def _ec2(moto) -> Dict[str, int]:
    ec2 = moto.client("ec2")
    return {
        "ec2.vpc": len(ec2.describe_vpcs()["Vpcs"]),
        "ec2.subnet": len(ec2.describe_subnets()["Subnets"]),
        "ec2.route_table": len(ec2.describe_route_tables()["RouteTables"]),
        "ec2.internet_gateway": len(ec2.describe_internet_gateways()["InternetGateways"]),
        "ec2.nat_gateway": len([n for n in ec2.describe_nat_gateways()["NatGateways"]
                                if n["State"] not in ("deleting", "deleted")]),
        "ec2.eip": len(ec2.describe_addresses()["Addresses"]),
        "ec2.security_group": len(ec2.describe_security_groups()["SecurityGroups"]),
        "ec2.flow_log": len(ec2.describe_flow_logs()["FlowLogs"]),
        "ec2.launch_template": len(ec2.describe_launch_templates()["LaunchTemplates"]),
    }


def _iam(moto) -> Dict[str, int]:
    iam = moto.client("iam")
    roles = _pages(iam, "list_roles", "Roles")
    inline = sum(len(iam.list_role_policies(RoleName=r["RoleName"])["PolicyNames"]) for r in roles)
    attached = sum(len(iam.list_attached_role_policies(RoleName=r["RoleName"])["AttachedPolicies"]) for r in roles)
    return {
        "iam.role": len(roles),
        "iam.role_inline_policy": inline,
        "iam.role_attached_policy": attached,
        "iam.policy": len(_pages(iam, "list_policies", "Policies", Scope="Local")),
        "iam.oidc_provider": len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]),
    }


def _kms(moto) -> Dict[str, int]:
    kms = moto.client("kms")
    keys = [k for k in kms.list_keys()["Keys"]
            if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] not in ("PendingDeletion",)]
    aliases = [a for a in kms.list_aliases()["Aliases"] if not a["AliasName"].startswith("alias/aws/")]
    return {"kms.key": len(keys), "kms.alias": len(aliases)}


def _eks(moto) -> Dict[str, int]:
    eks = moto.client("eks")
    clusters = eks.list_clusters()["clusters"]
    nodegroups = sum(len(eks.list_nodegroups(clusterName=c)["nodegroups"]) for c in clusters)
    return {"eks.cluster": len(clusters), "eks.nodegroup": nodegroups}


def _rds(moto) -> Dict[str, int]:
    rds = moto.client("rds")
    return {
        "rds.instance": len([i for i in rds.describe_db_instances()["DBInstances"]
                             if i.get("DBInstanceStatus") != "deleting"]),
        "rds.subnet_group": len(rds.describe_db_subnet_groups()["DBSubnetGroups"]),
        "rds.snapshot": len(rds.describe_db_snapshots()["DBSnapshots"]),
    }


def _misc(moto) -> Dict[str, int]:
    out = {
        "logs.log_group": len(_pages(moto.client("logs"), "describe_log_groups", "logGroups")),
        "secretsmanager.secret": len(moto.client("secretsmanager").list_secrets()["SecretList"]),
        "ecr.repository": len(moto.client("ecr").describe_repositories()["repositories"]),
        "s3.bucket": len(moto.client("s3").list_buckets()["Buckets"]),
        "dynamodb.table": len(moto.client("dynamodb").list_tables()["TableNames"]),
        "cloudtrail.trail": len(moto.client("cloudtrail").describe_trails()["trailList"]),
    }
    cf = moto.client("cloudfront")
    out["cloudfront.distribution"] = len(cf.list_distributions()["DistributionList"].get("Items", []))
    out["cloudfront.origin_access_control"] = len(
        cf.list_origin_access_controls()["OriginAccessControlList"].get("Items", []))
    r53 = moto.client("route53")
    zones = r53.list_hosted_zones()["HostedZones"]
    out["route53.zone"] = len(zones)
    out["route53.record"] = sum(
        len(r53.list_resource_record_sets(HostedZoneId=z["Id"])["ResourceRecordSets"]) for z in zones)
    return out


def _organizations(moto) -> Dict[str, int]:
    org = moto.client("organizations")
    try:
        roots = org.list_roots()["Roots"]
    except org.exceptions.AWSOrganizationsNotInUseException:
        return {"organizations.organization": 0}
    ous, frontier = 0, [r["Id"] for r in roots]
    while frontier:
        parent = frontier.pop()
        children = org.list_organizational_units_for_parent(ParentId=parent)["OrganizationalUnits"]
        ous += len(children)
        frontier.extend(c["Id"] for c in children)
    policies = org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
    attachments = sum(len(org.list_targets_for_policy(PolicyId=p["Id"])["Targets"]) for p in policies)
    return {
        "organizations.organization": 1,
        "organizations.ou": ous,
        "organizations.account": len(org.list_accounts()["Accounts"]),
        "organizations.scp": len(policies),
        "organizations.scp_attachment": attachments,
    }


SECTIONS: List[Callable] = [_ec2, _iam, _kms, _eks, _rds, _misc, _organizations]


def census(moto) -> Dict[str, int]:
    """``{kind: count}`` of every kind of object the composites create, in moto's default account/region."""
    out: Dict[str, int] = {}
    for section in SECTIONS:
        out.update(section(moto))
    return out


def census_diff(got: Dict[str, int], want: Dict[str, int]) -> Dict[str, tuple]:
    """``{kind: (got, want)}`` for every kind whose counts differ."""
    return {k: (got.get(k, 0), want.get(k, 0)) for k in sorted(set(got) | set(want)) if got.get(k, 0) != want.get(k, 0)}
