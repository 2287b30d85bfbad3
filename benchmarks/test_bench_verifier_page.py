"""Verifier page benchmarks: ``window.evidenceVerify`` in real Chromium next to ``evidence verify``.

    python -m pytest benchmarks/test_bench_verifier_page.py --benchmark-only -s

Two bundles, each verified in the same run by the page (verify.html opened from ``file://``
in Chromium, the bundle's bytes already in the page, so only the verification is timed) and
by the Python verifier (``evidence.verify.verify``, what ``evidence verify`` runs, and the
command itself as a subprocess, start-up included):

- typical: the local listing page captured over HTTPS (about 0.5 MB, one RFC 3161 token);
  target for the page < 1 s;
- large: a hand-made capture (tests/handmade.py) whose WARC holds one extra resource of
  random bytes, so that the bundle is about 50 MB (BENCH_PAGE_MB sets the size).

The page implements steps 1-7 (RFC 3161 signatures and chains included, not step 8), so its
verdict is NOT FULLY CHECKED BY THIS PAGE; the CLI's is VERIFIED. Both get the same trust: a
policy pinning the log, its clock and the TSA by fingerprint, and the TSA's root certificate.
Figures go in benchmarks/README.md ("## Verifier page"). Needs Chromium (skips otherwise).
"""

from __future__ import annotations

import base64
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tools import project_command
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures

from evidence.trust import TrustPolicy
from evidence.verifier_page import page_bytes
from evidence.verify import Verdict, verify

LARGE = int(float(os.environ.get("BENCH_PAGE_MB", "50")) * 1_000_000)


def _report(name: str, **figures: Any) -> None:
    print(f"\n[{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def _chromium() -> str:
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        return str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(err.message)


class Case:
    """A bundle with the trust the CLI and the page are given."""

    def __init__(self, path: Path, log: Any, tsa: RunningTSA, root: Path) -> None:
        from cryptography import x509
        from test_verifier_page import tsa_pin_lines

        self.path = path
        text = f"log {log.verifier.vkey()}\nwitness clock {log.timestamp_verifier.vkey()}\nquorum none\n"
        text += tsa_pin_lines(tsa)
        self.policy = TrustPolicy.parse(text)
        self.policy_path = root / "trust.policy"
        self.policy_path.write_text(text)
        self.root_path = tsa.root_path
        self.root = x509.load_pem_x509_certificate(tsa.root_path.read_bytes())
        pem = tsa.root_path.read_text()
        self.trust = {
            "logKeys": [log.verifier.vkey(), log.timestamp_verifier.vkey()],
            "tsaRoots": [pem],
            "policy": text,
        }


@pytest.fixture(scope="module")
def typical(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Case:  # noqa: F811
    from verify_helpers import make_bundle

    root = tmp_path_factory.mktemp("bench-page-typical")
    bundle, log = make_bundle(root, local_tsa.url, _chromium(), "bench.example/evidence")
    return Case(bundle.path, log, local_tsa, root)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Iterator[Case]:  # noqa: F811
    import handmade

    root = tmp_path_factory.mktemp("bench-page-large")
    blob = os.urandom(LARGE)
    plain = handmade.exchanges

    def more() -> list[handmade.Exchange]:
        url = f"{handmade.BASE}/video/big.bin"
        extra = handmade.Exchange(url, 200, "OK", "application/octet-stream", blob, "Media")
        return [*plain(), extra]

    handmade.exchanges = more  # type: ignore[assignment]
    try:
        bundle, log = handmade.make_bundle(root, local_tsa.url, "bench.example/evidence")
    finally:
        handmade.exchanges = plain  # type: ignore[assignment]
    yield Case(bundle.path, log, local_tsa, root)
    bundle.path.unlink(missing_ok=True)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from test_verifier_page import Browser

    path = tmp_path_factory.mktemp("bench-page") / "verify.html"
    path.write_bytes(page_bytes())
    b = Browser(_chromium(), path)
    yield b
    b.close()


def _load(b: Any, data: bytes) -> None:
    """Put the bundle's bytes into the page once (window.__bundle), outside the timing."""
    b.evaluate(
        "(d) => { window.__bundle = Uint8Array.from(atob(d), c => c.charCodeAt(0)); return window.__bundle.length }",
        base64.b64encode(data).decode(),
    )


def _page_once(b: Any, trust: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """One verification in the page; its own duration (performance.now) and the report."""
    out: dict[str, Any] = b.evaluate(
        "async (t) => { const s = performance.now(); const r = await window.evidenceVerify(window.__bundle, t);"
        " return {ms: performance.now() - s, r} }",
        trust,
    )
    return out["ms"] / 1000, out["r"]


def _cli_once(case: Case) -> float:
    t = time.perf_counter()
    proc = subprocess.run(
        [
            project_command("evidence"),
            "verify",
            "--trust",
            str(case.policy_path),
            "--tsa-cert",
            str(case.root_path),
            *[str(case.path)],
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.perf_counter() - t
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return elapsed


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2]


def _run(name: str, benchmark: Any, page: Any, case: Case, rounds: int) -> float:
    _load(page, case.path.read_bytes())
    _page_once(page, case.trust)  # warm-up
    in_page: list[float] = []

    def once() -> dict[str, Any]:
        seconds, report = _page_once(page, case.trust)
        in_page.append(seconds)
        return report

    report = benchmark.pedantic(once, rounds=rounds, iterations=1)
    assert report["verdict"] == "NOT FULLY CHECKED BY THIS PAGE" and report["failed_step"] is None
    assert {c["key"]: c["grade"] for c in report["claims"]}["independent_time"] == "VERIFIED"
    api: list[float] = []
    for _ in range(rounds):
        t = time.perf_counter()
        result = verify(case.path, trust=case.policy, tsa_pins=[case.root])
        api.append(time.perf_counter() - t)
        assert result.verdict is Verdict.VERIFIED
    cli = [_cli_once(case) for _ in range(3)]
    page_median = _median(in_page)
    _report(
        name,
        bundle_bytes=case.path.stat().st_size,
        page_median_s=round(page_median, 4),
        page_min_s=round(min(in_page), 4),
        page_with_driver_median_s=round(benchmark.stats.stats.median, 4),
        verify_api_median_s=round(_median(api), 4),
        verify_api_min_s=round(min(api), 4),
        cli_median_s=round(_median(cli), 3),
        load=os.getloadavg(),
    )
    return page_median


def test_page_verify_typical_bundle(benchmark: Any, page: Any, typical: Case) -> None:
    assert _run("page typical", benchmark, page, typical, rounds=15) < 1.0


def test_page_verify_50mb_bundle(benchmark: Any, page: Any, large: Case) -> None:
    _run("page large", benchmark, page, large, rounds=5)
