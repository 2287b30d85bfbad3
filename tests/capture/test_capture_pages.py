"""The test site's other pages: redirects, errors, slow, long, non-HTML, HTTPS, logins."""

from __future__ import annotations

import gzip
import json
import ssl
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import load_site_module, png_size, read_raw_records, read_warc, warcio_check

from evidence.capture import CaptureOptions, Capturer, CaptureResult, capture_page

pytestmark = pytest.mark.browser

site_module = load_site_module()
pages = site_module.pages
SECRET_NAME, SECRET_VALUE = site_module.SESSION_COOKIE


def _capture(capturer: Capturer, tmp_path: Path, url: str, **changes: Any) -> CaptureResult:
    return capturer.capture(url, tmp_path / "capture", CaptureOptions(**changes))


def test_redirect_chain(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    result = _capture(capturer, tmp_path, site.url("/redirect/3"))
    chain = result.redirect_chain
    assert [h.status for h in chain] == [302, 301, 307, 301, 200]
    assert [h.via for h in chain] == ["requested"] + ["http-redirect"] * 4
    assert [h.location for h in chain] == [
        "/redirect/2",
        "/redirect/1",
        "/redirect/0",
        "/listing",
        None,
    ]
    assert chain[0].url == result.requested_url and chain[-1].url == result.final_url
    assert result.final_url == site.url("/listing") and result.status == 200
    assert all(h.server_ip == "127.0.0.1" and h.server_port == site.http_port for h in chain)
    raw_chain = result.facts["raw_fetch"]["redirect_chain"]
    assert [h["status"] for h in raw_chain] == [302, 301, 307, 301, 200]
    records = read_warc(result.artifacts["archive.warc.gz"])
    redirects = {
        r["uri"]: r["http_headers"].get_header("Location")
        for r in records
        if r["type"] == "response" and r["source"] == "browser" and r["status"].startswith("3")
    }
    assert redirects == {h.url: h.location for h in chain[:-1]}


@pytest.mark.parametrize(
    ("path", "status", "kind"),
    [("/not-found", 404, "client error"), ("/server-error", 500, "server error")],
)
def test_error_pages_are_captured_and_flagged(
    capturer: Capturer, site: Any, tmp_path: Path, path: str, status: int, kind: str
) -> None:
    result = _capture(capturer, tmp_path, site.url(path))
    assert result.status == status and result.http_error and result.error_kind == kind
    assert result.facts["http_error"] is True and result.facts["error_kind"] == kind
    assert any(str(status) in w for w in result.warnings)
    assert {"screenshot-full.png", "dom.html", "page.pdf", "archive.warc.gz"} <= set(
        result.artifacts
    )
    assert str(status) in result.artifacts["dom.html"].read_text()


def test_slow_page_within_the_timeout(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    result = _capture(capturer, tmp_path, site.url("/slow?ms=700"), timeout_s=10)
    assert result.status == 200 and result.page_title == "Slow page"
    assert result.timings_ms["raw_fetch_ms"] >= 700
    assert result.timings_ms["navigation_ms"] >= 700


@pytest.mark.slow
def test_very_long_page_is_cut_at_the_cap(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    result = _capture(capturer, tmp_path, site.url("/long?px=30000"), full_page_max_height=6000)
    assert result.full_page_height >= 30000 and result.full_page_cap == 6000
    assert result.full_page_truncated and result.facts["page"]["full_page_truncated"]
    assert png_size(result.artifacts["screenshot-full.png"].read_bytes()) == (1280, 6000)
    assert any("6000 px" in w for w in result.warnings)
    assert result.facts["page"]["scroll_steps"] <= 8  # scrolling stops at the cap too
    assert "END OF LONG PAGE" in result.artifacts["dom.html"].read_text()


def test_image_url(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    result = _capture(capturer, tmp_path, site.url("/img/product-1.png"))
    assert result.status == 200 and result.mime_type == "image/png"
    records = read_warc(result.artifacts["archive.warc.gz"])
    bodies = [
        r["payload"] for r in records if r["type"] == "response" and r["uri"].endswith(".png")
    ]
    assert bodies and all(b == pages.product_png(1) for b in bodies)


def test_pdf_url(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    result = _capture(capturer, tmp_path, site.url("/files/catalogue.pdf"))
    assert result.status == 200 and result.mime_type == "application/pdf"
    records = read_warc(result.artifacts["archive.warc.gz"])
    pdfs = [
        (r["source"], r["payload"])
        for r in records
        if r["type"] == "response" and r["uri"].endswith(".pdf")
    ]
    # Chromium hands a PDF to its viewer and does not keep the bytes; the raw fetch has
    # them, and the browser's (viewer) body is not passed off as the file.
    assert pdfs == [("raw-fetch", pages.minimal_pdf())]
    main = next(r for r in result.resources if r.url.endswith(".pdf"))
    assert not main.body_recorded and "viewer" in (main.note or "")


def test_compressed_chunked_page(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    result = _capture(capturer, tmp_path, site.url("/gzip"))
    assert result.page_title == "Compressed page"
    warc = result.artifacts["archive.warc.gz"]
    assert warcio_check(warc).returncode == 0
    raw_blocks = [
        block
        for (kind, _uri, block), rec in zip(read_raw_records(warc), read_warc(warc), strict=True)
        if kind == "response" and rec["source"] == "raw-fetch"
    ]
    # The raw fetch keeps the wire bytes: odd header spacing, chunk framing, gzip body.
    assert raw_blocks[0].startswith(
        b"HTTP/1.1 200 OK\r\nContent-Type:text/html; charset=utf-8\r\nX-Odd-Spacing:   three spaces\r\n"
    )
    assert b"Transfer-Encoding: chunked\r\n\r\n" in raw_blocks[0]
    assert raw_blocks[0].endswith(b"\r\n0\r\n\r\n")
    browser = next(
        r for r in read_warc(warc) if r["type"] == "response" and r["source"] == "browser"
    )
    # The browser's body is decoded; the wire encoding is kept as X-Archive-Orig-*.
    assert browser["http_headers"].get_header("X-Archive-Orig-Content-Encoding") == "gzip"
    assert browser["http_headers"].get_header("Content-Encoding") is None
    chunked = raw_blocks[0].split(b"\r\n\r\n", 1)[1]
    wire_body = b""
    while True:
        size_line, rest = chunked.split(b"\r\n", 1)
        size = int(size_line, 16)
        if size == 0:
            break
        wire_body, chunked = wire_body + rest[:size], rest[size + 2 :]
    assert browser["payload"] == gzip.decompress(wire_body)


def test_cross_site_frame_resources_are_recorded(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    result = _capture(capturer, tmp_path, site.url("/framed"))
    framed = [
        r for r in result.resources if r.url.startswith(f"http://localhost:{site.http_port}/")
    ]
    assert {r.url.rsplit("/", 1)[1] for r in framed} >= {"listing", "style.css", "product-1.png"}
    assert all(r.body_recorded for r in framed)
    assert not [w for w in result.warnings if "not in the WARC" in w]


def test_partial_body_is_not_recorded_as_if_complete(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    result = _capture(capturer, tmp_path, site.url("/broken-image-page"))
    broken = next(r for r in result.resources if r.url.endswith("type=image/png"))
    assert not broken.body_recorded and "kept only" in (broken.note or "")
    records = read_warc(result.artifacts["archive.warc.gz"])
    assert not [r for r in records if r["uri"] and r["uri"].endswith("type=image/png")]


def test_https_capture_holds_the_certificate(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    ca = tmp_path / "site-ca.pem"
    ca.write_bytes(site.certs.root_pem)
    result = _capture(capturer, tmp_path, site.url("/redirect/1", https=True), insecure=True, trusted_ca=ca)
    assert result.status == 200 and result.final_url == site.url("/listing", https=True)
    pem = result.artifacts["tls-chain.pem"].read_text()
    chain = [
        ssl.PEM_cert_to_DER_cert("-----BEGIN CERTIFICATE-----" + block)
        for block in pem.split("-----BEGIN CERTIFICATE-----")[1:]
    ]
    assert chain == [site.certs.leaf_der, site.certs.root_der]
    tls = result.tls
    assert tls is not None
    assert tls.protocol.startswith("TLS 1.") and tls.cipher
    assert tls.subject == "127.0.0.1" and tls.issuer == "Evidence Test Root CA"
    assert "127.0.0.1" in tls.san
    assert tls.verified is False and "self-signed" in (tls.verification_error or "")
    assert tls.leaf_matches_raw_fetch is True
    assert result.insecure is True and result.facts["options"]["insecure"] is True
    assert warcio_check(result.artifacts["archive.warc.gz"]).returncode == 0
    records = read_warc(result.artifacts["archive.warc.gz"])
    protocols = {
        p
        for r in records
        if r["type"] == "response" and r["source"] == "browser"
        for name, p in r["warc_headers"].headers
        if name == "WARC-Protocol"
    }
    assert any(p.startswith("tls/1.") for p in protocols)


def _storage_state(tmp_path: Path, site: Any) -> Path:
    path = tmp_path / "login-state.json"
    cookie = {
        "name": SECRET_NAME,
        "value": SECRET_VALUE,
        "domain": "127.0.0.1",
        "path": "/",
        "expires": -1,
        "httpOnly": True,
        "secure": False,
        "sameSite": "Lax",
    }
    path.write_text(json.dumps({"cookies": [cookie], "origins": []}))
    return path


def test_page_behind_a_login_with_storage_state(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    state = _storage_state(tmp_path, site)
    result = _capture(capturer, tmp_path, site.url("/account"), storage_state=state)
    assert result.status == 200 and result.page_title == "Your account"
    assert result.facts["raw_fetch"]["status"] == 200  # the raw fetch sent the cookie too
    assert result.storage_state_used is True
    summary = result.facts["storage_state"]
    assert summary["used"] is True and summary["file_name"] == "login-state.json"
    assert summary["sha256"] == result.storage_state_sha256 and summary["cookies"] == 1
    assert result.environment["browser_profile"]["cookies_at_start"] == 1
    # The secret value is nowhere in the evidence: not in any file, not in the WARC.
    for path in result.artifacts.values():
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        assert SECRET_VALUE.encode() not in data, path.name
    records = read_warc(result.artifacts["archive.warc.gz"])
    cookies = [
        r["http_headers"].get_header("Cookie")
        for r in records
        if r["type"] == "request" and r["uri"].endswith("/account")
    ]
    assert cookies == ["[redacted by evidence: 1 cookie(s)]"] * 2  # raw fetch + browser


def test_cookies_txt_and_without_login(capturer: Capturer, site: Any, tmp_path: Path) -> None:
    txt = tmp_path / "cookies.txt"
    txt.write_text(f"127.0.0.1\tFALSE\t/\tFALSE\t0\t{SECRET_NAME}\t{SECRET_VALUE}\n")
    signed_in = capturer.capture(
        site.url("/account"), tmp_path / "in", CaptureOptions(storage_state=txt)
    )
    assert signed_in.status == 200
    assert signed_in.facts["storage_state"]["format"] == "netscape-cookies"
    signed_out = capturer.capture(site.url("/account"), tmp_path / "out")
    assert signed_out.status == 403 and signed_out.http_error


def test_options_operator_viewport_user_agent(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    agent = "EvidenceTest/1.0 (court capture)"
    result = _capture(
        capturer,
        tmp_path,
        site.url("/?who=options"),
        viewport_width=800,
        viewport_height=600,
        user_agent=agent,
        wait_ms=50,
        operator="J. Smith, paralegal",
        case="2024-017",
        notes="listing reported by client",
    )
    assert png_size(result.artifacts["screenshot-viewport.png"].read_bytes()) == (800, 600)
    assert result.user_agent == agent
    hits = site.hits_for("/?who=options")
    assert len(hits) == 2 and {h.headers["User-Agent"] for h in hits} == {agent}
    assert result.environment["operator"] == {
        "name": "J. Smith, paralegal",
        "case": "2024-017",
        "notes": "listing reported by client",
    }
    warcinfo = read_warc(result.artifacts["archive.warc.gz"])[0]
    assert b"operator: J. Smith, paralegal" in warcinfo["payload"]
    assert b"isPartOf: 2024-017" in warcinfo["payload"]
    assert result.facts["options"]["wait_ms"] == 50


def test_batch_reuses_one_browser_with_fresh_contexts(
    site: Any, tmp_path: Path, chromium: str
) -> None:
    with Capturer() as own:
        results = [own.capture(site.url("/listing"), tmp_path / f"c{i}") for i in range(3)]
    pids = {r.environment["browser"]["pid"] for r in results}
    assert len(pids) == 1
    profiles = [r.environment["browser_profile"] for r in results]
    assert [p["captures_before_in_this_browser_process"] for p in profiles] == [0, 1, 2]
    # The next context is opened while a page settles, if there is time: never the first.
    prewarmed = [p["context_opened_before_capture_started"] for p in profiles]
    assert prewarmed[0] is False
    for result, early in zip(results, prewarmed, strict=True):
        assert (result.timings_ms["context_ms"] == 0) is early
    assert all(p["cookies_at_start"] == 0 for p in profiles)


def test_capture_page_starts_and_stops_its_own_browser(
    site: Any, tmp_path: Path, chromium: str
) -> None:
    result = capture_page(site.url("/not-found"), tmp_path / "one")
    assert result.status == 404 and (tmp_path / "one" / "capture.json").exists()
    assert result.environment["browser_profile"]["captures_before_in_this_browser_process"] == 0


def test_script_redirect_is_followed_and_the_new_page_scrolled(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    result = _capture(capturer, tmp_path, site.url("/js-redirect"))
    assert result.final_url == site.url("/listing")
    assert [(h.url, h.via) for h in result.redirect_chain] == [
        (site.url("/js-redirect"), "requested"),
        (site.url("/listing"), "client-navigation"),
    ]
    # The first page's body is kept although the browser navigated away from it ...
    first = next(r for r in result.resources if r.url.endswith("/js-redirect"))
    assert first.body_recorded
    # ... and the page it moved to was scrolled, so its lazy section loaded.
    assert "LAZY SECTION LOADED" in result.artifacts["dom.html"].read_text()
    # The raw fetch cannot run scripts: it says which page it covers.
    assert result.facts["raw_fetch"]["final_url"] == site.url("/js-redirect")
    assert result.facts["main_document"]["matches_raw_fetch"] is None
    assert [w for w in result.warnings if "raw fetch covers only" in w]
