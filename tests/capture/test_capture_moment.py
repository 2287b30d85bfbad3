"""One moment: every artifact of a capture shows the same state of the page.

``/timed?ms=N`` puts its reviews in with a timer after N ms (no request: the network is
quiet all along), with a coloured block and a new title. Whatever N (within
``timer_wait_ms``), the reviews must be in both screenshots (pixels, decoded here), the
DOM, the MHTML, the PDF (text) and the title. ``/ticker`` changes for ever: the capture
ends within its bound and says which artifacts may show another moment.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import count_colour, load_site_module, mhtml_html, pdf_text

from evidence.capture import CaptureOptions, Capturer

pytestmark = pytest.mark.browser

pages = load_site_module().pages
SMALL = CaptureOptions(viewport_width=480, viewport_height=360)


@pytest.mark.parametrize("delay_ms", [300, 1000, 2500])
def test_content_a_timer_adds_is_in_every_artifact(
    capturer: Capturer, site: Any, tmp_path: Path, delay_ms: int
) -> None:
    result = capturer.capture(site.url(f"/timed?ms={delay_ms}"), tmp_path / "capture", SMALL)
    art = result.artifacts
    w, h = pages.TIMED_BLOCK_SIZE
    for name in ("screenshot-full.png", "screenshot-viewport.png"):
        assert count_colour(art[name].read_bytes(), pages.TIMED_BLOCK_RGB) >= w * h * 0.95, name
    texts = {
        "dom.html": art["dom.html"].read_text("utf-8"),
        "page.mhtml": mhtml_html(art["page.mhtml"].read_bytes()),
        "page.pdf": pdf_text(art["page.pdf"].read_bytes()),
    }
    for name, text in texts.items():
        assert pages.TIMED_TEXT in text, name
        assert "Loading reviews" not in text, name
    assert result.page_title == pages.TIMED_TITLE
    moment = result.facts["page"]["moment"]
    assert moment["dom_observed"] is True and moment["dom_quiet"] is True
    assert moment["consistent"] is True and moment["may_differ"] == []
    assert moment["artifact_order"] == [  # the time budget's order: the costly ones last
        "screenshot-viewport.png",
        "dom.html",
        "page.mhtml",
        "screenshot-full.png",
        "page.pdf",
    ]
    assert result.warnings == ()
    options = result.facts["options"]
    assert (options["dom_quiet_ms"], options["timer_wait_ms"], options["dom_settle_max_s"]) == (500, 3000, 5.0)


def test_a_recording_made_before_the_timer_fired_is_replaced(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    # Recording starts at 300 ms of network quiet, normally before the 2.5 s timer: once
    # the DOM changed, that recording is discarded and the page recorded again. (On a
    # very slow machine the timer may fire before the first recording: one is enough.)
    result = capturer.capture(site.url("/timed?ms=2500"), tmp_path / "capture", SMALL)
    moment = result.facts["page"]["moment"]
    assert result.facts["page"]["recordings"] == (2 if moment["changed_after_first_recording"] else 1)
    assert pages.TIMED_TEXT in result.artifacts["dom.html"].read_text("utf-8")


def test_a_page_that_never_settles_is_recorded_in_bounded_time_and_flagged(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    result = capturer.capture(site.url("/ticker?ms=100"), tmp_path / "capture", SMALL)
    took = time.monotonic() - t0
    opts = result.options
    # The bound: the DOM wait and the retakes stop at dom_settle_max_s; allow for the
    # load, the network settle and one more recording on a loaded machine.
    assert took < opts.dom_settle_max_s + opts.settle_max_s + 20, took
    moment = result.facts["page"]["moment"]
    assert moment["dom_quiet"] is False and moment["consistent"] is False
    assert moment["may_differ"] and set(moment["may_differ"]) <= set(moment["artifact_order"])
    [warning] = [w for w in result.warnings if "KEPT CHANGING" in w]
    assert all(name in warning for name in moment["may_differ"])
    assert result.facts["warnings"] == list(result.warnings)


def test_the_bound_is_an_option(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    t0 = time.monotonic()
    options = SMALL.replace(dom_settle_max_s=1.0)
    result = capturer.capture(site.url("/ticker?ms=100"), tmp_path / "capture", options)
    assert time.monotonic() - t0 < 1.0 + options.settle_max_s + 15
    assert result.facts["page"]["moment"]["dom_settle_max_s"] == 1.0
    assert result.facts["page"]["moment"]["consistent"] is False
