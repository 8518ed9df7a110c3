#!/usr/bin/env bash
# Builds the release set in one command: the shipped binary (Cargo profile `dist`: fat LTO, one codegen
# unit, panic = "abort", stripped; slower to build than the `release` profile the tests and the quickstart
# use), the packed filesystem-mirror layout, the Provider Network Mirror Protocol files (index.json,
# VERSION.json with h1:/zh: hashes) and SHA256SUMS.
#
# Usage: scripts/release.sh [OUT_DIR]    (default: dist/mirror)
# Serve OUT_DIR over HTTPS as a network_mirror, or use it as a filesystem_mirror (see README).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
OUT="${1:-dist/mirror}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
TARGET_DIR="${CARGO_TARGET_DIR:-${REPO_ROOT}/target}"

cargo build --profile dist --locked
python3 scripts/build_mirror.py --binary "${TARGET_DIR}/dist/terraform-provider-platform" \
  --version "${VERSION}" --out "${OUT}"
echo "release set for terraform-provider-platform ${VERSION} in ${OUT}:"
find "${OUT}" -type f | sort
