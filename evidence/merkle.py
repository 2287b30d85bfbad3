"""RFC 9162 §2.1 Merkle tree hashing and proofs (pure: no I/O).

- Hash: SHA-256. Leaf hash ``H(0x00 || data)``, interior node ``H(0x01 || left || right)``,
  the empty tree's root ``H("")``. The odd node is never duplicated: the tree over ``n``
  leaves splits at ``k``, the largest power of two strictly less than ``n``.
- Indices are 0-based everywhere.
- Proof lists are ordered bottom-up (the leaf's sibling first), as RFC 9162 and every
  C2SP format order them.
- Hash comparisons are constant-time (:func:`hmac.compare_digest`).

Proof *generation* is written against a function that returns the hash of any perfect
(power-of-two sized, aligned) subtree, so the same code serves an in-memory tree and a
tiled log on disk (:mod:`evidence.log.tiles`).

Consistency from size 0 (a policy choice RFC 9162 leaves open): :func:`verify_consistency`
accepts ``old_size == 0`` only with an empty proof, which is what C2SP tlog-witness
requires; the empty tree is a prefix of every tree, so there is nothing to prove. The old
root must then be the empty-tree hash. transparency-dev/merkle refuses the case instead;
:func:`verify_consistency` with ``strict_zero=True`` does the same.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from evidence._internal.words import entries
from evidence.errors import ConsistencyError, FormatError, InclusionError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: No tree this library handles can exceed 2**63 leaves (tlog-tiles sizes are int64).
MAX_TREE_SIZE = (1 << 63) - 1
#: A proof for a tree of at most 2**64 leaves has at most 64 hashes (consistency: 2x).
MAX_PROOF_HASHES = 128

_sha256 = hashlib.sha256

#: ``perfect(height, index)`` returns the hash of the perfect subtree of ``2**height``
#: leaves starting at leaf ``index * 2**height``.
PerfectHash = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    """The RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return _sha256(b"\x01" + left + right).digest()


def hashes_equal(a: bytes, b: bytes) -> bool:
    """Constant-time equality of two hashes."""
    return hmac.compare_digest(a, b)


def _split(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of_hashes(hashes: Sequence[bytes]) -> bytes:
    """Root of the RFC 9162 tree whose leaves (or equal-height subtrees) have these hashes.

    Works bottom-up (pair and carry the odd node up unchanged), which gives the same shape
    as the recursive definition. An empty sequence gives the empty-tree root.
    """
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    sha = _sha256
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def root_of_leaves(entries: Sequence[bytes]) -> bytes:
    """Root of the tree over raw entries (each is leaf-hashed first)."""
    return root_of_hashes([leaf_hash(e) for e in entries])


def _check_size_index(index: int, size: int) -> None:
    if not 0 <= size <= MAX_TREE_SIZE:
        raise InclusionError(f"tree size {size} is out of range")
    if not 0 <= index < size:
        raise InclusionError(f"leaf index {index} is not inside a tree of size {size}")


def range_hash(perfect: PerfectHash, start: int, end: int) -> bytes:
    """``MTH(D[start:end])`` for a range whose start is aligned to its own split.

    This holds for every range an inclusion or consistency proof needs: the range splits
    into perfect subtrees following the binary digits of ``end - start``, largest first.
    """
    n = end - start
    if n <= 0:
        raise ValueError("empty range")
    if n & (n - 1) == 0:  # a perfect subtree: the common case
        height = n.bit_length() - 1
        return perfect(height, start >> height)
    parts: list[bytes] = []
    pos = start
    for height in range(n.bit_length() - 1, -1, -1):
        if n >> height & 1:
            parts.append(perfect(height, pos >> height))
            pos += 1 << height
    acc = parts[-1]
    for p in reversed(parts[:-1]):
        acc = _sha256(b"\x01" + p + acc).digest()
    return acc


def inclusion_proof(perfect: PerfectHash, index: int, size: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves, bottom-up."""
    _check_size_index(index, size)
    return _audit_path(lambda start, end: range_hash(perfect, start, end), index, size)


def inclusion_proofs(perfect: PerfectHash, indices: Sequence[int], size: int) -> list[list[bytes]]:
    """The audit paths of several leaves of one tree (each as :func:`inclusion_proof` gives it).

    The subtree hashes the paths share (all of them near the root, for leaves close together)
    are computed once.
    """
    memo: dict[tuple[int, int], bytes] = {}

    def subtree(start: int, end: int) -> bytes:
        h = memo.get((start, end))
        if h is None:
            h = memo[start, end] = range_hash(perfect, start, end)
        return h

    out = []
    for index in indices:
        _check_size_index(index, size)
        out.append(_audit_path(subtree, index, size))
    return out


def _audit_path(subtree: Callable[[int, int], bytes], index: int, size: int) -> list[bytes]:
    proof: list[bytes] = []
    # Walk top-down (RFC 9162 PATH), collecting siblings, then reverse.
    start, end, m = 0, size, index
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
            start += k
            m -= k
    proof.reverse()
    return proof


def consistency_proof(perfect: PerfectHash, old_size: int, new_size: int) -> list[bytes]:
    """The RFC 9162 consistency proof from ``old_size`` to ``new_size``, bottom-up.

    Empty when ``old_size`` is 0 or equals ``new_size``.
    """
    if not 0 <= old_size <= new_size <= MAX_TREE_SIZE:
        raise ConsistencyError(
            f"cannot prove consistency from size {old_size} to size {new_size}: "
            "the old size must not exceed the new size"
        )
    if old_size == 0 or old_size == new_size:
        return []
    proof: list[bytes] = []
    # RFC 9162 SUBPROOF(m, D[start:end], b), iteratively; output reversed at the end.
    m, start, end, complete = old_size, 0, new_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(range_hash(perfect, start, end))
            break
        k = _split(n)
        if m <= k:
            proof.append(range_hash(perfect, start + k, end))
            end = start + k
        else:
            proof.append(range_hash(perfect, start, start + k))
            start += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def _check_proof_hashes(proof: Sequence[bytes], err: type[InclusionError | ConsistencyError]) -> None:
    if len(proof) > MAX_PROOF_HASHES:
        raise err(f"the proof has {len(proof)} hashes; no valid proof has more than 128")
    for i, h in enumerate(proof):
        if len(h) != HASH_SIZE:
            raise err(f"proof hash #{i} is {len(h)} bytes long, not {HASH_SIZE}")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root implied by an inclusion proof (RFC 9162 §2.1.3.2), or InclusionError."""
    _check_size_index(index, size)
    if len(leaf) != HASH_SIZE:
        raise InclusionError(f"the leaf hash is {len(leaf)} bytes long, not {HASH_SIZE}")
    _check_proof_hashes(proof, InclusionError)
    fn, sn, r = index, size - 1, leaf
    sha = _sha256
    for p in proof:
        if sn == 0:
            raise InclusionError(f"the inclusion proof has {len(proof)} hashes, more than a tree of size {size} needs")
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha(b"\x01" + r + p).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise InclusionError(f"the inclusion proof has {len(proof)} hashes, fewer than a tree of size {size} needs")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` (a leaf *hash*) sits at ``index`` of the tree with ``root``.

    Raises :class:`InclusionError` (with both roots) when it does not.
    """
    if len(root) != HASH_SIZE:
        raise InclusionError(f"the root hash is {len(root)} bytes long, not {HASH_SIZE}")
    calculated = root_from_inclusion_proof(index, size, leaf, proof)
    if not hmac.compare_digest(calculated, root):
        raise InclusionError(
            f"the inclusion proof for entry {index} does not lead to the checkpoint's root: "
            f"expected {root.hex()}, calculated {calculated.hex()}"
        )


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    *,
    strict_zero: bool = False,
) -> None:
    """Check that the tree ``(new_size, new_root)`` extends ``(old_size, old_root)``.

    RFC 9162 §2.1.4.2, with the edge cases decided as the module docstring says. Raises
    :class:`ConsistencyError` when the two trees are not append-only consistent.
    """
    _check_proof_hashes(proof, ConsistencyError)
    if not 0 <= old_size <= MAX_TREE_SIZE or not 0 <= new_size <= MAX_TREE_SIZE:
        raise ConsistencyError("a tree size is out of range")
    if old_size > new_size:
        raise ConsistencyError(
            f"the newer tree ({entries(new_size)}) is smaller than the older one "
            f"({entries(old_size)}): the log went backwards"
        )
    if old_size == 0:
        if strict_zero:
            raise ConsistencyError("consistency from an empty tree is meaningless (strict mode)")
        if proof:
            raise ConsistencyError("a consistency proof from the empty tree must be empty")
        if not hmac.compare_digest(old_root, EMPTY_ROOT):
            raise ConsistencyError("a tree of size 0 must have the empty-tree root")
        if new_size == 0 and not hmac.compare_digest(new_root, EMPTY_ROOT):
            raise ConsistencyError("a tree of size 0 must have the empty-tree root")
        return
    if old_size == new_size:
        if proof:
            raise ConsistencyError("a consistency proof between equal sizes must be empty")
        if not hmac.compare_digest(old_root, new_root):
            raise ConsistencyError(
                f"two different roots for the same tree size {old_size}: the log forked "
                f"({old_root.hex()} vs {new_root.hex()})"
            )
        return
    if len(old_root) != HASH_SIZE or len(new_root) != HASH_SIZE:
        raise ConsistencyError("a root hash is not 32 bytes long")
    if not proof:
        raise ConsistencyError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    sha = _sha256
    for c in path[1:]:
        if sn == 0:
            raise ConsistencyError("the consistency proof is longer than the tree sizes allow")
        if fn & 1 or fn == sn:
            fr = sha(b"\x01" + c + fr).digest()
            sr = sha(b"\x01" + c + sr).digest()
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ConsistencyError("the consistency proof is shorter than the tree sizes need")
    if not hmac.compare_digest(fr, old_root):
        raise ConsistencyError(
            f"the consistency proof does not reproduce the older root: expected {old_root.hex()}, calculated {fr.hex()}"
        )
    if not hmac.compare_digest(sr, new_root):
        raise ConsistencyError(
            f"the consistency proof does not reproduce the newer root: expected {new_root.hex()}, calculated {sr.hex()}"
        )


class MemoryTree:
    """An in-memory RFC 9162 tree: all levels kept, for tests and small uses.

    ``perfect`` serves proof generation; the tiled log on disk does the same from tiles.
    """

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for h in leaf_hashes:
            self.append_hash(h)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, entry: bytes) -> int:
        """Append a raw entry; return its 0-based index."""
        return self.append_hash(leaf_hash(entry))

    def append_hash(self, h: bytes) -> int:
        if len(h) != HASH_SIZE:
            raise FormatError("a leaf hash must be 32 bytes")
        index = len(self._levels[0])
        self._levels[0].append(h)
        level, i = 0, index
        while i & 1:
            left = self._levels[level][i - 1]
            right = self._levels[level][i]
            level += 1
            if len(self._levels) == level:
                self._levels.append([])
            self._levels[level].append(node_hash(left, right))
            i >>= 1
        return index

    def perfect(self, height: int, index: int) -> bytes:
        return self._levels[height][index]

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is not between 0 and {self.size}")
        if size == 0:
            return EMPTY_ROOT
        return range_hash(self.perfect, 0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self.perfect, index, self.size if size is None else size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(self.perfect, old_size, self.size if new_size is None else new_size)
