"""A 5-step walk with video: this project's walk against a bare Playwright script, whole process.

    python -m pytest benchmarks/test_bench_walk.py -s

Each round runs, as fresh processes one after the other on the local marketplace:

- **walk**: ``evidence.api.walk_with`` (browser start, raw fetch, the 5 steps with a
  screenshot after each, one snapshot, WARC, screen recording, ``steps.json``, sealing into a
  new log, the bundle written), no MP4 copy (the bare script makes none);
- **bare**: the same 5 steps in a plain Playwright script with ``record_video_dir`` on
  (browser start, ``wait_for_load_state`` after each navigation, the video saved).

Reported: the median of each over the rounds and their ratio (target: at most 1.3x). The
figures are in benchmarks/README.md ("## Walks"). Needs Chromium and an ffmpeg (skips otherwise).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evidence.capture import find_chromium
from evidence.capture.errors import BrowserNotFoundError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "capture"))
from capture_helpers import load_site_module

ROUNDS = 3
STEPS = [
    {"fill": "#q", "text": "handbag"},
    {"press": "Enter"},
    {"click": "a.result"},
    {"click": "#variant-red"},
    {"click": "#seller"},
]
ROOT = Path(__file__).resolve().parents[1]

OURS = """
import json, sys
from pathlib import Path
from evidence.api import walk_with
from evidence.capture import Capturer
from evidence.log import Log
start, steps, work = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
log = Log.create(work / "log", origin="bench.example/walk")
with Capturer() as capturer:
    walk_with(capturer, log, start, steps, out_dir=work / "out", mp4=False)
"""

BARE = """
import json, sys
from pathlib import Path
from playwright.sync_api import sync_playwright
from evidence.capture.discovery import find_chromium
from evidence.capture.video import driver_env  # Playwright's ffmpeg, or the system's
start, steps, work = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3])
with driver_env():
    pw = sync_playwright().start()
browser = pw.chromium.launch(executable_path=str(find_chromium().path), args=["--no-sandbox"])
context = browser.new_context(record_video_dir=str(work / "video"), viewport={"width": 1280, "height": 800})
page = context.new_page()
page.goto(start, wait_until="load")
for step in steps:
    if "fill" in step:
        page.fill(step["fill"], step["text"])
    elif "press" in step:
        with page.expect_navigation(wait_until="load"):
            page.keyboard.press(step["press"])
    elif "click" in step:
        page.click(step["click"])
        page.wait_for_load_state("load")
context.close()
browser.close()
pw.stop()
"""


@pytest.fixture(scope="module")
def shop() -> Iterator[Any]:
    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(err.message)
    load_site_module()
    from evidence_test_site import market

    with market.MarketSite.start() as running:
        yield running


def _run(script: str, start: str, work: Path) -> float:
    work.mkdir(parents=True)
    t = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), start, json.dumps(STEPS), str(work)],
        check=True,
        cwd=ROOT,
        timeout=300,
        capture_output=True,
    )
    return time.perf_counter() - t


def test_walk_against_bare_playwright(shop: Any, tmp_path: Path) -> None:
    import shutil

    if shutil.which("ffmpeg") is None:
        from evidence.capture.video import playwright_ffmpeg

        own = playwright_ffmpeg()
        if own is None or not own.is_file():
            pytest.skip("no ffmpeg for Playwright's screen recording")
    ours: list[float] = []
    bare: list[float] = []
    for n in range(ROUNDS):  # alternate, so both see the same machine
        bare.append(_run(BARE, shop.url("/"), tmp_path / f"bare-{n}"))
        ours.append(_run(OURS, shop.url("/"), tmp_path / f"ours-{n}"))
    walk, plain = statistics.median(ours), statistics.median(bare)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(
        f"\n5-step walk with video, whole process, median of {ROUNDS}: evidence walk {walk:.2f} s "
        f"(runs {', '.join(f'{x:.2f}' for x in ours)}), bare Playwright {plain:.2f} s "
        f"(runs {', '.join(f'{x:.2f}' for x in bare)}): {walk / plain:.2f}x; load average {' '.join(load)}"
    )
    assert walk > 0 and plain > 0
