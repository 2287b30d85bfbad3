"""Server processes for tests: start on an ephemeral 127.0.0.1 port, wait until ready, stop.

Shared by :mod:`server_helpers` (the log server) and :mod:`witness_helpers` (the witness).
A subclass is a dataclass with ``directory``, ``proc``, ``port`` and ``logs`` fields.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import requests

_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


class ServerProcess:
    """Process control for a server that prints ``listening on http://127.0.0.1:PORT``."""

    directory: Path
    proc: subprocess.Popen[bytes] | None
    port: int
    logs: list[Path]

    def _launch(self, cmd: Sequence[str], stem: str, what: str, ready: Callable[[], bool], timeout: float) -> None:
        """Start ``cmd``, logging to files beside ``directory``; return once ``ready()`` holds."""
        if self.proc is not None:
            raise RuntimeError("already started")
        n = len(self.logs) // 2
        out = self.directory.parent / f"{self.directory.name}.{stem}{n}.stdout"
        err = self.directory.parent / f"{self.directory.name}.{stem}{n}.stderr"
        self.logs += [out, err]
        with open(out, "wb") as fo, open(err, "wb") as fe:
            self.proc = subprocess.Popen(list(cmd), stdout=fo, stderr=fe, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the {what} exited with {self.proc.returncode}:\n{self.output()}")
            m = _LISTENING.search(out.read_text(errors="replace"))
            if m:
                self.port = int(m.group(1))
                try:
                    if ready():
                        return
                except requests.ConnectionError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the {what} did not start within {timeout} s:\n{self.output()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind (a crash)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs if p.exists())

    def server_log(self) -> str:
        """Everything the process wrote to stderr (its decisions are logged there)."""
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.suffix == ".stderr" and p.exists())
