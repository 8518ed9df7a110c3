#!/usr/bin/env bash
# Push the image built by build-image.sh to REGISTRY/mobile-service:GIT_SHA. ECR repositories of the platform
# have IMMUTABLE tags, so a tag names one image forever: pushing another image under the same SHA fails.
#
#   push-image.sh GIT_SHA OUT_DIR REGISTRY        (REGISTRY: <account>.dkr.ecr.<region>.amazonaws.com, or
#                                                  127.0.0.1:PORT for a local registry)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -eq 3 ]] || { echo "usage: push-image.sh GIT_SHA OUT_DIR REGISTRY" >&2; exit 2; }
sha="$1"
out="$2"
registry="$3"
ref="${registry}/mobile-service:${sha}"
case "$(cat "${out}/kind")" in
  docker)
    docker tag "mobile-service:${sha}" "${ref}"
    docker push "${ref}"
    ;;
  oci)
    python3 scripts/oci_image.py push --layout "${out}/oci" --ref "${ref}"
    ;;
  *)
    echo "push-image.sh: ${out}/kind is missing: run build-image.sh first" >&2
    exit 1
    ;;
esac
echo "image=${ref}"
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  echo "image=${ref}" >>"${GITHUB_OUTPUT}"
fi
