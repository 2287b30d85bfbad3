"""Start-up time of the ``evidence`` command: median wall and CPU time of several runs.

    python benchmarks/startup.py VENV BUNDLE TRUST_POLICY [RUNS]

Runs ``evidence --help``, ``evidence verify --help`` and ``evidence verify BUNDLE --trust
TRUST_POLICY`` from VENV's ``bin/`` RUNS times each (default 9) and prints the median wall
time and the median CPU time (user + system of the child: less disturbed by a loaded
machine than the wall time). See benchmarks/README.md, "Start-up".
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _once(argv: list[str]) -> tuple[float, float]:
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu


def main(argv: list[str]) -> int:
    venv, bundle, policy = Path(argv[0]), argv[1], argv[2]
    runs = int(argv[3]) if len(argv) > 3 else 9
    exe = str(venv / "bin" / "evidence")
    cases = {
        "evidence --help": [exe, "--help"],
        "evidence verify --help": [exe, "verify", "--help"],
        "evidence verify BUNDLE": [exe, "verify", bundle, "--trust", policy],
    }
    for name, cmd in cases.items():
        samples = [_once(cmd) for _ in range(runs)]
        wall = statistics.median(s[0] for s in samples) * 1000
        cpu = statistics.median(s[1] for s in samples) * 1000
        print(f"{name:<24} wall {wall:6.0f} ms   cpu {cpu:6.0f} ms   (median of {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
