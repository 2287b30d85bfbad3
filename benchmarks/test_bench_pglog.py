"""A log that several servers share, in PostgreSQL: entries/s and p99 latency at 64 clients,
with one and with two `evidence log serve --storage postgresql://...` processes on one
database, against the directory log in the same run.

The load is benchmarks/test_bench_server.py's (closed-loop keep-alive clients in separate
processes; with two servers the clients are split evenly between them). PostgreSQL is a
real server started for the run by tests/pg_helpers.py (fsync on: a commit is durable).
Targets (issue 15): two servers at least as fast as one; the PostgreSQL log at least 1,000
entries/s with p99 under 2 s.

Run: python -m pytest benchmarks/test_bench_pglog.py --benchmark-only -s
Figures go in benchmarks/README.md ("A log several servers share").
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from server_helpers import RunningServer, make_tokens, write_config
from test_bench_server import _load

from evidence.log import Log
from evidence.log.reader import audit

pytest.importorskip("psycopg")

CLIENTS = 64


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    from pg_helpers import PostgresServer, server_bin

    if server_bin() is None:
        pytest.skip("PostgreSQL's server programs are not installed (Debian: apt-get install postgresql)")
    base = tmp_path_factory.mktemp("bench-pglog")
    # The cluster lives outside pytest's numbered temporary folders: another pytest run of
    # the same user prunes and re-permissions those while this one runs.
    pg_dir = Path(tempfile.mkdtemp(prefix="evidence-bench-pg-"))
    pg = PostgresServer.start(pg_dir)
    servers: list[RunningServer] = []
    try:
        url = pg.create_database("bench")
        seed = Log.create(base / "seed", "bench.example/pglog", keys_dir=base / "keys")
        key = seed.verifier
        seed.close()
        from evidence.log.pgstore import migrate

        migrate(base / "seed", url)
        Log.create(base / "dirlog", "bench.example/dirlog").close()
        [token] = make_tokens(base / "tokens", ["bench"])
        config = write_config(base / "server.toml", tokens=base / "tokens")
        servers = [
            RunningServer(base / name, config, storage=url, keys=base / "keys").start() for name in ("pg-a", "pg-b")
        ]
        servers.append(RunningServer(base / "dirlog", config).start())
        yield SimpleNamespace(pg=servers[:2], directory=servers[2], token=token, key=key)
    finally:
        for s in servers:
            s.stop()
        pg.stop()
        shutil.rmtree(pg_dir, ignore_errors=True)


@pytest.mark.parametrize("setup", ["directory", "postgresql-1", "postgresql-2"])
def test_pglog_sustained_submissions(benchmark: Any, logs: SimpleNamespace, setup: str) -> None:
    chosen = {"directory": [logs.directory], "postgresql-1": logs.pg[:1], "postgresql-2": logs.pg}[setup]
    figures: dict[str, Any] = {}

    def run() -> None:
        pids = [s.proc.pid if s.proc else None for s in chosen]
        figures.update(_load([s.port for s in chosen], logs.token, CLIENTS, pids))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    print(f"\n[pglog {setup}] {figures}, load average {os.getloadavg()}")
    assert figures["entries"] > 0


def test_pglog_audits_after_the_load(benchmark: Any, logs: SimpleNamespace) -> None:
    report = benchmark.pedantic(lambda: audit(logs.pg[1].url, [logs.key]), rounds=1, iterations=1)
    print(f"\n[pglog] audited {report.entries} entries over HTTP")
    assert report.entries > 0
