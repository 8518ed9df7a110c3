"""The provider does not outlive Terraform (issue 17, item 4).

A real terraform apply / plan is started against moto through the fault proxy, which holds one AWS call
open so Terraform is certainly mid-operation; then Terraform alone is SIGKILLed (not its process group), and
its provider process must be gone within a few seconds, without starting another AWS call once it noticed,
leaving AWS in a state a re-apply finishes. Two more tests take the provider binary alone: its parent
killed while stdout is a file (only the parent check can notice), and its stdout pipe closed while the
parent lives (only the stdio check can notice)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

from harness.moto_server import wait_until
from harness.plugin_client import ProviderProcess

pytestmark = pytest.mark.e2e

BUCKET = "pk-gone-state"
#: How long the provider may take to exit once Terraform is gone ("within a few seconds").
EXIT_WITHIN = 8.0
#: How long the held AWS call stays held after the kill: the provider polls every 250 ms, so by then
#: it has noticed, and the answer to the held call is the last thing its work receives.
NOTICE_MARGIN = 2.0


def backend_hcl() -> str:
    return f'resource "platform_state_backend" "b" {{\n  bucket = "{BUCKET}"\n}}\n'


def alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper that is not ours does not count)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def provider_pids(workdir: Path) -> List[int]:
    """Live provider processes that Terraform started in ``workdir`` (their working directory), wherever
    they were reparented to."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = os.readlink(entry / "exe")
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if "terraform-provider-platform" in Path(exe).name and Path(cwd) == Path(workdir) and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


class Hold:
    """An on_call hook that holds the first request of ``operation`` until released."""

    def __init__(self, operation: str):
        self.operation = operation
        self.reached = threading.Event()
        self.release = threading.Event()
        self.calls_at_release = 0

    def __call__(self, call) -> None:
        if call.operation == self.operation and not self.reached.is_set():
            self.reached.set()
            self.release.wait(120)


def start_terraform(tf, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(tf.binary), *args, "-input=false", "-no-color"],
        cwd=tf.workdir, env=tf.environment(), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group, so that only Terraform itself is killed below
    )


def kill_terraform_and_time_provider_exit(tf, proc, hold: Hold, proxy) -> float:
    """SIGKILL Terraform while ``hold`` holds a call; release it after NOTICE_MARGIN; return the seconds
    from the kill until no provider process of this working directory is left."""
    providers = provider_pids(tf.workdir)
    assert len(providers) == 1, f"expected one provider process under {tf.workdir}, found {providers}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed = time.monotonic()
    try:
        time.sleep(NOTICE_MARGIN)  # an ordering margin, not a wait for a result: see NOTICE_MARGIN
        hold.calls_at_release = len(proxy.calls)
    finally:
        hold.release.set()
    wait_until(lambda: not provider_pids(tf.workdir), timeout=EXIT_WITHIN + NOTICE_MARGIN,
               what="the provider to exit after Terraform was killed")
    return time.monotonic() - killed


def test_provider_exits_when_terraform_is_killed_during_apply(tf, fault_proxy, clean_moto):
    tf.write_config(backend_hcl(), endpoint=fault_proxy.url)
    tf.init()
    hold = Hold("PutBucketPolicy")
    fault_proxy.on_call(hold, when="before")
    proc = start_terraform(tf, "apply", "-auto-approve")
    try:
        assert hold.reached.wait(180), "the apply never reached PutBucketPolicy"
        elapsed = kill_terraform_and_time_provider_exit(tf, proc, hold, fault_proxy)
    finally:
        hold.release.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    print(f"\nprovider gone {elapsed:.2f}s after terraform was killed mid-apply "
          f"({NOTICE_MARGIN:.0f}s of it the held call)")
    # Once it noticed, the provider started no new AWS call: only the held one (and any retry of a
    # call already under way) reached the proxy after the release.
    late = [c for c in fault_proxy.calls[hold.calls_at_release:] if c.attempt == 1]
    assert late == [], f"AWS calls started after Terraform was gone: {[(c.service, c.operation) for c in late]}"
    # The held call was finished, not cut: moto applied the policy.
    assert clean_moto.client("s3").get_bucket_policy(Bucket=BUCKET)["Policy"]
    # What the killed apply left is adopted by the next one: exactly one of everything, then nothing.
    fault_proxy.clear()
    tf.apply()
    assert [b["Name"] for b in clean_moto.client("s3").list_buckets()["Buckets"]] == [BUCKET]
    assert clean_moto.client("dynamodb").list_tables()["TableNames"] == [f"{BUCKET}-lock"]
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    assert clean_moto.client("s3").list_buckets()["Buckets"] == []
    assert clean_moto.client("dynamodb").list_tables()["TableNames"] == []


def test_provider_exits_when_terraform_is_killed_during_plan(tf, fault_proxy, clean_moto):
    tf.write_config(backend_hcl(), endpoint=fault_proxy.url)
    tf.init()
    tf.apply()
    hold = Hold("GetBucketPolicy")  # read during the refresh
    fault_proxy.clear()
    fault_proxy.on_call(hold, when="before")
    proc = start_terraform(tf, "plan")
    try:
        assert hold.reached.wait(180), "the plan never reached GetBucketPolicy"
        elapsed = kill_terraform_and_time_provider_exit(tf, proc, hold, fault_proxy)
    finally:
        hold.release.set()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    print(f"\nprovider gone {elapsed:.2f}s after terraform was killed mid-plan")
    late = [c for c in fault_proxy.calls[hold.calls_at_release:] if c.attempt == 1]
    assert late == [], f"AWS calls started after Terraform was gone: {[(c.service, c.operation) for c in late]}"
    fault_proxy.clear()
    assert tf.plan() == 0, tf.last.output
    tf.destroy()
    assert clean_moto.client("s3").list_buckets()["Buckets"] == []


def read_handshake(path: Path) -> str:
    def line():
        text = path.read_text(errors="replace") if path.exists() else ""
        return text.splitlines()[0] if text.endswith("\n") else ""

    return wait_until(line, timeout=30, what=f"the provider's handshake line in {path}")


def test_provider_exits_when_its_parent_dies(provider_binary, tmp_path):
    """stdout and stderr are files here, so only the parent check can notice."""
    out, log = tmp_path / "stdout", tmp_path / "provider.log"
    env = ProviderProcess(provider_binary).environment()
    env["TF_LOG"] = "info"
    middle_code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.argv[1]], stdin=subprocess.DEVNULL, stdout=open(sys.argv[2], 'wb'),"
        " stderr=open(sys.argv[3], 'wb'))\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    middle = subprocess.Popen(
        [sys.executable, "-c", middle_code, str(provider_binary), str(out), str(log)],
        env=env, stdout=subprocess.PIPE, start_new_session=True,
    )
    try:
        pid = int(middle.stdout.readline())
        assert read_handshake(out).startswith("1|6|tcp|127.0.0.1:")
        assert alive(pid)
        time.sleep(1.0)  # still serving while its parent lives (several watcher polls)
        assert alive(pid)
        middle.kill()
        middle.wait(timeout=30)
        killed = time.monotonic()
        wait_until(lambda: not alive(pid), timeout=EXIT_WITHIN, what="the provider to exit after its parent died")
        print(f"\nprovider gone {time.monotonic() - killed:.2f}s after its parent was killed")
        assert "Terraform is gone" in log.read_text(errors="replace")
        assert "parent process" in log.read_text(errors="replace")
    finally:
        if middle.poll() is None:
            os.killpg(middle.pid, signal.SIGKILL)


def test_provider_exits_when_its_stdout_is_closed(provider_binary, tmp_path):
    """The parent (this test) lives on; the provider's stdout pipe loses its reader."""
    log = tmp_path / "provider.log"
    env = ProviderProcess(provider_binary).environment()
    env["TF_LOG"] = "info"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen([str(provider_binary)], env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)
    try:
        assert proc.stdout.readline().decode().startswith("1|6|tcp|127.0.0.1:")
        time.sleep(1.0)  # still serving while its stdout is read (several watcher polls)
        assert proc.poll() is None
        proc.stdout.close()
        closed = time.monotonic()
        code = proc.wait(timeout=EXIT_WITHIN)
        print(f"\nprovider gone {time.monotonic() - closed:.2f}s after its stdout was closed (exit code {code})")
        assert code == 0
        text = log.read_text(errors="replace")
        assert "Terraform is gone" in text and "stdout" in text, text[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
