"""A log that several servers share, in a real PostgreSQL (tests/pg_helpers.py), served by real
`evidence log serve --storage postgresql://...` processes.

- Two servers on one database under concurrent clients (threads POSTing to both), one
  SIGKILLed mid-run and restarted: every acknowledged entry is at its acknowledged index, no
  index was handed out twice, an entry sent to one server keeps its index at the other,
  every checkpoint either server published is consistent with every later one (proofs
  from the final tiles), and `evidence log audit URL` is clean.
- A directory log migrated with `evidence log migrate`: every checkpoint, tile and history
  file served over HTTP is byte-identical to the directory's file; a second run only checks;
  a database holding another log is refused and left as it was.
"""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from server_helpers import RunningServer, Submitter, make_tokens, post, write_config
from tools import project_command

from evidence import merkle
from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.errors import LogError
from evidence.log import Log
from evidence.log.pgstore import migrate
from evidence.log.reader import LogReader, audit
from evidence.log.storage import HTTPStorage

pytest.importorskip("psycopg")

ORIGIN = "test.example/pg-shared-log"


def _evidence(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([project_command("evidence"), *args], capture_output=True, text=True, timeout=120)


def _public_files(root: Path) -> dict[str, bytes]:
    """Every file of a log directory a server serves (not .state/, not temporary files)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".state" not in p.relative_to(root).parts and not p.name.startswith(".")
    }


@pytest.fixture(scope="module")
def shared(postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("pglog")
    url = postgres.create_database("pglog_shared")
    log = Log.create(base / "seed", ORIGIN, keys_dir=base / "keys")
    log.append([b"seed entry %d" % i for i in range(10)])
    verifier = log.verifier
    log.close()
    done = _evidence("log", "migrate", str(base / "seed"), url)
    assert done.returncode == 0, done.stderr
    [token] = make_tokens(base / "tokens", ["client"])
    config = write_config(base / "server.toml", tokens=base / "tokens", linger=0.005)
    servers = [RunningServer(base / f"server{k}", config, storage=url, keys=base / "keys").start() for k in ("a", "b")]
    try:
        yield SimpleNamespace(base=base, url=url, token=token, verifier=verifier, servers=servers, config=config)
    finally:
        for s in servers:
            s.stop()


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the servers acknowledged too few entries in time"
        time.sleep(0.05)


class CheckpointWatcher:
    """Reads /checkpoint from every server, over and over, keeping every distinct note seen."""

    def __init__(self, servers: list[RunningServer]) -> None:
        self.urls = [s.url for s in servers]
        self.seen: dict[bytes, str] = {}
        #: The servers that answered with a checkpoint (whichever of them showed a note first).
        self.served: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> CheckpointWatcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            for url in self.urls:
                try:
                    r = requests.get(url + "checkpoint", timeout=5)
                except requests.RequestException:
                    continue  # the server that was killed
                if r.status_code == 200:
                    self.seen.setdefault(r.content, url)
                    self.served.add(url)
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def test_two_servers_share_one_log_and_a_sigkill_loses_nothing(shared: SimpleNamespace) -> None:
    a, b = shared.servers
    watcher = CheckpointWatcher([a, b]).start()
    on_a = Submitter(a.port, shared.token, 6, prefix=b"via-a").start()
    on_b = Submitter(b.port, shared.token, 6, prefix=b"via-b").start()
    # Bounded by counts, not by time: on a loaded machine a second may hold few appends.
    _wait_for(lambda: len(on_a.acked) >= 40 and len(on_b.acked) >= 40)
    b.kill()  # SIGKILL, mid-run: its clients' requests in flight get no answer
    after_kill = len(on_a.acked)
    _wait_for(lambda: len(on_a.acked) >= after_kill + 20)  # the other server goes on alone
    on_b.stop()
    b.start()  # back on the same database: it serves the log as the other server left it
    more = Submitter(b.port, shared.token, 4, prefix=b"via-b-again").start()
    _wait_for(lambda: len(more.acked) >= 20)
    for s in (on_a, more):
        s.stop()
    watcher.stop()
    assert not on_a.errors and not more.errors, (on_a.errors[:3], more.errors[:3])
    acked = on_a.acked + on_b.acked + more.acked
    # No index handed out twice (every entry was distinct), none acknowledged and lost.
    indices = [i for i, _ in acked]
    assert len(set(indices)) == len(indices)
    reader = LogReader(HTTPStorage(a.url))
    signed = reader.signed_checkpoint([shared.verifier], origin=ORIGIN)
    size = signed.checkpoint.size
    assert max(indices) < size
    width = 256
    for index, entry in acked:
        n = index // width
        bundle = reader.fetch_bundle(n, min(width, size - n * width))
        assert bundle[index % width] == entry, index
    # An entry acknowledged by one server has the same index at the other.
    index, entry = on_a.acked[0]
    status, body = post(b.port, entry, shared.token)
    assert status == 200 and TlogProof.parse(body).index == index
    # Both servers published one history: each checkpoint seen (from either) is consistent
    # with the final one, and no two checkpoints of one size differ.
    hashes = reader.hashes(size)
    by_size: dict[int, bytes] = {}
    for note in shared_checkpoints(watcher.seen, shared.verifier):
        cp = note.checkpoint
        assert by_size.setdefault(cp.size, cp.root_hash) == cp.root_hash, f"two checkpoints of size {cp.size}"
        merkle.verify_consistency(
            cp.size, size, cp.root_hash, signed.checkpoint.root_hash, hashes.consistency_proof(cp.size)
        )
    assert watcher.served == set(watcher.urls)  # checkpoints were read from both servers
    sizes = sorted(by_size)
    for old, new in itertools.pairwise(sizes):  # successive checkpoints, pairwise
        merkle.verify_consistency(old, new, by_size[old], by_size[new], reader.hashes(new).consistency_proof(old))
    # The whole log audits clean over HTTP, through either server.
    done = _evidence("log", "audit", a.url, "--log-key", shared.verifier.vkey(), "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    assert audit(b.url, [shared.verifier], origin=ORIGIN).entries == size


def shared_checkpoints(seen: dict[bytes, str], verifier: object) -> list[SignedCheckpoint]:
    out = []
    for raw in seen:
        signed = SignedCheckpoint.parse(raw)
        signed.verify([verifier], origin=ORIGIN)  # type: ignore[list-item]
        out.append(signed)
    return out


def test_migrated_log_is_served_byte_for_byte(postgres, shared: SimpleNamespace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = Log.create(tmp_path / "dir", "test.example/pg-migrated", keys_dir=tmp_path / "keys")
    for k in range(6):  # full and partial tiles at two levels, several history checkpoints
        log.append([b"migrated %d-%d" % (k, i) for i in range(70 if k < 5 else 250)])
    log.add_timestamp(log.size, b"not a real token, but bytes that must arrive unchanged")
    key, log_size = log.verifier, log.size
    log.close()
    files = _public_files(tmp_path / "dir")
    url = postgres.create_database("pglog_migrated")
    done = _evidence("log", "migrate", str(tmp_path / "dir"), url)
    assert done.returncode == 0, done.stderr
    said: list[str] = []
    assert migrate(tmp_path / "dir", url, progress=said.append) == (len(files) + 2, log_size)  # a rerun only checks
    assert "already holds this log, byte for byte" in said[-1]
    # Into a database holding another log: refused, and that log is left as it was.
    before = requests.get(shared.servers[0].url + "checkpoint", timeout=30).content
    with pytest.raises(LogError, match="already holds a different log"):
        migrate(tmp_path / "dir", shared.url)
    assert requests.get(shared.servers[0].url + "checkpoint", timeout=30).content == before
    server = RunningServer(tmp_path / "served", None, storage=url, keys=tmp_path / "keys").start()
    try:
        for path, data in files.items():
            r = requests.get(server.url + path, timeout=30)
            assert r.status_code == 200 and r.content == data, path
        tsr = next(p for p in files if p.endswith(".tsr"))
        listing = requests.get(server.url + tsr.rsplit("/", 1)[0] + "/", timeout=30).json()
        assert listing["timestamps"] == [tsr]
        done = _evidence("log", "audit", server.url, "--log-key", key.vkey(), "-q")
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        server.stop()


def test_serve_refuses_a_database_without_a_log_or_keys(
    postgres, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    from evidence_cli.serve_cmd import main as serve_main

    url = postgres.create_database("pglog_empty")
    assert serve_main(["--storage", url, "--listen", "127.0.0.1:0"]) != 0
    assert "--keys" in capsys.readouterr().err
    assert serve_main(["--storage", url, "--keys", str(tmp_path), "--listen", "127.0.0.1:0"]) != 0
    assert "holds no evidence log" in capsys.readouterr().err
    assert serve_main(["--storage", "/not/a/url", "--keys", str(tmp_path)]) != 0
    assert "postgresql:// URL" in capsys.readouterr().err


def test_after_checkpoint_hook_and_timestamps_work_in_process(shared: SimpleNamespace) -> None:
    from evidence.log.pgstore import PgLog

    seen: list[int] = []

    def hook(log: Log, size: int) -> None:
        seen.append(size)
        log.add_timestamp(size, b"token over %d" % size)

    with PgLog.open(shared.url, keys_dir=shared.base / "keys", after_checkpoint=hook) as log:
        [first] = log.append([b"in-process entry"])
        assert seen == [first + 1] and log.timestamps(first + 1) == [b"token over %d" % (first + 1)]
        assert log.append([b"in-process entry"]) == [first]  # logged already: same index, no new checkpoint
        assert seen == [first + 1]
        assert log.entry(first) == b"in-process entry" and first + 1 in log.checkpoint_sizes()


def test_lookup_by_hash_answers_from_either_server_of_the_shared_log(shared: SimpleNamespace) -> None:
    from evidence.bundle.format import log_entry
    from evidence.log.pgstore import PgLog
    from evidence.verify.lookup import check_lookup

    manifest = b'{"shared-log lookup": true}'
    with PgLog.open(shared.url, keys_dir=shared.base / "keys") as log:
        [index] = log.append([log_entry(manifest)])
    digest = hashlib.sha256(manifest).hexdigest()
    for server in shared.servers:
        if server.proc is None:  # the SIGKILL test stopped it
            continue
        r = requests.get(server.url + "lookup/" + digest, timeout=30)
        assert r.status_code == 200, r.text
        assert [e["index"] for e in r.json()["entries"]] == [index]
        assert check_lookup(server.url, r.content, manifest, [shared.verifier], anchored=True).confirmed
        assert requests.get(server.url + "lookup/" + "0" * 64, timeout=30).status_code == 404


def test_attempt_records_posted_to_one_server_are_kept_in_the_database_and_listed_by_both(
    shared: SimpleNamespace,
) -> None:
    from evidence.capture.errors import ConnectionFailedError
    from evidence.errors import CaptureError
    from evidence.log.attempts import AttemptFiles, attempt, list_attempts
    from evidence.log.pgstore import PgLog
    from evidence.log.remote import RemoteLog

    live = [s for s in shared.servers if s.proc is not None]
    assert live, "no log server is running"
    with (
        RemoteLog(live[0].url, token=shared.token) as log,
        pytest.raises(CaptureError),
        attempt(log, url="https://shop.example/1", case="PG-1", operator="A"),
    ):
        raise ConnectionFailedError("the server refused the connection")
    for server in live:
        with RemoteLog(server.url, token=shared.token) as log:
            found = list_attempts(log, "PG-1")
        assert [a.record.outcome for a in found] == ["failed"], server.url
    # The record is a row of the shared database, not a file beside either server.
    with PgLog.open(shared.url, keys_dir=shared.base / "keys") as log:
        [stored] = AttemptFiles.of(log).list("PG-1")
        assert log.entry(stored.index).startswith(b"evidence-attempt/v1\n")
    for server in shared.servers:
        assert not any(server.directory.rglob("attempts")), server.directory
