"""A C2SP tlog-witness (``c2sp.org/tlog-witness@v1.0.0``) and the client a log uses to reach one.

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
  check-and-set of the per-log state; :func:`create_app` serves it over HTTP (Starlette).
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
import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from evidence import merkle
from evidence._internal.durable import fsync_dir, write_atomic
from evidence._internal.filelock import exclusive_lock
from evidence.checkpoint import Checkpoint, SignedCheckpoint
from evidence.errors import (
    ConsistencyError,
    EvidenceError,
    FormatError,
    KeyFormatError,
    SignatureError,
    UsageError,
)
from evidence.note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    Note,
    NoteSignature,
    Signer,
    Verifier,
    add_signatures,
    check_key_name,
)

if TYPE_CHECKING:
    import requests
    from starlette.applications import Starlette

    from evidence.log import Log

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_PROOF_LINES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpointRequest",
    "LogState",
    "Reply",
    "Witness",
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
    "create_app",
    "init_witness",
    "origin_hash",
    "parse_add_checkpoint",
    "submit_checkpoint",
    "trust_log",
    "verify_submission",
    "witness_checkpoint",
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

_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


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
    if not _DECIMAL.fullmatch(text):
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


# ---------------------------------------------------------------------------- files


MAX_LOGS_FILE_BYTES = 16 << 20
MAX_STATE_BYTES = 1 << 20


def _read_logs(path: Path) -> dict[str, tuple[Verifier, ...]]:
    from evidence._internal.files import read_file_or_none

    raw = read_file_or_none(path, limit=MAX_LOGS_FILE_BYTES, what="trusted-logs file", error=WitnessConfigError)
    if raw is None:
        return {}
    try:
        d = json.loads(raw)
        if d.get("format") != LOGS_FORMAT or not isinstance(d.get("logs"), dict):
            raise ValueError("not an evidence witness logs file")
        out: dict[str, tuple[Verifier, ...]] = {}
        for origin, vkeys in d["logs"].items():
            if not isinstance(vkeys, list):
                raise ValueError(f"the keys of {origin!r} are not a list")
            out[origin] = tuple(Verifier.from_vkey(v) for v in vkeys)
    except (ValueError, AttributeError, TypeError, KeyFormatError) as e:
        raise WitnessConfigError(f"the trusted-logs file {path} is malformed: {e}") from e
    return out


def init_witness(directory: str | os.PathLike[str], name: str) -> Verifier:
    """Create a witness directory with a new cosigner key (type 0x04) named ``name``; return its vkey.

    The private key file is created with mode 0600. Refuses a directory that already holds a
    witness key.
    """
    d = Path(directory)
    try:
        check_key_name(name)
    except KeyFormatError as e:
        raise WitnessConfigError(f"{name!r} cannot name a witness: {e.message}") from e
    if (d / SKEY_FILE).exists():
        raise WitnessConfigError(f"{d} already holds a witness key; it was not changed")
    signer = Signer.generate(name, ALG_COSIGNATURE_V1)
    try:
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        (d / STATE_DIR).mkdir(exist_ok=True, mode=0o700)
        fd = os.open(d / SKEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(signer.skey() + "\n")
            f.flush()
            os.fsync(f.fileno())
        write_atomic(d / VKEY_FILE, (signer.verifier().vkey() + "\n").encode())
        if not (d / LOGS_FILE).exists():
            write_atomic(d / LOGS_FILE, json.dumps({"format": LOGS_FORMAT, "logs": {}}, indent=1).encode() + b"\n")
        fsync_dir(d)
    except OSError as e:
        raise WitnessConfigError(f"cannot create the witness in {d}: {e.strerror or e}") from e
    return signer.verifier()


def trust_log(directory: str | os.PathLike[str], vkey: str, origin: str | None = None) -> tuple[str, Verifier]:
    """Trust the log key ``vkey`` (type 0x01) for ``origin`` (default: the key's name); return both.

    A running witness picks the change up with its next request.
    """
    d = Path(directory)
    if not (d / SKEY_FILE).exists():
        raise WitnessConfigError(
            f"{d} is not a witness directory (no {SKEY_FILE})", hint="Run `evidence witness init`."
        )
    key = Verifier.from_vkey(vkey)
    if key.key_type != ALG_ED25519:
        raise WitnessConfigError(
            f"the key {key.name!r} has signature type 0x{key.key_type:02x}; a log's checkpoint key is Ed25519 (0x01)",
            hint="Give the log's key (as `evidence log init` prints it), not a timestamp or witness key.",
        )
    origin = key.name if origin is None else origin
    check_origin(origin)
    path = d / LOGS_FILE
    with _dir_lock(d):
        logs = {o: [k.vkey() for k in ks] for o, ks in _read_logs(path).items()}
        keys = logs.setdefault(origin, [])
        if key.vkey() not in keys:
            keys.append(key.vkey())
        data = json.dumps({"format": LOGS_FORMAT, "logs": logs}, indent=1, ensure_ascii=False).encode() + b"\n"
        try:
            write_atomic(path, data)
        except OSError as e:
            raise WitnessConfigError(f"cannot write {path}: {e.strerror or e}") from e
    return origin, key


@contextlib.contextmanager
def _dir_lock(directory: Path) -> Iterator[None]:
    """An exclusive lock on the witness directory's state (across processes)."""
    lock = directory / LOCK_FILE
    try:
        lock.parent.mkdir(exist_ok=True, mode=0o700)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as e:
        raise WitnessConfigError(f"cannot open the witness lock file {lock}: {e.strerror}") from e
    try:
        with exclusive_lock(fd):
            yield
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------- the witness


@dataclass
class _LogsCache:
    stamp: tuple[int, int, int] | None = None
    logs: dict[str, tuple[Verifier, ...]] = field(default_factory=dict)


class Witness:
    """A witness directory: its cosigner key, the logs it trusts, and what it cosigned.

    :meth:`cosign` (and :meth:`add_checkpoint`, its HTTP-shaped wrapper) is the only mutator.
    It checks and persists a log's state under
    a lock held across threads (a mutex) and processes (``flock`` on ``state/lock``), reading
    the state from disk each time, so no two requests can move a log's state backwards,
    even with several server processes on one directory. The new state is on disk (fsynced)
    before the cosignature is returned.
    """

    def __init__(self, directory: Path, signer: Signer, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self.signer = signer
        self.verifier = signer.verifier()
        self._clock = clock
        self._mutex = threading.Lock()
        self._logs = _LogsCache()
        self._logs_mutex = threading.Lock()
        #: Tests set this to widen the race window inside the critical section.
        self._stall: Callable[[], None] | None = None

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, clock: Callable[[], float] = time.time) -> Witness:
        """Open a witness directory made by :func:`init_witness`."""
        d = Path(directory)
        skey = d / SKEY_FILE
        from evidence._internal.files import MAX_KEY_BYTES, read_file_or_none

        try:
            raw = read_file_or_none(skey, limit=MAX_KEY_BYTES, what="witness key", error=WitnessConfigError)
            if raw is None:
                raise WitnessConfigError(
                    f"{d} is not a witness directory (no {SKEY_FILE})", hint="Create one with `evidence witness init`."
                )
            signer = Signer.from_skey(raw.decode("utf-8", "replace"))
        except KeyFormatError as e:
            raise WitnessConfigError(f"the witness key {skey} is malformed: {e.message}") from e
        if signer.key_type != ALG_COSIGNATURE_V1:
            raise WitnessConfigError(f"the witness key {skey} is not a cosignature key (type 0x04)")
        if not (d / STATE_DIR).is_dir():
            raise WitnessConfigError(
                f"the witness state directory {d / STATE_DIR} is missing; refusing to start with no memory "
                "of what was cosigned",
                hint="Restore it from a backup. A witness that lost its state must be retired (new key and name).",
            )
        return cls(d, signer, clock=clock)

    @property
    def name(self) -> str:
        return self.signer.name

    # ------------------------------------------------------------------ reading
    def trusted_logs(self) -> dict[str, tuple[Verifier, ...]]:
        """Origin -> trusted log keys, re-read from ``logs.json`` whenever it changes."""
        path = self.directory / LOGS_FILE
        try:
            st = path.stat()
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._logs_mutex:
            if stamp is None:
                self._logs = _LogsCache()
            elif stamp != self._logs.stamp:
                self._logs = _LogsCache(stamp, _read_logs(path))
            return dict(self._logs.logs)

    def _state_path(self, origin: str) -> Path:
        return self.directory / STATE_DIR / f"{origin_hash(origin)}.json"

    def state(self, origin: str) -> LogState | None:
        """The latest state for ``origin`` (None: never cosigned)."""
        return self._read_state(self._state_path(origin))

    @staticmethod
    def _read_state(path: Path) -> LogState | None:
        from evidence._internal.files import read_file_or_none

        raw = read_file_or_none(path, limit=MAX_STATE_BYTES, what="witness state", error=WitnessConfigError)
        if raw is None:
            return None
        return LogState.from_json(raw, path)

    def latest_checkpoint(self, hex_origin_hash: str) -> bytes | None:
        """The latest cosigned checkpoint (with this witness's cosignature) of the log whose origin hashes to this."""
        if not _HEX64.fullmatch(hex_origin_hash):
            return None
        state = self._read_state(self.directory / STATE_DIR / f"{hex_origin_hash}.json")
        return state.checkpoint if state is not None else None

    # ------------------------------------------------------------------ the protocol
    def add_checkpoint(self, body: bytes) -> Reply:
        """Handle one add-checkpoint body; always returns a :class:`Reply` (500 on a local failure)."""
        try:
            sigs = self.cosign(body)
        except WitnessError as e:
            return Reply.from_error(e)
        except EvidenceError as e:
            logger.error("add-checkpoint failed on the witness side: %s", e.diagnostics())
            return Reply(500, b"the witness failed to process the request; see its log\n")
        return Reply.cosigned(sigs)

    def cosign(self, body: bytes) -> list[NoteSignature]:
        """Check an add-checkpoint body, persist the new state, and return the cosignature line(s).

        Raises the :class:`WitnessError` subclass for the status the spec requires.
        """
        try:
            request = parse_add_checkpoint(body)
            signed = verify_submission(request, self.trusted_logs())
        except WitnessError as e:
            logger.info("add-checkpoint refused (%s): %s", e.status, e.message)
            raise
        cp = signed.checkpoint
        where = f"{cp.origin!r} old={request.old_size} size={cp.size}"
        path = self._state_path(cp.origin)
        with self._mutex, _dir_lock(self.directory):
            latest = self._read_state(path)
            try:
                check_against_latest(request, cp, latest)
            except WitnessInconsistent as e:
                logger.warning("add-checkpoint %s refused (422): %s", where, e.message)
                self._keep_misbehaviour(cp.origin, body)
                raise
            except WitnessError as e:
                logger.info("add-checkpoint %s refused (%s): %s", where, e.status, e.message)
                raise
            if self._stall is not None:
                self._stall()
            now = int(self._clock())
            sig = self.signer.signature_line(signed.note.text_bytes, now)
            # check_against_latest guarantees cp.size >= latest.size: the state only moves forward.
            if latest is None or cp.size > latest.size:
                cosigned = add_signatures(signed.note, [sig]).to_bytes()
                state = LogState(cp.origin, cp.size, cp.root_hash, cosigned, now)
                try:
                    write_atomic(path, state.to_json())
                except OSError as e:
                    raise WitnessConfigError(f"cannot persist the witness state {path}: {e.strerror or e}") from e
        logger.info("add-checkpoint %s cosigned", where)
        return [sig]

    def _keep_misbehaviour(self, origin: str, body: bytes) -> None:
        """Keep a log-signed request that failed consistency: it may prove a fork."""
        d = self.directory / MISBEHAVIOUR_DIR
        name = f"{origin_hash(origin)[:16]}-{hashlib.sha256(body).hexdigest()[:32]}.add-checkpoint"
        try:
            d.mkdir(exist_ok=True, mode=0o700)
            if not (d / name).exists():
                write_atomic(d / name, body)
        except OSError as e:
            logger.error("could not keep the refused request as evidence in %s: %s", d, e)


def create_app(witness: Witness, *, prefix: str = "", max_body: int = MAX_BODY_BYTES) -> Starlette:
    """The witness's HTTP interface as an ASGI app (Starlette).

    - ``POST <prefix>/add-checkpoint``: tlog-witness add-checkpoint; bodies over ``max_body``
      bytes get 413.
    - ``GET <prefix>/<lowercase hex SHA-256(origin)>/checkpoint``: the latest checkpoint this
      witness cosigned for that log, with its cosignature (404 if none).
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    prefix = normalise_prefix(prefix)

    def respond(reply: Reply) -> Response:
        # The Content-Type is set as a header so that Starlette does not add a charset to
        # text/x.tlog.size, which clients compare exactly.
        return Response(reply.body, status_code=reply.status, headers={"content-type": reply.content_type})

    too_large = Reply(413, f"the request is larger than {max_body} bytes\n".encode())

    async def add_checkpoint(request: Request) -> Response:
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_body):
            logger.info("add-checkpoint refused (413): Content-Length %s", declared[:20])
            return respond(too_large)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > max_body:
                logger.info("add-checkpoint refused (413): body over %d bytes", max_body)
                return respond(too_large)
        reply = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        return respond(reply)

    async def get_checkpoint(request: Request) -> Response:
        note = await run_in_threadpool(witness.latest_checkpoint, str(request.path_params["origin_hash"]))
        if note is None:
            return respond(Reply(404, b"this witness has cosigned no checkpoint for that log\n"))
        return Response(note, headers={"content-type": TEXT_CONTENT_TYPE, "cache-control": "no-store"})

    routes = [
        Route(f"{prefix}/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route(f"{prefix}/{{origin_hash}}/checkpoint", get_checkpoint, methods=["GET"]),
    ]
    return Starlette(routes=routes)


def normalise_prefix(prefix: str) -> str:
    """``""`` or ``/a/b`` (leading slash, no trailing slash)."""
    p = prefix.strip("/")
    if any(c.isspace() or c in "?#{}" for c in p):
        raise UsageError(f"the URL prefix {prefix!r} contains characters a path prefix cannot have")
    return f"/{p}" if p else ""


# ---------------------------------------------------------------------------- the client


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
            if not reply.endswith(b"\n") or not _DECIMAL.fullmatch(reply[:-1].decode("ascii", "replace")):
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
