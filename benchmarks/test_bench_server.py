"""Log server load test on loopback: sustained submissions/s and submission->proof latency.

A real `evidence log serve` process (no witnesses, no TSA: this measures the server and
the log) and 1, 8, 64 and 256 concurrent clients. Each client is one keep-alive HTTP/1.1
connection that POSTs a distinct entry, waits for its proof, and sends the next (a closed
loop, like capture machines waiting for their proofs). The clients are asyncio coroutines
in one separate process speaking plain HTTP/1.1 over sockets, so that the load generator
costs little CPU next to the server on a 2-core machine. Each level is bounded by time
(BENCH_SERVER_SECONDS, default 8) and by count (BENCH_SERVER_MAX entries, default 60,000),
after a 1-second warm-up. Where /proc exists it also reports the server's CPU time per
entry, the cores it used, and the time its threads spent runnable but waiting for a CPU
(per second: 0.5 means half a thread was held back all along), because on a shared
machine entries/s alone says little.

Run: python -m pytest benchmarks/test_bench_server.py --benchmark-only -s
Figures go in benchmarks/README.md ("Log server").
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from server_helpers import RunningServer, make_tokens, write_config

from evidence.log import Log
from evidence.log.reader import audit

SECONDS = float(os.environ.get("BENCH_SERVER_SECONDS", "8"))
MAX_ENTRIES = int(os.environ.get("BENCH_SERVER_MAX", "60000"))
WARMUP = 1.0


async def _client(
    port: int, token: str, n: int, start_at: float, stop_at: float, budget: list[int], out: list[float]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = f"POST /add HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n".encode()
    salt = secrets.token_hex(8).encode()
    k = 0
    while time.time() < stop_at and budget[0] > 0:
        budget[0] -= 1
        # A realistic entry: the versioned record of a manifest digest (what bundles log).
        body = b"evidence-entry/v1\nmanifest-sha256 " + (salt + b"%08x%08x" % (n, k)).ljust(64, b"0") + b"\n"
        k += 1
        t0 = time.perf_counter()
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        answer = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in answer.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        if answer[9:12] != b"200":
            raise RuntimeError(f"HTTP {answer[9:12].decode()}")
        if time.time() >= start_at:
            out.append(time.perf_counter() - t0)
    writer.close()


def _client_process(port: int, token: str, clients: int, start_at: float, stop_at: float) -> list[float]:
    out: list[float] = []
    budget = [MAX_ENTRIES]

    async def main() -> None:
        await asyncio.gather(*(_client(port, token, n, start_at, stop_at, budget, out) for n in range(clients)))

    asyncio.run(main())
    return out


def _server_times(pid: int | None) -> tuple[float, float] | None:
    """(CPU seconds used, seconds spent runnable but waiting for a CPU) by all of ``pid``'s
    threads, from /proc (None where there is no /proc): on a shared machine the second says
    how much the server was held back by other processes."""
    if pid is None:
        return None
    cpu = wait = 0.0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                run_ns, wait_ns, _ = f.read().split()
            cpu += int(run_ns) / 1e9
            wait += int(wait_ns) / 1e9
    except (OSError, ValueError):
        return None
    return cpu, wait


def _all_times(pids: Sequence[int | None]) -> tuple[float, float] | None:
    """:func:`_server_times` summed over several servers."""
    times = [_server_times(p) for p in pids]
    if any(t is None for t in times):
        return None
    return sum(t[0] for t in times if t), sum(t[1] for t in times if t)


def _load(
    port: int | Sequence[int], token: str, clients: int, pid: int | Sequence[int | None] | None = None
) -> dict[str, Any]:
    """Closed-loop load; with several ports (servers of one log) the clients are split evenly
    between them, one client process per server, and CPU figures are summed over ``pid``."""
    ports = [port] if isinstance(port, int) else list(port)
    pids = [pid] if pid is None or isinstance(pid, int) else list(pid)
    start_at = time.time() + 0.5 + WARMUP  # 0.5 s to start the client process
    stop_at = start_at + SECONDS
    with multiprocessing.get_context("fork").Pool(len(ports)) as pool:
        results = [
            pool.apply_async(_client_process, (p, token, clients // len(ports), start_at, stop_at)) for p in ports
        ]
        time.sleep(max(0.0, start_at - time.time()))
        before, t0 = _all_times(pids), time.time()
        lat = sorted(x for r in results for x in r.get())
        after, t1 = _all_times(pids), time.time()
    elapsed = max(1e-9, min(SECONDS, time.time() - start_at))
    server: dict[str, Any] = {}
    if before is not None and after is not None and lat:
        # Measured from the start of the timed window until the clients are done (a little
        # after stop_at), so these are slight overestimates.
        server = {
            "server_cpu_us_per_entry": round((after[0] - before[0]) / len(lat) * 1e6),
            "server_cpu_cores": round((after[0] - before[0]) / (t1 - t0), 2),
            "server_waiting_for_cpu": round((after[1] - before[1]) / (t1 - t0), 2),
        }
    return {
        "clients": clients,
        "entries": len(lat),
        "per_s": round(len(lat) / elapsed),
        "p50_ms": round(lat[len(lat) // 2] * 1000, 1) if lat else None,
        "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1) if lat else None,
        "max_ms": round(lat[-1] * 1000, 1) if lat else None,
        **server,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    base = tmp_path_factory.mktemp("bench-server")
    Log.create(base / "log", "bench.example/server").close()
    [token] = make_tokens(base / "tokens", ["bench"])
    running = RunningServer(base / "log", write_config(base / "server.toml", tokens=base / "tokens")).start()
    yield running, token
    running.stop()


@pytest.mark.parametrize("clients", [1, 8, 64, 256])
def test_server_sustained_submissions(benchmark: Any, server: Any, clients: int) -> None:
    running, token = server
    figures: dict[str, Any] = {}

    def run() -> None:
        figures.update(_load(running.port, token, clients, running.proc.pid if running.proc else None))

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
    print(f"\n[log server] {figures}, load average {os.getloadavg()}")
    assert figures["entries"] > 0


def test_server_log_audits_after_the_load(benchmark: Any, server: Any) -> None:
    running, _ = server
    key = Log.open(Path(running.directory)).verifier
    report = benchmark.pedantic(lambda: audit(running.url, [key]), rounds=1, iterations=1)
    print(f"\n[log server] audited {report.entries} entries over HTTP")
