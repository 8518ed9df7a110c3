#!/usr/bin/env python3
"""platform_helm_release at scale: 1, 10 and 30 releases of the microservice chart on one cluster.

Prints (never asserts) figures for configurations of N ``platform_helm_release`` resources (one
``for_each`` over N services, each a release of terraform-modules/charts/microservice with small valid
values and ``wait = false``), run by Terraform (.tools/bin/terraform v1.0.3) against ONE real
kube-apiserver v1.20.2 (tests/harness/kube.py, no kubelet: pods stay Pending, hence no waiting) with the
real helm v3 (.tools/bin/helm). The provider configures AWS too, so its endpoints point at a moto server.
Each size has its own namespace (created once, untimed, before the first run).

Each run, for each size in turn (runs interleaved, so a slow moment of the machine hits every size alike):
a fresh work directory, an untimed ``terraform init`` from the mirror, then timed phases:

* apply    ``terraform apply -auto-approve`` (creates the N releases)
* plan     ``terraform plan -detailed-exitcode`` with nothing changed (refresh and render of every release)
* for the largest size only, one image-tag change among the N:
  * plan (1 change)   ``terraform plan -detailed-exitcode -out=...``, then (untimed) ``terraform show -json``
    of that plan: resource_changes other than no-op (expected: 1)
  * apply (1 change)  ``terraform apply -auto-approve``; then ``helm history`` of every release (expected: the
    changed one at revision 2, every other at revision 1)
* destroy  ``terraform destroy -auto-approve`` (uninstalls and waits until the objects are gone)

Per phase: wall seconds and provider peak RSS (max VmHWM over the terraform-provider-* processes of the
command, polled; helm's own processes are not in it). Unless --no-count-helm, one more untimed no-change
plan per size and run goes through a wrapper script as ``helm_binary`` that logs each helm process's
subcommand, wall time and CPU time, so the report can say how many helm processes one plan spawns and where
its CPU goes (helm; Terraform, provider and wrappers together; the API server, etcd, controller-manager and
moto, read from /proc).

Run it through ``bench/run.sh --releases``, which builds the mirror first.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime
import json
import os
import platform as pyplatform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import bench
import environment
from bench import CACHE, MiB, Provider, cell, log, median

sys.path.insert(0, str(bench.REPO_ROOT / "tests"))
from harness.kube import KUBE_VERSION, KubeCluster  # noqa: E402

SECTION = "## platform_helm_release at scale"
HELM = bench.TOOLS / "bin" / "helm"
CHART = bench.REPO_ROOT / "terraform-modules" / "charts" / "microservice"
TAG_1 = "3f2c1a9"
TAG_2 = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
SIZES = (1, 10, 30)

# key, label, terraform arguments; plans exit 2 when they find changes, which is a result, not a failure
PLAN_ARGS = ("plan", "-input=false", "-no-color", "-detailed-exitcode")
APPLY_ARGS = ("apply", "-input=false", "-no-color", "-auto-approve")
PHASES = [
    ("apply", "apply (create)"),
    ("plan", "plan, no changes"),
    ("plan1", "plan, 1 tag changed"),
    ("apply1", "apply, 1 tag changed"),
    ("destroy", "destroy"),
]
CHANGE_PHASES = ("plan1", "apply1")  # only for the largest size

# key, label, decimals
METRICS = [
    ("wall", "wall (s)", 2),
    ("rss", "provider peak RSS (MiB)", 1),
]

CONFIG = """\
terraform {
  required_providers {
    platform = {
      source  = "platformkit/platform"
      version = "%(version)s"
    }
  }
}

variable "endpoint" { type = string }
variable "helm_binary" { type = string }
variable "kube_host" { type = string }
variable "kube_token" {
  type      = string
  sensitive = true
}
variable "kube_ca" { type = string }
variable "chart" { type = string }
variable "namespace" { type = string }
variable "image_tags" { type = map(string) } # service name -> image tag: one release each

provider "platform" {
  region = "us-east-1"
  endpoints {
    url = var.endpoint
  }
  helm_binary = var.helm_binary
  kubernetes {
    host                   = var.kube_host
    token                  = var.kube_token
    cluster_ca_certificate = var.kube_ca
  }
}

resource "platform_helm_release" "svc" {
  for_each         = var.image_tags
  name             = each.key
  namespace        = var.namespace
  create_namespace = true
  chart            = var.chart
  values = jsonencode({
    image = {
      repository = "127.0.0.1:5000/${each.key}"
      tag        = each.value
    }
    replicaCount = 1
  })
  wait = false
}
""" % {"version": bench.PLATFORM_VERSION}

# The wrapper given as helm_binary for the counting plan: runs the real helm, then logs one line per helm
# process: its subcommand (with "--dry-run=server" for a render), its wall milliseconds and the CPU time of
# the shell's children (`times`, second line: helm and the two `date`s). Lines this short are appended
# atomically by concurrent processes.
HELM_WRAPPER = """\
#!/bin/sh
cmd="$1"
[ "$1" = get ] && cmd="get $2"
for a in "$@"; do [ "$a" = --dry-run=server ] && cmd="$cmd --dry-run=server"; done
t0=$(date +%%s%%N)
'%(helm)s' "$@"
rc=$?
t1=$(date +%%s%%N)
times > '%(log)s.'$$
echo "$cmd|$(( (t1 - t0) / 1000000 ))|$(tail -n 1 '%(log)s.'$$)" >> '%(log)s'
rm -f '%(log)s.'$$
exit $rc
"""
TIMES_RE = re.compile(r"(\d+)m([\d.]+)s")

CHANGED_RE = re.compile(r"Resources: (\d+) added, (\d+) changed, (\d+) destroyed")


def service_names(n: int) -> List[str]:
    return [f"svc-{i:02d}" for i in range(1, n + 1)]


def namespace_of(n: int) -> str:
    return f"bench-releases-{n}"


@dataclasses.dataclass
class Checks:
    """What the runs found besides timings: printed and written to the report."""
    exits: Dict[str, List[int]] = dataclasses.field(default_factory=dict)  # plan exit codes by "<n>/<phase>"
    change_counts: List[int] = dataclasses.field(default_factory=list)  # plan1's resource_changes != no-op
    change_addresses: List[str] = dataclasses.field(default_factory=list)
    apply1_summaries: List[str] = dataclasses.field(default_factory=list)  # "Resources: 0 added, 1 changed..."
    revisions: List[str] = dataclasses.field(default_factory=list)  # per run: "1 at revision 2, 29 at 1"
    revisions_ok: List[bool] = dataclasses.field(default_factory=list)
    counted: Dict[int, List["Counted"]] = dataclasses.field(default_factory=dict)  # the counting plans, by size
    leftovers: List[str] = dataclasses.field(default_factory=list)  # releases left after destroy


@dataclasses.dataclass
class Counted:
    """One no-change plan through the logging wrapper."""
    calls: List[tuple]  # (subcommand, wall ms, CPU s) per helm process
    wall: float  # s
    tree_cpu: float  # CPU-s of terraform and everything it waited for: providers, wrappers, helm
    servers_cpu: Dict[str, float]  # CPU-s of the cluster's processes and moto during the plan

    @property
    def helm_cpu(self) -> float:
        return sum(c for _, _, c in self.calls)


def proc_cpu(pid: int) -> float:
    """user + system CPU-s of a running process, from /proc/<pid>/stat (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def count_plan(work: bench.Workdir, n: int, kube: KubeCluster, moto: bench.Moto, interval: float) -> Counted:
    """An untimed no-change plan whose helm_binary is the logging wrapper."""
    calls = work.dir.parent / f"helm-calls-{n}.log"
    calls.unlink(missing_ok=True)
    wrapper = work.dir.parent / "helm-counting"
    wrapper.write_text(HELM_WRAPPER % {"log": calls, "helm": HELM})
    wrapper.chmod(0o755)
    servers = {**{name: p.pid for name, p in kube.processes.items()}, "moto": moto.proc.pid}
    env = dict(work.env)
    work.env["TF_VAR_helm_binary"] = str(wrapper)
    servers_before = {name: proc_cpu(pid) for name, pid in servers.items()}
    tree_before = children_cpu()
    try:
        run = work.watch(PLAN_ARGS, interval)
    finally:
        work.env = env
    tree_cpu = children_cpu() - tree_before
    servers_cpu = {name: proc_cpu(pid) - servers_before[name] for name, pid in servers.items()}
    if run.returncode not in (0, 2):
        raise RuntimeError(f"{n} releases: the counting plan failed:\n{run.output}")
    parsed = []
    for line in (calls.read_text().split("\n") if calls.exists() else []):
        if not line:
            continue
        kind, ms, times = line.split("|")
        cpu = sum(int(m) * 60 + float(sec) for m, sec in TIMES_RE.findall(times))
        parsed.append((kind, int(ms), cpu))
    return Counted(parsed, run.wall, tree_cpu, servers_cpu)


def helm(kube: KubeCluster, *args: str) -> str:
    return subprocess.run([str(HELM), "--kubeconfig", str(kube.kubeconfig_path), *args], capture_output=True,
                          text=True, timeout=120, check=True, env=bench.base_env()).stdout


def revisions(kube: KubeCluster, namespace: str, names: List[str]) -> Dict[str, int]:
    """The latest revision of every release in ``names``, from ``helm history``."""
    out = {}
    for name in names:
        hist = json.loads(helm(kube, "history", name, "--namespace", namespace, "--output", "json"))
        out[name] = max(int(h["revision"]) for h in hist)
    return out


def timed(prov: Provider, work: bench.Workdir, n: int, phase: str, args: tuple, interval: float) -> bench.Watched:
    run = work.watch(args, interval)
    if run.returncode != 0 and not (args[0] == "plan" and run.returncode == 2):
        raise RuntimeError(f"{n} releases: terraform {' '.join(args)} failed:\n{run.output}")
    if not run.peak_kib:
        raise RuntimeError(f"{n} releases: no provider process seen during {phase}")
    prov.results.setdefault(f"{n}_{phase}_wall", []).append(run.wall)
    prov.results.setdefault(f"{n}_{phase}_rss", []).append(max(run.peak_kib.values()) * 1024 / MiB)
    return run


def run_once(prov: Provider, n: int, change: bool, kube: KubeCluster, moto: bench.Moto, root: Path,
             cli_config: Path, interval: float, count_helm: bool, checks: Checks) -> None:
    """One apply / plan / [one-change plan and apply] / destroy cycle of ``n`` releases."""
    names = service_names(n)
    ns = namespace_of(n)
    work = bench.Workdir(prov, root / f"r{n}", moto.url, cli_config)
    tfvars = work.dir / "terraform.tfvars.json"
    tfvars.write_text(json.dumps({"image_tags": {s: TAG_1 for s in names}}, indent=2) + "\n")
    work.env.update(TF_VAR_endpoint=moto.url, TF_VAR_helm_binary=str(HELM), TF_VAR_kube_host=kube.host,
                    TF_VAR_kube_token=kube.token, TF_VAR_kube_ca=kube.ca_pem, TF_VAR_chart=str(CHART),
                    TF_VAR_namespace=ns)
    work.check("init", "-input=false", "-no-color")

    timed(prov, work, n, "apply", APPLY_ARGS, interval)
    run = timed(prov, work, n, "plan", PLAN_ARGS, interval)
    checks.exits.setdefault(f"{n}/plan", []).append(run.returncode)

    if count_helm:  # untimed: the same plan through the logging wrapper
        checks.counted.setdefault(n, []).append(count_plan(work, n, kube, moto, interval))

    if change:
        target = names[len(names) // 2]
        tags = {s: TAG_1 for s in names}
        tags[target] = TAG_2
        tfvars.write_text(json.dumps({"image_tags": tags}, indent=2) + "\n")
        run = timed(prov, work, n, "plan1", (*PLAN_ARGS, "-out=change.tfplan"), interval)
        checks.exits.setdefault(f"{n}/plan1", []).append(run.returncode)
        shown = subprocess.run([str(bench.TERRAFORM), "show", "-json", "change.tfplan"], cwd=work.dir,
                               env=work.env, capture_output=True, text=True, check=True).stdout
        changes = [c for c in json.loads(shown).get("resource_changes", [])
                   if c["change"]["actions"] != ["no-op"]]
        checks.change_counts.append(len(changes))
        checks.change_addresses.append(", ".join(f"{c['address']} {'/'.join(c['change']['actions'])}"
                                                 for c in changes))
        run = timed(prov, work, n, "apply1", APPLY_ARGS, interval)
        summary = CHANGED_RE.search(run.output)
        checks.apply1_summaries.append(summary.group(0) if summary else "no summary line")
        revs = revisions(kube, ns, names)
        at = collections.Counter(revs.values())
        checks.revisions.append(", ".join(f"{c} at revision {r}" for r, c in sorted(at.items(), reverse=True))
                                + f" (changed: {', '.join(s for s, r in revs.items() if r != 1) or 'none'})")
        checks.revisions_ok.append(at == collections.Counter({1: n - 1, 2: 1}) and revs[target] == 2)

    timed(prov, work, n, "destroy", ("destroy", "-input=false", "-no-color", "-auto-approve"), interval)
    left = json.loads(helm(kube, "list", "--namespace", ns, "--all", "--output", "json") or "[]")
    if left:
        checks.leftovers.append(f"{n}: {', '.join(r['name'] for r in left)}")


def render_table(prov: Provider, sizes: List[int]) -> str:
    header = ["phase", "metric: median (min)", *[f"{n} release{'s' if n > 1 else ''}" for n in sizes],
              f"per release, {sizes[0]} to {sizes[-1]}"]
    rows = [header]
    for metric, mlabel, dec in METRICS:
        for phase, plabel in PHASES:
            cells = [prov.results.get(f"{n}_{phase}_{metric}") for n in sizes]
            if not any(cells):
                continue
            slope = ""
            first, last = cells[0], cells[-1]
            if metric == "wall" and first and last and sizes[-1] > sizes[0]:
                slope = f"{(median(last) - median(first)) / (sizes[-1] - sizes[0]):.3f}"
            rows.append([plabel, mlabel, *[cell(c, dec) if c else "-" for c in cells], slope])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = []
    for k, r in enumerate(rows):
        out.append("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def check_lines(checks: Checks, sizes: List[int]) -> List[str]:
    big = sizes[-1]
    lines = []
    labels = dict(PHASES)
    for key, codes in checks.exits.items():
        n, phase = key.split("/")
        lines.append(f"{n} release{'s' if n != '1' else ''}, {labels[phase]}: exit codes per run (0 no changes,"
                     f" 2 changes): {','.join(str(c) for c in codes)}")
    if checks.change_counts:
        lines.append(f"one tag changed among {big}: the plan's resource_changes other than no-op, per run:"
                     f" {','.join(str(c) for c in checks.change_counts)}"
                     f" ({'1 every run, as expected' if set(checks.change_counts) == {1} else 'NOT 1'});"
                     f" {'; '.join(sorted(set(checks.change_addresses)))}")
        lines.append(f"apply of that change, per run: {'; '.join(checks.apply1_summaries)}")
        lines.append(f"helm history after it, per run: {'; '.join(checks.revisions)}"
                     f" ({'as expected' if all(checks.revisions_ok) else 'NOT as expected'})")
    for n in sizes:
        runs = checks.counted.get(n)
        if not runs:
            continue
        per_kind = ", ".join(f"{k} {v['count']:g} x {v['wall']:.0f} ms wall, {v['cpu'] * 1000:.0f} ms CPU"
                             for k, v in sorted(helm_kinds(runs).items()))
        servers = " + ".join(f"{name} {median([r.servers_cpu[name] for r in runs]):.1f}"
                             for name in runs[0].servers_cpu)
        lines.append(f"{n} release{'s' if n > 1 else ''}: helm processes per no-change plan, per run:"
                     f" {','.join(str(len(r.calls)) for r in runs)} ({per_kind}; medians per process); CPU-s"
                     f" per plan (medians): helm {median([r.helm_cpu for r in runs]):.1f}, Terraform + provider"
                     f" + wrapper shells {median([r.tree_cpu - r.helm_cpu for r in runs]):.1f}, {servers};"
                     f" the plan took {median([r.wall for r in runs]):.1f} s through the wrapper")
    lines.append("releases left after destroy: " + ("; ".join(checks.leftovers) or "none"))
    return lines


def helm_kinds(runs: List[Counted]) -> Dict[str, Dict[str, float]]:
    """Per helm subcommand: processes per plan, and median wall ms and CPU-s per process."""
    walls: Dict[str, List[int]] = collections.defaultdict(list)
    cpus: Dict[str, List[float]] = collections.defaultdict(list)
    for r in runs:
        for kind, ms, cpu in r.calls:
            walls[kind].append(ms)
            cpus[kind].append(cpu)
    return {k: {"count": len(walls[k]) / len(runs), "wall": median(walls[k]), "cpu": median(cpus[k])}
            for k in walls}


def reading(prov: Provider, sizes: List[int], checks: Checks, other: str) -> str:
    """The paragraph under the table: the figures of this run put into words."""
    small, big = sizes[0], sizes[-1]

    def med(n: int, key: str) -> Optional[float]:
        values = prov.results.get(f"{n}_{key}")
        return median(values) if values else None

    def slope(key: str) -> str:
        a, b = med(small, key), med(big, key)
        return "n/a" if a is None or b is None or big == small else f"{(b - a) / (big - small):.2f} s"

    rss = [v for k, vs in prov.results.items() if k.endswith("_rss") for v in vs]
    parts = [
        f"Reading: a no-change plan of {small} release{'s' if small > 1 else ''} takes"
        f" {med(small, 'plan_wall') or float('nan'):.1f} s (Terraform and provider start-up, configure, one"
        f" refresh and one render), and each further release adds about {slope('plan_wall')} to it; create"
        f" adds about {slope('apply_wall')} per release and destroy about {slope('destroy_wall')}"
        f" (Terraform's default -parallelism=10, on this 2-core machine, where other processes used {other}"
        " while the benchmark ran: the walls are slower and noisier than on an idle machine).",
    ]
    runs = checks.counted.get(big)
    if runs:
        kinds = helm_kinds(runs)
        per_release = median([len(r.calls) for r in runs]) / big
        helm_cpu = median([r.helm_cpu for r in runs])
        tree_cpu = median([r.tree_cpu for r in runs])
        rest_cpu = median([r.tree_cpu - r.helm_cpu for r in runs])
        server_cpu = median([sum(r.servers_cpu.values()) for r in runs])
        wall = median([r.wall for r in runs])
        parts.append(
            f" Per release, a plan spawns {per_release:g} helm processes ("
            + ", ".join(f"`helm {k}` {v['cpu'] * 1000:.0f} ms CPU" for k, v in sorted(kinds.items()))
            + ", medians): `status` for the refresh, `version` before the render (checked again for every"
            " release, not once per provider process) and the server-side dry run of `helm upgrade --install`"
            " for the render, which loads the chart and has the API server dry-run every object. Besides helm,"
            " the provider reads the API server directly: /version before each render and one GET per object"
            f" of the release (four here) in each refresh. A no-change plan of {big} used {tree_cpu:.1f} CPU-s"
            f" in Terraform's process tree, {helm_cpu:.1f} of them in helm and {rest_cpu:.1f} in Terraform, the"
            " provider and the logging shells together (not told apart here), plus"
            f" {server_cpu:.1f} CPU-s in the API server, etcd, the controller-manager and moto, against"
            f" {wall:.1f} s of wall time on two cores: the helm processes are the largest share, and with ten"
            " releases at a time the plan is CPU-bound, so a helm process's wall time (a median"
            f" {kinds.get('upgrade --dry-run=server', {}).get('wall', float('nan')):.0f} ms for a render at"
            f" {big}) mostly measures waiting for a core.")
    if rss:
        parts.append(f" The provider's peak RSS stays between {min(rss):.1f} and {max(rss):.1f} MiB whatever"
                     " the number of releases (helm runs in its own processes, whose memory is not in that"
                     " figure).")
    if checks.change_counts:
        apply1, plan = med(big, "apply1_wall") or float("nan"), med(big, "plan_wall") or float("nan")
        spread = max(prov.results[f"{big}_plan_wall"]) - min(prov.results[f"{big}_plan_wall"])
        parts.append(
            f" Changing one image tag among {big} costs a plan of all {big} plus one `helm upgrade`: the apply"
            f" took {apply1:.1f} s against {plan:.1f} s for the no-change plan"
            + (" (the one upgrade is lost in the run-to-run noise here)" if apply1 - plan < max(spread, 0.5) else "")
            + ", the saved plan listed"
            f" {'exactly one change' if set(checks.change_counts) == {1} else 'NOT exactly one change'} and"
            f" helm history shows {'one release at revision 2 and the others at 1' if all(checks.revisions_ok) else 'NOT one release at revision 2'}"
            " after every run.")
    parts.append(" There is no peer column: the obvious comparison, the hashicorp/helm provider, is not"
                 " installable on this machine, so these figures stand alone.")
    return "".join(parts)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--platform-binary", type=Path,
                    default=Path(os.environ.get("CARGO_TARGET_DIR", bench.REPO_ROOT / "target"))
                    / "release/terraform-provider-platform")
    ap.add_argument("--mirror", type=Path, default=CACHE / "mirror",
                    help="filesystem mirror that already holds our provider (scripts/build_mirror.py)")
    ap.add_argument("--workdir", type=Path, default=CACHE / "releases",
                    help="where the work directories, the cluster, the CLI config and moto's log go")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)),
                    help="release counts, comma-separated; the one-change phases run for the largest")
    ap.add_argument("--poll-ms", type=float, default=20.0, help="RSS polling interval")
    ap.add_argument("--no-count-helm", dest="count_helm", action="store_false",
                    help="skip the extra untimed plan that counts helm processes")
    ap.add_argument("--out", type=Path, default=bench.REPO_ROOT / "bench" / "results.md",
                    help=f"markdown report whose '{SECTION[3:]}' section is (re)written; '-' for none")
    args = ap.parse_args(argv)
    sizes = sorted({int(x) for x in args.sizes.split(",") if x.strip()})

    prov = next(p for p in bench.providers(args.platform_binary) if p.key == "platform")
    prov = dataclasses.replace(prov, config=lambda endpoint: CONFIG)
    if not bench.tools_present([prov]):
        return 2
    if not os.access(HELM, os.X_OK):
        log(f"missing {HELM}: run scripts/bootstrap.sh")
        return 2

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = bench.loadavg()
    cpu_before = bench.cpu_seconds()
    t_start = time.monotonic()
    tf_version = subprocess.run([str(bench.TERRAFORM), "version"], capture_output=True, text=True,
                                env=bench.base_env()).stdout.split("\n")[0]
    helm_version = subprocess.run([str(HELM), "version", "--template", "{{.Version}}"], capture_output=True,
                                  text=True, env=bench.base_env()).stdout.strip()
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir / "kube", ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    cli_config = workdir / "terraform.rc"
    bench.prepare_mirror([prov], args.mirror.resolve(), cli_config)
    moto: Optional[bench.Moto] = None
    kube: Optional[KubeCluster] = None
    checks = Checks()
    # SIGTERM/SIGHUP unwind through the finally below, so moto and the cluster are stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    try:
        moto = bench.Moto(workdir / "moto.log")
        log(f"moto: {moto.url} (pid {moto.proc.pid})")
        kube = KubeCluster.start_on_free_ports(workdir / "kube")
        log(f"kube-apiserver {KUBE_VERSION}: {kube.host} (ready after"
            f" {max(kube.ready_after.values()):.1f} s; {kube!r})")
        for n in sizes:  # untimed: every run of a size finds its namespace there
            kube.create("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                               "metadata": {"name": namespace_of(n)}})
        for r in range(1, args.runs + 1):
            for n in sizes:
                change = n == sizes[-1]
                log(f"run {r}/{args.runs}: {n} releases: init (not timed), apply, plan"
                    f"{', plan and apply of one tag change' if change else ''}, destroy")
                run_once(prov, n, change, kube, moto, workdir / "work", cli_config, args.poll_ms / 1000.0,
                         args.count_helm, checks)
    finally:
        if kube is not None:
            kube.stop()
            log("kube: stopped")
        if moto is not None:
            moto.stop()
            log(f"moto: stopped (pid {moto.proc.pid})")
    elapsed = time.monotonic() - t_start
    load_after = bench.loadavg()
    cpu_after = bench.cpu_seconds()
    other_cpu = max(0.0, (cpu_after[0] - cpu_before[0]) - (cpu_after[1] - cpu_before[1]))
    other = f"{other_cpu:.0f} CPU-s ({100 * other_cpu / (elapsed * (os.cpu_count() or 1)):.0f}% of the machine)"

    table = render_table(prov, sizes)
    lines = check_lines(checks, sizes)
    print(table)
    print(f"cells: median (min) over {args.runs} runs; other processes used {other} during the run;"
          f" 1-minute load average before {load_before}, at the end {load_after}; took {elapsed:.0f} s")
    print("\n".join(lines))
    if str(args.out) == "-":
        return 0

    body = [
        f"Measured {started.strftime('%Y-%m-%d %H:%M UTC')} by `bench/run.sh --releases` on"
        f" {bench.machine_description()}; took {elapsed:.0f} s. Other processes used {other} while it ran;"
        f" 1-minute load average {load_before} before, {load_after} at the end (includes the benchmark"
        f" itself); the benchmark ran at nice {os.nice(0)}.",
        f"{tf_version}, helm {helm_version}, kube-apiserver {KUBE_VERSION} (tests/harness/kube.py: etcd,"
        f" apiserver and controller-manager on 127.0.0.1, no kubelet), Python {pyplatform.python_version()};"
        f" repository at {bench.git_describe()}; provider binary `{prov.binary.name}` sha256"
        f" `{bench.sha256_of(prov.binary)}`.",
        "",
        "```",
        table,
        "```",
        "",
        f"Cells are median (min) over {args.runs} runs; the last column is the slope between the smallest and"
        " the largest size (seconds per extra release, medians). Every size is N `platform_helm_release`"
        " instances (`for_each`) of terraform-modules/charts/microservice (image repository and tag,"
        " `replicaCount = 1`; the chart then renders a ServiceAccount, a Service, a Deployment and a"
        " PodDisruptionBudget per release), `wait = false`, one namespace per size on the same cluster. Each"
        " run and size starts with a fresh work directory and an untimed `terraform init`; sizes are"
        " interleaved within a run. Peak RSS is the max VmHWM over the terraform-provider-* processes of the"
        f" command, polled every {args.poll_ms:g} ms; the helm processes the provider spawns are not in it."
        " The one-change rows exist only for the largest size: one release's image tag changes, then"
        " `plan -out` and `apply` (which plans again).",
        "",
        *[f"- {line}" for line in lines],
        "",
        reading(prov, sizes, checks, other),
    ]
    environment.write_section(args.out, body, SECTION)
    log(f"wrote the '{SECTION[3:]}' section of {args.out} ({elapsed:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
