"""pytest fixtures for the end-to-end tests.

Option: ``--terraform 1.0.3|1.15.5`` (or $PLATFORM_TERRAFORM_VERSION; default 1.0.3) chooses the Terraform
every test drives; `scripts/test.sh` runs the suite once per version.

Session fixtures (built once per run):
    terraform_version The chosen version, e.g. "1.15.5"
    terraform_bin     Path to its binary (.tools/bin/terraform, .tools/bin/terraform-1.15)
    provider_binary   Path to the provider under test ($PLATFORM_PROVIDER_BIN or target/release/...)
    mirror            harness.Mirror: the provider packed by scripts/build_mirror.py into a tmp folder
    moto              harness.MotoServer: a real moto server on 127.0.0.1 (.endpoint, .client("s3"), .reset())
    https_mirror      harness.HttpsMirror: the mirror folder served over HTTPS with a test CA (.url, .ca_file)
    cli_config_filesystem / cli_config_network   CLI config files for the two install modes
    kube              harness.KubeCluster: a real Kubernetes v1.20.2 control plane on 127.0.0.1 (etcd,
                      kube-apiserver, kube-controller-manager; .host, .token, .ca_pem, .kubeconfig_path,
                      .request()/.get()); built once per machine by scripts/kube.sh
    fault_proxy       (per test) harness.faults.FaultProxy in front of clean_moto: .url is the provider
                      endpoint; .transient(rate), .fail(service, op, after=N), .on_call(cb), .report();
                      seeded by $PLATFORM_FAULT_SEED (default 17)
    chart_repo        harness.ChartRepository: tests/charts packaged and served as a Helm repository on
                      127.0.0.1 (.url, .requests)

Per-test fixtures:
    clean_moto        the session moto, reset (POST /moto-api/reset) before the test
    tf_factory        make(mode="filesystem"|"network"|"custom", name=None, env=None, timeout=900,
                           cli_config=None, terraform=None) -> harness.Terraform
                      (terraform="1.15.5" pins a version for tests of features only newer Terraform has)
    tf                tf_factory() in filesystem-mirror mode, in a fresh working directory

Plugin-protocol level (no Terraform in between):
    plugin_protos     (session) namespace of generated modules: tfplugin6_pb2, tfplugin6_pb2_grpc,
                      grpc_controller_pb2(_grpc), grpc_stdio_pb2(_grpc)
    start_provider    start(env=None, **kw) -> harness.plugin_client.ProviderProcess (stopped at teardown)
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable, Dict, Iterator, Mapping, Optional

import pytest

from harness.chart_repo import ChartRepository
from harness.faults import FaultProxy
from harness.https_mirror import HttpsMirror
from harness.kube import KubeCluster
from harness.mirror import Mirror, build_mirror
from harness.moto_server import MotoServer
from harness.paths import (
    BOOTSTRAP_HINT,
    PROVIDER_ADDR,
    TERRAFORM_VERSION_ENV,
    normalize_terraform_version,
    provider_binary_path,
    terraform_bin as chosen_terraform_bin,
    terraform_version as chosen_terraform_version,
)
from harness.plugin_client import ProviderProcess, compile_protos
from harness.terraform import Terraform, write_cli_config


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--terraform", default=None, metavar="VERSION",
        help="Terraform the end-to-end tests drive: 1.0.3 (default) or 1.15.5 "
        f"(also ${TERRAFORM_VERSION_ENV})",
    )


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--terraform")
    if chosen:
        try:
            os.environ[TERRAFORM_VERSION_ENV] = normalize_terraform_version(chosen)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from exc


def pytest_report_header(config: pytest.Config) -> str:
    return f"terraform: {chosen_terraform_version()} ({chosen_terraform_bin()})"


@pytest.fixture(scope="session")
def terraform_version() -> str:
    return chosen_terraform_version()


@pytest.fixture(scope="session")
def terraform_bin(terraform_version: str) -> Path:
    path = chosen_terraform_bin(terraform_version)
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing: {BOOTSTRAP_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="session")
def provider_binary() -> Path:
    path = provider_binary_path()
    if not path.is_file():
        pytest.fail(
            f"provider binary not found at {path}. Build it first with `cargo build --release` "
            "(the test command does this before pytest), or point PLATFORM_PROVIDER_BIN at a built binary.",
            pytrace=False,
        )
    if not path.stat().st_mode & stat.S_IXUSR:
        pytest.fail(f"provider binary {path} is not executable", pytrace=False)
    return path


@pytest.fixture(scope="session")
def mirror(provider_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Mirror:
    return build_mirror(provider_binary, tmp_path_factory.mktemp("mirror"))


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    try:
        server = MotoServer.start_on_free_port(tmp_path_factory.mktemp("moto"))
    except FileNotFoundError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeCluster]:
    missing = None
    try:
        cluster = KubeCluster.start_on_free_ports(tmp_path_factory.mktemp("kube"))
    except FileNotFoundError as exc:  # the binaries scripts/kube.sh builds are not there
        missing = str(exc)
    if missing:
        pytest.fail(missing, pytrace=False)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def chart_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChartRepository]:
    repo = ChartRepository(tmp_path_factory.mktemp("chart-repo")).start()
    try:
        yield repo
    finally:
        repo.stop()


@pytest.fixture
def clean_moto(moto: MotoServer) -> MotoServer:
    """The session's moto server with all state forgotten, so a test starts from an empty AWS."""
    moto.reset()
    return moto


@pytest.fixture
def fault_proxy(clean_moto: MotoServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the (reset) session moto; no faults until a test asks for some."""
    proxy = FaultProxy(clean_moto.endpoint, seed=int(os.environ.get("PLATFORM_FAULT_SEED", "17"))).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture(scope="session")
def https_mirror(mirror: Mirror, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HttpsMirror]:
    server = HttpsMirror(mirror.path, tmp_path_factory.mktemp("https-mirror-certs")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def cli_config_filesystem(mirror: Mirror, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cli_config(
        tmp_path_factory.mktemp("cli-config") / "filesystem.tfrc", "filesystem",
        mirror_path=mirror.path, include=[PROVIDER_ADDR],
    )


@pytest.fixture(scope="session")
def cli_config_network(https_mirror: HttpsMirror, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_cli_config(
        tmp_path_factory.mktemp("cli-config") / "network.tfrc", "network",
        url=https_mirror.url, include=[PROVIDER_ADDR],
    )


TfFactory = Callable[..., Terraform]


@pytest.fixture
def tf_factory(
    request: pytest.FixtureRequest, terraform_bin: Path, tmp_path: Path
) -> TfFactory:
    """``make(mode="filesystem", *, name=None, env=None, timeout=900, cli_config=None) -> Terraform``.

    Each call gets its own working directory under the test's tmp_path (``name`` or work, work-2, ...).
    mode "filesystem": install the provider from the session mirror folder.
    mode "network": install it from the session HTTPS mirror, trusting its test CA via SSL_CERT_FILE.
    mode "custom": use the CLI config file given as ``cli_config`` (pass SSL_CERT_FILE in ``env`` if needed).
    """
    counter = {"n": 0}

    def make(
        mode: str = "filesystem",
        *,
        name: Optional[str] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = 900.0,
        cli_config: Optional[Path] = None,
        terraform: Optional[str] = None,
    ) -> Terraform:
        counter["n"] += 1
        workdir = tmp_path / (name or ("work" if counter["n"] == 1 else f"work-{counter['n']}"))
        extra: Dict[str, str] = {}
        if mode == "filesystem":
            cli_config = cli_config or request.getfixturevalue("cli_config_filesystem")
        elif mode == "network":
            cli_config = cli_config or request.getfixturevalue("cli_config_network")
            server: HttpsMirror = request.getfixturevalue("https_mirror")
            extra["SSL_CERT_FILE"] = str(server.ca_file)
        elif mode == "custom":
            if cli_config is None:
                raise ValueError("mode 'custom' needs cli_config=PATH")
        else:
            raise ValueError(f"unknown mode {mode!r}: use 'filesystem', 'network' or 'custom'")
        extra.update(env or {})
        if terraform is None:
            return Terraform(workdir, cli_config, binary=terraform_bin, env=extra, timeout=timeout)
        version = normalize_terraform_version(terraform)
        binary = chosen_terraform_bin(version)
        if not (binary.is_file() and os.access(binary, os.X_OK)):
            pytest.fail(f"{binary} is missing: {BOOTSTRAP_HINT}", pytrace=False)
        return Terraform(workdir, cli_config, binary=binary, env=extra, timeout=timeout, version=version)

    return make


@pytest.fixture
def tf(tf_factory: TfFactory) -> Terraform:
    """Terraform in a fresh working directory, installing the provider from the filesystem mirror."""
    return tf_factory()


@pytest.fixture(scope="session")
def plugin_protos(tmp_path_factory: pytest.TempPathFactory):
    return compile_protos(tmp_path_factory.mktemp("protos"))


@pytest.fixture
def start_provider(provider_binary: Path, tmp_path: Path) -> Iterator[Callable[..., ProviderProcess]]:
    """``start(env=None, **kwargs) -> ProviderProcess``: the real provider binary, started like Terraform
    starts it (plaintext gRPC); its stderr goes to tmp_path/provider-N.log; all are stopped at teardown."""
    started = []

    def start(env: Optional[Mapping[str, str]] = None, **kwargs) -> ProviderProcess:
        kwargs.setdefault("log_path", tmp_path / f"provider-{len(started) + 1}.log")
        proc = ProviderProcess(provider_binary, env=env, **kwargs)
        started.append(proc)
        return proc.start()

    yield start
    for proc in started:
        proc.stop()
