"""Step 8: the capture records agree with each other.

The manifest and capture.json, the times, the WARC (dates, statuses, gzip members, digests), the
index, pages.jsonl and datapackage.json, what replay opens, and report.html / VERIFY.txt.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from evidence._internal.timefmt import bounded_text, hidden_characters, visible_text
from evidence.bundle import (
    ATTEMPTS_PATH,
    DATAPACKAGE,
    INDEX_PATH,
    MANIFEST_PATH,
    PAGES_PATH,
    REPORT_PATH,
    VERIFY_PATH,
    WARC_PATH,
)
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import (
    EvidenceError,
)
from evidence.verify.common import (
    CAPTURE_PATH,
    Fail,
    keep_learned,
)
from evidence.verify.context import Context
from evidence.verify.step2_manifest import Step2Result
from evidence.verify.step4_inclusion import Step4Result
from evidence.verify.step5_log_signature import Step5Result
from evidence.verify.step6_cosignatures import Step6Result
from evidence.verify.step7_bracket import Bracket, check_window
from evidence.verify.step7_timestamps import Step7Result
from evidence.verify.step8_attempts import AttemptsSummary, check_attempts
from evidence.verify.step8_index import check_index
from evidence.verify.step8_records import check_package, check_pages
from evidence.verify.step8_replay import check_replay
from evidence.verify.step8_times import check_times
from evidence.verify.step8_walk import check_walk
from evidence.verify.step8_warc import scan_warc


@dataclass(frozen=True)
class Step8Result:
    """Step 8's detail and files, and the warnings for the report."""

    detail: str
    files: tuple[str, ...]
    warnings: tuple[str, ...]
    #: What evidence/attempts.json established (None: the bundle has none).
    attempts: AttemptsSummary | None = None
    #: The window the start token and the end time-stamps put the capture in (None: no start token).
    bracket: Bracket | None = None
    #: What capture QA flagged (``capture.json`` → ``qa.flags``).
    qa_flags: tuple[str, ...] = ()


def run(
    ctx: Context,
    sealed: Step2Result,
    inclusion: Step4Result,
    log: Step5Result,
    clock: Step6Result,
    stamps: Step7Result | None = None,
) -> Step8Result:
    """Step 8: every cross-check; warnings found before a failure are kept for the report."""
    check = _Consistency(ctx, sealed.manifest, inclusion.signed, clock.clock_time, log, stamps)
    try:
        detail, files = check.check()
        attempts = check_attempts(ctx, sealed.manifest_bytes, sealed.manifest, inclusion.signed)
    except Exception as e:
        keep_learned(e, Step8Result("", (), tuple(check.warnings), None, check.bracket, tuple(check.qa_flags)))
        raise
    if attempts is not None:
        detail += f" {ATTEMPTS_PATH}: {attempts.text}; each record is the logged entry at its index."
        files = (*files, ATTEMPTS_PATH)
    return Step8Result(detail, files, tuple(check.warnings), attempts, check.bracket, tuple(check.qa_flags))


class _Consistency:
    """The checks of step 8, over what the earlier steps established; collects this step's warnings."""

    def __init__(
        self,
        ctx: Context,
        manifest: dict[str, Any],
        signed: SignedCheckpoint,
        clock_time: int,
        log: Step5Result,
        stamps: Step7Result | None = None,
    ) -> None:
        self.stamps = stamps
        self.bracket: Bracket | None = None
        self.qa_flags: list[str] = []
        self.ctx = ctx
        self.manifest = manifest
        self.signed = signed
        self.clock_time = clock_time
        self.log = log
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
        window = check_times(self.ctx, self.manifest, self.signed, self.clock_time, self.log, self.warnings)
        if self.stamps is not None:
            window, self.bracket = check_window(
                self.ctx, self.stamps.start, self.stamps.tokens, window, self.warnings
            )
        self.qa_warnings(cap)
        self.check_artifacts_sealed(cap)
        walked = check_walk(self.ctx, self.manifest)
        url, final_url, status = m.get("url"), m.get("final_url"), m.get("status")
        targets = [u for u in (final_url, url) if isinstance(u, str) and u]
        if not targets:
            raise Fail("The manifest records no address for the preserved page.", MANIFEST_PATH)
        scan = scan_warc(self.ctx, targets, window)
        found = scan.statuses
        ok_url = next((u for u in targets if found.get(u) and (status is None or status in found[u])), None)
        if ok_url is None:
            seen = "; ".join(f"{u}: {found[u]}" for u in targets if u in found) or "none"
            raise Fail(
                f"The web archive {WARC_PATH} holds no response for the preserved page ({targets[0]}) with the HTTP "
                f"status {status} the manifest records (responses found for it: {seen}).",
                WARC_PATH,
            )
        check_index(self.ctx, scan)
        check_pages(self.ctx, targets, cap)
        check_replay(self.manifest, scan, cap, status)
        check_package(self.ctx, self.manifest)
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
        bracketed = f"; {self.bracket.detail}" if self.bracket is not None else ""
        return (
            f"{CAPTURE_PATH} agrees with the manifest; the times are in a possible order ({window.describe()})"
            f"{bracketed}; "
            f"{WARC_PATH} holds the response for {ok_url} with HTTP status {status}, and its {scan.records} "
            f"records are dated within the capture; {INDEX_PATH} is exactly the index of those records "
            f"({len(scan.index)} lines); {PAGES_PATH} and {DATAPACKAGE} show exactly the sealed page, title and "
            f"dates; {REPORT_PATH} and {VERIFY_PATH} are exactly what the bundle's data produces"
            + (" (in the wording of an earlier version; see the warnings)." if older else ".")
            + (f" {walked}" if walked else ""),
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

    def qa_warnings(self, cap: dict[str, Any]) -> None:
        """What capture QA flagged as probably not the listing (``capture.json`` → ``qa``): a
        captcha or login wall, an error page, a blank page. Still evidence (of cloaking,
        perhaps), but not of the listing; the report's data lists them."""
        qa = cap.get("qa")
        flags = qa.get("flags") if isinstance(qa, dict) else None
        if not isinstance(flags, list):
            return
        for f in flags[:50]:
            if isinstance(f, dict) and isinstance(f.get("saw"), str):
                # The warning itself is among the capture's own (capture.json → warnings).
                self.qa_flags.append(f"{f.get('flag')}: {f['saw'][:500]}")

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

    def check_sealed_json(self) -> None:
        """Every sealed ``.json`` file is strict JSON (one reading only; see evidence._internal.jsonstrict)."""
        for f in self.manifest.get("files", []):
            path = f.get("path") if isinstance(f, dict) else None
            if isinstance(path, str) and path.endswith(".json") and path != CAPTURE_PATH:
                self.ctx.json(path)

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
