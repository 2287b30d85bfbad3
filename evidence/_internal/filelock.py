"""An exclusive lock on an open file, across processes, on POSIX and on Windows.

The log writer and the witness hold one while they change their on-disk state. ``fcntl``
exists only on POSIX and ``msvcrt`` only on Windows, so each is imported when a lock is
taken, never when a module is imported: the modules that lock stay importable everywhere
(the verifier imports none of them; see docs/design.md, "Install extras and the import rule").
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator


@contextlib.contextmanager
def exclusive_lock(fd: int) -> Iterator[None]:
    """Hold an exclusive lock on the open file ``fd`` for the ``with`` block, waiting for it
    as long as another process holds it. The caller opens and closes ``fd``."""
    if sys.platform == "win32":
        import msvcrt

        while True:
            try:
                # One byte at offset 0 stands for the whole file; LK_LOCK gives up after ~10 s.
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                break
            except OSError:
                time.sleep(0.05)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


__all__ = ["exclusive_lock"]
