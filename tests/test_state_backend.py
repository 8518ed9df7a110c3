"""platform_state_backend end to end: the real terraform 1.0.3, the real provider binary (installed from
the filesystem mirror or the HTTPS network mirror) and a real moto server. After each step the AWS state
is checked through boto3, never through the provider."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.e2e


def flat(text: str) -> str:
    """Terraform wraps diagnostics at 80 columns; compare messages with white space folded."""
    return " ".join(text.split())

BUCKET = "pk-e2e-state"


def backend_hcl(bucket: str = BUCKET, extra: str = "", output: bool = True) -> str:
    hcl = f"""
resource "platform_state_backend" "b" {{
  bucket = "{bucket}"
{extra}
}}
"""
    if output:
        hcl += """
output "backend_config" {
  value = platform_state_backend.b.backend_config
}
"""
    return hcl


def assert_bucket_secure(moto, bucket: str, *, tls_policy: bool = True) -> None:
    s3 = moto.client("s3")
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert pab == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    rules = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert rules == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    if tls_policy:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        stmt = policy["Statement"][0]
        assert stmt["Effect"] == "Deny"
        assert stmt["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def assert_table_ready(moto, table: str) -> None:
    ddb = moto.client("dynamodb")
    t = ddb.describe_table(TableName=table)["Table"]
    assert t["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["SSEDescription"]["Status"] == "ENABLED"
    pitr = ddb.describe_continuous_backups(TableName=table)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def lifecycle_days(moto, bucket: str) -> int:
    rules = moto.client("s3").get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    return rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"]


def assert_nothing_left(moto) -> None:
    assert moto.client("s3").list_buckets()["Buckets"] == []
    assert moto.client("dynamodb").list_tables()["TableNames"] == []


def test_full_lifecycle_from_filesystem_mirror(tf_factory, clean_moto):
    moto = clean_moto
    tf = tf_factory("filesystem")
    tf.write_config(backend_hcl(extra='  tags = { team = "platform" }'), endpoint=moto.endpoint)
    tf.init()
    assert any(h.startswith("h1:") for h in tf.lock_hashes())
    tf.validate()

    # Plan is informative: names, ARNs and the backend configuration are known before apply.
    plan = tf.plan_json()
    after = plan["resource_changes"][0]["change"]["after"]
    assert after["lock_table_name"] == f"{BUCKET}-lock"
    assert after["bucket_arn"] == f"arn:aws:s3:::{BUCKET}"
    assert after["backend_config"] == {
        "bucket": BUCKET,
        "region": "us-east-1",
        "dynamodb_table": f"{BUCKET}-lock",
        "encrypt": True,
        "kms_key_id": None,
    }
    assert after["tags_all"]["platform:owner"] == f"platform_state_backend/{BUCKET}"

    tf.apply()
    assert_bucket_secure(moto, BUCKET)
    assert_table_ready(moto, f"{BUCKET}-lock")
    assert lifecycle_days(moto, BUCKET) == 90
    tags = {t["Key"]: t["Value"] for t in moto.client("s3").get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["team"] == "platform"
    assert tags["platform:managed-by"] == "platformkit"
    assert tf.outputs()["backend_config"]["dynamodb_table"] == f"{BUCKET}-lock"

    # No changes after apply.
    assert tf.plan() == 0

    # In-place update: retention and tags, same bucket and table.
    tf.write_config(
        backend_hcl(extra='  tags = { team = "infra" }\n  noncurrent_version_expiration_days = 30'),
        endpoint=moto.endpoint,
    )
    plan = tf.plan_json()
    assert plan["resource_changes"][0]["change"]["actions"] == ["update"]
    tf.apply()
    assert lifecycle_days(moto, BUCKET) == 30
    tags = {t["Key"]: t["Value"] for t in moto.client("s3").get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["team"] == "infra"
    assert tf.plan() == 0

    # Import into a fresh state: the same configuration then plans no change. (No output block here:
    # Terraform 1.0 counts a not-yet-recorded output as a change.)
    fresh = tf_factory("filesystem", name="import")
    fresh.write_config(
        backend_hcl(extra='  tags = { team = "infra" }\n  noncurrent_version_expiration_days = 30', output=False),
        endpoint=moto.endpoint,
    )
    fresh.init()
    fresh.import_("platform_state_backend.b", BUCKET)
    values = fresh.resource_values("platform_state_backend.b")
    assert values["lock_table_name"] == f"{BUCKET}-lock"
    assert values["tags"] == {"team": "infra"}
    assert fresh.plan() == 0

    tf.destroy()
    assert_nothing_left(moto)


def test_install_from_https_network_mirror(tf_factory, clean_moto, mirror):
    moto = clean_moto
    tf = tf_factory("network")
    tf.write_config(backend_hcl(bucket="pk-e2e-netmirror"), endpoint=moto.endpoint)
    tf.init()
    assert mirror.h1 in tf.lock_hashes()
    tf.apply()
    assert_bucket_secure(moto, "pk-e2e-netmirror")
    assert tf.plan() == 0
    tf.destroy()
    assert_nothing_left(moto)


def test_drift_is_detected_and_repaired(tf_factory, clean_moto):
    moto = clean_moto
    tf = tf_factory("filesystem")
    tf.write_config(backend_hcl(), endpoint=moto.endpoint)
    tf.init()
    tf.apply()

    s3 = moto.client("s3")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_public_access_block(Bucket=BUCKET)
    s3.delete_bucket_policy(Bucket=BUCKET)
    moto.client("dynamodb").delete_table(TableName=f"{BUCKET}-lock")

    plan = tf.plan_json()
    change = plan["resource_changes"][0]["change"]
    assert change["actions"] == ["update"]
    assert change["before"]["versioning_enabled"] is False
    assert change["before"]["public_access_block_enabled"] is False
    assert change["before"]["require_tls"] is False
    assert change["after"]["versioning_enabled"] is True

    tf.apply()
    assert_bucket_secure(moto, BUCKET)
    assert_table_ready(moto, f"{BUCKET}-lock")
    assert tf.plan() == 0
    tf.destroy()
    assert_nothing_left(moto)


def test_destroy_refuses_non_empty_bucket_unless_forced(tf_factory, clean_moto):
    moto = clean_moto
    tf = tf_factory("filesystem")
    # TLS-only policies deny every object write on moto (it ignores the condition), so this bucket
    # gets no policy; the refusal under test does not depend on it.
    tf.write_config(backend_hcl(extra="  require_tls = false"), endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    moto.client("s3").put_object(Bucket=BUCKET, Key="env/terraform.tfstate", Body=b"{}")

    result = tf.run("destroy", "-auto-approve", "-no-color", check=False)
    assert result.returncode != 0
    assert "still holds Terraform state" in flat(result.output)
    # Nothing was lost: bucket, object and table are all still there, and still in state.
    assert moto.client("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    assert_table_ready(moto, f"{BUCKET}-lock")
    assert tf.state_list() == ["platform_state_backend.b"]

    tf.write_config(backend_hcl(extra="  require_tls = false\n  force_destroy = true"), endpoint=moto.endpoint)
    tf.apply()
    tf.destroy()
    assert_nothing_left(moto)


def test_recreate_after_lost_state_adopts_owned_objects(tf_factory, clean_moto):
    """A crash between create and the state write leaves owned objects behind; re-applying adopts them."""
    moto = clean_moto
    tf = tf_factory("filesystem")
    tf.write_config(backend_hcl(), endpoint=moto.endpoint)
    tf.init()
    tf.apply()
    (tf.workdir / "terraform.tfstate").unlink()
    tf.apply()
    assert len(moto.client("s3").list_buckets()["Buckets"]) == 1
    assert moto.client("dynamodb").list_tables()["TableNames"] == [f"{BUCKET}-lock"]
    assert tf.plan() == 0
    tf.destroy()
    assert_nothing_left(moto)


def test_existing_foreign_bucket_is_not_adopted(tf_factory, clean_moto):
    moto = clean_moto
    moto.client("s3").create_bucket(Bucket=BUCKET)
    tf = tf_factory("filesystem")
    tf.write_config(backend_hcl(), endpoint=moto.endpoint)
    tf.init()
    result = tf.run("apply", "-auto-approve", "-no-color", check=False)
    assert result.returncode != 0
    assert "not managed by this resource" in flat(result.output)
    assert "terraform import" in flat(result.output)
    # Part-way failure: the lock table was created concurrently and is recorded (tainted), not orphaned.
    assert tf.state_list() == ["platform_state_backend.b"]
    assert moto.client("dynamodb").list_tables()["TableNames"] == [f"{BUCKET}-lock"]
    assert "tainted" in flat(tf.run("state", "show", "-no-color", "platform_state_backend.b").output)
    # Destroying it removes what this resource made and never the foreign bucket.
    result = tf.run("destroy", "-auto-approve", "-no-color")
    assert "State bucket left in place" in flat(result.output)
    assert [b["Name"] for b in moto.client("s3").list_buckets()["Buckets"]] == [BUCKET]
    assert moto.client("dynamodb").list_tables()["TableNames"] == []
    # Once the name clash is gone, the next apply converges.
    moto.client("s3").delete_bucket(Bucket=BUCKET)
    tf.apply()
    assert_bucket_secure(moto, BUCKET)
    assert_table_ready(moto, f"{BUCKET}-lock")
    assert tf.plan() == 0
    tf.destroy()
    assert_nothing_left(moto)


def test_profile_and_default_tags(tf_factory, clean_moto, tmp_path):
    """Credentials from a named profile; default_tags land on every object but stay out of `tags`."""
    moto = clean_moto
    creds = tmp_path / "credentials"
    creds.write_text("[platform-e2e]\naws_access_key_id = fromprofile\naws_secret_access_key = fromprofile\n")
    tf = tf_factory(
        "filesystem",
        env={
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_SHARED_CREDENTIALS_FILE": str(creds),
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        },
    )
    tf.write_config(
        backend_hcl(extra='  tags = { team = "platform" }', output=False),
        endpoint=moto.endpoint,
        provider_extra='profile = "platform-e2e"\ndefault_tags {\n  tags = { cost_center = "42" }\n}',
    )
    tf.init()
    tf.apply()
    tags = {t["Key"]: t["Value"] for t in moto.client("s3").get_bucket_tagging(Bucket=BUCKET)["TagSet"]}
    assert tags["cost_center"] == "42" and tags["team"] == "platform"
    table_arn = moto.client("dynamodb").describe_table(TableName=f"{BUCKET}-lock")["Table"]["TableArn"]
    ttags = {t["Key"]: t["Value"] for t in moto.client("dynamodb").list_tags_of_resource(ResourceArn=table_arn)["Tags"]}
    assert ttags["cost_center"] == "42" and ttags["platform:managed-by"] == "platformkit"
    values = tf.resource_values("platform_state_backend.b")
    assert values["tags"] == {"team": "platform"}
    assert values["tags_all"]["cost_center"] == "42"
    assert tf.plan() == 0
    tf.destroy()
    assert_nothing_left(moto)
