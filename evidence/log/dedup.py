"""The log's de-duplication index: leaf-hash prefix -> index, as sorted runs on disk.

Derived data (``.state/dedup/``): it only lets ``Log.append`` give an entry that is already
in the log its existing index without reading every tile. Everything in it is rebuilt from
the level-0 tiles when it is missing, behind, ahead of or damaged relative to the signed
checkpoint, and every hit is confirmed against the full leaf hash in the tiles.

Layout: each file ``r-<start>-<end>-<crc>.run`` covers the entries ``start..end-1``. It
holds ``n = end - start`` little-endian signed 64-bit keys (the first 8 bytes of each leaf
hash, big-endian, as a signed integer) in ascending order, followed by the ``n`` indices in
the same order. The runs cover ``0..covered-1`` without gaps; anything else found in the
directory (left by a crash) is deleted. A new batch becomes a new run; adjacent runs of
similar size are merged, so a log of ``N`` entries has ``O(log N)`` runs (runs stop growing
at ``MAX_RUN`` entries to bound the memory a merge needs) and an entry is rewritten
``O(log N)`` times over its life. Runs are written under a temporary name and renamed
before any run they replace is deleted, without fsync: ``<crc>`` is the CRC-32 of the
file's bytes (8 hex digits), checked the first time a process maps a run it did not write,
so a run that a power loss left empty or damaged is dropped (with every later one) and
rebuilt from the tiles, never used.

A lookup is a binary search of the sorted batch in each run (numpy, vectorised); the runs
are memory-mapped and their pages released after each use, so the process's memory stays
flat as the log grows (the kernel's page cache keeps the hot pages).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from evidence._internal.files import open_regular
from evidence.errors import LogCorruptError

MAX_RUN = 1 << 21  # entries: a merge of two runs needs ~80 MiB at most
_I8 = np.dtype("<i8")

Keys = npt.NDArray[np.int64]


def keys_of(hashes: Sequence[bytes]) -> Keys:
    """The de-duplication keys of 32-byte leaf hashes (first 8 bytes, big-endian, signed)."""
    raw = b"".join(hashes)
    if len(raw) != 32 * len(hashes):
        raise ValueError("leaf hashes are 32 bytes each")
    return np.frombuffer(raw, dtype=">i8")[::4].astype(_I8)


@dataclass(frozen=True)
class _RunName:
    start: int
    end: int
    nonce: str

    @property
    def file(self) -> str:
        return f"r-{self.start}-{self.end}-{self.nonce}.run"

    @classmethod
    def parse(cls, name: str) -> _RunName | None:
        parts = name.split("-")
        if len(parts) != 4 or parts[0] != "r" or not name.endswith(".run"):
            return None
        try:
            start, end = int(parts[1]), int(parts[2])
        except ValueError:
            return None
        if start < 0 or end <= start:
            return None
        return cls(start, end, parts[3][: -len(".run")])


class _Run:
    """One run, memory-mapped read-only."""

    def __init__(self, path: Path, name: _RunName, *, check: bool) -> None:
        self.name = name
        n = name.end - name.start
        with open_regular(path, what="de-duplication index", error=LogCorruptError) as f:
            size = os.fstat(f.fileno()).st_size
            if size != 16 * n:
                raise ValueError(f"{path.name}: {size} bytes, expected {16 * n}")
            self._mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        self.n = n
        if check and f"{zlib.crc32(self._mm):08x}" != name.nonce:
            self.close()
            raise ValueError(f"{path.name}: its bytes do not match its CRC-32")
        self.release()

    def keys(self) -> Keys:
        return np.frombuffer(self._mm, dtype=_I8, count=self.n)

    def indices(self) -> Keys:
        return np.frombuffer(self._mm, dtype=_I8, count=self.n, offset=8 * self.n)

    def release(self) -> None:
        """Drop this process's mapped pages (they stay in the page cache)."""
        with contextlib.suppress(OSError, ValueError, AttributeError):
            self._mm.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        with contextlib.suppress(BufferError):
            self._mm.close()


class DedupIndex:
    """Leaf-hash prefix -> index over sorted runs in a directory. Caller serialises access."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._runs: dict[str, _Run] = {}
        self._written: set[str] = set()  # runs this object wrote: their bytes need no check

    # -------------------------------------------------------------- the runs on disk
    def _scan(self) -> list[_Run]:
        """The runs covering 0..covered-1 in order; deletes leftovers; maps new files."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            names = []
        parsed: list[_RunName] = []
        junk: list[str] = []
        for fname in names:
            rn = _RunName.parse(fname)
            if rn is None:
                junk.append(fname)
            else:
                parsed.append(rn)
        parsed.sort(key=lambda r: (r.start, -r.end))
        chosen: list[_RunName] = []
        pos = 0
        for rn in parsed:
            if rn.start == pos:
                chosen.append(rn)
                pos = rn.end
            else:
                junk.append(rn.file)  # covered by a merged run, overlapping, or after a gap
        runs: list[_Run] = []
        for i, rn in enumerate(chosen):
            run = self._runs.get(rn.file)
            if run is None:
                try:
                    run = _Run(self.path / rn.file, rn, check=rn.file not in self._written)
                except (OSError, ValueError, LogCorruptError):  # a FIFO or device is damage too
                    junk.extend(r.file for r in chosen[i:])  # damaged: cover only what precedes it
                    break
                self._runs[rn.file] = run
            runs.append(run)
        keep = {r.name.file for r in runs}
        self._written &= set(names)
        for fname in list(self._runs):
            if fname not in keep:
                self._runs.pop(fname).close()
        for fname in junk:
            if fname not in keep:
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    os.unlink(self.path / fname)
        return runs

    def _write_run(self, start: int, keys: Keys, indices: Keys) -> None:
        data = keys.astype(_I8, copy=False).tobytes() + indices.astype(_I8, copy=False).tobytes()
        rn = _RunName(start, start + len(keys), f"{zlib.crc32(data):08x}")
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.path / f".{rn.file}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, self.path / rn.file)
        self._written.add(rn.file)

    def _merge(self) -> None:
        """Merge trailing runs of similar size (a binary counter), up to ``MAX_RUN`` entries."""
        while True:
            runs = self._scan()
            if len(runs) < 2:
                return
            a, b = runs[-2], runs[-1]
            if a.n > 2 * b.n or a.n + b.n > MAX_RUN:
                return
            keys = np.concatenate([a.keys(), b.keys()])
            order = np.argsort(keys, kind="stable")  # two sorted runs: a linear merge
            indices = np.concatenate([a.indices(), b.indices()])[order]
            keys = keys[order]
            self._write_run(a.name.start, keys, indices)
            del order, keys, indices
            for r in (a, b):
                r.release()
            # The next _scan() finds the merged run covering both inputs and deletes them.

    # -------------------------------------------------------------- the interface
    def covered(self) -> int:
        runs = self._scan()
        return runs[-1].name.end if runs else 0

    def lookup(self, hashes: Sequence[bytes]) -> dict[int, int]:
        """Candidate indices by key (to be confirmed against the tiles)."""
        return self._lookup(self._scan(), np.unique(keys_of(hashes)))

    def _lookup(self, runs: Sequence[_Run], keys: Keys) -> dict[int, int]:
        found: dict[int, int] = {}
        if not len(keys):
            return found
        for run in runs:
            rk = run.keys()
            pos = np.searchsorted(rk, keys)
            np.minimum(pos, run.n - 1, out=pos)
            hit = rk[pos] == keys
            if hit.any():
                idx = run.indices()[pos[hit]]
                for k, i in zip(keys[hit].tolist(), idx.tolist(), strict=True):
                    found.setdefault(k, i)
            del rk, pos, hit
            run.release()
        return found

    def insert_if_new(self, hashes: Sequence[bytes], start: int) -> bool:
        """Add ``hashes`` as the entries ``start..`` only if no key is present yet; say whether it did."""
        if not hashes:
            return True
        runs = self._scan()
        keys = keys_of(hashes)
        order = np.argsort(keys, kind="stable")
        skeys = keys[order]
        if len(skeys) > 1 and bool((skeys[1:] == skeys[:-1]).any()):
            return False  # two keys alike within the batch: let the caller sort it out
        if self._lookup(runs, skeys):
            return False
        self._add(runs, start, skeys, order.astype(_I8) + start)
        return True

    def insert(self, hashes: Sequence[bytes], start: int) -> None:
        """Add ``hashes`` as the entries ``start..`` (keys already present are kept too)."""
        if not hashes:
            return
        keys = keys_of(hashes)
        order = np.argsort(keys, kind="stable")
        self._add(self._scan(), start, keys[order], order.astype(_I8) + start)

    def _add(self, runs: Sequence[_Run], start: int, keys: Keys, indices: Keys) -> None:
        covered = runs[-1].name.end if runs else 0
        if start != covered:
            raise ValueError(f"the de-duplication index covers {covered} entries, not {start}")
        self._write_run(start, keys, indices)
        self._merge()

    def truncate(self, size: int) -> None:
        """Forget the entries ``size..``."""
        for run in self._scan():
            rn = run.name
            if rn.end <= size:
                continue
            if rn.start < size:
                keep = run.indices() < size
                self._write_run(rn.start, run.keys()[keep], run.indices()[keep])
            self._runs.pop(rn.file).close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path / rn.file)
        self._scan()

    def reset(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            for fname in os.listdir(self.path):
                with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                    os.unlink(self.path / fname)

    def close(self) -> None:
        for run in self._runs.values():
            run.close()
        self._runs.clear()
