"""Talk to the provider binary at the plugin-protocol level, without Terraform in between.

For tests that want to call one tfplugin6 RPC directly (GetProviderSchema, ValidateResourceConfig, ...) or
check the go-plugin contract itself (handshake line, controller Shutdown). The real binary is started the
way Terraform starts it: magic cookie and PLUGIN_PROTOCOL_VERSIONS in the environment, handshake line read
from stdout. Python stubs are generated at run time from the repo's proto/ files with grpcio-tools.

Transport: plaintext gRPC on 127.0.0.1 (go-plugin serves without TLS when PLUGIN_CLIENT_CERT is not set).
AutoMTLS is exercised by every real `terraform` run instead: go-plugin's certificates are ECDSA P-521,
which gRPC-Python's TLS stack does not offer to verify by default.

    protos = compile_protos(tmp_dir)                      # or the session fixture ``plugin_protos``
    with ProviderProcess(binary) as proc:                 # or the fixture ``start_provider()``
        stub = proc.provider_stub(protos)
        schema = stub.GetProviderSchema(protos.tfplugin6_pb2.GetProviderSchema.Request())
"""

from __future__ import annotations

import base64
import importlib
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, List, Mapping, Optional

from .moto_server import DEFAULT_REGION, DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, clean_env
from .paths import REPO_ROOT
from .processes import terminate

PROTO_DIR = REPO_ROOT / "proto"
#: Terraform's go-plugin magic cookie: a "you were started by Terraform" marker, not a secret.
MAGIC_COOKIE_KEY = "TF_PLUGIN_MAGIC_COOKIE"
MAGIC_COOKIE_VALUE = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2"

_PROTO_MODULES = ("tfplugin6", "grpc_controller", "grpc_stdio")
_compiled: Optional[SimpleNamespace] = None
_compile_lock = threading.Lock()


def compile_protos(out_dir: Path, proto_dir: Path = PROTO_DIR) -> SimpleNamespace:
    """Generate and import Python modules for proto/*.proto.

    Returns a namespace with ``tfplugin6_pb2``, ``tfplugin6_pb2_grpc``, ``grpc_controller_pb2``,
    ``grpc_controller_pb2_grpc``, ``grpc_stdio_pb2`` and ``grpc_stdio_pb2_grpc``. Protobuf keeps one global
    registry of message types per process, so the first call's modules are reused by later calls.
    """
    global _compiled
    with _compile_lock:
        if _compiled is not None:
            return _compiled
        from grpc_tools import protoc

        try:
            from importlib.resources import files as _resource_files

            well_known = str(_resource_files("grpc_tools") / "_proto")
        except (ImportError, TypeError):  # very old Python: fall back to the package folder
            import grpc_tools

            well_known = str(Path(grpc_tools.__file__).parent / "_proto")

        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        sources = [str(proto_dir / f"{name}.proto") for name in _PROTO_MODULES]
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{proto_dir}",
                f"-I{well_known}",
                f"--python_out={out_dir}",
                f"--grpc_python_out={out_dir}",
                *sources,
            ]
        )
        if code != 0:
            raise RuntimeError(f"protoc failed (exit {code}) on {sources}")
        # The generated *_grpc modules import their *_pb2 siblings as top-level modules.
        if str(out_dir) not in sys.path:
            sys.path.insert(0, str(out_dir))
        modules = {}
        for name in _PROTO_MODULES:
            modules[f"{name}_pb2"] = importlib.import_module(f"{name}_pb2")
            modules[f"{name}_pb2_grpc"] = importlib.import_module(f"{name}_pb2_grpc")
        _compiled = SimpleNamespace(**modules)
        return _compiled


@dataclass(frozen=True)
class Handshake:
    """go-plugin's handshake line: ``CORE|APP-PROTOCOL|NETWORK|ADDRESS|PROTOCOL|SERVER-CERT``."""

    core_version: int
    protocol_version: int
    network: str
    address: str
    protocol: str
    server_cert_der: Optional[bytes]

    @property
    def grpc_target(self) -> str:
        return f"unix:{self.address}" if self.network == "unix" else self.address


def parse_handshake(line: str) -> Handshake:
    """Parse the handshake line; raises ValueError if it is not one."""
    parts = line.strip().split("|")
    if len(parts) not in (5, 6):
        raise ValueError(f"not a go-plugin handshake line: {line!r}")
    try:
        core, proto = int(parts[0]), int(parts[1])
    except ValueError as exc:
        raise ValueError(f"non-numeric protocol versions in handshake line: {line!r}") from exc
    cert: Optional[bytes] = None
    if len(parts) == 6 and parts[5]:
        text = parts[5]
        cert = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)  # sent without padding
    return Handshake(core, proto, parts[2], parts[3], parts[4], cert)


class ProviderProcess:
    """The provider binary started like Terraform starts it (plaintext gRPC, see the module docstring).

    Args:
        binary: provider executable.
        env: extra environment (e.g. RUST_LOG); AWS dummy credentials are set already.
        protocol_versions: value of PLUGIN_PROTOCOL_VERSIONS.
        log_path: where the provider's stderr (its JSON log) goes; default: discarded.
        handshake_timeout: seconds to wait for the handshake line.
    """

    def __init__(
        self,
        binary: Path,
        *,
        env: Optional[Mapping[str, str]] = None,
        protocol_versions: str = "6",
        log_path: Optional[Path] = None,
        handshake_timeout: float = 30.0,
        args: Optional[List[str]] = None,
    ):
        self.binary = Path(binary)
        self.extra_env = dict(env or {})
        self.protocol_versions = protocol_versions
        self.log_path = Path(log_path) if log_path else None
        self.handshake_timeout = handshake_timeout
        self.args = list(args or [])
        self.process: Optional[subprocess.Popen] = None
        self.handshake: Optional[Handshake] = None
        self.stdout_lines: List[str] = []
        self._channel: Any = None
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def environment(self) -> dict:
        env = clean_env(
            AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY,
            AWS_REGION=DEFAULT_REGION,
            AWS_EC2_METADATA_DISABLED="true",
            PLUGIN_PROTOCOL_VERSIONS=self.protocol_versions,
        )
        env[MAGIC_COOKIE_KEY] = MAGIC_COOKIE_VALUE
        env.pop("PLUGIN_CLIENT_CERT", None)
        env.update(self.extra_env)
        return env

    def start(self) -> "ProviderProcess":
        stderr = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        try:
            self.process = subprocess.Popen(
                [str(self.binary), *self.args],
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                start_new_session=True,
            )
        finally:
            if self.log_path:
                stderr.close()  # the child has its own copy
        threading.Thread(target=self._pump_stdout, name="provider-stdout", daemon=True).start()
        try:
            line = self._lines.get(timeout=self.handshake_timeout)
        except queue.Empty:
            self.stop()
            raise TimeoutError(f"no handshake line from {self.binary} within {self.handshake_timeout}s")
        if line is None:
            code = self.process.wait(timeout=10)
            raise RuntimeError(f"{self.binary} exited with code {code} before its handshake{self._log_hint()}")
        self.handshake = parse_handshake(line)
        return self

    def _pump_stdout(self) -> None:
        # Keep reading after the handshake so the provider never blocks on a full pipe.
        assert self.process is not None and self.process.stdout is not None
        for raw in self.process.stdout:
            text = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.stdout_lines.append(text)
            self._lines.put(text)
        self._lines.put(None)

    def _log_hint(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return f"; stderr ({self.log_path}):\n{self.log_path.read_text(errors='replace')[-4000:]}"

    @property
    def channel(self):
        """A grpc channel to the provider (created on first use)."""
        import grpc

        if self.handshake is None:
            raise RuntimeError("provider not started")
        if self._channel is None:
            self._channel = grpc.insecure_channel(self.handshake.grpc_target)
        return self._channel

    def provider_stub(self, protos: SimpleNamespace):
        """tfplugin6.Provider client stub."""
        return protos.tfplugin6_pb2_grpc.ProviderStub(self.channel)

    def controller_stub(self, protos: SimpleNamespace):
        """go-plugin's plugin.GRPCController client stub (``Shutdown``)."""
        return protos.grpc_controller_pb2_grpc.GRPCControllerStub(self.channel)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """Stop the provider by PID (SIGTERM, then SIGKILL after ``timeout``); returns its exit code."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        proc = self.process
        if proc is None:
            return None
        terminate(proc, timeout)
        return proc.returncode

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the provider to exit by itself (e.g. after controller Shutdown)."""
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def __enter__(self) -> "ProviderProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
