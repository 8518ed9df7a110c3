"""The management stack from nothing: on a moto endpoint with no organization, live-infrastructure/management
(through terraform-modules/organization) creates the organization (platform_organization), the two project OUs
with their SCPs, the six member accounts and the organization trail with its bucket and log group; plan is
then empty; removing an account's parent_id plans and applies the move back to the root; the organization
imports by id; and `terraform destroy` of the whole stack completes, leaving no OU, SCP, trail or trail bucket
of ours (the accounts, kept in the organization, sit at the root). Also: an organization made out of band is
adopted, not duplicated, and left in place by destroy; one this resource created and that has no members is
deleted by destroy. Everything is checked through boto3, never through the provider."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
SCP = "SERVICE_CONTROL_POLICY"
TRAIL = "platformkit-organization"
BUCKET = "example-com-organization-trail"
LOG_GROUP = f"/platform/cloudtrail/{TRAIL}"


def flat(text: str) -> str:
    return " ".join(text.split())


def copy_tree(src: Path, dst: Path, skip=()) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.suffix == ".tf" and f.name not in skip:
            shutil.copy(f, dst / f.name)


def no_organization(org) -> bool:
    try:
        org.describe_organization()
    except ClientError as e:
        return e.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"
    return False


def bucket_exists(s3, name: str) -> bool:
    return name in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def check_trail_and_bucket(moto) -> None:
    ct, s3, logs = moto.client("cloudtrail"), moto.client("s3"), moto.client("logs")
    trails = ct.describe_trails()["trailList"]
    assert [t["Name"] for t in trails] == [TRAIL]
    t = trails[0]
    assert t["IsOrganizationTrail"] is True
    assert t["IsMultiRegionTrail"] is True
    assert t["IncludeGlobalServiceEvents"] is True
    assert t["LogFileValidationEnabled"] is True
    assert t["S3BucketName"] == BUCKET
    assert t["CloudWatchLogsLogGroupArn"].endswith(f":log-group:{LOG_GROUP}:*")
    assert t["CloudWatchLogsRoleArn"].endswith(f":role/{TRAIL}-cloudwatch")
    assert ct.get_trail_status(Name=TRAIL)["IsLogging"] is True

    # The bucket: the state backend's protections plus the CloudTrail statements.
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    pab = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert pab == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    own = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert own == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    sids = {s["Sid"]: s for s in policy["Statement"]}
    assert set(sids) == {"DenyInsecureTransport", "AWSCloudTrailAclCheck", "AWSCloudTrailWrite"}
    assert sids["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sids["AWSCloudTrailWrite"]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert sids["AWSCloudTrailWrite"]["Condition"]["StringEquals"]["aws:SourceArn"] == t["TrailARN"]
    tags = {x["Key"]: x["Value"] for x in s3.get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["platform:owner"] == f"platform_organization/{TRAIL}"

    groups = logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(LOG_GROUP, 365)]


def test_management_stack_from_nothing_to_destroyed(tf_factory, clean_moto, tmp_path):
    moto = clean_moto
    org = moto.client("organizations")
    assert no_organization(org)

    copy_tree(REPO / "terraform-modules/organization", tmp_path / "repo/terraform-modules/organization")
    mgmt = tf_factory("filesystem", name="repo/live-infrastructure/management")
    copy_tree(REPO / "live-infrastructure/management", mgmt.workdir, skip=("backend.tf",))
    var = {"endpoint_url": moto.endpoint, "allowed_account_ids": [moto.account_id]}
    mgmt.init()
    mgmt.validate()
    t0 = time.monotonic()
    mgmt.apply(var=var)
    apply_s = time.monotonic() - t0

    # The organization, made by the stack: all features, SCPs on, CloudTrail trusted.
    o = org.describe_organization()["Organization"]
    assert o["FeatureSet"] == "ALL" and o["MasterAccountId"] == moto.account_id
    root = org.list_roots()["Roots"][0]
    assert {"Type": SCP, "Status": "ENABLED"} in root["PolicyTypes"]
    principals = [p["ServicePrincipal"] for p in org.list_aws_service_access_for_organization()["EnabledServicePrincipals"]]
    assert principals == ["cloudtrail.amazonaws.com"]
    out = mgmt.outputs()
    assert out["organization_id"] == o["Id"] and out["root_id"] == root["Id"]
    values = mgmt.resource_values("module.organization.platform_organization.this[0]")
    assert values["adopted"] is False
    assert values["management_account_id"] == moto.account_id
    assert values["trail_logging"] is True and values["trail_bucket_secure"] is True

    # OUs with their SCPs, six accounts in them.
    ous = {x["Name"]: x["Id"] for x in org.list_organizational_units_for_parent(ParentId=root["Id"])["OrganizationalUnits"]}
    assert set(ous) == {"OU-Project-A", "OU-Project-B"}
    for ou_id in ous.values():
        names = {p["Name"] for p in org.list_policies_for_target(TargetId=ou_id, Filter=SCP)["Policies"]}
        assert len(names) == 3 and "FullAWSAccess" in names
    assert len(out["account_ids"]) == 6
    for key, account_id in out["account_ids"].items():
        ou = "OU-Project-A" if key.startswith("project-a") else "OU-Project-B"
        assert org.list_parents(ChildId=account_id)["Parents"][0]["Id"] == ous[ou]

    check_trail_and_bucket(moto)
    assert out["trail_arn"] == moto.client("cloudtrail").describe_trails()["trailList"][0]["TrailARN"]

    assert mgmt.plan(var=var) == 0, mgmt.last.stdout

    # Drift: the trail stopped out of band shows in plan, and apply starts it again.
    moto.client("cloudtrail").stop_logging(Name=TRAIL)
    assert mgmt.plan(var=var) == 2
    mgmt.apply(var=var)
    assert moto.client("cloudtrail").get_trail_status(Name=TRAIL)["IsLogging"] is True
    assert mgmt.plan(var=var) == 0, mgmt.last.stdout

    # Remove one account's parent_id (its project): the plan shows the move to the root, apply makes it.
    qa = out["account_ids"]["project-b-qa"]
    main = (mgmt.workdir / "main.tf").read_text()
    edited = main.replace(
        "accounts              = local.accounts",
        'accounts              = merge(local.accounts, { "project-b-qa" = merge(local.accounts["project-b-qa"], { project = null }) })',
    )
    assert edited != main
    (mgmt.workdir / "main.tf").write_text(edited)
    plan = mgmt.plan_json(var=var)
    changes = {c["address"]: c["change"] for c in plan["resource_changes"] if c["change"]["actions"] != ["no-op"]}
    addr = 'module.organization.platform_org_account.this["project-b-qa"]'
    assert set(changes) == {addr}, list(changes)
    assert changes[addr]["actions"] == ["update"]
    assert changes[addr]["before"]["parent_id"] == ous["OU-Project-B"]
    assert changes[addr]["after"]["parent_id"] == root["Id"]
    mgmt.apply(var=var)
    assert org.list_parents(ChildId=qa)["Parents"][0]["Id"] == root["Id"]
    assert mgmt.plan(var=var) == 0, mgmt.last.stdout

    # Import the organization by id into a fresh state: the same settings plan no change.
    fresh = tf_factory("filesystem", name="import")
    fresh.write_config('resource "platform_organization" "imported" {}\n', endpoint=moto.endpoint)
    fresh.init()
    fresh.import_("platform_organization.imported", o["Id"])
    imported = fresh.resource_values("platform_organization.imported")
    assert imported["id"] == o["Id"] and imported["root_id"] == root["Id"]
    assert imported["management_account_id"] == moto.account_id and imported["adopted"] is True
    assert fresh.plan() == 0, fresh.last.stdout
    fresh.run("state", "rm", "platform_organization.imported")

    # Destroy of the whole stack completes.
    t0 = time.monotonic()
    result = mgmt.destroy(var=var)
    destroy_s = time.monotonic() - t0
    print(f"\nmanagement stack: apply {apply_s:.1f}s, destroy {destroy_s:.1f}s")
    text = flat(result.output)
    assert text.count("Account left in the organization") == 6
    assert "Organization left in place" in text and "still has 6 member account(s)" in text
    assert mgmt.state_list() == []

    # Nothing of ours remains: no OU, no SCP but AWS's own, no trail, bucket, log group or role.
    assert org.list_organizational_units_for_parent(ParentId=root["Id"])["OrganizationalUnits"] == []
    assert {p["Name"] for p in org.list_policies(Filter=SCP)["Policies"]} == {"FullAWSAccess"}
    assert moto.client("cloudtrail").describe_trails()["trailList"] == []
    assert not bucket_exists(moto.client("s3"), BUCKET)
    assert moto.client("logs").describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"] == []
    roles = [r["RoleName"] for r in moto.client("iam").list_roles()["Roles"]]
    assert f"{TRAIL}-cloudwatch" not in roles
    # The accounts are kept in the organization, at the root; the organization itself stays (it has members).
    at_root = {a["Id"] for a in org.list_accounts_for_parent(ParentId=root["Id"])["Accounts"]}
    assert set(out["account_ids"].values()) <= at_root
    assert org.describe_organization()["Organization"]["Id"] == o["Id"]


def org_hcl(trail: bool = False, extra: str = "") -> str:
    trail_block = f'  trail {{\n    bucket_name = "{BUCKET}"\n  }}\n' if trail else ""
    return f"""
resource "platform_organization" "this" {{
{trail_block}}}

resource "platform_organizational_unit" "a" {{
  name      = "OU-Adopt"
  parent_id = platform_organization.this.root_id
}}
{extra}
output "id" {{
  value = platform_organization.this.id
}}
"""


def test_existing_organization_is_adopted_not_duplicated(tf, clean_moto):
    moto = clean_moto
    org = moto.client("organizations")
    made = org.create_organization(FeatureSet="ALL")["Organization"]
    root = org.list_roots()["Roots"][0]["Id"]

    tf.write_config(org_hcl(), endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    assert tf.outputs()["id"] == made["Id"]
    assert org.describe_organization()["Organization"]["Id"] == made["Id"]
    values = tf.resource_values("platform_organization.this")
    assert values["adopted"] is True and values["root_id"] == root
    assert values["trail_arn"] is None
    ou = tf.resource_values("platform_organizational_unit.a")
    assert org.list_parents(ChildId=ou["id"])["Parents"][0]["Id"] == root
    assert tf.plan() == 0, tf.last.stdout

    # Destroy: the OU goes; the adopted organization is only forgotten, with a warning saying why.
    result = tf.destroy()
    text = flat(result.output)
    assert "Organization left in place" in text and "existed before this resource" in text
    assert org.describe_organization()["Organization"]["Id"] == made["Id"]
    assert org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"] == []


def test_consolidated_billing_organization_is_refused_not_changed(tf, clean_moto):
    """An existing organization without all features cannot carry SCPs: apply says what to do and changes nothing."""
    moto = clean_moto
    org = moto.client("organizations")
    made = org.create_organization(FeatureSet="CONSOLIDATED_BILLING")["Organization"]
    tf.write_config('resource "platform_organization" "this" {}\n', endpoint=moto.endpoint)
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode != 0
    text = flat(result.output)
    assert "does not have all features" in text and "CONSOLIDATED_BILLING" in text
    assert tf.state_list() == []
    assert org.describe_organization()["Organization"]["Id"] == made["Id"]
    assert org.list_aws_service_access_for_organization()["EnabledServicePrincipals"] == []


def test_created_empty_organization_is_deleted_on_destroy(tf, clean_moto):
    moto = clean_moto
    org = moto.client("organizations")
    assert no_organization(org)
    tf.write_config(org_hcl(trail=True), endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    values = tf.resource_values("platform_organization.this")
    assert values["adopted"] is False
    assert org.describe_organization()["Organization"]["Id"] == values["id"]
    check_trail_and_bucket(moto)
    assert tf.plan() == 0, tf.last.stdout

    # An out-of-band change to the bucket shows as drift and apply repairs it.
    moto.client("s3").delete_public_access_block(Bucket=BUCKET)
    assert tf.plan() == 2
    tf.apply()
    check_trail_and_bucket(moto)

    # New tags reach every part of the trail, in place.
    tf.write_config(org_hcl(trail=True).replace("  trail {", '  tags = { team = "platform" }\n  trail {'), endpoint=moto.endpoint)
    tf.apply()
    arn = tf.resource_values("platform_organization.this")["trail_arn"]
    trail_tags = moto.client("cloudtrail").list_tags(ResourceIdList=[arn])["ResourceTagList"][0]["TagsList"]
    lg_arn = tf.resource_values("platform_organization.this")["trail_log_group_arn"]
    found = {
        "trail": {t["Key"]: t["Value"] for t in trail_tags},
        "log group": moto.client("logs").list_tags_for_resource(resourceArn=lg_arn)["tags"],
        "role": {t["Key"]: t["Value"] for t in moto.client("iam").list_role_tags(RoleName=f"{TRAIL}-cloudwatch")["Tags"]},
        "bucket": {t["Key"]: t["Value"] for t in moto.client("s3").get_bucket_tagging(Bucket=BUCKET)["TagSet"]},
    }
    for part, tags in found.items():
        assert tags.get("team") == "platform", (part, tags)
        assert tags.get("platform:owner") == f"platform_organization/{TRAIL}", (part, tags)
    assert tf.plan() == 0, tf.last.stdout

    tf.destroy()
    assert no_organization(org)
    assert moto.client("cloudtrail").describe_trails()["trailList"] == []
    assert not bucket_exists(moto.client("s3"), BUCKET)


def test_trail_bucket_with_logs_is_not_destroyed(tf, clean_moto):
    """Audit logs are never deleted by accident: with a log file in the bucket (and force_destroy off),
    destroy refuses before it deletes anything; the trail keeps logging and everything stays in state."""
    moto = clean_moto
    tf.write_config(org_hcl(trail=True), endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    s3 = moto.client("s3")
    # moto enforces the TLS-only Deny without its condition: lift the policy to write a stand-in log file.
    s3.delete_bucket_policy(Bucket=BUCKET)
    key = f"AWSLogs/{moto.account_id}/CloudTrail/log.json.gz"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}")
    result = tf.destroy(check=False)
    assert result.returncode != 0
    assert "still holds log files" in flat(result.output)
    assert moto.client("cloudtrail").get_trail_status(Name=TRAIL)["IsLogging"] is True
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    assert tf.state_list() == ["platform_organization.this"]

    # Once the logs are archived elsewhere and removed, destroy completes.
    versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]})
    tf.destroy()
    assert not bucket_exists(s3, BUCKET)
    assert no_organization(moto.client("organizations"))
