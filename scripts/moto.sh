#!/usr/bin/env bash
# Start or stop a local moto server (the AWS stand-in) for trying the provider by hand.
#
# Usage: scripts/moto.sh start [PORT]   start moto_server from .tools/venv on 127.0.0.1:PORT (default 5000,
#                                       or $MOTO_PORT) and wait until it answers
#        scripts/moto.sh stop           stop the server started by this script (by its PID)
#        scripts/moto.sh status         say whether it runs, and where
#        scripts/moto.sh reset          forget every resource (POST /moto-api/reset)
#
# The PID, port and log live in .tools/ (moto.pid, moto.port, moto.log). Run scripts/bootstrap.sh first.
# Point the provider at it with: provider "platform" { endpoints { url = "http://127.0.0.1:PORT" } }
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly TOOLS="${REPO_ROOT}/.tools"
readonly MOTO_BIN="${TOOLS}/venv/bin/moto_server"
readonly PID_FILE="${TOOLS}/moto.pid"
readonly PORT_FILE="${TOOLS}/moto.port"
readonly LOG_FILE="${TOOLS}/moto.log"
readonly START_TIMEOUT_S=60

die() {
  printf 'moto.sh: %s\n' "$*" >&2
  exit 1
}

# Prints the PID from the PID file if that process is alive and really is our moto_server.
running_pid() {
  [[ -f "${PID_FILE}" ]] || return 1
  local pid
  pid="$(cat "${PID_FILE}")"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/${pid}/cmdline" ]] || return 1
  # The PID may have been reused by an unrelated process after a reboot or a crash: check what it runs.
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q "moto_server" || return 1
  echo "${pid}"
}

endpoint() { echo "http://127.0.0.1:$(cat "${PORT_FILE}")"; }

answers() { curl -fsS -o /dev/null --max-time 2 "$1/moto-api/" 2>/dev/null; }

cmd_start() {
  local port="${1:-${MOTO_PORT:-5000}}"
  [[ "${port}" =~ ^[0-9]+$ ]] || die "port must be a number, got '${port}'"
  [[ -x "${MOTO_BIN}" ]] || die "${MOTO_BIN} not found: run scripts/bootstrap.sh first"
  local pid
  if pid="$(running_pid)"; then
    echo "moto already running (pid ${pid}) at $(endpoint)"
    return 0
  fi
  local url="http://127.0.0.1:${port}"
  if answers "${url}"; then
    die "something already answers on ${url} (not started by this script)"
  fi

  mkdir -p "${TOOLS}"
  # setsid: its own session, so closing this terminal or Ctrl-C here does not stop it.
  MOTO_IAM_LOAD_MANAGED_POLICIES=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_DEFAULT_REGION=us-east-1 \
    setsid "${MOTO_BIN}" -H 127.0.0.1 -p "${port}" >>"${LOG_FILE}" 2>&1 </dev/null &
  pid=$!
  echo "${pid}" >"${PID_FILE}"
  echo "${port}" >"${PORT_FILE}"

  # Poll with a growing delay until it answers, it dies, or the deadline passes.
  local deadline=$((SECONDS + START_TIMEOUT_S)) delay=0.05
  until answers "${url}"; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      rm -f "${PID_FILE}"
      tail -n 20 "${LOG_FILE}" >&2 || true
      die "moto_server exited during start-up (log: ${LOG_FILE})"
    fi
    if ((SECONDS >= deadline)); then
      kill "${pid}" 2>/dev/null || true
      rm -f "${PID_FILE}"
      die "moto_server did not answer on ${url} within ${START_TIMEOUT_S}s (log: ${LOG_FILE})"
    fi
    sleep "${delay}"
    case "${delay}" in
      0.05) delay=0.1 ;;
      0.1) delay=0.2 ;;
      *) delay=0.5 ;;
    esac
  done
  echo "moto running (pid ${pid}) at ${url}  (log: ${LOG_FILE})"
}

cmd_stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "${PID_FILE}"
    echo "moto is not running"
    return 0
  fi
  kill -TERM "${pid}"
  local deadline=$((SECONDS + 10))
  while kill -0 "${pid}" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      kill -KILL "${pid}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "${PID_FILE}"
  echo "moto stopped (pid ${pid})"
}

cmd_status() {
  local pid
  if pid="$(running_pid)"; then
    echo "moto running (pid ${pid}) at $(endpoint)"
  else
    echo "moto is not running"
    return 1
  fi
}

cmd_reset() {
  running_pid >/dev/null || die "moto is not running"
  curl -fsS -o /dev/null -X POST "$(endpoint)/moto-api/reset"
  echo "moto state reset"
}

case "${1:-}" in
  start)
    shift
    cmd_start "$@"
    ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  *)
    sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
