#!/usr/bin/env bash
# Apply exactly the plan that was reviewed for one stack, or refuse.
#
#   apply.sh STACK PLANS_DIR
#
# PLANS_DIR holds the plan directories made by plan.sh for this stack (downloaded artifacts
# plan-<slug>-<digest>). The stack's inputs are hashed again at the merged commit:
#   * a plan with the same digest is applied as it is (`terraform apply tfplan`), after checking that the
#     plan file is the one that was reviewed (its sha256) and that the state is still the version (lineage/
#     serial) the plan was made against: otherwise another apply ran since and the plan is stale: refused;
#   * plans for other digests are stale (the stack or a module it uses changed after the review): refused;
#   * no plan at all: refused, unless the stack already matches its inputs (`plan -detailed-exitcode` finds
#     nothing to do: e.g. the service release workflow applied this tag change itself). Nothing is ever planned
#     and applied in one go here.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: apply.sh STACK PLANS_DIR"
dir="$(stack_dir "$1")"
plans="$2"
name="${dir#"${LIVE_ROOT}/"}"
want="$(stacks_py digest "${name}")"

chosen=""
stale=()
shopt -s nullglob
for meta in "${plans}"/*/meta.json "${plans}"/meta.json; do
  [[ -f "${meta}" ]] || continue # the second pattern has no wildcard, so nullglob keeps it when it is absent
  [[ "$(json_field "${meta}" stack)" == "${name}" ]] || continue
  got="$(json_field "${meta}" digest)"
  if [[ "${got}" == "${want}" ]]; then
    chosen="$(dirname "${meta}")"
  else
    stale+=("${got:0:16} (planned at commit $(json_field "${meta}" commit))")
  fi
done

work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT

if [[ -z "${chosen}" ]]; then
  # Nothing reviewed for these inputs. If the stack already matches them (a release workflow applied this very
  # change with its own checked plan, or the change only touched comments), there is nothing to apply.
  init_stack "${dir}" "${work}"
  set +e
  "${TERRAFORM}" -chdir="${dir}" plan -input=false -no-color -lock-timeout=5m -detailed-exitcode >"${work}/check.txt" 2>&1
  check=$?
  set -e
  if [[ ${check} -eq 0 ]]; then
    log "no reviewed plan for ${name}'s inputs ${want:0:16}, and none needed: the stack already matches them"
    exit 0
  fi
  if [[ ${#stale[@]} -gt 0 ]]; then
    die "refusing to apply ${name}: the reviewed plan is stale. It was made from inputs ${stale[*]}, but at this commit the stack's inputs hash to ${want:0:16}: something the stack uses changed after the review. Open a pull request to plan it again."
  fi
  die "refusing to apply ${name}: no reviewed plan for its inputs ${want:0:16} in ${plans}. Changes reach a stack only through a planned pull request."
fi

[[ "$(sha256_file "${chosen}/tfplan")" == "$(json_field "${chosen}/meta.json" tfplan_sha256)" ]] ||
  die "refusing to apply ${name}: ${chosen}/tfplan is not the plan file that was reviewed (sha256 differs)"

log "applying the reviewed plan of ${name} (inputs ${want:0:16}, planned at commit $(json_field "${chosen}/meta.json" commit))"
init_stack "${dir}" "${work}"
planned_state="$(json_field "${chosen}/meta.json" state)"
current_state="$(state_version "${dir}")"
[[ "${planned_state}" == "${current_state}" ]] ||
  die "refusing to apply ${name}: the reviewed plan is stale. It was made against state ${planned_state} (lineage/serial), but the state is now ${current_state}: another apply changed this stack after the review. Plan it again."
"${TERRAFORM}" -chdir="${dir}" apply -input=false -no-color -lock-timeout=5m "${chosen}/tfplan" ||
  die "terraform refused or failed to apply the reviewed plan of ${name} (a plan made before another apply of this stack is stale: plan again)"
log "applied ${name}"
