"""A child process for the crash and concurrency tests: appends in a loop, acks each append.

Usage: python log_child.py LOGDIR RUN_ID BATCHES SEED

After every append that returned, prints one line and flushes:
    ack <run> <first counter> <count> <comma-separated indices> <base64 checkpoint note>
Entries are b"<run>-<counter>"; every fifth batch also re-appends an entry acked earlier
in this run (which must keep its index).
"""

from __future__ import annotations

import base64
import random
import sys

from evidence.log import Log


def main() -> None:
    path, run, batches, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    log = Log.open(path)
    counter = 0
    acked: list[tuple[bytes, int]] = []
    for b in range(batches):
        n = rng.choice([1, 1, 2, 3, 5, 17, 40, 100])
        entries = [f"{run}-{counter + i}".encode() for i in range(n)]
        dup = None
        if acked and b % 5 == 4:
            dup = rng.choice(acked)
            entries.append(dup[0])
        indices = log.append(entries)
        if dup is not None and indices[-1] != dup[1]:
            print(f"DEDUP-BROKEN {dup} {indices[-1]}", flush=True)
            sys.exit(3)
        note = base64.b64encode(log.checkpoint_note()).decode()
        idx = ",".join(str(i) for i in indices[:n])
        print(f"ack {run} {counter} {n} {idx} {note}", flush=True)
        acked.extend(zip(entries[:n], indices[:n], strict=True))
        counter += n


if __name__ == "__main__":
    main()
