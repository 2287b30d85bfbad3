"""The bundle container: a strict ZIP reader, and the one writer whose output it accepts.

A bundle is accepted only if every ZIP reader must read it the same way. This module
parses the ZIP structure itself (no :mod:`zipfile`), in bounded memory, before anything
trusts the file, and refuses anything the writer below would not have produced:

- exactly one end-of-central-directory record, at the very end, with no comment; a ZIP64
  end record and locator only when a value does not fit (as :mod:`zipfile` and this
  writer emit them) and then consistent with the classic record;
- one central directory, directly after the last member, its entry count and size capped
  from the end record's numbers alone, before a byte of it is read;
- members contiguous from offset 0 to the central directory: no prefix, gap, overlap,
  data descriptor or trailing bytes;
- every local header equal to its central entry (name, sizes, CRC-32, method, flags,
  version needed, time), no extra fields except the ZIP64 offset field when the offset
  needs it, methods stored (0) or deflate (8), no encryption, no flags at all;
- names from a small safe alphabet (ASCII letters, digits, ``.``, ``_``, ``-``, ``/``),
  no two equal ignoring case, none both a file and a folder.

Reading a member streams it from its known offset (stored: a bounded slice; deflate:
zlib with bounded output) and checks its size, the end of the compressed stream and its
CRC-32 before the last byte is handed out. docs/bundle-format.md ("Container rules")
states every rule, for an independent verifier.
"""

from __future__ import annotations

import io
import re
import stat
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, BinaryIO

from evidence.errors import BundleFormatError

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "DEFLATE_LEVEL",
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_NAME_BYTES",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "Container",
    "Entry",
    "ZipWriter",
    "valid_name",
]

#: Limits for reading untrusted bundles (a real capture is far below each).
MAX_MEMBERS = 10_000
MAX_MEMBER_BYTES = 1 << 30  # 1 GiB per file
MAX_TOTAL_BYTES = 8 << 30
MAX_NAME_BYTES = 255
#: A deflated member larger than RATIO_FLOOR may expand at most MAX_RATIO times.
MAX_RATIO = 200
RATIO_FLOOR = 1 << 20
#: The zlib level of every deflated member (zlib's default trade-off).
DEFLATE_LEVEL = 6

#: Above this value a size, offset or count goes into ZIP64 fields (as :mod:`zipfile` does).
ZIP64_LIMIT = (1 << 31) - 1
COUNT_LIMIT = 0xFFFF

STORED = 0
DEFLATED = 8
VERSION = 20  # version needed to extract (2.0: deflate), and the writer's "made by" version
VERSION_ZIP64 = 45
HOST_UNIX = 3
ZIP_TIME = 0  # 00:00:00
ZIP_DATE = 0x21  # 1980-01-01, the earliest ZIP date
FILE_MODE = 0o644

_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # 30 bytes
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")  # 46 bytes
_EOCD = struct.Struct("<4sHHHHIIH")  # 22 bytes
_EOCD64 = struct.Struct("<4sQHHIIQQQQ")  # 56 bytes
_LOC64 = struct.Struct("<4sIQI")  # 20 bytes
_ZIP64_EXTRA = struct.Struct("<HHQ")  # the ZIP64 field holding only a local header offset
SIG_LOCAL = b"PK\x03\x04"
SIG_CENTRAL = b"PK\x01\x02"
SIG_EOCD = b"PK\x05\x06"
SIG_EOCD64 = b"PK\x06\x06"
SIG_LOC64 = b"PK\x06\x07"
#: The largest central directory entry this format has: header, name, ZIP64 offset field.
MAX_CENTRAL_ENTRY = _CENTRAL.size + MAX_NAME_BYTES + _ZIP64_EXTRA.size
CHUNK = 1 << 20

#: One path segment: starts with a letter or digit, ends with neither "." nor nothing odd.
_SEGMENT = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?"
NAME_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)


def valid_name(name: str) -> bool:
    """Whether ``name`` may name a member: the safe alphabet, at most 255 bytes, no reserved device name."""
    if len(name) > MAX_NAME_BYTES or NAME_RE.fullmatch(name) is None:
        return False
    return all(seg.split(".")[0].lower() not in _WINDOWS_RESERVED for seg in name.split("/"))


def _name_conflicts(names: Sequence[str]) -> str | None:
    """A description of the first clash among ``names`` (equal ignoring case, or file and folder), or None."""
    folded: dict[str, str] = {}
    for n in names:
        key = n.lower()
        if key in folded:
            other = folded[key]
            if other == n:
                return f"the file {n!r} appears twice"
            return f"the files {other!r} and {n!r} differ only in upper and lower case (one would overwrite the other)"
        folded[key] = n
    for n in names:
        parts = n.lower().split("/")
        for i in range(1, len(parts)):
            if (prefix := "/".join(parts[:i])) in folded:
                return f"{folded[prefix]!r} is a file, but {n!r} uses it as a folder"
    return None


@dataclass(frozen=True)
class Entry:
    """One member as the central directory and its local header (which agree) describe it."""

    name: str
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    data_offset: int


def _refuse(what: str, *, ambiguous: bool = True) -> BundleFormatError:
    why = " Different ZIP programs could show different contents for it, so it is refused." if ambiguous else ""
    return BundleFormatError(
        f"the file is not a ZIP container this tool accepts: {what}.{why}",
        hint="Obtain the original bundle again from whoever made it; do not extract or open this one.",
    )


def _read_at(f: IO[bytes], offset: int, n: int) -> bytes:
    f.seek(offset)
    data = f.read(n)
    if len(data) != n:
        raise _refuse(f"it ends early (wanted {n} bytes at offset {offset})", ambiguous=False)
    return data


class Container:
    """The members of a strictly checked ZIP, readable one at a time from an open file.

    :meth:`parse` checks the whole structure (see the module text) and raises
    :class:`BundleFormatError` naming the first thing that is wrong. The file object must
    stay open while members are read; :meth:`close` closes it.
    """

    def __init__(self, f: IO[bytes], entries: tuple[Entry, ...]) -> None:
        self._f = f
        self.entries = entries
        self._by_name = {e.name: e for e in entries}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries)

    def entry(self, name: str) -> Entry:
        try:
            return self._by_name[name]
        except KeyError:
            raise BundleFormatError(f"the bundle has no {name}") from None

    def open(self, name: str) -> BinaryIO:
        """A stream of the member's bytes; its size and CRC-32 are checked before the last byte is returned."""
        return io.BufferedReader(_MemberReader(self._f, self.entry(name)), buffer_size=1 << 16)

    def close(self) -> None:
        self._f.close()

    # ------------------------------------------------------------------ parsing

    @classmethod
    def parse(cls, f: IO[bytes], file_size: int) -> Container:
        """Check the ZIP structure of ``f`` (``file_size`` bytes long) and return its members."""
        return cls(f, _parse(f, file_size))


def _parse(f: IO[bytes], file_size: int) -> tuple[Entry, ...]:
    if file_size < _EOCD.size:
        raise _refuse(f"it is only {file_size} bytes long, too short to be a ZIP file", ambiguous=False)
    tail_len = min(file_size, _EOCD.size + 0xFFFF)
    tail = _read_at(f, file_size - tail_len, tail_len)
    eocd_at = file_size - _EOCD.size
    sig, disk, cd_disk, n_disk, n_total, cd_size32, cd_offset32, comment = _EOCD.unpack_from(tail, tail_len - 22)
    if sig != SIG_EOCD:
        found = tail.rfind(SIG_EOCD)
        if found < 0:
            raise _refuse("it has no ZIP end record (it is not a ZIP file, or it was cut short)", ambiguous=False)
        raise _refuse(f"{tail_len - found - _EOCD.size} bytes follow its end record (a comment or appended data)")
    if comment != 0:
        raise _refuse(f"its end record declares a {comment}-byte comment")
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        raise _refuse("its end record describes a multi-part (spanned) archive")
    # Another end record that a reader searching differently could pick: one whose comment
    # length reaches exactly to the end of the file.
    pos = tail.find(SIG_EOCD)
    while 0 <= pos < tail_len - _EOCD.size:
        if pos + _EOCD.size <= tail_len and pos + _EOCD.size + struct.unpack_from("<H", tail, pos + 20)[0] == tail_len:
            raise _refuse(f"it holds a second end record, at offset {file_size - tail_len + pos}")
        pos = tail.find(SIG_EOCD, pos + 1)

    cd_end = eocd_at
    count, cd_size, cd_offset = n_total, cd_size32, cd_offset32
    has64 = file_size >= _EOCD.size + _LOC64.size and tail[-42:-38] == SIG_LOC64
    if has64:
        _sig, loc_disk, rec_at, disks = _LOC64.unpack_from(tail, tail_len - 42)
        rec_expected = file_size - _EOCD.size - _LOC64.size - _EOCD64.size
        if loc_disk != 0 or disks != 1 or rec_at != rec_expected or rec_expected < 0:
            raise _refuse(
                f"its ZIP64 locator points to offset {rec_at}, not to a ZIP64 end record directly before it "
                f"(at {rec_expected})"
            )
        rec = _read_at(f, rec_at, _EOCD64.size)
        (r_sig, r_len, made_by, needed, r_disk, r_cd_disk, r_n_disk, r_n_total, r_cd_size, r_cd_offset) = (
            _EOCD64.unpack(rec)
        )
        if r_sig != SIG_EOCD64 or r_len != _EOCD64.size - 12 or made_by != VERSION_ZIP64 or needed != VERSION_ZIP64:
            raise _refuse("its ZIP64 end record is malformed or carries extra data")
        if r_disk != 0 or r_cd_disk != 0 or r_n_disk != r_n_total:
            raise _refuse("its ZIP64 end record describes a multi-part (spanned) archive")
        if not (r_n_total > COUNT_LIMIT or r_cd_offset > ZIP64_LIMIT or r_cd_size > ZIP64_LIMIT):
            raise _refuse("it has a ZIP64 end record although every value fits the classic end record")
        if (
            n_total != min(r_n_total, COUNT_LIMIT)
            or cd_size32 != min(r_cd_size, 0xFFFFFFFF)
            or cd_offset32 != min(r_cd_offset, 0xFFFFFFFF)
        ):
            raise _refuse("its ZIP64 end record and its classic end record disagree")
        count, cd_size, cd_offset, cd_end = r_n_total, r_cd_size, r_cd_offset, rec_at
    elif cd_offset32 > ZIP64_LIMIT or cd_size32 > ZIP64_LIMIT:
        raise _refuse("its end record holds a ZIP64 placeholder value but there is no ZIP64 end record")

    # Caps from the end record's numbers alone, before a byte of the directory is read.
    if count == 0:
        raise _refuse("it has no files at all", ambiguous=False)
    if count > MAX_MEMBERS:
        raise _refuse(f"it declares {count} files; at most {MAX_MEMBERS} are accepted")
    if not count * _CENTRAL.size <= cd_size <= count * MAX_CENTRAL_ENTRY:
        raise _refuse(f"its central directory is {cd_size} bytes long, impossible for {count} files")
    if cd_offset + cd_size != cd_end:
        raise _refuse(
            f"its central directory ({cd_size} bytes at offset {cd_offset}) does not end where the end record "
            f"starts (offset {cd_end}): there are bytes that belong to no file, or a second directory"
        )
    if cd_offset < count * _LOCAL.size:
        raise _refuse("its central directory starts before there is room for its files")

    cd = _read_at(f, cd_offset, cd_size)
    centrals: list[tuple[Entry, bytes]] = []
    pos = 0
    expected_offset = 0
    total = 0
    for i in range(count):
        if pos + _CENTRAL.size > cd_size:
            raise _refuse(f"its central directory ends inside entry {i + 1} of {count}")
        (
            sig,
            made_by,
            needed,
            flags,
            method,
            mtime,
            mdate,
            crc,
            csize,
            usize,
            name_len,
            extra_len,
            comment_len,
            disk_start,
            internal,
            external,
            offset32,
        ) = _CENTRAL.unpack_from(cd, pos)
        where = f"entry {i + 1} of the central directory"
        if sig != SIG_CENTRAL:
            raise _refuse(f"{where} has no central directory signature")
        raw_name = cd[pos + _CENTRAL.size : pos + _CENTRAL.size + name_len]
        extra = cd[pos + _CENTRAL.size + name_len : pos + _CENTRAL.size + name_len + extra_len]
        pos += _CENTRAL.size + name_len + extra_len + comment_len
        if pos > cd_size:
            raise _refuse(f"{where} runs past the end of the central directory")
        try:
            name = raw_name.decode("ascii")
        except UnicodeDecodeError:
            name = ""
        if not valid_name(name):
            raise _refuse(
                f"{where} has the name {raw_name[:80]!r}, which is not a plain file name (only ASCII letters, digits, "
                "'.', '_', '-' and '/' between names are allowed; no folder entries, no '..', no leading '/', no "
                "device names such as CON or NUL)"
            )
        where = f"{name} ({where})"
        if flags & 0x1:
            raise _refuse(f"{where} is encrypted")
        if flags & 0x8:
            raise _refuse(f"{where} uses a data descriptor (sizes written after the data)")
        if flags != 0:
            raise _refuse(f"{where} has general purpose flags {flags:#06x}; bundles never set any")
        if method not in (STORED, DEFLATED):
            raise _refuse(f"{where} uses compression method {method}; only stored (0) and deflate (8) are accepted")
        if comment_len:
            raise _refuse(f"{where} has a file comment")
        if disk_start != 0 or internal != 0:
            raise _refuse(f"{where} has a disk number or internal attributes other than 0")
        mode = external >> 16
        if external & 0xFFFF or stat.S_IFMT(mode) not in (0, stat.S_IFREG) or mode & ~(stat.S_IFMT(mode) | 0o777):
            raise _refuse(f"{where} is not a plain file (attributes {external:#010x}: a link, folder or device)")
        if extra:
            if extra_len != _ZIP64_EXTRA.size or offset32 != 0xFFFFFFFF:
                raise _refuse(f"{where} carries {extra_len} bytes of extra fields that bundles never have")
            tag, size, offset = _ZIP64_EXTRA.unpack(extra)
            if tag != 1 or size != 8 or offset <= ZIP64_LIMIT:
                raise _refuse(f"{where} carries an extra field other than the ZIP64 offset bundles use when needed")
            want = (HOST_UNIX << 8 | VERSION_ZIP64, VERSION_ZIP64)
        else:
            offset = offset32
            if offset > ZIP64_LIMIT:
                raise _refuse(f"{where} has an offset that needs a ZIP64 field but has none")
            want = (HOST_UNIX << 8 | VERSION, VERSION)
        if (made_by, needed) != want:
            raise _refuse(
                f"{where} declares ZIP versions {made_by:#06x}/{needed}; bundles have {want[0]:#06x}/{want[1]}"
            )
        if usize > MAX_MEMBER_BYTES:
            raise _refuse(
                f"{where} declares {usize} bytes, more than the {MAX_MEMBER_BYTES} accepted (a real capture is far "
                "smaller)"
            )
        if method == STORED and csize != usize:
            raise _refuse(f"{where} is stored but its compressed size {csize} differs from its size {usize}")
        if method == DEFLATED:
            if csize < 2:
                raise _refuse(f"{where} is deflated into {csize} bytes, too few for a deflate stream")
            if usize > RATIO_FLOOR and usize > MAX_RATIO * csize:
                raise _refuse(f"{where} would expand {usize // csize} times when decompressed (a zip bomb?)")
        if offset != expected_offset:
            raise _refuse(
                f"{where} starts at offset {offset}, but the previous file ends at {expected_offset}: the files must "
                "follow each other with nothing before, between or over them"
            )
        data_offset = offset + _LOCAL.size + name_len
        expected_offset = data_offset + csize
        total += usize
        header = struct.pack("<HHHHIII", flags, method, mtime, mdate, crc, csize, usize)
        centrals.append((Entry(name, method, crc, csize, usize, offset, data_offset), header))
    if pos != cd_size:
        raise _refuse(f"its central directory has {cd_size - pos} bytes after its last entry")
    if expected_offset != cd_offset:
        raise _refuse(
            f"its last file ends at offset {expected_offset}, but the central directory starts at {cd_offset}: there "
            "are bytes that belong to no file"
        )
    if total > MAX_TOTAL_BYTES:
        raise _refuse(f"its files declare {total} bytes in all, more than the {MAX_TOTAL_BYTES} accepted")
    clash = _name_conflicts([e.name for e, _ in centrals])
    if clash:
        raise _refuse(clash)

    entries = []
    for e, header in centrals:
        raw = _read_at(f, e.header_offset, _LOCAL.size + len(e.name))
        sig, needed, *fields, name_len, extra_len = _LOCAL.unpack_from(raw)
        where = f"the local header of {e.name}"
        if sig != SIG_LOCAL:
            raise _refuse(f"{where} is missing (no local header signature at offset {e.header_offset})")
        if needed != VERSION:
            raise _refuse(f"{where} declares version {needed} needed to extract; bundles have {VERSION}")
        if struct.pack("<HHHHIII", *fields) != header:
            keys = ("flags", "method", "time", "date", "CRC-32", "compressed size", "size")
            pairs = zip(keys, fields, struct.unpack("<HHHHIII", header), strict=True)
            diff = ", ".join(f"{k} {a} (central directory: {b})" for k, a, b in pairs if a != b)
            raise _refuse(f"{where} disagrees with the central directory: {diff}")
        if name_len != len(e.name) or raw[_LOCAL.size :] != e.name.encode("ascii"):
            raise _refuse(f"{where} names another file ({raw[_LOCAL.size :][:80]!r})")
        if extra_len:
            raise _refuse(f"{where} carries {extra_len} bytes of extra fields; bundles have none there")
        entries.append(e)
    return tuple(entries)


# --------------------------------------------------------------------------- reading a member


class _MemberReader(io.RawIOBase):
    """The bytes of one member, decompressed with bounded output, checked at the end."""

    def __init__(self, f: IO[bytes], entry: Entry) -> None:
        self._f = f
        self._e = entry
        self._next = entry.data_offset  # the next compressed byte to read
        self._end = entry.data_offset + entry.compressed_size
        self._out = 0
        self._crc = 0
        self._d = zlib.decompressobj(-15) if entry.method == DEFLATED else None
        self._tail = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _fail(self, what: str) -> BundleFormatError:
        # Callers name the member (``<name> is damaged inside the ZIP file: <what>``).
        return BundleFormatError(what)

    def _input(self, n: int) -> bytes:
        want = min(n, self._end - self._next)
        if want <= 0:
            return b""
        self._f.seek(self._next)
        data = self._f.read(want)
        if len(data) != want:
            raise self._fail("the bundle file ends inside it")
        self._next += want
        return data

    def _inflate(self, limit: int) -> bytes:
        """Up to ``limit`` decompressed bytes; empty only at the end of the stream or when input runs out."""
        assert self._d is not None
        d = self._d
        while not d.eof:
            data = self._tail or self._input(CHUNK)
            try:
                out = d.decompress(data, limit)  # data may be empty: zlib can still hold output
            except zlib.error as e:
                raise self._fail(f"its compressed data is corrupt ({e})") from e
            self._tail = d.unconsumed_tail
            if out:
                return out
            if not data:
                break
        return b""

    def _produce(self, want: int) -> bytes:
        if self._d is None:
            return self._input(want)
        out = self._inflate(want)
        if not out:
            if self._d.eof:
                raise self._fail(f"its compressed data ends after {self._out} of the {self._e.size} bytes declared")
            raise self._fail("its compressed data is cut short")
        return out

    def _finish(self) -> None:
        """After the declared size: the compressed stream must end exactly here, and the CRC-32 match."""
        if self._d is not None:
            if self._inflate(1):
                raise self._fail(f"it holds more than the {self._e.size} bytes declared")
            if not self._d.eof:
                raise self._fail("its compressed data is cut short")
            if self._d.unused_data or self._tail or self._next != self._end:
                raise self._fail("bytes follow the end of its compressed data")
        elif self._next != self._end:
            raise self._fail("its stored size does not match")
        if self._crc != self._e.crc:
            raise self._fail(
                f"its CRC-32 is {self._crc:08x} but the ZIP directory records {self._e.crc:08x} (its bytes were "
                "changed)"
            )
        self._done = True

    def readinto(self, b: WriteableBuffer) -> int:
        if self._done:
            return 0
        remaining = self._e.size - self._out
        if remaining == 0:
            self._finish()
            return 0
        view = memoryview(b).cast("B")
        n = min(len(view), remaining)
        if n == 0:
            return 0
        if self._d is None:  # stored: read straight into the caller's buffer
            n = min(n, CHUNK * 4)
            self._f.seek(self._next)
            got = self._f.readinto(view[:n])  # type: ignore[attr-defined]
            if got != n:
                raise self._fail("the bundle file ends inside it")
            self._next += n
            data: memoryview | bytes = view[:n]
        else:
            data = self._produce(n)
            view[: len(data)] = data
        self._crc = zlib.crc32(data, self._crc)
        self._out += len(data)
        if self._out == self._e.size:
            self._finish()  # before handing out the last bytes
        return len(data)


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class _Written:
    name: str
    method: int
    crc: int
    compressed_size: int
    size: int
    offset: int


class ZipWriter:
    """Writes the only ZIP layout :class:`Container` accepts, to a seekable file opened for writing.

    Each member is written as a local header, then its data (stored, or raw deflate at
    :data:`DEFLATE_LEVEL`), with no data descriptor: the header is completed by seeking
    back. A member asked to be deflated is stored instead when deflate would not make it
    smaller, or would expand more than the reader accepts. Times are 1980-01-01 00:00:00,
    modes 0644, so the same inputs give the same bytes (for one zlib version).
    """

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self._written: list[_Written] = []
        self._total = 0

    def add(self, name: str, source: Path | bytes, *, deflate: bool) -> None:
        if not valid_name(name):
            raise BundleFormatError(f"cannot write a bundle member named {name!r}: not a plain file name")
        if len(self._written) >= MAX_MEMBERS:
            raise BundleFormatError(f"a bundle holds at most {MAX_MEMBERS} files")
        f = self._f
        offset = f.tell()
        raw_name = name.encode("ascii")
        f.write(bytes(_LOCAL.size) + raw_name)
        data_at = f.tell()
        method = STORED
        if deflate:
            crc, size, csize = self._copy(source, zlib.compressobj(DEFLATE_LEVEL, zlib.DEFLATED, -15))
            method = DEFLATED
            if csize >= size or (size > RATIO_FLOOR and size > MAX_RATIO * csize):
                f.seek(data_at)
                f.truncate()
                method = STORED
        if method == STORED:
            crc, size, csize = self._copy(source, None)
        if size > MAX_MEMBER_BYTES:
            raise BundleFormatError(
                f"{name} is {size} bytes, more than the {MAX_MEMBER_BYTES} bytes a bundle member may have"
            )
        self._total += size
        if self._total > MAX_TOTAL_BYTES:
            raise BundleFormatError(f"the bundle's files exceed {MAX_TOTAL_BYTES} bytes in all")
        end = f.tell()
        f.seek(offset)
        f.write(_LOCAL.pack(SIG_LOCAL, VERSION, 0, method, ZIP_TIME, ZIP_DATE, crc, csize, size, len(raw_name), 0))
        f.seek(end)
        self._written.append(_Written(name, method, crc, csize, size, offset))

    def _copy(self, source: Path | bytes, comp: zlib._Compress | None) -> tuple[int, int, int]:
        """Write ``source`` (through ``comp`` if given); return its CRC-32, size and written size."""
        crc = size = csize = 0
        with io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb") as src:
            while chunk := src.read(CHUNK):
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                out = comp.compress(chunk) if comp is not None else chunk
                self._f.write(out)
                csize += len(out)
        if comp is not None:
            out = comp.flush()
            self._f.write(out)
            csize += len(out)
        return crc, size, csize

    def finish(self) -> None:
        """Write the central directory and the end record(s)."""
        if not self._written:
            raise BundleFormatError("a bundle must hold at least one file")
        clash = _name_conflicts([w.name for w in self._written])
        if clash:
            raise BundleFormatError(f"cannot write the bundle: {clash}")
        f = self._f
        cd_offset = f.tell()
        for w in self._written:
            raw_name = w.name.encode("ascii")
            zip64 = w.offset > ZIP64_LIMIT
            version = VERSION_ZIP64 if zip64 else VERSION
            extra = _ZIP64_EXTRA.pack(1, 8, w.offset) if zip64 else b""
            f.write(
                _CENTRAL.pack(
                    SIG_CENTRAL,
                    HOST_UNIX << 8 | version,
                    version,
                    0,
                    w.method,
                    ZIP_TIME,
                    ZIP_DATE,
                    w.crc,
                    w.compressed_size,
                    w.size,
                    len(raw_name),
                    len(extra),
                    0,
                    0,
                    0,
                    FILE_MODE << 16,
                    0xFFFFFFFF if zip64 else w.offset,
                )
                + raw_name
                + extra
            )
        cd_end = f.tell()
        count, cd_size = len(self._written), cd_end - cd_offset
        if count > COUNT_LIMIT or cd_offset > ZIP64_LIMIT or cd_size > ZIP64_LIMIT:
            f.write(
                _EOCD64.pack(
                    SIG_EOCD64, _EOCD64.size - 12, VERSION_ZIP64, VERSION_ZIP64, 0, 0, count, count, cd_size, cd_offset
                )
            )
            f.write(_LOC64.pack(SIG_LOC64, 0, cd_end, 1))
        f.write(
            _EOCD.pack(
                SIG_EOCD,
                0,
                0,
                min(count, COUNT_LIMIT),
                min(count, COUNT_LIMIT),
                min(cd_size, 0xFFFFFFFF),
                min(cd_offset, 0xFFFFFFFF),
                0,
            )
        )
