"""Durable writes: fsync a file or a directory, and replace a file atomically.

The one home for what the log, the witness, the bundle writer and capture output each
wrote for themselves. Standard library only, no import of ``fcntl`` (file locks are in
:mod:`evidence._internal.filelock`), so it imports on every platform.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from pathlib import Path

__all__ = ["fsync_dir", "fsync_path", "write_atomic"]


def fsync_path(path: Path) -> None:
    """fsync a file, or a directory's entries (names created, renamed, removed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync a directory's entries. Windows cannot open a directory for this and makes a
    rename durable by itself; there it does nothing."""
    if sys.platform == "win32":
        return
    fsync_path(path)


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` durably: temporary file beside it, fsync, rename over
    ``path``, fsync the directory. A reader sees the old content or the new, never a part;
    on any failure the temporary file is removed and ``path`` is unchanged."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)
