"""Bounded formatting of times and numbers that come from untrusted input (pure, no I/O).

A bundle, a note or a log can carry any 64-bit timestamp (a cosignature/v1 line holds
``u64`` seconds) and JSON can carry any number. ``datetime.fromtimestamp`` raises
``OverflowError``, ``ValueError`` or ``OSError`` outside the calendar it knows, so every
place that turns such a value into text goes through :func:`utc_text`, which never raises:
a time outside year 1970..9999 is written as the raw number and said to be impossible.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["MAX_CALENDAR_SECONDS", "bounded_text", "utc_text"]

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
