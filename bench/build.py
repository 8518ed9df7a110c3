#!/usr/bin/env python3
"""Build-time figures: cold and warm builds of the provider, per Cargo profile (prints, never asserts).

For each profile asked for (default: ``release``, what the tests and the quickstart build):

* cold: ``cargo build --profile P --locked --timings`` into an empty target directory (a fresh temporary
  one unless ``--target-dir`` is given), i.e. what the README's first command compiles on a fresh clone
  (the tools it also installs are not in this figure);
* warm: the same command again after touching one resource file of the provider crate
  (``--touch``, default provider/platform/src/resources/state_backend/mod.rs), i.e. a developer's edit;
* the binary's size, and the five most expensive compilation units of the cold build (from cargo's
  ``--timings`` report).

Wall time comes from a monotonic clock, CPU time from the rusage of cargo and everything it ran
(user + sys). On a shared machine the wall time grows with the load, the CPU time hardly: the report
prints the CPU time other processes used meanwhile, and an estimate for a quiet machine with this many
cores (CPU-s / cores, or the longest compilation unit if that is longer: a lower bound).

Run it through ``bench/run.sh --build`` (``--profiles release,dist`` adds the shipped binary's profile).
It takes as long as the builds: tens of CPU-minutes per cold build.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import bench
import environment
from bench import CACHE, MiB, log

SECTION = "## Build time"
BINARY = "terraform-provider-platform"
DEFAULT_TOUCH = "provider/platform/src/resources/state_backend/mod.rs"


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed_build(profile: str, target_dir: Path, timings: bool) -> Dict[str, float]:
    """One cargo build; returns wall and CPU seconds, and the CPU other processes used meanwhile."""
    cmd = ["cargo", "build", "--profile", profile, "--locked"]
    if timings:
        cmd.append("--timings")
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir), CARGO_TERM_COLOR="never")
    log(" ".join(cmd) + f"   (CARGO_TARGET_DIR={target_dir})")
    machine_before, _ = bench.cpu_seconds()
    cpu_before = children_cpu()
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=bench.REPO_ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    cpu = children_cpu() - cpu_before
    machine_after, _ = bench.cpu_seconds()
    if proc.returncode != 0:
        raise RuntimeError(f"cargo build --profile {profile} failed:\n{proc.stderr[-4000:]}")
    return {"wall": wall, "cpu": cpu, "other": max(0.0, (machine_after - machine_before) - cpu)}


def top_units(target_dir: Path, n: int = 5) -> List[str]:
    """The n longest compilation units of the last ``--timings`` build: 'crate (mode) seconds'."""
    report = target_dir / "cargo-timings" / "cargo-timing.html"
    try:
        html = report.read_text()
        data = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
    except (OSError, AttributeError, ValueError):
        return []
    data.sort(key=lambda u: u.get("duration", 0.0), reverse=True)
    out = []
    for u in data[:n]:
        # "target" is "" for a library, else e.g. " build-script" or ' bin "name"'.
        out.append(f"{u.get('name')} {u.get('version', '')}{u.get('target', '')}: {u.get('duration', 0.0):.0f} s")
    return out


def longest_unit(target_dir: Path) -> float:
    report = target_dir / "cargo-timings" / "cargo-timing.html"
    try:
        html = report.read_text()
        data = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
        return max(float(u.get("duration", 0.0)) for u in data)
    except (OSError, AttributeError, ValueError):
        return 0.0


def profile_dir(profile: str) -> str:
    return {"dev": "debug", "test": "debug", "bench": "release"}.get(profile, profile)


def mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(round(seconds % 60)):02d}"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profiles", default="release",
                    help="comma-separated Cargo profiles to build cold and warm (default: release)")
    ap.add_argument("--target-dir", type=Path, default=None,
                    help="empty (or missing) target directory for the cold builds; default: a temporary one"
                         " under .tools/bench, deleted afterwards")
    ap.add_argument("--keep-target", action="store_true", help="keep the temporary target directory")
    ap.add_argument("--warm-only", action="store_true",
                    help="skip the cold build: time only the rebuild after the touch, in CARGO_TARGET_DIR"
                         " (or --target-dir)")
    ap.add_argument("--touch", default=DEFAULT_TOUCH, help="file whose edit the warm build follows")
    ap.add_argument("--out", type=Path, default=bench.REPO_ROOT / "bench" / "results.md",
                    help=f"markdown report whose '{SECTION[3:]}' section is (re)written; '-' for none")
    args = ap.parse_args(argv)

    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    touch = bench.REPO_ROOT / args.touch
    if not touch.is_file():
        log(f"--touch: {touch} is not a file")
        return 2
    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = bench.loadavg()
    cores = os.cpu_count() or 1
    temp: Optional[Path] = None
    if args.target_dir is not None:
        target = args.target_dir
    elif args.warm_only:
        target = Path(os.environ.get("CARGO_TARGET_DIR", bench.REPO_ROOT / "target"))
    else:
        CACHE.mkdir(parents=True, exist_ok=True)
        temp = target = Path(tempfile.mkdtemp(prefix="build-target.", dir=CACHE))
    if not args.warm_only and target.exists() and any(target.iterdir()) and temp is None:
        log(f"{target} is not empty: a cold build needs an empty target directory")
        return 2

    rows = []
    units: Dict[str, List[str]] = {}
    try:
        for profile in profiles:
            row: Dict[str, object] = {"profile": profile}
            if not args.warm_only:
                cold = timed_build(profile, target, timings=True)
                row["cold"] = cold
                row["longest"] = longest_unit(target)
                units[profile] = top_units(target)
            os.utime(touch)  # an edit, as far as cargo's fingerprints are concerned
            row["warm"] = timed_build(profile, target, timings=False)
            binary = target / profile_dir(profile) / BINARY
            row["size"] = binary.stat().st_size / MiB if binary.exists() else float("nan")
            rows.append(row)
    finally:
        if temp is not None and not args.keep_target:
            shutil.rmtree(temp, ignore_errors=True)

    header = ["profile", "cold wall", "cold CPU", "others' CPU", "quiet estimate", "warm wall", "warm CPU",
              "binary (MiB)"]
    lines = [header]
    for r in rows:
        cold = r.get("cold")
        warm = r["warm"]
        if cold:
            estimate = max(cold["cpu"] / cores, float(r.get("longest", 0.0)))
            cold_cells = [mmss(cold["wall"]), f"{cold['cpu']:.0f} s", f"{cold['other']:.0f} s",
                          f">= {mmss(estimate)}"]
        else:
            cold_cells = ["-", "-", "-", "-"]
        lines.append([str(r["profile"]), *cold_cells, mmss(warm["wall"]), f"{warm['cpu']:.0f} s",
                      f"{r['size']:.1f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = []
    for n, line in enumerate(lines):
        table.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                               for i, c in enumerate(line)).rstrip())
        if n == 0:
            table.append("  ".join("-" * w for w in widths))
    text = "\n".join(table)
    print(text)
    for profile, top in units.items():
        print(f"{profile}: longest units of the cold build: {'; '.join(top) or 'n/a (no --timings report)'}")
    print("targets (printed, never asserted): cold build of the README's first command <= 10:00 on a quiet"
          " 2-core machine; warm rebuild after touching one resource file <= 1:00")

    if str(args.out) != "-":
        body = [
            f"Measured {started.strftime('%Y-%m-%d %H:%M UTC')} by `bench/run.sh --build` on"
            f" {bench.machine_description()}; 1-minute load average {load_before} before, {bench.loadavg()}"
            f" at the end; cargo ran at nice {os.nice(0)}; repository at {bench.git_describe()}.",
            "",
            "```",
            text,
            "```",
            "",
            "cold: `cargo build --profile P --locked --timings` into an empty target directory; warm: the same"
            f" again after touching `{args.touch}`. CPU is user + sys of cargo and everything it ran; others'"
            " CPU is what the rest of the machine used meanwhile (it makes the wall time longer); the quiet"
            f" estimate is a lower bound: cold CPU / {cores} cores, or the longest single unit if longer."
            " Targets (printed, never asserted): cold <= 10:00 quiet, warm <= 1:00.",
        ]
        for profile, top in units.items():
            body.append(f"- {profile}: longest units of the cold build: {'; '.join(top) or 'n/a'}")
        environment.write_section(args.out, body, SECTION)
        log(f"wrote the '{SECTION[3:]}' section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
