"""A real moto server on 127.0.0.1, started from .tools/venv and stopped by PID."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, Optional

from .paths import BOOTSTRAP_HINT, MOTO_SERVER_BIN
from .processes import die_with_parent, terminate

DUMMY_ACCESS_KEY = "test"
DUMMY_SECRET_KEY = "test"
DEFAULT_REGION = "us-east-1"
#: The account moto answers as when no role is assumed.
DEFAULT_ACCOUNT_ID = "123456789012"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, *, timeout: float, what: str, first_delay: float = 0.02, max_delay: float = 0.5):
    """Poll ``predicate`` with exponential backoff until it returns a truthy value or ``timeout`` passes.

    Returns the truthy value; raises TimeoutError naming ``what`` otherwise. This is the harness's only way
    of waiting for something: no fixed sleeps.
    """
    deadline = time.monotonic() + timeout
    delay = first_delay
    while True:
        result = predicate()
        if result:
            return result
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(min(delay, max(0.0, deadline - now)))
        delay = min(delay * 2, max_delay)


def clean_env(**extra: str) -> Dict[str, str]:
    """The process environment without any AWS_* or TF_* variable, plus ``extra``.

    The developer's own AWS profile, endpoint overrides or CA bundles must never leak into a test, and
    neither must a TF_CLI_CONFIG_FILE or TF_PLUGIN_CACHE_DIR from the surrounding shell.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_"))}
    env.update(extra)
    return env


class MotoServer:
    """A moto server process.

    Attributes:
        endpoint: ``http://127.0.0.1:PORT``, to use as the provider's ``endpoints { url = ... }``.
        port: the TCP port.
        region: the region the client factory uses (us-east-1).
        account_id: moto's default account id.
        log_path: file with the server's stdout/stderr (useful when a test fails).
    """

    def __init__(self, log_dir: Path, *, port: Optional[int] = None, start_timeout: float = 60.0):
        if not MOTO_SERVER_BIN.exists():
            raise FileNotFoundError(f"{MOTO_SERVER_BIN} is missing: {BOOTSTRAP_HINT}")
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.region = DEFAULT_REGION
        self.account_id = DEFAULT_ACCOUNT_ID
        self.log_path = Path(log_dir) / f"moto-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._start_timeout = start_timeout
        self.process: Optional[subprocess.Popen] = None

    # -- lifecycle -----------------------------------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        return self.process.pid if self.process else None

    def start(self) -> "MotoServer":
        env = clean_env(
            MOTO_IAM_LOAD_MANAGED_POLICIES="true",
            AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY,
            AWS_DEFAULT_REGION=self.region,
        )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(MOTO_SERVER_BIN), "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, which then stops us by PID
                preexec_fn=die_with_parent,  # and a killed pytest takes us with it
            )

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"moto_server exited with code {self.process.returncode} before answering; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            return self.is_up()

        try:
            wait_until(ready, timeout=self._start_timeout, what=f"moto_server on {self.endpoint}")
        except BaseException:
            self.stop()
            raise
        return self

    @classmethod
    def start_on_free_port(cls, log_dir: Path, *, attempts: int = 3, **kwargs: Any) -> "MotoServer":
        """Start on a kernel-chosen free port, retrying with a new port if another process took it first."""
        last: Optional[BaseException] = None
        for _ in range(attempts):
            server = cls(log_dir, **kwargs)
            try:
                return server.start()
            except RuntimeError as exc:  # exited early, most likely "address already in use"
                last = exc
        raise RuntimeError(f"moto_server did not start after {attempts} attempts") from last

    def is_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server by its PID: SIGTERM, then SIGKILL if it has not gone after ``timeout``."""
        terminate(self.process, timeout)

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, max_chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-max_chars:]
        except OSError:
            return "<no log>"

    # -- state ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every resource in every account and region (POST /moto-api/reset)."""
        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", data=b"", method="POST")
        # Generous: after the organization stacks a reset took over 30 s at load ~40.
        with urllib.request.urlopen(req, timeout=120) as resp:
            if resp.status != 200:
                raise RuntimeError(f"moto reset answered HTTP {resp.status}")

    # -- clients -------------------------------------------------------------------------------------------

    def session(self, region: Optional[str] = None):
        """A boto3 Session with the dummy credentials, independent of the developer's AWS config."""
        import boto3  # imported lazily so tests that do not talk to AWS need not import boto3

        return boto3.session.Session(
            aws_access_key_id=DUMMY_ACCESS_KEY,
            aws_secret_access_key=DUMMY_SECRET_KEY,
            region_name=region or self.region,
        )

    def client(self, service: str, region: Optional[str] = None, **kwargs: Any):
        """``boto3`` client for ``service`` pointed at this moto server, e.g. ``moto.client("s3")``."""
        return self.session(region).client(service, endpoint_url=self.endpoint, **kwargs)

    def resource(self, service: str, region: Optional[str] = None, **kwargs: Any):
        """``boto3`` resource for ``service`` pointed at this moto server."""
        return self.session(region).resource(service, endpoint_url=self.endpoint, **kwargs)

    def __repr__(self) -> str:
        return f"MotoServer(endpoint={self.endpoint!r}, pid={self.pid})"
