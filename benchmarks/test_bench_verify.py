"""Verify benchmarks: the time to verify a typical bundle, and hashing throughput on 1 GB.

    python -m pytest benchmarks/test_bench_verify.py --benchmark-only -s

- verify: ``evidence.verify.verify`` of a bundle of the local listing page captured over
  HTTPS (about 0.5 MB, one RFC 3161 token), fully trusted (VERIFIED), target < 0.3 s; and
  of the same bundle after ``evidence refresh`` (one more checkpoint and token);
- hashing: SHA-256 of a 1 GB artifact as the verifier reads it (``BundleView.sha256``, a
  stored ZIP member, streamed by the container reader) and as a plain file
  (``wacz.sha256_file``) against ``sha256sum`` on the same bytes in the same run, page
  cache warm for all; target >= 80 % of ``sha256sum``'s throughput.

Figures go in benchmarks/README.md ("## Verify"). BENCH_VERIFY_GB sets the artifact size
(default 1). Needs Chromium for the first benchmark (skips otherwise).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures
from verify_helpers import make_bundle

from evidence.bundle import BundleView
from evidence.bundle.wacz import Member, sha256_file, write_zip
from evidence.trust import TrustPolicy
from evidence.verify import Verdict, verify

SIZE = int(float(os.environ.get("BENCH_VERIFY_GB", "1")) * 1_000_000_000)


def _report(name: str, **figures: Any) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


@pytest.fixture(scope="module")
def typical(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> tuple[Any, Any, TrustPolicy]:  # noqa: F811
    """The listing bundle, its log, and a policy that trusts the log, its clock and the TSA."""
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        chromium = str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(err.message)
    root = tmp_path_factory.mktemp("bench-verify")
    bundle, log = make_bundle(root, local_tsa.url, chromium, "bench.example/evidence")
    policy = TrustPolicy.parse(
        f"log {log.verifier.vkey()}\nwitness clock {log.timestamp_verifier.vkey()}\nquorum none\n"
        + local_tsa.policy_lines()
    )
    return bundle, log, policy


def test_verify_typical_bundle(benchmark: Any, typical: tuple[Any, Any, TrustPolicy]) -> None:
    bundle, _, policy = typical
    result = benchmark.pedantic(lambda: verify(bundle.path, trust=policy), rounds=30, iterations=1, warmup_rounds=2)
    assert result.verdict is Verdict.VERIFIED
    median = benchmark.stats.stats.median
    _report("verify", bundle_bytes=bundle.path.stat().st_size, median_s=round(median, 4))
    assert median < 0.3


def test_verify_refreshed_bundle(
    benchmark: Any,
    typical: tuple[Any, Any, TrustPolicy],
    local_tsa: RunningTSA,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The same bundle after `evidence refresh` (a newer checkpoint, a consistency proof, one more token)."""
    from evidence.bundle.refresh_writer import refresh_bundle

    bundle, log, policy = typical
    refreshed = tmp_path / "refreshed.wacz"
    shutil.copy(bundle.path, refreshed)
    log.append([b"later entry %d" % i for i in range(1000)])
    outcome = refresh_bundle(refreshed, location=str(log.path), log_keys=[log.verifier], tsas=[local_tsa.config()])
    assert outcome.changed and outcome.tokens == 1
    result = benchmark.pedantic(lambda: verify(refreshed, trust=policy), rounds=30, iterations=1, warmup_rounds=2)
    assert result.verdict is Verdict.VERIFIED
    median = benchmark.stats.stats.median
    _report(
        "verify refreshed",
        bundle_bytes=refreshed.stat().st_size,
        consistency_hashes=outcome.consistency_hashes,
        median_s=round(median, 4),
    )


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A 1 GB file of random bytes, and a bundle-like stored ZIP holding the same bytes."""
    d = tmp_path_factory.mktemp("bench-hash")
    plain, zipped = d / "artifact.bin", d / "artifact.wacz"
    with open(plain, "wb") as f:
        written = 0
        while written < SIZE:
            n = min(1 << 24, SIZE - written)
            f.write(os.urandom(n))
            written += n
    write_zip(zipped, [Member("archive/data.warc.gz", plain)])  # a WARC: stored, as in every bundle
    yield plain, zipped
    plain.unlink(missing_ok=True)
    zipped.unlink(missing_ok=True)


def _best(fn: Any, rounds: int = 3) -> tuple[float, Any]:
    best, value = float("inf"), None
    for _ in range(rounds):
        t = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - t)
    return best, value


def test_hash_throughput_vs_sha256sum(benchmark: Any, artifact: tuple[Path, Path]) -> None:
    plain, zipped = artifact
    tool = shutil.which("sha256sum")
    if tool is None:
        pytest.skip("sha256sum is not installed")

    def coreutils() -> str:
        out = subprocess.run([tool, str(plain)], capture_output=True, text=True, check=True).stdout
        return out.split()[0]

    def bundle_member() -> str:
        with BundleView.open(zipped) as view:
            return view.sha256("archive/data.warc.gz")[0]

    t_tool, ref = _best(coreutils)
    t_plain, (digest_plain, _) = _best(lambda: sha256_file(plain))
    digest_zip = benchmark.pedantic(bundle_member, rounds=3, iterations=1)
    t_zip = benchmark.stats.stats.min
    assert digest_plain == digest_zip == ref
    mb = SIZE / 1e6
    _report(
        "sha256 of 1 GB",
        bytes=SIZE,
        sha256sum_MBps=round(mb / t_tool),
        sha256_file_MBps=round(mb / t_plain),
        bundle_member_MBps=round(mb / t_zip),
        bundle_vs_sha256sum=f"{t_tool / t_zip:.0%}",
        cpu=os.cpu_count(),
    )
    assert t_tool / t_zip >= 0.8
