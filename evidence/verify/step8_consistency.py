"""Step 8: the capture records agree with each other.

The manifest and capture.json, the times, the WARC (dates, statuses, gzip members, digests), the
index, pages.jsonl and datapackage.json, what replay opens, and report.html / VERIFY.txt.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from evidence._internal import jsonstrict
from evidence._internal.timefmt import bounded_text, hidden_characters, visible_text
from evidence.bundle import (
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    INDEX_PATH,
    MANIFEST_PATH,
    PAGES_PATH,
    PROOF_PATH,
    REPORT_PATH,
    TOKEN_RE,
    VERIFY_PATH,
    WARC_PATH,
)
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import (
    BundleFormatError,
    EvidenceError,
)
from evidence.timestamp import (
    MAX_RESPONSE_BYTES,
    TimestampToken,
)
from evidence.verify import common
from evidence.verify.common import (
    CAPTURE_PATH,
    CLOCK_TOLERANCE_S,
    INDEX_FILENAME,
    LATE_SIGNATURE_S,
    LONG_CAPTURE_S,
    MAX_PAGES_LINES,
    PACKAGE_FIELDS,
    PAGES_HEADER,
    Fail,
    InflateBudget,
    PageRecord,
    WarcScan,
    Window,
    capture_time,
    index_offset,
    keep_learned,
    parse_utc,
    plain_uri,
    same_json,
    short_json,
    span,
    warc_time,
    when_text,
)
from evidence.verify.context import Context
from evidence.verify.step2_manifest import Step2Result
from evidence.verify.step4_inclusion import Step4Result
from evidence.verify.step5_log_signature import Step5Result, cosigner_keys
from evidence.verify.step6_cosignatures import Step6Result, earliest_cosignatures


@dataclass(frozen=True)
class Step8Result:
    """Step 8's detail and files, and the warnings for the report."""

    detail: str
    files: tuple[str, ...]
    warnings: tuple[str, ...]


def run(ctx: Context, sealed: Step2Result, inclusion: Step4Result, log: Step5Result, clock: Step6Result) -> Step8Result:
    """Step 8: every cross-check; warnings found before a failure are kept for the report."""
    check = _Consistency(ctx, sealed.manifest, inclusion.signed, clock.clock_time, log)
    try:
        detail, files = check.check()
    except Exception as e:
        keep_learned(e, Step8Result("", (), tuple(check.warnings)))
        raise
    return Step8Result(detail, files, tuple(check.warnings))


class _Consistency:
    """The checks of step 8, over what the earlier steps established; collects this step's warnings."""

    def __init__(
        self,
        ctx: Context,
        manifest: dict[str, Any],
        signed: SignedCheckpoint,
        clock_time: int,
        log: Step5Result,
    ) -> None:
        self.ctx = ctx
        self.manifest = manifest
        self.signed = signed
        self.clock_time = clock_time
        self.refreshes = log.refreshes
        self.clock_key = log.clock_key
        self.warnings: list[str] = []

    def check(self) -> tuple[str, tuple[str, ...]]:
        """All of step 8; the detail and files of a pass."""
        m = self.manifest
        cap = self.ctx.json(CAPTURE_PATH)
        if not isinstance(cap, dict):
            raise Fail(f"{CAPTURE_PATH} is not a capture record (a JSON object).", CAPTURE_PATH)
        self.capture_warnings(cap)
        self.hidden_text_warnings(cap)
        opts = cap.get("options") if isinstance(cap.get("options"), dict) else {}
        assert isinstance(opts, dict)
        self.note_not_made(cap)
        pairs = [
            ("url", "requested_url", "the requested address", cap.get("requested_url")),
            ("final_url", "final_url", "the address finally shown", cap.get("final_url")),
            ("status", "status", "the HTTP status", cap.get("status")),
            ("http_error", "http_error", "whether the server answered with an error", bool(cap.get("http_error"))),
            ("capture_started", "started_at", "the capture's start time", cap.get("started_at")),
            ("capture_finished", "finished_at", "the capture's end time", cap.get("finished_at")),
            ("case", "options.case", "the case reference", opts.get("case")),
            ("operator", "options.operator", "the operator", opts.get("operator")),
        ]
        for mkey, ckey, what, cval in pairs:
            if m.get(mkey) != cval:
                raise Fail(
                    f"The manifest and {CAPTURE_PATH} disagree about {what}: the manifest says {m.get(mkey)!r}, "
                    f"{CAPTURE_PATH} ({ckey}) says {cval!r}.",
                    CAPTURE_PATH,
                    MANIFEST_PATH,
                )
        self.check_sealed_json()
        window = self.check_times()
        self.check_artifacts_sealed(cap)
        url, final_url, status = m.get("url"), m.get("final_url"), m.get("status")
        targets = [u for u in (final_url, url) if isinstance(u, str) and u]
        if not targets:
            raise Fail("The manifest records no address for the preserved page.", MANIFEST_PATH)
        scan = self.scan_warc(targets, window)
        found = scan.statuses
        ok_url = next((u for u in targets if found.get(u) and (status is None or status in found[u])), None)
        if ok_url is None:
            seen = "; ".join(f"{u}: {found[u]}" for u in targets if u in found) or "none"
            raise Fail(
                f"The web archive {WARC_PATH} holds no response for the preserved page ({targets[0]}) with the HTTP "
                f"status {status} the manifest records (responses found for it: {seen}).",
                WARC_PATH,
            )
        self.check_index(scan)
        self.check_pages(targets, cap)
        self.check_replay(scan, cap, status)
        self.check_package()
        from evidence.report import EDITIONS, old_edition_warning, render_report, render_verify_txt

        older: list[tuple[str, int]] = []
        for path, render in ((REPORT_PATH, render_report), (VERIFY_PATH, render_verify_txt)):
            have = self.ctx.read(path)
            matched: int | None = None
            error: str | None = None
            for edition in EDITIONS:  # the current wording first, then those of earlier versions
                try:
                    want = render(self.ctx.v, edition=edition)
                except EvidenceError as e:
                    error = error or e.diagnostics()
                    continue
                except (AttributeError, TypeError, KeyError, ValueError, ArithmeticError, RecursionError) as e:
                    # render_* trust the shapes of capture.json; a sealed but malformed record lands here.
                    error = error or f"the bundle's capture records are malformed ({bounded_text(e, 300)})"
                    continue
                if hmac.compare_digest(have, want):
                    matched = edition
                    break
            if matched is None and error is not None:
                raise Fail(f"{path} cannot be regenerated from the bundle's data: {error}", path)
            if matched is None:
                raise Fail(
                    f"{path} is not what the bundle's data produces: it was edited after the bundle was written, so "
                    "it may state things the sealed evidence does not support.",
                    path,
                )
            if matched != EDITIONS[0]:
                older.append((path, matched))
        if older:
            self.warnings.append(old_edition_warning(older))
        return (
            f"{CAPTURE_PATH} agrees with the manifest; the times are in a possible order ({window.describe()}); "
            f"{WARC_PATH} holds the response for {ok_url} with HTTP status {status}, and its {scan.records} "
            f"records are dated within the capture; {INDEX_PATH} is exactly the index of those records "
            f"({len(scan.index)} lines); {PAGES_PATH} and {DATAPACKAGE} show exactly the sealed page, title and "
            f"dates; {REPORT_PATH} and {VERIFY_PATH} are exactly what the bundle's data produces"
            + (" (in the wording of an earlier version; see the warnings)." if older else "."),
            (CAPTURE_PATH, WARC_PATH, INDEX_PATH, PAGES_PATH, DATAPACKAGE, REPORT_PATH, VERIFY_PATH),
        )

    def capture_warnings(self, cap: dict[str, Any]) -> None:
        """What the capture itself warned about (``capture.json`` → ``warnings``: the site
        answered the browser and the raw fetch differently, the page never settled, text no
        font could draw, ...), in the report's warnings, marked as the capture's."""
        found = cap.get("warnings")
        if not isinstance(found, list):
            return
        for w in found[:100]:
            if isinstance(w, str) and w.strip():
                self.warnings.append(f"the capture recorded: {w.strip()[:2000]}")

    def check_artifacts_sealed(self, cap: dict[str, Any]) -> None:
        """Every file ``capture.json`` lists as written is sealed: a capture file may be
        absent only with a recorded reason (``artifacts_not_made``), never silently."""
        listed = cap.get("artifacts")
        if not isinstance(listed, list):
            return
        files = self.manifest.get("files")
        sealed = {f.get("path") for f in files if isinstance(f, dict)} if isinstance(files, list) else set()
        for name in listed:
            if not isinstance(name, str):
                continue
            path = WARC_PATH if name == "archive.warc.gz" else f"evidence/{name}"
            if path not in sealed:
                raise Fail(
                    f"{CAPTURE_PATH} lists {name} among the files the capture wrote, but the bundle does not seal "
                    f"{path}: a file of the capture is missing, and no reason for it is recorded.",
                    CAPTURE_PATH,
                    path,
                )

    def note_not_made(self, cap: dict[str, Any]) -> None:
        """A warning for each capture file the capture record says was not made (turned off,
        or skipped at its time limit): a missing PDF is then a recorded fact, not a gap."""
        not_made = cap.get("artifacts_not_made")
        if not isinstance(not_made, dict):
            return
        for name, why in sorted(not_made.items()):
            reason = why.get("reason") if isinstance(why, dict) else why
            self.warnings.append(f"{name} was not made in this capture: {reason} ({CAPTURE_PATH}).")

    @contextmanager
    def stream(self, name: str) -> Iterator[Any]:
        try:
            f = self.ctx.v.stream(name)
        except BundleFormatError as e:
            raise Fail(e.message, name) from e
        with f:
            yield f

    def check_sealed_json(self) -> None:
        """Every sealed ``.json`` file is strict JSON (one reading only; see evidence._internal.jsonstrict)."""
        for f in self.manifest.get("files", []):
            path = f.get("path") if isinstance(f, dict) else None
            if isinstance(path, str) and path.endswith(".json") and path != CAPTURE_PATH:
                self.ctx.json(path)

    def check_times(self) -> Window:
        """The capture's start and end, the log's signed time, every verified cosignature and
        every RFC 3161 genTime must be in an order that can be true, within CLOCK_TOLERANCE_S.

        An impossible order fails; a suspicious gap is a warning (docs/bundle-format.md §4).
        """
        m = self.manifest
        start = capture_time(m.get("capture_started"), "capture_started")
        finish = capture_time(m.get("capture_finished"), "capture_finished")
        tol = CLOCK_TOLERANCE_S
        if finish < start - tol:
            raise Fail(
                f"The capture is recorded as finished at {when_text(finish)}, {span(start - finish)} before it started "
                f"({when_text(start)}): that cannot be true, even allowing {span(tol)} for the clock being corrected.",
                MANIFEST_PATH,
                CAPTURE_PATH,
            )
        if finish - start > LONG_CAPTURE_S:
            self.warnings.append(
                f"The capture lasted {span(finish - start)} by the capture machine's clock ({when_text(start)} to "
                f"{when_text(finish)}); a capture normally takes seconds. The page may have changed during it."
            )
        clock = self.clock_time
        if finish > clock + tol:
            raise Fail(
                f"The capture's clock says it finished at {when_text(finish)}, but the log signed the checkpoint "
                f"holding its seal at {when_text(clock)}, {span(finish - clock)} earlier. A capture cannot be sealed "
                f"before it ends (tolerance for clock differences: {span(tol)}): the capture machine's clock was "
                "wrong, or its times were made up.",
                MANIFEST_PATH,
                PROOF_PATH,
            )
        if clock - finish > LATE_SIGNATURE_S:
            self.warnings.append(
                f"The log signed the checkpoint holding this capture's seal at {when_text(clock)}, "
                f"{span(clock - finish)} after the capture ended ({when_text(finish)}, capture machine's clock). "
                "A capture is normally sealed within seconds; until this is explained, the capture's own times rest "
                "on its machine's clock alone."
            )
        now = datetime.now(UTC).timestamp()
        if start > now + tol:
            self.warnings.append(
                f"The capture is dated {when_text(start)}, after the time on this computer ({when_text(now)})."
            )
        keys = cosigner_keys(self.ctx, self.clock_key)
        found = earliest_cosignatures(self.signed, self.refreshes, keys, "cosignature")
        for key, (t, where) in sorted(found.items(), key=lambda kv: kv[1][0]):
            if t < finish - tol:
                on = f" (on {where})" if where else ""
                raise Fail(
                    f"{key.name} cosigned the checkpoint holding this capture's seal at {when_text(t)}{on}, "
                    f"{span(finish - t)} before the capture finished ({when_text(finish)}): that cannot be true "
                    f"(tolerance {span(tol)}).",
                    PROOF_PATH,
                    MANIFEST_PATH,
                )
        own = [n for n in self.ctx.v.names if TOKEN_RE.match(n)]
        stamped = [(n, True) for n in own] + [(n, False) for r in self.refreshes for n, _ in r.tokens]
        for name, on_own in stamped:
            try:
                gen = TimestampToken.parse(self.ctx.read(name, limit=MAX_RESPONSE_BYTES)).gen_time.timestamp()
            except (EvidenceError, ValueError, OverflowError) as e:  # checked in step 7 already
                raise Fail(f"{name} cannot be read as a time-stamp: {e}", name) from e
            if gen < finish - tol:
                raise Fail(
                    f"{name} dates the log's checkpoint at {when_text(gen)}, {span(finish - gen)} before the capture "
                    f"it holds had finished ({when_text(finish)}, capture machine's clock): that cannot be true "
                    f"(tolerance {span(tol)}). The capture's times, or the time-stamp, are false.",
                    name,
                    MANIFEST_PATH,
                )
            if on_own and gen < clock - tol:
                raise Fail(
                    f"{name} dates the checkpoint note at {when_text(gen)}, {span(clock - gen)} before the log's clock "
                    f"signed it ({when_text(clock)}): the note cannot have existed before its own signature "
                    f"(tolerance {span(tol)}).",
                    name,
                    PROOF_PATH,
                )
        return Window(start, finish, clock)

    def scan_warc(self, targets: Sequence[str], window: Window) -> WarcScan:
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
            with self.stream(WARC_PATH) as f:
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

    def check_index(self, scan: WarcScan) -> None:
        """``indexes/index.cdx`` must be, byte for byte, the index of the WARC's records."""
        want = ("\n".join(scan.index) + "\n").encode("utf-8")
        if not self.ctx.v.has(INDEX_PATH):
            raise Fail(f"The bundle has no {INDEX_PATH}.", INDEX_PATH)
        try:
            have = self.ctx.v.read(INDEX_PATH, limit=common.MAX_INDEX_BYTES)
        except BundleFormatError as e:
            raise Fail(
                f"{INDEX_PATH} cannot be read, or is larger than this verifier accepts: {e.message}", INDEX_PATH
            ) from e
        if hmac.compare_digest(have, want):
            return
        wanted = set(scan.index)
        by_offset: dict[str, str] = {}
        for line in scan.index:
            off = index_offset(line)
            if off is not None:
                by_offset[off] = line
        try:
            got = have.decode("utf-8").split("\n")
        except UnicodeDecodeError as e:
            raise Fail(f"{INDEX_PATH} is not UTF-8 text.", INDEX_PATH) from e
        if got and got[-1] == "":
            got = got[:-1]
        seen: set[str] = set()
        for n, line in enumerate(got, start=1):
            if line in seen:
                raise Fail(
                    f"Line {n} of {INDEX_PATH} repeats an earlier line; each record is indexed once.", INDEX_PATH
                )
            seen.add(line)
            if line in wanted:
                continue
            off = index_offset(line)
            real = by_offset.get(off) if off is not None else None
            if real is None:
                raise Fail(
                    f"Line {n} of {INDEX_PATH} ({line[:200]}) does not point at an indexed record of {WARC_PATH} "
                    "(no such record starts at the offset it gives). Replay would show something the archive does "
                    "not hold as indexed.",
                    INDEX_PATH,
                    WARC_PATH,
                )
            raise Fail(
                f"Line {n} of {INDEX_PATH} ({line[:200]}) does not describe the record it points at: the record at "
                f"offset {off} of {WARC_PATH} is indexed as {real[:200]}. Replay would show the wrong thing for "
                "that address.",
                INDEX_PATH,
                WARC_PATH,
            )
        missing = [x for x in scan.index if x not in seen]
        if missing:
            parts = missing[0].split(" ", 2)
            data = jsonstrict.loads(parts[2]) if len(parts) == 3 else {}
            raise Fail(
                f"{INDEX_PATH} has no line for the record of {str(data.get('url'))[:300]} at offset "
                f"{data.get('offset')} of {WARC_PATH}; every response, resource and revisit record must be indexed "
                f"(its line would be: {missing[0][:300]}).",
                INDEX_PATH,
                WARC_PATH,
            )
        raise Fail(
            f"{INDEX_PATH} holds the right lines but not in the order (sorted) or form the index rule fixes.",
            INDEX_PATH,
        )

    def check_pages(self, targets: Sequence[str], cap: dict[str, Any]) -> None:
        """``pages/pages.jsonl``: the fixed header line, then exactly the sealed page's line."""
        from evidence.bundle import page_entry

        raw = self.ctx.read(PAGES_PATH)
        lines_in_file = raw.count(b"\n")
        if lines_in_file > MAX_PAGES_LINES:
            # Counted before anything is split or parsed: millions of short lines would take
            # minutes and gigabytes to read as JSON.
            raise Fail(
                f"{PAGES_PATH} has {lines_in_file} lines; a bundle preserves one page (a header line and one page "
                "line), so a viewer could open another.",
                PAGES_PATH,
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Fail(f"{PAGES_PATH} is not UTF-8 text.", PAGES_PATH) from e
        rows = text.split("\n")
        if rows[-1] != "" or "\r" in text or any(not r.strip() for r in rows[:-1]):
            raise Fail(f"{PAGES_PATH} must be JSON lines, each ending in a newline, with no blank line.", PAGES_PATH)
        try:
            lines = [jsonstrict.loads(x) for x in rows[:-1]]
        except (ValueError, RecursionError) as e:
            raise Fail(f"{PAGES_PATH} is not a valid JSON Lines pages list ({e}).", PAGES_PATH) from e
        if not lines or not same_json(lines[0], PAGES_HEADER):
            raise Fail(
                f"{PAGES_PATH} does not start with the header line {json.dumps(PAGES_HEADER, sort_keys=True)}.",
                PAGES_PATH,
            )
        pages = lines[1:]
        if not any(isinstance(p, dict) and p.get("url") in targets for p in pages):
            raise Fail(f"{PAGES_PATH} does not list the preserved page {targets[0]}.", PAGES_PATH)
        if len(pages) != 1:
            raise Fail(
                f"{PAGES_PATH} lists {len(pages)} pages; a bundle preserves one page, so a viewer could open another.",
                PAGES_PATH,
            )
        want, page = page_entry(cap), pages[0]
        assert isinstance(page, dict)
        for key in sorted(set(page) | set(want)):
            if key not in want:
                raise Fail(
                    f"{PAGES_PATH} gives the page a field {key!r} that the bundle format does not have.", PAGES_PATH
                )
            if key not in page or not same_json(page[key], want[key]):
                raise Fail(
                    f"{PAGES_PATH} gives the page's {key!r} as {short_json(page.get(key))}, but the sealed capture "
                    f"record gives {short_json(want[key])}; a viewer would show what the capture did not record.",
                    PAGES_PATH,
                    CAPTURE_PATH,
                )

    def check_replay(self, scan: WarcScan, cap: dict[str, Any], status: Any) -> None:
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
        stamps = (want.get("ts"), self.manifest.get("capture_started"))
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

    def check_package(self) -> None:
        """``datapackage.json`` (not sealed) may hold only the fields the writer puts there, each
        exactly as the sealed manifest determines it; the same for ``datapackage-digest.json``."""
        from evidence.bundle import package_fields
        from evidence.bundle.wacz import WACZ_VERSION, resource_name

        pkg = self.ctx.json(DATAPACKAGE)
        assert isinstance(pkg, dict)
        unknown = sorted(set(pkg) - PACKAGE_FIELDS)
        if unknown:
            raise Fail(
                f"{DATAPACKAGE} has the field {unknown[0]!r}, which bundles never carry: it was added after sealing, "
                "and a viewer might show it.",
                DATAPACKAGE,
            )
        fields = package_fields(self.manifest)
        want: dict[str, Any] = {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            "title": fields["title"],
            "created": fields["created"],
            "software": fields["software"],
        }
        if fields["main_url"]:
            want["mainPageUrl"] = fields["main_url"]
        if fields["main_date"]:
            want["mainPageDate"] = fields["main_date"]
        for key in sorted(PACKAGE_FIELDS - {"resources"}):
            if key not in want and key in pkg:
                raise Fail(f"{DATAPACKAGE} has {key!r}, but the sealed manifest gives it no value.", DATAPACKAGE)
            if key in want and (key not in pkg or not same_json(pkg[key], want[key])):
                raise Fail(
                    f"{DATAPACKAGE} gives {key!r} as {short_json(pkg.get(key))}, but the sealed manifest makes it "
                    f"{short_json(want[key])}: it was rewritten after sealing, and WACZ viewers show it.",
                    DATAPACKAGE,
                    MANIFEST_PATH,
                )
        for r in pkg.get("resources", []):
            assert isinstance(r, dict)
            extra = sorted(set(r) - {"name", "path", "hash", "bytes"})
            if extra or r.get("name") != resource_name(str(r.get("path"))):
                what = f"the field {extra[0]!r}" if extra else f"the name {short_json(r.get('name'))}"
                raise Fail(
                    f"{DATAPACKAGE} gives the resource {r.get('path')} {what}, which the writer never does.",
                    DATAPACKAGE,
                )
        dig = self.ctx.json(DATAPACKAGE_DIGEST)
        if not isinstance(dig, dict) or set(dig) != {"path", "hash"}:
            raise Fail(f"{DATAPACKAGE_DIGEST} must hold exactly the fields 'path' and 'hash'.", DATAPACKAGE_DIGEST)

    def hidden_text_warnings(self, cap: dict[str, Any]) -> None:
        """A warning for every sealed value a reader is shown (addresses, title, case, operator,
        redirects) that holds invisible or direction-changing characters: a right-to-left
        override or a zero-width space makes an address read as another one. The text output
        and the certificate show such characters as ``[U+202E]``."""
        m = self.manifest
        opts = cap.get("options") if isinstance(cap.get("options"), dict) else {}
        assert isinstance(opts, dict)
        shown: list[tuple[str, Any]] = [
            ("the requested address", m.get("url")),
            ("the address finally shown", m.get("final_url")),
            ("the page title", cap.get("page_title")),
            ("the case reference", m.get("case")),
            ("the operator", m.get("operator")),
            ("the case reference in capture.json", opts.get("case")),
            ("the operator in capture.json", opts.get("operator")),
        ]
        tls = cap.get("tls")
        if isinstance(tls, dict):
            shown += [("the server certificate's subject", tls.get("subject")), ("its issuer", tls.get("issuer"))]
        chain = cap.get("redirect_chain")
        if isinstance(chain, list):
            for hop in chain[:100]:
                if isinstance(hop, dict):
                    shown += [("an address in the redirect chain", hop.get(k)) for k in ("url", "location")]
                else:
                    shown.append(("an address in the redirect chain", hop))
        seen: set[str] = set()
        for what, value in shown:
            if not isinstance(value, str) or value in seen:
                continue
            seen.add(value)
            hidden = hidden_characters(value)
            if hidden:
                self.warnings.append(
                    f"{what[0].upper()}{what[1:]} holds characters that are invisible or change the direction of "
                    f"text ({', '.join(hidden)}), so it can read as something it is not. Written with them "
                    f"shown: {visible_text(bounded_text(value, 500))}"
                )
