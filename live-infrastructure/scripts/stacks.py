#!/usr/bin/env python3
"""The stacks of live-infrastructure, what each one depends on, and which ones a change affects.

A stack is a directory below live-infrastructure/ with a providers.tf (shared/environment/ has none: it is
linked into the environment stacks, not run on its own). A stack depends on
  * its own files, with symlinks followed (a stack whose services.tf links to shared/environment/services.tf
    depends on that file),
  * every module it calls through a relative `source = "../..."`, followed transitively through the
    modules' own calls, and every path a module reads through "${path.module}/<relative path>"
    (the microservice module's chart, for example),
  * this pipeline itself (scripts/ and .github/ below live-infrastructure/): a change to how stacks are
    planned re-plans them all.

Commands (paths printed relative to the repository root, JSON on stdout):
  stacks.py list                                   every stack, with its matrix entry
  stacks.py affected --base REF [--head REF]       the stacks that `git diff --name-only BASE...HEAD` touches
  stacks.py affected --files FILE...               the stacks those changed files touch
  stacks.py deps STACK                             the files and directories STACK depends on
  stacks.py digest STACK                           sha256 over the content of everything STACK depends on

`--github-output` additionally writes `matrix=<json>` and `count=<n>` to $GITHUB_OUTPUT.
Only the Python standard library is used, so the script runs on any runner and any laptop.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

LIVE_ROOT = Path(__file__).resolve().parent.parent
# shared/ holds files the stacks link to (shared/environment), not a stack of its own.
SKIP_DIRS = {".terraform", ".git", "scripts", ".github", "node_modules", "shared"}
#: Files that are not inputs of a plan: local working files of terraform and of this pipeline.
IGNORED_FILES = re.compile(r"(^|/)(\.terraform\.lock\.hcl|terraform\.tfstate(\.backup)?|tfplan[^/]*|backend\.hcl)$")
#: Directories of live-infrastructure that are the pipeline, not a stack: changing them re-plans everything.
PIPELINE_DIRS = ("scripts", ".github")

SOURCE_RE = re.compile(r'^\s*source\s*=\s*"(\.\.?/[^"]*)"', re.M)
PATH_MODULE_RE = re.compile(r'\$\{path\.module\}/([^"}]+)')
LOCAL_STATE_RE = re.compile(r'backend\s+"s3"')


def repo_root() -> Path:
    try:
        out = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=LIVE_ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        return Path(out).resolve()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return LIVE_ROOT


def rel(path: Path, root: Path) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def discover(live_root: Path = LIVE_ROOT) -> List[Path]:
    """Every stack directory (absolute, not resolved: a stack is where it is linked from), sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(live_root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        if "providers.tf" in filenames:
            found.append(Path(dirpath))
    return sorted(found)


def tf_files(directory: Path) -> List[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix == ".tf" and p.is_file())


def module_calls(directory: Path) -> Set[Path]:
    """The local module directories called from ``directory``'s .tf files, resolved like Terraform does:
    relative to ``directory`` (the directory the file is loaded from, even when the file is a symlink)."""
    calls = set()
    for f in tf_files(directory):
        for src in SOURCE_RE.findall(f.read_text(encoding="utf-8", errors="replace")):
            calls.add(Path(os.path.normpath(directory / src.split("//")[0])))
    return calls


def module_paths(directory: Path) -> Set[Path]:
    """Paths a module reads through "${path.module}/..." (charts, templates, policy files)."""
    found = set()
    for f in tf_files(directory):
        for sub in PATH_MODULE_RE.findall(f.read_text(encoding="utf-8", errors="replace")):
            found.add(Path(os.path.normpath(directory / sub)))
    return found


def dependencies(stack: Path, live_root: Path = LIVE_ROOT) -> List[Path]:
    """Everything ``stack`` depends on: its own directory, the real paths of its symlinked files, the module
    directories it calls (transitively), the paths those modules read, and the pipeline directories."""
    deps: Set[Path] = {stack}
    for f in stack.iterdir():
        if f.is_symlink():
            deps.add(Path(os.path.realpath(f)))
    seen: Set[Path] = set()
    todo = [stack]
    while todo:
        current = todo.pop()
        for mod in module_calls(current):
            if mod in seen or not mod.is_dir():
                continue
            seen.add(mod)
            deps.add(mod)
            deps.update(module_paths(mod))
            todo.append(mod)
    deps.update(live_root / d for d in PIPELINE_DIRS)
    return sorted(deps)


def files_under(path: Path) -> Iterable[Path]:
    if path.is_file():
        yield path
        return
    if not path.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in (".terraform", ".git", "node_modules"))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def digest(stack: Path, root: Path, live_root: Path = LIVE_ROOT) -> str:
    """sha256 over (path, content) of every input file of ``stack``: equal digests mean equal plans' inputs."""
    h = hashlib.sha256()
    seen = set()
    for dep in dependencies(stack, live_root):
        for f in files_under(dep):
            name = rel(f, root)
            if name in seen or IGNORED_FILES.search(name):
                continue
            seen.add(name)
            data = f.read_bytes() if f.exists() else b""
            h.update(name.encode() + b"\0" + hashlib.sha256(data).hexdigest().encode() + b"\n")
    return h.hexdigest()


def uses_remote_state(stack: Path) -> bool:
    return any(LOCAL_STATE_RE.search(f.read_text(encoding="utf-8", errors="replace")) for f in tf_files(stack))


def entry(stack: Path, root: Path, live_root: Path = LIVE_ROOT) -> Dict[str, object]:
    """The stack's matrix entry: path (from the repo root), name (from live-infrastructure), slug, the
    GitHub environment its apply runs in, and whether the pipeline applies it (remote state only)."""
    name = rel(stack, live_root)
    slug = name.replace("/", "-")
    return {
        "stack": rel(stack, root),
        "name": name,
        "slug": slug,
        "account": slug.upper().replace("-", "_"),
        "environment": "production" if stack.name == "prod" else "infrastructure",
        "apply": uses_remote_state(stack),
    }


def affected(changed: Iterable[str], root: Path, live_root: Path = LIVE_ROOT) -> List[Path]:
    """The stacks that any of ``changed`` (paths relative to ``root``, deleted ones included) touches."""
    changed = [c.strip().strip("/") for c in changed if c.strip()]
    hits = []
    for stack in discover(live_root):
        deps = [rel(d, root) for d in dependencies(stack, live_root)]
        if any(c == d or c.startswith(d + "/") for c in changed for d in deps):
            hits.append(stack)
    return hits


def changed_files(base: str, head: str, root: Path) -> List[str]:
    out = subprocess.run(["git", "diff", "--name-only", "--no-renames", f"{base}...{head}"], cwd=root,
                         capture_output=True, text=True)
    if out.returncode != 0:
        # No merge base (e.g. a push whose "before" is unknown or was force-pushed away): compare the trees.
        out = subprocess.run(["git", "diff", "--name-only", "--no-renames", base, head], cwd=root,
                             capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line]


ZERO_SHA = re.compile(r"^0+$")


def write_github_output(entries: List[Dict[str, object]]) -> None:
    target = os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        fh.write(f"matrix={json.dumps(entries, separators=(',', ':'))}\n")
        fh.write(f"count={len(entries)}\n")


def find_stack(name: str, root: Path) -> Path:
    for stack in discover():
        if name in (rel(stack, root), rel(stack, LIVE_ROOT)):
            return stack
    raise SystemExit(f"stacks.py: no stack named {name!r}; stacks: {[rel(s, root) for s in discover()]}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_list = sub.add_parser("list")
    p_aff = sub.add_parser("affected")
    p_aff.add_argument("--base")
    p_aff.add_argument("--head", default="HEAD")
    p_aff.add_argument("--files", nargs="*")
    for p in (p_list, p_aff):
        p.add_argument("--github-output", action="store_true")
        p.add_argument("--only-applied", action="store_true", help="only stacks the pipeline applies")
    for name in ("deps", "digest"):
        sub.add_parser(name).add_argument("stack")
    args = parser.parse_args(argv)
    root = repo_root()

    if args.cmd in ("list", "affected"):
        if args.cmd == "list":
            stacks = discover()
        elif args.files is not None:
            stacks = affected(args.files, root)
        elif args.base and not ZERO_SHA.match(args.base):
            stacks = affected(changed_files(args.base, args.head, root), root)
        else:
            stacks = discover()  # a new branch or an unknown base: everything is new
        entries = [entry(s, root) for s in stacks]
        if args.only_applied:
            entries = [e for e in entries if e["apply"]]
        print(json.dumps(entries, indent=2))
        if args.github_output:
            write_github_output(entries)
        return 0
    stack = find_stack(args.stack, root)
    if args.cmd == "deps":
        print(json.dumps([rel(d, root) for d in dependencies(stack)], indent=2))
    else:
        print(digest(stack, root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
