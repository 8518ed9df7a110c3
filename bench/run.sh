#!/usr/bin/env bash
# Benchmark terraform-provider-platform side by side with hashicorp/null 2.1.2 and hashicorp/aws 3.39.0,
# under the same Terraform (.tools/bin/terraform v1.0.3) and the same moto server on 127.0.0.1.
# Prints a table of figures (never asserts) and writes it to bench/results.md. Takes a few minutes.
#
#   1. tools: scripts/bootstrap.sh, only if .tools/ lacks Terraform or the venv;
#   2. our provider: cargo build --release --locked (skip with --no-build); with --dist, the shipped binary
#      instead: cargo build --profile dist --locked (LTO, one codegen unit; scripts/release.sh builds it too),
#      and every figure is then of that binary;
#   3. the peers: bench/fetch_peers.sh (downloads once into .tools/bench/, checks sha256);
#   4. the mirror .tools/bench/mirror: our provider via scripts/build_mirror.py, the peers added by bench.py;
#   5. bench/bench.py with .tools/venv/bin/python (starts and stops its own moto).
#
# With --environment, step 5 runs bench/environment.py instead: one platform_environment against the same
# environment in ~40 fine-grained aws 3.39.0 resources (bench/environment/{platform,aws}/main.tf), with AWS
# API calls, wall time and provider peak RSS for apply, refresh-only plan, plan and destroy; it rewrites
# only its own section of bench/results.md. Takes about 5 minutes with the default 3 runs.
#
# With --releases, step 3 is skipped and step 5 runs bench/releases.py instead: 1, 10 and 30
# platform_helm_release resources of the microservice chart on one real kube-apiserver v1.20.2 (tests/harness,
# binaries from scripts/kube.sh) with .tools/bin/helm, wall time and provider peak RSS of apply, plan, one
# image-tag change among 30, and destroy, plus helm processes per plan; it rewrites only its own section of
# bench/results.md. Takes about 7 minutes with the default 3 runs (on a busy 2-core machine).
#
# With --build, steps 2 to 4 are skipped and step 5 runs bench/build.py: a cold build into an empty target
# directory and a warm rebuild after touching one resource file, with wall and CPU time per Cargo profile,
# the binary size and the costliest compilation units (prints, never asserts; rewrites only its own section
# of bench/results.md). Tens of CPU-minutes per cold build; e.g. --profiles release,dist.
#
# With --scale, step 5 runs bench/scale.py instead: the cost curve. 1, 10, 50 and 100 platform_microservice
# (ECR repository + IRSA role with an inline policy each; Helm releases out, only the AWS side) on one
# environment, and the management stack (terraform-modules/organization: organization, one OU per project
# with its guardrail SCPs, three accounts per project; no trail) with 6, 30 and 60 accounts, each side by
# side with the same objects written for hashicorp/aws 3.39.0 (bench/scale/{platform,aws}/{services,
# management}/main.tf). Per size and phase (apply, refresh-only plan, plan): AWS API calls, wall time,
# provider CPU-seconds and peak RSS, moto CPU; then the least-squares slope per service/account, the
# ratio of the slopes and a super-linear flag (last step between sizes vs the one before). Rewrites only its own
# section (## Cost curve) of bench/results.md. About 15 minutes with the default 2 runs.
#
# Usage: bench/run.sh [--no-build] [--dist] [bench.py options]    e.g. bench/run.sh --plan-runs 5 --out -
#        bench/run.sh --environment [--no-build] [environment.py options]   e.g. ... --runs 5
#        bench/run.sh --releases [--no-build] [releases.py options]         e.g. ... --sizes 1,10,30
#        bench/run.sh --scale [--no-build] [scale.py options]               e.g. ... --runs 3 --sizes-services 1,20,100
#        bench/run.sh --build [build.py options]              e.g. ... --profiles release,dist
#        bench/run.sh --help-bench                       bench.py's options (with --environment,
#                                                        --releases, --scale or --build first: that script's)
# Environment: CARGO_TARGET_DIR is honoured; BENCH_MIRROR overrides the mirror folder.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
cd "${REPO_ROOT}"
readonly PY="${REPO_ROOT}/.tools/venv/bin/python"
readonly MIRROR="${BENCH_MIRROR:-${REPO_ROOT}/.tools/bench/mirror}"
readonly PLATFORM_VERSION="0.1.0"

BUILD=1
PROFILE=release
SCRIPT=bench/bench.py
BENCH_ARGS=()
for arg in "$@"; do
  case "${arg}" in
    --no-build) BUILD=0 ;;
    --environment) SCRIPT=bench/environment.py ;;
    --releases) SCRIPT=bench/releases.py ;;
    --build) SCRIPT=bench/build.py ;;
    --scale) SCRIPT=bench/scale.py ;;
    --dist) PROFILE=dist ;;
    --help-bench) exec "${PY}" "${SCRIPT}" --help ;;
    -h | --help)
      sed -n '2,47p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) BENCH_ARGS+=("${arg}") ;;
  esac
done

step() { printf '==> %s\n' "$*" >&2; }

if [[ ! -x .tools/bin/terraform || ! -x "${PY}" ]]; then
  step "bootstrap tools (.tools/)"
  scripts/bootstrap.sh >&2
fi

if [[ "${SCRIPT}" == bench/build.py ]]; then # it runs cargo itself, cold and warm
  step "build-time benchmark (bench/build.py)"
  exec "${PY}" bench/build.py ${BENCH_ARGS[@]+"${BENCH_ARGS[@]}"}
fi

TARGET_DIR="${CARGO_TARGET_DIR:-${REPO_ROOT}/target}"
BINARY="${TARGET_DIR}/${PROFILE}/terraform-provider-platform"
if [[ "${BUILD}" == 1 ]]; then
  step "cargo build --profile ${PROFILE} --locked"
  cargo build --profile "${PROFILE}" --locked >&2
fi
[[ -x "${BINARY}" ]] || {
  echo "run.sh: ${BINARY} not found: build it with cargo build --profile ${PROFILE}" >&2
  exit 1
}

if [[ "${SCRIPT}" != bench/releases.py ]]; then # releases.py runs only our provider
  step "peer providers (cached in .tools/bench/)"
  bench/fetch_peers.sh >&2
fi

step "mirror for terraform init (${MIRROR#"${REPO_ROOT}/"})"
python3 scripts/build_mirror.py --binary "${BINARY}" --version "${PLATFORM_VERSION}" --out "${MIRROR}" >/dev/null

step "benchmark (${SCRIPT})"
exec "${PY}" "${SCRIPT}" --platform-binary "${BINARY}" --mirror "${MIRROR}" ${BENCH_ARGS[@]+"${BENCH_ARGS[@]}"}
