"""One strict JSON reader for everything the verifier reads (pure: no I/O).

Two JSON parsers can read the same bytes differently: one keeps the first of two equal
keys, another the last; one reads ``NaN`` or ``1e400`` as a number, another refuses it;
one guesses UTF-16 from the first bytes, another insists on UTF-8. A bundle must be read
exactly one way, so every JSON file on the verify path is refused unless it is I-JSON
(RFC 7493) in UTF-8:

- the bytes are UTF-8 (no byte-order mark, no other encoding);
- no object has the same key twice (compared after unescaping: ``"a"`` and ``"\\u0061"``
  are the same key);
- no ``NaN``, ``Infinity`` or ``-Infinity``, and no number too large to be finite
  (``1e400``);
- no string (key or value) holds an unpaired surrogate (``"\\ud800"``), which is not text.

:func:`loads` raises :class:`StrictJSONError` (a ``ValueError``) naming the first problem; text
that is not JSON at all raises ``json.JSONDecodeError`` (also a ``ValueError``) as usual.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["StrictJSONError", "loads"]


class StrictJSONError(ValueError):
    """The bytes are not strict JSON (see the module docstring)."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise StrictJSONError(f"the key {key[:80]!r} appears twice in one object, so readers may disagree")
        out[key] = value
    return out


def _constant(name: str) -> Any:
    raise StrictJSONError(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(f"the number {text[:40]} is too large to be represented")
    return value


def _check_text(value: Any) -> None:
    """Refuse unpaired surrogates anywhere (iterative: depth is bounded by the parser)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                raise StrictJSONError("a string holds an unpaired surrogate escape (not text)") from e
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def loads(data: bytes | str) -> Any:
    """Parse strict JSON; raise :class:`StrictJSONError` (or ``ValueError`` / ``RecursionError``)."""
    if isinstance(data, bytes):
        if data.startswith(b"\xef\xbb\xbf"):
            raise StrictJSONError("the file starts with a byte-order mark; JSON here is plain UTF-8")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StrictJSONError(f"the file is not UTF-8 text (byte {e.start})") from e
    else:
        text = data
    if text.startswith("\ufeff"):
        raise StrictJSONError("the text starts with a byte-order mark; JSON here is plain UTF-8")
    value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)
    _check_text(value)
    return value
