"""Every capture attempt on the record (issue 13): failed and abandoned attempts are appended
to the log, listed by `evidence log attempts`, and named by the next bundle of the same case,
whose evidence/attempts.json the verifier checks (step 8).

One browser, one local site and one log directory for the module; the verifier's checks run
on hand-made captures (no browser) sealed with the real writer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
from capture_helpers import load_site_module
from handmade import capture_dir
from server_helpers import RunningServer, make_tokens, write_config
from tools import project_command
from verify_helpers import members, rewrite

import evidence
from evidence.bundle import ATTEMPTS_PATH, seal
from evidence.bundle.attempts import parse_attempts_file
from evidence.capture import find_chromium
from evidence.capture.errors import BrowserNotFoundError, ConnectionFailedError
from evidence.errors import CaptureError, LogError
from evidence.log import Log
from evidence.log.attempts import AttemptFiles, AttemptNotRecordedWarning, attempt, list_attempts
from evidence.verify import Verdict, verify

PRESERVE, EVIDENCE = project_command("preserve"), project_command("evidence")
CASE = "2026-017"


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


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("attempts")


@pytest.fixture(scope="module")
def env(root: Path) -> dict[str, str]:
    return dict(os.environ, EVIDENCE_HOME=str(root / "home"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keys(log_dir: Path) -> list[str]:
    return [ln for ln in (log_dir / "verification-keys.txt").read_text().splitlines() if ln and not ln.startswith("#")]


def _listed(env: dict[str, str], where: str, case: str) -> list[dict[str, Any]]:
    r = subprocess.run(
        [EVIDENCE, "log", "attempts", "--log", where, "--case", case, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    return [a["record"] | {"index": a["index"]} for a in doc["attempts"]]


def _audit(env: dict[str, str], log_dir: Path) -> None:
    """`evidence log audit` passes on the log, attempt entries mixed in."""
    r = subprocess.run(
        [EVIDENCE, "log", "audit", str(log_dir), "--log-key", str(log_dir / "verification-keys.txt"), "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def _hand_capture(root: Path, case: str | None) -> tuple[Path, str]:
    d = capture_dir(root)
    facts = json.loads((d / "capture.json").read_text())
    facts["options"]["case"] = case
    (d / "capture.json").write_text(json.dumps(facts, indent=2) + "\n")
    return d, facts["requested_url"]


# --------------------------------------------------------------------------- end to end


def test_failed_and_abandoned_attempts_are_on_the_record_and_in_the_next_bundle(
    root: Path, env: dict[str, str], site: Any, chromium: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVIDENCE_HOME", env["EVIDENCE_HOME"])
    log_dir = root / "log"
    Log.create(log_dir, "attempts.test/log").close()
    out = root / "out"
    # 1. A page that cannot load: the server refuses the connection.
    refused = f"http://127.0.0.1:{_closed_port()}/item"
    with pytest.raises(ConnectionFailedError):
        evidence.capture(refused, out_dir=out, log=str(log_dir), case=CASE, operator="J. Smith", executable=chromium)
    # Another case's attempt is not this case's.
    with pytest.raises(CaptureError):
        evidence.capture(refused, out_dir=out, log=str(log_dir), case="other", executable=chromium)
    # 2. A capture stopped while the page loads: preserve is sent SIGTERM.
    slow = "/slow?ms=30000"
    proc = subprocess.Popen(
        [PRESERVE, site.url(slow), "--log", str(log_dir), "--case", CASE, "-o", str(out), "-q", "--browser", chromium],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not site.hits_for(slow) and proc.poll() is None:
            time.sleep(0.1)
        assert site.hits_for(slow), "the capture did not start"
        os.kill(proc.pid, signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert not list(out.glob("*.wacz"))

    listed = _listed(env, str(log_dir), CASE)
    assert [(a["outcome"], a["error"]["kind"]) for a in listed] == [
        ("failed", "ConnectionFailedError"),
        ("abandoned", "Terminated"),
    ]
    assert listed[0]["target"] == {"url": refused} and listed[0]["operator"] == "J. Smith"
    assert listed[1]["target"] == {"url": site.url(slow)}
    text = subprocess.run(
        [EVIDENCE, "log", "attempts", "--log", str(log_dir), "--case", CASE], env=env, capture_output=True, text=True
    ).stdout
    assert "2 attempt(s) for case '2026-017'" in text and "abandoned (stopped by SIGTERM)" in text, text

    # 3. The next capture of the case succeeds: its bundle names both earlier attempts.
    bundle = evidence.capture(site.url("/listing"), out_dir=out, log=str(log_dir), case=CASE, executable=chromium)
    assert bundle.attempt_index is not None and bundle.attempt_index == bundle.log_index + 1
    _size, own, earlier = parse_attempts_file(members(bundle.path)[ATTEMPTS_PATH])
    assert own.record.outcome == "sealed" and own.record.manifest_sha256 == bundle.manifest_sha256
    assert [a.index for a in earlier] == [listed[0]["index"], listed[1]["index"]]
    report = verify(bundle.path, log_keys=_keys(log_dir))
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    facts = dict(report.facts)
    assert facts["Attempts"].endswith(
        "2 earlier attempts for this case: 1 failed (the site could not be reached), 1 abandoned (stopped by SIGTERM)"
    ), facts
    data = dict(report.data)
    assert data["attempt_index"] == bundle.attempt_index
    assert [a["outcome"] for a in data["earlier_attempts"]] == ["failed", "abandoned"]
    assert _listed(env, str(log_dir), CASE)[-1]["outcome"] == "sealed"

    # 4. The log, attempt entries mixed in, still audits.
    _audit(env, log_dir)


# --------------------------------------------------------------------------- the verifier


@pytest.fixture(scope="module")
def sealed_case(root: Path) -> tuple[Path, Log]:
    """A log with a failed and an abandoned attempt of case K-1, then a sealed hand-made capture."""
    log = Log.create(root / "vlog", "attempts.test/verify")
    d, url = _hand_capture(root / "hand", "K-1")
    with pytest.raises(CaptureError), attempt(log, url=url, case="K-1") as _:
        raise ConnectionFailedError("the server refused the connection")
    with pytest.raises(KeyboardInterrupt), attempt(log, url=url, case="K-1") as _:
        raise KeyboardInterrupt
    with attempt(log, url=url, case="K-1") as a:
        bundle = seal(d, log, root / "vout", name="k1.wacz", attempt=a)
    return bundle.path, log


def _failed_at_8(path: Path, log: Log, *words: str) -> None:
    report = verify(path, log_keys=[log.verifier.vkey(), log.timestamp_verifier.vkey()])
    failed = report.failed_step
    assert report.verdict is Verdict.FAILED and failed is not None and failed.number == 8, report.render_text()
    assert ATTEMPTS_PATH in failed.files
    for w in words:
        assert w in failed.detail, failed.detail


def test_a_hand_made_bundle_with_its_attempts_verifies(sealed_case: tuple[Path, Log]) -> None:
    path, log = sealed_case
    report = verify(path, log_keys=[log.verifier.vkey(), log.timestamp_verifier.vkey()])
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert "2 earlier attempts for this case: 1 failed" in report.render_text()


def test_leaving_out_an_earlier_attempt_fails_at_step_8(root: Path, sealed_case: tuple[Path, Log]) -> None:
    path, log = sealed_case
    doc = json.loads(members(path)[ATTEMPTS_PATH])
    doc["earlier"] = doc["earlier"][1:]  # hide the failed attempt
    bad = rewrite(path, root / "dropped.wacz", change={ATTEMPTS_PATH: json.dumps(doc).encode()})
    _failed_at_8(bad, log, "earlier attempt was left out")


def test_an_altered_attempt_record_fails_at_step_8(root: Path, sealed_case: tuple[Path, Log]) -> None:
    path, log = sealed_case
    doc = json.loads(members(path)[ATTEMPTS_PATH])
    doc["earlier"][0]["record"] = doc["earlier"][0]["record"].replace('"outcome":"failed"', '"outcome":"abandoned"')
    bad = rewrite(path, root / "altered.wacz", change={ATTEMPTS_PATH: json.dumps(doc).encode()})
    _failed_at_8(bad, log, "is not the entry the log holds at index")


def test_another_bundles_attempt_record_fails_at_step_8(root: Path, sealed_case: tuple[Path, Log]) -> None:
    """The own record swapped for an earlier (failed) one, with its valid proof: not this bundle's seal."""
    path, log = sealed_case
    doc = json.loads(members(path)[ATTEMPTS_PATH])
    doc["attempt"], doc["earlier"] = doc["earlier"][0], []
    bad = rewrite(path, root / "swapped.wacz", change={ATTEMPTS_PATH: json.dumps(doc).encode()})
    _failed_at_8(bad, log, "not 'sealed' with this bundle's manifest")


def test_removing_attempts_json_fails_at_step_8(root: Path, sealed_case: tuple[Path, Log]) -> None:
    """The manifest says the bundle carries its attempts: hiding them all is caught too."""
    path, log = sealed_case
    bad = rewrite(path, root / "removed.wacz", change={ATTEMPTS_PATH: None})
    _failed_at_8(bad, log, "it was removed")


def test_a_bundle_sealed_without_attempts_verifies_as_before(root: Path, sealed_case: tuple[Path, Log]) -> None:
    """What a log that keeps no attempt records (and every bundle before them) gives."""
    _, log = sealed_case
    d, _url = _hand_capture(root / "hand-old", "K-1")
    old = seal(d, log, root / "vout", name="old.wacz").path
    assert ATTEMPTS_PATH not in members(old)
    assert "attempts" not in json.loads(members(old)["evidence/manifest.json"])
    report = verify(old, log_keys=[log.verifier.vkey(), log.timestamp_verifier.vkey()])
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert "Attempts" not in dict(report.facts)


# --------------------------------------------------------------------------- the store


def test_a_record_left_pending_by_a_crash_is_logged_by_the_next_attempt(root: Path) -> None:
    """What a process killed between writing the record and appending its entry leaves."""
    log = Log.create(root / "crashlog", "attempts.test/crash")
    with pytest.raises(CaptureError), attempt(log, url="http://127.0.0.1:9/", case="K-2") as a:
        raise CaptureError("first")
    first = a.recorded
    assert first is not None
    # The crash: a record written to pending/, its entry never appended.
    from evidence.bundle.attempts import make_record

    orphan = make_record(
        log_origin=log.origin,
        case="K-2",
        operator=None,
        url="http://127.0.0.1:9/x",
        walk_sha256=None,
        started="2026-01-01T00:00:00Z",
        finished="2026-01-01T00:00:01Z",
        outcome="abandoned",
        error=("process-ended", None, "killed"),
    )
    AttemptFiles(log.path).put_pending(orphan)
    assert [a.record.raw for a in list_attempts(log, "K-2")] == [first.record.raw]
    with pytest.raises(CaptureError), attempt(log, url="http://127.0.0.1:9/", case="K-2"):
        raise CaptureError("third")
    found = list_attempts(log, "K-2")
    assert [a.record.raw for a in found][:2] == [first.record.raw, orphan]
    assert [a.index for a in found] == [0, 1, 2]
    assert AttemptFiles(log.path).pending() == []


def test_an_attempt_whose_process_is_killed_is_recorded_as_abandoned_by_the_next(root: Path) -> None:
    """SIGKILL gives the process no chance to record anything: the marker it left stands."""
    log_dir = root / "killedlog"
    Log.create(log_dir, "attempts.test/killed").close()
    code = (
        "import os, signal, sys\n"
        "from evidence.log import Log\n"
        "from evidence.log.attempts import attempt\n"
        f"with attempt(Log.open({str(log_dir)!r}), url='http://127.0.0.1:9/k', case='K-4'):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr
    log = Log.open(log_dir)
    assert list_attempts(log, "K-4") == []  # nothing recorded yet: the marker waits
    with pytest.raises(CaptureError), attempt(log, url="http://127.0.0.1:9/", case="K-4"):
        raise CaptureError("next")
    found = list_attempts(log, "K-4")
    assert [(a.record.outcome, a.record.error_kind) for a in found] == [
        ("abandoned", "process-ended"),
        ("failed", "CaptureError"),
    ]
    assert found[0].record.url == "http://127.0.0.1:9/k"
    assert not list((log_dir / ".state" / "attempts" / "open").iterdir())


def test_an_attempt_that_cannot_be_recorded_still_raises_its_own_error(root: Path) -> None:
    log = Log.create(root / "brokenlog", "attempts.test/broken")
    (log.path / ".state" / "attempts").mkdir(parents=True)
    (log.path / ".state" / "attempts" / "pending").write_text("not a directory")  # no record can be written
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ConnectionFailedError) as raised, attempt(log, url="http://127.0.0.1:9/", case="K-3"):
            raise ConnectionFailedError("the server refused the connection")
    assert raised.value.message == "the server refused the connection"
    assert "could not be put on the record" in raised.value.diagnostics()
    assert any(issubclass(w.category, AttemptNotRecordedWarning) for w in caught)


# --------------------------------------------------------------------------- a log server


def test_a_log_server_records_attempts(root: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from evidence.log.remote import RemoteLog

    d = root / "served"
    Log.create(d, "attempts.test/served").close()
    [token] = make_tokens(root / "tokens.txt", ["alice"])
    server = RunningServer(d, write_config(root / "server.toml", tokens=root / "tokens.txt", linger=0.0)).start()
    try:
        with RemoteLog(server.url, token=token) as log:
            hand, url = _hand_capture(root / "hand2", "K-9")
            with pytest.raises(CaptureError), attempt(log, url=url, case="K-9", operator="A"):
                raise ConnectionFailedError("the server refused the connection")
            with attempt(log, url=url, case="K-9") as a:
                bundle = seal(hand, log, root / "sout", name="served.wacz", attempt=a)
            report = verify(bundle.path, log_keys=[log.verifier.vkey(), log.timestamp_verifier.vkey()])
            assert report.verdict is Verdict.VERIFIED, report.render_text()
            assert "1 earlier attempt for this case: 1 failed" in dict(report.facts)["Attempts"]
        # Listing needs the token: the records are private.
        assert requests.get(server.url + "attempts?case=K-9", timeout=10).status_code == 401
        listed = _listed(dict(env, EVIDENCE_LOG_TOKEN=token), server.url, "K-9")
        assert [a["outcome"] for a in listed] == ["failed", "sealed"]
        assert listed[1]["earlier"] == [{"index": listed[0]["index"], "sha256": a.earlier[0].record.sha256}]
    finally:
        server.stop()
    # The server kept the records beside its log; the log audits with attempt entries in it.
    assert len(AttemptFiles(d).list("K-9")) == 2
    _audit(env, d)


def test_unknown_log_types_record_nothing_but_still_seal() -> None:
    from evidence.log.attempts import store_for

    assert store_for(object()) is None
    with pytest.raises(LogError):
        list_attempts(object())
