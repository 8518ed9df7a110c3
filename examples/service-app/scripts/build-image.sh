#!/usr/bin/env bash
# Build the service image for one commit.
#
#   build-image.sh GIT_SHA OUT_DIR
#
# With a Docker engine (GitHub's runners): `docker build` of the Dockerfile, tagged mobile-service:GIT_SHA.
# Without one (a laptop, act on a host without Docker): the same image as an OCI image layout in OUT_DIR/oci:
# the static binary built with cargo, packed by oci_image.py with the Dockerfile's entrypoint, user, port and
# labels. OUT_DIR/kind says which ("docker" or "oci").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[[ $# -eq 2 ]] || { echo "usage: build-image.sh GIT_SHA OUT_DIR" >&2; exit 2; }
sha="$1"
out="$2"
[[ "${sha}" =~ ^[0-9a-f]{40}$ ]] || { echo "build-image.sh: ${sha} is not a full git SHA" >&2; exit 2; }
mkdir -p "${out}"

if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  docker build --build-arg GIT_SHA="${sha}" -t "mobile-service:${sha}" .
  echo docker >"${out}/kind"
  exit 0
fi

echo "build-image.sh: no Docker engine: building the binary with cargo and packing an OCI image layout"
GIT_SHA="${sha}" RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --release --locked --target x86_64-unknown-linux-gnu
target="${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release/mobile-service"
rm -rf "${out}/oci"
python3 scripts/oci_image.py build --binary "${target}" --out "${out}/oci" \
  --label "org.opencontainers.image.revision=${sha}" --label "org.opencontainers.image.title=mobile-service"
echo oci >"${out}/kind"
