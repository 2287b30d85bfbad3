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
- no string (key or value) holds an unpaired surrogate (``"\\ud800"``), which is not text;
- at most :data:`MAX_TOKENS` commas, colons and opening brackets in all (counted in the
  bytes, before parsing): three bytes of JSON (``{},``) become a 64-byte Python object, so a
  64 MiB file of them would take gigabytes of memory and tens of seconds to read.

:func:`loads` raises :class:`StrictJSONError` (a ``ValueError``) naming the first problem; text
that is not JSON at all raises ``json.JSONDecodeError`` (also a ``ValueError``) as usual.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_TOKENS", "JSONTooLargeError", "StrictJSONError", "loads"]

#: The most commas, colons and opening brackets a JSON text may hold (an honest capture record
#: of ten thousand requests has a few hundred thousand).
MAX_TOKENS = 4_000_000


class StrictJSONError(ValueError):
    """The bytes are not strict JSON (see the module docstring)."""


class JSONTooLargeError(ValueError):
    """The JSON text holds more values than this reader reads (:data:`MAX_TOKENS`)."""


def _check_size(data: bytes | str) -> None:
    if isinstance(data, bytes):
        tokens = data.count(b",") + data.count(b":") + data.count(b"{") + data.count(b"[")
    else:
        tokens = data.count(",") + data.count(":") + data.count("{") + data.count("[")
    if tokens > MAX_TOKENS:
        raise JSONTooLargeError(
            f"it holds {tokens} commas, colons and brackets, more than the {MAX_TOKENS} this verifier reads (a "
            "record this size is not one a capture writes)"
        )


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
    """Parse strict JSON; raise :class:`StrictJSONError`, :class:`JSONTooLargeError` (or
    ``ValueError`` / ``RecursionError``)."""
    _check_size(data)
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
