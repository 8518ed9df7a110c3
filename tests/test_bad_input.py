"""Bad input is a Terraform diagnostic naming the attribute, raised at validate or plan time, before the provider
changes anything in AWS. One table (``CASES``) holds every case: the provider block, every composite, the
organization resources and the guardrail data source. Each row says whether Terraform refuses it at ``validate``
(no provider configured, no AWS call possible) or only at ``plan`` (it needs the provider's region or the other
resources of the configuration), and which read-only AWS operations the plan may make before refusing (by
default none). Calls are checked twice: the provider's own call log (TF_LOG_PROVIDER=debug names every AWS
operation) and moto's request log (every request that reached the endpoint)."""

from __future__ import annotations

import json
import re

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


def provider_calls(log_path) -> list[str]:
    """AWS operations the provider logged ("AWS call" lines of platform_aws::logging), in order."""
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    return [m.group(1) for line in text.splitlines() if "AWS call" in line for m in [re.search(r"operation=(\w+)", line)] if m]


def hcl_str(s: str) -> str:
    return json.dumps(s).replace("${", "$${")


# --- configurations the rows are built from ------------------------------------------------------------------

def backend(extra: str = "", bucket: str = "pk-bad-input", label: str = "b") -> str:
    return f'resource "platform_state_backend" "{label}" {{\n  bucket = "{bucket}"\n{extra}\n}}\n'


def environment(extra: str = "", azs=("us-east-1a", "us-east-1b"), name: str = "pk-bad", label: str = "e", cidr="10.0.0.0/16") -> str:
    az_list = ", ".join(f'"{a}"' for a in azs)
    return (
        f'resource "platform_environment" "{label}" {{\n  name               = "{name}"\n'
        f'  vpc_cidr           = "{cidr}"\n  availability_zones = [{az_list}]\n{extra}\n}}\n'
    )


def node_group(instance_types: str) -> str:
    return environment(
        "  cluster {\n  }\n  node_groups {\n    name = \"general\"\n    min_size = 1\n    max_size = 2\n"
        f"    instance_types = {instance_types}\n  }}"
    )


def microservice(label: str, name: str, cluster: str) -> str:
    issuer = f"oidc.eks.us-east-1.amazonaws.com/id/{cluster.upper()}0123456789"
    return f"""resource "platform_microservice" "{label}" {{
  name      = "{name}"
  image_tag = "0123456789abcdef0123456789abcdef01234567"
  environment = {{
    cluster_name      = "{cluster}"
    oidc_issuer_url   = "https://{issuer}"
    oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/{issuer}"
    node_role_arn     = "arn:aws:iam::123456789012:role/{cluster}-nodes"
  }}
}}
"""


def ou(extra: str) -> str:
    return f'resource "platform_organizational_unit" "x" {{\n  name = "OU-Bad"\n{extra}\n}}\n'


def account(name: str, email: str) -> str:
    return f'resource "platform_org_account" "{name.lower()}" {{\n  name  = "{name}"\n  email = "{email}"\n}}\n'


def scp(*statements: dict) -> str:
    return hcl_str(json.dumps({"Version": "2012-10-17", "Statement": list(statements)}))


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


def case(id, body, message, attribute, *, phase="validate", region="us-east-1", provider_extra="", provider=None, calls=()):
    """One row: ``body`` (resources) under a provider block for ``region`` with ``provider_extra`` (or the
    literal ``provider`` block instead), refused at ``phase`` with ``message`` at ``attribute``; ``calls`` are the
    read-only AWS operations a plan-phase refusal may make first."""
    return pytest.param(body, message, attribute, phase, region, provider_extra, provider, tuple(calls), id=id)


CASES = [
    # --- provider block -----------------------------------------------------------------------------------------
    case("provider-region-unknown", backend(), "Invalid AWS region", "region", region="moon-base-1"),
    case("provider-region-typo", backend(), 'did you mean "us-east-1"', "region", region="us-est-1"),
    case("provider-endpoint-no-scheme", backend(), "Invalid endpoint URL", "url",
         provider='provider "platform" {\n  region = "us-east-1"\n  endpoints {\n    url = "127.0.0.1:4566"\n  }\n}\n'),
    case("provider-endpoint-bad-port", backend(), "Invalid endpoint URL", "s3",
         provider='provider "platform" {\n  region = "us-east-1"\n  endpoints {\n    s3 = "http://127.0.0.1:notaport"\n  }\n}\n'),
    case("provider-account-id", backend(), "Invalid AWS account id", "allowed_account_ids",
         provider_extra='allowed_account_ids = ["12345"]'),
    case("provider-role-arn", backend(), "Invalid role ARN", "role_arn",
         provider_extra='assume_role {\n  role_arn = "not-an-arn"\n}'),
    case("default-tags-aws-prefix", backend(), "Reserved tag key", "tags = {",
         provider_extra='default_tags {\n  tags = { "aws:team" = "platform" }\n}'),
    case("default-tags-platform-prefix", backend(), "Reserved tag key", "tags = {",
         provider_extra='default_tags {\n  tags = { "platform:owner" = "me" }\n}'),
    case("default-tags-long-value", backend(), "Tag values are at most 256 characters", "tags = {",
         provider_extra=f'default_tags {{\n  tags = {{ team = "{"x" * 257}" }}\n}}'),
    case("default-tags-long-key", backend(), "Tag keys are 1 to 128 characters", "tags = {",
         provider_extra=f'default_tags {{\n  tags = {{ "{"k" * 129}" = "v" }}\n}}'),
    case("default-tags-character", backend(), "has the character '*'", "tags = {",
         provider_extra='default_tags {\n  tags = { "team*" = "platform" }\n}'),
    # --- platform_state_backend ---------------------------------------------------------------------------------
    case("backend-retention", backend("  noncurrent_version_expiration_days = 0"), "Invalid retention",
         "noncurrent_version_expiration_days"),
    case("backend-lock-table", backend('  lock_table_name = "a b"'), "Invalid table name", "lock_table_name"),
    case("backend-kms", backend('  kms_key_arn = "alias/state"'), "Invalid KMS key ARN", "kms_key_arn"),
    case("backend-reserved-tag", backend('  tags = { "platform:owner" = "me" }'), "Reserved tag key", "tags"),
    case("backend-bucket-case", backend(bucket="Bad_Bucket"), "Invalid bucket name", "bucket"),
    case("backend-bucket-short", backend(bucket="ab"), "Invalid bucket name", "bucket"),
    case("backend-bucket-ip", backend(bucket="192.168.10.20"), "Invalid bucket name", "bucket"),
    case("backend-bucket-hyphen", backend(bucket="-leading-hyphen"), "Invalid bucket name", "bucket"),
    case("backend-duplicate-bucket", backend(label="a", bucket="pk-dup-state") + backend(label="b", bucket="pk-dup-state"),
         "Duplicate state backend", "bucket", phase="plan",
         # the other backend is valid: its plan looks for a bucket left by a failed create
         calls=["GetBucketTagging"]),
    case("backend-duplicate-lock-table",
         backend('  lock_table_name = "pk-lock"', label="a", bucket="pk-state-a")
         + backend('  lock_table_name = "pk-lock"', label="b", bucket="pk-state-b"),
         "Duplicate lock table", "lock_table_name", phase="plan", calls=["GetBucketTagging"]),
    # --- platform_environment -----------------------------------------------------------------------------------
    case("az-other-region", environment(azs=("eu-west-1a", "eu-west-1b")), "Availability zone not in the provider's region",
         "availability_zones", phase="plan"),
    case("az-id", environment(azs=("use1-az1", "use1-az2")), "is an availability-zone id", "availability_zones"),
    case("az-region-typo", environment(azs=("us-est-1a", "us-est-1b")), 'did you mean "us-east-1a"', "availability_zones"),
    case("az-bad-letter", environment(azs=("us-east-1a", "us-east-1z")), "use the letters a to h", "availability_zones"),
    case("az-missing", environment(azs=("us-east-1a", "us-east-1g")), "Unknown availability zone", "availability_zones",
         phase="plan", calls=["DescribeAvailabilityZones"]),
    case("environment-duplicate-name", environment(label="a", cidr="10.1.0.0/16") + environment(label="b", cidr="10.2.0.0/16"),
         "Duplicate environment name", "name", phase="plan",
         # the other environment is valid: its plan checks its zones and looks for a VPC left by a failed create
         calls=["DescribeAvailabilityZones", "DescribeVpcs"]),
    case("flow-log-unknown-field", environment('  flow_logs {\n    log_format = "$${srcaddr} $${dstadr}"\n  }'),
         "unknown field ${dstadr}", "log_format"),
    case("flow-log-misspelt-field", environment('  flow_logs {\n    log_format = "$${srcaddr} $${log_status}"\n  }'),
         "Did you mean ${log-status}?", "log_format"),
    case("flow-log-not-a-field", environment('  flow_logs {\n    log_format = "srcaddr dstaddr"\n  }'),
         "Invalid flow-log format", "log_format"),
    case("instance-type-hyphen", node_group('["t3-medium"]'), 'Did you mean "t3.medium"?', "instance_types"),
    case("instance-type-rds-class", node_group('["db.t3.micro"]'), "is an RDS instance class", "instance_types"),
    # --- platform_microservice ----------------------------------------------------------------------------------
    case("microservice-duplicate-name", microservice("a", "orders", "dev") + microservice("b", "orders", "qa"),
         "Duplicate microservice name", "name", phase="plan",
         # the other service is valid: its plan looks for a repository left by a failed create
         calls=["DescribeRepositories"]),
    # --- organization -------------------------------------------------------------------------------------------
    case("account-email", account("Dev", "not-an-email"), "Invalid email address", "email"),
    case("account-email-dots", account("Dev", "dev@example..com"), "Invalid email address", "email"),
    case("account-name", account("A" * 51, "dev@example.com"), "Invalid account name", "name"),
    case("account-duplicate-email", account("ProjectA-Dev", "aws+dev@example.com") + account("ProjectB-Dev", "AWS+dev@example.com"),
         "Duplicate account email", "email", phase="plan"),
    case("ou-region-unknown", ou('  guardrails {\n    allowed_regions = ["eu-central-1", "moon-base-1"]\n  }'),
         "Invalid AWS region", "allowed_regions"),
    case("ou-region-typo", ou('  guardrails {\n    allowed_regions = ["eu-central-1", "us-est-1"]\n  }'),
         'did you mean "us-east-1"', "allowed_regions"),
    case("ou-policy-json", ou('  extra_policies = { broken = "{\\"Statement\\": [" }'), "Invalid policy document", "extra_policies"),
    case("ou-policy-size", ou(f"  extra_policies = {{ huge = {hcl_str(BIG)} }}"), "at most 5120", "extra_policies"),
    case("ou-policy-effect", ou("  extra_policies = { audit = " + scp({"Effect": "Audit", "Action": "s3:*", "Resource": "*"}) + " }"),
         '"Effect" must be "Allow" or "Deny", got "Audit"', "extra_policies"),
    case("ou-policy-no-action", ou("  extra_policies = { p = " + scp({"Effect": "Deny", "Resource": "*"}) + " }"),
         'neither "Action" nor "NotAction"', "extra_policies"),
    case("ou-policy-action-form", ou("  extra_policies = { p = " + scp({"Effect": "Deny", "Action": "s3 PutObject", "Resource": "*"}) + " }"),
         'is not "service:action"', "extra_policies"),
    case("ou-policy-resource", ou("  extra_policies = { p = " + scp({"Effect": "Deny", "Action": "s3:*", "Resource": "my-bucket"}) + " }"),
         "an ARN pattern", "extra_policies"),
    case("ou-policy-condition", ou("  extra_policies = { p = " + scp(
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": "aws:RequestedRegion"}}) + " }"),
         "must map condition keys to values", "extra_policies"),
    case("ou-policy-principal", ou("  extra_policies = { p = " + scp({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}) + " }"),
         '"Principal" is not allowed in an SCP', "extra_policies"),
    case("ou-too-many-policies",
         ou('  guardrails {\n    allowed_regions = ["eu-central-1"]\n  }\n'
            f"  extra_policies = {{ a = {hcl_str(DENY)}, b = {hcl_str(DENY)}, c = {hcl_str(DENY)} }}"),
         "Too many policies for one target", "extra_policies"),
    case("ou-parent", ou('  parent_id = "root"'), "Invalid parent id", "parent_id"),
    case("ou-name", 'resource "platform_organizational_unit" "x" {\n  name = "a/b"\n}\n', "Invalid OU name", "name"),
    case("org-feature-set", 'resource "platform_organization" "o" {\n  feature_set = "CONSOLIDATED_BILLING"\n}\n',
         "Unsupported feature set", "feature_set"),
    case("org-service-principal",
         'resource "platform_organization" "o" {\n  aws_service_access_principals = ["cloudtrail.amazonaws.com", "sso.example.com"]\n}\n',
         "Unknown service principal", "aws_service_access_principals"),
    case("org-trail-bucket", 'resource "platform_organization" "o" {\n  trail {\n    bucket_name = "Org_Trail_Logs"\n  }\n}\n',
         "Invalid bucket name", "bucket_name"),
    case("org-trail-retention",
         'resource "platform_organization" "o" {\n  trail {\n    bucket_name = "org-trail-logs"\n    log_retention_days = 10\n  }\n}\n',
         "Invalid log retention", "log_retention_days"),
    case("guardrail-data-region", 'data "platform_guardrail_policy" "g" {\n  allowed_regions = ["narnia-1"]\n}\n',
         "Invalid AWS region", "allowed_regions"),
    case("guardrail-data-region-typo", 'data "platform_guardrail_policy" "g" {\n  allowed_regions = ["us-est-1"]\n}\n',
         'did you mean "us-east-1"', "allowed_regions"),
    case("guardrail-data-policy-effect",
         'data "platform_guardrail_policy" "g" {\n  extra_policies = { p = '
         + scp({"Effect": "Permit", "Action": "*", "Resource": "*"}) + " }\n}\n",
         '"Effect" must be "Allow" or "Deny"', "extra_policies"),
]


@pytest.mark.parametrize("body, message, attribute, phase, region, provider_extra, provider, calls", CASES)
def test_bad_input_is_refused_before_aws(tf_factory, clean_moto, tmp_path, body, message, attribute, phase, region,
                                         provider_extra, provider, calls):
    log = tmp_path / "terraform.log"
    tf = tf_factory(env={"TF_LOG_PROVIDER": "debug", "TF_LOG_PATH": str(log)})
    if provider is None:
        tf.write_config(body, endpoint=clean_moto.endpoint, region=region, provider_extra=provider_extra)
    else:
        tf.write(platform_config(body) + provider)
    tf.init()
    before = len(moto_requests(clean_moto))
    validate = tf.run("validate", "-no-color", check=False)
    if phase == "validate":
        assert validate.returncode != 0, validate.output
        assert message in flat(validate.output), validate.output
        assert attribute in flat(validate.output)
    else:
        assert validate.returncode == 0, f"refused at validate, expected only at plan:\n{validate.output}"
    plan = tf.run("plan", "-no-color", check=False)
    assert plan.returncode != 0, plan.output
    assert message in flat(plan.output), plan.output
    assert attribute in flat(plan.output)
    made = provider_calls(log)
    assert sorted(made) == sorted(calls), f"AWS calls for an invalid config: expected {list(calls)}, made {made}"
    assert len(moto_requests(clean_moto)) - before == len(made), moto_requests(clean_moto)[before:]
    assert clean_moto.client("s3").list_buckets()["Buckets"] == []


def test_allowed_account_ids_mismatch_refused_before_any_change(tf, clean_moto):
    tf.write_config(
        backend(), endpoint=clean_moto.endpoint, provider_extra='allowed_account_ids = ["111111111111"]'
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
        backend(), endpoint=clean_moto.endpoint, provider_extra=f'allowed_account_ids = ["{clean_moto.account_id}"]'
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
    tf.write_config(backend(), endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0
    assert "No AWS credentials" in flat(result.output)
    assert len(moto_requests(clean_moto)) == before


def plans_per_provider_process(log_text: str) -> list[int]:
    """PlanResourceChange calls each provider process served, in start order, from a TF_LOG=trace log: Terraform
    logs each plugin's start and exit with its pid, and the provider logs every RPC it served."""
    live: list[str] = []
    counts: dict[str, int] = {}
    for line in log_text.splitlines():
        started = re.search(r"plugin started: path=\S*terraform-provider-platform\S* pid=(\d+)", line)
        # 1.0.3: "plugin process exited: path=... pid=N"; 1.15: "plugin process exited: plugin=... id=N".
        exited = re.search(r"plugin process exited: (?:path|plugin)=\S*terraform-provider-platform\S* (?:pid|id)=(\d+)", line)
        if started:
            live.append(started.group(1))
            counts[started.group(1)] = 0
        elif exited and exited.group(1) in live:
            live.remove(exited.group(1))
        elif "rpc=PlanResourceChange" in line and "served" in line:
            assert len(live) == 1, f"cannot tell which provider process served a plan: live {live}"
            counts[live[0]] += 1
    return list(counts.values())


def test_duplicate_checks_have_no_false_positives(tf_factory, clean_moto, tmp_path):
    """The duplicate-name registry counts the names planned in one provider process. That is right only if
    Terraform plans each resource instance at most once per process: measured here on plan, apply (whose apply
    walk re-plans), a no-change plan, -refresh-only, import and a replacement (planned twice: the registry lets the
    create half through), with for_each instances of distinct names."""
    log = tmp_path / "trace.log"
    tf = tf_factory(env={"TF_LOG": "trace", "TF_LOG_PATH": str(log)})
    body = (
        'resource "platform_state_backend" "s" {\n  for_each = toset(["pk-nofp-a", "pk-nofp-b"])\n  bucket = each.key\n}\n'
        + environment(name="pk-nofp")
    )
    tf.write_config(body, endpoint=clean_moto.endpoint)
    tf.init()
    figures = {}

    def run(label, *args, instances):
        log.write_text("")
        result = tf.run(args[0], "-no-color", *args[1:], check=False)
        assert result.returncode in (0, 2), result.output
        assert "Duplicate" not in result.output, result.output
        per_process = plans_per_provider_process(log.read_text(errors="replace"))
        figures[label] = per_process
        assert all(n <= instances for n in per_process), f"{label}: a process planned an instance twice: {per_process}"
        return result

    run("plan", "plan", instances=3)
    run("apply", "apply", "-auto-approve", instances=3)
    run("plan (no changes)", "plan", "-detailed-exitcode", instances=3)
    run("plan -refresh-only", "plan", "-refresh-only", instances=3)
    tf.run("state", "rm", 'platform_state_backend.s["pk-nofp-b"]')
    run("import", "import", 'platform_state_backend.s["pk-nofp-b"]', "pk-nofp-b", instances=3)
    run("plan after import", "plan", "-detailed-exitcode", instances=3)
    # A replacement is planned twice in one process (the create half with a null prior state): not a duplicate.
    tf.write_config(body.replace('vpc_cidr           = "10.0.0.0/16"', 'vpc_cidr           = "10.9.0.0/16"'),
                    endpoint=clean_moto.endpoint)
    replace = run("plan (environment replaced)", "plan", instances=4)
    assert "must be replaced" in replace.output, replace.output
    version = tf.run("version").stdout.splitlines()[0]
    for label, per_process in figures.items():
        print(f"{version} {label}: provider processes {len(per_process)}, PlanResourceChange per process {per_process}")
    assert max(max(p, default=0) for p in figures.values()) > 0, "no plan was seen in the log"
    tf.destroy()
    assert clean_moto.client("s3").list_buckets()["Buckets"] == []
