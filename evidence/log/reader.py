"""Read any C2SP tlog-tiles log (a directory or an HTTP base URL): proofs and audits.

The reader trusts nothing it fetches: the checkpoint must verify against a key the caller
supplies, and every hash is recomputed from the entries upwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evidence import merkle
from evidence.checkpoint import Checkpoint, SignedCheckpoint, TlogProof
from evidence.errors import AuditError, EvidenceError, FormatError, LogCorruptError, LogError, SignatureError
from evidence.log import tiles
from evidence.log.storage import DirectoryStorage, Storage, open_storage, read_tile
from evidence.note import ALG_COSIGNATURE_V1, ALG_ED25519, Verifier, open_note

Progress = Callable[[str], None]

#: The key types that can vouch for a checkpoint in an audit: the log's own signature
#: (c2sp.org/signed-note, Ed25519) and a cosignature (c2sp.org/tlog-cosignature/v1, the
#: signature of a witness, or of a mirror, which serves a log's tiles under its own key).
AUDIT_KEY_TYPES = {ALG_ED25519: "Ed25519 log key (0x01)", ALG_COSIGNATURE_V1: "cosignature/v1 key (0x04)"}


def verify_signed_by(signed: SignedCheckpoint, keys: Sequence[Verifier], *, origin: str | None = None) -> list[str]:
    """Check that at least one of ``keys`` signed or cosigned ``signed``; return who did.

    Unlike :meth:`SignedCheckpoint.verify` (which wants the log's own key), a cosignature
    key counts too: a mirror of a tlog-tiles log serves the log's checkpoint cosigned by
    the mirror, possibly without the log's signature the auditor can check. A given key
    whose signature line is present but does not verify rejects the checkpoint.
    """
    if origin is not None and signed.checkpoint.origin != origin:
        raise SignatureError(f"the checkpoint is for the log {signed.checkpoint.origin!r}, not {origin!r}")
    usable = [k for k in keys if k.key_type in AUDIT_KEY_TYPES]
    if not usable:
        raise SignatureError(
            "none of the keys given can check a checkpoint: give the log's key or a mirror's or witness's "
            f"cosignature key ({' or '.join(AUDIT_KEY_TYPES.values())})"
        )
    verified = open_note(signed.note, usable)
    return [f"{v.name} ({AUDIT_KEY_TYPES[v.key_type]})" for v, _ in verified.verified]


class LogReader:
    """Proofs and entries of a tlog-tiles log, computed from its tiles alone."""

    def __init__(
        self, location: str | Storage, cache: int = 1024, cache_bytes: int = 64 << 20
    ) -> None:
        self.storage = open_storage(location) if isinstance(location, str) else location
        self._cache: dict[tuple[int, int, int], bytes] = {}
        self._cache_max = cache
        # Entry bundles can be 16 MiB each: the cache is bounded in bytes too, not only in files.
        self._cache_bytes_max = cache_bytes
        self._cache_bytes = 0

    def _cached(self, key: tuple[int, int, int], load: Callable[[], bytes]) -> bytes:
        got = self._cache.get(key)
        if got is None:
            got = load()
            while self._cache and (
                len(self._cache) >= self._cache_max or self._cache_bytes + len(got) > self._cache_bytes_max
            ):
                self._cache_bytes -= len(self._cache.pop(next(iter(self._cache))))
            self._cache[key] = got
            self._cache_bytes += len(got)
        return got

    def signed_checkpoint(self, keys: Sequence[Verifier], origin: str | None = None) -> SignedCheckpoint:
        """The log's current checkpoint, verified against ``keys``."""
        raw = self.storage.read("checkpoint")
        if raw is None:
            raise LogError(f"{self.storage.describe()} has no checkpoint: it is not a tlog-tiles log")
        signed = SignedCheckpoint.parse(raw)
        signed.verify(keys, origin=origin)
        return signed

    def fetch_tile(self, level: int, n: int, width: int) -> bytes:
        """A tile's bytes (falling back to a prefix of the full tile), length-checked."""
        return self._cached((level, n, width), lambda: self._load_tile(level, n, width))

    def _load_tile(self, level: int, n: int, width: int) -> bytes:
        path = tiles.tile_path(level, n, width)
        raw = read_tile(self.storage, level, n, width)
        if raw is None:
            raise AuditError(f"the tile {path} is missing from {self.storage.describe()}")
        if len(raw) != width * tiles.HASH:
            raise AuditError(
                f"the tile {path} is {len(raw)} bytes long where {width * tiles.HASH} were expected "
                "(truncated or padded)"
            )
        return raw

    def fetch_bundle(self, n: int, width: int) -> list[bytes]:
        """An entry bundle's entries (falling back to a prefix of the full bundle)."""
        raw = self._cached((-1, n, width), lambda: tiles.encode_bundle(self._load_bundle(n, width)))
        return tiles.decode_bundle(raw)

    def _load_bundle(self, n: int, width: int) -> list[bytes]:
        path = tiles.entries_path(n, width)
        raw = self.storage.read(path)
        if raw is None and width < tiles.TILE_WIDTH:
            full = self.storage.read(tiles.entries_path(n))
            if full is not None:
                return _decode(full, path)[:width]
        if raw is None:
            raise AuditError(f"the entry bundle {path} is missing from {self.storage.describe()}")
        entries = _decode(raw, path)
        if len(entries) != width:
            raise AuditError(f"the entry bundle {path} holds {len(entries)} entries where {width} were expected")
        return entries

    def hashes(self, size: int) -> tiles.TileHashReader:
        return tiles.TileHashReader(size, self.fetch_tile)

    def prove(self, index: int, signed: SignedCheckpoint) -> TlogProof:
        """A tlog-proof for entry ``index`` against an already verified checkpoint."""
        size = signed.checkpoint.size
        proof = self.hashes(size).inclusion_proof(index)
        return TlogProof(index, tuple(proof), signed.to_bytes())


def _decode(raw: bytes, path: str) -> list[bytes]:
    try:
        return tiles.decode_bundle(raw)
    except LogCorruptError as e:
        raise AuditError(f"the entry bundle {path} is damaged: {e.message}") from e


@dataclass(frozen=True)
class AuditReport:
    """What an audit checked; it raises on the first discrepancy instead of returning."""

    location: str
    checkpoint: Checkpoint
    entries: int
    tiles: int
    bundles: int
    partials: int
    history: int
    #: The given keys that signed or cosigned the checkpoint.
    signed_by: tuple[str, ...] = ()

    def summary(self) -> str:
        cp = self.checkpoint
        who = f" (signed by {', '.join(self.signed_by)})" if self.signed_by else ""
        return (
            f"The log {cp.origin!r} at {self.location} is intact: {_count(cp.size, 'entry', 'entries')}, root "
            f"{cp.root_hash.hex()}.\nChecked {_count(self.entries, 'entry', 'entries')} in "
            f"{_count(self.bundles, 'entry bundle', 'entry bundles')}, "
            f"{_count(self.tiles, 'hash tile', 'hash tiles')}, "
            f"{_count(self.partials, 'older partial tile', 'older partial tiles')} and "
            f"{_count(self.history, 'older checkpoint', 'older checkpoints')} against the signed checkpoint{who}."
        )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def audit(
    location: str, keys: Sequence[Verifier], *, origin: str | None = None, progress: Progress | None = None
) -> AuditReport:
    """Recompute every entry bundle and tile of a log and check them against its checkpoint.

    Raises :class:`AuditError` naming the first file that disagrees, or
    :class:`SignatureError` when the checkpoint is not signed by ``keys``.
    """
    reader = LogReader(location)
    try:
        return _audit(reader, keys, origin, progress)
    except LogCorruptError as e:
        # A file that is not a regular file, or larger than what it is can be (a FIFO, a
        # link to /dev/zero, a sparse file of gigabytes): the log is not intact.
        raise AuditError(f"the log cannot be audited: {e.message}") from e
    finally:
        close = getattr(reader.storage, "close", None)
        if close is not None:
            close()


def _audit(
    reader: LogReader, keys: Sequence[Verifier], origin: str | None, progress: Progress | None
) -> AuditReport:
    raw = reader.storage.read("checkpoint")
    if raw is None:
        raise LogError(f"{reader.storage.describe()} has no checkpoint: it is not a tlog-tiles log")
    try:
        signed = SignedCheckpoint.parse(raw)
    except FormatError as e:
        raise AuditError(f"the log's checkpoint is malformed: {e.message}") from e
    signed_by = verify_signed_by(signed, keys, origin=origin)
    cp = signed.checkpoint
    size = cp.size
    width = tiles.TILE_WIDTH
    # Hashes recomputed for each level, awaiting a full tile; memory stays O(levels * 256).
    pending: list[list[bytes]] = []
    n_tiles = n_bundles = 0

    def push(level: int, h: bytes, tile_index: int) -> None:
        nonlocal n_tiles
        while len(pending) <= level:
            pending.append([])
        pending[level].append(h)
        if len(pending[level]) == width:
            data = b"".join(pending[level])
            stored = reader.fetch_tile(level, tile_index, width)
            _compare_tile(stored, data, tiles.tile_path(level, tile_index), level)
            n_tiles += 1
            pending[level] = []
            push(level + 1, tiles.tile_root(data), tile_index // width)

    for tid in tiles.bundles_for_size(size):
        entries = reader.fetch_bundle(tid.n, tid.width)
        n_bundles += 1
        for entry in entries:
            push(0, merkle.leaf_hash(entry), tid.n)
        if progress and tid.n and tid.n % 256 == 0:
            progress(f"checked {tid.n * width + len(entries)} of {size} entries")
    # The partial tiles at the right edge.
    for level, hashes in enumerate(pending):
        if hashes:
            n = tiles.level_width(level, size) // width
            stored = reader.fetch_tile(level, n, len(hashes))
            _compare_tile(stored, b"".join(hashes), tiles.tile_path(level, n, len(hashes)), level)
            n_tiles += 1
    root = reader.hashes(size).root()
    if not merkle.hashes_equal(root, cp.root_hash):
        raise AuditError(f"the tiles reproduce the root {root.hex()}, but the checkpoint signs {cp.root_hash.hex()}")
    partials = _audit_partials(reader, size) if isinstance(reader.storage, DirectoryStorage) else 0
    history = _audit_history(reader, signed, keys) if isinstance(reader.storage, DirectoryStorage) else 0
    return AuditReport(reader.storage.describe(), cp, size, n_tiles, n_bundles, partials, history, tuple(signed_by))


def _compare_tile(stored: bytes, computed: bytes, path: str, level: int) -> None:
    if stored == computed:
        return
    for i in range(0, min(len(stored), len(computed)), tiles.HASH):
        if stored[i : i + tiles.HASH] != computed[i : i + tiles.HASH]:
            what = "the hash of the entry" if level == 0 else "the hash recomputed from the tiles below"
            raise AuditError(
                f"the tile {path} differs at position {i // tiles.HASH}: it stores "
                f"{stored[i : i + tiles.HASH].hex()}, but {what} is {computed[i : i + tiles.HASH].hex()}. "
                "The tile or the entries it covers were changed after they were logged."
            )
    raise AuditError(f"the tile {path} has the wrong length")


def _audit_partials(reader: LogReader, size: int) -> int:
    """Every older partial tile and bundle on disk must be a prefix of today's data."""
    assert isinstance(reader.storage, DirectoryStorage)
    root = reader.storage.root / "tile"
    count = 0
    if not root.is_dir():
        return 0
    for f in sorted(root.rglob("*")):
        if f.name.startswith(".") or f.is_dir():
            continue
        rel = f.relative_to(reader.storage.root).as_posix()
        try:
            tid = tiles.parse_tile_path(rel)
        except FormatError:
            raise AuditError(f"{rel} is not a tlog-tiles file; the log directory holds a stray file") from None
        if tid.width == tiles.TILE_WIDTH:
            continue
        raw = reader.storage.read(rel)  # type-checked and capped (a FIFO or device is refused)
        if raw is None:
            continue
        if tid.level < 0:
            current = tiles.tile_width(0, tid.n, size)
            if tid.width > current:
                continue  # written by an append that never committed; never served for a signed size
            want = reader.fetch_bundle(tid.n, current)[: tid.width]
            if _decode(raw, rel) != want:
                raise AuditError(f"the older entry bundle {rel} disagrees with the entries in the current bundle")
        else:
            current = tiles.tile_width(tid.level, tid.n, size)
            if tid.width > current:
                continue
            want_raw = reader.fetch_tile(tid.level, tid.n, current)[: tid.width * tiles.HASH]
            if raw != want_raw:
                raise AuditError(f"the older partial tile {rel} is not a prefix of the current tile")
        count += 1
    return count


def _audit_history(reader: LogReader, latest: SignedCheckpoint, keys: Sequence[Verifier]) -> int:
    """Older checkpoints kept in history/ must verify and be consistent with the latest."""
    assert isinstance(reader.storage, DirectoryStorage)
    base = reader.storage.root / "history"
    if not base.is_dir():
        return 0
    count = 0
    for f in sorted(base.rglob("checkpoint")):
        rel = f.relative_to(reader.storage.root).as_posix()
        try:
            raw = reader.storage.read(rel)  # type-checked and capped
            if raw is None:
                continue
            signed = SignedCheckpoint.parse(raw)
            verify_signed_by(signed, keys, origin=latest.checkpoint.origin)
        except EvidenceError as e:
            raise AuditError(f"the older checkpoint {rel} does not verify: {e.message}") from e
        cp = signed.checkpoint
        if cp.size > latest.checkpoint.size:
            raise AuditError(f"the older checkpoint {rel} is larger than the current one: the log went backwards")
        root = reader.hashes(cp.size).root()
        if not merkle.hashes_equal(root, cp.root_hash):
            raise AuditError(
                f"the older checkpoint {rel} signs the root {cp.root_hash.hex()}, but the log's tiles give "
                f"{root.hex()} at size {cp.size}: the log forked or its history was rewritten"
            )
        count += 1
    return count
