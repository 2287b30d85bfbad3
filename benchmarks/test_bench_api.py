"""`evidence.capture()` called in a loop: seconds per page, capture and seal included.

    python -m pytest benchmarks/test_bench_api.py -s

Each call captures the local listing page and seals it into a fresh embedded log (no TSA).
Since `evidence.capture()` keeps its browser between calls, only the first call pays for
starting Playwright and Chromium. The figures are in benchmarks/README.md ("## Python API:
evidence.capture() in a loop"). Needs Chromium (skips otherwise).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

import evidence
from evidence.api import close_shared_browsers
from evidence.capture import find_chromium
from evidence.capture.errors import BrowserNotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "capture"))
from capture_helpers import load_site_module

CALLS = 6


def test_capture_calls_in_a_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(err.message)
    monkeypatch.setenv("EVIDENCE_HOME", str(tmp_path / "home"))
    site: Any = load_site_module().TestSite.start()
    times: list[float] = []
    try:
        for i in range(CALLS):
            t = time.perf_counter()
            evidence.capture(site.url("/listing"), out_dir=tmp_path / "out", name=f"p{i}")
            times.append(time.perf_counter() - t)
    finally:
        close_shared_browsers()
        site.close()
    rest = times[1:]
    print(
        f"\nevidence.capture() x{CALLS}: "
        + ", ".join(f"{t:.2f}" for t in times)
        + f" s; mean {sum(times) / len(times):.2f} s, mean after the first {sum(rest) / len(rest):.2f} s"
    )
    # The browser is reused: later calls do not pay the browser start again (generous bound).
    assert sum(rest) / len(rest) < times[0] + 5
