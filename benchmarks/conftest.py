"""Shared benchmark setup."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def pytest_configure(config: pytest.Config) -> None:
    """Register the tests' ``verifier`` marker: benchmarks import test modules' helpers that use it."""
    config.addinivalue_line("markers", "verifier: the verifier's own tests")
