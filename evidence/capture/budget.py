"""The time budget of one capture: one deadline for every step and artifact.

A capture gets ``CaptureOptions.budget_s`` seconds in all. Loading the page (DNS, raw
fetch, navigation, ``load``, scrolling, settling, ``wait_selector``/``wait_ms``) must
end within :data:`LOADING_SHARE` of it; then each artifact is recorded, in order of
importance, with a bound: the time left, less a reserve for each artifact after it
(:data:`SHARES`) and :data:`FINISH_SHARE` for the end (bodies, certificate, WARC, facts,
writing). An artifact
that needs longer than its bound is stopped and recorded as skipped, with the reason,
in ``capture.json`` → ``budget`` and in ``warnings``: never a silent gap.

Pure bookkeeping: no browser, no I/O. ``progress`` is called with a plain label at the
start of each step (``evidence.capture(..., progress=print)``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_BUDGET_S",
    "FINISH_SHARE",
    "GUARANTEED",
    "LOADING_SHARE",
    "RECORDING_ORDER",
    "SHARES",
    "Budget",
    "ProgressCallback",
]

#: The default total for one capture, in seconds (see docs/capture.md, "Time budget").
DEFAULT_BUDGET_S = 120.0

#: Loading must end within this fraction of the budget.
LOADING_SHARE = 0.40
#: Kept for the end of the capture: response bodies, the certificate, the WARC, writing.
FINISH_SHARE = 0.10
#: The artifacts in the order they are recorded (cheapest and most telling first; the
#: two that can take minutes on a huge page last), each with its reserve: the fraction of
#: the budget kept for it while the artifacts before it are made. An artifact may use the
#: time left, less the reserves of the artifacts after it and :data:`FINISH_SHARE`.
SHARES: dict[str, float] = {
    "screenshot-viewport.png": 0.05,
    "dom.html": 0.05,
    "page.mhtml": 0.05,
    "screenshot-full.png": 0.05,
    "page.pdf": 0.05,
}
RECORDING_ORDER: tuple[str, ...] = tuple(SHARES)
#: These two always get at least their own reserve, even when loading overran: a capture
#: always tries to show the first screen and the page's text.
GUARANTEED: tuple[str, ...] = ("screenshot-viewport.png", "dom.html")

#: What a step is called in progress lines.
LABELS: dict[str, str] = {
    "dns": "looking up the host",
    "raw_fetch": "fetching the page (raw copy)",
    "navigation": "opening the page in the browser",
    "load": "waiting for the page to load",
    "scroll": "scrolling through the page",
    "settle": "waiting for the page to settle",
    "screenshot-viewport.png": "screenshot of the first screen",
    "dom.html": "rendered DOM",
    "page.mhtml": "MHTML snapshot",
    "screenshot-full.png": "full-page screenshot",
    "page.pdf": "PDF",
    "tls-chain.pem": "certificate chain",
    "archive.warc.gz": "writing the web archive",
    "write": "writing the files",
}

ProgressCallback = Callable[[str], None]


@dataclass
class _Step:
    status: str
    ms: float = 0.0
    limit_s: float | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "ms": round(self.ms, 3)}
        if self.limit_s is not None:
            out["limit_s"] = round(self.limit_s, 3)
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class Budget:
    """One capture's deadline and the outcome of each step and artifact.

    ``clock`` is ``time.monotonic`` (replaceable for tests of the arithmetic).
    Statuses: ``"ok"``; ``"cut"`` (made, but not whole: a capped screenshot, a page
    recorded before it finished loading); ``"skipped"`` (not made: it needed more than its
    bound, or the browser was still busy with an artifact that did); ``"off"`` (not
    requested); ``"none"`` (nothing to record, e.g. no certificate chain for HTTP).
    """

    total_s: float
    progress: ProgressCallback | None = None
    clock: Callable[[], float] = time.monotonic
    start: float = field(default=-1.0)
    steps: dict[str, _Step] = field(default_factory=dict)
    busy: str | None = None  # the artifact that was stopped; the page is unusable since

    def __post_init__(self) -> None:
        if self.start < 0:
            self.start = self.clock()

    # -- deadlines ---------------------------------------------------------------------
    def elapsed(self) -> float:
        return self.clock() - self.start

    def left(self) -> float:
        """Seconds until the whole capture's deadline (never negative)."""
        return max(0.0, self.total_s - self.elapsed())

    def loading_deadline(self) -> float:
        """The ``clock`` value by which loading must end."""
        return self.start + self.total_s * LOADING_SHARE

    def loading_left(self) -> float:
        return max(0.0, self.loading_deadline() - self.clock())

    def wait_s(self, timeout_s: float) -> float:
        """A loading wait: its own timeout, but never past the loading deadline."""
        return max(0.0, min(timeout_s, self.loading_left()))

    def bound_s(self, artifact: str) -> float:
        """How long ``artifact`` may take now: the time left, less the shares of the
        artifacts recorded after it and of the finish."""
        later = RECORDING_ORDER[RECORDING_ORDER.index(artifact) + 1 :]
        keep = FINISH_SHARE + sum(SHARES[name] for name in later)
        bound = self.total_s * (1.0 - keep) - self.elapsed()
        if artifact in GUARANTEED:
            bound = max(bound, self.total_s * SHARES[artifact])
        return max(0.0, bound)

    # -- outcomes ------------------------------------------------------------------------
    def begin(self, step: str) -> float:
        """Announce ``step`` (progress) and return its start time."""
        if self.progress is not None:
            self.progress(LABELS.get(step, step))
        return self.clock()

    def done(
        self,
        step: str,
        started: float,
        status: str = "ok",
        *,
        limit_s: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Record ``step``'s outcome; time is added up when a step runs twice."""
        ms = (self.clock() - started) * 1000
        before = self.steps.get(step)
        if before is not None:
            ms += before.ms
        self.steps[step] = _Step(status, ms, limit_s, reason)

    def mark(self, step: str, status: str, reason: str | None = None) -> None:
        """Record an outcome that took no time (``off``, ``none``, or skipped up front)."""
        self.steps[step] = _Step(status, self.steps[step].ms if step in self.steps else 0.0, None, reason)

    def status(self, step: str) -> str | None:
        got = self.steps.get(step)
        return got.status if got else None

    def to_json(self) -> dict[str, Any]:
        """``capture.json`` → ``budget``."""
        return {
            "total_s": self.total_s,
            "spent_s": round(self.elapsed(), 3),
            "loading_share": LOADING_SHARE,
            "finish_share": FINISH_SHARE,
            "artifact_shares": dict(SHARES),
            "steps": {name: step.to_json() for name, step in self.steps.items()},
        }
