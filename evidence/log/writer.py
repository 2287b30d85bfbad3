"""The append-only log in a directory: append, integrate, sign, recover.

Commit protocol (docs/log-format.md section 7 has it precisely):

1. Take the log's file lock (``.state/lock``); only one writer at a time, across processes.
2. Recover: read the last signed checkpoint (``.state/signed``, the commit record) and check
   its signature; redo the journals of committed appends (their files must be on disk),
   check that the tiles reproduce the signed root, undo what uncommitted appends left.
3. Write the append's write-ahead journal (``.state/journal/<size>``: every new file's
   path and bytes) durably, then the new entry bundles and tiles in place, unsynced.
4. Recompute the new root *from the tiles on disk* and prove it consistent with the last
   signed checkpoint; refuse to sign otherwise.
5. Sign the checkpoint (log key, type 0x01) and cosign it with the log's clock key
   (cosignature/v1, type 0x04, carrying the signing time).
6. Commit: durably replace ``.state/signed``. This is the instant the append takes effect.
7. Publish ``checkpoint``, then ``history/<size>/checkpoint`` (never a history copy ahead
   of the public checkpoint); return the indices.
8. In the background, fsync the new files and delete the journal; the next append waits
   for that before writing its own journal.

A process killed at any instant therefore leaves either the old or the new signed state,
never a signed checkpoint whose tiles are missing, and never two signed checkpoints that
disagree.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from evidence import merkle
from evidence._internal.filelock import exclusive_lock
from evidence._internal.words import entries
from evidence.checkpoint import Checkpoint, SignedCheckpoint, TlogProof, clock_key_name
from evidence.errors import (
    ConsistencyError,
    EntryTooLargeError,
    EvidenceError,
    FormatError,
    LogCorruptError,
    LogError,
    SignatureError,
)
from evidence.log import tiles
from evidence.log.storage import DirectoryStorage, WritableStorage, is_database_url, read_tile
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
    # numpy, which the index needs, is imported when the log first writes (not by readers).
    from evidence.log.dedup import DedupIndex

FORMAT = "evidence-log/1"
STATE_DIR = ".state"
META_FILE = f"{STATE_DIR}/log.json"
SIGNED_FILE = f"{STATE_DIR}/signed"
LOCK_FILE = f"{STATE_DIR}/lock"
DEDUP_DIR = f"{STATE_DIR}/dedup"
OLD_DEDUP_FILE = f"{STATE_DIR}/dedup.sqlite"  # before 2026-11-22: removed when found
PENDING_FILE = f"{STATE_DIR}/pending"  # the undo list of logs written before the journal
JOURNAL_DIR = f"{STATE_DIR}/journal"
JOURNAL_MAGIC = b"evidence-log-journal/v1"
LOG_SKEY = "log.skey"
TIMESTAMP_SKEY = "timestamp.skey"
#: The log's published verification material (log key and clock key), in the log directory.
VERIFICATION_KEYS_FILE = "verification-keys.txt"

AfterCheckpoint = Callable[["Log", int], None]


def history_dir(size: int) -> str:
    """Where the checkpoint of ``size`` and its timestamps live (an extension to tlog-tiles)."""
    return f"history/{tiles.encode_index(size)}"


@dataclass(frozen=True)
class LogInfo:
    """What ``.state/log.json`` records: the log's identity and public keys."""

    origin: str
    log_vkey: str
    timestamp_vkey: str

    def to_json(self) -> bytes:
        data = {
            "format": FORMAT,
            "origin": self.origin,
            "log_vkey": self.log_vkey,
            "timestamp_vkey": self.timestamp_vkey,
        }
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    def verification_keys(self) -> bytes:
        """The text of ``verification-keys.txt``: what the operator publishes for verifiers.

        ``#`` comment lines, then the log key and the clock key, one vkey a line; the file
        ``evidence verify --log-key FILE`` reads.
        """
        return (
            f"# Verification keys of the evidence log {self.origin}\n"
            "# Publish this file; whoever verifies a bundle sealed in this log needs it (from you, not\n"
            "# from the bundle):  evidence verify BUNDLE.wacz --log-key verification-keys.txt\n"
            "# The log key (signs every checkpoint):\n"
            f"{self.log_vkey}\n"
            "# The log's clock key (cosigns every checkpoint with the time it was signed):\n"
            f"{self.timestamp_vkey}\n"
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes, where: Path | str) -> LogInfo:
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise LogError(f"{where} is a log of format {data.get('format')!r}, not {FORMAT!r}")
            return cls(origin=data["origin"], log_vkey=data["log_vkey"], timestamp_vkey=data["timestamp_vkey"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise LogCorruptError(f"the log description {where} is damaged: {e}") from e


def encode_journal(size: int, files: dict[str, bytes]) -> bytes:
    """The write-ahead journal of an append: the size it reaches and every file it writes."""
    parts = [JOURNAL_MAGIC + b" %d\n" % size]
    for path, data in files.items():
        parts.append(b"%s %d\n" % (path.encode(), len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_journal(raw: bytes) -> tuple[int, dict[str, bytes]]:
    """Parse a journal written by :func:`encode_journal` (strictly)."""
    head, sep, rest = raw.partition(b"\n")
    magic, _, size_text = head.partition(b" ")
    if not sep or magic != JOURNAL_MAGIC or not size_text.isdigit():
        raise FormatError("not an evidence log journal")
    files: dict[str, bytes] = {}
    pos = 0
    while pos < len(rest):
        end = rest.find(b"\n", pos)
        path_text, _, length_text = rest[pos:end].rpartition(b" ")
        if end < 0 or not path_text or not length_text.isdigit():
            raise FormatError(f"a damaged record at byte {pos + len(head) + 1}")
        start, stop = end + 1, end + 1 + int(length_text)
        if stop > len(rest):
            raise FormatError("it is cut short")
        files[path_text.decode("utf-8", "replace")] = rest[start:stop]
        pos = stop
    return int(size_text), files


def number_batch(
    size: int, batch: Sequence[bytes], leafs: Sequence[bytes], existing: dict[bytes, int]
) -> tuple[list[int], list[bytes], list[bytes]]:
    """Indices for a batch appended to a tree of ``size``: ``existing`` ones for leaf hashes
    already logged, the first new index for an entry that recurs within the batch."""
    seen = dict(existing)
    indices: list[int] = []
    fresh_entries: list[bytes] = []
    fresh_hashes: list[bytes] = []
    for e, h in zip(batch, leafs, strict=True):
        idx = seen.get(h)
        if idx is None:
            idx = seen[h] = size + len(fresh_hashes)
            fresh_entries.append(e)
            fresh_hashes.append(h)
        indices.append(idx)
    return indices, fresh_entries, fresh_hashes


def checked_batch(entries: Iterable[bytes]) -> tuple[list[bytes], list[bytes]]:
    """The entries of an append as bytes, and their leaf hashes; refuses an entry over 65,535 bytes."""
    batch = [bytes(e) for e in entries]
    for e in batch:
        if len(e) > tiles.MAX_ENTRY_SIZE:
            raise EntryTooLargeError(
                f"an entry of {len(e)} bytes exceeds the 65,535-byte limit of tlog-tiles; "
                "log a digest of large data, not the data itself"
            )
    sha = hashlib.sha256
    return batch, [sha(b"\x00" + e).digest() for e in batch]


def open_log_at(
    location: str | os.PathLike[str],
    *,
    keys_dir: str | os.PathLike[str] | None = None,
    after_checkpoint: AfterCheckpoint | None = None,
) -> Log:
    """The log in a directory, or (a ``postgresql://`` URL) in a PostgreSQL database that
    several servers share (:class:`evidence.log.pgstore.PgLog`, the ``postgresql`` extra)."""
    if is_database_url(str(location)):
        from evidence.log.pgstore import PgLog

        return PgLog.open(str(location), keys_dir=keys_dir, after_checkpoint=after_checkpoint)
    return Log.open(location, keys_dir=keys_dir, after_checkpoint=after_checkpoint)


def _key(h: bytes) -> int:
    """The de-duplication key of a leaf hash: its first 8 bytes as a signed integer."""
    return int.from_bytes(h[:8], "big", signed=True)


class Log:
    """An append-only C2SP tlog-tiles log in a local directory.

    Guarantees: when :meth:`append` returns, its entries are durable and covered by a
    signed, timestamped checkpoint consistent with every earlier one. Several processes may
    append to one directory at once (a file lock serialises them).
    """

    def __init__(
        self,
        path: Path,
        info: LogInfo,
        *,
        keys_dir: Path,
        after_checkpoint: AfterCheckpoint | None = None,
        storage: WritableStorage | None = None,
    ) -> None:
        self.path = path
        self.info = info
        self.keys_dir = keys_dir
        self.after_checkpoint = after_checkpoint
        self.storage: WritableStorage = DirectoryStorage(path) if storage is None else storage
        self.verifier = Verifier.from_vkey(info.log_vkey)
        self.timestamp_verifier = Verifier.from_vkey(info.timestamp_vkey)
        self._signers: tuple[Signer, Signer] | None = None
        self._dedup: DedupIndex | None = None
        self._mutex = threading.Lock()
        self._trusted_state: bytes | None = None  # the signed bytes this process last checked
        self._verified: tuple[bytes, SignedCheckpoint] | None = None
        self._readers: dict[int, tiles.TileHashReader] = {}
        self._read_lock = threading.RLock()  # readers and their caches are shared across threads
        # The previous append's tiles are flushed to disk in the background; see append().
        self._flusher: ThreadPoolExecutor | None = None
        self._flushing: Future[None] | None = None

    # ------------------------------------------------------------------ opening
    @property
    def origin(self) -> str:
        return self.info.origin

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        origin: str,
        *,
        keys_dir: str | os.PathLike[str] | None = None,
        after_checkpoint: AfterCheckpoint | None = None,
    ) -> Log:
        """Create a new empty log (and its keys, unless ``keys_dir`` already holds them).

        ``origin`` names the log in every checkpoint; use a scheme-less URL such as
        ``example.org/evidence/2026``. It is also the log key's name.
        """
        p = Path(path)
        try:
            check_key_name(origin)
        except EvidenceError as e:
            raise LogError(f"the origin {origin!r} cannot name a log: {e.message}") from e
        if (p / META_FILE).exists():
            raise LogError(f"{p} already holds a log; open it instead of creating it")
        if p.exists() and any(x.name != STATE_DIR for x in p.iterdir()):
            raise LogError(f"{p} is not empty; a new log needs an empty or new directory")
        kdir = Path(keys_dir) if keys_dir is not None else p / STATE_DIR / "keys"
        try:
            (p / STATE_DIR).mkdir(parents=True, exist_ok=True)
            log_signer, ts_signer = _load_or_make_keys(kdir, origin)
        except OSError as e:
            raise LogError(f"cannot create the log in {p}: {e.strerror}") from e
        info = LogInfo(origin, log_signer.verifier().vkey(), ts_signer.verifier().vkey())
        storage = DirectoryStorage(p)
        storage.write_many({META_FILE: info.to_json(), VERIFICATION_KEYS_FILE: info.verification_keys()})
        log = cls(p, info, keys_dir=kdir, after_checkpoint=after_checkpoint)
        with log._locked():
            if log.storage.read(SIGNED_FILE) is None:
                log._sign_and_commit(0, merkle.EMPTY_ROOT, None)
        return log

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        keys_dir: str | os.PathLike[str] | None = None,
        after_checkpoint: AfterCheckpoint | None = None,
    ) -> Log:
        """Open an existing log directory."""
        from evidence._internal.files import read_file_or_none
        from evidence.log.storage import MAX_META_BYTES

        p = Path(path)
        meta = p / META_FILE
        raw = read_file_or_none(meta, limit=MAX_META_BYTES, what="log description", error=LogError)
        if raw is None:
            raise LogError(
                f"{p} is not a log directory (no {META_FILE})",
                hint="Create one with `evidence log init DIR`.",
            )
        info = LogInfo.from_json(raw, meta)
        kdir = Path(keys_dir) if keys_dir is not None else p / STATE_DIR / "keys"
        log = cls(p, info, keys_dir=kdir, after_checkpoint=after_checkpoint)
        log.publish_verification_keys()
        return log

    @classmethod
    def open_or_create(
        cls,
        path: str | os.PathLike[str],
        origin: str,
        *,
        keys_dir: str | os.PathLike[str] | None = None,
        after_checkpoint: AfterCheckpoint | None = None,
    ) -> Log:
        """Open the log at ``path``, creating it first if it does not exist."""
        if (Path(path) / META_FILE).exists():
            return cls.open(path, keys_dir=keys_dir, after_checkpoint=after_checkpoint)
        return cls.create(path, origin, keys_dir=keys_dir, after_checkpoint=after_checkpoint)

    @property
    def verification_keys_path(self) -> Path:
        """``<log>/verification-keys.txt``: the log key and clock key, for verifiers."""
        return self.path / VERIFICATION_KEYS_FILE

    def publish_verification_keys(self) -> None:
        """Write ``verification-keys.txt`` unless it already holds this log's keys.

        Logs created before the file existed get it the first time they are opened; a
        read-only log directory is left as it is (the keys are also in ``log status``).
        """
        want = self.info.verification_keys()
        with contextlib.suppress(LogError):
            if self.storage.read(VERIFICATION_KEYS_FILE) == want:
                return
        with contextlib.suppress(OSError, LogError):
            self.storage.write_many({VERIFICATION_KEYS_FILE: want})

    def recover(self) -> SignedCheckpoint:
        """Repair what a crash left (see the module docstring) and return the latest checkpoint.

        Appends do this themselves; a server calls it at start so that the public
        ``checkpoint`` is current before the first request.
        """
        with self._locked():
            return self._recover()

    def close(self) -> None:
        with self._mutex, contextlib.suppress(LogError):
            self._wait_flushed()
        if self._flusher is not None:
            self._flusher.shutdown()
            self._flusher = None
        if self._dedup is not None:
            self._dedup.close()
            self._dedup = None
        self.storage.close()

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reading
    def checkpoint(self) -> SignedCheckpoint:
        """The latest signed checkpoint, verified against the log key."""
        return self._read_signed()

    @property
    def size(self) -> int:
        return self.checkpoint().checkpoint.size

    def checkpoint_note(self, size: int | None = None) -> bytes:
        """The exact signed note of the checkpoint at ``size`` (None: the latest)."""
        if size is None:
            return self._read_signed().to_bytes()
        raw = self.storage.read(f"{history_dir(size)}/checkpoint")
        if raw is None:
            latest = self._read_signed()
            if latest.checkpoint.size == size:
                return latest.to_bytes()
            raise LogError(f"the log never signed a checkpoint of size {size}")
        return raw

    def checkpoint_sizes(self) -> list[int]:
        """Every size for which the log holds a signed checkpoint, ascending."""
        base = self.path / "history"
        sizes: list[int] = []
        if base.is_dir():
            for f in base.rglob("checkpoint"):
                rel = f.parent.relative_to(base).as_posix()
                with contextlib.suppress(ValueError):
                    sizes.append(int(rel.replace("x", "").replace("/", "")))
        return sorted(sizes)

    def entry(self, index: int) -> bytes:
        """The raw bytes of entry ``index``."""
        size = self.size
        if not 0 <= index < size:
            raise LogError(f"the log has no entry {index} (it holds {entries(size)})")
        n = index // tiles.TILE_WIDTH
        width = tiles.tile_width(0, n, size)
        raw = self.storage.read(tiles.entries_path(n, width))
        if raw is None:
            raise LogCorruptError(f"the entry bundle {tiles.entries_path(n, width)} is missing")
        return tiles.decode_bundle(raw, width)[index % tiles.TILE_WIDTH]

    def _reader(self, size: int) -> tiles.TileHashReader:
        """A tile reader for ``size``; the last few are kept, with their tile caches."""
        with self._read_lock:
            reader = self._readers.pop(size, None)
            if reader is None:
                reader = tiles.TileHashReader(size, self._fetch_tile, cache_tiles=1024)
                if len(self._readers) >= 4:
                    self._readers.pop(next(iter(self._readers)))
            self._readers[size] = reader
            return reader

    def _fetch_tile(self, level: int, n: int, width: int) -> bytes:
        raw = read_tile(self.storage, level, n, width)
        if raw is None:
            raise LogCorruptError(
                f"the tile {tiles.tile_path(level, n, width)} is missing from {self.storage.describe()}"
            )
        return raw

    def prove(self, index: int, size: int | None = None) -> TlogProof:
        """A C2SP tlog-proof for entry ``index`` against the checkpoint of ``size``."""
        with self._read_lock:
            return self._prove(index, size)

    def _prove(self, index: int, size: int | None) -> TlogProof:
        if size is None:
            latest = self._read_signed()
            note, cp = self._verified[0] if self._verified else latest.to_bytes(), latest.checkpoint
        else:
            note = self.checkpoint_note(size)
            cp = SignedCheckpoint.parse(note).checkpoint
        if not 0 <= index < cp.size:
            raise LogError(f"entry {index} is not in the checkpoint of size {cp.size}")
        return TlogProof(index, tuple(self._reader(cp.size).inclusion_proof(index)), note)

    def consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The consistency proof from ``old_size`` to ``new_size`` (None: latest)."""
        latest = self.size
        new = latest if new_size is None else new_size
        if not 0 <= old_size <= new <= latest:
            raise LogError(f"cannot prove consistency from size {old_size} to {new} (log size {latest})")
        with self._read_lock:
            return self._reader(new).consistency_proof(old_size)

    # ------------------------------------------------------------------ cosignatures
    def add_cosignatures(self, size: int, signatures: Sequence[NoteSignature]) -> bytes:
        """Add (witness) cosignature lines to the stored checkpoint of ``size``; return its new bytes.

        The checkpoint text and the log's own signatures are unchanged; lines already
        present are not repeated. The history copy is updated, and, when ``size`` is still
        the latest, the commit record and the public ``checkpoint`` too. Call this *before*
        requesting RFC 3161 tokens, which cover the note's exact bytes.
        """
        with self._locked():
            raw = self.checkpoint_note(size)
            note = Note.parse(raw)
            merged = add_signatures(note, signatures)
            data = merged.to_bytes()
            if data == raw:
                return raw
            if self.timestamps(size):
                raise LogError(
                    f"the checkpoint of size {size} already has RFC 3161 time-stamps over its exact bytes; "
                    "adding cosignatures now would make them cover a different note",
                    hint="Gather witness cosignatures before time-stamping, or cosign a newer checkpoint.",
                )
            SignedCheckpoint(Checkpoint.from_text(merged.text), merged).verify([self.verifier], origin=self.origin)
            files: dict[str, bytes] = {}
            latest = self._read_signed()
            if latest.checkpoint.size == size:
                self.storage.write_many({SIGNED_FILE: data})
                self._trusted_state = data
                files["checkpoint"] = data  # renamed before the history copy, as in _publish
            files[f"{history_dir(size)}/checkpoint"] = data
            self.storage.write_many(files)
            return data

    # ------------------------------------------------------------------ timestamps
    def add_timestamp(self, size: int, token_der: bytes) -> None:
        """Store an RFC 3161 response/token over the checkpoint of ``size`` beside it."""
        self.checkpoint_note(size)  # must be a checkpoint this log signed
        name = hashlib.sha256(token_der).hexdigest()[:16]
        self.storage.write_many({f"{history_dir(size)}/{name}.tsr": token_der})

    def timestamps(self, size: int) -> list[bytes]:
        """The RFC 3161 tokens stored for the checkpoint of ``size``."""
        names = [n for n in self.storage.listdir(history_dir(size)) if n.endswith(".tsr")]
        found = (self.storage.read(f"{history_dir(size)}/{n}") for n in names)
        return [raw for raw in found if raw is not None]

    # ------------------------------------------------------------------ appending
    def append(self, entries: Iterable[bytes]) -> list[int]:
        """Append entries; return their 0-based indices, in order.

        Durable when it returns: the entries are covered by a newly signed checkpoint. An
        entry already in the log (byte for byte) keeps its existing index.
        """
        batch, leafs = checked_batch(entries)
        if not batch:
            return []
        with self._locked():
            indices, new_size = self._append_locked(batch, leafs)
        if new_size is not None:
            self._run_after_checkpoint(new_size)
        return indices

    def _append_locked(self, batch: Sequence[bytes], leafs: Sequence[bytes]) -> tuple[list[int], int | None]:
        """Append under the lock: the indices, and the new size (None when all were logged already)."""
        new_size: int | None = None
        signed = self._recover()
        size = signed.checkpoint.size
        dedup = self._dedup_index()
        indices, fresh_entries, fresh_hashes = self._assign(dedup, size, batch, leafs)
        if fresh_hashes:
            new_size = size + len(fresh_hashes)
            files = self._integrate(size, fresh_entries, fresh_hashes)
            self._wait_flushed()
            # Write-ahead: one durable journal holds every new file, so the files
            # themselves need no fsync before the commit. A crash before the commit is
            # undone from it, one after it redone from it.
            journal = f"{JOURNAL_DIR}/{new_size}"
            self.storage.write_many({journal: encode_journal(new_size, files)})
            self.storage.write_many(files, durable=False)
            root = self._checked_root(signed.checkpoint, new_size)
            self._sign_and_commit(new_size, root, signed.checkpoint)
            self._flushing = self._flusher_pool().submit(self._flush, journal, list(files))
        return indices, new_size

    def _assign(
        self, dedup: DedupIndex, size: int, batch: Sequence[bytes], leafs: Sequence[bytes]
    ) -> tuple[list[int], list[bytes], list[bytes]]:
        """Indices for a batch: existing ones for entries already logged, new ones after ``size``.

        Also records the new entries in the de-duplication index (derived data: rows for
        entries that are never committed are dropped by the next recovery). The common case,
        a batch of new entries, costs one insert; only when some key is already present
        does it fall back to a lookup.
        """
        if len(set(leafs)) == len(leafs):  # the common case: no entry twice in the batch
            indices, fresh_entries, fresh_hashes = list(range(size, size + len(leafs))), list(batch), list(leafs)
        else:
            indices, fresh_entries, fresh_hashes = number_batch(size, batch, leafs, {})
        if dedup.insert_if_new(fresh_hashes, size):
            return indices, fresh_entries, fresh_hashes
        # Some entries may be in the log already: look them up and confirm in the tiles.
        candidates = dedup.lookup(fresh_hashes)
        reader = self._reader(size)
        existing: dict[bytes, int] = {}
        for h in fresh_hashes:
            cand = candidates.get(_key(h))
            if cand is not None and cand < size and reader.perfect(0, cand) == h:
                existing[h] = cand
        indices, fresh_entries, fresh_hashes = number_batch(size, batch, leafs, existing)
        dedup.insert(fresh_hashes, size)
        return indices, fresh_entries, fresh_hashes

    def find(self, entries: Sequence[bytes]) -> dict[bytes, int]:
        """The index of each of ``entries`` that is in the log (by the de-duplication index,
        every hit confirmed against the leaf hash in the tiles); entries not in it are left out."""
        leafs = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
        found: dict[bytes, int] = {}
        with self._locked():
            size = self._recover().checkpoint.size
            candidates = self._dedup_index().lookup(leafs) if leafs else {}
            reader = self._reader(size)
            for entry, h in zip(entries, leafs, strict=True):
                cand = candidates.get(_key(h))
                if cand is not None and cand < size and reader.perfect(0, cand) == h:
                    found[entry] = cand
        return found

    def _run_after_checkpoint(self, size: int) -> None:
        if self.after_checkpoint is None:
            return
        try:
            self.after_checkpoint(self, size)
        except EvidenceError as e:
            warnings.warn(f"after signing checkpoint {size}: {e.diagnostics()}", stacklevel=3)

    def _integrate(self, size: int, entries: Sequence[bytes], hashes: Sequence[bytes]) -> dict[str, bytes]:
        """The new entry bundles and tiles for appending ``entries`` to a tree of ``size``."""
        files: dict[str, bytes] = {}
        width = tiles.TILE_WIDTH
        first, off = divmod(size, width)
        prev: list[bytes] = []
        if off:
            raw = self.storage.read(tiles.entries_path(first, off))
            if raw is None:
                raise LogCorruptError(f"the entry bundle {tiles.entries_path(first, off)} is missing")
            prev = tiles.decode_bundle(raw, off)
        all_entries = prev + list(entries)
        for k in range(0, len(all_entries), width):
            chunk = all_entries[k : k + width]
            files[tiles.entries_path(first + k // width, len(chunk))] = tiles.encode_bundle(chunk)
        level, new = 0, list(hashes)
        while new:
            count = tiles.level_width(level, size)
            first, off = divmod(count, width)
            prev = tiles.split_hashes(self._fetch_tile(level, first, off), off) if off else []
            allh = prev + new
            new = []
            for k in range(0, len(allh), width):
                data = b"".join(allh[k : k + width])
                n = len(data) // tiles.HASH
                files[tiles.tile_path(level, first + k // width, n)] = data
                if n == width:
                    new.append(tiles.tile_root(data))
            level += 1
        return files

    def _checked_root(self, old: Checkpoint, new_size: int) -> bytes:
        """The root of ``new_size`` from the tiles on disk, proven consistent with ``old``."""
        reader = self._reader(new_size)
        root = reader.root()
        try:
            merkle.verify_consistency(old.size, new_size, old.root_hash, root, reader.consistency_proof(old.size))
        except ConsistencyError as e:
            raise LogCorruptError(
                f"refusing to sign: the tiles for size {new_size} are not consistent with the signed "
                f"checkpoint of size {old.size} ({e.message})"
            ) from e
        return root

    def _sign_and_commit(self, size: int, root: bytes, previous: Checkpoint | None) -> None:
        log_signer, ts_signer = self._load_signers()
        cp = Checkpoint(self.origin, size, root)
        text = cp.to_text()
        msg = text.encode()
        now = int(time.time())
        note = Note(text, (log_signer.signature_line(msg), ts_signer.signature_line(msg, now)))
        data = note.to_bytes()
        self.storage.write_many({SIGNED_FILE: data})  # the commit point
        self._trusted_state = data
        self._publish(size, data)

    def _publish(self, size: int, data: bytes) -> None:
        # The public checkpoint first: a crash between the two renames must never leave a
        # history/ checkpoint larger than the public one (an auditor would see a rollback).
        self.storage.write_many({"checkpoint": data, f"{history_dir(size)}/checkpoint": data})

    # ------------------------------------------------------------------ state
    def _read_signed(self) -> SignedCheckpoint:
        raw = self.storage.read(SIGNED_FILE)
        if raw is None:
            raise LogCorruptError(
                f"the log {self.storage.describe()} has no signed checkpoint ({SIGNED_FILE} is missing)"
            )
        if self._verified is not None and self._verified[0] == raw:
            return self._verified[1]
        try:
            signed = SignedCheckpoint.parse(raw)
            signed.verify([self.verifier], origin=self.origin)
        except (FormatError, SignatureError) as e:
            raise LogCorruptError(f"the log's last signed checkpoint is damaged: {e.message}") from e
        self._verified = (raw, signed)
        return signed

    def _recover(self) -> SignedCheckpoint:
        """Bring derived files in line with the last signed checkpoint (caller holds the lock)."""
        signed = self._read_signed()
        data = signed.to_bytes()
        if data == self._trusted_state:
            return signed
        cp = signed.checkpoint
        self._wait_flushed()
        journals = self._journals()
        for jsize, jpath in journals:
            if jsize <= cp.size:
                self._redo(jpath)  # committed: make sure its files are there and durable
        root = self._reader(cp.size).root()
        if not merkle.hashes_equal(root, cp.root_hash):
            raise LogCorruptError(
                f"the tiles in {self.path} do not reproduce the signed root at size {cp.size} "
                f"(signed {cp.root_hash.hex()}, tiles give {root.hex()}); the log's files were damaged",
                hint="Restore the tile/ directory from a backup; `evidence log audit` finds the first bad file.",
            )
        for jsize, jpath in journals:
            if jsize > cp.size:
                self._undo(jpath, self._read_journal(jpath), cp.size)  # never committed
        raw = self.storage.read(PENDING_FILE)
        if raw is not None:
            self._undo(PENDING_FILE, raw.decode("utf-8", "replace").splitlines(), cp.size)
        if self.storage.read("checkpoint") != data or self.storage.read(f"{history_dir(cp.size)}/checkpoint") != data:
            self._publish(cp.size, data)  # a crash came between commit and publish
        dedup = self._dedup_index()
        try:
            covered = dedup.covered()
            if covered > cp.size:
                dedup.truncate(cp.size)
            elif covered < cp.size:
                self._rebuild_dedup(dedup, covered, cp.size)
        except (OSError, ValueError) as e:
            try:
                dedup.reset()
                self._rebuild_dedup(dedup, 0, cp.size)
            except (OSError, ValueError):
                raise LogError(
                    f"could not rebuild the de-duplication index in {self.path / DEDUP_DIR}: {e}",
                    hint="Check free disk space and permissions; the log itself is intact.",
                ) from e
        self._trusted_state = data
        return signed

    def _undo(self, record: str, paths: Iterable[str], size: int) -> None:
        """Remove tiles written by an append that crashed before its commit, then ``record``."""
        stale = []
        for path in paths:
            try:
                tid = tiles.parse_tile_path(path)
            except FormatError:
                continue
            level = max(tid.level, 0)
            if tid.width > tiles.tile_width(level, tid.n, size):
                stale.append(path)
        self.storage.delete(stale)
        self.storage.delete([record])

    def _journals(self) -> list[tuple[int, str]]:
        """The write-ahead journals present, by the size their append was to reach."""
        try:
            names = os.listdir(self.path / JOURNAL_DIR)
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            if name.isdigit():
                found.append((int(name), f"{JOURNAL_DIR}/{name}"))
            else:  # a temporary file of a journal that was never completed
                self.storage.delete([f"{JOURNAL_DIR}/{name}"])
        return sorted(found)

    def _read_journal(self, jpath: str) -> dict[str, bytes]:
        raw = self.storage.read(jpath)
        if raw is None:
            return {}
        try:
            return decode_journal(raw)[1]
        except FormatError as e:
            raise LogCorruptError(f"the log's write-ahead journal {jpath} is damaged: {e.message}") from e

    def _redo(self, jpath: str) -> None:
        """Bring back (and flush) the files of a committed append; then drop its journal."""
        files = self._read_journal(jpath)
        differ = {p: d for p, d in files.items() if self.storage.read(p) != d}
        self.storage.write_many(differ)
        self.storage.sync([p for p in files if p not in differ])
        self.storage.delete([jpath])

    def _flush(self, journal: str, paths: list[str]) -> None:
        """In the background: make a committed append's files durable, then drop its journal."""
        self.storage.sync(paths)
        self.storage.delete([journal])

    def _flusher_pool(self) -> ThreadPoolExecutor:
        if self._flusher is None:
            self._flusher = ThreadPoolExecutor(1, thread_name_prefix="evidence-flush")
        return self._flusher

    def _wait_flushed(self) -> None:
        """Wait for the previous append's background flush (caller holds the mutex)."""
        fut, self._flushing = self._flushing, None
        if fut is None:
            return
        try:
            fut.result()
        except LogError:
            self._trusted_state = None  # the journal stays; the next recovery redoes it
            raise

    def _rebuild_dedup(self, dedup: DedupIndex, start: int, size: int) -> None:
        reader = self._reader(size)
        batch: list[bytes] = []
        pos = start
        for i in range(start, size):
            batch.append(reader.perfect(0, i))
            if len(batch) == 65536:
                dedup.insert(batch, pos)
                pos += len(batch)
                batch = []
        if batch:
            dedup.insert(batch, pos)

    def _dedup_index(self) -> DedupIndex:
        if self._dedup is None:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(str(self.path / OLD_DEDUP_FILE) + suffix)
            from evidence.log.dedup import DedupIndex

            self._dedup = DedupIndex(self.path / DEDUP_DIR)
        return self._dedup

    def _load_signers(self) -> tuple[Signer, Signer]:
        if self._signers is None:
            self._signers = _read_keys(self.keys_dir, self.info)
        return self._signers

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex:
            lock_path = self.path / LOCK_FILE
            try:
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as e:
                raise LogError(f"cannot open the log's lock file {lock_path}: {e.strerror}") from e
            try:
                with exclusive_lock(fd):
                    yield
            finally:
                os.close(fd)


class _Background(threading.Thread):
    """Run one call in a thread; exceptions are kept, not raised (see the caller)."""

    def __init__(self, fn: Callable[..., None], *args: object) -> None:
        super().__init__(daemon=True)
        self._fn, self._args = fn, args
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._fn(*self._args)
        except BaseException as e:
            self.error = e


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())


def _read_key(path: Path) -> str:
    """A private key file's text: a regular file (a FIFO or device is refused) of at most 64 KiB."""
    from evidence._internal.files import MAX_KEY_BYTES, read_file_or_none

    raw = read_file_or_none(path, limit=MAX_KEY_BYTES, what="signing key", error=LogError)
    if raw is None:
        raise FileNotFoundError(2, "No such file", str(path))
    return raw.decode("utf-8", "replace")


def _load_or_make_keys(keys_dir: Path, origin: str) -> tuple[Signer, Signer]:
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path, ts_path = keys_dir / LOG_SKEY, keys_dir / TIMESTAMP_SKEY
    if not log_path.exists():
        _write_secret(log_path, Signer.generate(origin, ALG_ED25519).skey())
    if not ts_path.exists():
        _write_secret(ts_path, Signer.generate(clock_key_name(origin), ALG_COSIGNATURE_V1).skey())
    log_signer = Signer.from_skey(_read_key(log_path))
    ts_signer = Signer.from_skey(_read_key(ts_path))
    if log_signer.name != origin:
        raise LogError(f"the key in {log_path} is for {log_signer.name!r}, not for the log {origin!r}")
    return log_signer, ts_signer


def _read_keys(keys_dir: Path, info: LogInfo) -> tuple[Signer, Signer]:
    try:
        log_signer = Signer.from_skey(_read_key(keys_dir / LOG_SKEY))
        ts_signer = Signer.from_skey(_read_key(keys_dir / TIMESTAMP_SKEY))
    except FileNotFoundError as e:
        raise LogError(
            f"the log's signing key {e.filename} is missing; only the log operator can append",
            hint="Pass the directory that holds log.skey and timestamp.skey (keys_dir / --keys).",
        ) from e
    except OSError as e:
        raise LogError(f"cannot read the log's signing keys in {keys_dir}: {e.strerror}") from e
    if log_signer.verifier().vkey() != info.log_vkey or ts_signer.verifier().vkey() != info.timestamp_vkey:
        raise LogError(
            f"the signing keys in {keys_dir} do not belong to the log {info.origin!r}",
            hint="Use the keys that were created with this log.",
        )
    return log_signer, ts_signer
