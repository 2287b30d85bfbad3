"""Step 8, the index: ``indexes/index.cdx`` must be, byte for byte, the CDXJ index of the
sealed WARC's records (evidence.bundle.wacz.cdxj_line), so that every line points at a record whose
URL, SURT key, date, digest, status, mime, offset, length and file match, and every indexed
record has its line. A hostile capturer seals whatever it likes, so the index is crafted and
re-sealed for real."""

from __future__ import annotations

import gzip
import importlib
import json
import time
from pathlib import Path

import pytest
from vcheck_helpers import FAVICON, HTML, PAGE, Rec, failed_at, new_log, now, policy_text, sealed
from verify_helpers import members, reseal

from evidence.bundle import INDEX_PATH, WARC_PATH
from evidence.bundle.surt import surt
from evidence.bundle.wacz import cdxj_lines
from evidence.log import Log
from evidence.trust import TrustPolicy
from evidence.verify import Verdict, verify

verify_module = importlib.import_module("evidence.verify.common")


@pytest.fixture
def made(tmp_path: Path) -> tuple[Path, Log, TrustPolicy]:
    log = new_log(tmp_path)
    return sealed(tmp_path, log), log, TrustPolicy.parse(policy_text(log))


def _lines(bundle: Path) -> list[str]:
    return members(bundle)[INDEX_PATH].decode().splitlines()


def _split(line: str) -> tuple[str, str, dict[str, str]]:
    key, ts, data = line.split(" ", 2)
    return key, ts, json.loads(data)


def _join(key: str, ts: str, data: dict[str, str]) -> str:
    return f"{key} {ts} {json.dumps(data, sort_keys=True, separators=(',', ':'))}"


def _with_index(made: tuple[Path, Log, TrustPolicy], tmp: Path, lines: list[str], *, end: str = "\n") -> Path:
    bundle, log, _ = made
    return reseal(bundle, tmp / "f.wacz", log, sealed={INDEX_PATH: ("\n".join(lines) + end).encode()})


def test_the_written_index_is_what_the_verifier_regenerates(
    made: tuple[Path, Log, TrustPolicy], tmp_path: Path
) -> None:
    bundle, _, policy = made
    report = verify(bundle, trust=policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    warc = tmp_path / "w.warc.gz"
    warc.write_bytes(members(bundle)[WARC_PATH])
    assert _lines(bundle) == cdxj_lines(warc, "data.warc.gz") and len(_lines(bundle)) == 2
    assert "indexes/index.cdx is exactly the index of those records (2 lines)" in report.steps[7].detail


def test_the_page_pointing_at_the_favicon_record_fails(made: tuple[Path, Log, TrustPolicy], tmp_path: Path) -> None:
    """The attack of issue 10: replay would show the favicon for the page's address."""
    lines = _lines(made[0])
    page = next(i for i, x in enumerate(lines) if _split(x)[2]["url"] == PAGE)
    icon = next(x for x in lines if _split(x)[2]["url"] == FAVICON)
    key, ts, data = _split(lines[page])
    data["offset"], data["length"] = _split(icon)[2]["offset"], _split(icon)[2]["length"]
    lines[page] = _join(key, ts, data)
    failed_at(verify(_with_index(made, tmp_path, sorted(lines)), trust=made[2]), 8, INDEX_PATH, "does not describe")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", "https://shop.example/item/43"),
        ("digest", "sha1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ("status", "404"),
        ("mime", "image/png"),
        ("filename", "other.warc.gz"),
        ("length", "1"),
        ("offset", "1"),
        ("extra", "x"),
        ("key", "com,example)/"),
        ("ts", "20000101000000"),
    ],
)
def test_a_line_that_does_not_match_its_record_fails(
    made: tuple[Path, Log, TrustPolicy], tmp_path: Path, field: str, value: str
) -> None:
    lines = _lines(made[0])
    i = next(i for i, x in enumerate(lines) if _split(x)[2]["url"] == PAGE)
    key, ts, data = _split(lines[i])
    if field == "key":
        key = value
    elif field == "ts":
        ts = value
    else:
        data[field] = value
    lines[i] = _join(key, ts, data)
    failed_at(verify(_with_index(made, tmp_path, sorted(lines)), trust=made[2]), 8, INDEX_PATH, "Line")


def test_a_missing_line_fails(made: tuple[Path, Log, TrustPolicy], tmp_path: Path) -> None:
    lines = [x for x in _lines(made[0]) if _split(x)[2]["url"] != PAGE]
    failed_at(verify(_with_index(made, tmp_path, lines), trust=made[2]), 8, INDEX_PATH, "has no line", PAGE)


def test_a_repeated_line_fails(made: tuple[Path, Log, TrustPolicy], tmp_path: Path) -> None:
    lines = _lines(made[0])
    failed_at(verify(_with_index(made, tmp_path, sorted([*lines, lines[0]])), trust=made[2]), 8, INDEX_PATH, "repeats")


def test_unsorted_lines_fail(made: tuple[Path, Log, TrustPolicy], tmp_path: Path) -> None:
    lines = sorted(_lines(made[0]), reverse=True)
    failed_at(verify(_with_index(made, tmp_path, lines), trust=made[2]), 8, INDEX_PATH, "order")


@pytest.mark.parametrize("end", ["", "\n\n", "\r\n"])
def test_the_line_endings_are_fixed(made: tuple[Path, Log, TrustPolicy], tmp_path: Path, end: str) -> None:
    failed_at(verify(_with_index(made, tmp_path, _lines(made[0]), end=end), trust=made[2]), 8, INDEX_PATH)


def test_a_record_added_to_the_warc_without_a_line_fails(made: tuple[Path, Log, TrustPolicy], tmp_path: Path) -> None:
    """A second response for the page appended to the sealed WARC (the index left as it was)."""
    from vcheck_helpers import warc_bytes

    bundle, log, policy = made
    extra = warc_bytes([Rec(PAGE, now(), HTML.replace(b"10 EUR", b"999 EUR"))], info_date=now())
    warc = members(bundle)[WARC_PATH] + extra
    fake = reseal(bundle, tmp_path / "f.wacz", log, sealed={WARC_PATH: warc})
    failed_at(verify(fake, trust=policy), 8, INDEX_PATH, "has no line")


def test_resource_and_revisit_records_are_indexed_and_urn_resources_are_not(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    start = now()
    recs = [
        Rec(PAGE, start),
        Rec("https://shop.example/notes.txt", start, b"notes", "text/plain", kind="resource"),
        Rec("urn:evidence:screenshot", start, b"png", "image/png", kind="resource"),
        Rec(FAVICON, start, b"", "image/x-icon", kind="revisit"),
    ]
    bundle = sealed(tmp_path, log, started=start, records=recs)
    policy = TrustPolicy.parse(policy_text(log))
    assert verify(bundle, trust=policy).verdict is Verdict.VERIFIED
    lines = _lines(bundle)
    urls = sorted(_split(x)[2]["url"] for x in lines)
    assert urls == sorted([PAGE, "https://shop.example/notes.txt", FAVICON])
    assert all(_split(x)[0] == surt(_split(x)[2]["url"]) for x in lines)
    assert {_split(x)[2]["mime"] for x in lines} == {"text/html", "text/plain", "warc/revisit"}
    # a line for the urn: resource is refused: it is not an indexed record
    warc = tmp_path / "w.warc.gz"
    warc.write_bytes(members(bundle)[WARC_PATH])
    failed_at(
        verify(_with_index((bundle, log, policy), tmp_path, sorted([*lines, _urn_line(warc)])), trust=policy),
        8,
        INDEX_PATH,
    )


def _urn_line(warc: Path) -> str:
    from warcio.archiveiterator import ArchiveIterator

    with open(warc, "rb") as f:
        it = ArchiveIterator(f)
        for rec in it:
            if rec.rec_headers.get_header("WARC-Target-URI") == "urn:evidence:screenshot":
                data = {
                    "url": "urn:evidence:screenshot",
                    "mime": "image/png",
                    "status": "200",
                    "offset": str(it.get_record_offset()),
                    "length": str(it.get_record_length()),
                    "filename": "data.warc.gz",
                }
                return _join("urn:evidence:screenshot", "20260101000000", data)
    raise AssertionError("no urn record")


def test_the_index_size_is_capped(made: tuple[Path, Log, TrustPolicy], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "MAX_INDEX_BYTES", 100)
    failed_at(verify(made[0], trust=made[2]), 8, INDEX_PATH, "larger than")


def test_the_number_of_indexed_records_is_capped(
    made: tuple[Path, Log, TrustPolicy], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verify_module, "MAX_INDEX_LINES", 1)
    failed_at(verify(made[0], trust=made[2]), 8, WARC_PATH, "more than 1 indexed records")


def test_a_warc_that_inflates_past_the_budget_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sealed WARC whose record decompresses to far more than it occupies (4 MiB of zeros)."""
    log = new_log(tmp_path)
    start = now()
    bundle = sealed(tmp_path, log, started=start, records=[Rec(PAGE, start, b"\0" * (4 << 20))])
    policy = TrustPolicy.parse(policy_text(log))
    assert verify(bundle, trust=policy).verdict is Verdict.VERIFIED
    monkeypatch.setattr(verify_module, "MAX_WARC_INFLATED", 1 << 20)
    assert len(members(bundle)[WARC_PATH]) < 64 << 10
    failed_at(verify(bundle, trust=policy), 8, WARC_PATH, "decompresses to more than")


def test_a_damaged_gzip_member_fails_cleanly(made: tuple[Path, Log, TrustPolicy], tmp_path: Path) -> None:
    bundle, log, policy = made
    warc = members(bundle)[WARC_PATH] + gzip.compress(b"WARC/1.1\r\nthis is no record\r\n")[:-6]
    fake = reseal(bundle, tmp_path / "f.wacz", log, sealed={WARC_PATH: warc})
    failed_at(verify(fake, trust=policy), 8, WARC_PATH)


@pytest.mark.parametrize(
    ("filler", "why", "lines"),
    [
        (b"X-Junk: " + b"a" * (100 << 20), "header line longer than", None),
        (b"\r\n" * (1 << 20), "header lines, more than", 100_000),
    ],
)
def test_a_gigantic_header_line_or_filler_is_refused_in_bounded_memory(
    made: tuple[Path, Log, TrustPolicy],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    filler: bytes,
    why: str,
    lines: int | None,
) -> None:
    """A gzip member of a few hundred KiB that inflates to 100 MiB of one header line (with
    the real MAX_WARC_LINE), or to a million blank lines (MAX_WARC_LINES lowered so that the
    test is quick): warcio reads those line by line, and the verifier stops it."""
    import resource

    if lines is not None:
        monkeypatch.setattr(verify_module, "MAX_WARC_LINES", lines)

    bundle, log, policy = made
    start = json.loads(members(bundle)["evidence/manifest.json"])["capture_started"]
    head = b"WARC/1.1\r\nWARC-Type: metadata\r\n"
    if filler.startswith(b"\r\n"):  # a complete record, then the filler where blank lines go
        head += f"WARC-Date: {start}\r\nContent-Length: 0\r\n\r\n".encode()
    member = gzip.compress(head + filler, 9)
    assert len(member) < 1 << 20
    fake = reseal(bundle, tmp_path / "f.wacz", log, sealed={WARC_PATH: members(bundle)[WARC_PATH] + member})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    failed_at(verify(fake, trust=policy), 8, WARC_PATH, why)
    assert time.monotonic() - started < 120
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200, grown_mib
