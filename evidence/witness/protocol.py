"""The C2SP tlog-witness protocol (``c2sp.org/tlog-witness@v1.0.0``): requests, decisions, replies (pure).


A witness cosigns a log's checkpoint only after checking that it extends, append-only, the
latest checkpoint the witness cosigned for the same log. Its cosignatures
(``c2sp.org/tlog-cosignature@v1.0.1``, type 0x04, timestamped) are independent evidence that
a checkpoint existed no later than their time, and that the log showed the witness a single
history.

Layers, from pure to I/O:

- :func:`parse_add_checkpoint` / :class:`AddCheckpointRequest`: the request body, strictly.
- :func:`verify_submission` and :func:`check_against_latest`: the decision for every status
  code the spec defines (pure: they raise a :class:`WitnessError` subclass whose
  :attr:`~WitnessError.status` is the HTTP code).
- :class:`Witness`: a witness directory (key, trusted logs, persisted state) with an atomic
  check-and-set of the per-log state; :func:`~evidence.witness.app.create_app` serves it over HTTP (Starlette).
- :func:`submit_checkpoint` and :func:`witness_checkpoint`: the client side, for logs.

Witness directory (see docs/witness.md)::

    witness.skey           the cosigner's private key (type 0x04), mode 0600
    witness.vkey           its verifier key, to publish
    logs.json              the trusted logs: origin -> log verifier keys (type 0x01)
    state/<sha256(origin) hex>.json   latest cosigned checkpoint per log
    state/lock             serialises check-and-set across threads and processes
    misbehaviour/          log-signed requests refused with 422 (proof of a fork)

Status codes (as the spec orders its checks): 400 malformed body; 404 unknown origin; 403 no
valid signature by a trusted key of that origin (or an invalid one); 400 old size larger
than the checkpoint's; 409 old size differs from the witness's latest (body ``<size>\\n``,
``Content-Type: text/x.tlog.size``); 422 consistency proof does not verify, non-empty proof
with old size 0, size-0 checkpoint whose root is not SHA-256(""), or the same size with a
different root. 200: the body is the witness's cosignature line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from evidence import merkle
from evidence.checkpoint import Checkpoint, SignedCheckpoint
from evidence.errors import (
    ConsistencyError,
    EvidenceError,
    FormatError,
    SignatureError,
    UsageError,
)
from evidence.note import (
    NoteSignature,
    Verifier,
)

__all__ = [
    "DECIMAL_RE",
    "LOCK_FILE",
    "LOGS_FILE",
    "LOGS_FORMAT",
    "MAX_BODY_BYTES",
    "MAX_PROOF_LINES",
    "MAX_REPLY_BYTES",
    "MISBEHAVIOUR_DIR",
    "SIZE_CONTENT_TYPE",
    "SKEY_FILE",
    "STATE_DIR",
    "STATE_FORMAT",
    "TEXT_CONTENT_TYPE",
    "VKEY_FILE",
    "AddCheckpointRequest",
    "LogState",
    "Reply",
    "WitnessBadRequest",
    "WitnessBadResponse",
    "WitnessConfigError",
    "WitnessConflict",
    "WitnessError",
    "WitnessForbidden",
    "WitnessInconsistent",
    "WitnessRefused",
    "WitnessTooLarge",
    "WitnessUnavailable",
    "WitnessUnknownLog",
    "check_against_latest",
    "check_origin",
    "normalise_prefix",
    "origin_hash",
    "parse_add_checkpoint",
    "verify_submission",
]

logger = logging.getLogger("evidence.witness")

#: The spec forbids clients to send more; a proof for any tree of < 2**63 leaves fits.
MAX_PROOF_LINES = 63
#: Request bodies above this are refused with 413 (a full request is a few KiB).
MAX_BODY_BYTES = 128 * 1024
#: Replies above this are not read by the client (one cosignature line is ~150 bytes).
MAX_REPLY_BYTES = 64 * 1024
SIZE_CONTENT_TYPE = "text/x.tlog.size"
TEXT_CONTENT_TYPE = "text/plain; charset=utf-8"

SKEY_FILE = "witness.skey"
VKEY_FILE = "witness.vkey"
LOGS_FILE = "logs.json"
STATE_DIR = "state"
LOCK_FILE = f"{STATE_DIR}/lock"
MISBEHAVIOUR_DIR = "misbehaviour"
LOGS_FORMAT = "evidence-witness-logs/1"
STATE_FORMAT = "evidence-witness-state/1"

DECIMAL_RE = re.compile(r"0|[1-9][0-9]{0,18}")


# ---------------------------------------------------------------------------- errors


class WitnessError(EvidenceError):
    """A witness refused, could not be reached, or answered wrongly.

    :attr:`status` is the HTTP status the witness sent (or would send, on the server side);
    None when there was no HTTP answer. :attr:`meaning` is what that status means in
    tlog-witness, in plain words.
    """

    meaning: ClassVar[str] = "the witness did not cosign the checkpoint"
    default_status: ClassVar[int | None] = None

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = self.default_status if status is None else status


class WitnessRefused(WitnessError):
    """The witness examined the checkpoint and said no (400, 403, 404, 413 or 422)."""

    meaning = "the witness refused to cosign the checkpoint"


class WitnessBadRequest(WitnessRefused):
    """400: the request is malformed, or its old size is larger than the checkpoint's size."""

    meaning = "the request was malformed, or its old size was larger than the checkpoint's size"
    default_status = 400


class WitnessForbidden(WitnessRefused):
    """403: no signature by a log key the witness trusts for this origin verifies."""

    meaning = "the checkpoint carries no valid signature by a log key the witness trusts for this log"
    default_status = 403


class WitnessUnknownLog(WitnessRefused):
    """404: the witness does not witness this origin."""

    meaning = "the witness does not witness this log (unknown origin)"
    default_status = 404


class WitnessTooLarge(WitnessRefused):
    """413: the request body exceeds the witness's limit (not a tlog-witness code)."""

    meaning = "the request was larger than the witness accepts"
    default_status = 413


class WitnessInconsistent(WitnessRefused):
    """422: the checkpoint is not an append-only extension of what the witness cosigned.

    A bad consistency proof, a non-empty proof from size 0, a size-0 checkpoint with a
    non-empty root, or the same size with a different root. With a correct log this means a
    bug or a fork: keep the checkpoint, it may be evidence of log misbehaviour.
    """

    meaning = (
        "the checkpoint is not consistent with the one the witness cosigned before "
        "(bad consistency proof, or a different tree of the same size: possibly a fork)"
    )
    default_status = 422


class WitnessConflict(WitnessError):
    """409: the old size sent is not the witness's latest size for this log.

    :attr:`witness_size` is the size the witness has cosigned; resend with it (and a
    consistency proof from it). :func:`witness_checkpoint` does this for you.
    """

    meaning = "the old size sent is not the size the witness last cosigned for this log"
    default_status = 409

    def __init__(self, message: str, witness_size: int, *, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.witness_size = witness_size


class WitnessUnavailable(WitnessError):
    """The witness could not be reached, timed out, or failed (5xx or an unexpected status)."""

    meaning = "the witness could not be reached or failed"


class WitnessBadResponse(WitnessError):
    """The witness answered 200 (or 409) with something malformed, or a cosignature that does not verify."""

    meaning = "the witness answered with a malformed reply or a cosignature that does not verify"


class WitnessConfigError(UsageError):
    """A witness directory is missing, incomplete or malformed."""


# ---------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An add-checkpoint body: old size, consistency proof (bottom-up), signed checkpoint note."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes

    def to_bytes(self) -> bytes:
        """The body as the spec lays it out: ``old N``, proof lines, blank line, note."""
        lines = [f"old {self.old_size}\n", *(base64.b64encode(h).decode("ascii") + "\n" for h in self.proof), "\n"]
        return "".join(lines).encode("ascii") + self.note


def _decimal(text: str, what: str) -> int:
    if not DECIMAL_RE.fullmatch(text):
        raise WitnessBadRequest(f"the {what} {text[:40]!r} is not a decimal number without leading zeros")
    value = int(text)
    if value > merkle.MAX_TREE_SIZE:
        raise WitnessBadRequest(f"the {what} {value} is too large")
    return value


def _proof_hash(line: str, n: int) -> bytes:
    try:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise WitnessBadRequest(f"consistency proof line {n} is not base64") from None
    if len(raw) != merkle.HASH_SIZE or base64.b64encode(raw).decode("ascii") != line:
        raise WitnessBadRequest(f"consistency proof line {n} is not the canonical base64 of a 32-byte hash")
    return raw


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Parse an add-checkpoint body strictly; raise :class:`WitnessBadRequest` (400) with the reason.

    Checks the framing (``old <size>\\n``, 0..63 canonical base64 hash lines, an empty line)
    and that the rest is a well-formed signed note holding a well-formed checkpoint. It does
    not check signatures or sizes: see :func:`verify_submission`.
    """
    head, sep, note = body.partition(b"\n\n")
    if not sep:
        raise WitnessBadRequest("the request has no empty line between its header and the checkpoint")
    try:
        head_text = head.decode("ascii")
    except UnicodeDecodeError:
        raise WitnessBadRequest("the request header (old size and proof lines) is not ASCII") from None
    lines = head_text.split("\n")
    first = lines[0]
    if not first.startswith("old "):
        raise WitnessBadRequest("the request does not start with an 'old <size>' line")
    old_size = _decimal(first[4:], "old size")
    proof_lines = lines[1:]
    if len(proof_lines) > MAX_PROOF_LINES:
        raise WitnessBadRequest(
            f"the request has {len(proof_lines)} proof lines; at most {MAX_PROOF_LINES} are allowed"
        )
    proof = tuple(_proof_hash(line, i + 1) for i, line in enumerate(proof_lines))
    try:
        SignedCheckpoint.parse(note)
    except FormatError as e:
        raise WitnessBadRequest(f"the checkpoint is malformed: {e.message}") from e
    return AddCheckpointRequest(old_size, proof, note)


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of an origin: how the monitoring URL and state file name a log."""
    return hashlib.sha256(origin.encode("utf-8")).hexdigest()


def check_origin(origin: str) -> None:
    """Raise WitnessConfigError unless ``origin`` can be a checkpoint's first line."""
    if not origin or len(origin) > 1024 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in origin):
        raise WitnessConfigError(f"{origin[:80]!r} cannot be a log origin (empty, too long, or has control characters)")


# ---------------------------------------------------------------------------- decisions (pure)


@dataclass(frozen=True)
class LogState:
    """What the witness last cosigned for one log: size, root hash, and that note (with its cosignature)."""

    origin: str
    size: int
    root_hash: bytes
    checkpoint: bytes
    updated: int

    def to_json(self) -> bytes:
        return (
            json.dumps(
                {
                    "format": STATE_FORMAT,
                    "origin": self.origin,
                    "size": self.size,
                    "root_hash": base64.b64encode(self.root_hash).decode("ascii"),
                    "checkpoint": self.checkpoint.decode("utf-8"),
                    "updated": self.updated,
                },
                indent=1,
                ensure_ascii=False,
            ).encode("utf-8")
            + b"\n"
        )

    @classmethod
    def from_json(cls, raw: bytes, where: Path) -> LogState:
        """Parse a state file and check that its size and root are those of its checkpoint."""
        try:
            d = json.loads(raw)
            if d.get("format") != STATE_FORMAT:
                raise ValueError(f"unknown format {d.get('format')!r}")
            origin, size, updated = d["origin"], d["size"], d["updated"]
            if not isinstance(origin, str) or not isinstance(size, int) or not isinstance(updated, int):
                raise ValueError("wrong field types")
            root = base64.b64decode(d["root_hash"], validate=True)
            note = d["checkpoint"].encode("utf-8")
            cp = SignedCheckpoint.parse(note).checkpoint
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, EvidenceError) as e:
            raise WitnessConfigError(
                f"the witness state file {where} is unreadable ({e}); refusing to cosign rather than "
                "forget what was cosigned",
                hint="Restore it from a backup. Never delete witness state: the witness would then cosign a fork.",
            ) from e
        if (cp.origin, cp.size, cp.root_hash) != (origin, size, root):
            raise WitnessConfigError(
                f"the witness state file {where} disagrees with the checkpoint it holds; refusing to cosign",
                hint="Restore it from a backup.",
            )
        return cls(origin, size, root, note, updated)


def verify_submission(request: AddCheckpointRequest, trusted: Mapping[str, Sequence[Verifier]]) -> SignedCheckpoint:
    """Check who signed the checkpoint and the sizes that need no state: 404, 403, then 400.

    ``trusted`` maps each witnessed origin to its log keys. Signatures by other keys are
    ignored; one by a trusted key that fails to verify is refused (403), as is a checkpoint
    with no verified signature by a trusted key.
    """
    signed = SignedCheckpoint.parse(request.note)
    cp = signed.checkpoint
    keys = trusted.get(cp.origin)
    if not keys:
        raise WitnessUnknownLog(f"this witness does not witness the log {cp.origin!r}")
    try:
        signed.verify(keys, origin=cp.origin)
    except SignatureError as e:
        raise WitnessForbidden(
            f"the checkpoint of {cp.origin!r} is not signed by its trusted log key: {e.message}"
        ) from e
    if request.old_size > cp.size:
        raise WitnessBadRequest(
            f"the old size {request.old_size} is larger than the checkpoint's size {cp.size}: a log never shrinks"
        )
    return signed


def check_against_latest(request: AddCheckpointRequest, checkpoint: Checkpoint, latest: LogState | None) -> None:
    """Decide 409 or 422 against the witness's latest state for the log (None: never cosigned, size 0).

    Returns when the witness may cosign ``checkpoint``. Raises :class:`WitnessConflict` when
    the old size is not the witness's latest size, else :class:`WitnessInconsistent` when the
    checkpoint does not extend the latest one append-only (including a non-empty proof from
    size 0, a size-0 root other than SHA-256(""), or the same size with another root).
    """
    latest_size = latest.size if latest is not None else 0
    latest_root = latest.root_hash if latest is not None else merkle.EMPTY_ROOT
    if request.old_size > checkpoint.size:  # verify_submission checks this first; keep the guard
        raise WitnessBadRequest(
            f"the old size {request.old_size} is larger than the checkpoint's size {checkpoint.size}"
        )
    if request.old_size != latest_size:
        raise WitnessConflict(
            f"the old size {request.old_size} is not the size this witness last cosigned for "
            f"{checkpoint.origin!r} ({latest_size})",
            latest_size,
        )
    if request.old_size == 0 and request.proof:
        raise WitnessInconsistent("a consistency proof from size 0 must be empty")
    if checkpoint.size == 0 and not merkle.hashes_equal(checkpoint.root_hash, merkle.EMPTY_ROOT):
        raise WitnessInconsistent('a checkpoint of size 0 must have the empty-tree root SHA-256("")')
    try:
        merkle.verify_consistency(request.old_size, checkpoint.size, latest_root, checkpoint.root_hash, request.proof)
    except ConsistencyError as e:
        raise WitnessInconsistent(
            f"the checkpoint of {checkpoint.origin!r} at size {checkpoint.size} is not consistent with the one "
            f"this witness cosigned at size {latest_size}: {e.message}"
        ) from e


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, body and Content-Type."""

    status: int
    body: bytes
    content_type: str = TEXT_CONTENT_TYPE

    @classmethod
    def from_error(cls, err: WitnessError) -> Reply:
        if isinstance(err, WitnessConflict):
            return cls(409, f"{err.witness_size}\n".encode("ascii"), SIZE_CONTENT_TYPE)
        return cls(err.status or 500, (err.message + "\n").encode("utf-8"))

    @classmethod
    def cosigned(cls, signatures: Sequence[NoteSignature]) -> Reply:
        return cls(200, "".join(s.line() for s in signatures).encode("utf-8"))


def normalise_prefix(prefix: str) -> str:
    """``""`` or ``/a/b`` (leading slash, no trailing slash)."""
    p = prefix.strip("/")
    if any(c.isspace() or c in "?#{}" for c in p):
        raise UsageError(f"the URL prefix {prefix!r} contains characters a path prefix cannot have")
    return f"/{p}" if p else ""
