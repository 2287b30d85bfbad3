"""A log in PostgreSQL that several ``evidence log serve`` processes share (the ``postgresql`` extra).

The stored form is the directory log's, byte for byte: every file of the log (``checkpoint``,
``tile/...``, ``history/...``, ``.state/log.json``, ``.state/signed``) is one row of
``evidence_log_files`` (path, bytes). Two more tables:

- ``evidence_log_state``: one row (``id = 1``) holding the size of the last signed
  checkpoint. Every append locks it (``SELECT ... FOR UPDATE``): that lock is what orders
  the servers. A second server waits on it, then sees the first one's commit.
- ``evidence_log_entries``: the leaf hash of every entry (primary key) and its index, the
  de-duplication index every server shares: an entry logged through one server keeps its
  index when it is sent again to another.

One append is one transaction: lock the state row, read the signed checkpoint, look the
batch's hashes up, number the new entries, write their entry bundles and tiles, recompute the
root from the tiles written (in the transaction) and prove it consistent with the signed
checkpoint, sign, write ``.state/signed``, ``checkpoint`` and ``history/<N>/checkpoint``,
update the state row, commit. Only then is any client answered; a server killed at any
instant leaves the transaction uncommitted (PostgreSQL rolls it back when the connection
drops), so the log is either at the old or the new signed state. Nothing needs recovering.

The signing keys are never stored in the database: every server reads them from its own
key directory (``--keys``), the same key files on every machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from evidence import merkle
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import LogCorruptError, LogError
from evidence.log import tiles
from evidence.log.storage import describe_file, is_database_url, max_file_size
from evidence.log.writer import (
    META_FILE,
    SIGNED_FILE,
    AfterCheckpoint,
    Log,
    LogInfo,
    number_batch,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

__all__ = [
    "SCHEMA",
    "PgLog",
    "PgStorage",
    "is_database_url",
]

#: The tables (created by :func:`PgStorage.create_schema`; docs/log-format.md, "In PostgreSQL").
SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence_log_state (
    id smallint PRIMARY KEY CHECK (id = 1),
    size bigint NOT NULL,
    signed bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence_log_files (
    path text COLLATE "C" PRIMARY KEY,
    data bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS evidence_log_entries (
    hash bytea PRIMARY KEY,
    idx bigint NOT NULL
);
"""
#: Seconds: connecting, any one statement (waiting for the other server's lock included), a
#: transaction left idle by a client that vanished; TCP keepalives find a dead peer.
CONNECT_TIMEOUT = 10
STATEMENT_TIMEOUT = 60
_SESSION_OPTIONS = (
    f"-c statement_timeout={STATEMENT_TIMEOUT * 1000} -c lock_timeout={STATEMENT_TIMEOUT * 1000} "
    f"-c idle_in_transaction_session_timeout={STATEMENT_TIMEOUT * 1000}"
)
_CONNECT_KWARGS: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": STATEMENT_TIMEOUT * 1000,
    "options": _SESSION_OPTIONS,
    "application_name": "evidence-log",
}
#: Committed tiles and entry bundles never change: a server keeps this many bytes of them in memory.
CACHE_BYTES = 64 << 20


def redacted(url: str) -> str:
    """The URL without its password (for messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = f"{parts.username}:***@" if parts.username else ":***@"
    netloc = user + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as e:
        raise LogError(
            "a log in PostgreSQL needs the psycopg driver",
            hint="Install the extra: pip install 'preserve-evidence[postgresql]'.",
        ) from e
    return psycopg


def _immutable(path: str) -> bool:
    """A tile or entry bundle: its bytes never change once committed (a partial tile is a
    file of its own, never rewritten; a transaction that is rolled back was never visible)."""
    return path.startswith("tile/")


class PgStorage:
    """A log's files in PostgreSQL (the :class:`~evidence.log.storage.WritableStorage` protocol).

    Reads and writes run in the calling thread's open :meth:`transaction` if it has one (so
    an append sees what it wrote before committing), else each in a transaction of its own
    on a pooled connection. Writes are durable when their transaction commits (PostgreSQL's
    WAL is fsynced at commit); ``durable`` and :meth:`sync` are therefore no-ops.
    """

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        pg = _psycopg()
        from psycopg_pool import ConnectionPool

        try:  # a clear error for a wrong URL or an unreachable server, before the pool retries
            pg.connect(url, **_CONNECT_KWARGS).close()
        except pg.Error as e:
            raise LogError(
                f"cannot connect to the PostgreSQL database {redacted(url)}: {_reason(e)}",
                hint="Check the URL (postgresql://USER@HOST:PORT/DATABASE), that the server runs and lets you in.",
            ) from e
        kwargs = dict(_CONNECT_KWARGS, autocommit=True)
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url, min_size=1, max_size=pool_size, kwargs=kwargs, open=True, timeout=STATEMENT_TIMEOUT, name="evidence"
        )
        self._local = threading.local()
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_bytes = 0

    def describe(self) -> str:
        return redacted(self.url)

    # ------------------------------------------------------------------ connections
    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """One transaction for this thread: every read and write of the thread runs in it until
        it ends (committed on a normal exit, rolled back on an exception)."""
        if getattr(self._local, "conn", None) is not None:
            raise LogError("a log transaction is already open in this thread")
        pg = _psycopg()
        written: dict[str, bytes] = {}
        try:
            with self._pool.connection() as conn, conn.transaction():
                self._local.conn, self._local.written = conn, written
                try:
                    yield conn
                finally:
                    self._local.conn = self._local.written = None
        except pg.Error as e:
            raise self._error(e) from e
        with self._cache_lock:  # committed: what it wrote of tiles is immutable now
            for path, data in written.items():
                if _immutable(path):
                    self._remember(path, data)

    def _written(self) -> dict[str, bytes] | None:
        """The files this thread's open transaction wrote (None: no transaction open)."""
        written: dict[str, bytes] | None = getattr(self._local, "written", None)
        return written

    def seen(self, path: str, data: bytes | None) -> None:
        """In a transaction: ``path`` holds ``data`` (read along with the lock), no need to read it again."""
        written = self._written()
        if written is not None and data is not None:
            written[path] = data

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        pg = _psycopg()
        try:
            with self._pool.connection() as c:
                yield c
        except pg.Error as e:
            raise self._error(e) from e

    def _error(self, e: Exception) -> LogError:
        pg = _psycopg()
        if isinstance(e, pg.errors.UndefinedTable):
            return self.no_log()
        return LogError(
            f"the log's database {self.describe()} failed: {_reason(e)}",
            hint="Check that PostgreSQL runs and is reachable; the log stays at its last committed checkpoint.",
        )

    def no_log(self) -> LogError:
        return LogError(
            f"the database {self.describe()} holds no evidence log",
            hint="Create a log directory (`evidence log init DIR`) and move it in: `evidence log migrate DIR URL`.",
        )

    # ------------------------------------------------------------------ files
    def read(self, path: str) -> bytes | None:
        written = self._written()
        if written is not None and path in written:
            return written[path]  # this transaction's own write, not committed yet
        with self._cache_lock:  # committed tiles (what this transaction did not write is committed)
            got = self._cache.get(path)
            if got is not None:
                self._cache.move_to_end(path)
                return got
        limit = max_file_size(path)
        with self._conn() as conn:
            row = conn.execute(
                "SELECT length(data), CASE WHEN length(data) <= %s THEN data END FROM evidence_log_files "
                "WHERE path = %s",
                (limit, path),
            ).fetchone()
        if row is None:
            return None
        if row[1] is None:
            raise LogCorruptError(
                f"the {describe_file(path)} {path} in {self.describe()} is {row[0]:,} bytes, "
                f"more than the {limit:,} such a file can be"
            )
        data = bytes(row[1])
        if _immutable(path):
            with self._cache_lock:
                self._remember(path, data)
        return data

    def _remember(self, path: str, data: bytes) -> None:
        """Cache a committed tile (caller holds the cache lock)."""
        if path not in self._cache:
            self._cache[path] = data
            self._cache_bytes += len(data)
        while self._cache_bytes > CACHE_BYTES:
            self._cache_bytes -= len(self._cache.popitem(last=False)[1])

    def write_many(self, files: Mapping[str, bytes], *, durable: bool = True) -> None:
        if not files:
            return
        written = self._written()
        with self._conn() as conn, conn.transaction() if written is None else contextlib.nullcontext():
            conn.execute(
                "INSERT INTO evidence_log_files (path, data) SELECT * FROM unnest(%s::text[], %s::bytea[]) "
                "ON CONFLICT (path) DO UPDATE SET data = excluded.data",
                (list(files), list(files.values())),
            )
            if SIGNED_FILE in files:  # the commit record is also in the state row (see PgLog._locked)
                conn.execute("UPDATE evidence_log_state SET signed = %s WHERE id = 1", (files[SIGNED_FILE],))
        if written is not None:
            written.update(files)

    def sync(self, paths: Iterable[str]) -> None:
        """Nothing to do: a committed transaction is durable."""

    def delete(self, paths: Iterable[str]) -> None:
        gone = list(paths)
        with self._conn() as conn:
            conn.execute("DELETE FROM evidence_log_files WHERE path = ANY(%s)", (gone,))
        written = self._written()
        if written is not None:
            for p in gone:
                written.pop(p, None)

    def listdir(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._conn() as conn:
            rows = conn.execute("SELECT path FROM evidence_log_files WHERE path LIKE %s", (pattern,)).fetchall()
        return sorted(r[0][len(prefix) :] for r in rows if "/" not in r[0][len(prefix) :])

    def paths(self, like: str = "%") -> list[str]:
        """Every stored path matching the SQL ``LIKE`` pattern, sorted."""
        with self._conn() as conn:
            rows = conn.execute("SELECT path FROM evidence_log_files WHERE path LIKE %s ORDER BY path", (like,))
            return [r[0] for r in rows.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One statement (in this thread's transaction, if open); its rows."""
        with self._conn() as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description is not None else []

    def create_schema(self) -> None:
        with self._conn() as conn:
            conn.execute(SCHEMA)

    def close(self) -> None:
        self._pool.close()


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


class PgLog(Log):
    """:class:`~evidence.log.writer.Log` with its files, sequencing and de-duplication in
    PostgreSQL (see the module docstring): any number of processes append to one log."""

    storage: PgStorage

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        keys_dir: str | os.PathLike[str] | None = None,
        after_checkpoint: AfterCheckpoint | None = None,
    ) -> PgLog:
        """Open the log in the database at the ``postgresql://`` URL ``path``."""
        url = str(path)
        if keys_dir is None:
            raise LogError(
                f"the log in {redacted(url)} needs its signing keys: give the key directory (--keys DIR)",
                hint="The private keys are never stored in the database; every server reads the same key files.",
            )
        storage = PgStorage(url)
        try:
            raw = storage.read(META_FILE)
            if raw is None:
                raise storage.no_log()
            info = LogInfo.from_json(raw, f"{storage.describe()} ({META_FILE})")
            log = cls(
                Path(storage.describe()),
                info,
                keys_dir=Path(keys_dir),
                after_checkpoint=after_checkpoint,
                storage=storage,
            )
            log._load_signers()  # the wrong keys are refused now, not at the first append
        except BaseException:
            storage.close()
            raise
        return log

    def checkpoint_sizes(self) -> list[int]:
        sizes = []
        for p in self.storage.paths("history/%/checkpoint"):
            with contextlib.suppress(ValueError):
                sizes.append(int(p[len("history/") : -len("/checkpoint")].replace("x", "").replace("/", "")))
        return sorted(sizes)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex:
            try:
                with self.storage.transaction():
                    # The signed note is in the locked row itself: a server that waited for the
                    # lock gets the row as the other server committed it (a joined row would
                    # come from the snapshot taken before the wait).
                    rows = self.storage.execute("SELECT size, signed FROM evidence_log_state WHERE id = 1 FOR UPDATE")
                    if not rows:
                        raise LogCorruptError(f"the log in {self.storage.describe()} has no state row")
                    self._locked_size = int(rows[0][0])
                    self.storage.seen(SIGNED_FILE, bytes(rows[0][1]))
                    yield
            except BaseException:
                # What this transaction read of its own uncommitted tiles must not outlive it.
                with self._read_lock:
                    self._readers.clear()
                self._trusted_state = None
                self._verified = None
                raise

    def _recover(self) -> SignedCheckpoint:
        """Nothing to repair (a transaction commits whole or not at all); check the state once."""
        signed = self._read_signed()
        data = signed.to_bytes()
        cp = signed.checkpoint
        if cp.size != self._locked_size:
            raise LogCorruptError(
                f"the log in {self.storage.describe()} is damaged: its signed checkpoint has size {cp.size}, "
                f"its state row says {self._locked_size}"
            )
        # The first time in this process, the tiles must reproduce the signed root. After that a
        # newer note (another server's commit) needs no such check: the append below proves
        # its new tiles consistent with the signed checkpoint before signing anyway.
        if self._trusted_state is None:
            root = self._reader(cp.size).root()
            if not merkle.hashes_equal(root, cp.root_hash):
                raise LogCorruptError(
                    f"the tiles in {self.storage.describe()} do not reproduce the signed root at size {cp.size}",
                    hint="`evidence log audit URL` (through a server) finds the first bad tile.",
                )
        self._trusted_state = data
        return signed

    def find(self, entries: Sequence[bytes]) -> dict[bytes, int]:
        """As :meth:`Log.find`, from the shared de-duplication table and without the write lock
        (a lookup must not queue behind appends); every hit is confirmed against the leaf hash
        in the tiles of the latest signed checkpoint."""
        leafs = [hashlib.sha256(b"\x00" + e).digest() for e in entries]
        if not leafs:
            return {}
        size = self.checkpoint().checkpoint.size
        rows = self.storage.execute("SELECT hash, idx FROM evidence_log_entries WHERE hash = ANY(%s)", (leafs,))
        candidates = {bytes(h): int(i) for h, i in rows}
        reader = self._reader(size)
        found: dict[bytes, int] = {}
        for entry, h in zip(entries, leafs, strict=True):
            cand = candidates.get(h)
            if cand is not None and cand < size and reader.perfect(0, cand) == h:
                found[entry] = cand
        return found

    def _append_locked(self, batch: Sequence[bytes], leafs: Sequence[bytes]) -> tuple[list[int], int | None]:
        signed = self._recover()
        size = signed.checkpoint.size
        rows = self.storage.execute(
            "SELECT hash, idx FROM evidence_log_entries WHERE hash = ANY(%s)", (list(set(leafs)),)
        )
        indices, fresh_entries, fresh_hashes = number_batch(size, batch, leafs, {bytes(h): int(i) for h, i in rows})
        if not fresh_hashes:
            return indices, None
        new_size = size + len(fresh_hashes)
        self.storage.execute(
            "INSERT INTO evidence_log_entries (hash, idx) SELECT * FROM unnest(%s::bytea[], %s::bigint[])",
            (fresh_hashes, list(range(size, new_size))),
        )
        self.storage.write_many(self._integrate(size, fresh_entries, fresh_hashes))
        root = self._checked_root(signed.checkpoint, new_size)
        self._sign_and_commit(new_size, root, signed.checkpoint)
        self.storage.execute("UPDATE evidence_log_state SET size = %s WHERE id = 1", (new_size,))
        return indices, new_size

    _locked_size: int = -1


def _tile_hashes(files: Mapping[str, bytes], size: int) -> list[bytes]:
    """The leaf hashes of a log of ``size``, from its level-0 tiles (full ones, then the last partial)."""
    out: list[bytes] = []
    for n in range((size + tiles.TILE_WIDTH - 1) // tiles.TILE_WIDTH):
        width = tiles.tile_width(0, n, size)
        raw = files.get(tiles.tile_path(0, n, width))
        if raw is None:
            raise LogCorruptError(f"the tile {tiles.tile_path(0, n, width)} is missing")
        out += tiles.split_hashes(raw, width)
    return out


def log_files(root: Path) -> dict[str, bytes]:
    """Every file of a directory log that belongs in the database: all but the lock, the
    journals, the de-duplication index and the keys under ``.state/`` (and temporary files)."""
    from evidence.log.storage import DirectoryStorage

    keep_state = {META_FILE, SIGNED_FILE}
    store = DirectoryStorage(root)
    out: dict[str, bytes] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        dirnames.sort()
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if name.startswith(".") and name.endswith(".tmp"):
                continue
            if rel.startswith(".state/") and rel not in keep_state:
                continue
            raw = store.read(rel)
            if raw is not None:
                out[rel] = raw
    return out


def migrate(directory: Path, url: str, *, progress: Any = None) -> tuple[int, int]:
    """Copy the directory log into the empty database at ``url``, then compare every byte.

    Holds the directory's lock throughout (no append can run), recovers it first (so what is
    copied is its last signed state), refuses a database that already holds a log (unless it
    holds exactly this one: then it only verifies), and returns (files, entries).
    """
    say = progress or (lambda _msg: None)
    src = Log.open(directory)
    try:
        with src._locked():
            signed = src._recover()
            size = signed.checkpoint.size
            files = log_files(directory)
            say(f"read {len(files):,} files of {src.origin!r} ({size:,} entries) from {directory}")
            store = PgStorage(url)
            try:
                store.create_schema()
                with store.transaction():
                    store.execute("LOCK TABLE evidence_log_state IN EXCLUSIVE MODE")
                    held = store.execute("SELECT size FROM evidence_log_state")
                    n_files = store.execute("SELECT count(*) FROM evidence_log_files")[0][0]
                    if held or n_files:
                        _compare(store, files, size)
                        say(f"{store.describe()} already holds this log, byte for byte: nothing to copy")
                        return len(files), size
                    with (
                        store._conn() as conn,
                        conn.cursor().copy("COPY evidence_log_files (path, data) FROM STDIN") as copy,
                    ):
                        for item in files.items():
                            copy.write_row(item)
                    with (
                        store._conn() as conn,
                        conn.cursor().copy("COPY evidence_log_entries (hash, idx) FROM STDIN") as copy,
                    ):
                        for row in _unique_first(_tile_hashes(files, size)):
                            copy.write_row(row)
                    store.execute(
                        "INSERT INTO evidence_log_state (id, size, signed) VALUES (1, %s, %s)",
                        (size, files[SIGNED_FILE]),
                    )
                _compare(store, files, size)
                say(f"copied and compared {len(files):,} files byte for byte; {store.describe()} holds the log")
            finally:
                store.close()
    finally:
        src.close()
    return len(files), size


def _unique_first(hashes: Sequence[bytes]) -> Iterator[tuple[bytes, int]]:
    """(hash, index) for the first occurrence of each leaf hash (a directory log never holds one twice)."""
    seen: set[bytes] = set()
    for i, h in enumerate(hashes):
        if h not in seen:
            seen.add(h)
            yield h, i


def _compare(store: PgStorage, files: Mapping[str, bytes], size: int) -> None:
    """Every file byte-equal in the database, no other file there, and the state row at ``size``."""
    held = store.execute("SELECT size FROM evidence_log_state")
    stored = store.paths()
    extra = sorted(set(stored) - set(files))
    missing = sorted(set(files) - set(stored))
    if not held or held[0][0] != size or extra or missing:
        what = (
            f"{len(missing)} file(s) missing (first {missing[0]})"
            if missing
            else f"{len(extra)} other file(s) (first {extra[0]})"
            if extra
            else f"a log of size {held[0][0] if held else 'unknown'}"
        )
        raise LogError(
            f"the database {store.describe()} already holds a different log ({what}); refusing to overwrite it",
            hint="Migrate into a new empty database (CREATE DATABASE ...).",
        )
    for path, data in files.items():
        got = store.read(path)
        if got != data:
            raise LogCorruptError(f"after copying, the {describe_file(path)} {path} in {store.describe()} differs")
    entries = store.execute("SELECT count(*) FROM evidence_log_entries")[0][0]
    if entries != len(set(_tile_hashes(files, size))):
        raise LogCorruptError(f"the database {store.describe()} indexes {entries} entries, not {size}")
