"""The shared log server against real processes: `evidence log serve` on 127.0.0.1.

Every server, witness and TSA here is a real process or socket: read paths byte for byte,
path traversal, authentication, concurrent clients, a SIGKILL under load, `preserve --log
http://...` end to end with two witnesses (2-of-2 verified offline), a witness that is
down, a witness that refuses a forked log, and `evidence refresh`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
from evidence_cli.main import main as evidence_main
from server_helpers import RunningServer, Submitter, make_tokens, post, post_declared, raw_get, write_config
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401
from tsa.server import unused_port_url

from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.errors import EvidenceError, SignatureError
from evidence.log import Log
from evidence.log.reader import audit
from evidence.log.remote import RemoteLog, open_remote_log

ORIGIN = "test.example/shared-log"


def _tree(root: Path) -> dict[str, bytes]:
    """Every public file of a log directory (what a static web server would serve)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".state" not in p.relative_to(root).parts and not p.name.startswith(".")
    }


# --------------------------------------------------------------------------- a plain server


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    base = tmp_path_factory.mktemp("served")
    log = Log.create(base / "log", ORIGIN)
    info = SimpleNamespace(verifier=log.verifier, clock=log.timestamp_verifier)
    log.close()
    tokens = make_tokens(base / "tokens")
    cfg = write_config(base / "server.toml", tokens=base / "tokens", max_request_bytes=100_000)
    server = RunningServer(base / "log", cfg).start()
    yield SimpleNamespace(server=server, dir=base / "log", tokens=tokens, base=base, **vars(info))
    server.stop()


def _fill(served: SimpleNamespace, n: int) -> None:
    """Bring the log to at least n entries, with concurrent clients."""
    size = SignedCheckpoint.parse((served.dir / "checkpoint").read_bytes()).checkpoint.size
    if size >= n:
        return
    need = n - size
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            with RemoteLog(served.server.url, token=served.tokens[k % 2], verifier=served.verifier) as rl:
                rl.append([b"fill-%d-%d-%d" % (size, k, i) for i in range(k, need, 8)])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_concurrent_clients_get_verified_proofs_and_audit_passes(served: SimpleNamespace) -> None:
    shared = b"evidence-entry/v1\nmanifest-sha256 " + b"ab" * 32 + b"\n"
    results: dict[int, list[tuple[bytes, int, int]]] = {}
    errors: list[BaseException] = []

    def client(k: int) -> None:
        try:
            with RemoteLog(served.server.url, token=served.tokens[k % 2], verifier=served.verifier) as rl:
                entries = [b"client-%d-entry-%d" % (k, i) for i in range(20)] + [shared]
                indices = rl.append(entries)
                size = rl.checkpoint().checkpoint.size
                out = []
                for e, i in zip(entries, indices, strict=True):
                    proof = rl.prove(i, size) if i < size else None
                    if proof is not None:
                        proof.verify(e, [served.verifier], origin=ORIGIN)
                    out.append((e, i, size))
                results[k] = out
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a client got no answer within 2 minutes"
    by_entry: dict[bytes, set[int]] = {}
    for rows in results.values():
        for e, i, _ in rows:
            by_entry.setdefault(e, set()).add(i)
    assert len(by_entry) == 16 * 20 + 1
    assert all(len(ix) == 1 for ix in by_entry.values()), "a duplicate got a second index"
    assert len({next(iter(ix)) for ix in by_entry.values()}) == len(by_entry)
    # Every entry is in the log at its index, and the whole log audits clean over HTTP.
    with Log.open(served.dir) as log:
        for e, ix in by_entry.items():
            assert log.entry(next(iter(ix))) == e
    report = audit(served.server.url, [served.verifier], origin=ORIGIN)
    assert report.entries >= 321
    assert evidence_main(["log", "audit", served.server.url, "--key", served.verifier.vkey(), "-q"]) == 0


def test_read_paths_are_byte_equal_to_the_files(served: SimpleNamespace) -> None:
    _fill(served, 300)  # a full tile, partial tiles and several history entries
    files = _tree(served.dir)
    assert "tile/0/000" in files and "tile/entries/000" in files and any(".p/" in f for f in files)
    session = requests.Session()
    for rel, data in files.items():
        resp = session.get(served.server.url + rel, timeout=10)
        assert resp.status_code == 200, rel
        assert resp.content == data, rel
    h = session.get(served.server.url + "checkpoint", timeout=10).headers
    assert h["content-type"] == "text/plain; charset=utf-8"
    assert h["cache-control"] == "no-cache"
    h = session.get(served.server.url + "tile/0/000", timeout=10).headers
    assert h["content-type"] == "application/octet-stream"
    assert h["cache-control"] == "public, max-age=31536000, immutable"
    partial = next(f for f in files if f.startswith("tile/0/") and ".p/" in f)
    assert "immutable" not in session.get(served.server.url + partial, timeout=10).headers["cache-control"]
    # The public part of .state/log.json, and the history listing.
    info = session.get(served.server.url + "log.json", timeout=10).json()
    assert info == json.loads((served.dir / ".state" / "log.json").read_bytes())
    assert set(info) == {"format", "origin", "log_vkey", "timestamp_vkey"}
    listing = session.get(served.server.url + "history/300/", timeout=10)
    if listing.status_code == 200:
        assert listing.json()["checkpoint"] == "history/300/checkpoint"
    assert session.get(served.server.url + "history/x999/999/", timeout=10).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/.state/log.json",
        "/.state/keys/log.skey",
        "/.state/signed",
        "/.state/",
        "/tile/../.state/log.json",
        "/tile/0/../../.state/keys/log.skey",
        "/tile/0/%2e%2e/%2e%2e/.state/signed",
        "/tile%2F0%2F000",
        "/tile/0%2F000",
        "/history/001/..%2F..%2F.state%2Fsigned",
        "/history/001/../../.state/signed",
        "/history/1/checkpoint",
        "/history/001/x.tsr",
        "/history/001/../checkpoint",
        "/tile/0/0",
        "/tile/0/000.p/256",
        "/tile/0/000.p/0",
        "/tile/00/000",
        "/tile/64/000",
        "/tile/entries/000.p/",
        "//checkpoint",
        "/checkpoint/",
        "/./checkpoint",
        "/tile/0/000%00",
        "/log.json/",
        "/server.toml",
        "/../tokens",
        "/%2e%2e/tokens",
    ],
)
def test_path_traversal_and_private_files_are_404(served: SimpleNamespace, path: str) -> None:
    status, _, body = raw_get(served.server.port, path)
    assert status == 404, (path, body[:200])


def test_missing_or_wrong_token_is_refused_and_writes_nothing(served: SimpleNamespace) -> None:
    port = served.server.port
    before = _tree(served.dir)
    status, body = post(port, b"no token", None)
    assert status == 401, body
    r = requests.post(served.server.url + "add", data=b"x", timeout=10)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert requests.post(served.server.url + "add", data=b"x", auth=("u", "p"), timeout=10).status_code == 401
    assert post(port, b"wrong token", "x" * 43)[0] == 403
    last = served.tokens[0][-1]
    almost = served.tokens[0][:-1] + ("A" if last != "A" else "B")  # one character off, never equal
    assert post(port, b"almost right", almost)[0] == 403
    assert post(port, b"other log's token", served.tokens[0] + served.tokens[1])[0] == 403
    # Size limits: 400 for an entry over 65,535 bytes, 413 past the request limit (100,000 here).
    assert post(port, b"x" * 70_000, served.tokens[0])[0] == 400
    # (Declared, not sent: a server that refuses early may reset a connection still sending.)
    assert post_declared(port, 200_000, served.tokens[0]) == 413
    assert post(port, b"", served.tokens[0])[0] == 400
    assert requests.get(served.server.url + "add", timeout=10).status_code == 405
    time.sleep(0.3)
    assert _tree(served.dir) == before
    # A good token works, and the answer is a tlog-proof of exactly that entry.
    status, body = post(port, b"with the right token", served.tokens[1])
    assert status == 200
    TlogProof.parse(body).verify(b"with the right token", [served.verifier], origin=ORIGIN)


def test_remote_log_refuses_a_server_with_another_key(
    served: SimpleNamespace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Log.create(tmp_path / "other", ORIGIN)
    with pytest.raises(SignatureError, match="presents the log key"):
        RemoteLog(served.server.url, verifier=other.verifier)
    # Through the configuration: a trust policy pins the log's URL to another key.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("EVIDENCE_HOME", str(home))
    monkeypatch.setenv("EVIDENCE_LOG_TOKEN", served.tokens[0])
    (home / "trust.policy").write_text(f"log {other.verifier.vkey()} {served.server.url}\nquorum none\n")
    with pytest.raises(SignatureError):
        open_remote_log(served.server.url)
    (home / "trust.policy").write_text(f"log {other.verifier.vkey()}\nquorum none\n")  # same origin, other key
    with pytest.raises(SignatureError, match="trust policy"):
        open_remote_log(served.server.url)
    (home / "trust.policy").write_text(f"log {served.verifier.vkey()} {served.server.url}\nquorum none\n")
    with open_remote_log(served.server.url) as rl:
        [i] = rl.append([b"through the configuration"])
        assert rl.verifier == served.verifier and rl.prove(i).index == i


# --------------------------------------------------------------------------- crash safety


def test_sigkill_under_load_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    log = Log.create(tmp_path / "log", ORIGIN)
    key = log.verifier
    log.close()
    [token] = make_tokens(tmp_path / "tokens", ["loader"])
    server = RunningServer(tmp_path / "log", write_config(tmp_path / "server.toml", tokens=tmp_path / "tokens"))
    acked: list[tuple[int, bytes]] = []
    try:
        for round_ in range(2):
            server.start()
            load = Submitter(server.port, token, threads=8, prefix=b"round%d" % round_).start()
            deadline = time.monotonic() + 10
            while len(load.acked) < 150 and time.monotonic() < deadline:
                time.sleep(0.05)
            server.kill()  # SIGKILL while the clients keep submitting
            load.stop()
            assert len(load.acked) >= 150, load.errors[:3]
            acked += load.acked
        server.start()  # restarts clean on the crashed directory
        assert audit(str(tmp_path / "log"), [key], origin=ORIGIN).entries >= len(acked)
        assert audit(server.url, [key], origin=ORIGIN).entries >= len(acked)
        with Log.open(tmp_path / "log") as reopened:
            for index, entry in acked:
                assert reopened.entry(index) == entry
        # Acknowledged entries sent again keep their index; new ones still go in.
        for index, entry in acked[:: max(1, len(acked) // 10)]:
            status, body = post(server.port, entry, token)
            assert status == 200 and TlogProof.parse(body).index == index
        assert post(server.port, b"after the crashes", token)[0] == 200
        status = requests.get(server.url + "status", timeout=10).json()
        assert status["healthy"] and status["last_append_error"] is None
    finally:
        server.stop()


# --------------------------------------------------------------------------- witnesses, TSA, preserve


def _witness_module() -> Any:
    try:
        from witness_helpers import new_witness  # noqa: F401

        import evidence.witness as witness
    except ImportError as e:
        pytest.skip(f"evidence.witness is not available yet: {e}")
    return witness


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    from capture_helpers import load_site_module

    running = load_site_module().TestSite.start()
    yield running
    running.close()


@pytest.fixture(scope="module")
def chromium() -> str:
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        return str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")


@pytest.fixture(scope="module")
def witnessed(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Iterator[SimpleNamespace]:
    """A server with two running witnesses, one that is down, and the local TSA."""
    witness = _witness_module()
    from witness_helpers import new_witness

    base = tmp_path_factory.mktemp("witnessed")
    log = Log.create(base / "log", ORIGIN)
    log_key, clock_key = log.verifier, log.timestamp_verifier
    log.close()
    running = []
    for name in ("w1", "w2"):
        w = new_witness(base / name, f"witness.test/{name}")
        witness.trust_log(w.directory, log_key.vkey())
        running.append(w.start())
    down = witness.init_witness(base / "w3", "witness.test/w3")  # configured, never started
    [token] = make_tokens(base / "tokens", ["preserve"])
    cfg = write_config(
        base / "server.toml",
        tokens=base / "tokens",
        witness_timeout=5.0,
        witnesses=[
            ("w1", running[0].url, running[0].verifier.vkey()),
            ("w2", running[1].url, running[1].verifier.vkey()),
            ("w3", unused_port_url().removesuffix("/tsr"), down.vkey()),
        ],
        tsas=[(local_tsa.name, local_tsa.url, local_tsa.cert_path, local_tsa.root_path)],
    )
    server = RunningServer(base / "log", cfg).start()
    policy = base / "trust.policy"
    policy.write_text(
        f"log {log_key.vkey()} {server.url}\n"
        f"witness w1 {running[0].verifier.vkey()}\n"
        f"witness w2 {running[1].verifier.vkey()}\n"
        f"witness w3 {down.vkey()}\n"
        "group both 2 w1 w2\n"
        "quorum both\n" + local_tsa.policy_lines()
    )
    yield SimpleNamespace(
        base=base,
        server=server,
        token=token,
        log_key=log_key,
        clock_key=clock_key,
        witnesses=running,
        down=down,
        policy=policy,
        tsa=local_tsa,
    )
    server.stop()
    for w in running:
        w.stop()


def test_checkpoints_carry_both_witnesses_and_go_on_without_the_one_down(witnessed: SimpleNamespace) -> None:
    with RemoteLog(witnessed.server.url, token=witnessed.token, verifier=witnessed.log_key) as rl:
        [i] = rl.append([b"witnessed entry"])
        proof = rl.prove(i, rl.checkpoint().checkpoint.size)
        signed = proof.signed_checkpoint
        cos = signed.cosignatures([w.verifier for w in witnessed.witnesses] + [witnessed.down])
        assert set(cos) == {w.verifier for w in witnessed.witnesses}  # w3 is down: no cosignature
        assert witnessed.clock_key in signed.cosignatures([witnessed.clock_key])
        # The RFC 3161 token covers the note *with* the witness cosignatures.
        tokens = rl.timestamps(signed.checkpoint.size)
        assert tokens
        from evidence.timestamp import verify_token

        verify_token(tokens[0], proof.checkpoint_note, [witnessed.tsa.pinned()])
    status = requests.get(witnessed.server.url + "status", timeout=10).json()
    by_name = {w["name"]: w for w in status["witnesses"]}
    assert by_name["w1"]["last_result"] == "cosigned" and by_name["w2"]["last_result"] == "cosigned"
    assert by_name["w3"]["last_result"] == "failed" and by_name["w3"]["last_error"]
    assert not status["witness_conflicts"]
    assert status["tsas"][0]["last_result"] == "stamped"
    assert "w3" in witnessed.server.server_log()


def _bundle_env(witnessed: SimpleNamespace, home: Path) -> dict[str, str]:
    home.mkdir(exist_ok=True)
    return dict(os.environ, EVIDENCE_HOME=str(home), EVIDENCE_LOG_TOKEN=witnessed.token)


@pytest.fixture(scope="module")
def preserved(witnessed: SimpleNamespace, site: Any, chromium: str) -> Path:
    """`preserve URL --log http://...` into the witnessed server (the issue's acceptance path)."""
    out = witnessed.base / "bundles"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "evidence_cli.preserve",
            site.url("/listing"),
            "--log",
            witnessed.server.url,
            "-o",
            str(out),
            "--json",
            "--browser",
            chromium,
        ],
        env=_bundle_env(witnessed, witnessed.base / "home"),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    result = json.loads(proc.stdout)["results"][0]
    assert result["ok"] and result["timestamps"] >= 1, result
    return Path(result["bundle"])


def _verify(bundle: Path, witnessed: SimpleNamespace) -> Any:
    try:
        from evidence.trust import TrustPolicy
        from evidence.verify import verify
    except ImportError as e:
        pytest.skip(f"evidence.verify is not available yet: {e}")
    return verify(bundle, trust=TrustPolicy.load(witnessed.policy), log_keys=[witnessed.clock_key])


def test_preserve_through_the_server_verifies_offline_with_two_of_two_witnesses(
    witnessed: SimpleNamespace, preserved: Path
) -> None:
    from evidence.bundle import BundleView

    with BundleView.open(preserved) as view:
        signed = view.proof().signed_checkpoint
        assert set(signed.cosignatures([w.verifier for w in witnessed.witnesses])) == {
            w.verifier for w in witnessed.witnesses
        }
        assert [n for n, _ in view.tokens()] == ["evidence/checkpoint.1.tsr"]
    report = _verify(preserved, witnessed)
    assert report.ok, report.render_text()
    # A policy that wants the third witness too is not met: it was down.
    strict = witnessed.base / "strict.policy"
    strict.write_text(witnessed.policy.read_text().replace("group both 2 w1 w2", "group both 3 w1 w2 w3"))
    from evidence.trust import TrustPolicy
    from evidence.verify import verify

    assert not verify(preserved, trust=TrustPolicy.load(strict), log_keys=[witnessed.clock_key]).ok


def test_capture_api_with_a_server_url(
    witnessed: SimpleNamespace, site: Any, chromium: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import evidence

    for k, v in _bundle_env(witnessed, witnessed.base / "home-api").items():
        monkeypatch.setenv(k, v)
    bundle = evidence.capture(
        site.url("/listing"), out_dir=witnessed.base / "api", log=witnessed.server.url, executable=chromium
    )
    assert bundle.log_origin == ORIGIN and bundle.timestamps >= 1
    with Log.open(witnessed.base / "log") as log:
        entry = log.entry(bundle.log_index)
    assert entry == b"evidence-entry/v1\nmanifest-sha256 " + bundle.manifest_sha256.encode() + b"\n"


@pytest.fixture(scope="module")
def refreshed(witnessed: SimpleNamespace, preserved: Path) -> SimpleNamespace:
    """A copy of the preserved bundle, refreshed after the log grew (`evidence refresh`)."""
    bundle = witnessed.base / "refreshed.wacz"
    shutil.copy(preserved, bundle)
    before = members(bundle)
    with RemoteLog(witnessed.server.url, token=witnessed.token) as rl:
        rl.append([b"later entry %d" % i for i in range(3)])
    assert _refresh(str(bundle), "--log", witnessed.server.url, "--log-key", witnessed.log_key.vkey()) == 0
    return SimpleNamespace(bundle=bundle, before=before, after=members(bundle))


def test_refresh_adds_a_newer_checkpoint_and_keeps_the_original(
    witnessed: SimpleNamespace, refreshed: SimpleNamespace
) -> None:
    from evidence.bundle import BundleView
    from evidence.bundle.refresh import check_refresh

    before, after = refreshed.before, refreshed.after
    for name, data in before.items():
        if name not in ("datapackage.json", "datapackage-digest.json"):
            assert after[name] == data, name  # nothing changed or removed
    added = set(after) - set(before)
    assert added == {"evidence/refresh-1.note", "evidence/refresh-1.consistency", "evidence/refresh-1.1.tsr"}
    with BundleView.open(refreshed.bundle) as view:
        [check] = check_refresh(view, [witnessed.log_key], cosigners=[w.verifier for w in witnessed.witnesses])
        base = view.proof().signed_checkpoint.checkpoint
        assert check.checkpoint.size > base.size and check.tokens
        assert {v for v, _ in check.cosignatures} == {w.verifier for w in witnessed.witnesses}
        from evidence.timestamp import verify_token

        verify_token(check.tokens[0][1], check.note, [witnessed.tsa.pinned()])
    # Nothing newer: a second refresh adds nothing.
    assert _refresh(str(refreshed.bundle), "--log", witnessed.server.url, "--log-key", witnessed.log_key.vkey()) == 0
    assert members(refreshed.bundle) == after


def test_refreshed_bundle_verifies_offline(witnessed: SimpleNamespace, refreshed: SimpleNamespace) -> None:
    report = _verify(refreshed.bundle, witnessed)
    assert report.ok, report.render_text()
    assert "newer checkpoint(s) of the same log" in report.steps[4].detail


def test_a_damaged_refresh_fails_verification(
    witnessed: SimpleNamespace, refreshed: SimpleNamespace, tmp_path: Path
) -> None:
    import zipfile

    bad = tmp_path / "bad.wacz"
    with zipfile.ZipFile(refreshed.bundle) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith(".consistency"):
                data = data[:-2] + (b"A" if data[-2:-1] != b"A" else b"B") + b"\n"
            dst.writestr(info, data)
    report = _verify(bad, witnessed)
    assert not report.ok
    assert report.exit_code == 1


def test_a_witness_refusing_a_forked_log_is_surfaced_loudly(witnessed: SimpleNamespace) -> None:
    """A copy of the log with the same keys diverges: the witness refuses, the server says so."""
    fork_dir = witnessed.base / "fork"
    with RemoteLog(witnessed.server.url, token=witnessed.token) as rl:
        rl.append([b"before the fork"])
    time.sleep(0.5)  # let the server go idle before copying its directory
    shutil.copytree(witnessed.base / "log", fork_dir)
    with RemoteLog(witnessed.server.url, token=witnessed.token) as rl:
        rl.append([b"honest entry %d" % i for i in range(3)])  # the witnesses cosign the honest tree
    with Log.open(fork_dir) as forked:
        forked.append([b"forked entry %d" % i for i in range(5)])  # same origin and keys, other history
    cfg = witnessed.base / "fork.toml"
    tokens_line = f'tokens = "{witnessed.base / "tokens"}"\n'
    w1 = witnessed.witnesses[0]
    cfg.write_text(
        tokens_line + f'witness_timeout = 5\n\n[[witness]]\nname = "w1"\nurl = "{w1.url}"\n'
        f'vkey = "{w1.verifier.vkey()}"\n'
    )
    server = RunningServer(fork_dir, cfg).start()
    try:
        status, body = post(server.port, b"into the fork", witnessed.token)
        assert status == 200  # the log goes on, without the refusing witness's cosignature
        assert not SignedCheckpoint.parse(TlogProof.parse(body).checkpoint_note).cosignatures([w1.verifier])
        state = requests.get(server.url + "status", timeout=10).json()
        assert state["witness_conflicts"] == ["w1"] and state["healthy"] is False
        assert state["witnesses"][0]["conflict"] is True
        assert "REFUSED" in server.server_log()
    finally:
        server.stop()


def _refresh(*argv: str) -> int:
    """`evidence refresh ...` through its own argument parser (main.py registers it too)."""
    from evidence_cli import refresh_cmd
    from evidence_cli.main import _Parser

    parser = _Parser(prog="evidence")
    refresh_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["refresh", *argv])
    code: int = args.func(args)
    return code


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ("drop-hash", "ConsistencyError"),
        ("bad-base64", "BundleFormatError"),
        ("other-key", "SignatureError"),
        ("missing-consistency", "BundleFormatError"),
        ("gap", "BundleFormatError"),
        ("older", "ConsistencyError"),
    ],
)
def test_check_refresh_fails_closed(
    witnessed: SimpleNamespace, refreshed: SimpleNamespace, tmp_path: Path, change: str, error: str
) -> None:
    from evidence import errors
    from evidence.bundle import BundleView
    from evidence.bundle.refresh import check_refresh
    from evidence.bundle.wacz import Member
    from evidence.note import Signer

    files = dict(refreshed.after)
    note, cons = "evidence/refresh-1.note", "evidence/refresh-1.consistency"
    if change == "drop-hash":
        files[cons] = b"".join(files[cons].splitlines(keepends=True)[1:])
    elif change == "bad-base64":
        files[cons] = b"not base64!\n" + files[cons]
    elif change == "other-key":
        # A note signed only by another key with the log's name: not the log's signature.
        impostor = Signer.generate(ORIGIN)
        signed = SignedCheckpoint.parse(files[note])
        text = signed.note.text.encode()
        files[note] = type(signed.note)(signed.note.text, (impostor.signature_line(text),)).to_bytes()
    elif change == "missing-consistency":
        files["evidence/refresh-2.note"] = files[note]
    elif change == "gap":
        files["evidence/refresh-3.note"] = files[note]
        files["evidence/refresh-3.consistency"] = files[cons]
    elif change == "older":
        with BundleView.open(refreshed.bundle) as view:
            base = view.proof().signed_checkpoint
        # The bundle's own checkpoint presented as a "refresh" of a larger tree: it is smaller.
        files[note] = base.to_bytes()
        files[cons] = b""
        newer = SignedCheckpoint.parse(refreshed.after[note])
        view = BundleView.from_members([Member(n, d) for n, d in files.items()])
        with pytest.raises(getattr(errors, error)):
            check_refresh(view, [witnessed.log_key], base=newer)
        return
    view = BundleView.from_members([Member(n, d) for n, d in files.items()])
    with pytest.raises(getattr(errors, error)):
        check_refresh(view, [witnessed.log_key])


# --------------------------------------------------------------------------- configuration (no server)


def test_server_config_parsing(tmp_path: Path) -> None:
    from evidence.errors import FormatError
    from evidence.server.config import ServerConfig, parse_listen, parse_server_config

    assert parse_server_config("", tmp_path) == ServerConfig()
    w = Log.create(tmp_path / "l", "x.example/l")
    clock, logkey = w.timestamp_verifier.vkey(), w.verifier.vkey()
    cfg = parse_server_config(
        'prefix = "/firm/log/"\ntokens = "t"\nlinger = 0.5\n\n'
        f'[[witness]]\nurl = "https://w.example/"\nvkey = "{clock}"\n'
        '\n[[tsa]]\nname = "t1"\nurl = "https://tsa.example/"\nroot = "r.pem"\nsha256 = "' + "ab" * 32 + '"\n',
        tmp_path,
    )
    assert cfg.prefix == "/firm/log" and cfg.tokens == tmp_path / "t" and cfg.linger == 0.5
    assert cfg.witnesses[0].name == "x.example/l/timestamp" and cfg.tsas[0].root == tmp_path / "r.pem"
    for bad in (
        "linger = 2",  # the log must integrate at least once a second
        "max_batch = 0",
        "max_request_bytes = 1000",
        "colour = 1",
        'prefix = "log"',
        'prefix = "/a/../b"',
        "linger = true",
        f'[[witness]]\nurl = "https://w.example/"\nvkey = "{logkey}"',  # a log key, not a cosignature key
        '[[witness]]\nurl = "ftp://w.example/"\nvkey = "x"',
        f'[[witness]]\nurl = "https://w.example/"\nvkey = "{clock}"\nextra = 1',
    ):
        with pytest.raises(FormatError):
            parse_server_config(bad, tmp_path)
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen("[::1]:0") == ("::1", 0)
    for bad in ("8080", "host:", "host:99999", ":80"):
        with pytest.raises(EvidenceError):
            parse_listen(bad)


def test_token_file(tmp_path: Path) -> None:
    from evidence.errors import UsageError
    from evidence.server.tokens import TokenSet

    path = tmp_path / "tokens"
    path.write_text("# comment\nalice aaaaaaaaaaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbbbbbbbbbb\n")
    tokens = TokenSet(path)
    assert tokens.check(None)[0] == 401
    assert tokens.check("Basic aaaaaaaaaaaaaaaaaaaaaaaa")[0] == 401
    assert tokens.check("Bearer ")[0] == 401
    assert tokens.check("Bearer aaaaaaaaaaaaaaaaaaaaaaab")[0] == 403
    assert tokens.check("Bearer aaaaaaaaaaaaaaaaaaaaaaaa") == (200, "alice")
    assert tokens.check("bearer bbbbbbbbbbbbbbbbbbbbbbbb") == (200, "token on line 3")
    assert TokenSet(None).check("Bearer aaaaaaaaaaaaaaaaaaaaaaaa")[0] == 403
    path.write_text("short\n")
    with pytest.raises(UsageError, match="shorter"):
        TokenSet(path)
    with pytest.raises(UsageError, match="does not exist"):
        TokenSet(tmp_path / "missing")
    # Revoking: the file is re-read when it changes (checked at most every 2 seconds).
    path.write_text("alice aaaaaaaaaaaaaaaaaaaaaaaa\n")
    live = TokenSet(path)
    path.write_text("carol cccccccccccccccccccccccc\n")
    time.sleep(2.1)
    assert live.check("Bearer aaaaaaaaaaaaaaaaaaaaaaaa")[0] == 403
    assert live.check("Bearer cccccccccccccccccccccccc") == (200, "carol")


def test_config_toml_log_server(tmp_path: Path) -> None:
    from evidence.config import parse_config
    from evidence.errors import FormatError

    cfg = parse_config('[[log_server]]\nurl = "https://log.example/"\ntoken_file = "tok"\nkey = "k"\n', tmp_path)
    assert cfg.log_servers[0].url == "https://log.example/" and cfg.log_servers[0].token_file == tmp_path / "tok"
    assert parse_config("", tmp_path).log_servers == ()
    for bad in ('[[log_server]]\nurl = "file:///x"\n', '[[log_server]]\nurl = "https://x/"\ntoken = "t"\n'):
        with pytest.raises(FormatError):
            parse_config(bad, tmp_path)


def test_a_url_prefix(tmp_path: Path) -> None:
    log = Log.create(tmp_path / "log", ORIGIN)
    key = log.verifier
    log.close()
    [token] = make_tokens(tmp_path / "tokens", ["p"])
    cfg = write_config(tmp_path / "server.toml", tokens=tmp_path / "tokens", prefix="/firm/log")
    server = RunningServer(tmp_path / "log", cfg, prefix="/firm/log").start()
    try:
        assert server.url.endswith("/firm/log/")
        with RemoteLog(server.url, token=token, verifier=key) as rl:
            [i] = rl.append([b"under a prefix"])
            assert rl.prove(i).index == i
        assert raw_get(server.port, "/checkpoint")[0] == 404
        assert raw_get(server.port, "/firm/log/checkpoint")[0] == 200
        assert post(server.port, b"x", token)[0] == 405  # /add outside the prefix
        head = requests.head(server.url + "checkpoint", timeout=10)
        assert head.status_code == 200 and int(head.headers["content-length"]) > 0 and not head.content
        assert audit(server.url, [key], origin=ORIGIN).entries == 1
    finally:
        server.stop()
