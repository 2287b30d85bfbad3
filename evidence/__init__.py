"""evidence: preserve web pages as court-grade evidence.

The small public face of the library. Everything else is importable but not promised.

    >>> from evidence import Log
    >>> log = Log.create("/tmp/mylog", origin="example.org/evidence/log")   # doctest: +SKIP
    >>> [index] = log.append([b"entry"])                                     # doctest: +SKIP
"""

from __future__ import annotations

from evidence.errors import (
    BundleFormatError,
    CaptureError,
    ConsistencyError,
    EvidenceError,
    FixityError,
    FormatError,
    InclusionError,
    LogError,
    SignatureError,
    TimestampError,
    VerificationError,
)

__version__ = "0.1.0"

__all__ = [
    "BundleFormatError",
    "CaptureError",
    "ConsistencyError",
    "EvidenceError",
    "FixityError",
    "FormatError",
    "InclusionError",
    "LogError",
    "SignatureError",
    "TimestampError",
    "VerificationError",
    "__version__",
]
