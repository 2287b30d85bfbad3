"""shim: moved to evidence.bundle.surt, removed at integration.

Re-exports what evidence/verify.py imports.
"""

from __future__ import annotations

from evidence.bundle.surt import surt

__all__ = ["surt"]
