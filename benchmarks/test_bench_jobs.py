"""Pages per minute with ``capture_many(jobs=N)`` (what ``preserve --jobs N`` runs): a batch
of 50 local pages, sealed into a directory log, with 1, 2 and 4 jobs in one run.

    python -m pytest benchmarks/test_bench_jobs.py -s

Also two separate processes of one job each on halves of the batch (``processes``), the
alternative to threads this design was measured against. Prints pages/min and the load
averages before and after; target on the 2-core reference machine: jobs=2 at least 1.5x
jobs=1. ``BENCH_JOBS_PAGES`` changes the batch size. Figures: benchmarks/README.md
("## Many captures at once"). Needs Chromium (skips otherwise).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evidence.capture import find_chromium
from evidence.capture.errors import BrowserNotFoundError
from evidence.log import Log

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "capture"))
from capture_helpers import load_site_module

PAGES = int(os.environ.get("BENCH_JOBS_PAGES", "50"))


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(err.message)
    running = load_site_module().TestSite.start()
    yield running
    running.close()


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def test_pages_per_minute_with_1_2_4_jobs(site: Any, tmp_path: Path) -> None:
    import evidence

    urls = [site.url(f"/listing?n={i}") for i in range(PAGES)]
    rates: dict[str, float] = {}
    print(f"\nload average before: {_load()} ({os.cpu_count()} cores)")
    for jobs in (1, 2, 4):
        log = Log.create(tmp_path / f"log-{jobs}", f"bench.example/jobs-{jobs}")
        t0 = time.perf_counter()
        outcomes = evidence.capture_many(urls, jobs=jobs, out_dir=tmp_path / f"out-{jobs}", log=log)
        took = time.perf_counter() - t0
        assert all(o.ok for o in outcomes), [o.error for o in outcomes if o.error]
        rates[f"jobs={jobs}"] = PAGES / took * 60
        print(f"jobs={jobs}: {PAGES} pages in {took:.1f} s = {rates[f'jobs={jobs}']:.1f} pages/min (load {_load()})")
    # Two processes of one job each, on the two halves, into one log directory.
    log_dir = tmp_path / "log-procs"
    Log.create(log_dir, "bench.example/procs")
    halves = [urls[: PAGES // 2], urls[PAGES // 2 :]]
    preserve = str(Path(sys.executable).parent / "preserve")
    env = dict(os.environ, EVIDENCE_HOME=str(tmp_path / "home"))
    t0 = time.perf_counter()
    procs = [
        subprocess.Popen(
            [preserve, "-q", "--json", "--log", str(log_dir), "-o", str(tmp_path / "out-procs"), *half],
            stdout=subprocess.DEVNULL,
            env=env,
        )
        for half in halves
    ]
    assert [p.wait(timeout=1800) for p in procs] == [0, 0]
    took = time.perf_counter() - t0
    rates["processes=2"] = PAGES / took * 60
    print(f"processes=2: {PAGES} pages in {took:.1f} s = {rates['processes=2']:.1f} pages/min (load {_load()})")
    print("speed-up of jobs=2 over jobs=1: " f"{rates['jobs=2'] / rates['jobs=1']:.2f}x")
