"""Reading bundles: :class:`BundleView`, the members of a bundle checked for safety.

On the verify path: imports the strict ZIP reader (:mod:`evidence.bundle.container`), the
format rules and :class:`~evidence.bundle.wacz.Member`; never the writer, capture or report.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from evidence._internal import jsonstrict
from evidence.bundle.container import MAX_MEMBER_BYTES, MAX_MEMBERS, MAX_RATIO, MAX_TOTAL_BYTES, Container
from evidence.bundle.format import PROOF_PATH, TOKEN_RE
from evidence.bundle.wacz import Member
from evidence.checkpoint import TlogProof
from evidence.errors import BundleFormatError

#: Limits for reading untrusted bundles; the container's own (member count, sizes, ratio) are
#: in :mod:`evidence.bundle.container`.
MAX_SMALL_FILE = 64 << 20  # JSON, notes, proofs, keys, report: read into memory

#: What reading a damaged member can raise besides BundleFormatError.
_READ_ERRORS = (zlib.error, OSError, EOFError, ValueError)


@dataclass(frozen=True)
class BundleView:
    """The members of a bundle, checked for safety, readable without extracting them.

    Either opened from a ZIP file (:meth:`open`, which checks the container strictly, see
    :mod:`evidence.bundle.container`) or built in memory from members (:meth:`from_members`, used
    while writing). Small files are read into memory on demand; large ones are streamed.
    """

    names: tuple[str, ...]
    _container: Container | None = field(default=None, repr=False)
    _members: dict[str, Member] = field(default_factory=dict, repr=False)

    @classmethod
    def from_members(cls, members: Sequence[Member]) -> BundleView:
        return cls(names=tuple(m.path for m in members), _members={m.path: m for m in members})

    @classmethod
    def open(cls, path: Path | str) -> BundleView:
        p = Path(path)
        try:
            # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
            # O_BINARY (Windows only): no newline translation. Windows has no O_NONBLOCK.
            flags = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
            fd = os.open(p, flags | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            raise BundleFormatError(f"the bundle {p} does not exist") from None
        except IsADirectoryError:
            raise BundleFormatError(f"{p} is not a file") from None
        except OSError as e:
            raise BundleFormatError(f"cannot read the bundle {p}: {e.strerror}") from e
        try:
            st = os.fstat(fd)
        except OSError as e:
            os.close(fd)
            raise BundleFormatError(f"cannot read the bundle {p}: {e.strerror}") from e
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise BundleFormatError(f"{p} is not a file")
        f = os.fdopen(fd, "rb")
        try:
            container = Container.parse(f, st.st_size)
        except BundleFormatError as e:
            f.close()
            raise BundleFormatError(f"{p}: {e.message}", hint=e.hint) from e
        except OSError as e:
            f.close()
            raise BundleFormatError(f"cannot read the bundle {p}: {e.strerror or e}") from e
        return cls(names=container.names, _container=container)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()

    def __enter__(self) -> BundleView:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, name: str) -> bool:
        return name in self.names

    def size(self, name: str) -> int:
        if self._container is not None:
            return self._container.entry(name).size
        return self._members[name].digest()[1]

    def read(self, name: str, limit: int = MAX_SMALL_FILE) -> bytes:
        """A member's bytes (at most ``limit``; BundleFormatError if larger or unreadable)."""
        if name not in self.names:
            raise BundleFormatError(f"the bundle has no {name}")
        if self._container is None:
            data = self._members[name].open_bytes()
        else:
            try:
                with self.stream(name) as f:
                    data = f.read(min(limit, self.size(name)) + 1)  # the reader checks the size and CRC-32
            except _READ_ERRORS as e:
                raise BundleFormatError(f"cannot read {name} from the bundle (damaged?): {e}") from e
        if len(data) > limit:
            raise BundleFormatError(f"{name} is larger than {limit} bytes")
        return data

    def stream(self, name: str) -> IO[bytes]:
        if self._container is None:
            m = self._members[name]
            if isinstance(m.source, bytes):
                import io

                return io.BytesIO(m.source)
            return open(m.source, "rb")
        return self._container.open(name)

    def sha256(self, name: str) -> tuple[str, int]:
        """Hex SHA-256 and size of a member, streamed."""
        h = hashlib.sha256()
        size = 0
        try:
            with self.stream(name) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                    size += len(chunk)
        except _READ_ERRORS as e:
            raise BundleFormatError(f"cannot read {name} from the bundle (damaged?): {e}") from e
        return h.hexdigest(), size

    def json(self, name: str) -> Any:
        try:
            return jsonstrict.loads(self.read(name))
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise BundleFormatError(f"{name} is not valid JSON: {e}") from e

    def tokens(self) -> list[tuple[str, bytes]]:
        """The RFC 3161 responses, as (member name, bytes), in order."""
        found = sorted(((int(m.group(1)), n) for n in self.names if (m := TOKEN_RE.fullmatch(n))), key=lambda x: x[0])
        return [(n, self.read(n)) for _, n in found]

    def proof(self) -> TlogProof:
        return TlogProof.parse(self.read(PROOF_PATH))

    def extract_to(self, dest: Path) -> None:
        """Extract every member below ``dest`` (a fresh temporary directory)."""
        for name in self.names:
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with self.stream(name) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
            except BundleFormatError as e:
                raise BundleFormatError(f"{name} is damaged inside the bundle: {e.message}") from e


__all__ = [
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "MAX_SMALL_FILE",
    "MAX_TOTAL_BYTES",
    "BundleView",
]
