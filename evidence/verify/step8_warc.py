"""Step 8, the web archive: one bounded pass over the WARC (dates, statuses, members, digests)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from evidence._internal.timefmt import visible_text
from evidence.bundle import (
    WARC_PATH,
)
from evidence.errors import (
    BundleFormatError,
)
from evidence.verify import common
from evidence.verify.common import (
    CLOCK_TOLERANCE_S,
    INDEX_FILENAME,
    Fail,
    InflateBudget,
    PageRecord,
    WarcScan,
    Window,
    plain_uri,
    short_json,
    span,
    warc_time,
    when_text,
)
from evidence.verify.context import Context


@contextmanager
def stream(ctx: Context, name: str) -> Iterator[Any]:
    try:
        f = ctx.v.stream(name)
    except BundleFormatError as e:
        raise Fail(e.message, name) from e
    with f:
        yield f


def scan_warc(ctx: Context, targets: Sequence[str], window: Window) -> WarcScan:
    """Read the WARC once: every record's date within the capture window, the HTTP statuses
    of the page's responses, and the index lines its records must have (evidence.bundle.wacz.cdxj_line).

    Bounded: at most MAX_WARC_INFLATED bytes are decompressed, MAX_INDEX_LINES kept, and
    no line longer than MAX_WARC_LINE (nor more than MAX_WARC_LINES) read.
    """
    from urllib.parse import urljoin

    from warcio.archiveiterator import ArchiveIterator

    from evidence.bundle.surt import surt
    from evidence.bundle.wacz import cdxj_line, index_order

    found: dict[str, list[int | None]] = {}
    lines: list[tuple[str, str, int, str]] = []
    page_records: list[PageRecord] = []
    # The key replay opens the page under: that of the address pages.jsonl lists (the final
    # one; the requested address, if different, replays as the redirect it was).
    page_keys: set[str] = set()
    try:
        page_keys = {surt(targets[0])}
    except Exception:  # a sealed address no SURT can be made of: nothing can be replayed under it
        page_keys = set()
    count = 0
    low, high = window.start - CLOCK_TOLERANCE_S, window.finish + CLOCK_TOLERANCE_S
    try:
        with stream(ctx, WARC_PATH) as f:
            budget = InflateBudget(f)
            # Digests checked (a record cut short, or with a block or payload other than its
            # WARC-*-Digest says, is refused), as `warcio check` does.
            it = ArchiveIterator(budget, check_digests="raise")
            budget.bound_lines(it)
            for rec in it:
                count += 1
                if not it.reader.decompressor:
                    raise Fail(
                        f"Record {count} of {WARC_PATH} is not compressed on its own (a bundle's archive is one "
                        "gzip member per record): replay programs may read the archive differently.",
                        WARC_PATH,
                    )
                raw_date = rec.rec_headers.get_header("WARC-Date")
                when = warc_time(raw_date)
                if when is None:
                    raise Fail(
                        f"Record {count} of {WARC_PATH} has no valid WARC-Date ({str(raw_date)[:40]!r}).",
                        WARC_PATH,
                    )
                if not low <= when <= high:
                    uri = rec.rec_headers.get_header("WARC-Target-URI") or rec.rec_type
                    raise Fail(
                        f"Record {count} of {WARC_PATH} ({rec.rec_type} {str(uri)[:200]}) is dated {raw_date}, "
                        f"outside the capture ({when_text(window.start)} to {when_text(window.finish)}, tolerance "
                        f"{span(CLOCK_TOLERANCE_S)}): the archive holds something that was not recorded "
                        "during this capture.",
                        WARC_PATH,
                    )
                uri = rec.rec_headers.get_header("WARC-Target-URI")
                if rec.rec_type == "response" and uri in targets:
                    code: int | None = None
                    if rec.http_headers is not None:
                        raw = rec.http_headers.get_statuscode()
                        code = int(raw) if raw and str(raw).isdigit() else None
                    found.setdefault(uri, []).append(code)
                if isinstance(uri, str) and not plain_uri(uri):
                    raise Fail(
                        f"Record {count} of {WARC_PATH} names its address as "
                        f"{short_json(visible_text(uri[:300]))}, which is not a plain URI (it has angle brackets, "
                        "white space, or invisible, control or direction-changing characters, which a browser "
                        "never leaves unencoded): replay programs would read it as different addresses, and a "
                        "reader would see another.",
                        WARC_PATH,
                    )
                digest = None
                if rec.rec_type in ("response", "resource", "revisit") and isinstance(uri, str) and uri:
                    try:
                        under_page = surt(uri) in page_keys
                    except Exception:
                        under_page = False
                    if under_page:
                        h = hashlib.sha256()
                        while chunk := rec.raw_stream.read(1 << 16):
                            h.update(chunk)
                        digest = h.hexdigest()
                line = cdxj_line(rec, it.get_record_offset(), it.get_record_length(), INDEX_FILENAME)
                short = getattr(rec.raw_stream, "limit", 0)
                if short or it.err_count:
                    raise Fail(
                        f"Record {count} of {WARC_PATH} ({rec.rec_type} {str(uri)[:200]}) does not hold the "
                        "number of bytes its Content-Length declares"
                        + (f" ({short} bytes are missing)" if short else "")
                        + ": replay programs may read the archive differently.",
                        WARC_PATH,
                    )
                if line is not None:
                    if len(lines) >= common.MAX_INDEX_LINES:
                        raise Fail(
                            f"{WARC_PATH} holds more than {common.MAX_INDEX_LINES} indexed records, more than this "
                            "verifier accepts (a capture of one page holds far fewer).",
                            WARC_PATH,
                        )
                    order = index_order(line, rec)
                    lines.append(order)
                    if digest is not None:
                        code2: int | None = None
                        loops = False
                        if rec.rec_type == "response" and rec.http_headers is not None:
                            raw2 = rec.http_headers.get_statuscode()
                            code2 = int(raw2) if raw2 and str(raw2).isdigit() else None
                            where = rec.http_headers.get_header("Location")
                            if code2 is not None and 300 <= code2 < 400 and where:
                                try:
                                    loops = surt(urljoin(str(uri), str(where))) in page_keys
                                except Exception:
                                    loops = False
                        page_records.append(
                            PageRecord(
                                count,
                                order,
                                rec.rec_type,
                                str(uri),
                                rec.rec_headers.get_header("WARC-Evidence-Source") == "raw-fetch",
                                code2,
                                digest,
                                loops,
                            )
                        )
    except Fail:
        raise
    except Exception as e:  # warcio raises many kinds of errors on damaged archives
        raise Fail(
            f"The web archive {WARC_PATH} cannot be read as a WARC file ({type(e).__name__}: {e}).", WARC_PATH
        ) from e
    lines.sort()
    page_records.sort(key=lambda r: r.order)
    return WarcScan(found, tuple(k[-1] for k in lines), count, tuple(page_records))
