"""shim: moved to evidence.bundle.wacz, removed at integration.

Re-exports what evidence/verify.py imports (``_resource_name`` is now the public
:func:`evidence.bundle.wacz.resource_name`).
"""

from __future__ import annotations

from evidence.bundle.wacz import WACZ_VERSION, cdxj_line, index_order
from evidence.bundle.wacz import resource_name as _resource_name

__all__ = ["WACZ_VERSION", "_resource_name", "cdxj_line", "index_order"]
