"""Small wording helpers for messages a person reads (pure: no I/O)."""

from __future__ import annotations


def count(n: int, one: str, many: str | None = None) -> str:
    """``"1 entry"``, ``"2 entries"``: a number with the noun in the right number.

    ``many`` defaults to ``one + "s"``.
    """
    return f"{n} {one if n == 1 else (many if many is not None else one + 's')}"


def entries(n: int) -> str:
    """``"1 entry"`` / ``"n entries"``."""
    return count(n, "entry", "entries")


__all__ = ["count", "entries"]
