"""The layers together: a platform_environment (VPC + EKS + OIDC) and a platform_microservice that takes
the environment resource itself as its `environment`, applied in one configuration; then a CI-style image
tag change, and the chart rendered with the real helm_values and validated."""

from __future__ import annotations

import json

import pytest

from test_microservice_chart import render, tools, validate  # noqa: F401  (tools is a fixture)
from harness.configs import cluster_environment

pytestmark = pytest.mark.e2e

SHA_1 = "3f2c1a9"
SHA_2 = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"


def config(tag: str) -> str:
    return f"""
{cluster_environment("pk-layers", "10.60.0.0/16", desired_size=2)}
resource "platform_microservice" "mobile" {{
  name        = "mobile-service"
  environment = platform_environment.e
  image_tag   = "{tag}"
  namespace   = "apps"
  path_prefix = "/mobile"
}}

output "helm_values" {{
  value = platform_microservice.mobile.helm_values
}}
"""


def test_microservice_on_an_environment_from_the_same_apply(tf, clean_moto, tmp_path, tools):  # noqa: F811
    moto = clean_moto
    tf.write_config(config(SHA_1), endpoint=moto.endpoint)
    tf.init()
    tf.apply()

    env = tf.resource_values("platform_environment.e")
    svc = tf.resource_values("platform_microservice.mobile")
    # The service is wired to this environment's OIDC provider and node role.
    trust = json.loads(svc["trust_policy"])["Statement"][0]
    assert trust["Principal"]["Federated"] == env["oidc_provider_arn"]
    repo_policy = json.loads(moto.client("ecr").get_repository_policy(repositoryName="mobile-service")["policyText"])
    principals = repo_policy["Statement"][0]["Principal"]["AWS"]
    principals = principals if isinstance(principals, list) else [principals]
    assert env["node_role_arn"] in principals
    assert svc["image"].endswith(f":{SHA_1}")
    assert tf.plan() == 0

    # CI passes a new tag: an in-place update of the service only, touching only image and helm_values.
    tf.write_config(config(SHA_2), endpoint=moto.endpoint)
    changes = [c for c in tf.plan_json()["resource_changes"] if c["change"]["actions"] != ["no-op"]]
    assert [c["address"] for c in changes] == ["platform_microservice.mobile"]
    assert changes[0]["change"]["actions"] == ["update"]
    before, after = changes[0]["change"]["before"], changes[0]["change"]["after"]
    assert {k for k in after if before.get(k) != after.get(k)} == {"image_tag", "image", "helm_values"}
    tf.apply()

    values = tmp_path / "values.json"
    values.write_text(tf.outputs()["helm_values"])
    manifests = render(values)
    assert f":{SHA_2}" in manifests
    assert env["oidc_provider_arn"].split(":")[4] in manifests  # the IRSA role ARN carries the account
    validate(manifests, tmp_path)

    tf.destroy()
    assert moto.client("ecr").describe_repositories()["repositories"] == []
    assert moto.client("eks").list_clusters()["clusters"] == []
