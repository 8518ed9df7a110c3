#!/usr/bin/env bash
# `terraform fmt -check` over live-infrastructure and every module directory a stack uses (the modules may
# live in this repository or, once it is split, in a checkout next to it). Exit 1 lists the files to format.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mapfile -t dirs < <(
  {
    echo "${LIVE_ROOT}"
    for name in $(stacks_py list | "$(python_bin)" -c 'import json, sys; print(" ".join(e["name"] for e in json.load(sys.stdin)))'); do
      stacks_py deps "${name}" | "$(python_bin)" -c 'import json, sys; print("\n".join(json.load(sys.stdin)))' |
        while read -r d; do
          [[ -d "${REPO_ROOT}/${d}" ]] && echo "${REPO_ROOT}/${d}"
        done
    done
  } | sort -u
)
status=0
for d in "${dirs[@]}"; do
  if ! "${TERRAFORM}" fmt -check -recursive -list=true "${d}"; then
    status=1
  fi
done
if [[ ${status} -eq 0 ]]; then
  log "terraform fmt: ${#dirs[@]} directories formatted"
else
  log "terraform fmt: the files above need \`terraform fmt\`"
fi
exit "${status}"
