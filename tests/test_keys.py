"""A newcomer's trust path, end to end with real processes: the log's published keys file,
the command `preserve` prints, the default origin, `verify` over many bundles and its JSON,
shared option names, SIGPIPE, audits trusting a mirror's cosignature, and the public face
of the library. The commands run are the project's own (next to ``sys.executable``).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
from capture_helpers import load_site_module
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401
from verify_helpers import flip, members, rewrite

from evidence.bundle import VKEY_PATH
from evidence.log import Log
from evidence.note import ALG_COSIGNATURE_V1, Note, Signer

BIN = Path(sys.executable).parent
EVIDENCE = str(BIN / "evidence")
PRESERVE = str(BIN / "preserve")
VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"


def _run(cmd: list[str], home: Path, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "EVIDENCE_ORIGIN"}
    environ.update(EVIDENCE_HOME=str(home), **env)
    return subprocess.run(cmd, env=environ, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _printed_command(stdout: str, bundle: Path) -> list[str]:
    """The `evidence verify ...` line preserve printed, with BUNDLE.wacz replaced, as argv."""
    m = re.search(r"^Verify offline with:\s+(evidence verify .*)$", stdout, re.M)
    assert m, stdout
    argv = shlex.split(m.group(1))
    assert " ".join(argv[:3]) == "evidence verify BUNDLE.wacz", argv  # the printed text, not a command run
    return [EVIDENCE, "verify", str(bundle), *argv[3:]]


# --------------------------------------------------------------------------- with a browser


@dataclass
class Preserved:
    home: Path
    plain: Path  # sealed with no TSA at all
    plain_stdout: str
    stamped: list[Path]  # sealed with a TSA that config.toml pins
    stamped_stdout: str
    log: Log


@pytest.fixture(scope="module")
def preserved(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Iterator[Preserved]:
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")
    root = tmp_path_factory.mktemp("keys")
    home = root / "home"
    site = load_site_module().TestSite.start()
    try:
        first = _run([PRESERVE, site.url("/listing"), "-o", str(root / "plain")], home, timeout=300)
        assert first.returncode == 0, first.stderr
        home.joinpath("config.toml").write_text(
            f'[[tsa]]\nname = "local"\nurl = "{local_tsa.url}"\n'
            f'certificate = "{local_tsa.cert_path}"\nroot = "{local_tsa.root_path}"\n',
            encoding="utf-8",
        )
        second = _run(
            [PRESERVE, site.url("/listing"), site.url("/not-found"), "-o", str(root / "stamped")], home, timeout=300
        )
        assert second.returncode == 0, second.stderr
    finally:
        site.close()
    yield Preserved(
        home,
        next((root / "plain").glob("*.wacz")),
        first.stdout,
        sorted((root / "stamped").glob("*.wacz")),
        second.stdout,
        Log.open(home / "log", keys_dir=home / "keys"),
    )


def test_the_log_publishes_one_keys_file_and_the_server_serves_it(preserved: Preserved) -> None:
    keys_file = preserved.home / "log" / "verification-keys.txt"
    lines = [ln for ln in keys_file.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    assert lines == [preserved.log.verifier.vkey(), preserved.log.timestamp_verifier.vkey()]
    # The default name reads as what it is, a log kept on this computer: no "invalid", no hostname.
    assert preserved.log.origin.startswith("evidence-log.localhost/")
    assert "invalid" not in preserved.log.origin


def test_what_preserve_prints_reaches_verified_without_a_time_stamp(preserved: Preserved) -> None:
    argv = _printed_command(preserved.plain_stdout, preserved.plain)
    assert str(preserved.home / "log" / "verification-keys.txt") in argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERDICT: VERIFIED\n" in r.stdout
    # No time-stamp at all: step 7 says NONE, not PASS.
    assert "7. [NONE] Independent time-stamps" in r.stdout
    # Each capture is two entries: its manifest and its attempt record (issue 13).
    assert "under a signed checkpoint of 2 entries\n" in preserved.plain_stdout


def test_what_preserve_prints_reaches_verified_with_a_pinned_tsa(preserved: Preserved) -> None:
    for bundle in preserved.stamped:
        argv = _printed_command(preserved.stamped_stdout, bundle)
        assert "--tsa-cert" in argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "7. [PASS] Independent time-stamps" in r.stdout
    assert "checkpoint of 6 entries" in preserved.stamped_stdout


def test_hints_never_send_the_user_to_the_key_inside_the_bundle(preserved: Preserved, tmp_path: Path) -> None:
    # The old printed command: the log key alone. Not anchored (the clock key is missing), and
    # the hint names the operator's keys file, never the bundle's evidence/log.vkey.
    r = subprocess.run(
        [EVIDENCE, "verify", str(preserved.plain), "--log-key", preserved.log.verifier.vkey()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 3, r.stdout
    words = " ".join(r.stdout.split())
    assert "line 2 of" not in words
    assert "verification-keys.txt" in words and "(never from this bundle)" in words
    hints = words.split("To anchor this result in trust", 1)[1]
    assert VKEY_PATH not in hints
    # The key file taken out of the bundle is not the operator's: using it is the user's own
    # act, but no message suggested it.
    inside = tmp_path / "log.vkey"
    inside.write_bytes(members(preserved.plain)[VKEY_PATH])
    plain = subprocess.run([EVIDENCE, "verify", str(preserved.plain)], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 3
    words = " ".join(plain.stdout.split())
    assert f"--log-key {VKEY_PATH}" not in words and "line 2 of" not in words


def test_the_certificate_names_the_operators_keys_file_and_older_wording_still_verifies(
    preserved: Preserved, tmp_path: Path
) -> None:
    from evidence.bundle import REPORT_PATH, VERIFY_PATH, BundleView
    from evidence.report import render_report, render_verify_txt

    files = members(preserved.plain)
    verify_txt = files[VERIFY_PATH].decode()
    assert "--log-key verification-keys.txt" in verify_txt and "not only the one in" not in verify_txt
    assert "a key found in a bundle proves nothing by itself" in verify_txt
    assert b"--log-key verification-keys.txt" in files[REPORT_PATH] and b"LOG-VKEY" not in files[REPORT_PATH]
    # A bundle sealed before (edition 2 wording) still verifies, byte for byte regenerated.
    with BundleView.open(preserved.plain) as view:
        old = {REPORT_PATH: render_report(view, edition=2), VERIFY_PATH: render_verify_txt(view, edition=2)}
    assert b"LOG-VKEY" in old[REPORT_PATH]
    earlier = rewrite(preserved.plain, tmp_path / "earlier.wacz", change=dict(old))
    keys = str(preserved.home / "log" / "verification-keys.txt")
    r = subprocess.run([EVIDENCE, "verify", str(earlier), "--log-key", keys], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    edited = rewrite(
        preserved.plain,
        tmp_path / "edited.wacz",
        change={VERIFY_PATH: files[VERIFY_PATH].replace(b"proves nothing", b"proves a lot")},
    )
    r = subprocess.run([EVIDENCE, "verify", str(edited), "--log-key", keys], capture_output=True, text=True)
    assert r.returncode == 1 and "8. [FAIL]" in r.stdout, r.stdout


def test_verify_many_bundles_gives_a_line_each_a_summary_and_the_worst_exit(
    preserved: Preserved, tmp_path: Path
) -> None:
    keys = str(preserved.home / "log" / "verification-keys.txt")
    good = preserved.plain
    bad = tmp_path / "tampered.wacz"
    name = "evidence/screenshot-full.png"
    rewrite(good, bad, change={name: flip(members(good)[name])})
    junk = tmp_path / "junk.wacz"
    junk.write_bytes(b"not a zip file")

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([EVIDENCE, "verify", *args], capture_output=True, text=True, timeout=180)

    r = verify(str(good), str(bad), str(junk), "--log-key", keys)
    assert r.returncode == 1, r.stdout  # FAILED outranks unusable input
    lines = r.stdout.splitlines()
    assert any(ln.startswith("VERIFIED ") and ln.endswith(str(good)) for ln in lines)
    assert any(ln.startswith("FAILED ") and ln.endswith(str(bad)) for ln in lines)
    assert "failed at step 2: every sealed file matches the manifest" in r.stdout
    assert any(ln.startswith("UNUSABLE INPUT ") and ln.endswith(str(junk)) for ln in lines)
    assert "3 bundles: 1 VERIFIED, 1 FAILED, 1 UNUSABLE INPUT (exit status 1" in r.stdout
    assert verify(str(good), str(junk), "--log-key", keys).returncode == 2  # unusable outranks not anchored
    assert verify(str(good), *map(str, preserved.stamped), "--log-key", keys).returncode == 3  # no --tsa-cert
    assert verify(str(good), str(good), "--log-key", keys).returncode == 0

    r = verify(str(good), str(bad), "--log-key", keys, "--json")
    doc = json.loads(r.stdout)
    assert isinstance(doc, list) and [d["result"] for d in doc] == ["verified", "failed"]
    r = verify(str(good), str(bad), "--log-key", keys, "--json-lines")
    assert [json.loads(ln)["exit_code"] for ln in r.stdout.splitlines()] == [0, 1]
    # One bundle with --json: one object, as before.
    assert isinstance(json.loads(verify(str(good), "--log-key", keys, "--json").stdout), dict)


def test_verify_json_has_machine_keys_and_numbers(preserved: Preserved, local_tsa: RunningTSA) -> None:
    keys = str(preserved.home / "log" / "verification-keys.txt")
    bundle = preserved.stamped[1]  # the 404 page, entry 4 (each capture: a manifest and an attempt entry)
    r = subprocess.run(
        [EVIDENCE, "verify", str(bundle), "--log-key", keys, "--tsa-cert", str(local_tsa.root_path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout
    doc = json.loads(r.stdout)
    facts = doc["facts"]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in facts), facts.keys()
    assert facts["http_status"] == 404 and facts["entry_index"] == 4 and facts["tree_size"] == 6
    assert facts["log_origin"] == preserved.log.origin
    assert isinstance(facts["signed_time_unix"], int)
    assert datetime.fromisoformat(facts["signed_time"]).timestamp() == facts["signed_time_unix"]
    assert facts["independent_time"] is not None and isinstance(facts["independent_time_unix"], int)
    assert [t["status"] for t in facts["timestamps"]] == ["verified"]
    assert [c["key"] for c in doc["claims"]] == [
        "integrity",
        "log_inclusion",
        "signed_time",
        "independent_time",
        "witnesses",
    ]
    assert doc["result"] == "verified" and doc["format"] == "evidence-verify-report/2"
    assert [s["status"] for s in doc["steps"]] == ["pass"] * 8
    plain = subprocess.run(
        [EVIDENCE, "verify", str(preserved.plain), "--log-key", keys, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    step7 = json.loads(plain.stdout)["steps"][6]
    assert step7["number"] == 7 and step7["ok"] is True and step7["status"] == "none"
    assert json.loads(plain.stdout)["facts"]["timestamps"] == []


def test_capture_reuses_its_browser_and_session_is_public(tmp_path: Path) -> None:
    """Two `evidence.capture()` calls in one program use one browser; `evidence.Session` too."""
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")
    script = """
import json, sys, zipfile
sys.path.insert(0, sys.argv[2])
from capture_helpers import load_site_module
import evidence
site = load_site_module().TestSite.start()
try:
    seen = []
    for i in range(2):
        b = evidence.capture(site.url("/listing"), out_dir=sys.argv[1], name=f"c{i}")
        seen.append(b.path)
    with evidence.Session(case="S-1") as s:
        for i in range(2):
            seen.append(s.capture(site.url("/listing"), out_dir=sys.argv[1], name=f"s{i}").path)
    out = []
    for p in seen:
        with zipfile.ZipFile(p) as z:
            cap = json.loads(z.read("evidence/capture.json"))
            manifest = json.loads(z.read("evidence/manifest.json"))
        out.append([cap["browser"]["captures_before_in_this_browser_process"], manifest.get("case")])
    print(json.dumps(out))
finally:
    site.close()
"""
    r = _run(
        [sys.executable, "-c", script, str(tmp_path / "out"), str(Path(__file__).resolve().parent / "capture")],
        tmp_path / "home",
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == [[0, None], [1, None], [0, "S-1"], [1, "S-1"]]


# --------------------------------------------------------------------------- no browser


def test_origin_is_chosen_on_first_use_and_kept(tmp_path: Path) -> None:
    # --origin
    r = _run([EVIDENCE, "log", "init", "--origin", "firm.example/evidence/2026"], tmp_path / "a")
    assert r.returncode == 0, r.stderr
    assert Log.open(tmp_path / "a" / "log").origin == "firm.example/evidence/2026"
    assert "Clock key" in r.stdout and "verification-keys.txt" in r.stdout and "Timestamp key" not in r.stdout
    # $EVIDENCE_ORIGIN beats config.toml; config.toml beats the default.
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "config.toml").write_text('origin = "from-config.example/log"\n', encoding="utf-8")
    r = _run([EVIDENCE, "log", "init"], tmp_path / "b", EVIDENCE_ORIGIN="from-env.example/log")
    assert r.returncode == 0, r.stderr
    assert Log.open(tmp_path / "b" / "log").origin == "from-env.example/log"
    shutil.rmtree(tmp_path / "b" / "log")
    shutil.rmtree(tmp_path / "b" / "keys")
    assert _run([EVIDENCE, "log", "init"], tmp_path / "b").returncode == 0
    assert Log.open(tmp_path / "b" / "log").origin == "from-config.example/log"
    # A URL with a scheme, or a name with a space, is refused plainly.
    for bad in ("https://firm.example/log", "firm example"):
        r = _run([EVIDENCE, "log", "init", "--origin", bad], tmp_path / "c")
        assert r.returncode == 2 and "Traceback" not in r.stderr and "origin" in r.stderr, r.stderr
        assert not (tmp_path / "c" / "log").exists()
    # preserve --origin on the existing home log with another name: refused before any capture.
    r = _run([PRESERVE, "http://127.0.0.1:9/", "--origin", "other.example/log"], tmp_path / "a")
    assert r.returncode == 2 and "already named 'firm.example/evidence/2026'" in r.stderr, r.stderr


def test_logs_made_before_the_keys_file_get_it_and_keep_their_name(tmp_path: Path) -> None:
    from evidence.api import default_log

    home = tmp_path / "home"
    with Log.create(home / "log", "evidence.invalid/vm/1a2b3c4d", keys_dir=home / "keys") as log:
        log.append([b"one"])
    (home / "log" / "verification-keys.txt").unlink()  # as a log written by an older version
    log = default_log(home)
    assert log.origin == "evidence.invalid/vm/1a2b3c4d"
    assert (home / "log" / "verification-keys.txt").is_file()
    r = _run([EVIDENCE, "log", "status"], home)
    assert r.returncode == 0 and "verification-keys.txt" in r.stdout, r.stderr


def test_shared_names_old_spellings_and_home_log_defaults(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _run([EVIDENCE, "log", "init"], home).returncode == 0
    entry = tmp_path / "e.txt"
    entry.write_bytes(b"hello\n")
    # `log add FILE` (no LOGDIR) appends to the home log, with the home log's keys.
    r = _run([EVIDENCE, "log", "add", str(entry)], home)
    assert r.returncode == 0, r.stderr
    assert "now holds 1 entry " in r.stderr
    keys = str(home / "log" / "verification-keys.txt")
    proof = tmp_path / "p"
    assert _run([EVIDENCE, "log", "prove", "0", "-o", str(proof)], home).returncode == 0
    for flag in ("--log-key", "--key"):  # the new name and the old one
        r = _run([EVIDENCE, "proof", "verify", str(proof), "--entry", str(entry), flag, keys], home)
        assert r.returncode == 0 and "(1 entry)" in r.stdout, r.stdout + r.stderr
        r = _run([EVIDENCE, "log", "audit", str(home / "log"), flag, keys, "-q"], home)
        assert r.returncode == 0 and "1 entry," in r.stdout, r.stdout + r.stderr
    # `timestamp status` defaults to the home log, like `log status`.
    r = _run([EVIDENCE, "timestamp", "status"], home)
    assert r.returncode == 0 and "checkpoint 1: NO independent time-stamp" in r.stdout, r.stderr
    policy = tmp_path / "trust.policy"
    policy.write_text("quorum none\n", encoding="utf-8")
    for flag in ("--trust", "--policy"):
        assert _run([EVIDENCE, "timestamp", "status", flag, str(policy)], home).returncode == 0
    # Help: every argument has a help text, the old spellings are hidden.
    for cmd in (["log", "add"], ["log", "status"], ["log", "prove"], ["log", "audit"], ["timestamp", "status"]):
        text = _run([EVIDENCE, *cmd, "--help"], home).stdout
        assert "--policy" not in text and re.search(r"--key\b", text) is None, text
        for m in re.finditer(r"^  (\S+)( .*)?$", text, re.M):
            if not m.group(1).startswith("-h"):
                assert m.group(2) and m.group(2).strip(), f"{cmd}: {m.group(1)} has no help text"
    assert "--trust" in _run([EVIDENCE, "refresh", "--help"], home).stdout


def test_every_argument_of_every_command_has_help_text() -> None:
    import argparse

    from evidence_cli.main import build_parser
    from evidence_cli.preserve import _parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])
            elif action.help is None:
                missing.append(" ".join([*path, *(action.option_strings or [action.dest])]))

    walk(build_parser(), ["evidence"])
    walk(_parser(), ["preserve"])
    assert missing == []


def test_a_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert _run([EVIDENCE, "log", "init"], home).returncode == 0
    env = dict(os.environ, EVIDENCE_HOME=str(home))
    commands = ([EVIDENCE, "log", "status"], [EVIDENCE, "--help"], [PRESERVE, "--help"], [EVIDENCE, "verify", "-h"])
    for cmd in commands:
        read, write = os.pipe()
        os.close(read)  # the reader is gone before the first byte, as after `| head -0`
        try:
            r = subprocess.run(cmd, env=env, stdout=write, stderr=subprocess.PIPE, text=True, timeout=60)
        finally:
            os.close(write)
        # 141 as after SIGPIPE; help may also end 0 (argparse can swallow the failed write itself).
        assert r.returncode in ((0, 141) if "-h" in cmd[-1] else (141,)), (cmd, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, (cmd, r.stderr)
    # `| head -1` through a shell.
    r = subprocess.run(
        f"{shlex.quote(EVIDENCE)} log status | head -1", shell=True, env=env, capture_output=True, text=True, timeout=60
    )
    assert r.stdout.startswith("log:") and "Traceback" not in r.stderr


def _mirror_copy(tmp_path: Path, mirror: Signer, *, with_log_signature: bool) -> Path:
    """The Tessera test log, served as a mirror would: its checkpoint cosigned by the mirror."""
    src = VECTORS / "tlog-tiles" / "tessera-testdata-log"
    dest = tmp_path / "mirror"
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("checkpoint.*", "expected.json"))
    note = Note.parse((src / "checkpoint").read_bytes())
    sig = mirror.signature_line(note.text.encode(), 1_760_000_000)
    kept = note.signatures if with_log_signature else ()
    (dest / "checkpoint").write_bytes(Note(text=note.text, signatures=(*kept, sig)).to_bytes())
    return dest


def test_audit_accepts_a_mirror_cosignature_key(tmp_path: Path) -> None:
    mirror = Signer.generate("mirror.example/tessera", ALG_COSIGNATURE_V1)
    other = Signer.generate("other.example/mirror", ALG_COSIGNATURE_V1)
    log_key = _tessera_vkey()
    home = tmp_path / "home"
    only_mirror = _mirror_copy(tmp_path / "a", mirror, with_log_signature=False)
    r = _run([EVIDENCE, "log", "audit", str(only_mirror), "--log-key", mirror.verifier().vkey(), "-q"], home)
    assert r.returncode == 0, r.stderr
    assert "intact: 15 entries" in r.stdout and "mirror.example/tessera (cosignature/v1 key (0x04))" in r.stdout
    # The log's own key cannot vouch for a checkpoint it did not sign; nor can another mirror.
    for key in (log_key, other.verifier().vkey()):
        r = _run([EVIDENCE, "log", "audit", str(only_mirror), "--log-key", key, "-q"], home)
        assert r.returncode == 1 and "no signature on the note is by a trusted key" in r.stderr, r.stderr
    # With both lines, either key vouches; a damaged mirror cosignature is refused although the
    # log's own signature is good (a given key's bad signature rejects the checkpoint).
    both = _mirror_copy(tmp_path / "b", mirror, with_log_signature=True)
    assert _run([EVIDENCE, "log", "audit", str(both), "--log-key", log_key, "-q"], home).returncode == 0
    note = Note.parse((both / "checkpoint").read_bytes())
    last = note.signatures[-1]
    damaged = replace(last, signature=last.signature[:-1] + bytes([last.signature[-1] ^ 1]))
    (both / "checkpoint").write_bytes(Note(text=note.text, signatures=(*note.signatures[:-1], damaged)).to_bytes())
    r = _run([EVIDENCE, "log", "audit", str(both), "--log-key", log_key, "--log-key", mirror.verifier().vkey()], home)
    assert r.returncode == 1 and "does not verify" in r.stderr, r.stderr


def _tessera_vkey() -> str:
    text = (VECTORS / "tlog-tiles" / "README.md").read_text(encoding="utf-8")
    m = re.search(r"`(example\.com/log/testdata\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+)`", text)
    assert m
    return m.group(1)


def test_import_evidence_is_small_cheap_and_lists_its_public_face() -> None:
    code = (
        "import sys, json, evidence\n"
        "heavy = [m for m in ('playwright', 'cryptography', 'requests', 'warcio', 'evidence.api', 'evidence.verify')"
        " if m in sys.modules]\n"
        "names = dir(evidence)\n"
        "print(json.dumps([heavy, names, callable(evidence.capture), callable(evidence.verify),"
        " evidence.Session.__name__]))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    heavy, names, capture_ok, verify_ok, session = json.loads(r.stdout)
    assert heavy == []
    assert {"capture", "verify", "Session", "Log", "Bundle", "Report", "TrustPolicy", "EvidenceError"} <= set(names)
    assert not {"Any", "sys", "types", "importlib", "annotations", "TYPE_CHECKING"} & set(names)
    assert capture_ok and verify_ok and session == "Session"
    import evidence

    assert sorted(evidence.__all__) == names
