"""``preserve --jobs N`` and ``evidence.capture_many``: several pages at once, each sealed on
its own, one failure isolated, results in the order of the list (real Chromium, local site)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
from capture_helpers import load_site_module
from tools import project_command

import evidence
from evidence.batch import check_jobs, run_jobs
from evidence.capture import find_chromium
from evidence.capture.errors import BrowserNotFoundError
from evidence.errors import UsageError
from evidence.log import Log

PRESERVE, EVIDENCE = project_command("preserve"), project_command("evidence")


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")
    running = load_site_module().TestSite.start()
    yield running
    running.close()


def test_preserve_jobs_2_isolates_a_bad_url_and_keeps_the_order(site: Any, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/"
    urls = [site.url("/listing?n=1"), site.url("/slow?ms=6000"), refused, site.url("/listing?n=2")]
    log_dir = tmp_path / "log"
    Log.create(log_dir, "test.example/jobs")
    out = tmp_path / "out"
    t0 = time.monotonic()
    r = subprocess.run(
        [PRESERVE, "--jobs", "2", "--log", str(log_dir), "-o", str(out), "--json", "--no-pdf", *urls],
        env=dict(os.environ, EVIDENCE_HOME=str(tmp_path / "home")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    wall = time.monotonic() - t0
    assert r.returncode == 4, r.stderr
    doc = json.loads(r.stdout)
    assert [x["url"] for x in doc["results"]] == urls  # the list's order, whatever order they finished in
    ok = [x for x in doc["results"] if x["ok"]]
    [bad] = [x for x in doc["results"] if not x["ok"]]
    assert bad["kind"] == "ConnectionFailedError" and "Traceback" not in r.stderr
    # Each sealed on its own: an entry of its own (beside it, each attempt's record has one too).
    assert len({x["log_index"] for x in ok}) == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(x["bundle"]).name for x in ok)
    # Two jobs ran at once: the whole run (browser starts included) took less time than its
    # captures did one after the other (the slow page alone takes over 6 s).
    assert wall < sum(x["seconds"] for x in ok), (wall, [x["seconds"] for x in ok])
    v = subprocess.run(
        [EVIDENCE, "verify", *(x["bundle"] for x in ok), "--log-key", str(log_dir / "verification-keys.txt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert v.returncode == 0, v.stdout + v.stderr


def test_capture_many_returns_one_outcome_per_url_in_order(site: Any, tmp_path: Path) -> None:
    log = Log.create(tmp_path / "log", "test.example/many")
    urls = [site.url("/listing?n=3"), "javascript:alert(1)", site.url("/listing?n=4")]
    seen: list[int] = []
    outcomes = evidence.capture_many(
        urls, jobs=2, out_dir=tmp_path / "out", log=log, on_result=lambda n, o: seen.append(n), pdf=False
    )
    assert [o.url for o in outcomes] == urls and sorted(seen) == [0, 1, 2]
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error is not None and "javascript:" in outcomes[1].error.message
    from evidence.bundle.format import entry_for_digest

    sealed = [o.bundle for o in outcomes if o.bundle]
    assert len({b.log_index for b in sealed}) == 2
    for b in sealed:  # each bundle's entry is its own manifest's, whichever job sealed it
        assert log.entry(b.log_index) == entry_for_digest(b.manifest_sha256)


@pytest.mark.parametrize("jobs", [0, -1, 33, True, 2.0])
def test_a_bad_number_of_jobs_is_a_usage_error(jobs: Any) -> None:
    with pytest.raises(UsageError, match="number of jobs"):
        check_jobs(jobs)


def test_run_jobs_raises_what_a_job_raises_and_stops(tmp_path: Path) -> None:
    """A bug in ``work`` (not a failed URL) ends the run with that error; no hang."""
    import contextlib

    class Boom(Exception):
        pass

    def work(slot: Any, n: int, item: int) -> int:
        if item == 2:
            raise Boom(item)
        return item

    with pytest.raises(Boom):
        list(run_jobs([1, 2, 3, 4], work, jobs=2, slot=lambda: contextlib.nullcontext(Any)))  # type: ignore[arg-type]


def test_preserve_refuses_a_bad_jobs_value_before_anything(tmp_path: Path) -> None:
    r = subprocess.run(
        [PRESERVE, "--jobs", "0", "http://127.0.0.1:9/", "-o", str(tmp_path / "out")],
        env=dict(os.environ, EVIDENCE_HOME=str(tmp_path / "home")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "number of jobs" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "home").exists()
