"""Many captures at once on one machine: ``preserve --jobs N`` and :func:`capture_many`.

    import evidence
    for outcome in evidence.capture_many(urls, jobs=2, out_dir="bundles", case="2026-017"):
        print(outcome.url, outcome.bundle.path if outcome.bundle else outcome.error)

The jobs model (docs/design.md, "Many captures at once"):

- A *job* is one thread with its own :class:`~evidence.capture.Capturer`, that is its own
  Playwright driver and its own Chromium process. Playwright's synchronous API binds a driver
  to the thread that started it, so one browser cannot serve several threads; a browser per
  job also keeps a crash or a hung page from touching the other jobs.
- Each URL is captured and sealed on its own, exactly as one capture alone is: its own log
  entry, its own bundle, written atomically. A failed URL fails alone.
- The log orders the appends: a directory log takes its mutex and its file lock for each
  append (several jobs, or several processes, on one directory); a log server is reached
  with one HTTP client per job. Log indices follow the order captures *finish*, not the
  order of the list, when ``jobs`` > 1.
- ``jobs=1`` (the default) captures in the caller's thread, one page after the other, as
  before; :data:`MAX_JOBS` bounds it (each job is a browser: about 200-400 MB of memory).
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from evidence.errors import EvidenceError, UsageError

if TYPE_CHECKING:
    from evidence.api import LogLike
    from evidence.bundle import Bundle
    from evidence.capture import CaptureOptions, Capturer
    from evidence.capture.budget import ProgressCallback
    from evidence.capture.steps import Walk
    from evidence.config import TSAConfig
    from evidence.log.remote import SealableLog

#: The most jobs one process runs (each is a browser); more is refused as a usage error.
MAX_JOBS = 32
#: The default number of jobs: one, as before (see docs/design.md for the measurements).
DEFAULT_JOBS = 1

T = TypeVar("T")
R = TypeVar("R")


def check_jobs(jobs: int) -> int:
    """``jobs`` if it is a usable number of jobs, else a :class:`UsageError` saying why."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= MAX_JOBS:
        raise UsageError(
            f"the number of jobs must be a whole number from 1 to {MAX_JOBS}, not {jobs!r}",
            hint=f"Each job is a browser; this machine has {os.cpu_count() or 1} processor core(s): "
            "--jobs 2 per core is plenty.",
        )
    return jobs


@dataclass(frozen=True)
class Slot:
    """What one job captures with: its own browser, and the log it seals into."""

    capturer: Capturer
    log: SealableLog


LogOpener = Callable[[], contextlib.AbstractContextManager["SealableLog"]]


@contextlib.contextmanager
def job_slot(options: CaptureOptions, executable: str | None, open_log: LogOpener) -> Iterator[Slot]:
    """One job's :class:`Slot`: its log (``open_log()``) and a started browser, both closed at the end."""
    from evidence.capture import Capturer

    with open_log() as the_log, Capturer(options, executable=executable) as capturer:
        yield Slot(capturer, the_log)


class _Stop:
    """The message a job thread sends when it has ended (with the error that ended it, if any)."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def run_jobs(
    items: Sequence[T],
    work: Callable[[Slot, int, T], R],
    *,
    jobs: int,
    slot: Callable[[], contextlib.AbstractContextManager[Slot]],
    inline: Slot | None = None,
    stop: threading.Event | None = None,
) -> Iterator[tuple[int, R]]:
    """Run ``work(slot, n, item)`` for every item, ``jobs`` at a time; yield ``(n, result)`` in
    the caller's thread as each finishes (``n`` is the item's position, from 0).

    With ``jobs`` = 1 and an ``inline`` slot, the items run in the caller's thread, in order.
    Else each job is a thread that enters its own ``slot()`` (a browser start that fails
    ends the whole run with that error, as a single capture's would) and takes the next item
    until none is left. ``work`` handles the errors of one item itself (a failed URL is a
    result); anything it raises ends the run and is raised here. When the caller stops
    early (Ctrl-C, or closing the iterator), no new item is started and the jobs are given
    a moment to end; a capture still running then is abandoned with its thread (its
    temporary folder is removed by the next capture into that folder, once this process has
    ended: :func:`evidence.bundle.remove_stale`); no bundle is ever left half-written.
    ``stop`` (made here if not given) is set from then on: ``work`` may look at it to stay
    quiet about the captures that were cut short.
    """
    check_jobs(jobs)
    if jobs == 1 and inline is not None:
        for n, item in enumerate(items):
            yield n, work(inline, n, item)
        return
    todo: queue.SimpleQueue[tuple[int, T]] = queue.SimpleQueue()
    for n, item in enumerate(items):
        todo.put((n, item))
    done: queue.SimpleQueue[tuple[int, R] | _Stop] = queue.SimpleQueue()
    stop = stop or threading.Event()

    def job() -> None:
        error: BaseException | None = None
        try:
            with slot() as s:
                while not stop.is_set():
                    try:
                        n, item = todo.get_nowait()
                    except queue.Empty:
                        break
                    done.put((n, work(s, n, item)))
        except BaseException as e:
            error = e
        done.put(_Stop(error))

    count = min(jobs, len(items))
    threads = [threading.Thread(target=job, name=f"evidence-job-{k + 1}", daemon=True) for k in range(count)]
    for t in threads:
        t.start()
    running = count
    try:
        while running:
            try:
                message = done.get(timeout=0.25)  # a timeout: Ctrl-C reaches this thread promptly
            except queue.Empty:
                continue
            if isinstance(message, _Stop):
                running -= 1
                if message.error is not None:
                    raise message.error
                continue
            yield message
    finally:
        stop.set()
        deadline = time.monotonic() + 10.0
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))


@dataclass(frozen=True)
class Outcome:
    """What became of one URL of :func:`capture_many`: its bundle, or the error that stopped it."""

    url: str
    bundle: Bundle | None
    error: EvidenceError | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.bundle is not None


def capture_many(
    urls: Sequence[str],
    *,
    jobs: int = DEFAULT_JOBS,
    out_dir: str | os.PathLike[str] = ".",
    log: LogLike = None,
    tsa: str | Sequence[str] | None = None,
    executable: str | None = None,
    origin: str | None = None,
    progress: Callable[[int, str], None] | None = None,
    on_result: Callable[[int, Outcome], None] | None = None,
    **options: Any,
) -> list[Outcome]:
    """Capture every URL, ``jobs`` at a time, each sealed into the log and written as its own
    bundle in ``out_dir``; return one :class:`Outcome` per URL, in the order of ``urls``.

    ``log``, ``tsa``, ``executable``, ``origin`` and ``options`` are as for
    :func:`evidence.capture`. A URL that cannot be captured is an Outcome with its
    ``error`` (the others go on); a problem with the whole run (no browser, a log that
    cannot be used, a bad option) is raised before or instead of any capture.
    ``progress(n, step)`` is called as each step of the ``n``-th URL starts (from its job's
    thread), ``on_result(n, outcome)`` as each URL finishes (in the caller's thread).
    """
    from evidence.api import check_options, close_log, open_session_log

    check_jobs(jobs)
    opts = check_options(options)
    the_log, tsas = open_session_log(log=log, tsa=tsa, origin=origin)

    def work(slot: Slot, n: int, url: str) -> Outcome:
        step: ProgressCallback | None = None
        if progress is not None:

            def step(label: str) -> None:
                progress(n, label)

        return capture_outcome(slot, url, out_dir=out_dir, tsas=tsas, progress=step)

    outcomes: dict[int, Outcome] = {}
    with contextlib.ExitStack() as stack:
        if not _is_local_log(log):
            stack.callback(close_log, the_log)
        shared = job_log_opener(the_log, None, tsas=tsas, origin=origin)
        inline = stack.enter_context(job_slot(opts, executable, shared)) if jobs == 1 else None
        open_log = job_log_opener(the_log, log, tsas=tsas, origin=origin)
        for n, outcome in run_jobs(
            list(urls), work, jobs=jobs, slot=lambda: job_slot(opts, executable, open_log), inline=inline
        ):
            outcomes[n] = outcome
            if on_result is not None:
                on_result(n, outcome)
    return [outcomes[n] for n in sorted(outcomes)]


def capture_outcome(
    slot: Slot,
    url: str,
    *,
    out_dir: str | os.PathLike[str],
    tsas: Sequence[TSAConfig],
    progress: ProgressCallback | None = None,
    options: CaptureOptions | None = None,
    walk: Walk | None = None,
    video: bool = True,
) -> Outcome:
    """Capture and seal one URL with a job's slot (``options``: instead of the browser's
    defaults), or, with ``walk``, that walk (``url`` is its start); a failure is the
    outcome's error."""
    from evidence.api import capture_with, walk_with

    t0 = time.perf_counter()
    try:
        if walk is not None:
            bundle = walk_with(
                slot.capturer, slot.log, walk.start, walk, out_dir=out_dir, tsas=tsas, options=options,
                video=video, progress=progress,
            )  # fmt: skip
        else:
            bundle = capture_with(
                slot.capturer, slot.log, url, out_dir=out_dir, tsas=tsas, progress=progress, options=options
            )
    except EvidenceError as e:
        return Outcome(url, None, e, time.perf_counter() - t0)
    return Outcome(url, bundle, None, time.perf_counter() - t0)


def _is_local_log(log: object) -> bool:
    from evidence.log import Log

    return isinstance(log, Log)


def job_log_opener(shared: SealableLog, spec: Any, *, tsas: Sequence[TSAConfig], origin: str | None) -> LogOpener:
    """How each job gets its log: a directory log object (or, with ``spec`` None, the
    caller's log whatever it is) is shared, not closed by the job: a directory log's
    appends are serialised by its mutex and file lock. A log server gets one HTTP client
    per job (opened from ``spec``, closed when the job ends)."""
    from evidence.api import close_log, resolve_log

    @contextlib.contextmanager
    def own() -> Iterator[SealableLog]:
        the_log = resolve_log(spec, tsas=tsas, origin=origin)
        try:
            yield the_log
        finally:
            close_log(the_log)

    if spec is None or _is_local_log(shared):
        return lambda: contextlib.nullcontext(shared)
    return own


__all__ = [
    "DEFAULT_JOBS",
    "MAX_JOBS",
    "LogOpener",
    "Outcome",
    "Slot",
    "capture_many",
    "capture_outcome",
    "check_jobs",
    "job_log_opener",
    "job_slot",
    "run_jobs",
]
