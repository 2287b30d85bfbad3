"""Writing a capture's files all at once or not at all.

Files go into a hidden sibling folder (``.NAME.partial-XXXXXXXX``) that is renamed to the
output folder only when every file is written and flushed to disk. On any failure the
partial folder (and any parent folders this created) is removed, so a failed capture
leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from pathlib import Path
from types import TracebackType

from evidence._internal.durable import fsync_dir
from evidence.capture.errors import OutputDirError

__all__ = ["Staging", "check_output_dir"]


def check_output_dir(out: Path) -> None:
    """Refuse an output folder that exists and is not empty (evidence is never
    overwritten), or a path that is a file."""
    if out.exists() or out.is_symlink():
        if not out.is_dir() or out.is_symlink():
            raise OutputDirError(
                f"The output path {out} already exists and is not a folder.",
                hint="Choose a new folder name for this capture.",
            )
        if any(out.iterdir()):
            raise OutputDirError(
                f"The output folder {out} already exists and is not empty; evidence is never overwritten.",
                hint="Choose a new folder name for this capture.",
            )


class Staging:
    """A partial folder beside ``out`` that becomes ``out`` on :meth:`commit`."""

    def __init__(self, out: Path) -> None:
        self.out = out.absolute()
        self._created_parents: list[Path] = []
        parent = self.out.parent
        missing: list[Path] = []
        while not parent.exists():
            missing.append(parent)
            parent = parent.parent
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self._created_parents.append(folder)
            self.tmp = self.out.parent / f".{self.out.name}.partial-{secrets.token_hex(4)}"
            self.tmp.mkdir()
        except OSError as err:
            self._remove_parents()
            raise OutputDirError(
                f"The output folder {out} could not be created ({err.strerror or err}).",
                hint="Check that the location exists and that you may write there.",
            ) from None
        self._committed = False

    def write(self, name: str, data: bytes) -> Path:
        """Write one file (flushed to disk); returns its final path inside ``out``."""
        path = self.tmp / name
        with open(path, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return self.out / name

    def commit(self) -> None:
        """Move the folder into place."""
        check_output_dir(self.out)
        if self.out.is_dir():
            self.out.rmdir()  # exists but empty
        with contextlib.suppress(OSError):
            fsync_dir(self.tmp)  # a no-op on Windows, which cannot open a directory
        os.rename(self.tmp, self.out)
        self._committed = True

    def abort(self) -> None:
        """Remove everything this created."""
        if not self._committed:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self._remove_parents()

    def _remove_parents(self) -> None:
        for folder in reversed(self._created_parents):
            try:
                folder.rmdir()
            except OSError:
                break
        self._created_parents.clear()

    def __enter__(self) -> Staging:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.abort()
