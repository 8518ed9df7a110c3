#!/usr/bin/env python3
"""Record the image tag a service runs in an environment stack: rewrite image_tags.auto.tfvars.json.

  set-image-tag.py STACK SERVICE TAG

The file is committed, so the next infrastructure apply keeps the tag instead of reverting it. The tag must be
a full 40-character git SHA or a semantic version (ECR tags are immutable; `latest` is never deployed), and the
service must already be in the file. Prints the old and the new tag; exit 0 also when the tag was already set.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

LIVE_ROOT = Path(__file__).resolve().parent.parent
TAG_RE = re.compile(r"^([0-9a-f]{40}|v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?)$")


def main(argv) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    stack, service, tag = argv
    path = Path(stack)
    if not path.is_absolute():
        path = (LIVE_ROOT / stack) if (LIVE_ROOT / stack).is_dir() else Path.cwd() / stack
    tags_file = path / "image_tags.auto.tfvars.json"
    if not tags_file.is_file():
        print(f"set-image-tag.py: {tags_file} does not exist: {stack} is not an environment stack", file=sys.stderr)
        return 1
    if not TAG_RE.match(tag):
        print(f"set-image-tag.py: {tag!r} is neither a full git SHA nor a semantic version", file=sys.stderr)
        return 1
    doc = json.loads(tags_file.read_text())
    tags = doc.get("image_tags", {})
    if service not in tags:
        print(f"set-image-tag.py: {service!r} is not a service of {stack} (services: {sorted(tags)})",
              file=sys.stderr)
        return 1
    old = tags[service]
    tags[service] = tag
    tags_file.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"{stack}: {service} {old} -> {tag}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
