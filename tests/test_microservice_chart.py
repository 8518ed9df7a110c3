"""The reusable chart and the microservice module, end to end: `terraform-modules/microservice` applied with
the real Terraform and provider against moto, then `helm template` of the chart with the `helm_values` that
apply produced, validated by `kubernetes-validate --strict` against Kubernetes schemas. No cluster is needed
(and none is available here): what is checked is that the manifests are exactly what a cluster would accept."""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from harness.paths import REPO_ROOT, TOOLS, VENV
from harness.terraform import hcl_string
from test_microservice import ISSUER, SHA_1, SHA_2, make_environment

pytestmark = pytest.mark.e2e

CHART = REPO_ROOT / "terraform-modules" / "charts" / "microservice"
MODULE = REPO_ROOT / "terraform-modules" / "microservice"
HELM = TOOLS / "bin" / "helm"
KUBERNETES_VALIDATE = VENV / "bin" / "kubernetes-validate"
# The newest Kubernetes release kubernetes-validate 1.37.0 ships schemas for, and the oldest EKS still
# supports in standard support at the time of writing.
KUBERNETES_VERSIONS = ["1.37.0", "1.32.0"]


@pytest.fixture(scope="module")
def tools():
    for tool in (HELM, KUBERNETES_VALIDATE):
        if not tool.exists():
            pytest.fail(f"{tool} is missing: run scripts/bootstrap.sh", pytrace=False)


def run(*args, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=120)


def render(values_file) -> str:
    r = run(HELM, "template", "svc", CHART, "--namespace", "apps", "-f", values_file)
    assert r.returncode == 0, r.stderr
    return r.stdout


def validate(manifests: str, tmp_path) -> None:
    path = tmp_path / "manifests.yaml"
    path.write_text(manifests)
    for version in KUBERNETES_VERSIONS:
        r = run(KUBERNETES_VALIDATE, "--strict", "-k", version, path)
        assert r.returncode == 0, f"kubernetes {version}:\n{r.stdout}\n{r.stderr}"
        assert "passed" in r.stdout


def test_helm_lint(tools):
    r = run(HELM, "lint", "--strict", CHART)
    assert r.returncode == 0, r.stdout + r.stderr


def test_chart_refuses_values_outside_the_contract(tools, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"image": {"repository": "r", "tag": "latest"}, "replicaCount": 2, "containerPort": 8080}))
    r = run(HELM, "template", "svc", CHART, "-f", bad)
    assert r.returncode != 0 and "tag" in r.stderr
    bad.write_text(json.dumps({"image": {"repository": "r", "tag": "1.0.0"}, "replicaCount": 2,
                               "containerPort": 8080, "imageTag": "typo"}))
    r = run(HELM, "template", "svc", CHART, "-f", bad)
    assert r.returncode != 0 and "imageTag" in r.stderr


def test_chart_routes_through_the_gateway(tools, tmp_path):
    """With `gateway` values (what platform_microservice sets when its `gateway` block is set): an HTTPRoute on
    the platform Gateway under pathPrefix and the per-service policies targeting it, and no Ingress. (These
    kinds are CRDs, so kubernetes-validate cannot check them; test_cluster_services applies them to an API
    server with the CRDs installed.)"""
    values = {
        "image": {"repository": "r", "tag": "1.0.0"}, "replicaCount": 2, "containerPort": 8080,
        "route": {"enabled": False, "pathPrefix": "/mobile"},
        "gateway": {
            "enabled": True, "pathPrefix": "/mobile",
            "parentRef": {"name": "platform", "namespace": "envoy-gateway-system"},
            "rateLimit": {"enabled": True, "requestsPerMinute": 120},
            "jwt": {"enabled": True, "issuer": "https://login.test", "jwksUri": "https://login.test/jwks.json",
                    "audiences": ["mobile"]},
        },
    }
    path = tmp_path / "values.json"
    path.write_text(json.dumps(values))
    docs = {d["kind"]: d for d in yaml.safe_load_all(render(path)) if d}
    assert "Ingress" not in docs
    route = docs["HTTPRoute"]["spec"]
    assert route["parentRefs"][0]["name"] == "platform"
    assert route["rules"][0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/mobile"}}]
    assert docs["BackendTrafficPolicy"]["spec"]["rateLimit"]["local"]["rules"][0]["limit"]["requests"] == 120
    assert docs["SecurityPolicy"]["spec"]["jwt"]["providers"][0]["remoteJWKS"]["uri"] == "https://login.test/jwks.json"
    # The schema refuses a JWKS over plain HTTP and a rate of 0.
    for bad in ({"jwt": {**values["gateway"]["jwt"], "jwksUri": "http://login.test/jwks"}},
                {"rateLimit": {"enabled": True, "requestsPerMinute": 0}}):
        path.write_text(json.dumps({**values, "gateway": {**values["gateway"], **bad}}))
        r = run(HELM, "template", "svc", CHART, "-f", path)
        assert r.returncode != 0 and "gateway" in r.stderr, r.stderr


def module_hcl(env: dict) -> str:
    env_obj = "{\n" + "\n".join(f"    {k} = {hcl_string(v)}" for k, v in env.items()) + "\n  }"
    return f"""
variable "image_tags" {{
  type    = map(string)
  default = {{}}
}}

module "services" {{
  source      = {hcl_string(str(MODULE))}
  environment = {env_obj}
  namespace   = "apps"
  image_tags  = var.image_tags
  deploy      = false # the values only: test_helm_release deploys them into a real API server
  services = {{
    "mobile-service" = {{
      path_prefix  = "/mobile"
      max_replicas = 6
      env          = {{ LOG_LEVEL = "info" }}
      resources    = {{ cpu_request = "250m", memory_limit = "512Mi", memory_request = "256Mi" }}
    }}
    "login-service" = {{
      replicas       = 1
      container_port = 9000
      iam_policy_arns = ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]
    }}
  }}
}}

output "helm_values" {{
  value = module.services.helm_values
}}

output "images" {{
  value = module.services.images
}}
"""


def test_module_values_render_and_validate(tools, tf, clean_moto, tmp_path):
    moto = clean_moto
    env = make_environment(moto)
    tf.write_config(module_hcl(env), endpoint=moto.endpoint)
    tf.init()
    tags = {"mobile-service": SHA_1, "login-service": "1.4.2"}
    tf.apply(var={"image_tags": json.dumps(tags)})
    out = tf.outputs()
    assert sorted(r["repositoryName"] for r in moto.client("ecr").describe_repositories()["repositories"]) == [
        "login-service", "mobile-service"]
    assert out["images"]["login-service"].endswith("/login-service:1.4.2")

    for name, values_json in out["helm_values"].items():
        values_file = tmp_path / f"{name}.json"
        values_file.write_text(values_json)
        manifests = render(values_file)
        validate(manifests, tmp_path)
        docs = {d["kind"]: d for d in yaml.safe_load_all(manifests) if d}
        deploy = docs["Deployment"]
        pod = deploy["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == out["images"][name]
        assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
        assert docs["ServiceAccount"]["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == \
            f"arn:aws:iam::123456789012:role/{name}-irsa"
        assert docs["ServiceAccount"]["metadata"]["name"] == name == pod["serviceAccountName"]
        if name == "mobile-service":
            assert set(docs) == {"Deployment", "Service", "ServiceAccount", "HorizontalPodAutoscaler",
                                 "PodDisruptionBudget", "Ingress"}
            assert "replicas" not in deploy["spec"]  # the HPA owns the replica count
            assert docs["HorizontalPodAutoscaler"]["spec"]["maxReplicas"] == 6
            path = docs["Ingress"]["spec"]["rules"][0]["http"]["paths"][0]
            assert (path["path"], path["pathType"]) == ("/mobile", "Prefix")
            assert container["resources"] == {"requests": {"cpu": "250m", "memory": "256Mi"},
                                              "limits": {"cpu": "500m", "memory": "512Mi"}}
            assert container["env"] == [{"name": "LOG_LEVEL", "value": "info"}]
        else:
            assert set(docs) == {"Deployment", "Service", "ServiceAccount"}
            assert deploy["spec"]["replicas"] == 1
            assert container["ports"][0]["containerPort"] == 9000

    # CI passes a new tag for one service: only that service changes, and only image/helm_values.
    tags["mobile-service"] = SHA_2
    plan = tf.plan_json(var={"image_tags": json.dumps(tags)})
    changes = [c for c in plan["resource_changes"] if c["change"]["actions"] != ["no-op"]]
    assert [c["address"] for c in changes] == ['module.services.platform_microservice.this["mobile-service"]']
    before, after = changes[0]["change"]["before"], changes[0]["change"]["after"]
    assert {k for k in after if before.get(k) != after.get(k)} == {"image_tag", "image", "helm_values"}
    tf.apply(var={"image_tags": json.dumps(tags)})
    assert tf.outputs()["images"]["mobile-service"].endswith(SHA_2)
    tf.destroy(var={"image_tags": json.dumps(tags)})
    assert moto.client("ecr").describe_repositories()["repositories"] == []


def test_module_refuses_latest(tf, clean_moto):
    env = {"cluster_name": "prod", "oidc_issuer_url": ISSUER,
           "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/" + ISSUER.removeprefix("https://"),
           "node_role_arn": "arn:aws:iam::123456789012:role/prod-nodes"}
    tf.write_config(module_hcl(env), endpoint=clean_moto.endpoint)
    tf.init()
    r = tf.run("plan", "-no-color", "-var", 'image_tags={"mobile-service"="latest"}', check=False)
    assert r.returncode != 0 and "latest" in r.output
