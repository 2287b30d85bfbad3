"""Every file the project reads goes through here: a type check and a size cap.

A path named on the command line, in a config file, or found in a log directory may be a
symlink to ``/dev/zero``, a FIFO nobody writes to, or a sparse file of many gigabytes.
Reading such a thing with ``Path.read_bytes()`` never ends, or fills the memory. So:

- the file is opened with ``O_NONBLOCK`` (opening a FIFO does not wait for a writer) and
  ``O_NOCTTY``, and ``fstat`` of the *opened* descriptor decides: only a regular file is
  read. A FIFO, socket, character or block device is refused with a plain message;
- **symlinks are followed** (keys, config files and log directories are often linked into
  place), but what they lead to must be a regular file within the cap: the check is on the
  descriptor, so no race between a check and the open can swap the target;
- the size stated by ``fstat`` must be within the cap, and at most ``limit + 1`` bytes are
  ever read (a file growing while it is read is refused too).

Callers choose the cap fit for what the file is (a hash tile is at most 8192 bytes, a
checkpoint 64 KiB, ...) and the error class the message is raised as.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from evidence.errors import EvidenceError, UsageError

__all__ = [
    "MAX_CONFIG_BYTES",
    "MAX_KEY_BYTES",
    "describe_type",
    "open_regular",
    "read_file",
    "read_file_or_none",
    "read_text_file",
]

#: Configuration, trust policies, token files, certificate files, URL lists: 1 MiB.
MAX_CONFIG_BYTES = 1 << 20
#: A private or public key file (a few lines of text): 64 KiB.
MAX_KEY_BYTES = 64 << 10

#: Never block on a FIFO, never become a terminal's controlling process; these flags are
#: POSIX only (Windows has none of them, and needs O_BINARY instead).
_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
_CHUNK = 1 << 20


def describe_type(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a regular file"


def _size(n: int) -> str:
    return f"{n:,} bytes"


def _a(what: str) -> str:
    return ("an " if what[:1].lower() in "aeiou" else "a ") + what


def _read(
    path: str | os.PathLike[str], limit: int, what: str, error: type[EvidenceError], missing_ok: bool
) -> bytes | None:
    name = os.fspath(path)
    try:
        fd = os.open(name, _FLAGS)
    except FileNotFoundError:
        if missing_ok:
            return None
        raise error(f"the {what} {name} does not exist") from None
    except NotADirectoryError:
        if missing_ok:
            return None
        raise error(f"the {what} {name} does not exist (a part of its path is not a directory)") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise error(f"the {what} {name} is a symlink loop") from None
        raise error(f"cannot read the {what} {name}: {e.strerror or e}") from e
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode) and missing_ok:
            return None
        if not stat.S_ISREG(st.st_mode):
            raise error(
                f"the {what} {name} is {describe_type(st.st_mode)}, not a regular file; refusing to read it",
                hint="Give the path of an ordinary file (a symlink is fine if it leads to one).",
            )
        if st.st_size > limit:
            raise error(
                f"the {what} {name} is {_size(st.st_size)} long; {_a(what)} is at most {_size(limit)}, "
                "so this is not one (refusing to read it)"
            )
        chunks: list[bytes] = []
        got = 0
        while got <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:
            raise error(f"the {what} {name} grew beyond {_size(limit)} while it was read; refusing it")
        return b"".join(chunks)
    except OSError as e:
        raise error(f"cannot read the {what} {name}: {e.strerror or e}") from e
    finally:
        os.close(fd)


def open_regular(
    path: str | os.PathLike[str], *, what: str = "file", error: type[EvidenceError] = UsageError
) -> BinaryIO:
    """Open a regular file for reading in binary (symlinks followed; a FIFO, device or
    socket is refused without blocking). For streaming reads whose caller bounds the size."""
    name = os.fspath(path)
    try:
        fd = os.open(name, _FLAGS)
    except FileNotFoundError:
        raise error(f"the {what} {name} does not exist") from None
    except OSError as e:
        raise error(f"cannot read the {what} {name}: {e.strerror or e}") from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise error(f"the {what} {name} is {describe_type(st.st_mode)}, not a regular file; refusing to read it")
        if hasattr(os, "set_blocking"):  # POSIX (Windows: only from Python 3.12, and nothing to undo there)
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_file(
    path: str | os.PathLike[str], *, limit: int, what: str = "file", error: type[EvidenceError] = UsageError
) -> bytes:
    """The bytes of the regular file ``path`` (symlinks followed), at most ``limit`` of them.

    Raises ``error`` (an :class:`EvidenceError` class) with a message naming ``what`` when
    the file is missing, is not a regular file (FIFO, device, socket, directory), is larger
    than ``limit`` bytes, or cannot be read.
    """
    data = _read(path, limit, what, error, missing_ok=False)
    assert data is not None
    return data


def read_file_or_none(
    path: str | os.PathLike[str], *, limit: int, what: str = "file", error: type[EvidenceError] = UsageError
) -> bytes | None:
    """As :func:`read_file`, but None when nothing is there: no such file, a missing parent
    directory, or a directory at that name. Anything else that is not a regular file is
    still an error."""
    return _read(path, limit, what, error, missing_ok=True)


def read_text_file(
    path: str | os.PathLike[str], *, limit: int, what: str = "file", error: type[EvidenceError] = UsageError
) -> str:
    """As :func:`read_file`, decoded as UTF-8 (a file that is not UTF-8 is an ``error``)."""
    data = read_file(path, limit=limit, what=what, error=error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"the {what} {Path(path)} is not UTF-8 text (byte {e.start} is not valid)") from None
