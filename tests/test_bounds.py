"""Issue 10 item 10: every read has a type check and a size cap, every network call a total
deadline, and the servers bound what one connection can make them hold.

Everything is real: FIFOs made with ``os.mkfifo``, symlinks to ``/dev/zero``, sparse files
of 3 GiB made by ``truncate``, servers on 127.0.0.1 that answer one byte at a time, and the
real `evidence log serve` / `evidence witness serve` processes fed raw bytes over sockets.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from server_helpers import RunningServer, make_tokens, post, write_config
from tsa.server import TSAServer

from evidence._internal.files import read_file, read_file_or_none, read_text_file
from evidence._internal.http import AnswerTooLarge, DeadlineExceeded, fetch
from evidence.errors import AuditError, LogError, UsageError
from evidence.log import Log
from evidence.log.reader import LogReader, audit
from evidence.log.remote import RemoteLog
from evidence.log.storage import HTTPStorage, max_file_size
from evidence.timestamp import TimestampRequestError, request_timestamp, stamp_checkpoint

if TYPE_CHECKING:
    from tsa.fixtures import RunningTSA

pytest_plugins = ["tsa.fixtures"]  # local_tsa

ORIGIN = "example.test/bounds"
GIB3 = 3 << 30
CASES = ("zero", "fifo", "sparse")
EXPECTED = {
    "zero": "is a character device, not a regular file",
    "fifo": "is a FIFO (named pipe), not a regular file",
    "sparse": "is 3,221,225,472 bytes long",
}


def _hostile(path: Path, how: str) -> None:
    """Replace ``path`` by a symlink to /dev/zero, a FIFO, or a 3 GiB sparse file."""
    path.unlink(missing_ok=True)
    if how == "zero":
        path.symlink_to("/dev/zero")
    elif how == "fifo":
        os.mkfifo(path)
    else:
        subprocess.run(["truncate", "-s", str(GIB3), str(path)], check=True)


# --------------------------------------------------------------------------- the file reader


@pytest.mark.parametrize("how", CASES)
def test_the_bounded_reader_refuses_what_is_no_regular_file_or_too_large(tmp_path: Path, how: str) -> None:
    target = tmp_path / "key"
    _hostile(target, how)
    start = time.monotonic()
    with pytest.raises(UsageError) as err:
        read_file(target, limit=1 << 20, what="key file")
    assert time.monotonic() - start < 5
    assert err.value.message.startswith(f"the key file {target} ")
    assert EXPECTED[how] in err.value.message
    # None means "nothing there"; a FIFO, device or huge file is still an error.
    with pytest.raises(UsageError):
        read_file_or_none(target, limit=1 << 20)


def test_the_bounded_reader_follows_symlinks_to_regular_files_and_caps_exactly(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.write_bytes(b"x" * 100)
    link = tmp_path / "link"
    link.symlink_to(real)
    assert read_file(link, limit=100) == b"x" * 100
    with pytest.raises(UsageError, match="is 100 bytes long; a file is at most 99 bytes"):
        read_file(link, limit=99)
    assert read_file_or_none(tmp_path / "missing", limit=10) is None
    assert read_file_or_none(tmp_path, limit=10) is None  # a directory: nothing to read
    with pytest.raises(UsageError, match="does not exist"):
        read_file(tmp_path / "missing", limit=10)
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(UsageError, match="symlink loop"):
        read_file(tmp_path / "loop", limit=10)
    (tmp_path / "latin").write_bytes(b"\xff\xfe")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_text_file(tmp_path / "latin", limit=10)


def test_caps_fit_what_each_log_file_is() -> None:
    assert max_file_size("tile/0/000") == 8192
    assert max_file_size("tile/0/000.p/3") == 96
    assert max_file_size("tile/entries/000") == 256 * (2 + 65535)
    assert max_file_size("tile/entries/000.p/3") == 3 * (2 + 65535)
    assert max_file_size("checkpoint") == max_file_size("history/003/checkpoint") == 64 << 10


# --------------------------------------------------------------------------- the hostile log directory


@pytest.fixture(scope="module")
def small_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("hostile") / "log"
    with Log.create(d, ORIGIN) as log:
        log.append([b"one", b"two", b"three"])
        key = log.verifier.vkey()
    return d, key


def _copy(src: Path, dst: Path) -> Path:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)
    return dst


TARGETS = {"checkpoint": "checkpoint", "tile": "tile/0/000.p/3", "bundle": "tile/entries/000.p/3"}


def _run_measured(cmd: list[str]) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run ``cmd``; return it, the seconds it took and its peak RSS in KiB (from wait4)."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)\n"
        "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr)\n"
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(p.returncode)\n"
    )
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, timeout=90)
    elapsed = time.monotonic() - start
    m = re.search(r"MAXRSS (\d+)", proc.stderr)
    assert m, proc.stderr
    return proc, elapsed, int(m.group(1))


@pytest.mark.parametrize("how", CASES)
@pytest.mark.parametrize("what", sorted(TARGETS))
def test_log_audit_on_a_hostile_directory_ends_in_a_plain_failure(
    small_log: tuple[Path, str], tmp_path: Path, what: str, how: str
) -> None:
    d = _copy(small_log[0], tmp_path / "log")
    rel = TARGETS[what]
    _hostile(d / rel, how)
    cmd = [sys.executable, "-m", "evidence_cli.main", "log", "audit", str(d), "--key", small_log[1], "-q"]
    proc, elapsed, rss_kib = _run_measured(cmd)
    assert proc.returncode == 1, proc.stderr
    kind = {"checkpoint": "checkpoint", "tile": "hash tile", "bundle": "entry bundle"}[what]
    assert f"the log cannot be audited: the {kind} {d / rel} {EXPECTED[how]}" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < 30
    assert rss_kib < 300 * 1024, f"peak RSS {rss_kib} KiB"


@pytest.mark.parametrize("how", CASES)
def test_the_reader_refuses_a_hostile_older_checkpoint_and_partial(
    small_log: tuple[Path, str], tmp_path: Path, how: str
) -> None:
    from evidence.note import Verifier

    d = _copy(small_log[0], tmp_path / "log")
    _hostile(d / "history/003/checkpoint", how)
    with pytest.raises(AuditError, match="the older checkpoint history/003/checkpoint does not verify: the checkpoint"):
        audit(str(d), [Verifier.from_vkey(small_log[1])])
    d2 = _copy(small_log[0], tmp_path / "log2")
    reader = LogReader(str(d2))
    _hostile(d2 / "checkpoint", how)
    with pytest.raises(LogError) as err:
        reader.signed_checkpoint([Verifier.from_vkey(small_log[1])])
    assert EXPECTED[how] in err.value.message


def test_log_open_refuses_a_hostile_meta_file(small_log: tuple[Path, str], tmp_path: Path) -> None:
    d = _copy(small_log[0], tmp_path / "log")
    _hostile(d / ".state/log.json", "fifo")
    with pytest.raises(LogError, match=r"log\.json is a FIFO \(named pipe\), not a regular file"):
        Log.open(d)


@pytest.mark.parametrize("how", CASES)
def test_cli_inputs_are_type_checked_and_capped(small_log: tuple[Path, str], tmp_path: Path, how: str) -> None:
    note = tmp_path / "note"
    _hostile(note, how)
    proc = subprocess.run(
        [sys.executable, "-m", "evidence_cli.main", "note", "verify", str(note), "--key", small_log[1]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert EXPECTED[how] in proc.stderr and "Traceback" not in proc.stderr


# --------------------------------------------------------------------------- slow servers (clients)


class Drip:
    """A TCP server on 127.0.0.1 that answers every request one byte per ``interval``."""

    def __init__(self, response: bytes, interval: float = 0.2) -> None:
        self.response = response
        self.interval = interval
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                for b in self.response:
                    if self.stop.wait(self.interval):
                        return
                    conn.sendall(bytes([b]))
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def drip() -> Iterator[Callable[..., Drip]]:
    made: list[Drip] = []

    def make(response: bytes, interval: float = 0.2) -> Drip:
        d = Drip(response, interval)
        made.append(d)
        return d

    yield make
    for d in made:
        d.close()


HEADER_DRIP = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(1000))
BODY_DRIP = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"a" * 5000


@pytest.mark.parametrize("response", [HEADER_DRIP, BODY_DRIP], ids=["headers", "body"])
def test_fetch_has_a_total_deadline(drip: Callable[..., Drip], response: bytes) -> None:
    server = drip(response, 0.05)
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="did not complete its answer within 1 seconds"):
        fetch("GET", server.url, deadline=1.0, limit=1 << 20)
    assert 0.9 < time.monotonic() - start < 4


def test_fetch_deadline_covers_a_tls_handshake(drip: Callable[..., Drip]) -> None:
    # A TLS record header announcing 16 KiB, then its bytes one at a time: the handshake
    # itself is cut at the deadline.
    server = drip(b"\x16\x03\x03\x40\x00" + b"\x02" * 0x4000, 0.05)
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        fetch("GET", server.url.replace("http://", "https://"), deadline=1.0, limit=1000)
    assert time.monotonic() - start < 4


def test_fetch_caps_the_body(drip: Callable[..., Drip]) -> None:
    announced = drip(b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n", 0.0)
    with pytest.raises(AnswerTooLarge, match="announced 2,000,000 bytes; at most 1,000 are accepted"):
        fetch("GET", announced.url, deadline=5, limit=1000)
    body = b"7d0\r\n" + b"a" * 2000 + b"\r\n0\r\n\r\n"
    chunked = drip(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body, 0.0)
    with pytest.raises(AnswerTooLarge, match="sent more than 1,000 bytes"):
        fetch("GET", chunked.url, deadline=5, limit=1000)


def test_a_drip_tsa_bounds_request_timestamp_and_stamp_checkpoint(local_tsa: RunningTSA, tmp_path: Path) -> None:
    from evidence.config import TSAConfig

    with TSAServer(local_tsa.tsa, mode="drip") as server:
        tsa = TSAConfig(name="drip-tsa", url=server.url, timeout=2.0)
        start = time.monotonic()
        with pytest.raises(TimestampRequestError) as err:
            request_timestamp(b"checkpoint note\n", tsa)
        assert time.monotonic() - start < 6
        assert "drip-tsa" in err.value.message and "did not answer within 2 seconds" in err.value.message
        # What preserve does when it seals: the TSA failure is a warning and the log goes on.
        with Log.create(tmp_path / "log", ORIGIN) as log:
            log.append([b"entry"])
            start = time.monotonic()
            with pytest.warns(UserWarning, match="drip-tsa"):
                report = stamp_checkpoint(log, 1, [tsa])
            assert time.monotonic() - start < 6
            assert not report.tokens and report.failures[0].tsa == "drip-tsa"


def test_a_drip_witness_is_bounded(drip: Callable[..., Drip], tmp_path: Path) -> None:
    from evidence.witness.client import submit_checkpoint
    from evidence.witness.protocol import WitnessUnavailable

    server = drip(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"a" * 100, 0.1)
    with Log.create(tmp_path / "log", ORIGIN) as log:
        log.append([b"entry"])
        note = log.checkpoint_note(1)
    start = time.monotonic()
    with pytest.raises(WitnessUnavailable, match="did not answer within 1 seconds"):
        submit_checkpoint(server.url.rstrip("/"), note, 0, [], timeout=1.0)
    assert time.monotonic() - start < 4


def test_remote_tiles_and_the_log_client_have_total_deadlines(drip: Callable[..., Drip]) -> None:
    server = drip(BODY_DRIP, 0.05)
    storage = HTTPStorage(server.url, timeout=1.0)
    start = time.monotonic()
    with pytest.raises(LogError, match="no complete answer within 1 seconds"):
        storage.read("checkpoint")
    assert time.monotonic() - start < 4
    storage.close()
    # The client of `evidence log serve`: retries included, the call ends by its deadline.
    start = time.monotonic()
    deadline = (
        r"log server .* (could not be reached|is not working): .*"
        r"\(\d attempt\(s\) over \d+ s, within a deadline of 2 s\)"
    )
    with pytest.raises(LogError, match=deadline):
        RemoteLog(server.url, timeout=2.0)
    assert time.monotonic() - start < 5


def test_remote_tiles_are_capped_by_what_they_are(drip: Callable[..., Drip]) -> None:
    big_tile = drip(b"HTTP/1.1 200 OK\r\nContent-Length: 8193\r\n\r\n" + b"a" * 8193, 0.0)
    with pytest.raises(LogError, match="tile/0/000 is larger than 8,192 bytes"):
        HTTPStorage(big_tile.url).read("tile/0/000")


# --------------------------------------------------------------------------- the servers


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _flood(port: int, seconds: float) -> tuple[bytes, int, float]:
    """Stream header lines on one connection for up to ``seconds``: (reply, bytes sent, when cut)."""
    chunk = b"".join(b"X-Flood-%d: %s\r\n" % (i, b"a" * 100) for i in range(100))
    sent = 0
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n")
        while time.monotonic() - start < seconds:
            try:
                s.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
        cut = time.monotonic() - start
        reply = b""
        try:
            while len(reply) < 200:
                piece = s.recv(200)
                if not piece:
                    break
                reply += piece
        except OSError:
            pass
    return reply, sent, cut


def _trickle(port: int, head: bytes, interval: float, limit: float) -> tuple[bytes, float]:
    """Send ``head`` one byte per ``interval`` until the server answers or closes."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as s:
        s.setblocking(False)
        reply = b""
        for i in range(len(head)):
            if time.monotonic() - start > limit:
                break
            try:
                s.send(head[i : i + 1])
            except OSError:
                break
            time.sleep(interval)
            try:
                piece = s.recv(4096)
                if not piece:
                    break
                reply += piece
                break
            except BlockingIOError:
                continue
            except OSError:
                break
        return reply, time.monotonic() - start


@pytest.fixture(scope="module")
def log_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    base = tmp_path_factory.mktemp("bounded-server")
    Log.create(base / "log", ORIGIN).close()
    [token] = make_tokens(base / "tokens", ["client"])
    cfg = write_config(base / "server.toml", tokens=base / "tokens", head_timeout=2.0, body_timeout=2.0)
    server = RunningServer(base / "log", cfg).start()
    server.token = token  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_the_log_server_cuts_a_header_flood_with_memory_flat(log_server: RunningServer) -> None:
    assert log_server.proc is not None
    before = _rss_kib(log_server.proc.pid)
    reply, _, cut = _flood(log_server.port, 5.0)
    after = _rss_kib(log_server.proc.pid)
    assert reply.startswith(b"HTTP/1.1 431 "), reply
    assert cut < 4.5  # cut off, not left to stream
    assert after - before < 20 * 1024, (before, after)
    assert requests.get(log_server.url + "checkpoint", timeout=10).status_code == 200  # still serving


def test_the_log_server_bounds_header_count_url_and_idle_time(log_server: RunningServer) -> None:
    many = b"GET /checkpoint HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(65)) + b"\r\n"
    with socket.create_connection(("127.0.0.1", log_server.port), timeout=10) as s:
        s.sendall(many)
        assert s.recv(100).startswith(b"HTTP/1.1 431 ")
    with socket.create_connection(("127.0.0.1", log_server.port), timeout=10) as s:
        s.sendall(b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 414 ")
    # A head trickled one byte every 0.2 s never completes: cut at head_timeout (2 s).
    reply, elapsed = _trickle(log_server.port, b"GET /checkpoint HTTP/1.1\r\nHost: " + b"x" * 100, 0.2, 15)
    assert reply.startswith(b"HTTP/1.1 408 "), reply
    assert 1.5 < elapsed < 8
    # An idle connection (nothing sent) is closed too.
    with socket.create_connection(("127.0.0.1", log_server.port), timeout=15) as s:
        start = time.monotonic()
        assert s.recv(100).startswith(b"HTTP/1.1 408 ")
        assert time.monotonic() - start < 8
    # A body that never completes is cut at body_timeout (2 s), and nothing is logged.
    auth = b"Authorization: Bearer " + log_server.token.encode()  # type: ignore[attr-defined]
    with socket.create_connection(("127.0.0.1", log_server.port), timeout=15) as s:
        s.sendall(b"POST /add HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\nContent-Length: 100\r\n\r\nabc")
        start = time.monotonic()
        reply = s.recv(200)
        assert 1.5 < time.monotonic() - start < 8
        assert reply.startswith(b"HTTP/1.1 408 "), reply
        assert b"the request body was not complete within 2 seconds" in reply + s.recv(200)
    assert requests.get(log_server.url + "checkpoint", timeout=10).text.split("\n")[1] == "0"
    # A well-behaved client on a keep-alive connection is unaffected.
    with requests.Session() as http:
        for _ in range(3):
            assert http.get(log_server.url + "checkpoint", timeout=10).status_code == 200


def test_large_bodies_are_not_mistaken_for_a_long_head(log_server: RunningServer) -> None:
    """The head cap counts head bytes only: a body chunk that ends a request is no head."""
    auth = b"Authorization: Bearer " + log_server.token.encode()  # type: ignore[attr-defined]
    for size in (20_000, 70_000):
        with socket.create_connection(("127.0.0.1", log_server.port), timeout=15) as s:
            s.sendall(b"POST /add HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\nContent-Length: %d\r\n\r\n" % size)
            time.sleep(0.3)
            s.sendall(b"x" * size)
            reply = b""
            while b"\r\n\r\n" not in reply or len(reply) < reply.index(b"\r\n\r\n") + 40:
                piece = s.recv(4096)
                if not piece:
                    break
                reply += piece
        if size > 65535:
            assert reply.startswith(b"HTTP/1.1 400 "), reply
            assert b"tlog-tiles entries are at most 65,535 bytes" in reply
        else:
            assert reply.startswith(b"HTTP/1.1 200 "), reply


def test_the_witness_server_cuts_a_header_flood(tmp_path: Path) -> None:
    from witness_helpers import new_witness

    w = new_witness(tmp_path / "w", "witness.test/bounds").start()
    try:
        assert w.proc is not None
        before = _rss_kib(w.proc.pid)
        reply, _, cut = _flood(w.port, 5.0)
        assert reply.startswith(b"HTTP/1.1 431 "), reply
        assert cut < 4.5 and _rss_kib(w.proc.pid) - before < 20 * 1024
    finally:
        w.stop()


def test_a_drip_tsa_never_blocks_the_add_path(local_tsa: RunningTSA, tmp_path: Path) -> None:
    Log.create(tmp_path / "log", ORIGIN).close()
    [token] = make_tokens(tmp_path / "tokens", ["preserve"])
    with TSAServer(local_tsa.tsa, mode="drip") as tsa:
        cfg = write_config(
            tmp_path / "server.toml",
            tokens=tmp_path / "tokens",
            tsa_wait=1.0,
            submit_timeout=30,
            tsas=[("drip-tsa", tsa.url, None, None)],
        )
        server = RunningServer(tmp_path / "log", cfg).start()
        try:
            for k in range(3):
                start = time.monotonic()
                status, body = post(server.port, b"entry %d" % k, token)
                elapsed = time.monotonic() - start
                assert status == 200, body
                assert elapsed < 8, elapsed
            state = requests.get(server.url + "status", timeout=10).json()
            [st] = state["tsas"]
            assert st["last_result"] in ("slow", "skipped"), st
            assert state["healthy"] is False
            assert any(p.startswith("TSA drip-tsa: ") for p in state["problems"]), state["problems"]
            assert state["size"] == 3
        finally:
            server.stop()


def test_preserve_with_a_drip_tsa_ends_by_the_tsa_deadline(local_tsa: RunningTSA, tmp_path: Path) -> None:
    """`preserve` against a TSA that answers one byte per second: the bundle is written,
    without that time-stamp and with a warning, once the TSA's 10 s deadline has passed
    (for the start token and for the checkpoint)."""
    import json

    sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
    from capture_helpers import load_site_module

    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        chromium = str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")
    site = load_site_module().TestSite.start()
    try:
        with TSAServer(local_tsa.tsa, mode="drip") as tsa:
            start = time.monotonic()
            cmd = [sys.executable, "-m", "evidence_cli.preserve", site.url("/listing"), "-o", str(tmp_path / "out")]
            r = subprocess.run(
                [*cmd, "--tsa", tsa.url, "--json", "--browser", chromium],
                env=dict(os.environ, EVIDENCE_HOME=str(tmp_path / "home")),
                capture_output=True,
                text=True,
                timeout=240,
            )
            elapsed = time.monotonic() - start
            # Asked twice, each cut at its deadline: once for the clean-environment check's start
            # token, once by the log for the checkpoint; not asked a third time when sealing.
            assert tsa.requests == 2
    finally:
        site.close()
    assert r.returncode == 6, r.stderr  # preserved, but no time-stamping authority gave a time-stamp
    [result] = json.loads(r.stdout)["results"]
    assert result["ok"] and result["timestamps"] == 0
    assert "did not answer within 10 seconds" in " ".join(result["warnings"])
    assert elapsed < 150


def test_an_appended_entry_is_answered_with_its_proof_when_submit_timeout_runs_out(
    local_tsa: RunningTSA, tmp_path: Path
) -> None:
    """submit_timeout (1 s) runs out while the publisher still waits for a slow TSA (tsa_wait
    5 s): the entry is appended, so the client gets its proof against the signed checkpoint,
    not a 503."""
    from evidence.checkpoint import TlogProof

    with Log.create(tmp_path / "log", ORIGIN) as log:
        key = log.verifier
    [token] = make_tokens(tmp_path / "tokens", ["preserve"])
    with TSAServer(local_tsa.tsa, mode="drip") as tsa:
        cfg = write_config(
            tmp_path / "server.toml",
            tokens=tmp_path / "tokens",
            tsa_wait=5.0,
            submit_timeout=1,
            tsas=[("drip-tsa", tsa.url, None, None)],
        )
        server = RunningServer(tmp_path / "log", cfg).start()
        try:
            start = time.monotonic()
            status, body = post(server.port, b"an entry", token)
            elapsed = time.monotonic() - start
        finally:
            server.stop()
    assert status == 200, body
    assert 0.9 < elapsed < 4.5, elapsed
    proof = TlogProof.parse(body)
    assert proof.index == 0
    assert proof.verify(b"an entry", [key]).checkpoint.size == 1


def test_the_reader_cache_is_bounded_in_bytes(tmp_path: Path) -> None:
    """Full entry bundles of large entries are 16 MiB each: the reader's cache holds at most
    its byte budget (here 300 KB), however many bundles an audit walks through."""
    with Log.create(tmp_path / "log", ORIGIN) as log:
        log.append([b"%05d" % i + b"x" * 1000 for i in range(256 * 3 + 5)])
        key = log.verifier
    reader = LogReader(str(tmp_path / "log"), cache_bytes=300_000)
    signed = reader.signed_checkpoint([key])
    held = []
    for n in range(3):
        assert len(reader.fetch_bundle(n, 256)) == 256
        held.append(sum(len(v) for v in reader._cache.values()))
    assert max(held) <= 300_000, held
    assert reader.prove(700, signed).index == 700
