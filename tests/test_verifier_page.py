"""The offline verifier page (verify.html) in real Chromium, against ``evidence verify --json``.

The page is loaded from ``file://``; every request it makes is logged (only the page itself
may appear). Every bundle of the corpus (the valid bundle, forged and naive tampering of each
file, stray files, hostile inputs, crafted containers) is verified by both, with the same trust
(a policy pinning the log, its clock and the TSA by fingerprint, and the TSA's root certificate);
where the CLI fails at a step the page implements (steps 1-7) or finds the input unusable, the
verdict, exit code, failing step and every claim's grade must agree; where the CLI passes them,
the page must pass them too, say that it did not check everything (never VERIFIED) and grade
every claim it graded as the CLI does.
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

PAGE_IMPLEMENTS = 7
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
    tsa_root: Path
    #: A witness that cosigned only the refreshed bundle's newer checkpoint.
    witness: str


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
    policy += tsa_pin_lines(local_tsa)
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
    token_corpus(root, bundle.path, local_tsa, put)
    witness = refresh_corpus(root, bundle.path, log, local_tsa, put, out)
    root_pem = local_tsa.root_path.read_text()
    trust = {"logKeys": [log.verifier.vkey(), log.timestamp_verifier.vkey()], "tsaRoots": [root_pem], "policy": policy}
    return Corpus(out, policy_path, trust, local_tsa.root_path, witness)


def token_corpus(root: Path, bundle: Path, tsa: RunningTSA, put: Any) -> None:
    """The bundle with its token replaced (and tsa-1.pem with it, datapackage.json recomputed) by
    hostile ones: the same claim re-signed by a self-signed impostor with the TSA's name, by
    certificates under the pinned root without the critical time-stamping EKU or expired at
    genTime, and a genuine token from a TSA of the same name under another root."""
    import datetime as dt

    from tsa.fixtures import start_tsa
    from tsa.server import TestPKI, resign_token

    from evidence.timestamp import TimestampToken
    from evidence.timestamp.client import request_timestamp
    from evidence.verify.common import pem

    files = members(bundle)
    genuine, note = files["evidence/checkpoint.1.tsr"], files["evidence/checkpoint.note"]
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    signers = {
        "self-signed impostor": tsa.pki.self_signed_tsa("Evidence Test TSA"),
        "EKU not critical": tsa.pki.issue_tsa("Bad EKU TSA", eku="noncritical"),
        "no EKU": tsa.pki.issue_tsa("No EKU TSA", eku="none"),
        "EKU with other purposes": tsa.pki.issue_tsa("Extra EKU TSA", eku="extra"),
        "expired TSA certificate": tsa.pki.issue_tsa("Old TSA", not_before=past, not_after=past + dt.timedelta(days=1)),
    }
    tokens = {case: resign_token(genuine, signer, root / "resign") for case, signer in signers.items()}
    rogue = start_tsa(TestPKI(root / "rogue-pki", cn="Rogue Root"), root / "rogue", "rogue", cn="Evidence Test TSA")
    try:
        tokens["same-name TSA under another root"] = request_timestamp(note, rogue.config()).der
    finally:
        rogue.close()
    for case, der in tokens.items():
        certs = b"".join(pem(c) for c in TimestampToken.parse(der).embedded_certificates())
        change = {"evidence/checkpoint.1.tsr": der, "evidence/tsa-1.pem": certs or None}
        put(f"token {case}", lambda d, change=change: rewrite(bundle, d, change=change))


def refresh_corpus(root: Path, bundle: Path, log: Any, tsa: RunningTSA, put: Any, out: dict[str, Path]) -> str:
    """A refreshed copy of the bundle (the log grew, a witness cosigned the newer checkpoint, a
    token over it) and its refresh files damaged; returns the witness's vkey."""
    import shutil

    from evidence.bundle.refresh_writer import refresh_bundle
    from evidence.note import ALG_COSIGNATURE_V1, Note, Signer

    w1 = Signer.generate("witness-one.example", ALG_COSIGNATURE_V1)
    log.append([b"later entry %d" % i for i in range(3)])
    note = Note.parse(log.checkpoint_note(log.size))
    log.add_cosignatures(log.size, [w1.signature_line(note.text_bytes, int(time.time()))])
    refreshed = root / "refreshed.wacz"
    shutil.copy(bundle, refreshed)
    outcome = refresh_bundle(refreshed, location=str(log.path), log_keys=[log.verifier], tsas=[tsa.config()])
    assert outcome.changed and outcome.tokens == 1
    out["refreshed"] = refreshed
    files = members(refreshed)
    for name in ("evidence/refresh-1.note", "evidence/refresh-1.consistency", "evidence/refresh-1.1.tsr"):
        data = files[name]
        for kind, new in (("flip", flip(data)), ("truncate", truncate(data)), ("remove", None)):
            for rehash in (True, False):
                put(
                    f"refreshed {kind} {name} rehash={rehash}",
                    lambda d, name=name, new=new, r=rehash: rewrite(refreshed, d, change={name: new}, rehash=r),
                )
    return w1.verifier().vkey()


def tsa_pin_lines(tsa: RunningTSA) -> str:
    """The TSA pinned by fingerprints (a page opens no files; its root certificate is given apart)."""
    from cryptography import x509

    from evidence.timestamp import certificate_fingerprint

    root, cert = (
        certificate_fingerprint(x509.load_pem_x509_certificate(p.read_bytes())) for p in (tsa.root_path, tsa.cert_path)
    )
    return f"tsa-root {tsa.name}-root sha256:{root}\ntsa {tsa.name} sha256:{cert} {tsa.name}-root\n"


def _cli(paths: list[Path], policy: Path, root: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(
        [project_command("evidence"), "verify", "--json-lines", "--trust", str(policy), "--tsa-cert", str(root)]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    reports = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert len(reports) == len(paths), proc.stderr
    return reports


def _failed(report: dict[str, Any]) -> int | None:
    return next((s["number"] for s in report["steps"] if not s["ok"]), None)


def _grades(report: dict[str, Any]) -> dict[str, str]:
    return {c["key"]: c["grade"] for c in report["claims"]}


@pytest.mark.browser
def test_page_agrees_with_the_cli_on_the_whole_corpus(browser: Browser, corpus: Corpus) -> None:
    names = sorted(corpus.bundles)
    cli = dict(zip(names, _cli([corpus.bundles[n] for n in names], corpus.policy_path, corpus.tsa_root), strict=True))
    agree, partial, disagree = [], [], []
    times: dict[str, float] = {}
    elapsed: dict[str, float] = {}
    for name in names:
        t = time.perf_counter()
        got = page_verify(browser, corpus.bundles[name].read_bytes(), corpus.trust)
        times[name] = time.perf_counter() - t
        elapsed[name] = got["elapsed_ms"] / 1000  # in the page, without Playwright's round trip
        want = cli[name]
        step = _failed(want)
        assert got["verdict"] != "VERIFIED" or got["verdict"] == want["verdict"], name
        if want["verdict"] == "UNUSABLE INPUT" or (step is not None and step <= PAGE_IMPLEMENTS):
            same = (got["verdict"], got["exit_code"], got["failed_step"]) == (want["verdict"], want["exit_code"], step)
            same = same and _grades(got) == _grades(want)
            (agree if same else disagree).append((name, got, want))
        else:
            # the CLI passed the steps the page implements: so must the page, grading as the CLI does
            checked = {k: g for k, g in _grades(got).items() if g != "NOT CHECKED"}
            same = got["failed_step"] is None and got["exit_code"] is None and not got["complete"]
            same = same and [s["number"] for s in got["steps"]] == list(range(1, PAGE_IMPLEMENTS + 1))
            same = same and checked == {k: g for k, g in _grades(want).items() if k in checked}
            (partial if same else disagree).append((name, got, want))
    detail = "\n".join(
        f"{n}: page {g['verdict']} {g['exit_code']} step {g['failed_step']} {_grades(g)} "
        f"({g['steps'][-1]['detail'][:300] if g['steps'] else ''}) {g['notes']}"
        f"| cli {w['verdict']} {w['exit_code']} step {_failed(w)} {_grades(w)} "
        f"({next((s['detail'][:300] for s in w['steps'] if not s['ok']), '')})"
        for n, g, w in disagree
    )
    print(
        f"\ncorpus {len(names)}: agree {len(agree)}, beyond the page's steps {len(partial)}, disagree {len(disagree)}"
    )
    size = corpus.bundles["valid"].stat().st_size
    print(
        f"valid bundle: {elapsed['valid'] * 1000:.0f} ms in the page, "
        f"{times['valid'] * 1000:.0f} ms with the driver, {size} bytes"
    )
    assert not disagree, detail
    assert browser.routed == [browser.url] and browser.requests == [browser.url], (browser.routed, browser.requests)
    assert elapsed["valid"] < 1.0
    assert _grades(next(g for n, g, _ in partial if n == "valid"))["independent_time"] == "VERIFIED"
    assert "token over another checkpoint" in {n for n, _, _ in agree}
    assert sum(n.startswith("token ") for n in names) == 7 and "refreshed" in names  # the crafts applied
    print("hostile tokens:", {n: (w["verdict"], _failed(w)) for n, w in cli.items() if n.startswith("token ")})


@pytest.mark.browser
def test_page_without_keys_is_not_anchored_and_names_the_fingerprint(browser: Browser, corpus: Corpus) -> None:
    got = page_verify(browser, corpus.bundles["valid"].read_bytes(), {})
    grades = _grades(got)
    assert grades["log_inclusion"] == grades["signed_time"] == grades["independent_time"] == "NOT ANCHORED IN TRUST"
    assert grades["witnesses"] == "NONE" and grades["integrity"] == "NOT CHECKED"  # step 8 is not in the page
    assert [c["what"] for c in got["to_confirm"]] == ["Log key", "Log clock key", "Time-stamping authority certificate"]
    assert all(c["fingerprint"].startswith("sha256:") for c in got["to_confirm"])
    assert browser.routed == [browser.url] and browser.requests == [browser.url]


def _trust_cases(corpus: Corpus) -> dict[str, tuple[str, bool, str]]:
    """Trust policies (and whether the TSA root is given) that take steps 6 and 7 down other paths."""
    from evidence.note import ALG_COSIGNATURE_V1, Signer

    policy = corpus.trust["policy"]
    absent = Signer.generate("witness.test/w1", ALG_COSIGNATURE_V1).verifier().vkey()
    head, tsa = policy.split("quorum none\n")
    late = tsa.replace(" local-tsa-root\n", " local-tsa-root not-after 2001-01-01T00:00:00Z\n")
    cases = {
        "quorum of the log's clock": (policy.replace("quorum none", "quorum log-clock"), True),
        "quorum of a witness that did not cosign": (f"{head}witness w1 {absent}\nquorum w1\n{tsa}", True),
        "group any of the clock and an absent witness": (
            f"{head}witness w1 {absent}\ngroup g any log-clock w1\nquorum g\n{tsa}",
            True,
        ),
        "group all of them": (f"{head}witness w1 {absent}\ngroup g all log-clock w1\nquorum g\n{tsa}", True),
        "TSA trusted only until 2001": (f"{head}quorum none\n{late}", True),
        "TSA root pinned by fingerprint, not given": (policy, False),
        "no TSA pinned, its root given": (f"{head}quorum none\n", True),
        "no TSA pinned, nothing given": (f"{head}quorum none\n", False),
    }
    out = {case: (p, root, "valid") for case, (p, root) in cases.items()}
    witnessed = f"{head}witness w1 {corpus.witness}\nquorum w1\n{tsa}"
    out["a witness that cosigned only the refresh, valid bundle"] = (witnessed, True, "valid")
    out["a witness that cosigned only the refresh, refreshed bundle"] = (witnessed, True, "refreshed")
    out["refreshed bundle, no trust policy"] = ("", False, "refreshed")
    out["refreshed bundle, no TSA pinned"] = (f"{head}quorum none\n", True, "refreshed")
    return out


@pytest.mark.browser
def test_page_agrees_with_the_cli_under_other_trust(browser: Browser, corpus: Corpus, tmp_path: Path) -> None:
    wrong = []
    for case, (policy, with_root, which) in _trust_cases(corpus).items():
        bundle = corpus.bundles[which]
        path = tmp_path / "p.policy"
        path.write_text(policy)
        args = ["--trust", str(path)] if policy else ["--log-key", str(tmp_path / "k")]
        (tmp_path / "k").write_text("\n".join(corpus.trust["logKeys"]) + "\n")
        args += ["--tsa-cert", str(corpus.tsa_root)] if with_root else []
        proc = subprocess.run(
            [project_command("evidence"), "verify", "--json", *args, str(bundle)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        want = json.loads(proc.stdout)
        trust = dict(corpus.trust, policy=policy, tsaRoots=corpus.trust["tsaRoots"] if with_root else [])
        got = page_verify(browser, bundle.read_bytes(), trust)
        page = (got["failed_step"], _grades(got))
        cli = (_failed(want), {k: g for k, g in _grades(want).items() if k != "integrity" or _failed(want) is not None})
        if _failed(want) is None:
            page[1].pop("integrity")
        if page != cli:
            wrong.append(f"{case}: page {page} {got['steps'][-1]['detail'][:200]} | cli {cli}")
    assert not wrong, "\n".join(wrong)


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
    assert "[PASS] Independent time-stamps (RFC 3161)" in text
    assert "[NOT IMPLEMENTED IN THIS PAGE] The capture records agree with each other" in text
    assert browser.routed == [browser.url] and browser.requests == [browser.url]


def page_lookup(b: Browser, data: bytes, trust: dict[str, Any], answer: str) -> dict[str, Any]:
    result: dict[str, Any] = b.evaluate(
        "async ([d, t, a]) => await window.evidenceLookup(Uint8Array.from(atob(d), c => c.charCodeAt(0)), t, a)",
        [base64.b64encode(data).decode(), trust, answer],
    )
    return result


@pytest.mark.browser
def test_a_pasted_lookup_answer_confirms_the_seal_only_with_the_log_key(browser: Browser, corpus: Corpus) -> None:
    data = corpus.bundles["valid"].read_bytes()
    files = members(corpus.bundles["valid"])
    digest = hashlib.sha256(files["evidence/manifest.json"]).hexdigest()
    proof = files["evidence/entry.tlog-proof"].decode()
    index = int(next(line for line in proof.splitlines() if line.startswith("index "))[6:])

    def answer(**change: Any) -> str:
        return json.dumps(
            {"manifest_sha256": digest, "origin": ORIGIN, "entries": [{"index": index, "proof": proof}]} | change
        )

    keys = {"logKeys": corpus.trust["logKeys"]}
    got = page_lookup(browser, data, keys, answer())
    assert got["confirmed"] and got["entries"][0]["ok"] and got["summary"].startswith("CONFIRMED"), got
    assert page_lookup(browser, data, {"policy": corpus.trust["policy"]}, answer())["confirmed"]
    unkeyed = page_lookup(browser, data, {}, answer())
    assert not unkeyed["confirmed"] and not unkeyed["anchored"] and "NOT CONFIRMED" in unkeyed["summary"]
    assert not page_lookup(browser, data, keys, answer(manifest_sha256="0" * 64))["confirmed"]
    empty = page_lookup(browser, data, keys, answer(entries=[]))
    assert not empty["confirmed"] and "NO entry" in empty["summary"]
    other = page_lookup(browser, data, keys, answer(entries=[{"index": index + 1, "proof": proof}]))
    assert not other["confirmed"] and "not" in other["entries"][0]["detail"]
    line = next(x for x in proof.splitlines() if x.startswith(f"\u2014 {ORIGIN} "))  # the log's own signature
    forged = proof.replace(line, line[:-8] + "AAAAAAA=")
    assert not page_lookup(browser, data, keys, answer(entries=[{"index": index, "proof": forged}]))["confirmed"]
    assert not page_lookup(browser, data, keys, "not json")["confirmed"]
    assert browser.routed == [browser.url] and browser.requests == [browser.url]
