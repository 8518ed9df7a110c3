#!/usr/bin/env python3
"""Benchmark the infrastructure pipeline's two costs (figures, never assertions):

1. The nine stacks (management, six environments, two bootstraps) planned one after another versus all at
   once, as the workflow's matrix runs them: live-infrastructure/scripts/plan.sh per stack (init with the
   stack's own S3 state and lock, validate, plan), the real terraform 1.0.3 and provider, against one moto
   server on 127.0.0.1. Wall time of each mode and the ratio.
2. Change detection (live-infrastructure/scripts/stacks.py) as the number of stacks grows: synthetic trees of
   N environment stacks (copies of project-a/dev, each linking the shared files and calling the environment
   and microservice modules), timing `affected` for one module change (every stack depends on it) and for one
   stack's tfvars change, and `digest` of one stack.

  .tools/venv/bin/python bench/pipelines.py [--runs 3] [--sizes 9,50,200,500] [--out bench/pipelines-results.md]

Needs scripts/bootstrap.sh's tools and a release build of the provider ($PLATFORM_PROVIDER_BIN or
$CARGO_TARGET_DIR/release/terraform-provider-platform).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from harness.mirror import build_mirror  # noqa: E402
from harness.moto_server import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, MotoServer, clean_env  # noqa: E402
from harness.paths import PROVIDER_ADDR, TERRAFORM_BIN, provider_binary_path  # noqa: E402
from harness.terraform import write_cli_config  # noqa: E402

STATE_BUCKET = "pk-bench-state"


def sh(args, cwd, env=None, check=True):
    r = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r


def make_repo(dest: Path) -> Path:
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "__pycache__")
    for part in ("live-infrastructure", "terraform-modules"):
        shutil.copytree(ROOT / part, dest / part, symlinks=True, ignore=ignore)
    sh(["git", "init", "-q", "-b", "main"], dest)
    sh(["git", "add", "-A"], dest)
    sh(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "commit", "-q", "-m", "x"], dest)
    return dest


def plan_all(repo: Path, stacks, env, parallel: bool, out: Path) -> float:
    def one(stack):
        sh([repo / "live-infrastructure/scripts/plan.sh", stack, out / stack.replace("/", "-")], repo, env)

    start = time.monotonic()
    if parallel:
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(stacks)) as pool:
            list(pool.map(one, stacks))
    else:
        for s in stacks:
            one(s)
    return time.monotonic() - start


def synthetic_tree(dest: Path, n: int) -> Path:
    """A repository with N environment stacks, all like project-a/dev."""
    make_repo(dest)
    live = dest / "live-infrastructure"
    for p in ("project-a", "project-b", "management", "bootstrap"):
        shutil.rmtree(live / p)
    template = ROOT / "live-infrastructure" / "project-a" / "dev"
    for i in range(n):
        stack = live / f"synthetic-{i // 50}" / f"env-{i}"
        shutil.copytree(template, stack, symlinks=True,
                        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl"))
    return dest


def timed(args, cwd, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.monotonic()
        sh(args, cwd)
        times.append(time.monotonic() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="9,50,200,500")
    parser.add_argument("--out", default=str(ROOT / "bench" / "pipelines-results.md"))
    args = parser.parse_args()
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="pk-bench-pipelines-"))
    lines = []
    try:
        binary = provider_binary_path()
        mirror = build_mirror(binary, work / "mirror")
        cli = write_cli_config(work / "cli.tfrc", "filesystem", mirror_path=mirror.path, include=[PROVIDER_ADDR])
        moto = MotoServer.start_on_free_port(work / "moto")
        try:
            moto.client("s3").create_bucket(Bucket=STATE_BUCKET)
            moto.client("dynamodb").create_table(
                TableName=f"{STATE_BUCKET}-lock", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}])
            env = clean_env(
                PATH=f"{TERRAFORM_BIN.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
                TF_CLI_CONFIG_FILE=str(cli), AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
                AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY, AWS_EC2_METADATA_DISABLED="true",
                PK_AWS_ENDPOINT_URL=moto.endpoint, TF_STATE_BUCKET=STATE_BUCKET)
            repo = make_repo(work / "repo")
            listing = sh(["python3", "live-infrastructure/scripts/stacks.py", "list"], repo).stdout
            import json
            stacks = [e["name"] for e in json.loads(listing)]
            assert len(stacks) == 9, stacks
            # one untimed warm-up of every stack (terraform init fills .terraform from the mirror)
            plan_all(repo, stacks, env, False, work / "warm")
            seq, par = [], []
            for i in range(args.runs):
                seq.append(plan_all(repo, stacks, env, False, work / f"seq-{i}"))
                par.append(plan_all(repo, stacks, env, True, work / f"par-{i}"))
        finally:
            moto.stop()

        s, p = statistics.median(seq), statistics.median(par)
        lines += [
            "## Pipelines: plans of the nine stacks, change detection",
            "",
            f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `bench/pipelines.py` "
            f"on {os.cpu_count()} cores; Terraform v1.0.3, moto on 127.0.0.1; {args.runs} runs, median (min). "
            f"1-minute load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after the plans "
            "(other work on the machine skews the figures).",
            "",
            "| nine stacks, `plan.sh` each (init + validate + plan) | wall (s) |",
            "| --- | ---: |",
            f"| one after another | {s:.1f} ({min(seq):.1f}) |",
            f"| all at once (the matrix) | {p:.1f} ({min(par):.1f}) |",
            f"| speed-up, sequential / parallel | {s / p:.2f}x |",
            "",
        ]

        lines += ["| stacks | `affected`, one module change (s) | `affected`, one tfvars change (s) | "
                  "stacks affected by the module | `digest` of one stack (s) |",
                  "| ---: | ---: | ---: | ---: | ---: |"]
        for n in [int(x) for x in args.sizes.split(",")]:
            tree = synthetic_tree(work / f"tree-{n}", n)
            script = "live-infrastructure/scripts/stacks.py"
            mod = timed(["python3", script, "affected", "--files", "terraform-modules/environment/main.tf"], tree,
                        args.runs)
            one = timed(["python3", script, "affected", "--files",
                         "live-infrastructure/synthetic-0/env-0/terraform.tfvars"], tree, args.runs)
            count = len(json.loads(sh(["python3", script, "affected", "--files",
                                       "terraform-modules/environment/main.tf"], tree).stdout))
            dig = timed(["python3", script, "digest", "synthetic-0/env-0"], tree, args.runs)
            lines.append(f"| {n} | {mod:.2f} | {one:.2f} | {count} | {dig:.2f} |")
            shutil.rmtree(tree)
        lines += ["", f"Took {time.monotonic() - started:.0f} s. Wall times include Python start-up (about "
                      "0.03 s); the machine is shared, so the figures are indicative.", ""]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = "\n".join(lines)
    print(text)
    if args.out != "-":
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
