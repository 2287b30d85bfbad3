"""The product listing, captured once (HTTP): every artifact, the WARC, the lazy section."""

from __future__ import annotations

import base64
import email
import json
from typing import Any

import pytest
from capture_helpers import load_site_module, png_size, read_raw_records, read_warc, warcio_check

from evidence.capture import ARTIFACT_NAMES, Capturer, CaptureResult

pytestmark = pytest.mark.browser

pages = load_site_module().pages

#: Every http(s) request the listing makes once scrolled: document, stylesheet, script,
#: six product images, the favicon, the lazy footer image, the reviews API call and the
#: lazy section's banner and four avatars.
LISTING_PATHS = {
    "/listing",
    "/static/style.css",
    "/static/listing.js",
    *(f"/img/product-{i}.png" for i in range(1, 7)),
    "/img/favicon.png",
    "/img/footer-lazy.png",
    "/api/reviews",
    "/img/lazy-banner.png",
    *(f"/img/avatar-{i}.png" for i in range(1, pages.REVIEW_COUNT + 1)),
}


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_all_artifacts_written(listing: CaptureResult) -> None:
    names = sorted(p.name for p in listing.out_dir.iterdir())
    # Plain HTTP (no TLS chain), and no TSA configured (no start token of the clean check).
    expected = sorted(n for n in ARTIFACT_NAMES if n not in ("tls-chain.pem", "start.tsr"))
    assert names == expected
    assert set(listing.artifacts) == set(expected)
    for name, path in listing.artifacts.items():
        assert path.parent == listing.out_dir and path.stat().st_size > 0, name
    assert not [p for p in listing.out_dir.parent.iterdir() if ".partial-" in p.name]


def test_result_facts(listing: CaptureResult, site: Any) -> None:
    assert listing.status == 200 and not listing.http_error and listing.error_kind is None
    assert listing.final_url == site.url("/listing") == listing.requested_url
    assert listing.page_title == "Marketplace listing: designer goods"
    assert listing.server_ip == "127.0.0.1" and listing.server_port == site.http_port
    assert listing.dns_answers == ("127.0.0.1",)
    assert listing.tls is None and listing.insecure is False
    assert listing.storage_state_used is False
    assert "HeadlessChrome" not in listing.user_agent and "Chrome/" in listing.user_agent
    assert [h.status for h in listing.redirect_chain] == [200]
    facts = json.loads(listing.artifacts["capture.json"].read_text())
    assert facts == json.loads(json.dumps(listing.facts))
    assert facts["format"] == "evidence-capture/1"
    assert facts["page"]["load_event"] and facts["page"]["network_quiet"]
    assert facts["page"]["full_page_truncated"] is False
    assert facts["raw_fetch"]["status"] == 200
    main = facts["main_document"]
    assert main["matches_raw_fetch"] is True and main["body_encoding"] == "utf-8"
    assert facts["raw_fetch"]["connection"]["server_port"] == site.http_port
    assert facts["storage_state"] == {"used": False}
    assert facts["warnings"] == []
    assert facts["warc"]["browser_response_heads_as_received"] == 17  # HTTP/1.1: raw heads
    assert facts["started_at"] < facts["finished_at"]


def test_warc_passes_warcio_check(listing: CaptureResult) -> None:
    done = warcio_check(listing.artifacts["archive.warc.gz"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "digest pass" in done.stdout and "fail" not in done.stdout.lower()


def test_warc_holds_every_resource_with_its_body(listing: CaptureResult) -> None:
    records = read_warc(listing.artifacts["archive.warc.gz"])
    assert records[0]["type"] == "warcinfo"
    browser = {
        _path(r["uri"]): r for r in records if r["type"] == "response" and r["source"] == "browser"
    }
    requests = {
        _path(r["uri"]) for r in records if r["type"] == "request" and r["source"] == "browser"
    }
    assert set(browser) == LISTING_PATHS
    assert requests == LISTING_PATHS
    loaded = {_path(r.url) for r in listing.resources}
    assert loaded == LISTING_PATHS
    assert all(r.body_recorded and r.status == 200 for r in listing.resources)
    # Bodies are the bytes the server sent (the test site serves them uncompressed).
    assert browser["/img/product-3.png"]["payload"] == pages.product_png(3)
    assert browser["/img/lazy-banner.png"]["payload"] == pages.lazy_banner_png()
    assert browser["/static/style.css"]["payload"] == pages.STYLE_CSS
    assert browser["/api/reviews"]["payload"] == pages.reviews_json()
    assert browser["/listing"]["payload"] == pages.listing_html()
    for r in browser.values():
        headers = r["http_headers"]
        assert headers.get_header("Content-Length") == str(len(r["payload"]))
        assert r["warc_headers"].get_header("WARC-IP-Address") == "127.0.0.1"
        assert r["warc_headers"].get_header("WARC-Payload-Digest").startswith("sha256:")


def test_raw_fetch_is_in_the_warc_byte_for_byte(listing: CaptureResult) -> None:
    raw = [
        (kind, uri, block)
        for kind, uri, block in read_raw_records(listing.artifacts["archive.warc.gz"])
        if kind in ("request", "response")
    ]
    records = read_warc(listing.artifacts["archive.warc.gz"])
    sources = [r["source"] for r in records if r["type"] in ("request", "response")]
    assert sources.count("raw-fetch") == 2
    response = next(
        block
        for (kind, uri, block), src in zip(raw, sources, strict=True)
        if kind == "response" and src == "raw-fetch"
    )
    assert response.startswith(b"HTTP/1.1 200 OK\r\nServer: EvidenceTestSite/1.0")
    assert response.endswith(b"\r\n\r\n" + pages.listing_html())


def test_screenshot_shows_the_lazy_section(listing: CaptureResult, capturer: Capturer) -> None:
    png = listing.artifacts["screenshot-full.png"].read_bytes()
    width, height = png_size(png)
    assert width == 1280 and height == listing.full_page_height > 3000
    assert png_size(listing.artifacts["screenshot-viewport.png"].read_bytes()) == (1280, 800)
    # Count the lazy banner's orange pixels in the screenshot, using the browser's canvas.
    page = capturer._ready().browser.new_page()
    try:
        page.set_content(
            f'<img id="shot" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        )
        found = page.evaluate(
            """async () => {
              const img = document.getElementById('shot'); await img.decode();
              const c = document.createElement('canvas');
              c.width = img.width; c.height = img.height;
              const ctx = c.getContext('2d'); ctx.drawImage(img, 0, 0);
              const d = ctx.getImageData(0, 0, c.width, c.height).data;
              let n = 0, top = -1;
              for (let i = 0; i < d.length; i += 4) {
                if (Math.abs(d[i] - 250) < 6 && Math.abs(d[i+1] - 120) < 6 && d[i+2] < 6) {
                  n++; if (top < 0) top = Math.floor(i / 4 / c.width);
                }
              }
              return {n, top};
            }"""
        )
    finally:
        page.close()
    banner_w, banner_h = pages.LAZY_BANNER_PNG_SIZE
    assert found["n"] > banner_w * banner_h * 0.4, found
    assert found["top"] > 2600  # below the spacer: it loaded only because the page was scrolled


def test_dom_mhtml_pdf(listing: CaptureResult) -> None:
    dom = listing.artifacts["dom.html"].read_text("utf-8")
    assert "LAZY SECTION LOADED" in dom and "Verified review #4" in dom
    mhtml = listing.artifacts["page.mhtml"].read_bytes()
    assert mhtml.startswith(b"From: ") and b"\r\n" in mhtml
    message = email.message_from_bytes(mhtml)
    html = [
        part.get_payload(decode=True)
        for part in message.walk()
        if part.get_content_type() == "text/html"
    ]
    assert html and b"LAZY SECTION LOADED" in html[0]
    assert listing.artifacts["page.pdf"].read_bytes().startswith(b"%PDF-")


def test_environment_report(listing: CaptureResult) -> None:
    env = json.loads(listing.artifacts["environment.json"].read_text())
    assert env == json.loads(json.dumps(listing.environment))
    assert env["format"] == "evidence-environment/1"
    assert env["tool"]["name"] == "evidence" and env["python"]["version"]
    assert env["libraries"]["playwright"] and env["libraries"]["warcio"]
    browser = env["browser"]
    assert browser["version"] and browser["executable"] and browser["headless"] is True
    assert "--disable-quic" in browser["launch_args"]
    assert len(browser["executable_sha256"]) == 64
    assert env["os"]["system"]
    clock = env["clock"]
    assert clock["capture_started_at"] < clock["capture_finished_at"]
    assert "ntp_synchronized" in clock
    assert env["network"]["local_address_used_by_raw_fetch"]["ip"] == "127.0.0.1"
    assert "interfaces" in env["network"]
    assert "environment_variables" in env["proxy"]
    hosts = env["hosts_file"]
    assert hosts["captured_hosts_checked"] == ["127.0.0.1"]
    assert hosts["overrides_captured_host"] is False
    assert "resolv_conf" in env["resolver"]
    profile = env["browser_profile"]
    assert profile["cookies_at_start"] == 0 and profile["local_storage_origins_at_start"] == 0
    assert profile["loaded_from_storage_state"] is False
    assert env["operator"] == {"name": None, "case": None, "notes": None}
