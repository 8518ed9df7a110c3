#!/usr/bin/env python3
"""The pull request's plan comment: one comment, found by a hidden marker and updated in place on every push.

  comment.py render PLANS_DIR [--commit SHA]          print the comment's Markdown
  comment.py post PLANS_DIR --pr N [--commit SHA]     create or update the comment through the GitHub API
                                                      (GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL)
  comment.py write PLANS_DIR --to FILE [--commit SHA] write the Markdown to FILE, replacing what was there
                                                      (the local stand-in when there is no GitHub, e.g. under act)

PLANS_DIR holds one directory per planned stack as plan.sh leaves it (meta.json, summary.json, plan.txt);
with --commit, only plans made at that commit are taken. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path
from typing import List, Optional

MARKER = "<!-- platformkit:infrastructure-plan -->"
#: GitHub limits a comment to 65536 characters; each stack's plan text gets a share of this.
BUDGET = 60000


def load(plans: Path, commit: Optional[str]) -> List[dict]:
    found = []
    for meta_path in sorted(plans.glob("*/meta.json")):
        meta = json.loads(meta_path.read_text())
        if commit and meta.get("commit") != commit:
            continue
        summary = json.loads((meta_path.parent / "summary.json").read_text())
        text = (meta_path.parent / "plan.txt").read_text(errors="replace")
        found.append({"meta": meta, "summary": summary, "text": text})
    return sorted(found, key=lambda p: p["meta"]["stack"])


def render(plans: List[dict], commit: Optional[str]) -> str:
    lines = [MARKER, "## Terraform plan", ""]
    if not plans:
        lines.append("No stack is affected by this change.")
        return "\n".join(lines) + "\n"
    at = f" at `{commit[:12]}`" if commit else ""
    lines.append(f"{len(plans)} affected stack(s){at}. Merging applies exactly these plans; "
                 "a stack whose inputs change after this comment must be planned again.")
    lines += ["", "| stack | add | change | destroy | replace |", "| --- | ---: | ---: | ---: | ---: |"]
    for p in plans:
        s = p["summary"]
        lines.append(f"| `{p['meta']['stack']}` | {s['add']} | {s['change']} | {s['destroy']} | {s['replace']} |")
    share = max(2000, BUDGET // len(plans) - 400)
    for p in plans:
        text = p["text"].strip()
        if len(text) > share:
            text = "... (cut; the whole plan is in the workflow's artifact)\n" + text[-share:]
        s = p["summary"]
        head = "no changes" if not s["changes"] else f"{len(s['changes'])} resource change(s)"
        lines += ["", f"<details><summary><code>{p['meta']['stack']}</code>: {head} "
                      f"(inputs <code>{p['meta']['digest'][:16]}</code>)</summary>", "", "```", text, "```",
                  "", "</details>"]
    return "\n".join(lines) + "\n"


def api(method: str, url: str, token: str, body: Optional[dict] = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null"), resp.headers


def post(body: str, pr: int) -> str:
    token = os.environ["GITHUB_TOKEN"]
    base = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    repo = os.environ["GITHUB_REPOSITORY"]
    url = f"{base}/repos/{repo}/issues/{pr}/comments?per_page=100"
    while url:
        comments, headers = api("GET", url, token)
        for c in comments:
            if MARKER in (c.get("body") or ""):
                api("PATCH", f"{base}/repos/{repo}/issues/comments/{c['id']}", token, {"body": body})
                return f"updated comment {c['id']}"
        url = next((part.split(";")[0].strip(" <>") for part in (headers.get("Link") or "").split(",")
                    if 'rel="next"' in part), None)
    created, _ = api("POST", f"{base}/repos/{repo}/issues/{pr}/comments", token, {"body": body})
    return f"created comment {created['id']}"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["render", "post", "write"])
    parser.add_argument("plans", type=Path)
    parser.add_argument("--commit")
    parser.add_argument("--pr", type=int)
    parser.add_argument("--to", type=Path)
    args = parser.parse_args(argv)
    body = render(load(args.plans, args.commit), args.commit)
    if args.action == "render":
        sys.stdout.write(body)
    elif args.action == "write":
        if args.to is None:
            parser.error("write needs --to FILE")
        existed = args.to.exists()
        args.to.parent.mkdir(parents=True, exist_ok=True)
        args.to.write_text(body)
        print(f"{'updated' if existed else 'created'} the plan comment in {args.to}")
    else:
        if args.pr is None:
            parser.error("post needs --pr N")
        print(post(body, args.pr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
