"""The go-plugin host contract, checked on the real provider binary: magic cookie, protocol negotiation,
AutoMTLS (a client without Terraform's certificate is refused), port range, controller Shutdown,
StopProvider, health, `--debug` reattach with a real Terraform, and hclog logs visible through Terraform."""

from __future__ import annotations

import datetime
import json
import os
import re
import socket
import ssl
import subprocess

import pytest

from harness.plugin_client import MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, ProviderProcess, parse_handshake
from harness.terraform import platform_config

pytestmark = pytest.mark.e2e


def flat(text: str) -> str:
    return " ".join(text.split())


def run_binary(binary, env, args=(), timeout=10):
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    base.update(env)
    return subprocess.run([str(binary), *args], env=base, capture_output=True, text=True, timeout=timeout)


def test_started_by_hand_explains_itself(provider_binary):
    r = run_binary(provider_binary, {})
    assert r.returncode != 0
    assert "terraform init" in flat(r.stderr).lower() or "terraform" in r.stderr.lower()
    assert r.stdout.strip() == "" or "|" not in r.stdout  # no handshake line


def test_protocol_5_only_is_refused(provider_binary):
    r = run_binary(provider_binary, {MAGIC_COOKIE_KEY: MAGIC_COOKIE_VALUE, "PLUGIN_PROTOCOL_VERSIONS": "5"})
    assert r.returncode != 0
    assert "Terraform >= 1.0" in r.stdout + r.stderr


def test_version_flag(provider_binary):
    r = run_binary(provider_binary, {}, ["--version"])
    assert r.returncode == 0 and "0.1.0" in r.stdout


def test_port_range_is_honoured(provider_binary, tmp_path):
    port = None
    for candidate in range(41000, 41100):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
                port = candidate
                break
            except OSError:
                continue
    assert port is not None
    with ProviderProcess(
        provider_binary, env={"PLUGIN_MIN_PORT": str(port), "PLUGIN_MAX_PORT": str(port)}
    ) as proc:
        assert proc.handshake.address == f"127.0.0.1:{port}"
        assert proc.handshake.core_version == 1 and proc.handshake.protocol_version == 6
        assert proc.handshake.protocol == "grpc"


def make_client_cert(tmp_path):
    """A Terraform-like client certificate: self-signed ECDSA P-521 CA, SAN localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP521R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA512())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "client.pem").write_bytes(cert_pem)
    (tmp_path / "client.key").write_bytes(key_pem)
    return tmp_path / "client.pem", tmp_path / "client.key", cert_pem.decode()


def tls_client(server_der: bytes, cert=None, key=None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=server_der)
    ctx.check_hostname = True
    ctx.set_alpn_protocols(["h2"])
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")


def talk(address: str, ctx: ssl.SSLContext) -> bytes:
    """Handshake, send the HTTP/2 preface and an empty SETTINGS frame, return the first bytes back."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "h2"
            tls.sendall(H2_PREFACE)
            return tls.recv(64)


def test_auto_mtls_requires_terraforms_client_certificate(provider_binary, tmp_path):
    cert, key, cert_pem = make_client_cert(tmp_path)
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other_cert, other_key, _ = make_client_cert(other_dir)
    with ProviderProcess(provider_binary, env={"PLUGIN_CLIENT_CERT": cert_pem}) as proc:
        hs = proc.handshake
        assert hs.server_cert_der, "AutoMTLS handshake line must carry the server certificate"
        # The client holding the certificate Terraform passed in gets an HTTP/2 SETTINGS frame back.
        reply = talk(hs.address, tls_client(hs.server_cert_der, cert, key))
        assert len(reply) >= 9 and reply[3] == 0x04  # frame type SETTINGS
        assert not refused(hs.address, tls_client(hs.server_cert_der, cert, key))
        # A client with no certificate, or with another valid one, is refused.
        assert refused(hs.address, tls_client(hs.server_cert_der))
        assert refused(hs.address, tls_client(hs.server_cert_der, other_cert, other_key))


def refused(address: str, ctx: ssl.SSLContext) -> bool:
    """True when the server rejects the client: an alert or a closed connection (with TLS 1.3 the
    rejection of a client certificate arrives on the first read, after the client's handshake)."""
    try:
        data = talk(address, ctx)
    except (ssl.SSLError, ConnectionError, OSError):
        return True
    return data == b""


def test_shutdown_health_and_stop_provider(provider_binary, plugin_protos, tmp_path):
    import grpc

    with ProviderProcess(provider_binary, log_path=tmp_path / "p.log") as proc:
        # grpc.health.v1 reports the "plugin" service SERVING (go-plugin's client checks it).
        health = proc.channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        reply = health(b"\x0a\x06plugin")  # HealthCheckRequest{service:"plugin"}
        assert reply == b"\x08\x01"  # status: SERVING
        stub = proc.provider_stub(plugin_protos)
        pb = plugin_protos.tfplugin6_pb2
        stub.StopProvider(pb.StopProvider.Request())
        # StopProvider cancels in-flight work but leaves the server up.
        schema = stub.GetProviderSchema(pb.GetProviderSchema.Request())
        assert "platform_state_backend" in schema.resource_schemas
        proc.controller_stub(plugin_protos).Shutdown(plugin_protos.grpc_controller_pb2.Empty())
        assert proc.wait(timeout=10) == 0


def test_schema_is_well_formed(start_provider, plugin_protos):
    proc = start_provider()
    pb = plugin_protos.tfplugin6_pb2
    resp = proc.provider_stub(plugin_protos).GetProviderSchema(pb.GetProviderSchema.Request())
    assert not resp.diagnostics
    for name, schema in resp.resource_schemas.items():
        for attr in schema.block.attributes:
            # Exactly one of type / nested_type per attribute.
            assert bool(attr.type) != attr.HasField("nested_type"), f"{name}.{attr.name}"
            assert attr.description, f"{name}.{attr.name} has no description"


def test_debug_mode_reattach_with_real_terraform(provider_binary, tf, clean_moto):
    proc = subprocess.Popen(
        [str(provider_binary), "--debug"],
        env={"PATH": os.environ.get("PATH", ""), "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
             "AWS_EC2_METADATA_DISABLED": "true"},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        reattach = None
        for _ in range(50):
            line = proc.stdout.readline()
            m = re.search(r"TF_REATTACH_PROVIDERS='(\{.*\})'", line)
            if m:
                reattach = m.group(1)
                break
        assert reattach, "no TF_REATTACH_PROVIDERS line"
        info = json.loads(reattach)["registry.terraform.io/platformkit/platform"]
        assert info["ProtocolVersion"] == 6 and info["Pid"] == proc.pid
        tf.extra_env["TF_REATTACH_PROVIDERS"] = reattach
        tf.write_config('resource "platform_state_backend" "b" {\n  bucket = "pk-reattach"\n}\n',
                        endpoint=clean_moto.endpoint)
        tf.init()
        assert tf.plan() == 2
        assert proc.poll() is None, "the debug provider must keep running after Terraform is done"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_provider_logs_reach_terraform(tf, clean_moto):
    tf.extra_env["TF_LOG_PROVIDER"] = "debug"
    tf.write_config('resource "platform_state_backend" "b" {\n  bucket = "pk-logs"\n}\n',
                    endpoint=clean_moto.endpoint)
    tf.init()
    result = tf.run("apply", "-auto-approve", "-no-color")
    logs = result.stderr
    # Terraform parsed our hclog JSON lines: level and module prefix, message, fields.
    assert re.search(r"\[DEBUG\] provider\.terraform-provider-platform[^:]*: AWS call", logs), logs[-3000:]
    assert re.search(r"operation=CreateBucket", logs)
    assert re.search(r"service=S3", logs, re.IGNORECASE)
    assert "duration_ms=" in logs
    tf.destroy()
