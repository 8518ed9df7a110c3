"""Bad input is a Terraform diagnostic naming the attribute, raised at validate or plan time, and the
provider makes no AWS call that changes anything. "No call" is checked on moto's own request log."""

from __future__ import annotations

import pytest

from harness.terraform import platform_config

pytestmark = pytest.mark.e2e


def flat(text: str) -> str:
    """Terraform wraps diagnostics at 80 columns; compare messages with white space folded."""
    return " ".join(text.split())


def moto_requests(moto) -> list[str]:
    """Request lines moto logged (werkzeug access log), e.g. 'PUT /bucket HTTP/1.1'."""
    text = moto.log_path.read_text(errors="replace") if moto.log_path.exists() else ""
    return [line for line in text.splitlines() if '"' in line and "HTTP/1.1" in line and "moto-api" not in line]


def resource(bucket="pk-bad-input", extra=""):
    return f'resource "platform_state_backend" "b" {{\n  bucket = "{bucket}"\n{extra}\n}}\n'


@pytest.mark.parametrize(
    "extra, attribute, message",
    [
        ('  noncurrent_version_expiration_days = 0', "noncurrent_version_expiration_days", "Invalid retention"),
        ('  lock_table_name = "a b"', "lock_table_name", "Invalid table name"),
        ('  kms_key_arn = "alias/state"', "kms_key_arn", "Invalid KMS key ARN"),
        ('  tags = { "platform:owner" = "me" }', "tags", "Reserved tag key"),
    ],
)
def test_invalid_resource_attributes_fail_validate(tf, clean_moto, extra, attribute, message):
    tf.write_config(resource(extra=extra), endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    assert message in flat(result.output)
    assert attribute in flat(result.output)
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0 and message in flat(result.output)
    assert len(moto_requests(clean_moto)) == before, "the provider called AWS for an invalid config"
    assert clean_moto.client("s3").list_buckets()["Buckets"] == []


@pytest.mark.parametrize("bucket", ["Bad_Bucket", "ab", "192.168.10.20", "-leading-hyphen"])
def test_invalid_bucket_names(tf, clean_moto, bucket):
    tf.write_config(resource(bucket=bucket), endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    assert "Invalid bucket name" in flat(result.output)
    assert 'bucket = "' in flat(result.output)  # Terraform underlines the attribute's line
    assert len(moto_requests(clean_moto)) == before


@pytest.mark.parametrize(
    "provider_block, message, attribute",
    [
        ('provider "platform" {\n  region = "moon-base-1"\n}\n', "Invalid AWS region", "region"),
        (
            'provider "platform" {\n  region = "us-east-1"\n  endpoints {\n    url = "127.0.0.1:4566"\n  }\n}\n',
            "Invalid endpoint URL",
            "url",
        ),
        (
            'provider "platform" {\n  region = "us-east-1"\n  endpoints {\n    s3 = "http://127.0.0.1:notaport"\n  }\n}\n',
            "Invalid endpoint URL",
            "s3",
        ),
        (
            'provider "platform" {\n  region = "us-east-1"\n  allowed_account_ids = ["12345"]\n}\n',
            "Invalid AWS account id",
            "allowed_account_ids",
        ),
        (
            'provider "platform" {\n  region = "us-east-1"\n  assume_role {\n    role_arn = "not-an-arn"\n  }\n}\n',
            "Invalid role ARN",
            "role_arn",
        ),
    ],
)
def test_invalid_provider_configuration(tf, clean_moto, provider_block, message, attribute):
    tf.write(platform_config(resource()) + provider_block)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    assert message in flat(result.output)
    assert attribute in flat(result.output)
    assert len(moto_requests(clean_moto)) == before


def test_allowed_account_ids_mismatch_refused_before_any_change(tf, clean_moto):
    tf.write_config(
        resource(), endpoint=clean_moto.endpoint, provider_extra='allowed_account_ids = ["111111111111"]'
    )
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0
    assert "AWS account not allowed" in flat(result.output)
    assert "allowed_account_ids" in flat(result.output)
    # Only the identity check reached AWS; nothing was created or even described.
    calls = moto_requests(clean_moto)[before:]
    assert calls, "expected the STS identity check"
    assert all("POST / " in c for c in calls), calls  # STS is a POST to /
    assert clean_moto.client("s3").list_buckets()["Buckets"] == []


def test_allowed_account_ids_match_is_accepted(tf, clean_moto):
    tf.write_config(
        resource(), endpoint=clean_moto.endpoint, provider_extra=f'allowed_account_ids = ["{clean_moto.account_id}"]'
    )
    tf.init()
    assert tf.plan() == 2


def test_missing_credentials(tf_factory, clean_moto, tmp_path):
    tf = tf_factory(
        "filesystem",
        env={
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
        },
    )
    tf.write_config(resource(), endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0
    assert "No AWS credentials" in flat(result.output)
    assert len(moto_requests(clean_moto)) == before
