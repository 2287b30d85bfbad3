"""RFC 3161 time-stamps from independent authorities over signed checkpoints.

A log's own signed time is only the log operator's word. A time-stamping authority (TSA)
that has no stake in the case signs "these bytes existed at time T". The bytes we have
stamped are the **complete signed checkpoint note** (text and signature lines, exactly as
the log wrote them): the message imprint of every token is ``SHA-256(note)``.

Requesting (:func:`request_timestamp`, :func:`stamp_checkpoint`, :func:`timestamper`):
a ``TimeStampReq`` with a SHA-256 imprint, a random nonce and ``certReq`` is POSTed to
each configured TSA URL. The answer is kept only if it is granted, covers the note and
echoes the nonce (and, when the TSA is pinned in ``config.toml``, fully verifies). A TSA
that is unreachable, slow or answers badly yields a :class:`MissingTimestampWarning`
naming it; the checkpoint is kept and simply has no token from that TSA. The absence of
tokens for a checkpoint is the mark that it lacks an independent time-stamp; ``evidence
timestamp add --missing`` fills such gaps later. Nothing is ever recorded for a token that
was not obtained.

Verifying (:func:`verify_token`) runs numbered, fail-closed steps and raises
:class:`~evidence.errors.TimestampError` naming the first that fails:

1. decode the DER ``TimeStampResp`` (a bare ``TimeStampToken`` is accepted too);
2. the TSA granted the request;
3. the imprint is SHA-256 and equals ``SHA-256(message)``;
4. the nonce matches, when one is expected;
5. the signing certificate is found (in the token, the pins or supplied certificates);
6. that certificate is one the caller pinned (by SHA-256 fingerprint);
7. it carries the critical extended key usage ``timeStamping`` and nothing else
   (RFC 3161 §2.3);
8. genTime lies within the certificate's validity period;
9. genTime lies within the window in which the trust policy accepts this TSA;
10. the pinned root is available;
11. the CMS signature verifies and the chain leads to the pinned root, validated **at
    genTime** (rfc3161-client >= 1.0.9), so a token stays valid after the TSA certificate
    expires.

Revocation (CRL/OCSP) is not checked: verification is offline. A trust policy can end
its trust in a TSA at a date (``not-after``) when a compromise becomes known.

Whole ``TimeStampResp`` DER bytes are stored (``.tsr``), so ``openssl ts -verify -in
X.tsr -data note -CAfile root.pem`` checks them independently (see docs/timestamping.md).
"""

from __future__ import annotations

import hashlib
import hmac
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerifierBuilder,
    decode_timestamp_response,
)
from rfc3161_client import VerificationError as _RFC3161VerificationError

from evidence.config import TSAConfig, normalize_fingerprint
from evidence.errors import FormatError, TimestampError, UsageError

if TYPE_CHECKING:
    # Imported where a token is requested: verifying one needs no HTTP client.
    import requests

SHA256_OID = "2.16.840.1.101.3.4.2.1"
QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"
#: Largest answer accepted from a TSA; real responses are a few kilobytes.
MAX_RESPONSE_BYTES = 1 << 20

__all__ = [
    "CertPin",
    "ImprintMismatchError",
    "MissingTimestampWarning",
    "PinnedTSA",
    "StampOutcome",
    "StampReport",
    "TimestampRequestError",
    "TimestampToken",
    "TimestampedLog",
    "Timestamper",
    "TokenCheck",
    "VerifiedTimestamp",
    "certificate_fingerprint",
    "describe_certificate",
    "load_certificates",
    "request_timestamp",
    "stamp_checkpoint",
    "timestamper",
    "verify_token",
    "verify_tokens",
]


# --------------------------------------------------------------------------- errors


class TimestampRequestError(TimestampError):
    """A TSA could not give a usable token: unreachable, too slow, an HTTP error, or an
    answer that is not a valid time-stamp over what we sent."""


class ImprintMismatchError(TimestampError):
    """A token certifies a different digest than the data it is checked against."""

    def __init__(self, message: str, *, expected: bytes, actual: bytes, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.expected = expected
        self.actual = actual


class MissingTimestampWarning(UserWarning):
    """A checkpoint did not get a token from a TSA it was configured to ask."""


# --------------------------------------------------------------------------- certificates


def certificate_fingerprint(cert: x509.Certificate) -> str:
    """Hex SHA-256 of the certificate's DER encoding (what ``openssl x509 -fingerprint
    -sha256`` prints, without colons, lowercase)."""
    return cert.fingerprint(hashes.SHA256()).hex()


def describe_certificate(cert: x509.Certificate) -> str:
    """One line for a person: subject, issuer, validity and fingerprint. Display only:
    showing a certificate never makes it trusted."""
    return (
        f"{cert.subject.rfc4514_string()} (issued by {cert.issuer.rfc4514_string()}, valid "
        f"{_fmt_time(cert.not_valid_before_utc)} to {_fmt_time(cert.not_valid_after_utc)}, "
        f"sha256:{certificate_fingerprint(cert)})"
    )


def load_certificates(path: Path | str) -> list[x509.Certificate]:
    """All certificates in a PEM file (one or more) or a DER file (one)."""
    from evidence._internal.files import MAX_CONFIG_BYTES, read_file

    p = Path(path)
    try:
        data = read_file(p, limit=MAX_CONFIG_BYTES, what="file", error=FormatError)
    except FormatError as e:
        raise FormatError(f"could not read the certificate file: {e.message}", hint=e.hint) from e
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as e:
        raise FormatError(
            f"{p} is not an X.509 certificate in PEM or DER form ({e})",
            hint="Export the certificate as PEM (-----BEGIN CERTIFICATE-----) and try again.",
        ) from e
    return certs


def _fmt_time(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_self_issued(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


@dataclass(frozen=True)
class CertPin:
    """A certificate pinned by its SHA-256 fingerprint, with the certificate when known.

    A pin made from a file carries the certificate; a pin made from a fingerprint alone is
    resolved at verification time against certificates supplied with the evidence (which
    are trusted only because their fingerprint matches the pin).
    """

    sha256: str
    certificate: x509.Certificate | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", normalize_fingerprint(self.sha256))
        if self.certificate is not None and not self.matches(self.certificate):
            raise FormatError(
                f"the certificate {describe_certificate(self.certificate)} does not have the "
                f"pinned fingerprint sha256:{self.sha256}"
            )

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertPin:
        """Pin exactly this certificate."""
        return cls(certificate_fingerprint(cert), cert)

    @classmethod
    def load(cls, path: Path | str) -> CertPin:
        """Pin the single certificate in a PEM or DER file."""
        certs = load_certificates(path)
        if len(certs) != 1:
            raise FormatError(f"{path} holds {len(certs)} certificates; a pin needs a file with exactly one")
        return cls.of(certs[0])

    @classmethod
    def parse(cls, spec: str, base_dir: Path | None = None) -> CertPin:
        """``sha256:<hex>`` or a certificate file path (relative to ``base_dir``)."""
        if spec.lower().startswith("sha256:"):
            return cls(spec)
        p = Path(spec).expanduser()
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
        return cls.load(p)

    def matches(self, cert: x509.Certificate) -> bool:
        """Whether ``cert`` is the pinned certificate."""
        return hmac.compare_digest(certificate_fingerprint(cert), self.sha256)

    def resolve(self, candidates: Iterable[x509.Certificate]) -> x509.Certificate | None:
        """The pinned certificate: the known one, else the candidate with its fingerprint."""
        if self.certificate is not None:
            return self.certificate
        return next((c for c in candidates if self.matches(c)), None)


@dataclass(frozen=True)
class PinnedTSA:
    """A time-stamping authority the verifier trusts: its certificate, the root it must
    chain to, and optionally the window of genTimes for which its tokens are accepted."""

    name: str
    certificate: CertPin
    root: CertPin
    not_before: datetime | None = None
    not_after: datetime | None = None

    def __post_init__(self) -> None:
        for label, t in (("not-before", self.not_before), ("not-after", self.not_after)):
            if t is not None and t.utcoffset() is None:
                raise FormatError(f"the {label} time of TSA {self.name!r} needs a time zone")
        if self.not_before and self.not_after and self.not_before > self.not_after:
            raise FormatError(f"the trust window of TSA {self.name!r} ends before it begins")

    @classmethod
    def from_config(cls, tsa: TSAConfig) -> PinnedTSA:
        """The pins of a configured TSA (its ``certificate``/``sha256`` and ``root``)."""
        if not tsa.pinned or tsa.root is None:
            raise UsageError(
                f"TSA {tsa.name!r} is not pinned: its configuration needs 'root' and 'certificate' or 'sha256'"
            )
        if tsa.certificate is not None:
            pin = CertPin.load(tsa.certificate)
            if tsa.sha256 is not None and pin.sha256 != tsa.sha256:
                raise FormatError(
                    f"the certificate file {tsa.certificate} of TSA {tsa.name!r} has "
                    f"fingerprint sha256:{pin.sha256}, not the configured sha256:{tsa.sha256}"
                )
        else:
            assert tsa.sha256 is not None
            pin = CertPin(tsa.sha256)
        return cls(name=tsa.name, certificate=pin, root=CertPin.load(tsa.root))

    def window(self) -> str:
        """The trust window in words."""
        start = _fmt_time(self.not_before) if self.not_before else "the beginning"
        end = _fmt_time(self.not_after) if self.not_after else "no end date"
        return f"from {start} to {end}"


# --------------------------------------------------------------------------- tokens


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _wrap_token(token: bytes) -> bytes:
    """TimeStampResp ::= SEQUENCE { status PKIStatusInfo (granted), timeStampToken }."""
    body = b"\x30\x03\x02\x01\x00" + token
    return b"\x30" + _der_len(len(body)) + body


def _not_a_timestamp(why: str) -> TimestampError:
    return TimestampError(
        f"This is not an RFC 3161 time-stamp: {why}.",
        hint="The file is damaged, truncated or of another kind; it proves nothing about "
        "time. Obtain the token again from its source.",
    )


def der_problem(data: bytes) -> str | None:
    """Why ``data`` is not one well-formed DER element, or None if it is.

    Checks the tag-length-value structure throughout: definite, minimal lengths; every
    constructed element exactly filled by its children; one element spanning all bytes.
    Time-stamps are DER (RFC 3161 §2.4.2). The CMS signature covers only the signed
    attributes, so without this check a damaged byte elsewhere (in the signer's identifier,
    say) could go unnoticed by a lenient parser. Primitive contents are not examined.
    """
    if not data:
        return "no bytes"
    stack = [(0, len(data), True)]
    while stack:
        pos, end, top = stack.pop()
        while pos < end:
            start = pos
            tag = data[pos]
            pos += 1
            if tag & 0x1F == 0x1F:  # high tag number: base-128 digits
                while pos < end and data[pos] & 0x80:
                    pos += 1
                pos += 1
            if pos >= end:
                return f"an element at byte {start} is cut off"
            first = data[pos]
            pos += 1
            if first == 0x80:
                return f"the element at byte {start} has an indefinite length (BER, not DER)"
            if first < 0x80:
                length = first
            else:
                n = first & 0x7F
                if n > 4 or pos + n > end:
                    return f"the element at byte {start} has an impossible length"
                length = int.from_bytes(data[pos : pos + n], "big")
                if length < 0x80 or data[pos] == 0:
                    return f"the element at byte {start} does not encode its length in the shortest form"
                pos += n
            if pos + length > end:
                return f"the element at byte {start} claims {length} bytes, more than its container holds"
            if tag & 0x20:
                stack.append((pos, pos + length, False))
            pos += length
            if top and pos != end:
                return f"{end - pos} stray byte(s) after the end of the time-stamp"
    return None


#: What cryptography (and rfc3161-client) raise on a damaged certificate or token field. It
#: parses certificate fields lazily, so these can surface at any use of a certificate.
CERTIFICATE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    KeyError,
    UnsupportedAlgorithm,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def _tlvs(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """The elements between ``start`` and ``end`` of well-formed DER: (tag, content start, content end)."""
    out = []
    pos = start
    while pos < end:
        tag = data[pos]
        pos += 1
        first = data[pos]
        pos += 1
        if first < 0x80:
            length = first
        else:
            n = first & 0x7F
            length = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        out.append((tag, pos, pos + length))
        pos += length
    return out


def _oid(data: bytes) -> str:
    """Dotted form of an OBJECT IDENTIFIER's content octets."""
    arcs: list[int] = []
    value = 0
    for b in data:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        return ""
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))


_DIGESTS = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.3.14.3.2.26": "sha1",
}
#: CMS signature algorithm OIDs by key type, with the digest each implies (None: any).
_SIGNATURES: dict[str, dict[str, str | None]] = {
    "ec": {
        "1.2.840.10045.4.3.2": "sha256",
        "1.2.840.10045.4.3.3": "sha384",
        "1.2.840.10045.4.3.4": "sha512",
        "1.2.840.10045.4.1": "sha1",
    },
    "rsa": {
        "1.2.840.113549.1.1.1": None,  # rsaEncryption, as RFC 3370 allows in CMS
        "1.2.840.113549.1.1.11": "sha256",
        "1.2.840.113549.1.1.12": "sha384",
        "1.2.840.113549.1.1.13": "sha512",
        "1.2.840.113549.1.1.5": "sha1",
        "1.2.840.113549.1.1.10": None,  # RSASSA-PSS: the digest is in its parameters
    },
    "ed25519": {"1.3.101.112": None},
    "ed448": {"1.3.101.113": None},
}


def _check_structure(der: bytes, resp: TimeStampResponse, signer: x509.Certificate) -> None:
    """Step 5b: the parts of a token outside the signature are those of a genuine token.

    The CMS signature covers the signed attributes (and through them the TSTInfo), not the
    versions or the algorithm identifiers around them. A lenient parser would accept those
    altered, so they are checked here: SignedData version 3, SignerInfo version 1 (issuer
    and serial number), a signature algorithm that fits the signer's key and the digest
    algorithm, and that digest algorithm listed in the SignedData.
    """
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

    bad = (
        "The time-stamp's {} was altered: it is not what a time-stamping authority writes, so the token "
        "is not accepted."
    )
    sd = resp.signed_data
    if sd.version != 3:
        raise TimestampError(bad.format(f"SignedData version ({sd.version}, not 3)"))
    if [si.version for si in sd.signer_infos] != [1]:
        raise TimestampError(bad.format("SignerInfo version"))
    try:
        [resp_seq] = _tlvs(der, 0, len(der))
        token = _tlvs(der, resp_seq[1], resp_seq[2])[1]
        explicit = _tlvs(der, token[1], token[2])[1]
        [signed] = _tlvs(der, explicit[1], explicit[2])
        parts = _tlvs(der, signed[1], signed[2])
        listed = {
            _oid(der[o[1] : o[2]]) for a in _tlvs(der, parts[1][1], parts[1][2]) for o in _tlvs(der, a[1], a[2])[:1]
        }
        [info] = _tlvs(der, parts[-1][1], parts[-1][2])
        fields = _tlvs(der, info[1], info[2])
        digest_alg = _tlvs(der, fields[2][1], fields[2][2])
        rest = [f for f in fields[3:] if f[0] != 0xA0]
        sig_alg = _tlvs(der, rest[0][1], rest[0][2])
    except (ValueError, IndexError) as e:
        raise TimestampError(bad.format("CMS structure")) from e
    digest = _oid(der[digest_alg[0][1] : digest_alg[0][2]])
    algorithm = _oid(der[sig_alg[0][1] : sig_alg[0][2]])
    if digest not in listed:
        raise TimestampError(bad.format("list of digest algorithms"))
    key = signer.public_key()
    kind = (
        "ec"
        if isinstance(key, ec.EllipticCurvePublicKey)
        else "rsa"
        if isinstance(key, rsa.RSAPublicKey)
        else "ed25519"
        if isinstance(key, ed25519.Ed25519PublicKey)
        else "ed448"
        if isinstance(key, ed448.Ed448PublicKey)
        else "other"
    )
    allowed = _SIGNATURES.get(kind, {})
    if algorithm not in allowed:
        raise TimestampError(bad.format(f"signature algorithm ({algorithm or 'unreadable'} for a {kind} key)"))
    implied = allowed[algorithm]
    if implied is not None and _DIGESTS.get(digest) != implied:
        raise TimestampError(bad.format(f"signature algorithm ({algorithm}, which does not fit the digest {digest})"))
    if kind == "ec" and len(sig_alg) != 1:
        raise TimestampError(bad.format("signature algorithm parameters (ECDSA has none)"))


def _decode(der: bytes) -> tuple[bytes, TimeStampResponse]:
    """Step 1: decode a TimeStampResp, or a bare TimeStampToken wrapped into one."""
    if not isinstance(der, bytes | bytearray | memoryview):
        raise TypeError("a time-stamp must be given as bytes")
    data = bytes(der)
    if not data:
        raise _not_a_timestamp("there are no bytes at all")
    problem = der_problem(data)
    if problem is not None:
        raise _not_a_timestamp(f"the bytes are not well-formed DER: {problem}. It was damaged or altered")
    try:
        resp = decode_timestamp_response(data)
    except ValueError as first:
        garbage = _not_a_timestamp(f"the bytes are not a DER-encoded TimeStampResp or TimeStampToken ({first})")
        try:
            data = _wrap_token(data)
            resp = decode_timestamp_response(data)
        except ValueError:
            raise garbage from first
    if resp.status == PKIStatus.GRANTED:
        try:
            resp.tst_info  # noqa: B018 - decoding the token is the check
            resp.signed_data  # noqa: B018
        except ValueError as e:
            raise _not_a_timestamp(f"the answer says 'granted' but holds no token ({e})") from e
    return data, resp


@dataclass(frozen=True)
class TimestampToken:
    """One RFC 3161 time-stamp, as stored (the whole ``TimeStampResp`` DER) and as read.

    Everything here is what the token *says*; nothing is trusted until
    :func:`verify_token` has checked it against pinned authorities.
    """

    der: bytes
    gen_time: datetime
    serial: int
    imprint: bytes
    imprint_algorithm: str
    policy_oid: str
    nonce: int | None
    tsa_cert_sha256: str | None
    tsa_subject: str | None
    accuracy: timedelta | None = None
    tsa_name: str | None = field(default=None, compare=False)

    @classmethod
    def parse(cls, der: bytes, *, tsa_name: str | None = None) -> TimestampToken:
        """Read a ``TimeStampResp`` (or bare token); :class:`TimestampError` if unusable."""
        data, resp = _decode(der)
        return cls._from_response(data, resp, tsa_name)

    @classmethod
    def _from_response(cls, data: bytes, resp: TimeStampResponse, tsa_name: str | None) -> TimestampToken:
        _require_granted(resp)
        info = resp.tst_info
        signer = _embedded_signer(resp)
        acc = info.accuracy
        accuracy = None
        if acc is not None:
            accuracy = timedelta(
                seconds=acc.seconds or 0,
                milliseconds=acc.millis or 0,
                microseconds=acc.micros or 0,
            )
        return cls(
            der=data,
            gen_time=info.gen_time,
            serial=info.serial_number,
            imprint=info.message_imprint.message,
            imprint_algorithm=info.message_imprint.hash_algorithm.dotted_string,
            policy_oid=info.policy.dotted_string,
            nonce=info.nonce,
            tsa_cert_sha256=certificate_fingerprint(signer) if signer else None,
            tsa_subject=signer.subject.rfc4514_string() if signer else None,
            accuracy=accuracy,
            tsa_name=tsa_name,
        )

    def embedded_certificates(self) -> list[x509.Certificate]:
        """The certificates the TSA put in the token (untrusted until pinned)."""
        return _embedded(decode_timestamp_response(self.der))

    def describe(self) -> list[str]:
        """Lines for a person: what the token claims (not whether it is trusted)."""
        lines = [
            f"time (genTime):   {_fmt_time(self.gen_time)}"
            + (f" ± {self.accuracy.total_seconds():g} s" if self.accuracy else ""),
            f"serial number:    {self.serial}",
            f"imprint:          {self.imprint.hex()} ({_hash_name(self.imprint_algorithm)})",
            f"TSA policy OID:   {self.policy_oid}",
        ]
        if self.tsa_subject:
            lines.append(f"signed by:        {self.tsa_subject}")
            lines.append(f"TSA certificate:  sha256:{self.tsa_cert_sha256}")
        else:
            lines.append("signed by:        (the token does not include the TSA certificate)")
        if self.tsa_name:
            lines.append(f"requested from:   {self.tsa_name}")
        return lines


def _hash_name(oid: str) -> str:
    return {
        SHA256_OID: "SHA-256",
        "2.16.840.1.101.3.4.2.2": "SHA-384",
        "2.16.840.1.101.3.4.2.3": "SHA-512",
        "1.3.14.3.2.26": "SHA-1",
    }.get(oid, f"algorithm {oid}")


def _require_granted(resp: TimeStampResponse) -> None:
    """Step 2."""
    if resp.status == PKIStatus.GRANTED:
        return
    try:
        status = PKIStatus(resp.status).name.lower().replace("_", " ")
    except ValueError:
        status = f"unknown status {resp.status}"
    said = "; ".join(resp.status_string)
    raise TimestampError(
        f"The time-stamping authority did not grant a time-stamp (status: {status}"
        + (f"; it said: {said!r}" if said else "")
        + "). There is no time-stamp in this answer.",
    )


def _embedded(resp: TimeStampResponse) -> list[x509.Certificate]:
    certs = []
    for der in resp.signed_data.certificates:
        try:
            certs.append(x509.load_der_x509_certificate(der))
        except CERTIFICATE_ERRORS:
            continue  # an unreadable extra certificate cannot help or harm
    return certs


def _signer_id(resp: TimeStampResponse) -> tuple[x509.Name, int]:
    try:
        infos = list(resp.signed_data.signer_infos)
        if len(infos) != 1:
            raise TimestampError(
                f"The time-stamp has {len(infos)} signatures instead of exactly one; it is malformed and is not "
                "accepted."
            )
        return infos[0].issuer, infos[0].serial_number
    except (ValueError, KeyError) as e:  # the parser's errors on a damaged signer identifier
        raise TimestampError(f"The time-stamp's signer identifier is malformed ({e!r}); it is not accepted.") from e


def _find_signer(resp: TimeStampResponse, candidates: Iterable[x509.Certificate]) -> x509.Certificate | None:
    issuer, serial = _signer_id(resp)
    return next((c for c in candidates if c.issuer == issuer and c.serial_number == serial), None)


def _embedded_signer(resp: TimeStampResponse) -> x509.Certificate | None:
    try:
        return _find_signer(resp, _embedded(resp))
    except TimestampError:
        return None


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerifiedTimestamp:
    """A token that passed every check in :func:`verify_token`: the pinned TSA ``tsa``
    certifies that the message existed at ``token.gen_time`` (± ``token.accuracy``)."""

    token: TimestampToken
    tsa: PinnedTSA
    tsa_certificate: x509.Certificate
    root_certificate: x509.Certificate

    @property
    def gen_time(self) -> datetime:
        """The certified time."""
        return self.token.gen_time

    def summary(self) -> str:
        """One sentence for a report."""
        acc = f" (± {self.token.accuracy.total_seconds():g} s)" if self.token.accuracy else ""
        return (
            f"TSA {self.tsa.name} certifies that the data existed at "
            f"{_fmt_time(self.gen_time)}{acc}; signed by "
            f"{self.tsa_certificate.subject.rfc4514_string()}, chained to "
            f"{self.root_certificate.subject.rfc4514_string()}"
        )


def _check_eku(cert: x509.Certificate, who: str) -> None:
    """Step 7: RFC 3161 §2.3 — the one extended key usage is timeStamping, marked critical."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        problem = "it has no extended key usage at all"
    else:
        purposes = list(ext.value)
        if ExtendedKeyUsageOID.TIME_STAMPING not in purposes:
            problem = "its extended key usage does not include time-stamping"
        elif len(purposes) != 1:
            problem = "its extended key usage allows other purposes besides time-stamping"
        elif not ext.critical:
            problem = "its time-stamping extended key usage is not marked critical"
        else:
            return
    raise TimestampError(
        f"The certificate of {who} is not a proper time-stamping certificate: {problem}. "
        "RFC 3161 §2.3 requires a critical extended key usage of time-stamping only, so a "
        "token signed with this certificate is not accepted."
    )


def verify_token(
    token: bytes | TimestampToken,
    message: bytes,
    trusted: PinnedTSA | Sequence[PinnedTSA],
    *,
    nonce: int | None = None,
    certificates: Sequence[x509.Certificate] = (),
) -> VerifiedTimestamp:
    """Verify that ``token`` is a time-stamp over ``message`` by one of the ``trusted`` TSAs.

    ``message`` is the exact data stamped (for checkpoints: the complete signed note).
    ``certificates`` are extra, untrusted certificates (for example those shipped in a
    bundle); they are used only to complete chains and to resolve fingerprint-only pins.
    Raises :class:`TimestampError` (or :class:`ImprintMismatchError`) naming the failed
    step in plain words; returns only when every step passed.
    """
    try:
        return _verify_token(token, message, trusted, nonce=nonce, certificates=certificates)
    except CERTIFICATE_ERRORS as e:
        # cryptography parses certificate fields lazily: a damaged certificate inside a token can
        # surface only now, as its own exception type.
        raise TimestampError(
            f"The time-stamp or a certificate inside it is malformed and cannot be checked ({e})."
        ) from e


def _verify_token(
    token: bytes | TimestampToken,
    message: bytes,
    trusted: PinnedTSA | Sequence[PinnedTSA],
    *,
    nonce: int | None,
    certificates: Sequence[x509.Certificate],
) -> VerifiedTimestamp:
    pins = (trusted,) if isinstance(trusted, PinnedTSA) else tuple(trusted)
    if not pins:
        raise TimestampError(
            "No time-stamping authority is trusted, so no time-stamp can be verified.",
            hint="Add a 'tsa' line to the trust policy (see docs/trust-policy.md).",
        )
    raw = token.der if isinstance(token, TimestampToken) else token
    der, resp = _decode(raw)  # 1
    name = token.tsa_name if isinstance(token, TimestampToken) else None
    parsed = TimestampToken._from_response(der, resp, name)  # 2: granted
    info = resp.tst_info

    # 3. The imprint covers exactly this message.
    if parsed.imprint_algorithm != SHA256_OID:
        raise TimestampError(
            f"The time-stamp uses {_hash_name(parsed.imprint_algorithm)} for its imprint; "
            "this tool accepts only SHA-256 time-stamps."
        )
    expected = hashlib.sha256(message).digest()
    if not hmac.compare_digest(parsed.imprint, expected):
        raise ImprintMismatchError(
            "The time-stamp does not cover this data: it certifies the SHA-256 digest "
            f"{parsed.imprint.hex()}, but the data has digest {expected.hex()}. It was made "
            "for different bytes (or the data was changed after it was stamped).",
            expected=expected,
            actual=parsed.imprint,
        )

    # 4. The nonce, when we know which one we sent.
    if nonce is not None and info.nonce != nonce:
        raise TimestampError(
            f"The answer does not carry the nonce that was sent ({nonce}; it has "
            f"{info.nonce}). It may be a replayed older answer and is not used."
        )

    # 5. Which certificate signed it.
    embedded = _embedded(resp)
    known = [p.certificate for t in pins for p in (t.certificate, t.root)]
    pool = [*embedded, *certificates, *(c for c in known if c is not None)]
    signer = _find_signer(resp, pool)
    if signer is None:
        raise TimestampError(
            "The time-stamp does not include the certificate that signed it, and none of "
            "the pinned or supplied certificates matches its signer.",
            hint="Give the TSA certificate file (for example in the trust policy's 'tsa' line).",
        )

    # 6. That certificate is pinned.
    tsa = next((t for t in pins if t.certificate.matches(signer)), None)
    if tsa is None:
        fp = certificate_fingerprint(signer)
        impostor = next(
            (
                t.name
                for t in pins
                if t.certificate.certificate is not None and t.certificate.certificate.subject == signer.subject
            ),
            None,
        )
        pinned = ", ".join(f"{t.name} (sha256:{t.certificate.sha256})" for t in pins)
        if impostor is not None:
            what = (
                f"a certificate that carries the name of the pinned TSA {impostor} "
                f"({signer.subject.rfc4514_string()}) but is a different certificate "
                f"(sha256:{fp})"
            )
        else:
            what = f"{signer.subject.rfc4514_string()} (certificate sha256:{fp})"
        self_signed = " That certificate is self-signed: nothing vouches for it." if _is_self_issued(signer) else ""
        raise TimestampError(
            f"The time-stamp was signed by {what}, which is not a time-stamping authority "
            f"the trust policy pins (pinned: {pinned}).{self_signed}",
            hint="If you do trust this authority, confirm its certificate fingerprint with "
            "it through a separate channel, then add a 'tsa' line to the trust policy.",
        )
    who = f"TSA {tsa.name} ({signer.subject.rfc4514_string()})"

    # 6b. The fields the signature does not cover are what a genuine token has.
    _check_structure(der, resp, signer)

    # 7. RFC 3161 certificate profile.
    _check_eku(signer, who)

    # 8. The certificate was valid when the token was made.
    gen = info.gen_time
    if not signer.not_valid_before_utc <= gen <= signer.not_valid_after_utc:
        raise TimestampError(
            f"The time-stamp claims the time {_fmt_time(gen)}, but the certificate of {who} "
            f"was valid only from {_fmt_time(signer.not_valid_before_utc)} to "
            f"{_fmt_time(signer.not_valid_after_utc)}. A certificate cannot vouch for a time "
            "outside its validity."
        )

    # 9. The trust policy accepts this TSA at that time.
    if (tsa.not_before and gen < tsa.not_before) or (tsa.not_after and gen > tsa.not_after):
        raise TimestampError(
            f"The time-stamp claims the time {_fmt_time(gen)}, which is outside the period "
            f"in which the trust policy accepts {who}: {tsa.window()}.",
            hint="A trust policy limits a TSA's window when its key may have been "
            "compromised or it was not yet (or no longer) trusted.",
        )

    # 10. The pinned root is at hand.
    root = tsa.root.resolve([*embedded, *certificates])
    if root is None:
        raise TimestampError(
            f"The trust policy pins the root of {who} only by its fingerprint "
            f"sha256:{tsa.root.sha256}, and no certificate with that fingerprint was supplied.",
            hint="Give the root certificate file in the trust policy's 'tsa-root' line.",
        )

    # 11. Signature and chain to the pinned root, as of genTime. rfc3161-client puts the
    # pinned TSA certificate into its trust store, where a self-signed one would be an
    # anchor of its own: so a self-signed TSA certificate passes only if it is the root.
    if _is_self_issued(signer) and not tsa.root.matches(signer):
        raise TimestampError(
            f"The certificate of {who} is self-signed: it was not issued under the pinned "
            f"root {root.subject.rfc4514_string()} (sha256:{tsa.root.sha256}), so nothing "
            "the trust policy relies on vouches for it."
        )
    builder = VerifierBuilder().add_root_certificate(root).tsa_certificate(signer)
    seen = {certificate_fingerprint(root), certificate_fingerprint(signer)}
    for cert in certificates:
        # Only CA certificates that are not self-issued may help build the chain: the
        # library puts them in its trust store, where a self-signed one would be an anchor.
        fp = certificate_fingerprint(cert)
        if fp not in seen and not _is_self_issued(cert):
            seen.add(fp)
            builder = builder.add_intermediate_certificate(cert)
    if nonce is not None:
        builder = builder.nonce(nonce)
    try:
        builder.build().verify(resp, expected)
    except _RFC3161VerificationError as e:
        raise TimestampError(
            f"The time-stamp's signature or certificate chain does not verify against the "
            f"pinned root {root.subject.rfc4514_string()} (sha256:{tsa.root.sha256}) as of "
            f"{_fmt_time(gen)}: {_short(e)}. The token was altered, or it was not issued "
            f"under that root by {who}."
        ) from e
    return VerifiedTimestamp(token=parsed, tsa=tsa, tsa_certificate=signer, root_certificate=root)


def _short(err: Exception) -> str:
    text = str(err)
    marker = 'data: "'
    if marker in text:  # OpenSSL's own reason, e.g. "Verify error: certificate has expired"
        return text.split(marker, 1)[1].split('"', 1)[0]
    return text[:300]


@dataclass(frozen=True)
class TokenCheck:
    """The result for one of several tokens: ``verified`` or the ``error`` that rejected it."""

    index: int
    der: bytes
    verified: VerifiedTimestamp | None
    error: str | None

    @property
    def ok(self) -> bool:
        """Whether this token verified."""
        return self.verified is not None


def verify_tokens(
    tokens: Iterable[bytes],
    message: bytes,
    trusted: Sequence[PinnedTSA],
    *,
    certificates: Sequence[x509.Certificate] = (),
) -> tuple[TokenCheck, ...]:
    """Check every token over ``message``; one :class:`TokenCheck` per token, in order.

    Never raises for a bad token: each result carries its verified time-stamp or the
    plain-language reason it was rejected. A caller wanting "at least one independent
    time-stamp" checks ``any(c.ok for c in result)``.
    """
    out = []
    for i, der in enumerate(tokens):
        try:
            v = verify_token(der, message, trusted, certificates=certificates)
            out.append(TokenCheck(i, der, v, None))
        except TimestampError as e:
            out.append(TokenCheck(i, der, None, e.diagnostics()))
    return tuple(out)


# --------------------------------------------------------------------------- requesting


def _post(tsa: TSAConfig, query: bytes, session: requests.Session | None) -> bytes:
    """POST the query; the whole exchange must end within ``tsa.timeout`` seconds (a
    deadline, not a per-read timeout: see :mod:`evidence._internal.http`)."""
    import requests

    from evidence._internal.http import AnswerTooLarge, fetch

    where = f"The time-stamping authority {tsa.name} ({tsa.url})"
    try:
        r = fetch(
            "POST",
            tsa.url,
            data=query,
            headers={"Content-Type": QUERY_CONTENT_TYPE, "Accept": REPLY_CONTENT_TYPE},
            deadline=tsa.timeout,
            limit=MAX_RESPONSE_BYTES,
            session=session,
        )
    except AnswerTooLarge as e:
        raise TimestampRequestError(
            f"{where} sent more than {MAX_RESPONSE_BYTES} bytes; that is not a time-stamp and was discarded."
        ) from e
    except requests.Timeout as e:
        raise TimestampRequestError(
            f"{where} did not answer within {tsa.timeout:g} seconds (the deadline for its whole answer).",
            hint="It may be overloaded or down; try again later with 'evidence timestamp add'.",
        ) from e
    except requests.ConnectionError as e:
        raise TimestampRequestError(
            f"{where} could not be reached ({_reason(e)}).",
            hint="Check the URL and the network; try again later with 'evidence timestamp add'.",
        ) from e
    except requests.RequestException as e:
        raise TimestampRequestError(f"{where} could not be asked: {_reason(e)}.") from e
    if r.status != 200:
        status = f"{r.status} {r.reason}".strip()
        raise TimestampRequestError(f"{where} answered with HTTP error {status} instead of a time-stamp.")
    return r.body


def _reason(err: Exception) -> str:
    inner: BaseException = err
    while inner.__context__ is not None and inner.__context__ is not inner:
        inner = inner.__context__
    text = str(inner) or type(inner).__name__
    return text if len(text) < 200 else text[:200] + "..."


def request_timestamp(message: bytes, tsa: TSAConfig, *, session: requests.Session | None = None) -> TimestampToken:
    """Ask ``tsa`` for a time-stamp over ``SHA-256(message)`` and return the checked token.

    The answer must be a granted time-stamp whose imprint is ``SHA-256(message)`` and
    whose nonce is the one sent; when ``tsa`` is pinned (``root`` and a certificate or
    fingerprint configured) it must also pass :func:`verify_token`. Raises
    :class:`TimestampRequestError` with a plain reason naming the TSA otherwise (also when
    the configured pins cannot be read: then the TSA is not even asked).
    """
    pins = None
    if tsa.pinned:
        try:
            pins = PinnedTSA.from_config(tsa)
        except (FormatError, UsageError) as e:
            raise TimestampRequestError(
                f"The pins configured for the time-stamping authority {tsa.name} cannot be "
                f"used, so it was not asked: {e.message}",
                hint="Fix its 'certificate', 'sha256' or 'root' entry in config.toml.",
            ) from e
    query = (
        TimestampRequestBuilder()
        .data(message)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    body = _post(tsa, query.as_bytes(), session)
    where = f"The answer of the time-stamping authority {tsa.name} ({tsa.url})"
    try:
        token = TimestampToken.parse(body, tsa_name=tsa.name)
        if pins is not None:
            verify_token(token, message, pins, nonce=query.nonce)
        else:
            if not hmac.compare_digest(token.imprint, hashlib.sha256(message).digest()) or (
                token.imprint_algorithm != SHA256_OID
            ):
                raise TimestampError("it certifies a different digest than the one that was sent")
            if token.nonce != query.nonce:
                raise TimestampError("it does not carry the nonce that was sent")
    except TimestampError as e:
        raise TimestampRequestError(
            f"{where} is not a valid time-stamp over what was sent: {e.message}",
            hint="Nothing was stored from this answer.",
        ) from e
    return token


# --------------------------------------------------------------------------- the log hook


class TimestampedLog(Protocol):
    """What this module needs from a log (``evidence.log.Log`` provides it)."""

    def checkpoint_note(self, size: int | None = None) -> bytes:
        """The exact signed checkpoint note the log signed at ``size`` (None: latest)."""
        ...

    def add_timestamp(self, size: int, token_der: bytes) -> None:
        """Store one TimeStampResp beside the checkpoint of ``size``."""
        ...

    def timestamps(self, size: int) -> list[bytes]:
        """The TimeStampResps stored for the checkpoint of ``size``."""
        ...


@dataclass(frozen=True)
class StampOutcome:
    """What one TSA gave for one checkpoint: a ``token``, or the ``error`` why not."""

    tsa: str
    url: str
    token: TimestampToken | None
    error: str | None
    verified_on_receipt: bool = False

    @property
    def ok(self) -> bool:
        """Whether a token was obtained and stored."""
        return self.token is not None


@dataclass(frozen=True)
class StampReport:
    """The outcome of asking every configured TSA for a token over one checkpoint."""

    size: int
    outcomes: tuple[StampOutcome, ...]

    @property
    def tokens(self) -> tuple[TimestampToken, ...]:
        """The tokens obtained (and stored)."""
        return tuple(o.token for o in self.outcomes if o.token is not None)

    @property
    def failures(self) -> tuple[StampOutcome, ...]:
        """The TSAs that gave no token, with the reason."""
        return tuple(o for o in self.outcomes if o.token is None)


def stamp_checkpoint(
    log: TimestampedLog,
    size: int,
    tsas: Sequence[TSAConfig],
    *,
    session: requests.Session | None = None,
) -> StampReport:
    """Request a token over the checkpoint of ``size`` from each TSA and store each one.

    Never raises because a TSA failed: each failure becomes a
    :class:`MissingTimestampWarning` naming the TSA and an entry in the report's
    ``failures``. Errors of the log itself (reading the note, storing a token) propagate.
    """
    note = log.checkpoint_note(size)
    outcomes = []
    for tsa in tsas:
        try:
            token = request_timestamp(note, tsa, session=session)
        except TimestampRequestError as e:
            reason = e.diagnostics()
            warnings.warn(
                MissingTimestampWarning(
                    f"checkpoint {size} got no time-stamp from TSA {tsa.name}: {reason}\n"
                    "The checkpoint is kept; it lacks this independent time-stamp until "
                    "'evidence timestamp add --missing' obtains one for the log, and 'evidence refresh "
                    "BUNDLE' then brings it into a bundle sealed under this checkpoint."
                ),
                stacklevel=2,
            )
            outcomes.append(StampOutcome(tsa.name, tsa.url, None, reason))
            continue
        log.add_timestamp(size, token.der)
        outcomes.append(StampOutcome(tsa.name, tsa.url, token, None, tsa.pinned))
    return StampReport(size=size, outcomes=tuple(outcomes))


class Timestamper:
    """The log's ``after_checkpoint`` hook: stamps each new checkpoint with every TSA.

    Call it as ``hook(log, size)``. It never raises for a failing TSA (see
    :func:`stamp_checkpoint`); its ``reports`` keep what happened, newest last.
    """

    def __init__(self, tsas: Sequence[TSAConfig], *, session: requests.Session | None = None) -> None:
        self.tsas = tuple(tsas)
        self.session = session
        self.reports: list[StampReport] = []

    def __call__(self, log: TimestampedLog, size: int) -> None:
        if not self.tsas:
            return
        report = stamp_checkpoint(log, size, self.tsas, session=self.session)
        self.reports.append(report)


def timestamper(tsas: Sequence[TSAConfig], *, session: requests.Session | None = None) -> Timestamper:
    """A hook for ``Log(..., after_checkpoint=...)`` that stamps every new checkpoint."""
    return Timestamper(tsas, session=session)
