"""evidence: preserve web pages as court-grade evidence.

The small public face of the library. Everything else is importable but not promised.

    >>> import evidence
    >>> bundle = evidence.capture("https://shop.example/item/1", case="2026-017")  # doctest: +SKIP
    >>> bundle.path, bundle.log_index                                              # doctest: +SKIP

    >>> from evidence import Log
    >>> log = Log.create("/tmp/mylog", origin="example.org/evidence/log")   # doctest: +SKIP
    >>> [index] = log.append([b"entry"])                                     # doctest: +SKIP

``evidence.capture`` is the one-call function; the capture machinery lives in the package
of the same name, imported as ``from evidence.capture import Capturer, CaptureOptions``.
"""

from __future__ import annotations

__version__ = "0.1.0"

# Binding the name ``capture`` to the function replaces the attribute that importing the
# ``evidence.capture`` package set (the package stays importable by its full name).
from evidence.api import capture
from evidence.bundle import Bundle
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
from evidence.log import Log
from evidence.trust import TrustPolicy
from evidence.verify import Report, verify

__all__ = [
    "Bundle",
    "BundleFormatError",
    "CaptureError",
    "ConsistencyError",
    "EvidenceError",
    "FixityError",
    "FormatError",
    "InclusionError",
    "Log",
    "LogError",
    "Report",
    "SignatureError",
    "TimestampError",
    "TrustPolicy",
    "VerificationError",
    "__version__",
    "capture",
    "verify",
]
