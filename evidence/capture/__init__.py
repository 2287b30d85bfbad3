"""Capture: what the browser and the wire saw.

    from evidence.capture import Capturer, CaptureOptions

    with Capturer(CaptureOptions(operator="J. Smith", case="2024-017")) as capturer:
        result = capturer.capture("https://shop.example/item/1", "evidence/item-1")
    result.http_error, result.final_url, result.artifacts["archive.warc.gz"]

One capture is one URL written into one new folder (see ``docs/capture.md`` for every
file and field). :func:`capture_page` does the same with a browser of its own. Failures
raise :class:`~evidence.errors.CaptureError` subclasses (in
:mod:`evidence.capture.errors`) and leave no folder behind.

This package imports the browser machinery (Playwright, requests, warcio) only when
:class:`Capturer`, :func:`capture_page` or :func:`find_chromium` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from evidence._internal.lazy import lazy_getattr
from evidence.capture.errors import (
    BodyTooLargeError,
    BrowserError,
    BrowserNotFoundError,
    CaptureError,
    CaptureTimeoutError,
    ConnectionFailedError,
    HostNotFoundError,
    InvalidOptionError,
    InvalidURLError,
    OutputDirError,
    RedirectLoopError,
    StorageStateError,
    TLSFailedError,
)
from evidence.capture.options import CaptureOptions
from evidence.capture.result import ARTIFACT_NAMES, CaptureResult, RedirectHop, Resource, TLSInfo

if TYPE_CHECKING:
    from evidence.capture.browser import Capturer, capture_page
    from evidence.capture.discovery import BrowserExecutable, find_chromium

__all__ = [
    "ARTIFACT_NAMES",
    "BodyTooLargeError",
    "BrowserError",
    "BrowserExecutable",
    "BrowserNotFoundError",
    "CaptureError",
    "CaptureOptions",
    "CaptureResult",
    "CaptureTimeoutError",
    "Capturer",
    "ConnectionFailedError",
    "HostNotFoundError",
    "InvalidOptionError",
    "InvalidURLError",
    "OutputDirError",
    "RedirectHop",
    "RedirectLoopError",
    "Resource",
    "StorageStateError",
    "TLSFailedError",
    "TLSInfo",
    "capture_page",
    "find_chromium",
]

_LAZY = {
    "Capturer": "evidence.capture.browser",
    "capture_page": "evidence.capture.browser",
    "find_chromium": "evidence.capture.discovery",
    "BrowserExecutable": "evidence.capture.discovery",
}


__getattr__ = lazy_getattr(__name__, _LAZY)
