#!/usr/bin/env bash
# Plan one stack for review: init (its own state and lock), validate, plan into a binary plan file.
#
#   plan.sh STACK OUT_DIR
#
# OUT_DIR receives tfplan (the binary plan that apply.sh applies), plan.txt (the human-readable plan),
# summary.json (resource changes by action) and meta.json (stack, input digest, commit, tfplan sha256):
# apply.sh refuses the plan unless the stack's inputs at merge time still have the same digest.
# Exit status: 0 planned (with or without changes), 1 error.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || die "usage: plan.sh STACK OUT_DIR"
dir="$(stack_dir "$1")"
out="$2"
mkdir -p "${out}"
out="$(cd "${out}" && pwd)"
name="${dir#"${LIVE_ROOT}/"}"

log "planning ${name}"
init_stack "${dir}" "${out}"
"${TERRAFORM}" -chdir="${dir}" validate -no-color >"${out}/validate.txt" 2>&1 ||
  { cat "${out}/validate.txt" >&2; die "terraform validate failed in ${name}"; }

set +e
"${TERRAFORM}" -chdir="${dir}" plan -input=false -no-color -lock-timeout=5m -detailed-exitcode \
  -out="${out}/tfplan" >"${out}/plan.txt" 2>&1
rc=$?
set -e
if [[ ${rc} -eq 1 ]]; then
  cat "${out}/plan.txt" >&2
  die "terraform plan failed in ${name}"
fi
"${TERRAFORM}" -chdir="${dir}" show -json "${out}/tfplan" >"${out}/plan.json"
# Its own assignment, so a state that cannot be read stops the job here (set -e) instead of recording "".
planned_state="$(state_version "${dir}")"

"$(python_bin)" - "${out}" "${name}" "${rc}" "$(stacks_py digest "${name}")" \
  "$(git -C "${REPO_ROOT}" rev-parse HEAD 2>/dev/null || echo unknown)" "$(sha256_file "${out}/tfplan")" \
  "${planned_state}" <<'PY'
import collections, json, pathlib, sys
out, name, rc, digest, commit, plan_sha, state = sys.argv[1:]
out = pathlib.Path(out)
plan = json.loads((out / "plan.json").read_text())
counts = collections.Counter()
changed = []
for rc_ in plan.get("resource_changes", []):
    actions = rc_["change"]["actions"]
    if actions == ["no-op"] or actions == ["read"]:
        continue
    kind = "replace" if set(actions) == {"create", "delete"} else actions[0]
    counts[kind] += 1
    changed.append({"address": rc_["address"], "action": kind})
summary = {"add": counts["create"], "change": counts["update"], "destroy": counts["delete"],
           "replace": counts["replace"], "changes": changed}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
meta = {"stack": name, "digest": digest, "commit": commit, "has_changes": rc == "2",
        "tfplan_sha256": plan_sha, "state": state, "terraform_version": plan.get("terraform_version")}
(out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
(out / "plan.json").unlink()  # can be large and holds every value; plan.txt is what reviewers read
print(f"{name}: {summary['add']} to add, {summary['change']} to change, {summary['destroy']} to destroy,"
      f" {summary['replace']} to replace (digest {digest[:16]})")
PY
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
  digest="$(json_field "${out}/meta.json" digest)"
  printf 'digest=%s\nshort=%s\nchanges=%s\n' "${digest}" "${digest:0:16}" "$([[ ${rc} -eq 2 ]] && echo true || echo false)" >>"${GITHUB_OUTPUT}"
fi
