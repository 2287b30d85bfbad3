"""Capture QA: flag a captured page that is probably not the listing.

A site that does not want to be captured shows a captcha or bot wall, a login wall, an error
page with HTTP 200, or a blank page instead of the listing; a page far smaller than the earlier
pages of the same batch or walk is often one of those. Each :class:`Flag` says what it saw.
A flagged capture is still sealed (it may be evidence of cloaking): the flags go into
``capture.json`` → ``qa`` and its warnings, and ``preserve`` exits with its own code.

Pure apart from :func:`png_pixels`' use of numpy (the capture extra): no I/O.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Flag", "assess", "png_pixels", "qa_record"]

#: Words of captcha and bot-wall interstitials (English and Chinese platforms).
_CAPTCHA = re.compile(
    r"captcha|recaptcha|hcaptcha|verify (?:that )?you are (?:a )?human|are you a robot|not a robot|"
    r"unusual traffic|checking your browser|press (?:and|&) hold|bot detection|access denied|"
    r"滑块|验证码|安全验证|人机验证|拖动滑块",
    re.IGNORECASE,
)
_CAPTCHA_MARKUP = re.compile(r"g-recaptcha|h-captcha|cf-challenge|cf-turnstile|geetest|nc_wrapper|baxia", re.I)
_LOGIN = re.compile(
    r"(?:sign|log) ?in to (?:continue|view|see)|please (?:sign|log) ?in|you must (?:be )?(?:sign|log)(?:ged)? ?in|"
    r"请登录|登录后|账号登录",
    re.IGNORECASE,
)
_PASSWORD = re.compile(rb"<input\b[^>]*\btype\s*=\s*[\"']?password", re.IGNORECASE)
_ERROR = re.compile(
    r"\b404\b|not found|page (?:does not|doesn't) exist|no longer available|page unavailable|"
    r"item (?:is )?unavailable|error occurred|页面不存在|商品不存在|已下架|找不到",
    re.IGNORECASE,
)
#: A page smaller than this share of the median of the earlier pages is flagged.
SMALL_SHARE = 0.2
#: The viewport screenshot counts as blank when this share of its pixels is one colour (a
#: line of text on a white page is about 99.8 %: not blank) ...
UNIFORM_SHARE = 0.999
#: ... or its luminance varies less than this (standard deviation, 0-255).
FLAT_STDDEV = 1.5
_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class Flag:
    """One reason to think the page is not the listing, and what was seen."""

    flag: str  # captcha | login-wall | error-page | blank-screenshot | much-smaller
    saw: str

    def to_json(self) -> dict[str, str]:
        return {"flag": self.flag, "saw": self.saw}

    def text(self) -> str:
        return f"{self.flag}: {self.saw}"


def _quote(match: re.Match[str], text: str) -> str:
    start, end = max(0, match.start() - 40), min(len(text), match.end() + 40)
    return " ".join(text[start:end].split())


def assess(
    *,
    status: int,
    title: str,
    text: str,
    dom: bytes | None,
    screenshot: bytes | None,
    size: int,
    earlier_sizes: Sequence[int] = (),
) -> tuple[Flag, ...]:
    """The flags for one captured page (``text``: its visible text; ``size``: its DOM's bytes;
    ``earlier_sizes``: those of the earlier pages of the same batch or walk). None for a page
    that answered with an HTTP error: its status already says it is not the listing; QA
    looks at the pages that answered as if they were."""
    flags: list[Flag] = []
    if status >= 400:
        return ()  # the HTTP error status already says so (capture.json → http_error, and a warning)
    head = f"{title}\n{text}"
    markup = (dom or b"")[:2_000_000]
    m = _CAPTCHA.search(head)
    mm = _CAPTCHA_MARKUP.search(markup.decode("utf-8", "replace"))
    if m or mm:
        saw = f'the words "{_quote(m, head)}"' if m else f"the captcha markup {mm.group(0)!r}" if mm else ""
        flags.append(Flag("captcha", f"a captcha or bot-wall interstitial: {saw}"))
    pw = _PASSWORD.search(markup)
    lm = _LOGIN.search(head)
    if pw or lm:
        parts = (["a password field"] if pw else []) + ([f'the words "{_quote(lm, head)}"'] if lm else [])
        flags.append(Flag("login-wall", f"a login wall: {' and '.join(parts)}"))
    em = _ERROR.search(title) or _ERROR.search(text[:400])
    if em:
        where = "title" if _ERROR.search(title) else "text"
        src = title if where == "title" else text[:400]
        flags.append(
            Flag("error-page", f'an error page answered with HTTP {status}: its {where} says "{_quote(em, src)}"')
        )
    if screenshot:
        blank = _blank(screenshot)
        if blank:
            flags.append(Flag("blank-screenshot", blank))
    earlier = sorted(s for s in earlier_sizes if s > 0)
    if earlier:
        median = earlier[len(earlier) // 2]
        if size < SMALL_SHARE * median:
            flags.append(
                Flag(
                    "much-smaller",
                    f"the page is {size:,} bytes, under {SMALL_SHARE:.0%} of the earlier pages' median of {median:,}",
                )
            )
    return tuple(flags)


def _blank(png: bytes) -> str | None:
    """Why the screenshot is blank or near-uniform, or None."""
    import numpy as np

    pixels = png_pixels(png)
    if pixels is None or pixels.size == 0:
        return None
    rgb = pixels[:, :, :3].reshape(-1, 3)
    packed = (rgb[:, 0].astype(np.uint32) << 16) | (rgb[:, 1].astype(np.uint32) << 8) | rgb[:, 2]
    values, counts = np.unique(packed, return_counts=True)
    top = int(counts.argmax())
    share = float(counts[top]) / packed.size
    luminance = rgb @ np.array([0.299, 0.587, 0.114])
    stddev = float(luminance.std())
    if share >= UNIFORM_SHARE or stddev < FLAT_STDDEV:
        return (
            f"the viewport screenshot is blank or near-uniform: {share:.1%} of its {packed.size:,} pixels are "
            f"#{int(values[top]):06x}, luminance standard deviation {stddev:.2f}"
        )
    return None


def png_pixels(data: bytes) -> Any:
    """The pixels of an 8-bit RGB(A), non-interlaced PNG as a numpy array (height, width,
    channels), or None for any other PNG (or one that is not a PNG)."""
    import numpy as np

    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos, idat, ihdr = 8, [], None
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body[:13])
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        return None
    width, height, depth, colour, _c, _f, interlace = ihdr
    channels = {2: 3, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace or not 0 < width * height <= _MAX_PIXELS:
        return None
    stride = width * channels
    expected = height * (stride + 1)
    inflater = zlib.decompressobj()
    raw = inflater.decompress(b"".join(idat), expected)
    if len(raw) != expected:
        return None
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = int(rows[y, 0]), rows[y, 1:]
        if kind == 0:
            cur = line.copy()
        elif kind == 1:
            cur = (np.cumsum(line.reshape(width, channels), axis=0, dtype=np.uint64) % 256).astype(np.uint8).ravel()
        elif kind == 2:
            cur = line + prev
        elif kind in (3, 4):
            cur = _slow_row(kind, line, prev, channels)
        else:
            return None
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)


def _slow_row(kind: int, line: Any, prev: Any, bpp: int) -> Any:
    """PNG's Average (3) and Paeth (4) filters, byte by byte (rare in browser screenshots)."""
    import numpy as np

    cur = [0] * len(line)
    ln, up = line.tolist(), prev.tolist()
    for i, x in enumerate(ln):
        a = cur[i - bpp] if i >= bpp else 0
        b = up[i]
        if kind == 3:
            cur[i] = (x + (a + b) // 2) & 0xFF
        else:
            c = up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            cur[i] = (x + pred) & 0xFF
    return np.array(cur, dtype=np.uint8)


def qa_record(flags: Sequence[Flag]) -> dict[str, Any]:
    """``capture.json`` → ``qa``."""
    return {
        "checked": ["captcha", "login-wall", "error-page", "blank-screenshot", "much-smaller"],
        "probably_not_the_listing": bool(flags),
        "flags": [f.to_json() for f in flags],
    }
