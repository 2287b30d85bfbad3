"""One reader for the project's TOML settings files (``config.toml``, ``server.toml``).

Parses the text and refuses unknown top-level keys with one wording, so every settings
file fails the same way. The caller has read the text through a size-capped reader
(:func:`evidence._internal.files.read_text_file`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from typing import Any

from evidence.errors import FormatError

__all__ = ["parse_table"]


def parse_table(text: str, where: str, known: Iterable[str]) -> dict[str, Any]:
    """The top-level table of TOML ``text``; :class:`FormatError` naming ``where`` when it
    is not TOML or holds a key not in ``known``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise FormatError(f"{where} is not valid TOML: {e}") from e
    allowed = frozenset(known)
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise FormatError(
            f"{where} has unknown setting(s) {', '.join(unknown)}",
            hint=f"Known settings: {', '.join(sorted(allowed))}.",
        )
    return data
