"""shim: moved to evidence.bundle.container, removed at integration.

Kept so that code written against the old path (other helpers' branches) still imports.
"""

from __future__ import annotations

from evidence.bundle.container import (
    MAX_MEMBER_BYTES,
    MAX_MEMBERS,
    MAX_RATIO,
    MAX_TOTAL_BYTES,
    Container,
    Entry,
    ZipWriter,
    valid_name,
)

__all__ = [
    "MAX_MEMBERS",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "MAX_TOTAL_BYTES",
    "Container",
    "Entry",
    "ZipWriter",
    "valid_name",
]
