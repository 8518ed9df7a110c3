#!/usr/bin/env bash
# Clone the live-infrastructure repository (where the environments' image tags are recorded) into DEST.
#
#   clone-live.sh URL DEST       (LIVE_INFRA_TOKEN: a token allowed to push to it, for an https URL)
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: clone-live.sh URL DEST" >&2; exit 2; }
url="$1"
dest="$2"
if [[ -n "${LIVE_INFRA_TOKEN:-}" ]]; then
  auth="$(printf 'x-access-token:%s' "${LIVE_INFRA_TOKEN}" | base64 -w0)"
  git clone -q -c http.extraHeader="AUTHORIZATION: basic ${auth}" "${url}" "${dest}"
else
  git clone -q "${url}" "${dest}"
fi
git -C "${dest}" config user.name "release bot"
git -C "${dest}" config user.email "release-bot@users.noreply.github.com"
echo "clone-live.sh: $(git -C "${dest}" rev-parse --short HEAD) of ${url%%\?*} in ${dest}"
