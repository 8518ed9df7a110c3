"""`platform_cluster_services` end to end: the real Terraform, the real provider binary, moto for the AWS side, a
real kube-apiserver (v1.20.2) and the real helm v3, with the upstream charts replaced by stand-ins made by this
project (tests/charts) served from a chart repository on 127.0.0.1.

What this cannot exercise: there is no kubelet, so no pod ever runs (releases use `wait = false`; Fluent Bit never
ships a log line, the load balancer controller never makes an ALB, Envoy Gateway never programs a route), and moto
has no ELBv2 controller behind the Ingresses. The destroy-order wait is exercised with a finalizer that a test
thread removes, as the controller would once its load balancer is gone. The HTTPRoutes and the JWT / rate-limit
policies (the gateway's and each service's overrides) are checked as objects in the API server; no request ever
goes through a gateway here, so their enforcement is Envoy Gateway's and not exercised."""

from __future__ import annotations

import base64
import json
import subprocess
import threading
import time
import uuid
from typing import Any, Dict, List

import pytest

from harness.configs import cluster_environment
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
{cluster_environment(CLUSTER, "10.62.0.0/16")}
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
    # ... rendered against the cluster (helm upgrade --dry-run=server, as platform_helm_release plans): the plan
    # names the objects of the release and which one changes.
    key = "BackendTrafficPolicy/envoy-gateway-system/platform-rate-limit"
    objs_before, objs_after = before["platform-gateway"]["objects"], after["platform-gateway"]["objects"]
    assert set(objs_after) == set(objs_before) and key in objs_after, objs_after
    assert [k for k in objs_after if objs_after[k] != objs_before[k]] == [key]
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


MODULE = REPO_ROOT / "terraform-modules" / "microservice"
CHART = REPO_ROOT / "terraform-modules" / "charts" / "microservice"
APPS = "apps"
ENVOY = "/apis/gateway.envoyproxy.io/v1alpha1/namespaces"
ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces"


def gateway_stack(repo_url: str, *, rpm: int = 120) -> str:
    """The cluster services and two microservices routed through its gateway: mobile-service with its own rate
    limit and JWT issuer, login-service with the gateway-wide ones."""
    return stack(repo_url) + f"""
module "services" {{
  source       = {hcl_string(str(MODULE))}
  environment  = platform_environment.e
  namespace    = "{APPS}"
  gateway      = platform_cluster_services.core.gateway
  release_wait = false
  # An absolute module source is copied into .terraform/modules without its sibling charts/ folder.
  chart = {hcl_string(str(CHART))}
  services = {{
    "mobile-service" = {{
      image_tag             = "3f2c1a9"
      path_prefix           = "/mobile"
      rate_limit_per_minute = {rpm}
      jwt = {{
        issuer    = "https://mobile-login.platform.test"
        jwks_uri  = "https://mobile-login.platform.test/jwks.json"
        audiences = ["mobile-app"]
      }}
    }}
    "login-service" = {{ image_tag = "3f2c1a9", path_prefix = "/login" }}
  }}
}}
"""


def test_microservices_route_through_the_gateway(tf, clean_moto, kube, chart_repo):
    tf.write_config(gateway_stack(chart_repo.url), endpoint=clean_moto.endpoint, provider_extra=kube_provider(kube))
    tf.init()
    tf.apply()
    gw = tf.resource_values(RESOURCE)["gateway"]
    assert gw == {"name": "platform", "namespace": "envoy-gateway-system", "class_name": "platform"}
    assert kube.get(f"{ROUTES}/envoy-gateway-system/gateways/platform")["spec"]["gatewayClassName"] == "platform"

    # Each service: an HTTPRoute under its path_prefix with the platform Gateway as parent, and no Ingress.
    for name, prefix in (("mobile-service", "/mobile"), ("login-service", "/login")):
        route = kube.get(f"{ROUTES}/{APPS}/httproutes/{name}")
        assert route is not None, name
        assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                "name": "platform", "namespace": "envoy-gateway-system"}]
        (rule,) = route["spec"]["rules"]
        assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": prefix}}]
        assert rule["backendRefs"] == [{"name": name, "port": 80}]
        assert kube.get(f"/apis/networking.k8s.io/v1/namespaces/{APPS}/ingresses/{name}") is None
    # mobile-service's overrides: policies targeting its route (they win over the Gateway's for it only).
    rl = kube.get(f"{ENVOY}/{APPS}/backendtrafficpolicies/mobile-service-rate-limit")
    assert rl["spec"]["targetRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "mobile-service"}]
    assert rl["spec"]["rateLimit"]["local"]["rules"][0]["limit"] == {"requests": 120, "unit": "Minute"}
    sec = kube.get(f"{ENVOY}/{APPS}/securitypolicies/mobile-service-jwt")
    provider = sec["spec"]["jwt"]["providers"][0]
    assert (provider["issuer"], provider["audiences"]) == ("https://mobile-login.platform.test", ["mobile-app"])
    assert kube.get(f"{ENVOY}/{APPS}/backendtrafficpolicies/login-service-rate-limit") is None
    assert kube.get(f"{ENVOY}/{APPS}/securitypolicies/login-service-jwt") is None
    values = helm_values(kube, "mobile-service", APPS)
    assert values["gateway"]["rateLimit"] == {"enabled": True, "requestsPerMinute": 120}
    assert values["route"]["enabled"] is False
    assert tf.plan() == 0

    # The override changes in place: only mobile-service's values and its release.
    tf.write_config(gateway_stack(chart_repo.url, rpm=30), endpoint=clean_moto.endpoint,
                    provider_extra=kube_provider(kube))
    ch = changes(tf)
    assert sorted((c["address"], c["change"]["actions"][0]) for c in ch) == [
        ('module.services.platform_helm_release.this["mobile-service"]', "update"),
        ('module.services.platform_microservice.this["mobile-service"]', "update"),
    ]
    tf.apply()
    rl = kube.get(f"{ENVOY}/{APPS}/backendtrafficpolicies/mobile-service-rate-limit")
    assert rl["spec"]["rateLimit"]["local"]["rules"][0]["limit"]["requests"] == 30
    assert helm_values(kube, "mobile-service", APPS)["gateway"]["rateLimit"]["requestsPerMinute"] == 30
    assert tf.plan() == 0

    # Import by cluster name, then nothing to change (only the root output, which `state rm` emptied, is
    # written again by the next apply).
    before = tf.resource_values(RESOURCE)
    tf.run("state", "rm", RESOURCE)
    tf.import_(RESOURCE, CLUSTER)
    assert changes(tf) == []
    assert tf.resource_values(RESOURCE) == before

    # Grafana's secret scheduled for deletion (as destroy leaves it, with a recovery window) is restored by the
    # next apply, same ARN and password, instead of failing on the name.
    sm = clean_moto.client("secretsmanager")
    arn = tf.resource_values(RESOURCE)["grafana_admin_secret_arn"]
    password = sm.get_secret_value(SecretId=arn)["SecretString"]
    sm.delete_secret(SecretId=arn, RecoveryWindowInDays=7)
    assert tf.plan() == 2
    tf.apply()
    assert "DeletedDate" not in sm.describe_secret(SecretId=arn)
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == password
    assert tf.resource_values(RESOURCE)["grafana_admin_secret_arn"] == arn
    assert tf.plan() == 0

    # Destroy drains only what the load balancer controller manages and keeps CRDs that still hold objects it
    # did not create: an nginx Ingress and a team's ServiceMonitor survive, an ALB Ingress goes.
    team = f"team-{uuid.uuid4().hex[:6]}"
    kube.create("/api/v1/namespaces", {"metadata": {"name": team}})
    ingresses = f"/apis/networking.k8s.io/v1/namespaces/{team}/ingresses"
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    kube.create(ingresses, {"metadata": {"name": "public"},
                            "spec": {"ingressClassName": "alb", "defaultBackend": backend}})
    kube.create(ingresses, {"metadata": {"name": "internal"},
                            "spec": {"ingressClassName": "nginx", "defaultBackend": backend}})
    # LoadBalancer Services: one the controller makes an NLB for (its annotation; kube-apiserver 1.20 has no
    # spec.loadBalancerClass yet, which unit tests cover), one left to the cloud provider.
    services = f"/api/v1/namespaces/{team}/services"
    lb_spec = {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}
    kube.create(services, {"metadata": {"name": "nlb", "annotations": {
        "service.beta.kubernetes.io/aws-load-balancer-type": "external"}}, "spec": lb_spec})
    kube.create(services, {"metadata": {"name": "in-tree"}, "spec": lb_spec})
    monitors = f"/apis/monitoring.coreos.com/v1/namespaces/{team}/servicemonitors"
    kube.create(monitors, {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
                           "metadata": {"name": "web"}, "spec": {"endpoints": [{"port": "http"}]}})
    result = tf.destroy()
    text = " ".join(result.output.split())
    assert "A CRD was left in the cluster" in text and "servicemonitors.monitoring.coreos.com" in text, text
    assert release_names(kube) == {}
    assert kube.get(f"{ingresses}/public") is None
    assert kube.get(f"{ingresses}/internal") is not None
    assert kube.get(f"{services}/nlb") is None
    assert kube.get(f"{services}/in-tree") is not None
    assert kube.get(f"{monitors}/web") is not None
    crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    assert kube.get(f"{crd}/servicemonitors.monitoring.coreos.com") is not None
    for gone in ("podmonitors.monitoring.coreos.com", "httproutes.gateway.networking.k8s.io",
                 "targetgroupbindings.elbv2.k8s.aws"):
        assert kube.get(f"{crd}/{gone}") is None, gone
    assert kube.get("/api/v1/namespaces/kube-system/configmaps/platformkit-cluster-services") is None
    # The secret waits out its recovery window (and no longer lists).
    assert sm.describe_secret(SecretId=arn).get("DeletedDate") is not None
    assert sm.list_secrets()["SecretList"] == []
    # The kept CRD is the team's now; clean up so the next test starts from an empty cluster.
    kube.delete(f"{monitors}/web")
    kube.delete(f"{crd}/servicemonitors.monitoring.coreos.com")
    kube.delete(f"/api/v1/namespaces/{team}")
    iam = clean_moto.client("iam")
    assert [r["RoleName"] for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(CLUSTER)] == []
