#!/usr/bin/env python3
"""The main job: the real live-infrastructure stacks, in order, against a local AWS endpoint (moto) and a local
Kubernetes control plane, proved with `plan -detailed-exitcode`, summarised, then destroyed in reverse.

    .tools/venv/bin/python scripts/mainjob.py [--keep] [--json FILE]       (scripts/quickstart.sh runs this)
    .tools/venv/bin/python scripts/mainjob.py --down [--workdir DIR]      (destroy what --keep left up)

Stages (each timed):
  servers          start moto and the Kubernetes control plane (the test harness's own code), unless given
  state-backend    live-infrastructure/bootstrap/state-backend in the management account (local state)
  management       live-infrastructure/management, state in the management account's backend: the
                   organization itself (platform_organization) and its trail, OU-Project-A, OU-Project-B, six
                   accounts, guardrails
  member-backend   bootstrap/state-backend again, in workspace project-a-dev, assuming ProjectA-Dev's
                   OrganizationAccountAccessRole with allowed_account_ids pinned to that account
  project-a/dev    live-infrastructure/project-a/dev in ProjectA-Dev (same role, same pin), state in that
                   account's backend: environment (VPC, EKS, RDS), three services with Helm releases into the
                   local cluster, the frontend
  plan             `plan -detailed-exitcode` is 0 for every stack
  summary          accounts and OUs, VPC and subnets per AZ, cluster, database, images, frontend
  destroy          project-a/dev, member backend, management (its destroy moves the accounts it keeps to the
                   root and forgets them and the organization, with a warning), management backend; then the
                   servers stop

The stacks run from a copy of live-infrastructure/ and terraform-modules/ in the work folder (default
.quickstart/ in the clone), so the clone stays clean; every terraform command's output is kept in
<workdir>/logs/. --json FILE writes the summary and the stage times as JSON ("-" for stdout; progress then
goes to stderr). --endpoint and --kube-* use servers that already run (the e2e test passes its own).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests"))

from harness.moto_server import DEFAULT_REGION, clean_env  # noqa: E402

TERRAFORM = REPO_ROOT / ".tools" / "bin" / "terraform"
HELM = REPO_ROOT / ".tools" / "bin" / "helm"
PROVIDER_ADDR = "registry.terraform.io/platformkit/platform"
ACCESS_KEY = SECRET_KEY = "quickstart"

MGMT_BUCKET = "platformkit-management-tfstate"
MEMBER_KEY = "project-a-dev"  # the account key in the management stack's outputs
MEMBER_BUCKET = "platformkit-project-a-dev-tfstate"
ENV_STACK = "project-a/dev"


class JobError(RuntimeError):
    pass


class Progress:
    """Prints `[elapsed] stack: step ... done (seconds)` lines and keeps each stage's wall time."""

    def __init__(self, stream) -> None:
        self.t0 = time.monotonic()
        self.stream = stream
        self.stages: Dict[str, float] = {}

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:6.1f}s] {text}", file=self.stream, flush=True)

    def stage(self, name: str):
        progress = self

        class _Stage:
            def __enter__(self):
                self.start = time.monotonic()
                progress.say(f"== {name}")
                return self

            def __exit__(self, exc_type, exc, tb):
                took = time.monotonic() - self.start
                progress.stages[name] = round(progress.stages.get(name, 0.0) + took, 1)
                progress.say(f"== {name}: {'done' if exc is None else 'FAILED'} in {took:.1f}s")
                return False

        return _Stage()


class Stack:
    """One live-infrastructure stack (or a workspace of one) in the work folder."""

    def __init__(self, job: "MainJob", key: str, path: str, workspace: str = "default") -> None:
        self.job = job
        self.key = key  # how progress names it
        self.dir = job.workdir / "live-infrastructure" / path
        self.workspace = workspace
        self.var_file = job.workdir / "vars" / f"{key.replace('/', '_')}.tfvars.json"

    def write_vars(self, values: Dict[str, Any]) -> None:
        self.var_file.parent.mkdir(parents=True, exist_ok=True)
        self.var_file.write_text(json.dumps(values, indent=2), encoding="utf-8")
        self.var_file.chmod(0o600)

    def tf(self, *args: str, ok=(0,), step: Optional[str] = None) -> subprocess.CompletedProcess:
        label = step or args[0]
        self.job.progress.say(f"{self.key}: {label} ...")
        start = time.monotonic()
        env = clean_env(
            TF_CLI_CONFIG_FILE=str(self.job.cli_config),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            CHECKPOINT_DISABLE="1",
            AWS_ACCESS_KEY_ID=ACCESS_KEY,
            AWS_SECRET_ACCESS_KEY=SECRET_KEY,
            AWS_REGION=DEFAULT_REGION,
            AWS_DEFAULT_REGION=DEFAULT_REGION,
            AWS_EC2_METADATA_DISABLED="true",
            TF_WORKSPACE=self.workspace,
        )
        if args[0] == "workspace":
            env.pop("TF_WORKSPACE")
        proc = subprocess.run([str(TERRAFORM), *args], cwd=self.dir, env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        log = self.job.workdir / "logs" / f"{self.key.replace('/', '_')}-{label.replace(' ', '_')}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(f"$ terraform {' '.join(args)}\n{proc.stdout}\n--- stderr ---\n{proc.stderr}", encoding="utf-8")
        took = time.monotonic() - start
        if proc.returncode not in ok:
            tail = (proc.stdout + "\n" + proc.stderr).strip()[-4000:]
            raise JobError(f"{self.key}: terraform {label} failed (exit {proc.returncode}, log {log}):\n{tail}")
        self.job.progress.say(f"{self.key}: {label} done ({took:.1f}s)")
        return proc

    def init(self, backend_config: Optional[Path] = None) -> None:
        args = ["init", "-no-color", "-input=false"]
        if backend_config is not None:
            args += ["-reconfigure", f"-backend-config={backend_config}"]
        self.tf(*args)

    def apply(self) -> None:
        self.tf("apply", "-no-color", "-auto-approve", f"-var-file={self.var_file}")

    def plan_clean(self) -> int:
        """`plan -detailed-exitcode`: 0 means the stack is exactly what its configuration says."""
        proc = self.tf("plan", "-no-color", "-detailed-exitcode", f"-var-file={self.var_file}", ok=(0, 2),
                       step="plan -detailed-exitcode")
        if proc.returncode != 0:
            raise JobError(f"{self.key}: the plan after apply is not empty:\n{proc.stdout[-4000:]}")
        return proc.returncode

    def destroy(self) -> None:
        self.tf("destroy", "-no-color", "-auto-approve", f"-var-file={self.var_file}")

    def outputs(self) -> Dict[str, Any]:
        proc = self.tf("output", "-json", step="output")
        return {k: v["value"] for k, v in json.loads(proc.stdout).items()}


class MainJob:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = Path(args.workdir).resolve()
        self.progress = Progress(sys.stderr if args.json == "-" else sys.stdout)
        self.cli_config = self.workdir / "terraform.rc"
        self.run_file = self.workdir / "run.json"
        self.run: Dict[str, Any] = {}
        self.backend = Stack(self, "bootstrap/state-backend", "bootstrap/state-backend")
        self.management = Stack(self, "management", "management")
        self.member_backend = Stack(self, "bootstrap/state-backend[project-a-dev]", "bootstrap/state-backend",
                                    workspace=MEMBER_KEY)
        self.env = Stack(self, ENV_STACK, ENV_STACK)

    # -- bookkeeping ---------------------------------------------------------------------------------------

    def save(self) -> None:
        self.run_file.write_text(json.dumps(self.run, indent=2), encoding="utf-8")
        self.run_file.chmod(0o600)

    def boto(self, service: str, role_arn: Optional[str] = None):
        import boto3

        kwargs: Dict[str, Any] = dict(endpoint_url=self.run["endpoint"], region_name=DEFAULT_REGION,
                                      aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
        if role_arn:
            creds = boto3.client("sts", **kwargs).assume_role(RoleArn=role_arn, RoleSessionName="mainjob")
            kwargs.update(aws_access_key_id=creds["Credentials"]["AccessKeyId"],
                          aws_secret_access_key=creds["Credentials"]["SecretAccessKey"],
                          aws_session_token=creds["Credentials"]["SessionToken"])
        return boto3.client(service, **kwargs)

    # -- stages --------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """A fresh copy of the stacks and modules (symlinks kept, so shared files stay shared) and the CLI
        config that installs the provider from the mirror."""
        mirror = Path(self.args.mirror).resolve()
        if not (mirror / PROVIDER_ADDR).is_dir():
            raise JobError(f"no provider mirror at {mirror} (scripts/build_mirror.py, or --mirror)")
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate", "*.tfstate.backup",
                                        "terraform.tfstate.d")
        for part in ("live-infrastructure", "terraform-modules"):
            shutil.copytree(REPO_ROOT / part, self.workdir / part, symlinks=True, ignore=ignore)
        self.cli_config.write_text(
            "provider_installation {\n"
            f"  filesystem_mirror {{\n    path    = {json.dumps(str(mirror))}\n"
            f"    include = [{json.dumps(PROVIDER_ADDR)}]\n  }}\n"
            f"  direct {{\n    exclude = [{json.dumps(PROVIDER_ADDR)}]\n  }}\n}}\n",
            encoding="utf-8",
        )

    def start_servers(self) -> None:
        servers: Dict[str, Any] = {}
        if self.args.endpoint:
            self.run["endpoint"] = self.args.endpoint.rstrip("/")
        else:
            from harness.moto_server import MotoServer

            moto = MotoServer.start_on_free_port(self.workdir / "moto")
            self.run["endpoint"] = moto.endpoint
            servers["moto_server"] = moto.pid
            self.progress.say(f"moto on {moto.endpoint} (pid {moto.pid})")
        if self.args.kube_host:
            self.run["kube"] = {
                "host": self.args.kube_host,
                "token": Path(self.args.kube_token_file).read_text(encoding="utf-8").strip(),
                "ca_pem": Path(self.args.kube_ca_file).read_text(encoding="utf-8"),
            }
        else:
            from harness.kube import KubeCluster

            kube = KubeCluster.start_on_free_ports(self.workdir / "kube")
            self.run["kube"] = {"host": kube.host, "token": kube.token, "ca_pem": kube.ca_pem,
                                "kubeconfig": str(kube.kubeconfig_path)}
            for name, proc in kube.processes.items():
                servers[name] = proc.pid
            self.progress.say(f"Kubernetes {kube.host} (ready after {kube.ready_after['kube-controller-manager']:.1f}s)")
        self.run["servers"] = servers
        self.save()

    def mgmt_account(self) -> str:
        return self.boto("sts").get_caller_identity()["Account"]

    def apply_state_backend(self) -> None:
        account = self.mgmt_account()
        self.run["management_account_id"] = account
        self.backend.write_vars({
            "bucket_name": MGMT_BUCKET,
            "endpoint_url": self.run["endpoint"],
            "allowed_account_ids": [account],
            # The quickstart destroys everything at the end, state included.
            "force_destroy": True,
        })
        self.backend.init()
        self.backend.apply()
        hcl = self.workdir / "backend-management.hcl"
        hcl.write_text(self.backend.outputs()["backend_partial_config"], encoding="utf-8")
        self.save()

    def apply_management(self) -> None:
        self.management.write_vars({
            "endpoint_url": self.run["endpoint"],
            "allowed_account_ids": [self.run["management_account_id"]],
        })
        self.management.init(self.workdir / "backend-management.hcl")
        self.management.apply()
        out = self.management.outputs()
        self.run["account_ids"] = out["account_ids"]
        self.run["account_role_arns"] = out["account_role_arns"]
        self.run["ou_ids"] = out["ou_ids"]
        self.save()

    def apply_member_backend(self) -> None:
        role, account = self.run["account_role_arns"][MEMBER_KEY], self.run["account_ids"][MEMBER_KEY]
        self.member_backend.write_vars({
            "bucket_name": MEMBER_BUCKET,
            "endpoint_url": self.run["endpoint"],
            "assume_role_arn": role,
            "allowed_account_ids": [account],
            "force_destroy": True,
        })
        workspaces = self.member_backend.tf("workspace", "list", step="workspace list").stdout
        if MEMBER_KEY not in workspaces.replace("*", " ").split():
            self.member_backend.tf("workspace", "new", MEMBER_KEY, step="workspace new")
        self.member_backend.apply()
        # The S3 backend of the environment stack assumes the same role, so its state lives in that account.
        partial = self.member_backend.outputs()["backend_partial_config"]
        hcl = self.workdir / f"backend-{MEMBER_KEY}.hcl"
        hcl.write_text(partial.rstrip("\n") + f'\nrole_arn = "{role}"\n', encoding="utf-8")
        self.save()

    def apply_environment(self) -> None:
        role, account = self.run["account_role_arns"][MEMBER_KEY], self.run["account_ids"][MEMBER_KEY]
        kube = self.run["kube"]
        self.env.write_vars({
            "endpoint_url": self.run["endpoint"],
            "assume_role_arn": role,
            "allowed_account_ids": [account],
            # The local control plane instead of the (emulated) EKS endpoint; it has no kubelet, so pods stay
            # Pending and the releases do not wait for rollouts.
            "kubernetes_host": kube["host"],
            "kubernetes_token": kube["token"],
            "kubernetes_ca_certificate": kube["ca_pem"],
            "helm_binary": str(HELM),
            "release_wait": False,
            # A certificate of the member account (us-east-1), so the frontend gets www.<zone> with alias records.
            "frontend_certificate_arn": f"arn:aws:acm:us-east-1:{account}:certificate/quickstart",
            # Throwaway: destroy removes images and the site too.
            "force_delete_images": True,
            "force_destroy_frontend": True,
        })
        self.env.init(self.workdir / f"backend-{MEMBER_KEY}.hcl")
        self.env.apply()
        self.run["environment_outputs"] = self.env.outputs()
        self.save()

    def plan_all(self) -> Dict[str, int]:
        return {s.key: s.plan_clean() for s in (self.backend, self.management, self.member_backend, self.env)}

    def summary(self) -> Dict[str, Any]:
        org = self.boto("organizations")
        root = org.list_roots()["Roots"][0]["Id"]
        ous = []
        for ou in org.list_organizational_units_for_parent(ParentId=root)["OrganizationalUnits"]:
            accounts = org.list_accounts_for_parent(ParentId=ou["Id"])["Accounts"]
            ous.append({"name": ou["Name"], "id": ou["Id"],
                        "accounts": sorted(({"name": a["Name"], "id": a["Id"]} for a in accounts),
                                           key=lambda a: a["name"])})
        out = self.run["environment_outputs"]
        env, cluster, db, services, web = (out["environment"], out["cluster"], out["database"], out["services"],
                                           out["frontend"])
        azs = sorted(env["private_subnet_ids"])
        return {
            "management_account_id": self.run["management_account_id"],
            "organizational_units": sorted(ous, key=lambda o: o["name"]),
            "state_backends": {"management": MGMT_BUCKET, MEMBER_KEY: MEMBER_BUCKET},
            "environment": {
                "stack": ENV_STACK,
                "account_id": self.run["account_ids"][MEMBER_KEY],
                "name": env["name"],
                "vpc_id": env["vpc_id"],
                "subnets": {az: {"private": env["private_subnet_ids"][az], "public": env["public_subnet_ids"][az]}
                            for az in azs},
                "cluster_name": cluster["name"],
                "cluster_endpoint": cluster["endpoint"],
                "database_endpoint": db["endpoint"],
                "database_port": db["port"],
                "database_secret_arn": db["secret_arn"],
                "service_images": services["images"],
                "releases": {k: {"status": v.get("status"), "revision": v.get("revision")}
                             for k, v in (services.get("releases") or {}).items()},
                "frontend": {"domain_name": web["domain_name"], "aliases": web["aliases"],
                             "distribution_id": web["distribution_id"], "bucket": web["bucket"]},
            },
        }

    def print_summary(self, s: Dict[str, Any]) -> None:
        say = self.progress.say
        say(f"management account {s['management_account_id']}, state in s3://{MGMT_BUCKET}")
        for ou in s["organizational_units"]:
            say(f"  {ou['name']} ({ou['id']}): " + ", ".join(f"{a['name']} {a['id']}" for a in ou["accounts"]))
        e = s["environment"]
        say(f"{e['stack']} in account {e['account_id']}, state in s3://{MEMBER_BUCKET}")
        say(f"  VPC {e['vpc_id']}")
        for az, sn in e["subnets"].items():
            say(f"    {az}: private {sn['private']}, public {sn['public']}")
        say(f"  cluster {e['cluster_name']}: {e['cluster_endpoint']}")
        say(f"  database {e['database_endpoint']}:{e['database_port']}, secret {e['database_secret_arn']}")
        for name, image in sorted(e["service_images"].items()):
            rel = e["releases"].get(name, {})
            say(f"  service {name}: {image} (release {rel.get('status')}, revision {rel.get('revision')})")
        f = e["frontend"]
        say(f"  frontend {', '.join(f['aliases']) or '-'} -> {f['domain_name']} (distribution {f['distribution_id']})")

    def destroy_all(self) -> None:
        done = self.run.setdefault("destroyed", [])
        steps = [
            (self.env, None),
            (self.member_backend, None),
            (self.management, None),
            (self.backend, None),
        ]
        for stack, before in steps:
            if stack.key in done or not stack.var_file.exists():
                continue
            if before:
                before()
            stack.destroy()
            done.append(stack.key)
            self.save()

    def stop_servers(self) -> None:
        """SIGTERM every server this job started (by PID, after checking the PID still runs that program),
        then SIGKILL what has not exited after 10 seconds."""
        signalled = []
        for name, pid in (self.run.get("servers") or {}).items():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if name not in cmdline:  # the PID was reused: not ours
                continue
            os.kill(pid, signal.SIGTERM)
            signalled.append(pid)
        deadline = time.monotonic() + 10
        while signalled and time.monotonic() < deadline:
            signalled = [pid for pid in signalled if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
            time.sleep(0.1)
        for pid in signalled:
            os.kill(pid, signal.SIGKILL)
        if self.run.get("servers"):
            self.progress.say("servers stopped")
        self.run["servers"] = {}
        self.save()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="The main job (see the module docstring).")
    parser.add_argument("--keep", action="store_true", help="leave everything up (destroy later with --down)")
    parser.add_argument("--down", action="store_true", help="destroy what a --keep run left, stop its servers")
    parser.add_argument("--json", metavar="FILE", help="write the summary and stage times as JSON ('-': stdout)")
    parser.add_argument("--workdir", default=str(REPO_ROOT / ".quickstart"), help="work folder (default .quickstart)")
    parser.add_argument("--mirror", default=str(REPO_ROOT / "dist" / "mirror"), help="provider mirror (dist/mirror)")
    parser.add_argument("--endpoint", help="use this running moto server instead of starting one")
    parser.add_argument("--kube-host", help="use this running Kubernetes API server instead of starting one")
    parser.add_argument("--kube-token-file", help="bearer token of --kube-host (a file)")
    parser.add_argument("--kube-ca-file", help="CA certificate (PEM) of --kube-host")
    args = parser.parse_args(argv)
    if args.kube_host and not (args.kube_token_file and args.kube_ca_file):
        parser.error("--kube-host needs --kube-token-file and --kube-ca-file")

    job = MainJob(args)
    result: Dict[str, Any] = {}
    try:
        if args.down:
            job.run = json.loads(job.run_file.read_text(encoding="utf-8"))
            with job.progress.stage("destroy"):
                job.destroy_all()
            with job.progress.stage("stop"):
                job.stop_servers()
            result["destroyed"] = job.run.get("destroyed", [])
        else:
            with job.progress.stage("servers"):
                job.prepare()
                job.start_servers()
            try:
                with job.progress.stage("state-backend"):
                    job.apply_state_backend()
                with job.progress.stage("management"):
                    job.apply_management()
                with job.progress.stage("member-backend"):
                    job.apply_member_backend()
                with job.progress.stage(ENV_STACK):
                    job.apply_environment()
                with job.progress.stage("plan"):
                    result["plans"] = job.plan_all()
                with job.progress.stage("summary"):
                    result["summary"] = job.summary()
                    job.print_summary(result["summary"])
            except BaseException:
                if not args.keep:
                    job.progress.say("failed: destroying what was created (keep it with --keep)")
                    try:
                        with job.progress.stage("destroy"):
                            job.destroy_all()
                    finally:
                        job.stop_servers()
                raise
            if args.keep:
                job.progress.say(f"left up: moto {job.run['endpoint']}, Kubernetes {job.run['kube']['host']}; "
                                 f"destroy with: .tools/venv/bin/python scripts/mainjob.py --down --workdir {job.workdir}")
            else:
                with job.progress.stage("destroy"):
                    job.destroy_all()
                with job.progress.stage("stop"):
                    job.stop_servers()
            result["destroyed"] = job.run.get("destroyed", [])
        result["endpoint"] = job.run.get("endpoint")
        result["workdir"] = str(job.workdir)
    except JobError as exc:
        job.progress.say(f"ERROR: {exc}")
        return 1
    finally:
        result["stage_seconds"] = job.progress.stages
        result["total_seconds"] = round(time.monotonic() - job.progress.t0, 1)
        job.progress.say("stage times: " + ", ".join(f"{k} {v:.1f}s" for k, v in job.progress.stages.items())
                         + f"; total {result['total_seconds']:.1f}s")
        if args.json:
            text = json.dumps(result, indent=2, sort_keys=True)
            if args.json == "-":
                print(text)
            else:
                Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
