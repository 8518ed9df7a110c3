"""Drive a real Terraform from .tools/bin (v1.0.3, or v1.15.5 with ``pytest --terraform 1.15``) in a
working directory. Differences between the versions that tests meet (the S3 backend's arguments, locking)
are answered here: see :meth:`Terraform.s3_backend_settings`.

Every command runs with a clean, fixed environment: the generated CLI config (which says where the
provider comes from), TF_IN_AUTOMATION=1, CHECKPOINT_DISABLE=1, dummy AWS credentials, and nothing
inherited from the developer's TF_* or AWS_* variables (so no plugin cache, no real AWS profile).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .moto_server import DEFAULT_REGION, DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, clean_env
from .paths import (
    PROVIDER_ADDR,
    PROVIDER_SOURCE,
    TERRAFORM_BINS,
    terraform_bin,
    terraform_version,
    version_tuple,
)

#: Debug variables taken from the outer environment when set (they only change what is logged).
PASSTHROUGH_VARS = ("TF_LOG", "TF_LOG_CORE", "TF_LOG_PROVIDER", "TF_LOG_PATH")
#: Longest stdout/stderr excerpt put in an assertion message (the tail is kept: errors come last).
MAX_EXCERPT = 20_000


# --- HCL snippets ---------------------------------------------------------------------------------------

def hcl_string(value: str) -> str:
    """``value`` as a quoted HCL string literal (JSON escaping is valid HCL; ``${`` and ``%{`` escaped)."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def hcl_value(value: Any) -> str:
    """A Python str/bool/int/dict as an HCL expression (dict keys are bare identifiers)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {hcl_value(v)}" for k, v in value.items()) + " }"
    return hcl_string(str(value))


def required_providers_hcl(version: Optional[str] = None) -> str:
    """``terraform { required_providers { platform = { source = "platformkit/platform" ... } } }``."""
    constraint = f"\n      version = {hcl_string(version)}" if version else ""
    return (
        "terraform {\n"
        "  required_providers {\n"
        "    platform = {\n"
        f"      source = {hcl_string(PROVIDER_SOURCE)}{constraint}\n"
        "    }\n"
        "  }\n"
        "}\n"
    )


def provider_hcl(
    endpoint: str, *, region: str = DEFAULT_REGION, extra: str = "", alias: Optional[str] = None
) -> str:
    """The provider block pointing every AWS service at ``endpoint`` (the moto server).

    ``extra`` is HCL pasted inside the block, e.g. ``'default_tags { tags = { team = "a" } }'`` or an
    ``assume_role { ... }`` block.
    """
    lines = ['provider "platform" {']
    if alias:
        lines.append(f"  alias  = {hcl_string(alias)}")
    lines.append(f"  region = {hcl_string(region)}")
    lines.append("  endpoints {")
    lines.append(f"    url = {hcl_string(endpoint)}")
    lines.append("  }")
    if extra.strip():
        lines.extend("  " + line if line.strip() else "" for line in extra.strip("\n").splitlines())
    lines.append("}")
    return "\n".join(lines) + "\n"


def platform_config(
    body: str = "",
    *,
    endpoint: Optional[str] = None,
    region: str = DEFAULT_REGION,
    provider_extra: str = "",
    version: Optional[str] = None,
) -> str:
    """A whole configuration: required_providers, the provider block (if ``endpoint``), then ``body``."""
    parts = [required_providers_hcl(version)]
    if endpoint is not None:
        parts.append(provider_hcl(endpoint, region=region, extra=provider_extra))
    if body.strip():
        parts.append(body.strip("\n") + "\n")
    return "\n".join(parts)


# --- CLI configuration ----------------------------------------------------------------------------------

def _hcl_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(hcl_string(i) for i in items) + "]"


def cli_config_text(
    mode: str,
    *,
    mirror_path: Optional[Path] = None,
    url: Optional[str] = None,
    include: Sequence[str] = (PROVIDER_ADDR,),
    extra_filesystem_mirrors: Sequence[Tuple[Path, Sequence[str]]] = (),
) -> str:
    """Text of a Terraform CLI config file.

    mode "filesystem": ``filesystem_mirror { path = mirror_path, include = include }``;
    mode "network":    ``network_mirror { url = url, include = include }``.
    Both add ``direct { exclude = [...] }`` for every mirrored provider, so nothing mirrored is ever looked
    up in a registry. ``extra_filesystem_mirrors`` adds more (path, include) mirrors, e.g. for peer
    providers used in benchmarks.
    """
    blocks: List[str] = []
    if mode == "filesystem":
        if mirror_path is None:
            raise ValueError("filesystem mode needs mirror_path")
        blocks.append(
            "  filesystem_mirror {\n"
            f"    path    = {hcl_string(str(mirror_path))}\n"
            f"    include = {_hcl_list(include)}\n"
            "  }\n"
        )
    elif mode == "network":
        if not url:
            raise ValueError("network mode needs url")
        if not url.endswith("/"):
            url += "/"
        blocks.append(
            "  network_mirror {\n"
            f"    url     = {hcl_string(url)}\n"
            f"    include = {_hcl_list(include)}\n"
            "  }\n"
        )
    else:
        raise ValueError(f"unknown CLI config mode {mode!r} (use 'filesystem' or 'network')")
    excluded = list(include)
    for path, inc in extra_filesystem_mirrors:
        blocks.append(
            "  filesystem_mirror {\n"
            f"    path    = {hcl_string(str(path))}\n"
            f"    include = {_hcl_list(inc)}\n"
            "  }\n"
        )
        excluded.extend(inc)
    blocks.append("  direct {\n" f"    exclude = {_hcl_list(excluded)}\n" "  }\n")
    return "provider_installation {\n" + "".join(blocks) + "}\n"


def write_cli_config(path: Path, mode: str, **kwargs: Any) -> Path:
    """Write :func:`cli_config_text` to ``path`` and return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cli_config_text(mode, **kwargs), encoding="utf-8")
    return path


# --- lock file ------------------------------------------------------------------------------------------

def lock_file_hashes(lock_path: Path, provider: str = PROVIDER_ADDR) -> List[str]:
    """The ``hashes`` recorded for ``provider`` in a ``.terraform.lock.hcl`` ([] if absent)."""
    lock_path = Path(lock_path)
    if not lock_path.exists():
        return []
    text = lock_path.read_text(encoding="utf-8")
    match = re.search(r'provider\s+"' + re.escape(provider) + r'"\s*\{(.*?)\n\}', text, re.S)
    if not match:
        return []
    hashes = re.search(r"hashes\s*=\s*\[(.*?)\]", match.group(1), re.S)
    return re.findall(r'"((?:h1|zh):[^"]+)"', hashes.group(1)) if hashes else []


def lock_file_version(lock_path: Path, provider: str = PROVIDER_ADDR) -> Optional[str]:
    """The ``version`` recorded for ``provider`` in a ``.terraform.lock.hcl``."""
    lock_path = Path(lock_path)
    if not lock_path.exists():
        return None
    text = lock_path.read_text(encoding="utf-8")
    match = re.search(
        r'provider\s+"' + re.escape(provider) + r'"\s*\{.*?version\s*=\s*"([^"]+)"', text, re.S
    )
    return match.group(1) if match else None


# --- running terraform ----------------------------------------------------------------------------------

def _tail(text: str, limit: int = MAX_EXCERPT) -> str:
    return text if len(text) <= limit else f"... [{len(text) - limit} characters cut] ...\n" + text[-limit:]


@dataclass
class TfResult:
    """What one terraform command did."""

    args: List[str]
    returncode: int
    stdout: str
    stderr: str
    workdir: Path

    @property
    def output(self) -> str:
        """stdout and stderr together (for ``in`` checks on messages that may land on either)."""
        return self.stdout + "\n" + self.stderr

    def describe(self) -> str:
        return (
            f"terraform {' '.join(self.args)}  (in {self.workdir})\n"
            f"exit code: {self.returncode}\n"
            f"--- stdout ---\n{_tail(self.stdout)}\n"
            f"--- stderr ---\n{_tail(self.stderr)}"
        )


class TerraformError(AssertionError):
    """A terraform command failed (or succeeded when it should not have); the message has its output."""

    def __init__(self, message: str, result: Optional[TfResult] = None):
        self.result = result
        super().__init__(f"{message}\n{result.describe()}" if result else message)


class Terraform:
    """The real terraform binary in one working directory.

    Args:
        workdir: folder with the configuration (created if missing).
        cli_config: CLI config file (see :func:`write_cli_config`); becomes TF_CLI_CONFIG_FILE.
        binary: terraform executable (default: the one the suite runs, see ``paths.terraform_bin``).
        version: its version (default: looked up from ``binary`` among the pinned tools).
        env: extra environment variables for terraform and the provider it starts (e.g. RUST_LOG,
            SSL_CERT_FILE for a network mirror).
        timeout: default seconds one command may take before it is killed (with its provider).
    """

    def __init__(
        self,
        workdir: Path,
        cli_config: Path,
        *,
        binary: Optional[Path] = None,
        env: Optional[Mapping[str, str]] = None,
        timeout: float = 900.0,
        version: Optional[str] = None,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.cli_config = Path(cli_config)
        self.binary = Path(binary) if binary is not None else terraform_bin()
        known = {Path(b): v for v, b in TERRAFORM_BINS.items()}
        self.tf_version = version or known.get(self.binary, terraform_version())
        self.timeout = timeout
        self.extra_env: Dict[str, str] = dict(env or {})
        self.last: Optional[TfResult] = None
        self.history: List[TfResult] = []

    # -- files ---------------------------------------------------------------------------------------------

    def write(self, text: str, name: str = "main.tf") -> Path:
        """Write ``text`` to ``workdir/name`` (subfolders allowed) and return the path."""
        path = self.workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def write_config(
        self,
        body: str,
        *,
        endpoint: Optional[str],
        region: str = DEFAULT_REGION,
        provider_extra: str = "",
        name: str = "main.tf",
    ) -> Path:
        """Write a whole configuration (see :func:`platform_config`) to ``name``."""
        return self.write(
            platform_config(body, endpoint=endpoint, region=region, provider_extra=provider_extra), name
        )

    def remove(self, name: str) -> None:
        (self.workdir / name).unlink()

    @property
    def lock_path(self) -> Path:
        return self.workdir / ".terraform.lock.hcl"

    def lock_hashes(self, provider: str = PROVIDER_ADDR) -> List[str]:
        return lock_file_hashes(self.lock_path, provider)

    # -- version differences -------------------------------------------------------------------------------

    def at_least(self, version: str) -> bool:
        """Whether this Terraform is ``version`` or newer."""
        return version_tuple(self.tf_version) >= version_tuple(version)

    def s3_backend_settings(
        self, endpoint: str, bucket: str, *, key: Optional[str] = None, lock_table: Optional[str] = None,
        region: str = DEFAULT_REGION,
    ) -> Dict[str, Any]:
        """The ``backend "s3"`` arguments this Terraform needs to keep state in ``bucket`` on the moto
        server at ``endpoint``.

        Terraform < 1.6 takes ``endpoint``/``dynamodb_endpoint``/``sts_endpoint`` and ``force_path_style``
        and locks in the DynamoDB ``lock_table``; 1.6+ takes an ``endpoints`` object and ``use_path_style``
        (the old names are deprecated, then removed), and 1.10+ locks with a lock object next to the state
        (``use_lockfile``), which replaces the deprecated ``dynamodb_table``.
        """
        settings: Dict[str, Any] = {"bucket": bucket}
        if key is not None:
            settings["key"] = key
        settings.update(region=region, encrypt=True)
        if self.at_least("1.6.0"):
            settings["endpoints"] = {"s3": endpoint, "dynamodb": endpoint, "sts": endpoint}
            settings["use_path_style"] = True
        else:
            settings.update(
                endpoint=endpoint, dynamodb_endpoint=endpoint, sts_endpoint=endpoint, force_path_style=True
            )
        if self.at_least("1.10.0"):
            settings["use_lockfile"] = True
        elif lock_table:
            settings["dynamodb_table"] = lock_table
        settings.update(
            skip_credentials_validation=True, skip_region_validation=True, skip_metadata_api_check=True
        )
        return settings

    def s3_backend_hcl(self, endpoint: str, bucket: str, **kwargs: Any) -> str:
        """``terraform { backend "s3" { ... } }`` with :meth:`s3_backend_settings`."""
        body = "".join(f"    {k} = {hcl_value(v)}\n" for k, v in self.s3_backend_settings(endpoint, bucket, **kwargs).items())
        return 'terraform {\n  backend "s3" {\n' + body + "  }\n}\n"

    def s3_backend_file(self, endpoint: str, bucket: str, **kwargs: Any) -> str:
        """The same settings as a ``-backend-config=FILE`` file body."""
        return "".join(f"{k} = {hcl_value(v)}\n" for k, v in self.s3_backend_settings(endpoint, bucket, **kwargs).items())

    # -- environment ---------------------------------------------------------------------------------------

    def environment(self) -> Dict[str, str]:
        env = clean_env(
            TF_CLI_CONFIG_FILE=str(self.cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY,
            AWS_REGION=DEFAULT_REGION,
            AWS_DEFAULT_REGION=DEFAULT_REGION,
            AWS_EC2_METADATA_DISABLED="true",
        )
        for name in PASSTHROUGH_VARS:
            if os.environ.get(name):
                env[name] = os.environ[name]
        env.update(self.extra_env)
        return env

    # -- the generic runner --------------------------------------------------------------------------------

    def run(
        self, *args: str, check: bool = True, ok_codes: Sequence[int] = (0,), timeout: Optional[float] = None
    ) -> TfResult:
        """Run ``terraform ARGS`` in the workdir; raise :class:`TerraformError` unless the exit code is in
        ``ok_codes`` (when ``check``). The result is also kept in ``self.last`` and ``self.history``."""
        argv = [str(a) for a in args]
        limit = self.timeout if timeout is None else timeout
        proc = subprocess.Popen(
            [str(self.binary), *argv],
            cwd=self.workdir,
            env=self.environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, so a timeout also stops the provider it started
        )
        try:
            stdout, stderr = proc.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            self._kill_group(proc)
            stdout, stderr = proc.communicate()
            result = TfResult(argv, -1, stdout or "", stderr or "", self.workdir)
            self._record(result)
            raise TerraformError(f"terraform timed out after {limit:.0f}s (killed)", result)
        result = TfResult(argv, proc.returncode, stdout, stderr, self.workdir)
        self._record(result)
        if check and result.returncode not in ok_codes:
            raise TerraformError(f"terraform {argv[0] if argv else ''} failed", result)
        return result

    def _record(self, result: TfResult) -> None:
        self.last = result
        self.history.append(result)

    @staticmethod
    def _kill_group(proc: subprocess.Popen) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=10)
                return
            except subprocess.TimeoutExpired:
                continue

    @staticmethod
    def _var_args(var: Optional[Mapping[str, Any]]) -> List[str]:
        out: List[str] = []
        for key, value in (var or {}).items():
            text = value if isinstance(value, str) else json.dumps(value)
            out += ["-var", f"{key}={text}"]
        return out

    # -- commands ------------------------------------------------------------------------------------------

    def version(self) -> str:
        return self.run("version").stdout

    def init(self, *extra: str, upgrade: bool = False, check: bool = True) -> TfResult:
        args = ["init", "-input=false", "-no-color"]
        if upgrade:
            args.append("-upgrade")
        return self.run(*args, *extra, check=check)

    def validate(self, *extra: str, check: bool = True) -> TfResult:
        return self.run("validate", "-no-color", *extra, check=check)

    def validate_json(self) -> Dict[str, Any]:
        """``terraform validate -json`` parsed; never raises on an invalid configuration (see ``valid``)."""
        result = self.run("validate", "-json", "-no-color", check=False)
        try:
            return json.loads(result.stdout)
        except json.JSONDecodeError as exc:
            raise TerraformError("validate -json printed no JSON", result) from exc

    def plan(
        self,
        *extra: str,
        detailed_exitcode: bool = True,
        out: Optional[str] = None,
        var: Optional[Mapping[str, Any]] = None,
        check: bool = True,
    ) -> int:
        """Run ``terraform plan``; return its exit code.

        With ``detailed_exitcode`` (default): 0 = no changes, 2 = changes, and 1 (error) raises when
        ``check``. The full output is in ``self.last``.
        """
        args = ["plan", "-input=false", "-no-color", *self._var_args(var)]
        if detailed_exitcode:
            args.append("-detailed-exitcode")
        if out:
            args.append(f"-out={out}")
        ok = (0, 2) if detailed_exitcode else (0,)
        return self.run(*args, *extra, check=check, ok_codes=ok).returncode

    def plan_json(self, *extra: str, var: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Plan into a file and return ``terraform show -json`` of it (planned values, resource_changes)."""
        self.plan(*extra, detailed_exitcode=False, out="tfplan.bin", var=var)
        return json.loads(self.run("show", "-json", "-no-color", "tfplan.bin").stdout)

    def apply(
        self, *extra: str, var: Optional[Mapping[str, Any]] = None, plan_file: Optional[str] = None,
        check: bool = True,
    ) -> TfResult:
        """``terraform apply -auto-approve`` (or apply the saved ``plan_file``); flags in ``extra``."""
        args = ["apply", "-input=false", "-no-color", *extra]
        if plan_file:
            args.append(plan_file)
        else:
            args += ["-auto-approve", *self._var_args(var)]
        return self.run(*args, check=check)

    def refresh(self, *extra: str, check: bool = True) -> TfResult:
        """``apply -refresh-only -auto-approve``: read every resource and store what was found."""
        return self.run("apply", "-refresh-only", "-auto-approve", "-input=false", "-no-color", *extra,
                        check=check)

    def destroy(self, *extra: str, var: Optional[Mapping[str, Any]] = None, check: bool = True) -> TfResult:
        return self.run("destroy", "-auto-approve", "-input=false", "-no-color", *self._var_args(var),
                        *extra, check=check)

    def import_(self, addr: str, resource_id: str, *extra: str, check: bool = True) -> TfResult:
        return self.run("import", "-input=false", "-no-color", *extra, addr, resource_id, check=check)

    def state_list(self) -> List[str]:
        result = self.run("state", "list", check=False)
        if result.returncode != 0:
            if "No state file was found" in result.output:
                return []
            raise TerraformError("terraform state list failed", result)
        return [line for line in result.stdout.splitlines() if line.strip()]

    def state_show(self, addr: str) -> str:
        return self.run("state", "show", "-no-color", addr).stdout

    def show_json(self) -> Dict[str, Any]:
        """``terraform show -json``: the current state (``values.root_module.resources``...)."""
        text = self.run("show", "-json", "-no-color").stdout
        return json.loads(text) if text.strip() else {}

    def resource_values(self, addr: str) -> Dict[str, Any]:
        """Attribute values of one resource in the current state, by address (root module or module.x)."""
        state = self.show_json()

        def walk(module: Dict[str, Any]):
            for res in module.get("resources", []):
                yield res
            for child in module.get("child_modules", []):
                yield from walk(child)

        for res in walk(state.get("values", {}).get("root_module", {})):
            if res.get("address") == addr:
                return res.get("values", {})
        raise KeyError(f"{addr} is not in the state; resources: {self.state_list()}")

    def output_json(self) -> Dict[str, Any]:
        """``terraform output -json``: ``{name: {"value": ..., "type": ..., "sensitive": ...}}``."""
        text = self.run("output", "-json", "-no-color").stdout
        return json.loads(text) if text.strip() else {}

    def outputs(self) -> Dict[str, Any]:
        """Just the output values: ``{name: value}``."""
        return {name: doc.get("value") for name, doc in self.output_json().items()}

    def __repr__(self) -> str:
        return f"Terraform(workdir={str(self.workdir)!r}, cli_config={str(self.cli_config)!r})"
