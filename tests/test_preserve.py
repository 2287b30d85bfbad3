"""End to end: `evidence.capture()` and `preserve` against the local site, a local TSA and a real log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
from capture_helpers import load_site_module
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401

import evidence
from evidence.bundle import MANIFEST_PATH, NOTE_PATH, PROOF_PATH, BundleView, log_entry
from evidence.capture import find_chromium
from evidence.capture.errors import BrowserNotFoundError
from evidence.checkpoint import TlogProof
from evidence.log import Log
from evidence.wacz import Member, write_zip


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    running = load_site_module().TestSite.start()
    yield running
    running.close()


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("EVIDENCE_HOME", str(h))
    return h


def _env(home: Path) -> dict[str, str]:
    return dict(os.environ, EVIDENCE_HOME=str(home))


def test_capture_api_end_to_end(tmp_path: Path, home: Path, site: Any, chromium: str, local_tsa: RunningTSA) -> None:
    out = tmp_path / "out"
    bundle = evidence.capture(
        site.url("/listing"), out_dir=out, tsa=local_tsa.url, case="2026-017", operator="J. Smith"
    )
    assert bundle.path.parent == out and bundle.path.suffix == ".wacz"
    assert bundle.timestamps == 1 and not bundle.http_error and bundle.status == 200
    # The embedded default log was created in the home, with its keys apart.
    log = Log.open(home / "log", keys_dir=home / "keys")
    assert (home / "keys" / "log.skey").is_file()
    with BundleView.open(bundle.path) as view:
        manifest_bytes = view.read(MANIFEST_PATH)
        manifest = json.loads(manifest_bytes)
        assert manifest["case"] == "2026-017" and manifest["operator"] == "J. Smith"
        assert len(bytes.fromhex(manifest["salt"])) == 32
        for f in manifest["files"]:
            assert view.sha256(f["path"]) == (f["sha256"], f["size"])
        sealed = {f["path"] for f in manifest["files"]}
        assert {"archive/data.warc.gz", "evidence/screenshot-full.png", "evidence/page.pdf"} <= sealed
        # The log holds exactly the versioned record of the manifest's digest.
        entry = log_entry(manifest_bytes)
        assert log.entry(bundle.log_index) == entry
        proof = TlogProof.parse(view.read(PROOF_PATH))
        proof.verify(entry, [log.verifier], origin=log.origin)
        assert view.read(NOTE_PATH) == proof.checkpoint_note
        tokens = view.tokens()
        assert len(tokens) == 1
        note_file = tmp_path / "checkpoint.note"
        note_file.write_bytes(proof.checkpoint_note)
        tsr = tmp_path / "token.tsr"
        tsr.write_bytes(tokens[0][1])
    r = subprocess.run(
        ["openssl", "ts", "-verify", "-in", str(tsr), "-data", str(note_file), "-CAfile", str(local_tsa.root_path)],
        capture_output=True,
        text=True,
    )
    assert "Verification: OK" in r.stdout, r.stdout + r.stderr


def test_bundle_zip_is_deterministic(tmp_path: Path) -> None:
    members = [Member("a/b.txt", b"hello"), Member("c.bin", bytes(range(256)))]
    write_zip(tmp_path / "1.zip", members)
    time.sleep(1.1)
    write_zip(tmp_path / "2.zip", members)
    assert (tmp_path / "1.zip").read_bytes() == (tmp_path / "2.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "1.zip") as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def test_evidence_capture_stays_the_function() -> None:
    import evidence.capture.browser
    from evidence.capture import discovery  # noqa: F401

    assert callable(evidence.capture) and evidence.capture.__module__ == "evidence.api"


def test_preserve_batch_cli(tmp_path: Path, home: Path, site: Any, chromium: str, local_tsa: RunningTSA) -> None:
    out = tmp_path / "out"
    urls = [site.url("/listing"), "javascript:alert(1)", site.url("/not-found")]
    r = subprocess.run(
        ["preserve", *urls, "-o", str(out), "--tsa", local_tsa.url, "--json", "--case", "C-9"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 4, r.stderr
    doc = json.loads(r.stdout)
    ok = [x for x in doc["results"] if x["ok"]]
    bad = [x for x in doc["results"] if not x["ok"]]
    assert len(ok) == 2 and len(bad) == 1 and "javascript" in bad[0]["url"]
    assert "Traceback" not in r.stderr
    assert [x["log_index"] for x in ok] == [0, 1]
    assert ok[1]["http_error"] is True and ok[1]["status"] == 404
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(x["bundle"]).name for x in ok)
    assert doc["log_key"].startswith("evidence.invalid/")


def test_capture_failure_writes_nothing(tmp_path: Path, home: Path, chromium: str) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    out = tmp_path / "out"
    r = subprocess.run(
        ["preserve", f"http://127.0.0.1:{port}/", "-o", str(out)],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert "refused" in r.stderr.lower() and "Traceback" not in r.stderr
    assert list(out.iterdir()) == []
    assert Log.open(home / "log", keys_dir=home / "keys").size == 0


def test_killed_preserve_leaves_no_half_bundle(tmp_path: Path, home: Path, site: Any, chromium: str) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        ["preserve", site.url("/slow?ms=8000"), "-o", str(out)],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while time.time() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.1)  # wait until the capture is under way
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not list(out.glob("*.wacz"))
    leftovers = list(out.iterdir())
    assert leftovers, "the capture should have been under way"
    # The next run cleans up what the killed one left, and works.
    r = subprocess.run(
        ["preserve", site.url("/listing"), "-o", str(out), "-q"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert [p.suffix for p in out.iterdir()] == [".wacz"]


def test_report_pdf(tmp_path: Path, home: Path, site: Any, chromium: str) -> None:
    bundle = evidence.capture(site.url("/listing"), out_dir=tmp_path)
    pdf = tmp_path / "report.pdf"
    r = subprocess.run(
        ["evidence", "report", str(bundle.path), "-o", str(pdf)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000


def test_a_bundle_preserved_while_the_tsa_was_down_gets_its_time_stamp_later(
    tmp_path: Path, home: Path, site: Any, chromium: str, local_tsa: RunningTSA
) -> None:
    """The investigator's path: the TSA is down during `preserve` (embedded default log); the
    bundle is written anyway and says how to fix it; later the log is stamped and
    `evidence refresh BUNDLE` (no --log: the embedded log is found) brings the time in."""
    from tsa.server import unused_port_url

    out = tmp_path / "out"
    down = unused_port_url()
    r = subprocess.run(
        ["preserve", site.url("/listing"), "-o", str(out), "--tsa", down, "--json"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    [result] = json.loads(r.stdout)["results"]
    bundle = Path(result["bundle"])
    assert result["ok"] and result["timestamps"] == 0
    warned = " ".join(result["warnings"])
    assert down[len("http://") :] in warned and "could not be reached" in warned
    assert f"evidence refresh {bundle} --tsa NAME" in warned
    with zipfile.ZipFile(bundle) as zf:  # the certificate and VERIFY.txt say where a later time-stamp would be
        assert "evidence refresh" in zf.read("evidence/report.html").decode()
        assert "openssl ts -verify -in evidence/refresh-1.1.tsr" in zf.read("evidence/VERIFY.txt").decode()
    log_keys = tmp_path / "log.vkey"
    with Log.open(home / "log") as log:
        log_keys.write_text(f"{log.verifier.vkey()}\n{log.timestamp_verifier.vkey()}\n")
    check = ["evidence", "verify", str(bundle), "--log-key", str(log_keys), "--tsa-cert", str(local_tsa.root_path)]
    before = subprocess.run([*check, "--json"], env=_env(home), capture_output=True, text=True, timeout=120)
    assert before.returncode == 0, before.stdout + before.stderr
    claims = {c["name"]: c["grade"] for c in json.loads(before.stdout)["claims"]}
    assert claims["Independent time (RFC 3161)"] == "NONE"

    for argv in (
        ["evidence", "timestamp", "add", str(home / "log"), "--missing", "--tsa", local_tsa.url],
        ["evidence", "refresh", str(bundle)],
    ):
        step = subprocess.run(argv, env=_env(home), capture_output=True, text=True, timeout=120)
        assert step.returncode == 0, step.stdout + step.stderr
    assert "added refresh 1" in step.stdout and "note:" not in step.stdout  # the embedded log's own key
    after = subprocess.run([*check, "--json"], env=_env(home), capture_output=True, text=True, timeout=120)
    assert after.returncode == 0, after.stdout + after.stderr
    claims = {c["name"]: c["grade"] for c in json.loads(after.stdout)["claims"]}
    assert claims["Independent time (RFC 3161)"] == "VERIFIED"


def test_a_failing_tsa_is_asked_once_per_capture(
    tmp_path: Path, home: Path, site: Any, chromium: str, local_tsa: RunningTSA
) -> None:
    """The log's time-stamping hook asks when it makes the checkpoint; sealing the bundle does
    not ask the same failing TSA again (a hanging TSA would otherwise cost its timeout twice)."""
    from tsa.server import TSAServer

    with TSAServer(local_tsa.tsa, mode="error") as server:
        bundle = evidence.capture(site.url("/listing"), out_dir=tmp_path / "out", tsa=server.url, executable=chromium)
        assert server.requests == 1
    assert bundle.timestamps == 0
    assert len([w for w in bundle.warnings if w.startswith("no time-stamp from")]) == 1
    assert any("NO independent time-stamp" in w for w in bundle.warnings)


def _command(name: str) -> str:
    """The project's own command, next to this interpreter (not whatever is on PATH)."""
    return str(Path(sys.executable).parent / name)


def test_preserve_no_pdf_no_mhtml_with_progress_and_the_bundle_verifies(
    tmp_path: Path, home: Path, site: Any, chromium: str
) -> None:
    from evidence.verify import Verdict, verify

    out = tmp_path / "out"
    # /slow answers after 2.5 s, to the raw fetch and to the browser: two long steps.
    url = site.url("/slow?ms=2500")
    r = subprocess.run(
        [_command("preserve"), url, "-o", str(out), "--no-pdf", "--no-mhtml", "--budget", "60"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert "[1/1] fetching the page (raw copy) ..." in lines, r.stderr
    assert "[1/1] opening the page in the browser ..." in lines, r.stderr
    assert not any("PDF ..." in ln or "MHTML" in ln for ln in lines)
    assert "[1/1] looking up the host ..." not in lines  # quick steps are not shown
    [bundle] = out.glob("*.wacz")
    with BundleView.open(bundle) as view:
        assert not view.has("evidence/page.pdf") and not view.has("evidence/page.mhtml")
        assert view.has("evidence/screenshot-full.png") and view.has("evidence/dom.html")
        capture = view.json("evidence/capture.json")
        report_html = view.read("evidence/report.html").decode()
    assert capture["options"]["budget_s"] == 60 and capture["options"]["pdf"] is False
    assert capture["budget"]["steps"]["page.pdf"]["status"] == "off"
    assert capture["budget"]["steps"]["page.mhtml"]["status"] == "off"
    assert "Not made in this capture" in report_html and "--no-pdf" in report_html
    assert "<code>page.pdf</code>" not in report_html  # the certificate does not point to it
    report = verify(bundle)
    # Consistent and complete without those files; no keys given, so not anchored in trust.
    assert report.verdict is Verdict.NOT_ANCHORED, report.render_text()
    assert [s.number for s in report.steps] == list(range(1, 9)) and all(s.ok for s in report.steps)
    assert any(w.startswith("page.pdf was not made") and "--no-pdf" in w for w in report.warnings)
    assert any(w.startswith("page.mhtml was not made") for w in report.warnings)

    # --json and -q: no progress lines (stdout stays one JSON document).
    for flag in ("--json", "-q"):
        r = subprocess.run(
            [_command("preserve"), url, "-o", str(tmp_path / flag.strip("-")), flag, "--no-pdf"],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr
        assert " ..." not in r.stderr, r.stderr
        if flag == "--json":
            assert json.loads(r.stdout)["results"][0]["ok"] is True


def test_evidence_capture_passes_progress_and_budget(tmp_path: Path, home: Path, site: Any, chromium: str) -> None:
    labels: list[str] = []
    bundle = evidence.capture(site.url("/listing"), out_dir=tmp_path, budget_s=30, mhtml=False, progress=labels.append)
    assert labels[0] == "looking up the host" and labels[-1] == "sealing into the log"
    assert "PDF" in labels and "MHTML snapshot" not in labels
    with BundleView.open(bundle.path) as view:
        capture = view.json("evidence/capture.json")
        assert view.has("evidence/page.pdf") and not view.has("evidence/page.mhtml")
    assert capture["budget"]["total_s"] == 30 and capture["artifacts_not_made"]["page.mhtml"]["status"] == "off"
