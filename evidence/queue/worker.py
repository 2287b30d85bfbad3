"""A capture worker: takes capture jobs from the queue, captures, seals, writes bundles.

    evidence worker --queue postgresql://... --log https://log.firm.example/ -o /srv/bundles --jobs 2

Any number of workers, on any machines, take jobs from one queue (procrastinate: a job is
taken by one worker, with ``SELECT ... FOR UPDATE SKIP LOCKED``). A worker runs ``jobs``
captures at once, each in a thread with its own browser (:mod:`evidence.batch`); each
capture is sealed on its own, as ``preserve`` does it.

- A try that fails is tried again after a backoff (``backoff_s``, doubled each time), at
  most ``tries`` times in all; then the job ends *failed* with the reason of its last try.
  A job that can never succeed (a walk file damaged after it was added) fails at once.
- A worker sends a heartbeat every ``heartbeat_s``. The jobs of a worker whose heartbeat
  is older than ``stall_s`` (killed, or its machine gone) are put back on the queue by the
  other workers, and counted as a try; no job is lost. What the dead worker left half-done
  is no bundle (a bundle is written whole or not at all) and a temporary folder, removed by
  the next capture into that output folder.
- A job whose bundle was written by an earlier try (its worker died just after) is not
  captured again: the bundle is recorded before the job is marked done.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import socket
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence.errors import EvidenceError, UsageError

from .store import QUEUE, TASK, check_queue_url, ensure_schema, record_outcome, recorded_bundle

if TYPE_CHECKING:
    import procrastinate
    from procrastinate.job_context import JobContext

    from evidence.batch import LogOpener, Slot
    from evidence.capture import CaptureOptions
    from evidence.config import TSAConfig

@dataclass(frozen=True)
class WorkerSettings:
    """How a worker runs (``evidence worker``'s options)."""

    queue_url: str
    out_dir: Path
    log: str | None = None
    tsa: tuple[str, ...] | None = None
    executable: str | None = None
    jobs: int = 1
    tries: int = 3
    backoff_s: float = 10.0
    heartbeat_s: float = 10.0
    stall_s: float = 60.0
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    #: Stop once the queue is empty (for scripts and tests), instead of waiting for more jobs.
    drain: bool = False
    #: Capture options of every job (CaptureOptions fields, e.g. ``(("pdf", False),)``).
    options: tuple[tuple[str, Any], ...] = ()


def check_settings(s: WorkerSettings) -> WorkerSettings:
    from evidence.batch import check_jobs

    check_queue_url(s.queue_url)
    check_jobs(s.jobs)
    if not 1 <= s.tries <= 100:
        raise UsageError(f"--tries must be from 1 to 100, not {s.tries}")
    if not 0 <= s.backoff_s <= 86_400:
        raise UsageError(f"--backoff must be from 0 to 86400 seconds, not {s.backoff_s}")
    if not 0.2 <= s.heartbeat_s < s.stall_s:
        raise UsageError(
            f"the heartbeat ({s.heartbeat_s} s) must be at least 0.2 s and shorter than the stall timeout "
            f"({s.stall_s} s)"
        )
    return s


class PermanentJobError(EvidenceError):
    """A job that no further try can make succeed (it ends failed at once)."""


class JobFailed(Exception):
    """A try of a job failed for this reason (procrastinate retries it per the strategy)."""


def backoff(settings: WorkerSettings, tries_so_far: int) -> float:
    """The wait before try ``tries_so_far + 1``: ``backoff_s`` doubled per earlier try, at most an hour."""
    return float(min(3600.0, settings.backoff_s * 2 ** max(0, tries_so_far - 1)))


def retry_strategy(settings: WorkerSettings) -> procrastinate.BaseRetryStrategy:
    """procrastinate's retry strategy for capture jobs: ``tries`` tries in all, exponential backoff."""
    import procrastinate
    from procrastinate.retry import RetryDecision

    class CaptureRetry(procrastinate.BaseRetryStrategy):
        def get_retry_decision(self, *, exception: BaseException, job: Any) -> RetryDecision | None:
            if isinstance(exception, PermanentJobError) or isinstance(exception.__cause__, PermanentJobError):
                return None
            tries_so_far = int(job.attempts) + 1
            if tries_so_far >= settings.tries:
                return None
            return RetryDecision(retry_at=_in_seconds(backoff(settings, tries_so_far)))

    return CaptureRetry()


class _NotJobErrors:
    def filter(self, record: Any) -> bool:
        return getattr(record, "action", None) not in ("job_error", "job_error_retry")


def _in_seconds(seconds: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)


class _Slots:
    """One capture slot (a browser and the log) per worker thread, started on the thread's first job."""

    def __init__(self, options: CaptureOptions, executable: str | None, open_log: LogOpener) -> None:
        self.options, self.executable, self.open_log = options, executable, open_log
        self._local = threading.local()
        self._all: list[contextlib.ExitStack] = []
        self._lock = threading.Lock()

    def get(self) -> Slot:
        from evidence.batch import job_slot

        slot: Slot | None = getattr(self._local, "slot", None)
        if slot is None:  # (a browser that died is restarted by its Capturer)
            stack = contextlib.ExitStack()
            slot = stack.enter_context(job_slot(self.options, self.executable, self.open_log))
            self._local.slot = slot
            with self._lock:
                self._all.append(stack)
        return slot

    def close(self) -> None:
        with self._lock:
            stacks, self._all = self._all, []
        for stack in stacks:
            with contextlib.suppress(Exception):
                stack.close()


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_task(
    settings: WorkerSettings, slots: _Slots, tsas: tuple[TSAConfig, ...], say: Callable[[str], None]
) -> Callable[..., None]:
    """The function that runs one capture job (in a worker thread)."""
    from evidence.batch import capture_outcome

    def capture_job(
        context: JobContext,
        url: str,
        case: str | None = None,
        operator: str | None = None,
        notes: str | None = None,
        walk: str | None = None,
    ) -> None:
        job = context.job
        assert job.id is not None
        try_no = int(job.attempts) + 1
        where = f"job {job.id} (try {try_no} of {settings.tries})"
        the_walk = None
        if walk is not None:
            from evidence.capture.errors import InvalidWalkError
            from evidence.capture.steps import load_walk_text

            try:
                the_walk = load_walk_text(walk, f"the walk of job {job.id}")
            except InvalidWalkError as e:  # checked when added; a job written by hand can still hold one
                reason = e.diagnostics()
                record_outcome(settings.queue_url, job.id, error=reason, worker=settings.name)
                say(f"{where} FAILED {url}: {reason}")
                raise PermanentJobError(reason) from e
        earlier = recorded_bundle(settings.queue_url, job.id)
        if earlier is not None and Path(earlier).is_file():
            say(f"{where} {url}: already preserved by an earlier try -> {earlier}")
            return
        given = (("case", case), ("operator", operator), ("notes", notes))
        extra: dict[str, Any] = {k: v for k, v in given if v is not None}
        options = replace(slots.options, **extra) if extra else None
        say(f"{where} capturing {url}")
        outcome = capture_outcome(
            slots.get(), url, out_dir=settings.out_dir, tsas=tsas, options=options, walk=the_walk
        )
        if outcome.bundle is None:
            assert outcome.error is not None
            reason = outcome.error.diagnostics()
            record_outcome(settings.queue_url, job.id, error=reason, worker=settings.name)
            last = try_no >= settings.tries
            say(f"{where} FAILED {url}: {reason}" + (" (no tries left)" if last else ""))
            raise JobFailed(reason) from outcome.error
        path = str(outcome.bundle.path.resolve())
        record_outcome(
            settings.queue_url, job.id, bundle=path, log_index=outcome.bundle.log_index, worker=settings.name
        )
        say(f"{where} ok {url} -> {path} in {outcome.seconds:.1f}s")

    return capture_job


async def reclaim_stalled(app: procrastinate.App, settings: WorkerSettings, say: Callable[[str], None]) -> int:
    """Put back on the queue the jobs of workers whose heartbeat is older than ``stall_s``
    (counted as a try; a job out of tries ends failed with that reason). Returns how many."""
    from procrastinate.jobs import Status

    manager = app.job_manager
    stalled = await manager.get_stalled_jobs(queue=QUEUE, task_name=TASK, seconds_since_heartbeat=settings.stall_s)
    count = 0
    for job in stalled:
        assert job.id is not None
        tries = int(job.attempts) + 1
        try:
            if tries >= settings.tries:
                reason = f"its worker stopped during the capture (killed, or its machine lost) on each of {tries} tries"
                await asyncio.to_thread(record_outcome, settings.queue_url, job.id, error=reason, worker=None)
                await manager.finish_job(job, status=Status.FAILED, delete_job=False)
            else:
                await manager.retry_job(job, retry_at=_in_seconds(backoff(settings, tries)))
        except Exception:  # another worker took it back first (it is no longer "doing"): fine
            continue
        count += 1
        say(f"job {job.id}: its worker stopped sending heartbeats; put back on the queue (try {tries} counted)")
    return count


def run_worker(settings: WorkerSettings, *, say: Callable[[str], None] = _say) -> None:
    """Run a worker until it is stopped (SIGINT/SIGTERM: running captures finish first), or,
    with ``drain``, until the queue has no job left for it."""
    check_settings(settings)
    asyncio.run(_run(settings, say))


async def _run(settings: WorkerSettings, say: Callable[[str], None]) -> None:
    import logging

    import procrastinate

    from evidence.api import check_options, close_log, open_session_log
    from evidence.batch import job_log_opener

    logging.getLogger("procrastinate").setLevel(logging.WARNING)
    # A failed try is said by this worker in one plain line; procrastinate's own traceback of it is noise.
    logging.getLogger("procrastinate.worker").addFilter(_NotJobErrors())
    await asyncio.to_thread(ensure_schema, settings.queue_url)
    options = check_options(dict(settings.options))
    the_log, tsas = await asyncio.to_thread(open_session_log, log=settings.log, tsa=settings.tsa)
    slots = _Slots(options, settings.executable, job_log_opener(the_log, settings.log, tsas=tsas, origin=None))
    # procrastinate runs a synchronous task in the loop's default executor: bound it to
    # ``jobs`` threads, so there are at most ``jobs`` browsers, each reused by its thread.
    executor = ThreadPoolExecutor(max_workers=settings.jobs, thread_name_prefix="evidence-job")
    asyncio.get_running_loop().set_default_executor(executor)
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=settings.queue_url))
    app.task(name=TASK, queue=QUEUE, pass_context=True, retry=retry_strategy(settings))(
        make_task(settings, slots, tsas, say)
    )
    say(
        f"worker {settings.name}: taking captures from the queue, {settings.jobs} at a time, into the log "
        f"{the_log.origin!r}; bundles go to {settings.out_dir}"
    )
    try:
        async with app.open_async():
            reclaimer = asyncio.create_task(_reclaim_forever(app, settings, say))
            try:
                await app.run_worker_async(
                    queues=[QUEUE],
                    concurrency=settings.jobs,
                    name=settings.name,
                    wait=not settings.drain,
                    update_heartbeat_interval=settings.heartbeat_s,
                    stalled_worker_timeout=settings.stall_s,
                    fetch_job_polling_interval=min(5.0, settings.heartbeat_s),
                )
            finally:
                reclaimer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reclaimer
    finally:
        await asyncio.to_thread(slots.close)
        executor.shutdown(wait=False, cancel_futures=True)
        close_log(the_log)
    say(f"worker {settings.name}: stopped")


async def _reclaim_forever(app: procrastinate.App, settings: WorkerSettings, say: Callable[[str], None]) -> None:
    while True:
        try:
            await reclaim_stalled(app, settings, say)
        except Exception as e:  # the database is away for a moment: try again at the next beat
            say(f"worker {settings.name}: could not look for stalled jobs: {e}")
        await asyncio.sleep(settings.heartbeat_s)


__all__ = [
    "JobFailed",
    "PermanentJobError",
    "WorkerSettings",
    "backoff",
    "check_settings",
    "make_task",
    "reclaim_stalled",
    "retry_strategy",
    "run_worker",
]
