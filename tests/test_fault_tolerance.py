"""Every composite applies, refreshes and destroys while the fault proxy answers a share of all AWS requests
(15 % unless $PLATFORM_FAULT_RATE says otherwise) with throttling errors, 5xx errors, connection resets before
the request reaches moto, and lost answers (``reset-after``: moto applied the request, the connection is reset
before the answer) (issue 17, item 3). $PLATFORM_FAULT_KINDS (comma-separated) narrows the mix.

For each composite, a reference run without faults (through the same proxy) gives the object counts after
apply and after destroy, counted through boto3 against moto directly (harness/census.py). Then moto is reset
and the same configuration runs with faults: the counts after apply and after destroy must be exactly the
reference counts (nothing duplicated by a retried create, nothing lost), and the refresh in between must
plan no change. The test prints requests, calls, retries and faults per operation, and wall times.

The stacks that reach into the cluster (``KUBE_STACKS``: ``platform_cluster_services`` and the microservice
module's ``platform_helm_release``s) run the same way against the real kube-apiserver and helm; their AWS calls
go through the proxy and get the faults, their Kubernetes calls (the provider's own and helm's) go straight to
the API server, which is not proxied: no fault is injected there. Their counts add the Helm releases and every
object of each deployed release's manifest, read back through helm and the API server
(harness/kube_census.py)."""

from __future__ import annotations

import base64
import os
import time
from dataclasses import dataclass
from typing import Callable, Optional, Tuple

import pytest

from harness.census import census, census_diff
from harness.kube_census import kube_census
from harness.paths import REPO_ROOT
from harness.terraform import hcl_string
from test_cluster_services import kube_provider
from test_frontend import frontend_hcl
from test_microservice import make_environment, service_hcl
from test_organization import make_org, structure_hcl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RATE = float(os.environ.get("PLATFORM_FAULT_RATE", "0.15"))
KINDS = tuple(os.environ.get("PLATFORM_FAULT_KINDS", "throttle,5xx,reset,reset-after").split(","))


def is_create(operation: str) -> bool:
    """A call that makes a new object (provider/aws/src/lost.rs ``creates``): after a reset the provider does
    not retry it blindly, it looks the object up first and adopts it or creates it again."""
    idempotent = {"CreateTags", "CreateBucket"}
    return (operation.startswith("Create") and operation not in idempotent) or operation in (
        "AllocateAddress", "RunInstances")


def lost_answers(proxy, ref_calls: dict) -> str:
    """Per creating operation that had a reset: answers lost after moto applied the request (``reset-after``,
    each must have been adopted), resets before it (each created again by a new call), and calls against the
    reference run's."""
    rows = []
    for (svc, op), st in sorted(proxy.stats().items()):
        if not is_create(op):
            continue
        faults = [c.fault for c in proxy.calls if c.key == (svc, op) and c.fault]
        after, before = faults.count("reset-after"), faults.count("reset")
        if after or before:
            extra = st.calls - ref_calls.get((svc, op), 0)
            rows.append(f"{svc:<15} {op:<32} {after:>10} {before:>12} {st.calls:>6} {ref_calls.get((svc, op), 0):>6}"
                        f"   adopted {after}, created again {extra}")
    head = f"{'service':<15} {'operation':<32} {'lost after':>10} {'reset before':>12} {'calls':>6} {'ref':>6}"
    return "\n".join([head] + rows) if rows else "(no creating call was reset)"


ENVIRONMENT = """
resource "platform_environment" "e" {
  name               = "pk-faults"
  vpc_cidr           = "10.70.0.0/16"
  availability_zones = ["us-east-1a", "us-east-1b"]
  nat_gateways       = "single"

  cluster {
    version = "1.31"
  }

  node_groups {
    name           = "general"
    instance_types = ["t3.large"]
    min_size       = 1
    max_size       = 3
    desired_size   = 1
  }

  database {
    engine = "postgres"
  }
}
"""

ORGANIZATION = """
resource "platform_organization" "this" {
  trail {
    bucket_name = "pk-faults-org-trail"
  }
}
"""


@dataclass
class Stack:
    hcl: Callable[[dict], str]
    setup: Optional[Callable] = None  # prepares moto (what exists before the stack), returns values for hcl


STACKS = {
    "state_backend": Stack(lambda _: 'resource "platform_state_backend" "b" {\n  bucket = "pk-faults-state"\n}\n'),
    "environment": Stack(lambda _: ENVIRONMENT),
    "microservice": Stack(lambda env: service_hcl(env), setup=make_environment),
    "frontend": Stack(lambda _: frontend_hcl()),
    "organization": Stack(lambda _: ORGANIZATION + structure_hcl(), setup=make_org),
}


def timed(fn, *args, **kwargs) -> float:
    t0 = time.monotonic()
    fn(*args, **kwargs)
    return time.monotonic() - t0


@pytest.mark.parametrize("name", list(STACKS))
def test_composite_survives_transient_faults(name, tf_factory, fault_proxy, clean_moto):
    stack, moto, proxy = STACKS[name], clean_moto, fault_proxy

    # Reference: no faults.
    values = stack.setup(moto) if stack.setup else {}
    before = census(moto)
    ref = tf_factory(name="reference")
    ref.write_config(stack.hcl(values), endpoint=proxy.url)
    ref.init()
    ref_apply_s = timed(ref.apply)
    applied = census(moto)
    created = {k: applied[k] - before.get(k, 0) for k in applied if applied[k] != before.get(k, 0)}
    assert created, "the reference apply created nothing"
    ref_destroy_s = timed(ref.destroy)
    destroyed = census(moto)
    ref_calls = proxy.totals().calls
    ref_op_calls = {k: st.calls for k, st in proxy.stats().items()}

    # The same with faults, on a fresh moto.
    moto.reset()
    proxy.clear()
    values = stack.setup(moto) if stack.setup else {}
    assert census_diff(census(moto), before) == {}
    tf = tf_factory(name="faults")
    tf.write_config(stack.hcl(values), endpoint=proxy.url)
    tf.init()
    proxy.transient(RATE, kinds=KINDS)
    apply_s = timed(tf.apply)
    assert census_diff(census(moto), applied) == {}, "apply under faults: (got, reference) per kind"
    t0 = time.monotonic()
    assert tf.plan() == 0, tf.last.output
    plan_s = time.monotonic() - t0
    destroy_s = timed(tf.destroy)
    assert census_diff(census(moto), destroyed) == {}, "destroy under faults: (got, reference) per kind"

    totals = proxy.totals()
    print(f"\n== {name}: {RATE:.0%} transient faults ({', '.join(KINDS)}), seed {proxy.seed}")
    print(f"created (reference): {created}")
    print(f"reference: {ref_calls} calls; apply {ref_apply_s:.1f}s, destroy {ref_destroy_s:.1f}s")
    print(f"with faults: {totals.requests} requests, {totals.calls} calls, {totals.retries} retries, "
          f"{totals.faults} faults; apply {apply_s:.1f}s, plan {plan_s:.1f}s, destroy {destroy_s:.1f}s")
    print(proxy.report(limit=25))
    print("lost answers of creating calls and how each was resolved:")
    print(lost_answers(proxy, ref_op_calls))
    assert totals.faults > 0
    # Every fault was retried by the SDK, except a reset of a creating call: that one is resolved by the
    # provider (looked up, then adopted or created again), which the census checks above prove.
    create_resets = sum(1 for c in proxy.calls if c.fault in ("reset", "reset-after") and is_create(c.operation))
    assert totals.retries >= totals.faults - create_resets


HELM = REPO_ROOT / ".tools" / "bin" / "helm"
SERVICES_NAMESPACES = ("monitoring", "envoy-gateway-system")
APPS_NAMESPACE = "pk-faults-apps"


def cluster_services_hcl(env: dict, kube, repo_url: str) -> str:
    """The cluster services on the test's API server (the provider's ``kubernetes`` block), for the cluster
    ``make_environment`` described in moto (its OIDC provider)."""
    return f"""
resource "platform_cluster_services" "core" {{
  cluster = {{
    cluster_name                  = {hcl_string(env["cluster_name"])}
    cluster_endpoint              = {hcl_string(kube.host)}
    cluster_certificate_authority = {hcl_string(base64.b64encode(kube.ca_pem.encode()).decode())}
    oidc_issuer_url               = {hcl_string(env["oidc_issuer_url"])}
    oidc_provider_arn             = {hcl_string(env["oidc_provider_arn"])}
    vpc_id                        = "vpc-0faults0000000001"
  }}
  chart_repository = {hcl_string(repo_url)}
  wait             = false

  observability {{
    log_retention_in_days = 30
  }}

  api_gateway {{
    rate_limit {{
      requests_per_minute = 600
    }}
  }}
}}
"""


def helm_release_hcl(env: dict, kube, repo_url: str) -> str:
    """The microservice module: per service a platform_microservice (ECR repository, IRSA role) and a
    platform_helm_release of the project's chart."""
    environment = "{\n" + "\n".join(f"    {k} = {hcl_string(v)}" for k, v in env.items()) + "\n  }"
    module = REPO_ROOT / "terraform-modules" / "microservice"
    chart = REPO_ROOT / "terraform-modules" / "charts" / "microservice"
    return f"""
module "services" {{
  source       = {hcl_string(str(module))}
  environment  = {environment}
  namespace    = "{APPS_NAMESPACE}"
  release_wait = false
  chart        = {hcl_string(str(chart))}
  services = {{
    "mobile-service" = {{ image_tag = "3f2c1a9", path_prefix = "/mobile", max_replicas = 4 }}
    "login-service"  = {{ image_tag = "3f2c1a9", replicas = 1, container_port = 9000 }}
  }}
}}
"""


@dataclass
class KubeStack:
    hcl: Callable[[dict, object, str], str]  # (set-up values, kube, chart repository URL) -> HCL
    namespaces: Tuple[str, ...]  # what the stack's destroy deletes (waited for before the next run)
    setup: Callable = make_environment


KUBE_STACKS = {
    "cluster_services": KubeStack(cluster_services_hcl, SERVICES_NAMESPACES),
    # helm never deletes the namespace it created for a release, so destroy leaves it (empty) and nothing waits.
    "helm_release": KubeStack(helm_release_hcl, ()),
}


def wait_namespaces_gone(kube, names, limit: float = 120) -> None:
    deadline = time.monotonic() + limit
    while any(kube.get(f"/api/v1/namespaces/{n}") is not None for n in names):
        assert time.monotonic() < deadline, f"namespaces {names} still there after {limit:.0f}s"
        time.sleep(1)


@pytest.mark.parametrize("name", list(KUBE_STACKS))
def test_kube_composite_survives_transient_faults(name, tf_factory, fault_proxy, clean_moto, kube, chart_repo):
    stack, moto, proxy = KUBE_STACKS[name], clean_moto, fault_proxy
    everything = lambda: {**census(moto), **kube_census(kube, HELM)}  # noqa: E731

    # Reference: no faults.
    values = stack.setup(moto)
    before = everything()
    ref = tf_factory(name="reference")
    ref.write_config(stack.hcl(values, kube, chart_repo.url), endpoint=proxy.url, provider_extra=kube_provider(kube))
    ref.init()
    ref_apply_s = timed(ref.apply)
    applied = everything()
    created = {k: applied[k] - before.get(k, 0) for k in applied if applied[k] != before.get(k, 0)}
    assert created.get("helm.deployed", 0) > 0 and any(k.startswith("kube.") for k in created), created
    ref_destroy_s = timed(ref.destroy)
    wait_namespaces_gone(kube, stack.namespaces)
    destroyed = everything()
    ref_calls = proxy.totals().calls

    # The same with faults, on a fresh moto (the cluster is as the reference's destroy left it).
    moto.reset()
    proxy.clear()
    values = stack.setup(moto)
    assert census_diff(everything(), before) == {}
    tf = tf_factory(name="faults")
    tf.write_config(stack.hcl(values, kube, chart_repo.url), endpoint=proxy.url, provider_extra=kube_provider(kube))
    tf.init()
    proxy.transient(RATE, kinds=KINDS)
    apply_s = timed(tf.apply)
    assert census_diff(everything(), applied) == {}, "apply under faults: (got, reference) per kind"
    t0 = time.monotonic()
    assert tf.plan() == 0, tf.last.output
    refresh_s = timed(tf.refresh)
    assert census_diff(everything(), applied) == {}, "refresh under faults: (got, reference) per kind"
    plan_s = time.monotonic() - t0
    destroy_s = timed(tf.destroy)
    wait_namespaces_gone(kube, stack.namespaces)
    assert census_diff(everything(), destroyed) == {}, "destroy under faults: (got, reference) per kind"

    totals = proxy.totals()
    print(f"\n== {name}: {RATE:.0%} transient faults ({', '.join(KINDS)}) on its AWS calls, seed {proxy.seed}; "
          "the API server is not proxied")
    print(f"created (reference): {created}")
    print(f"reference: {ref_calls} calls; apply {ref_apply_s:.1f}s, destroy {ref_destroy_s:.1f}s")
    print(f"with faults: {totals.requests} requests, {totals.calls} calls, {totals.retries} retries, "
          f"{totals.faults} faults; apply {apply_s:.1f}s, plan+refresh {plan_s:.1f}s (refresh {refresh_s:.1f}s), "
          f"destroy {destroy_s:.1f}s")
    print(proxy.report(limit=25))
    assert totals.faults > 0
    # As above: a reset creating call is resolved by the provider (looked up, adopted or created again), not
    # retried by the SDK; the census checks prove nothing was duplicated or lost.
    create_resets = sum(1 for c in proxy.calls if c.fault in ("reset", "reset-after") and is_create(c.operation))
    assert totals.retries >= totals.faults - create_resets
