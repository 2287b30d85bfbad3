"""Capturing a page with Chromium (via Playwright): :class:`Capturer` and :func:`capture_page`.

One :class:`Capturer` owns one Playwright driver and one browser process; each
:meth:`Capturer.capture` gets a fresh browser context (no cookies, storage or cache from
any other capture). The steps of one capture, in order:

1. check the address and the output folder; read the storage-state file, if any;
2. look the host up (DNS) and fetch the main document with ``requests`` + warcio
   (the raw, browser-independent record; this classifies most failures early);
3. open the page in a new context, recording every request via CDP Network events;
   wait for ``load``, scroll through the page so lazy content loads, wait until the
   network has been quiet for ``settle_ms`` (and for ``wait_selector``/``wait_ms``);
4. record: viewport screenshot, rendered DOM, MHTML, full-page screenshot, PDF (screen
   media), response bodies, the TLS certificate chain (recording starts 200 ms before
   the quiet period is complete; it is done again if the network wakes up before then, or
   if the DOM changed before it was quiet: see :mod:`evidence.capture.settle`);
5. write the WARC, ``environment.json`` and ``capture.json`` into a partial folder and
   rename it into place.

The whole capture keeps to ``CaptureOptions.budget_s`` (:mod:`evidence.capture.budget`):
each wait and each artifact has a bound, and an artifact over its bound is skipped with
the reason recorded. A failure at any step raises a :class:`~evidence.errors.CaptureError` subclass and leaves
no output folder. Not thread-safe: use one Capturer per thread.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import re
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from evidence.capture import clean, compare, fonts, qa, settle
from evidence.capture import http as wire
from evidence.capture.budget import (
    FINISH_SHARE,
    LABELS,
    RECORDING_ORDER,
    Budget,
    ProgressCallback,
)
from evidence.capture.discovery import BrowserExecutable, find_chromium
from evidence.capture.environment import (
    environment_report,
    package_version,
    run_command,
    software_report,
    system_snapshot,
    utc_now,
)
from evidence.capture.errors import (
    BodyTooLargeError,
    BrowserError,
    BrowserNotFoundError,
    CaptureError,
    CaptureTimeoutError,
    ConnectionFailedError,
    HostNotFoundError,
    RedirectLoopError,
    TLSFailedError,
    seconds,
)
from evidence.capture.network import Exchange, NetworkRecorder
from evidence.capture.options import CaptureOptions, StorageState, load_storage_state
from evidence.capture.output import Staging, check_output_dir
from evidence.capture.result import (
    ARTIFACT_NAMES,
    CaptureResult,
    RedirectHop,
    Resource,
    TLSInfo,
    error_kind,
)
from evidence.capture.urls import Target, check_url
from evidence.capture.warc import (
    REDACTED_REQUEST_HEADERS,
    EvidenceWARCWriter,
    redact_request_headers,
    warc_date,
    write_exchange,
    write_warcinfo,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Playwright

__all__ = ["CAPTURE_FORMAT", "LAUNCH_ARGS", "Capturer", "capture_page"]

CAPTURE_FORMAT = "evidence-capture/1"

#: Chromium flags, recorded in environment.json. Site isolation is off so that every
#: frame's requests reach the page's DevTools session (and so the WARC); no
#: ``--disable-features`` here, as a second one would replace Playwright's own.
LAUNCH_ARGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-site-isolation-trials",
)

_PDF_FORMAT = "A4"
_SCROLL_PAUSE_MS = 30
#: Recording starts this much before ``settle_ms`` of network quiet is reached; see
#: :func:`_early_quiet_ms`.
_EARLY_RECORD_MS = 200

_SCROLL_JS = """
async ({maxHeight, pause, maxMs}) => {
  const later = window.__evidenceSetTimeout || setTimeout;  // not one of the page's timers
  const sleep = (ms) => new Promise((r) => later(r, ms));
  const frame = () =>
    Promise.race([new Promise((r) => requestAnimationFrame(() => r())), sleep(100)]);
  const root = document.scrollingElement || document.documentElement;
  const body = () => (document.body ? document.body.scrollHeight : 0);
  const height = () => Math.max(root.scrollHeight, body());
  const step = Math.max(100, window.innerHeight);
  let y = 0, steps = 0;
  const until = performance.now() + (maxMs === undefined ? 1e12 : maxMs);
  while (y + window.innerHeight < Math.min(height(), maxHeight) && steps < 10000 &&
         performance.now() < until) {
    y += step;
    window.scrollTo(0, y);
    steps += 1;
    await frame();
    await sleep(pause);
  }
  return {steps: steps, height: height()};
}
"""

_TOP_JS = """
async () => {
  window.scrollTo(0, 0);
  const twoFrames = new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const later = window.__evidenceSetTimeout || setTimeout;  // not one of the page's timers
  await Promise.race([twoFrames, new Promise((r) => later(r, 200))]);
  if (document.fonts && document.fonts.ready) {
    await Promise.race([document.fonts.ready, new Promise((r) => later(r, 1000))]);
  }
  const root = document.scrollingElement || document.documentElement;
  const body = document.body || root;
  return {
    width: Math.max(root.scrollWidth, body.scrollWidth, window.innerWidth),
    height: Math.max(root.scrollHeight, body.scrollHeight, window.innerHeight),
    charset: document.characterSet || null,
    contentType: document.contentType || null,
  };
}
"""


# ---------------------------------------------------------------------------------------
# The browser process


@dataclass
class _Process:
    playwright: Playwright
    browser: Browser
    executable: BrowserExecutable
    launched_at: str
    info: dict[str, Any]
    default_user_agent: str
    env: dict[str, str] = field(default_factory=dict)
    captures: int = 0
    spare: _Tab | None = None
    _fingerprint: dict[str, Any] = field(default_factory=dict)
    _fingerprint_thread: threading.Thread | None = None

    def fingerprint(self) -> dict[str, Any]:
        """SHA-256 and package of the browser program (computed in the background)."""
        if self._fingerprint_thread is not None:
            self._fingerprint_thread.join()
        return dict(self._fingerprint)


def _fingerprint_into(path: Path, out: dict[str, Any]) -> None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        out["executable_sha256"] = digest.hexdigest()
        out["executable_bytes"] = path.stat().st_size
    except OSError as err:
        out["executable_sha256"] = None
        out["executable_error"] = str(err)
    out["package"] = None
    if sys.platform.startswith("linux"):
        owner = run_command(["dpkg-query", "-S", str(path)], timeout=5)
        if owner:
            name = owner.split(":", 1)[0].strip()
            version = run_command(["dpkg-query", "-W", "-f=${Version}", name], timeout=5)
            out["package"] = f"{name} {version.strip()} (dpkg)" if version else name


def _launch(explicit: Path | None) -> _Process:
    try:
        from playwright.sync_api import Error as PlaywrightError
    except ImportError as err:  # pragma: no cover - a declared dependency
        raise BrowserError(
            f"Playwright is not installed ({err}).", hint="pip install 'preserve-evidence[capture]'"
        ) from None
    playwright = _acquire_driver()
    try:
        if explicit is not None:
            if not (explicit.is_file() and os.access(explicit, os.X_OK)):
                raise BrowserNotFoundError(
                    f"There is no browser program at {explicit}.",
                    hint="Give the full path of a Chromium or Chrome program.",
                )
            executable = BrowserExecutable(explicit, "given by the caller")
        else:
            try:
                pw_path: str | None = playwright.chromium.executable_path
            except PlaywrightError:
                pw_path = None
            executable = find_chromium(playwright_executable=pw_path)
        launched_at = utc_now()
        # The browser gets this process's environment as it is now (not the driver's, as
        # it was when the driver started): the font check sees what the browser sees.
        env = dict(os.environ)
        try:
            browser = playwright.chromium.launch(
                executable_path=str(executable.path),
                args=list(LAUNCH_ARGS),
                headless=True,
                timeout=60_000,
                handle_sigint=False,  # Ctrl-C is this process's to handle (see _driver_ignores_ctrl_c)
                env=dict[str, str | float | bool](env),
            )
        except PlaywrightError as err:
            raise BrowserError(
                f"The browser at {executable.path} could not be started ({_first_line(err)}).",
                hint="Check that it is a working Chromium or Chrome (run it with --version), "
                "or point EVIDENCE_CHROMIUM at another one.",
            ) from None
        session = browser.new_browser_cdp_session()
        version = session.send("Browser.getVersion")
        pid: int | None = None
        try:
            for proc in session.send("SystemInfo.getProcessInfo").get("processInfo", []):
                if proc.get("type") == "browser":
                    pid = int(proc["id"])
        except PlaywrightError:
            pass
        session.detach()
    except BaseException:
        _release_driver()
        raise
    command_line: list[str] | None = None
    if pid is not None and sys.platform.startswith("linux"):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            command_line = [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
        except OSError:
            command_line = None
    user_data_dir = None
    for arg in command_line or []:
        if arg.startswith("--user-data-dir="):
            user_data_dir = arg.split("=", 1)[1]
    created_at = None
    if user_data_dir:
        with contextlib.suppress(OSError):
            created_at = time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(Path(user_data_dir).stat().st_ctime)
            )
    agent = str(version.get("userAgent", ""))
    info: dict[str, Any] = {
        "product": version.get("product"),
        "version": browser.version,
        "revision": version.get("revision"),
        "protocol_version": version.get("protocolVersion"),
        "default_user_agent": agent,
        "executable": str(executable.path),
        "executable_found_via": executable.source,
        "headless": True,
        "launch_args": list(LAUNCH_ARGS),
        "pid": pid,
        "command_line": command_line,
        "command_line_method": "/proc/PID/cmdline" if command_line else "not available",
        "started_at": launched_at,
        "user_data_dir": user_data_dir,
        "user_data_dir_created_at": created_at,
    }
    process = _Process(
        playwright=playwright,
        browser=browser,
        executable=executable,
        launched_at=launched_at,
        info=info,
        default_user_agent=agent.replace("HeadlessChrome/", "Chrome/"),
        env=env,
    )
    thread = threading.Thread(
        target=_fingerprint_into,
        args=(executable.path, process._fingerprint),
        name="evidence-browser-fingerprint",
        daemon=True,
    )
    process._fingerprint_thread = thread
    thread.start()
    return process


_drivers = threading.local()


def _acquire_driver() -> Playwright:
    """The Playwright driver of this thread, started on first use and shared by every
    Capturer in the thread (Playwright's sync API allows only one per thread)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    state: list[Any] | None = getattr(_drivers, "state", None)
    if state is None:
        from evidence.capture.video import driver_env

        try:
            with _driver_ignores_ctrl_c(), driver_env():  # driver_env: an ffmpeg for screen recordings
                driver = sync_playwright().start()
        except PlaywrightError as err:
            raise BrowserError(
                f"The browser driver could not start ({_first_line(err)}).",
                hint="Playwright's synchronous driver cannot run in a thread that runs an "
                "asyncio event loop or another Playwright; call the capture from a separate "
                "thread (for example asyncio.to_thread).",
            ) from None
        state = [driver, 0]
        _drivers.state = state
    state[1] += 1
    playwright: Playwright = state[0]
    return playwright


@contextlib.contextmanager
def _driver_ignores_ctrl_c() -> Iterator[None]:
    """Start the Playwright driver with SIGINT ignored (a disposition a child inherits).

    Ctrl-C in a terminal signals the whole foreground process group. Without this the
    driver dies with it while this process still talks to it, and Playwright's pending
    calls end in "Connection closed while reading from the driver" noise instead of a clean
    KeyboardInterrupt here, after which the browser is closed in order. The driver still
    ends when this process does (its stdin closes).
    """
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:  # None: the handler was not set from Python (an embedding host); give back the default
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)


def _release_driver() -> None:
    state: list[Any] | None = getattr(_drivers, "state", None)
    if state is None:
        return
    state[1] -= 1
    if state[1] <= 0:
        _drivers.state = None
        with contextlib.suppress(Exception):
            state[0].stop()


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else type(err).__name__


# ---------------------------------------------------------------------------------------
# Browser error messages

_NET_ERRORS: list[tuple[str, type[CaptureError], str, str]] = [
    (
        "ERR_NAME_NOT_RESOLVED",
        HostNotFoundError,
        "The site name {host} could not be found (DNS lookup failed in the browser).",
        "Check the spelling of the address.",
    ),
    (
        "ERR_CONNECTION_REFUSED",
        ConnectionFailedError,
        "The server {host} refused the browser's connection.",
        "The site may be down; try again later.",
    ),
    (
        "ERR_TOO_MANY_REDIRECTS",
        RedirectLoopError,
        "The site redirected the browser in a loop and never showed a page.",
        "The site may need cookies (capture with a storage-state file) or be misconfigured.",
    ),
    (
        "ERR_CERT_",
        TLSFailedError,
        "The browser rejected the site's security certificate ({code}).",
        wire._INSECURE_HINT,
    ),
    (
        "ERR_SSL_",
        TLSFailedError,
        "The secure connection to {host} failed in the browser ({code}).",
        wire._INSECURE_HINT,
    ),
    (
        "TIMED_OUT",
        CaptureTimeoutError,
        "The site {host} did not answer the browser in time ({code}).",
        "Try again later, or allow more time (CaptureOptions(timeout_s=...)).",
    ),
    (
        "ERR_ABORTED",
        CaptureError,
        "The browser did not display the page at {url} ({code}); it may have been "
        "offered as a file download instead of being shown.",
        "Capture a page that links to or shows the file instead.",
    ),
]


def _explain_browser_error(err: BaseException, target: Target) -> CaptureError:
    text = str(err)
    match = re.search(r"net::(ERR_[A-Z0-9_]+)", text)
    if match:
        code = match.group(1)
        for key, cls, message, hint in _NET_ERRORS:
            if key in code:
                return cls(message.format(host=target.host, code=code, url=target.url), hint=hint)
        return ConnectionFailedError(
            f"The browser could not load {target.url} ({code}).",
            hint="Check the address and this computer's network connection, then try again.",
        )
    if "closed" in text.lower() or "crash" in text.lower():
        return BrowserError(
            f"The browser stopped working while capturing {target.url} ({_first_line(err)}).",
            hint="Try again; if it keeps happening, the page may crash the browser.",
        )
    return BrowserError(f"The browser failed while capturing {target.url} ({_first_line(err)}).")


# ---------------------------------------------------------------------------------------
# One page in the browser


@dataclass
class _Tab:
    """A fresh context with one blank page, its DevTools session and recorder attached."""

    key: tuple[Any, ...]
    context: BrowserContext
    page: Page
    cdp: CDPSession
    recorder: NetworkRecorder
    created_at: str
    playwright_urls: list[str]
    loads: list[float]
    navigations: list[str]
    prewarmed: bool = False
    #: ``time.monotonic()`` just before the page was made (where a screen recording starts).
    opened: float = 0.0

    def close(self) -> None:
        from playwright.sync_api import Error as PlaywrightError

        with contextlib.suppress(PlaywrightError):
            self.context.close()


def _tab_key(
    opts: CaptureOptions, user_agent: str, storage: StorageState | None
) -> tuple[Any, ...]:
    return (
        opts.viewport_width,
        opts.viewport_height,
        user_agent,
        opts.insecure,
        opts.max_body_bytes,
        storage.sha256 if storage else None,
    )


def _open_tab(
    process: _Process,
    opts: CaptureOptions,
    user_agent: str,
    storage: StorageState | None,
    video_dir: Path | None = None,
) -> _Tab:
    """A fresh context and page; with ``video_dir``, the context records the screen there
    (Playwright's video: WebM, complete once the context is closed)."""
    created_at = utc_now()
    viewport = {"width": opts.viewport_width, "height": opts.viewport_height}
    video: dict[str, Any] = {}
    if video_dir is not None:
        video = {"record_video_dir": str(video_dir), "record_video_size": viewport}
    context = process.browser.new_context(
        viewport=viewport,  # type: ignore[arg-type]
        user_agent=user_agent,
        ignore_https_errors=opts.insecure,
        storage_state=storage.state if storage else None,  # type: ignore[arg-type]
        service_workers="block",
        accept_downloads=False,
        **video,
    )
    try:
        context.add_init_script(settle.QUIET_INIT_JS)
        opened = time.monotonic()
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        recorder = NetworkRecorder(cdp, opts.max_body_bytes)
        recorder.enable()
    except BaseException:
        context.close()
        raise
    tab = _Tab(
        key=_tab_key(opts, user_agent, storage),
        context=context,
        page=page,
        cdp=cdp,
        recorder=recorder,
        created_at=created_at,
        playwright_urls=[],
        loads=[],
        navigations=[],
        opened=opened,
    )
    context.on("request", lambda request: tab.playwright_urls.append(request.url))
    page.on("load", lambda _page: tab.loads.append(time.monotonic()))
    page.on(
        "framenavigated",
        lambda frame: tab.navigations.append(frame.url) if frame == page.main_frame else None,
    )
    return tab


def _take_tab(
    process: _Process, opts: CaptureOptions, user_agent: str, storage: StorageState | None
) -> _Tab:
    """The pre-opened spare tab if it was made with the same settings, else a new one."""
    spare, process.spare = process.spare, None
    if spare is not None:
        if spare.key == _tab_key(opts, user_agent, storage) and not spare.page.is_closed():
            spare.prewarmed = True
            return spare
        spare.close()
    return _open_tab(process, opts, user_agent, storage)


@dataclass
class _Page:
    final_url: str
    title: str
    recorder: NetworkRecorder
    main: Exchange | None
    main_chain: list[Exchange]
    screenshot_full: bytes | None
    screenshot_viewport: bytes | None
    dom: bytes | None
    mhtml: bytes | None
    pdf: bytes | None
    chain_der: list[bytes]
    page_width: int
    page_height: int
    captured_height: int
    scroll_steps: int
    load_event: bool
    network_quiet: bool
    recordings: int
    moment: dict[str, Any]
    text: str
    charset: str | None
    cookies_at_start: int
    origins_at_start: int
    context_created_at: str
    context_prewarmed: bool
    timings: dict[str, float]
    warnings: list[str]


def _browse(
    process: _Process,
    target: Target,
    opts: CaptureOptions,
    user_agent: str,
    storage: StorageState | None,
    budget: Budget,
) -> _Page:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    timings: dict[str, float] = {}
    warnings: list[str] = []
    t = time.monotonic()
    try:
        tab = _take_tab(process, opts, user_agent, storage)
    except PlaywrightError as err:
        raise _explain_browser_error(err, target) from None
    page, cdp, recorder = tab.page, tab.cdp, tab.recorder

    def prewarm() -> None:
        # Open the next capture's fresh context while this page's network settles (the
        # browser is idle then); used only if the next capture has the same settings.
        if process.spare is None:
            try:
                process.spare = _open_tab(process, opts, user_agent, storage)
            except PlaywrightError:
                process.spare = None

    try:
        cookies_at_start = len(tab.context.cookies())
        origins_at_start = len(storage.state.get("origins", [])) if storage else 0
        timings["context_ms"] = _ms(t) if not tab.prewarmed else 0.0

        t = budget.begin("navigation")
        deadline = min(t + opts.timeout_s, budget.loading_deadline())
        loads_before_goto = len(tab.loads)
        given_ms = _wait_ms(budget, opts.timeout_s)
        try:
            page.goto(target.url, wait_until="commit", timeout=given_ms)
        except PlaywrightTimeout:
            raise CaptureTimeoutError(
                f"The site {target.host} did not answer the browser within "
                f"{seconds(round(given_ms / 1000, 1))}.",
                hint="Try again later, or allow more time (CaptureOptions(timeout_s=..., budget_s=...)).",
            ) from None
        except PlaywrightError as err:
            raise _explain_browser_error(err, target) from None
        timings["navigation_ms"] = _ms(t)
        budget.done("navigation", t)
        t_load = budget.begin("load")
        load_event = _wait_for_load(page, tab, recorder, opts, deadline, loads_before_goto)
        if not load_event:
            warnings.append(
                f"The page had not finished loading after {seconds(round(deadline - t, 1))} (its load "
                "event never fired); it was recorded as it was then."
            )
        budget.done("load", t_load, "ok" if load_event else "cut")
        timings["load_ms"] = _ms(t)

        # Scroll, settle and record; if the page moves on by itself meanwhile (script or
        # meta refresh), do it again on the new page, a few times at most. Recording starts
        # once the network has been quiet for a little less than settle_ms; the capture then
        # waits out the rest of settle_ms, and if the network woke up meanwhile the page is
        # recorded again, after a full settle_ms of quiet.
        scroll_ms = settle_ms = 0.0
        scroll_steps = 0
        quiet = False
        shots: _Shots | None = None
        shots_navigations = -1
        recordings = 0
        early_ms = _early_quiet_ms(opts.settle_ms)

        moment = settle.Moment(page, recorder, opts, check=lambda: _check_size(recorder, opts))

        def record() -> _Shots:
            nonlocal recordings, shots_navigations
            shots_navigations = len(tab.navigations)
            recordings += 1
            marks = settle.Marks(page, skip=lambda: budget.busy is not None)
            shots = _record(page, cdp, opts, timings, budget, marks)
            moment.recorded(marks)
            return shots

        for _round in range(4):
            navigations, loads = len(tab.navigations), len(tab.loads)
            t = budget.begin("scroll")
            if opts.scroll:
                try:
                    scrolled = page.evaluate(
                        _SCROLL_JS,
                        {
                            "maxHeight": opts.full_page_max_height,
                            "pause": _SCROLL_PAUSE_MS,
                            "maxMs": budget.loading_left() * 1000,
                        },
                    )
                    scroll_steps = int(scrolled.get("steps", 0))
                except PlaywrightError as err:
                    if len(tab.navigations) == navigations and "navigat" not in str(err):
                        raise
            scroll_ms += _ms(t)
            budget.done("scroll", t, "ok" if opts.scroll else "off")
            t = budget.begin("settle")
            loading_end = budget.loading_deadline()
            quiet = _settle(page, recorder, opts, early_ms, prewarm, loading_end)
            if len(tab.navigations) == navigations:
                if opts.wait_selector:
                    _wait_selector(page, opts, _wait_ms(budget, opts.timeout_s))
                if opts.wait_ms:
                    page.wait_for_timeout(min(opts.wait_ms, max(1.0, budget.loading_left() * 1000)))
                if opts.wait_selector or opts.wait_ms:
                    quiet = _settle(page, recorder, opts, early_ms, None, loading_end)
            settle_ms += _ms(t)
            budget.done("settle", t, "ok" if quiet else "cut")
            if len(tab.navigations) == navigations:
                activity = recorder.activity
                moment.start()
                try:
                    shots = record()
                except PlaywrightError as err:
                    if len(tab.navigations) == navigations and "navigat" not in str(err):
                        raise
                    shots = None
                t = time.monotonic()
                if quiet and budget.busy is None:  # wait out the rest of settle_ms
                    quiet = _settle(page, recorder, opts, opts.settle_ms, None, _finish_line(budget))
                # ... and for the DOM to be quiet and the page's short timers to fire.
                if budget.busy is None:
                    moment.settle(network=quiet)
                settle_ms += _ms(t)
                if len(tab.navigations) == navigations:
                    if budget.busy is not None or budget.bound_s(RECORDING_ORDER[0]) < 1:
                        # An artifact was stopped, or no time is left to record again.
                        # (A page busy with a stopped artifact is not asked whether its DOM changed.)
                        changed = budget.busy is None and moment.changed()
                        if shots is not None and (recorder.activity != activity or changed):
                            warnings.append(
                                "The page changed (network or DOM) while it was being recorded and no "
                                "time was left in the capture's budget to record it again: the "
                                "artifacts may show the page at slightly different moments."
                            )
                        break
                    if shots is None or recorder.activity != activity or moment.changed():
                        # The network woke up, or the page changed itself, while it was
                        # being recorded: it had not settled. It is quiet now (or the
                        # bound was reached): record again, until it holds still (within the budget).
                        shots = moment.record_until_consistent(
                            record,
                            keep_going=lambda: budget.busy is None and budget.bound_s(RECORDING_ORDER[0]) >= 1,
                        )
                    break
            again = min(time.monotonic() + opts.timeout_s, budget.loading_deadline())
            if not _wait_for_load(page, tab, recorder, opts, again, loads):
                break
        else:
            warnings.append(
                "The page kept navigating to new addresses by itself; it was recorded as it "
                "was after four rounds."
            )
        if shots is None or (shots_navigations != len(tab.navigations) and budget.busy is None):
            shots = record()
        # A page busy with a stopped artifact answers nothing: its text is not asked for then.
        text = _page_text(page) if budget.busy is None else ""
        timings["scroll_ms"] = scroll_ms
        timings["settle_ms"] = settle_ms
        warnings.extend(moment.warnings())
        if not quiet:
            warnings.append(
                f"The network never stayed quiet for {opts.settle_ms} ms within "
                f"{seconds(opts.settle_max_s)} (or the capture's time budget); requests still "
                "in flight are listed as such."
            )
        dims = shots.dims
        page_width, page_height = shots.width, shots.height
        captured_height = min(page_height, opts.full_page_max_height) if shots.full is not None else 0
        if page_height > opts.full_page_max_height and shots.full is not None:
            warnings.append(
                f"The page is {page_height} px tall; the full-page screenshot shows the top "
                f"{opts.full_page_max_height} px (the configured cap)."
            )
        full, viewport_png = shots.full, shots.viewport
        dom, title, final_url = shots.dom, shots.title, shots.final_url
        mhtml, pdf = shots.mhtml, shots.pdf

        t = time.monotonic()
        main_chain = [
            ex for ex in recorder.main_exchanges() if ex.hops[0].response or ex.final.response
        ]
        main = _pick_main(main_chain, final_url)
        if budget.busy is not None:
            recorder.unavailable = (
                "body not taken: the browser was stopped while making "
                f"{budget.busy} (it exceeded its share of the capture's time budget)"
            )
        recorder.finalize(dims.get("charset"), main.request_id if main else None)
        _check_size(recorder, opts)
        for ex in recorder.ordered():
            if ex.body is not None and len(ex.body) > opts.max_body_bytes:
                recorder.too_large = (ex.final.url, len(ex.body))
                _check_size(recorder, opts)
        chain_der: list[bytes] = []
        if final_url.startswith("https://"):
            chain_der = _certificate_chain(cdp, final_url, budget, warnings)
        else:
            budget.mark("tls-chain.pem", "none", "plain HTTP: no certificate")
        timings["bodies_ms"] = _ms(t)
        seen = {hop.url for ex in recorder.exchanges.values() for hop in ex.hops}
        for url in tab.playwright_urls:
            if url.startswith(("http://", "https://")) and url.split("#", 1)[0] not in seen:
                warnings.append(
                    f"A request the browser made is not in the WARC (the page's DevTools session did not see it): {url}"
                )
        return _Page(
            final_url=final_url,
            title=title,
            recorder=recorder,
            main=main,
            main_chain=main_chain,
            screenshot_full=full,
            screenshot_viewport=viewport_png,
            dom=dom,
            mhtml=mhtml,
            pdf=pdf,
            chain_der=chain_der,
            page_width=page_width,
            page_height=page_height,
            captured_height=captured_height,
            scroll_steps=scroll_steps,
            load_event=load_event,
            network_quiet=quiet,
            recordings=recordings,
            moment=moment.to_json(),
            text=text,
            charset=dims.get("charset"),
            cookies_at_start=cookies_at_start,
            origins_at_start=origins_at_start,
            context_created_at=tab.created_at,
            context_prewarmed=tab.prewarmed,
            timings=timings,
            warnings=warnings,
        )
    except PlaywrightTimeout as err:
        raise CaptureTimeoutError(
            f"The browser took too long while recording {target.url} ({_first_line(err)})."
        ) from None
    except PlaywrightError as err:
        raise _explain_browser_error(err, target) from None
    finally:
        tab.close()


def _page_text(page: Page) -> str:
    """The page's visible text (title and body ``innerText``, cut to a bound), for the
    font check; empty if the page cannot be asked."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        got = page.evaluate(
            "(max) => ((document.title || '') + '\\n' + "
            "(document.body ? document.body.innerText : '')).slice(0, max)",
            fonts.MAX_TEXT_CHARS,
        )
    except PlaywrightError:
        return ""
    return got if isinstance(got, str) else ""


def _screenshot(cdp: CDPSession, params: dict[str, Any], timeout_ms: float = 0) -> bytes:
    # Lossless PNG either way; optimizeForSpeed trades file size for encoding time.
    got = cdp.send(
        "Page.captureScreenshot",
        {"format": "png", "fromSurface": True, "optimizeForSpeed": True, **params},
        timeout=timeout_ms,
    )
    return base64.b64decode(got["data"])


def _ms(start: float) -> float:
    return round((time.monotonic() - start) * 1000, 3)


def _check_size(recorder: NetworkRecorder, opts: CaptureOptions) -> None:
    if recorder.too_large is not None:
        url, size = recorder.too_large
        raise BodyTooLargeError(
            f"A response the page loaded is larger than the allowed maximum of "
            f"{opts.max_body_bytes:,} bytes (at least {size:,} bytes): {url}",
            hint="If this size is expected, capture again with a higher maximum body size "
            "(CaptureOptions(max_body_bytes=...)).",
        )


def _wait_for_load(
    page: Page,
    tab: _Tab,
    recorder: NetworkRecorder,
    opts: CaptureOptions,
    deadline: float,
    loads_before: int,
) -> bool:
    """Wait for the main frame's next ``load`` event; False when the deadline passed."""
    while len(tab.loads) <= loads_before and time.monotonic() < deadline:
        _check_size(recorder, opts)
        page.wait_for_timeout(25)
    _check_size(recorder, opts)
    return len(tab.loads) > loads_before


def _early_quiet_ms(settle_ms: int) -> int:
    """How long the network must be quiet before recording starts: ``settle_ms`` less
    ``_EARLY_RECORD_MS`` (at most half of it). The rest of ``settle_ms`` is waited out
    after recording, and the page is recorded again if the network woke up meanwhile."""
    return settle_ms - min(_EARLY_RECORD_MS, settle_ms // 2)


def _settle(
    page: Page,
    recorder: NetworkRecorder,
    opts: CaptureOptions,
    quiet_ms: int,
    idle_work: Callable[[], None] | None,
    until: float | None = None,
) -> bool:
    """Wait until no request has been in flight for ``quiet_ms``; False on giving up
    (after ``settle_max_s``, or at ``until``, a ``time.monotonic()`` deadline from the
    capture's budget). ``idle_work`` runs once while waiting if at least 350 ms of a full
    ``settle_ms`` of quiet remain."""
    give_up = time.monotonic() + opts.settle_max_s
    if until is not None:
        give_up = min(give_up, until)
    quiet_s = quiet_ms / 1000
    full_s = opts.settle_ms / 1000
    while True:
        if idle_work is not None and full_s - recorder.quiet_for() > 0.35:
            idle_work()
            idle_work = None
        _check_size(recorder, opts)
        if recorder.quiet_for() >= quiet_s:
            return True
        if time.monotonic() >= give_up:
            return False
        page.wait_for_timeout(25)


def _wait_selector(page: Page, opts: CaptureOptions, timeout_ms: float) -> None:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    assert opts.wait_selector is not None
    try:
        page.wait_for_selector(opts.wait_selector, state="attached", timeout=timeout_ms)
    except PlaywrightTimeout:
        raise CaptureTimeoutError(
            f"The element {opts.wait_selector!r} did not appear on the page within {seconds(opts.timeout_s)}.",
            hint="Check the selector, or capture without waiting for it.",
        ) from None
    except PlaywrightError as err:
        raise CaptureError(
            f"The wait selector {opts.wait_selector!r} is not valid ({_first_line(err)})."
        ) from None


@dataclass
class _Shots:
    """One recording of the page: what it looked like and what it held."""

    dims: dict[str, Any]
    width: int
    height: int
    full: bytes | None
    viewport: bytes | None
    dom: bytes | None
    title: str
    final_url: str
    mhtml: bytes | None
    pdf: bytes | None


def _record(
    page: Page,
    cdp: CDPSession,
    opts: CaptureOptions,
    timings: dict[str, float],
    budget: Budget,
    mark: Callable[[str], None] | None = None,
) -> _Shots:
    """Back at the top: viewport PNG, DOM, MHTML, full-page PNG, PDF (times added up in
    ``timings`` over recordings). Each artifact is made within its bound from ``budget``
    (:func:`_artifact`); the two that can take minutes on a huge page come last.
    ``mark(name)`` runs after each artifact (the DOM mutation count, to see whether the page
    changed while it was recorded)."""
    mark = mark or (lambda _name: None)

    def spent(name: str, start: float) -> None:
        timings[name] = round(timings.get(name, 0.0) + _ms(start), 3)

    t = time.monotonic()
    dims: dict[str, Any] = page.evaluate(_TOP_JS)
    width = int(dims.get("width") or opts.viewport_width)
    height = int(dims.get("height") or opts.viewport_height)
    viewport = _artifact(budget, "screenshot-viewport.png", lambda ms: _screenshot(cdp, {}, ms))
    mark("screenshot-viewport.png")
    spent("screenshots_ms", t)

    t = time.monotonic()
    final_url = page.url
    got_title: list[str] = []
    dom = _artifact(budget, "dom.html", lambda ms: _dom_html(cdp, ms, got_title))
    title = got_title[0] if got_title else ""
    mark("dom.html")
    mhtml = _artifact(
        budget,
        "page.mhtml",
        lambda ms: str(
            cdp.send("Page.captureSnapshot", {"format": "mhtml"}, timeout=ms)["data"]
        ).encode("utf-8"),
        enabled=opts.mhtml,
        off="turned off (--no-mhtml, or CaptureOptions(mhtml=False))",
    )
    mark("page.mhtml")
    spent("dom_mhtml_ms", t)

    t = time.monotonic()
    clip = {"x": 0, "y": 0, "width": width, "height": min(height, opts.full_page_max_height)}
    full = _artifact(
        budget,
        "screenshot-full.png",
        lambda ms: _screenshot(
            cdp, {"captureBeyondViewport": True, "clip": {**clip, "scale": 1}}, ms
        ),
    )
    if full is not None and height > opts.full_page_max_height:
        step = budget.steps["screenshot-full.png"]
        step.status, step.reason = "cut", f"the page is {height} px tall; cut at {opts.full_page_max_height} px"
    mark("screenshot-full.png")
    spent("screenshots_ms", t)

    t = time.monotonic()
    pdf = _artifact(
        budget,
        "page.pdf",
        lambda ms: _pdf(page, cdp, ms),
        enabled=opts.pdf,
        off="turned off (--no-pdf, or CaptureOptions(pdf=False))",
    )
    mark("page.pdf")
    spent("pdf_ms", t)
    return _Shots(dims, width, height, full, viewport, dom, title, final_url, mhtml, pdf)


_DOM_JS = """(() => {
  let html = '';
  if (document.doctype) html = new XMLSerializer().serializeToString(document.doctype);
  if (document.documentElement) html += document.documentElement.outerHTML;
  return {html: html, title: document.title};
})()"""


def _dom_html(cdp: CDPSession, timeout_ms: float, title: list[str]) -> bytes:
    """The rendered DOM as ``page.content()`` serializes it (same script, also run in an
    isolated world the page's scripts cannot reach), through calls with a timeout; the
    document title goes into ``title``."""
    until = time.monotonic() + timeout_ms / 1000

    def left() -> float:
        return max(1.0, (until - time.monotonic()) * 1000)

    frame = cdp.send("Page.getFrameTree", timeout=left())["frameTree"]["frame"]["id"]
    world = cdp.send(
        "Page.createIsolatedWorld", {"frameId": frame, "worldName": "evidence-dom"}, timeout=left()
    )
    got = cdp.send(
        "Runtime.evaluate",
        {"expression": _DOM_JS, "contextId": world["executionContextId"], "returnByValue": True},
        timeout=left(),
    )
    if "exceptionDetails" in got:
        raise BrowserError(f"The rendered page could not be serialized ({got['exceptionDetails'].get('text')}).")
    value = got["result"]["value"]
    title.append(str(value.get("title") or ""))
    return str(value.get("html") or "").encode("utf-8")


def _pdf(page: Page, cdp: CDPSession, timeout_ms: float) -> bytes:
    """The page as an A4 PDF with backgrounds, screen media: what ``page.pdf(format="A4",
    print_background=True)`` asks Chromium for, through a call that has a timeout."""
    page.emulate_media(media="screen")
    got = cdp.send(
        "Page.printToPDF",
        {
            "paperWidth": 8.27,
            "paperHeight": 11.7,
            "printBackground": True,
            "marginTop": 0,
            "marginBottom": 0,
            "marginLeft": 0,
            "marginRight": 0,
            "scale": 1,
            "preferCSSPageSize": False,
            "transferMode": "ReturnAsBase64",
        },
        timeout=timeout_ms,
    )
    return base64.b64decode(got["data"])


def _artifact(
    budget: Budget,
    name: str,
    make: Callable[[float], bytes],
    *,
    enabled: bool = True,
    off: str = "turned off",
) -> bytes | None:
    """``make(timeout_ms)`` within ``name``'s bound, or None with the reason recorded.

    ``make`` passes the timeout to its DevTools call (``CDPSession.send(timeout=...)``),
    which Playwright aborts when it expires. Chromium goes on working on it, so the page
    takes no further commands: every artifact after it is skipped, and the page's
    context is closed at the end of the capture (which stops its renderer process; the
    browser itself stays usable).
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    if not enabled:
        budget.mark(name, "off", off)
        return None
    if budget.busy is not None:
        budget.mark(
            name,
            "skipped",
            f"the browser was still busy with {budget.busy}, which was stopped at its time limit",
        )
        return None
    limit = budget.bound_s(name)
    if limit < 0.2:
        budget.mark(name, "skipped", f"no time was left in the {seconds(budget.total_s)} budget")
        return None
    started = budget.begin(name)
    try:
        data = make(limit * 1000)
    except PlaywrightTimeout:
        budget.busy = name
        budget.done(
            name,
            started,
            "skipped",
            limit_s=limit,
            reason=f"stopped after {seconds(round(limit, 1))}: making it needed more than its share of "
            f"the {seconds(budget.total_s)} budget",
        )
        return None
    budget.done(name, started, limit_s=limit)
    return data


def _wait_ms(budget: Budget, timeout_s: float) -> float:
    """A Playwright timeout (ms, never 0 = "no timeout") for a loading wait."""
    return max(1.0, budget.wait_s(timeout_s) * 1000)


def _finish_line(budget: Budget) -> float:
    """The ``time.monotonic()`` value by which recording must end."""
    return budget.start + budget.total_s * (1 - FINISH_SHARE)


def _certificate_chain(
    cdp: CDPSession, final_url: str, budget: Budget, warnings: list[str]
) -> list[bytes]:
    """The page's certificate chain (DER) from the browser, or [] with a warning."""
    from playwright.sync_api import Error as PlaywrightError

    name = "tls-chain.pem"
    if budget.busy is not None:
        budget.mark(name, "skipped", f"the browser was still busy with {budget.busy}")
        warnings.append(
            f"The certificate chain was not taken: the browser was still busy with {budget.busy}, "
            "stopped at its time limit (the raw fetch's view of the connection is in capture.json)."
        )
        return []
    started = budget.begin(name)
    origin = check_url(final_url).origin
    try:
        got = cdp.send(
            "Network.getCertificate", {"origin": origin}, timeout=max(1000.0, budget.left() * 1000)
        )
    except PlaywrightError as err:
        warnings.append(f"The browser did not give the certificate chain ({_first_line(err)}).")
        budget.done(name, started, "skipped", reason=_first_line(err))
        return []
    budget.done(name, started)
    return [base64.b64decode(c) for c in got.get("tableNames", [])]


def _pick_main(chain: list[Exchange], final_url: str) -> Exchange | None:
    with_response = [ex for ex in chain if ex.final.response is not None]
    for ex in reversed(with_response):
        if ex.final.url == final_url.split("#", 1)[0]:
            return ex
    return with_response[-1] if with_response else None


# ---------------------------------------------------------------------------------------
# Facts


def _header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value).split("\n")[0]
    return None


def _redirect_chain(chain: list[Exchange]) -> list[RedirectHop]:
    hops: list[RedirectHop] = []
    for n, ex in enumerate(chain):
        for i, hop in enumerate(ex.hops):
            if hop.response is None:
                continue
            via = hop.via
            if n > 0 and i == 0:
                via = "client-navigation"
            hops.append(
                RedirectHop(
                    url=hop.url,
                    status=int(hop.response.get("status", 0)),
                    status_text=str(hop.response.get("statusText") or ""),
                    location=_header(hop.response.get("headers"), "location"),
                    via=via,
                    server_ip=(str(hop.response.get("remoteIPAddress") or "").strip("[]") or None),
                    server_port=_int(hop.response.get("remotePort")),
                )
            )
    return hops


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _resources(recorder: NetworkRecorder) -> list[Resource]:
    out: list[Resource] = []
    for ex in recorder.ordered():
        for i, hop in enumerate(ex.hops):
            last = i == len(ex.hops) - 1
            response = hop.response or {}
            if last:
                recorded = ex.body is not None
                note = ex.body_note
                size = len(ex.body) if ex.body is not None else (ex.data_length or None)
                transfer = ex.encoded_length
            else:
                recorded = True
                note = "redirect (headers recorded; browsers do not keep redirect bodies)"
                size = 0
                transfer = None
            out.append(
                Resource(
                    url=hop.url,
                    method=hop.method,
                    resource_type=ex.resource_type,
                    status=_int(response.get("status")) if hop.response else None,
                    mime_type=response.get("mimeType") if hop.response else None,
                    size=size,
                    transfer_size=transfer,
                    server_ip=(str(response.get("remoteIPAddress") or "").strip("[]") or None),
                    server_port=_int(response.get("remotePort")),
                    protocol=response.get("protocol"),
                    body_recorded=bool(hop.response) and recorded,
                    body_encoding=ex.body_encoding if last else None,
                    note=note if hop.response else (ex.failed or "no response"),
                )
            )
    return out


def _tls_info(
    main: Exchange | None,
    chain: list[bytes],
    final_url: str,
    raw: wire.RawFetch,
    verify_error: str | None,
    insecure: bool,
) -> TLSInfo | None:
    """The TLS facts of the page's document ``main`` (certificate ``chain``, DER, leaf first)."""
    if main is None or main.final.response is None:
        return None
    details = main.final.response.get("securityDetails")
    if not details:
        return None
    leaf_sha = hashlib.sha256(chain[0]).hexdigest() if chain else None
    raw_leaf = raw.connection.leaf_sha256
    same_origin = urlsplit(raw.final_url).netloc == urlsplit(final_url).netloc
    return TLSInfo(
        protocol=str(details.get("protocol", "")),
        cipher=str(details.get("cipher", "")),
        key_exchange=details.get("keyExchange") or None,
        key_exchange_group=details.get("keyExchangeGroup") or None,
        server_signature_algorithm=_int(details.get("serverSignatureAlgorithm")),
        subject=str(details.get("subjectName", "")),
        issuer=str(details.get("issuer", "")),
        san=tuple(str(s) for s in details.get("sanList", [])),
        valid_from=_iso(details.get("validFrom")),
        valid_to=_iso(details.get("validTo")),
        chain_sha256=tuple(hashlib.sha256(der).hexdigest() for der in chain),
        certificate_transparency=details.get("certificateTransparencyCompliance"),
        verified=not (insecure and verify_error is not None),
        verification_error=verify_error,
        raw_fetch_protocol=raw.connection.tls_version if same_origin else None,
        raw_fetch_cipher=raw.connection.tls_cipher if same_origin else None,
        raw_fetch_leaf_sha256=raw_leaf if same_origin else None,
        leaf_matches_raw_fetch=(leaf_sha == raw_leaf)
        if (same_origin and leaf_sha and raw_leaf)
        else None,
    )


def _main_document(main: Exchange | None, charset: str | None, raw: wire.RawFetch) -> dict[str, Any]:
    """The page's own body (``main``, as the browser had it), compared with the raw fetch's."""
    body = main.body if main else None
    digest = hashlib.sha256(body).hexdigest() if body is not None else None
    same_url = main is not None and main.final.url == raw.final_url
    return {
        "url": main.final.url if main else None,
        "body_sha256": digest,
        "body_bytes": len(body) if body is not None else None,
        "body_encoding": main.body_encoding if main else None,
        "raw_fetch_body_sha256": raw.body_sha256,
        "matches_raw_fetch": (digest == raw.body_sha256) if (digest and same_url) else None,
        "warc_date": warc_date(main.final.wall_time) if main else None,
        "raw_fetch_differs": _raw_fetch_difference(main, charset, raw),
    }


def _raw_fetch_difference(main: Exchange | None, charset: str | None, raw: wire.RawFetch) -> dict[str, Any] | None:
    """What differs between the browser's and the raw fetch's copy of the page (``None``
    when they are the same or cannot be compared); see :mod:`evidence.capture.compare`."""
    if main is None or main.body is None or main.final.url != raw.final_url:
        return None
    if hashlib.sha256(main.body).hexdigest() == raw.body_sha256:
        return None
    raw_body, raw_request = compare.raw_fetch_exchange(raw.warc, raw.final_url)
    if raw_body is None:
        return None
    return compare.describe_difference(
        main.body,
        raw_body,
        charset=charset,
        browser_request=main.final.request_header_list(),
        raw_request=raw_request,
    )


def _iso(epoch: Any) -> str:
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(epoch)))
    except (TypeError, ValueError, OverflowError):
        return ""


def _write_warc(
    raw: wire.RawFetch, recorder: NetworkRecorder, opts: CaptureOptions, user_agent: str, process: _Process
) -> tuple[bytes, dict[str, Any]]:
    buffer = io.BytesIO()
    writer = EvidenceWARCWriter(buffer)
    fields = {
        "software": (
            f"evidence {package_version('preserve-evidence')} (warcio {package_version('warcio')}, "
            f"requests {package_version('requests')}, playwright {package_version('playwright')})"
        ),
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "description": f"Capture of {raw.requested_url}",
        "http-header-user-agent": user_agent,
        "browser": f"{process.info.get('product')} ({process.info.get('executable')})",
        "operator": opts.operator or "",
        "isPartOf": opts.case or "",
        "robots": "ignore",
    }
    write_warcinfo(writer, "archive.warc.gz", fields)
    buffer.write(raw.warc)
    exchanges = 0
    skipped = 0
    heads_from_wire = 0
    redacted = raw.redacted
    for ex in recorder.ordered():
        for i, hop in enumerate(ex.hops):
            if hop.response is None:
                continue
            last = i == len(ex.hops) - 1
            if last:
                if ex.body is None:
                    skipped += 1
                    continue
                body = ex.body
            else:
                body = b""
            status_line, headers, from_wire = hop.response_head()
            heads_from_wire += from_wire
            request_headers, was_redacted = redact_request_headers(hop.request_header_list())
            redacted = redacted or was_redacted
            protocols = []
            if hop.response.get("protocol"):
                protocols.append(str(hop.response["protocol"]))
            security = hop.response.get("securityDetails") or {}
            if security.get("protocol"):
                protocols.append(str(security["protocol"]).lower().replace(" ", "/"))
            write_exchange(
                writer,
                url=hop.url,
                method=hop.method,
                request_headers=request_headers,
                request_body=hop.post_data,
                status_line=status_line,
                response_headers=headers,
                body=body,
                date=warc_date(hop.wall_time),
                ip=str(hop.response.get("remoteIPAddress") or "") or None,
                protocols=protocols,
                cipher=security.get("cipher"),
            )
            exchanges += 1
    raw_exchanges = len(raw.redirect_chain)
    summary = {
        "file": "archive.warc.gz",
        "warc_version": "WARC/1.1",
        "digest_algorithm": "sha256",
        "records": 1 + 2 * (exchanges + raw_exchanges),
        "browser_exchanges": exchanges,
        "raw_fetch_exchanges": raw_exchanges,
        "responses_without_body_not_written": skipped,
        "browser_response_heads_as_received": heads_from_wire,
        "browser_response_heads_rebuilt": exchanges - heads_from_wire,
        "redacted_request_headers": [h.title() for h in REDACTED_REQUEST_HEADERS],
        "secret_request_headers_were_present": redacted,
        "source_header": "WARC-Evidence-Source (browser | raw-fetch)",
    }
    return buffer.getvalue(), summary


def _wire_fetch(
    target: Target,
    opts: CaptureOptions,
    user_agent: str,
    storage: StorageState | None,
    budget: Budget,
    timings: dict[str, float],
) -> tuple[wire.DNSLookup, wire.RawFetch, str | None]:
    """Step 2 of a capture: the DNS lookup and the raw fetch of ``target`` (the
    browser-independent record), and with ``insecure`` the TLS verification error."""
    t = budget.begin("dns")
    dns = wire.resolve(target, max(0.1, budget.wait_s(opts.timeout_s)))
    timings["dns_ms"] = _ms(t)
    budget.done("dns", t)
    t = budget.begin("raw_fetch")
    raw = wire.raw_fetch(
        target,
        user_agent=user_agent,
        cookies=storage.cookies if storage else [],
        timeout_s=max(0.1, budget.wait_s(opts.timeout_s)),
        max_body_bytes=opts.max_body_bytes,
        max_redirects=opts.max_redirects,
        insecure=opts.insecure,
    )
    verify_error = None
    if opts.insecure and urlsplit(raw.final_url).scheme == "https":
        final = check_url(raw.final_url)
        verify_error = wire.verify_tls(final.host, final.port, max(0.1, budget.wait_s(opts.timeout_s)))
    timings["raw_fetch_ms"] = _ms(t)
    budget.done("raw_fetch", t)
    return dns, raw, verify_error


def _chain_pem(chain: list[bytes]) -> bytes:
    return "".join(ssl.DER_cert_to_PEM_cert(der) for der in chain).encode("ascii")


# ---------------------------------------------------------------------------------------
# Public API


class Capturer:
    """One browser process for one or many captures (a batch reuses it).

        with Capturer() as capturer:
            result = capturer.capture("https://example.com/", "out/example")

    ``options`` are the defaults for every :meth:`capture`; a capture may pass its own.
    ``executable`` forces a browser program instead of discovering one (see
    :func:`~evidence.capture.discovery.find_chromium`). The browser starts on
    ``__enter__`` (or :meth:`start`), or lazily on the first capture, and is restarted if it
    died. Not thread-safe.
    """

    def __init__(
        self,
        options: CaptureOptions | None = None,
        *,
        executable: str | os.PathLike[str] | None = None,
    ) -> None:
        self.options = options or CaptureOptions()
        self._explicit = Path(executable) if executable is not None else None
        self._process: _Process | None = None
        self._software: dict[str, Any] | None = None
        #: DOM sizes of the earlier pages per host (capture QA's "much smaller" flag).
        self._sizes: dict[str, list[int]] = {}

    def start(self) -> None:
        """Start Playwright and the browser (no-op if already running)."""
        if self._process is None:
            self._process = _launch(self._explicit)

    def close(self) -> None:
        """Stop the browser and Playwright. Safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(Exception):  # already gone
            process.browser.close()
        _release_driver()

    def __enter__(self) -> Capturer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def browser_info(self) -> dict[str, Any]:
        """Facts about the running browser (as in ``environment.json`` → ``browser``)."""
        self.start()
        assert self._process is not None
        return {**self._process.info, **self._process.fingerprint()}

    def _ready(self) -> _Process:
        if self._process is not None and not self._process.browser.is_connected():
            self.close()
        self.start()
        assert self._process is not None
        return self._process

    def capture(
        self,
        url: str,
        out_dir: str | os.PathLike[str],
        options: CaptureOptions | None = None,
        *,
        progress: ProgressCallback | None = None,
        tsas: Sequence[Any] = (),
    ) -> CaptureResult:
        """Capture ``url`` into the new folder ``out_dir``; see the module docstring.

        Before the first request the clean-environment check runs
        (:mod:`evidence.capture.clean`; ``tsas`` are asked for its start token) and it is
        completed before anything is written: a FAIL the options do not allow raises
        :class:`~evidence.errors.UncleanEnvironmentError`.

        Returns a :class:`CaptureResult` (4xx/5xx pages included, flagged by
        ``http_error``). Raises a :class:`~evidence.errors.CaptureError` subclass, leaving
        no ``out_dir``, when the page cannot be captured. The whole capture keeps within
        ``options.budget_s`` (see :mod:`evidence.capture.budget`). ``progress``, if given,
        is called with a short label (``"PDF"``, ``"full-page screenshot"``, ...) as each
        step starts, in this thread.
        """
        opts = options or self.options
        t_total = time.monotonic()
        budget = Budget(opts.budget_s, progress, start=t_total)
        started_at = utc_now()
        timings: dict[str, float] = {}
        target = check_url(url)
        out = Path(out_dir)
        check_output_dir(out)
        storage = load_storage_state(opts.storage_state) if opts.storage_state else None
        process = self._ready()
        user_agent = opts.user_agent or process.default_user_agent
        snapshot: dict[str, Any] = {}
        installed: list[fonts.InstalledFonts] = []

        def take_snapshot() -> None:
            snapshot.update(system_snapshot())
            installed.append(fonts.installed_fonts(process.env or None))

        snapshot_thread = threading.Thread(
            target=take_snapshot,
            name="evidence-system-snapshot",
            daemon=True,
        )
        snapshot_thread.start()

        t = time.monotonic()
        clean_report = clean.run_clean_check(
            [target.host],
            opts,
            browser=process.info,
            urls=[target.url],
            browser_env=process.env,
            tsas=tsas,
        )
        timings["clean_check_ms"] = _ms(t)


        dns, raw, verify_error = _wire_fetch(target, opts, user_agent, storage, budget, timings)

        page = _browse(process, target, opts, user_agent, storage, budget)
        timings.update(page.timings)
        finished_at = utc_now()
        captures_before = process.captures
        process.captures += 1

        t = time.monotonic()
        chain = _redirect_chain(page.main_chain)
        hosts = [target.host] + [urlsplit(h.url).hostname or "" for h in chain]
        other_dns: dict[str, list[str]] = {}
        for host in dict.fromkeys(h for h in hosts if h and h != target.host):
            try:
                other_dns[host] = list(
                    wire.resolve(check_url(f"http://{host}/"), opts.timeout_s).addresses
                )
            except CaptureError as err:
                other_dns[host] = [f"lookup failed: {err.message}"]
        main_response = page.main.final.response if page.main and page.main.final.response else {}
        status = _int(main_response.get("status")) or raw.status
        status_text = str(
            main_response.get("statusText") or (raw.status_text if not main_response else "")
        )
        http_error = status >= 400
        tls = _tls_info(page.main, page.chain_der, page.final_url, raw, verify_error, opts.insecure)
        resources = _resources(page.recorder)
        clean_report = clean.recheck_hosts(
            clean_report,
            [*hosts, *(urlsplit(r.url).hostname or "" for r in resources)],
            opts,
            chains={check_url(page.final_url).origin: page.chain_der} if page.chain_der else {},
            browser={**process.info, **process.fingerprint()},
        )
        t_warc = budget.begin("archive.warc.gz")
        warc, warc_summary = _write_warc(raw, page.recorder, opts, user_agent, process)
        budget.done("archive.warc.gz", t_warc)
        warnings = list(page.warnings)
        warnings.extend(_budget_warnings(budget))
        main_url = page.main.final.url if page.main else page.final_url
        if raw.final_url != main_url:
            warnings.append(
                f"The browser ended at {main_url}, the raw fetch at {raw.final_url} (the page "
                "moved on by itself, e.g. by script); the raw fetch covers only the latter."
            )
        elif raw.status != status:
            warnings.append(
                f"The raw fetch got status {raw.status} where the browser got {status}; both "
                "answers are in the WARC."
            )
        if tls is not None and tls.leaf_matches_raw_fetch is False:
            warnings.append(
                "The server certificate the browser saw differs from the one the raw fetch saw."
            )
        missing = [r.url for r in resources if not r.body_recorded and r.status is not None]
        if missing:
            warnings.append(f"{len(missing)} response(s) are listed without a body in the WARC.")
        main_document = _main_document(page.main, page.charset, raw)
        differs = main_document["raw_fetch_differs"]
        if differs is not None and not differs["text_identical"]:  # not only re-encoded
            warnings.insert(0, compare.difference_warning(raw.final_url, main_document["raw_fetch_differs"]))
        if http_error:
            warnings.append(f"The page answered with HTTP status {status} ({status_text}).")
        dom_size = len(page.dom or b"")
        earlier = self._sizes.setdefault(urlsplit(page.final_url).hostname or target.host, [])
        qa_flags = qa.assess(
            status=status,
            title=page.title,
            text=page.text,
            dom=page.dom,
            screenshot=page.screenshot_viewport,
            size=dom_size,
            earlier_sizes=earlier,
        )
        if not http_error:
            earlier.append(dom_size)
        warnings.extend(f"Capture QA: the page is probably not the listing: {f.text()}" for f in qa_flags)
        for item in clean_report.items:
            if item.overridden:
                warnings.insert(
                    0,
                    f"The clean-environment check FAILED on '{item.check}'; the capture went on only because "
                    f"that was allowed on the record (allow_unclean / --allow-unclean {item.check}): {item.why}",
                )

        profile = {
            "browser_context": "new for this capture: no cookies, storage or cache from any other capture",
            "context_created_at": page.context_created_at,
            "context_opened_before_capture_started": page.context_prewarmed,
            "cookies_at_start": page.cookies_at_start,
            "local_storage_origins_at_start": page.origins_at_start,
            "loaded_from_storage_state": storage is not None,
            "service_workers": "blocked",
            "user_data_dir": process.info.get("user_data_dir"),
            "user_data_dir_note": "temporary folder created by Playwright for this browser "
            "process; deleted when the browser stops",
            "user_data_dir_created_at": process.info.get("user_data_dir_created_at"),
            "browser_started_at": process.launched_at,
            "captures_before_in_this_browser_process": captures_before,
        }
        local = raw.connection
        snapshot_thread.join()
        font_check = _font_check(page, installed, warnings)
        environment = environment_report(
            software=self._software_report(),
            browser={**process.info, **process.fingerprint()},
            profile=profile,
            started_at=started_at,
            finished_at=finished_at,
            hosts=hosts,
            urls=[target.url, raw.final_url, page.final_url],
            local_address={"ip": local.local_ip, "port": local.local_port}
            if local.local_ip
            else None,
            operator=opts.operator,
            case=opts.case,
            notes=opts.notes,
            snapshot=snapshot or None,
            fonts=installed[0].to_json() if installed else None,
        )
        timings["facts_ms"] = _ms(t)

        made: dict[str, bytes | None] = {
            "archive.warc.gz": warc,
            "screenshot-full.png": page.screenshot_full,
            "screenshot-viewport.png": page.screenshot_viewport,
            "dom.html": page.dom,
            "page.pdf": page.pdf,
            "page.mhtml": page.mhtml,
            "tls-chain.pem": _chain_pem(page.chain_der) if page.chain_der else None,
        }
        files = {name: data for name, data in made.items() if data is not None}
        files.update(clean_report.files())
        names = [n for n in ARTIFACT_NAMES if n in files or n.endswith(".json")]
        facts: dict[str, Any] = {
            "format": CAPTURE_FORMAT,
            "requested_url": target.url,
            "final_url": page.final_url,
            "status": status,
            "status_text": status_text,
            "http_error": http_error,
            "error_kind": error_kind(status),
            "mime_type": main_response.get("mimeType"),
            "page_title": page.title,
            "redirect_chain": [h.to_json() for h in chain],
            "server": {
                "ip": (str(main_response.get("remoteIPAddress") or "").strip("[]") or None),
                "port": _int(main_response.get("remotePort")),
                "protocol": main_response.get("protocol"),
            },
            "dns": {**dns.to_json(), "other_hosts": other_dns},
            "tls": tls.to_json() if tls else None,
            "insecure": opts.insecure,
            "user_agent": user_agent,
            "storage_state": storage.summary() if storage else {"used": False},
            "started_at": started_at,
            "finished_at": finished_at,
            "timings_ms": timings,
            "page": {
                "viewport": {"width": opts.viewport_width, "height": opts.viewport_height},
                "width": page.page_width,
                "height": page.page_height,
                "full_page_cap": opts.full_page_max_height,
                "full_page_captured_height": page.captured_height,
                "full_page_truncated": page.page_height > opts.full_page_max_height,
                "scrolled": opts.scroll,
                "scroll_steps": page.scroll_steps,
                "load_event": page.load_event,
                "network_quiet": page.network_quiet,
                "recordings": page.recordings,
                "moment": page.moment,
                "fonts": font_check,
                "document_charset": page.charset,
                "pdf": {"media": "screen", "format": _PDF_FORMAT, "print_background": True},
            },
            "main_document": main_document,
            "raw_fetch": raw.to_json(),
            "warc": warc_summary,
            "requests": [r.to_json() for r in resources],
            "request_count": len(resources),
            "options": opts.to_json(),
            "browser": {
                "version": process.info.get("version"),
                "captures_before_in_this_browser_process": captures_before,
            },
            "clean_environment": clean_report.summary(),
            "qa": qa.qa_record(qa_flags),
            "warnings": warnings,
            "artifacts": names,
            "artifacts_not_made": {
                name: {"status": step.status, "reason": step.reason}
                for name, step in budget.steps.items()
                if name in made and made[name] is None and step.status in ("off", "skipped")
            },
        }

        t = budget.begin("write")
        artifacts: dict[str, Path] = {}
        with Staging(out) as staging:
            for name, data in files.items():
                artifacts[name] = staging.write(name, data)
            artifacts["environment.json"] = staging.write("environment.json", _json(environment))
            timings["write_ms"] = _ms(t)
            budget.done("write", t)
            timings["total_ms"] = _ms(t_total)
            facts["budget"] = budget.to_json()
            artifacts["capture.json"] = staging.write("capture.json", _json(facts))
            staging.commit()
        return CaptureResult(
            out_dir=staging.out,
            requested_url=target.url,
            final_url=page.final_url,
            status=status,
            status_text=status_text,
            http_error=http_error,
            mime_type=main_response.get("mimeType"),
            page_title=page.title,
            redirect_chain=tuple(chain),
            server_ip=facts["server"]["ip"],
            server_port=facts["server"]["port"],
            dns_host=dns.host,
            dns_answers=dns.addresses,
            tls=tls,
            insecure=opts.insecure,
            storage_state_used=storage is not None,
            storage_state_sha256=storage.sha256 if storage else None,
            user_agent=user_agent,
            started_at=started_at,
            finished_at=finished_at,
            timings_ms=dict(timings),
            full_page_height=page.page_height,
            full_page_cap=opts.full_page_max_height,
            full_page_truncated=page.page_height > opts.full_page_max_height,
            resources=tuple(resources),
            warnings=tuple(warnings),
            options=opts,
            artifacts=artifacts,
            facts=facts,
            environment=environment,
        )

    def _software_report(self) -> dict[str, Any]:
        if self._software is None:
            self._software = software_report()
        return self._software


def _font_check(
    page: _Page, installed: list[fonts.InstalledFonts], warnings: list[str]
) -> dict[str, Any]:
    """Whether the installed fonts can draw the page's text (``capture.json`` →
    ``page.fonts``); a warning when some of it cannot be drawn."""
    if not installed:
        return {"checked": False, "why_not": "the font list was not taken"}
    report = fonts.uncovered_text(page.text, installed[0])
    warning = fonts.uncovered_warning(report)
    if warning:
        warnings.append(warning)
    return report


def _budget_warnings(budget: Budget) -> list[str]:
    """One plain sentence per artifact the budget or the options left out or cut."""
    out: list[str] = []
    for name, step in budget.steps.items():
        if name not in ARTIFACT_NAMES or step.status not in ("off", "skipped"):
            continue
        if name == "tls-chain.pem":
            continue  # has its own warning
        out.append(f"{name} ({LABELS.get(name, name)}) was not made: {step.reason}.")
    return out


def _json(value: Any) -> bytes:
    import json

    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")


def capture_page(
    url: str,
    out_dir: str | os.PathLike[str],
    options: CaptureOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> CaptureResult:
    """Capture one page with a browser started and stopped for it (cold start).

    For several pages, use one :class:`Capturer` instead: it keeps the browser running.
    """
    check_url(url)  # refuse bad input before starting a browser
    check_output_dir(Path(out_dir))
    with Capturer(options) as capturer:
        return capturer.capture(url, out_dir, progress=progress)
