"""A real, local RFC 3161 time-stamping authority for tests.

- :class:`TestPKI` makes a throw-away root CA and TSA certificates with ``cryptography``
  (EC P-256), with any validity period and extended-key-usage profile a test needs.
- :class:`LocalTSA` answers time-stamp queries with ``openssl ts -reply`` (the recipe in
  ``shared/specs/rfc3161-local-tsa``), signing with one of those certificates.
- :class:`TSAServer` serves a :class:`LocalTSA` over HTTP on 127.0.0.1 (ephemeral port)
  in a background thread, and can misbehave for real on demand: ``mode = "error"``
  (HTTP 500), ``"garbage"`` (200 with junk), ``"hang"`` (accepts, never answers),
  ``"fixed"`` (always the same stored answer, e.g. a replay) or ``"drip"`` (a genuine
  answer, status line and headers included, one byte every ``drip_interval`` seconds).
- :func:`resign_token` re-signs a genuine token's TSTInfo with another certificate via
  ``openssl cms``, for certificates ``openssl ts -reply`` itself refuses to sign with
  (for example one without the critical time-stamping EKU).

Nothing here is kept: every key lives in a temporary directory the caller owns.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TEST_POLICY_OID = "1.3.6.1.4.1.99999.3161.1"
EkuProfile = Literal["critical", "noncritical", "none", "extra"]
Mode = Literal["ok", "error", "garbage", "hang", "fixed", "drip"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key, both also written as PEM files."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    cert_path: Path
    key_path: Path

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _write(
    directory: Path, stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
) -> Issued:
    cert_path = directory / f"{stem}.pem"
    key_path = directory / f"{stem}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return Issued(cert, key, cert_path, key_path)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _tsa_extensions(builder: x509.CertificateBuilder, eku: EkuProfile) -> x509.CertificateBuilder:
    builder = builder.add_extension(
        x509.BasicConstraints(ca=False, path_length=None), critical=True
    ).add_extension(
        x509.KeyUsage(
            digital_signature=True,
            content_commitment=True,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=False,
            crl_sign=False,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if eku == "critical":
        return builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    if eku == "noncritical":
        return builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=False
        )
    if eku == "extra":
        return builder.add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING]
            ),
            critical=True,
        )
    return builder


class TestPKI:
    """A throw-away root CA in ``directory`` that issues TSA certificates."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, *, cn: str = "Evidence Test Root CA") -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=2))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        self.root = _write(self.directory, _stem(cn), cert, key)

    def issue_tsa(
        self,
        cn: str = "Evidence Test TSA",
        *,
        eku: EkuProfile = "critical",
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> Issued:
        """A TSA certificate issued by this root (default: valid from yesterday for a year)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(self.root.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or now - dt.timedelta(days=1))
            .not_valid_after(not_after or now + dt.timedelta(days=365))
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.root.key.public_key()),
                critical=False,
            )
        )
        cert = _tsa_extensions(builder, eku).sign(self.root.key, hashes.SHA256())
        return _write(self.directory, _stem(cn), cert, key)

    def self_signed_tsa(self, cn: str = "Evidence Test TSA") -> Issued:
        """An impostor: a self-signed certificate with a perfect TSA profile (by default
        even the same name as the real test TSA), vouched for by nobody."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(_name(cn))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
        )
        cert = _tsa_extensions(builder, "critical").sign(key, hashes.SHA256())
        return _write(self.directory, _stem("impostor " + cn), cert, key)


def _stem(cn: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in cn.lower()).strip("-")


_CNF = """\
[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir                    = {dir}
serial                 = $dir/tsaserial
crypto_device          = builtin
signer_cert            = {cert}
signer_key             = {key}
signer_digest          = sha256
default_policy         = {policy}
other_policies         = 1.3.6.1.4.1.99999.3161.2
digests                = sha256, sha384, sha512
accuracy               = secs:1, millisecs:500
clock_precision_digits = 0
ordering               = yes
tsa_name               = yes
ess_cert_id_chain      = no
ess_cert_id_alg        = sha256
"""
# No `certs` line: OpenSSL would append the CA certificate to SignedData.certificates in
# insertion order, not DER SET OF order, which strict DER parsers reject (see the recipe).


class LocalTSA:
    """``openssl ts -reply`` signing with ``signer``; one serial counter per instance."""

    def __init__(self, directory: Path, signer: Issued, *, policy: str = TEST_POLICY_OID) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.signer = signer
        self.config = self.directory / "tsa.cnf"
        self.config.write_text(
            _CNF.format(
                dir=self.directory, cert=signer.cert_path, key=signer.key_path, policy=policy
            )
        )
        (self.directory / "tsaserial").write_text("01\n")
        self._lock = threading.Lock()

    def reply(self, query: bytes) -> bytes:
        """The DER TimeStampResp ``openssl ts -reply`` gives for a DER TimeStampReq."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            q.write_bytes(query)
            proc = subprocess.run(
                [
                    "openssl",
                    "ts",
                    "-reply",
                    "-config",
                    str(self.config),
                    "-queryfile",
                    str(q),
                    "-out",
                    str(r),
                ],
                capture_output=True,
                check=False,
            )
            if proc.returncode != 0 or not r.exists():
                raise RuntimeError(
                    f"openssl ts -reply failed: {proc.stderr.decode(errors='replace')}"
                )
            return r.read_bytes()


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def resign_token(
    response: bytes, signer: Issued, workdir: Path, edit: Callable[[bytes], bytes] | None = None
) -> bytes:
    """The same TSTInfo (time, imprint, nonce...) as ``response``, signed by ``signer``
    with ``openssl cms -sign``, wrapped as a granted TimeStampResp. ``edit`` changes the
    DER TSTInfo before it is signed (a TSA whose clock is wrong, for example)."""
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        d = Path(tmp)
        (d / "in.tsr").write_bytes(response)

        def run(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, capture_output=True, check=True)

        run("ts", "-reply", "-in", "in.tsr", "-token_out", "-out", "token.der")
        run(
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            "token.der",
            "-noverify",
            "-binary",
            "-out",
            "tstinfo.der",
        )
        if edit is not None:
            (d / "tstinfo.der").write_bytes(edit((d / "tstinfo.der").read_bytes()))
        run(
            "cms", "-sign", "-binary", "-nodetach", "-in", "tstinfo.der",
            "-econtent_type", "1.2.840.113549.1.9.16.1.4",  # id-smime-ct-TSTInfo
            "-signer", str(signer.cert_path), "-inkey", str(signer.key_path),
            "-md", "sha256", "-nosmimecap", "-outform", "DER", "-out", "new.der",
        )  # fmt: skip
        token = (d / "new.der").read_bytes()
    body = b"\x30\x03\x02\x01\x00" + token  # PKIStatusInfo { granted }
    return b"\x30" + _der_len(len(body)) + body


class TSAServer:
    """HTTP front for a :class:`LocalTSA` on 127.0.0.1 with an ephemeral port."""

    def __init__(
        self, tsa: LocalTSA | None = None, *, mode: Mode = "ok", fixed: bytes = b""
    ) -> None:
        self.tsa = tsa
        self.mode: Mode = mode
        self.fixed = fixed
        self.requests = 0
        self.drip_interval = 1.0
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                outer.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                mode = outer.mode
                if mode == "hang":
                    outer._release.wait(60)
                    return
                if mode == "drip":
                    payload = outer.tsa.reply(body) if outer.tsa is not None else b"x" * 4096
                    raw = (
                        b"HTTP/1.0 200 OK\r\nContent-Type: application/timestamp-reply\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(payload)
                    ) + payload
                    try:
                        for i in range(len(raw)):
                            if outer._release.wait(outer.drip_interval):
                                return
                            self.wfile.write(raw[i : i + 1])
                            self.wfile.flush()
                    except OSError:
                        pass
                    self.close_connection = True
                    return
                if mode == "error":
                    self._send(500, b"internal error", "text/plain")
                elif mode == "garbage":
                    self._send(
                        200, b"this is not a time-stamp \x00\xff", "application/timestamp-reply"
                    )
                elif mode == "fixed":
                    self._send(200, outer.fixed, "application/timestamp-reply")
                else:
                    assert outer.tsa is not None, "mode 'ok' needs a LocalTSA"
                    self._send(200, outer.tsa.reply(body), "application/timestamp-reply")

            def _send(self, code: int, payload: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            args=(0.05,),  # poll interval, so that close() returns quickly
            name="local-tsa",
            daemon=True,
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/tsr"

    def close(self) -> None:
        self._release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def __enter__(self) -> TSAServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def unused_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsr"
