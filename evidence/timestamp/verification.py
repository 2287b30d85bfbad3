"""Checking a time-stamp token (:func:`verify_token`): imprint, nonce, signer, pins, EKU,
validity windows, CMS signature and chain. On the verify path: imports no HTTP client.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import VerificationError as _RFC3161VerificationError
from rfc3161_client import (
    VerifierBuilder,
)

from evidence._internal.timefmt import utc_text
from evidence.errors import TimestampError

if TYPE_CHECKING:
    # Imported where a token is requested: verifying one needs no HTTP client.
    pass
from evidence.timestamp.token import (
    CERTIFICATE_ERRORS,
    SHA256_OID,
    ImprintMismatchError,
    PinnedTSA,
    TimestampToken,
    certificate_fingerprint,
    check_structure,
    decode_response,
    embedded_certificates,
    find_signer,
    hash_name,
    is_self_issued,
)


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
            f"{utc_text(self.gen_time)}{acc}; signed by "
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
    der, resp = decode_response(raw)  # 1
    name = token.tsa_name if isinstance(token, TimestampToken) else None
    parsed = TimestampToken._from_response(der, resp, name)  # 2: granted
    info = resp.tst_info

    # 3. The imprint covers exactly this message.
    if parsed.imprint_algorithm != SHA256_OID:
        raise TimestampError(
            f"The time-stamp uses {hash_name(parsed.imprint_algorithm)} for its imprint; "
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
    embedded = embedded_certificates(resp)
    known = [p.certificate for t in pins for p in (t.certificate, t.root)]
    pool = [*embedded, *certificates, *(c for c in known if c is not None)]
    signer = find_signer(resp, pool)
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
        self_signed = " That certificate is self-signed: nothing vouches for it." if is_self_issued(signer) else ""
        raise TimestampError(
            f"The time-stamp was signed by {what}, which is not a time-stamping authority "
            f"the trust policy pins (pinned: {pinned}).{self_signed}",
            hint="If you do trust this authority, confirm its certificate fingerprint with "
            "it through a separate channel, then add a 'tsa' line to the trust policy.",
        )
    who = f"TSA {tsa.name} ({signer.subject.rfc4514_string()})"

    # 6b. The fields the signature does not cover are what a genuine token has.
    check_structure(der, resp, signer)

    # 7. RFC 3161 certificate profile.
    _check_eku(signer, who)

    # 8. The certificate was valid when the token was made.
    gen = info.gen_time
    if not signer.not_valid_before_utc <= gen <= signer.not_valid_after_utc:
        raise TimestampError(
            f"The time-stamp claims the time {utc_text(gen)}, but the certificate of {who} "
            f"was valid only from {utc_text(signer.not_valid_before_utc)} to "
            f"{utc_text(signer.not_valid_after_utc)}. A certificate cannot vouch for a time "
            "outside its validity."
        )

    # 9. The trust policy accepts this TSA at that time.
    if (tsa.not_before and gen < tsa.not_before) or (tsa.not_after and gen > tsa.not_after):
        raise TimestampError(
            f"The time-stamp claims the time {utc_text(gen)}, which is outside the period "
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
    if is_self_issued(signer) and not tsa.root.matches(signer):
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
        if fp not in seen and not is_self_issued(cert):
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
            f"{utc_text(gen)}: {_short(e)}. The token was altered, or it was not issued "
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
