"""A real PostgreSQL server for tests: initdb in a temporary directory, pg_ctl start on a
Unix socket in that directory (and 127.0.0.1 on a free port), stop and remove at the end.

Debian's ``postgresql`` package puts the server programs in /usr/lib/postgresql/<major>/bin,
off PATH; they are found there (or through ``$EVIDENCE_TEST_PG_BIN``). The server refuses to
run as root, so when the tests run as root (CI does) the cluster belongs to the ``postgres``
user the package creates, and the programs are started through ``runuser``.

    from pg_helpers import PostgresServer
    with PostgresServer.start(tmp_path / "pg") as pg:
        url = pg.url("evidence")    # postgresql://postgres@127.0.0.1:PORT/evidence
        pg.create_database("other")

A test module uses the ``postgres`` fixture in conftest.py; tests skip with a clear reason
where no PostgreSQL server programs are installed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def server_bin() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres, or None when PostgreSQL is not installed."""
    explicit = os.environ.get("EVIDENCE_TEST_PG_BIN")
    if explicit:
        return Path(explicit)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl", path="/usr/sbin:/usr/bin:/sbin:/bin")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    """One running cluster. ``url(db)`` is a libpq URL over TCP on 127.0.0.1."""

    directory: Path
    port: int
    bin: Path
    user: str = "postgres"
    _as_root: bool = field(default=False, repr=False)

    @classmethod
    def start(cls, directory: Path, *, timeout: float = 60.0) -> PostgresServer:
        bindir = server_bin()
        if bindir is None:
            raise RuntimeError("PostgreSQL's server programs are not installed (Debian: apt-get install postgresql)")
        as_root = os.geteuid() == 0
        directory.mkdir(parents=True, exist_ok=True)
        data = directory / "data"
        if as_root:
            # The postgres user must reach the directory: open the path down to it for traversal.
            for p in [directory, *directory.parents]:
                if p == Path("/"):
                    break
                mode = p.stat().st_mode
                if not mode & 0o001:
                    os.chmod(p, mode | 0o001)
            shutil.chown(directory, "postgres", "postgres")
        server = cls(directory=directory, port=_free_port(), bin=bindir, _as_root=as_root)
        server._run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
            timeout=timeout,
        )
        conf = (
            f"listen_addresses = '127.0.0.1'\nport = {server.port}\n"
            f"unix_socket_directories = '{directory}'\nmax_connections = 300\n"
            "shared_buffers = 64MB\nlog_min_messages = warning\n"
        )
        with open(data / "postgresql.conf", "a", encoding="utf-8") as f:
            f.write(conf)
        server._run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"), "-w", "-t",
             str(int(timeout)), "start"],
            timeout=timeout + 5,
        )
        return server

    def _run(self, cmd: list[str], *, timeout: float) -> str:
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=self.directory)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the cluster's own psql; return its unaligned output."""
        return self._run(
            [str(self.bin / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", database,
             "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            timeout=60,
        )

    def create_database(self, name: str) -> str:
        """A new empty database; return its URL."""
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        data = self.directory / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run([str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], timeout=60)
        deadline = time.monotonic() + 10
        while (data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
