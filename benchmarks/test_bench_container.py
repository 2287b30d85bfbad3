"""Container benchmarks: the central-directory flood, and the cost of deflating members.

    python -m pytest benchmarks/test_bench_container.py --benchmark-only -s

- flood: a ZIP of ``BENCH_FLOOD_ENTRIES`` (default 1,500,000) empty members, about 138 MB,
  the attack of issue 10; ``evidence verify`` on it in a child process, wall time and peak
  RSS (``ru_maxrss`` of that child, from ``wait4``), against the same command on a
  one-line text file (the floor: start-up and imports). ``BENCH_BASELINE_EVIDENCE`` (for example
  ``/work/main/.venv/bin/evidence``) also measures another build's ``evidence`` on the same
  file. Target: refused with exit 2 within the floor's time and memory (+5 s, +20 MiB,
  generous for a shared machine).
- write: ``write_zip`` of a large capture's members (text-like DOM and MHTML, PNG-like and
  random bytes, a WARC) against the old all-stored size; and reading them back.

Figures go in benchmarks/README.md ("## Container").
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evidence.bundle import BundleView
from evidence.bundle.wacz import Member, write_zip

ENTRIES = int(os.environ.get("BENCH_FLOOD_ENTRIES", "1500000"))
EVIDENCE = Path(sys.executable).with_name("evidence")


def _report(name: str, **figures: Any) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def build_flood(path: Path, entries: int) -> int:
    """A well-formed ZIP64 archive of ``entries`` empty stored members; returns its size."""
    local = struct.Struct("<4sHHHHHIIIHH")
    central = struct.Struct("<4sHHHHHHIIIHHHHHII")
    with open(path, "wb") as f:
        offset = 0
        for start in range(0, entries, 10_000):
            chunk = bytearray()
            for i in range(start, min(entries, start + 10_000)):
                name = b"f%07d" % i
                chunk += local.pack(b"PK\x03\x04", 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0) + name
            f.write(chunk)
            offset += len(chunk)
        cd_offset = offset
        pos = 0
        for start in range(0, entries, 10_000):
            chunk = bytearray()
            for i in range(start, min(entries, start + 10_000)):
                name = b"f%07d" % i
                off = min(pos, 0xFFFFFFFF)
                chunk += central.pack(
                    b"PK\x01\x02", 0x314, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0, 0, 0, 0, 0o644 << 16, off
                )
                chunk += name
                pos += local.size + len(name)
            f.write(chunk)
            offset += len(chunk)
        cd_size = offset - cd_offset
        f.write(struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, entries, entries, cd_size, cd_offset))
        f.write(struct.pack("<4sIQI", b"PK\x06\x07", 0, offset, 1))
        f.write(
            struct.pack(
                "<4sHHHHIIH",
                b"PK\x05\x06",
                0,
                0,
                min(entries, 0xFFFF),
                min(entries, 0xFFFF),
                min(cd_size, 0xFFFFFFFF),
                min(cd_offset, 0xFFFFFFFF),
                0,
            )
        )
        return f.tell()


def run_measured(cmd: list[str]) -> tuple[int, float, int]:
    """Exit status, wall seconds and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, time.perf_counter() - start, usage.ru_maxrss


@pytest.fixture(scope="module")
def flood(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    path = tmp_path_factory.mktemp("bench-flood") / "flood.wacz"
    size = build_flood(path, ENTRIES)
    yield path, size
    path.unlink(missing_ok=True)


def test_flood_is_refused_fast_in_constant_memory(benchmark: Any, flood: tuple[Path, int]) -> None:
    path, size = flood
    if not EVIDENCE.is_file():
        pytest.skip(f"the evidence command is not installed next to {sys.executable}")
    letter = path.with_name("letter.wacz")
    letter.write_text("Dear court,\n")  # refused at once: the command's own start-up cost
    floor = run_measured([str(EVIDENCE), "verify", str(letter)])
    results: list[tuple[int, float, int]] = []

    def once() -> None:
        results.append(run_measured([str(EVIDENCE), "verify", str(path)]))

    benchmark.pedantic(once, rounds=3, iterations=1)
    codes = {r[0] for r in results}
    wall = min(r[1] for r in results)
    rss = max(r[2] for r in results)
    _report(
        "flood after",
        entries=ENTRIES,
        file_mb=round(size / 1e6, 1),
        exit=sorted(codes),
        wall_s=round(wall, 3),
        peak_rss_mib=round(rss / 1024, 1),
        floor_wall_s=round(floor[1], 3),
        floor_rss_mib=round(floor[2] / 1024, 1),
    )
    assert codes == {2}
    assert rss < floor[2] + 20 * 1024  # nothing of the directory is held in memory
    assert wall < floor[1] + 5  # generous: the machine is shared
    baseline = os.environ.get("BENCH_BASELINE_EVIDENCE")
    if baseline:
        code, bwall, brss = run_measured([baseline, "verify", str(path)])
        _report("flood baseline", command=baseline, exit=code, wall_s=round(bwall, 2), peak_rss_mib=round(brss / 1024))


def _capture_like(d: Path) -> list[Member]:
    """Members shaped like a large page's capture (about 70 MB in all)."""
    rng = os.urandom
    text = b"".join(
        b'<div class="item" data-id="%d"><span>Listing %d</span><p>%s</p></div>\n' % (i, i, rng(12).hex().encode())
        for i in range(200_000)
    )
    (d / "dom.html").write_bytes(text)
    (d / "page.mhtml").write_bytes(text.replace(b"<div", b'<div style=3D"x"'))
    (d / "screenshot-full.png").write_bytes(rng(8 << 20))  # already compressed, like a PNG
    (d / "data.warc.gz").write_bytes(rng(20 << 20))
    return [
        Member("archive/data.warc.gz", d / "data.warc.gz"),
        Member("evidence/dom.html", d / "dom.html"),
        Member("evidence/page.mhtml", d / "page.mhtml"),
        Member("evidence/screenshot-full.png", d / "screenshot-full.png"),
    ]


def test_write_and_read_a_large_bundle(benchmark: Any, tmp_path: Path) -> None:
    members = _capture_like(tmp_path)
    stored = sum(m.source.stat().st_size for m in members if isinstance(m.source, Path))
    dest = tmp_path / "big.wacz"
    benchmark.pedantic(lambda: write_zip(dest, members), rounds=3, iterations=1)
    start = time.perf_counter()
    with BundleView.open(dest) as view:
        for m in members:
            view.sha256(m.path)
    read_s = time.perf_counter() - start
    _report(
        "write",
        members_mb=round(stored / 1e6, 1),
        bundle_mb=round(dest.stat().st_size / 1e6, 1),
        write_median_s=round(benchmark.stats.stats.median, 2),
        read_and_hash_s=round(read_s, 2),
    )
    assert dest.stat().st_size < stored


def test_zip64_above_2_gib_reads_the_same_everywhere(benchmark: Any, tmp_path: Path) -> None:
    """A bundle past 2^31 bytes takes the ZIP64 form (offset field, ZIP64 end record): the
    container, Info-ZIP and zipfile read it alike. Slow (writes and reads 2.1 GB)."""
    import shutil
    import zipfile

    unzip = shutil.which("unzip")
    if unzip is None:
        pytest.skip("Info-ZIP unzip is not installed")
    part = tmp_path / "part.bin"
    with open(part, "wb") as f:
        for _ in range(1024):
            f.write(os.urandom(1 << 20))  # 1 GiB, the largest member accepted
    note = b"the member after 2 GiB\n" * 100
    members = [
        Member("archive/a.warc.gz", part),
        Member("archive/b.warc.gz", part),
        Member("evidence/after.txt", note),
    ]
    dest = tmp_path / "zip64.wacz"
    benchmark.pedantic(lambda: write_zip(dest, members), rounds=1, iterations=1)
    with open(dest, "rb") as f:
        f.seek(-98, os.SEEK_END)
        data_tail = f.read()
    assert data_tail[:4] == b"PK\x06\x06"  # ZIP64 end record, locator, end record
    start = time.perf_counter()
    with BundleView.open(dest) as view:
        assert view.read("evidence/after.txt") == note
        a = view.sha256("archive/a.warc.gz")
    ours = time.perf_counter() - start
    out = subprocess.run([unzip, "-p", str(dest), "evidence/after.txt"], capture_output=True, check=True)
    assert out.stdout == note and not out.stderr
    with zipfile.ZipFile(dest) as zf:
        assert zf.read("evidence/after.txt") == note
        info = zf.getinfo("evidence/after.txt")
        assert info.header_offset > (1 << 31)
    _report(
        "zip64", bundle_gb=round(dest.stat().st_size / 1e9, 2), parse_read_hash_1gib_s=round(ours, 2), sha=a[0][:16]
    )
