#!/usr/bin/env python3
"""Pack the provider binary into a Terraform provider mirror.

One output folder serves both ways Terraform can install from a mirror:

* the *packed* filesystem-mirror layout (``provider_installation { filesystem_mirror { ... } }``):
  ``<out>/registry.terraform.io/platformkit/platform/terraform-provider-platform_<V>_<OS>_<ARCH>.zip``
* the Provider Network Mirror Protocol (``network_mirror { url = ... }``) when the folder is served over
  HTTPS: ``index.json`` lists the versions and ``<V>.json`` lists each platform's archive with its hashes.

Terraform checks a downloaded archive against the mirror's hashes and records hashes in
``.terraform.lock.hcl``. Two schemes are written:

* ``zh:`` -- hex SHA-256 of the zip file itself (what registries publish in SHA256SUMS);
* ``h1:`` -- Go's dirhash "Hash1" of the zip's *contents* (golang.org/x/mod/sumdb/dirhash): for every
  entry, sorted by name, the line ``"<hex sha256 of contents>  <name>\\n"``; the lines are hashed with
  SHA-256 and the digest is base64-encoded (standard alphabet, with padding).

The zip is deterministic (fixed timestamps, fixed attributes), so the same binary always gives the same
``zh:`` hash. Running the script again for another ``--os/--arch`` adds that platform to ``<V>.json``,
``index.json`` and ``SHA256SUMS`` instead of replacing them.

Standard library only, so it runs under any python3 >= 3.8.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import stat
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

DEFAULT_HOSTNAME = "registry.terraform.io"
DEFAULT_NAMESPACE = "platformkit"
DEFAULT_TYPE = "platform"

# 1980-01-01 00:00:00 is the earliest time a zip header can express; using it makes the archive
# independent of when and where it was built.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CHUNK = 1 << 20
_VERSION_RE = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


# --- hashes ---------------------------------------------------------------------------------------------

def zh_hash(zip_path: os.PathLike) -> str:
    """The ``zh:`` hash of an archive: hex SHA-256 of the zip file's bytes."""
    return "zh:" + _sha256_file(zip_path)


def h1_hash_of_entries(entries: Iterable[Tuple[str, bytes]]) -> str:
    """dirhash Hash1 over (name, contents) pairs; see the module docstring."""
    summary = hashlib.sha256()
    # Go's sort.Strings orders by bytes; sorting the UTF-8 encodings gives exactly that order.
    for name_bytes, contents in sorted((name.encode("utf-8"), data) for name, data in entries):
        if b"\n" in name_bytes:
            raise ValueError("dirhash: file names with newlines are not supported")
        line = hashlib.sha256(contents).hexdigest().encode("ascii") + b"  " + name_bytes + b"\n"
        summary.update(line)
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def h1_hash_zip(zip_path: os.PathLike) -> str:
    """The ``h1:`` hash Terraform computes for a provider zip (dirhash.HashZip with Hash1).

    Every entry of the zip counts, exactly as Go's ``HashZip`` iterates ``zip.Reader.File``. Entries are
    streamed so a large binary is never held in memory twice.
    """
    summary = hashlib.sha256()
    with zipfile.ZipFile(zip_path) as zf:
        names = [info.filename for info in zf.infolist()]
        for name in sorted(names, key=lambda n: n.encode("utf-8")):
            if "\n" in name:
                raise ValueError("dirhash: file names with newlines are not supported")
            entry = hashlib.sha256()
            with zf.open(name) as fh:
                for chunk in iter(lambda: fh.read(_CHUNK), b""):
                    entry.update(chunk)
            summary.update(f"{entry.hexdigest()}  {name}\n".encode("utf-8"))
    return "h1:" + base64.b64encode(summary.digest()).decode("ascii")


def _sha256_file(path: os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- archive --------------------------------------------------------------------------------------------

def archive_name(ptype: str, version: str, os_name: str, arch: str) -> str:
    return f"terraform-provider-{ptype}_{version}_{os_name}_{arch}.zip"


def binary_name(ptype: str, version: str) -> str:
    """The executable's name inside the zip, as the registry's convention wants it."""
    return f"terraform-provider-{ptype}_v{version}"


def write_provider_zip(binary: Path, zip_path: Path, member: str) -> None:
    """Write a deterministic zip holding ``binary`` as ``member`` with mode 0755.

    Written to a temporary file first and renamed, so a reader never sees a half-written archive.
    """
    info = zipfile.ZipInfo(member, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so that external_attr carries the POSIX mode bits
    info.external_attr = (stat.S_IFREG | 0o755) << 16
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=zip_path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp_name, "w") as zf, open(binary, "rb") as src:
            with zf.open(info, "w") as dst:
                for chunk in iter(lambda: src.read(_CHUNK), b""):
                    dst.write(chunk)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, zip_path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


# --- metadata files -------------------------------------------------------------------------------------

def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return data


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _write_json(path: Path, data: dict) -> None:
    _write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _update_sha256sums(path: Path, entries: Dict[str, str]) -> None:
    """Merge ``{zip name: hex sha256}`` into a SHA256SUMS file (``<hex>  <name>`` lines, sorted by name)."""
    current: Dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                digest, _, name = line.partition("  ")
                current[name] = digest
    current.update(entries)
    _write_text(path, "".join(f"{current[n]}  {n}\n" for n in sorted(current)))


# --- the whole mirror -----------------------------------------------------------------------------------

def build_mirror(
    binary: os.PathLike,
    version: str,
    out: os.PathLike,
    os_name: str = "linux",
    arch: str = "amd64",
    hostname: str = DEFAULT_HOSTNAME,
    namespace: str = DEFAULT_NAMESPACE,
    ptype: str = DEFAULT_TYPE,
) -> Dict[str, object]:
    """Build (or extend) the mirror in ``out``; returns a summary with paths and hashes."""
    binary = Path(binary)
    if not binary.is_file():
        raise FileNotFoundError(f"provider binary not found: {binary}")
    if not _VERSION_RE.match(version):
        raise ValueError(f"not a semantic version: {version!r}")
    for label, value in (("os", os_name), ("arch", arch), ("namespace", namespace), ("type", ptype)):
        if not _NAME_RE.match(value):
            raise ValueError(f"invalid {label}: {value!r}")

    pkg_dir = Path(out) / hostname / namespace / ptype
    pkg_dir.mkdir(parents=True, exist_ok=True)
    zip_file = archive_name(ptype, version, os_name, arch)
    zip_path = pkg_dir / zip_file
    write_provider_zip(binary, zip_path, binary_name(ptype, version))

    h1 = h1_hash_zip(zip_path)
    zh = zh_hash(zip_path)
    platform = f"{os_name}_{arch}"

    version_doc_path = pkg_dir / f"{version}.json"
    version_doc = _read_json(version_doc_path)
    archives = version_doc.setdefault("archives", {})
    # The URL is relative to <version>.json, so the folder can be served from any base URL.
    archives[platform] = {"url": zip_file, "hashes": [h1, zh]}
    _write_json(version_doc_path, version_doc)

    index_path = pkg_dir / "index.json"
    index = _read_json(index_path)
    index.setdefault("versions", {})[version] = {}
    _write_json(index_path, index)

    _update_sha256sums(pkg_dir / "SHA256SUMS", {zip_file: zh[len("zh:"):]})

    return {
        "provider": f"{hostname}/{namespace}/{ptype}",
        "version": version,
        "platform": platform,
        "mirror": str(Path(out).resolve()),
        "zip": str(zip_path.resolve()),
        "h1": h1,
        "zh": zh,
    }


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Pack a provider binary into a Terraform filesystem mirror that is also a network mirror.",
    )
    parser.add_argument("--binary", required=True, help="path to the terraform-provider-platform executable")
    parser.add_argument("--version", required=True, help="provider version, e.g. 0.1.0")
    parser.add_argument("--out", required=True, help="mirror root folder (created if missing)")
    parser.add_argument("--os", dest="os_name", default="linux", help="target OS (default: linux)")
    parser.add_argument("--arch", default="amd64", help="target architecture (default: amd64)")
    parser.add_argument("--hostname", default=DEFAULT_HOSTNAME, help=f"(default: {DEFAULT_HOSTNAME})")
    parser.add_argument("--namespace", default=DEFAULT_NAMESPACE, help=f"(default: {DEFAULT_NAMESPACE})")
    parser.add_argument("--type", dest="ptype", default=DEFAULT_TYPE, help=f"(default: {DEFAULT_TYPE})")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON instead of text")
    args = parser.parse_args(argv)

    try:
        summary = build_mirror(
            args.binary, args.version, args.out, args.os_name, args.arch,
            args.hostname, args.namespace, args.ptype,
        )
    except (OSError, ValueError) as exc:
        print(f"build_mirror: error: {exc}", file=sys.stderr)
        return 1

    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print(f"provider {summary['provider']} {summary['version']} ({summary['platform']})")
        print(f"  archive: {summary['zip']}")
        print(f"  {summary['h1']}")
        print(f"  {summary['zh']}")
        print(f"  mirror root: {summary['mirror']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
