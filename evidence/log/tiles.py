"""C2SP tlog-tiles (v0.1.0) layout and tile math (pure: no I/O).

- Tiles have height 8 (256 hashes). Tile ``n`` at level ``l`` holds, at position ``i``, the
  hash of the perfect subtree of ``256**l`` leaves that starts at leaf
  ``(n*256 + i) * 256**l``. Level-0 tiles hold leaf hashes.
- Paths: ``tile/<l>/<N>[.p/<W>]`` and ``tile/entries/<N>[.p/<W>]``, where ``N`` is written in
  3-digit groups, each but the last prefixed with ``x`` (``1234067`` -> ``x001/x234/067``),
  and ``W`` (1..255) marks a partial tile.
- Entry bundles: each entry is ``uint16 BE length || bytes``.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from evidence import merkle
from evidence.errors import EntryTooLargeError, FormatError, LogCorruptError

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_ENTRY_SIZE = 0xFFFF
MAX_LEVEL = 63
HASH = merkle.HASH_SIZE


def encode_index(n: int) -> str:
    """``1234067`` -> ``x001/x234/067``; ``0`` -> ``000``."""
    if n < 0:
        raise ValueError("tile index must be non-negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile_path(level: int, n: int, width: int = TILE_WIDTH) -> str:
    """The path of hash tile ``n`` at ``level``; ``width`` < 256 makes it partial."""
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"tile level {level} out of range")
    return f"tile/{level}/{encode_index(n)}{_partial(width)}"


def entries_path(n: int, width: int = TILE_WIDTH) -> str:
    """The path of entry bundle ``n``; ``width`` < 256 makes it partial."""
    return f"tile/entries/{encode_index(n)}{_partial(width)}"


def _partial(width: int) -> str:
    if width in (0, TILE_WIDTH):
        return ""
    if not 1 <= width < TILE_WIDTH:
        raise ValueError(f"tile width {width} out of range")
    return f".p/{width}"


_PATH_RE = re.compile(r"^tile/(entries|0|[1-9][0-9]?)/((?:x\d{3}/)*\d{3})(?:\.p/([1-9][0-9]{0,2}))?$")


@dataclass(frozen=True)
class TileId:
    """A tile's coordinates: ``level`` is -1 for an entry bundle; ``width`` 256 when full."""

    level: int
    n: int
    width: int

    @property
    def path(self) -> str:
        if self.level < 0:
            return entries_path(self.n, self.width)
        return tile_path(self.level, self.n, self.width)


def parse_tile_path(path: str) -> TileId:
    """Parse a tile or entry-bundle path strictly (FormatError otherwise)."""
    m = _PATH_RE.match(path)
    if not m:
        raise FormatError(f"{path!r} is not a tlog-tiles path")
    level_s, index_s, width_s = m.groups()
    level = -1 if level_s == "entries" else int(level_s)
    if level > MAX_LEVEL:
        raise FormatError(f"{path!r}: level above {MAX_LEVEL}")
    n = int(index_s.replace("x", "").replace("/", ""))
    if n >= 1 << 64:
        raise FormatError(f"{path!r}: tile index does not fit in 64 bits")
    width = int(width_s) if width_s else TILE_WIDTH
    if width_s and width >= TILE_WIDTH:
        raise FormatError(f"{path!r}: partial width must be 1..255")
    tid = TileId(level, n, width)
    if tid.path != path:
        raise FormatError(f"{path!r} is not in canonical form")
    return tid


def level_width(level: int, size: int) -> int:
    """How many hashes level ``level`` has in total for a tree of ``size`` leaves."""
    return size >> (TILE_HEIGHT * level)


def tile_width(level: int, n: int, size: int) -> int:
    """The width of tile ``n`` at ``level`` for a tree of ``size`` (0 if absent)."""
    total = level_width(level, size)
    return max(0, min(TILE_WIDTH, total - n * TILE_WIDTH))


def tiles_for_size(size: int) -> Iterator[TileId]:
    """Every hash tile (full and partial) a tree of ``size`` leaves needs, bottom-up."""
    level = 0
    while True:
        total = level_width(level, size)
        if total == 0:
            return
        for n in range((total + TILE_WIDTH - 1) // TILE_WIDTH):
            yield TileId(level, n, tile_width(level, n, size))
        level += 1


def bundles_for_size(size: int) -> Iterator[TileId]:
    """Every entry bundle (full and partial) a tree of ``size`` leaves has."""
    for n in range((size + TILE_WIDTH - 1) // TILE_WIDTH):
        yield TileId(-1, n, tile_width(0, n, size))


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """Serialise entries as ``uint16 BE length || bytes`` each."""
    if any(len(e) > MAX_ENTRY_SIZE for e in entries):
        e = next(e for e in entries if len(e) > MAX_ENTRY_SIZE)
        raise EntryTooLargeError(
            f"an entry of {len(e)} bytes exceeds the 65,535-byte limit of tlog-tiles; "
            "log a digest of large data, not the data itself"
        )
    return b"".join([len(e).to_bytes(2, "big") + e for e in entries])


def decode_bundle(data: bytes, width: int | None = None) -> list[bytes]:
    """Parse an entry bundle; check it holds exactly ``width`` entries when given."""
    entries: list[bytes] = []
    pos, end = 0, len(data)
    while pos < end:
        if pos + 2 > end:
            raise LogCorruptError("an entry bundle ends in the middle of a length prefix (truncated file)")
        n = int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        if pos + n > end:
            raise LogCorruptError("an entry bundle ends in the middle of an entry (truncated file)")
        entries.append(data[pos : pos + n])
        pos += n
    if width is not None and len(entries) != width:
        raise LogCorruptError(f"an entry bundle holds {len(entries)} entries where {width} were expected")
    return entries


def split_hashes(data: bytes, width: int | None = None) -> list[bytes]:
    """Split a tile into its 32-byte hashes, checking its length."""
    if len(data) % HASH:
        raise LogCorruptError(f"a tile of {len(data)} bytes is not a whole number of 32-byte hashes (truncated?)")
    if width is not None and len(data) != width * HASH:
        raise LogCorruptError(f"a tile holds {len(data) // HASH} hashes where {width} were expected")
    return [data[i : i + HASH] for i in range(0, len(data), HASH)]


def tile_levels(data: bytes) -> list[bytes]:
    """All internal levels of a tile: level 0 is the tile itself, each next one halves.

    Each level is one bytes object of concatenated hashes; the odd last node is not carried
    (only perfect subtrees are ever read from a tile).
    """
    levels = [data]
    cur = data
    while len(cur) >= 2 * HASH:
        out = []
        for i in range(0, len(cur) - 2 * HASH + 1, 2 * HASH):
            h = _NODE_PREFIX.copy()  # copying the hashed 0x01 prefix beats hashing b"\x01" + pair
            h.update(cur[i : i + 2 * HASH])
            out.append(h.digest())
        cur = b"".join(out)
        levels.append(cur)
    return levels


_NODE_PREFIX = hashlib.sha256(b"\x01")


def tile_root(data: bytes) -> bytes:
    """The root of a full tile (the hash stored one level up)."""
    if len(data) != TILE_WIDTH * HASH:
        raise ValueError("only full tiles have a root in the level above")
    return tile_levels(data)[-1]


#: ``fetch(level, n, width)`` returns the bytes of a tile (width hashes).
TileFetch = Callable[[int, int, int], bytes]


class TileHashReader:
    """Hashes of perfect subtrees of a tree of ``size``, read from its tiles.

    ``perfect(height, index)`` is what :mod:`evidence.merkle` builds proofs from. Tiles and
    their internal levels are cached (bounded), so repeated proofs reuse work.
    """

    def __init__(self, size: int, fetch: TileFetch, cache_tiles: int = 256) -> None:
        self.size = size
        self._fetch = fetch
        self._cache: dict[tuple[int, int], list[bytes]] = {}
        self._cache_max = cache_tiles
        self._lock = threading.Lock()  # the cache may be shared by threads

    def _levels(self, level: int, n: int) -> list[bytes]:
        key = (level, n)
        got = self._cache.get(key)
        if got is None:
            width = tile_width(level, n, self.size)
            if width == 0:
                raise LogCorruptError(f"asked for tile {level}/{n}, which a tree of size {self.size} does not have")
            data = self._fetch(level, n, width)
            if len(data) != width * HASH:
                raise LogCorruptError(
                    f"the tile {tile_path(level, n, width)} holds {len(data)} bytes, not {width * HASH}"
                )
            got = tile_levels(data)
            with self._lock:
                if len(self._cache) >= self._cache_max:
                    self._cache.pop(next(iter(self._cache)), None)
                self._cache[key] = got
        return got

    def perfect(self, height: int, index: int) -> bytes:
        level, r = divmod(height, TILE_HEIGHT)
        first = index << r  # position of the subtree's first hash among level-`level` hashes
        got = self._cache.get((level, first >> TILE_HEIGHT)) or self._levels(level, first >> TILE_HEIGHT)
        data = got[r]
        pos = ((first & (TILE_WIDTH - 1)) >> r) * HASH
        if pos + HASH > len(data):
            raise LogCorruptError(f"the tree of size {self.size} has no subtree at height {height}, index {index}")
        return data[pos : pos + HASH]

    def root(self) -> bytes:
        if self.size == 0:
            return merkle.EMPTY_ROOT
        return merkle.range_hash(self.perfect, 0, self.size)

    def inclusion_proof(self, index: int) -> list[bytes]:
        return merkle.inclusion_proof(self.perfect, index, self.size)

    def consistency_proof(self, old_size: int) -> list[bytes]:
        return merkle.consistency_proof(self.perfect, old_size, self.size)
