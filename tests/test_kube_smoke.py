"""The microservice chart on a real Kubernetes API server: the real helm (.tools/bin/helm, v3.17.2) installs it
on the session's v1.20.2 control plane (harness.KubeCluster: etcd, kube-apiserver, kube-controller-manager on
127.0.0.1), and the objects are read back from the API with the bearer token and CA.

Kubernetes 1.20 serves neither `autoscaling/v2` nor `policy/v1`, so this is where the chart proves it picks API
versions by capability: its HPA and PDB must go in as `autoscaling/v2beta2` and `policy/v1beta1`, while a
plain `helm template` (helm's own, current API list) still renders `autoscaling/v2` and `policy/v1`.

There is no scheduler and no kubelet: pods stay Pending, so helm runs with `--wait=false`. The
controller-manager does run, so the Deployment gets its ReplicaSet, the ServiceAccount its token, and deleting
the namespace finishes.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import yaml

from harness.kube import KUBE_VERSION, KubeCluster
from harness.moto_server import clean_env, wait_until
from harness.paths import REPO_ROOT, TOOLS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHART = REPO_ROOT / "terraform-modules" / "charts" / "microservice"
HELM = TOOLS / "bin" / "helm"
RELEASE = "smoke"
#: Generous for a loaded 2-core machine; on an idle one each of these takes a few seconds at most.
DEADLINE = 120.0

VALUES = {
    "image": {"repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/smoke", "tag": "1.0.0"},
    "replicaCount": 2,
    "containerPort": 8080,
    "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/smoke-irsa"}},
    "autoscaling": {"enabled": True, "minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercentage": 70},
    "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
    "route": {"enabled": True, "pathPrefix": "/smoke"},
}


class Helm:
    """The pinned helm with its own config, cache and data folders (never the developer's), and no KUBECONFIG
    from the surrounding shell."""

    def __init__(self, home: Path):
        if not HELM.exists():
            pytest.fail(f"{HELM} is missing: run scripts/bootstrap.sh", pytrace=False)
        env = clean_env()
        env.pop("KUBECONFIG", None)
        for var in ("HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"):
            env[var] = str(home / var.lower())
        self.env = env

    def __call__(self, *args, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run([str(HELM), *map(str, args)], capture_output=True, text=True, env=self.env,
                           timeout=DEADLINE, stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, f"helm {' '.join(map(str, args))} failed:\n{r.stdout}\n{r.stderr}"
        return r


@pytest.fixture(scope="module")
def helm(tmp_path_factory: pytest.TempPathFactory) -> Helm:
    return Helm(tmp_path_factory.mktemp("helm-home"))


@pytest.fixture
def values_file(tmp_path: Path) -> Path:
    path = tmp_path / "values.json"
    path.write_text(json.dumps(VALUES))
    return path


def kinds_and_versions(manifest: str) -> Dict[str, str]:
    return {doc["kind"]: doc["apiVersion"] for doc in yaml.safe_load_all(manifest) if doc}


def managers(obj: dict) -> List[tuple]:
    """``(manager, apiVersion, operation)`` of every managedFields entry: the API version each writer used."""
    return [(m.get("manager"), m.get("apiVersion"), m.get("operation"))
            for m in obj["metadata"].get("managedFields", [])]


def test_server_is_kubernetes_1_20(kube: KubeCluster):
    assert kube.server_version() == KUBE_VERSION
    versions = kube.api_versions()
    assert "autoscaling/v2beta2" in versions and "autoscaling/v2" not in versions
    assert "policy/v1beta1" in versions and "policy/v1" not in versions
    # The token is a system:masters user and RBAC is on; a wrong token gets nowhere.
    assert kube.request("GET", "/api/v1/namespaces")[0] == 200
    assert kube.request("GET", "/api/v1/namespaces", token="not-the-token")[0] == 401


def test_helm_template_without_a_cluster_renders_current_api_versions(helm: Helm, values_file: Path):
    versions = kinds_and_versions(helm("template", RELEASE, CHART, "--namespace", "apps", "-f", values_file).stdout)
    assert versions["HorizontalPodAutoscaler"] == "autoscaling/v2"
    assert versions["PodDisruptionBudget"] == "policy/v1"


def test_chart_installs_on_kubernetes_1_20(kube: KubeCluster, helm: Helm, values_file: Path):
    ns = f"smoke-{secrets.token_hex(4)}"
    kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    kubeconfig = ("--kubeconfig", kube.kubeconfig_path, "--namespace", ns)
    try:
        helm("install", RELEASE, CHART, *kubeconfig, "--wait=false", "-f", values_file)

        (release,) = json.loads(helm("list", *kubeconfig, "--output", "json").stdout)
        assert (release["name"], release["status"], release["chart"]) == (RELEASE, "deployed", "microservice-0.1.0")

        # What helm sent: the 1.20 server's versions, chosen from its discovery (the chart's Capabilities).
        sent = kinds_and_versions(helm("get", "manifest", RELEASE, *kubeconfig).stdout)
        assert sent == {
            "ServiceAccount": "v1", "Service": "v1", "Deployment": "apps/v1",
            "HorizontalPodAutoscaler": "autoscaling/v2beta2", "PodDisruptionBudget": "policy/v1beta1",
            "Ingress": "networking.k8s.io/v1",
        }

        deploy = kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{RELEASE}")
        assert deploy is not None, "the Deployment is not in the API"
        (container,) = deploy["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"{VALUES['image']['repository']}:1.0.0"
        assert deploy["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0

        # The server stored the HPA and PDB, written by helm through the beta versions.
        hpa = kube.get(f"/apis/autoscaling/v2beta2/namespaces/{ns}/horizontalpodautoscalers/{RELEASE}")
        assert hpa is not None, "the HorizontalPodAutoscaler is not in the API"
        assert hpa["spec"]["maxReplicas"] == 4
        assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
        assert ("helm", "autoscaling/v2beta2", "Update") in managers(hpa)
        pdb = kube.get(f"/apis/policy/v1beta1/namespaces/{ns}/poddisruptionbudgets/{RELEASE}")
        assert pdb is not None, "the PodDisruptionBudget is not in the API"
        assert pdb["spec"]["maxUnavailable"] == 1
        assert ("helm", "policy/v1beta1", "Update") in managers(pdb)
        for path in (f"/api/v1/namespaces/{ns}/services/{RELEASE}",
                     f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{RELEASE}"):
            assert kube.get(path) is not None, f"{path} is not in the API"

        # The controller-manager works on what helm made: a ReplicaSet for the Deployment, a token for the
        # ServiceAccount.
        def replica_sets() -> List[dict]:
            body = kube.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")
            return [rs for rs in body["items"]
                    if any(o["kind"] == "Deployment" and o["name"] == RELEASE
                           for o in rs["metadata"].get("ownerReferences", []))]

        wait_until(replica_sets, timeout=DEADLINE, what="the Deployment's ReplicaSet")
        wait_until(lambda: (kube.get(f"/api/v1/namespaces/{ns}/serviceaccounts/{RELEASE}") or {}).get("secrets"),
                   timeout=DEADLINE, what="a token for the release's ServiceAccount")

        helm("uninstall", RELEASE, *kubeconfig)
        assert json.loads(helm("list", *kubeconfig, "--all", "--output", "json").stdout) == []
        wait_until(lambda: kube.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{RELEASE}") is None,
                   timeout=DEADLINE, what="the Deployment to be gone after helm uninstall")
    finally:
        status = kube.delete(f"/api/v1/namespaces/{ns}")

    # Namespace deletion only finishes when the namespace controller has emptied it.
    assert status in (200, 202)
    wait_until(lambda: namespace_gone(kube, ns), timeout=DEADLINE, what=f"namespace {ns} to be deleted")


def namespace_gone(kube: KubeCluster, ns: str) -> bool:
    obj: Optional[dict] = kube.get(f"/api/v1/namespaces/{ns}")
    return obj is None
