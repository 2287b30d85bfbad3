"""Where a log's files live: a directory (the embedded default), read-only HTTP, or (the
``postgresql`` extra, :mod:`evidence.log.pgstore`) a PostgreSQL database several servers share.

``Storage`` is the small protocol the reader needs; ``WritableStorage`` what the writer
(:class:`evidence.log.writer.Log`) needs on top. Writes are durable
when :meth:`DirectoryStorage.write_many` returns: each file is written to a temporary name,
fsynced, renamed into place, and the directories holding them are fsynced. Readers never
see a partly written file.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from evidence._internal.durable import fsync_dir, fsync_path
from evidence._internal.files import read_file_or_none
from evidence.errors import FormatError, LogCorruptError, LogError
from evidence.log import tiles

#: Caps on what one file of a log can be (see docs/log-format.md, "Size caps"). Nothing
#: larger is read into memory, from a directory or over HTTP.
MAX_CHECKPOINT_BYTES = 64 << 10
MAX_TSR_BYTES = 1 << 20
MAX_LISTING_BYTES = 1 << 20
MAX_META_BYTES = 64 << 10
MAX_JOURNAL_BYTES = 1 << 31
MAX_OTHER_BYTES = 1 << 20
#: The largest answer any file of a log can be (a full entry bundle of maximal entries).
MAX_FETCH_BYTES = tiles.TILE_WIDTH * (2 + tiles.MAX_ENTRY_SIZE)


#: How a PostgreSQL database is named where a log directory could be (the ``postgresql`` extra).
DATABASE_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL database (``postgresql://...``), not a directory."""
    return location.startswith(DATABASE_SCHEMES)


def describe_file(path: str) -> str:
    """What the log file at ``path`` is, in words (for messages)."""
    if path == "checkpoint" or (path.startswith("history/") and path.endswith("/checkpoint")):
        return "checkpoint"
    if path.startswith("tile/entries/"):
        return "entry bundle"
    if path.startswith("tile/"):
        return "hash tile"
    if path.endswith(".tsr"):
        return "time-stamp response"
    return "log file"


def max_file_size(path: str) -> int:
    """The most bytes the log file at ``path`` can hold, by what it is.

    A hash tile of width W is exactly 32*W bytes (at most 8192); an entry bundle of W
    entries at most W*(2+65535) bytes; a checkpoint note 64 KiB (a few hundred signature
    lines); an RFC 3161 response 1 MiB. Anything else a log holds: 1 MiB.
    """
    if path == "checkpoint" or (path.startswith("history/") and path.endswith("/checkpoint")):
        return MAX_CHECKPOINT_BYTES
    if path.startswith("tile/"):
        try:
            tid = tiles.parse_tile_path(path)
        except FormatError:
            return MAX_OTHER_BYTES
        if tid.level < 0:
            return tid.width * (2 + tiles.MAX_ENTRY_SIZE)
        return tid.width * tiles.HASH
    if path.endswith(".tsr"):
        return MAX_TSR_BYTES
    if path.startswith("history/") and path.endswith("/"):
        return MAX_LISTING_BYTES
    if path == ".state/log.json":
        return MAX_META_BYTES
    if path.startswith(".state/journal/"):
        return MAX_JOURNAL_BYTES
    return MAX_OTHER_BYTES


class Storage(Protocol):
    """Read access to a tlog-tiles namespace (``checkpoint``, ``tile/...``)."""

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None if it does not exist. Raises :class:`LogError` when it
        is not a regular file or is larger than :func:`max_file_size` allows."""
        ...

    def describe(self) -> str:
        """Where this storage is, for messages."""
        ...


class WritableStorage(Storage, Protocol):
    """What the log's writer needs of where its files live (a directory, or PostgreSQL)."""

    def write_many(self, files: Mapping[str, bytes], *, durable: bool = True) -> None:
        """Write all files, each whole or not at all; durable on return when ``durable``."""
        ...

    def sync(self, paths: Iterable[str]) -> None:
        """Make files written with ``durable=False`` durable."""
        ...

    def delete(self, paths: Iterable[str]) -> None:
        """Remove files (absent ones are no error)."""
        ...

    def listdir(self, path: str) -> list[str]:
        """The names of the files directly in the directory ``path`` (empty if there is none)."""
        ...

    def close(self) -> None: ...


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _write_in_place(target: Path, data: bytes) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


class DirectoryStorage:
    """A log in a local directory; any static web server can serve it as is."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._prefix = str(self.root) + os.sep
        self._pool: ThreadPoolExecutor | None = None

    def describe(self) -> str:
        return str(self.root)

    def _full(self, path: str) -> Path:
        if path.startswith("/") or ".." in path.split("/"):
            raise LogError(f"refusing the unsafe path {path!r}")
        return self.root / path

    def read(self, path: str) -> bytes | None:
        if path.startswith("/") or ".." in path.split("/"):
            raise LogError(f"refusing the unsafe path {path!r}")
        return read_file_or_none(
            self._prefix + path, limit=max_file_size(path), what=describe_file(path), error=LogCorruptError
        )

    def exists(self, path: str) -> bool:
        return self._full(path).is_file()

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(p.name for p in self._full(path.rstrip("/")).iterdir() if p.is_file())
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _write_one(self, item: tuple[Path, bytes]) -> Path:
        target, data = item
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            _write_all(fd, data)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        os.close(fd)
        return tmp

    def write_many(self, files: Mapping[str, bytes], *, durable: bool = True) -> None:
        """Write all files. Each appears whole or not at all.

        The files become visible (are renamed into place) in the order of ``files``, so a
        caller can rely on a crash leaving a prefix of them in place. With ``durable`` (the
        default) they are also on stable storage when this returns: each file is fsynced
        before its rename, then the directories holding them (and the parent of every
        directory created) are fsynced. With ``durable=False`` only the fsyncs are left
        out, and the files are written in place rather than renamed: use it only for files
        no published checkpoint refers to yet (a reader has no reason to ask for them until
        then); :meth:`sync` makes them durable later.
        """
        if not files:
            return
        items = [(self._full(p), d) for p, d in files.items()]
        dirs = {t.parent for t, _ in items}
        try:
            created_in: set[Path] = set()  # parents of new directories: their entries must be durable too
            for d in sorted(dirs):
                p = d
                while not p.exists() and p != p.parent:
                    created_in.add(p.parent)
                    p = p.parent
                d.mkdir(parents=True, exist_ok=True)
            if not durable:
                for target, data in items:
                    _write_in_place(target, data)
                return
            if len(items) > 2:
                tmps = list(self._executor().map(self._write_one, items))
            else:
                tmps = [self._write_one(i) for i in items]
            for (target, _), tmp in zip(items, tmps, strict=True):
                os.replace(tmp, target)
            for d in dirs | created_in:
                fsync_dir(d)
        except OSError as e:
            raise LogError(
                f"could not write the log's files in {self.root}: {e.strerror or e}",
                hint="Check free disk space and permissions; the log was left at its last signed state.",
            ) from e

    def sync(self, paths: Iterable[str]) -> None:
        """Make files written with ``durable=False`` durable: fsync each, then every directory
        from their parents up to the storage root (which covers any directory they created)."""
        full = [self._full(p) for p in paths]
        dirs: set[Path] = set()
        for f in full:
            d = f.parent
            while d not in dirs and d != self.root and self.root in d.parents:
                dirs.add(d)
                d = d.parent
        dirs.add(self.root)
        try:
            list(self._executor().map(fsync_path, full))
            for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
                fsync_dir(d)
        except OSError as e:
            raise LogError(
                f"could not flush the log's files in {self.root} to disk: {e.strerror or e}",
                hint="Check the disk; the log's write-ahead journal still holds the data.",
            ) from e

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(4, thread_name_prefix="evidence-fsync")
        return self._pool

    def delete(self, paths: Iterable[str]) -> None:
        for p in paths:
            with contextlib.suppress(FileNotFoundError):
                self._full(p).unlink()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


class HTTPStorage:
    """A tlog-tiles log served over HTTP(S), read-only."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        from evidence._internal.http import base_url as _base_url
        from evidence._internal.http import new_session

        self.base = _base_url(base_url)
        self.timeout = timeout
        self._session = new_session()

    def describe(self) -> str:
        return self.base

    def read(self, path: str) -> bytes | None:
        """GET one file; the whole answer must arrive within ``timeout`` seconds and be
        within :func:`max_file_size` of what the file is."""
        import requests

        from evidence._internal.http import AnswerTooLarge, fetch

        url = self.base + path
        limit = max_file_size(path)
        try:
            resp = fetch("GET", url, deadline=self.timeout, limit=limit, session=self._session)
        except AnswerTooLarge:
            raise LogCorruptError(f"{url} is larger than {limit:,} bytes; no such file of a log is") from None
        except requests.Timeout as e:
            raise LogError(f"could not fetch {url}: no complete answer within {self.timeout:g} seconds") from e
        except requests.RequestException as e:
            from evidence.log.net import network_reason

            raise LogError(
                f"could not fetch {url}: {network_reason(e, self.timeout)}",
                hint="Check the URL, that the log's server is running, and that this machine can reach it.",
            ) from e
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise LogError(f"fetching {url} gave HTTP {resp.status}")
        return resp.body

    def close(self) -> None:
        self._session.close()


def read_tile(storage: Storage, level: int, n: int, width: int) -> bytes | None:
    """A hash tile of ``width`` hashes, or a prefix of the full tile when the partial is gone.

    tlog-tiles lets a log delete partial tiles once the full tile exists; every partial is
    a prefix of the full one. None when neither exists.
    """
    raw = storage.read(tiles.tile_path(level, n, width))
    if raw is None and width < tiles.TILE_WIDTH:
        full = storage.read(tiles.tile_path(level, n))
        raw = full[: width * tiles.HASH] if full is not None else None
    return raw


def open_storage(location: str | Path) -> DirectoryStorage | HTTPStorage:
    """A directory path or an http(s) URL."""
    loc = str(location)
    if loc.startswith(("http://", "https://")):
        return HTTPStorage(loc)
    path = Path(loc)
    if not path.is_dir():
        raise LogError(f"{loc} is not a directory or an http(s) URL of a log")
    return DirectoryStorage(path)
