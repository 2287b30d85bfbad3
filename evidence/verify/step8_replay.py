"""Step 8, replay: the record replay opens for the page is its response, and no other could be opened instead."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Any

from evidence.bundle import (
    INDEX_PATH,
    PAGES_PATH,
    WARC_PATH,
)
from evidence.verify.common import (
    CAPTURE_PATH,
    Fail,
    PageRecord,
    WarcScan,
    parse_utc,
    short_json,
)


def check_replay(manifest: dict[str, Any], scan: WarcScan, cap: dict[str, Any], status: Any) -> None:
    """The record a replayer opens for the page is the page's response, and the only one it could open.

    Replay (pywb, ReplayWeb.page) looks the page's address up by its SURT key and takes the
    capture closest to the time in ``pages.jsonl`` (or to ``mainPageDate``, the capture's
    start, for a viewer opening the main page), the first in index order among equally
    close ones. Every record under that key at that distance must be a response with the
    manifest's status and the same payload (else which one a reader sees depends on the
    replayer), except the raw fetch's copy beside the browser's (compared by the capture
    itself); redirects to the address itself from another spelling are skipped; and when
    ``capture.json`` gives the SHA-256 of the page's body as the browser had it
    (``main_document.body_sha256``), the browser's record replay opens must hold exactly
    that body. (docs/bundle-format.md, "The page replay opens".)
    """
    from evidence.bundle import page_entry

    want = page_entry(cap)
    # A redirect from another spelling of the address to the address itself (http:// to
    # https://) is skipped by replayers as a self-redirect; it is not a rival of the page.
    recs = [r for r in scan.page_records if not (r.self_redirect and r.uri != want.get("url"))]
    if not recs:
        return  # scan_warc already requires a response for the page
    main = cap.get("main_document")
    body = main.get("body_sha256") if isinstance(main, dict) else None
    # The time in pages.jsonl (what ReplayWeb.page opens), and mainPageDate in
    # datapackage.json (what a viewer opening the main page may use).
    stamps = (want.get("ts"), manifest.get("capture_started"))
    parsed = [parse_utc(t) for t in stamps]
    if parsed[0] is None:
        # A replayer reads "...+14:00" (or any other form) its own way: the time must be
        # one that every reader turns into the same second.
        raise Fail(
            f"{PAGES_PATH} gives the page the time {short_json(stamps[0])}, which is not a UTC time of the form "
            "2026-01-31T12:00:00Z (from capture.json main_document.warc_date or started_at): replay programs "
            "would read it differently and open different records.",
            PAGES_PATH,
            CAPTURE_PATH,
        )

    def digits(t: float) -> str:
        d = datetime.fromtimestamp(int(t // 1), UTC)
        return f"{d.year:04d}{d.month:02d}{d.day:02d}{d.hour:02d}{d.minute:02d}{d.second:02d}"

    times = dict.fromkeys(digits(p) for p in parsed if p is not None)

    def seconds(stamp: str) -> float:
        try:
            return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
        except ValueError:
            return float("inf")

    def what(r: PageRecord) -> str:
        src = " (raw fetch)" if r.raw_fetch else ""
        return f"record {r.number} ({r.kind}{src} of {r.uri[:200]}, status {r.status}, payload SHA-256 {r.sha256})"

    for ts in times:
        at = seconds(ts)
        best = min(abs(seconds(r.order[1]) - at) for r in recs)
        close = [r for r in recs if abs(seconds(r.order[1]) - at) == best]
        shown = close[0]
        if shown.kind != "response" or (isinstance(status, int) and shown.status != status):
            raise Fail(
                f"Replay of the page opens {what(shown)}, not a response with the HTTP status {status} the "
                "manifest records: a reader replaying the archive would see something other than the preserved "
                "page.",
                WARC_PATH,
                INDEX_PATH,
            )
        for r in close[1:]:
            if r.raw_fetch != shown.raw_fetch:
                # The raw fetch's copy beside the browser's: they may differ honestly (wire
                # bytes, cloaking); the capture compares them and warns (capture.json).
                continue
            if r.kind != shown.kind or r.status != shown.status or r.sha256 != shown.sha256:
                raise Fail(
                    f"The web archive holds two different records a replayer could open for the page at the "
                    f"same time: {what(shown)} and {what(r)}. Which one a reader sees depends on the replay "
                    "program, so the archive does not show one page.",
                    WARC_PATH,
                    INDEX_PATH,
                )
        if (
            isinstance(body, str)
            and isinstance(main, dict)
            and not shown.raw_fetch
            and main.get("url") in (None, want.get("url"), shown.uri)
            and not hmac.compare_digest(body.encode(), shown.sha256.encode())
        ):
            raise Fail(
                f"Replay of the page opens {what(shown)}, but {CAPTURE_PATH} records that the browser had a "
                f"body with SHA-256 {short_json(body)}: the archive would show another page than the one the "
                "capture describes.",
                WARC_PATH,
                CAPTURE_PATH,
            )
