"""AWS Organizations end to end: platform_organizational_unit (guardrail SCPs), platform_org_account and
the platform_guardrail_policy data source, with the real terraform 1.0.3, the real provider binary and a
real moto server. AWS state is always checked through boto3, never through the provider."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e

SCP = "SERVICE_CONTROL_POLICY"


def flat(text: str) -> str:
    """Terraform wraps diagnostics at 80 columns; compare messages with white space folded."""
    return " ".join(text.split())


def org_client(moto):
    return moto.client("organizations")


def make_org(moto) -> str:
    """The management account's organization (what AWS has before our stack runs); returns the root id."""
    org = org_client(moto)
    org.create_organization(FeatureSet="ALL")
    return org.list_roots()["Roots"][0]["Id"]


def ou_hcl(regions=('"us-east-1"', '"eu-central-1"')) -> str:
    return f"""
resource "platform_organizational_unit" "a" {{
  name = "OU-Project-A"
  guardrails {{
    allowed_regions       = [{", ".join(regions)}]
    exempt_principal_arns = ["arn:aws:iam::*:role/breakglass"]
  }}
  tags = {{ project = "a" }}
}}

resource "platform_organizational_unit" "b" {{
  name = "OU-Project-B"
  guardrails {{
    protect_cloudtrail = false
  }}
  extra_policies = {{
    deny-s3-public = jsonencode({{
      Version   = "2012-10-17"
      Statement = [{{ Effect = "Deny", Action = ["s3:PutAccountPublicAccessBlock"], Resource = "*" }}]
    }})
  }}
}}
"""


def account_hcl(name: str, email: str, ou: str, extra: str = "") -> str:
    return f"""
resource "platform_org_account" "{name.lower().replace('-', '_')}" {{
  name      = "{name}"
  email     = "{email}"
  parent_id = platform_organizational_unit.{ou}.id
{extra}
}}
"""


def structure_hcl(regions=('"us-east-1"', '"eu-central-1"'), dev_ou="a") -> str:
    return (
        ou_hcl(regions)
        + account_hcl("ProjectA-Dev", "aws+projecta-dev@example.com", dev_ou)
        + account_hcl("ProjectA-Prod", "aws+projecta-prod@example.com", "a", "  close_on_deletion = true")
        + account_hcl("ProjectB-Dev", "aws+projectb-dev@example.com", "b")
        + """
output "dev_role" {
  value = platform_org_account.projecta_dev.access_role_arn
}
"""
    )


def attached(moto, target: str) -> dict:
    """name -> (id, parsed content) of the SCPs attached to ``target``."""
    org = org_client(moto)
    out = {}
    for p in org.list_policies_for_target(TargetId=target, Filter=SCP)["Policies"]:
        content = org.describe_policy(PolicyId=p["Id"])["Policy"]["Content"]
        out[p["Name"]] = (p["Id"], json.loads(content))
    return out


def parent_of(moto, child: str) -> str:
    return org_client(moto).list_parents(ChildId=child)["Parents"][0]["Id"]


def test_organization_lifecycle(tf_factory, clean_moto):
    moto = clean_moto
    root = make_org(moto)
    org = org_client(moto)
    tf = tf_factory("filesystem")
    tf.write_config(structure_hcl(), endpoint=moto.endpoint)
    tf.init()
    tf.validate()

    # Plan is informative: the rendered SCP documents are in the plan.
    plan = tf.plan_json()
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    docs = changes["platform_organizational_unit.a"]["after"]["policy_documents"]
    assert set(docs) == {"baseline", "region-restriction"}
    region_doc = json.loads(docs["region-restriction"])
    assert region_doc["Statement"][0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"] == [
        "us-east-1",
        "eu-central-1",
    ]
    assert "iam:*" in region_doc["Statement"][0]["NotAction"]
    b_after = changes["platform_organizational_unit.b"]["after"]
    assert set(b_after["policy_documents"]) == {"baseline", "deny-s3-public"}
    assert [s["Sid"] for s in json.loads(b_after["policy_documents"]["baseline"])["Statement"]] == [
        "DenyLeavingOrganization",
        "ProtectFlowLogs",
        "DenyRootUser",
    ]
    assert changes["platform_organizational_unit.a"]["after"]["guardrails"][0]["deny_root_user"] is True
    assert changes["platform_org_account.projecta_dev"]["after"]["role_name"] == "OrganizationAccountAccessRole"

    tf.apply()

    # The SCP type was enabled on the root; each OU holds FullAWSAccess plus its rendered policies.
    root_types = org.list_roots()["Roots"][0]["PolicyTypes"]
    assert {"Type": SCP, "Status": "ENABLED"} in root_types
    a = tf.resource_values("platform_organizational_unit.a")
    b = tf.resource_values("platform_organizational_unit.b")
    assert parent_of(moto, a["id"]) == root
    pa = attached(moto, a["id"])
    assert set(pa) == {"FullAWSAccess", "OU-Project-A-baseline", "OU-Project-A-region-restriction"}
    assert pa["OU-Project-A-region-restriction"][1] == region_doc
    assert pa["OU-Project-A-baseline"][0] == a["policy_ids"]["baseline"]
    assert set(attached(moto, b["id"])) == {"FullAWSAccess", "OU-Project-B-baseline", "OU-Project-B-deny-s3-public"}
    tags = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=a["id"])["Tags"]}
    assert tags["project"] == "a" and tags["platform:owner"] == "platform_organizational_unit/OU-Project-A"

    dev = tf.resource_values("platform_org_account.projecta_dev")
    acct = org.describe_account(AccountId=dev["id"])["Account"]
    assert acct["Email"] == "aws+projecta-dev@example.com" and acct["Status"] == "ACTIVE"
    assert dev["status"] == "ACTIVE"
    assert parent_of(moto, dev["id"]) == a["id"]
    assert dev["access_role_arn"] == f"arn:aws:iam::{dev['id']}:role/OrganizationAccountAccessRole"
    assert tf.outputs()["dev_role"] == dev["access_role_arn"]

    assert tf.plan() == 0, tf.last.stdout

    # Change allowed_regions: the region policy is updated in place and keeps its id.
    region_id = a["policy_ids"]["region-restriction"]
    tf.write_config(structure_hcl(regions=('"eu-central-1"',)), endpoint=moto.endpoint)
    plan = tf.plan_json()
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    assert changes["platform_organizational_unit.a"]["actions"] == ["update"]
    assert changes["platform_organizational_unit.a"]["after"]["policy_ids"]["region-restriction"] == region_id
    tf.apply()
    pa = attached(moto, a["id"])
    assert pa["OU-Project-A-region-restriction"][0] == region_id
    cond = pa["OU-Project-A-region-restriction"][1]["Statement"][0]["Condition"]
    assert cond["StringNotEquals"]["aws:RequestedRegion"] == ["eu-central-1"]
    assert tf.plan() == 0, tf.last.stdout

    # Move an account to the other OU: an in-place update.
    tf.write_config(structure_hcl(regions=('"eu-central-1"',), dev_ou="b"), endpoint=moto.endpoint)
    plan = tf.plan_json()
    changes = {c["address"]: c["change"] for c in plan["resource_changes"]}
    assert changes["platform_org_account.projecta_dev"]["actions"] == ["update"]
    tf.apply()
    assert parent_of(moto, dev["id"]) == b["id"]
    assert tf.resource_values("platform_org_account.projecta_dev")["id"] == dev["id"]
    assert tf.plan() == 0, tf.last.stdout

    # Drift: a guardrail detached out of band is re-attached (same policy).
    baseline_id = a["policy_ids"]["baseline"]
    org.detach_policy(PolicyId=baseline_id, TargetId=a["id"])
    assert "OU-Project-A-baseline" not in attached(moto, a["id"])
    assert tf.plan() == 2
    tf.apply()
    assert attached(moto, a["id"])["OU-Project-A-baseline"][0] == baseline_id
    assert tf.plan() == 0, tf.last.stdout

    # Drift in content: a guardrail edited out of band is put back, in place.
    org.update_policy(PolicyId=baseline_id, Content=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    assert tf.plan() == 2
    tf.apply()
    restored = attached(moto, a["id"])["OU-Project-A-baseline"]
    assert restored[0] == baseline_id and restored[1]["Statement"][0]["Sid"] == "DenyLeavingOrganization"
    assert tf.plan() == 0, tf.last.stdout

    # Import an account by its id and an OU by its id into a fresh state: the same configuration then
    # plans no change (the guardrail switches are recovered from the attached documents).
    b_dev = tf.resource_values("platform_org_account.projectb_dev")
    b_block = ou_hcl().split('resource "platform_organizational_unit" "b"')[1]
    fresh = tf_factory("filesystem", name="import")
    fresh.write_config(
        f"""
resource "platform_org_account" "imported" {{
  name      = "ProjectB-Dev"
  email     = "aws+projectb-dev@example.com"
  parent_id = "{b['id']}"
}}

resource "platform_organizational_unit" "imported" {b_block}
""",
        endpoint=moto.endpoint,
    )
    fresh.init()
    fresh.import_("platform_org_account.imported", b_dev["id"])
    fresh.import_("platform_organizational_unit.imported", b["id"])
    values = fresh.resource_values("platform_org_account.imported")
    assert values["name"] == "ProjectB-Dev" and values["parent_id"] == b["id"]
    assert values["close_on_deletion"] is False
    ou_values = fresh.resource_values("platform_organizational_unit.imported")
    assert ou_values["policy_ids"] == b["policy_ids"]
    assert ou_values["guardrails"][0]["protect_cloudtrail"] is False
    assert fresh.plan() == 0, fresh.last.stdout
    fresh.run("state", "rm", "platform_org_account.imported")
    fresh.run("state", "rm", "platform_organizational_unit.imported")

    # Destroy completes: accounts without close_on_deletion are moved out of their OUs to the root and
    # forgotten (a warning), the one with it is closed and moved the same way; then the OUs and their
    # policies go.
    ids = {n: tf.resource_values(f"platform_org_account.{n}")["id"] for n in ("projecta_dev", "projecta_prod", "projectb_dev")}
    result = tf.destroy()
    out = flat(result.output)
    assert out.count("Account left in the organization") == 2
    assert f"was moved to {root}" in out
    statuses = {a["Id"]: a["Status"] for a in org.list_accounts()["Accounts"]}
    assert statuses[ids["projecta_dev"]] == "ACTIVE"
    assert statuses[ids["projectb_dev"]] == "ACTIVE"
    assert statuses[ids["projecta_prod"]] == "SUSPENDED"
    for acct_id in ids.values():
        assert parent_of(moto, acct_id) == root
    assert tf.state_list() == []
    assert org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"] == []
    names = {p["Name"] for p in org.list_policies(Filter=SCP)["Policies"]}
    assert names == {"FullAWSAccess"}


def test_destroyed_accounts_go_to_the_retired_ou(tf, clean_moto):
    """retired_parent_id names where destroy puts an account it keeps in the organization (e.g. a Suspended
    OU that outlives the project OUs); removing parent_id from an account plans the move back to the root."""
    moto = clean_moto
    root = make_org(moto)
    base = """
resource "platform_organizational_unit" "suspended" {
  name = "Suspended"
}

resource "platform_organizational_unit" "a" {
  name = "OU-Project-A"
}
"""
    account = """
resource "platform_org_account" "dev" {
  name              = "ProjectA-Dev"
  email             = "aws+retired-dev@example.com"
  retired_parent_id = platform_organizational_unit.suspended.id
%s}
"""
    tf.write_config(base + account % "  parent_id = platform_organizational_unit.a.id\n", endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    dev = tf.resource_values("platform_org_account.dev")
    a = tf.resource_values("platform_organizational_unit.a")
    assert parent_of(moto, dev["id"]) == a["id"]

    # parent_id removed: the plan shows the move to the root (not "No changes"); apply moves it.
    tf.write_config(base + account % "", endpoint=moto.endpoint)
    plan = tf.plan_json()
    change = {c["address"]: c["change"] for c in plan["resource_changes"]}["platform_org_account.dev"]
    assert change["actions"] == ["update"]
    assert (change["before"]["parent_id"], change["after"]["parent_id"]) == (a["id"], root)
    tf.apply()
    assert parent_of(moto, dev["id"]) == root
    assert tf.plan() == 0, tf.last.stdout

    # Back into the OU, then destroy only the account and the project OU: the account goes to Suspended.
    tf.write_config(base + account % "  parent_id = platform_organizational_unit.a.id\n", endpoint=moto.endpoint)
    tf.apply()
    assert parent_of(moto, dev["id"]) == a["id"]
    result = tf.destroy("-target=platform_organizational_unit.a")
    suspended = tf.resource_values("platform_organizational_unit.suspended")
    assert "Account left in the organization" in flat(result.output)
    assert parent_of(moto, dev["id"]) == suspended["id"]
    assert tf.state_list() == ["platform_organizational_unit.suspended"]
    assert [o["Id"] for o in org_client(moto).list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]] == [
        suspended["id"]
    ]


def test_guardrail_policy_data_source(tf, clean_moto):
    tf.write_config(
        """
data "platform_guardrail_policy" "g" {
  allowed_regions = ["eu-west-1"]
  protect_cloudtrail = false
}

output "docs" {
  value = data.platform_guardrail_policy.g.documents
}

output "count" {
  value = data.platform_guardrail_policy.g.policy_count
}
""",
        endpoint=clean_moto.endpoint,
    )
    tf.init()
    tf.apply()
    out = tf.outputs()
    assert set(out["docs"]) == {"baseline", "region-restriction"}
    assert out["count"] == 3
    sids = [s["Sid"] for s in json.loads(out["docs"]["baseline"])["Statement"]]
    assert "ProtectCloudTrail" not in sids and "DenyRootUser" in sids


def test_account_failure_part_way_keeps_the_account_and_resumes(tf, clean_moto):
    """CreateAccount succeeds, the move into a (nonexistent) OU fails: the account is kept in state with the
    error, and the next apply adopts that same account (owner tag) instead of creating a second one."""
    moto = clean_moto
    root = make_org(moto)
    org = org_client(moto)

    def config(parent: str) -> str:
        return f"""
resource "platform_org_account" "dev" {{
  name      = "ProjectC-Dev"
  email     = "aws+projectc-dev@example.com"
  parent_id = "{parent}"
  timeouts {{
    create = "2m"
  }}
}}
"""

    tf.write_config(config("ou-zzzz-zzzzzzzz"), endpoint=moto.endpoint)
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode != 0
    assert "Could not place the account" in flat(result.output)
    created = [a for a in org.list_accounts()["Accounts"] if a["Email"] == "aws+projectc-dev@example.com"]
    assert len(created) == 1
    assert tf.state_list() == ["platform_org_account.dev"]
    assert tf.resource_values("platform_org_account.dev")["id"] == created[0]["Id"]

    tf.write_config(config(root), endpoint=moto.endpoint)
    tf.apply()
    same = [a for a in org.list_accounts()["Accounts"] if a["Email"] == "aws+projectc-dev@example.com"]
    assert [a["Id"] for a in same] == [created[0]["Id"]]
    assert tf.resource_values("platform_org_account.dev")["id"] == created[0]["Id"]
    assert tf.plan() == 0, tf.last.stdout
