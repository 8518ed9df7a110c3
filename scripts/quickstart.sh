#!/usr/bin/env bash
# The local quickstart, from a fresh clone: installs the tools (once), builds the provider and its
# registry mirror, starts a local AWS endpoint (moto) on 127.0.0.1, and runs the main job:
#   1. examples/quickstart/1-state-backend  creates the remote-state backend (S3 bucket + lock table)
#   2. examples/quickstart/2-app-stack      a stack whose state lives in that backend
# then shows where the state is, destroys both stacks and stops moto.
#
# Usage: scripts/quickstart.sh [--keep]
#   --keep   leave the resources and the moto server running (stop later with scripts/moto.sh stop)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${REPO_ROOT}"
KEEP=0
[[ "${1:-}" == "--keep" ]] && KEEP=1

step() { printf '\n==> %s\n' "$*"; }

step "bootstrap tools (.tools/)"
scripts/bootstrap.sh

step "build the provider (release)"
cargo build --release --locked
TARGET_DIR="${CARGO_TARGET_DIR:-${REPO_ROOT}/target}"

step "build the registry mirror (dist/mirror)"
python3 scripts/build_mirror.py --binary "${TARGET_DIR}/release/terraform-provider-platform" \
  --version 0.1.0 --out dist/mirror

QS_DIR="${REPO_ROOT}/.tools/quickstart"
mkdir -p "${QS_DIR}"
cat >"${QS_DIR}/terraform.rc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "${REPO_ROOT}/dist/mirror"
    include = ["registry.terraform.io/platformkit/platform"]
  }
  direct {
    exclude = ["registry.terraform.io/platformkit/platform"]
  }
}
RC

PORT="${MOTO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
step "start moto on 127.0.0.1:${PORT}"
scripts/moto.sh stop >/dev/null 2>&1 || true
scripts/moto.sh start "${PORT}"
ENDPOINT="http://127.0.0.1:${PORT}"

export TF_CLI_CONFIG_FILE="${QS_DIR}/terraform.rc"
export TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0
export AWS_ACCESS_KEY_ID=quickstart AWS_SECRET_ACCESS_KEY=quickstart AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
TF="${REPO_ROOT}/.tools/bin/terraform"
STEP1="examples/quickstart/1-state-backend"
STEP2="examples/quickstart/2-app-stack"

cleanup() {
  if [[ "${KEEP}" == 0 ]]; then
    step "stop moto"
    scripts/moto.sh stop || true
  fi
}
trap cleanup EXIT

step "1-state-backend: init + apply (local state)"
rm -rf "${STEP1}/.terraform" "${STEP1}/.terraform.lock.hcl" "${STEP1}/terraform.tfstate" "${STEP1}/terraform.tfstate.backup"
"${TF}" -chdir="${STEP1}" init -no-color >/dev/null
"${TF}" -chdir="${STEP1}" apply -auto-approve -no-color -var "endpoint_url=${ENDPOINT}"
"${TF}" -chdir="${STEP1}" output -raw backend_partial_config >"${QS_DIR}/backend.hcl"

step "2-app-stack: init with the S3 backend just created, then apply"
rm -rf "${STEP2}/.terraform" "${STEP2}/.terraform.lock.hcl"
"${TF}" -chdir="${STEP2}" init -no-color -reconfigure -backend-config="${QS_DIR}/backend.hcl" >/dev/null
"${TF}" -chdir="${STEP2}" apply -auto-approve -no-color -var "endpoint_url=${ENDPOINT}"

step "the app stack's state lives in the backend bucket"
"${TF}" -chdir="${STEP2}" state list
"${REPO_ROOT}/.tools/venv/bin/python" - "${ENDPOINT}" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1")
for o in s3.list_objects_v2(Bucket="platformkit-quickstart-state").get("Contents", []):
    print(f"  s3://platformkit-quickstart-state/{o['Key']}  ({o['Size']} bytes)")
PY

if [[ "${KEEP}" == 1 ]]; then
  step "left running: moto at ${ENDPOINT} (scripts/moto.sh stop), stacks in ${STEP1} and ${STEP2}"
  exit 0
fi

step "destroy both stacks"
"${TF}" -chdir="${STEP2}" destroy -auto-approve -no-color -var "endpoint_url=${ENDPOINT}" >/dev/null
"${TF}" -chdir="${STEP1}" destroy -auto-approve -no-color -var "endpoint_url=${ENDPOINT}" >/dev/null
rm -rf "${STEP1}/.terraform" "${STEP1}/terraform.tfstate" "${STEP1}/terraform.tfstate.backup" "${STEP2}/.terraform"
echo "quickstart: OK"
