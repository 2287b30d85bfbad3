"""Real witness servers for tests: `evidence witness serve` in a subprocess on 127.0.0.1.

``start_witness(dir)`` runs the server on an ephemeral port, waits until it answers HTTP,
and returns a :class:`RunningWitness`; ``stop()`` terminates it (SIGTERM, then SIGKILL).
Its stdout/stderr go to files in the witness directory's parent, shown when startup fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from evidence.note import Verifier
from evidence.witness import init_witness

STARTUP_TIMEOUT = 20.0
_LISTENING = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


@dataclass
class RunningWitness:
    """A witness directory and, while started, the server process serving it."""

    directory: Path
    verifier: Verifier
    prefix: str = ""
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The submission prefix (POST <url>/add-checkpoint)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    def start(self) -> RunningWitness:
        if self.proc is not None:
            raise RuntimeError("already started")
        n = len(self.logs) // 2
        out = self.directory.parent / f"{self.directory.name}.{n}.stdout"
        err = self.directory.parent / f"{self.directory.name}.{n}.stderr"
        self.logs += [out, err]
        cmd = [sys.executable, "-m", "evidence_cli.witness_cmd", "serve", str(self.directory)]
        cmd += ["--listen", "127.0.0.1:0", "--prefix", self.prefix]
        with open(out, "wb") as fo, open(err, "wb") as fe:
            self.proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the witness exited with {self.proc.returncode}:\n{self.output()}")
            m = _LISTENING.search(out.read_text(errors="replace"))
            if m:
                self.port = int(m.group(1))
                try:
                    requests.get(f"{self.url}/{'0' * 64}/checkpoint", timeout=2)
                    return self
                except requests.ConnectionError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the witness did not start within {STARTUP_TIMEOUT} s:\n{self.output()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def output(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs if p.exists())

    def server_log(self) -> str:
        """Everything the server wrote to stderr (its decisions are logged there)."""
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.suffix == ".stderr" and p.exists())


def new_witness(directory: Path, name: str, prefix: str = "") -> RunningWitness:
    """Initialise a witness directory (not started)."""
    return RunningWitness(directory, init_witness(directory, name), prefix=prefix)
