"""Held-out style attacks on the verifier (issue 10's classes, variants it did not describe).

Each test crafts its input itself, as a hostile capturer could (the real writer seals
whatever capture directory it is given), and asserts the exact verdict and failing step:

- the web archive holds another record that replay could open for the page (a second
  response with another body, the host spelled in another case, a revisit or resource
  record beside the response, a record closer to the page's time, a body other than the
  one capture.json says the browser had);
- WARC records read differently by different readers (two records in one gzip member, a
  record not compressed on its own, a Content-Length that lies, a digest that lies);
- text that reads as something it is not (bidi overrides, zero-width characters) in the
  verifier's text output and on the certificate;
- a tlog-proof large enough to eat memory before its hash count is checked.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import resource
import time
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from vcheck_helpers import (
    HTML,
    PAGE,
    Rec,
    capture_dir,
    failed_at,
    iso,
    new_log,
    now,
    policy_text,
    sealed,
)
from verify_helpers import members, reseal, rewrite

from evidence.bundle import INDEX_PATH, PAGES_PATH, PROOF_PATH, WARC_PATH, BundleView, seal
from evidence.bundle.wacz import cdxj_lines
from evidence.checkpoint import MAX_PROOF_BYTES, TlogProof
from evidence.errors import FormatError
from evidence.log import Log
from evidence.trust import TrustPolicy
from evidence.verify import Verdict, verify

FORGED = b"<!doctype html><html><head><title>Item 42</title></head><body>999 EUR</body></html>"


def _bundle(tmp: Path, **kw: object) -> tuple[Path, Log, TrustPolicy]:
    log = new_log(tmp)
    return sealed(tmp, log, **kw), log, TrustPolicy.parse(policy_text(log))


def _main(body: bytes, when: object) -> dict[str, object]:
    return {"main_document": {"url": PAGE, "body_sha256": hashlib.sha256(body).hexdigest(), "warc_date": iso(when)}}  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the page replay opens


def test_two_responses_for_the_page_with_different_bodies_fail(tmp_path: Path) -> None:
    t = now() - timedelta(seconds=10)
    recs = [Rec(PAGE, t + timedelta(seconds=1)), Rec(PAGE, t + timedelta(seconds=1), FORGED)]
    bundle, _, policy = _bundle(tmp_path, started=t, records=recs)
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "two different records a replayer could open")


@pytest.mark.parametrize(
    "other",
    [
        "https://SHOP.example/item/42",  # host case
        "https://shop.example./item/42",  # trailing dot
        "https://shop.example/item/%34%32",  # percent-encoding
        "http://shop.example/item/42",  # scheme
        "https://www.shop.example/item/42",  # www.
    ],
)
def test_another_spelling_of_the_page_address_is_a_rival(tmp_path: Path, other: str) -> None:
    """Each has the page's SURT key: replay finds it when asked for the page."""
    t = now() - timedelta(seconds=10)
    recs = [Rec(PAGE, t + timedelta(seconds=1)), Rec(other, t + timedelta(seconds=1), FORGED)]
    bundle, _, policy = _bundle(tmp_path, started=t, records=recs)
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "two different records", other)


@pytest.mark.parametrize("kind", ["revisit", "resource"])
def test_a_revisit_or_resource_record_beside_the_page_fails(tmp_path: Path, kind: str) -> None:
    t = now() - timedelta(seconds=10)
    body = b"" if kind == "revisit" else FORGED  # a revisit holds no body of its own
    recs = [Rec(PAGE, t + timedelta(seconds=1)), Rec(PAGE, t + timedelta(seconds=1), body, kind=kind)]
    bundle, _, policy = _bundle(tmp_path, started=t, records=recs)
    report = verify(bundle, trust=policy)
    failed_at(report, 8, WARC_PATH)
    assert "two different records" in report.steps[7].detail or f"opens record 4 ({kind}" in report.steps[7].detail


def test_a_forged_response_closer_to_the_page_time_fails(tmp_path: Path) -> None:
    """capture.json says the browser had the 10 EUR body; replay would open the 999 EUR one."""
    t = now() - timedelta(seconds=40)
    recs = [Rec(PAGE, t + timedelta(seconds=1)), Rec(PAGE, t + timedelta(seconds=20), FORGED)]
    facts = _main(HTML, t + timedelta(seconds=19))
    bundle, _, policy = _bundle(tmp_path, started=t, duration=timedelta(seconds=30), records=recs, facts=facts)
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "Replay of the page opens", "the browser had a body")


def test_a_page_body_other_than_the_recorded_one_fails(tmp_path: Path) -> None:
    t = now() - timedelta(seconds=10)
    bundle, _, policy = _bundle(tmp_path, started=t, facts=_main(FORGED, t + timedelta(seconds=1)))
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "the browser had a body")


def _sealed_warc(
    tmp: Path, started: datetime, records: list[tuple[str, datetime, bytes, str, list[tuple[str, str]], str]], **kw: Any
) -> tuple[Path, TrustPolicy]:
    """A hand-made capture whose WARC holds exactly ``records`` (url, date, body, status line,
    extra HTTP headers, WARC-Evidence-Source), sealed with the real writer."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    log = new_log(tmp)
    d = capture_dir(tmp, started=started, **kw)
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True, warc_version="1.1")
    info = w.create_warcinfo_record("archive.warc.gz", {"software": "a test"})
    info.rec_headers.replace_header("WARC-Date", iso(started))
    w.write_record(info)
    for url, when, body, status, extra, source in records:
        headers = [("Content-Type", "text/html"), ("Content-Length", str(len(body))), *extra]
        rec = w.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(body),
            length=len(body),
            http_headers=StatusAndHeaders(status, headers, protocol="HTTP/1.1"),
            warc_headers_dict={"WARC-Date": iso(when), "WARC-Evidence-Source": source},
        )
        w.write_record(rec)
    (d / "archive.warc.gz").write_bytes(buf.getvalue())
    return seal(d, log, tmp / "out", name="b.wacz").path, TrustPolicy.parse(policy_text(log))


@pytest.mark.parametrize("ts", ["{day}T{time}+14:00", "{day}T{time}", "{day} {time}Z", "{day}T{time}.1234567891Z"])
def test_a_page_time_replayers_read_differently_fails(tmp_path: Path, ts: str) -> None:
    """pages.jsonl's ts comes from capture.json; "+14:00" is read as 14 hours earlier by a
    replayer and as the digits by a naive one: they would open different records."""
    t = now() - timedelta(seconds=10)
    at = t + timedelta(seconds=1)
    when = ts.format(day=at.strftime("%Y-%m-%d"), time=at.strftime("%H:%M:%S"))
    facts = {"main_document": {"url": PAGE, "body_sha256": hashlib.sha256(HTML).hexdigest(), "warc_date": when}}
    bundle, _, policy = _bundle(tmp_path, started=t, facts=facts)
    failed_at(verify(bundle, trust=policy), 8, PAGES_PATH, "not a UTC time of the form")


@pytest.mark.parametrize(
    ("uri", "words"),
    [
        # WARC/1.0 wrote "<uri>"; warcio (and so replay) strips the brackets: a rival of the page.
        ("<https://shop.example/item/42>", ("two different records",)),
        # A zero-width space some readers drop: refused as an address.
        ("https://shop.example/item/42\u200b", ("Record 4 of", "not a plain URI")),
    ],
)
def test_a_record_address_that_is_not_a_plain_uri_fails(tmp_path: Path, uri: str, words: tuple[str, ...]) -> None:
    t = now() - timedelta(seconds=10)
    recs = [Rec(PAGE, t + timedelta(seconds=1)), Rec(uri, t + timedelta(seconds=1), FORGED)]
    bundle, _, policy = _bundle(tmp_path, started=t, records=recs)
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, *words)


def test_honest_page_records_still_verify(tmp_path: Path) -> None:
    """The body capture.json records; an http:// to https:// redirect under the same key in the
    same second (replayers skip such self-redirects); the raw fetch's differing copy: VERIFIED."""
    t = now() - timedelta(seconds=10)
    at = t + timedelta(seconds=1)
    recs = [
        (PAGE, at, FORGED, "200 OK", [], "raw-fetch"),  # cloaking is the capture's warning, not a rival
        ("http://shop.example/item/42", at, b"", "301 Moved Permanently", [("Location", PAGE)], "browser"),
        (PAGE, at, HTML, "200 OK", [], "browser"),
    ]
    bundle, policy = _sealed_warc(tmp_path, t, recs, facts=_main(HTML, at))
    report = verify(bundle, trust=policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()


def test_a_redirect_elsewhere_under_the_page_key_is_a_rival(tmp_path: Path) -> None:
    t = now() - timedelta(seconds=10)
    at = t + timedelta(seconds=1)
    away = [("Location", "https://evil.example/item/42")]
    recs = [
        ("http://shop.example/item/42", at, b"", "301 Moved Permanently", away, "browser"),
        (PAGE, at, HTML, "200 OK", [], "browser"),
    ]
    bundle, policy = _sealed_warc(tmp_path, t, recs, facts=_main(HTML, at))
    report = verify(bundle, trust=policy)
    failed_at(report, 8, WARC_PATH)
    assert "status 301" in report.steps[7].detail, report.render_text()


def test_a_forged_page_at_the_main_page_date_fails(tmp_path: Path) -> None:
    """pages.jsonl points at the genuine record; a viewer using mainPageDate (the capture's
    start) would open a forged browser record dated then."""
    t = now() - timedelta(seconds=40)
    recs = [
        (PAGE, t, FORGED, "200 OK", [], "browser"),
        (PAGE, t + timedelta(seconds=20), HTML, "200 OK", [], "browser"),
    ]
    bundle, policy = _sealed_warc(
        tmp_path, t, recs, duration=timedelta(seconds=30), facts=_main(HTML, t + timedelta(seconds=20))
    )
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "the browser had a body")


# --------------------------------------------------------------------------- one reading of the WARC


def _gzip_members(data: bytes) -> list[bytes]:
    out = []
    while data:
        d = zlib.decompressobj(31)
        out.append(d.decompress(data))
        data = d.unused_data
    return out


def _g(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _with_warc(tmp: Path, build: Callable[[list[bytes]], bytes]) -> tuple[Path, TrustPolicy]:
    """The hand-made bundle with its WARC rebuilt from its records (warcinfo, page response,
    page request, favicon response, favicon request) and re-sealed with a matching index."""
    t = now() - timedelta(seconds=10)
    bundle, log, policy = _bundle(tmp, started=t)
    warc = build(_gzip_members(members(bundle)[WARC_PATH]))
    w = tmp / "w.warc.gz"
    w.write_bytes(warc)
    try:
        index = ("\n".join(cdxj_lines(w, "data.warc.gz")) + "\n").encode()
    except Exception:  # warcio cannot index it either: keep the old index
        index = members(bundle)[INDEX_PATH]
    return reseal(bundle, tmp / "f.wacz", log, sealed={WARC_PATH: warc, INDEX_PATH: index}), policy


def test_two_records_in_one_gzip_member_fail(tmp_path: Path) -> None:
    """A replayer reading the favicon's offset would get the page's record first (or not)."""
    bundle, policy = _with_warc(tmp_path, lambda p: _g(p[0]) + _g(p[3] + p[1]) + _g(p[2]) + _g(p[4]))
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "cannot be read as a WARC file")


@pytest.mark.parametrize("layout", ["appended", "plain"])
def test_a_record_not_compressed_on_its_own_fails(tmp_path: Path, layout: str) -> None:
    if layout == "appended":  # a plain second copy of the favicon after the gzip members
        build: Callable[[list[bytes]], bytes] = lambda p: b"".join(_g(x) for x in p) + p[3]  # noqa: E731
        number = 6
    else:
        build, number = (lambda p: b"".join(p)), 1
    bundle, policy = _with_warc(tmp_path, build)
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, f"Record {number} of", "not compressed on its own")


def test_a_record_shorter_than_its_content_length_fails(tmp_path: Path) -> None:
    def lie(p: list[bytes]) -> bytes:
        head, body = p[1].split(b"\r\n\r\n", 1)
        head = head.replace(b"\r\nContent-Length: ", b"\r\nContent-Length: 1", 1)  # the WARC header's
        return _g(p[0]) + _g(head + b"\r\n\r\n" + body) + b"".join(_g(x) for x in p[2:])

    bundle, policy = _with_warc(tmp_path, lie)
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "Record 2 of", "Content-Length declares", "missing")


def test_a_record_whose_payload_digest_lies_fails(tmp_path: Path) -> None:
    """The body changed (same length) but the digest header kept: warcio check refuses it, so must we."""

    def swap(p: list[bytes]) -> bytes:
        page = p[1].replace(b"10 EUR", b"99 EUR")
        assert page != p[1]
        return _g(p[0]) + _g(page) + b"".join(_g(x) for x in p[2:])

    bundle, policy = _with_warc(tmp_path, swap)
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "digest")


# --------------------------------------------------------------------------- text that reads as something else


@pytest.mark.parametrize(
    ("url", "char", "shown"),
    [
        ("https://shop.example/item/\u202e24meti", "U+202E", "https://shop.example/item/[U+202E]24meti"),
        ("https://shop.exam\u200bple/item/42", "U+200B", "https://shop.exam[U+200B]ple/item/42"),
        ("https://shop.example/\u2066item\u2069/42", "U+2066", "https://shop.example/[U+2066]item[U+2069]/42"),
    ],
)
def test_invisible_and_bidi_characters_are_flagged_and_shown_escaped(
    tmp_path: Path, url: str, char: str, shown: str
) -> None:
    """A right-to-left override makes ".../item/\u202e24meti" read as ".../item/item42".

    As the requested address (which redirected to the page) it is a warning and shown
    escaped; as the address of a record in the archive, where a browser would have
    percent-encoded it, it is FAILED."""
    from evidence.report import CertificateContext, read_certified, render_certificate

    t = now() - timedelta(seconds=10)
    facts = {"requested_url": url, "final_url": PAGE, "page_title": "Item\u202e 42"}
    bundle, _, policy = _bundle(tmp_path, started=t, facts=facts)
    report = verify(bundle, trust=policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    warned = [w for w in report.warnings if w.startswith("The requested address holds characters")]
    assert len(warned) == 1 and char in warned[0], report.warnings
    assert any(w.startswith("The page title holds") and "U+202E" in w for w in report.warnings)
    text = report.render_text()
    hidden = {"\u202e", "\u200b", "\u2066", "\u2069"}
    assert not hidden & set(text), "the text output holds a raw invisible or bidi character"
    assert f"Page requested:           {shown}" in text
    with BundleView.open(bundle) as view:
        data = read_certified(view, manifest_sha256=dict(report.facts)["Manifest SHA-256"])
    page = render_certificate(report, data, CertificateContext("b.wacz", "0" * 64, 1, "", "now", "t")).decode()
    assert not hidden & set(page), "the certificate holds a raw invisible or bidi character"
    assert f"[{char}]" in page

    other = tmp_path / "as-record"
    other.mkdir()
    facts = {"requested_url": url, "final_url": url}
    bundle, _, policy = _bundle(other, started=t, facts=facts, records=[Rec(url, t + timedelta(seconds=1))])
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "Record 2 of", "not a plain URI", f"[{char}]")


def test_a_newline_in_a_sealed_value_cannot_forge_a_verdict_line(tmp_path: Path) -> None:
    """An operator name ending in "\n\nVERDICT: VERIFIED" on a FAILED bundle; an escape sequence too."""
    from vcheck_helpers import with_package

    fake = "tester\n\nVERDICT: VERIFIED\n  Every check passed.\x1b[2K"
    bundle, _, policy = _bundle(tmp_path, facts={"options": {"case": "K-7", "operator": fake}})
    forged = with_package(bundle, tmp_path / "f.wacz", lambda p: p.update(title="Another page"))
    report = verify(forged, trust=policy)
    failed_at(report, 8, "datapackage.json", "'title'")
    text = report.render_text()
    assert [line for line in text.splitlines() if line.startswith("VERDICT")] == ["VERDICT: FAILED"], text
    assert "Operator:                 tester[U+000A][U+000A]VERDICT: VERIFIED[U+000A]" in text
    assert "\x1b" not in text and "[U+001B][2K" in text


# --------------------------------------------------------------------------- bounded reads


def test_a_pages_list_of_millions_of_lines_is_refused_before_parsing(tmp_path: Path) -> None:
    """20 million ``{}`` lines took 160 s and 3.1 GB of memory to parse before the count was checked."""
    bundle, log, policy = _bundle(tmp_path)
    header = b'{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}\n'
    flood = reseal(bundle, tmp_path / "f.wacz", log, sealed={PAGES_PATH: header + b"{}\n" * 5_000_000})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    report = verify(flood, trust=policy)
    assert time.monotonic() - started < 30.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB
    failed_at(report, 8, PAGES_PATH, "5000001 lines", "a bundle preserves one page")


def test_a_sealed_json_flood_is_refused_before_parsing(tmp_path: Path) -> None:
    """20 million ``{}`` in environment.json: 1.7 GB and 17 s before; refused from a byte count now."""
    from evidence._internal.jsonstrict import MAX_TOKENS, JSONTooLargeError, loads

    flood = b"[" + b"{}," * (MAX_TOKENS // 2) + b"{}]"
    honest, log, policy = _bundle(tmp_path)  # the writer itself refuses to seal such a file
    bundle = reseal(honest, tmp_path / "f.wacz", log, sealed={"evidence/environment.json": flood}, render=False)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = verify(bundle, trust=policy)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    failed_at(report, 8, "evidence/environment.json", "not valid JSON", f"more than the {MAX_TOKENS}")
    with pytest.raises(JSONTooLargeError):
        loads("[" + "0," * MAX_TOKENS + "0]")
    assert loads("[" + "0," * (MAX_TOKENS - 1) + "0]")[-1] == 0  # the limit itself is accepted


def test_a_token_larger_than_any_tsa_may_send_is_refused_unread(tmp_path: Path) -> None:
    from evidence.timestamp import MAX_RESPONSE_BYTES

    bundle, _, policy = _bundle(tmp_path)
    big = b"\x30\x84" + (MAX_RESPONSE_BYTES).to_bytes(4, "big") + bytes(MAX_RESPONSE_BYTES)
    forged = rewrite(bundle, tmp_path / "f.wacz", change={"evidence/checkpoint.1.tsr": big})
    failed_at(verify(forged, trust=policy), 7, "evidence/checkpoint.1.tsr", f"larger than {MAX_RESPONSE_BYTES} bytes")


def test_a_huge_proof_is_refused_before_it_is_split() -> None:
    line = b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
    data = b"c2sp.org/tlog-proof@v1\nindex 1\n" + line * (40_000_000 // len(line)) + b"\nx\n"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with pytest.raises(FormatError, match=f"at most {MAX_PROOF_BYTES}"):
        TlogProof.parse(data)
    assert time.monotonic() - started < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: nothing was split
    with pytest.raises(FormatError, match="64 hashes; at most 63"):
        TlogProof.parse(b"c2sp.org/tlog-proof@v1\nindex 1\n" + line * 64 + b"\nx\n")


def test_a_proof_with_thousands_of_hash_lines_fails_step_4(tmp_path: Path) -> None:
    bundle, _, policy = _bundle(tmp_path)
    proof = members(bundle)[PROOF_PATH]
    head, _, note = proof.partition(b"\n\n")
    bloated = head + b"\n" + b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n" * 30_000 + b"\n" + note
    forged = rewrite(bundle, tmp_path / "f.wacz", change={PROOF_PATH: bloated})
    failed_at(verify(forged, trust=policy), 4, PROOF_PATH, "at most")
