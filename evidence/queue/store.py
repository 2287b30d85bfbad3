"""The capture queue in PostgreSQL: its schema, adding captures, and what became of them.

The queue is procrastinate's (its tables ``procrastinate_jobs``, ``procrastinate_workers``,
``procrastinate_events``: docs/design.md, "The capture queue"); each capture is a job of the
task :data:`TASK` on the queue :data:`QUEUE`, its arguments the URL, the case and the rest
of :class:`CaptureRequest`. What procrastinate does not keep, the outcome of each job (the
bundle a worker wrote, or the reason its last try failed), is one row per job in
:data:`OUTCOMES`, a table of ours in the same database.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from evidence.errors import QueueError, UsageError

if TYPE_CHECKING:
    import procrastinate
    import psycopg

#: The procrastinate task of a capture, and the queue its jobs go on.
TASK = "evidence.capture"
QUEUE = "captures"
#: Our table: the outcome of each job (bundle, or the last failure's reason).
OUTCOMES = "evidence_capture_outcomes"
#: The longest walk file a job carries (its text is stored in the job).
MAX_WALK_BYTES = 256 * 1024
#: How long connecting to the queue's database may take.
CONNECT_TIMEOUT_S = 10

#: Job status (procrastinate's) -> the word ``evidence queue status`` shows.
STATUS_WORDS = {
    "todo": "queued",
    "doing": "running",
    "succeeded": "done",
    "failed": "failed",
    "cancelled": "cancelled",
    "aborting": "aborting",
    "aborted": "aborted",
}

_OUTCOMES_SQL = f"""
CREATE TABLE IF NOT EXISTS {OUTCOMES} (
    job_id bigint PRIMARY KEY REFERENCES procrastinate_jobs(id) ON DELETE CASCADE,
    bundle text,
    log_index bigint,
    error text,
    worker text,
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""
#: One lock id for setting the schema up (several workers may start at once).
_SCHEMA_LOCK = 0x65766964  # "evid"


@dataclass(frozen=True)
class CaptureRequest:
    """One capture to enqueue: the URL, its case, and optionally a walk (the walk file's text)."""

    url: str
    case: str | None = None
    operator: str | None = None
    notes: str | None = None
    walk: str | None = None

    def job_args(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class JobState:
    """One job as ``evidence queue status`` shows it."""

    id: int
    status: str  # queued, running, done, failed, ...
    url: str
    case: str | None
    tries: int  # attempts that ended (done or failed); a running job's current one is not counted
    bundle: str | None
    log_index: int | None
    error: str | None
    worker: str | None
    walk: bool

    @property
    def retried(self) -> int:
        """How often the job was tried again after a failed (or abandoned) try."""
        return max(0, self.tries - 1) if self.status in ("done", "failed") else self.tries


def check_queue_url(url: str) -> str:
    """``url`` if it is a PostgreSQL connection URL (``postgresql://...``), else a UsageError."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise UsageError(
            f"--queue must be a PostgreSQL URL such as postgresql://user@host/dbname, not {url!r}",
            hint="The queue lives in a PostgreSQL database; see docs/operating.md, 'Capture workers'.",
        )
    return url


@contextlib.contextmanager
def connect(url: str) -> Iterator[psycopg.Connection[Any]]:
    """A psycopg connection to the queue's database (autocommit), with a plain error if it fails."""
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover - a declared dependency of the extra
        raise QueueError(f"the queue needs psycopg ({e})", hint="pip install 'preserve-evidence[queue]'") from None
    check_queue_url(url)
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
    except psycopg.Error as e:
        raise QueueError(
            f"cannot reach the queue's database {_safe(url)}: {_first_line(e)}",
            hint="Check the URL, that PostgreSQL runs there and that this user may connect.",
        ) from None
    try:
        yield conn
    except psycopg.Error as e:
        raise QueueError(f"the queue's database {_safe(url)} refused a request: {_first_line(e)}") from None
    finally:
        conn.close()


def ensure_schema(url: str) -> None:
    """Create procrastinate's tables and ours if they are not there yet (safe to run at once
    from several processes: a PostgreSQL advisory lock serialises it)."""
    from procrastinate.schema import SchemaManager

    with connect(url) as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if not (row and row[0]):
            conn.execute(SchemaManager.get_schema())
        conn.execute(_OUTCOMES_SQL)


def sync_app(url: str) -> procrastinate.App:
    """A procrastinate App for deferring jobs from ordinary (synchronous) code."""
    import procrastinate

    return procrastinate.App(connector=procrastinate.SyncPsycopgConnector(conninfo=url))


def add(url: str, requests: Sequence[CaptureRequest]) -> list[int]:
    """Enqueue one capture job per request; return their job ids (in order)."""
    from evidence.capture.urls import check_url

    for r in requests:
        check_url(r.url)  # an address no worker could capture is refused now, not after N tries
        if r.walk is not None and len(r.walk.encode()) > MAX_WALK_BYTES:
            raise UsageError(f"a walk file may hold at most {MAX_WALK_BYTES // 1024} KiB")
    ensure_schema(url)
    app = sync_app(url)
    try:
        with app.open():
            task = app.configure_task(name=TASK, queue=QUEUE)
            ids = task.batch_defer(*[r.job_args() for r in requests])
    except Exception as e:
        raise QueueError(f"could not add the captures to the queue {_safe(url)}: {_first_line(e)}") from None
    return list(ids)


def record_outcome(
    url: str,
    job_id: int,
    *,
    bundle: str | None = None,
    log_index: int | None = None,
    error: str | None = None,
    worker: str | None = None,
) -> None:
    """Keep what became of a job's try: the bundle it wrote, or why it failed."""
    with connect(url) as conn:
        conn.execute(
            f"INSERT INTO {OUTCOMES} (job_id, bundle, log_index, error, worker) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (job_id) DO UPDATE SET bundle = EXCLUDED.bundle, log_index = EXCLUDED.log_index, "
            "error = EXCLUDED.error, worker = EXCLUDED.worker, updated_at = now()",
            (job_id, bundle, log_index, error, worker),
        )


def recorded_bundle(url: str, job_id: int) -> str | None:
    """The bundle an earlier try of this job wrote, if one did."""
    with connect(url) as conn:
        row = conn.execute(f"SELECT bundle FROM {OUTCOMES} WHERE job_id = %s", (job_id,)).fetchone()
    return None if row is None else row[0]


def jobs(url: str, *, status: str | None = None, limit: int = 10_000) -> list[JobState]:
    """The capture jobs of the queue (oldest first), with their outcomes."""
    words = {v: k for k, v in STATUS_WORDS.items()}
    if status is not None and status not in words:
        raise UsageError(f"--status must be one of {', '.join(STATUS_WORDS.values())}, not {status!r}")
    with connect(url) as conn:
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if not (row and row[0]):
            return []
        have_outcomes = conn.execute(f"SELECT to_regclass('{OUTCOMES}') IS NOT NULL").fetchone()
        join = f"LEFT JOIN {OUTCOMES} o ON o.job_id = j.id" if have_outcomes and have_outcomes[0] else ""
        cols = "o.bundle, o.log_index, o.error, o.worker" if join else "NULL, NULL, NULL, NULL"
        rows = conn.execute(
            f"SELECT j.id, j.status::text, j.args, j.attempts, {cols} FROM procrastinate_jobs j {join} "
            "WHERE j.task_name = %s AND (%s::text IS NULL OR j.status::text = %s) ORDER BY j.id LIMIT %s",
            (TASK, words.get(status or ""), words.get(status or ""), limit),
        ).fetchall()
    found = []
    for job_id, state, args, attempts, bundle, log_index, error, worker in rows:
        word = STATUS_WORDS.get(state, state)
        found.append(
            JobState(
                id=int(job_id),
                status=word,
                url=str(args.get("url", "")),
                case=args.get("case"),
                tries=int(attempts),
                bundle=bundle if word == "done" else None,
                log_index=log_index if word == "done" else None,
                error=error if word != "done" else None,
                worker=worker,
                walk=args.get("walk") is not None,
            )
        )
    return found


def _safe(url: str) -> str:
    """The URL without a password (for messages)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "(the --queue URL)"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


__all__ = [
    "MAX_WALK_BYTES",
    "OUTCOMES",
    "QUEUE",
    "STATUS_WORDS",
    "TASK",
    "CaptureRequest",
    "JobState",
    "add",
    "check_queue_url",
    "connect",
    "ensure_schema",
    "jobs",
    "record_outcome",
    "recorded_bundle",
    "sync_app",
]
