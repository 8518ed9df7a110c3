"""`platform_cluster_services` end to end: the real Terraform, the real provider binary, moto for the AWS side, a
real kube-apiserver (v1.20.2) and the real helm v3, with the upstream charts replaced by stand-ins made by this
project (tests/charts) served from a chart repository on 127.0.0.1.

What this cannot exercise: there is no kubelet, so no pod ever runs (releases use `wait = false`; Fluent Bit never
ships a log line, the load balancer controller never makes an ALB, Envoy Gateway never programs a route), and moto
has no ELBv2 controller behind the Ingresses. The destroy-order wait is exercised with a finalizer that a test
thread removes, as the controller would once its load balancer is gone."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
from typing import Any, Dict, List

import pytest

from harness.paths import REPO_ROOT
from harness.terraform import hcl_string

pytestmark = pytest.mark.e2e

HELM = REPO_ROOT / ".tools" / "bin" / "helm"
CLUSTER = "pk-svc"
RESOURCE = "platform_cluster_services.core"
RELEASES = {
    "aws-load-balancer-controller": "kube-system",
    "aws-for-fluent-bit": "kube-system",
    "kube-prometheus-stack": "monitoring",
    "envoy-gateway": "envoy-gateway-system",
    "platform-gateway": "envoy-gateway-system",
}
CRDS = [
    "targetgroupbindings.elbv2.k8s.aws",
    "servicemonitors.monitoring.coreos.com",
    "gateways.gateway.networking.k8s.io",
    "securitypolicies.gateway.envoyproxy.io",
]


def kube_provider(kube) -> str:
    return f"""
helm_binary = {hcl_string(str(HELM))}
kubernetes {{
  host                   = {hcl_string(kube.host)}
  token                  = {hcl_string(kube.token)}
  cluster_ca_certificate = {hcl_string(kube.ca_pem)}
}}
"""


def stack(repo_url: str, *, retention: int = 30, rpm: int = 600, extra: str = "") -> str:
    return f"""
resource "platform_environment" "e" {{
  name               = "{CLUSTER}"
  vpc_cidr           = "10.62.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]

  cluster {{
    version = "1.31"
  }}

  node_groups {{
    name           = "general"
    instance_types = ["t3.large"]
    min_size       = 1
    max_size       = 3
  }}
}}

resource "platform_cluster_services" "core" {{
  cluster          = platform_environment.e
  chart_repository = {hcl_string(repo_url)}
  wait             = false

  observability {{
    log_retention_in_days = {retention}
    prometheus_retention  = "7d"
  }}

  api_gateway {{
    jwt {{
      issuer    = "https://login.platform.test"
      jwks_uri  = "https://login.platform.test/.well-known/jwks.json"
      audiences = ["platform-api"]
    }}
    rate_limit {{
      requests_per_minute = {rpm}
    }}
  }}
{extra}
}}

output "services" {{
  value = platform_cluster_services.core
}}
"""


def helm(kube, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HELM), "--kubeconfig", str(kube.kubeconfig_path), *args],
        capture_output=True, text=True, timeout=120, check=check,
    )


def helm_values(kube, name: str, namespace: str) -> Dict[str, Any]:
    return json.loads(helm(kube, "get", "values", name, "--namespace", namespace, "--output", "json").stdout)


def release_names(kube) -> Dict[str, str]:
    out = json.loads(helm(kube, "list", "--all-namespaces", "--all", "--output", "json").stdout or "[]")
    return {r["name"]: r["status"] for r in out}


def changes(tf, **var) -> List[Dict[str, Any]]:
    return [c for c in tf.plan_json(var=var)["resource_changes"] if c["change"]["actions"] != ["no-op"]]


def test_cluster_services_lifecycle(tf, clean_moto, kube, chart_repo):
    tf.write_config(stack(chart_repo.url), endpoint=clean_moto.endpoint, provider_extra=kube_provider(kube))
    tf.init()

    # The environment is created in the same apply, so the releases are known only after it.
    plan = tf.plan_json()
    core = next(c for c in plan["resource_changes"] if c["address"] == RESOURCE)
    assert core["change"]["after_unknown"]["releases"] is True

    t0 = time.monotonic()
    tf.apply()
    apply_s = time.monotonic() - t0
    out = tf.outputs()["services"]

    # AWS, through the SDK: two IRSA roles with their policies, the log group with its retention, the secret.
    iam, logs, sm = clean_moto.client("iam"), clean_moto.client("logs"), clean_moto.client("secretsmanager")
    lbc_role = iam.get_role(RoleName=f"{CLUSTER}-aws-load-balancer-controller")["Role"]
    assert lbc_role["Arn"] == out["load_balancer_controller_role_arn"]
    trust = lbc_role["AssumeRolePolicyDocument"]
    trust = trust if isinstance(trust, dict) else json.loads(trust)
    cond = trust["Statement"][0]["Condition"]["StringEquals"]
    assert "system:serviceaccount:kube-system:aws-load-balancer-controller" in cond.values()
    lbc_policy = iam.get_role_policy(RoleName=lbc_role["RoleName"], PolicyName="platformkit-service")["PolicyDocument"]
    actions = {a for s in lbc_policy["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {"elasticloadbalancing:CreateLoadBalancer", "ec2:DescribeSubnets", "elasticloadbalancing:DeleteLoadBalancer"} <= actions
    fb_policy = iam.get_role_policy(RoleName=f"{CLUSTER}-fluent-bit", PolicyName="platformkit-service")["PolicyDocument"]
    resources = fb_policy["Statement"][0]["Resource"]
    assert all(r.startswith(out["log_group_arn"]) for r in resources), resources
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER}/containers")["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in groups] == [(f"/aws/eks/{CLUSTER}/containers", 30)]
    secret = sm.describe_secret(SecretId=out["grafana_admin_secret_arn"])
    assert {"Key": "platform:owner", "Value": f"platform_cluster_services/{CLUSTER}"} in secret["Tags"]
    password = sm.get_secret_value(SecretId=out["grafana_admin_secret_arn"])["SecretString"]
    assert len(password) == 32
    assert password not in (tf.workdir / "terraform.tfstate").read_text()

    # The cluster: every release deployed, with the values the resource set, read back through helm and the API.
    assert release_names(kube) == {name: "deployed" for name in RELEASES}
    for name, state in out["releases"].items():
        assert state["status"] == "deployed" and state["revision"] == 1, (name, state)
    lbc = helm_values(kube, "aws-load-balancer-controller", "kube-system")
    assert (lbc["clusterName"], lbc["region"]) == (CLUSTER, "us-east-1")
    assert lbc["vpcId"].startswith("vpc-")
    sa = kube.get("/api/v1/namespaces/kube-system/serviceaccounts/aws-load-balancer-controller")
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == lbc_role["Arn"]
    dep = kube.get("/apis/apps/v1/namespaces/kube-system/deployments/aws-load-balancer-controller")
    assert f"--aws-vpc-id={lbc['vpcId']}" in dep["spec"]["template"]["spec"]["containers"][0]["args"]
    conf = kube.get("/api/v1/namespaces/kube-system/configmaps/aws-for-fluent-bit")["data"]["fluent-bit.conf"]
    assert f"log_group_name    /aws/eks/{CLUSTER}/containers" in conf
    assert "auto_create_group false" in conf and "kinesis_firehose" not in conf
    prom = kube.get("/apis/monitoring.coreos.com/v1/namespaces/monitoring/prometheuses/kube-prometheus-stack-prometheus")
    assert prom["spec"]["retention"] == "7d"
    assert prom["spec"]["serviceMonitorSelector"] == {}
    grafana_secret = kube.get("/api/v1/namespaces/monitoring/secrets/grafana-admin")
    assert base64.b64decode(grafana_secret["data"]["admin-password"]).decode() == password
    assert password not in json.dumps(helm_values(kube, "kube-prometheus-stack", "monitoring"))
    sec = kube.get("/apis/gateway.envoyproxy.io/v1alpha1/namespaces/envoy-gateway-system/securitypolicies/platform-jwt")
    assert sec["spec"]["jwt"]["providers"][0]["remoteJWKS"]["uri"] == "https://login.platform.test/.well-known/jwks.json"
    rl = kube.get("/apis/gateway.envoyproxy.io/v1alpha1/namespaces/envoy-gateway-system/backendtrafficpolicies/platform-rate-limit")
    assert rl["spec"]["rateLimit"]["local"]["rules"][0]["limit"]["requests"] == 600
    assert kube.get("/apis/gateway.networking.k8s.io/v1/gatewayclasses/platform")["spec"]["controllerName"]
    for crd in CRDS:
        assert kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}") is not None, crd

    assert tf.plan() == 0

    # Retention and the rate limit change in place: the log group's retention, one release upgraded.
    tf.write_config(stack(chart_repo.url, retention=60, rpm=100), endpoint=clean_moto.endpoint,
                    provider_extra=kube_provider(kube))
    ch = changes(tf)
    assert [(c["address"], c["change"]["actions"]) for c in ch] == [(RESOURCE, ["update"])]
    # The plan shows which release changes and how; the others keep their revision.
    before, after = ch[0]["change"]["before"]["releases"], ch[0]["change"]["after"]["releases"]
    assert json.loads(after["platform-gateway"]["values"])["rateLimit"]["requestsPerMinute"] == 100
    assert after["aws-load-balancer-controller"] == before["aws-load-balancer-controller"]
    assert ch[0]["change"]["after_unknown"]["releases"]["platform-gateway"]["revision"] is True
    tf.apply()
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER}/containers")["logGroups"]
    assert groups[0]["retentionInDays"] == 60
    rl = kube.get("/apis/gateway.envoyproxy.io/v1alpha1/namespaces/envoy-gateway-system/backendtrafficpolicies/platform-rate-limit")
    assert rl["spec"]["rateLimit"]["local"]["rules"][0]["limit"]["requests"] == 100
    revisions = {n: s["revision"] for n, s in tf.outputs()["services"]["releases"].items()}
    assert revisions == {**{n: 1 for n in RELEASES}, "platform-gateway": 2}
    assert tf.plan() == 0

    # Drift: a release uninstalled out of band shows in the plan and is reinstalled.
    helm(kube, "uninstall", "aws-for-fluent-bit", "--namespace", "kube-system")
    assert "aws-for-fluent-bit" not in release_names(kube)
    assert tf.plan() == 2
    tf.apply()
    assert release_names(kube)["aws-for-fluent-bit"] == "deployed"
    assert tf.plan() == 0

    # Drift in AWS: a retention changed out of band is put back.
    logs.put_retention_policy(logGroupName=f"/aws/eks/{CLUSTER}/containers", retentionInDays=7)
    assert tf.plan() == 2
    tf.apply()
    assert logs.describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER}/containers")["logGroups"][0]["retentionInDays"] == 60
    assert tf.plan() == 0

    # Destroy: an Ingress whose "load balancer" is still being deleted (a finalizer, removed a moment later as
    # the controller would) goes first and is waited for; then nothing is left in the cluster or in AWS.
    ns = "apps"
    kube.request("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    kube.request("POST", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses", {
        "metadata": {"name": "web", "finalizers": ["ingress.k8s.aws/resources"]},
        "spec": {"ingressClassName": "alb", "defaultBackend": {"service": {"name": "web", "port": {"number": 80}}}},
    })
    released = threading.Event()

    def controller():
        # Wait for the deletion request, then "delete the load balancer" and drop the finalizer.
        for _ in range(600):
            ing = kube.get(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/web")
            if ing is None:
                return
            if ing["metadata"].get("deletionTimestamp"):
                time.sleep(1.0)
                kube.request("PATCH", f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/web",
                             {"metadata": {"finalizers": None}}, content_type="application/merge-patch+json")
                released.set()
                return
            time.sleep(0.1)

    t = threading.Thread(target=controller, daemon=True)
    t.start()
    tf.destroy()
    t.join(timeout=10)
    assert released.is_set(), "destroy finished without deleting the Ingress first"
    assert kube.get(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/web") is None
    assert release_names(kube) == {}
    for crd in CRDS:
        assert kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}") is None, crd
    assert kube.get("/api/v1/namespaces/monitoring/secrets/grafana-admin") is None
    for name in ("monitoring", "envoy-gateway-system"):
        ns_obj = kube.get(f"/api/v1/namespaces/{name}")
        assert ns_obj is None or ns_obj["metadata"].get("deletionTimestamp"), name
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(CLUSTER)] == []
    assert logs.describe_log_groups(logGroupNamePrefix=f"/aws/eks/{CLUSTER}/containers")["logGroups"] == []
    assert sm.list_secrets()["SecretList"] == []
    print(f"\ncluster services: first apply {apply_s:.1f} s (environment + 2 roles + log group + secret + 5 releases)")


BAD = [
    ("retention", "  observability {\n    log_retention_in_days = 31\n  }", "log_retention_in_days", "Retention CloudWatch refuses"),
    ("jwks-http", '  api_gateway {\n    jwt {\n      issuer   = "x"\n      jwks_uri = "http://login.test/jwks"\n    }\n  }', "jwks_uri", "JWKS URI must be https"),
    ("rate-zero", "  api_gateway {\n    rate_limit {\n      requests_per_minute = 0\n    }\n  }", "requests_per_minute", "Invalid rate limit"),
    ("rate-negative", "  api_gateway {\n    rate_limit {\n      requests_per_minute = -5\n    }\n  }", "requests_per_minute", "Invalid rate limit"),
    ("implementation", '  api_gateway {\n    implementation = "kong"\n  }', "implementation", "Unknown gateway implementation"),
    ("prometheus", '  observability {\n    prometheus_retention = "15 days"\n  }', "prometheus_retention", "Invalid Prometheus retention"),
    ("repository", '', "chart_repository", "Invalid chart repository"),
]


@pytest.mark.parametrize("case, block, attribute, message", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_an_error_at_the_attribute(tf, clean_moto, case, block, attribute, message):
    repo = "ftp://mirror.test/charts" if case == "repository" else "http://127.0.0.1:1/charts"
    tf.write_config(f"""
resource "platform_cluster_services" "core" {{
  cluster = {{
    cluster_name                  = "{CLUSTER}"
    cluster_endpoint              = "https://127.0.0.1:1"
    cluster_certificate_authority = "bm90IHVzZWQ="
    oidc_issuer_url               = "https://oidc.eks.us-east-1.amazonaws.com/id/ABC"
    oidc_provider_arn             = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
    vpc_id                        = "vpc-12345678"
  }}
  chart_repository = "{repo}"
{block}
}}
""", endpoint=clean_moto.endpoint)
    tf.init()
    result = tf.run("plan", "-no-color", check=False)
    text = " ".join(result.output.split())
    assert result.returncode != 0
    assert message in text and attribute in text, text
    iam = clean_moto.client("iam")
    assert iam.list_roles()["Roles"] == [] or all(not r["RoleName"].startswith(CLUSTER) for r in iam.list_roles()["Roles"])
