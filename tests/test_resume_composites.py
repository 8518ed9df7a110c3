"""A create of every composite other than `platform_environment` (which has its own file,
test_environment_resume.py) that fails part-way, at each stage, and what the next plan and apply do
(issue 17, item 1).

The failure is one AWS operation refused permanently by the fault-injecting proxy in front of moto
(harness/faults.py). Terraform taints a resource whose create returned an error with a state (core's rule
on 1.0 and 1.15 alike), so for every row:

- the failed apply's error names the failure, says the resource is tainted and names `terraform untaint`;
- the state holds what was made (the row's `partial` objects exist in AWS), with the missing parts null;
- the next plan replaces the resource ("is tainted, so must be replaced"), and where the composite's objects
  are found by name with one cheap call at plan time, it warns that they already exist in AWS, naming
  `terraform untaint`;
- `untaint` path: after `terraform untaint` the plan is an in-place update, whose apply finishes the create by
  adoption: the census (boto3, harness/census.py) then equals that of an uninterrupted apply, the next plan
  is empty, and destroy leaves what was there before;
- `replace` path (a subset of rows): the plain next apply replaces the resource and ends the same way.

Both paths end with exactly the objects of an uninterrupted apply (the row's `made` census delta).

Where the plan warns (one cheap call, objects found by name and owner tag): state backend and frontend (one
GetBucketTagging of the bucket), microservice (one DescribeRepositories, then its tags only when one exists),
cluster services (one GetRole of its first role: the answer carries the tags). Where it does not: an
organizational unit (finding it by name needs the root, the OUs under the parent and their tags: three calls),
an account (a replacement never deletes one: destroy moves it out and the create adopts it by its owner tag),
the organization (an existing organization is adopted by design, so a warning would show on every first apply
in an account that has one).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

import pytest

from harness.census import census
from harness.faults import Fault
from test_frontend import frontend_hcl
from test_microservice import make_environment, service_hcl
from test_organization import make_org

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def flat(text: str) -> str:
    return " ".join(text.split())


def backend_hcl(_: dict) -> str:
    return 'resource "platform_state_backend" "b" {\n  bucket = "pk-resume-state"\n}\n'


def ou_hcl(_: dict) -> str:
    return """
resource "platform_organizational_unit" "ou" {
  name = "OU-Resume"
  guardrails {
    allowed_regions = ["us-east-1", "eu-central-1"]
  }
  extra_policies = {
    deny-s3-public = jsonencode({
      Version   = "2012-10-17"
      Statement = [{ Effect = "Deny", Action = ["s3:PutAccountPublicAccessBlock"], Resource = "*" }]
    })
  }
}
"""


def make_org_with_ou(moto) -> dict:
    root = make_org(moto)
    ou = moto.client("organizations").create_organizational_unit(ParentId=root, Name="OU-Existing")
    return {"ou": ou["OrganizationalUnit"]["Id"]}


def account_hcl(values: dict) -> str:
    return f"""
resource "platform_org_account" "acct" {{
  name      = "ProjectR-Dev"
  email     = "aws+projectr-dev@example.com"
  parent_id = "{values['ou']}"
}}
"""


def organization_hcl(_: dict) -> str:
    return """
resource "platform_organization" "org" {
  trail {
    bucket_name = "pk-resume-org-trail"
  }
}
"""


@dataclass
class Composite:
    address: str
    hcl: Callable[[dict], str]
    #: what moto holds before the stack (returns the values the HCL needs)
    setup: Optional[Callable] = None
    #: census kinds -> count the uninterrupted apply adds (checked after every completed apply)
    made: Dict[str, int] = field(default_factory=dict)
    #: census kinds -> count destroy leaves on purpose (an account is moved out, never deleted)
    kept: Dict[str, int] = field(default_factory=dict)


COMPOSITES = {
    "state_backend": Composite(
        "platform_state_backend.b", backend_hcl,
        # moto makes the account's AWS managed key for the table's encryption on first use; destroy keeps it
        made={"s3.bucket": 1, "dynamodb.table": 1, "kms.key": 1}, kept={"kms.key": 1}),
    "microservice": Composite(
        "platform_microservice.svc", service_hcl, setup=make_environment,
        made={"ecr.repository": 1, "iam.role": 1, "iam.role_inline_policy": 1, "iam.role_attached_policy": 1}),
    "frontend": Composite(
        "platform_frontend.web", lambda _: frontend_hcl(),
        made={"s3.bucket": 1, "cloudfront.distribution": 1, "cloudfront.origin_access_control": 1,
              "route53.zone": 1, "route53.record": 4}),
    "organizational_unit": Composite(
        "platform_organizational_unit.ou", ou_hcl, setup=lambda moto: make_org(moto) and {},
        # the guardrail SCPs and the extra one, attached, and AWS's FullAWSAccess attached to every new OU
        made={"organizations.ou": 1, "organizations.scp": 3, "organizations.scp_attachment": 4}),
    "org_account": Composite(
        "platform_org_account.acct", account_hcl, setup=make_org_with_ou,
        # the account, with AWS's FullAWSAccess attached to it; destroy moves it out of the OU, never closes it
        made={"organizations.account": 1, "organizations.scp_attachment": 1},
        kept={"organizations.account": 1, "organizations.scp_attachment": 1}),
    "organization": Composite(
        "platform_organization.org", organization_hcl,
        # with the organization come its management account and AWS's FullAWSAccess on the root and that account
        made={"organizations.organization": 1, "organizations.account": 1, "organizations.scp": 1,
              "organizations.scp_attachment": 2, "s3.bucket": 1, "cloudtrail.trail": 1, "logs.log_group": 1,
              "iam.role": 1, "iam.role_inline_policy": 1}),
}


@dataclass
class Row:
    composite: str
    #: (service as SigV4 names it, operation) refused permanently
    refuse: Tuple[str, str]
    #: census kinds that must exist after the failed apply (what the failure left)
    partial: Dict[str, int]
    #: the next plan carries the provider's "already exists in AWS" warning
    warns: bool
    #: also run the plain re-apply (replacement) path
    replace: bool = False


ROWS = {
    "backend-policy": Row("state_backend", ("s3", "PutBucketPolicy"), {"s3.bucket": 1}, True, replace=True),
    "backend-versioning": Row("state_backend", ("s3", "PutBucketVersioning"), {"s3.bucket": 1}, True),
    "backend-public-access-block": Row("state_backend", ("s3", "PutPublicAccessBlock"), {"s3.bucket": 1}, True),
    "backend-encryption": Row("state_backend", ("s3", "PutBucketEncryption"), {"s3.bucket": 1}, True),
    "backend-lock-table": Row("state_backend", ("dynamodb", "CreateTable"), {"s3.bucket": 1}, True,
                              replace=True),
    "microservice-role": Row("microservice", ("iam", "CreateRole"), {"ecr.repository": 1}, True, replace=True),
    "microservice-inline-policy": Row("microservice", ("iam", "PutRolePolicy"),
                                      {"ecr.repository": 1, "iam.role": 1}, True),
    "frontend-oac": Row("frontend", ("cloudfront", "CreateOriginAccessControl"),
                        {"s3.bucket": 1, "route53.zone": 1}, True, replace=True),
    "frontend-distribution": Row("frontend", ("cloudfront", "CreateDistributionWithTags"),
                                 {"s3.bucket": 1, "cloudfront.origin_access_control": 1}, True),
    "frontend-records": Row("frontend", ("route53", "ChangeResourceRecordSets"),
                            {"s3.bucket": 1, "cloudfront.distribution": 1}, True, replace=True),
    "ou-scp-create": Row("organizational_unit", ("organizations", "CreatePolicy"), {"organizations.ou": 1}, False,
                         replace=True),
    "ou-scp-attach": Row("organizational_unit", ("organizations", "AttachPolicy"),
                         {"organizations.ou": 1, "organizations.scp": 1}, False),
    "account-move": Row("org_account", ("organizations", "MoveAccount"), {"organizations.account": 1}, False,
                        replace=True),
    "organization-policy-type": Row("organization", ("organizations", "EnablePolicyType"),
                                    {"organizations.organization": 1}, False, replace=True),
    "organization-trusted-access": Row("organization", ("organizations", "EnableAWSServiceAccess"),
                                       {"organizations.organization": 1}, False),
    "organization-trail": Row("organization", ("cloudtrail", "CreateTrail"),
                              {"organizations.organization": 1, "s3.bucket": 1}, False, replace=True),
}

#: Every row's untaint path runs here, on both Terraform versions; the plain re-apply paths of the rows marked
#: `replace` and the cluster services rows run in test_resume_composites_once.py (first version only: CI time).
UNTAINT = list(ROWS)
REPLACE = [row for row in ROWS if ROWS[row].replace]


def census_now(moto) -> Dict[str, int]:
    """The census, with SCP attachments counted on live targets only: moto keeps a deleted OU among the
    targets of AWS's FullAWSAccess policy (AWS drops it), which would count as a left-over attachment."""
    out = census(moto)
    if out.get("organizations.organization"):
        org = moto.client("organizations")
        roots = [r["Id"] for r in org.list_roots()["Roots"]]
        live = set(roots) | {a["Id"] for a in org.list_accounts()["Accounts"]}
        frontier = list(roots)
        while frontier:
            for ou in org.list_organizational_units_for_parent(ParentId=frontier.pop())["OrganizationalUnits"]:
                live.add(ou["Id"])
                frontier.append(ou["Id"])
        out["organizations.scp_attachment"] = sum(
            1 for p in org.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]
            for t in org.list_targets_for_policy(PolicyId=p["Id"])["Targets"] if t["TargetId"] in live)
    return out


def delta(after: Dict[str, int], before: Dict[str, int]) -> Dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in sorted(set(after) | set(before))
            if after.get(k, 0) != before.get(k, 0)}


def tainted(tf, address: str) -> bool:
    res = [r for r in tf.show_json().get("values", {}).get("root_module", {}).get("resources", [])
           if r["address"] == address]
    return bool(res) and bool(res[0].get("tainted"))


def actions(plan: dict, address: str) -> list:
    return [c["change"]["actions"] for c in plan["resource_changes"] if c["address"] == address]


def check_row(tf, clean_moto, fault_proxy, row: str, path: str) -> None:
    """One row of ROWS, to the end of `path` ("untaint" or "replace")."""
    t0 = time.monotonic()
    r = ROWS[row]
    comp = COMPOSITES[r.composite]
    moto, proxy = clean_moto, fault_proxy
    values = comp.setup(moto) if comp.setup else {}
    baseline = census_now(moto)
    tf.write_config(comp.hcl(values), endpoint=proxy.url)
    tf.init()

    # 1. The create fails at the stage: what exists is in state, tainted, and the error says so.
    service, operation = r.refuse
    proxy.fail(service, operation, error=Fault(400, "InjectedFailure", f"{operation} refused for the test"))
    failed = tf.apply(check=False)
    assert failed.returncode != 0
    text = flat(failed.output)
    assert "refused for the test" in text, failed.output
    assert "tainted" in text and f"terraform untaint" in text, failed.output
    assert proxy.stats()[(service, operation)].faults >= 1, "the refused operation was never called"
    assert tainted(tf, comp.address)
    left = delta(census_now(moto), baseline)
    assert {k: left.get(k, 0) for k in r.partial} == r.partial, left
    proxy.clear()

    # 2. The next plan: a replacement, with the provider's warning naming untaint where it can know.
    assert tf.plan() == 2, tf.last.output
    plan_text = flat(tf.last.output)
    assert "tainted, so must be replaced" in plan_text, tf.last.output
    if r.warns:
        assert "already exists in AWS" in plan_text and "terraform untaint" in plan_text, tf.last.output

    if path == "untaint":
        # 3a. untaint: the plan is an update, whose apply finishes the create.
        tf.run("untaint", comp.address)
        assert not tainted(tf, comp.address)
        acts = actions(tf.plan_json(), comp.address)
        assert acts == [["update"]], acts
    tf.apply()
    made = delta(census_now(moto), baseline)
    assert made == comp.made, made
    assert not tainted(tf, comp.address)
    assert tf.plan() == 0, tf.last.output

    # 4. Destroy leaves what was there before (and what destroy keeps on purpose).
    tf.destroy()
    assert delta(census_now(moto), baseline) == comp.kept
    print(f"\n{row} {path}: the failed apply left {left}; {time.monotonic() - t0:.1f}s")


# --- platform_cluster_services: the environment first, then the services' create fails ----------------------

SERVICES = "platform_cluster_services.core"
#: What the services add in AWS: two IRSA roles with their inline policies, the log group, Grafana's secret.
SERVICES_MADE = {"iam.role": 2, "iam.role_inline_policy": 2, "logs.log_group": 1, "secretsmanager.secret": 1}
#: A ConfigMap the aws-for-fluent-bit chart renders; made beforehand without Helm's ownership labels, it
#: makes that release's install fail (Helm refuses to adopt it), after the load balancer controller's.
CONFLICT = ("/api/v1/namespaces/kube-system/configmaps", "aws-for-fluent-bit")


@dataclass
class ServicesRow:
    #: an AWS operation refused permanently, or None for the Helm failure (CONFLICT)
    refuse: Optional[Tuple[str, str]]
    #: census kinds that must exist after the failed apply
    partial: Dict[str, int]
    #: Helm releases deployed after the failed apply
    releases: Tuple[str, ...]
    replace: bool = False


SERVICES_ROWS = {
    "services-log-group": ServicesRow(("logs", "CreateLogGroup"), {"iam.role": 1}, ()),
    "services-secret": ServicesRow(("secretsmanager", "CreateSecret"),
                                   {"iam.role": 2, "logs.log_group": 1}, (), replace=True),
    "services-helm-release": ServicesRow(None, dict(SERVICES_MADE), ("aws-load-balancer-controller",),
                                         replace=True),
}
SERVICES_PATHS = [(row, path) for row in SERVICES_ROWS
                  for path in (("untaint", "replace") if SERVICES_ROWS[row].replace else ("untaint",))]


@pytest.mark.parametrize("row", UNTAINT)
def test_failed_create_then_untaint_resumes(tf, clean_moto, fault_proxy, row):
    check_row(tf, clean_moto, fault_proxy, row, "untaint")


def check_services_row(tf, clean_moto, fault_proxy, kube, chart_repo, row: str, path: str) -> None:
    """One row of SERVICES_ROWS, to the end of `path`."""
    from test_cluster_services import RELEASES, kube_provider, release_names, stack

    t0 = time.monotonic()
    r = SERVICES_ROWS[row]
    moto, proxy = clean_moto, fault_proxy
    empty = census_now(moto)
    tf.write_config(stack(chart_repo.url), endpoint=proxy.url, provider_extra=kube_provider(kube))
    tf.init()
    tf.apply("-target=platform_environment.e")
    baseline = census_now(moto)
    conflict_path = f"{CONFLICT[0]}/{CONFLICT[1]}"
    try:
        # 1. The create fails: an AWS operation refused, or a release Helm cannot install.
        if r.refuse:
            proxy.fail(*r.refuse, error=Fault(400, "InjectedFailure", f"{r.refuse[1]} refused for the test"))
        else:
            kube.create(CONFLICT[0], {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": CONFLICT[1]}, "data": {"owner": "someone else"}})
        failed = tf.apply(check=False)
        assert failed.returncode != 0
        text = flat(failed.output)
        assert ("refused for the test" if r.refuse else CONFLICT[1]) in text, failed.output
        assert "tainted" in text and "terraform untaint" in text, failed.output
        assert tainted(tf, SERVICES)
        left = delta(census_now(moto), baseline)
        assert {k: left.get(k, 0) for k in r.partial} == r.partial, left
        assert set(release_names(kube)) == set(r.releases)
        values = tf.resource_values(SERVICES)
        if r.refuse == ("logs", "CreateLogGroup"):
            # what was not made is null in state, so the update after untaint makes it
            assert values["log_group_arn"] is None and values["fluent_bit_role_arn"] is None, values
        proxy.clear()
        kube.delete(conflict_path)

        # 2. The next plan: a replacement, with the warning naming untaint (the first role exists).
        assert tf.plan() == 2, tf.last.output
        plan_text = flat(tf.last.output)
        assert "tainted, so must be replaced" in plan_text, tf.last.output
        assert "already exists in AWS" in plan_text and "terraform untaint" in plan_text, tf.last.output
        if path == "untaint":
            tf.run("untaint", SERVICES)
            acts = actions(tf.plan_json(), SERVICES)
            assert acts == [["update"]], acts
        tf.apply()
        assert delta(census_now(moto), baseline) == SERVICES_MADE
        assert release_names(kube) == {name: "deployed" for name in RELEASES}
        assert tf.plan() == 0, tf.last.output
    finally:
        proxy.clear()
        kube.delete(conflict_path)
        tf.destroy(check=False)
    # Grafana's secret is scheduled for deletion (7-day recovery window), not gone at once.
    assert delta(census_now(moto), empty) in ({}, {"secretsmanager.secret": 1})
    assert release_names(kube) == {}
    print(f"\n{row} {path}: the failed apply left {left}; {time.monotonic() - t0:.1f}s")
