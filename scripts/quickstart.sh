#!/usr/bin/env bash
# The local quickstart, from a fresh clone: installs the tools (once, including the local Kubernetes control
# plane), builds the provider and its registry mirror, then runs the main job (scripts/mainjob.py): the real
# live-infrastructure stacks in order against a local AWS endpoint (moto) and a local Kubernetes API server:
#   bootstrap/state-backend -> management (OUs, six accounts, guardrails) -> in ProjectA-Dev: its own state
#   backend -> project-a/dev (environment, services with Helm releases, frontend; state in that backend)
# then `plan -detailed-exitcode` for every stack, a summary, and destroy in reverse order.
#
# Usage: scripts/quickstart.sh [--keep] [--json FILE]
#   --keep       leave everything up (destroy later: .tools/venv/bin/python scripts/mainjob.py --down)
#   --json FILE  also write the summary and each stage's wall time as JSON
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

step() { printf '\n==> %s\n' "$*"; }

step "bootstrap tools (.tools/, Kubernetes control plane in ~/.cache/platformkit)"
scripts/bootstrap.sh

step "build the provider (release)"
cargo build --release --locked
TARGET_DIR="${CARGO_TARGET_DIR:-${REPO_ROOT}/target}"

step "build the registry mirror (dist/mirror)"
python3 scripts/build_mirror.py --binary "${TARGET_DIR}/release/terraform-provider-platform" \
  --version 0.1.0 --out dist/mirror

step "the main job (scripts/mainjob.py)"
exec "${REPO_ROOT}/.tools/venv/bin/python" scripts/mainjob.py --mirror dist/mirror "$@"
