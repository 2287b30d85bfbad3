"""One loader for the public test vectors in ``../shared/vectors`` (never copied here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


def vectors_dir(*parts: str) -> Path:
    """The path of a vector folder or file; skips the test when ../shared is absent."""
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"public test vectors not found at {path}: clone the project beside shared/ "
            "(the vectors are loaded from ../shared/vectors, never copied into the repo)"
        )
    return path


def load(*parts: str) -> Any:
    """Parse a JSON vector file."""
    return json.loads(vectors_dir(*parts).read_text(encoding="utf-8"))


def load_or_empty(*parts: str) -> Any:
    """For parametrisation at collection time: returns None when the vectors are absent."""
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def params(items: list[Any] | None, ids: Any = None) -> list[Any]:
    """pytest parameters for vector cases, or one skipped case when ../shared is absent."""
    if items is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"public vectors absent at {VECTORS}"))]
    if ids is None:
        return list(items)
    return [pytest.param(item, id=ids(item)) for item in items]
