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
from tools import project_command
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401

import evidence
from evidence.bundle import MANIFEST_PATH, NOTE_PATH, PROOF_PATH, BundleView, log_entry
from evidence.bundle.wacz import Member, write_zip
from evidence.capture import find_chromium
from evidence.capture.errors import BrowserNotFoundError
from evidence.checkpoint import TlogProof
from evidence.log import Log

PRESERVE, EVIDENCE = project_command("preserve"), project_command("evidence")


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
    page = b"<p>the same listing, again and again</p>\n" * 100
    members = [Member("archive/data.warc.gz", page), Member("a/b.txt", page), Member("c.bin", bytes(range(256)))]
    write_zip(tmp_path / "1.zip", members)
    time.sleep(1.1)
    write_zip(tmp_path / "2.zip", members)
    assert (tmp_path / "1.zip").read_bytes() == (tmp_path / "2.zip").read_bytes()
    with zipfile.ZipFile(tmp_path / "1.zip") as zf:
        methods = {i.filename: i.compress_type for i in zf.infolist()}
    # The WARC stays stored (replay reads it at offsets); text is deflated; what deflate cannot shrink is stored.
    assert methods == {"archive/data.warc.gz": zipfile.ZIP_STORED, "a/b.txt": zipfile.ZIP_DEFLATED, "c.bin": 0}


def test_evidence_capture_stays_the_function() -> None:
    import evidence.capture.browser
    from evidence.capture import discovery  # noqa: F401

    assert callable(evidence.capture) and evidence.capture.__module__ == "evidence.api"


def test_preserve_batch_cli(tmp_path: Path, home: Path, site: Any, chromium: str, local_tsa: RunningTSA) -> None:
    """A list as Excel's "CSV UTF-8" and Notepad write it (BOM, CRLF) with comments: the
    addresses are read as written; one bad line fails alone (exit 4) with a machine-readable kind."""
    out = tmp_path / "out"
    listing, missing = site.url("/listing"), site.url("/not-found")
    url_list = tmp_path / "listings.txt"
    url_list.write_bytes(
        b"\xef\xbb\xbf"  # the byte-order mark
        + f"{listing}   # the listing\r\n\r\njavascript:alert(1)\r\n# a comment\r\n{missing}\r\n".encode()
    )
    r = subprocess.run(
        [PRESERVE, "--from-file", str(url_list), "-o", str(out), "--tsa", local_tsa.url, "--json", "--case", "C-9"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 4, r.stderr
    doc = json.loads(r.stdout)
    assert [x["url"] for x in doc["results"]] == [listing, "javascript:alert(1)", missing]
    ok = [x for x in doc["results"] if x["ok"]]
    bad = [x for x in doc["results"] if not x["ok"]]
    assert len(ok) == 2 and len(bad) == 1
    assert bad[0]["kind"] == "InvalidURLError" and bad[0]["line"] == 3 and "'javascript:'" in bad[0]["error"]
    assert "Traceback" not in r.stderr
    # Entries: the listing's manifest (0) and attempt (1), the bad line's failed attempt (2), the 404's (3, 4).
    assert [x["log_index"] for x in ok] == [0, 3]
    assert ok[1]["http_error"] is True and ok[1]["status"] == 404
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(x["bundle"]).name for x in ok)
    assert doc["log_key"].startswith("evidence-log.localhost/")


def test_a_batch_where_every_capture_fails_writes_nothing_and_exits_5(
    tmp_path: Path, home: Path, chromium: str
) -> None:
    """A bad address, a name that does not resolve and a refused connection: each fails with
    its own kind, no folder is left behind (not even the output folder it would have made),
    nothing is logged but the three failed attempts (issue 13: every attempt is on the record),
    and the exit code says that nothing was preserved (not a usage error)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    out = tmp_path / "new" / "out"
    urls = ["http//broken.example/", "http://no-such-host.invalid/", f"http://127.0.0.1:{port}/"]
    r = subprocess.run(
        [PRESERVE, *urls, "-o", str(out), "--json"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 5, r.stderr
    doc = json.loads(r.stdout)
    assert [x["kind"] for x in doc["results"]] == ["InvalidURLError", "HostNotFoundError", "ConnectionFailedError"]
    assert "refused" in doc["results"][2]["error"].lower() and "Traceback" not in r.stderr
    assert "Did you mean http://broken.example/?" in doc["results"][0]["error"]
    assert not (tmp_path / "new").exists(), list(tmp_path.rglob("*"))
    with Log.open(home / "log", keys_dir=home / "keys") as log:
        from evidence.log.attempts import list_attempts

        assert log.size == 3
        recorded = [(a.record.outcome, a.record.error_kind) for a in list_attempts(log)]
    assert recorded == [("failed", k) for k in ("InvalidURLError", "HostNotFoundError", "ConnectionFailedError")]
    # The same through the library: nothing is left either.
    with pytest.raises(evidence.CaptureError):
        evidence.capture(f"http://127.0.0.1:{port}/", out_dir=tmp_path / "lib" / "out", executable=chromium)
    assert not (tmp_path / "lib").exists()


def test_killed_preserve_leaves_no_half_bundle(tmp_path: Path, home: Path, site: Any, chromium: str) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [PRESERVE, site.url("/slow?ms=8000"), "-o", str(out)],
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
        [PRESERVE, site.url("/listing"), "-o", str(out), "-q"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert [p.suffix for p in out.iterdir()] == [".wacz"]


def test_ctrl_c_in_a_batch_says_what_was_preserved_and_what_remains(
    tmp_path: Path, home: Path, site: Any, chromium: str
) -> None:
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group (preserve, the
    Playwright driver, Chromium), while the third of five pages is being captured."""
    out = tmp_path / "out"
    listing = site.url("/listing")
    slow = site.url("/slow?ms=30000")
    urls = [listing, site.url("/not-found"), slow, site.url("/listing?n=4"), site.url("/listing?n=5")]
    proc = subprocess.Popen(
        [PRESERVE, *urls, "-o", str(out)],
        env=_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell job has
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            len(list(out.glob("*.wacz"))) == 2 and site.hits_for("/slow?ms=30000") and proc.poll() is None
        ):
            time.sleep(0.1)  # until two bundles are written and the slow page is being loaded
        assert len(list(out.glob("*.wacz"))) == 2 and site.hits_for("/slow?ms=30000"), "the batch did not get going"
        time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Preserved 2 of 5 page(s)" in stderr
    assert "Future exception was never retrieved" not in stderr and "Traceback" not in stderr, stderr
    assert "Connection closed" not in stderr, stderr
    [remaining] = out.glob("remaining-*.txt")
    listed = [ln for ln in remaining.read_text().splitlines() if ln and not ln.startswith("#")]
    assert listed == urls[2:]
    for u in urls[2:]:
        assert f"  {u}\n" in stderr
    assert f"preserve --from-file {remaining} -o {out}" in stderr
    # Two whole bundles and the list; no half bundle, no hidden temporary files.
    assert sorted(p.suffix for p in out.iterdir()) == [".txt", ".wacz", ".wacz"], list(out.iterdir())
    # Nothing of the process group is left running (driver and browser stopped with it).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("processes of the interrupted preserve are still running")


def test_report_pdf(tmp_path: Path, home: Path, site: Any, chromium: str) -> None:
    bundle = evidence.capture(site.url("/listing"), out_dir=tmp_path)
    pdf = tmp_path / "report.pdf"
    r = subprocess.run(
        [EVIDENCE, "report", str(bundle.path), "-o", str(pdf)], capture_output=True, text=True, timeout=120
    )
    # No trust given: the certificate is graded VERIFIED BUT NOT ANCHORED IN TRUST (exit 3), and says so.
    assert r.returncode == 3, r.stderr
    assert "VERIFIED BUT NOT ANCHORED IN TRUST" in r.stdout
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file() and p.suffix != ".wacz") == ["report.pdf"]


def test_a_bundle_preserved_while_the_tsa_was_down_gets_its_time_stamp_later(
    tmp_path: Path, home: Path, site: Any, chromium: str, local_tsa: RunningTSA
) -> None:
    """The investigator's path: the TSAs asked are down (one refuses connections, one answers
    errors) during `preserve` (embedded default log). The bundle is written anyway, the exit
    code (6) lets a script notice, and the one next step shown is a command that, run as
    printed once a TSA answers, brings the independent time in."""
    import shlex

    from tsa.server import TSAServer, unused_port_url

    out = tmp_path / "out"
    down = unused_port_url()
    with TSAServer(local_tsa.tsa, mode="error") as failing:
        r = subprocess.run(
            [PRESERVE, site.url("/listing"), "-o", str(out), "--tsa", down, "--tsa", failing.url, "--json"],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 6, r.stderr
        [result] = json.loads(r.stdout)["results"]
        bundle = Path(result["bundle"])
        assert result["ok"] and result["timestamps"] == 0 and bundle.is_file()
        warned = result["warnings"]
        assert any(down[len("http://") :] in w and "could not be reached" in w for w in warned)
        # One next step, the same everywhere: no second, different hint.
        assert not any("timestamp add" in w for w in warned)
        [step] = [w.split("add it with: ", 1)[1] for w in warned if "NO independent time-stamp" in w]
        assert step == f"evidence refresh {bundle} --tsa {down} --tsa {failing.url}"
        text = subprocess.run(  # the text summary shows the same step, for each bundle
            [PRESERVE, site.url("/listing?again=1"), "-o", str(tmp_path / "out2"), "--tsa", failing.url],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert text.returncode == 6, text.stderr
        [again] = (tmp_path / "out2").glob("*.wacz")
        shown = f"next step:  once the time-stamping authority answers: evidence refresh {again} --tsa {failing.url}"
        assert shown + "\n" in text.stdout
        # Two captures, each a manifest entry and its attempt record.
        assert "checkpoint of 4 entries" in text.stdout and "timestamp add" not in text.stdout + text.stderr
        with zipfile.ZipFile(bundle) as zf:  # the certificate and VERIFY.txt say where a later time-stamp would be
            assert "evidence refresh" in zf.read("evidence/report.html").decode()
            assert "evidence/refresh-<k>.<j>.tsr" in zf.read("evidence/VERIFY.txt").decode()
        log_keys = tmp_path / "log.vkey"
        with Log.open(home / "log") as log:
            log_keys.write_text(f"{log.verifier.vkey()}\n{log.timestamp_verifier.vkey()}\n")
        check = [EVIDENCE, "verify", str(bundle), "--log-key", str(log_keys), "--tsa-cert", str(local_tsa.root_path)]
        before = subprocess.run([*check, "--json"], env=_env(home), capture_output=True, text=True, timeout=120)
        assert before.returncode == 0, before.stdout + before.stderr
        claims = {c["name"]: c["grade"] for c in json.loads(before.stdout)["claims"]}
        assert claims["Independent time (RFC 3161)"] == "NONE"

        failing.mode = "ok"  # one of the two answers again: run the step exactly as printed
        argv = shlex.split(step)
        assert argv[0] == "evidence"
        fixed = subprocess.run(
            [EVIDENCE, *argv[1:]], env=_env(home), capture_output=True, text=True, timeout=120
        )
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "added refresh 1" in fixed.stdout and "note:" not in fixed.stdout  # the embedded log's own key
    after = subprocess.run([*check, "--json"], env=_env(home), capture_output=True, text=True, timeout=120)
    assert after.returncode == 0, after.stdout + after.stderr
    claims = {c["name"]: c["grade"] for c in json.loads(after.stdout)["claims"]}
    assert claims["Independent time (RFC 3161)"] == "VERIFIED"


def test_the_readme_first_hour_reaches_verified(
    tmp_path: Path, home: Path, site: Any, chromium: str, local_tsa: RunningTSA
) -> None:
    """The README's first-hour walkthrough, run from its own lines: the one-line TSA set-up,
    a preserve, and a verify against the log's published key file and the TSA's root
    certificate give VERDICT: VERIFIED with an independent time-stamp. (The public TSA and
    the home directory are swapped for the local ones; nothing else.)"""
    import shlex

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    walk = readme[readme.index("## Your first hour") : readme.index("## Use")]
    lines = [ln.strip() for ln in walk.splitlines()]
    default_home = "~/.local/share/evidence"
    [setup] = [ln for ln in lines if ln.startswith("printf '[[tsa]]")]
    [keep] = [ln for ln in lines if ln.startswith(".venv/bin/preserve ")]
    [check] = [ln for ln in lines if ln.startswith(".venv/bin/evidence verify ")]
    public_tsa = "https://freetsa.org/tsr"
    assert public_tsa in setup and setup.endswith(f">> {default_home}/config.toml")
    home.mkdir(parents=True, exist_ok=True)
    setup_cmd = setup.replace(public_tsa, local_tsa.url).replace(default_home, shlex.quote(str(home)))
    subprocess.run(["bash", "-c", setup_cmd], check=True, timeout=30)

    argv = shlex.split(keep)
    argv[0], argv[1] = PRESERVE, site.url("/listing")
    argv[argv.index("-o") + 1] = str(tmp_path / "bundles")
    r = subprocess.run(argv, env=_env(home), capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    [bundle] = (tmp_path / "bundles").glob("*.wacz")

    published = home / "log" / "verification-keys.txt"
    if not published.is_file():  # written by `log init` / first use once the keys work is merged
        with Log.open(home / "log") as log:
            published.write_text(f"{log.verifier.vkey()}\n{log.timestamp_verifier.vkey()}\n")
    argv = shlex.split(check.replace(default_home, str(home)))
    argv[0] = EVIDENCE
    argv[2] = str(bundle)
    argv[argv.index("--tsa-cert") + 1] = str(local_tsa.root_path)
    assert argv[argv.index("--log-key") + 1] == str(published)
    v = subprocess.run([*argv, "--json"], env=_env(home), capture_output=True, text=True, timeout=120)
    assert v.returncode == 0, v.stdout + v.stderr
    report = json.loads(v.stdout)
    claims = {c["name"]: c["grade"] for c in report["claims"]}
    assert claims["Independent time (RFC 3161)"] == "VERIFIED", claims
    assert "VERDICT: VERIFIED" in subprocess.run(argv, env=_env(home), capture_output=True, text=True).stdout


def test_a_failing_tsa_is_asked_once_per_capture(
    tmp_path: Path, home: Path, site: Any, chromium: str, local_tsa: RunningTSA
) -> None:
    """The log's time-stamping hook asks when it makes the checkpoint; sealing the bundle does
    not ask the same failing TSA again (a hanging TSA would otherwise cost its timeout twice).
    The clean-environment check asks it once more, before the first request, for the start token."""
    from tsa.server import TSAServer

    with TSAServer(local_tsa.tsa, mode="error") as server:
        bundle = evidence.capture(site.url("/listing"), out_dir=tmp_path / "out", tsa=server.url, executable=chromium)
        assert server.requests == 2  # the start token, then the checkpoint's: never a third time
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
    progress = [ln for ln in lines if ln.startswith("[1/1] ") and ln.endswith(" ...")]
    assert not any("PDF" in ln or "MHTML" in ln for ln in progress), progress  # turned off: never started
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
