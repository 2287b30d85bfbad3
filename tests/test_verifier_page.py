"""The offline verifier page (verify.html) in real Chromium, against ``evidence verify --json``.

The page is loaded from ``file://``; every request it makes is logged (only the page itself
may appear). Every bundle of the corpus (the valid bundle, forged and naive tampering of each
file, stray files, hostile inputs, crafted containers) is verified by both; where the page
implements the failing step (steps 1-6), or fails at step 7 on the checks of it that it makes (the
tokens' numbering, copies and message imprints), the verdict, exit code and failing step must agree;
where the CLI fails later or passes, the page must say that it did not check everything
(never VERIFIED) and agree on the steps it ran.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_container import FAILED_CASES, UNUSABLE_CASES, explode, serialize  # noqa: F401
from test_verify import BUNDLE_FILES, CONTENT_FILES, HOSTILE
from tools import project_command
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures
from verify_helpers import flip, make_bundle, members, rewrite, truncate

from evidence.verifier_page import build, page_bytes

PAGE_IMPLEMENTS = 6
#: Step 7 in part: the tokens' numbering, copies and message imprints (no signatures, no chains).
PARTLY_IMPLEMENTED = 7
ORIGIN = "page.test/evidence"


def test_shipped_page_is_the_build_of_its_sources() -> None:
    assert page_bytes() == build(), "rebuild with: python -m evidence.verifier_page"
    assert len(page_bytes()) < 400_000


def test_cli_writes_the_page_and_prints_its_sha256(tmp_path: Path) -> None:
    out = tmp_path / "verify.html"
    proc = subprocess.run(
        [project_command("evidence"), "verifier-page", "-o", str(out)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert proc.stdout.split()[0] == digest and out.read_bytes() == page_bytes()
    head = out.read_text().split("<script>")[0]
    assert "default-src 'none'" in head and "http://" not in head and "https://" not in head


class Browser:
    """Chromium with the page loaded from file://, driven from a thread of its own (the capture
    that made the corpus keeps Playwright's sync driver in the test's thread)."""

    def __init__(self, chromium: str, path: Path) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.url = path.as_uri()
        #: Every request the page made (page.on("request")): only the page itself may appear.
        self.requests: list[str] = []
        #: Every request route() saw (the page itself is let through, anything else aborted).
        self.routed: list[str] = []
        self._pool = ThreadPoolExecutor(max_workers=1)
        self._pool.submit(self._start, chromium).result()

    def _start(self, chromium: str) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=chromium)
        ctx = self._browser.new_context()

        def handle(route: Any) -> None:
            self.routed.append(route.request.url)
            route.continue_() if route.request.url == self.url else route.abort()

        ctx.route("**/*", handle)
        self.page = ctx.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(self.url)

    def call(self, fn: Any) -> Any:
        """Run ``fn()`` in the browser's thread."""
        return self._pool.submit(fn).result()

    def evaluate(self, script: str, arg: Any) -> Any:
        return self.call(lambda: self.page.evaluate(script, arg))

    def close(self) -> None:
        def stop() -> None:
            self._browser.close()
            self._pw.stop()

        self._pool.submit(stop).result()
        self._pool.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory, corpus: Corpus) -> Iterator[Browser]:
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        chromium = str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser: {err.diagnostics()}")
    path = tmp_path_factory.mktemp("page") / "verify.html"
    path.write_bytes(page_bytes())
    b = Browser(chromium, path)
    yield b
    b.close()


def page_verify(b: Browser, data: bytes, trust: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = b.evaluate(
        "async ([d, t]) => await window.evidenceVerify(Uint8Array.from(atob(d), c => c.charCodeAt(0)), t)",
        [base64.b64encode(data).decode(), trust],
    )
    return result


@dataclass(frozen=True)
class Corpus:
    bundles: dict[str, Path]
    policy_path: Path
    trust: dict[str, Any]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Corpus:
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        chromium = str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser to capture with: {err.diagnostics()}")
    root = tmp_path_factory.mktemp("pagecorpus")
    bundle, log = make_bundle(root, local_tsa.url, chromium, ORIGIN)
    policy = f"log {log.verifier.vkey()}\nwitness log-clock {log.timestamp_verifier.vkey()}\nquorum none\n"
    policy += local_tsa.policy_lines()
    policy_path = root / "trust.policy"
    policy_path.write_text(policy)
    out: dict[str, Path] = {"valid": bundle.path}
    files = members(bundle.path)
    n = 0

    def put(name: str, make: Any) -> None:
        nonlocal n
        n += 1
        dest = root / f"c{n}.wacz"
        try:
            make(dest)
        except Exception:  # a craft that does not apply to this bundle
            return
        out[name] = dest

    for kind in ("flip", "truncate", "remove"):
        for name in BUNDLE_FILES:
            data = files[name]
            new = {"flip": flip(data), "truncate": truncate(data), "remove": None}[kind]
            if name in CONTENT_FILES:
                put(f"forged {kind} {name}", lambda d, name=name, new=new: rewrite(bundle.path, d, change={name: new}))
            put(
                f"naive {kind} {name}",
                lambda d, name=name, new=new: rewrite(bundle.path, d, change={name: new}, rehash=False),
            )
    for stray in ("evidence/notes.txt", "archive/extra.warc.gz", "README", "evidence/tsa-2.pem"):
        for rehash in (True, False):
            put(
                f"stray {stray} rehash={rehash}",
                lambda d, s=stray, r=rehash: rewrite(bundle.path, d, change={s: b"added later\n"}, rehash=r),
            )
    from evidence.timestamp.client import request_timestamp

    other = request_timestamp(b"another checkpoint\n", local_tsa.config()).der
    put(
        "token over another checkpoint",
        lambda d: rewrite(bundle.path, d, change={"evidence/checkpoint.1.tsr": other}),
    )
    for kind, make in HOSTILE.items():
        put(f"hostile {kind}", make)
    raws = explode(bundle.path)
    import copy

    for case, craft in UNUSABLE_CASES.items():
        put(f"crafted {case}", lambda d, c=craft: d.write_bytes(c(copy.deepcopy(raws))))
    for case, (_name, craft, _words) in FAILED_CASES.items():
        put(f"damaged {case}", lambda d, c=craft: d.write_bytes(c(copy.deepcopy(raws))))
    trust = {"logKeys": [log.verifier.vkey(), log.timestamp_verifier.vkey()], "tsaRoots": [], "policy": policy}
    return Corpus(out, policy_path, trust)


def _cli(paths: list[Path], policy: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [project_command("evidence"), "verify", "--json-lines", "--trust", str(policy), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(reports) == len(paths), proc.stderr
    return reports


def _failed(report: dict[str, Any]) -> int | None:
    return next((s["number"] for s in report["steps"] if not s["ok"]), None)


@pytest.mark.browser
def test_page_agrees_with_the_cli_on_the_whole_corpus(browser: Browser, corpus: Corpus) -> None:
    names = sorted(corpus.bundles)
    cli = dict(zip(names, _cli([corpus.bundles[n] for n in names], corpus.policy_path), strict=True))
    agree, partial, disagree, step7 = [], [], [], []
    times: dict[str, float] = {}
    for name in names:
        t = time.perf_counter()
        got = page_verify(browser, corpus.bundles[name].read_bytes(), corpus.trust)
        times[name] = time.perf_counter() - t
        want = cli[name]
        step = _failed(want)
        assert got["verdict"] != "VERIFIED", name  # the page never claims what it did not check
        checked = {c["key"]: c["grade"] for c in got["claims"] if c["grade"] != "NOT CHECKED"}
        assert checked == {c["key"]: c["grade"] for c in want["claims"] if c["key"] in checked}, name
        if want["verdict"] == "UNUSABLE INPUT" or (step is not None and step <= PAGE_IMPLEMENTS):
            same = (got["verdict"], got["exit_code"], got["failed_step"]) == (want["verdict"], want["exit_code"], step)
            (agree if same else disagree).append((name, got, want))
        elif got["failed_step"] == PARTLY_IMPLEMENTED:
            # step 7's numbering, copies and imprints: a failure there must be the CLI's failure too
            same = (got["verdict"], got["exit_code"], got["failed_step"]) == (want["verdict"], want["exit_code"], step)
            (step7 if same else disagree).append((name, got, want))
        else:
            # the CLI passed the steps the page implements: so must the page, and then say it is not complete
            same = got["failed_step"] is None and got["exit_code"] is None and not got["complete"]
            same = same and all(s["ok"] for s in got["steps"])
            (partial if same else disagree).append((name, got, want))
    detail = "\n".join(
        f"{n}: page {g['verdict']} {g['exit_code']} step {g['failed_step']} "
        f"({g['steps'][-1]['detail'][:160] if g['steps'] else ''}) "
        f"| cli {w['verdict']} {w['exit_code']} step {_failed(w)}"
        for n, g, w in disagree
    )
    counts = f"agree {len(agree)} (at step 7: {len(step7)}), beyond the page's steps {len(partial)}"
    counts += f", disagree {len(disagree)}"
    print(f"\ncorpus {len(names)}: {counts}")
    print(f"valid bundle: {times['valid'] * 1000:.0f} ms, {corpus.bundles['valid'].stat().st_size} bytes")
    assert not disagree, detail
    assert browser.routed == [browser.url] and browser.requests == [browser.url], (browser.routed, browser.requests)
    assert times["valid"] < 1.0
    print("failed at step 7 by both:", sorted(n for n, _, _ in step7))
    assert "token over another checkpoint" in {n for n, _, _ in step7}  # the page reads its imprint


@pytest.mark.browser
def test_page_without_keys_is_not_anchored_and_names_the_fingerprint(browser: Browser, corpus: Corpus) -> None:
    got = page_verify(browser, corpus.bundles["valid"].read_bytes(), {})
    grades = {c["key"]: c["grade"] for c in got["claims"]}
    assert grades["log_inclusion"] == "NOT ANCHORED IN TRUST"
    assert grades["signed_time"] == "NOT ANCHORED IN TRUST" and grades["witnesses"] == "NONE"
    assert grades["integrity"] == grades["independent_time"] == "NOT CHECKED"  # steps 7, 8 are not in the page
    assert got["to_confirm"] and got["to_confirm"][0]["fingerprint"].startswith("sha256:")
    assert browser.routed == [browser.url] and browser.requests == [browser.url]


@pytest.mark.browser
def test_a_policy_with_witnesses_stops_the_page_at_step_6_as_not_implemented(browser: Browser, corpus: Corpus) -> None:
    trust = dict(corpus.trust, policy=corpus.trust["policy"].replace("quorum none", "quorum log-clock"))
    got = page_verify(browser, corpus.bundles["valid"].read_bytes(), trust)
    assert got["verdict"] == "NOT FULLY CHECKED BY THIS PAGE" and got["exit_code"] is None
    assert [s["number"] for s in got["steps"]] == [1, 2, 3, 4, 5] and got["not_implemented"] == [6, 7, 8]
    assert "quorum" in got["notes"][0]
    grades = {c["key"]: c["grade"] for c in got["claims"]}
    assert grades["signed_time"] == grades["witnesses"] == "NOT CHECKED"


@pytest.mark.browser
def test_the_drop_zone_shows_the_numbered_steps(browser: Browser, corpus: Corpus) -> None:
    def pick() -> str:
        browser.page.set_input_files("#file", str(corpus.bundles["valid"]))
        browser.page.wait_for_selector("#out h2", timeout=10_000)
        text: str = browser.page.inner_text("#out")
        return text

    text = browser.call(pick)
    assert "Verdict: NOT FULLY CHECKED BY THIS PAGE" in text
    assert "[PASS] The bundle is a complete, undamaged WACZ container" in text
    assert "[NOT IMPLEMENTED IN THIS PAGE] Independent time-stamps (RFC 3161)" in text
    assert browser.routed == [browser.url] and browser.requests == [browser.url]
