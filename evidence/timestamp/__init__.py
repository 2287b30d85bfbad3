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

Package layout (owns / may import): :mod:`.token` parses tokens (pure; cryptography,
rfc3161_client), :mod:`.verification` checks them, :mod:`.client` asks a TSA over HTTP
(only through :mod:`evidence._internal.http`, requests lazily), :mod:`.hook` is the log's
hook. The verify path uses token and verification only and never imports client or
requests. Names are re-exported here lazily, so importing the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence._internal.lazy import lazy_getattr

if TYPE_CHECKING:
    from evidence.timestamp.client import (
        request_timestamp,
    )
    from evidence.timestamp.hook import (
        StampOutcome,
        StampReport,
        TimestampedLog,
        Timestamper,
        stamp_checkpoint,
        timestamper,
    )
    from evidence.timestamp.token import (
        CERTIFICATE_ERRORS,
        MAX_RESPONSE_BYTES,
        QUERY_CONTENT_TYPE,
        REPLY_CONTENT_TYPE,
        SHA256_OID,
        CertPin,
        ImprintMismatchError,
        MissingTimestampWarning,
        PinnedTSA,
        TimestampRequestError,
        TimestampToken,
        certificate_fingerprint,
        der_problem,
        describe_certificate,
        load_certificates,
    )
    from evidence.timestamp.verification import (
        TokenCheck,
        VerifiedTimestamp,
        verify_token,
        verify_tokens,
    )

#: Public name -> the submodule that defines it.
_HOMES: dict[str, str] = {
    "SHA256_OID": "token",
    "QUERY_CONTENT_TYPE": "token",
    "REPLY_CONTENT_TYPE": "token",
    "MAX_RESPONSE_BYTES": "token",
    "CERTIFICATE_ERRORS": "token",
    "TimestampRequestError": "token",
    "ImprintMismatchError": "token",
    "MissingTimestampWarning": "token",
    "certificate_fingerprint": "token",
    "describe_certificate": "token",
    "load_certificates": "token",
    "CertPin": "token",
    "PinnedTSA": "token",
    "der_problem": "token",
    "TimestampToken": "token",
    "VerifiedTimestamp": "verification",
    "verify_token": "verification",
    "TokenCheck": "verification",
    "verify_tokens": "verification",
    "request_timestamp": "client",
    "TimestampedLog": "hook",
    "StampOutcome": "hook",
    "StampReport": "hook",
    "stamp_checkpoint": "hook",
    "Timestamper": "hook",
    "timestamper": "hook",
}

__all__ = [
    "CERTIFICATE_ERRORS",
    "MAX_RESPONSE_BYTES",
    "QUERY_CONTENT_TYPE",
    "REPLY_CONTENT_TYPE",
    "SHA256_OID",
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
    "der_problem",
    "describe_certificate",
    "load_certificates",
    "request_timestamp",
    "stamp_checkpoint",
    "timestamper",
    "verify_token",
    "verify_tokens",
]


__getattr__ = lazy_getattr(__name__, _HOMES)
