"""`evidence queue add` and `evidence queue status`: capture jobs on a PostgreSQL queue.

The workers that take the jobs are `evidence worker` (cli/worker_cmd.py); the queue is
procrastinate's, in the database ``--queue`` names (docs/operating.md, "Capture workers").
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from evidence.errors import EXIT_OK, UsageError

from .options import add_queue, queue_url


def register(sub: Any) -> None:
    p = sub.add_parser(
        "queue",
        help="add captures to a PostgreSQL job queue for capture workers, and show their status",
        description="Capture jobs on a queue in PostgreSQL, taken by any number of 'evidence worker' processes.",
    )
    qsub = p.add_subparsers(dest="queue_command", metavar="ACTION", parser_class=type(p))
    qsub.required = True

    add = qsub.add_parser("add", help="enqueue one capture job per URL", description="Enqueue one capture per URL.")
    add.add_argument("urls", nargs="*", metavar="URL", help="http(s) address to preserve")
    add.add_argument("--from-file", metavar="FILE", help="read URLs from FILE, as preserve --from-file does")
    add.add_argument(
        "--walk",
        metavar="FILE",
        help="a walk file (the steps to take on the page before it is recorded); its text is stored in each job",
    )
    add.add_argument("--case", required=True, help="case reference, recorded in each bundle")
    add.add_argument("--operator", help="who preserved it, recorded in each bundle")
    add.add_argument("--notes", help="free-text notes, recorded in each bundle")
    add.add_argument("--json", action="store_true", help="print the job ids as JSON")
    add_queue(add)
    add.set_defaults(func=cmd_add)

    st = qsub.add_parser(
        "status",
        help="show the capture jobs: queued, running, done (with the bundle), failed (with the reason)",
        description="Show the capture jobs of the queue, oldest first, and a count per status.",
    )
    add_queue(st)
    st.add_argument("--status", metavar="WORD", help="only jobs in this status (queued, running, done, failed)")
    st.add_argument("--json", action="store_true", help="print one JSON document")
    st.set_defaults(func=cmd_status)


def cmd_add(args: argparse.Namespace) -> int:
    from evidence.queue.store import MAX_WALK_BYTES, CaptureRequest, add

    from .url_list import ListedURL, read_list

    url = queue_url(args)
    listed = [ListedURL(u, 0) for u in args.urls] + (read_list(args.from_file) if args.from_file else [])
    if args.walk and listed:
        raise UsageError("give either --walk FILE (the walk names its start) or URLs (--from-file), not both")
    if not listed and not args.walk:
        raise UsageError("give at least one URL (or --from-file FILE, or --walk FILE)")
    walk = None
    if args.walk:
        from evidence._internal.files import read_file

        try:
            data = read_file(args.walk, limit=MAX_WALK_BYTES + 1, what="walk file", error=UsageError)
        except OSError as e:
            raise UsageError(f"cannot read the walk file {args.walk}: {e.strerror or e}") from e
        if len(data) > MAX_WALK_BYTES:
            raise UsageError(f"the walk file {args.walk} is larger than {MAX_WALK_BYTES // 1024} KiB")
        try:
            walk = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"the walk file {args.walk} is not UTF-8 text") from None
        from evidence.capture.steps import load_walk_text

        # A bad walk is refused now, not by every worker that takes the job.
        listed = [ListedURL(load_walk_text(walk, f"the walk file {args.walk}").start, 0)]
    requests = [CaptureRequest(u.url, args.case, args.operator, args.notes, walk) for u in listed]
    ids = add(url, requests)
    if args.json:
        print(json.dumps({"jobs": [{"id": i, "url": r.url} for i, r in zip(ids, requests, strict=True)]}))
    else:
        print(f"Added {len(ids)} capture job(s) to the queue (job ids {ids[0]}..{ids[-1]}).")
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from evidence.queue.store import jobs

    found = jobs(queue_url(args), status=args.status)
    counts: dict[str, int] = {}
    for j in found:
        counts[j.status] = counts.get(j.status, 0) + 1
    if args.json:
        doc = {"counts": counts, "jobs": [{**j.__dict__, "retried": j.retried} for j in found]}
        print(json.dumps(doc, indent=2))
        return EXIT_OK
    if not found:
        print("The queue has no capture jobs.")
        return EXIT_OK
    print(", ".join(f"{n} {word}" for word, n in sorted(counts.items())))
    for j in found:
        retried = f", retried {j.retried}x" if j.retried else ""
        line = f"{j.id:>7}  {j.status:<8} {j.url}{retried}"
        if j.status == "done":
            line += f"\n         bundle: {j.bundle} (log entry {j.log_index})"
        elif j.error and j.status in ("failed", "queued", "running"):
            label = "reason" if j.status == "failed" else "last try"
            line += f"\n         {label}: " + j.error.replace("\n", "\n         ")
        print(line)
    sys.stdout.flush()
    return EXIT_OK
