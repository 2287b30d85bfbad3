"""Bounded formatting of times and numbers that come from untrusted input (pure, no I/O).

A bundle, a note or a log can carry any 64-bit timestamp (a cosignature/v1 line holds
``u64`` seconds) and JSON can carry any number. ``datetime.fromtimestamp`` raises
``OverflowError``, ``ValueError`` or ``OSError`` outside the calendar it knows, so every
place that turns such a value into text goes through :func:`utc_text`, which never raises:
a time outside year 1970..9999 is written as the raw number and said to be impossible.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["MAX_CALENDAR_SECONDS", "bounded_text", "hidden_characters", "utc_text", "visible_text"]

#: 9999-12-31T23:59:59Z, the last second ``datetime`` can represent.
MAX_CALENDAR_SECONDS = 253_402_300_799

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def utc_text(ts: int | float | datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` for a POSIX time or an aware datetime; never raises.

    Times before 1970 or after 9999 (which no genuine signature carries) are written as
    ``"<n> seconds after 1970-01-01 (not a possible date)"`` instead of crashing.
    """
    if isinstance(ts, datetime):
        try:
            return ts.astimezone(UTC).strftime(_ISO)
        except (OverflowError, ValueError, OSError):
            return f"{bounded_text(ts.isoformat())} (not a possible date)"
    if isinstance(ts, bool) or not isinstance(ts, int | float) or ts != ts:  # NaN
        return f"{bounded_text(ts)} (not a time)"
    if not 0 <= ts <= MAX_CALENDAR_SECONDS:
        return f"{bounded_text(ts)} seconds after 1970-01-01 (not a possible date)"
    try:
        return datetime.fromtimestamp(ts, UTC).strftime(_ISO)
    except (OverflowError, ValueError, OSError):  # pragma: no cover - excluded by the bound above
        return f"{bounded_text(ts)} seconds after 1970-01-01 (not a possible date)"


def bounded_text(value: object, limit: int = 200) -> str:
    """``str(value)`` cut to ``limit`` characters; never raises (huge ints, broken ``__str__``)."""
    try:
        text = str(value)
    except Exception:  # an int past sys.get_int_max_str_digits(), a hostile __str__
        return f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


#: Characters that change how text around them reads without being seen: every Unicode
#: "format" character (bidi embeddings, overrides and isolates, zero-width space and joiners,
#: the byte-order mark, soft hyphen, tag characters...), controls other than newline, line and
#: paragraph separators, surrogates and private-use characters.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Cc", "Zl", "Zp", "Cs", "Co"})


def _is_hidden(ch: str) -> bool:
    import unicodedata

    return ch not in "\n\t" and unicodedata.category(ch) in _HIDDEN_CATEGORIES


def hidden_characters(text: str, limit: int = 5) -> list[str]:
    """The first ``limit`` distinct invisible or direction-changing characters of ``text``,
    each as ``U+202E RIGHT-TO-LEFT OVERRIDE`` (empty when there is none)."""
    import unicodedata

    found: list[str] = []
    for ch in dict.fromkeys(c for c in text if _is_hidden(c)):
        found.append(f"U+{ord(ch):04X} {unicodedata.name(ch, 'unnamed character')}")
        if len(found) >= limit:
            break
    return found


def visible_text(text: str) -> str:
    """``text`` with every invisible or direction-changing character written as ``[U+202E]``,
    so that what a reader sees is what the text holds (a URL with a right-to-left override
    cannot read as another address). Newlines and tabs are kept; nothing else changes."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(f"[U+{ord(c):04X}]" if _is_hidden(c) else c for c in text)
