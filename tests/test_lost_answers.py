"""Lost answers (issue 17): AWS applies a create, but its answer never reaches the provider.

The fault proxy forwards the first call of one creating operation to moto and then resets the connection
(``once(..., error="reset-after")``): moto made the object, the provider never learns its id. The SDK would
send the create again and make a second object (an orphan no destroy removes) or fail on "already exists";
the provider instead does not retry a creating call blindly and looks for the object by its owner tag or
name first (provider/aws/src/lost.rs).

One row per creating operation of each composite. Each row asserts: the apply succeeds, the census of AWS
objects (through boto3, harness/census.py) equals the reference run's (exactly one of everything), the
next plan is empty, and destroy leaves what the reference destroy left. Each row prints how the lost
answer was resolved: "adopted" (the operation was not called again) or "created again".

A last test checks that the table is complete: every creating operation the reference applies make is a
row, so a new create in a composite cannot go untested.
"""

from __future__ import annotations

import time
from typing import Dict, Tuple

import pytest

from harness.census import census, census_diff
from test_fault_tolerance import STACKS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: The calls that make a new object (as provider/aws/src/lost.rs `creates`, plus the idempotent
#: CreateBucket, which is a row too: its retry is answered BucketAlreadyOwnedByYou).
NOT_CREATES = {"CreateTags"}


def is_create(operation: str) -> bool:
    return (operation.startswith("Create") and operation not in NOT_CREATES) or operation == "AllocateAddress"


ROWS: Dict[str, Tuple[Tuple[str, str], ...]] = {
    "state_backend": (("s3", "CreateBucket"), ("dynamodb", "CreateTable")),
    "microservice": (("ecr", "CreateRepository"), ("iam", "CreateRole")),
    "frontend": (("s3", "CreateBucket"), ("cloudfront", "CreateOriginAccessControl"),
                 ("cloudfront", "CreateDistributionWithTags"), ("route53", "CreateHostedZone")),
    "environment": (
        ("ec2", "CreateVpc"), ("ec2", "CreateInternetGateway"), ("ec2", "CreateSubnet"),
        ("logs", "CreateLogGroup"), ("iam", "CreateRole"), ("ec2", "CreateFlowLogs"),
        ("ec2", "AllocateAddress"), ("ec2", "CreateNatGateway"), ("ec2", "CreateRouteTable"), ("ec2", "CreateRoute"),
        ("ec2", "CreateSecurityGroup"), ("kms", "CreateKey"), ("kms", "CreateAlias"),
        ("eks", "CreateCluster"), ("iam", "CreateOpenIDConnectProvider"), ("ec2", "CreateLaunchTemplate"),
        ("eks", "CreateNodegroup"), ("rds", "CreateDBSubnetGroup"), ("rds", "CreateDBInstance"),
    ),
}

#: (stack) -> what a fault-free run gives: census after apply and after destroy, calls per operation.
_REFERENCE: Dict[str, dict] = {}


def reference(stack_name: str, tf_factory, moto, proxy) -> dict:
    """The fault-free run of ``stack_name`` through the proxy (once per session), then moto is reset."""
    if stack_name not in _REFERENCE:
        stack = STACKS[stack_name]
        moto.reset()
        proxy.clear()
        values = stack.setup(moto) if stack.setup else {}
        ref = tf_factory(name=f"reference-{stack_name}")
        ref.write_config(stack.hcl(values), endpoint=proxy.url)
        ref.init()
        ref.apply()
        applied = census(moto)
        calls = {k: s.calls for k, s in proxy.stats().items()}
        ref.destroy()
        _REFERENCE[stack_name] = {"applied": applied, "destroyed": census(moto), "calls": calls}
        moto.reset()
        proxy.clear()
    return _REFERENCE[stack_name]


CASES = [(stack, svc, op) for stack, ops in ROWS.items() for svc, op in ops]


@pytest.mark.parametrize("stack_name,service,operation", CASES, ids=[f"{s}-{o}" for s, _, o in CASES])
def test_a_lost_create_answer_leaves_exactly_one(stack_name, service, operation, tf_factory, clean_moto,
                                                 fault_proxy):
    moto, proxy = clean_moto, fault_proxy
    ref = reference(stack_name, tf_factory, moto, proxy)
    stack = STACKS[stack_name]
    values = stack.setup(moto) if stack.setup else {}
    tf = tf_factory(name="lost")
    tf.write_config(stack.hcl(values), endpoint=proxy.url)
    tf.init()
    proxy.once(service, operation, call=1, error="reset-after")
    t0 = time.monotonic()
    tf.apply()
    apply_s = time.monotonic() - t0

    lost = [c for c in proxy.calls if c.fault]
    assert [(c.service, c.operation) for c in lost] == [(service, operation)], "exactly this answer was lost"
    assert census_diff(census(moto), ref["applied"]) == {}, "after apply: (got, reference) per kind"
    assert tf.plan() == 0, tf.last.output

    calls = proxy.stats()[(service, operation)].calls
    ref_calls = ref["calls"].get((service, operation), 0)
    resolution = "adopted" if calls == ref_calls else f"created again ({calls} calls, reference {ref_calls})"
    tf.destroy()
    assert census_diff(census(moto), ref["destroyed"]) == {}, "after destroy: (got, reference) per kind"
    print(f"\n== {stack_name}: lost the answer of {service} {operation} call 1 -> {resolution}; "
          f"apply {apply_s:.1f}s, {proxy.totals().requests} requests")


@pytest.mark.parametrize("stack_name", list(ROWS))
def test_every_creating_operation_is_a_row(stack_name, tf_factory, clean_moto, fault_proxy):
    ref = reference(stack_name, tf_factory, clean_moto, fault_proxy)
    made = {k for k, n in ref["calls"].items() if n and is_create(k[1])}
    assert made == set(ROWS[stack_name]), "rows missing (left) or never called (right)"
