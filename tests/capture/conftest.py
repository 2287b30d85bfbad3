"""Fixtures for the capture tests: the local test site and one shared browser.

The site lives in ``tests/site/``; it is loaded under the module name
``evidence_test_site`` (the name ``site`` belongs to Python's standard library).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from capture_helpers import load_site_module

from evidence.capture import Capturer, CaptureResult, find_chromium
from evidence.capture.errors import BrowserNotFoundError

site_module = load_site_module()


@pytest.fixture(scope="session")
def site() -> Iterator[Any]:
    """The local HTTP + HTTPS test site (see tests/site/__init__.py)."""
    running = site_module.TestSite.start()
    yield running
    running.close()


@pytest.fixture(scope="session")
def chromium() -> str:
    try:
        return str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser to capture with: {err.diagnostics()}")


@pytest.fixture(scope="session")
def capturer(chromium: str) -> Iterator[Capturer]:
    """One browser process shared by every capture test."""
    with Capturer() as shared:
        yield shared


@pytest.fixture(scope="session")
def listing(
    capturer: Capturer, site: Any, tmp_path_factory: pytest.TempPathFactory
) -> CaptureResult:
    """The product listing, captured once over HTTP and shared by the tests that read it."""
    out = tmp_path_factory.mktemp("listing") / "capture"
    return capturer.capture(site.url("/listing"), out)
