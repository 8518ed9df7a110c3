#!/usr/bin/env bash
# Fetch the reviewed plans of one stack from GitHub Actions artifacts (uploaded by the pull request's plan
# job as plan-<slug>-<digest>) into OUT_DIR/<artifact>/, newest first, at most 10. apply.sh then picks the
# one whose digest matches the merged commit, or refuses.
#
#   download-plans.sh SLUG OUT_DIR        (needs the gh CLI, GH_TOKEN with actions:read, GITHUB_REPOSITORY)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: download-plans.sh SLUG OUT_DIR"
slug="$1"
out="$2"
mkdir -p "${out}"
command -v gh >/dev/null || die "the gh CLI is needed to download artifacts"
: "${GITHUB_REPOSITORY:?}"

mapfile -t rows < <(gh api --paginate "repos/${GITHUB_REPOSITORY}/actions/artifacts?per_page=100" \
  --jq ".artifacts[] | select(.expired == false) | select(.name | startswith(\"plan-${slug}-\")) | \"\(.id) \(.name)\"" | head -n 10)
for row in "${rows[@]}"; do
  id="${row%% *}"
  name="${row#* }"
  [[ -d "${out}/${name}" ]] && continue
  gh api "repos/${GITHUB_REPOSITORY}/actions/artifacts/${id}/zip" >"${out}/${name}.zip"
  mkdir -p "${out}/${name}"
  unzip -q -o "${out}/${name}.zip" -d "${out}/${name}"
  rm -f "${out}/${name}.zip"
done
log "${#rows[@]} plan(s) of ${slug} downloaded into ${out}"
