"""Bad input and failing sites: a clear CaptureError and nothing written."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from evidence.capture import CaptureOptions, Capturer
from evidence.capture.browser import _explain_browser_error
from evidence.capture.errors import (
    BodyTooLargeError,
    CaptureError,
    CaptureTimeoutError,
    ConnectionFailedError,
    HostNotFoundError,
    InvalidURLError,
    OutputDirError,
    RedirectLoopError,
    TLSFailedError,
)
from evidence.capture.urls import check_url

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CASES: list[tuple[str, Any, dict[str, Any], type[CaptureError], str]] = [
    ("malformed", "http//broken", {}, InvalidURLError, "not a complete web address"),
    ("file-scheme", "file:///etc/hosts", {}, InvalidURLError, "'file:'"),
    ("javascript-scheme", "javascript:alert(1)", {}, InvalidURLError, "'javascript:'"),
    ("data-scheme", "data:text/html,hello", {}, InvalidURLError, "'data:'"),
    ("dns-failure", "http://no-such-host.invalid/", {}, HostNotFoundError, "could not be found"),
    ("refused", "refused", {}, ConnectionFailedError, "refused the connection"),
    ("tls-without-insecure", "/listing@https", {}, TLSFailedError, "certificate was rejected"),
    ("timeout", "/slow?ms=4000", {"timeout_s": 1}, CaptureTimeoutError, "did not answer within"),
    ("redirect-loop", "/loop", {}, RedirectLoopError, "redirect loop"),
    (
        "oversized-page",
        "/big?bytes=3000000",
        {"max_body_bytes": 1_000_000},
        BodyTooLargeError,
        "larger than the allowed maximum",
    ),
    (
        "oversized-resource",
        "/big-resource-page?bytes=3000000",
        {"max_body_bytes": 1_000_000},
        BodyTooLargeError,
        "A response the page loaded is larger",
    ),
    (
        "wait-selector-never-appears",
        "/listing",
        {"wait_selector": "#never-there", "timeout_s": 1.5},
        CaptureTimeoutError,
        "did not appear",
    ),
]


@pytest.mark.parametrize(
    ("url", "changes", "error", "words"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_failure_is_explained_and_leaves_nothing(
    capturer: Capturer,
    site: Any,
    tmp_path: Path,
    url: str,
    changes: dict[str, Any],
    error: type[CaptureError],
    words: str,
) -> None:
    if url == "refused":
        url = f"http://127.0.0.1:{_free_port()}/"
    elif url.endswith("@https"):
        url = site.url(url[: -len("@https")], https=True)
    elif url.startswith("/"):
        url = site.url(url)
    out = tmp_path / "case" / "nested" / "capture"
    with pytest.raises(error) as info:
        capturer.capture(url, out, CaptureOptions(**changes))
    text = info.value.diagnostics()
    assert words in text
    assert "Traceback" not in text and len(text) < 1200
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # not even the parent folders or a partial folder


def test_existing_evidence_is_never_overwritten(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    out = tmp_path / "capture"
    out.mkdir()
    (out / "capture.json").write_text("earlier evidence")
    with pytest.raises(OutputDirError, match="never overwritten"):
        capturer.capture(site.url("/listing"), out)
    assert [p.name for p in out.iterdir()] == ["capture.json"]
    assert (out / "capture.json").read_text() == "earlier evidence"


@pytest.mark.parametrize(
    ("message", "error", "words"),
    [
        ("Page.goto: net::ERR_NAME_NOT_RESOLVED at http://x/", HostNotFoundError, "not be found"),
        ("net::ERR_CONNECTION_REFUSED at http://x/", ConnectionFailedError, "refused"),
        ("net::ERR_CERT_AUTHORITY_INVALID at https://x/", TLSFailedError, "certificate"),
        ("net::ERR_SSL_PROTOCOL_ERROR at https://x/", TLSFailedError, "secure connection"),
        ("net::ERR_TOO_MANY_REDIRECTS at http://x/", RedirectLoopError, "loop"),
        ("net::ERR_TIMED_OUT at http://x/", CaptureTimeoutError, "in time"),
        ("net::ERR_ABORTED at http://x/", CaptureError, "download"),
        ("net::ERR_ADDRESS_UNREACHABLE at http://x/", ConnectionFailedError, "could not load"),
    ],
)
def test_browser_network_errors_are_explained(
    message: str, error: type[CaptureError], words: str
) -> None:
    explained = _explain_browser_error(Exception(message), check_url("http://x/"))
    assert type(explained) is error
    assert words in explained.diagnostics()
