"""What the crash and resume tests share: the full environment they build, an inventory of every AWS
object carrying its owner tag (counted through boto3, never through the provider), a Terraform run
that reads the provider's own debug log as it streams and SIGKILLs the provider process right after a
chosen AWS call or Helm install, and a kill-point chain over any configuration (:func:`run_chain`).

The provider logs each AWS call once it has its answer (``CallLogger`` in provider/aws/src/logging.rs:
``AWS call`` with ``service=`` and ``operation=``), and each finished Helm install or upgrade
(provider/kube/src/release.rs: ``helm release installed`` with ``release=`` and ``revision=``); with
``TF_LOG_PROVIDER=debug`` Terraform copies those lines to its stderr, which this module reads line by
line. A Helm line enters the call list as ``helm:<release>:<revision>`` (see :func:`helm_install`).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from .configs import cluster_environment

TYPE = "platform_environment"

#: An AWS call line as Terraform prints it from the provider's log stream.
CALL_LINE = re.compile(r"AWS call.*?operation=\"?([A-Za-z0-9]+)")

#: A finished Helm install or upgrade as Terraform prints it from the provider's log stream.
HELM_LINE = re.compile(r"helm release installed")
HELM_FIELD = re.compile(r"\b(release|revision)=\"?([A-Za-z0-9._-]+)")

#: A log line (Terraform's own or the provider's); anything else on stderr is Terraform's diagnostics.
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT")

#: Operations that bring a new AWS object into being (tagging and route edits are not objects).
NOT_OBJECTS = {"CreateTags", "CreateRoute", "CreateLaunchTemplateVersion"}


def is_create(op: str) -> bool:
    return (op.startswith(("Create", "Run", "Allocate")) and op not in NOT_OBJECTS)


def helm_install(op: str) -> bool:
    """A Helm line that brought a release into being (its first revision; an upgrade of a release a
    killed run installed is no new object)."""
    return op.startswith("helm:") and op.endswith(":1")


def call_of(line: str) -> Optional[str]:
    """The call a provider log line reports: the AWS operation, ``helm:<release>:<revision>``, or None."""
    m = CALL_LINE.search(line)
    if m:
        return m.group(1)
    if HELM_LINE.search(line):
        fields = dict(HELM_FIELD.findall(line))
        return f"helm:{fields.get('release', '?')}:{fields.get('revision', '?')}"
    return None


def env_hcl(name: str, *, cidr: str = "10.60.0.0/16", deletion_protection: bool = False) -> str:
    """An environment with every part: two AZs, a NAT gateway per AZ, a cluster whose secrets key the
    resource creates, one node group and a database."""
    dp = "true" if deletion_protection else "false"
    database = f"""

  database {{
    engine              = "postgres"
    deletion_protection = {dp}
    skip_final_snapshot = true
  }}"""
    return "\n" + cluster_environment(name, cidr, max_size=2, desired_size=1, nat_gateways="per_az", extra=database)


def inventory(moto, name: str) -> Dict[str, int]:
    """How many live objects of each kind carry the owner tag of environment ``name`` (or, for kinds
    that AWS lists without tags, its names)."""
    owner = f"{TYPE}/{name}"
    f = [{"Name": "tag:platform:owner", "Values": [owner]}]
    ec2 = moto.client("ec2")
    out: Dict[str, int] = {}
    out["vpc"] = len(ec2.describe_vpcs(Filters=f)["Vpcs"])
    out["subnet"] = len(ec2.describe_subnets(Filters=f)["Subnets"])
    out["igw"] = len(ec2.describe_internet_gateways(Filters=f)["InternetGateways"])
    out["nat"] = len(
        [n for n in ec2.describe_nat_gateways(Filters=f)["NatGateways"] if n["State"] not in ("deleted", "deleting")]
    )
    out["eip"] = len(ec2.describe_addresses(Filters=f)["Addresses"])
    out["route_table"] = len(ec2.describe_route_tables(Filters=f)["RouteTables"])
    out["security_group"] = len(ec2.describe_security_groups(Filters=f)["SecurityGroups"])
    out["launch_template"] = len(ec2.describe_launch_templates(Filters=f)["LaunchTemplates"])
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=f)["Vpcs"]]
    out["flow_log"] = (
        len(ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": vpcs}])["FlowLogs"]) if vpcs else 0
    )
    logs = moto.client("logs")
    groups = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    out["log_group"] = len([g for g in groups if f"/{name}/" in g])
    iam = moto.client("iam")
    out["iam_role"] = len([r for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(f"{name}-")])
    out["oidc_provider"] = len(iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    kms = moto.client("kms")
    keys = 0
    for k in kms.list_keys()["Keys"]:
        tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]}
        if tags.get("platform:owner") == owner:
            if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] != "PendingDeletion":
                keys += 1
    out["kms_key"] = keys
    out["kms_alias"] = len(
        [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{name}-eks-secrets"]
    )
    eks = moto.client("eks")
    clusters = [c for c in eks.list_clusters()["clusters"] if c == name]
    out["eks_cluster"] = len(clusters)
    out["node_group"] = len(eks.list_nodegroups(clusterName=name)["nodegroups"]) if clusters else 0
    rds = moto.client("rds")
    out["db_instance"] = len(
        [d for d in rds.describe_db_instances()["DBInstances"] if d["DBInstanceIdentifier"] == f"{name}-db"]
    )
    out["db_subnet_group"] = len(
        [g for g in rds.describe_db_subnet_groups()["DBSubnetGroups"] if g["DBSubnetGroupName"] == f"{name}-db"]
    )
    return out


def left_over(moto, name: str) -> Dict[str, int]:
    return {k: v for k, v in inventory(moto, name).items() if v}


@dataclass
class KilledRun:
    """One ``terraform apply`` whose provider was SIGKILLed after the chosen AWS call (or not, when
    the apply ended first)."""

    returncode: int
    killed_after: Optional[str]
    calls: List[str] = field(default_factory=list)
    output: str = ""


def provider_pids(session: int) -> List[int]:
    """The terraform-provider-platform processes in session ``session`` (the apply's own session: it is
    started with ``start_new_session``, and Terraform 1.15 runs behind a launcher), from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            comm = stat[stat.index("(") + 1 : stat.rindex(")")]
            sid = int(stat[stat.rindex(")") + 2 :].split()[3])
        except (OSError, ValueError, IndexError):
            continue
        if sid == session and comm.startswith("terraform-provi"):
            pids.append(int(entry.name))
    return pids


def apply_killing_provider(
    tf, kill_when: Callable[[List[str]], bool], timeout: float = 300, proxy=None, whole_apply: bool = False
) -> KilledRun:
    """``terraform apply`` with the provider's debug log streamed; after each AWS call line,
    ``kill_when(calls so far)`` decides whether to SIGKILL the provider there and then.

    With ``proxy`` (a harness.faults.FaultProxy the provider's endpoint points at) the decision is made
    in the proxy instead, after moto has answered a call and before the answer is relayed: the object
    exists and the provider never learns its id, with no log latency in between.

    With ``whole_apply`` the kill takes Terraform with it (the apply's whole process group), as an
    operator's ``kill -9`` or a lost CI runner would: no state is written for what was in flight."""
    env = tf.environment()
    env["TF_LOG_PROVIDER"] = "debug"
    env.pop("TF_LOG", None)
    env.pop("TF_LOG_PATH", None)
    proc = subprocess.Popen(
        [str(tf.binary), "apply", "-auto-approve", "-input=false", "-no-color"],
        cwd=tf.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    out_chunks: List[str] = []
    reader = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)
    reader.start()
    calls: List[str] = []
    killed_after: Optional[str] = None
    err_tail: List[str] = []
    proxy_state = {"calls": [], "killed": None, "active": True}

    def kill() -> bool:
        """SIGKILL the provider (or, with ``whole_apply``, the apply's process group); False when
        there was nothing left to kill."""
        if whole_apply:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                return False
            return True
        pids = provider_pids(proc.pid)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        return bool(pids)

    lock = threading.Lock()
    if proxy is not None:
        def at_call(call) -> None:
            if call.attempt != 1 or call.status is None or call.status >= 300:
                return
            with lock:
                if proxy_state["killed"] is not None or not proxy_state["active"]:
                    return
                proxy_state["calls"].append(call.operation)
                if kill_when(list(proxy_state["calls"])) and kill():
                    proxy_state["killed"] = call.operation

        # Not proxy.clear(): requests of an earlier, killed provider may still be in the proxy's threads.
        proxy.on_call(at_call, when="after")
    deadline = time.time() + timeout
    assert proc.stderr is not None
    for line in proc.stderr:
        if time.time() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError("apply did not finish in time")
        op = call_of(line)
        if op is None:
            if not LOG_LINE.match(line):
                err_tail.append(line.rstrip())
            continue
        calls.append(op)
        if proxy is None and killed_after is None and kill_when(calls) and kill():
            killed_after = op
    proc.wait(timeout=120)
    reader.join(timeout=10)
    if proxy is not None:
        with lock:
            proxy_state["active"] = False
        killed_after = proxy_state["killed"]
    return KilledRun(proc.returncode, killed_after, calls, "".join(out_chunks) + "\n".join(err_tail[-20:]))


@dataclass
class Chain:
    """What a kill-point chain found: the uninterrupted reference run, the inventory it left, where each
    apply of the chain was killed, and how long the chain took."""

    reference: KilledRun
    expected: Dict[str, int]
    destroyed: Dict[str, int]
    kills: List[str]
    seconds: float

    @property
    def creates(self) -> int:
        return len([c for c in self.reference.calls if is_create(c) or helm_install(c)])


def run_chain(
    tf,
    *,
    inventory: Callable[[], Dict[str, int]],
    addresses: Sequence[str],
    proxy=None,
    kill_point: Callable[[str], bool] = is_create,
    reset: Optional[Callable[[], None]] = None,
    destroy_args: Sequence[str] = (),
    check_reference: Optional[Callable[[Dict[str, int]], None]] = None,
    max_runs: int = 120,
) -> Chain:
    """The kill-point chain over the configuration already written and initialised in ``tf``.

    1. The reference: an uninterrupted apply (through the same driver), its inventory (``inventory()``,
       counted by the test through boto3 / the API server, never through the provider; checked by
       ``check_reference``), then destroy (``destroy_args``, e.g. a ``-target``) and its inventory.
    2. ``reset()`` (e.g. moto reset + the test's set-up again), when given.
    3. The chain: each apply is SIGKILLed right after its first call for which ``kill_point(call)`` holds
       (driven by ``proxy`` when given, else by the provider's debug log), until an apply completes.
       After every kill no kind may count more than in the reference (a duplicate), and none of
       ``addresses`` may be in the state (Terraform never heard the create answer).
    4. The end: the inventory equals the reference's, the plan is empty, and destroy leaves what the
       reference's destroy left."""
    ref = apply_killing_provider(tf, lambda calls: False, proxy=proxy)
    assert ref.returncode == 0, ref.output
    expected = inventory()
    if check_reference is not None:
        check_reference(expected)
    tf.destroy(*destroy_args)
    destroyed = inventory()
    if reset is not None:
        reset()

    kills: List[str] = []
    started = time.monotonic()
    for run in range(max_runs):
        r = apply_killing_provider(tf, lambda calls: kill_point(calls[-1]), proxy=proxy)
        if r.returncode == 0:
            break  # the apply completed (before or despite a kill that came too late)
        assert r.killed_after is not None, f"the apply failed without a kill:\n{r.output}"
        kills.append(r.killed_after)
        now = inventory()
        dupes = {k: (v, expected.get(k, 0)) for k, v in now.items() if v > expected.get(k, 0)}
        assert dupes == {}, f"after a kill following {r.killed_after} (run {run + 1}): duplicates (now, reference) {dupes}"
        state = tf.state_list()
        assert not [a for a in addresses if a in state], (r.killed_after, state)
    else:
        raise AssertionError(f"no apply completed in {max_runs} runs; kills: {kills}")
    seconds = time.monotonic() - started

    now = inventory()
    diff = {k: (now.get(k, 0), expected.get(k, 0)) for k in set(now) | set(expected) if now.get(k, 0) != expected.get(k, 0)}
    assert diff == {}, f"after the chain (now, reference): {diff}; kills: {kills}"
    assert tf.plan() == 0, tf.last.output
    tf.destroy(*destroy_args)
    now = inventory()
    diff = {k: (now.get(k, 0), destroyed.get(k, 0)) for k in set(now) | set(destroyed) if now.get(k, 0) != destroyed.get(k, 0)}
    assert diff == {}, f"after destroy (now, reference destroy): {diff}"
    return Chain(ref, expected, destroyed, kills, seconds)
