"""evidence: preserve web pages as court-grade evidence.

The small public face of the library. Everything else is importable but not promised.

    >>> import evidence
    >>> bundle = evidence.capture("https://shop.example/item/1", case="2026-017")  # doctest: +SKIP
    >>> bundle.path, bundle.log_index                                              # doctest: +SKIP

    >>> from evidence import Log
    >>> log = Log.create("/tmp/mylog", origin="example.org/evidence/log")   # doctest: +SKIP
    >>> [index] = log.append([b"entry"])                                     # doctest: +SKIP

``evidence.capture`` is the one-call function (it keeps its browser between calls);
``evidence.walk`` preserves a walk (start page and steps, on video) the same way;
``evidence.Session`` captures a batch with one browser and an explicit lifetime;
``evidence.capture_many(urls, jobs=N)`` captures a batch N pages at once. The
capture machinery lives in the package of the same name, imported as
``from evidence.capture import Capturer, CaptureOptions``.
"""

__version__ = "0.1.0"

import importlib as _importlib
import sys as _sys
import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

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

if _TYPE_CHECKING:
    from evidence.api import Session, capture, walk
    from evidence.batch import capture_many
    from evidence.bundle import Bundle
    from evidence.log import Log
    from evidence.trust import TrustPolicy
    from evidence.verify import Report, verify

# The public names are loaded on first use, so `import evidence` (and every command) starts
# fast and pulls in the browser, TSA and bundle machinery only when it is needed.
_LAZY = {
    "capture": "evidence.api",
    "Session": "evidence.api",
    "capture_many": "evidence.batch",
    "Bundle": "evidence.bundle",
    "Log": "evidence.log",
    "TrustPolicy": "evidence.trust",
    "Report": "evidence.verify",
    "verify": "evidence.verify",
    "walk": "evidence.api",
}
#: Functions that share their name with a subpackage/submodule of the same name.
_SHADOWED = frozenset({"capture", "verify"})


class _Package(_types.ModuleType):
    """``evidence.capture`` and ``evidence.verify`` stay the functions.

    Importing the package ``evidence.capture`` (or the module ``evidence.verify``) would
    normally bind that name on this package to the module; the functions win instead. The
    modules remain importable by their full names (``from evidence.capture import ...``).
    """

    def __setattr__(self, name: str, value: _Any) -> None:
        if name in _SHADOWED and isinstance(value, _types.ModuleType):
            return
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evidence' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public face only (``__all__``), loaded or not yet loaded."""
    return sorted(__all__)


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
    "Session",
    "SignatureError",
    "TimestampError",
    "TrustPolicy",
    "VerificationError",
    "__version__",
    "capture",
    "capture_many",
    "verify",
    "walk",
]
