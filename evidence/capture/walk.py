"""Walks: from a neutral start page, step by step, recorded on video, into one capture folder.

A walk opens its start address in a fresh browser context that records the screen, then
runs its steps (:mod:`evidence.capture.steps`) in order. After every step it waits for the
page to settle (a navigation's ``load`` event, then network quiet) and takes a viewport
screenshot; a ``snapshot`` step also records the full set of artifacts of that moment
(full-page and viewport screenshots, DOM, MHTML, PDF: the capture's own
:func:`~evidence.capture.browser._record`). The browser's every exchange of the whole
session goes into one WARC (with the raw fetch of the start address, as a capture has), the
screen recording into ``session.webm`` (and ``session.mp4`` when ffmpeg is on PATH), and
the steps, in order, with their times and their offsets into the video, into
``steps.json`` (docs/bundle-format.md, "Walks"). The last state stays on screen for
:data:`HOLD_END_MS` so the video ends on it.

A step that fails (its element is not found, its page does not load, it takes longer than
``timeout_s``) raises :class:`~evidence.capture.errors.WalkStepError` naming the step, and
nothing is written. Each step waits at most ``timeout_s``; each snapshot keeps to its own
``budget_s`` (:mod:`evidence.capture.budget`).
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from evidence.bundle.format import WALK_FORMAT
from evidence.capture import browser as b
from evidence.capture import clean
from evidence.capture.budget import Budget, ProgressCallback
from evidence.capture.environment import environment_report, system_snapshot, utc_now
from evidence.capture.errors import BrowserError, CaptureError, WalkStepError, seconds
from evidence.capture.options import CaptureOptions, load_storage_state
from evidence.capture.output import Staging, check_output_dir
from evidence.capture.result import error_kind
from evidence.capture.steps import Step, Walk
from evidence.capture.urls import check_url
from evidence.capture.video import MP4_NAME, VIDEO_NAME, to_mp4
from evidence.capture.warc import warc_date as _iso_time

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from evidence.capture.browser import Capturer

__all__ = ["HOLD_END_MS", "STEPS_NAME", "WALK_FORMAT", "WalkResult", "run_walk", "snapshot_name", "step_shot_name"]

STEPS_NAME = "steps.json"
#: The last state stays on screen this long, so the recording ends on it.
HOLD_END_MS = 1000
#: Quiet network wanted after each step (at most ``settle_ms``).
_STEP_QUIET_MS = 300
_MAX_VIDEO_BYTES = 1 << 30
#: The artifacts of a snapshot, in the order they are made (names as in a capture).
SNAPSHOT_PARTS = ("screenshot-viewport.png", "dom.html", "page.mhtml", "screenshot-full.png", "page.pdf")


def step_shot_name(number: int) -> str:
    """The viewport screenshot after step ``number`` (0: the start page)."""
    return f"step-{number:03d}.png"


def snapshot_name(name: str, part: str) -> str:
    """The file of ``part`` (``dom.html``, ...) of the snapshot ``name``."""
    return f"snapshot-{name}-{part}"


@dataclass(frozen=True)
class WalkResult:
    """A finished walk's folder and what it recorded (``capture.json`` and ``steps.json``)."""

    out_dir: Path
    start: str
    final_url: str
    facts: dict[str, Any]
    steps: dict[str, Any]
    artifacts: dict[str, Path]


class _Session:
    """One recorded browser session: a fresh context with its screen recorded, the steps
    taken in it, and the files they made."""

    def __init__(self, tab: b._Tab, opts: CaptureOptions) -> None:
        self.tab, self.opts = tab, opts
        self.page: Page = tab.page
        self.entries: list[dict[str, Any]] = []
        self.files: dict[str, bytes] = {}
        self.not_made: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []
        self.timings: dict[str, float] = {}
        #: (Unix time at the start, at the end) of each entry, for its offsets into the video.
        self.spans: list[tuple[float, float]] = []

    def settle(self, navigations: int) -> None:
        """Let the step's effects land: the network goes quiet, and a navigation it started
        (the main frame moved on since ``navigations``) loads and goes quiet too."""
        from playwright.sync_api import Error as PlaywrightError

        quiet_s = min(self.opts.settle_ms, _STEP_QUIET_MS) / 1000
        quiet = round(quiet_s * 1000)
        acted = time.monotonic()
        until = acted + self.opts.settle_max_s
        recorder = self.tab.recorder
        # Quiet since the action too: a navigation it caused may not have sent its request yet.
        while time.monotonic() < until and (recorder.quiet_for() < quiet_s or time.monotonic() - acted < quiet_s):
            b._check_size(recorder, self.opts)
            self.page.wait_for_timeout(25)
        if len(self.tab.navigations) != navigations or recorder.inflight:
            with contextlib.suppress(PlaywrightError):
                self.page.wait_for_load_state("load", timeout=max(1.0, self.opts.timeout_s * 1000))
            b._settle(self.page, self.tab.recorder, self.opts, quiet, None, until)

    def record(self, number: int, step: dict[str, Any], url_before: str, t0: float) -> dict[str, Any]:
        """Screenshot the viewport and add the step (done since ``t0``, Unix time) to the list."""
        shot = step_shot_name(number)
        self.files[shot] = self.screenshot()
        entry = {
            "number": number,
            **step,
            "url_before": url_before,
            "url_after": self.page.url,
            "started_at": _iso_time(t0),
            "finished_at": "",
            "offset_ms": None,
            "end_offset_ms": None,
            "screenshot": shot,
            "snapshot": None,
        }
        self.entries.append(entry)
        self.spans.append((t0, t0))
        self.end_entry()
        return entry

    def screenshot(self) -> bytes:
        """The viewport as PNG. Playwright's screenshot follows a navigation the step started late
        (a page being replaced may never draw the frame a DevTools screenshot waits for); one
        that still does not come is tried once more after the page loaded."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        wait = min(self.opts.timeout_s, 10.0) * 1000
        try:
            return self.page.screenshot(type="png", timeout=wait, animations="allow", caret="initial")
        except PlaywrightTimeout:
            self.page.wait_for_load_state("load", timeout=self.opts.timeout_s * 1000)
            return self.page.screenshot(type="png", timeout=wait, animations="allow", caret="initial")

    def end_entry(self) -> None:
        """The last entry ends now."""
        t1 = time.time()
        self.spans[-1] = (self.spans[-1][0], t1)
        self.entries[-1]["finished_at"] = _iso_time(t1)

    def place(self, zero: float) -> None:
        """Each entry's offsets into the recording that started at ``zero`` (Unix time)."""
        for entry, (t0, t1) in zip(self.entries, self.spans, strict=True):
            entry["offset_ms"] = round((t0 - zero) * 1000, 1)
            entry["end_offset_ms"] = round((t1 - zero) * 1000, 1)

    def snapshot(self, name: str) -> dict[str, Any]:
        """The full set of artifacts of the page as it is now, each within its share of a
        fresh ``budget_s``."""
        budget = Budget(self.opts.budget_s)
        shots = b._record(self.page, self.tab.cdp, self.opts, self.timings, budget)
        made = dict(zip(SNAPSHOT_PARTS, (shots.viewport, shots.dom, shots.mhtml, shots.full, shots.pdf), strict=True))
        files = []
        for part, data in made.items():
            file = snapshot_name(name, part)
            if data is None:
                done = budget.steps.get(part)
                self.not_made[file] = {
                    "status": done.status if done else "skipped",
                    "reason": done.reason if done else None,
                }
                continue
            self.files[file] = data
            files.append(file)
        return {"name": name, "url": shots.final_url, "title": shots.title, "files": files}


def _act(page: Page, step: Step, timeout_ms: float) -> None:
    """Do ``step`` in the page (Playwright waits for its element, up to ``timeout_ms``)."""
    target = step.target
    if step.action == "goto":
        page.goto(str(target), wait_until="load", timeout=timeout_ms)
    elif step.action == "click":
        page.click(str(target), timeout=timeout_ms)
    elif step.action == "fill":
        page.fill(str(target), step.text or "", timeout=timeout_ms)
    elif step.action == "press":
        page.keyboard.press(str(target))
    elif step.action == "select":
        page.select_option(str(target), value=step.text, timeout=timeout_ms)
    elif step.action == "scroll":
        script = {
            "top": "window.scrollTo(0, 0)",
            "bottom": "window.scrollTo(0, (document.scrollingElement || document.documentElement).scrollHeight)",
        }
        if isinstance(target, int):
            page.evaluate("(px) => window.scrollBy(0, px)", target)
        else:
            page.evaluate(script[target])
    elif step.action == "wait":
        if isinstance(target, int):
            page.wait_for_timeout(target)
        else:
            page.wait_for_selector(target, state="visible", timeout=timeout_ms)


def _step_error(step: Step, url: str, err: BaseException, timeout_s: float) -> WalkStepError:
    """What went wrong in ``step`` on the page at ``url``, in plain words."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    where = f"Step {step.number} of the walk failed: {step.describe()[len(f'step {step.number} ') :]}"
    why: str
    hint: str | None
    if isinstance(err, PlaywrightTimeout):
        if step.action in ("goto", "press", "scroll") or (step.action == "wait" and isinstance(step.target, int)):
            why = f"the page did not finish within {seconds(timeout_s)}"
        else:
            why = (
                f"the element {step.target!r} was not found on {url} (or could not be used) within "
                f"{seconds(timeout_s)}"
            )
        hint = "Check the selector against the page (it may have changed), or allow more time (timeout_s)."
    elif isinstance(err, CaptureError):
        why, hint = err.message.rstrip("."), err.hint
    else:
        page = str(step.target) if step.action == "goto" else url
        try:
            explained = b._explain_browser_error(err, check_url(page))
        except CaptureError:  # the page is not a web address (about:blank)
            explained = BrowserError(f"The browser failed ({b._first_line(err)}).")
        why, hint = explained.message.rstrip("."), explained.hint
        if step.action != "goto" and "net::" not in str(err):
            why = f"the browser refused it ({b._first_line(err)})"
            hint = "Check the step (the selector, key or value) against the page."
    return WalkStepError(f"{where}: {why}.", step=step.number, action=step.action, hint=hint)


def run_walk(
    capturer: Capturer,
    walk: Walk,
    out_dir: str | Path,
    options: CaptureOptions | None = None,
    *,
    video: bool = True,
    mp4: bool = True,
    progress: ProgressCallback | None = None,
    tsas: Sequence[Any] = (),
) -> WalkResult:
    """Walk ``walk`` with ``capturer``'s browser into the new folder ``out_dir``; see the
    module docstring. ``video=False`` records no screen (recorded as turned off); ``mp4=False``
    makes no MP4 copy. ``tsas``: asked for the start token of the clean-environment check,
    which runs before the first request, as for a one-page capture."""
    return _walk(
        capturer, walk, Path(out_dir), options or capturer.options, video, mp4, progress, _scripted(walk), tsas
    )


def _scripted(walk: Walk) -> Callable[[_Session, ProgressCallback | None], None]:
    """The driver of a scripted walk: each step in turn, recorded."""

    def drive(session: _Session, progress: ProgressCallback | None) -> None:
        from playwright.sync_api import Error as PlaywrightError

        timeout_ms = session.opts.timeout_s * 1000
        for step in walk.steps:
            if progress is not None:
                progress(step.describe())
            before, t0, navigations = session.page.url, time.time(), len(session.tab.navigations)
            try:
                _act(session.page, step, timeout_ms)
                session.settle(navigations)
                entry = session.record(step.number, step.to_json(), before, t0)
                if step.action == "snapshot":
                    entry["snapshot"] = session.snapshot(str(step.target))
                    session.end_entry()
            except (PlaywrightError, CaptureError) as err:
                raise _step_error(step, before, err, session.opts.timeout_s) from None

    return drive


def _walk(
    capturer: Capturer,
    walk: Walk,
    out: Path,
    opts: CaptureOptions,
    video: bool,
    mp4: bool,
    progress: ProgressCallback | None,
    drive: Callable[[_Session, ProgressCallback | None], None],
    tsas: Sequence[Any] = (),
) -> WalkResult:
    from playwright.sync_api import Error as PlaywrightError

    t_total = time.monotonic()
    started_at = utc_now()
    target = check_url(walk.start)
    check_output_dir(out)
    storage = load_storage_state(opts.storage_state) if opts.storage_state else None
    process = capturer._ready()
    user_agent = opts.user_agent or process.default_user_agent
    snapshot: dict[str, Any] = {}
    snapshot_thread = threading.Thread(target=lambda: snapshot.update(system_snapshot()), daemon=True)
    snapshot_thread.start()
    budget = Budget(opts.budget_s, progress, start=t_total)
    timings: dict[str, float] = {}
    t = time.monotonic()
    clean_report = clean.run_clean_check(
        [target.host], opts, browser=process.info, urls=[target.url], browser_env=process.env, tsas=tsas
    )
    timings["clean_check_ms"] = b._ms(t)
    dns, raw, verify_error = b._wire_fetch(target, opts, user_agent, storage, budget, timings)

    with tempfile.TemporaryDirectory(prefix="evidence-walk-") as tmp:
        video_dir = Path(tmp) / "video" if video else None
        try:
            tab = b._open_tab(process, opts, user_agent, storage, video_dir)
        except PlaywrightError as err:
            if video and "ffmpeg" in str(err).lower():
                raise BrowserError(
                    "The screen could not be recorded: no ffmpeg program was found for the browser driver.",
                    hint="Install ffmpeg (Debian: apt-get install ffmpeg; or: playwright install ffmpeg), "
                    "or walk without a video (video=False), which the bundle then records.",
                ) from None
            raise b._explain_browser_error(err, target) from None
        session = _Session(tab, opts)
        try:
            page = session.page
            t0 = time.time()
            start_step = Step(0, "goto", target.url)
            try:
                page.goto(target.url, wait_until="load", timeout=opts.timeout_s * 1000)
                session.settle(len(tab.navigations))
            except PlaywrightError as err:
                raise _step_error(start_step, target.url, err, opts.timeout_s) from None
            session.record(0, {**start_step.to_json(), "action": "start"}, "about:blank", t0)
            drive(session, progress)
            hold = session.spans[-1][1] + HOLD_END_MS / 1000 - time.time()
            if hold > 0:
                page.wait_for_timeout(hold * 1000)
            final_url, title = page.url, page.title()
            main_chain = [ex for ex in tab.recorder.main_exchanges() if ex.hops[0].response or ex.final.response]
            main = b._pick_main(main_chain, final_url)
            tab.recorder.finalize(None, main.request_id if main else None)
            b._check_size(tab.recorder, opts)
            chain_der: list[bytes] = []
            if final_url.startswith("https://"):
                chain_der = b._certificate_chain(tab.cdp, final_url, Budget(opts.budget_s), session.warnings)
            video_path = Path(page.video.path()) if video and page.video else None
            ended = time.time()  # the recording stops as the page closes
        except PlaywrightError as err:
            raise b._explain_browser_error(err, target) from None
        finally:
            tab.close()
        finished_at = utc_now()
        video_facts = _video(session, video_path, Path(tmp), ended, mp4)
        process.captures += 1
        return _write(
            capturer, process, walk, out, opts, session, raw, dns, verify_error, main, chain_der,
            final_url, title, started_at, finished_at, video_facts, user_agent, storage is not None,
            snapshot_thread, snapshot, timings, t_total, clean_report,
        )  # fmt: skip


def _video(session: _Session, path: Path | None, tmp: Path, ended: float, mp4: bool) -> dict[str, Any]:
    """``steps.json`` → ``video``: the recording's file(s), duration and the session's length."""
    from evidence._internal.webm import HEAD_BYTES, WebMError, webm_info

    if path is None:
        zero = session.spans[0][0]
        session.place(zero)
        return {
            "file": None,
            "why_not": "turned off (video=False)",
            "started_at": _iso_time(zero),
            "ended_at": _iso_time(ended),
            "session_ms": round((ended - zero) * 1000, 1),
        }
    if not path.is_file():
        raise BrowserError("The browser ended the session without writing its screen recording.")
    size = path.stat().st_size
    if size > _MAX_VIDEO_BYTES:
        raise BrowserError(f"The screen recording is larger than {_MAX_VIDEO_BYTES:,} bytes ({size:,}).")
    data = path.read_bytes()
    try:
        info = webm_info(data[:HEAD_BYTES])
    except WebMError as e:
        raise BrowserError(f"The screen recording is not a readable WebM file: {e}.") from None
    duration = info.duration_s
    # The recording starts at its first frame (the page's first paint, after DateUTC, when it
    # was asked for) and ends as the page closes: its first frame was shown at the end less
    # its duration. The steps' offsets count from there.
    zero = ended - duration
    session.place(zero)
    session.files[VIDEO_NAME] = data
    facts: dict[str, Any] = {
        "file": VIDEO_NAME,
        "format": "WebM (Playwright screen recording of the browser context)",
        "sha256": hashlib.sha256(data).hexdigest(),
        "started_at": _iso_time(zero),
        "ended_at": _iso_time(ended),
        "requested_at": _iso_time(info.created) if info.created is not None else None,
        "duration_ms": round(duration * 1000, 1),
        "session_ms": round((ended - session.spans[0][0]) * 1000, 1),
        "width": session.opts.viewport_width,
        "height": session.opts.viewport_height,
        "mp4": None,
    }
    if mp4:
        target = tmp / MP4_NAME
        why = to_mp4(path, target, timeout_s=max(60.0, duration * 4))
        if why is None:
            session.files[MP4_NAME] = target.read_bytes()
            facts["mp4"] = MP4_NAME
        else:
            facts["mp4_not_made"] = why
    return facts


def _write(
    capturer: Capturer,
    process: b._Process,
    walk: Walk,
    out: Path,
    opts: CaptureOptions,
    session: _Session,
    raw: Any,
    dns: Any,
    verify_error: str | None,
    main: Any,
    chain_der: list[bytes],
    final_url: str,
    title: str,
    started_at: str,
    finished_at: str,
    video: dict[str, Any],
    user_agent: str,
    storage_used: bool,
    snapshot_thread: threading.Thread,
    snapshot: dict[str, Any],
    timings: dict[str, float],
    t_total: float,
    clean_report: clean.CleanReport,
) -> WalkResult:
    """Write the walk's files (all or none) and return what it recorded."""
    recorder = session.tab.recorder
    warc, warc_summary = b._write_warc(raw, recorder, opts, user_agent, process)
    resources = b._resources(recorder)
    response = main.final.response if main and main.final.response else {}
    status = b._int(response.get("status")) or raw.status
    chain = b._redirect_chain([main]) if main else []
    tls = b._tls_info(main, chain_der, final_url, raw, verify_error, opts.insecure)
    warnings = list(session.warnings)
    missing = [r.url for r in resources if not r.body_recorded and r.status is not None]
    if missing:
        warnings.append(f"{len(missing)} response(s) are listed without a body in the WARC.")
    if status >= 400:
        warnings.append(f"The page the walk ended on answered with HTTP status {status}.")
    steps_doc = {
        "format": WALK_FORMAT,
        "start": walk.start,
        "started_at": session.entries[0]["started_at"],
        "finished_at": finished_at,
        "video": video,
        "steps": session.entries,
    }
    files = {"archive.warc.gz": warc, **session.files}
    if chain_der:
        files["tls-chain.pem"] = b._chain_pem(chain_der)
    snapshot_thread.join(timeout=30)
    visited = [str(e["url_after"]) for e in session.entries]
    hosts = list(dict.fromkeys(check_url(u).host for u in [walk.start, *visited] if u.startswith(("http:", "https:"))))
    # Before sealing: the hosts reached after the check (later steps, resources) and the TLS chain.
    clean_report = clean.recheck_hosts(
        clean_report,
        [*hosts, *(urlsplit(r.url).hostname or "" for r in resources)],
        opts,
        chains={check_url(final_url).origin: chain_der} if chain_der else {},
        browser={**process.info, **process.fingerprint()},
    )
    files.update(clean_report.files())
    for item in clean_report.items:
        if item.overridden:
            warnings.insert(
                0,
                f"The clean-environment check FAILED on '{item.check}'; the walk went on only because "
                f"that was allowed on the record (allow_unclean / --allow-unclean {item.check}): {item.why}",
            )
    environment = environment_report(
        software=capturer._software_report(),
        browser={**process.info, **process.fingerprint()},
        profile={
            "browser_context": "new for this walk: no cookies, storage or cache from any other capture",
            "context_created_at": session.tab.created_at,
            "loaded_from_storage_state": storage_used,
            "service_workers": "blocked",
            "user_data_dir": process.info.get("user_data_dir"),
            "browser_started_at": process.launched_at,
        },
        started_at=started_at,
        finished_at=finished_at,
        hosts=hosts,
        urls=[walk.start, final_url],
        local_address=(
            {"ip": raw.connection.local_ip, "port": raw.connection.local_port} if raw.connection.local_ip else None
        ),
        operator=opts.operator,
        case=opts.case,
        notes=opts.notes,
        snapshot=snapshot or None,
    )
    names = [*files, STEPS_NAME, "environment.json", "capture.json"]
    timings["total_ms"] = b._ms(t_total)
    facts: dict[str, Any] = {
        "format": b.CAPTURE_FORMAT,
        "kind": "walk",
        "requested_url": walk.start,
        "final_url": final_url,
        "status": status,
        "status_text": str(response.get("statusText") or raw.status_text),
        "http_error": status >= 400,
        "error_kind": error_kind(status),
        "mime_type": response.get("mimeType"),
        "page_title": title,
        "redirect_chain": [h.to_json() for h in chain],
        "server": {
            "ip": (str(response.get("remoteIPAddress") or "").strip("[]") or None),
            "port": b._int(response.get("remotePort")),
            "protocol": response.get("protocol"),
        },
        "dns": {**dns.to_json(), "other_hosts": {}},
        "tls": tls.to_json() if tls else None,
        "insecure": opts.insecure,
        "user_agent": user_agent,
        "started_at": started_at,
        "finished_at": finished_at,
        "timings_ms": timings,
        "main_document": b._main_document(main, None, raw),
        "raw_fetch": raw.to_json(),
        "warc": warc_summary,
        "requests": [r.to_json() for r in resources],
        "request_count": len(resources),
        "options": opts.to_json(),
        "browser": {"version": process.info.get("version")},
        "walk": {
            "steps_file": STEPS_NAME,
            "steps": len(session.entries) - 1,
            "snapshots": [e["snapshot"]["name"] for e in session.entries if e.get("snapshot")],
            "video": video.get("file"),
        },
        "clean_environment": clean_report.summary(),
        "warnings": warnings,
        "artifacts": names,
        "artifacts_not_made": session.not_made,
    }
    artifacts: dict[str, Path] = {}
    with Staging(out) as staging:
        for name, data in files.items():
            artifacts[name] = staging.write(name, data)
        artifacts[STEPS_NAME] = staging.write(STEPS_NAME, b._json(steps_doc))
        artifacts["environment.json"] = staging.write("environment.json", b._json(environment))
        artifacts["capture.json"] = staging.write("capture.json", b._json(facts))
        staging.commit()
    return WalkResult(staging.out, walk.start, final_url, facts, steps_doc, artifacts)

