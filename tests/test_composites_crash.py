"""Kill points for every composite beyond `platform_environment` (issue 17, item 2): the provider is SIGKILLed
right after each call that brings an object into being, and the next apply must adopt what the dead runs made
(by owner tag or name) instead of making a second one.

Each case is one chain (harness/killpoints.py: run_chain): an uninterrupted reference apply and destroy, then
applies that are each killed after their first object-creating call until one completes; after every kill no
kind of object may be there more often than after the reference apply, and the resource must not be in the
state; at the end the inventory equals the reference's, the plan is empty, and destroy leaves what the
reference destroy left. Inventories are counted through boto3 against moto (harness/census.py: every kind the
composites create) and, for the cluster services, through helm and the API server; never through the provider.

Drivers (one per composite): the AWS-only composites are killed by the fault proxy (after moto made the object
and before the answer reaches the provider, so it never learns the id); the cluster services by the provider's
own debug log, which has both its AWS calls and a line per finished Helm install (`helm release installed`).

The organization has two chains: one killed after every create (OUs, policies, trail, `CreateAccount`: the
provider has only the request id of an account that is IN_PROGRESS to it), one killed after each
`DescribeCreateAccountStatus` (the account is SUCCEEDED but its id is not in the state yet). moto completes an
account at once (its requests are never IN_PROGRESS on the server), so the provider's adoption of a request
still in progress on AWS (`ListCreateAccountStatus`) is not exercised here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence

import pytest

from harness.census import census
from harness.killpoints import apply_killing_provider, helm_install, is_create, run_chain
from test_cluster_services import CRDS, kube_provider, release_names, stack as services_stack
from test_fault_tolerance import ORGANIZATION
from test_frontend import frontend_hcl
from test_microservice import make_environment, service_hcl
from test_organization import make_org, structure_hcl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: Every object is created once; a longer chain means a create repeats.
MAX_RUNS = 60


@dataclass
class Case:
    hcl: Callable[[dict], str]
    addresses: Sequence[str]
    setup: Optional[Callable] = None  # prepares moto (what exists before the stack), returns values for hcl
    kill_point: Callable[[str], bool] = is_create
    #: The fewest kill points a chain may have (a shorter chain kills nothing the reference creates).
    min_kills: int = 1
    #: Give a bucket moto made the tags its CreateBucket request carried (see tag_created_buckets).
    tag_buckets: bool = False


STATE_BACKEND = 'resource "platform_state_backend" "b" {\n  bucket = "pk-crash-state"\n}\n'
OWNER_TAG = b"<Tag><Key>platform:owner</Key><Value>platform_state_backend/pk-crash-state</Value></Tag>"


def not_create_bucket(op: str) -> bool:
    """Every create but CreateBucket: its owner tag travels in the create itself, which moto drops (see
    test_kill_after_create_bucket_adopts_the_bucket_by_the_owner_tag_it_was_created_with)."""
    return is_create(op) and op != "CreateBucket"


#: Several resources: what completed before the kill is rightly in the state, so no address is checked.
ORG_ADDRESSES: Sequence[str] = ()

CASES: Dict[str, Case] = {
    "state_backend": Case(lambda _: STATE_BACKEND, ["platform_state_backend.b"], kill_point=not_create_bucket,
                          min_kills=1),
    # The role and the repository are created concurrently: one kill may land after both (measured 1-2).
    "microservice": Case(lambda env: service_hcl(env), ["platform_microservice.svc"], setup=make_environment),
    # The bucket is created concurrently with the zone and the OAC, so a kill after those can leave it half-made
    # even when CreateBucket is no kill point: moto's missing create-time tags are supplied from the request.
    "frontend": Case(lambda _: frontend_hcl(), ["platform_frontend.web"], kill_point=not_create_bucket, min_kills=2,
                     tag_buckets=True),
    # The trail's bucket is created like the others (owner tag in CreateBucket, dropped by moto), concurrently
    # with the OUs and policies.
    "organization": Case(lambda _: ORGANIZATION + structure_hcl(), ORG_ADDRESSES, setup=make_org,
                         kill_point=not_create_bucket, min_kills=4, tag_buckets=True),
    "organization-account-status": Case(
        lambda _: ORGANIZATION + structure_hcl(), ORG_ADDRESSES, setup=make_org,
        kill_point=lambda op: op == "DescribeCreateAccountStatus"),
}


TAG = re.compile(rb"<Tag>\s*<Key>([^<]*)</Key>\s*<Value>([^<]*)</Value>\s*</Tag>")


def tag_created_buckets(moto, proxy) -> None:
    """AWS applies the tags of CreateBucketConfiguration with the create; moto 5.2.5 drops them. After moto made
    a bucket, this gives it exactly the tags the provider's own CreateBucket request carried (none when it carried
    none), so a kill right after the create leaves what AWS would. Without it, see the strict xfail below."""
    s3 = moto.client("s3")

    def hook(call) -> None:
        if call.operation != "CreateBucket" or call.status is None or call.status >= 300:
            return
        tags = TAG.findall(call.body)
        if tags:
            s3.put_bucket_tagging(Bucket=call.path.split("?")[0].strip("/").split("/")[0], Tagging={
                "TagSet": [{"Key": k.decode(), "Value": v.decode()} for k, v in tags]})

    proxy.on_call(hook, when="after")


def reset_moto(moto, attempts: int = 3) -> None:
    """moto's reset, tried again when it times out (it did once at load 37)."""
    for attempt in range(attempts):
        try:
            moto.reset()
            return
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(5)


@pytest.mark.parametrize("name", list(CASES))
def test_kill_after_every_create_then_reapply_adopts_everything(name, tf, clean_moto, fault_proxy):
    case, moto = CASES[name], clean_moto
    values = case.setup(moto) if case.setup else {}
    tf.write_config(case.hcl(values), endpoint=fault_proxy.url)
    tf.init()
    if case.tag_buckets:
        tag_created_buckets(moto, fault_proxy)

    def reset():
        # Start the chain from what the reference started from (a destroyed account, for one, stays in the
        # organization and would be adopted, not created).
        reset_moto(moto)
        fault_proxy.clear()
        if case.tag_buckets:
            tag_created_buckets(moto, fault_proxy)
        again = case.setup(moto) if case.setup else {}
        assert again == values or not case.setup or name.startswith("organization"), (again, values)
        tf.write_config(case.hcl(again), endpoint=fault_proxy.url)

    t0 = time.monotonic()
    chain = run_chain(tf, inventory=lambda: census(moto), addresses=case.addresses, proxy=fault_proxy,
                      kill_point=case.kill_point, reset=reset, max_runs=MAX_RUNS)
    created = {k: v for k, v in chain.expected.items() if v != chain.destroyed.get(k, 0)}
    print(f"\n[{name}] kill points: {len(chain.kills)} (reference apply: {chain.creates} object-creating calls of "
          f"{len(chain.reference.calls)}; objects {created}); chain {chain.seconds:.1f}s, test "
          f"{time.monotonic() - t0:.1f}s; killed after: {chain.kills}")
    assert len(chain.kills) >= case.min_kills, chain.kills


SERVICES = "platform_cluster_services.core"
ENVIRONMENT = "platform_environment.e"
NAMESPACES = ("monitoring", "envoy-gateway-system")


def kube_inventory(kube) -> Dict[str, int]:
    """Releases (all, deployed) read back through helm, and the cluster services' own objects through the API
    server: the CRDs, Grafana's Secret, the import record and the namespaces it made (not terminating)."""
    rel = release_names(kube)
    out = {"helm.release": len(rel), "helm.deployed": sum(1 for s in rel.values() if s == "deployed")}
    out["kube.crd"] = sum(
        1 for c in CRDS if kube.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{c}") is not None)
    out["kube.grafana_secret"] = int(kube.get("/api/v1/namespaces/monitoring/secrets/grafana-admin") is not None)
    out["kube.record"] = int(
        kube.get("/api/v1/namespaces/kube-system/configmaps/platformkit-cluster-services") is not None)
    live = 0
    for ns in NAMESPACES:
        obj = kube.get(f"/api/v1/namespaces/{ns}")
        live += int(obj is not None and not obj["metadata"].get("deletionTimestamp"))
    out["kube.namespace"] = live
    return out


def test_cluster_services_kill_after_every_create_and_helm_install(tf, clean_moto, kube, chart_repo):
    """The environment is applied first (not part of the chain); the chain kills the cluster services' create
    after each AWS create call (roles, log group, secret) and after each release Helm installs, driven by the
    provider's debug log."""
    moto = clean_moto
    tf.write_config(services_stack(chart_repo.url), endpoint=moto.endpoint, provider_extra=kube_provider(kube))
    tf.init()
    base = census(moto)
    tf.apply(f"-target={ENVIRONMENT}")
    sm = moto.client("secretsmanager")

    def reset():
        # Destroy left Grafana's secret scheduled for deletion (a re-create would restore it) and the
        # namespaces terminating: start the chain from nothing, as the reference did.
        for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]:
            sm.delete_secret(SecretId=s["ARN"], ForceDeleteWithoutRecovery=True)
        deadline = time.monotonic() + 120
        while any(kube.get(f"/api/v1/namespaces/{ns}") is not None for ns in NAMESPACES):
            assert time.monotonic() < deadline, "the namespaces of the reference were not deleted in 120 s"
            time.sleep(1)

    t0 = time.monotonic()
    chain = run_chain(tf, inventory=lambda: {**census(moto), **kube_inventory(kube)}, addresses=[SERVICES],
                      kill_point=lambda op: is_create(op) or helm_install(op), reset=reset,
                      destroy_args=(f"-target={SERVICES}",), max_runs=MAX_RUNS)
    helm_kills = [k for k in chain.kills if k.startswith("helm:")]
    print(f"\n[cluster_services] kill points: {len(chain.kills)} ({len(helm_kills)} after a Helm install; reference "
          f"apply: {chain.creates} creating calls/installs of {len(chain.reference.calls)}); chain "
          f"{chain.seconds:.1f}s, test {time.monotonic() - t0:.1f}s; killed after: {chain.kills}")
    assert chain.expected["helm.deployed"] - chain.destroyed["helm.deployed"] == 5, chain.expected
    # Every release but the last is a kill point of its own (installs run one after the other); after the
    # last one the create answers at once, so the kill the log drives lands too late (measured: 4 of 5).
    assert len(helm_kills) >= 4, chain.kills
    tf.destroy()
    now = census(moto)
    assert {k: (now[k], base.get(k)) for k in now if now[k] != base.get(k)} == {}


def test_create_bucket_carries_the_owner_tag(tf, clean_moto, fault_proxy):
    """The bucket is created with its owner tag (CreateBucketConfiguration.Tags, applied by S3 with the create),
    not only tagged by the later PutBucketTagging: read from the request the provider sends."""
    bodies = []
    fault_proxy.on_call(lambda call: bodies.append(call.body) if call.operation == "CreateBucket" else None,
                        when="before")
    tf.write_config(STATE_BACKEND, endpoint=fault_proxy.url)
    tf.init()
    tf.apply()
    assert len(bodies) == 1 and OWNER_TAG in bodies[0].replace(b"\n", b"").replace(b" ", b""), bodies
    tf.destroy()


@pytest.mark.xfail(strict=True, reason="moto 5.2.5 ignores the tags of CreateBucketConfiguration (it reads only "
                   "LocationConstraint), so the bucket a killed create left is untagged there and refused as "
                   "foreign; on AWS it carries the owner tag from the create on")
def test_kill_after_create_bucket_adopts_the_bucket_by_the_owner_tag_it_was_created_with(tf, clean_moto, fault_proxy):
    tf.write_config(STATE_BACKEND, endpoint=fault_proxy.url)
    tf.init()
    r = apply_killing_provider(tf, lambda calls: calls[-1] == "CreateBucket", proxy=fault_proxy)
    assert r.killed_after == "CreateBucket" and r.returncode != 0, r.output
    tf.apply()
    assert [b["Name"] for b in clean_moto.client("s3").list_buckets()["Buckets"]] == ["pk-crash-state"]
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
