"""Asking a TSA for a time-stamp over HTTP, through the one client
:func:`evidence._internal.http.fetch` (size cap, total deadline); requests only lazily.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

from rfc3161_client import (
    HashAlgorithm,
    TimestampRequestBuilder,
)

from evidence.config import TSAConfig
from evidence.errors import FormatError, TimestampError, UsageError

if TYPE_CHECKING:
    # Imported where a token is requested: verifying one needs no HTTP client.
    import requests
from evidence.timestamp.token import (
    MAX_RESPONSE_BYTES,
    QUERY_CONTENT_TYPE,
    REPLY_CONTENT_TYPE,
    SHA256_OID,
    PinnedTSA,
    TimestampRequestError,
    TimestampToken,
)
from evidence.timestamp.verification import verify_token


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
