"""Reading the URL list of ``preserve --from-file``: what spreadsheets and editors write.

- One address a line; blank lines and lines starting with ``#`` are skipped, and so is a
  comment after an address (`` # ...`` preceded by a space or tab: an address has no
  spaces, so its own ``#fragment`` is kept).
- A byte-order mark is dropped (Excel's "CSV UTF-8" writes one); UTF-16 with a BOM (Excel's
  "Unicode text") is read too. Line ends may be LF, CRLF or CR.
- A ``.csv`` or ``.tsv`` file is read as a table: the address is the first column, and a
  first row whose first cell is a word (a header such as ``URL``) is skipped.
- The list is read up to :data:`MAX_LIST_BYTES`; a longer one is refused.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from evidence.errors import UsageError

MAX_LIST_BYTES = 16 * 1024 * 1024

_COMMENT = re.compile(r"[ \t]+#.*$")
_HEADER_WORD = re.compile(r"^[^\W\d][\w -]*$")  # "URL", "Adresse", "web address": no ":", "/" or "."


@dataclass(frozen=True)
class ListedURL:
    """One address from the list, with the line it came from (for messages)."""

    url: str
    line: int


def decode_list(data: bytes, source: str) -> str:
    """The text of a URL list, without a byte-order mark."""
    encoding = "utf-16" if data.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise UsageError(
            f"the URL list {source} is not UTF-8 text (byte {e.start + 1} cannot be read)",
            hint="Save it as UTF-8 text (in Excel: 'CSV UTF-8'), one address a line.",
        ) from e


def parse_list(text: str, source: str) -> list[ListedURL]:
    """The addresses in ``text`` (see the module docstring), in order, with their line numbers."""
    text = text.removeprefix("\ufeff")
    if source.lower().endswith((".csv", ".tsv")):
        return _parse_table(text, "\t" if source.lower().endswith(".tsv") else ",")
    found: list[ListedURL] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = _COMMENT.sub("", line).strip()
        if line:
            found.append(ListedURL(line, n))
    return found


def _parse_table(text: str, delimiter: str) -> list[ListedURL]:
    found: list[ListedURL] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for row in reader:
        n = reader.line_num
        cell = row[0].strip() if row else ""
        if not cell or cell.startswith("#"):
            continue
        if not found and _HEADER_WORD.match(cell):
            continue  # a header row
        found.append(ListedURL(_COMMENT.sub("", cell).strip(), n))
    return found


def read_list(path: str, stdin: io.TextIOBase | None = None) -> list[ListedURL]:
    """Read and parse the list at ``path`` (``-``: standard input), at most MAX_LIST_BYTES."""
    import sys

    source = "standard input" if path == "-" else path
    try:
        if path == "-":
            stream = stdin if stdin is not None else sys.stdin
            buffer = getattr(stream, "buffer", None)
            data = buffer.read(MAX_LIST_BYTES + 1) if buffer is not None else stream.read().encode("utf-8")
        else:
            from evidence._internal.files import read_file

            # A regular file (symlinks followed): a FIFO or device is refused, the size capped.
            data = read_file(path, limit=MAX_LIST_BYTES + 1, what="URL list", error=UsageError)
    except OSError as e:
        raise UsageError(f"cannot read the URL list {source}: {e.strerror or e}") from e
    if len(data) > MAX_LIST_BYTES:
        raise UsageError(
            f"the URL list {source} is larger than {MAX_LIST_BYTES // (1024 * 1024)} MiB; split it into several lists"
        )
    return parse_list(decode_list(data, source), source)
