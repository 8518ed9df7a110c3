# shellcheck shell=bash
# Shared by the pipeline scripts: where things are, and how a stack is initialised.
#
# Environment (all optional except where a script says otherwise):
#   TERRAFORM            terraform executable (default: terraform on PATH)
#   AWS_REGION           region of the state backends (default us-east-1)
#   TF_STATE_BUCKET      state bucket of the account a stack runs in (stacks with a `backend "s3"` block)
#   TF_STATE_LOCK_TABLE  its lock table (default: <bucket>-lock, as bootstrap/state-backend names it)
#   TF_BACKENDS          JSON, stack name => {"bucket", "lock_table", "role_arn"}: the backend of each account
#                        (one backend per account); a stack missing from it uses TF_STATE_BUCKET/LOCK_TABLE
#   PK_AWS_ENDPOINT_URL  a local AWS emulator (http://127.0.0.1:PORT) instead of AWS: the stacks get it as
#                        var.endpoint_url and the backend gets the emulator settings. Empty on GitHub.

LIVE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(git -C "${LIVE_ROOT}" rev-parse --show-toplevel 2>/dev/null || echo "${LIVE_ROOT}")"
SCRIPTS="${LIVE_ROOT}/scripts"
TERRAFORM="${TERRAFORM:-terraform}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1

if [[ -n "${PK_AWS_ENDPOINT_URL:-}" ]]; then
  export TF_VAR_endpoint_url="${PK_AWS_ENDPOINT_URL}"
fi
# bootstrap/state-backend creates the state bucket itself, so its bucket_name is the state bucket
# (stacks that do not declare bucket_name ignore the variable).
if [[ -n "${TF_STATE_BUCKET:-}" && -z "${TF_VAR_bucket_name:-}" ]]; then
  export TF_VAR_bucket_name="${TF_STATE_BUCKET}"
fi

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }
# die MESSAGE: the reason on stderr and, when the workflow names one in PK_ERROR_FILE, in that file too: a later
# `if: failure()` step repeats it as an annotation on the run (and act, whose host runner drops the last output
# of a failing step, then shows it in full).
die() {
  printf '%s: ERROR: %s\n' "$(basename "$0")" "$*" >&2
  if [[ -n "${PK_ERROR_FILE:-}" ]]; then
    printf '%s: ERROR: %s\n' "$(basename "$0")" "$*" >>"${PK_ERROR_FILE}" || true
  fi
  exit 1
}

python_bin() { command -v python3 || command -v python; }
stacks_py() { "$(python_bin)" "${SCRIPTS}/stacks.py" "$@"; }

# stack_dir STACK -> absolute directory; STACK is relative to the repository root or to live-infrastructure.
stack_dir() {
  local s="${1%/}"
  if [[ -f "${REPO_ROOT}/${s}/providers.tf" ]]; then
    echo "${REPO_ROOT}/${s}"
  elif [[ -f "${LIVE_ROOT}/${s}/providers.tf" ]]; then
    echo "${LIVE_ROOT}/${s}"
  else
    die "no stack at ${s} (a stack is a directory with providers.tf)"
  fi
}

uses_remote_state() { grep -qs 'backend "s3"' "$1"/*.tf; }

# init_stack DIR WORKDIR: terraform init, with the account's S3 backend when the stack has one.
init_stack() {
  local dir="$1" work="$2"
  if uses_remote_state "${dir}"; then
    local bucket="${TF_STATE_BUCKET:-}" table="${TF_STATE_LOCK_TABLE:-}" role=""
    if [[ -n "${TF_BACKENDS:-}" ]]; then
      local name="${dir#"${LIVE_ROOT}/"}" picked
      picked="$(TF_BACKENDS="${TF_BACKENDS}" "$(python_bin)" -c '
import json, os, sys
b = json.loads(os.environ["TF_BACKENDS"]).get(sys.argv[1], {})
print(b.get("bucket", ""), b.get("lock_table", ""), b.get("role_arn", ""), sep="|")' "${name}")" ||
        die "TF_BACKENDS is not valid JSON"
      local b t r
      IFS="|" read -r b t r <<<"${picked}"
      bucket="${b:-${bucket}}"
      table="${t:-${table}}"
      role="${r}"
    fi
    [[ -n "${bucket}" ]] || die "no state bucket for $(basename "${dir}"): set TF_STATE_BUCKET or its entry in TF_BACKENDS"
    local hcl="${work}/backend.hcl"
    {
      printf 'bucket         = "%s"\n' "${bucket}"
      printf 'region         = "%s"\n' "${AWS_REGION}"
      printf 'dynamodb_table = "%s"\n' "${table:-${bucket}-lock}"
      [[ -n "${role}" ]] && printf 'role_arn       = "%s"\n' "${role}"
      if [[ -n "${PK_AWS_ENDPOINT_URL:-}" ]]; then
        printf 'endpoint                    = "%s"\n' "${PK_AWS_ENDPOINT_URL}"
        printf 'dynamodb_endpoint           = "%s"\n' "${PK_AWS_ENDPOINT_URL}"
        printf 'sts_endpoint                = "%s"\n' "${PK_AWS_ENDPOINT_URL}"
        printf 'force_path_style            = true\n'
        printf 'skip_credentials_validation = true\n'
        printf 'skip_region_validation      = true\n'
        printf 'skip_metadata_api_check     = true\n'
      fi
    } >"${hcl}"
    "${TERRAFORM}" -chdir="${dir}" init -input=false -no-color -reconfigure -backend-config="${hcl}" >"${work}/init.log" 2>&1 ||
      { cat "${work}/init.log" >&2; die "terraform init failed in ${dir}"; }
  else
    "${TERRAFORM}" -chdir="${dir}" init -input=false -no-color >"${work}/init.log" 2>&1 ||
      { cat "${work}/init.log" >&2; die "terraform init failed in ${dir}"; }
  fi
}

sha256_file() { sha256sum "$1" | cut -d' ' -f1; }

# json_field FILE KEY: one top-level value of a JSON file.
json_field() { "$(python_bin)" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

# state_version DIR: "<lineage>/<serial>" of the stack's current state ("none/0" before its first apply).
# Recorded with a plan and compared before applying it: Terraform 1.0 does not refuse a saved plan made
# against an empty state once something else has created that state, so the pipeline checks it itself.
# A failed read is tried twice more (a state backend under load can fail one read) and then stops the job
# with Terraform's own message: never an empty or guessed version.
state_version() {
  local dir="$1" err pulled attempt
  err="$(mktemp)"
  for attempt in 1 2 3; do
    if pulled="$("${TERRAFORM}" -chdir="${dir}" state pull 2>"${err}")"; then
      rm -f "${err}"
      printf '%s' "${pulled}" | "$(python_bin)" -c '
import json, sys
text = sys.stdin.read().strip()
state = json.loads(text) if text else {}
print("%s/%s" % (state.get("lineage") or "none", state.get("serial", 0)))'
      return
    fi
    log "terraform state pull failed in ${dir} (attempt ${attempt} of 3): $(tr '\n' ' ' <"${err}")"
    [[ ${attempt} -lt 3 ]] && sleep 2
  done
  rm -f "${err}"
  die "could not read the state of ${dir} (terraform state pull failed 3 times; its message is above)"
}
