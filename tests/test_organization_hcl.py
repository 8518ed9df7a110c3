"""The HCL: live-infrastructure/management (through terraform-modules/organization) adopts an existing
organization and builds OU-Project-A, OU-Project-B and the six member accounts on moto;
examples/member-account then deploys into one of them with the role and account id the management stack
outputs. The module refuses duplicate emails at validate time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent


def flat(text: str) -> str:
    return " ".join(text.split())


def moto_requests(moto) -> list[str]:
    text = moto.log_path.read_text(errors="replace") if moto.log_path.exists() else ""
    return [line for line in text.splitlines() if '"' in line and "HTTP/1.1" in line and "moto-api" not in line]


def copy_tree(src: Path, dst: Path, skip=()) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.suffix == ".tf" and f.name not in skip:
            shutil.copy(f, dst / f.name)


def test_management_stack_and_member_stack(tf_factory, clean_moto, tmp_path):
    moto = clean_moto
    org = moto.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]

    # The stack and the module at the same relative paths as in the repository; local state (no backend.tf).
    copy_tree(REPO / "terraform-modules/organization", tmp_path / "repo/terraform-modules/organization")
    mgmt = tf_factory("filesystem", name="repo/live-infrastructure/management")
    copy_tree(REPO / "live-infrastructure/management", mgmt.workdir, skip=("backend.tf",))
    var = {"endpoint_url": moto.endpoint, "allowed_account_ids": [moto.account_id]}
    mgmt.init()
    mgmt.validate()
    mgmt.apply(var=var)

    ous = {o["Name"]: o["Id"] for o in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]}
    assert set(ous) == {"OU-Project-A", "OU-Project-B"}
    out = mgmt.outputs()
    assert set(out["account_ids"]) == {
        f"project-{p}-{e}" for p in ("a", "b") for e in ("dev", "qa", "prod")
    }
    for key, account_id in out["account_ids"].items():
        ou = "OU-Project-A" if key.startswith("project-a") else "OU-Project-B"
        assert org.list_parents(ChildId=account_id)["Parents"][0]["Id"] == ous[ou]
        assert out["account_role_arns"][key] == f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    names = {a["Name"] for a in org.list_accounts()["Accounts"]}
    assert {"ProjectA-Dev", "ProjectA-QA", "ProjectA-Prod", "ProjectB-Dev", "ProjectB-QA", "ProjectB-Prod"} <= names
    for ou_id in ous.values():
        attached = {p["Name"] for p in org.list_policies_for_target(TargetId=ou_id, Filter="SERVICE_CONTROL_POLICY")["Policies"]}
        assert len(attached) == 3 and "FullAWSAccess" in attached
    # Refresh is batched per object: OU = DescribeOrganizationalUnit, ListParents, ListTagsForResource,
    # ListPoliciesForTarget + DescribePolicy per guardrail (6); account = DescribeAccount, ListParents,
    # ListTagsForResource (3). 2 OUs + 6 accounts = 30 calls. The organization: DescribeOrganization,
    # ListRoots, ListAWSServiceAccessForOrganization (3), and its trail: GetTrail, GetTrailStatus, and the
    # bucket's HeadBucket + 7 concurrent reads of its settings (10). Plus the one STS GetCallerIdentity of
    # allowed_account_ids: 44 for the whole organization.
    before = len(moto_requests(moto))
    assert mgmt.plan(var=var) == 0, mgmt.last.stdout
    refresh_calls = len(moto_requests(moto)) - before
    assert refresh_calls <= 44, refresh_calls

    # An environment stack in ProjectB-QA, pinned to it.
    member = tf_factory("filesystem", name="member")
    copy_tree(REPO / "examples/member-account", member.workdir)
    member.init()
    mvar = {
        "endpoint_url": moto.endpoint,
        "account_id": out["account_ids"]["project-b-qa"],
        "role_arn": out["account_role_arns"]["project-b-qa"],
        "bucket_name": "pk-project-b-qa-state",
    }
    member.apply(var=mvar)
    assert "pk-project-b-qa-state" not in [b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]]
    # Pinned to the wrong account (another member's id with this member's role): refused.
    wrong = dict(mvar, account_id=out["account_ids"]["project-a-prod"])
    assert member.plan(var=wrong, check=False) == 1
    assert "AWS account not allowed" in flat(member.last.output)
    member.destroy(var=mvar)


def test_module_refuses_duplicate_emails(tf, clean_moto, tmp_path):
    copy_tree(REPO / "terraform-modules/organization", tf.workdir / "modules/organization")
    tf.write_config(
        """
module "org" {
  source   = "./modules/organization"
  projects = { a = { ou_name = "OU-A", allowed_regions = [], extra_policies = {} } }
  accounts = {
    dev  = { project = "a", name = "A-Dev", email = "aws+a@example.com" }
    prod = { project = "a", name = "A-Prod", email = "AWS+a@example.com" }
  }
}
""",
        endpoint=clean_moto.endpoint,
    )
    tf.init()
    result = tf.validate(check=False)
    assert result.returncode != 0
    assert "Every account needs its own root email" in flat(result.output)
