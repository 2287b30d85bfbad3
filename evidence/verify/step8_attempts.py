"""Step 8, the attempts: ``evidence/attempts.json`` names this capture's attempt record and the
earlier attempts of the same case, each included in the bundle's checkpoint.

A bundle without the file (written before attempt records, or sealed into a log that keeps
none) is checked as before: :func:`check_attempts` returns None.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from evidence import merkle
from evidence.bundle.attempts import SEALED, AttemptRecord, describe_earlier, parse_attempts_file
from evidence.bundle.format import ATTEMPTS_FORMAT, ATTEMPTS_PATH, MANIFEST_PATH, PROOF_PATH, attempt_entry
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import FormatError, InclusionError
from evidence.verify.common import Fail
from evidence.verify.context import Context

#: The largest attempts.json this verifier reads (1,000 earlier attempts with their proofs fit).
MAX_ATTEMPTS_BYTES = 16 << 20


@dataclass(frozen=True)
class AttemptsSummary:
    """What ``evidence/attempts.json`` established: this capture's attempt and the earlier ones."""

    index: int
    own: AttemptRecord
    earlier: tuple[tuple[int, AttemptRecord], ...]

    @property
    def text(self) -> str:
        """In plain words: ``attempt entry 7; 2 earlier attempts for this case: 1 failed (...), 1 abandoned (...)``."""
        return f"this capture is the attempt recorded as entry {self.index}; " + describe_earlier(
            [r for _, r in self.earlier]
        )

    def to_data(self) -> dict[str, Any]:
        """For the JSON report's facts."""
        return {
            "attempt_index": self.index,
            "earlier_attempts": [
                {
                    "index": i,
                    "outcome": r.outcome,
                    "error_kind": r.error_kind,
                    "error": r.error_message,
                    "started": r.started,
                    "finished": r.finished,
                    "url": r.url,
                    "walk_sha256": r.walk_sha256,
                    "operator": r.operator,
                }
                for i, r in self.earlier
            ],
        }


def check_attempts(
    ctx: Context, manifest_bytes: bytes, manifest: dict[str, Any], signed: SignedCheckpoint
) -> AttemptsSummary | None:
    """Every record listed hashes to the entry included at its index in the bundle's checkpoint;
    the bundle's own record says ``sealed`` with this manifest's SHA-256 and names exactly the
    earlier attempts listed; every earlier one is of the same case and log, and older."""
    declared = manifest.get("attempts")
    if declared is not None and declared != ATTEMPTS_FORMAT:
        raise Fail(f"{MANIFEST_PATH} names an unknown attempts format {str(declared)[:80]!r}.", MANIFEST_PATH)
    if not ctx.v.has(ATTEMPTS_PATH):
        if declared is not None:
            raise Fail(
                f"{MANIFEST_PATH} says this bundle carries its attempt records ({ATTEMPTS_PATH}), but the bundle has "
                "no such file: it was removed, hiding this capture's attempt and the earlier attempts of its case.",
                ATTEMPTS_PATH,
                MANIFEST_PATH,
            )
        return None
    raw = ctx.read(ATTEMPTS_PATH, limit=MAX_ATTEMPTS_BYTES)
    try:
        size, own, earlier = parse_attempts_file(raw)
    except FormatError as e:
        raise Fail(f"{ATTEMPTS_PATH} is malformed: {e.message}", ATTEMPTS_PATH) from e
    cp = signed.checkpoint
    if size != cp.size:
        raise Fail(
            f"{ATTEMPTS_PATH} proves its attempts against a tree of {size} entries, but the bundle's checkpoint "
            f"({PROOF_PATH}) covers {cp.size}.",
            ATTEMPTS_PATH,
            PROOF_PATH,
        )
    for k, listed in enumerate((own, *earlier)):
        what = "the bundle's own attempt record" if k == 0 else f"earlier attempt record {k}"
        leaf = merkle.leaf_hash(attempt_entry(listed.record.raw))
        if listed.index >= cp.size:
            raise Fail(f"{ATTEMPTS_PATH}: {what} claims index {listed.index}, outside the checkpoint.", ATTEMPTS_PATH)
        try:
            merkle.verify_inclusion(listed.index, cp.size, leaf, list(listed.inclusion), cp.root_hash)
        except InclusionError as e:
            raise Fail(
                f"{ATTEMPTS_PATH}: {what} is not the entry the log holds at index {listed.index} ({e.message}): the "
                "record was altered, or never logged.",
                ATTEMPTS_PATH,
            ) from e
    rec = own.record
    digest = hashlib.sha256(manifest_bytes).hexdigest()
    if rec.outcome != SEALED or rec.manifest_sha256 is None or not hmac.compare_digest(rec.manifest_sha256, digest):
        raise Fail(
            f"{ATTEMPTS_PATH}: the bundle's own attempt record says {rec.outcome!r} with manifest "
            f"{rec.manifest_sha256}, not 'sealed' with this bundle's manifest ({digest}).",
            ATTEMPTS_PATH,
            MANIFEST_PATH,
        )
    if rec.log_origin != cp.origin or rec.case != manifest.get("case"):
        raise Fail(
            f"{ATTEMPTS_PATH}: the bundle's own attempt record is for the log {rec.log_origin!r} and case "
            f"{rec.case!r}, but the bundle is sealed into {cp.origin!r} for case {manifest.get('case')!r}.",
            ATTEMPTS_PATH,
            MANIFEST_PATH,
        )
    if rec.walk_sha256 is None and rec.url != manifest.get("url"):
        raise Fail(
            f"{ATTEMPTS_PATH}: the bundle's own attempt record is for {rec.url!r}, but the bundle preserves "
            f"{manifest.get('url')!r}.",
            ATTEMPTS_PATH,
            MANIFEST_PATH,
        )
    listed_earlier = tuple((a.index, a.record.sha256) for a in earlier)
    if listed_earlier != rec.earlier:
        raise Fail(
            f"{ATTEMPTS_PATH} lists {len(listed_earlier)} earlier attempt(s), but the bundle's own attempt record, "
            f"as logged, names {len(rec.earlier)} ({', '.join(str(i) for i, _ in rec.earlier) or 'none'}): an "
            "earlier attempt was left out, added or replaced.",
            ATTEMPTS_PATH,
        )
    for a in earlier:
        if a.record.case != rec.case or a.record.log_origin != rec.log_origin or a.index >= own.index:
            raise Fail(
                f"{ATTEMPTS_PATH}: the earlier attempt at index {a.index} is not an earlier attempt of this case in "
                "this log.",
                ATTEMPTS_PATH,
            )
    return AttemptsSummary(own.index, rec, tuple((a.index, a.record) for a in earlier))
