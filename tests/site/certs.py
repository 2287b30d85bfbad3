"""Certificates for the local HTTPS test site, made at test time with ``cryptography``.

A private root CA ("Evidence Test Root CA", self-signed) issues a leaf certificate for
``127.0.0.1`` and ``localhost``. The server presents leaf + root, so a capture can record a
chain of two. No browser or system trusts the root, which is what the TLS-failure tests need.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class TestCertificates:
    """PEM material for the test server (leaf first, then the root)."""

    leaf_pem: bytes
    root_pem: bytes
    key_pem: bytes
    leaf_der: bytes
    root_der: bytes

    @property
    def chain_pem(self) -> bytes:
        return self.leaf_pem + self.root_pem


def make_certificates() -> TestCertificates:
    """Create a fresh root CA and a leaf for 127.0.0.1/localhost (valid for 30 days)."""
    now = dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evidence Test Site"),
            x509.NameAttribute(NameOID.COMMON_NAME, "Evidence Test Root CA"),
        ]
    )
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
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
            x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Evidence Test Site"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1"),
                ]
            )
        )
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
            critical=False,
        )
        .sign(root_key, hashes.SHA256())
    )
    return TestCertificates(
        leaf_pem=leaf.public_bytes(serialization.Encoding.PEM),
        root_pem=root.public_bytes(serialization.Encoding.PEM),
        key_pem=leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        leaf_der=leaf.public_bytes(serialization.Encoding.DER),
        root_der=root.public_bytes(serialization.Encoding.DER),
    )
