"""Capture benchmarks: end-to-end capture of the local listing page.

    python -m pytest benchmarks/test_bench_capture.py --benchmark-only

- warm: one running browser (a Capturer), one capture per round;
- cold: capture_page(), which starts and stops Playwright and Chromium every time;
- batch: 50 captures with one browser, reported as pages per minute.

Targets on the 2-core reference machine: warm median < 1.5 s, cold < 4 s. The figures
are in benchmarks/README.md ("## Capture"). Needs Chromium (skips otherwise).
"""

from __future__ import annotations

import itertools
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
