"""A child for the crash tests: appends one batch and SIGKILLs itself at a chosen step.

Usage: python log_kill_at.py LOGDIR STEP ENTRY...

Counts every operation that changes what the log directory shows (``os.replace`` and
``os.unlink``) during ``log.append``; just before the STEP-th one (0-based) the process
kills itself with SIGKILL, so the log is left exactly as a crash at that instant leaves it.
Prints ``steps N`` and exits 0 when the append finished with fewer than STEP+1 operations.
STEP ``unlink`` kills at the first deletion instead: after the commit, when the background
flush drops the append's write-ahead journal.
"""

from __future__ import annotations

import os
import signal
import sys

from evidence.log import Log


def main() -> None:
    path, where = sys.argv[1], sys.argv[2]
    stop = -1 if where == "unlink" else int(where)
    entries = [a.encode() for a in sys.argv[3:]]
    log = Log.open(path)
    log.checkpoint()  # warm up outside the counted window
    count = 0
    real_replace, real_unlink = os.replace, os.unlink

    def step() -> None:
        nonlocal count
        if count == stop:
            os.kill(os.getpid(), signal.SIGKILL)
        count += 1

    def replace(src: object, dst: object, **kw: object) -> None:
        step()
        real_replace(src, dst, **kw)  # type: ignore[arg-type]

    def unlink(p: object, **kw: object) -> None:
        if stop < 0 and ".state/journal/" in str(p):
            os.kill(os.getpid(), signal.SIGKILL)
        step()
        real_unlink(p, **kw)  # type: ignore[arg-type]

    os.replace, os.unlink = replace, unlink  # type: ignore[assignment]
    log.append(entries)
    log.close()  # waits for the background flush
    os.replace, os.unlink = real_replace, real_unlink
    print(f"steps {count}", flush=True)


if __name__ == "__main__":
    main()
