"""Kill points: the provider is SIGKILLed right after each AWS call that creates an object while
`platform_environment` is created, and the next apply must adopt what exists by its owner tag.

The kill is driven by the provider's own debug log, or by the fault proxy in front of moto after moto
answered and before the provider hears it (harness/killpoints.py): each apply in the chain runs
until the provider logs its first object-creating call and is killed there; Terraform records nothing
(the create never answered), so the next apply is a create again and must find by owner tag, name or
alias everything the dead runs made. The chain ends with an apply that completes; then every kind of
object must be there exactly as often as after an uninterrupted apply of the same configuration, and
nothing after destroy. Every AWS-side count is through boto3.
"""

from __future__ import annotations

import pytest

from harness.killpoints import apply_killing_provider, env_hcl, inventory, left_over, run_chain

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "pk-crash"
#: Every object of the configuration is created once; a longer chain means a create repeats.
MAX_RUNS = 120


@pytest.mark.parametrize("driver", ["log", "proxy"])
def test_kill_after_every_create_call_then_reapply_adopts_everything(tf, clean_moto, fault_proxy, driver):
    """``log``: the kill follows the provider's debug-log line of the call (a few milliseconds late, so
    concurrent creates may slip in before it). ``proxy``: the fault proxy kills the provider after moto
    made the object and before the answer reaches the provider (it never learns the id)."""
    moto = clean_moto
    proxy = fault_proxy if driver == "proxy" else None
    tf.write_config(env_hcl(NAME), endpoint=fault_proxy.url if proxy else moto.endpoint)
    tf.init()

    def check_reference(expected):
        singletons = ("vpc", "igw", "flow_log", "kms_key", "kms_alias", "eks_cluster", "node_group", "db_instance",
                      "db_subnet_group", "launch_template", "oidc_provider")
        assert {k: expected[k] for k in singletons} == {k: 1 for k in singletons}, expected
        assert expected["nat"] == 2 and expected["eip"] == 2 and expected["subnet"] == 4, expected

    # The reference (an uninterrupted apply and destroy), then the chain: each apply dies right after its
    # first object-creating call, until one completes (harness/killpoints.py: run_chain).
    chain = run_chain(tf, inventory=lambda: inventory(moto, NAME), addresses=["platform_environment.e"],
                      proxy=proxy, check_reference=check_reference, max_runs=MAX_RUNS)
    assert {k: v for k, v in chain.destroyed.items() if v} == {}
    kills = chain.kills
    print(f"\n[{driver}] kill points: {len(kills)} (reference apply made {chain.creates} object-creating calls of "
          f"{len(chain.reference.calls)} AWS calls); chain took {chain.seconds:.1f}s; killed after: {kills}")
    # Concurrent creates (subnets, roles, the key...) can finish before the kill lands (more so behind the
    # log's latency), so one kill may cover several; the chain still kills once per apply until nothing is
    # left to make. Measured: log 9-10, proxy 14-15 kill points of 30 creates.
    assert len(kills) >= (10 if driver == "proxy" else 5), kills
    assert left_over(moto, NAME) == {}


def test_kill_between_create_key_and_create_alias_adopts_the_key_by_its_owner_tag(tf, clean_moto, fault_proxy):
    """The issue's orphan: the cluster's secrets key made, the provider killed before its alias. The key
    has no name; the next apply finds it by its owner tag, gives it its alias, and destroy removes it."""
    moto = clean_moto
    tf.write_config(env_hcl(NAME), endpoint=fault_proxy.url)
    tf.init()
    r = apply_killing_provider(tf, lambda calls: calls[-1] == "CreateKey", proxy=fault_proxy)
    assert r.killed_after == "CreateKey" and r.returncode != 0, r.output
    inv = inventory(moto, NAME)
    assert (inv["kms_key"], inv["kms_alias"]) == (1, 0), inv
    tf.apply()
    inv = inventory(moto, NAME)
    assert (inv["kms_key"], inv["kms_alias"]) == (1, 1), inv
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    assert left_over(moto, NAME) == {}


def test_kill_after_create_vpc_then_reapply_sets_the_adopted_vpcs_dns_attributes(tf, clean_moto, fault_proxy):
    """A kill between CreateVpc and its two ModifyVpcAttribute calls leaves a VPC without DNS support and
    hostnames (EKS needs both). The next apply adopts the VPC by its owner tag and must set them, as it
    does on a VPC it creates; counting objects alone would not notice."""
    moto = clean_moto
    tf.write_config(env_hcl(NAME), endpoint=fault_proxy.url)
    tf.init()
    r = apply_killing_provider(tf, lambda calls: calls[-1] == "CreateVpc", proxy=fault_proxy)
    assert r.killed_after == "CreateVpc" and r.returncode != 0, r.output
    ec2 = moto.client("ec2")
    owned = [{"Name": "tag:platform:owner", "Values": [f"platform_environment/{NAME}"]}]
    vpcs = ec2.describe_vpcs(Filters=owned)["Vpcs"]
    assert len(vpcs) == 1, vpcs
    vpc_id = vpcs[0]["VpcId"]

    def dns() -> tuple:
        support = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsSupport")
        hostnames = ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
        return support["EnableDnsSupport"]["Value"], hostnames["EnableDnsHostnames"]["Value"]

    assert dns() == (True, False), "moto's default for a new VPC: DNS support on, hostnames off"
    tf.apply()
    assert inventory(moto, NAME)["vpc"] == 1
    assert dns() == (True, True)
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    assert left_over(moto, NAME) == {}
