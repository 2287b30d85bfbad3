"""Capture workers on a queue in PostgreSQL (procrastinate): ``evidence queue`` and ``evidence worker``.

Owns:

- :mod:`evidence.queue.store`: the schema, adding capture jobs, their status and outcomes;
- :mod:`evidence.queue.worker`: a worker that takes jobs, captures and seals them, retries
  failed tries with backoff and puts back the jobs of workers that died.

Needs the ``queue`` extra (procrastinate, psycopg 3); nothing on the verify path imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence._internal.lazy import lazy_getattr

if TYPE_CHECKING:
    from evidence.queue.store import CaptureRequest, JobState
    from evidence.queue.worker import WorkerSettings, run_worker

__all__ = ["CaptureRequest", "JobState", "WorkerSettings", "run_worker"]

__getattr__ = lazy_getattr(
    __name__,
    {"CaptureRequest": "store", "JobState": "store", "WorkerSettings": "worker", "run_worker": "worker"},
)
