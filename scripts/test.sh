#!/usr/bin/env bash
# Runs every check and test of the repository, the way CI does:
#   1. tools (Terraform 1.0.3 and 1.15.5, moto, pytest) into .tools/ (once);
#   2. formatting and lints: cargo fmt --check, cargo clippy -D warnings, terraform fmt -check, and the
#      checked-in protobuf code against proto/ (tfplugin-protogen --check);
#   3. the release build of the provider and its unit tests (release, to share the dependency build);
#   4. the end-to-end tests: real terraform + real provider binary + real moto server (pytest), once with
#      Terraform 1.0.3 and once with Terraform 1.15.5 (the crash, fault-injection and fault-proxy tests, which
#      test the provider alone, only on the first); the wall time of each run is printed at the end.
#
# Usage: scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k state_backend
# Environment: CARGO_TARGET_DIR is honoured (CI points it at a cache outside the clone).
#              TERRAFORM_VERSIONS="1.0.3 1.15.5" (default) chooses the Terraforms the e2e suite runs on.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"

step() { printf '\n==> %s\n' "$*"; }

step "bootstrap tools"
scripts/bootstrap.sh

TARGET_DIR="${CARGO_TARGET_DIR:-${REPO_ROOT}/target}"
export PLATFORM_PROVIDER_BIN="${TARGET_DIR}/release/terraform-provider-platform"

step "cargo fmt --check"
cargo fmt --all -- --check

step "terraform fmt -check"
# Terraform 1.0.3's fmt takes one directory at a time.
for dir in terraform-modules live-infrastructure examples tests bench; do
  .tools/bin/terraform fmt -check -recursive "${dir}"
done

step "cargo build --release"
cargo build --release --locked

step "checked-in protobuf code is current (cargo run -p tfplugin-protogen -- --check)"
cargo run --release --locked -p tfplugin-protogen -- --check

step "cargo clippy -D warnings"
cargo clippy --release --locked --workspace --all-targets -- -D warnings

step "cargo test --release (unit tests)"
cargo test --release --locked

# Tests of the provider's own behaviour that do not depend on Terraform's version run on the first version only:
# the kill-point chains, the 15 % fault-injection runs, the lost-answer table, the replace paths of the resume
# table and the fault proxy's own tests (several minutes each).
ONCE=(tests/test_environment_crash.py tests/test_composites_crash.py tests/test_fault_tolerance.py
  tests/test_faults_proxy.py tests/test_lost_answers.py tests/test_resume_composites_once.py)
summary=()
first=1
for version in ${TERRAFORM_VERSIONS:-1.0.3 1.15.5}; do
  step "pytest on Terraform ${version} (end-to-end: terraform + provider + moto)"
  started=${SECONDS}
  skip=()
  if [[ "${first}" == 0 ]]; then
    for f in "${ONCE[@]}"; do skip+=("--ignore=${f}"); done
  fi
  first=0
  .tools/venv/bin/python -m pytest --terraform "${version}" ${skip[@]+"${skip[@]}"} "$@"
  summary+=("Terraform ${version}: e2e suite passed in $((SECONDS - started))s")
done
step "e2e wall time per Terraform version"
printf '  %s\n' "${summary[@]}"
