"""Build the provider mirror with scripts/build_mirror.py, exactly as a developer or CI would."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List

from .paths import BUILD_MIRROR_SCRIPT, PROVIDER_ADDR, PROVIDER_VERSION


@dataclass(frozen=True)
class Mirror:
    """A built mirror folder.

    Attributes:
        path: mirror root: use as ``filesystem_mirror { path = ... }`` or serve it as a network mirror.
        version: provider version inside (0.1.0).
        zip_path: the linux_amd64 archive.
        h1: ``h1:`` hash of the archive's contents; zh: ``zh:`` hash of the archive file.
    """

    path: Path
    version: str
    zip_path: Path
    h1: str
    zh: str

    @property
    def hashes(self) -> List[str]:
        return [self.h1, self.zh]

    @property
    def package_dir(self) -> Path:
        return self.path / PROVIDER_ADDR


def build_mirror(binary: Path, out: Path, version: str = PROVIDER_VERSION) -> Mirror:
    """Run ``build_mirror.py --binary BINARY --version VERSION --out OUT --json`` and describe the result."""
    cmd = [
        sys.executable, str(BUILD_MIRROR_SCRIPT),
        "--binary", str(binary), "--version", version, "--out", str(out), "--json",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(
            f"build_mirror.py failed with exit code {proc.returncode}\n"
            f"command: {' '.join(cmd)}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    summary = json.loads(proc.stdout)
    return Mirror(
        path=Path(summary["mirror"]),
        version=summary["version"],
        zip_path=Path(summary["zip"]),
        h1=summary["h1"],
        zh=summary["zh"],
    )
