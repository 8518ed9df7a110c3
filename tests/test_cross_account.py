"""Deploying into a member account: a stack whose provider assumes the account's access role (created by
platform_org_account) with allowed_account_ids pinned to that account. moto keeps per-account state under
AssumeRole, so what the stack creates is visible only inside the member account."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

BUCKET = "pk-member-state"


def flat(text: str) -> str:
    return " ".join(text.split())


def moto_requests(moto) -> list[str]:
    text = moto.log_path.read_text(errors="replace") if moto.log_path.exists() else ""
    return [line for line in text.splitlines() if '"' in line and "HTTP/1.1" in line and "moto-api" not in line]


def member_provider(role_arn: str, allowed: str) -> str:
    return (
        f'allowed_account_ids = ["{allowed}"]\n'
        "assume_role {\n"
        f'  role_arn     = "{role_arn}"\n'
        '  session_name = "platformkit-e2e"\n'
        "}\n"
    )


def backend(bucket: str = BUCKET) -> str:
    return f"""
resource "platform_state_backend" "member" {{
  bucket      = "{bucket}"
  require_tls = false
}}
"""


def member_s3(moto, role_arn: str):
    creds = moto.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="check")["Credentials"]
    return moto.client(
        "s3",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def test_stack_in_member_account(tf_factory, clean_moto):
    moto = clean_moto
    moto.client("organizations").create_organization(FeatureSet="ALL")

    # The management stack vends the account and outputs the role to assume.
    mgmt = tf_factory("filesystem", name="management")
    mgmt.write_config(
        """
resource "platform_org_account" "dev" {
  name  = "ProjectA-Dev"
  email = "aws+projecta-dev@example.com"
}

output "role_arn" {
  value = platform_org_account.dev.access_role_arn
}

output "account_id" {
  value = platform_org_account.dev.id
}
""",
        endpoint=moto.endpoint,
    )
    mgmt.init()
    mgmt.apply()
    out = mgmt.outputs()
    role_arn, account_id = out["role_arn"], out["account_id"]
    assert account_id != moto.account_id

    # The environment stack assumes the member's role, pinned to that account.
    env = tf_factory("filesystem", name="member")
    env.write_config(backend(), endpoint=moto.endpoint, provider_extra=member_provider(role_arn, account_id))
    env.init()
    env.apply()
    values = env.resource_values("platform_state_backend.member")
    assert values["lock_table_arn"].split(":")[4] == account_id
    assert env.plan() == 0, env.last.stdout

    # Inside the member account, not in the management account.
    assert BUCKET in [b["Name"] for b in member_s3(moto, role_arn).list_buckets()["Buckets"]]
    assert BUCKET not in [b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]]
    assert moto.client("dynamodb").list_tables()["TableNames"] == []

    # A stack pinned to another account is refused before any change, even with a valid role.
    wrong = tf_factory("filesystem", name="wrong-account")
    wrong.write_config(
        backend("pk-wrong-account"), endpoint=moto.endpoint, provider_extra=member_provider(role_arn, "111111111111")
    )
    wrong.init()
    before = len(moto_requests(moto))
    result = wrong.run("plan", "-no-color", check=False)
    assert result.returncode != 0
    assert "AWS account not allowed" in flat(result.output)
    assert account_id in flat(result.output)
    calls = moto_requests(moto)[before:]
    assert calls and all("POST / " in c for c in calls), calls  # only STS AssumeRole / GetCallerIdentity
    assert "pk-wrong-account" not in [b["Name"] for b in member_s3(moto, role_arn).list_buckets()["Buckets"]]

    env.destroy()
    assert member_s3(moto, role_arn).list_buckets()["Buckets"] == []
    result = mgmt.destroy()
    assert "Account left in the organization" in flat(result.output)
