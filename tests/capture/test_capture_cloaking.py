"""Cloaking: a site that answers the browser one page and the raw fetch another.

``/cloaked`` on the test site shows "10 EUR" to a request carrying ``Sec-Fetch-Mode`` (every
browser navigation) and "999 EUR" to anything else (the raw fetch, curl, a crawler). The
capture must say so loudly everywhere the evidence is read (capture.json, ``preserve``'s
output, the verifier's report), and replay must show what the browser saw.
"""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest
from capture_helpers import load_site_module, read_warc
from tools import Pywb, pywb_bin

from evidence.bundle import INDEX_PATH, PAGES_PATH, BundleView
from evidence.bundle.surt import surt
from evidence.bundle.wacz import cdxj_lines
from evidence.capture import Capturer
from evidence.verify import verify

pytestmark = pytest.mark.browser

pages = load_site_module().pages
PYWB = pywb_bin()


def test_a_cloaked_page_is_recorded_with_a_warning_and_what_differed(
    capturer: Capturer, site: Any, tmp_path: Path
) -> None:
    result = capturer.capture(site.url("/cloaked"), tmp_path / "capture")
    facts = json.loads(result.artifacts["capture.json"].read_text("utf-8"))
    main = facts["main_document"]
    assert main["matches_raw_fetch"] is False
    diff = main["raw_fetch_differs"]
    assert diff["text_identical"] is False
    assert any(pages.CLOAK_BROWSER_PRICE in line for line in diff["lines_only_in_browser"])
    assert any(pages.CLOAK_RAW_PRICE in line for line in diff["lines_only_in_raw_fetch"])
    assert diff["lines_only_in_browser_count"] == diff["lines_only_in_raw_fetch_count"] == 1
    assert "sec-fetch-mode" in diff["request_headers"]["only_browser_sent"]
    [warning] = [w for w in facts["warnings"] if "CONTENT DIFFERS BY CLIENT" in w]
    assert pages.CLOAK_BROWSER_PRICE in warning and pages.CLOAK_RAW_PRICE in warning
    assert result.warnings == tuple(facts["warnings"])
    # What the browser showed is the browser's version.
    assert pages.CLOAK_BROWSER_PRICE in result.artifacts["dom.html"].read_text("utf-8")
    sources = {
        r["source"]: r["payload"]
        for r in read_warc(result.artifacts["archive.warc.gz"])
        if r["type"] == "response" and r["uri"] == result.final_url
    }
    assert pages.CLOAK_RAW_PRICE.encode() in sources["raw-fetch"]
    assert pages.CLOAK_BROWSER_PRICE.encode() in sources["browser"]


def test_a_page_served_alike_has_no_difference_recorded(listing: Any) -> None:
    main = listing.facts["main_document"]
    assert main["matches_raw_fetch"] is True and main["raw_fetch_differs"] is None


@pytest.mark.slow
def test_cloaking_is_warned_in_preserve_verify_and_replay_shows_the_browsers_page(
    site: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], chromium: str
) -> None:
    from evidence_cli.preserve import main as preserve

    monkeypatch.setenv("EVIDENCE_HOME", str(tmp_path / "home"))
    out = tmp_path / "bundles"
    assert preserve([site.url("/cloaked"), "-o", str(out)]) == 0
    printed = capsys.readouterr().err
    assert "warning: capture: CONTENT DIFFERS BY CLIENT" in printed
    [bundle] = list(out.glob("*.wacz"))

    report = verify(bundle)
    warned = [w for w in report.warnings if w.startswith("the capture recorded: CONTENT DIFFERS BY CLIENT")]
    assert len(warned) == 1 and pages.CLOAK_RAW_PRICE in warned[0]
    assert "CONTENT DIFFERS BY CLIENT" in report.render_text()
    assert "CONTENT DIFFERS BY CLIENT" in json.dumps(report.to_dict())

    with BundleView.open(bundle) as view:
        capture = json.loads(view.read("evidence/capture.json"))
        index = view.read(INDEX_PATH).decode().splitlines()
        page = json.loads(view.read(PAGES_PATH).decode().splitlines()[1])
        (tmp_path / "data.warc.gz").write_bytes(view.read("archive/data.warc.gz"))
    # The certificate is rendered from capture.json: the warning is there, in full.
    assert any("CONTENT DIFFERS BY CLIENT" in w for w in capture["warnings"])
    # The pages list sends replay to the browser's record, the newer of the two.
    assert page["ts"] == capture["main_document"]["warc_date"]
    key = surt(capture["final_url"])
    mine = [line.split(" ", 2) for line in index if line.split(" ", 1)[0] == key]
    digests = {
        r["source"]: r["warc_headers"].get_header("WARC-Payload-Digest")
        for r in read_warc(tmp_path / "data.warc.gz")
        if r["type"] == "response" and r["uri"] == capture["final_url"]
    }
    order = [json.loads(m[2])["digest"] for m in mine]
    assert sorted(order) == sorted(digests.values())
    if mine[0][1] == mine[1][1]:  # the same second: the browser's first
        assert order == [digests["browser"], digests["raw-fetch"]]

    if PYWB is None:
        pytest.skip("pywb is not installed (.venv-pywb or EVIDENCE_PYWB): replay not checked")
    ts = "".join(c for c in page["ts"] if c.isdigit())[:14]
    (tmp_path / "pywb").mkdir()
    with Pywb(PYWB, tmp_path / "pywb", [bundle]) as base:
        for when in (ts, ""):  # at the page's time (ReplayWeb.page's way) and the latest
            with urllib.request.urlopen(f"{base}demo/{when}id_/{page['url']}", timeout=30) as r:
                body = r.read()
            assert pages.CLOAK_BROWSER_PRICE.encode() in body, when
            assert pages.CLOAK_RAW_PRICE.encode() not in body, when


def _record(writer: Any, url: str, body: bytes, source: str, date: str) -> None:
    from warcio.statusandheaders import StatusAndHeaders

    headers = StatusAndHeaders(
        "200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
    )
    rec = writer.create_warc_record(
        url,
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=headers,
        warc_headers_dict={"WARC-Date": date, "WARC-Evidence-Source": source},
    )
    writer.write_record(rec)


def test_in_the_same_second_the_index_and_replay_take_the_browsers_record(tmp_path: Path) -> None:
    # Raw fetch and browser usually load the page within the same second; the index's
    # timestamps have whole seconds. The raw fetch's record comes first in the WARC.
    from warcio.warcwriter import WARCWriter

    url = "http://shop.test/item"
    warc = tmp_path / "data.warc.gz"
    for pad in range(64):  # a pair whose plain line order would put the raw fetch first
        with open(warc, "wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            for source, date in (
                ("raw-fetch", "2026-01-02T03:04:05.100000Z"),
                ("browser", "2026-01-02T03:04:05.900000Z"),
            ):
                body = pages.cloaked_html(source == "browser") + b"<!-- %d -->" % pad
                _record(writer, url, body, source, date)
        lines = cdxj_lines(warc, "data.warc.gz")
        if json.loads(sorted(lines)[0].split(" ", 2)[2])["offset"] == "0":
            break
    else:
        raise AssertionError("no pair of digests in that order")
    assert len(lines) == 2 and lines[0].split(" ", 2)[1] == lines[1].split(" ", 2)[1]
    assert json.loads(lines[0].split(" ", 2)[2])["offset"] != "0"  # the browser's, written second
    if PYWB is None:
        pytest.skip("pywb is not installed (.venv-pywb or EVIDENCE_PYWB): replay not checked")
    wacz = tmp_path / "tie.wacz"
    with zipfile.ZipFile(wacz, "w") as zf:
        zf.write(warc, "archive/data.warc.gz")
        zf.writestr("indexes/index.cdx", "\n".join(lines) + "\n")
    (tmp_path / "pywb").mkdir()
    with Pywb(PYWB, tmp_path / "pywb", [wacz]) as base:
        for when in ("20260102030405", ""):
            with urllib.request.urlopen(f"{base}demo/{when}id_/{url}", timeout=30) as r:
                body = r.read()
            assert pages.CLOAK_BROWSER_PRICE.encode() in body and pages.CLOAK_RAW_PRICE.encode() not in body
