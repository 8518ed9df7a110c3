#!/usr/bin/env python3
"""platform_environment side by side with the same environment in hashicorp/aws 3.39.0 resources.

Prints (never asserts) figures for bench/environment/platform/main.tf (one ``platform_environment``) and
bench/environment/aws/main.tf (about forty fine-grained aws 3.39.0 resources), both run by the same
Terraform (.tools/bin/terraform v1.0.3) against the same moto server on 127.0.0.1.

Each run, for each provider in turn (runs interleaved, so a slow moment of the machine hits both alike):
reset moto, a fresh work directory with the configuration, an untimed ``terraform init`` from the mirror,
then four timed phases:

* apply    ``terraform apply -auto-approve``
* refresh  ``terraform plan -refresh-only -detailed-exitcode`` (reads every object back)
* plan     ``terraform plan -detailed-exitcode``
* destroy  ``terraform destroy -auto-approve``

Per phase: AWS API calls (requests moto answered during the phase, counted in its access log), wall
seconds, and provider peak RSS (max VmHWM over the terraform-provider-* processes of the command, polled).
The plans' exit codes are kept: 0 is "no changes", 2 is "changes" (for the refresh-only plan: drift).

Run it through ``bench/run.sh --environment``, which fetches the peer and builds the mirror first.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import platform as pyplatform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional

import bench
from bench import CACHE, MiB, Provider, cell, log, median

CONFIGS = Path(__file__).resolve().parent / "environment"
SECTION = "## platform_environment vs hashicorp/aws 3.39.0"
KEYS = ("platform", "aws")  # ours first: the ratio column is platform / aws

# key, label, terraform arguments; plans exit 2 when they find changes, which is a result, not a failure
PHASES = [
    ("apply", "apply", ("apply", "-input=false", "-no-color", "-auto-approve")),
    ("refresh", "plan -refresh-only", ("plan", "-input=false", "-no-color", "-refresh-only", "-detailed-exitcode")),
    ("plan", "plan", ("plan", "-input=false", "-no-color", "-detailed-exitcode")),
    ("destroy", "destroy", ("destroy", "-input=false", "-no-color", "-auto-approve")),
]
PLANS = ("refresh", "plan")

# key, label, decimals
METRICS = [
    ("calls", "AWS API calls", 0),
    ("wall", "wall (s)", 2),
    ("rss", "provider peak RSS (MiB)", 1),
]

# The goals for platform, on the ratio platform/aws of medians: printed, never asserted.
GOALS: Dict[tuple, tuple] = {
    ("refresh", "calls"): ("<= 1/3 of aws", lambda r: r <= 1 / 3),
    ("apply", "wall"): ("< aws", lambda r: r < 1),
    ("refresh", "wall"): ("< aws", lambda r: r < 1),
    ("plan", "wall"): ("< aws", lambda r: r < 1),
    **{(phase, "rss"): ("<= 1/4 of aws", lambda r: r <= 0.25) for phase, _, _ in PHASES},
}

# What a plan that exits 2 reports: the refresh-only plan lists objects changed outside Terraform; a normal
# plan lists actions (it may list outside changes too, as a note, without exiting 2 for them).
CHANGED_RE = {
    "refresh": re.compile(r"^\s*# (\S+) has been (?:changed|deleted)", re.M),
    "plan": re.compile(r"^\s*# (\S+) (?:will be|must be)", re.M),
}
ADDED_RE = re.compile(r"Resources: (\d+) added")

WHAT = """\
What each side creates (same AZs us-east-1a/b, VPC 10.20.0.0/16 with the same four /20 subnets):

- both: VPC, 2 private + 2 public subnets, internet gateway, 2 EIPs + 2 NAT gateways (one per AZ), a public
  route table with its default route to the IGW and 2 private ones with a default route to their AZ's NAT,
  4 route-table associations; flow log (traffic type ALL) to a CloudWatch log group (30 days) delivered by
  an IAM role with an inline policy; the EKS control-plane log group (30 days); EKS cluster 1.31 (all five
  log types, private endpoint only) with its role + AmazonEKSClusterPolicy; node role + 3 policy
  attachments; node group `general` (t3.medium, 1..3, desired 2, 20 GiB) in the private subnets; a node
  security group (egress all), also given to the cluster's `vpc_config`; DB subnet group (private
  subnets); DB security group with one ingress rule (tcp 5432 from the node security group); postgres 16
  db.t4g.micro, 20 GiB, encrypted, private, 7 days of backups, no deletion protection, no final snapshot.
- only platform: KMS key (with rotation and an alias) encrypting the cluster's secrets; IAM OIDC provider
  for the cluster; a launch template for the node group (encrypted root volume, IMDSv2, the node
  security group on the nodes); RDS enhanced monitoring (interval 60) with its role + policy attachment;
  the master password generated and kept by Secrets Manager (`manage_master_user_password`); ownership
  tags on every object, which idempotent create and the batched refresh look up.
- only aws 3.39.0: nothing extra in AWS. The master password is a literal in the configuration and in
  the state (3.39.0 has no `manage_master_user_password`); without a launch template the node security
  group reaches the control-plane ENIs but not the nodes; `default_tags` put two tags on what it creates.
"""

NOTES = """\
- moto answers every create at once (no real AWS waits), but the peer still sleeps in its waiters:
  aws_db_instance waits ~30 s after create and after delete, aws_nat_gateway and aws_internet_gateway
  ~10 s on delete (the initial delays and poll intervals of aws 3.39.0's waiters, not moto). This is
  most of the peer's apply and destroy wall time here; on real AWS both sides wait for RDS and EKS for
  minutes, so the wall-time ratios of apply and destroy say little about real use.
- moto's DescribeNodegroup reports a `remoteAccess` key pair that was never asked for; the peer's
  configuration ignores `remote_access` (`lifecycle.ignore_changes`), otherwise every plan would replace
  the node group. platform does not treat it as drift.
- The peer's refresh-only plan exits 2 and lists most of its resources, all for state it could not know
  at apply time, not for changes in moto: with fine-grained resources, what one resource creates shows up
  in another's first read (the routes in each `aws_route_table`, the ingress rule in the DB security
  group, the NAT's association in each `aws_eip`, the attached policies in each role's
  `managed_policy_arns`), and with `default_tags` aws 3.39.0 stores `tags = null` at create and reads back
  `{}` (empty lists likewise). Its normal plan exits 0 (no actions).
- moto answers ListNodegroups on a cluster that does not exist yet (part of platform's batched look for
  existing objects before it creates any) with a 500 instead of ResourceNotFoundException; the apply goes
  on, and the request counts in platform's apply calls.
"""


def config_of(key: str) -> Callable[[str], str]:
    """bench/environment/<key>/main.tf as it is: the endpoint reaches it as TF_VAR_endpoint."""
    text = (CONFIGS / key / "main.tf").read_text()
    return lambda endpoint: text


def run_once(prov: Provider, moto: bench.Moto, root: Path, cli_config: Path, interval: float) -> None:
    """One apply / refresh / plan / destroy cycle on an empty moto; figures go to ``prov.results``."""
    moto.reset()
    work = bench.Workdir(prov, root, moto.url, cli_config)
    work.env["TF_VAR_endpoint"] = moto.url
    work.check("init", "-input=false", "-no-color")
    for phase, _, args in PHASES:
        before = moto.requests_served()
        run = work.watch(args, interval)
        calls = moto.requests_served() - before
        if run.returncode != 0 and not (phase in PLANS and run.returncode == 2):
            raise RuntimeError(f"{prov.label}: terraform {' '.join(args)} failed:\n{run.output}")
        if not run.peak_kib:
            raise RuntimeError(f"{prov.label}: no provider process seen during {phase}")
        prov.results.setdefault(f"{phase}_calls", []).append(float(calls))
        prov.results.setdefault(f"{phase}_wall", []).append(run.wall)
        prov.results.setdefault(f"{phase}_rss", []).append(max(run.peak_kib.values()) * 1024 / MiB)
        if phase in PLANS:
            prov.results.setdefault(f"{phase}_exit", []).append(float(run.returncode))
            changed = sorted(set(CHANGED_RE[phase].findall(run.output)))
            if run.returncode == 2 and changed:
                prov.notes[f"{phase}_changed"] = ", ".join(changed)
        added = ADDED_RE.search(run.output)
        if phase == "apply" and added:
            prov.notes["resources"] = added.group(1)


def render_table(provs: List[Provider]) -> str:
    ours, peer = provs
    header = ["phase", "metric: median (min)", ours.label, peer.label, f"{ours.key}/{peer.key}", "goal (platform)"]
    rows = [header]
    for metric, mlabel, dec in METRICS:
        for phase, plabel, _ in PHASES:
            key = f"{phase}_{metric}"
            mine, theirs = ours.results.get(key), peer.results.get(key)
            ratio = median(mine) / median(theirs) if mine and theirs and median(theirs) > 0 else None
            goal = GOALS.get((phase, metric))
            rows.append([
                plabel, mlabel, cell(mine, dec), cell(theirs, dec),
                "n/a" if ratio is None else f"{ratio:.2f}x",
                "" if goal is None or ratio is None else f"{goal[0]}: {'met' if goal[1](ratio) else 'NOT met'}",
            ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def exit_codes(provs: List[Provider]) -> List[str]:
    """One line per provider: the plans' exit codes, run by run, and what they reported as changed."""
    lines = []
    for p in provs:
        codes = "; ".join(f"{label} {','.join(str(int(c)) for c in p.results.get(f'{phase}_exit', []))}"
                          for phase, label, _ in PHASES if phase in PLANS)
        lines.append(f"{p.label}: plan exit codes per run (0 no changes, 2 changes): {codes}")
        for phase, label, _ in PHASES:
            if f"{phase}_changed" in p.notes:
                lines.append(f"  {label} reported changes to: {p.notes[f'{phase}_changed']}")
    return lines


def write_section(path: Path, body: List[str], section: str = SECTION) -> None:
    """Put ``body`` under ``section`` in ``path``, replacing that section if it is there (up to the next
    ``## `` heading) and keeping everything else, e.g. bench.py's report above it. bench/releases.py
    writes its own section with this too."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    start = text.find(section)
    if start < 0:
        before, after = text.rstrip("\n") + "\n\n", ""
    else:
        before = text[:start]
        end = text.find("\n## ", start + len(section))
        after = text[end:] if end >= 0 else ""
    path.write_text(before + section + "\n\n" + "\n".join(body).rstrip("\n") + "\n" + after)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--platform-binary", type=Path,
                    default=Path(os.environ.get("CARGO_TARGET_DIR", bench.REPO_ROOT / "target"))
                    / "release/terraform-provider-platform")
    ap.add_argument("--mirror", type=Path, default=CACHE / "mirror",
                    help="filesystem mirror that already holds our provider (scripts/build_mirror.py)")
    ap.add_argument("--workdir", type=Path, default=CACHE / "environment",
                    help="where the work directories, the CLI config and moto's log go")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--poll-ms", type=float, default=20.0, help="RSS polling interval")
    ap.add_argument("--out", type=Path, default=bench.REPO_ROOT / "bench" / "results.md",
                    help=f"markdown report whose '{SECTION[3:]}' section is (re)written; '-' for none")
    args = ap.parse_args(argv)

    provs = [dataclasses.replace(p, config=config_of(p.key))
             for p in bench.providers(args.platform_binary) if p.key in KEYS]
    if not bench.tools_present(provs):
        return 2

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = bench.loadavg()
    cpu_before = bench.cpu_seconds()
    t_start = time.monotonic()
    tf_version = subprocess.run([str(bench.TERRAFORM), "version"], capture_output=True, text=True,
                                env=bench.base_env()).stdout.split("\n")[0]
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cli_config = workdir / "terraform.rc"
    bench.prepare_mirror(provs, args.mirror.resolve(), cli_config)
    moto: Optional[bench.Moto] = None
    # SIGTERM/SIGHUP unwind through the finally below, so moto is stopped.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    try:
        moto = bench.Moto(workdir / "moto.log")
        log(f"moto: {moto.url} (pid {moto.proc.pid})")
        for n in range(1, args.runs + 1):
            for p in provs:
                log(f"run {n}/{args.runs}: {p.label}: init (not timed), apply, refresh-only plan, plan, destroy")
                run_once(p, moto, workdir / "work", cli_config, args.poll_ms / 1000.0)
    finally:
        if moto is not None:
            moto.stop()
            log(f"moto: stopped (pid {moto.proc.pid})")
    elapsed = time.monotonic() - t_start
    load_after = bench.loadavg()
    cpu_after = bench.cpu_seconds()
    other_cpu = max(0.0, (cpu_after[0] - cpu_before[0]) - (cpu_after[1] - cpu_before[1]))
    other = f"{other_cpu:.0f} CPU-s ({100 * other_cpu / (elapsed * (os.cpu_count() or 1)):.0f}% of the machine)"

    table = render_table(provs)
    codes = exit_codes(provs)
    print(table)
    print(f"cells: median (min) over {args.runs} runs; other processes used {other} during the run;"
          f" 1-minute load average before {load_before}, at the end {load_after}")
    print("\n".join(codes))
    if str(args.out) == "-":
        return 0
    import moto as moto_pkg

    resources = ", ".join(f"{p.label} {p.notes.get('resources', '?')}" for p in provs)
    write_section(args.out, [
        f"Measured {started.strftime('%Y-%m-%d %H:%M UTC')} by `bench/run.sh --environment` on"
        f" {bench.machine_description()}; took {elapsed:.0f} s. Other processes used {other} while it ran;"
        f" 1-minute load average {load_before} before, {load_after} at the end (includes the benchmark"
        f" itself); the benchmark ran at nice {os.nice(0)}.",
        f"{tf_version}, moto {moto_pkg.__version__} on 127.0.0.1, Python {pyplatform.python_version()};"
        f" repository at {bench.git_describe()}.",
        "",
        "```",
        table,
        "```",
        "",
        f"Cells are median (min) over {args.runs} runs; the ratio column divides medians; goals are the"
        " issue's, printed, never asserted. Each run starts on a reset moto with a fresh work directory and"
        " an untimed `terraform init` from the mirror; the phases run in the order of the table. AWS API"
        " calls are the requests moto's access log shows during the phase; peak RSS is the max VmHWM over"
        f" the terraform-provider-* processes of the command, polled every {args.poll_ms:g} ms (which also"
        " runs during the timed phases). Resources in the state after apply: " + resources + ".",
        "",
        *[f"  - {line.strip()}" if line.startswith("  ") else f"- {line}" for line in codes],
        "",
        WHAT,
        "Notes on moto and the peer:",
        "",
        NOTES,
    ])
    log(f"wrote the '{SECTION[3:]}' section of {args.out} ({elapsed:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
