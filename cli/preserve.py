"""The `preserve URL ...` command (capture, seal, prove)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print("preserve: not available yet in this build", file=sys.stderr)
    return 2
