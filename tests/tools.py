"""Independent tools the tests check against, found where CI and developers put them."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def wacz_validator() -> str | None:
    """The `wacz` command of py-wacz: $EVIDENCE_WACZ, ./.venv-wacz (CI), or on PATH."""
    candidates = [os.environ.get("EVIDENCE_WACZ"), str(ROOT / ".venv-wacz/bin/wacz"), "/tmp/wacz-venv/bin/wacz"]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return shutil.which("wacz")
