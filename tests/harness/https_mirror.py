"""Serve a folder over HTTPS on 127.0.0.1 with a throwaway CA, for Terraform's network_mirror.

Terraform only talks to a network mirror over https, so the test makes its own CA and a server certificate
for IP 127.0.0.1 at run time (nothing is stored in the repo) and tells Terraform to trust the CA through
SSL_CERT_FILE, which Go's crypto/x509 reads on Linux.
"""

from __future__ import annotations

import datetime
import functools
import http.server
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple


@dataclass(frozen=True)
class TestCA:
    """PEM files of a test CA and of a server certificate it signed."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_test_ca(directory: Path, *, common_name: str = "platformkit test CA") -> TestCA:
    """Create a CA and a server certificate for 127.0.0.1 / localhost, valid for one day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_before = now - datetime.timedelta(minutes=5)
    not_after = now + datetime.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=True,
                data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    paths = TestCA(
        ca_cert=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
    )
    paths.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    paths.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    paths.server_key.chmod(0o600)
    return paths


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from ``directory`` and records (method, path, status) instead of logging to stderr."""

    def log_request(self, code="-", size="-"):  # noqa: D401 - http.server's signature
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        self.server.requests.append((self.command, self.path, status))  # type: ignore[attr-defined]

    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        self.server.messages.append(format % args)  # type: ignore[attr-defined]


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, context: ssl.SSLContext):
        self.context = context
        self.requests: List[Tuple[str, str, int]] = []
        self.messages: List[str] = []
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the per-connection thread, so a slow or broken client never
        # blocks the accept loop.
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.messages.append(f"TLS handshake with {client_address} failed: {exc}")
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        import traceback

        self.messages.append(f"error serving {client_address}:\n{traceback.format_exc()}")


class HttpsMirror:
    """Serves ``root`` at ``https://127.0.0.1:PORT/`` from a background thread.

    Attributes:
        url: base URL with a trailing slash, for ``network_mirror { url = ... }``.
        ca_file: PEM of the CA that signed the server certificate (give it to Terraform as SSL_CERT_FILE).
        requests: list of (method, path, status) the server has answered, in order.
    """

    def __init__(self, root: Path, cert_dir: Path):
        self.root = Path(root)
        self.ca = make_test_ca(cert_dir)
        self.ca_file = self.ca.ca_cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.ca.server_cert), str(self.ca.server_key))
        handler = functools.partial(_QuietHandler, directory=str(self.root))
        self._server = _TLSServer(("127.0.0.1", 0), handler, context)
        self.port = self._server.server_address[1]
        self.url = f"https://127.0.0.1:{self.port}/"
        self._thread: Optional[threading.Thread] = None

    @property
    def requests(self) -> List[Tuple[str, str, int]]:
        return self._server.requests

    @property
    def messages(self) -> List[str]:
        return self._server.messages

    def start(self) -> "HttpsMirror":
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"https-mirror-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> "HttpsMirror":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only the test CA (for checking the server from Python)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def __repr__(self) -> str:
        return f"HttpsMirror(url={self.url!r}, root={str(self.root)!r})"

