"""`evidence worker`: take capture jobs from a PostgreSQL queue, capture, seal, write bundles."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from evidence.errors import EXIT_OK

from .options import add_browser, add_queue, queue_url


def register(sub: Any) -> None:
    p = sub.add_parser(
        "worker",
        help="run a capture worker: take capture jobs from a PostgreSQL queue, seal them into the log",
        description="Take capture jobs ('evidence queue add') from the queue, capture each page, seal it into the "
        "log and write its bundle into DIR. Run any number of workers, on any machines; stop one with Ctrl-C or "
        "SIGTERM (its running captures finish first). A worker that dies has its jobs taken back by the others.",
    )
    add_queue(p)
    p.add_argument("--log", metavar="URL|DIR", help="the log server URL or log directory (default: the embedded log)")
    p.add_argument("-o", "--output", default=".", metavar="DIR", help="where to write the bundles (default: .)")
    p.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="captures at once, each its own browser (default 1)"
    )
    p.add_argument("--tsa", action="append", metavar="URL|NAME", help="time-stamping authority (repeatable)")
    p.add_argument("--tries", type=int, default=3, metavar="N", help="tries per job before it fails (default 3)")
    p.add_argument(
        "--backoff",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="wait before the second try, doubled before each further one (default 10)",
    )
    p.add_argument("--heartbeat", type=float, default=10.0, metavar="SECONDS", help="heartbeat interval (default 10)")
    p.add_argument(
        "--stall-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a worker silent this long is taken for dead and its jobs go back on the queue (default 60)",
    )
    p.add_argument("--no-pdf", action="store_true", help="do not make page.pdf (recorded as turned off)")
    p.add_argument("--no-mhtml", action="store_true", help="do not make page.mhtml (recorded as turned off)")
    p.add_argument("--drain", action="store_true", help="stop once the queue has no job left, instead of waiting")
    add_browser(p)
    p.set_defaults(func=cmd_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    from evidence.queue.worker import WorkerSettings, run_worker

    settings = WorkerSettings(
        queue_url=queue_url(args),
        out_dir=Path(args.output),
        log=args.log,
        tsa=tuple(args.tsa) if args.tsa else None,
        executable=args.browser,
        jobs=args.jobs,
        tries=args.tries,
        backoff_s=args.backoff,
        heartbeat_s=args.heartbeat,
        stall_s=args.stall_timeout,
        drain=args.drain,
        options=tuple((k, False) for k, off in (("pdf", args.no_pdf), ("mhtml", args.no_mhtml)) if off),
    )
    run_worker(settings)
    return EXIT_OK
