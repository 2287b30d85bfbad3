"""The client side of tlog-witness: a log asks a witness to cosign its checkpoint over HTTP.

Requests go through the one HTTP client, :func:`evidence._internal.http.fetch` (size cap and a
total deadline on the whole answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from evidence.checkpoint import Checkpoint
from evidence.errors import (
    FormatError,
    UsageError,
)
from evidence.note import (
    ALG_COSIGNATURE_V1,
    Note,
    NoteSignature,
    Verifier,
)
from evidence.witness.protocol import (
    DECIMAL_RE,
    MAX_REPLY_BYTES,
    SIZE_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    AddCheckpointRequest,
    WitnessBadRequest,
    WitnessBadResponse,
    WitnessConflict,
    WitnessForbidden,
    WitnessInconsistent,
    WitnessRefused,
    WitnessTooLarge,
    WitnessUnavailable,
    WitnessUnknownLog,
)

if TYPE_CHECKING:
    import requests

    from evidence.log import Log

__all__ = [
    "submit_checkpoint",
    "witness_checkpoint",
]


def _add_checkpoint_url(url: str) -> str:
    u = url.rstrip("/")
    return u if u.endswith("/add-checkpoint") else u + "/add-checkpoint"


_REFUSALS: dict[int, type[WitnessRefused]] = {
    400: WitnessBadRequest,
    403: WitnessForbidden,
    404: WitnessUnknownLog,
    413: WitnessTooLarge,
    422: WitnessInconsistent,
}


def submit_checkpoint(
    url: str,
    note_bytes: bytes,
    old_size: int,
    proof_hashes: Sequence[bytes],
    *,
    timeout: float = 10.0,
    session: requests.Session | None = None,
) -> list[NoteSignature]:
    """POST one add-checkpoint request to the witness at ``url``; return the signature lines it sent.

    ``url`` is the witness's submission prefix (``/add-checkpoint`` is appended unless it is
    already there). The lines are parsed but NOT verified: use :func:`witness_checkpoint`, or
    check them against the witness's key yourself. Raises :class:`WitnessConflict` (409, with
    the witness's size), a :class:`WitnessRefused` subclass (400, 403, 404, 413, 422),
    :class:`WitnessUnavailable` (network, timeout, other statuses) or
    :class:`WitnessBadResponse` (a malformed 200 or 409 reply). Blocking; thread-safe when
    each thread passes its own ``session`` (or none).
    """
    import requests

    note = Note.parse(note_bytes)
    cp = Checkpoint.from_text(note.text)
    body = AddCheckpointRequest(old_size, tuple(proof_hashes), note_bytes).to_bytes()
    target = _add_checkpoint_url(url)
    what = f"the checkpoint of {cp.origin!r} at size {cp.size}"
    from evidence._internal.http import AnswerTooLarge, fetch

    try:
        answer = fetch(
            "POST",
            target,
            data=body,
            headers={"Content-Type": TEXT_CONTENT_TYPE, "User-Agent": "evidence-witness-client/1"},
            deadline=timeout,
            limit=MAX_REPLY_BYTES,
            session=session,
        )
    except AnswerTooLarge as e:
        raise WitnessBadResponse(f"the witness's reply is larger than {MAX_REPLY_BYTES} bytes") from e
    except requests.Timeout as e:
        raise WitnessUnavailable(
            f"the witness at {target} did not answer within {timeout:g} seconds (the deadline for its whole answer)",
            hint="It may be overloaded or down; the checkpoint goes on without its cosignature.",
        ) from e
    except requests.RequestException as e:
        raise WitnessUnavailable(
            f"could not reach the witness at {target}: {e}", hint="Check the URL and that the witness is running."
        ) from e
    reply, status, ctype = answer.body, answer.status, answer.header("content-type")
    text = reply.decode("utf-8", "replace").strip()[:300]
    if status == 200:
        try:
            parsed = Note.parse(note.text_bytes + b"\n" + reply)
            if parsed.text != note.text:
                raise FormatError("the reply holds more than signature lines")
        except FormatError as e:
            raise WitnessBadResponse(
                f"the witness at {target} answered 200 with malformed signature lines: {e.message}"
            ) from e
        return list(parsed.signatures)
    if status == 409:
        if ctype.split(";")[0].strip().lower() == SIZE_CONTENT_TYPE:
            if not reply.endswith(b"\n") or not DECIMAL_RE.fullmatch(reply[:-1].decode("ascii", "replace")):
                raise WitnessBadResponse(f"the witness at {target} answered 409 with a malformed size {text!r}")
            size = int(reply[:-1])
            raise WitnessConflict(
                f"the witness at {target} has cosigned {cp.origin!r} up to size {size}, not {old_size}", size
            )
        # Drafts of tlog-witness before v1.0.0 answered 409 (without a size) to the same size with another root.
        raise WitnessInconsistent(
            f"the witness at {target} refused {what} with 409 and no size ({WitnessInconsistent.meaning}). "
            f"It said: {text!r}",
            status=409,
        )
    refusal = _REFUSALS.get(status)
    if refusal is not None:
        raise refusal(f"the witness at {target} refused {what}: {refusal.meaning} ({status}). It said: {text!r}")
    raise WitnessUnavailable(f"the witness at {target} answered {status} to {what}. It said: {text!r}", status=status)


def witness_checkpoint(
    log: Log,
    size: int,
    witness_url: str,
    witness_vkey_verifier: Verifier,
    known_size: int | None,
    *,
    timeout: float = 10.0,
    session: requests.Session | None = None,
    max_attempts: int = 4,
) -> tuple[list[NoteSignature], int]:
    """Get the witness's cosignature on ``log``'s checkpoint of ``size``; return it and the witness's new size.

    ``known_size`` is the size this witness last cosigned for the log, as the caller
    remembers it (None: unknown; the function starts from 0 and learns the real size from
    the witness's 409 reply, then resends with ``log.consistency(old, size)``). Pass the
    returned size next time to skip that round trip.

    Every returned cosignature verified against ``witness_vkey_verifier`` (type 0x04) over
    the checkpoint's text; lines by other keys are ignored. The caller adds them with
    ``log.add_cosignatures(size, sigs)`` (before any RFC 3161 time-stamping of that size).

    Raises :class:`WitnessConflict` when the witness already cosigned a larger size (it can
    no longer cosign this one: cosign the latest checkpoint instead), a
    :class:`WitnessRefused` subclass, :class:`WitnessUnavailable` or
    :class:`WitnessBadResponse`. Does blocking I/O only (HTTP with ``timeout``, reads of the
    log's tiles) and holds no lock, so it suits a background thread.
    """
    if witness_vkey_verifier.key_type != ALG_COSIGNATURE_V1:
        raise UsageError(
            f"the witness key {witness_vkey_verifier.name!r} has type 0x{witness_vkey_verifier.key_type:02x}; "
            "witness keys are cosignature keys (type 0x04)"
        )
    note_bytes = log.checkpoint_note(size)
    text = Note.parse(note_bytes).text_bytes
    old = 0 if known_size is None else known_size
    for _ in range(max_attempts):
        if old > size:
            raise WitnessConflict(
                f"the witness at {witness_url} has already cosigned {log.origin!r} at size {old}, larger than {size}; "
                "it cannot cosign an older checkpoint",
                old,
                hint="Cosign the log's latest checkpoint instead.",
            )
        proof = log.consistency(old, size) if 0 < old < size else []
        try:
            lines = submit_checkpoint(witness_url, note_bytes, old, proof, timeout=timeout, session=session)
        except WitnessConflict as e:
            if known_size is not None and e.witness_size < known_size:
                raise WitnessBadResponse(
                    f"the witness at {witness_url} says it cosigned {log.origin!r} only up to size {e.witness_size}, "
                    f"but it cosigned size {known_size} before: it lost or rolled back its state",
                    status=409,
                ) from e
            if e.witness_size > log.size:
                raise WitnessConflict(
                    f"the witness at {witness_url} has cosigned {log.origin!r} at size {e.witness_size}, larger than "
                    f"this log has ever been ({log.size}): another log with this origin and key exists (a fork), "
                    "or this log lost entries",
                    e.witness_size,
                ) from e
            if e.witness_size == old:
                raise WitnessBadResponse(
                    f"the witness at {witness_url} answered 409 with the size {old} that was sent", status=409
                ) from e
            old = e.witness_size
            continue
        mine = [s for s in lines if (s.name, s.key_id) == (witness_vkey_verifier.name, witness_vkey_verifier.key_id)]
        if not mine:
            raise WitnessBadResponse(
                f"the witness at {witness_url} answered without a cosignature by {witness_vkey_verifier.name} "
                f"(key ID {witness_vkey_verifier.key_id:08x})",
                hint="Check that the witness key you configured is the one this witness uses.",
            )
        for s in mine:
            if not witness_vkey_verifier.verify(text, s.signature):
                raise WitnessBadResponse(
                    f"the cosignature by {witness_vkey_verifier.name} from {witness_url} does not verify over "
                    f"the checkpoint of size {size}"
                )
        return mine, size
    raise WitnessBadResponse(
        f"the witness at {witness_url} kept answering 409 for {log.origin!r} at size {size}; gave up after "
        f"{max_attempts} attempts"
    )
