"""Where a log's files live: a directory (the embedded default) or, read-only, HTTP.

``Storage`` is the small protocol the sequencer and the reader need. Writes are durable
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

from evidence.errors import LogError
from evidence.log import tiles

MAX_FETCH_BYTES = 1 << 20


class Storage(Protocol):
    """Read access to a tlog-tiles namespace (``checkpoint``, ``tile/...``)."""

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None if it does not exist."""
        ...

    def describe(self) -> str:
        """Where this storage is, for messages."""
        ...


def _fsync(path: Path) -> None:
    """fsync a file or a directory (a directory's entries: names created, renamed, removed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        full = self._prefix + path
        try:
            with open(full, "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as e:
            raise LogError(f"cannot read {full}: {e.strerror}") from e

    def exists(self, path: str) -> bool:
        return self._full(path).is_file()

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
                _fsync(d)
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
            list(self._executor().map(_fsync, full))
            for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
                _fsync(d)
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
        import requests

        self.base = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self._session = requests.Session()

    def describe(self) -> str:
        return self.base

    def read(self, path: str) -> bytes | None:
        import requests

        url = self.base + path
        try:
            resp = self._session.get(url, timeout=self.timeout, stream=True)
        except requests.RequestException as e:
            from evidence.log.net import network_reason

            raise LogError(
                f"could not fetch {url}: {network_reason(e, self.timeout)}",
                hint="Check the URL, that the log's server is running, and that this machine can reach it.",
            ) from e
        with resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise LogError(f"fetching {url} gave HTTP {resp.status_code}")
            data = resp.raw.read(MAX_FETCH_BYTES + 1, decode_content=True)
            if len(data) > MAX_FETCH_BYTES:
                raise LogError(f"{url} is larger than {MAX_FETCH_BYTES} bytes; no tile or checkpoint is")
            return bytes(data)


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
