"""Smoke tests of the harness itself: the pinned tools run, moto answers, and Terraform installs our
provider from both kinds of mirror with exactly the hashes build_mirror.py published.

`terraform init` only downloads and verifies the provider package; it does not need a working provider.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import urllib.error
import urllib.request
import zipfile

import pytest

from harness.https_mirror import HttpsMirror
from harness.paths import PROVIDER_ADDR, PROVIDER_SOURCE, PROVIDER_VERSION
from harness.plugin_client import parse_handshake
from harness.terraform import Terraform, lock_file_version, platform_config, write_cli_config

pytestmark = pytest.mark.e2e


def test_pinned_terraform_runs(terraform_bin, terraform_version, tmp_path):
    # Needs no provider: an empty CLI config is enough to ask the binary its version.
    empty_cli_config = tmp_path / "empty.tfrc"
    empty_cli_config.write_text("")
    tf = Terraform(tmp_path / "work", empty_cli_config, binary=terraform_bin)
    info = json.loads(tf.run("version", "-json").stdout)
    assert info["terraform_version"] == terraform_version, tf.last.describe()
    assert info["platform"] == "linux_amd64"


def test_moto_answers_and_boto3_works(clean_moto):
    s3 = clean_moto.client("s3")
    s3.create_bucket(Bucket="platformkit-smoke")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == ["platformkit-smoke"]
    assert clean_moto.client("sts").get_caller_identity()["Account"] == clean_moto.account_id


def test_moto_reset_forgets_state(moto):
    s3 = moto.client("s3")
    s3.create_bucket(Bucket="platformkit-reset-me")
    moto.reset()
    assert s3.list_buckets()["Buckets"] == []


def test_moto_loaded_aws_managed_policies(clean_moto):
    # MOTO_IAM_LOAD_MANAGED_POLICIES=true: AWS managed policies exist, as on a real account.
    iam = clean_moto.client("iam")
    arn = "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Arn"] == arn


def test_mirror_files(mirror):
    pkg = mirror.package_dir
    assert json.loads((pkg / "index.json").read_text()) == {"versions": {PROVIDER_VERSION: {}}}
    doc = json.loads((pkg / f"{PROVIDER_VERSION}.json").read_text())
    assert doc["archives"]["linux_amd64"]["hashes"] == [mirror.h1, mirror.zh]


def _assert_lock_has_our_hashes(tf, mirror):
    recorded = tf.lock_hashes()
    assert recorded, f"no hashes for {PROVIDER_ADDR} in {tf.lock_path}:\n{tf.lock_path.read_text()}"
    # Terraform always records the h1: hash it computed itself, so ours must be exactly that one.
    assert mirror.h1 in recorded, f"lock has {recorded}, mirror published {mirror.hashes}"
    # Anything else it recorded (zh: from the mirror) must be ours too.
    assert set(recorded) <= set(mirror.hashes), f"lock has {recorded}, mirror published {mirror.hashes}"
    assert lock_file_version(tf.lock_path) == PROVIDER_VERSION


def test_init_from_filesystem_mirror(tf_factory, mirror):
    tf = tf_factory("filesystem")
    tf.write(platform_config())
    result = tf.init()
    assert f"Installing {PROVIDER_SOURCE} v{PROVIDER_VERSION}" in result.stdout, result.describe()
    _assert_lock_has_our_hashes(tf, mirror)
    installed = (
        tf.workdir / ".terraform" / "providers" / PROVIDER_ADDR / PROVIDER_VERSION / "linux_amd64"
        / f"terraform-provider-platform_v{PROVIDER_VERSION}"
    )
    assert installed.is_file(), result.describe()
    assert installed.read_bytes() == mirror_binary_bytes(mirror)
    # A second init against the lock file verifies the package again and must agree.
    tf.init()


def test_init_from_https_network_mirror(tf_factory, mirror, https_mirror):
    tf = tf_factory("network")
    tf.write(platform_config())
    before = len(https_mirror.requests)
    result = tf.init()
    assert f"Installing {PROVIDER_SOURCE} v{PROVIDER_VERSION}" in result.stdout, result.describe()
    _assert_lock_has_our_hashes(tf, mirror)
    served = [path for _, path, status in https_mirror.requests[before:] if status == 200]
    base = f"/{PROVIDER_ADDR}/"
    assert f"{base}index.json" in served, https_mirror.requests
    assert f"{base}{PROVIDER_VERSION}.json" in served, https_mirror.requests
    assert f"{base}terraform-provider-platform_{PROVIDER_VERSION}_linux_amd64.zip" in served


def test_network_mirror_rejects_untrusted_certificate(tf_factory, https_mirror):
    # Without the test CA in SSL_CERT_FILE, Terraform must refuse the mirror: proves TLS is really checked.
    tf = tf_factory("network", env={"SSL_CERT_FILE": "/dev/null", "SSL_CERT_DIR": "/nonexistent"})
    tf.write(platform_config())
    result = tf.init(check=False)
    assert result.returncode != 0, result.describe()
    assert "certificate" in result.output.lower(), result.describe()


def test_https_mirror_serves_with_test_ca(https_mirror):
    ctx = https_mirror.ssl_context()
    with urllib.request.urlopen(f"{https_mirror.url}{PROVIDER_ADDR}/index.json", context=ctx) as resp:
        assert json.loads(resp.read()) == {"versions": {PROVIDER_VERSION: {}}}
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{https_mirror.url}{PROVIDER_ADDR}/index.json",
                               context=ssl.create_default_context(cafile=None, capath="/nonexistent"))


def mirror_binary_bytes(mirror) -> bytes:
    with zipfile.ZipFile(mirror.zip_path) as zf:
        return zf.read(f"terraform-provider-platform_v{PROVIDER_VERSION}")


BOGUS_H1 = "h1:" + "A" * 43 + "="
BOGUS_ZH = "zh:" + "0" * 64


@pytest.mark.parametrize("published", ["h1", "zh", "bogus"])
def test_network_mirror_checks_each_published_hash(published, tf_factory, mirror, tmp_path):
    """Terraform accepts a network-mirror package if it matches any hash the mirror lists; publishing
    only one of ours at a time proves that Terraform computes each of them exactly as we do."""
    copy = tmp_path / "mirror-copy"
    shutil.copytree(mirror.path, copy)
    doc_path = copy / PROVIDER_ADDR / f"{PROVIDER_VERSION}.json"
    doc = json.loads(doc_path.read_text())
    doc["archives"]["linux_amd64"]["hashes"] = {
        "h1": [mirror.h1], "zh": [mirror.zh], "bogus": [BOGUS_H1, BOGUS_ZH],
    }[published]
    doc_path.write_text(json.dumps(doc))

    with HttpsMirror(copy, tmp_path / "certs") as server:
        cli = write_cli_config(tmp_path / "net.tfrc", "network", url=server.url)
        tf = tf_factory("custom", cli_config=cli, env={"SSL_CERT_FILE": str(server.ca_file)})
        tf.write(platform_config())
        result = tf.init(check=False)

    if published == "bogus":
        assert result.returncode != 0, result.describe()
        assert "checksum" in result.output.lower(), result.describe()
        assert not tf.lock_path.exists() or mirror.h1 not in tf.lock_hashes()
    else:
        assert result.returncode == 0, result.describe()
        assert tf.lock_hashes() == [mirror.h1]


@pytest.mark.parametrize("locked", ["zh", "h1", "bogus"])
def test_lock_file_hash_is_verified(locked, tf, mirror):
    """A committed lock file pins the package: a lock holding only our zh: (or h1:) hash must accept the
    filesystem-mirror archive, and a lock with someone else's hash must refuse it."""
    hashes = {"zh": [mirror.zh], "h1": [mirror.h1], "bogus": [BOGUS_ZH]}[locked]
    tf.write(platform_config())
    tf.write(
        "# written by the test\n"
        f'provider "{PROVIDER_ADDR}" {{\n'
        f'  version = "{PROVIDER_VERSION}"\n'
        "  hashes = [\n" + "".join(f'    "{h}",\n' for h in hashes) + "  ]\n}\n",
        ".terraform.lock.hcl",
    )
    result = tf.init(check=False)
    if locked == "bogus":
        assert result.returncode != 0, result.describe()
        assert "checksum" in result.output.lower(), result.describe()
    else:
        assert result.returncode == 0, result.describe()
        assert set(tf.lock_hashes()) <= set(mirror.hashes) and tf.lock_hashes(), tf.lock_path.read_text()


def test_plugin_protos_compile(plugin_protos):
    # The repo's proto/ files generate importable Python stubs for a protocol-level client.
    assert hasattr(plugin_protos.tfplugin6_pb2_grpc, "ProviderStub")
    assert hasattr(plugin_protos.grpc_controller_pb2_grpc, "GRPCControllerStub")
    request = plugin_protos.tfplugin6_pb2.GetProviderSchema.Request()
    assert request.SerializeToString() == b""


def test_parse_handshake_line():
    der = b"\x30\x82\x01\x00 not really DER"
    cert = base64.b64encode(der).decode().rstrip("=")  # go-plugin sends it without padding
    hs = parse_handshake(f"1|6|tcp|127.0.0.1:10001|grpc|{cert}\n")
    assert (hs.core_version, hs.protocol_version, hs.network, hs.protocol) == (1, 6, "tcp", "grpc")
    assert hs.grpc_target == "127.0.0.1:10001" and hs.server_cert_der == der
    plain = parse_handshake("1|6|tcp|127.0.0.1:10002|grpc|")
    assert plain.server_cert_der is None
    assert parse_handshake("1|6|unix|/tmp/plugin1|grpc").grpc_target == "unix:/tmp/plugin1"
    with pytest.raises(ValueError):
        parse_handshake("this is not a handshake")
