"""Real witness servers for tests: `evidence witness serve` in a subprocess on 127.0.0.1.

``start_witness(dir)`` runs the server on an ephemeral port, waits until it answers HTTP,
and returns a :class:`RunningWitness`; ``stop()`` terminates it (SIGTERM, then SIGKILL).
Its stdout/stderr go to files in the witness directory's parent, shown when startup fails.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import requests
from procs import ServerProcess

from evidence.note import Verifier
from evidence.witness import init_witness

STARTUP_TIMEOUT = 20.0


@dataclass
class RunningWitness(ServerProcess):
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
        cmd = [sys.executable, "-m", "evidence_cli.witness_cmd", "serve", str(self.directory)]
        cmd += ["--listen", "127.0.0.1:0", "--prefix", self.prefix]

        def ready() -> bool:
            requests.get(f"{self.url}/{'0' * 64}/checkpoint", timeout=2)
            return True

        self._launch(cmd, "", "witness", ready, STARTUP_TIMEOUT)
        return self


def new_witness(directory: Path, name: str, prefix: str = "") -> RunningWitness:
    """Initialise a witness directory (not started)."""
    return RunningWitness(directory, init_witness(directory, name), prefix=prefix)
