"""The duration a WebM (Matroska) file states: EBML header -> Segment -> Info -> Duration.

Pure and small (no I/O, standard library only), for the verifier: it reads the start of a
sealed screen recording and no media program. Only the header is read: the caller passes at
most :data:`HEAD_BYTES` from the file's start (muxers such as ffmpeg's write the Info element
before the first Cluster, within the first kilobytes).

Matroska: element IDs and sizes are EBML variable-length integers (RFC 8794 §4); Info
(``0x1549A966``) holds TimecodeScale (``0x2AD7B1``, nanoseconds per tick, default 1,000,000),
Duration (``0x4489``, a 4- or 8-byte IEEE float in ticks) and DateUTC (``0x4461``, a signed
8-byte count of nanoseconds since 2001-01-01T00:00:00 UTC: when the recording started)
(RFC 9559 §5.1.2).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

__all__ = ["HEAD_BYTES", "WebMError", "WebMInfo", "webm_duration", "webm_info"]

#: How much of a file's start is enough to find its duration.
HEAD_BYTES = 1 << 20

_EBML = 0x1A45DFA3
_DOCTYPE = 0x4282
_SEGMENT = 0x18538067
_INFO = 0x1549A966
_TIMECODE_SCALE = 0x2AD7B1
_DURATION = 0x4489
_DATE_UTC = 0x4461
_CLUSTER = 0x1F43B675
#: 2001-01-01T00:00:00Z as a Unix time: Matroska's epoch.
_MATROSKA_EPOCH = 978_307_200
_UNKNOWN = -1


class WebMError(ValueError):
    """The bytes are not a WebM file whose header states a duration."""


@dataclass(frozen=True)
class WebMInfo:
    """What a WebM header states: its length, and when the recording started (if it says)."""

    duration_s: float
    created: float | None  # Unix time, seconds


def _vint(data: bytes, pos: int, *, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at ``pos``: (value, next position); an all-ones
    size is :data:`_UNKNOWN`."""
    if pos >= len(data):
        raise WebMError("the file ends inside an element header")
    first = data[pos]
    if first == 0:
        raise WebMError("an element header is longer than 8 bytes")
    length = 8 - first.bit_length() + 1
    if pos + length > len(data):
        raise WebMError("the file ends inside an element header")
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for b in data[pos + 1 : pos + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        return _UNKNOWN, pos + length
    return value, pos + length


def _elements(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """The (id, body start, body end) of each element from ``start`` to ``end``; an element of
    unknown size (a live-written Segment or Cluster) reaches to ``end``; the list stops at a
    Cluster (media data: the header is over)."""
    out: list[tuple[int, int, int]] = []
    pos = start
    while pos < end and len(out) < 10_000:
        ident, pos = _vint(data, pos, keep_marker=True)
        size, pos = _vint(data, pos, keep_marker=False)
        body_end = end if size == _UNKNOWN else pos + size
        out.append((ident, pos, min(body_end, end)))
        if ident == _CLUSTER:
            break
        pos = body_end
    return out


def webm_duration(head: bytes) -> float:
    """The duration in seconds that the WebM file starting with ``head`` states (see :func:`webm_info`)."""
    return webm_info(head).duration_s


def webm_info(head: bytes) -> WebMInfo:
    """The duration and start time that the WebM file starting with ``head`` states.

    Raises :class:`WebMError` when ``head`` is not EBML with a WebM or Matroska DocType, has
    no Segment Info before its media data, or states no finite, non-negative Duration.
    """
    data = head[:HEAD_BYTES]
    top = _elements(data, 0, len(data))
    if not top or top[0][0] != _EBML:
        raise WebMError("it does not start with an EBML header (not a WebM file)")
    doctype = next((data[s:e] for i, s, e in _elements(data, top[0][1], top[0][2]) if i == _DOCTYPE), b"")
    if doctype.rstrip(b"\0") not in (b"webm", b"matroska"):
        raise WebMError(f"its EBML DocType is {doctype[:20]!r}, not webm")
    segment = next(((s, e) for i, s, e in top[1:] if i == _SEGMENT), None)
    if segment is None:
        raise WebMError("it has no Segment")
    info = next(((s, e) for i, s, e in _elements(data, *segment) if i == _INFO), None)
    if info is None:
        raise WebMError("its Segment has no Info element before the media data")
    scale, duration, created = 1_000_000, None, None
    for ident, s, e in _elements(data, *info):
        body = data[s:e]
        if ident == _TIMECODE_SCALE:
            if not 1 <= len(body) <= 8:
                raise WebMError("its TimecodeScale is malformed")
            scale = int.from_bytes(body, "big")
        elif ident == _DATE_UTC:
            if len(body) != 8:
                raise WebMError("its DateUTC is not 8 bytes")
            created = _MATROSKA_EPOCH + int.from_bytes(body, "big", signed=True) / 1e9
        elif ident == _DURATION:
            if len(body) == 4:
                duration = struct.unpack(">f", body)[0]
            elif len(body) == 8:
                duration = struct.unpack(">d", body)[0]
            else:
                raise WebMError("its Duration is not a 4- or 8-byte float")
    if duration is None:
        raise WebMError("its Info element states no Duration")
    seconds = float(duration) * scale / 1e9
    if not math.isfinite(seconds) or seconds < 0 or scale == 0:
        raise WebMError(f"its Duration ({duration!r} x {scale} ns) is not a possible length")
    return WebMInfo(seconds, created)
