"""Capture workers on a PostgreSQL queue, end to end: real PostgreSQL (the ``postgres``
fixture), real worker processes with real Chromium, the local test site, a directory log.

One run (module-scoped, shared by the tests): 30 URLs of the test site, one of them slow,
an address that always fails and a walk job go on one queue; three workers take them; the
worker capturing the slow page is SIGKILLed (with its browser) mid-capture. The tests then
check what the run left: every URL preserved exactly once, each bundle verifies, the killed
worker's job completed by another, the failing job failed after its tries with its reason.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
from capture_helpers import load_site_module
from tools import project_command

from evidence.bundle import MANIFEST_PATH, BundleView
from evidence.capture import find_chromium
from evidence.capture.errors import BrowserNotFoundError
from evidence.log import Log

pytest.importorskip("procrastinate")

EVIDENCE = project_command("evidence")
TRIES = 3
SLOW = "/slow?ms=6000"
#: Short heartbeats and stall timeout, so a killed worker's job is back on the queue in seconds.
WORKER_OPTIONS = ["--tries", str(TRIES), "--backoff", "0.5", "--heartbeat", "0.5", "--stall-timeout", "3", "--no-pdf"]


@dataclass
class Run:
    queue: str
    out: Path
    log_dir: Path
    urls: list[str]
    slow_url: str
    failing_url: str
    walk_url: str
    killed_name: str
    killed_job: int
    status: dict[str, Any]
    logs: list[str]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _status(queue: str) -> dict[str, Any]:
    r = subprocess.run(
        [EVIDENCE, "queue", "status", "--queue", queue, "--json"], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


@pytest.fixture(scope="module")
def run(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    try:
        find_chromium()
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")
    site = load_site_module().TestSite.start()
    tmp = tmp_path_factory.mktemp("queue")
    queue = postgres.create_database("captures")
    log_dir = tmp / "log"
    Log.create(log_dir, "test.example/queue")
    out = tmp / "bundles"
    env = dict(os.environ, EVIDENCE_HOME=str(tmp / "home"))
    urls = [site.url(f"/listing?n={i}") for i in range(1, 30)]
    slow_url = site.url(SLOW)
    urls.insert(3, slow_url)  # among the first taken: it is under way while the workers are busy
    failing_url = f"http://127.0.0.1:{_closed_port()}/gone"
    walk_url = site.url("/listing?walk=1")
    walk = tmp / "walk.toml"
    walk.write_text(f'start = "{walk_url}"\n\n[[steps]]\nscroll = "bottom"\n\n[[steps]]\nsnapshot = "listing"\n')

    def add(*args: str) -> None:
        r = subprocess.run(
            [EVIDENCE, "queue", "add", "--queue", queue, "--case", "Q-1", *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert r.returncode == 0, r.stderr

    add(*urls, failing_url)
    add("--walk", str(walk))
    procs: list[subprocess.Popen[bytes]] = []
    logs = [tmp / f"worker-{k}.log" for k in range(3)]
    try:
        for log_file in logs:
            with open(log_file, "wb") as f:
                procs.append(
                    subprocess.Popen(
                        [EVIDENCE, "worker", "--queue", queue, "--log", str(log_dir), "-o", str(out), *WORKER_OPTIONS],
                        stdout=f,
                        stderr=subprocess.STDOUT,
                        env=env,
                        start_new_session=True,  # its own process group: it dies with its browser
                    )
                )
        # Kill the worker that is capturing the slow page, while the page is loading.
        deadline = time.monotonic() + 120
        victim = None
        while victim is None and time.monotonic() < deadline:
            for k, log_file in enumerate(logs):
                if f"capturing {slow_url}" in log_file.read_text() and site.hits_for(SLOW):
                    victim = k
            time.sleep(0.1)
        assert victim is not None, "no worker started the slow capture: " + "".join(p.read_text() for p in logs)
        time.sleep(0.5)
        os.killpg(procs[victim].pid, signal.SIGKILL)
        procs[victim].wait(timeout=30)
        killed_name = f"{socket.gethostname()}:{procs[victim].pid}"
        # The others finish the queue, the killed worker's job included (polled in this
        # process: a command a second would slow the workers down; the deadline is for a hang).
        from evidence.queue.store import jobs

        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            states = [j.status for j in jobs(queue)]
            if states.count("done") + states.count("failed") == len(urls) + 2:
                break
            time.sleep(1)
        else:
            pytest.fail(f"the queue was not finished: {sorted(states)}\n" + logs[0].read_text())
        status = _status(queue)
        [slow_job] = [j["id"] for j in status["jobs"] if j["url"] == slow_url]
        yield Run(
            queue,
            out,
            log_dir,
            urls,
            slow_url,
            failing_url,
            walk_url,
            killed_name,
            slow_job,
            status,
            [p.read_text() for p in logs],
        )
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        site.close()


def test_every_url_is_preserved_once_and_every_bundle_verifies(run: Run) -> None:
    done = [j for j in run.status["jobs"] if j["status"] == "done"]
    expected = sorted([*run.urls, run.walk_url])  # the pages, and the walk (its start address)
    assert sorted(j["url"] for j in done) == expected  # done jobs map 1:1 to the URLs
    bundles = [Path(j["bundle"]) for j in done]
    assert len(set(bundles)) == len(bundles) == len(expected)
    # In the output folder: those bundles and nothing else (no half bundle, no temporary folder).
    assert sorted(run.out.iterdir()) == sorted(bundles), sorted(p.name for p in run.out.iterdir())
    captured = [json.loads(BundleView.open(b).read(MANIFEST_PATH))["url"] for b in bundles]
    assert sorted(captured) == expected  # no URL captured twice
    assert len({j["log_index"] for j in done}) == len(done)
    r = subprocess.run(
        [EVIDENCE, "verify", *map(str, bundles), "--log-key", str(run.log_dir / "verification-keys.txt")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_killed_workers_job_is_completed_by_another(run: Run) -> None:
    [job] = [j for j in run.status["jobs"] if j["id"] == run.killed_job]
    assert job["status"] == "done" and job["retried"] >= 1, job
    assert job["worker"] != run.killed_name
    assert Path(job["bundle"]).is_file()
    assert any(f"job {run.killed_job}: its worker stopped sending heartbeats" in log for log in run.logs)


def test_a_job_that_keeps_failing_ends_failed_with_its_reason_after_its_tries(run: Run) -> None:
    [job] = [j for j in run.status["jobs"] if j["url"] == run.failing_url]
    assert job["status"] == "failed" and job["tries"] == TRIES and job["retried"] == TRIES - 1, job
    assert "refused" in job["error"].lower()
    assert job["bundle"] is None
    r = subprocess.run(
        [EVIDENCE, "queue", "status", "--queue", run.queue, "--status", "failed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert f"failed   {run.failing_url}, retried {TRIES - 1}x" in r.stdout
    assert "reason:" in r.stdout and "refused" in r.stdout.lower()


def test_a_walk_job_is_walked_and_sealed_as_one_bundle(run: Run) -> None:
    import zipfile

    [job] = [j for j in run.status["jobs"] if j["url"] == run.walk_url]
    assert job["status"] == "done" and job["walk"] is True, job
    with zipfile.ZipFile(job["bundle"]) as z:
        steps = json.loads(z.read("evidence/steps.json"))
    assert [s["action"] for s in steps["steps"]] == ["start", "scroll", "snapshot"], steps


def test_bad_input_is_refused_plainly(postgres: Any) -> None:
    queue = postgres.create_database("refusals")
    cases = [
        (["queue", "add", "--queue", queue, "--case", "C", "javascript:alert(1)"], "javascript:"),
        (["queue", "add", "--queue", "mysql://x/y", "--case", "C", "http://example.test/"], "PostgreSQL URL"),
        (["queue", "status", "--queue", "postgresql://nobody@127.0.0.1:1/none"], "cannot reach the queue"),
        (["worker", "--queue", queue, "--jobs", "0"], "number of jobs"),
    ]
    for argv, words in cases:
        r = subprocess.run([EVIDENCE, *argv], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (argv, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr, (argv, r.stderr)
    r = subprocess.run([EVIDENCE, "queue", "status", "--queue", queue], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "no capture jobs" in r.stdout  # nothing was added
