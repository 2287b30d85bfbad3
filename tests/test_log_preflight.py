"""`preserve --log URL` checks the log server (reachable, and the token accepted) before the
first capture: a batch with a missing or wrong token preserves nothing *and captures
nothing*, instead of failing page by page after every capture. Against the real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "capture"))
from capture_helpers import load_site_module
from server_helpers import RunningServer, make_tokens, post, write_config
from tools import project_command
from tsa.server import unused_port_url

from evidence.errors import LogError
from evidence.log import Log
from evidence.log.remote import ENV_TOKEN, RemoteLog

ORIGIN = "test.example/preflight-log"
PRESERVE = project_command("preserve")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    base = tmp_path_factory.mktemp("preflight")
    Log.create(base / "log", ORIGIN).close()
    [token] = make_tokens(base / "tokens", ["capture-pc"])
    server = RunningServer(base / "log", write_config(base / "server.toml", tokens=base / "tokens")).start()
    yield SimpleNamespace(server=server, token=token, dir=base / "log")
    server.stop()


@pytest.fixture(scope="module")
def site() -> Iterator[Any]:
    running = load_site_module().TestSite.start()
    yield running
    running.close()


def test_auth_is_an_authenticated_no_op(served: SimpleNamespace) -> None:
    before = (served.dir / "checkpoint").read_bytes()
    assert post(served.server.port, b"", served.token, path="/auth")[0] == 200
    status, body = post(served.server.port, b"", None, path="/auth")
    assert status == 401 and b"Authorization" in body
    status, body = post(served.server.port, b"", "not-" + served.token, path="/auth")
    assert status == 403 and b"not accepted" in body
    assert post(served.server.port, b"entry?", served.token, path="/auth")[0] == 200  # a body is ignored
    assert (served.dir / "checkpoint").read_bytes() == before  # nothing was added
    with RemoteLog(served.server.url, token=served.token) as log:
        log.check_writable()
        assert log.size == 0


def _preserve(
    served: SimpleNamespace, tmp_path: Path, token: str | None, *urls: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_TOKEN}
    env["EVIDENCE_HOME"] = str(tmp_path / "home")
    if token is not None:
        env[ENV_TOKEN] = token
    return subprocess.run(
        [PRESERVE, *urls, "--log", served.server.url, "-o", str(tmp_path / "out"), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("token", "words"),
    [(None, "needs a token to add entries, and none was given"), ("wrong-token-0123456789abcdef", "refused the token")],
    ids=["missing", "wrong"],
)
def test_a_bad_token_stops_the_batch_before_any_capture(
    served: SimpleNamespace, site: Any, tmp_path: Path, token: str | None, words: str
) -> None:
    pages = [f"/listing?preflight={token is None}-{k}" for k in range(3)]
    t0 = time.monotonic()
    r = _preserve(served, tmp_path, token, *(site.url(p) for p in pages))
    took = time.monotonic() - t0
    assert r.returncode == 2, r.stderr
    assert words in r.stderr and served.server.url in r.stderr and ENV_TOKEN in r.stderr
    assert "Traceback" not in r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is False and doc["kind"] == "LogError" and words in doc["error"] and doc["results"] == []
    assert all(site.hits_for(p) == [] for p in pages), "a page was captured although the log refuses the token"
    assert not (tmp_path / "out").exists()
    assert took < 60, took  # no browser was started (generous: the machine is shared)


def test_an_unreachable_log_server_is_named_in_plain_words(tmp_path: Path) -> None:
    url = unused_port_url().removesuffix("tsr")
    with pytest.raises(LogError) as info:
        RemoteLog(url, attempts=2)
    text = info.value.diagnostics()
    assert f"the log server {url} could not be reached: the connection was refused" in text
    assert "2 attempt(s)" in text and "Check the URL" in text
    for raw in ("HTTPConnectionPool", "Max retries", "NewConnectionError", "urllib3", "Errno"):
        assert raw not in text, text


def test_auditing_an_unreachable_log_says_why_in_plain_words(served: SimpleNamespace) -> None:
    from evidence_cli.main import main as evidence_main

    url = unused_port_url().removesuffix("tsr")
    with Log.open(served.dir) as log:
        key = log.verifier.vkey()
    r = subprocess.run(
        [project_command("evidence"), "log", "audit", url, "--key", key], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"could not fetch {url}checkpoint: the connection was refused" in r.stderr
    for raw in ("HTTPConnectionPool", "Max retries", "NewConnectionError", "Traceback"):
        assert raw not in r.stderr, r.stderr
    assert evidence_main(["log", "audit", served.server.url, "--key", key]) == 0  # the running server audits
