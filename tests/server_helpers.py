"""Real log servers for tests: `evidence log serve` in a subprocess on 127.0.0.1.

``RunningServer(dir, config).start()`` runs the server on an ephemeral port, waits until it
answers HTTP, and returns itself; ``stop()`` terminates it (SIGTERM, then SIGKILL) and
``kill()`` sends SIGKILL at once (crash tests). Output goes to files beside the log
directory, shown when startup fails.
"""

from __future__ import annotations

import http.client
import secrets
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests
from procs import ServerProcess

STARTUP_TIMEOUT = 30.0


@dataclass
class RunningServer(ServerProcess):
    """A log directory and, while started, the `evidence log serve` process serving it."""

    directory: Path
    config: Path | None = None
    prefix: str = ""
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    logs: list[Path] = field(default_factory=list)
    #: A postgresql:// URL: serve the log in that database (``--storage``, with ``--keys``);
    #: ``directory`` then only names the output files.
    storage: str | None = None
    keys: Path | None = None

    @property
    def url(self) -> str:
        """The base URL (with a trailing slash)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}/"

    def start(self) -> RunningServer:
        where = [str(self.directory)] if self.storage is None else ["--storage", self.storage, "--keys", str(self.keys)]
        cmd = [sys.executable, "-m", "evidence_cli.serve_cmd", *where, "--listen", "127.0.0.1:0"]
        if self.config is not None:
            cmd += ["--config", str(self.config)]
        self._launch(
            cmd,
            "server",
            "log server",
            lambda: requests.get(self.url + "checkpoint", timeout=5).status_code == 200,
            STARTUP_TIMEOUT,
        )
        return self


def make_tokens(path: Path, labels: Sequence[str] = ("alice", "bob")) -> list[str]:
    """A token file (mode 0600) with one random token per label; return the tokens."""
    tokens = [secrets.token_urlsafe(32) for _ in labels]
    path.write_text("# test tokens\n" + "".join(f"{lb} {t}\n" for lb, t in zip(labels, tokens, strict=True)))
    path.chmod(0o600)
    return tokens


def toml_str(value: str | Path) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    path: Path,
    *,
    tokens: Path | None = None,
    witnesses: Sequence[tuple[str, str, str]] = (),
    tsas: Sequence[tuple[str, str, Path | None, Path | None]] = (),
    **settings: float | int | str,
) -> Path:
    """A server.toml: ``witnesses`` as (name, url, vkey), ``tsas`` as (name, url, cert, root)."""
    lines = []
    if tokens is not None:
        lines.append(f"tokens = {toml_str(tokens)}")
    for key, value in settings.items():
        lines.append(f"{key} = {toml_str(value) if isinstance(value, str) else value}")
    for name, url, vkey in witnesses:
        lines += ["", "[[witness]]", f"name = {toml_str(name)}", f"url = {toml_str(url)}", f"vkey = {toml_str(vkey)}"]
    for name, url, cert, root in tsas:
        lines += ["", "[[tsa]]", f"name = {toml_str(name)}", f"url = {toml_str(url)}", "timeout = 10"]
        if cert is not None and root is not None:
            lines += [f"certificate = {toml_str(cert)}", f"root = {toml_str(root)}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def post(port: int, entry: bytes, token: str | None, *, path: str = "/add") -> tuple[int, bytes]:
    """One POST with http.client (exactly these bytes and headers)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        conn.request("POST", path, body=entry, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def post_declared(port: int, length: int, token: str) -> int:
    """The status for a POST that declares ``length`` body bytes but sends none (size limits)."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = f"POST /add HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Length: {length}\r\n\r\n"
        sock.sendall(head.encode())
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def raw_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET an exact request target (no client-side normalisation of '..' or '%2F')."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


class Submitter:
    """Client threads that POST distinct entries as fast as they can, keeping what was acknowledged."""

    def __init__(self, port: int, token: str, threads: int, prefix: bytes = b"load") -> None:
        self.port, self.token, self.prefix = port, token, prefix
        self.acked: list[tuple[int, bytes]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def start(self) -> Submitter:
        for t in self._threads:
            t.start()
        return self

    def _run(self, n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        k = 0
        while not self._stop.is_set():
            entry = self.prefix + b"-%d-%d-" % (n, k) + secrets.token_bytes(8)
            k += 1
            try:
                conn.request("POST", "/add", body=entry, headers={"Authorization": f"Bearer {self.token}"})
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as e:
                with self._lock:
                    self.errors.append(f"{type(e).__name__}: {e}")
                return
            if resp.status != 200:
                with self._lock:
                    self.errors.append(f"HTTP {resp.status}: {body[:200]!r}")
                continue
            index = int(body.split(b"\n")[1].split(b" ")[1])
            with self._lock:
                self.acked.append((index, entry))

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=30)
