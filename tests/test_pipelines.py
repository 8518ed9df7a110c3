"""The pipelines, for real: every workflow passes actionlint with shellcheck, the infrastructure workflow runs
under act (`-P ubuntu-latest=-self-hosted`: the steps run on this host, no Docker engine) against moto, the
real terraform 1.0.3 and the real provider, in throwaway git repositories built from this tree.

Steps that need github.com (OIDC, artifacts, the PR comment, setup-terraform) are skipped under act and their
local stand-ins keep artifacts in PK_LOCAL_ARTIFACTS and the comment in PK_LOCAL_COMMENT."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from harness.moto_server import DUMMY_ACCESS_KEY, DUMMY_SECRET_KEY, clean_env
from harness.paths import REPO_ROOT, TERRAFORM_BIN, TOOLS

ACT = TOOLS / "bin" / "act"
ACTIONLINT = TOOLS / "bin" / "actionlint"
SHELLCHECK = TOOLS / "bin" / "shellcheck"
LIVE = REPO_ROOT / "live-infrastructure"
WORKFLOW = "live-infrastructure/.github/workflows/infrastructure.yml"
DRIFT_WORKFLOW = "live-infrastructure/.github/workflows/drift.yml"
STATE_BUCKET = "pk-pipeline-state"
ENV_STACKS = [f"project-{p}/{e}" for p in "ab" for e in ("dev", "prod", "qa")]


def load_stacks():
    spec = importlib.util.spec_from_file_location("pk_stacks", LIVE / "scripts" / "stacks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["pk_stacks"] = module
    spec.loader.exec_module(module)
    return module


stacks = load_stacks()


def need(tool: Path) -> None:
    if not tool.exists():
        pytest.fail(f"{tool} is missing: run scripts/bootstrap.sh", pytrace=False)


def workflows() -> List[Path]:
    found = sorted(REPO_ROOT.glob("live-infrastructure/.github/workflows/*.yml"))
    found += sorted(REPO_ROOT.glob("examples/*/.github/workflows/*.yml"))
    return found


# --- static checks ------------------------------------------------------------------------------------------

def test_every_workflow_passes_actionlint_with_shellcheck():
    need(ACTIONLINT)
    need(SHELLCHECK)
    files = workflows()
    assert {"infrastructure.yml", "drift.yml", "frontend.yml", "release.yml"} <= {f.name for f in files}
    r = subprocess.run([str(ACTIONLINT), "-shellcheck", str(SHELLCHECK), *map(str, files)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def test_every_pipeline_script_passes_shellcheck():
    need(SHELLCHECK)
    scripts = sorted(REPO_ROOT.glob("live-infrastructure/scripts/*.sh"))
    scripts += sorted(REPO_ROOT.glob("examples/*/scripts/*.sh"))
    assert len(scripts) >= 5
    r = subprocess.run([str(SHELLCHECK), "-x", *map(str, scripts)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


# --- change detection (unit level, on this repository's real tree) -------------------------------------------

def names(paths) -> List[str]:
    return sorted(stacks.rel(p, LIVE) for p in paths)


def test_the_nine_stacks_are_found():
    assert names(stacks.discover()) == sorted(
        ["bootstrap/remote-state-demo", "bootstrap/state-backend", "management", *ENV_STACKS])


@pytest.mark.parametrize("changed, expected", [
    # one stack's own file: that stack only
    (["live-infrastructure/project-a/dev/terraform.tfvars"], ["project-a/dev"]),
    (["live-infrastructure/project-b/prod/image_tags.auto.tfvars.json"], ["project-b/prod"]),
    (["live-infrastructure/management/main.tf"], ["management"]),
    # a module: every stack using it, directly or through another module
    (["terraform-modules/environment/main.tf"], ENV_STACKS),
    (["terraform-modules/microservice/variables.tf"], ENV_STACKS),
    (["terraform-modules/organization/main.tf"], ["management"]),
    (["terraform-modules/state-backend/main.tf"], ["bootstrap/state-backend"]),
    # a file a module reads through ${path.module} (the chart)
    (["terraform-modules/charts/microservice/templates/deployment.yaml"], ENV_STACKS),
    # a shared file symlinked into the environment stacks
    (["live-infrastructure/shared/environment/services.tf"], ENV_STACKS),
    # the frontend module, through the shared frontend.tf
    (["terraform-modules/frontend/main.tf"], ENV_STACKS),
    # nothing a stack uses
    (["README.md", "provider/platform/src/main.rs"], []),
    # the pipeline itself: everything is planned again
    (["live-infrastructure/scripts/plan.sh"], sorted(
        ["bootstrap/remote-state-demo", "bootstrap/state-backend", "management", *ENV_STACKS])),
])
def test_affected_stacks(changed, expected):
    assert names(stacks.affected(changed, REPO_ROOT)) == sorted(expected)


def test_digest_changes_with_any_input_and_only_then(tmp_path):
    repo = make_repo(tmp_path)
    live = repo / "live-infrastructure"
    dev, prod = live / "project-a" / "dev", live / "project-a" / "prod"
    before = {s: stacks.digest(s, repo, live) for s in (dev, prod)}
    (dev / "terraform.tfvars").write_text((dev / "terraform.tfvars").read_text() + "\n# a note\n")
    after = {s: stacks.digest(s, repo, live) for s in (dev, prod)}
    assert after[dev] != before[dev] and after[prod] == before[prod]
    chart = repo / "terraform-modules" / "charts" / "microservice" / "values.yaml"
    chart.write_text(chart.read_text() + "\n# a note\n")
    assert stacks.digest(prod, repo, live) != after[prod]
    # Terraform's own working files are not inputs.
    clean = stacks.digest(dev, repo, live)
    (dev / ".terraform").mkdir()
    (dev / ".terraform" / "x").write_text("x")
    (dev / ".terraform.lock.hcl").write_text("x")
    (dev / "terraform.tfstate").write_text("{}")
    assert stacks.digest(dev, repo, live) == clean
    # A symlinked shared file is an input of every stack that links it.
    shared = live / "shared" / "environment" / "outputs.tf"
    shared.write_text(shared.read_text() + "\n# a note\n")
    assert stacks.digest(dev, repo, live) != clean


def test_each_account_gets_its_own_backend(tmp_path):
    """init_stack writes the backend of the stack's account from TF_BACKENDS, else the default backend."""
    script = (f"source {LIVE / 'scripts' / 'lib.sh'}; "
              f"init_stack {LIVE / 'project-a' / 'prod'} {tmp_path / 'prod'}; "
              f"init_stack {LIVE / 'management'} {tmp_path / 'mgmt'}")
    (tmp_path / "prod").mkdir()
    (tmp_path / "mgmt").mkdir()
    backends = {"project-a/prod": {"bucket": "acme-a-prod-tfstate", "role_arn": "arn:aws:iam::000000000000:role/s"}}
    env = clean_env(TERRAFORM="true", TF_STATE_BUCKET="acme-mgmt-tfstate", TF_BACKENDS=json.dumps(backends))
    subprocess.run(["bash", "-c", script], env=env, check=True, timeout=60)
    prod = (tmp_path / "prod" / "backend.hcl").read_text()
    assert 'bucket         = "acme-a-prod-tfstate"' in prod
    assert 'dynamodb_table = "acme-a-prod-tfstate-lock"' in prod
    assert 'role_arn       = "arn:aws:iam::000000000000:role/s"' in prod
    mgmt = (tmp_path / "mgmt" / "backend.hcl").read_text()
    assert 'bucket         = "acme-mgmt-tfstate"' in mgmt and "role_arn" not in mgmt


def test_set_image_tag_records_only_full_shas_and_versions_of_known_services(tmp_path):
    repo = make_repo(tmp_path)
    script = repo / "live-infrastructure" / "scripts" / "set-image-tag.py"
    tags_file = repo / "live-infrastructure" / "project-b" / "qa" / "image_tags.auto.tfvars.json"
    before = tags_file.read_text()

    def run(*args):
        return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, timeout=60)

    for bad in (["project-b/qa", "login-service", "latest"], ["project-b/qa", "login-service", "3f2c1a9"],
                ["project-b/qa", "billing-service", "a" * 40], ["management", "login-service", "a" * 40]):
        r = run(*bad)
        assert r.returncode == 1 and r.stderr, (bad, r.stdout)
        assert tags_file.read_text() == before
    sha = "0123456789abcdef0123456789abcdef01234567"
    r = run("project-b/qa", "login-service", sha)
    assert r.returncode == 0 and f"login-service 0.1.0 -> {sha}" in r.stdout, r.stderr
    assert json.loads(tags_file.read_text())["image_tags"] == {
        "api-gateway": "0.1.0", "login-service": sha, "mobile-service": "0.1.0"}
    assert run("project-b/qa", "api-gateway", "v1.2.3").returncode == 0


# --- act runs -------------------------------------------------------------------------------------------------

def git(repo: Path, *args: str) -> str:
    env = clean_env(GIT_AUTHOR_NAME="pipeline-test", GIT_AUTHOR_EMAIL="pipeline@example.invalid",
                    GIT_COMMITTER_NAME="pipeline-test", GIT_COMMITTER_EMAIL="pipeline@example.invalid")
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True).stdout.strip()


def make_repo(tmp_path: Path) -> Path:
    """A throwaway repository with live-infrastructure/ and terraform-modules/ of this tree on `main`."""
    repo = tmp_path / "repo"
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "__pycache__")
    for part in ("live-infrastructure", "terraform-modules"):
        shutil.copytree(REPO_ROOT / part, repo / part, symlinks=True, ignore=ignore)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def commit_change(repo: Path, files: Dict[str, str], message: str, append: bool = True) -> str:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text((path.read_text() if append and path.exists() else "") + text)
        git(repo, "add", name)
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


class ActRunner:
    def __init__(self, repo: Path, tmp: Path, moto, cli_config: Path):
        self.repo, self.tmp, self.moto, self.cli_config = repo, tmp, moto, cli_config
        self.artifacts = tmp / "artifacts"
        self.comment = tmp / "comment.md"
        self.runs = 0

    def run(self, event: str, payload: dict, expect_ok: bool = True, workflow: str = WORKFLOW) -> str:
        self.runs += 1
        event_file = self.tmp / f"event-{self.runs}.json"
        event_file.write_text(json.dumps(payload))
        env_vars = {
            "PATH": f"{TERRAFORM_BIN.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "TF_CLI_CONFIG_FILE": str(self.cli_config),
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
            "AWS_EC2_METADATA_DISABLED": "true",
            "PK_AWS_ENDPOINT_URL": self.moto.endpoint,
            "PK_LOCAL_ARTIFACTS": str(self.artifacts),
            "PK_LOCAL_COMMENT": str(self.comment),
        }
        args = [str(ACT), event, "-e", str(event_file), "-W", workflow, "-P", "ubuntu-latest=-self-hosted",
                "--var", f"TF_STATE_BUCKET={STATE_BUCKET}", "--var", f"TF_STATE_LOCK_TABLE={STATE_BUCKET}-lock"]
        for k, v in env_vars.items():
            args += ["--env", f"{k}={v}"]
        args += self.offline_actions(workflow)
        env = clean_env(**env_vars, XDG_CACHE_HOME=str(self.tmp / "cache"), HOME=os.environ.get("HOME", "/root"))
        r = subprocess.run(args, cwd=self.repo, env=env, capture_output=True, text=True, timeout=900)
        log = r.stdout + r.stderr
        (self.tmp / f"act-{self.runs}.log").write_text(log)
        if expect_ok:
            assert r.returncode == 0, log[-20000:]
        else:
            assert r.returncode != 0, log[-20000:]
        return log

    def offline_actions(self, workflow: str = WORKFLOW) -> List[str]:
        """act resolves every `uses:` while setting a job up, even a step whose `if: ${{ !env.ACT }}` skips it,
        and this machine cannot reach github.com. Each remote action of the workflow is therefore mapped to a
        placeholder folder; the placeholder never runs (its step is skipped under act, which the log shows) and
        fails loudly if it ever did. actions/checkout is not mapped: act copies the local repository itself."""
        placeholder = self.tmp / "not-under-act"
        placeholder.mkdir(exist_ok=True)
        (placeholder / "action.yml").write_text(
            "name: not-under-act\ndescription: stands for a github.com action that is skipped under act\n"
            "runs:\n  using: composite\n  steps:\n"
            "    - run: echo 'a github.com action ran under act' >&2; exit 1\n      shell: bash\n")
        text = (self.repo / workflow).read_text()
        uses = sorted(set(re.findall(r"uses:\s*([\w.-]+/[\w.-]+@[\w.-]+)", text)))
        return [arg for u in uses if not u.startswith("actions/checkout@")
                for arg in ("--local-repository", f"{u}={placeholder}")]

    def pull_request(self, base: str, head: str, number: int = 1, **kw) -> str:
        git(self.repo, "checkout", "-q", head)
        return self.run("pull_request", {"number": number, "pull_request": {
            "number": number, "base": {"sha": base, "ref": "main"}, "head": {"sha": head, "ref": "feature"}}}, **kw)

    def push(self, before: str, after: str, **kw) -> str:
        git(self.repo, "checkout", "-q", after)
        return self.run("push", {"ref": "refs/heads/main", "before": before, "after": after}, **kw)

    def plans(self) -> List[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.artifacts.glob("*/meta.json"))]


def planned_jobs(log: str) -> List[str]:
    """Stacks whose plan job succeeded, from act's log."""
    # act names matrix jobs "plan <stack>", with "-<n>" appended when the matrix has several entries.
    return sorted({re.sub(r"-\d+$", "", line.split("[infrastructure/plan ", 1)[1].split("]", 1)[0].strip())
                   for line in log.splitlines()
                   if line.startswith("[infrastructure/plan ") and "Job succeeded" in line})


@pytest.fixture
def act_env(tmp_path, clean_moto, cli_config_filesystem):
    need(ACT)
    moto = clean_moto
    moto.client("s3").create_bucket(Bucket=STATE_BUCKET)
    moto.client("dynamodb").create_table(
        TableName=f"{STATE_BUCKET}-lock", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}])
    repo = make_repo(tmp_path)
    return ActRunner(repo, tmp_path, moto, cli_config_filesystem)


@pytest.mark.e2e
def test_pull_request_plans_only_the_stacks_it_touches(act_env):
    runner = act_env
    repo = runner.repo
    main = git(repo, "rev-parse", "HEAD")

    # One tfvars change: one stack planned, its plan kept, the comment written.
    git(repo, "checkout", "-q", "-b", "feature")
    head = commit_change(repo, {"live-infrastructure/project-a/dev/terraform.tfvars": '\n# owner: team-a\n'},
                         "project-a/dev: a note")
    log = runner.pull_request(main, head)
    assert planned_jobs(log) == ["project-a/dev"], log[-5000:]
    assert "terraform fmt: " in log and "directories formatted" in log, log[-5000:]
    assert "act: OIDC role assumption skipped" in log and "act: actions/upload-artifact skipped" in log
    plans = runner.plans()
    assert [(p["stack"], p["commit"]) for p in plans] == [("project-a/dev", head)]
    assert plans[0]["digest"] == stacks.digest(repo / "live-infrastructure/project-a/dev", repo,
                                               repo / "live-infrastructure")
    comment = runner.comment.read_text()
    assert "<!-- platformkit:infrastructure-plan -->" in comment
    assert "| `project-a/dev` |" in comment and "project-a/prod" not in comment
    assert "created the plan comment" in log

    # A module change on the same pull request: every stack that uses the module, and the same comment
    # updated in place.
    head2 = commit_change(repo, {"terraform-modules/environment/variables.tf": "\n# reviewed by the platform team\n"},
                          "environment module: a note")
    log = runner.pull_request(main, head2)
    assert planned_jobs(log) == sorted(ENV_STACKS), log[-5000:]
    assert "updated the plan comment" in log
    comment = runner.comment.read_text()
    assert comment.count("<!-- platformkit:infrastructure-plan -->") == 1
    for s in ENV_STACKS:
        assert f"| `{s}` |" in comment
    assert "management" not in comment and "bootstrap" not in comment
    assert sorted(p["stack"] for p in runner.plans() if p["commit"] == head2) == sorted(ENV_STACKS)


@pytest.mark.e2e
def test_push_applies_the_reviewed_plan_and_refuses_a_stale_one(act_env):
    runner = act_env
    repo, s3 = runner.repo, runner.moto.client("s3")
    demo = "live-infrastructure/bootstrap/remote-state-demo/terraform.tfvars"
    main = git(repo, "rev-parse", "HEAD")

    # Reviewed on a pull request, then merged (fast-forward): the push applies exactly that plan.
    git(repo, "checkout", "-q", "-b", "feature")
    head = commit_change(repo, {demo: 'name_prefix = "pk-pipe-one"\n'}, "demo: first prefix")
    log = runner.pull_request(main, head)
    assert planned_jobs(log) == ["bootstrap/remote-state-demo"]
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "feature")
    log = runner.push(main, head)
    assert "applying the reviewed plan of bootstrap/remote-state-demo" in log, log[-5000:]
    assert "pk-pipe-one-demo-artifacts" in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # The same push run again: the plan was made against the state before the first apply, so it is stale.
    log = runner.push(main, head, expect_ok=False)
    assert "the reviewed plan is stale" in log and "another apply changed this stack" in log, log[-5000:]

    # A change reaches main without a plan of its inputs (planned before a later edit): refused as stale,
    # and nothing is created.
    git(repo, "checkout", "-q", "-b", "feature-2")
    planned = commit_change(repo, {demo: 'name_prefix = "pk-pipe-two"\n'}, "demo: second prefix", append=False)
    runner.pull_request(head, planned, number=2)
    edited = commit_change(repo, {demo: 'name_prefix = "pk-pipe-three"\n'}, "demo: edited after review",
                           append=False)
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "feature-2")
    log = runner.push(head, edited, expect_ok=False)
    assert "refusing to apply bootstrap/remote-state-demo: the reviewed plan is stale" in log, log[-5000:]
    names_now = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "pk-pipe-two-demo-artifacts" not in names_now and "pk-pipe-three-demo-artifacts" not in names_now


# --- frontend pipeline ----------------------------------------------------------------------------------------

AWS_CLI_BIN = TOOLS / "awscli" / "bin"
FRONTEND = REPO_ROOT / "examples" / "frontend-app"


def make_frontend_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "frontend-repo"
    ignore = shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*", "node_modules", "dist")
    shutil.copytree(FRONTEND, repo / "examples" / "frontend-app", symlinks=True, ignore=ignore)
    shutil.copytree(REPO_ROOT / "terraform-modules", repo / "terraform-modules", symlinks=True, ignore=ignore)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


@pytest.mark.e2e
def test_frontend_pipeline_uploads_in_two_passes_and_invalidates_unhashed_paths(
        tmp_path, clean_moto, tf_factory, cli_config_filesystem):
    need(ACT)
    if not (AWS_CLI_BIN / "aws").exists():
        pytest.fail(f"{AWS_CLI_BIN / 'aws'} is missing: run scripts/bootstrap.sh", pytrace=False)
    if shutil.which("npm") is None:
        pytest.fail("npm is needed for the frontend build", pytrace=False)
    moto = clean_moto
    repo = make_frontend_repo(tmp_path)
    app = repo / "examples" / "frontend-app"

    # The frontend's stack, applied for real (its local state is what `terraform output` reads in the job).
    tf = tf_factory(name="unused")
    tf.workdir = app / "infra"
    tf.init()
    tf.apply(var={"endpoint_url": moto.endpoint, "require_tls": "false"})
    bucket, dist_id = tf.outputs()["bucket_name"], tf.outputs()["distribution_id"]

    env_vars = {
        "PATH": f"{TERRAFORM_BIN.parent}:{AWS_CLI_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "TF_CLI_CONFIG_FILE": str(cli_config_filesystem),
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
        "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "PK_AWS_ENDPOINT_URL": moto.endpoint,
    }
    runner = ActRunner(repo, tmp_path, moto, cli_config_filesystem)
    event = tmp_path / "push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main"}))
    workflow = "examples/frontend-app/.github/workflows/frontend.yml"
    args = [str(ACT), "push", "-e", str(event), "-W", workflow, "-P", "ubuntu-latest=-self-hosted"]
    for k, v in env_vars.items():
        args += ["--env", f"{k}={v}"]
    runner.repo = repo
    text = (repo / workflow).read_text()
    placeholder_args = []
    for u in sorted(set(re.findall(r"uses:\s*([\w.-]+/[\w.-]+@[\w.-]+)", text))):
        if not u.startswith("actions/checkout@"):
            placeholder_args += ["--local-repository", f"{u}={runner_placeholder(tmp_path)}"]
    r = subprocess.run([*args, *placeholder_args], cwd=repo, capture_output=True, text=True, timeout=900,
                       env=clean_env(**env_vars, XDG_CACHE_HOME=str(tmp_path / "cache"),
                                     HOME=os.environ.get("HOME", "/root")))
    log = r.stdout + r.stderr
    (tmp_path / "act-frontend.log").write_text(log)
    assert r.returncode == 0, log[-20000:]
    assert "act: setup-node, setup-terraform and OIDC skipped" in log

    s3 = moto.client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    hashed = [k for k in keys if k.startswith("assets/")]
    assert sorted(set(keys) - set(hashed)) == ["index.html", "robots.txt"]
    assert {k.rsplit(".", 1)[1] for k in hashed} == {"js", "css"}
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        want = "public, max-age=31536000, immutable" if key in hashed else "no-cache"
        assert head.get("CacheControl") == want, (key, head.get("CacheControl"))
    assert s3.head_object(Bucket=bucket, Key="index.html")["ContentType"].startswith("text/html")

    cf = moto.client("cloudfront")
    items = cf.list_invalidations(DistributionId=dist_id)["InvalidationList"].get("Items", [])
    assert len(items) == 1
    inv = cf.get_invalidation(DistributionId=dist_id, Id=items[0]["Id"])["Invalidation"]
    assert sorted(inv["InvalidationBatch"]["Paths"]["Items"]) == ["/", "/index.html", "/robots.txt"]

    # The next release, with the same scripts: new code gets a new hashed name (the old one stays for pages
    # still open), and an unhashed file whose size did not change is uploaded all the same.
    old_js = [k for k in hashed if k.endswith(".js")]
    (app / "src" / "main.js").write_text((app / "src" / "main.js").read_text() + "\nconsole.log('release 2');\n")
    robots = app / "public" / "robots.txt"
    robots.write_text(robots.read_text().replace("Allow: /", "Allow: *"))
    script_env = clean_env(**env_vars)
    run_script([app / "scripts" / "build.sh"], app, script_env)
    run_script([app / "scripts" / "publish.sh", "dist", "infra"], app, script_env)
    keys2 = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    new_js = [k for k in keys2 if k.endswith(".js") and k not in old_js]
    assert len(new_js) == 1 and set(old_js) <= set(keys2)
    assert s3.head_object(Bucket=bucket, Key=new_js[0])["CacheControl"] == "public, max-age=31536000, immutable"
    assert b"Allow: *" in s3.get_object(Bucket=bucket, Key="robots.txt")["Body"].read()
    assert new_js[0].split("/")[-1] in s3.get_object(Bucket=bucket, Key="index.html")["Body"].read().decode()
    items = cf.list_invalidations(DistributionId=dist_id)["InvalidationList"]["Items"]
    assert len(items) == 2
    tf.destroy(var={"endpoint_url": moto.endpoint, "require_tls": "false"})


def runner_placeholder(tmp: Path) -> Path:
    placeholder = tmp / "not-under-act"
    placeholder.mkdir(exist_ok=True)
    (placeholder / "action.yml").write_text(
        "name: not-under-act\ndescription: stands for a github.com action that is skipped under act\n"
        "runs:\n  using: composite\n  steps:\n"
        "    - run: echo 'a github.com action ran under act' >&2; exit 1\n      shell: bash\n")
    return placeholder


# --- service release pipeline ----------------------------------------------------------------------------------

REGISTRY_BIN = TOOLS / "bin" / "docker-registry"
SERVICE_APP = REPO_ROOT / "examples" / "service-app"
SERVICE_TARGET = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "platformkit" / "service-app-target"


@pytest.fixture
def registry(tmp_path):
    """A real distribution registry (Debian's docker-registry) on 127.0.0.1."""
    need(REGISTRY_BIN)
    from harness.moto_server import free_port, wait_until
    import urllib.request

    port = free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
        f"    rootdirectory: {tmp_path / 'registry-data'}\n  delete:\n    enabled: false\n"
        f"http:\n  addr: 127.0.0.1:{port}\n")
    log = open(tmp_path / "registry.log", "w")
    proc = subprocess.Popen([str(REGISTRY_BIN), "serve", str(config)], stdout=log, stderr=subprocess.STDOUT)

    def up():
        try:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).status == 200
        except OSError:
            return False

    try:
        wait_until(up, timeout=30, what="docker-registry")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def registry_get(registry: str, path: str, accept: str = "") -> bytes:
    import urllib.request

    req = urllib.request.Request(f"http://{registry}{path}", headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read()


def live_env(moto, cli_config: Path, **extra: str) -> Dict[str, str]:
    return clean_env(
        PATH=f"{TERRAFORM_BIN.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        TF_CLI_CONFIG_FILE=str(cli_config), AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_KEY, AWS_EC2_METADATA_DISABLED="true",
        PK_AWS_ENDPOINT_URL=moto.endpoint, TF_STATE_BUCKET=STATE_BUCKET, TF_VAR_deploy_services="false", **extra)


def run_script(args, cwd: Path, env: Dict[str, str]) -> str:
    r = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-10000:] + r.stderr[-10000:]
    return r.stdout + r.stderr


@pytest.mark.e2e
def test_service_release_pushes_the_image_and_records_its_tag(act_env, registry, tmp_path):
    import io
    import tarfile
    import urllib.request

    from harness.moto_server import free_port, wait_until

    runner = act_env
    moto, cli_config = runner.moto, runner.cli_config
    env = live_env(moto, cli_config)

    # live-infrastructure as a remote (bare) repository, and the dev environment applied from a clone of it
    # (services without Helm releases: no cluster here), through the reviewed-plan scripts.
    remote = tmp_path / "live.git"
    git(tmp_path, "clone", "-q", "--bare", str(runner.repo), str(remote))
    setup = runner.repo
    run_script(["live-infrastructure/scripts/plan.sh", "project-a/dev", tmp_path / "setup-plan"], setup, env)
    run_script(["live-infrastructure/scripts/apply.sh", "project-a/dev", tmp_path / "setup-plan"], setup, env)
    run_script(["live-infrastructure/scripts/plan.sh", "project-a/dev", tmp_path / "setup-check"], setup, env)
    assert json.loads((tmp_path / "setup-check" / "meta.json").read_text())["has_changes"] is False, \
        (tmp_path / "setup-check" / "plan.txt").read_text()[-6000:]

    # The service's repository.
    svc = tmp_path / "service-repo"
    shutil.copytree(SERVICE_APP, svc / "examples" / "service-app",
                    ignore=shutil.ignore_patterns("target", "image"))
    git(svc, "init", "-q", "-b", "main")
    git(svc, "add", "-A")
    git(svc, "commit", "-q", "-m", "mobile-service")
    sha = git(svc, "rev-parse", "HEAD")

    env_vars = {
        "PATH": f"{TERRAFORM_BIN.parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
        "AWS_EC2_METADATA_DISABLED": "true", "PK_AWS_ENDPOINT_URL": moto.endpoint,
        "PK_REGISTRY": registry, "PK_LIVE_INFRA_REMOTE": str(remote),
        "TF_VAR_deploy_services": "false", "CARGO_TARGET_DIR": str(SERVICE_TARGET),
    }
    for key in ("CARGO_HOME", "RUSTUP_HOME"):
        if os.environ.get(key):
            env_vars[key] = os.environ[key]
    workflow = "examples/service-app/.github/workflows/release.yml"
    event = tmp_path / "service-push.json"
    event.write_text(json.dumps({"ref": "refs/heads/main", "after": sha}))
    args = [str(ACT), "push", "-e", str(event), "-W", workflow, "-P", "ubuntu-latest=-self-hosted",
            "--var", f"TF_STATE_BUCKET={STATE_BUCKET}"]
    for k, v in env_vars.items():
        args += ["--env", f"{k}={v}"]
    text = (svc / workflow).read_text()
    for u in sorted(set(re.findall(r"uses:\s*([\w.-]+/[\w.-]+@[\w.-]+)", text))):
        if not u.startswith("actions/checkout@"):
            args += ["--local-repository", f"{u}={runner_placeholder(tmp_path)}"]
    r = subprocess.run(args, cwd=svc, capture_output=True, text=True, timeout=1200,
                       env=clean_env(**env_vars, XDG_CACHE_HOME=str(tmp_path / "cache"),
                                     HOME=os.environ.get("HOME", "/root")))
    log = r.stdout + r.stderr
    (tmp_path / "act-service.log").write_text(log)
    assert r.returncode == 0, log[-20000:]
    assert "act: OIDC and ECR login skipped" in log
    assert "the plan updates mobile-service in place and nothing else" in log, log[-8000:]
    assert "applying the reviewed plan of project-a/dev" in log

    # The image is in the registry under the full SHA, with the Dockerfile's entrypoint, user and labels.
    tags = json.loads(registry_get(registry, "/v2/mobile-service/tags/list"))["tags"]
    assert tags == [sha]
    manifest = json.loads(registry_get(registry, f"/v2/mobile-service/manifests/{sha}",
                                       "application/vnd.oci.image.manifest.v1+json"))
    config = json.loads(registry_get(registry, f"/v2/mobile-service/blobs/{manifest['config']['digest']}"))
    assert config["config"]["Entrypoint"] == ["/mobile-service"]
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Labels"]["org.opencontainers.image.revision"] == sha
    (layer,) = manifest["layers"]
    blob = registry_get(registry, f"/v2/mobile-service/blobs/{layer['digest']}")
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        assert tar.getnames() == ["mobile-service"]
        binary = tmp_path / "pulled-mobile-service"
        binary.write_bytes(tar.extractfile("mobile-service").read())
    # The pulled binary is the service of this commit: run it and ask.
    binary.chmod(0o755)
    port = free_port()
    proc = subprocess.Popen([str(binary)], env={"LISTEN": f"127.0.0.1:{port}"}, stderr=subprocess.DEVNULL)
    try:
        def answer():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/mobile", timeout=2).read()
            except OSError:
                return None
        body = wait_until(answer, timeout=20, what="the pulled service")
        assert json.loads(body) == {"service": "mobile-service", "revision": sha}
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    # The tag is committed to live-infrastructure's main (dev) and proposed on a branch (prod).
    check = tmp_path / "live-check"
    git(tmp_path, "clone", "-q", str(remote), str(check))
    dev_tags = json.loads((check / "live-infrastructure/project-a/dev/image_tags.auto.tfvars.json").read_text())
    assert dev_tags["image_tags"] == {"api-gateway": "0.1.0", "login-service": "0.1.0", "mobile-service": sha}
    assert git(check, "log", "-1", "--format=%s") == f"project-a/dev: mobile-service {sha}"
    prod = git(check, "show", f"origin/release/mobile-service-{sha}:live-infrastructure/project-a/prod/"
                              "image_tags.auto.tfvars.json")
    assert json.loads(prod)["image_tags"]["mobile-service"] == sha
    # The next infrastructure plan of dev, from main, keeps the tag: nothing to change.
    run_script(["live-infrastructure/scripts/plan.sh", "project-a/dev", tmp_path / "after-plan"], check, env)
    assert json.loads((tmp_path / "after-plan" / "meta.json").read_text())["has_changes"] is False


# --- drift check ------------------------------------------------------------------------------------------------

@pytest.mark.e2e
def test_scheduled_drift_check_lists_drifted_stacks(act_env, tmp_path):
    runner = act_env
    moto = runner.moto
    env = live_env(moto, runner.cli_config)
    demo = "live-infrastructure/bootstrap/remote-state-demo/terraform.tfvars"
    commit_change(runner.repo, {demo: 'name_prefix = "pk-drift"\n'}, "demo: prefix")
    run_script(["live-infrastructure/scripts/plan.sh", "bootstrap/remote-state-demo", tmp_path / "p"], runner.repo, env)
    run_script(["live-infrastructure/scripts/apply.sh", "bootstrap/remote-state-demo", tmp_path / "p"], runner.repo, env)

    log = runner.run("schedule", {"schedule": "17 5 * * *"}, expect_ok=False, workflow=DRIFT_WORKFLOW)
    # Every stack with remote state is checked; the applied one is in sync, the others have never been applied.
    assert "in sync: bootstrap/remote-state-demo" in log, log[-6000:]
    assert any(line.startswith("[drift/drift check]") and "Job failed" in line for line in log.splitlines())
    assert "DRIFTED: project-a/prod" in log and "DRIFTED: management" in log
    assert "bootstrap/state-backend" not in log.split("drift check failed:")[-1]

    # Someone switches versioning off by hand: the next check lists the stack as drifted.
    moto.client("s3").put_bucket_versioning(Bucket="pk-drift-demo-artifacts",
                                            VersioningConfiguration={"Status": "Suspended"})
    log = runner.run("schedule", {"schedule": "17 5 * * *"}, expect_ok=False, workflow=DRIFT_WORKFLOW)
    assert "DRIFTED: bootstrap/remote-state-demo" in log, log[-6000:]
    summary = [line for line in log.splitlines() if "drift check failed: drifted stacks:" in line]
    assert summary and "bootstrap/remote-state-demo" in summary[-1]
