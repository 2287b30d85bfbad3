"""Refreshed checkpoints: a newer, better-witnessed checkpoint added to an existing bundle.

A bundle's own checkpoint may carry few witness cosignatures (a witness was down) or no
RFC 3161 token. Later, the log's checkpoint covers more entries and more witnesses have
seen it. ``evidence refresh BUNDLE`` fetches that newer checkpoint and a consistency
proof from the bundle's checkpoint to it, checks both, and **adds** them to the bundle;
the original proof files are never changed or removed:

- ``evidence/refresh-<k>.note``: the newer signed checkpoint note, verbatim;
- ``evidence/refresh-<k>.consistency``: the RFC 9162 consistency proof from the size of
  the checkpoint in ``entry.tlog-proof`` to the newer size, one base64 hash per line
  (empty when the sizes are equal);
- ``evidence/refresh-<k>.<j>.tsr``: RFC 3161 responses over ``refresh-<k>.note``.

Because the newer tree is an append-only extension of the bundle's tree (the consistency
proof) and the entry is in the bundle's tree (the inclusion proof), every signature on
the newer checkpoint also vouches for the entry. :func:`check_refresh` is the pure check
a verifier runs over these files; docs/bundle-format.md ("Refreshed checkpoints") is the
format.
Adding them (``evidence refresh``) is :mod:`evidence.bundle.refresh_writer`, not on the
verify path.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evidence import merkle
from evidence._internal.words import entries
from evidence.bundle.reader import BundleView
from evidence.checkpoint import Checkpoint, SignedCheckpoint
from evidence.errors import (
    BundleFormatError,
    ConsistencyError,
    FormatError,
    SignatureError,
)
from evidence.note import ALG_ED25519, Verifier

__all__ = [
    "REFRESH_FILE_RE",
    "RefreshCheck",
    "RefreshFiles",
    "check_refresh",
    "format_consistency",
    "is_refresh_file",
    "parse_consistency",
    "refresh_files",
]

#: ``evidence/refresh-<k>.note``, ``.consistency`` and ``.<j>.tsr`` (k, j = 1..999).
#: Use with ``fullmatch``; ``\\A...\\Z`` keep even ``match`` exact (``$`` accepts a final newline).
REFRESH_FILE_RE = re.compile(r"\Aevidence/refresh-([1-9][0-9]{0,2})\.(note|consistency|([1-9][0-9]{0,2})\.tsr)\Z")
MAX_CONSISTENCY_BYTES = 64 * 1024


def is_refresh_file(name: str) -> bool:
    """Whether a bundle member name is one of the refresh files (a post-seal proof file)."""
    return REFRESH_FILE_RE.fullmatch(name) is not None


def format_consistency(proof: Sequence[bytes]) -> bytes:
    """The ``.consistency`` file: one base64 hash per line, each line ending in ``\\n``."""
    return "".join(base64.b64encode(h).decode() + "\n" for h in proof).encode("ascii")


def parse_consistency(data: bytes, where: str) -> tuple[bytes, ...]:
    """Parse a ``.consistency`` file strictly (canonical base64 of 32-byte hashes)."""
    if len(data) > MAX_CONSISTENCY_BYTES:
        raise BundleFormatError(f"{where} is too large to be a consistency proof")
    if data and not data.endswith(b"\n"):
        raise BundleFormatError(f"{where} does not end with a newline")
    try:
        lines = data.decode("ascii").split("\n")[:-1] if data else []
    except UnicodeDecodeError:
        raise BundleFormatError(f"{where} is not ASCII text") from None
    hashes = []
    for n, line in enumerate(lines, start=1):
        try:
            raw = base64.b64decode(line.encode("ascii"), validate=True)
        except (binascii.Error, ValueError):
            raise BundleFormatError(f"{where}, line {n}: not base64") from None
        if len(raw) != merkle.HASH_SIZE or base64.b64encode(raw).decode() != line:
            raise BundleFormatError(f"{where}, line {n}: not the canonical base64 of a 32-byte hash")
        hashes.append(raw)
    if len(hashes) > merkle.MAX_PROOF_HASHES:
        raise BundleFormatError(f"{where} holds {len(hashes)} hashes; no consistency proof is that long")
    return tuple(hashes)


@dataclass(frozen=True)
class RefreshFiles:
    """The member names of one refresh ``k`` in a bundle."""

    k: int
    note: str
    consistency: str
    tokens: tuple[str, ...]


def refresh_files(names: Sequence[str]) -> tuple[RefreshFiles, ...]:
    """Group the refresh files among ``names``; BundleFormatError if a set is incomplete.

    Refreshes must be numbered 1, 2, ... without gaps; each has a ``.note`` and a
    ``.consistency``; its tokens are numbered 1, 2, ... without gaps.
    """
    found: dict[int, dict[str, Any]] = {}
    for name in names:
        m = REFRESH_FILE_RE.fullmatch(name)
        if not m:
            continue
        k = int(m.group(1))
        slot = found.setdefault(k, {"tokens": {}})
        if m.group(3):
            slot["tokens"][int(m.group(3))] = name
        else:
            slot[m.group(2)] = name
    out = []
    for n, k in enumerate(sorted(found), start=1):
        slot = found[k]
        if k != n:
            raise BundleFormatError(f"the refreshed checkpoints are numbered with a gap (refresh-{n} is missing)")
        for part in ("note", "consistency"):
            if part not in slot:
                raise BundleFormatError(f"evidence/refresh-{k}.{part} is missing; a refresh needs both files")
        tokens = slot["tokens"]
        if sorted(tokens) != list(range(1, len(tokens) + 1)):
            raise BundleFormatError(f"the time-stamps of refresh {k} are numbered with a gap")
        out.append(RefreshFiles(k, slot["note"], slot["consistency"], tuple(tokens[j] for j in sorted(tokens))))
    return tuple(out)


@dataclass(frozen=True)
class RefreshCheck:
    """One refreshed checkpoint that checked out (log signature, origin, consistency).

    ``cosignatures`` are the given cosigners whose cosignature on the refreshed note
    verified, with their time; ``tokens`` are (member name, DER) pairs that a verifier
    must still check as RFC 3161 tokens over ``note`` with its pinned TSAs.
    """

    k: int
    note_path: str
    note: bytes
    checkpoint: Checkpoint
    consistency: tuple[bytes, ...]
    log_key: Verifier
    cosignatures: tuple[tuple[Verifier, int], ...]
    tokens: tuple[tuple[str, bytes], ...]

    def describe(self) -> str:
        cp = self.checkpoint
        who = ", ".join(f"{v.name}" for v, _ in self.cosignatures) or "no cosigner given to the check"
        return (
            f"refresh {self.k}: the log's checkpoint of {entries(cp.size)} (root {cp.root_hash.hex()[:16]}...) "
            f"extends the bundle's tree (consistency proof of {len(self.consistency)} hashes); cosigned by {who}; "
            f"{len(self.tokens)} RFC 3161 token(s) to check"
        )


def check_refresh(
    view: BundleView,
    trusted_log_keys: Sequence[Verifier],
    *,
    base: SignedCheckpoint | None = None,
    cosigners: Sequence[Verifier] = (),
) -> tuple[RefreshCheck, ...]:
    """Check every refreshed checkpoint in a bundle; return them (empty if there are none).

    Pure: reads only the bundle. ``trusted_log_keys`` are the log keys to check the
    refreshed notes' signatures with (a verifier passes the keys it trusts, or the key
    shown in ``log.vkey`` when it grades "not anchored"); ``base`` is the bundle's own,
    already verified checkpoint (default: the one in ``entry.tlog-proof``);
    ``cosigners`` are witness (and clock) keys whose cosignatures to report.

    For each refresh ``k``, in order, fail-closed:

    1. the files are complete (``.note`` and ``.consistency``; no gaps in numbering);
    2. the note is a checkpoint of the *same origin*, signed by a trusted log key;
    3. its tree is at least as large as the bundle's;
    4. the consistency proof leads from the bundle's (size, root) to the refresh's
       (size, root), RFC 9162 §2.1.4.2 (equal sizes: empty proof and equal roots);
    5. every given cosigner's cosignature on it verifies (absent ones are just absent);
    6. two refreshes of the same size have the same root (no split view).

    Raises :class:`BundleFormatError` (malformed or incomplete files),
    :class:`SignatureError` (not signed by the log, other origin, bad cosignature) or
    :class:`ConsistencyError` (not an extension of the bundle's tree), naming the file.
    RFC 3161 tokens are returned, not checked: the verifier checks them with its pins.
    """
    groups = refresh_files(view.names)
    if not groups:
        return ()
    if base is None:
        base = view.proof().signed_checkpoint
    b = base.checkpoint
    keys = [k for k in trusted_log_keys if k.key_type == ALG_ED25519]
    out: list[RefreshCheck] = []
    roots: dict[int, bytes] = {b.size: b.root_hash}
    for g in groups:
        raw = view.read(g.note, limit=1 << 20)
        try:
            signed = SignedCheckpoint.parse(raw)
        except FormatError as e:
            raise BundleFormatError(f"{g.note} is not a signed checkpoint: {e.message}") from e
        cp = signed.checkpoint
        if cp.origin != b.origin:
            raise SignatureError(f"{g.note} is a checkpoint of the log {cp.origin!r}, not of {b.origin!r}")
        try:
            verified = signed.verify(keys, origin=b.origin)
        except SignatureError as e:
            raise SignatureError(f"{g.note} is not signed by the log's key: {e.message}") from e
        log_key = next(v for v in keys if verified.verified_by(v) is not None)
        if cp.size < b.size:
            raise ConsistencyError(
                f"{g.note} is a checkpoint of {entries(cp.size)}, fewer than the bundle's {b.size}: "
                "a log never shrinks; this one rolled back"
            )
        proof = parse_consistency(view.read(g.consistency, limit=MAX_CONSISTENCY_BYTES), g.consistency)
        try:
            merkle.verify_consistency(b.size, cp.size, b.root_hash, cp.root_hash, proof)
        except ConsistencyError as e:
            raise ConsistencyError(
                f"{g.consistency} does not prove that the log's tree of {entries(cp.size)} ({g.note}) extends the "
                f"bundle's tree of {entries(b.size)}: {e.message}. Either file was altered, or the log rewrote history."
            ) from e
        seen = roots.get(cp.size)
        if seen is not None and not merkle.hashes_equal(seen, cp.root_hash):
            raise ConsistencyError(
                f"{g.note} signs a different tree of {entries(cp.size)} than another checkpoint in the bundle: "
                "the log showed two different histories (a fork)"
            )
        roots[cp.size] = cp.root_hash
        try:
            cos = signed.cosignatures(cosigners)
        except SignatureError as e:
            raise SignatureError(f"{g.note}: {e.message}") from e
        tokens = tuple((name, view.read(name, limit=1 << 20)) for name in g.tokens)
        out.append(
            RefreshCheck(
                k=g.k,
                note_path=g.note,
                note=raw,
                checkpoint=cp,
                consistency=proof,
                log_key=log_key,
                cosignatures=tuple(cos.items()),
                tokens=tokens,
            )
        )
    return tuple(out)
