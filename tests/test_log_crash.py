"""Crash safety and concurrent writers, with real processes and SIGKILL."""

from __future__ import annotations

import base64
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evidence import merkle
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import AuditError, FormatError, LogCorruptError
from evidence.log import Log, tiles
from evidence.log.reader import LogReader, audit
from evidence.log.writer import decode_journal, encode_journal

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


class _Checker:
    """Checks a log after each kill; remembers what it already checked, so each round stays cheap.

    Every checkpoint ever seen (acknowledged to a child, or kept in history/) must verify
    and be consistent with the latest; each latest must be consistent with the one before.
    By transitivity, all checkpoints ever published are pairwise consistent.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.checked: set[bytes] = set()
        self.roots: dict[int, bytes] = {}
        self.previous: tuple[int, bytes] | None = None

    def check(self, acked: list[tuple[bytes, int]], notes: list[bytes]) -> Log:
        """``acked``: entries to look up; earlier ones stay put by the consistency chain."""
        log = Log.open(self.path)
        report = audit(str(self.path), [log.verifier])
        size = report.checkpoint.size
        reader = LogReader(str(self.path))
        for entry, index in acked:
            assert index < size, f"acknowledged entry {entry!r} at {index} lost (size {size})"
            n = index // 256
            assert reader.fetch_bundle(n, tiles.tile_width(0, n, size))[index % 256] == entry
        latest = log.checkpoint().checkpoint
        if self.previous is not None:
            old_size, old_root = self.previous
            merkle.verify_consistency(old_size, latest.size, old_root, latest.root_hash, log.consistency(old_size))
        self.previous = (latest.size, latest.root_hash)
        fresh = {n for n in notes if n not in self.checked}
        fresh.update(n for n in (log.checkpoint_note(s) for s in log.checkpoint_sizes()) if n not in self.checked)
        for note in fresh:
            cp = SignedCheckpoint.parse(note)
            cp.verify([log.verifier])
            c = cp.checkpoint
            if c.size in self.roots:
                assert self.roots[c.size] == c.root_hash, f"two roots signed for size {c.size}: fork"
            self.roots[c.size] = c.root_hash
            merkle.verify_consistency(c.size, latest.size, c.root_hash, latest.root_hash, log.consistency(c.size))
            self.checked.add(note)
        return log


def _check_log(path: Path, acked: list[tuple[bytes, int]], notes: list[bytes]) -> Log:
    return _Checker(path).check(acked, notes)


@pytest.mark.slow
def test_sigkill_at_random_moments(tmp_path: Path) -> None:
    path = tmp_path / "log"
    Log.create(path, origin="example.org/crash").close()
    rng = random.Random(20261122)
    acked: list[tuple[bytes, int]] = []
    notes: list[bytes] = []
    checker = _Checker(path)
    kills = 0
    for run in range(55):
        child = _spawn(path, f"r{run}", 10_000, rng.randrange(1 << 30))
        time.sleep(rng.uniform(0.05, 0.6))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL, err
        kills += 1
        a, n = _parse_acks(out)
        acked += a
        notes += n
        # This round's acknowledgements, and every tenth round all of them (the consistency
        # chain already proves earlier entries cannot have moved).
        checker.check(acked if run % 10 == 9 else a, n)
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


KILL_AT = Path(__file__).with_name("log_kill_at.py")


def test_sigkill_at_every_step_of_an_append(tmp_path: Path) -> None:
    """Kill an append before each of its renames and deletions in turn, deterministically.

    After each kill, the directory as left (before any recovery) must audit clean as a
    published log, and the next append must recover it: the batch is either wholly in the
    log or wholly absent, and every checkpoint is consistent with the ones before.
    """
    template = tmp_path / "template"
    with Log.create(template, origin="example.org/steps") as log:
        log.append([f"old-{i}".encode() for i in range(250)])
        before = log.checkpoint()
    batch = [f"new-{i}".encode() for i in range(20)]  # crosses a full tile: new level-1 tile too
    step, finished = 0, False
    while not finished:
        path = tmp_path / f"kill{step}"
        shutil.copytree(template, path)
        proc = subprocess.run(
            [sys.executable, str(KILL_AT), str(path), str(step), *[e.decode() for e in batch]],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=60,
        )
        finished = proc.returncode == 0
        assert finished or proc.returncode == -signal.SIGKILL, proc.stderr
        with Log.open(path) as log:
            audit(str(path), [log.verifier])  # as a crash left it
            size = log.size
            assert size in (250, 270), f"step {step}: size {size}"
            indices = log.append(batch)  # recovers, then appends or finds the batch
            assert indices == list(range(250, 270)), f"step {step}: {indices}"
            report = audit(str(path), [log.verifier])
            assert report.checkpoint.size == 270
            latest = log.checkpoint().checkpoint
            merkle.verify_consistency(
                250, 270, before.checkpoint.root_hash, latest.root_hash, log.consistency(250)
            )
        step += 1
    assert step > 5, f"an append should take several visible steps, took {step - 1}"


def test_committed_append_redone_from_its_journal(tmp_path: Path) -> None:
    """Power loss after the commit, before the append's files reached the disk.

    The child is killed when its background flush is about to drop the journal; then the
    files the disk would have lost are removed or emptied by hand. The next writer must
    restore them from the write-ahead journal before anything else.
    """
    path = tmp_path / "log"
    with Log.create(path, origin="example.org/redo") as log:
        log.append([f"old-{i}".encode() for i in range(250)])
    batch = [f"new-{i}".encode() for i in range(20)]
    proc = subprocess.run(
        [sys.executable, str(KILL_AT), str(path), "unlink", *[e.decode() for e in batch]],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    journals = list((path / ".state/journal").iterdir())
    assert [j.name for j in journals] == ["270"], "the committed append's journal is still there"
    (path / "tile/0/000").unlink()  # the full tile this append completed
    (path / "tile/entries/001.p/14").write_bytes(b"")  # renamed, but its data never written
    with pytest.raises(AuditError):
        audit(str(path), [Log.open(path).verifier])
    with Log.open(path) as log:
        assert log.append(batch) == list(range(250, 270))  # recovery redid the journal first
        report = audit(str(path), [log.verifier])
        assert report.checkpoint.size == 270
    assert not list((path / ".state/journal").iterdir())


def test_damaged_journal_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "log"
    with Log.create(path, origin="example.org/journal") as log:
        log.append([b"a"])
    (path / ".state/journal").mkdir(exist_ok=True)
    (path / ".state/journal/5").write_bytes(b"evidence-log-journal/v1 5\ntile/0/000.p/5 999\nshort")
    with Log.open(path) as log, pytest.raises(LogCorruptError, match=r"journal .* is damaged: it is cut short"):
        log.append([b"b"])


def test_journal_round_trip() -> None:
    files = {"tile/0/000.p/2": b"\x01" * 64, "tile/entries/000.p/2": b"\x00\x01a\x00\x01b", "checkpoint x": b""}
    assert decode_journal(encode_journal(7, files)) == (7, files)
    for bad in (b"", b"nonsense 7\n", b"evidence-log-journal/v1 x\n", b"evidence-log-journal/v1 7\nno-length\n"):
        with pytest.raises(FormatError):
            decode_journal(bad)
