# shellcheck shell=bash
# Wall and CPU time of the steps of a script, for scripts/bootstrap.sh, scripts/kube.sh and scripts/quickstart.sh.
#
#   timed NAME COMMAND [ARGS...]   runs COMMAND in this shell and records NAME's wall seconds and the CPU seconds
#                                  (user + sys) of every process it waited for (under set -e a failing
#                                  COMMAND ends the script as it would without `timed`)
#   timing_report PREFIX           prints one line per recorded step
#
# CPU comes from this shell's cutime/cstime (/proc/$$/stat fields 16 and 17): the time of children that have
# finished and been waited for, so a step's figure includes everything it ran, however deeply nested.
# Set TIMING_FILE to also append each step as a tab-separated line (name, wall, cpu).

TIMING_NAMES=()
TIMING_WALL=()
TIMING_CPU=()
TIMING_TICKS="$(getconf CLK_TCK 2>/dev/null || echo 100)"

# children_cpu_ticks: user + sys clock ticks of this shell's waited-for children so far.
children_cpu_ticks() {
  local stat rest
  read -r stat </proc/$$/stat
  rest="${stat##*) }" # the fields after "(comm)", starting at field 3
  # shellcheck disable=SC2086
  set -- ${rest}
  echo $((${14} + ${15}))
}

# elapsed_since START_EPOCHREALTIME -> seconds with one decimal
elapsed_since() {
  awk -v a="$1" -v b="${EPOCHREALTIME}" 'BEGIN { printf "%.1f", b - a }'
}

timed() {
  local name="$1"
  shift
  local t0="${EPOCHREALTIME}" c0 c1 wall cpu
  c0="$(children_cpu_ticks)"
  # Not `"$@" || ...`: that would switch off `set -e` inside COMMAND. A failure ends the script as before.
  "$@"
  c1="$(children_cpu_ticks)"
  wall="$(elapsed_since "${t0}")"
  cpu="$(awk -v t=$((c1 - c0)) -v hz="${TIMING_TICKS}" 'BEGIN { printf "%.1f", t / hz }')"
  TIMING_NAMES+=("${name}")
  TIMING_WALL+=("${wall}")
  TIMING_CPU+=("${cpu}")
  if [[ -n "${TIMING_FILE:-}" ]]; then
    printf '%s\t%s\t%s\n' "${name}" "${wall}" "${cpu}" >>"${TIMING_FILE}"
  fi
}

timing_report() {
  local prefix="$1" i
  for i in "${!TIMING_NAMES[@]}"; do
    printf '%s: %-28s %7s s wall %7s CPU-s\n' "${prefix}" "${TIMING_NAMES[${i}]}" "${TIMING_WALL[${i}]}" "${TIMING_CPU[${i}]}"
  done
}
