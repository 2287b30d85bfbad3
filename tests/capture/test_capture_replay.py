"""Offline replay of a capture's WARC in pywb (pywb lives in its own venv).

CI installs it: python3 -m venv .venv-pywb && .venv-pywb/bin/pip install pywb
Elsewhere: EVIDENCE_PYWB=/path/to/venv/bin python -m pytest tests/capture/test_capture_replay.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from capture_helpers import load_site_module
from tools import Pywb, proxied_browser, pywb_bin

from evidence.capture import Capturer, CaptureResult

pytestmark = pytest.mark.browser

PYWB = pywb_bin()
pages = load_site_module().pages


@pytest.mark.slow
@pytest.mark.skipif(
    PYWB is None,
    reason="pywb is not installed: make .venv-pywb (python3 -m venv .venv-pywb && .venv-pywb/bin/pip install "
    "pywb) or set EVIDENCE_PYWB to the bin folder of a venv with pywb (it pins old dependencies, so it is kept "
    "out of the project's own environment)",
)
def test_listing_replays_offline_from_the_warc(
    listing: CaptureResult, capturer: Capturer, tmp_path: Path, site: Any
) -> None:
    assert PYWB is not None
    with Pywb(PYWB, tmp_path, [listing.artifacts["archive.warc.gz"]], proxy=True) as base, proxied_browser(
        capturer, base
    ) as browser:
        page = browser.new_page()
        replayed: dict[str, Any] = {}
        page.on("response", lambda r: replayed.__setitem__(r.url, r))
        page.goto(listing.final_url)
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_selector("#reviews.loaded #lazy-banner")
        page.wait_for_load_state("networkidle")
        assert "LAZY SECTION LOADED" in page.content()
        served = {url.split("/", 3)[3]: r for url, r in replayed.items()}
        assert served["img/lazy-banner.png"].body() == pages.lazy_banner_png()
        assert all(r.status == 200 for r in served.values())
        # Every response came from the archive, not from the live test site.
        # pywb renames archived headers to X-Archive-Orig-*: a live answer has none.
        assert all("x-archive-orig-date" in r.headers for r in served.values())
