#!/usr/bin/env bash
# Build a real Kubernetes control plane for the end-to-end tests, once per machine, into
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/platformkit/kube/v1.20.2/bin/
#       kube-apiserver            built from Debian bookworm's source package `kubernetes`
#       kube-controller-manager   (1.20.5+really1.20.2-1.1+deb12u1: the upstream v1.20.2 tree with vendor/)
#       etcd                      etcd 3.4.23 from Debian bookworm's `etcd-server` package
#
# No registry ships kube-apiserver prebuilt, so it is compiled here, offline (GOPROXY=off, vendored modules),
# with Go 1.15 from Debian bullseye's golang-1.15-go/golang-1.15-src (unpacked with dpkg -x, not installed:
# bookworm's Go 1.19 refuses the vendored go.mod): `make gen_openapi` for the one generated file the tarball
# lacks, then one `go build` of both commands (about 330 CPU-s: 3 to 4 minutes on 2 idle cores; the tree's
# `make WHAT=...` also rebuilds and reruns five code generators whose output the tarball has). Afterwards a stamp
# makes every run a no-op that takes well under a second. The binaries live outside the clone, so every clone
# on the machine shares them; one build runs at a time (a lock), a second one waits and then finds the stamp.
#
# Every downloaded file is checked against a sha256 pinned below before it is used. The bullseye and deb-src
# apt lines live in a private apt configuration under the cache folder; the machine's /etc/apt is never
# touched (only `make` and `rsync` are installed from the machine's own sources when missing).
#
# Usage: scripts/kube.sh [--force]
#   --force   rebuild kube-apiserver/kube-controller-manager and reinstall etcd even if the stamps are current
# Environment: KUBE_BUILD_TMPDIR  where the ~2 GB build folder goes (default: /dev/shm when it has room,
#              else the cache folder); it is removed after the build either way.
#
# Used by: scripts/bootstrap.sh (last step), tests/harness/kube.py (reads the binaries from the same folder).
set -euo pipefail

readonly KUBE_VERSION="v1.20.2"
readonly KUBE_SRC_PKG="kubernetes"
readonly KUBE_SRC_VERSION="1.20.5+really1.20.2-1.1+deb12u1"
readonly KUBE_TREE="kubernetes-1.20.2" # top folder of the orig tarball
readonly KUBE_ORIG="kubernetes_1.20.5+really1.20.2.orig.tar.gz"
# file name -> sha256 of everything `apt-get source --download-only` fetches (the orig tarball is the one built).
readonly -A KUBE_SRC_SHA256=(
  ["kubernetes_1.20.5+really1.20.2-1.1+deb12u1.dsc"]="19fa1da5aefcef673894ac9511986bd98a14410cf8eea0b626613c30df435257"
  ["kubernetes_1.20.5+really1.20.2.orig.tar.gz"]="b83c0780efb182d928dc63d46488a847f161f04e40a94b96bf5247dd671ecdfc"
  ["kubernetes_1.20.5+really1.20.2-1.1+deb12u1.debian.tar.xz"]="9b6e5fd41769d2b5badf2e73b274e3bcd90f85e13d06a1a4a845ccce018127d8"
)

readonly GO_VERSION="1.15.15-1~deb11u4"
readonly -A GO_DEB_SHA256=(
  ["golang-1.15-go_1.15.15-1~deb11u4_amd64.deb"]="33f6680406698b60370322aa5710be199006b3d66fbb0974b44da012de3aa82a"
  ["golang-1.15-src_1.15.15-1~deb11u4_amd64.deb"]="e580f570f706d801191f9a17e55156736fc5979a6a878bab9304ca007ae29941"
)

readonly ETCD_VERSION="3.4.23-4+b4"
readonly ETCD_DEB="etcd-server_3.4.23-4+b4_amd64.deb"
readonly ETCD_DEB_SHA256="3a9445d4560ad6de1c375756b2a17d97713df44cbd20a658c871fe108af7ef5d"

readonly KUBE_BINARIES=(kube-apiserver kube-controller-manager)
# Extra `go build` flags of the compile (measured choice: see compile_kube).
readonly KUBE_GO_BUILD_FLAGS=""

readonly CACHE_ROOT="${XDG_CACHE_HOME:-${HOME}/.cache}/platformkit/kube"
readonly VERSION_DIR="${CACHE_ROOT}/${KUBE_VERSION}"
readonly BIN_DIR="${VERSION_DIR}/bin"
readonly DOWNLOADS="${CACHE_ROOT}/downloads"
readonly APT_DIR="${CACHE_ROOT}/apt"
readonly KUBE_STAMP="${BIN_DIR}/.kube.stamp"
readonly ETCD_STAMP="${BIN_DIR}/.etcd.stamp"
readonly BUILD_LOG="${VERSION_DIR}/build.log"

FORCE=0
for arg in "$@"; do
  case "${arg}" in
    --force) FORCE=1 ;;
    -h | --help)
      sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "kube: unknown argument: ${arg}" >&2
      exit 2
      ;;
  esac
done

# shellcheck source=scripts/lib/timing.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/timing.sh"

log() { printf 'kube: %s\n' "$*"; }
die() {
  printf 'kube: ERROR: %s\n' "$*" >&2
  exit 1
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# What the stamps record: every pin that goes into the result, so changing one rebuilds.
kube_stamp_text() {
  local f
  {
    for f in "${!KUBE_SRC_SHA256[@]}"; do printf '%s=%s\n' "${f}" "${KUBE_SRC_SHA256[${f}]}"; done
    for f in "${!GO_DEB_SHA256[@]}"; do printf '%s=%s\n' "${f}" "${GO_DEB_SHA256[${f}]}"; done
  } | sort | tr '\n' ' '
  printf '%s\n' "${KUBE_VERSION}"
}

kube_is_current() {
  local b
  [[ -f "${KUBE_STAMP}" && "$(cat "${KUBE_STAMP}")" == "$(kube_stamp_text)" ]] || return 1
  for b in "${KUBE_BINARIES[@]}"; do
    [[ -x "${BIN_DIR}/${b}" ]] || return 1
  done
}

etcd_is_current() {
  [[ -x "${BIN_DIR}/etcd" && -f "${ETCD_STAMP}" && "$(cat "${ETCD_STAMP}")" == "${ETCD_DEB_SHA256}" ]]
}

# --- host tools ---------------------------------------------------------------------------------------------

# make and rsync (the Kubernetes build needs both), from the machine's own apt sources when missing.
ensure_host_tools() {
  local missing=() t
  for t in make rsync; do
    command -v "${t}" >/dev/null 2>&1 || missing+=("${t}")
  done
  for t in apt-get dpkg tar sha256sum flock; do
    command -v "${t}" >/dev/null 2>&1 || die "'${t}' is required but not found (this script expects Debian)"
  done
  [[ "${#missing[@]}" -eq 0 ]] && return 0
  [[ "$(id -u)" -eq 0 ]] || die "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
  log "installing ${missing[*]} with apt-get"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
    # A fresh machine has no package lists yet.
    apt-get update -qq >/dev/null 2>&1 || die "apt-get update failed (needed to install ${missing[*]})"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
      die "apt-get install ${missing[*]} failed"
  fi
}

# --- private apt configuration ------------------------------------------------------------------------------

# apt-get/apt-cache with sources, lists and package cache all under ${APT_DIR}: bullseye (for Go 1.15),
# bookworm (etcd) and bookworm deb-src (the kubernetes source package). /etc/apt is never read for sources.
apt_private() {
  local tool="$1"
  shift
  "${tool}" \
    -o "Dir::Etc::sourcelist=${APT_DIR}/sources.list" \
    -o "Dir::Etc::sourceparts=-" \
    -o "Dir::State::Lists=${APT_DIR}/lists" \
    -o "Dir::Cache=${APT_DIR}/cache" \
    -o "APT::Sandbox::User=root" \
    -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false" \
    -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false" \
    -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false" \
    -o "Acquire::IndexTargets::deb::CNF::DefaultEnabled=false" \
    "$@"
}

APT_READY=0
# Writes the private sources.list and refreshes its lists (once per run, and only when something must be
# downloaded).
apt_private_update() {
  [[ "${APT_READY}" -eq 1 ]] && return 0
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  [[ -f "${keyring}" ]] || die "${keyring} is missing (apt-get install debian-archive-keyring)"
  mkdir -p "${APT_DIR}/lists/partial" "${APT_DIR}/cache/archives/partial"
  cat >"${APT_DIR}/sources.list" <<EOF
# Private to scripts/kube.sh (never the machine's /etc/apt).
deb [signed-by=${keyring}] http://deb.debian.org/debian bullseye main
deb [signed-by=${keyring}] http://deb.debian.org/debian bookworm main
deb-src [signed-by=${keyring}] http://deb.debian.org/debian bookworm main
deb-src [signed-by=${keyring}] http://deb.debian.org/debian-security bookworm-security main
EOF
  log "refreshing the private apt lists in ${APT_DIR}"
  if ! apt_private apt-get update -qq >"${APT_DIR}/update.log" 2>&1; then
    cat "${APT_DIR}/update.log" >&2
    die "apt-get update with ${APT_DIR}/sources.list failed"
  fi
  APT_READY=1
}

# verified NAME SHA256: true if ${DOWNLOADS}/NAME exists with that sha256 (a bad copy is removed).
verified() {
  local path="${DOWNLOADS}/$1"
  [[ -f "${path}" ]] || return 1
  if [[ "$(sha256_of "${path}")" == "$2" ]]; then
    return 0
  fi
  log "cached ${path} has a wrong sha256: removing it"
  rm -f "${path}"
  return 1
}

# check_download NAME SHA256: dies unless the freshly downloaded ${DOWNLOADS}/NAME has that sha256.
check_download() {
  local path="${DOWNLOADS}/$1" got
  [[ -f "${path}" ]] || die "apt did not produce $1"
  got="$(sha256_of "${path}")"
  if [[ "${got}" != "$2" ]]; then
    rm -f "${path}"
    die "sha256 mismatch for $1: expected $2, got ${got}. Refusing to use it."
  fi
}

# fetch_debs "pkg=version" ... : apt-get download into ${DOWNLOADS}.
fetch_debs() {
  apt_private_update
  log "downloading $*"
  (cd "${DOWNLOADS}" && apt_private apt-get download -qq "$@") >"${DOWNLOADS}/download.log" 2>&1 || {
    cat "${DOWNLOADS}/download.log" >&2
    die "apt-get download $* failed (has Debian dropped that version? then update the pins in $0)"
  }
}

fetch_kube_source() {
  local f need=0
  for f in "${!KUBE_SRC_SHA256[@]}"; do
    verified "${f}" "${KUBE_SRC_SHA256[${f}]}" || need=1
  done
  if [[ "${need}" -eq 1 ]]; then
    apt_private_update
    log "downloading source package ${KUBE_SRC_PKG}=${KUBE_SRC_VERSION} (about 35 MB)"
    (cd "${DOWNLOADS}" && apt_private apt-get source --download-only -qq "${KUBE_SRC_PKG}=${KUBE_SRC_VERSION}") \
      >"${DOWNLOADS}/download.log" 2>&1 || {
      cat "${DOWNLOADS}/download.log" >&2
      die "apt-get source ${KUBE_SRC_PKG}=${KUBE_SRC_VERSION} failed" \
        "(has Debian dropped that version? then update the pins in $0)"
    }
    for f in "${!KUBE_SRC_SHA256[@]}"; do
      check_download "${f}" "${KUBE_SRC_SHA256[${f}]}"
    done
  fi
  log "source package ${KUBE_SRC_PKG}=${KUBE_SRC_VERSION} verified (sha256)"
}

fetch_go() {
  local f need=0
  for f in "${!GO_DEB_SHA256[@]}"; do
    verified "${f}" "${GO_DEB_SHA256[${f}]}" || need=1
  done
  if [[ "${need}" -eq 1 ]]; then
    fetch_debs "golang-1.15-go=${GO_VERSION}" "golang-1.15-src=${GO_VERSION}"
    for f in "${!GO_DEB_SHA256[@]}"; do
      check_download "${f}" "${GO_DEB_SHA256[${f}]}"
    done
  fi
  log "go 1.15 (${GO_VERSION}) .debs verified (sha256)"
}

# --- etcd ---------------------------------------------------------------------------------------------------

install_etcd() {
  if [[ "${FORCE}" -eq 0 ]] && etcd_is_current; then
    log "etcd already installed at ${BIN_DIR}/etcd"
    return 0
  fi
  if ! verified "${ETCD_DEB}" "${ETCD_DEB_SHA256}"; then
    fetch_debs "etcd-server=${ETCD_VERSION}"
    check_download "${ETCD_DEB}" "${ETCD_DEB_SHA256}"
  fi
  local tmp
  tmp="$(mktemp -d "${VERSION_DIR}/.etcd.XXXXXX")"
  dpkg -x "${DOWNLOADS}/${ETCD_DEB}" "${tmp}" || die "dpkg -x ${ETCD_DEB} failed"
  local reported
  reported="$("${tmp}/usr/bin/etcd" --version 2>/dev/null | head -n1 || true)"
  if [[ "${reported}" != "etcd Version: 3.4.23" ]]; then
    rm -rf "${tmp}"
    die "the etcd from ${ETCD_DEB} reports '${reported}', expected 'etcd Version: 3.4.23'"
  fi
  mv -f "${tmp}/usr/bin/etcd" "${BIN_DIR}/etcd"
  rm -rf "${tmp}"
  printf '%s\n' "${ETCD_DEB_SHA256}" >"${ETCD_STAMP}"
  log "installed ${reported} at ${BIN_DIR}/etcd"
}

# --- kube-apiserver and kube-controller-manager --------------------------------------------------------------

# Where to build: the source tree and Go's build cache come to about 2 GB in tens of thousands of files that
# are thrown away afterwards, so tmpfs (/dev/shm) when it has room, which spares the disk writing them and
# deleting them again (minutes on a busy disk); the cache folder otherwise. KUBE_BUILD_TMPDIR overrides.
build_parent() {
  if [[ -n "${KUBE_BUILD_TMPDIR:-}" ]]; then
    printf '%s\n' "${KUBE_BUILD_TMPDIR}"
    return 0
  fi
  local avail_kib
  if [[ -d /dev/shm && -w /dev/shm ]]; then
    avail_kib="$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')"
    if [[ "${avail_kib:-0}" -gt $((6 * 1024 * 1024)) ]]; then
      printf '/dev/shm\n'
      return 0
    fi
  fi
  printf '%s\n' "${VERSION_DIR}"
}

BUILD_DIR=""
cleanup() {
  if [[ -n "${BUILD_DIR}" && -d "${BUILD_DIR}" ]]; then
    # Anything Go left read-only is made writable first, and only if a plain removal failed.
    rm -rf "${BUILD_DIR}" 2>/dev/null || { chmod -R u+w "${BUILD_DIR}" && rm -rf "${BUILD_DIR}"; }
  fi
}
trap cleanup EXIT

# The environment of every Go command of the build (Go at $1): offline, vendored modules, no cgo, and Go's
# build cache and work files inside the build folder, so they go when it goes.
go_env() {
  local goroot="$1"
  printf '%s\n' "GOROOT=${goroot}" "PATH=${goroot}/bin:${PATH}" GOPROXY=off GOFLAGS=-mod=vendor CGO_ENABLED=0 \
    "GOCACHE=${BUILD_DIR}/gocache" "GOPATH=${BUILD_DIR}/gopath" "GOTMPDIR=${BUILD_DIR}/gotmp"
}

# The one generated file the tarball lacks that the two commands need: pkg/generated/openapi (kube-apiserver's
# OpenAPI definitions), made by the tree's own rule (`make gen_openapi`: builds openapi-gen and runs it).
# `make WHAT=...` would also build and run the deepcopy, defaulter, conversion, prerelease-lifecycle and
# bindata generators, whose output the tarball already has.
generate_openapi() {
  local goroot="$1"
  mkdir -p "${BUILD_DIR}/gotmp"
  local -a env_vars
  mapfile -t env_vars < <(go_env "${goroot}")
  if ! (cd "${BUILD_DIR}/${KUBE_TREE}" && env "${env_vars[@]}" make gen_openapi) >>"${BUILD_LOG}" 2>&1; then
    tail -n 40 "${BUILD_LOG}" >&2
    die "generating pkg/generated/openapi failed; full log: ${BUILD_LOG}"
  fi
  [[ -f "${BUILD_DIR}/${KUBE_TREE}/pkg/generated/openapi/zz_generated.openapi.go" ]] ||
    die "make gen_openapi produced no pkg/generated/openapi/zz_generated.openapi.go; log: ${BUILD_LOG}"
}

# The two commands in one `go build` (the packages they share are compiled once) into $2, stripped (-s -w, as
# the tree's own build does), with the version stamped the way hack/lib/version.sh does, so `--version` and the
# API's /version say ${KUBE_VERSION}.
compile_kube() {
  local goroot="$1" out="$2"
  [[ "${KUBE_VERSION}" =~ ^v([0-9]+)\.([0-9]+)\. ]] || die "cannot parse ${KUBE_VERSION}"
  local major="${BASH_REMATCH[1]}" minor="${BASH_REMATCH[2]}"
  # Module mode (-mod=vendor): the vendored packages keep their own import paths (not k8s.io/kubernetes/vendor/...).
  local vendor=k8s.io ldflags="-s -w" kv pkg
  for kv in "gitVersion=${KUBE_VERSION}" "gitMajor=${major}" "gitMinor=${minor}" gitTreeState=clean; do
    for pkg in client-go/pkg/version component-base/version; do
      ldflags+=" -X ${vendor}/${pkg}.${kv}"
    done
  done
  local -a env_vars pkgs=()
  mapfile -t env_vars < <(go_env "${goroot}")
  for kv in "${KUBE_BINARIES[@]}"; do pkgs+=("./cmd/${kv}"); done
  mkdir -p "${out}"
  # shellcheck disable=SC2086 # KUBE_GO_BUILD_FLAGS is a list of flags
  if ! (
    cd "${BUILD_DIR}/${KUBE_TREE}" &&
      env "${env_vars[@]}" go build -trimpath ${KUBE_GO_BUILD_FLAGS} -ldflags "${ldflags}" -o "${out}/" "${pkgs[@]}"
  ) >>"${BUILD_LOG}" 2>&1; then
    tail -n 40 "${BUILD_LOG}" >&2
    die "the Kubernetes build failed; full log: ${BUILD_LOG}"
  fi
}

build_kube() {
  if [[ "${FORCE}" -eq 0 ]] && kube_is_current; then
    log "kube-apiserver and kube-controller-manager ${KUBE_VERSION} already built in ${BIN_DIR}"
    return 0
  fi
  ensure_host_tools
  timed download-kube-source fetch_kube_source
  timed download-go fetch_go

  local parent
  parent="$(build_parent)"
  mkdir -p "${parent}" || die "cannot create the build folder's parent ${parent}"
  # Leftovers of a build that was killed (we hold the lock, so no other build is using them).
  rm -rf "${parent}"/platformkit-kube-build.* "${VERSION_DIR}"/.build.* 2>/dev/null || true
  BUILD_DIR="$(mktemp -d "${parent}/platformkit-kube-build.XXXXXX")"
  local goroot="${BUILD_DIR}/go/usr/lib/go-1.15"
  local f
  for f in "${!GO_DEB_SHA256[@]}"; do
    dpkg -x "${DOWNLOADS}/${f}" "${BUILD_DIR}/go" || die "dpkg -x ${f} failed"
  done
  [[ -x "${goroot}/bin/go" ]] || die "no ${goroot}/bin/go after unpacking the golang-1.15 .debs"
  log "unpacking ${KUBE_ORIG}"
  tar -xzf "${DOWNLOADS}/${KUBE_ORIG}" -C "${BUILD_DIR}" || die "could not unpack ${KUBE_ORIG}"
  [[ -d "${BUILD_DIR}/${KUBE_TREE}/vendor" ]] || die "${KUBE_ORIG} has no ${KUBE_TREE}/vendor"

  log "building ${KUBE_BINARIES[*]} ${KUBE_VERSION} with $("${goroot}/bin/go" version | cut -d' ' -f3)" \
    "(about 330 CPU-s; log: ${BUILD_LOG})"
  local start=${SECONDS} out="${BUILD_DIR}/bin" b reported
  : >"${BUILD_LOG}"
  timed generate-openapi generate_openapi "${goroot}"
  timed compile compile_kube "${goroot}" "${out}"
  log "built in $((SECONDS - start))s"

  for b in "${KUBE_BINARIES[@]}"; do
    [[ -x "${out}/${b}" ]] || die "the build produced no ${out}/${b}; log: ${BUILD_LOG}"
    reported="$("${out}/${b}" --version 2>/dev/null || true)"
    [[ "${reported}" == "Kubernetes ${KUBE_VERSION}" ]] ||
      die "${b} reports '${reported}', expected 'Kubernetes ${KUBE_VERSION}'"
  done
  for b in "${KUBE_BINARIES[@]}"; do
    # Copy then rename: the build folder may be on another filesystem, and a reader never sees half a file.
    if ! { cp "${out}/${b}" "${BIN_DIR}/.${b}.new" && mv -f "${BIN_DIR}/.${b}.new" "${BIN_DIR}/${b}"; }; then
      die "could not install ${b} into ${BIN_DIR}"
    fi
  done
  kube_stamp_text >"${KUBE_STAMP}"
  local t=${SECONDS}
  cleanup
  log "removed the build folder in $((SECONDS - t))s"
  log "installed ${KUBE_BINARIES[*]} (Kubernetes ${KUBE_VERSION}) in ${BIN_DIR}"
}

main() {
  local start=${SECONDS}
  if [[ "${FORCE}" -eq 0 ]] && kube_is_current && etcd_is_current; then
    log "Kubernetes ${KUBE_VERSION} control plane and etcd already in ${BIN_DIR}"
    return 0
  fi
  [[ "$(uname -m)" == "x86_64" ]] || die "only linux amd64 is supported (the pinned .debs are amd64)"
  mkdir -p "${BIN_DIR}" "${DOWNLOADS}"
  # One builder at a time per machine: a second clone bootstrapping meanwhile waits, then finds the stamp.
  exec 9>"${CACHE_ROOT}/.lock"
  if ! flock -n 9; then
    log "another scripts/kube.sh is running on this machine; waiting for it"
    flock 9
  fi
  timed etcd install_etcd
  build_kube
  timing_report kube
  log "done in $((SECONDS - start))s: ${BIN_DIR}/{kube-apiserver,kube-controller-manager,etcd}"
}

main
