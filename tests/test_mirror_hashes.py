"""Unit tests for scripts/build_mirror.py: the h1:/zh: hashes and the mirror layout.

The expected hashes are computed independently of the code under test: once by spelling out the
dirhash Hash1 steps by hand, and once with coreutils (`sha256sum` over the extracted files, piped into
`sha256sum`), which is the Unix pipeline Go's documentation describes Hash1 as.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from harness.paths import BUILD_MIRROR_SCRIPT, load_build_mirror

bm = load_build_mirror()

PKG = Path("registry.terraform.io/platformkit/platform")


def make_zip(path: Path, entries, *, compression=zipfile.ZIP_DEFLATED, date_time=(2001, 2, 3, 4, 5, 6)):
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=date_time), data, compress_type=compression)
    return path


def by_hand_h1(entries) -> str:
    """Hash1 spelled out: sorted 'hex(sha256(content))  name\\n' lines, sha256, base64."""
    lines = []
    for name, data in sorted(entries):
        lines.append("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name))
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


ENTRIES = [("prefix/xyz", b"data for xyz"), ("prefix/abc", b"data for abc"), ("b", b"")]


def test_h1_matches_hand_rolled_hash(tmp_path):
    z = make_zip(tmp_path / "t.zip", ENTRIES)
    assert bm.h1_hash_zip(z) == by_hand_h1(ENTRIES)
    assert bm.h1_hash_of_entries(ENTRIES) == by_hand_h1(ENTRIES)


def test_h1_matches_go_doc_example():
    # The example from dirhash's own documentation/tests: files "xyz" and "abc" holding "data for <name>".
    summary = (
        f"{hashlib.sha256(b'data for abc').hexdigest()}  abc\n"
        f"{hashlib.sha256(b'data for xyz').hexdigest()}  xyz\n"
    )
    want = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    assert bm.h1_hash_of_entries([("xyz", b"data for xyz"), ("abc", b"data for abc")]) == want


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="coreutils sha256sum not available")
def test_h1_matches_coreutils_pipeline(tmp_path):
    z = make_zip(tmp_path / "t.zip", ENTRIES)
    unpacked = tmp_path / "unpacked"
    with zipfile.ZipFile(z) as zf:
        zf.extractall(unpacked)
    names = sorted(n for n, _ in ENTRIES)  # byte order: all ASCII here
    listing = subprocess.run(
        [shutil.which("sha256sum"), *names], cwd=unpacked, check=True, capture_output=True, env={"LC_ALL": "C"}
    ).stdout
    digest_hex = subprocess.run(
        [shutil.which("sha256sum")], input=listing, check=True, capture_output=True
    ).stdout.split()[0].decode()
    want = "h1:" + base64.b64encode(bytes.fromhex(digest_hex)).decode()
    assert bm.h1_hash_zip(z) == want


def test_h1_ignores_zip_metadata_but_zh_does_not(tmp_path):
    a = make_zip(tmp_path / "a.zip", ENTRIES, compression=zipfile.ZIP_DEFLATED)
    b = make_zip(tmp_path / "b.zip", list(reversed(ENTRIES)), compression=zipfile.ZIP_STORED,
                 date_time=(2020, 1, 1, 0, 0, 0))
    assert bm.h1_hash_zip(a) == bm.h1_hash_zip(b)
    assert bm.zh_hash(a) != bm.zh_hash(b)


def test_h1_sorts_by_bytes_not_by_case_or_locale(tmp_path):
    entries = [("a", b"1"), ("B", b"2"), ("_", b"3")]  # byte order: "B" < "_" < "a"
    summary = "".join(
        f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in [("B", b"2"), ("_", b"3"), ("a", b"1")]
    )
    want = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
    assert bm.h1_hash_zip(make_zip(tmp_path / "t.zip", entries)) == want


def test_h1_rejects_newline_in_names():
    with pytest.raises(ValueError):
        bm.h1_hash_of_entries([("bad\nname", b"x")])


def test_zh_is_sha256_of_the_file(tmp_path):
    z = make_zip(tmp_path / "t.zip", ENTRIES)
    assert bm.zh_hash(z) == "zh:" + hashlib.sha256(z.read_bytes()).hexdigest()


@pytest.fixture
def fake_binary(tmp_path) -> Path:
    # Not a provider: only bytes to pack, for checking the layout. The e2e tests use the real binary.
    path = tmp_path / "bin" / "terraform-provider-platform"
    path.parent.mkdir()
    path.write_bytes(b"\x7fELF not really a binary\n" * 1000)
    path.chmod(0o755)
    return path


def test_build_mirror_layout(tmp_path, fake_binary):
    out = tmp_path / "mirror"
    summary = bm.build_mirror(fake_binary, "0.1.0", out)
    pkg = out / PKG
    zip_path = pkg / "terraform-provider-platform_0.1.0_linux_amd64.zip"
    assert Path(summary["zip"]) == zip_path.resolve()

    with zipfile.ZipFile(zip_path) as zf:
        infos = zf.infolist()
        assert [i.filename for i in infos] == ["terraform-provider-platform_v0.1.0"]
        info = infos[0]
        assert stat.S_IMODE(info.external_attr >> 16) == 0o755
        assert stat.S_ISREG(info.external_attr >> 16)
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert zf.read(info) == fake_binary.read_bytes()

    zh = "zh:" + hashlib.sha256(zip_path.read_bytes()).hexdigest()
    h1 = by_hand_h1([("terraform-provider-platform_v0.1.0", fake_binary.read_bytes())])
    assert (summary["h1"], summary["zh"]) == (h1, zh)

    assert json.loads((pkg / "index.json").read_text()) == {"versions": {"0.1.0": {}}}
    assert json.loads((pkg / "0.1.0.json").read_text()) == {
        "archives": {
            "linux_amd64": {"url": "terraform-provider-platform_0.1.0_linux_amd64.zip", "hashes": [h1, zh]}
        }
    }
    assert (pkg / "SHA256SUMS").read_text() == (
        f"{zh[3:]}  terraform-provider-platform_0.1.0_linux_amd64.zip\n"
    )


def test_build_mirror_is_deterministic(tmp_path, fake_binary):
    first = bm.build_mirror(fake_binary, "0.1.0", tmp_path / "one")
    fake_binary.touch()  # a newer mtime must not change the archive
    second = bm.build_mirror(fake_binary, "0.1.0", tmp_path / "two")
    assert (first["h1"], first["zh"]) == (second["h1"], second["zh"])
    again = bm.build_mirror(fake_binary, "0.1.0", tmp_path / "one")  # rebuilding in place is stable too
    assert again["zh"] == first["zh"]


def test_build_mirror_adds_platforms(tmp_path, fake_binary):
    out = tmp_path / "mirror"
    amd = bm.build_mirror(fake_binary, "0.1.0", out, "linux", "amd64")
    arm = bm.build_mirror(fake_binary, "0.1.0", out, "darwin", "arm64")
    doc = json.loads((out / PKG / "0.1.0.json").read_text())
    assert set(doc["archives"]) == {"linux_amd64", "darwin_arm64"}
    assert doc["archives"]["darwin_arm64"]["hashes"] == [arm["h1"], arm["zh"]]
    sums = (out / PKG / "SHA256SUMS").read_text().splitlines()
    assert sums == sorted(
        [
            f"{amd['zh'][3:]}  terraform-provider-platform_0.1.0_linux_amd64.zip",
            f"{arm['zh'][3:]}  terraform-provider-platform_0.1.0_darwin_arm64.zip",
        ],
        key=lambda line: line.split("  ")[1],
    )
    # Same contents, same h1; the zip name differs but is not part of the contents hash.
    assert amd["h1"] == arm["h1"]


def test_cli_json_and_errors(tmp_path, fake_binary):
    ok = subprocess.run(
        [sys.executable, str(BUILD_MIRROR_SCRIPT), "--binary", str(fake_binary), "--version", "0.1.0",
         "--out", str(tmp_path / "m"), "--json"],
        capture_output=True, text=True, check=True,
    )
    summary = json.loads(ok.stdout)
    assert summary["provider"] == "registry.terraform.io/platformkit/platform"
    assert summary["h1"].startswith("h1:") and summary["zh"].startswith("zh:")

    missing = subprocess.run(
        [sys.executable, str(BUILD_MIRROR_SCRIPT), "--binary", str(tmp_path / "nope"), "--version", "0.1.0",
         "--out", str(tmp_path / "m2")],
        capture_output=True, text=True,
    )
    assert missing.returncode == 1
    assert "provider binary not found" in missing.stderr

    bad_version = subprocess.run(
        [sys.executable, str(BUILD_MIRROR_SCRIPT), "--binary", str(fake_binary), "--version", "v0.1",
         "--out", str(tmp_path / "m3")],
        capture_output=True, text=True,
    )
    assert bad_version.returncode == 1
    assert "semantic version" in bad_version.stderr
