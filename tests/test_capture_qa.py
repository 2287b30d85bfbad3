"""Capture QA against small local pages that are not the listing (real Chromium, one for the
module): a marketplace-like captcha interstitial, a login wall, an error page answered with
HTTP 200, a blank page, and a page far smaller than the earlier ones of the batch; ``preserve``
exits with its own code when it seals such a page."""

from __future__ import annotations

import json
import subprocess
import threading
import zipfile
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tools import project_command

from evidence.capture import Capturer, find_chromium
from evidence.capture.errors import BrowserNotFoundError
from evidence.capture.qa import assess, png_pixels
from evidence.errors import EXIT_QA_FLAGGED

_LISTING = (
    "<!doctype html><html><head><title>Blue kettle, 1.7 l - Example Shop</title></head><body>"
    "<h1>Blue kettle, 1.7 l</h1><p class=price>EUR 39.90</p>"
    + "".join(f"<p>Review {n}: a fine kettle that boils water quickly and quietly.</p>" for n in range(60))
    + "</body></html>"
)
PAGES = {
    "/listing": _LISTING,
    "/captcha": (
        "<!doctype html><html><head><title>Security check</title></head><body>"
        "<div id=nc_wrapper class=nc_wrapper><p>Sorry, we have detected unusual traffic from your network.</p>"
        "<p>Please slide to verify: 请拖动滑块完成安全验证</p><div class=slider>&gt;&gt;</div></div></body></html>"
    ),
    "/login": (
        "<!doctype html><html><head><title>Example Shop</title></head><body><h2>Please sign in to continue</h2>"
        "<form><input name=user><input type=password name=pw><button>Sign in</button></form></body></html>"
    ),
    "/gone": (
        "<!doctype html><html><head><title>Page not found - Example Shop</title></head><body>"
        "<h1>Sorry, this item is no longer available</h1></body></html>"
    ),
    "/blank": "<!doctype html><html><head><title>Blue kettle</title></head><body style='background:#fff'></body>",
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGES.get(self.path.split("?", 1)[0], "").encode()
        self.send_response(200)  # every page answers 200: QA is what tells them apart
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")


@pytest.fixture(scope="module")
def captured(shop: str, chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every page captured once with one browser, the listing first (a batch)."""
    root = tmp_path_factory.mktemp("qa")
    out: dict[str, dict[str, Any]] = {}
    with Capturer(executable=chromium) as capturer:
        for path in PAGES:
            result = capturer.capture(shop + path, root / path.strip("/"))
            out[path] = result.facts
    return out


def _flags(facts: dict[str, Any]) -> dict[str, str]:
    return {f["flag"]: f["saw"] for f in facts["qa"]["flags"]}


def test_the_listing_is_not_flagged(captured: dict[str, dict[str, Any]]) -> None:
    assert captured["/listing"]["qa"]["flags"] == [] and not captured["/listing"]["qa"]["probably_not_the_listing"]


def test_a_captcha_interstitial_is_flagged(captured: dict[str, dict[str, Any]]) -> None:
    flags = _flags(captured["/captcha"])
    assert "unusual traffic" in flags["captcha"]
    assert "much-smaller" in flags  # far smaller than the listing before it
    assert any(w.startswith("Capture QA:") for w in captured["/captcha"]["warnings"])


def test_a_login_wall_is_flagged(captured: dict[str, dict[str, Any]]) -> None:
    saw = _flags(captured["/login"])["login-wall"]
    assert "a password field" in saw and "sign in to continue" in saw


def test_an_error_page_with_200_is_flagged(captured: dict[str, dict[str, Any]]) -> None:
    assert captured["/gone"]["status"] == 200
    assert "Page not found" in _flags(captured["/gone"])["error-page"]


def test_a_blank_page_is_flagged(captured: dict[str, dict[str, Any]]) -> None:
    saw = _flags(captured["/blank"])["blank-screenshot"]
    assert "#ffffff" in saw and "100.0%" in saw


def test_png_decoding_matches_what_was_encoded() -> None:
    # All five PNG filters, one per row, over known pixels.
    width, height, rows = 7, 5, []
    pixels = [
        [((x * 37 + y * 11) % 256, (x * y * 5) % 256, (200 - x * 3) % 256) for x in range(width)] for y in range(height)
    ]
    prev = [0] * (width * 3)
    for y, row in enumerate(pixels):
        flat = [c for px in row for c in px]
        kind = y % 5
        enc = []
        for i, v in enumerate(flat):
            a = flat[i - 3] if i >= 3 else 0
            b = prev[i]
            c = prev[i - 3] if i >= 3 else 0
            p = a + b - c
            paeth = a if abs(p - a) <= abs(p - b) and abs(p - a) <= abs(p - c) else b if abs(p - b) <= abs(p - c) else c
            pred = [0, a, b, (a + b) // 2, paeth][kind]
            enc.append((v - pred) % 256)
        rows.append(bytes([kind, *enc]))
        prev = flat

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )
    decoded = png_pixels(png)
    assert decoded.tolist() == [[list(px) for px in row] for row in pixels]
    assert assess(status=200, title="t", text="x", dom=b"", screenshot=png, size=10) == ()


def test_preserve_exits_with_its_own_code_for_a_flagged_page(shop: str, chromium: str, tmp_path: Path) -> None:
    env = {"EVIDENCE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [project_command("preserve"), shop + "/captcha", "-o", str(tmp_path / "out"), "--json", "--browser", chromium],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == EXIT_QA_FLAGGED, run.stderr
    result = json.loads(run.stdout)["results"][0]
    assert result["ok"] and any(f.startswith("captcha:") for f in result["qa_flags"])
    with zipfile.ZipFile(result["bundle"]) as z:
        assert "Capture QA" in z.read("evidence/report.html").decode()
