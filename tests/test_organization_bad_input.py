"""Bad organization input is a diagnostic naming the attribute, raised before any AWS call (checked on
moto's own request log): malformed email, duplicate email, unknown region, an extra policy that is invalid
JSON or over 5,120 characters, too many policies per target; an organization feature set other than ALL, an
unknown service principal, a trail bucket name or log retention AWS would refuse."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e


def flat(text: str) -> str:
    return " ".join(text.split())


def moto_requests(moto) -> list[str]:
    text = moto.log_path.read_text(errors="replace") if moto.log_path.exists() else ""
    return [line for line in text.splitlines() if '"' in line and "HTTP/1.1" in line and "moto-api" not in line]


DENY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]})
BIG = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": f"S{i}", "Effect": "Deny", "Action": [f"service{i}:Action{j}" for j in range(20)], "Resource": "*"}
            for i in range(12)
        ],
    }
)
assert len(BIG) > 5120


def hcl_str(s: str) -> str:
    return json.dumps(s).replace("${", "$${")


def ou(extra: str) -> str:
    return f'resource "platform_organizational_unit" "x" {{\n  name = "OU-Bad"\n{extra}\n}}\n'


def account(name: str, email: str) -> str:
    return (
        f'resource "platform_org_account" "{name.lower()}" {{\n'
        f'  name  = "{name}"\n  email = "{email}"\n}}\n'
    )


@pytest.mark.parametrize(
    "body, message, attribute",
    [
        (account("Dev", "not-an-email"), "Invalid email address", "email"),
        (account("Dev", "dev@example..com"), "Invalid email address", "email"),
        (account("A" * 51, "dev@example.com"), "Invalid account name", "name"),
        (ou('  guardrails {\n    allowed_regions = ["eu-central-1", "moon-base-1"]\n  }'), "Invalid AWS region", "allowed_regions"),
        (ou('  extra_policies = { broken = "{\\"Statement\\": [" }'), "Invalid policy document", "extra_policies"),
        (ou(f"  extra_policies = {{ huge = {hcl_str(BIG)} }}"), "at most 5120", "extra_policies"),
        (
            ou(
                '  guardrails {\n    allowed_regions = ["eu-central-1"]\n  }\n'
                f"  extra_policies = {{ a = {hcl_str(DENY)}, b = {hcl_str(DENY)}, c = {hcl_str(DENY)} }}"
            ),
            "Too many policies for one target",
            "extra_policies",
        ),
        (ou('  parent_id = "root"'), "Invalid parent id", "parent_id"),
        ('resource "platform_organizational_unit" "x" {\n  name = "a/b"\n}\n', "Invalid OU name", "name"),
        (
            'resource "platform_organization" "o" {\n  feature_set = "CONSOLIDATED_BILLING"\n}\n',
            "Unsupported feature set",
            "feature_set",
        ),
        (
            'resource "platform_organization" "o" {\n  aws_service_access_principals = ["cloudtrail.amazonaws.com", "sso.example.com"]\n}\n',
            "Unknown service principal",
            "aws_service_access_principals",
        ),
        (
            'resource "platform_organization" "o" {\n  trail {\n    bucket_name = "Org_Trail_Logs"\n  }\n}\n',
            "Invalid bucket name",
            "bucket_name",
        ),
        (
            'resource "platform_organization" "o" {\n  trail {\n    bucket_name = "org-trail-logs"\n    log_retention_days = 10\n  }\n}\n',
            "Invalid log retention",
            "log_retention_days",
        ),
        (
            'data "platform_guardrail_policy" "g" {\n  allowed_regions = ["narnia-1"]\n}\n',
            "Invalid AWS region",
            "allowed_regions",
        ),
    ],
)
def test_invalid_input_fails_validate_without_aws_calls(tf, clean_moto, body, message, attribute):
    tf.write_config(body, endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0, result.output
    assert message in flat(result.output)
    assert attribute in flat(result.output)
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0 and message in flat(result.output)
    assert len(moto_requests(clean_moto)) == before, "the provider called AWS for an invalid config"


def test_duplicate_email_is_refused_at_plan(tf, clean_moto):
    """Two accounts with one email: a resource sees only its own configuration, so the provider remembers the
    emails planned in this run (Terraform plans every instance of a configuration in one provider process)."""
    tf.write_config(
        account("ProjectA-Dev", "aws+dev@example.com") + account("ProjectB-Dev", "AWS+dev@example.com"),
        endpoint=clean_moto.endpoint,
    )
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0
    assert "Duplicate account email" in flat(result.output)
    assert "email" in flat(result.output)
    assert len(moto_requests(clean_moto)) == before
