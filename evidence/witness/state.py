"""A witness directory on disk: its key, the logs it trusts, and the state it cosigned (see docs/witness.md).

The check-and-set of a log's state is atomic across threads and processes (a mutex and
``flock`` on ``state/lock``) and durable (:func:`evidence._internal.durable.write_atomic`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evidence._internal.durable import fsync_dir, write_atomic
from evidence._internal.filelock import exclusive_lock
from evidence.errors import (
    EvidenceError,
    KeyFormatError,
)
from evidence.note import (
    ALG_COSIGNATURE_V1,
    ALG_ED25519,
    NoteSignature,
    Signer,
    Verifier,
    add_signatures,
    check_key_name,
)
from evidence.witness.protocol import (
    LOCK_FILE,
    LOGS_FILE,
    LOGS_FORMAT,
    MISBEHAVIOUR_DIR,
    SKEY_FILE,
    STATE_DIR,
    VKEY_FILE,
    LogState,
    Reply,
    WitnessConfigError,
    WitnessError,
    WitnessInconsistent,
    check_against_latest,
    check_origin,
    origin_hash,
    parse_add_checkpoint,
    verify_submission,
)

__all__ = [
    "Witness",
    "init_witness",
    "trust_log",
]

logger = logging.getLogger("evidence.witness")

_HEX64 = re.compile(r"[0-9a-f]{64}")

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
