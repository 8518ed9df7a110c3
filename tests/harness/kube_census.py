"""Counting what Helm and the API server hold, read back through helm and the API (never through the provider).

``kube_census(kube, helm_binary)`` returns ``{kind: count}``: the Helm releases (all, and deployed ones), every
object the deployed releases' manifests name that exists in the API server (per kind, e.g. ``kube.Deployment``),
and the CustomResourceDefinitions. Tests compare two censuses (e.g. after an apply with injected faults against
one without) the way harness/census.py compares AWS objects.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, Optional, Tuple

import yaml


def _helm(kube, helm_binary: Path, *args: str) -> str:
    return subprocess.run(
        [str(helm_binary), "--kubeconfig", str(kube.kubeconfig_path), *args],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout


def _resource(kube, api_version: str, kind: str, cache: Dict[str, dict]) -> Optional[Tuple[str, bool]]:
    """(plural, namespaced) of ``kind`` in ``api_version``, from the API's discovery."""
    base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if base not in cache:
        cache[base] = kube.get(base) or {"resources": []}
    for r in cache[base]["resources"]:
        if r["kind"] == kind and "/" not in r["name"]:
            return r["name"], r["namespaced"]
    return None


def kube_census(kube, helm_binary: Path) -> Dict[str, int]:
    releases = json.loads(_helm(kube, helm_binary, "list", "--all-namespaces", "--all", "--output", "json") or "[]")
    out: Dict[str, int] = {
        "helm.release": len(releases),
        "helm.deployed": sum(1 for r in releases if r["status"] == "deployed"),
    }
    discovery: Dict[str, dict] = {}
    for r in releases:
        if r["status"] != "deployed":
            continue
        manifest = _helm(kube, helm_binary, "get", "manifest", r["name"], "--namespace", r["namespace"])
        for doc in yaml.safe_load_all(manifest):
            if not isinstance(doc, dict) or "kind" not in doc:
                continue
            found = _resource(kube, doc["apiVersion"], doc["kind"], discovery)
            key = f"kube.{doc['kind']}"
            if found is None:  # a kind the server does not serve (a CRD not installed): counted as absent
                out.setdefault(key, 0)
                continue
            plural, namespaced = found
            base = "/api/v1" if doc["apiVersion"] == "v1" else f"/apis/{doc['apiVersion']}"
            name = doc["metadata"]["name"]
            ns = doc["metadata"].get("namespace") or r["namespace"]
            path = f"{base}/namespaces/{ns}/{plural}/{name}" if namespaced else f"{base}/{plural}/{name}"
            out[key] = out.get(key, 0) + int(kube.get(path) is not None)
    crds = kube.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions") or {"items": []}
    out["kube.crd"] = len(crds["items"])
    return out
