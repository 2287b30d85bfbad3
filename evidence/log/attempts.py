"""Every capture attempt on the record: the :func:`attempt` context manager and the stores.

    from evidence.log.attempts import attempt
    with attempt(log, url=url, case="2026-017", operator="J. Smith") as a:
        ...                                   # capture
        bundle = seal(cap_dir, log, out, attempt=a)

- The block raises (an error): a ``failed`` attempt record is appended to the log, with the
  error's kind (class name) and exit code; then the error goes on. KeyboardInterrupt,
  SIGTERM (:func:`terminate_on_sigterm` turns it into :class:`Terminated`) and SystemExit
  are ``abandoned``. If the record itself cannot be appended, the original error still goes
  on, and says so (its hint, a note, and an :class:`AttemptNotRecordedWarning`).
- :func:`evidence.bundle.seal` given the attempt appends the manifest's entry *and* the
  ``sealed`` record (naming the manifest's SHA-256 and the earlier attempts of the same
  case) in one :meth:`~evidence.log.Log.append`, and writes ``evidence/attempts.json``.
- The block ends without a sealed bundle: a ``failed`` record of kind ``no-bundle``.

A walk or a capture worker uses the same call: ``attempt(log, walk=definition_bytes, ...)``
records the walk's SHA-256 (and ``url``, its start page, if given).

Where the records are kept (the log holds only their salted digests):

- a directory log: ``<log>/.state/attempts/<index>.json``, each written atomically and
  durably (:class:`AttemptFiles`); a record is first written to ``pending/`` and moved
  after its entry is in the log, so a crash in between is repaired by the next attempt
  (the log de-duplicates, so the entry keeps its index). While an attempt runs,
  ``open/<pid>-*.json`` holds the ``abandoned`` record (kind ``process-ended``) that the
  next attempt appends if this process is killed (SIGKILL, power loss);
- a log server: ``POST /attempts`` (appends, answers the tlog-proof) and
  ``GET /attempts?case=C&from=N&limit=M`` (lists), both with the bearer token;
- another log object may provide ``attempt_store()`` returning an :class:`AttemptStore`.

Not on the verify path (it writes logs).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from evidence import __version__, merkle
from evidence._internal.timefmt import utc_text
from evidence.bundle.attempts import (
    ABANDONED,
    FAILED,
    MAX_EARLIER,
    MAX_RECORD_BYTES,
    SEALED,
    AttemptRecord,
    ListedAttempt,
    encode_attempts_file,
    error_kind,
    make_record,
    parse_record,
)
from evidence.bundle.format import attempt_entry
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import EvidenceError, FormatError, InclusionError, LogCorruptError, LogError

if TYPE_CHECKING:
    from evidence.log.remote import SealableLog
    from evidence.log.storage import WritableStorage

__all__ = [
    "ATTEMPTS_DIR",
    "Attempt",
    "AttemptFiles",
    "AttemptNotRecordedWarning",
    "AttemptStore",
    "StoredAttempt",
    "Terminated",
    "attempt",
    "list_attempts",
    "store_for",
    "terminate_on_sigterm",
]

#: Where a directory log keeps its attempt records (private, like the rest of ``.state``).
ATTEMPTS_DIR = ".state/attempts"
PENDING = "pending"
OPEN = "open"
#: The message of the ``abandoned`` record of a process that died during its attempt.
DIED = "the capturing process ended (killed, or the machine stopped) before it recorded an outcome"


class Terminated(KeyboardInterrupt):
    """SIGTERM as an exception (see :func:`terminate_on_sigterm`): the capture was stopped."""


class AttemptNotRecordedWarning(UserWarning):
    """An attempt's record could not be appended to the log (the attempt's own error is raised)."""


def terminate_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Terminated` in the main thread, so that a stopped capture is
    recorded as abandoned and cleans up like Ctrl-C. Does nothing outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, handler)


def _now() -> str:
    import time

    return utc_text(int(time.time()))


@dataclass(frozen=True)
class StoredAttempt:
    """An attempt record and the index of its entry in the log."""

    index: int
    record: AttemptRecord


class AttemptStore(Protocol):
    """Where a log's attempt records are appended and listed."""

    def append(self, record: bytes, before: Sequence[bytes] = ()) -> list[int]:
        """Append ``before`` (entries) and the record's entry, in this order; their indices."""
        ...

    def list(self, case: str | None = None, *, start: int = 0, limit: int | None = None) -> list[StoredAttempt]:
        """The records (of ``case``, when given) with index >= ``start``, by index."""
        ...


class AttemptFiles:
    """The attempt records kept with a log, one file each in its storage (a directory log's
    folder, or the PostgreSQL log's file table): ``.state/attempts/<index>.json`` (12 digits),
    and ``pending/<sha256>.json`` for a record whose entry may not be in the log yet. Every
    write is atomic and durable (a directory write is fsynced; a database write commits)."""

    def __init__(self, where: Path | WritableStorage) -> None:
        from evidence.log.storage import DirectoryStorage

        self.storage: WritableStorage = DirectoryStorage(Path(where)) if isinstance(where, Path) else where

    @classmethod
    def of(cls, log: Any) -> AttemptFiles:
        """The attempt files of ``log`` (a :class:`~evidence.log.Log` of either storage)."""
        storage = getattr(log, "storage", None)
        return cls(storage) if storage is not None else cls(Path(log.path))

    def put_pending(self, record: bytes) -> str:
        name = f"{ATTEMPTS_DIR}/{PENDING}/{hashlib.sha256(record).hexdigest()}.json"
        self.storage.write_many({name: record})
        return name

    def commit(self, index: int, record: bytes, pending: str | None = None) -> None:
        self.storage.write_many({f"{ATTEMPTS_DIR}/{index:012d}.json": record})
        if pending is not None:
            self.storage.delete([pending])

    def put_open(self, record: bytes) -> str:
        """Mark an attempt as running: ``open/<pid>-<sha16>.json`` holds the ``abandoned`` record
        that stands if this process dies before it records an outcome."""
        name = f"{ATTEMPTS_DIR}/{OPEN}/{os.getpid()}-{hashlib.sha256(record).hexdigest()[:16]}.json"
        self.storage.write_many({name: record})
        return name

    def drop(self, name: str) -> None:
        self.storage.delete([name])

    def orphans(self) -> list[tuple[str, bytes]]:
        """The open markers of processes that no longer run (killed, or the machine stopped)."""
        from evidence.bundle.writer import process_alive

        out = []
        for n in self.storage.listdir(f"{ATTEMPTS_DIR}/{OPEN}"):
            pid = n.partition("-")[0]
            if not n.endswith(".json") or not pid.isdigit() or int(pid) == os.getpid() or process_alive(int(pid)):
                continue
            name = f"{ATTEMPTS_DIR}/{OPEN}/{n}"
            raw = self._read(name)
            if raw is not None:
                out.append((name, raw))
        return out

    def pending(self) -> list[tuple[str, bytes]]:
        """The pending records (name, bytes)."""
        out = []
        for n in self.storage.listdir(f"{ATTEMPTS_DIR}/{PENDING}"):
            if not n.endswith(".json"):
                continue
            name = f"{ATTEMPTS_DIR}/{PENDING}/{n}"
            raw = self._read(name)
            if raw is not None:
                out.append((name, raw))
        return out

    def _read(self, name: str) -> bytes | None:
        raw = self.storage.read(name)
        if raw is not None and len(raw) > MAX_RECORD_BYTES:
            raise LogCorruptError(
                f"the attempt record {name} in {self.storage.describe()} is {len(raw):,} bytes, more than the "
                f"{MAX_RECORD_BYTES:,} a record can be"
            )
        return raw

    def list(self, case: str | None = None, *, start: int = 0, limit: int | None = None) -> list[StoredAttempt]:
        names = sorted(
            n for n in self.storage.listdir(ATTEMPTS_DIR) if len(n) == 17 and n[:12].isdigit() and n[12:] == ".json"
        )
        out: list[StoredAttempt] = []
        for n in names:
            index = int(n[:12])
            if index < start:
                continue
            raw = self._read(f"{ATTEMPTS_DIR}/{n}")
            if raw is None:
                continue
            try:
                rec = parse_record(raw)
            except FormatError as e:
                raise LogCorruptError(
                    f"the attempt record {ATTEMPTS_DIR}/{n} in {self.storage.describe()} is damaged: {e.message}"
                ) from e
            if case is not None and rec.case != case:
                continue
            out.append(StoredAttempt(index, rec))
            if limit is not None and len(out) >= limit:
                break
        return out


class LocalAttempts:
    """The :class:`AttemptStore` of a directory :class:`~evidence.log.Log`."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.files = AttemptFiles.of(log)

    def begin(self, record: bytes) -> str:
        return self.files.put_open(record)

    def end(self, marker: str) -> None:
        self.files.drop(marker)

    def recover(self) -> None:
        """Finish what a crash left: the attempt of a process that died is recorded as abandoned
        (``process-ended``); every pending record is appended (an entry already logged keeps
        its index) and moved into place."""
        for name, raw in self.files.orphans():
            self.files.put_pending(raw)
            self.files.drop(name)
        for name, raw in self.files.pending():
            [index] = self.log.append([attempt_entry(raw)])
            self.files.commit(index, raw, name)

    def append(self, record: bytes, before: Sequence[bytes] = ()) -> list[int]:
        self.recover()
        pending = self.files.put_pending(record)
        indices: list[int] = self.log.append([*before, attempt_entry(record)])
        self.files.commit(indices[-1], record, pending)
        return indices

    def list(self, case: str | None = None, *, start: int = 0, limit: int | None = None) -> list[StoredAttempt]:
        return self.files.list(case, start=start, limit=limit)


class RemoteAttempts:
    """The :class:`AttemptStore` of a :class:`~evidence.log.remote.RemoteLog`: the server keeps
    the records."""

    def __init__(self, log: Any) -> None:
        self.log = log

    def append(self, record: bytes, before: Sequence[bytes] = ()) -> list[int]:
        indices: list[int] = list(self.log.append(before)) if before else []
        indices.append(self.log.add_attempt(record))
        return indices

    def list(self, case: str | None = None, *, start: int = 0, limit: int | None = None) -> list[StoredAttempt]:
        out: list[StoredAttempt] = []
        cursor: int | None = start
        while cursor is not None and (limit is None or len(out) < limit):
            page, cursor = self.log.list_attempts(case, start=cursor)
            for index, raw in page:
                try:
                    out.append(StoredAttempt(index, parse_record(raw)))
                except FormatError as e:
                    raise LogError(f"the log server listed a malformed attempt record {index}: {e.message}") from e
        return out[:limit] if limit is not None else out


def store_for(log: object) -> AttemptStore | None:
    """The attempt store of ``log``: its own ``attempt_store()`` if it has one, else the one
    for a directory log or a log server that keeps them (``keeps_attempts()``); None for a log
    that keeps no attempts (a log server from before them)."""
    own = getattr(log, "attempt_store", None)
    if callable(own):
        store: AttemptStore | None = own()
        return store
    from evidence.log.writer import Log

    if isinstance(log, Log):
        return LocalAttempts(log)
    keeps = getattr(log, "keeps_attempts", None)
    if callable(keeps) and keeps():
        return RemoteAttempts(log)
    return None


def list_attempts(log: object, case: str | None = None) -> list[StoredAttempt]:
    """Every attempt record of ``log`` (of ``case``, when given), by index."""
    store = store_for(log)
    if store is None:
        raise LogError(f"the log {getattr(log, 'path', '')} keeps no attempt records")
    return store.list(case)


class Attempt:
    """One capture attempt in progress (made by :func:`attempt`); see the module docstring."""

    def __init__(
        self,
        log: SealableLog,
        store: AttemptStore | None,
        *,
        url: str | None,
        walk_sha256: str | None,
        case: str | None,
        operator: str | None,
    ) -> None:
        self.log = log
        self.store = store
        self.url = url
        self.walk_sha256 = walk_sha256
        self.case = case
        self.operator = operator
        self.started = _now()
        #: The record once appended, and its entry's index.
        self.recorded: StoredAttempt | None = None
        #: The earlier attempts of the same case a sealed record names.
        self.earlier: tuple[StoredAttempt, ...] = ()
        self._marker: str | None = None
        begin = getattr(store, "begin", None)
        if callable(begin):  # a directory log: what stands if this process is killed
            # Best effort: if even this cannot be written, recording the outcome fails too, and says so.
            with contextlib.suppress(EvidenceError, OSError):
                self._marker = begin(self._record(ABANDONED, error=("process-ended", None, DIED)))

    def close(self) -> None:
        """Drop the running-attempt marker (the outcome is recorded, or could not be)."""
        marker, self._marker = self._marker, None
        end = getattr(self.store, "end", None)
        if marker is not None and callable(end):
            with contextlib.suppress(EvidenceError, OSError):
                end(marker)

    def _record(self, outcome: str, **fields: Any) -> bytes:
        return make_record(
            log_origin=self.log.origin,
            case=self.case,
            operator=self.operator,
            url=self.url,
            walk_sha256=self.walk_sha256,
            started=self.started,
            finished=_now(),
            outcome=outcome,
            tool_version=__version__,
            **fields,
        )

    def seal_entry(self, entry: bytes, manifest_bytes: bytes) -> int:
        """Append a manifest's log ``entry`` together with this attempt's ``sealed`` record (one
        append on a directory log); return the manifest entry's index."""
        if self.recorded is not None:
            raise LogError("this attempt is already on the record; a new capture is a new attempt")
        if self.store is None:
            [index] = self.log.append([entry])
            return index
        earlier: tuple[StoredAttempt, ...] = ()
        if self.case:
            same = [a for a in self.store.list(self.case) if a.record.log_origin == self.log.origin]
            earlier = tuple(same[-MAX_EARLIER:])
        raw = self._record(
            SEALED,
            manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
            earlier=[(a.index, a.record.sha256) for a in earlier],
        )
        indices = self.store.append(raw, [entry])
        self.recorded = StoredAttempt(indices[-1], parse_record(raw))
        self.earlier = earlier
        return indices[0]

    def attempts_file(self, size: int) -> bytes | None:
        """``evidence/attempts.json`` for a bundle whose checkpoint has ``size`` (None when this
        attempt was not recorded): each record with its inclusion proof, checked here."""
        if self.recorded is None:
            return None
        root = SignedCheckpoint.parse(self.log.checkpoint_note(size)).checkpoint.root_hash

        def listed(a: StoredAttempt) -> ListedAttempt:
            proof = self.log.prove(a.index, size)
            try:
                leaf = merkle.leaf_hash(attempt_entry(a.record.raw))
                merkle.verify_inclusion(a.index, size, leaf, proof.hashes, root)
            except InclusionError as e:
                raise LogError(
                    f"the attempt record at index {a.index} of the log {self.log.origin!r} is not the entry the log "
                    f"holds there ({e.message}); the attempt records kept beside the log were altered",
                ) from e
            return ListedAttempt(a.index, a.record, tuple(proof.hashes))

        return encode_attempts_file(listed(self.recorded), [listed(a) for a in self.earlier], size)

    def finish(self, outcome: str, err: BaseException | None) -> None:
        """Append this attempt's ``failed`` or ``abandoned`` record (``err`` gives its kind)."""
        if self.recorded is not None or self.store is None:
            return
        error: tuple[str, int | None, str]
        if err is None:
            error = ("no-bundle", None, "the attempt ended without sealing a bundle")
        else:
            kind, code = error_kind(err)
            message = err.message if isinstance(err, EvidenceError) else str(err)
            error = (kind, code, message or kind)
        raw = self._record(outcome, error=error)
        [index] = self.store.append(raw)
        self.recorded = StoredAttempt(index, parse_record(raw))


def _outcome(err: BaseException) -> str:
    return ABANDONED if isinstance(err, KeyboardInterrupt | SystemExit | GeneratorExit) else FAILED


def _not_recorded(err: BaseException, why: BaseException) -> None:
    reason = why.diagnostics() if isinstance(why, EvidenceError) else f"{type(why).__name__}: {why}"
    text = f"Also, this attempt could not be put on the record (the log's attempt records): {reason}"
    if isinstance(err, EvidenceError):
        err.hint = f"{err.hint}\n{text}" if err.hint else text
    err.add_note(text)
    warnings.warn(text, AttemptNotRecordedWarning, stacklevel=4)


@contextlib.contextmanager
def attempt(
    log: SealableLog,
    *,
    url: str | None = None,
    walk: bytes | None = None,
    case: str | None = None,
    operator: str | None = None,
) -> Iterator[Attempt]:
    """One capture attempt, put on the record whatever its outcome (see the module docstring).

    ``url`` is the page (or a walk's start), ``walk`` the walk's definition (its SHA-256 is
    recorded). A log that keeps no attempt records (:func:`store_for` is None) records nothing.
    """
    a = Attempt(
        log,
        store_for(log),
        url=url,
        walk_sha256=hashlib.sha256(walk).hexdigest() if walk is not None else None,
        case=case,
        operator=operator,
    )
    try:
        try:
            yield a
        except BaseException as err:
            try:
                a.finish(_outcome(err), err)
            except BaseException as why:  # the record failed: the original error goes on, and says so
                _not_recorded(err, why)
            raise
        a.finish(FAILED, None)
    finally:
        a.close()
