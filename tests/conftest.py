"""Shared test setup. Module-specific fixtures live beside their tests."""

from __future__ import annotations

import sys
from pathlib import Path

# Let tests import the helper modules in tests/ (vectors, tsa, site) by name.
sys.path.insert(0, str(Path(__file__).resolve().parent))
