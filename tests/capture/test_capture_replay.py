"""Offline replay of a capture's WARC in pywb (optional: pywb needs its own venv).

python3 -m venv .venv-pywb && .venv-pywb/bin/pip install pywb
EVIDENCE_PYWB=.venv-pywb/bin python -m pytest tests/capture/test_capture_replay.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import load_site_module

from evidence.capture import Capturer, CaptureResult

pytestmark = pytest.mark.browser

PYWB = os.environ.get("EVIDENCE_PYWB")
pages = load_site_module().pages


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(
    not PYWB,
    reason="set EVIDENCE_PYWB to the bin folder of a venv with pywb installed (pywb pins old "
    "dependencies, so it is kept out of the project's own environment)",
)
def test_listing_replays_offline_from_the_warc(
    listing: CaptureResult, capturer: Capturer, tmp_path: Path, site: Any
) -> None:
    assert PYWB is not None
    bin_dir = Path(PYWB)
    subprocess.run(
        [str(bin_dir / "wb-manager"), "init", "demo"], cwd=tmp_path, check=True, capture_output=True
    )
    subprocess.run(
        [str(bin_dir / "wb-manager"), "add", "demo", str(listing.artifacts["archive.warc.gz"])],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    (tmp_path / "config.yaml").write_text("proxy:\n  coll: demo\n  enable_content_rewrite: false\n")
    port = _free_port()
    server = subprocess.Popen(
        [str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        browser = capturer._ready().playwright.chromium.launch(
            executable_path=capturer.browser_info["executable"],
            args=["--no-sandbox", "--proxy-bypass-list=<-loopback>"],
            proxy={"server": f"http://127.0.0.1:{port}"},
        )
        try:
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
        finally:
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
