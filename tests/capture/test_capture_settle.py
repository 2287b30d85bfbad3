"""Late content: a page whose content arrives in stages, with quiet network in between.

A capture records once the network has been quiet for ``settle_ms`` (500 ms). It starts
recording a little earlier (at 300 ms of quiet), waits out the rest afterwards (and for
the DOM to be quiet and the page's short timers to fire: test_capture_moment.py), and
records again if the network woke up or the page changed meanwhile; these tests show that
content arriving after pauses shorter than ``settle_ms``, or set off by a timer due within
``timer_wait_ms``, lands in the WARC, the DOM and both screenshots.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import load_site_module, read_warc

from evidence.capture import CaptureOptions, Capturer, CaptureResult

pytestmark = pytest.mark.browser

pages = load_site_module().pages


def _count_colour(capturer: Capturer, png: bytes, rgb: tuple[int, int, int]) -> int:
    """Pixels of exactly (within 6) this colour in a PNG, counted by the browser."""
    page = capturer._ready().browser.new_page()
    try:
        page.set_content(
            f'<img id="shot" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        )
        count: int = page.evaluate(
            """async ([r, g, b]) => {
              const img = document.getElementById('shot'); await img.decode();
              const c = document.createElement('canvas');
              c.width = img.width; c.height = img.height;
              const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
              const d = ctx.getImageData(0, 0, c.width, c.height).data;
              let n = 0;
              for (let i = 0; i < d.length; i += 4) {
                if (Math.abs(d[i] - r) < 6 && Math.abs(d[i+1] - g) < 6 && Math.abs(d[i+2] - b) < 6) n++;
              }
              return n;
            }""",
            list(rgb),
        )
    finally:
        page.close()
    return count


def _staged(
    capturer: Capturer, site: Any, tmp_path: Path, gap_ms: int, **changes: Any
) -> CaptureResult:
    url = site.url(f"/staged?gap={gap_ms}")
    return capturer.capture(url, tmp_path / "capture", CaptureOptions(**changes))


def _assert_all_stages_landed(result: CaptureResult, capturer: Capturer) -> None:
    records = read_warc(result.artifacts["archive.warc.gz"])
    browser = {
        "/" + r["uri"].split("/", 3)[3]: r["payload"]
        for r in records
        if r["type"] == "response" and r["source"] == "browser"
    }
    for n in range(1, pages.STAGE_COUNT + 1):
        assert browser[f"/api/stage?n={n}"] == pages.stage_json(n)
    assert browser["/img/stage-final.png"] == pages.stage_final_png()
    dom = result.artifacts["dom.html"].read_text("utf-8")
    assert f"STAGE {pages.STAGE_COUNT} ARRIVED" in dom and 'id="stage-final"' in dom
    w, h = pages.STAGE_FINAL_PNG_SIZE
    for name in ("screenshot-full.png", "screenshot-viewport.png"):
        png = result.artifacts[name].read_bytes()
        assert _count_colour(capturer, png, pages.STAGE_FINAL_RGB) >= w * h * 0.9, name
    assert result.facts["page"]["network_quiet"] is True
    assert result.warnings == ()


@pytest.mark.parametrize("gap_ms", [200, 250])
def test_stages_after_short_pauses_land_with_the_defaults(
    capturer: Capturer, site: Any, tmp_path: Path, gap_ms: int
) -> None:
    # Lazy sections and chained XHRs: the next request 200-250 ms after the last ended.
    result = _staged(capturer, site, tmp_path, gap_ms)
    _assert_all_stages_landed(result, capturer)


def test_a_stage_during_recording_makes_the_capture_record_again(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    # 400 ms pauses: recording starts at 300 ms of quiet, the first stage arrives while
    # the page is being recorded; that recording is discarded, and the page recorded
    # again once the network has been quiet for the full 500 ms.
    result = _staged(capturer, site, tmp_path, 400)
    _assert_all_stages_landed(result, capturer)
    assert result.facts["page"]["recordings"] == 2


def test_settle_ms_can_be_raised_for_slower_stages(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    result = _staged(capturer, site, tmp_path, 700, settle_ms=1000)
    _assert_all_stages_landed(result, capturer)
    assert result.facts["options"]["settle_ms"] == 1000


def test_stages_set_off_by_timers_within_timer_wait_ms_land(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    # 1200 ms pauses, longer than settle_ms: each pause is a setTimeout of the page, due
    # within timer_wait_ms (3000), so the capture waits for it (the DOM settle).
    result = _staged(capturer, site, tmp_path, 1200)
    _assert_all_stages_landed(result, capturer)
    assert result.facts["page"]["moment"]["consistent"] is True


def test_content_after_a_longer_pause_than_the_waits_is_not_waited_for(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    # The limit, shown: a page quiet for longer than settle_ms, whose next timer is due
    # later than timer_wait_ms, counts as settled.
    result = _staged(capturer, site, tmp_path, 6000)
    assert "STAGE 1" not in result.artifacts["dom.html"].read_text("utf-8")
    assert not [r for r in result.resources if "/api/stage" in r.url]
    assert result.facts["page"]["network_quiet"] is True
    assert result.facts["page"]["recordings"] == 1
