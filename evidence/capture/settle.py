"""One moment: waiting until the page is quiet in its DOM, and checking that every
artifact was taken from the same state.

The network going quiet is not enough: a page can change itself without a request (a
timer revealing reviews already loaded, a countdown, a carousel). An init script, added to
every page before its own scripts run, counts DOM mutations (a ``MutationObserver`` on the
whole document) and keeps the due times of the page's pending one-shot timers
(``setTimeout``). A capture then waits, within a bound, until

- the DOM has not changed for ``dom_quiet_ms``,
- no ``setTimeout`` the page set is due within ``timer_wait_ms`` (timers set by a timer's
  own callback more than once in a row, i.e. polling loops, are not waited for; nor is
  ``setInterval``), and
- the network has been quiet for ``settle_ms``;

and records the mutation count before the first artifact and after each one, so that a
change while recording is seen, the page recorded again, and, when it never stops
changing, the artifacts that may show another moment are named.

The script runs in the page's own JavaScript world (it has to, to see its timers). It
defines two non-writable, non-enumerable functions, ``window.__evidenceQuiet`` (the
state) and ``window.__evidenceSetTimeout`` (the browser's own ``setTimeout``, for the
capture's scripts, whose waits are not the page's); a page that
goes out of its way to defeat it can, and the capture then falls back to network quiet
only (recorded as ``dom_observed: false``). A page can also see them, as it can see that
it is driven by automation at all (``navigator.webdriver`` is true under Playwright): a
site that cloaks on that is caught by the raw-fetch comparison only when the raw fetch
gets the other version (:mod:`evidence.capture.compare`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from evidence.capture.errors import seconds

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from evidence.capture.network import NetworkRecorder
    from evidence.capture.options import CaptureOptions

__all__ = ["QUIET_INIT_JS", "DomSettle", "Marks", "Moment", "dom_state", "settle_dom"]

_T = TypeVar("_T")

QUIET_INIT_JS = r"""
(() => {
  if (window !== window.top || Object.getOwnPropertyDescriptor(window, '__evidenceQuiet')) return;
  const now = performance.now.bind(performance);
  const Observer = window.MutationObserver, MapC = window.Map;
  const state = { mutations: 0, last: now(), timers: new MapC() };
  try {
    new Observer((records) => { state.mutations += records.length; state.last = now(); })
      .observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  } catch (e) { state.broken = String(e); }
  const setT = window.setTimeout, clearT = window.clearTimeout;
  let depth = 0;
  const wrappedSet = function (fn, delay, ...rest) {
    if (typeof fn !== 'function') return setT.call(window, fn, delay, ...rest);
    const level = depth + 1;
    let id = 0;
    const run = function (...args) {
      state.timers.delete(id);
      const saved = depth;
      depth = level;
      try { return fn.apply(this, args); } finally { depth = saved; }
    };
    id = setT.call(window, run, delay, ...rest);
    if (level <= 2) state.timers.set(id, now() + Math.max(0, Number(delay) || 0));
    return id;
  };
  const wrappedClear = function (id) { state.timers.delete(id); return clearT.call(window, id); };
  try {
    Object.defineProperty(wrappedSet, 'toString', { value: () => setT.toString() });
    Object.defineProperty(wrappedClear, 'toString', { value: () => clearT.toString() });
  } catch (e) {}
  // The capture's own waits (scrolling, back to the top) use the browser's timer: they
  // are not the page's and must not be waited for.
  Object.defineProperty(window, '__evidenceSetTimeout', {
    value: setT.bind(window), writable: false, enumerable: false, configurable: false,
  });
  window.setTimeout = wrappedSet;
  window.clearTimeout = wrappedClear;
  Object.defineProperty(window, '__evidenceQuiet', {
    value: (horizon) => {
      const t = now();
      let next = null, pending = 0;
      for (const due of state.timers.values()) {
        const left = Math.max(0, due - t);
        if (left <= horizon) { pending += 1; next = next === null ? left : Math.min(next, left); }
      }
      return { mutations: state.mutations, quietMs: t - state.last, nextTimerMs: next,
               pendingTimers: pending, broken: state.broken || null };
    },
    writable: false, enumerable: false, configurable: false,
  });
})();
"""

_STATE_JS = "(h) => (typeof window.__evidenceQuiet === 'function' ? window.__evidenceQuiet(h) : null)"
_POLL_S = 0.05


def dom_state(page: Page, horizon_ms: float = 0) -> dict[str, Any] | None:
    """The page's mutation count, ms since the last mutation and its next short timer;
    ``None`` when the page does not have the observer (or cannot be asked)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        got = page.evaluate(_STATE_JS, horizon_ms)
    except PlaywrightError:
        return None
    if not isinstance(got, dict) or got.get("broken"):
        return None
    return got


def mutations(page: Page) -> int | None:
    """The page's DOM mutation count so far (``None`` if not observed)."""
    state = dom_state(page)
    return int(state["mutations"]) if state is not None else None


@dataclass(frozen=True)
class DomSettle:
    """How waiting for a quiet DOM went."""

    observed: bool
    quiet: bool
    waited_ms: float
    mutations_seen: int
    pending_timers: int

    def to_json(self) -> dict[str, Any]:
        return {
            "dom_observed": self.observed,
            "dom_quiet": self.quiet,
            "waited_ms": round(self.waited_ms, 3),
            "mutations_seen": self.mutations_seen,
            "pending_timers_at_end": self.pending_timers,
        }


def settle_dom(
    page: Page,
    recorder: NetworkRecorder,
    opts: CaptureOptions,
    deadline: float,
    *,
    network: bool,
    check: Callable[[], None] | None = None,
) -> DomSettle:
    """Wait until the DOM has been quiet for ``dom_quiet_ms``, no short timer is pending
    and (``network``) the network has been quiet for ``settle_ms``; give up at
    ``deadline`` (``time.monotonic()``). ``check`` runs on every poll (size limits)."""
    start = time.monotonic()
    first = dom_state(page, opts.timer_wait_ms)
    if first is None:
        return DomSettle(False, True, 0.0, 0, 0)
    state = first
    net_s = opts.settle_ms / 1000
    while True:
        if check is not None:
            check()
        left = deadline - time.monotonic()
        next_timer = state.get("nextTimerMs")
        timer_due = next_timer is not None and float(next_timer) <= left * 1000
        dom_quiet = float(state["quietMs"]) >= opts.dom_quiet_ms
        net_quiet = not network or recorder.quiet_for() >= net_s
        if dom_quiet and not timer_due and net_quiet:
            quiet = True
            break
        if left <= 0:
            quiet = False
            break
        page.wait_for_timeout(max(1, int(min(_POLL_S, left) * 1000)))
        got = dom_state(page, opts.timer_wait_ms)
        if got is None:  # the page went away (navigation): the caller sees it
            quiet = True
            break
        state = got
    return DomSettle(
        observed=True,
        quiet=quiet,
        waited_ms=(time.monotonic() - start) * 1000,
        mutations_seen=int(state["mutations"]) - int(first["mutations"]),
        pending_timers=int(state.get("pendingTimers") or 0),
    )


class Marks:
    """The DOM mutation count before the first artifact and after each one."""

    def __init__(self, page: Page, skip: Callable[[], bool] | None = None) -> None:
        self.page = page
        #: True when the page must not be asked (an artifact was stopped at its time limit:
        #: the page then answers nothing until its context is closed).
        self.skip = skip or (lambda: False)
        self.start = mutations(page)
        self.after: list[tuple[str, int | None]] = []

    def __call__(self, artifact: str) -> None:
        self.after.append((artifact, None if self.skip() else mutations(self.page)))

    def changed(self) -> list[str]:
        """Artifacts taken after (or while) the DOM changed since the first one began."""
        if self.start is None:
            return []
        return [name for name, count in self.after if count is not None and count != self.start]

    def order(self) -> list[str]:
        return [name for name, _ in self.after]


class Moment:
    """One moment for every artifact (see :mod:`evidence.capture.settle`): the DOM wait
    after the first recording, whether a recording saw the DOM change, the retakes, and
    what is recorded and warned about it."""

    def __init__(
        self,
        page: Page,
        recorder: NetworkRecorder,
        opts: CaptureOptions,
        check: Callable[[], None] | None = None,
    ) -> None:
        self.page, self.recorder, self.opts, self.check = page, recorder, opts, check
        self.deadline = time.monotonic() + opts.dom_settle_max_s
        self.mutations_at_start: int | None = None
        self.settled: DomSettle | None = None
        self.last: Marks | None = None
        self.retakes = 0
        self.changed_after_first = False

    def start(self) -> None:
        """The page is about to be recorded the first time: the bound starts now."""
        self.deadline = time.monotonic() + self.opts.dom_settle_max_s
        self.mutations_at_start = mutations(self.page)

    def recorded(self, marks: Marks) -> None:
        self.last = marks

    def settle(self, *, network: bool) -> None:
        self.settled = settle_dom(
            self.page, self.recorder, self.opts, self.deadline, network=network, check=self.check
        )

    def changed(self) -> bool:
        """The DOM changed since the first recording began."""
        now = mutations(self.page)
        changed = now is not None and self.mutations_at_start is not None and now != self.mutations_at_start
        self.changed_after_first = self.changed_after_first or changed
        return changed

    def record_until_consistent(self, record: Callable[[], _T], keep_going: Callable[[], bool] | None = None) -> _T:
        """Record; while the DOM changed during the recording and time is left, wait for
        quiet again and record again (twice at most). ``keep_going()`` false (the capture's
        budget has no time left for another recording) also stops it."""
        shots = record()
        while self.last is not None and self.last.changed() and self.retakes < 2:
            if time.monotonic() >= self.deadline or (keep_going is not None and not keep_going()):
                break
            self.retakes += 1
            self.settle(network=self.recorder.quiet_for() >= self.opts.settle_ms / 1000)
            shots = record()
        return shots

    def differing(self) -> list[str]:
        return self.last.changed() if self.last is not None else []

    def to_json(self) -> dict[str, Any]:
        settled = self.settled.to_json() if self.settled else {"dom_observed": False}
        return {
            **settled,
            "dom_quiet_ms": self.opts.dom_quiet_ms,
            "timer_wait_ms": self.opts.timer_wait_ms,
            "dom_settle_max_s": self.opts.dom_settle_max_s,
            "changed_after_first_recording": self.changed_after_first,
            "artifact_order": self.last.order() if self.last else [],
            "retakes": self.retakes,
            "consistent": not self.differing(),
            "may_differ": self.differing(),
        }

    def warnings(self) -> list[str]:
        out: list[str] = []
        differing = self.differing()
        quiet = self.settled.quiet if self.settled else True
        bound = seconds(self.opts.dom_settle_max_s)
        if differing:
            order = self.last.order() if self.last else []
            before = [n for n in order if n not in differing]
            out.append(
                "THE PAGE KEPT CHANGING WHILE IT WAS RECORDED (a ticker, a countdown, an "
                f"animation?): its content changed within {bound} and again during the last "
                f"recording, so the artifacts show slightly different moments: "
                f"{', '.join(differing)} may differ from "
                f"{', '.join(before) if before else 'each other'} (taken in this order: "
                f"{', '.join(order)})."
            )
        elif not quiet:
            out.append(
                f"The page's content was still changing (or a timer of the page was still "
                f"pending) after {bound}; it was recorded then. The DOM did not change while "
                "it was recorded, so every artifact shows the same moment."
            )
        return out
