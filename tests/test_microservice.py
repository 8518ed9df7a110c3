"""platform_microservice end to end: the real terraform 1.0.3, the real provider binary and a real moto
server. The environment's prerequisites (an IAM OIDC provider and a node role) are created with boto3, the
way `platform_environment` will create them; every check on AWS goes through boto3, never the provider."""

from __future__ import annotations

import json

import pytest

from harness.terraform import hcl_string

pytestmark = pytest.mark.e2e

ISSUER = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
SHA_1 = "0123456789abcdef0123456789abcdef01234567"
SHA_2 = "89abcdef0123456789abcdef0123456789abcdef"
PULL_ACCOUNT = "111111111111"


GATEWAY = """  gateway {{
    parent = {{ name = "platform", namespace = "envoy-gateway-system" }}
    {}
  }}"""


def flat(text: str) -> str:
    return " ".join(text.split())


def moto_requests(moto) -> list[str]:
    text = moto.log_path.read_text(errors="replace") if moto.log_path.exists() else ""
    return [line for line in text.splitlines() if '"' in line and "HTTP/1.1" in line and "moto-api" not in line]


def make_environment(moto) -> dict:
    """What platform_environment provides: the cluster's IAM OIDC provider and the node role."""
    iam = moto.client("iam")
    provider = iam.create_open_id_connect_provider(
        Url=ISSUER, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["9e99a48a9960b14926bb7f3b02e22da2b0ab7280"]
    )["OpenIDConnectProviderArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    node_role = iam.create_role(RoleName="prod-nodes", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    return {
        "cluster_name": "prod",
        "oidc_issuer_url": ISSUER,
        "oidc_provider_arn": provider,
        "node_role_arn": node_role,
    }


def env_hcl(env: dict) -> str:
    return "{\n" + "\n".join(f"    {k} = {hcl_string(v)}" for k, v in env.items()) + "\n  }"


def service_hcl(env: dict, tag: str = SHA_1, extra: str = "", name: str = "mobile-service") -> str:
    return f"""
resource "platform_microservice" "svc" {{
  name             = "{name}"
  environment      = {env_hcl(env)}
  image_tag        = "{tag}"
  namespace        = "apps"
  replicas         = 2
  max_replicas     = 4
  path_prefix      = "/mobile"
  pull_account_ids = ["{PULL_ACCOUNT}"]
  iam_policy_arns  = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
  iam_policy_json = jsonencode({{
    Version   = "2012-10-17"
    Statement = [{{ Effect = "Allow", Action = ["sqs:SendMessage"], Resource = "*" }}]
  }})
  resources = {{
    cpu_request    = "250m"
    memory_request = "256Mi"
    memory_limit   = "256Mi"
  }}
  env = {{
    LOG_LEVEL = "info"
  }}
  tags = {{ team = "mobile" }}
{extra}
}}

output "helm_values" {{
  value = platform_microservice.svc.helm_values
}}
"""


def assert_repository(moto, env: dict, name: str = "mobile-service") -> None:
    ecr = moto.client("ecr")
    repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfiguration"]["encryptionType"] == "AES256"
    rules = json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"])["rules"]
    assert [r["selection"]["tagStatus"] for r in rules] == ["untagged", "any"]
    assert rules[0]["selection"]["countNumber"] == 7 and rules[1]["selection"]["countNumber"] == 30
    policy = json.loads(ecr.get_repository_policy(repositoryName=name)["policyText"])
    stmt = policy["Statement"][0]
    principals = stmt["Principal"]["AWS"]
    principals = principals if isinstance(principals, list) else [principals]
    assert sorted(principals) == sorted([env["node_role_arn"], f"arn:aws:iam::{PULL_ACCOUNT}:root"])
    assert set(stmt["Action"]) == {"ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"}
    tags = {t["Key"]: t["Value"] for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]}
    assert tags["platform:owner"] == f"platform_microservice/{name}"
    assert tags["team"] == "mobile"


def assert_role(moto, env: dict, name: str = "mobile-service") -> None:
    iam = moto.client("iam")
    role = iam.get_role(RoleName=f"{name}-irsa")["Role"]
    doc = role["AssumeRolePolicyDocument"]
    doc = doc if isinstance(doc, dict) else json.loads(doc)
    stmt = doc["Statement"][0]
    assert stmt["Principal"]["Federated"] == env["oidc_provider_arn"]
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    host = ISSUER.removeprefix("https://")
    assert stmt["Condition"]["StringEquals"] == {
        f"{host}:sub": f"system:serviceaccount:apps:{name}",
        f"{host}:aud": "sts.amazonaws.com",
    }
    attached = [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=f"{name}-irsa")["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    inline = iam.get_role_policy(RoleName=f"{name}-irsa", PolicyName="platformkit-service")["PolicyDocument"]
    inline = inline if isinstance(inline, dict) else json.loads(inline)
    assert inline["Statement"][0]["Action"] == ["sqs:SendMessage"]


def push_image(moto, name: str, tag: str) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": "sha256:" + "a" * 64},
        "layers": [],
    }
    moto.client("ecr").put_image(repositoryName=name, imageManifest=json.dumps(manifest), imageTag=tag)


def changed_keys(change: dict) -> set[str]:
    before, after = change["change"]["before"], change["change"]["after"]
    unknown = change["change"].get("after_unknown", {})
    return {k for k in set(before) | set(after) if before.get(k) != after.get(k) or unknown.get(k)}


def test_microservice_lifecycle(tf, clean_moto, tmp_path):
    moto = clean_moto
    env = make_environment(moto)
    tf.write_config(service_hcl(env), endpoint=moto.endpoint)
    tf.init()

    # The plan already knows every name, ARN, document and the Helm values.
    plan = tf.plan_json()
    after = plan["resource_changes"][0]["change"]["after"]
    assert after["repository_url"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/mobile-service"
    assert after["role_arn"] == "arn:aws:iam::123456789012:role/mobile-service-irsa"
    assert after["image"] == f"{after['repository_url']}:{SHA_1}"
    planned_values = json.loads(after["helm_values"])
    assert planned_values["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"] == after["role_arn"]

    tf.apply()
    assert_repository(moto, env)
    assert_role(moto, env)
    state = tf.resource_values("platform_microservice.svc")
    values = json.loads(state["helm_values"])
    assert values == planned_values
    assert values["image"] == {"repository": state["repository_url"], "tag": SHA_1, "pullPolicy": "IfNotPresent"}
    assert values["route"] == {"enabled": True, "pathPrefix": "/mobile"}
    assert values["resources"]["requests"] == {"cpu": "250m", "memory": "256Mi"}
    # Read is batched: one refresh is 7 calls (repository, its two policies and tags; role, its
    # attached and inline policies), issued concurrently.
    calls = len(moto_requests(moto))
    assert tf.plan() == 0, tf.last.output
    assert len(moto_requests(moto)) - calls <= 7

    # CI deploys a new commit: only image and helm_values change, in place.
    tf.write_config(service_hcl(env, tag=SHA_2), endpoint=moto.endpoint)
    plan = tf.plan_json()
    (change,) = plan["resource_changes"]
    assert change["change"]["actions"] == ["update"]
    assert changed_keys(change) == {"image_tag", "image", "helm_values"}
    tf.apply()
    state = tf.resource_values("platform_microservice.svc")
    assert state["image"].endswith(f":{SHA_2}")
    assert json.loads(state["helm_values"])["image"]["tag"] == SHA_2
    (tmp_path / "helm_values.json").write_text(state["helm_values"])
    assert tf.plan() == 0, tf.last.output

    # Drift: the lifecycle policy deleted and the trust widened out of band; apply repairs both.
    moto.client("ecr").delete_lifecycle_policy(repositoryName="mobile-service")
    moto.client("iam").update_assume_role_policy(
        RoleName="mobile-service-irsa",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Federated": env["oidc_provider_arn"]},
            "Action": "sts:AssumeRoleWithWebIdentity"}]}),
    )
    assert tf.plan() == 2
    assert "lifecycle_policy" in tf.last.output and "trust_policy" in tf.last.output
    tf.apply()
    assert_repository(moto, env)
    assert_role(moto, env)
    assert tf.plan() == 0, tf.last.output

    # The whole repository deleted out of band: the next plan shows it, apply recreates it in place.
    moto.client("ecr").delete_repository(repositoryName="mobile-service")
    assert tf.plan() == 2
    assert "image_tags_immutable" in tf.last.output
    tf.apply()
    assert_repository(moto, env)
    assert tf.plan() == 0, tf.last.output

    # Destroy refuses while the repository holds images, unless force_delete.
    push_image(moto, "mobile-service", SHA_2)
    result = tf.destroy(check=False)
    assert result.returncode != 0
    assert "still holds 1 image" in flat(result.output) and "force_delete" in flat(result.output)
    assert moto.client("iam").get_role(RoleName="mobile-service-irsa")["Role"]
    tf.write_config(service_hcl(env, tag=SHA_2, extra="  force_delete = true"), endpoint=moto.endpoint)
    tf.apply()
    tf.destroy()
    assert moto.client("ecr").describe_repositories()["repositories"] == []
    roles = [r["RoleName"] for r in moto.client("iam").list_roles()["Roles"]]
    assert "mobile-service-irsa" not in roles and "prod-nodes" in roles


def test_import_by_name_and_adopt_after_crash(tf_factory, clean_moto):
    moto = clean_moto
    env = make_environment(moto)
    first = tf_factory("filesystem", name="first")
    first.write_config(service_hcl(env, name="login-service"), endpoint=moto.endpoint)
    first.init()
    first.apply()
    original = first.resource_values("platform_microservice.svc")

    # A second configuration imports the same service by name and plans no change to AWS objects.
    second = tf_factory("filesystem", name="second")
    second.write_config(service_hcl(env, name="login-service"), endpoint=moto.endpoint)
    second.init()
    second.import_("platform_microservice.svc", "login-service")
    imported = second.resource_values("platform_microservice.svc")
    assert imported["environment"] == env
    assert imported["namespace"] == "apps"
    assert imported["pull_account_ids"] == [PULL_ACCOUNT]
    for attr in ("repository_url", "role_arn", "trust_policy", "repository_policy", "lifecycle_policy"):
        assert imported[attr] == original[attr], attr
    # image_tag and the Kubernetes-only settings are not recorded in AWS: the first plan fills them
    # in place and touches nothing else in AWS.
    plan = second.plan_json()
    (change,) = plan["resource_changes"]
    assert change["change"]["actions"] == ["update"]
    assert changed_keys(change) <= {"image_tag", "image", "helm_values", "replicas", "max_replicas",
                                    "path_prefix", "resources", "env", "container_port"}
    second.apply()
    assert second.plan() == 0, second.last.output

    # "Crash" recovery: state lost after create; a re-apply adopts the owned objects instead of failing.
    third = tf_factory("filesystem", name="third")
    third.write_config(service_hcl(env, name="login-service"), endpoint=moto.endpoint)
    third.init()
    third.apply()
    assert len(moto.client("ecr").describe_repositories()["repositories"]) == 1
    third.destroy()
    assert moto.client("ecr").describe_repositories()["repositories"] == []

    # Import of something that does not exist is a clear error.
    result = second.import_("platform_microservice.other", "nope", check=False)
    assert result.returncode != 0


@pytest.mark.parametrize(
    "override, attribute, message",
    [
        ('image_tag = "latest"', "image_tag", "tags are immutable"),
        ('image_tag = "main"', "image_tag", "Invalid image tag"),
        ('name = "Mobile_Service"', "name", "Invalid service name"),
        ('container_port = 80', "container_port", "Invalid container port"),
        ('replicas = 0', "replicas", "Invalid replica count"),
        ('max_replicas = 1', "max_replicas", "must not be below replicas"),
        ('path_prefix = "mobile/"', "path_prefix", "Invalid path prefix"),
        ('namespace = "Apps"', "namespace", "Invalid namespace"),
        ('resources = { cpu_request = "lots" }', "cpu_request", "Invalid resource quantity"),
        ('resources = { gpu = "1" }', "gpu", "Invalid resources key"),
        ('env = { "1BAD" = "x" }', "1BAD", "Invalid environment variable name"),
        ('pull_account_ids = ["12345"]', "pull_account_ids", "Invalid account id"),
        ('iam_policy_arns = ["ReadOnly"]', "iam_policy_arns", "Invalid policy ARN"),
        ('iam_policy_json = "{not json"', "iam_policy_json", "Invalid IAM policy"),
        ('kms_key_arn = "alias/ecr"', "kms_key_arn", "Invalid KMS key ARN"),
        ('lifecycle_keep_tagged = 0', "lifecycle_keep_tagged", "Invalid lifecycle setting"),
        ('lifecycle_expire_untagged_days = 5000', "lifecycle_expire_untagged_days", "Invalid lifecycle setting"),
        ('tags = { "platform:owner" = "me" }', "tags", "Reserved tag key"),
        ('environment = { cluster_name = "prod", oidc_issuer_url = "http://x", '
         'oidc_provider_arn = "arn:aws:iam::111111111111:oidc-provider/x", node_role_arn = "nodes" }',
         "environment", "Invalid environment"),
        # The per-service overrides on the platform gateway, checked like platform_cluster_services' own.
        ('path_prefix = "/mobile"\n' + GATEWAY.format("rate_limit {\n      requests_per_minute = 0\n    }"),
         "requests_per_minute", "Invalid rate limit"),
        ('path_prefix = "/mobile"\n' + GATEWAY.format(
            'jwt {\n      issuer   = "https://login.test"\n      jwks_uri = "http://login.test/jwks"\n    }'),
         "jwks_uri", "JWKS URI must be https"),
        (GATEWAY.format(""), "path_prefix", "A route on the gateway needs path_prefix"),
    ],
)
def test_bad_input_is_refused_before_any_aws_call(tf, clean_moto, override, attribute, message):
    env = {
        "cluster_name": "prod",
        "oidc_issuer_url": ISSUER,
        "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/" + ISSUER.removeprefix("https://"),
        "node_role_arn": "arn:aws:iam::123456789012:role/prod-nodes",
    }
    key = override.split("=")[0].strip()
    base = {
        "name": '"mobile-service"',
        "environment": env_hcl(env),
        "image_tag": f'"{SHA_1}"',
    }
    body = "\n".join(f"  {k} = {v}" for k, v in base.items() if k != key)
    tf.write_config(f'resource "platform_microservice" "svc" {{\n{body}\n  {override}\n}}\n', endpoint=clean_moto.endpoint)
    tf.init()
    before = len(moto_requests(clean_moto))
    result = tf.run("validate", "-no-color", check=False)
    assert result.returncode != 0
    assert message in flat(result.output), result.output
    assert attribute in flat(result.output)
    result = tf.run("plan", "-no-color", check=False)
    assert result.returncode != 0 and message in flat(result.output)
    assert len(moto_requests(clean_moto)) == before, "the provider called AWS for an invalid config"


def test_partial_failure_keeps_what_was_created(tf, clean_moto):
    """The role's policy attachment fails (no such policy): the repository and the role that were created
    are in state with the error, and the next apply (with the policy fixed) converges; nothing is orphaned."""
    moto = clean_moto
    env = make_environment(moto)
    bad = 'iam_policy_arns = ["arn:aws:iam::123456789012:policy/does-not-exist"]'
    body = f"""
resource "platform_microservice" "svc" {{
  name        = "api-gateway"
  environment = {env_hcl(env)}
  image_tag   = "1.0.0"
  {bad}
}}
"""
    tf.write_config(body, endpoint=moto.endpoint)
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode != 0
    assert "Could not set up the IRSA role" in flat(result.output)
    assert "AttachRolePolicy" in flat(result.output)
    assert tf.state_list() == ["platform_microservice.svc"]
    state = tf.resource_values("platform_microservice.svc")
    assert state["repository_url"].endswith("/api-gateway")
    assert moto.client("ecr").describe_repositories(repositoryNames=["api-gateway"])["repositories"]

    tf.write_config(body.replace(bad, ""), endpoint=moto.endpoint)
    tf.apply()
    assert tf.plan() == 0, tf.last.output
    assert len(moto.client("ecr").describe_repositories()["repositories"]) == 1
    tf.destroy()
    assert moto.client("ecr").describe_repositories()["repositories"] == []
    assert "api-gateway-irsa" not in [r["RoleName"] for r in moto.client("iam").list_roles()["Roles"]]


def test_environment_object_with_more_attributes_is_accepted(tf, clean_moto):
    """`environment = platform_environment.prod` passes an object with many more attributes than the four the
    service needs; Terraform converts it to the attribute's object type. A stand-in object with extra
    attributes (as the environment resource will expose) plans cleanly and keeps only the four fields."""
    env = {
        "cluster_name": "prod",
        "oidc_issuer_url": ISSUER,
        "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/" + ISSUER.removeprefix("https://"),
        "node_role_arn": "arn:aws:iam::123456789012:role/prod-nodes",
    }
    tf.write_config(f"""
locals {{
  environment = merge({env_hcl(env)}, {{
    vpc_id           = "vpc-0123456789abcdef0"
    cluster_endpoint = "https://example.invalid"
    private_subnets  = ["subnet-1", "subnet-2"]
  }})
}}

resource "platform_microservice" "svc" {{
  name        = "mobile-service"
  environment = local.environment
  image_tag   = "{SHA_1}"
}}
""", endpoint=clean_moto.endpoint)
    tf.init()
    plan = tf.plan_json()
    after = plan["resource_changes"][0]["change"]["after"]
    assert after["environment"] == env
    assert json.loads(after["trust_policy"])["Statement"][0]["Principal"]["Federated"] == env["oidc_provider_arn"]


def test_refuses_a_repository_it_does_not_own(tf, clean_moto):
    """A repository of the same name that this resource did not create is refused, never adopted; the role
    that was created is kept in state, and destroy removes it but leaves the foreign repository alone."""
    moto = clean_moto
    env = make_environment(moto)
    moto.client("ecr").create_repository(repositoryName="billing-service")
    tf.write_config(service_hcl(env, name="billing-service"), endpoint=moto.endpoint)
    tf.init()
    result = tf.apply(check=False)
    assert result.returncode != 0
    assert "not managed by this resource" in flat(result.output)
    assert moto.client("iam").get_role(RoleName="billing-service-irsa")["Role"]
    tf.destroy()
    assert [r["repositoryName"] for r in moto.client("ecr").describe_repositories()["repositories"]] == [
        "billing-service"]
    assert "billing-service-irsa" not in [r["RoleName"] for r in moto.client("iam").list_roles()["Roles"]]
