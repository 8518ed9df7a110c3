#!/usr/bin/env bash
# The local quickstart, from a fresh clone: installs the tools the main job needs, builds the local Kubernetes
# control plane (once per machine) at the same time as the provider, builds its registry mirror, then runs the
# main job (scripts/mainjob.py): the real live-infrastructure stacks in order against a local AWS endpoint
# (moto) and a local Kubernetes API server:
#   bootstrap/state-backend -> management (OUs, six accounts, guardrails) -> in ProjectA-Dev: its own state
#   backend -> project-a/dev (environment, services with Helm releases, frontend; state in that backend)
# then `plan -detailed-exitcode` for every stack, a summary, and destroy in reverse order.
#
# scripts/kube.sh (downloads, then a Go build) runs in the background while the tools are installed and cargo
# builds the provider; the two builds share the cores, and each fills the other's idle time (downloads, cargo's
# single-threaded last crates and link). Either failing stops the quickstart with its log. Tools only the tests
# need (Terraform 1.15.5, act, actionlint, shellcheck, docker-registry, the AWS CLI, kubernetes-validate) are
# left to scripts/test.sh. Each stage's wall and CPU seconds are printed before the main job starts.
#
# Usage: scripts/quickstart.sh [--keep] [--json FILE]
#   --keep       leave everything up (destroy later: .tools/venv/bin/python scripts/mainjob.py --down)
#   --json FILE  also write the summary and each stage's wall time as JSON
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
# shellcheck source=scripts/lib/timing.sh
source "${REPO_ROOT}/scripts/lib/timing.sh"

step() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'quickstart: ERROR: %s\n' "$*" >&2
  exit 1
}

KUBE_LOG="$(mktemp "${TMPDIR:-/tmp}/platformkit-kube.XXXXXX.log")"
KUBE_PID=""
# If the quickstart stops before the Kubernetes build is waited for, that build (its own process group) stops too.
stop_kube() {
  if [[ -n "${KUBE_PID}" ]] && kill -0 "${KUBE_PID}" 2>/dev/null; then
    printf 'quickstart: stopping the Kubernetes build (log: %s)\n' "${KUBE_LOG}" >&2
    kill -TERM -- "-${KUBE_PID}" 2>/dev/null || true
    wait "${KUBE_PID}" 2>/dev/null || true
  fi
}
trap stop_kube EXIT

step "Kubernetes control plane (scripts/kube.sh in ~/.cache/platformkit/kube, in the background; log: ${KUBE_LOG})"
KUBE_T0="${EPOCHREALTIME}"
# setsid: its own process group, so stop_kube reaches the Go build under it as well.
setsid scripts/kube.sh >"${KUBE_LOG}" 2>&1 &
KUBE_PID=$!

step "bootstrap the main job's tools (.tools/: Terraform 1.0.3, the moto venv, helm)"
timed bootstrap scripts/bootstrap.sh --quickstart

step "build the provider (release), next to the Kubernetes build"
timed cargo-build cargo build --release --locked
TARGET_DIR="${CARGO_TARGET_DIR:-${REPO_ROOT}/target}"

step "wait for the Kubernetes control plane"
wait_kube() {
  local status=0
  wait "${KUBE_PID}" || status=$?
  KUBE_PID=""
  if [[ "${status}" -ne 0 ]]; then
    tail -n 30 "${KUBE_LOG}" >&2
    die "scripts/kube.sh failed (exit ${status}); its log: ${KUBE_LOG}"
  fi
  # Its own step lines (downloads, openapi generation, compile: wall and CPU) and its "done in" total.
  grep -E '^kube: ' "${KUBE_LOG}" | tail -n 12
  rm -f "${KUBE_LOG}"
}
timed wait-kube wait_kube

step "build the registry mirror (dist/mirror)"
timed mirror python3 scripts/build_mirror.py --binary "${TARGET_DIR}/release/terraform-provider-platform" \
  --version 0.1.0 --out dist/mirror

timing_report quickstart
# The background build's CPU is counted in whichever step was running when it ended (its own lines above split
# it); the total is exact.
printf 'quickstart: %-28s %7s s wall %7s CPU-s (everything above, the Kubernetes build included)\n' total \
  "$(elapsed_since "${KUBE_T0}")" "$(awk -v t="$(children_cpu_ticks)" -v hz="${TIMING_TICKS}" 'BEGIN { printf "%.1f", t / hz }')"

step "the main job (scripts/mainjob.py)"
trap - EXIT
exec "${REPO_ROOT}/.tools/venv/bin/python" scripts/mainjob.py --mirror dist/mirror "$@"
