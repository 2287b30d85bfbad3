"""shim: moved to evidence.bundle.refresh, removed at integration.

Re-exports what evidence/verify.py imports.
"""

from __future__ import annotations

from evidence.bundle.refresh import RefreshCheck, check_refresh, is_refresh_file

__all__ = ["RefreshCheck", "check_refresh", "is_refresh_file"]
