#!/usr/bin/env python3
"""Check a plan made by plan.sh after an image tag change: it must change the given service and nothing else,
and only in place (a new tag updates the service's image and Helm values; nothing is created or destroyed).

  only-service-changes.py PLAN_DIR SERVICE
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    plan_dir, service = Path(argv[0]), argv[1]
    changes = json.loads((plan_dir / "summary.json").read_text())["changes"]
    key = f'["{service}"]'
    others = [c for c in changes if key not in c["address"] or c["action"] != "update"]
    for c in changes:
        print(f"  {c['action']:8} {c['address']}")
    if not changes:
        print(f"only-service-changes.py: the plan changes nothing: {service} already runs this tag")
        return 0
    if others:
        print(f"only-service-changes.py: refusing: the plan changes more than {service}'s image: "
              + ", ".join(f"{c['action']} {c['address']}" for c in others), file=sys.stderr)
        return 1
    print(f"only-service-changes.py: the plan updates {service} in place and nothing else")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
