#!/usr/bin/env python3
"""A cost curve: how platform and hashicorp/aws 3.39.0 grow with the size of a configuration.

Prints (never asserts) figures for two families of configurations, each at several sizes, written once
for platform (bench/scale/platform/<family>/main.tf) and once with the same objects for hashicorp/aws
3.39.0 (bench/scale/aws/<family>/main.tf), both run by the same Terraform (.tools/bin/terraform) against
the same moto server on 127.0.0.1:

* services    N ``platform_microservice`` on one environment (ECR repository with lifecycle and repository
              policies + IRSA role with an inline policy), against the same five aws resources per
              service. Helm releases are out: only the AWS side is measured (``--sizes-services``,
              default 1,10,50,100).
* management  the management stack (terraform-modules/organization: organization, one OU per three
              accounts with its two guardrail SCPs, the accounts in their OUs; no organization trail)
              against aws_organizations_* resources with the very SCP documents platform renders
              (``--sizes-management``, default 6,30,60 accounts).

For each run, family, size and provider (interleaved, so a slow moment of the machine hits both alike): a
reset moto, the state of the previous size removed, then three timed phases in one work directory
(initialised once per family and provider, not timed):

* apply    ``terraform apply -auto-approve`` (creates everything)
* refresh  ``terraform plan -refresh-only -detailed-exitcode`` (reads every object back)
* plan     ``terraform plan -detailed-exitcode``

Per phase: AWS API calls (requests moto answered, from its access log), wall seconds, provider peak RSS
(max VmHWM over the terraform-provider-* processes of the command, polled), provider CPU-seconds (utime +
stime of those processes, last poll before each exits, summed over them) and moto's CPU-seconds.

Then, per metric and phase: the least-squares slope over the sizes (cost per extra service or account),
the ratio of the slopes (platform / aws), and the growth check: the slope of the last step between sizes
over the slope of the step before it (about 1 for linear growth; flagged above --superlinear, default 1.5,
when the last step also adds more than a tenth of the value at the largest size).

Run it through ``bench/run.sh --scale``, which fetches the peer and builds the mirror first.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform as pyplatform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import bench
from bench import CACHE, MiB, Provider, log, median
from environment import write_section

CONFIGS = Path(__file__).resolve().parent / "scale"
SECTION = "## Cost curve"
KEYS = ("platform", "aws")  # ours first: ratios are platform / aws
FAMILIES = {
    "services": ("service", "services"),
    "management": ("account", "accounts"),
}
# The module source as written in bench/scale/platform/management/main.tf (right where it is in the
# repository); the copy in the work directory gets the path from there instead.
MODULE_SOURCE = '"../../../../terraform-modules/organization"'

PHASES = [
    ("apply", "apply", ("apply", "-input=false", "-no-color", "-auto-approve")),
    ("refresh", "plan -refresh-only", ("plan", "-input=false", "-no-color", "-refresh-only", "-detailed-exitcode")),
    ("plan", "plan", ("plan", "-input=false", "-no-color", "-detailed-exitcode")),
]
PLANS = ("refresh", "plan")

# key, label, decimals of the cells, decimals of the slope
METRICS = [
    ("calls", "AWS API calls", 0, 2),
    ("wall", "wall (s)", 2, 4),
    ("cpu", "provider CPU (s)", 2, 4),
    ("tfcpu", "terraform CPU (s)", 2, 4),
    ("rss", "provider peak RSS (MiB)", 1, 3),
    ("moto", "moto CPU (s)", 2, 4),
]
ADDED_RE = re.compile(r"Resources: (\d+) added")
# What a plan that exits 2 names: outside changes (refresh-only) or actions (plan); module paths dropped.
CHANGED_RE = {
    "refresh": re.compile(r"^\s*# (?:module\.\S+?\.)?(\S+) has been (?:changed|deleted)", re.M),
    "plan": re.compile(r"^\s*# (?:module\.\S+?\.)?(\S+) (?:will be|must be)", re.M),
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- measuring one command --------------------------------------------------------------------------------

def proc_cpu_s(pid: int) -> Optional[float]:
    """utime + stime of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


@dataclasses.dataclass
class Measured:
    returncode: int
    output: str
    wall: float
    peak_kib: int  # max VmHWM over the provider processes
    cpu_s: float  # provider CPU, summed over its processes (last poll of each)
    tree_cpu_s: float  # terraform and every process it waited for (the providers), from rusage
    providers: int  # provider processes seen


def watch(work: bench.Workdir, args: Sequence[str], interval: float) -> Measured:
    """Run terraform; poll every provider process it starts for VmHWM and CPU time."""
    with tempfile.TemporaryFile() as sink:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(bench.TERRAFORM), *args], cwd=work.dir, env=work.env,
                                stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
        peak: Dict[int, int] = {}
        cpu: Dict[int, float] = {}
        deadline = time.monotonic() + bench.TERRAFORM_TIMEOUT_S
        while True:
            for pid in bench.descendants(proc.pid):
                hwm = bench.provider_hwm_kib(pid)
                if hwm is None:
                    continue
                peak[pid] = max(hwm, peak.get(pid, 0))
                c = proc_cpu_s(pid)
                if c is not None:
                    cpu[pid] = max(c, cpu.get(pid, 0.0))
            try:
                proc.wait(timeout=interval)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait()
                    raise RuntimeError(f"{work.prov.label}: terraform {args[0]} did not finish in time")
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        tree = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        sink.seek(0)
        output = sink.read().decode("utf-8", "replace")
    return Measured(proc.returncode, output, wall, max(peak.values(), default=0), sum(cpu.values()), tree,
                    len(peak))


# --- configurations ---------------------------------------------------------------------------------------

def config_text(family: str, key: str, workdir: Path) -> str:
    text = (CONFIGS / key / family / "main.tf").read_text()
    if MODULE_SOURCE in text:
        module = bench.REPO_ROOT / "terraform-modules" / "organization"
        text = text.replace(MODULE_SOURCE, json.dumps(os.path.relpath(module, workdir)))
    return text


class Work(bench.Workdir):
    """One work directory per family and provider, initialised once; each size starts from no state."""

    def __init__(self, prov: Provider, family: str, root: Path, endpoint: str, cli_config: Path):
        super().__init__(prov, root / family, endpoint, cli_config)
        (self.dir / "main.tf").write_text(config_text(family, prov.key, self.dir))
        self.env["TF_VAR_endpoint"] = endpoint
        self.check("init", "-input=false", "-no-color")

    def forget_state(self) -> None:
        for f in self.dir.glob("terraform.tfstate*"):
            f.unlink()


def guardrail_documents(work: Work, size: int) -> Dict[str, str]:
    """The SCP documents platform plans for a project OU: the peer gets the very same ones."""
    work.forget_state()
    work.env["TF_VAR_size"] = str(size)
    plan = work.dir / "docs.tfplan"
    work.check("plan", "-input=false", "-no-color", f"-out={plan}")
    shown = subprocess.run([str(bench.TERRAFORM), "show", "-json", str(plan)], cwd=work.dir, env=work.env,
                           capture_output=True, text=True, check=True).stdout
    plan.unlink()
    for rc in json.loads(shown).get("resource_changes", []):
        if rc.get("type") == "platform_organizational_unit":
            docs = (rc.get("change", {}).get("after") or {}).get("policy_documents")
            if docs:
                return dict(docs)
    raise RuntimeError("platform's plan of the management stack names no guardrail documents")


# --- statistics -------------------------------------------------------------------------------------------

def lsq_slope(xs: List[float], ys: List[float]) -> Optional[float]:
    if len(xs) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return None if sxx == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx


def growth(xs: List[float], ys: List[float]) -> Optional[float]:
    """Slope of the last step between sizes over the slope of the step before it: about 1 when the
    growth is linear, above 1 when each resource costs more the more there are. (The step before, not
    the first: from the smallest size the differences are a few CPU ticks and mostly fixed costs.)"""
    if len(xs) < 3:
        return None
    before = (ys[-2] - ys[-3]) / (xs[-2] - xs[-3])
    last = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
    if before <= 0:
        return None if last <= 0 else float("inf")
    return last / before


# --- the run ----------------------------------------------------------------------------------------------

def reset(moto: bench.Moto) -> None:
    """moto's reset, with room for a busy machine (it reloads IAM's managed policies)."""
    req = urllib.request.Request(moto.url + "/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=300):
        pass


def run_size(prov: Provider, work: Work, moto: bench.Moto, family: str, size: int, interval: float,
             moto_pid: int) -> None:
    reset(moto)
    work.forget_state()
    work.env["TF_VAR_size"] = str(size)
    for phase, _, args in PHASES:
        before, moto_cpu = moto.requests_served(), proc_cpu_s(moto_pid) or 0.0
        run = watch(work, args, interval)
        calls = moto.requests_served() - before
        moto_used = (proc_cpu_s(moto_pid) or 0.0) - moto_cpu
        if run.returncode != 0 and not (phase in PLANS and run.returncode == 2):
            raise RuntimeError(f"{prov.label}: {family} {size}: terraform {' '.join(args)} failed:\n{run.output}")
        if not run.providers:
            raise RuntimeError(f"{prov.label}: no provider process seen during {phase}")
        r = prov.results
        for metric, value in (("calls", float(calls)), ("wall", run.wall), ("cpu", run.cpu_s),
                              ("tfcpu", max(0.0, run.tree_cpu_s - run.cpu_s)),
                              ("rss", run.peak_kib * 1024 / MiB), ("moto", moto_used)):
            r.setdefault(f"{family}/{size}/{phase}_{metric}", []).append(value)
        if phase in PLANS:
            r.setdefault(f"{family}/{size}/{phase}_exit", []).append(float(run.returncode))
            changed = sorted({m.split("[")[0] for m in CHANGED_RE[phase].findall(run.output)})
            if run.returncode == 2 and changed:
                prov.notes[f"{family}/{size}/{phase}_changed"] = ", ".join(changed)
        added = ADDED_RE.search(run.output)
        if phase == "apply" and added:
            prov.notes[f"{family}/{size}/resources"] = added.group(1)


def render(provs: List[Provider], family: str, sizes: List[int], threshold: float) -> Tuple[str, List[str]]:
    ours, peer = provs
    unit = FAMILIES[family][0]
    header = ["phase", "metric: median", "side", *[str(s) for s in sizes], f"per {unit} (LSQ)",
              "platform/aws", "last/previous step"]
    rows = [header]
    flags: List[str] = []
    for metric, mlabel, dec, sdec in METRICS:
        for phase, plabel, _ in PHASES:
            slopes = {}
            for p in provs:
                meds = [p.results.get(f"{family}/{s}/{phase}_{metric}") for s in sizes]
                have = [(s, median(m)) for s, m in zip(sizes, meds) if m]
                xs, ys = [float(s) for s, _ in have], [y for _, y in have]
                slope = lsq_slope(xs, ys)
                slopes[p.key] = slope
                g = growth(xs, ys)
                row = [plabel, mlabel, p.key, *[f"{median(m):.{dec}f}" if m else "-" for m in meds],
                       "-" if slope is None else f"{slope:.{sdec}f}", "", "-" if g is None else f"{g:.2f}"]
                # Super-linear: the last step costs clearly more per resource than the one before it, and
                # by more than noise (a tenth of the value at the largest size).
                if (g is not None and g > threshold and metric != "rss" and len(ys) >= 3
                        and (ys[-1] - ys[-2]) - (ys[-2] - ys[-3]) * (xs[-1] - xs[-2]) / (xs[-2] - xs[-3])
                        > 0.1 * ys[-1]):
                    row[-1] += " SUPER-LINEAR?"
                    flags.append(f"{p.label}: {plabel} {mlabel}: the last step costs {g:.2f}x the one before per {unit}")
                rows.append(row)
            a, b = slopes.get(ours.key), slopes.get(peer.key)
            if a is not None and b is not None and b > 0 and metric != "rss":  # RSS barely grows
                rows[-2][-2] = f"{a / b:.2f}x"
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(c.ljust(widths[i]) if i < 3 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out), flags


def exit_lines(provs: List[Provider], family: str, sizes: List[int]) -> List[str]:
    lines = []
    for p in provs:
        parts = []
        for s in sizes:
            codes = "/".join(",".join(str(int(c)) for c in p.results.get(f"{family}/{s}/{ph}_exit", []))
                             for ph in PLANS)
            parts.append(f"{s}: {codes} ({p.notes.get(f'{family}/{s}/resources', '?')} resources)")
        lines.append(f"{p.label}: refresh-only/plan exit codes per run (0 no changes, 2 changes) and resources"
                     f" in state, by size: " + "; ".join(parts))
        for ph, label in (("refresh", "refresh-only plan"), ("plan", "plan")):
            named = p.notes.get(f"{family}/{sizes[-1]}/{ph}_changed")
            if named:
                lines.append(f"  {p.label}: at {sizes[-1]}, the {label} reported changes to (instance keys dropped): {named}")
    return lines


def parse_sizes(s: str) -> List[int]:
    sizes = sorted({int(x) for x in s.split(",") if x.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers, e.g. 1,10,50,100")
    return sizes


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--platform-binary", type=Path,
                    default=Path(os.environ.get("CARGO_TARGET_DIR", bench.REPO_ROOT / "target"))
                    / "release/terraform-provider-platform")
    ap.add_argument("--mirror", type=Path, default=CACHE / "mirror",
                    help="filesystem mirror that already holds our provider (scripts/build_mirror.py)")
    ap.add_argument("--workdir", type=Path, default=CACHE / "scale",
                    help="where the work directories, the CLI config and moto's log go")
    ap.add_argument("--families", default="services,management", help="services, management or both")
    ap.add_argument("--sizes-services", type=parse_sizes, default=[1, 10, 50, 100])
    ap.add_argument("--sizes-management", type=parse_sizes, default=[6, 30, 60])
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--poll-ms", type=float, default=20.0, help="RSS and CPU polling interval")
    ap.add_argument("--superlinear", type=float, default=1.5,
                    help="flag a metric whose last step costs more than this many times the one before, per resource")
    ap.add_argument("--out", type=Path, default=bench.REPO_ROOT / "bench" / "results.md",
                    help=f"markdown report whose '{SECTION[3:]}' section is (re)written; '-' for none")
    args = ap.parse_args(argv)
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    for f in families:
        if f not in FAMILIES:
            ap.error(f"unknown family {f!r} (services, management)")
    sizes = {"services": args.sizes_services, "management": args.sizes_management}

    provs = [p for p in bench.providers(args.platform_binary) if p.key in KEYS]
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
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    docs_note = ""
    try:
        # Without AWS's managed policies: neither side attaches one, and moto would load them
        # (about a thousand) into the IAM of every account the management family creates.
        moto = bench.Moto(workdir / "moto.log", load_managed_policies=False)
        log(f"moto: {moto.url} (pid {moto.proc.pid})")
        works: Dict[Tuple[str, str], Work] = {}
        for family in families:
            for p in provs:
                log(f"{family}: {p.label}: terraform init (not timed)")
                works[(family, p.key)] = Work(p, family, workdir / "work", moto.url, cli_config)
        if "management" in families:
            reset(moto)
            docs = guardrail_documents(works[("management", "platform")], 3)
            works[("management", "aws")].env["TF_VAR_guardrail_documents"] = json.dumps(docs)
            docs_note = ", ".join(f"`{k}` ({len(v)} characters)" for k, v in sorted(docs.items()))
            log(f"guardrail documents from platform's plan: {docs_note}")
        for n in range(1, args.runs + 1):
            for family in families:
                for size in sizes[family]:
                    for p in provs:
                        log(f"run {n}/{args.runs}: {family} {size}: {p.label}: apply, refresh-only plan, plan")
                        run_size(p, works[(family, p.key)], moto, family, size, args.poll_ms / 1000.0,
                                 moto.proc.pid)
    finally:
        if moto is not None:
            moto.stop()
            log(f"moto: stopped (pid {moto.proc.pid})")
    elapsed = time.monotonic() - t_start
    load_after = bench.loadavg()
    cpu_after = bench.cpu_seconds()
    other_cpu = max(0.0, (cpu_after[0] - cpu_before[0]) - (cpu_after[1] - cpu_before[1]))
    other = f"{other_cpu:.0f} CPU-s ({100 * other_cpu / (elapsed * (os.cpu_count() or 1)):.0f}% of the machine)"

    body: List[str] = []
    for family in families:
        table, flags = render(provs, family, sizes[family], args.superlinear)
        codes = exit_lines(provs, family, sizes[family])
        title = f"{family}: sizes in {FAMILIES[family][1]}"
        print(f"\n{title}\n{table}")
        print("\n".join(codes))
        print("super-linear: " + ("; ".join(flags) if flags else "none flagged"))
        body += [f"### {title}", "", "```", table, "```", "",
                 *[f"  - {line.strip()}" if line.startswith("  ") else f"- {line}" for line in codes],
                 "- flagged as super-linear: " + ("; ".join(flags) if flags else "none"), ""]
    print(f"\ncells: median over {args.runs} runs; other processes used {other} during the run;"
          f" 1-minute load average before {load_before}, at the end {load_after}; took {elapsed:.0f} s")
    if str(args.out) == "-":
        return 0
    import moto as moto_pkg

    write_section(args.out, [
        f"Measured {started.strftime('%Y-%m-%d %H:%M UTC')} by `bench/run.sh --scale` on"
        f" {bench.machine_description()}; took {elapsed:.0f} s. Other processes used {other} while it ran;"
        f" 1-minute load average {load_before} before, {load_after} at the end (includes the benchmark"
        f" itself); the benchmark ran at nice {os.nice(0)}.",
        f"{tf_version}, moto {moto_pkg.__version__} on 127.0.0.1, Python {pyplatform.python_version()};"
        f" repository at {bench.git_describe()}.",
        "",
        *body,
        f"Cells are medians over {args.runs} runs. `per {{unit}} (LSQ)` is the least-squares slope of the"
        " medians over the sizes (the cost of one more service or account); `platform/aws` divides the two"
        " slopes; `last/previous step` is the slope between the two largest sizes over the slope of the step"
        " before it (about 1 when the growth is linear; SUPER-LINEAR? marks one above"
        f" {args.superlinear:g} whose last step also adds more than a tenth of the largest value). AWS API"
        " calls are the requests moto's access log shows during the phase; provider CPU is utime + stime of"
        " the terraform-provider-* processes of the command (polled every"
        f" {args.poll_ms:g} ms, last sample of each process, summed); terraform CPU is the rusage of the"
        " terraform command and every process it waited for, less the provider CPU; peak RSS is the max"
        " VmHWM over the provider processes;"
        " moto CPU is the moto server's utime + stime during the phase. Guardrail documents given to the"
        f" peer, from platform's plan: {docs_note or 'n/a'}.",
    ], SECTION)
    log(f"wrote the '{SECTION[3:]}' section of {args.out} ({elapsed:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
