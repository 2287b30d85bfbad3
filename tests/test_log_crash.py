"""Crash safety and concurrent writers, with real processes and SIGKILL."""

from __future__ import annotations

import base64
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evidence import merkle
from evidence.checkpoint import SignedCheckpoint
from evidence.log import Log
from evidence.log.reader import audit

CHILD = Path(__file__).with_name("log_child.py")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _spawn(path: Path, run: str, batches: int, seed: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(path), run, str(batches), str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _parse_acks(out: str) -> tuple[list[tuple[bytes, int]], list[bytes]]:
    acked: list[tuple[bytes, int]] = []
    notes: list[bytes] = []
    for line in out.splitlines():
        assert not line.startswith("DEDUP-BROKEN"), line
        parts = line.split(" ")
        if len(parts) != 6 or parts[0] != "ack":
            continue  # a line cut short by the kill was never acknowledged
        _, run, first, n, idx, note = parts
        indices = [int(x) for x in idx.split(",")]
        assert len(indices) == int(n)
        acked.extend((f"{run}-{int(first) + i}".encode(), j) for i, j in enumerate(indices))
        notes.append(base64.b64decode(note))
    return acked, notes


def _check_log(path: Path, acked: list[tuple[bytes, int]], notes: list[bytes]) -> Log:
    log = Log.open(path)
    report = audit(str(path), [log.verifier])
    size = report.checkpoint.size
    for entry, index in acked:
        assert index < size, f"acknowledged entry {entry!r} at {index} lost (size {size})"
        assert log.entry(index) == entry
    # Every checkpoint anyone ever saw, and every one in history/, is consistent with the
    # latest (so all are pairwise consistent: they are prefixes of one tree).
    latest = log.checkpoint().checkpoint
    seen = {n for n in notes}
    seen.update(log.checkpoint_note(s) for s in log.checkpoint_sizes())
    by_size: dict[int, bytes] = {}
    for note in seen:
        cp = SignedCheckpoint.parse(note)
        cp.verify([log.verifier])
        c = cp.checkpoint
        if c.size in by_size:
            assert by_size[c.size] == c.root_hash, f"two roots signed for size {c.size}: fork"
        by_size[c.size] = c.root_hash
        merkle.verify_consistency(c.size, latest.size, c.root_hash, latest.root_hash, log.consistency(c.size))
    return log


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    path = tmp_path / "log"
    Log.create(path, origin="example.org/crash").close()
    rng = random.Random(20261122)
    acked: list[tuple[bytes, int]] = []
    notes: list[bytes] = []
    kills = 0
    for run in range(55):
        child = _spawn(path, f"r{run}", 10_000, rng.randrange(1 << 30))
        time.sleep(rng.uniform(0.05, 0.7))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, err
        kills += 1
        a, n = _parse_acks(out)
        acked += a
        notes += n
        _check_log(path, acked, notes)
    assert kills >= 50
    assert len(acked) > 1000, "the children should have acknowledged appends before being killed"


def test_concurrent_writers(tmp_path: Path) -> None:
    path = tmp_path / "log"
    Log.create(path, origin="example.org/concurrent").close()
    children = [_spawn(path, f"w{i}", 25, i) for i in range(4)]
    acked: list[tuple[bytes, int]] = []
    notes: list[bytes] = []
    for c in children:
        out, err = c.communicate(timeout=300)
        assert c.returncode == 0, err
        a, n = _parse_acks(out)
        acked += a
        notes += n
    log = _check_log(path, acked, notes)
    assert len({i for _, i in acked}) == len(acked) == log.size
