"""Remote state: a second stack keeps its state in a bucket and lock table made by platform_state_backend,
and while one terraform holds the lock, a concurrent plan is refused.

The backend block comes from the harness (``Terraform.s3_backend_hcl``): Terraform 1.0.3 locks in the DynamoDB
table; Terraform 1.10+ (1.15.5 here) with ``use_lockfile`` in a ``<key>.tflock`` object next to the state."""

from __future__ import annotations

import subprocess
import time

import pytest

pytestmark = pytest.mark.e2e

BUCKET = "pk-e2e-remote-state"
KEY = "app/terraform.tfstate"


def flat(text: str) -> str:
    return " ".join(text.split())


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(delay)
        delay = min(delay * 2, 1.0)
    raise AssertionError(f"timed out waiting for {what}")


def test_stack_state_in_backend_and_lock_refuses_concurrent_plan(tf_factory, clean_moto):
    moto = clean_moto
    boot = tf_factory("filesystem", name="bootstrap")
    # require_tls = false: moto applies the TLS-only Deny to every object write over plain HTTP.
    boot.write_config(
        f'resource "platform_state_backend" "s" {{\n  bucket      = "{BUCKET}"\n  require_tls = false\n}}\n',
        endpoint=moto.endpoint,
    )
    boot.init()
    boot.apply()

    app = tf_factory("filesystem", name="app")
    app.write_config(
        'resource "platform_state_backend" "payload" {\n  bucket        = "pk-e2e-payload"\n  force_destroy = true\n}\n',
        endpoint=moto.endpoint,
    )
    app.write(app.s3_backend_hcl(moto.endpoint, BUCKET, key=KEY, lock_table=f"{BUCKET}-lock"), name="backend.tf")
    app.init()
    app.apply()
    assert not (app.workdir / "terraform.tfstate").exists()
    obj = moto.client("s3").get_object(Bucket=BUCKET, Key=KEY)
    assert b"platform_state_backend" in obj["Body"].read()
    assert app.plan() == 0

    # One terraform holds the lock while it waits for approval of a change (written first, so that
    # it has something to ask about) ...
    app.write_config(
        'resource "platform_state_backend" "payload" {\n  bucket        = "pk-e2e-payload"\n'
        '  force_destroy = true\n  tags          = { changed = "yes" }\n}\n',
        endpoint=moto.endpoint,
    )
    env = app.environment()
    env["TF_INPUT"] = "1"
    holder = subprocess.Popen(
        [str(app.binary), "apply", "-no-color", "-input=true"],
        cwd=app.workdir,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        ddb = moto.client("dynamodb")
        s3 = moto.client("s3")

        def lock_item():
            if app.at_least("1.10.0"):  # use_lockfile: the lock is an object beside the state
                listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=KEY).get("Contents", [])
                return [o for o in listed if o["Key"] == f"{KEY}.tflock"]
            items = ddb.scan(TableName=f"{BUCKET}-lock")["Items"]
            return [i for i in items if i["LockID"]["S"] == f"{BUCKET}/{KEY}" and "Info" in i]

        wait_for(lock_item, 60, "the first terraform to take the state lock")

        # ... so a concurrent plan is refused.
        result = app.run("plan", "-no-color", "-lock-timeout=1s", check=False)
        assert result.returncode != 0
        assert "Error acquiring the state lock" in flat(result.output)
    finally:
        try:
            holder.communicate("no\n", timeout=60)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.communicate()
    # The lock is released once the first terraform exits.
    wait_for(lambda: not lock_item(), 30, "the lock to be released")
    assert app.plan() == 2
    app.destroy()
    boot.write_config(
        f'resource "platform_state_backend" "s" {{\n  bucket        = "{BUCKET}"\n  require_tls   = false\n'
        "  force_destroy = true\n}\n",
        endpoint=moto.endpoint,
    )
    boot.apply()
    boot.destroy()
    assert moto.client("s3").list_buckets()["Buckets"] == []


def test_backend_config_v1_10_is_what_current_terraform_wants(tf_factory, clean_moto):
    """`backend_config_v1_10`, written as it is into a backend config file, is all Terraform 1.15.5 needs to
    keep a stack's state in the bucket, locking with a lock object (no DynamoDB table, no deprecation
    warning); `backend_config` still works there too, with Terraform's deprecation warning."""
    from harness.terraform import hcl_value

    moto = clean_moto
    boot = tf_factory("filesystem", name="bootstrap", terraform="1.15.5")
    boot.write_config(
        f'resource "platform_state_backend" "s" {{\n  bucket      = "{BUCKET}"\n  require_tls = false\n}}\n'
        'output "v1_10" {\n  value = platform_state_backend.s.backend_config_v1_10\n}\n'
        'output "legacy" {\n  value = platform_state_backend.s.backend_config\n}\n',
        endpoint=moto.endpoint,
    )
    boot.init()
    boot.apply()
    outputs = boot.outputs()
    v1_10 = outputs["v1_10"]
    assert v1_10["use_lockfile"] is True and "dynamodb_table" not in v1_10
    assert v1_10["endpoints"] == {"s3": moto.endpoint, "sts": moto.endpoint}

    def backend_file(settings: dict) -> str:
        return "".join(f"{k} = {hcl_value(v)}\n" for k, v in settings.items() if v is not None)

    app = tf_factory("filesystem", name="app", terraform="1.15.5")
    app.write_config('resource "terraform_data" "x" {\n  input = "hello"\n}\n', endpoint=moto.endpoint)
    app.write('terraform {\n  backend "s3" {}\n}\n', name="backend.tf")
    app.write(backend_file(v1_10) + f'key = "{KEY}"\n', name="backend.hcl")
    app.init("-backend-config=backend.hcl")
    assert "deprecated" not in flat(app.last.output)
    app.apply()
    assert "deprecated" not in flat(app.last.output)
    listed = [o["Key"] for o in moto.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert listed == [KEY]  # the lock object is gone again after the apply
    assert moto.client("dynamodb").scan(TableName=f"{BUCKET}-lock")["Items"] == []
    app.destroy()

    legacy = tf_factory("filesystem", name="legacy", terraform="1.15.5")
    legacy.write_config('resource "terraform_data" "x" {\n  input = "hello"\n}\n', endpoint=moto.endpoint)
    legacy.write('terraform {\n  backend "s3" {}\n}\n', name="backend.tf")
    settings = dict(outputs["legacy"], key="legacy.tfstate", endpoints=v1_10["endpoints"], use_path_style=True)
    settings["endpoints"] = dict(settings["endpoints"], dynamodb=moto.endpoint)
    legacy.write(backend_file(settings), name="backend.hcl")
    legacy.init("-backend-config=backend.hcl")
    assert 'The parameter "dynamodb_table" is deprecated' in flat(legacy.last.output)
    legacy.apply()
    legacy.destroy()

    boot.write_config(
        f'resource "platform_state_backend" "s" {{\n  bucket        = "{BUCKET}"\n  require_tls   = false\n'
        "  force_destroy = true\n}\n",
        endpoint=moto.endpoint,
    )
    boot.apply()
    boot.destroy()
    assert moto.client("s3").list_buckets()["Buckets"] == []
