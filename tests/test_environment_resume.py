"""A create of `platform_environment` that fails part-way, at each stage (network: a NAT gateway; the EKS
cluster; a node group; the database; the cluster's KMS alias), with `deletion_protection` on and off.

The failure is one AWS operation refused permanently by the fault-injecting proxy in front of moto
(harness/faults.py). Terraform taints a resource whose create returned an error with a state (core's
rule on 1.0 and 1.15 alike), so what the next plan and apply do is:

- the failed apply's error says so and names `terraform untaint` as the way to resume;
- the next plan is a replacement ("is tainted, so must be replaced") and carries the provider's warning
  that the environment exists in AWS, naming `terraform untaint`;
- with deletion protection on, that replacement is refused before anything is deleted; `terraform
  untaint` then turns it into an update that finishes the create, adopting what exists;
- with deletion protection off, the replacement completes: everything is deleted and created again.

Either way the end is exactly one of every object, a clean plan, and nothing left after destroy (boto3).
"""

from __future__ import annotations

import pytest

from harness.faults import Fault
from harness.killpoints import env_hcl, inventory, left_over

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "pk-resume"
ADDR = "platform_environment.e"

#: Stage -> the operation refused permanently (service as SigV4 names it).
STAGES = {
    "network": ("ec2", "CreateNatGateway"),
    "cluster": ("eks", "CreateCluster"),
    "node_group": ("eks", "CreateNodegroup"),
    "database": ("rds", "CreateDBInstance"),
    "kms_alias": ("kms", "CreateAlias"),
}

#: What the configuration makes (env_hcl: two AZs, NAT per AZ, cluster, one node group, database).
EXPECTED = {
    "vpc": 1, "subnet": 4, "igw": 1, "nat": 2, "eip": 2, "flow_log": 1, "launch_template": 1,
    "oidc_provider": 1, "kms_key": 1, "kms_alias": 1, "eks_cluster": 1, "node_group": 1, "db_instance": 1,
    "db_subnet_group": 1,
}


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_complete(moto) -> None:
    inv = inventory(moto, NAME)
    assert {k: inv[k] for k in EXPECTED} == EXPECTED, inv


def tainted(tf) -> bool:
    res = [r for r in tf.show_json().get("values", {}).get("root_module", {}).get("resources", [])
           if r["address"] == ADDR]
    return bool(res) and bool(res[0].get("tainted"))


@pytest.mark.parametrize("protected", [True, False], ids=["protected", "unprotected"])
@pytest.mark.parametrize("stage", list(STAGES))
def test_failed_create_then_next_plan_and_apply(tf, clean_moto, fault_proxy, stage, protected):
    moto = clean_moto
    service, operation = STAGES[stage]
    tf.write_config(env_hcl(NAME, deletion_protection=protected), endpoint=fault_proxy.url)
    tf.init()

    # 1. The create fails at the stage; what exists is in state, tainted, and the error says so.
    fault_proxy.fail(service, operation, error=Fault(400, "InjectedFailure", f"{operation} refused for the test"))
    failed = tf.apply(check=False)
    assert failed.returncode != 0
    text = flat(failed.output)
    assert "InjectedFailure" in text or "refused for the test" in text, failed.output
    assert "tainted" in text and "terraform untaint" in text, failed.output
    assert tainted(tf)
    partial = inventory(moto, NAME)
    assert partial["vpc"] == 1
    fault_proxy.clear()

    # 2. The next plan: a replacement, with the provider's warning naming untaint.
    assert tf.plan() == 2
    plan_text = flat(tf.last.output)
    assert "tainted, so must be replaced" in plan_text, tf.last.output
    assert "already exists in AWS" in plan_text and "terraform untaint" in plan_text, tf.last.output

    if protected:
        # 3a. The replacement is refused before anything is deleted...
        refused = tf.apply(check=False)
        assert refused.returncode != 0
        assert "deletion protection is on" in flat(refused.output), refused.output
        assert "terraform untaint" in flat(refused.output)
        assert inventory(moto, NAME) == partial, "a refused replacement must delete nothing"
        # ...and untaint makes the next plan an update that finishes the create.
        tf.run("untaint", ADDR)
        assert not tainted(tf)
        plan = tf.plan_json()
        actions = [c["change"]["actions"] for c in plan["resource_changes"] if c["address"] == ADDR]
        assert actions == [["update"]], actions
        tf.apply()
        assert_complete(moto)
        assert inventory(moto, NAME)["vpc"] == 1
        assert tf.plan() == 0, tf.last.output
        tf.write_config(env_hcl(NAME, deletion_protection=False), endpoint=fault_proxy.url)
        tf.apply()
    else:
        # 3b. The replacement completes: deleted and created again, exactly one of everything.
        old_vpc = tf.resource_values(ADDR)["vpc_id"]
        tf.apply()
        assert_complete(moto)
        assert tf.resource_values(ADDR)["vpc_id"] != old_vpc
        assert tf.plan() == 0, tf.last.output
    print(f"\n{stage} protected={protected}: partial state after the failure: "
          f"{ {k: v for k, v in partial.items() if v} }")
    tf.destroy()
    assert left_over(moto, NAME) == {}
