"""Step 3: the log entry is recomputed from the manifest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from evidence import merkle
from evidence.bundle import (
    MANIFEST_PATH,
    log_entry,
)
from evidence.verify.context import Context
from evidence.verify.step2_manifest import Step2Result


@dataclass(frozen=True)
class Step3Result:
    """The entry's RFC 9162 leaf hash."""

    detail: str
    files: tuple[str, ...]
    leaf: bytes


def run(ctx: Context, sealed: Step2Result) -> Step3Result:
    """Step 3: the log entry and its leaf hash, recomputed from the manifest's bytes."""
    entry = log_entry(sealed.manifest_bytes)
    leaf = merkle.leaf_hash(entry)
    return Step3Result(
        f"The manifest's SHA-256 is {hashlib.sha256(sealed.manifest_bytes).hexdigest()}; the log entry is the "
        f'two lines "{entry.decode().splitlines()[0]}" and "manifest-sha256 <that SHA-256>"; its Merkle '
        f"leaf hash is {leaf.hex()}.",
        (MANIFEST_PATH,),
        leaf,
    )
