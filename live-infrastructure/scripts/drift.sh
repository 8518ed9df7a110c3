#!/usr/bin/env bash
# Scheduled drift check: `terraform plan -detailed-exitcode` for every stack whose state is remote, several at
# once (each stack has its own state and lock), then one list of the drifted stacks.
#
#   drift.sh [OUT_DIR]      (PARALLEL=N plans at once, default 4)
#
# Exit status: 0 nothing drifted; 1 a stack drifted or could not be planned (all of them are listed).
# bootstrap/state-backend keeps local state (it creates the state bucket), so it has nothing to compare here.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

out="${1:-$(mktemp -d)}"
mkdir -p "${out}"
out="$(cd "${out}" && pwd)"
parallel="${PARALLEL:-4}"

mapfile -t stacks < <(stacks_py list --only-applied | "$(python_bin)" -c 'import json, sys; print("\n".join(e["name"] for e in json.load(sys.stdin)))')

check_one() {
  local name="$1" work
  work="${out}/$(echo "${name}" | tr / -)"
  mkdir -p "${work}"
  local dir
  dir="$(stack_dir "${name}")"
  if ! init_stack "${dir}" "${work}" 2>"${work}/error.txt"; then
    echo 1 >"${work}/rc"
    return 0
  fi
  set +e
  "${TERRAFORM}" -chdir="${dir}" plan -input=false -no-color -lock-timeout=5m -detailed-exitcode -refresh=true \
    >"${work}/plan.txt" 2>&1
  echo $? >"${work}/rc"
  set -e
}

running=0
for name in "${stacks[@]}"; do
  check_one "${name}" &
  running=$((running + 1))
  if [[ ${running} -ge ${parallel} ]]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

drifted=()
failed=()
for name in "${stacks[@]}"; do
  work="${out}/$(echo "${name}" | tr / -)"
  case "$(cat "${work}/rc" 2>/dev/null || echo 1)" in
    0) echo "in sync: ${name}" ;;
    2)
      drifted+=("${name}")
      echo "DRIFTED: ${name}"
      grep -E '^  # .* (will|must) be' "${work}/plan.txt" | sed 's/^/    /' || true
      ;;
    *)
      failed+=("${name}")
      echo "ERROR:   ${name}"
      tail -n 20 "${work}/plan.txt" "${work}/error.txt" 2>/dev/null | sed 's/^/    /'
      ;;
  esac
done

if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  {
    echo "## Drift check"
    for n in "${drifted[@]}"; do echo "- :warning: drifted: \`${n}\`"; done
    for n in "${failed[@]}"; do echo "- :x: could not plan: \`${n}\`"; done
    [[ ${#drifted[@]} -eq 0 && ${#failed[@]} -eq 0 ]] && echo "All ${#stacks[@]} stacks match their configuration."
  } >>"${GITHUB_STEP_SUMMARY}"
fi

if [[ ${#drifted[@]} -gt 0 || ${#failed[@]} -gt 0 ]]; then
  die "drift check failed: drifted stacks: ${drifted[*]:-none}; stacks that could not be planned: ${failed[*]:-none}"
fi
echo "drift check: all ${#stacks[@]} stacks in sync"
