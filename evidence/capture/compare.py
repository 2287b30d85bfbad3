"""The browser's copy of the page against the independent raw fetch: what differed.

A site can answer the browser and a plain HTTP client differently on purpose (cloaking:
"10 EUR" for one, "999 EUR" for the other), or by nature (a token or a time in every
answer). Either way the two copies in the WARC are not the same page, and whoever reads
the evidence must be told, with enough detail to judge which of the two it was. This
module finds the raw fetch's exchange in its WARC bytes and describes the difference in
bounded size and time (line sets, not a quadratic diff).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

__all__ = ["describe_difference", "difference_warning", "raw_fetch_exchange"]

#: At most this many differing lines are listed per side, each cut to _LINE_CHARS.
_MAX_LINES = 10
_LINE_CHARS = 300
#: Request headers whose values are expected to differ between any two requests.
_IGNORED_HEADERS = frozenset({"cookie", "host", "connection", "content-length"})


def raw_fetch_exchange(raw_warc: bytes, url: str) -> tuple[bytes | None, list[tuple[str, str]]]:
    """The (decoded) body of the last raw-fetch response for ``url`` and the headers of
    its request, read from the raw fetch's WARC bytes; ``(None, [])`` if not found."""
    from warcio.archiveiterator import ArchiveIterator

    body: bytes | None = None
    headers: list[tuple[str, str]] = []
    try:
        for record in ArchiveIterator(io.BytesIO(raw_warc)):
            if record.rec_headers.get_header("WARC-Target-URI") != url:
                continue
            if record.rec_type == "response":
                body = record.content_stream().read()
            elif record.rec_type == "request" and record.http_headers is not None:
                headers = [(str(k), str(v)) for k, v in record.http_headers.headers]
    except Exception:  # warcio raises many kinds; the comparison is then not possible
        return None, []
    return body, headers


def _text(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _excerpts(a: str, b: str, context: int = 40, limit: int = 200) -> tuple[str, str]:
    """The part where ``a`` and ``b`` differ (their common start and end removed), with a
    little of the text around it, from each."""
    start = 0
    end = min(len(a), len(b))
    while start < end and a[start] == b[start]:
        start += 1
    tail = 0
    while tail < end - start and a[len(a) - 1 - tail] == b[len(b) - 1 - tail]:
        tail += 1
    lo = max(0, start - context)

    def cut(s: str) -> str:
        hi = min(len(s), len(s) - tail + context)
        piece = " ".join(s[lo:hi].split())
        return piece[:limit] + ("..." if len(piece) > limit else "")

    return cut(a), cut(b)


def _only_in(these: list[str], others: set[str]) -> tuple[list[str], int]:
    found = [line for line in dict.fromkeys(these) if line not in others]
    return [line[:_LINE_CHARS] for line in found[:_MAX_LINES]], len(found)


def _header_map(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key not in _IGNORED_HEADERS:
            out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def describe_difference(
    browser_body: bytes,
    raw_body: bytes,
    *,
    charset: str | None,
    browser_request: Sequence[tuple[str, str]],
    raw_request: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """What differs between the browser's and the raw fetch's copy of the page: sizes,
    the first differing byte, the lines only one of them has (a few of each, cut to
    length, with their counts) and how the two requests differed (header names)."""
    first = next(
        (i for i, (a, b) in enumerate(zip(browser_body, raw_body, strict=False)) if a != b),
        min(len(browser_body), len(raw_body)),
    )
    browser_text, raw_text = _text(browser_body, charset), _text(raw_body, charset)
    browser_excerpt, raw_excerpt = _excerpts(browser_text, raw_text)
    browser_lines, raw_lines = _lines(browser_text), _lines(raw_text)
    only_browser, n_browser = _only_in(browser_lines, set(raw_lines))
    only_raw, n_raw = _only_in(raw_lines, set(browser_lines))
    b_headers, r_headers = _header_map(browser_request), _header_map(raw_request)
    return {
        "text_identical": browser_text == raw_text,
        "browser_body_bytes": len(browser_body),
        "raw_fetch_body_bytes": len(raw_body),
        "first_difference_at_byte": first,
        "browser_excerpt": browser_excerpt,
        "raw_fetch_excerpt": raw_excerpt,
        "lines_only_in_browser": only_browser,
        "lines_only_in_browser_count": n_browser,
        "lines_only_in_raw_fetch": only_raw,
        "lines_only_in_raw_fetch_count": n_raw,
        "request_headers": {
            "only_browser_sent": sorted(set(b_headers) - set(r_headers)),
            "only_raw_fetch_sent": sorted(set(r_headers) - set(b_headers)),
            "sent_with_different_values": sorted(
                k for k in set(b_headers) & set(r_headers) if b_headers[k] != r_headers[k]
            ),
        },
    }


def difference_warning(url: str, diff: dict[str, Any]) -> str:
    """The plain-language warning for a page the browser and the raw fetch got differently."""
    return (
        f"CONTENT DIFFERS BY CLIENT: the server sent the browser a different page than the "
        f"independent raw fetch of the same address {url} "
        f"({diff['browser_body_bytes']:,} vs {diff['raw_fetch_body_bytes']:,} bytes; the "
        f"browser got {diff['browser_excerpt']!r} where the raw fetch got "
        f"{diff['raw_fetch_excerpt']!r}; {diff['lines_only_in_browser_count']} line(s) only "
        f"in the browser's copy, {diff['lines_only_in_raw_fetch_count']} only in the raw "
        "fetch's). The site may show different content to "
        "different visitors (cloaking), or the page may change on every request (a token, a "
        "time). The screenshots, DOM, PDF, MHTML and replay show what the browser got; the raw "
        "fetch's copy is in the WARC (WARC-Evidence-Source: raw-fetch). Details: capture.json "
        "main_document.raw_fetch_differs."
    )
