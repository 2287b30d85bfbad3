"""Parsing an RFC 3161 time-stamp token (DER): errors, certificate pins, the token value.

Pure: no HTTP; reads pin files only when asked. Imports cryptography, rfc3161_client, evidence.config, evidence.errors.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from rfc3161_client import (
    PKIStatus,
    TimeStampResponse,
    decode_timestamp_response,
)

from evidence._internal.timefmt import utc_text
from evidence.config import TSAConfig, normalize_fingerprint
from evidence.errors import FormatError, TimestampError, UsageError

if TYPE_CHECKING:
    # Imported where a token is requested: verifying one needs no HTTP client.
    pass

SHA256_OID = "2.16.840.1.101.3.4.2.1"
QUERY_CONTENT_TYPE = "application/timestamp-query"
REPLY_CONTENT_TYPE = "application/timestamp-reply"
#: Largest answer accepted from a TSA (and largest token file read); real responses are a few kilobytes.
MAX_RESPONSE_BYTES = 1 << 20

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
        f"{utc_text(cert.not_valid_before_utc)} to {utc_text(cert.not_valid_after_utc)}, "
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


def is_self_issued(cert: x509.Certificate) -> bool:
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
        start = utc_text(self.not_before) if self.not_before else "the beginning"
        end = utc_text(self.not_after) if self.not_after else "no end date"
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


def check_structure(der: bytes, resp: TimeStampResponse, signer: x509.Certificate) -> None:
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


def decode_response(der: bytes) -> tuple[bytes, TimeStampResponse]:
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
        data, resp = decode_response(der)
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
        return embedded_certificates(decode_timestamp_response(self.der))

    def describe(self) -> list[str]:
        """Lines for a person: what the token claims (not whether it is trusted)."""
        lines = [
            f"time (genTime):   {utc_text(self.gen_time)}"
            + (f" ± {self.accuracy.total_seconds():g} s" if self.accuracy else ""),
            f"serial number:    {self.serial}",
            f"imprint:          {self.imprint.hex()} ({hash_name(self.imprint_algorithm)})",
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


def hash_name(oid: str) -> str:
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


def embedded_certificates(resp: TimeStampResponse) -> list[x509.Certificate]:
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


def find_signer(resp: TimeStampResponse, candidates: Iterable[x509.Certificate]) -> x509.Certificate | None:
    issuer, serial = _signer_id(resp)
    return next((c for c in candidates if c.issuer == issuer and c.serial_number == serial), None)


def _embedded_signer(resp: TimeStampResponse) -> x509.Certificate | None:
    try:
        return find_signer(resp, embedded_certificates(resp))
    except TimestampError:
        return None


# --------------------------------------------------------------------------- verification
