"""Certificates state only what was checked (issue 10, items 2 and 9).

- The bundle's own report.html and VERIFY.txt (edition 3) show nothing a later party could
  add: a self-made "Qualified Time-Stamping Authority" token dated 400 days back, extra
  signature lines under the log's clock name or a fake witness leave them byte for byte
  unchanged, and none of it appears on them.
- ``evidence report`` verifies under the user's trust and renders the certificate from the
  result: each claim with its grade; the forgeries appear only graded NOT ANCHORED or "not
  checked"; FAILED says so; UNUSABLE writes nothing.
- Rendering is safe: the bundle's HTML is never rendered, JavaScript is off, every request
  is refused (a local server sees none), the output is one self-contained file written
  atomically, and an existing one is kept without ``--force``.

Real parts throughout: a bundle captured with Chromium, a real log, a real RFC 3161 TSA,
real PDFs read back with pdftotext.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import hashlib
import http.server
import json
import re
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from report_helpers import QUALIFIED, backdated_token, html_text, pdf_text, with_signature_lines
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures
from verify_helpers import make_bundle, members, reseal, rewrite

from evidence._internal.timefmt import utc_text
from evidence.bundle import NOTE_PATH, REPORT_PATH, VERIFY_PATH, BundleView
from evidence.log import Log
from evidence.note import ALG_COSIGNATURE_V1, Note, Signer
from evidence.report import EDITIONS, render_report, render_verify_txt
from evidence.timestamp import TimestampToken
from evidence.trust import TrustPolicy
from evidence.verify import Grade, Report, Verdict, verify

ORIGIN = "certificate.test/evidence"
TSA_CLAIM = "Independent time (RFC 3161)"
SHOT = "evidence/screenshot-viewport.png"
FULL = "evidence/screenshot-full.png"

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Made:
    bundle: Path
    bare: Path  # the same bundle without its RFC 3161 token
    log: Log
    tsa: RunningTSA
    policy_path: Path
    root: Path

    @property
    def policy(self) -> TrustPolicy:
        return TrustPolicy.load(self.policy_path)


def _chromium() -> str:
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        return str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Made:
    root = tmp_path_factory.mktemp("certificate")
    bundle, log = make_bundle(root, local_tsa.url, _chromium(), ORIGIN)
    policy_path = root / "trust.policy"
    policy_path.write_text(
        f"log {log.verifier.vkey()}\nwitness log-clock {log.timestamp_verifier.vkey()}\nquorum none\n"
        + local_tsa.policy_lines()
    )
    bare = rewrite(
        bundle.path, root / "bare.wacz", change={"evidence/checkpoint.1.tsr": None, "evidence/tsa-1.pem": None}
    )
    return Made(bundle.path, bare, log, local_tsa, policy_path, root)


def _pem_of(der: bytes) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return b"".join(c.public_bytes(Encoding.PEM) for c in TimestampToken.parse(der).embedded_certificates())


@dataclass(frozen=True)
class Forged:
    path: Path
    when: dt.datetime

    @property
    def when_text(self) -> str:
        return utc_text(self.when)


@pytest.fixture(scope="module")
def forged_tsa(made: Made) -> tuple[Forged, Forged]:
    """(beside the genuine token, alone): a self-made QTSA token over the bundle's note.

    It claims a day after its real time: a possible time, so the verification does not fail
    on the order of times (test_a_forged_token_dated_before_the_capture_fails_step_8 covers the
    token dated 400 days back), and only the trust decides what it is worth."""
    note = members(made.bundle)[NOTE_PATH]
    der, when = backdated_token(note, made.root / "qtsa", days=-1)
    beside = rewrite(
        made.bundle,
        made.root / "qtsa-beside.wacz",
        change={"evidence/checkpoint.2.tsr": der, "evidence/tsa-2.pem": _pem_of(der)},
    )
    alone = rewrite(
        made.bare,
        made.root / "qtsa-alone.wacz",
        change={"evidence/checkpoint.1.tsr": der, "evidence/tsa-1.pem": _pem_of(der)},
    )
    return Forged(beside, when), Forged(alone, when)


FAKE_WITNESS = "witness.example/qualified-witness"


@pytest.fixture(scope="module")
def forged_lines(made: Made) -> Forged:
    """The token-less bundle with a second clock line under the log's clock name (another key)
    and a fake witness, both cosigning 400 days back, plus an unknown 64-byte line."""
    note = Note.parse(members(made.bare)[NOTE_PATH])
    when = int(time.time()) - 400 * 86400
    clock_impostor = Signer.generate(f"{ORIGIN}/timestamp", ALG_COSIGNATURE_V1)
    witness = Signer.generate(FAKE_WITNESS, ALG_COSIGNATURE_V1)
    unknown = Signer.generate("unknown.example/log")
    lines = [
        clock_impostor.signature_line(note.text_bytes, when),
        witness.signature_line(note.text_bytes, when),
        unknown.signature_line(note.text_bytes),
    ]
    path = with_signature_lines(made.bare, made.root / "lines.wacz", lines)
    return Forged(path, dt.datetime.fromtimestamp(when, dt.UTC))


def _claim(report: Report, name: str) -> tuple[Grade, str]:
    c = next(c for c in report.claims if c.name == name)
    return c.grade, c.detail


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from evidence_cli.main import main

    code = main(argv)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return code, text


# --------------------------------------------------------------------------- the bundle's own files


def test_the_bundle_report_establishes_nothing_and_shows_no_time_signer_or_tsa(made: Made) -> None:
    files = members(made.bundle)
    page, txt = files[REPORT_PATH], files[VERIFY_PATH]
    text = html_text(page)
    assert "This page establishes nothing by itself." in text
    assert "evidence report THIS-BUNDLE.wacz -o certificate.pdf --trust trust.policy" in text
    # Nothing unsealed: not the TSA, not the token file, not the log's signed time, no signer line.
    token = TimestampToken.parse(files["evidence/checkpoint.1.tsr"])
    clock = next(s for s in Note.parse(files[NOTE_PATH]).signatures if s.name.endswith("/timestamp"))
    assert clock.timestamp is not None
    for absent in ("Evidence Test TSA", "checkpoint.1.tsr", utc_text(token.gen_time), utc_text(clock.timestamp)):
        assert absent not in text and absent.encode() not in txt, absent
    assert "Signed by" not in text and "signed that the checkpoint" not in text
    assert b"<script" not in page.lower() and b"Content-Security-Policy" in page
    flat = b" ".join(txt.split())
    assert b"establishes nothing by itself" in flat and b"evidence report THIS-FILE.wacz" in flat
    # The token-less bundle carries exactly the same derived files: they do not depend on tokens.
    bare = members(made.bare)
    assert bare[REPORT_PATH] == page and bare[VERIFY_PATH] == txt


def test_forged_tsa_token_leaves_the_bundle_report_unchanged_and_is_graded(
    made: Made, forged_tsa: tuple[Forged, Forged]
) -> None:
    beside, alone = forged_tsa
    original = members(made.bundle)[REPORT_PATH]
    for forged in (beside, alone):
        with BundleView.open(forged.path) as view:
            assert render_report(view) == original  # a token added later changes nothing on it
            assert render_verify_txt(view) == members(made.bundle)[VERIFY_PATH]
        page = html_text(members(forged.path)[REPORT_PATH])
        assert QUALIFIED not in page and forged.when_text not in page
    report = verify(beside.path, trust=made.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    grade, detail = _claim(report, TSA_CLAIM)
    assert grade is Grade.VERIFIED
    assert f"checkpoint.2.tsr: NOT ANCHORED: claims the time {beside.when_text} by CN={QUALIFIED}" in detail
    assert not detail.startswith(f"The entry existed no later than {beside.when_text}")
    report = verify(alone.path, trust=made.policy)
    assert report.verdict is Verdict.NOT_ANCHORED, report.render_text()
    assert _claim(report, TSA_CLAIM)[0] is Grade.NOT_ANCHORED
    assert _claim(report, "Recorded in the log")[0] is Grade.VERIFIED


def test_a_forged_token_dated_before_the_capture_fails_step_8(made: Made, tmp_path: Path) -> None:
    """The issue's self-made "Qualified" TSA token dated 400 days back: besides never showing on
    the bundle's report, it cannot be true (a time-stamp over the checkpoint that holds the
    capture, dated before the capture), so the verification FAILS at step 8."""
    note = members(made.bundle)[NOTE_PATH]
    der, when = backdated_token(note, tmp_path / "qtsa", days=400)
    change = {"evidence/checkpoint.2.tsr": der, "evidence/tsa-2.pem": _pem_of(der)}
    forged = rewrite(made.bundle, tmp_path / "qtsa-400.wacz", change=change)
    assert members(forged)[REPORT_PATH] == members(made.bundle)[REPORT_PATH]
    report = verify(forged, trust=made.policy)
    assert report.verdict is Verdict.FAILED, report.render_text()
    assert report.failed_step is not None and report.failed_step.number == 8
    assert "evidence/checkpoint.2.tsr" in report.failed_step.files
    assert "cannot be true" in report.failed_step.detail and utc_text(when) in report.failed_step.detail


def test_extra_signature_lines_leave_the_bundle_report_unchanged_and_are_not_counted(
    made: Made, forged_lines: Forged
) -> None:
    files = members(forged_lines.path)
    assert files[REPORT_PATH] == members(made.bare)[REPORT_PATH]
    page = html_text(files[REPORT_PATH])
    assert FAKE_WITNESS not in page and forged_lines.when_text not in page
    report = verify(forged_lines.path, trust=made.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    grade, detail = _claim(report, "Witnesses")
    assert grade is Grade.NONE
    assert f"Also present, not checked: {ORIGIN}/timestamp (key ID" in detail and FAKE_WITNESS in detail
    clock_grade, clock_detail = _claim(report, "Signed time (the log's clock)")
    assert clock_grade is Grade.VERIFIED and forged_lines.when_text not in clock_detail
    assert forged_lines.when_text not in report.render_text()


def test_an_older_edition_still_verifies_but_the_verdict_warns_about_it(made: Made, tmp_path: Path) -> None:
    assert EDITIONS[0] == 3
    with BundleView.open(made.bundle) as view:
        old = {REPORT_PATH: render_report(view, edition=2), VERIFY_PATH: render_verify_txt(view, edition=2)}
    assert b"Signed by" in old[REPORT_PATH]  # edition 2 lists signature lines as facts
    earlier = rewrite(made.bundle, tmp_path / "earlier.wacz", change=old)
    report = verify(earlier, trust=made.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    [warning] = [w for w in report.warnings if "edition 2" in w]
    assert f"{REPORT_PATH} (edition 2) and {VERIFY_PATH} (edition 2)" in warning
    assert "as if they were facts" in warning and "evidence report" in warning
    assert not any("edition" in w for w in verify(made.bundle, trust=made.policy).warnings)
    from evidence.report import CertificateContext, render_certificate

    cert = html_text(render_certificate(report, None, CertificateContext("e.wacz", "0" * 64, 1, "", "now", "t")))
    assert "Warnings from the verification" in cert and warning in cert
    edited = rewrite(made.bundle, tmp_path / "edited.wacz", change={REPORT_PATH: old[REPORT_PATH] + b" "})
    report = verify(edited, trust=made.policy)
    assert report.verdict is Verdict.FAILED and report.failed_step is not None
    assert report.failed_step.number == 8 and report.failed_step.files == (REPORT_PATH,)


# --------------------------------------------------------------------------- evidence report


def _established(text: str) -> str:
    m = re.search(r"Established: (.*?)\.", text)
    assert m is not None, text[:2000]
    return m.group(1)


def test_certificate_of_a_forged_tsa_token_shows_it_only_as_not_anchored(
    made: Made, forged_tsa: tuple[Forged, Forged], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    beside, alone = forged_tsa
    pdf = tmp_path / "alone.pdf"
    code, out = _cli(["report", str(alone.path), "-o", str(pdf), "--trust", str(made.policy_path)], capsys)
    assert code == 3, out
    text = pdf_text(pdf)
    assert "VERDICT: VERIFIED BUT NOT ANCHORED IN TRUST" in text
    assert "Independent time" not in _established(text)
    assert "Recorded in the log" in _established(text)
    assert re.search(r"Independent time \(RFC 3161\) NOT ANCHORED IN TRUST \(NOT established", text), text
    # Every mention of the forged authority or its time is one that says it is not anchored.
    assert text.count(QUALIFIED) >= 1
    for m in re.finditer(re.escape(alone.when_text) + "|" + re.escape(QUALIFIED), text):
        before = text[max(0, m.start() - 120) : m.start()]
        assert "NOT ANCHORED" in before or "Time-stamping authority certificate" in before, before
    # Beside a pinned token: VERIFIED, the established time is the genuine one.
    html = tmp_path / "beside.html"
    code, out = _cli(["report", str(beside.path), "-o", str(html), "--trust", str(made.policy_path)], capsys)
    assert code == 0, out
    text = html_text(html.read_bytes())
    assert "VERDICT: VERIFIED" in text and "Independent time" in _established(text)
    genuine = TimestampToken.parse(members(made.bundle)["evidence/checkpoint.1.tsr"]).gen_time
    assert f"The entry existed no later than {utc_text(genuine)} (checkpoint.1.tsr" in text
    assert f"checkpoint.2.tsr: NOT ANCHORED: claims the time {beside.when_text} by CN={QUALIFIED}" in text


def test_certificate_of_extra_signature_lines_never_shows_them_as_established(
    made: Made, forged_lines: Forged, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pdf = tmp_path / "lines.pdf"
    code, out = _cli(["report", str(forged_lines.path), "-o", str(pdf), "--trust", str(made.policy_path)], capsys)
    assert code == 0, out
    text = pdf_text(pdf)
    assert "Witnesses" not in _established(text) and "Signed time (the log's clock)" in _established(text)
    assert forged_lines.when_text not in text  # the forged lines' time is nowhere
    for m in re.finditer(re.escape(FAKE_WITNESS), text):
        assert "not checked" in text[max(0, m.start() - 200) : m.start()].lower()


def test_certificate_shows_the_grades_the_trust_the_facts_and_the_screenshot(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVIDENCE_HOME", str(tmp_path / "home"))  # no default trust policy
    out_html = tmp_path / "c.html"
    code, _ = _cli(["report", str(made.bundle), "-o", str(out_html), "--trust", str(made.policy_path)], capsys)
    assert code == 0
    page = out_html.read_bytes()
    text = html_text(page)
    report = verify(made.bundle, trust=made.policy)
    for c in report.claims:
        assert f"{c.name} {c.grade.value}" in text
    assert f"Checked against {report.trust} (from trust policy {made.policy_path})" in text
    sha = hashlib.sha256(made.bundle.read_bytes()).hexdigest()
    assert f"Bundle file SHA-256 {sha}" in text
    shot = members(made.bundle)[FULL]  # the whole page
    assert f'src="data:image/png;base64,{base64.b64encode(shot).decode()}"'.encode() in page
    manifest_fact = dict(report.facts)["Manifest SHA-256"]
    assert manifest_fact in text and "capture machine clock" in text
    # Without trust: NOT ANCHORED, the fingerprints to confirm, exit 3.
    code, _ = _cli(["report", str(made.bundle), "-o", str(tmp_path / "n.html"), "--log-key", "x+0+y"], capsys)
    assert code == 2  # a malformed key is a usage error, nothing written
    assert not (tmp_path / "n.html").exists()
    ctext = html_text(_render_to(made.bundle, tmp_path / "n2.html", [], capsys, expect=3))
    assert (
        "VERDICT: VERIFIED BUT NOT ANCHORED IN TRUST" in ctext and "Found in the bundle, not anchored in trust" in ctext
    )
    assert "Established: Integrity of the preserved files." in ctext
    assert "The seal is not anchored in trust" in ctext and "The seal is not anchored in trust" not in text


def _render_to(bundle: Path, out: Path, extra: list[str], capsys: pytest.CaptureFixture[str], *, expect: int) -> bytes:
    code, text = _cli(["report", str(bundle), "-o", str(out), *extra], capsys)
    assert code == expect, text
    return out.read_bytes()


def test_capture_warnings_are_shown_prominently_and_long_values_bounded(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    cap = json.loads(members(made.bundle)["evidence/capture.json"])
    cap["warnings"] = ['CLOAKING: the raw fetch got "999 EUR" but the browser was served "10 EUR"']
    # Hostile sizes, all shown bounded: a long title, many warnings and redirects, a PNG that
    # declares 100,000 x 100,000 pixels in a few bytes (never handed to the browser).
    cap["page_title"] = "T" * 200_000
    cap["warnings"] += [f"warning {i}" for i in range(150)]
    cap["redirect_chain"] = [{"status": 302, "url": f"https://x.example/{i}"} for i in range(150)]
    ihdr = b"IHDR" + struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + ihdr + struct.pack(">I", zlib.crc32(ihdr))
    resealed = reseal(
        made.bundle,
        tmp_path / "warned.wacz",
        made.log,
        sealed={
            "evidence/capture.json": (json.dumps(cap, indent=2, sort_keys=True) + "\n").encode(),
            SHOT: bomb,
            FULL: bomb,
        },
        tsas=[made.tsa.config()],
    )
    page = _render_to(resealed, tmp_path / "w.html", ["--trust", str(made.policy_path)], capsys, expect=0)
    text = html_text(page)
    assert "Warnings recorded by the capture" in text and 'CLOAKING: the raw fetch got "999 EUR"' in text
    assert text.index("Warnings recorded by the capture") < text.index("The claims, each graded")
    assert 'CLOAKING: the raw fetch got "999 EUR"' in html_text(members(resealed)[REPORT_PATH])
    for shown in (page, members(resealed)[REPORT_PATH]):
        assert b"T" * 10_001 not in shown and b"(200000 characters in all; the whole value is in the bundle)" in shown
        assert b"warning 98" in shown and b"warning 99" not in shown and b"and 51 more, in the bundle" in shown
        assert b"https://x.example/99" in shown and b"https://x.example/100" not in shown
        assert b"and 50 more steps, in capture.json" in shown
    assert b'id="screenshot"' not in page and "declares 100000 x 100000 pixels" in text


def test_failed_bundle_gives_a_document_that_says_failed_and_shows_nothing_of_it(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = members(made.bundle)
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={SHOT: files["evidence/screenshot-full.png"]})
    pdf = tmp_path / "bad.pdf"
    code, out = _cli(["report", str(bad), "-o", str(pdf), "--trust", str(made.policy_path)], capsys)
    assert code == 1 and "FAILED at step 2" in out
    text = pdf_text(pdf)
    assert "Verification FAILED: this is not a certificate of preservation" in text
    assert "VERDICT: FAILED" in text and "Failed at step 2" in text and SHOT in text
    assert "Established:" not in text and "What the capture recorded" not in text
    html = tmp_path / "bad.html"
    _cli(["report", str(bad), "-o", str(html), "--trust", str(made.policy_path)], capsys)
    assert b"data:image" not in html.read_bytes()


def test_unusable_input_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junk = tmp_path / "junk.wacz"
    junk.write_bytes(b"not a zip at all")
    for target in (junk, tmp_path / "missing.wacz"):
        code, out = _cli(["report", str(target), "-o", str(tmp_path / "c.pdf")], capsys)
        assert code == 2 and "no certificate written" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.wacz"]
    code, out = _cli(["report", str(junk), "-o", str(tmp_path / "c.txt")], capsys)
    assert code == 2 and "must end in .pdf" in out


def test_an_existing_output_is_kept_without_force(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.pdf"
    out.write_bytes(b"the lawyer's earlier file")
    args = ["report", str(made.bundle), "-o", str(out), "--trust", str(made.policy_path)]
    code, text = _cli(args, capsys)
    assert code == 2 and "already exists; refusing to overwrite it" in text and "--force" in text
    assert out.read_bytes() == b"the lawyer's earlier file"
    code, text = _cli([*args, "--force"], capsys)
    assert code == 0, text
    assert out.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pdf"]  # no temporary file left


def test_two_certificates_in_one_folder_are_independent_and_self_contained(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = members(made.bundle)
    other = reseal(
        made.bundle,
        made.root / "other.wacz",
        made.log,
        sealed={FULL: files[SHOT]},
        tsas=[made.tsa.config()],
    )
    folder = tmp_path / "out"
    folder.mkdir()
    trust = ["--trust", str(made.policy_path)]
    pages = {}
    for name, bundle in (("one", made.bundle), ("two", other)):
        pages[name] = _render_to(bundle, folder / f"{name}.html", trust, capsys, expect=0)
        _render_to(bundle, folder / f"{name}.pdf", trust, capsys, expect=0)
    assert sorted(p.name for p in folder.iterdir()) == ["one.html", "one.pdf", "two.html", "two.pdf"]
    shots = {"one": files[FULL], "two": members(other)[FULL]}
    assert shots["one"] != shots["two"]
    for name, page in pages.items():
        mine = base64.b64encode(shots[name]).decode()
        theirs = base64.b64encode(shots["two" if name == "one" else "one"]).decode()
        assert f'src="data:image/png;base64,{mine}"' in page.decode() and theirs not in page.decode()
        # Self-contained: every src/href is a data: URI; nothing refers to a file beside it.
        refs = re.findall(rb'(?:src|href)\s*=\s*"([^"]*)"', page)
        assert refs and all(r.startswith(b"data:") for r in refs), refs[:3]
    for name in ("one", "two"):
        assert (
            b"/Subtype /Image" in (folder / f"{name}.pdf").read_bytes()
            or b"/Subtype/Image" in (folder / f"{name}.pdf").read_bytes()
        )


# --------------------------------------------------------------------------- safe rendering


class _Recorder:
    """A local HTTP server that records every request it gets."""

    def __init__(self) -> None:
        seen: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"x")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.seen = seen
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    r = _Recorder()
    yield r
    r.close()


def _hostile_html(base: str) -> bytes:
    return f"""<!DOCTYPE html><html><head>
<link rel="stylesheet" href="{base}/css"><style>@import url({base}/import); body{{background:url({base}/bg)}}
@font-face{{font-family:x;src:url({base}/font)}} p{{font-family:x}}</style>
<meta http-equiv="refresh" content="0;url={base}/refresh"></head><body><p id="t">ORIGINAL TEXT</p>
<img src="{base}/img"><iframe src="{base}/frame"></iframe><object data="{base}/object"></object>
<script src="{base}/script.js"></script>
<script>document.getElementById('t').textContent='JS RAN'; fetch('{base}/fetch');
new Image().src='{base}/js-img'</script>
</body></html>""".encode()


def test_pdf_rendering_runs_no_script_and_refuses_every_request(recorder: _Recorder, tmp_path: Path) -> None:
    from evidence.report.pdf import html_to_pdf

    rendering = html_to_pdf(_hostile_html(recorder.base), executable=_chromium())
    time.sleep(1.0)  # give a stray request time to arrive
    assert recorder.seen == []
    assert any(u.startswith(recorder.base) for u in rendering.refused)  # the route saw and refused them
    pdf = tmp_path / "h.pdf"
    pdf.write_bytes(rendering.pdf)
    text = pdf_text(pdf)
    assert "ORIGINAL TEXT" in text and "JS RAN" not in text


def test_report_never_renders_the_bundle_html_nor_runs_its_script(
    made: Made, recorder: _Recorder, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    # 1. A hostile report.html in the bundle (it fails step 8, and is never opened).
    hostile = rewrite(made.bundle, tmp_path / "hostile.wacz", change={REPORT_PATH: _hostile_html(recorder.base)})
    pdf = tmp_path / "hostile.pdf"
    code, _ = _cli(["report", str(hostile), "-o", str(pdf), "--trust", str(made.policy_path)], capsys)
    assert code == 1
    assert "ORIGINAL TEXT" not in pdf_text(pdf) and "Failed at step 8" in pdf_text(pdf)
    # 2. Markup in sealed data (the page title), consistently sealed: shown as text, never run.
    cap = json.loads(members(made.bundle)["evidence/capture.json"])
    cap["page_title"] = f"<script>fetch('{recorder.base}/title')</script><img src=\"{recorder.base}/t.png\">"
    sealed = reseal(
        made.bundle,
        tmp_path / "title.wacz",
        made.log,
        sealed={"evidence/capture.json": (json.dumps(cap, indent=2, sort_keys=True) + "\n").encode()},
        tsas=[made.tsa.config()],
    )
    pdf = tmp_path / "title.pdf"
    code, _ = _cli(["report", str(sealed), "-o", str(pdf), "--trust", str(made.policy_path)], capsys)
    assert code == 0
    assert f"<script>fetch('{recorder.base}/title')</script>" in pdf_text(pdf)
    time.sleep(1.0)
    assert recorder.seen == []


def test_our_certificate_makes_no_request_at_all(made: Made, tmp_path: Path) -> None:
    from evidence.report import CertificateContext, read_certified, render_certificate
    from evidence.report.pdf import html_to_pdf

    report = verify(made.bundle, trust=made.policy)
    with BundleView.open(made.bundle) as view:
        data = read_certified(view, manifest_sha256=dict(report.facts)["Manifest SHA-256"])
    ctx = CertificateContext("b.wacz", "0" * 64, 1, "", "now", "evidence test")
    page = render_certificate(report, data, ctx)
    assert render_certificate(report, data, ctx) == page  # pure
    assert html_to_pdf(page, executable=_chromium()).refused == ()


def test_sandbox_flag_only_as_root() -> None:
    import os

    from evidence.report.pdf import sandbox_enabled

    assert sandbox_enabled() is (os.geteuid() != 0)


def test_the_command_line(made: Made, tmp_path: Path) -> None:
    out = tmp_path / "cli.pdf"
    r = subprocess.run(
        [sys.executable, "-m", "evidence_cli.main", "report", str(made.bundle), "-o", str(out), "--trust",
         str(made.policy_path)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert f"Wrote {out}: VERIFIED." in r.stdout and out.read_bytes().startswith(b"%PDF")


# --------------------------------------------------------------------------- languages, evidence number, QR (issue 14)

CASE, OPERATOR = "2026-017", "J. Smith"


def _tool(name: str) -> str:
    """A system tool (poppler-utils, zbar-tools) on a plain PATH, or skip saying which package brings it."""
    import os
    import shutil

    found = shutil.which(name, path=os.defpath + ":/usr/bin:/usr/local/bin")
    if found is None:
        package = {"zbarimg": "zbar-tools"}.get(name, "poppler-utils")
        pytest.skip(f"{name} is needed for this test (apt-get install {package})")
    return found


@dataclass(frozen=True)
class Rendered:
    bundle: Path
    policy: Path
    report: Report
    pdf: Path
    html: Path


@pytest.fixture(scope="module")
def bilingual(made: Made, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """A bundle with a case and an operator, its certificate in English and Chinese, as PDF and HTML."""
    from evidence_cli.main import main

    def edit(manifest: dict[str, object]) -> None:
        manifest["case"], manifest["operator"] = CASE, OPERATOR

    root = tmp_path_factory.mktemp("bilingual")
    cap = json.loads(members(made.bundle)["evidence/capture.json"])
    cap["options"]["case"], cap["options"]["operator"] = CASE, OPERATOR
    sealed = {"evidence/capture.json": (json.dumps(cap, indent=2, sort_keys=True) + "\n").encode()}
    bundle = reseal(
        made.bundle, root / "case.wacz", made.log, sealed=sealed, edit_manifest=edit, tsas=[made.tsa.config()]
    )
    report = verify(bundle, trust=made.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    out = {}
    for suffix in ("pdf", "html"):
        out[suffix] = root / f"certificate.{suffix}"
        args = ["report", str(bundle), "-o", str(out[suffix]), "--trust", str(made.policy_path), "--lang", "en,zh"]
        assert main(args) == 0
    return Rendered(bundle, made.policy_path, report, out["pdf"], out["html"])


def _cli_main(argv: list[str]) -> int:
    from evidence_cli.main import main

    return main(argv)


def _expected_summary(report: Report) -> list[str]:
    """The summary's facts as the test computes them from the verification itself."""
    d = dict(report.data)
    when = dt.datetime.fromisoformat(str(d["capture_started"]).replace("Z", "+00:00"))
    return [
        f"On {when.day} {when:%B} {when.year} at {when:%H:%M:%S} UTC, {OPERATOR} preserved {d['url']} for case {CASE}.",
        f"as entry {d['entry_index']} of the log {d['log_origin']}",
        f"evidence number {d['log_origin']}#{d['entry_index']}",
        f"{when.year}年{when.month}月{when.day}日 {when:%H:%M:%S}（UTC），{OPERATOR}保全了网页",
        f"记为日志 {d['log_origin']} 的第 {d['entry_index']} 号日志条目",
    ]


def _check_qr(images: list[Path], report: Report) -> None:
    from evidence.report import EvidenceNumber

    r = subprocess.run(
        [_tool("zbarimg"), "--quiet", "--raw", *map(str, images)], capture_output=True, text=True, timeout=60
    )
    codes = [line for line in r.stdout.splitlines() if line.startswith("evidence:")]
    assert len(codes) == 1, (r.returncode, r.stdout, r.stderr)
    number = EvidenceNumber.parse_qr(codes[0])
    d = dict(report.data)
    assert (number.origin, number.index, number.tree_size) == (d["log_origin"], d["entry_index"], d["tree_size"])
    assert number.manifest_sha256 == d["manifest_sha256"] and number.root_hash.hex() == d["root_hash"]


def test_the_pdf_certificate_in_both_languages_embeds_a_cjk_font_and_its_qr_decodes(
    bilingual: Rendered, tmp_path: Path
) -> None:
    text = pdf_text(bilingual.pdf)
    # The text without the page footers (they fall amid a sentence broken across pages), and
    # without spaces (pdftotext breaks Chinese lines with one).
    raw = subprocess.run([_tool("pdftotext"), str(bilingual.pdf), "-"], capture_output=True, text=True, check=True)
    footer = re.compile(r"^(\d+ / \d+|" + re.escape(bilingual.bundle.name) + " · .*#\\d+)$")
    flat = "".join(w for line in raw.stdout.splitlines() if not footer.match(line.strip()) for w in line.split())
    for sentence in _expected_summary(bilingual.report):
        assert "".join(sentence.split()) in flat, sentence
    assert "Independent time: the files existed no later than" in text and "独立时间：时间戳机构" in flat
    for zh in (
        "电子证据保全证书",
        "证据编号",
        "封存：每个文件的指纹（SHA-256 哈希值）",
        "时间来源",
        "如何核验",
        "术语说明",
    ):
        assert zh in text, zh
    # Page numbers and the bundle's name at the foot of every page.
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(
        [_tool("pdfinfo"), str(bilingual.pdf)], capture_output=True, text=True, check=True).stdout).group(1))  # type: ignore[union-attr]  # fmt: skip
    assert pages >= 2 and f"1 / {pages}" in text and f"{pages} / {pages}" in text
    assert text.count(bilingual.bundle.name) >= pages

    # The Chinese is drawn with glyphs embedded in the PDF, not left to the reader's machine.
    # Chromium embeds the CFF outlines of Noto CJK as Type 3 fonts (docs/design.md): the
    # English-only certificate has none, the bilingual one has them, and every font is embedded.
    def fonts(pdf: Path) -> list[list[str]]:
        out = subprocess.run([_tool("pdffonts"), str(pdf)], capture_output=True, text=True, check=True).stdout
        return [line.split() for line in out.splitlines()[2:]]

    english = tmp_path / "en.pdf"
    assert _cli_main(["report", str(bilingual.bundle), "-o", str(english), "--trust", str(bilingual.policy)]) == 0
    assert all(f[-5] == "yes" for f in fonts(bilingual.pdf)), fonts(bilingual.pdf)
    assert any("Type" in f and "3" in f for f in fonts(bilingual.pdf))
    assert not any("Type" in f and "3" in f for f in fonts(english)), fonts(english)
    assert "电子证据保全证书" not in pdf_text(english)
    # The pages as images: the QR code decodes to the verified facts.
    subprocess.run(
        [_tool("pdftoppm"), "-r", "150", "-f", "1", "-l", "2", "-png", str(bilingual.pdf), str(tmp_path / "page")],
        check=True, timeout=120,
    )  # fmt: skip
    _check_qr(sorted(tmp_path.glob("page*.png")), bilingual.report)


def test_the_html_certificate_renders_in_chromium_with_the_summary_cjk_text_and_a_qr_that_decodes(
    bilingual: Rendered, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    page_html = bilingual.html.read_bytes()
    text = html_text(page_html)
    for sentence in _expected_summary(bilingual.report):
        assert sentence in text, sentence
    shot = tmp_path / "html.png"

    def render() -> tuple[str, bytes, bytes]:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
            try:
                page = browser.new_page(java_script_enabled=False, viewport={"width": 1000, "height": 800})
                page.set_content(page_html.decode())
                page.screenshot(path=str(shot), full_page=True)
                heading = page.locator("h1 span[lang='zh-Hans']").first
                drawn, words = heading.screenshot(), heading.inner_text()
                # Not tofu: the same heading in characters no font has (private use) draws boxes;
                # the Chinese one must look different from them.
                head = page_html.decode().split("</h1>", 1)[0] + "</h1></body></html>"
                page.set_content(head.replace("电子证据保全证书", "\ue000" * 8))
                boxes = page.locator("h1 span[lang='zh-Hans']").first.screenshot()
                return words, drawn, boxes
            finally:
                browser.close()

    # Playwright's sync API refuses a thread with an asyncio loop (an earlier test's): a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        words, drawn, boxes = pool.submit(render).result(timeout=120)
    assert words == "电子证据保全证书" and drawn != boxes
    _check_qr([shot], bilingual.report)


def test_chinese_only_and_a_bad_language(made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = _render_to(made.bundle, tmp_path / "zh.html", ["--trust", str(made.policy_path), "--lang", "zh"], capsys,
                      expect=0)  # fmt: skip
    text = html_text(page)
    assert b'<html lang="zh-Hans">' in page
    assert "电子证据保全证书" in text and "核验结论: 已验证" in text and "已确认： 保全文件的完整性" in text
    assert "Certificate of preservation" not in text and "The claims, each graded" not in text
    code, out = _cli(["report", str(made.bundle), "-o", str(tmp_path / "x.html"), "--lang", "fr"], capsys)
    assert code == 2 and "give en, zh or en,zh" in out and not (tmp_path / "x.html").exists()


def test_no_evidence_number_without_a_trusted_log_key(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = _render_to(made.bundle, tmp_path / "n.html", [], capsys, expect=3)
    text = html_text(page)
    assert "No evidence number is given" in text and 'id="qr"' not in page.decode()
    assert "their place in a log is NOT established" in text
    # The summary never places the files in a log (the attempts check's own step detail may
    # name the record's index in the bundle's checkpoint: that is the verifier's finding, graded).
    assert ") as entry" not in text and "evidence number " + made.bundle.name not in text


def test_the_fre902_form_is_filled_in_from_the_bundle_and_marked_as_a_template(
    bilingual: Rendered, made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from evidence import __version__

    page = _render_to(bilingual.bundle, tmp_path / "form.html",
                      ["--trust", str(made.policy_path), "--form", "fre902"], capsys, expect=0)  # fmt: skip
    text = html_text(page)
    d = dict(bilingual.report.data)
    assert text.count("TEMPLATE, NOT LEGAL ADVICE.") == 2
    assert "Federal Rules of Evidence 902(11), 902(13) and 902(14)" in text
    assert f"evidence {__version__}" in text and OPERATOR in text and CASE in text
    assert d["manifest_sha256"] in text and f"evidence number {d['log_origin']}#{d['entry_index']}" in text
    for f in json.loads(members(bilingual.bundle)["evidence/manifest.json"])["files"]:
        assert f["sha256"] in text
    assert "Signature" in text and "28 U.S.C. § 1746" in text
    files = members(made.bundle)
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={SHOT: files[FULL]})
    code, out = _cli(["report", str(bad), "-o", str(tmp_path / "f.html"), "--form", "fre902", "--trust",
                      str(made.policy_path)], capsys)  # fmt: skip
    assert code == 1 and "no form written" in out and not (tmp_path / "f.html").exists()


def test_the_qr_text_format_round_trips_and_refuses_malformed_text() -> None:
    from evidence.errors import FormatError
    from evidence.report import EvidenceNumber

    n = EvidenceNumber("log.example/a;b c", 11, 12, "ab" * 32, bytes(range(32)))
    text = n.qr_text()
    assert text.startswith("evidence:1;o=log.example/a%3Bb%20c;i=11;s=12;m=")
    assert EvidenceNumber.parse_qr(text) == n and n.label == "log.example/a;b c#11"
    assert EvidenceNumber.parse_qr(text + ";x=later") == n
    for bad in ("evidence:2;o=a", text.replace("i=11", "i=12"), text.replace("i=11", "i=-1"),
                text.replace(";m=ab", ";m=zz"), text.replace(";s=12", ""), text + ";o=x"):  # fmt: skip
        with pytest.raises(FormatError):
            EvidenceNumber.parse_qr(bad)
