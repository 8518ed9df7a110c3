#!/usr/bin/env python3
"""Build an OCI image from one static binary, and push an OCI image layout to a registry (Distribution API v2),
without a container engine. Standard library only.

  oci_image.py build --binary PATH --out LAYOUT [--entrypoint /mobile-service] [--port 8080] [--user 65532:65532]
                     [--label KEY=VALUE ...]
  oci_image.py push --layout LAYOUT --ref HOST[:PORT]/REPOSITORY:TAG

The image matches the Dockerfile's final stage: the binary as its only layer on `scratch`, the entrypoint, the
user, the exposed port and the labels. The layer is reproducible (sorted, owner 0, mtime 0, gzip without a
timestamp), so the same binary gives the same digest.

push speaks HTTPS, except to 127.0.0.1/localhost, where it speaks plain HTTP (a local registry). Credentials for
a registry that asks (ECR answers 401 with a Basic challenge): REGISTRY_USERNAME / REGISTRY_PASSWORD, e.g.
`AWS` and the output of `aws ecr get-login-password`.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Optional, Tuple

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_blob(layout: Path, data: bytes) -> str:
    digest = sha256(data)
    path = layout / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def layer_for(binary: Path, target: str) -> Tuple[bytes, bytes]:
    """(uncompressed tar, gzipped tar) holding ``binary`` at ``target``, reproducibly."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        data = binary.read_bytes()
        info = tarfile.TarInfo(target.lstrip("/"))
        info.size, info.mode, info.mtime, info.uid, info.gid = len(data), 0o755, 0, 0, 0
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(tar_bytes)
    return tar_bytes, packed.getvalue()


def build(args: argparse.Namespace) -> int:
    layout = Path(args.out)
    layout.mkdir(parents=True, exist_ok=True)
    tar_bytes, gz_bytes = layer_for(Path(args.binary), args.entrypoint)
    layer_digest = write_blob(layout, gz_bytes)
    labels = dict(item.split("=", 1) for item in args.label)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": [args.entrypoint],
            "User": args.user,
            "ExposedPorts": {f"{args.port}/tcp": {}},
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar_bytes)]},
        "history": [{"created_by": f"oci_image.py: COPY {Path(args.binary).name} {args.entrypoint}"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = write_blob(layout, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": LAYER, "digest": layer_digest, "size": len(gz_bytes)}],
        "annotations": {k: v for k, v in labels.items() if k.startswith("org.opencontainers.")},
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = write_blob(layout, manifest_bytes)
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (layout / "index.json").write_text(json.dumps({
        "schemaVersion": 2,
        "manifests": [{"mediaType": MANIFEST, "digest": manifest_digest, "size": len(manifest_bytes)}],
    }))
    print(manifest_digest)
    return 0


class Registry:
    def __init__(self, host: str):
        local = host.split(":")[0] in ("127.0.0.1", "localhost")
        self.base = f"{'http' if local else 'https'}://{host}"
        self.auth: Optional[str] = None
        user, password = os.environ.get("REGISTRY_USERNAME"), os.environ.get("REGISTRY_PASSWORD")
        if user and password:
            self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def request(self, method: str, url: str, data: Optional[bytes] = None,
                headers: Optional[Dict[str, str]] = None):
        if not url.startswith("http"):
            url = self.base + url
        req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
        if self.auth:
            req.add_header("Authorization", self.auth)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, err.read()


def push(args: argparse.Namespace) -> int:
    layout = Path(args.layout)
    host, _, rest = args.ref.partition("/")
    repo, _, tag = rest.rpartition(":")
    if not (host and repo and tag):
        raise SystemExit(f"oci_image.py: --ref must be HOST[:PORT]/REPOSITORY:TAG, got {args.ref!r}")
    index = json.loads((layout / "index.json").read_text())
    manifest_desc = index["manifests"][0]
    blob = lambda d: (layout / "blobs" / "sha256" / d.split(":", 1)[1]).read_bytes()  # noqa: E731
    manifest_bytes = blob(manifest_desc["digest"])
    manifest = json.loads(manifest_bytes)
    reg = Registry(host)
    for desc in [manifest["config"], *manifest["layers"]]:
        digest = desc["digest"]
        status, _, _ = reg.request("HEAD", f"/v2/{repo}/blobs/{digest}")
        if status == 200:
            print(f"blob {digest[:19]} already in {repo}")
            continue
        status, headers, body = reg.request("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise SystemExit(f"oci_image.py: starting an upload to {repo} failed: {status} {body[:300]!r}")
        location = headers["Location"]
        sep = "&" if "?" in location else "?"
        status, _, body = reg.request("PUT", f"{location}{sep}digest={digest}", blob(digest),
                                      {"Content-Type": "application/octet-stream"})
        if status != 201:
            raise SystemExit(f"oci_image.py: uploading {digest} failed: {status} {body[:300]!r}")
        print(f"pushed blob {digest[:19]} ({desc['size']} bytes)")
    status, headers, body = reg.request("PUT", f"/v2/{repo}/manifests/{tag}", manifest_bytes,
                                        {"Content-Type": MANIFEST})
    if status != 201:
        raise SystemExit(f"oci_image.py: pushing the manifest {repo}:{tag} failed: {status} {body[:300]!r}")
    print(f"pushed {host}/{repo}:{tag} {headers.get('Docker-Content-Digest', manifest_desc['digest'])}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--binary", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--entrypoint", default="/mobile-service")
    b.add_argument("--port", type=int, default=8080)
    b.add_argument("--user", default="65532:65532")
    b.add_argument("--label", action="append", default=[])
    p = sub.add_parser("push")
    p.add_argument("--layout", required=True)
    p.add_argument("--ref", required=True)
    args = parser.parse_args(argv)
    return build(args) if args.cmd == "build" else push(args)


if __name__ == "__main__":
    sys.exit(main())
