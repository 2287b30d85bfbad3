"""Log benchmarks: durable append, memory, proof latency; peers pymerkle and merkletools.

Run: python -m pytest benchmarks/test_bench_log.py --benchmark-only -s
Environment: BENCH_LOG_N (default 1,000,000 entries), BENCH_LOG_BATCH (default 10,000).
Figures go in benchmarks/README.md.
"""

from __future__ import annotations

import os
import random
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evidence import merkle
from evidence.log import Log
from evidence.log.reader import LogReader

N = int(os.environ.get("BENCH_LOG_N", "1000000"))
BATCH = int(os.environ.get("BENCH_LOG_BATCH", "10000"))


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def entry(i: int) -> bytes:
    # A realistic entry: a versioned record holding a SHA-256 (what bundles log).
    return b"evidence-entry/v1\n" + i.to_bytes(32, "big")


def _report(name: str, **figures: Any) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    path = tmp_path_factory.mktemp("biglog") / "log"
    log = Log.create(path, origin="bench.example/log")
    rss: list[tuple[int, float]] = []
    start = time.perf_counter()
    for k in range(0, N, BATCH):
        log.append([entry(i) for i in range(k, min(N, k + BATCH))])
        end = min(N, k + BATCH)
        if end // max(1, N // 5) != k // max(1, N // 5):
            rss.append((end, round(rss_mib(), 1)))
    elapsed = time.perf_counter() - start
    _report(
        "durable append",
        entries=N,
        batch=BATCH,
        seconds=round(elapsed, 2),
        per_s=round(N / elapsed),
        rss_mib_by_size=rss,
    )
    yield log
    log.close()


def test_durable_append_throughput(benchmark: Any, big_log: Log) -> None:
    """Durable append+integrate+sign of 1M entries (timed in the fixture; one batch here)."""
    size0 = big_log.size
    counter = [size0]

    def one_batch() -> None:
        c = counter[0]
        big_log.append([entry(i) for i in range(c, c + BATCH)])
        counter[0] = c + BATCH

    benchmark.pedantic(one_batch, rounds=5, iterations=1)
    benchmark.extra_info["entries_per_batch"] = BATCH


def test_inclusion_proof_warm(benchmark: Any, big_log: Log) -> None:
    size = big_log.size
    rng = random.Random(1)
    # Warm the tile cache for a fixed working set of indices, then measure.
    indices = [rng.randrange(size) for _ in range(200)]
    for i in indices:
        big_log.prove(i)
    it = iter(indices * 1000)
    benchmark(lambda: big_log.prove(next(it)))


def test_inclusion_proof_cold_from_tiles(benchmark: Any, big_log: Log) -> None:
    """A fresh reader each time: every tile read from disk and hashed up."""
    size = big_log.size
    rng = random.Random(2)
    signed = big_log.checkpoint()

    def cold() -> None:
        LogReader(str(big_log.path)).prove(rng.randrange(size), signed)

    benchmark(cold)


def test_verify_inclusion(benchmark: Any, big_log: Log) -> None:
    proof = big_log.prove(123_456 % big_log.size)
    cp = proof.signed_checkpoint.checkpoint
    leaf = merkle.leaf_hash(big_log.entry(proof.index))
    benchmark(lambda: merkle.verify_inclusion(proof.index, cp.size, leaf, proof.hashes, cp.root_hash))


# ---------------------------------------------------------------- in-memory peers


def test_memorytree_append_1m(benchmark: Any) -> None:
    def run() -> merkle.MemoryTree:
        t = merkle.MemoryTree()
        for i in range(N):
            t.append(entry(i))
        return t

    t0 = time.perf_counter()
    tree = benchmark.pedantic(run, rounds=1, iterations=1)
    _report("evidence MemoryTree append", entries=N, per_s=round(N / (time.perf_counter() - t0)))
    assert tree.size == N


def test_pymerkle_append_1m(benchmark: Any) -> None:
    from pymerkle import InmemoryTree

    def run() -> Any:
        t = InmemoryTree(algorithm="sha256")
        for i in range(N):
            t.append_entry(entry(i))
        return t

    t0 = time.perf_counter()
    tree = benchmark.pedantic(run, rounds=1, iterations=1)
    _report("pymerkle InmemoryTree append", entries=N, per_s=round(N / (time.perf_counter() - t0)))
    # Same RFC 9162 tree: pymerkle's root must equal ours.
    ours = merkle.root_of_leaves([entry(i) for i in range(1000)])
    small = InmemoryTree(algorithm="sha256")
    for i in range(1000):
        small.append_entry(entry(i))
    assert small.get_root(1000) == ours
    rng = random.Random(3)
    t1 = time.perf_counter()
    for _ in range(1000):
        tree.prove_inclusion(rng.randrange(1, N + 1), N)
    _report("pymerkle inclusion proof at 1M", us=round((time.perf_counter() - t1) / 1000 * 1e6, 1))


def test_merkletools_append_1m(benchmark: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import merkletools

    def run() -> Any:
        mt = merkletools.MerkleTools(hash_type="sha256")
        for i in range(N):
            mt.add_leaf(entry(i).hex(), do_hash=True)
        mt.make_tree()
        return mt

    t0 = time.perf_counter()
    mt = benchmark.pedantic(run, rounds=1, iterations=1)
    _report("merkletools add_leaf+make_tree", entries=N, per_s=round(N / (time.perf_counter() - t0)))
    rng = random.Random(4)
    t1 = time.perf_counter()
    for _ in range(1000):
        mt.get_proof(rng.randrange(N))
    _report("merkletools proof at 1M", us=round((time.perf_counter() - t1) / 1000 * 1e6, 1))


def test_log_memory_flat(tmp_path: Path) -> None:
    """RSS of a fresh process-level log object while the log grows (no benchmark fixture)."""
    import subprocess
    import sys

    code = f"""
import sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from test_bench_log import entry, rss_mib
from evidence.log import Log
log = Log.create({str(tmp_path / "mem")!r}, origin='bench.example/mem')
out = []
n = {N}
step = max(1, n // 10)
for k in range(0, n, {BATCH}):
    end = min(n, k + {BATCH})
    log.append([entry(i) for i in range(k, end)])
    if end // step != k // step:
        out.append((end, round(rss_mib(), 1)))
print(out)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stderr
    _report("RSS MiB by log size (separate process)", series=r.stdout.strip())
