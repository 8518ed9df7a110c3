"""Into the cluster: `platform_helm_release` and the microservice module's releases, end to end with the real
Terraform, the real provider binary, moto for the AWS side, a real kube-apiserver (v1.20.2, built by
scripts/kube.sh) and the real helm v3.

The API server has no kubelet: pods never start, so releases use `wait = false`, except the test that proves
the timeout fires (and that a release is never left failed)."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List

import pytest

from harness.configs import cluster_environment
from harness.paths import REPO_ROOT
from harness.terraform import TerraformError, hcl_string

pytestmark = pytest.mark.e2e

HELM = REPO_ROOT / ".tools" / "bin" / "helm"
CHART = REPO_ROOT / "terraform-modules" / "charts" / "microservice"
MODULE = REPO_ROOT / "terraform-modules" / "microservice"
SHA_1 = "3f2c1a9"
SHA_2 = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"


def kube_provider(kube, host: str = "") -> str:
    return f"""
helm_binary = {hcl_string(str(HELM))}
kubernetes {{
  host                   = {hcl_string(host or kube.host)}
  token                  = {hcl_string(kube.token)}
  cluster_ca_certificate = {hcl_string(kube.ca_pem)}
}}
"""


def helm(kube, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(HELM), "--kubeconfig", str(kube.kubeconfig_path), *args],
        capture_output=True, text=True, timeout=120, check=check,
    )


def releases(kube, namespace: str) -> Dict[str, Dict[str, Any]]:
    out = helm(kube, "list", "--namespace", namespace, "--all", "--output", "json").stdout
    return {r["name"]: r for r in json.loads(out or "[]")}


def history(kube, namespace: str, name: str) -> List[Dict[str, Any]]:
    return json.loads(helm(kube, "history", name, "--namespace", namespace, "--output", "json").stdout)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def stack(namespace: str) -> str:
    return f"""
variable "image_tags" {{
  type    = map(string)
  default = {{}}
}}

{cluster_environment("pk-helm", "10.61.0.0/16")}
module "services" {{
  source       = {hcl_string(str(MODULE))}
  environment  = platform_environment.e
  namespace    = "{namespace}"
  image_tags   = var.image_tags
  release_wait = false
  # An absolute module source is copied into .terraform/modules without its sibling charts/ folder.
  chart        = {hcl_string(str(CHART))}
  services = {{
    "mobile-service" = {{ image_tag = "{SHA_1}", path_prefix = "/mobile", max_replicas = 4 }}
    "login-service"  = {{ image_tag = "{SHA_1}", replicas = 1, container_port = 9000 }}
  }}
}}

output "images" {{
  value = module.services.images
}}

output "role_arns" {{
  value = module.services.role_arns
}}
"""


def changed(tf, **var) -> List[Dict[str, Any]]:
    return [c for c in tf.plan_json(var=var)["resource_changes"] if c["change"]["actions"] != ["no-op"]]


def test_microservices_are_released_into_the_cluster(tf, clean_moto, kube):
    ns = unique("apps")
    tf.write_config(stack(ns), endpoint=clean_moto.endpoint, provider_extra=kube_provider(kube))
    tf.init()
    tf.apply()

    # Both releases are ordinary Helm releases.
    rels = releases(kube, ns)
    assert set(rels) == {"mobile-service", "login-service"}
    assert {r["status"] for r in rels.values()} == {"deployed"}

    # What the API server holds is what the services planned.
    out = tf.outputs()
    images, roles = out["images"], out["role_arns"]
    for name in ("mobile-service", "login-service"):
        dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
        assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == images[name]
        sa = kube.get(f"/api/v1/namespaces/{ns}/serviceaccounts/{name}")
        assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == roles[name]
        assert kube.get(f"/api/v1/namespaces/{ns}/services/{name}") is not None
    # The 1.20 server has neither policy/v1 nor autoscaling/v2: the chart picked the older versions (a
    # single-replica service gets no disruption budget).
    assert kube.get(f"/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets/mobile-service") is not None
    assert kube.get(f"/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets/login-service") is None
    route = kube.get(f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/mobile-service")
    assert route["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/mobile"
    hpa = kube.get(f"/apis/autoscaling/v2beta2/namespaces/{ns}/horizontalpodautoscalers/mobile-service")
    assert hpa["spec"]["maxReplicas"] == 4
    mobile = 'module.services.platform_helm_release.this["mobile-service"]'
    state = tf.resource_values(mobile)
    assert state["revision"] == 1 and state["status"] == "deployed"
    assert f"Deployment/{ns}/mobile-service" in state["objects"]
    assert tf.plan() == 0

    # CI's new tag: one service, one release, and in it only the Deployment changes.
    ch = changed(tf, image_tags={"mobile-service": SHA_2})
    assert sorted(c["address"] for c in ch) == sorted([
        'module.services.platform_microservice.this["mobile-service"]', mobile])
    rel = next(c for c in ch if c["address"] == mobile)
    assert rel["change"]["actions"] == ["update"]
    before, after = rel["change"]["before"]["objects"], rel["change"]["after"]["objects"]
    assert [k for k in after if before.get(k) != after[k]] == [f"Deployment/{ns}/mobile-service"]
    tf.apply(var={"image_tags": {"mobile-service": SHA_2}})
    assert [h["revision"] for h in history(kube, ns, "mobile-service")] == [1, 2]
    assert [h["revision"] for h in history(kube, ns, "login-service")] == [1]
    dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/mobile-service")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{SHA_2}")
    tags = {"image_tags": {"mobile-service": SHA_2}}
    assert tf.plan(var=tags) == 0

    # Drift: a Deployment deleted out of band shows in the plan, and apply restores it.
    assert kube.delete(f"/apis/apps/v1/namespaces/{ns}/deployments/login-service") == 200
    ch = changed(tf, **tags)
    login = 'module.services.platform_helm_release.this["login-service"]'
    assert [c["address"] for c in ch] == [login]
    assert ch[0]["change"]["before"]["objects"][f"Deployment/{ns}/login-service"] == "absent"
    tf.apply(var=tags)
    assert kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/login-service") is not None
    assert tf.plan(var=tags) == 0

    # Drift: an edited field shows as well.
    kube.request(
        "PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/mobile-service",
        {"spec": {"template": {"spec": {"containers": [{"name": "mobile-service", "image": "evil:1"}]}}}},
        content_type="application/strategic-merge-patch+json",
    )
    ch = changed(tf, **tags)
    assert [c["address"] for c in ch] == [mobile]
    assert ch[0]["change"]["before"]["objects"][f"Deployment/{ns}/mobile-service"].startswith("edited:")
    tf.apply(var=tags)
    dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/mobile-service")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{SHA_2}")

    # An out-of-band `helm rollback` shows in the plan; apply brings the configured tag back.
    helm(kube, "rollback", "mobile-service", "1", "--namespace", ns)
    ch = changed(tf, **tags)
    assert [c["address"] for c in ch] == [mobile]
    tf.apply(var=tags)
    dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/mobile-service")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{SHA_2}")
    assert tf.plan(var=tags) == 0

    # Import by namespace/name.
    tf.run("state", "rm", login)
    tf.import_(login, f"{ns}/login-service", "-var", "image_tags=" + json.dumps(tags["image_tags"]))
    imported = tf.resource_values(login)
    assert imported["revision"] == history(kube, ns, "login-service")[-1]["revision"]
    assert imported["id"] == f"{ns}/login-service"

    # Destroy: releases uninstalled and their objects gone, then the AWS side.
    tf.destroy(var=tags)
    assert releases(kube, ns) == {}
    assert kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments")["items"] == []
    assert kube.get(f"/api/v1/namespaces/{ns}/services")["items"] == []
    assert clean_moto.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:platform:owner", "Values": ["platform_environment/pk-helm"]}])["Vpcs"] == []


def release_hcl(namespace: str, *, chart: str = str(CHART), values: str = "", extra: str = "") -> str:
    values = values or json.dumps({"image": {"repository": "127.0.0.1:5000/demo", "tag": SHA_1}})
    return f"""
resource "platform_helm_release" "demo" {{
  name             = "demo"
  namespace        = "{namespace}"
  create_namespace = true
  chart            = {hcl_string(chart)}
  values           = {hcl_string(values)}
  wait             = false
{extra}
}}
"""


@pytest.mark.parametrize(
    "case, kwargs, expect",
    [
        ("values against the schema", {"values": json.dumps({"image": {"repository": "x", "tag": SHA_1},
                                                            "replicaCount": "many"})},
         ["values.schema.json", "@values"]),
        ("missing chart", {"chart": "/nonexistent/chart"}, ["/nonexistent/chart", "@chart"]),
        ("malformed OCI reference", {"chart": "oci://registry/Bad Chart"}, ["Invalid OCI chart reference", "@chart"]),
        ("values not a mapping", {"values": "- 1\n- 2"}, ["Invalid values", "@values"]),
    ],
)
def test_bad_release_input_is_an_error_at_the_attribute(tf, clean_moto, kube, case, kwargs, expect):
    ns = unique("bad")
    tf.write_config(release_hcl(ns, **kwargs), endpoint=clean_moto.endpoint, provider_extra=kube_provider(kube))
    tf.init()
    with pytest.raises(TerraformError) as err:
        tf.plan()
    text = err.value.result.output
    for e in expect:
        if e.startswith("@"):
            # Terraform quotes the attribute's own line: the diagnostic points at it.
            assert re.search(rf"^\s*\d+:\s+{e[1:]}\s+=", text, re.M), f"{case}: not at {e[1:]}\n{text}"
        else:
            assert e in text, f"{case}: {e!r} not in\n{text}"
    assert releases(kube, ns) == {}
    assert kube.get(f"/api/v1/namespaces/{ns}") is None


def test_unreachable_cluster_names_the_host_without_hanging(tf, clean_moto, kube):
    # A port nothing listens on.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"https://127.0.0.1:{port}"
    tf.write_config(release_hcl("nowhere"), endpoint=clean_moto.endpoint,
                    provider_extra=kube_provider(kube, host=host))
    tf.init()
    start = time.monotonic()
    with pytest.raises(TerraformError) as err:
        tf.plan()
    assert time.monotonic() - start < 60
    text = err.value.result.output
    assert "Kubernetes cluster unreachable" in text and f"127.0.0.1:{port}" in text, text


def test_wait_timeout_fires_and_the_release_is_never_left_failed(tf, clean_moto, kube):
    ns = unique("wait")
    # First install without waiting: revision 1 is deployed.
    tf.write_config(release_hcl(ns), endpoint=clean_moto.endpoint, provider_extra=kube_provider(kube))
    tf.init()
    tf.apply()
    assert releases(kube, ns)["demo"]["revision"] == "1"

    # An upgrade that waits for pods (there is no kubelet, so they never come) fails at the timeout and is
    # rolled back: the release is deployed again, at the old objects.
    values = json.dumps({"image": {"repository": "127.0.0.1:5000/demo", "tag": SHA_2}})
    tf.write_config(
        release_hcl(ns, values=values, extra='  timeouts {\n    update = "5s"\n  }').replace(
            "wait             = false", "wait             = true"),
        endpoint=clean_moto.endpoint, provider_extra=kube_provider(kube))
    start = time.monotonic()
    with pytest.raises(TerraformError) as err:
        tf.apply()
    elapsed = time.monotonic() - start
    assert elapsed < 120, elapsed
    text = err.value.result.output
    assert "rolled back to revision 1" in text, text
    rel = releases(kube, ns)["demo"]
    assert rel["status"] == "deployed"
    dep = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/demo")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{SHA_1}")
    statuses = [h["status"] for h in history(kube, ns, "demo")]
    assert statuses[-1] == "deployed" and "failed" in statuses

    tf.write_config(release_hcl(ns), endpoint=clean_moto.endpoint, provider_extra=kube_provider(kube))
    tf.destroy()
    assert releases(kube, ns) == {}
