"""Capture benchmarks: end-to-end capture of the local listing page.

    python -m pytest benchmarks/test_bench_capture.py --benchmark-only

- warm: one running browser (a Capturer), one capture per round;
- cold: capture_page(), which starts and stops Playwright and Chromium every time;
- batch: 50 captures with one browser, reported as pages per minute;
- huge: the 30 MiB listing (``/huge?mb=30``) captured and sealed into a bundle with the
  default time budget (``BENCH_HUGE_BUDGET`` to change it, ``BENCH_HUGE_MB`` the size),
  printing each step's time and outcome, the total and the bundle's size.

Targets on the 2-core reference machine: warm median < 1.5 s, cold < 4 s. The figures
are in benchmarks/README.md ("## Capture"). Needs Chromium (skips otherwise).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evidence.capture import Capturer, capture_page, find_chromium
from evidence.capture.errors import BrowserNotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "capture"))
from capture_helpers import load_site_module


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(err.message)
    running = load_site_module().TestSite.start()
    yield running
    running.close()


@pytest.fixture(scope="module")
def capturer(site: Any) -> Iterator[Capturer]:
    with Capturer() as shared:
        yield shared


def test_capture_listing_warm(
    benchmark: Any, capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    counter = itertools.count()
    url = site.url("/listing")
    capturer.capture(url, tmp_path / "warm-up")

    def one() -> None:
        capturer.capture(url, tmp_path / f"warm-{next(counter)}")

    benchmark.pedantic(one, rounds=15, iterations=1, warmup_rounds=1)


def test_capture_listing_cold(benchmark: Any, site: Any, tmp_path: Path) -> None:
    counter = itertools.count()
    url = site.url("/listing")

    def one() -> None:
        capture_page(url, tmp_path / f"cold-{next(counter)}")

    benchmark.pedantic(one, rounds=5, iterations=1, warmup_rounds=1)


def test_capture_batch_of_50(benchmark: Any, site: Any, tmp_path: Path) -> None:
    url = site.url("/listing")
    runs = itertools.count()

    def batch() -> float:
        run = next(runs)
        start = time.perf_counter()
        with Capturer() as one_browser:
            for i in range(50):
                one_browser.capture(url, tmp_path / f"batch-{run}-{i}")
        return 50 / ((time.perf_counter() - start) / 60)

    pages_per_minute = benchmark.pedantic(batch, rounds=1, iterations=1)
    benchmark.extra_info["pages_per_minute"] = round(pages_per_minute, 1)
    print(f"\nbatch of 50 with one browser: {pages_per_minute:.1f} pages per minute")


def test_capture_huge_page(benchmark: Any, capturer: Capturer, site: Any, tmp_path: Path) -> None:
    from evidence.api import capture_with
    from evidence.bundle import BundleView
    from evidence.capture import CaptureOptions
    from evidence.log import Log

    mb = int(os.environ.get("BENCH_HUGE_MB", "30"))
    budget = float(os.environ.get("BENCH_HUGE_BUDGET", "120"))
    url = site.url(f"/huge?mb={mb}")
    log = Log.create(tmp_path / "log", origin="bench.example/huge")
    runs = itertools.count()
    outcomes: list[dict[str, Any]] = []

    def one() -> None:
        out = tmp_path / f"huge-{next(runs)}"
        bundle = capture_with(capturer, log, url, out_dir=out, options=CaptureOptions(budget_s=budget))
        with BundleView.open(bundle.path) as view:
            facts = view.json("evidence/capture.json")
            sizes = {f["path"]: f["size"] for f in json.loads(view.read("evidence/manifest.json"))["files"]}
        outcomes.append({"facts": facts, "bundle_bytes": bundle.path.stat().st_size, "sizes": sizes})

    benchmark.pedantic(one, rounds=int(os.environ.get("BENCH_HUGE_ROUNDS", "2")), iterations=1)
    for n, got in enumerate(outcomes):
        facts = got["facts"]
        steps = facts["budget"]["steps"]
        print(f"\nhuge page {mb} MiB, budget {budget:g} s, round {n}: capture {facts['budget']['spent_s']:.1f} s, "
              f"bundle {got['bundle_bytes'] / 1e6:.1f} MB")
        for name, step in steps.items():
            print(f"  {name:26} {step['status']:8} {step['ms'] / 1000:7.2f} s  {step.get('reason') or ''}")
        for path, size in sorted(got["sizes"].items()):
            print(f"  {path:40} {size / 1e6:8.2f} MB")
    benchmark.extra_info["spent_s"] = [g["facts"]["budget"]["spent_s"] for g in outcomes]
    benchmark.extra_info["bundle_bytes"] = [g["bundle_bytes"] for g in outcomes]
