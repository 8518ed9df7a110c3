"""Where things live: the repo, the pinned tools in .tools/, the provider binary.

The harness never falls back to a `terraform` or `moto_server` found on PATH: the machine may carry other
versions, and the tests must run the pinned Terraform v1.0.3 and moto 5.x that scripts/bootstrap.sh puts in
.tools/.
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
