"""A real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver and kube-controller-manager (v1.20.2),
started from the binaries scripts/kube.sh builds into ``${XDG_CACHE_HOME:-~/.cache}/platformkit/kube/v1.20.2/bin``
and stopped by PID.

Everything a run needs is made in its own folder at start: a throwaway CA and a serving certificate for
127.0.0.1, a bearer token in group ``system:masters`` (``--token-auth-file``), the service-account signing key,
a kubeconfig, and etcd's data. Authorization is RBAC, only the secure port listens, and every port is picked
free on 127.0.0.1. The controller-manager runs the controllers that need no kubelet or cloud, so a Deployment
gets its ReplicaSet and pods (which stay Pending: there is no scheduler or kubelet, so ``helm --wait`` would
hang), service accounts get their tokens, and namespace deletion finishes.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .https_mirror import make_test_ca
from .moto_server import clean_env, free_port, wait_until
from .paths import BOOTSTRAP_HINT
from .processes import die_with_parent, terminate

KUBE_VERSION = "v1.20.2"
#: Where scripts/kube.sh installs the binaries (outside the clone: every clone on the machine shares them).
KUBE_BIN_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "platformkit" / "kube" / KUBE_VERSION / "bin"
)
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager")
#: A CIDR the apiserver allocates Service IPs from; nothing is routed to it.
SERVICE_CIDR = "10.0.0.0/24"
#: Controllers that need a kubelet, a node or a cloud provider, none of which exist here.
DISABLED_CONTROLLERS = (
    "nodeipam", "nodelifecycle", "cloud-node-lifecycle", "attachdetach", "ttl", "route", "service",
    "persistentvolume-expander",
)


def _free_ports(count: int) -> List[int]:
    """``count`` different free ports on 127.0.0.1."""
    ports: List[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class KubeStartError(RuntimeError):
    """A component exited or did not become ready; the message carries the tails of all logs.
    ``exited`` tells the first case (most likely a port another process took meanwhile) from a timeout."""

    def __init__(self, message: str, *, exited: bool = False):
        super().__init__(message)
        self.exited = exited


class KubeCluster:
    """etcd + kube-apiserver + kube-controller-manager on 127.0.0.1.

    Attributes (after :meth:`start`):
        host: ``https://127.0.0.1:PORT``, the API server.
        token: bearer token of a ``system:masters`` user.
        ca_pem: PEM text of the CA that signed the API server's certificate.
        ca_file: the same CA as a file.
        kubeconfig_path: a kubeconfig with that server, CA and token (for helm ``--kubeconfig``).
        workdir: the run's folder: certificates, keys, etcd data, and one log per component (``*.log``).
        ready_after: seconds from start() until etcd, the apiserver and the controllers were each ready.
    """

    def __init__(self, workdir: Path, *, bin_dir: Optional[Path] = None, start_timeout: float = 120.0):
        self.bin_dir = Path(bin_dir or KUBE_BIN_DIR)
        missing = [name for name in BINARIES if not os.access(self.bin_dir / name, os.X_OK)]
        if missing:
            raise FileNotFoundError(
                f"{', '.join(missing)} missing in {self.bin_dir}: {BOOTSTRAP_HINT} "
                "(its last step, scripts/kube.sh, builds the Kubernetes control plane once per machine)"
            )
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._start_timeout = start_timeout
        self.etcd_port, self.etcd_peer_port, self.port, self.controller_manager_port = _free_ports(4)
        self.host = f"https://127.0.0.1:{self.port}"
        self.token = secrets.token_urlsafe(32)
        self.ca_pem = ""
        self.ca_file = self.workdir / "pki" / "ca.pem"
        self.kubeconfig_path = self.workdir / "kubeconfig"
        self.processes: Dict[str, subprocess.Popen] = {}
        #: Seconds from start() until each component was ready (etcd /health, apiserver /readyz, controllers).
        self.ready_after: Dict[str, float] = {}
        self._ssl: Optional[ssl.SSLContext] = None

    # -- files ---------------------------------------------------------------------------------------------

    def _write_files(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        ca = make_test_ca(self.workdir / "pki", common_name="platformkit test kube CA")
        self.ca_file = ca.ca_cert
        self.ca_pem = ca.ca_cert.read_text()
        self._server_cert, self._server_key = ca.server_cert, ca.server_key

        # Service-account tokens: the apiserver signs and verifies, the controller-manager signs too.
        sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._sa_key = self.workdir / "pki" / "sa.key"
        self._sa_pub = self.workdir / "pki" / "sa.pub"
        self._sa_key.write_bytes(sa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        self._sa_pub.write_bytes(sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

        # token,user,uid,"group1,group2"
        self._token_file = self.workdir / "pki" / "tokens.csv"
        self._token_file.write_text(f'{self.token},platformkit-admin,platformkit-admin,"system:masters"\n')
        for secret in (self._sa_key, self._server_key, self._token_file):
            secret.chmod(0o600)

        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "platformkit-test", "cluster": {
                "server": self.host,
                "certificate-authority-data": base64.b64encode(self.ca_pem.encode()).decode(),
            }}],
            "users": [{"name": "platformkit-admin", "user": {"token": self.token}}],
            "contexts": [{"name": "platformkit-test",
                          "context": {"cluster": "platformkit-test", "user": "platformkit-admin"}}],
            "current-context": "platformkit-test",
        }
        # JSON is YAML: helm and the controller-manager read it as a kubeconfig.
        self.kubeconfig_path.write_text(json.dumps(kubeconfig, indent=2))
        self.kubeconfig_path.chmod(0o600)

    # -- processes -----------------------------------------------------------------------------------------

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def _spawn(self, name: str, args: List[str]) -> None:
        with open(self.log_path(name), "ab") as log:
            self.processes[name] = subprocess.Popen(
                [str(self.bin_dir / name), *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=clean_env(),
                start_new_session=True,  # a Ctrl-C reaches pytest, which then stops us by PID
                preexec_fn=die_with_parent,  # and a killed pytest takes us with it
            )

    def _check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise KubeStartError(f"{name} exited with code {proc.returncode} while starting", exited=True)

    def _wait(self, predicate, what: str, deadline: float) -> None:
        def ready():
            self._check_alive()
            return predicate()

        wait_until(ready, timeout=max(0.0, deadline - time.monotonic()), what=what)

    def start(self) -> "KubeCluster":
        started = time.monotonic()
        deadline = started + self._start_timeout
        try:
            self._write_files()
            self._start_etcd()
            self._wait(self._etcd_healthy, f"etcd on 127.0.0.1:{self.etcd_port}", deadline)
            self.ready_after["etcd"] = time.monotonic() - started
            self._start_apiserver()
            self._wait(lambda: self._status("/readyz") == 200, f"kube-apiserver {self.host}/readyz", deadline)
            self.ready_after["kube-apiserver"] = time.monotonic() - started
            self._start_controller_manager()
            # The controllers are running once the service-account controller has made the default namespace's
            # "default" ServiceAccount and the token controller has given it a token.
            self._wait(self._default_sa_has_token, "kube-controller-manager (default ServiceAccount token)",
                       deadline)
            self.ready_after["kube-controller-manager"] = time.monotonic() - started
        except BaseException as exc:
            self.stop()
            if isinstance(exc, (KubeStartError, TimeoutError)):
                raise KubeStartError(f"{exc}\n{self.log_tails()}",
                                     exited=getattr(exc, "exited", False)) from exc
            raise
        return self

    @classmethod
    def start_on_free_ports(cls, workdir: Path, *, attempts: int = 3, **kwargs: Any) -> "KubeCluster":
        """Start with kernel-chosen free ports, retrying in a fresh folder with new ports when a component
        exited early (another process took one of the ports first). A timeout is not retried."""
        for attempt in range(1, attempts + 1):
            cluster = cls(Path(workdir) / f"run-{attempt}", **kwargs)
            try:
                return cluster.start()
            except KubeStartError as exc:
                if not exc.exited or attempt == attempts:
                    raise KubeStartError(
                        f"the Kubernetes control plane did not start (attempt {attempt} of {attempts}): {exc}",
                        exited=exc.exited) from None
        raise AssertionError("unreachable")

    def _start_etcd(self) -> None:
        client = f"http://127.0.0.1:{self.etcd_port}"
        peer = f"http://127.0.0.1:{self.etcd_peer_port}"
        self._spawn("etcd", [
            "--name=platformkit-test",
            f"--data-dir={self.workdir / 'etcd-data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=platformkit-test={peer}",
            "--initial-cluster-state=new",
            "--log-level=warn",
            "--logger=zap",
        ])

    def _start_apiserver(self) -> None:
        self._spawn("kube-apiserver", [
            f"--etcd-servers=http://127.0.0.1:{self.etcd_port}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            "--insecure-port=0",
            f"--cert-dir={self.workdir / 'pki'}",
            f"--tls-cert-file={self._server_cert}",
            f"--tls-private-key-file={self._server_key}",
            f"--token-auth-file={self._token_file}",
            "--anonymous-auth=false",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={self._sa_pub}",
            f"--service-account-signing-key-file={self._sa_key}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",
            "--profiling=false",
        ])

    def _start_controller_manager(self) -> None:
        self._spawn("kube-controller-manager", [
            f"--kubeconfig={self.kubeconfig_path}",
            f"--authentication-kubeconfig={self.kubeconfig_path}",
            f"--authorization-kubeconfig={self.kubeconfig_path}",
            # The apiserver has no client CA, so there is no extension-apiserver-authentication ConfigMap.
            "--authentication-skip-lookup=true",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.controller_manager_port}",
            "--port=0",
            f"--cert-dir={self.workdir / 'controller-manager-certs'}",
            "--leader-elect=false",
            "--controllers=*," + ",".join(f"-{c}" for c in DISABLED_CONTROLLERS),
            f"--service-account-private-key-file={self._sa_key}",
            f"--root-ca-file={self.ca_file}",
            "--use-service-account-credentials=false",
            "--profiling=false",
        ])

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every component by its PID, the controller-manager first and etcd last: SIGTERM, then
        SIGKILL if one has not gone after ``timeout``."""
        for name in ("kube-controller-manager", "kube-apiserver", "etcd"):
            terminate(self.processes.get(name), timeout)

    def __enter__(self) -> "KubeCluster":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, name: str, max_chars: int = 3000) -> str:
        try:
            return self.log_path(name).read_text(errors="replace")[-max_chars:]
        except OSError:
            return "<no log>"

    def log_tails(self) -> str:
        return "\n".join(
            f"--- {self.log_path(name)} (last lines) ---\n{self.log_tail(name)}"
            for name in BINARIES if name in self.processes
        )

    # -- readiness probes ------------------------------------------------------------------------------------

    def _etcd_healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.etcd_port}/health", timeout=2) as resp:
                return json.loads(resp.read()).get("health") == "true"
        except (urllib.error.URLError, ConnectionError, OSError, ValueError):
            return False

    def _status(self, path: str) -> int:
        try:
            return self.request("GET", path)[0]
        except (urllib.error.URLError, ConnectionError, OSError):
            return 0

    def _default_sa_has_token(self) -> bool:
        try:
            status, body = self.request("GET", "/api/v1/namespaces/default/serviceaccounts/default")
        except (urllib.error.URLError, ConnectionError, OSError):
            return False
        return status == 200 and bool(body.get("secrets"))

    # -- API access ------------------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the API server against the run's CA (and its name, 127.0.0.1)."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cadata=self.ca_pem)
        return self._ssl

    def request(
        self, method: str, path: str, body: Optional[Any] = None, *, timeout: float = 10.0,
        content_type: str = "application/json", token: Optional[str] = None,
    ) -> Tuple[int, Dict[str, Any]]:
        """Call the API with the admin token (or ``token``): ``(HTTP status, decoded JSON body or {})``. HTTP
        errors are returned, not raised; connection errors raise."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.host + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {token or self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context()) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        try:
            return status, (json.loads(raw) if raw else {})
        except ValueError:
            return status, {"raw": raw.decode(errors="replace")}

    def get(self, path: str) -> Optional[Dict[str, Any]]:
        """The object at ``path``, or None on 404; other errors raise."""
        status, body = self.request("GET", path)
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError(f"GET {path} answered HTTP {status}: {body}")
        return body

    def create(self, path: str, obj: Dict[str, Any]) -> Dict[str, Any]:
        status, body = self.request("POST", path, obj)
        if status not in (200, 201, 202):
            raise RuntimeError(f"POST {path} answered HTTP {status}: {body}")
        return body

    def delete(self, path: str) -> int:
        """DELETE ``path``; returns the HTTP status (404 means it was already gone)."""
        status, body = self.request("DELETE", path)
        if status not in (200, 202, 404):
            raise RuntimeError(f"DELETE {path} answered HTTP {status}: {body}")
        return status

    def api_versions(self) -> List[str]:
        """Every group/version the server serves (``v1``, ``apps/v1``, ``autoscaling/v2beta2``...)."""
        versions = list(self.get("/api")["versions"])
        for group in self.get("/apis")["groups"]:
            versions += [v["groupVersion"] for v in group["versions"]]
        return versions

    def server_version(self) -> str:
        return self.get("/version")["gitVersion"]

    def __repr__(self) -> str:
        pids = {name: proc.pid for name, proc in self.processes.items()}
        return f"KubeCluster(host={self.host!r}, pids={pids})"
