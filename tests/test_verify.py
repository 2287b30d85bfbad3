"""The offline verifier, end to end: real captures, a real log, a real RFC 3161 TSA.

One bundle is captured per session (HTTPS with a redirect, so that every kind of file is
present) and copied or re-sealed for each tamper test. A "forger" variant recomputes
``datapackage.json`` after each change, so that the deeper steps must catch it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import handmade
import pytest
import verifier_base
from evidence_cli import verify_cmd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tsa.fixtures import RunningTSA, local_tsa, make_tsa, tsa_pki  # noqa: F401 - fixtures
from verify_helpers import (
    declare_size,
    expected_step,
    flip,
    make_bundle,
    members,
    reseal,
    rewrite,
    tree_snapshot,
    truncate,
    write_members,
)

from evidence.bundle import PROOF_PATH, VKEY_PATH
from evidence.checkpoint import TlogProof
from evidence.errors import EvidenceError
from evidence.log import Log
from evidence.note import ALG_COSIGNATURE_V1, Note, NoteSignature, Signer, Verifier
from evidence.timestamp import load_certificates
from evidence.trust import TrustPolicy
from evidence.verify import EXIT_NOT_ANCHORED, Grade, Report, Verdict, verify

ORIGIN = "verify.test/evidence"

#: Every file of a bundle captured over HTTPS (the layout docs/bundle-format.md fixes).
BUNDLE_FILES = (
    "archive/data.warc.gz",
    "indexes/index.cdx",
    "pages/pages.jsonl",
    "evidence/capture.json",
    "evidence/environment.json",
    "evidence/screenshot-full.png",
    "evidence/screenshot-viewport.png",
    "evidence/dom.html",
    "evidence/page.pdf",
    "evidence/page.mhtml",
    "evidence/tls-chain.pem",
    "evidence/clean-environment.json",
    "evidence/start.tsr",
    "evidence/manifest.json",
    "evidence/entry.tlog-proof",
    "evidence/checkpoint.note",
    "evidence/checkpoint.1.tsr",
    "evidence/log.vkey",
    "evidence/tsa-1.pem",
    "evidence/report.html",
    "evidence/VERIFY.txt",
    "evidence/attempts.json",
    "datapackage.json",
    "datapackage-digest.json",
)
CONTENT_FILES = BUNDLE_FILES[:-2]


@dataclass(frozen=True)
class Made:
    bundle: Path
    log: Log
    tsa: RunningTSA
    policy_path: Path
    policy: TrustPolicy
    entry_index: int
    size: int


def _chromium() -> str:
    from evidence.capture import find_chromium
    from evidence.capture.errors import BrowserNotFoundError

    try:
        return str(find_chromium().path)
    except BrowserNotFoundError as err:
        pytest.skip(f"no browser to capture with: {err.diagnostics()}")


def _made(root: Path, bundle: Any, log: Log, local_tsa: RunningTSA) -> Made:
    policy_path = root / "trust.policy"
    policy_path.write_text(
        f"log {log.verifier.vkey()}\n"
        f"witness log-clock {log.timestamp_verifier.vkey()}\n"
        "quorum none\n" + local_tsa.policy_lines()
    )
    return Made(
        bundle.path,
        log,
        local_tsa,
        policy_path,
        TrustPolicy.load(policy_path),
        bundle.log_index,
        bundle.checkpoint.size,
    )


@pytest.fixture(scope="session")
def handmade_made(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Iterator[Made]:
    """A hand-made capture (tests/handmade.py) sealed with the real writer: no browser needed."""
    root = tmp_path_factory.mktemp("verify")
    bundle, log = handmade.make_bundle(root, local_tsa.url, ORIGIN)
    yield _made(root, bundle, log, local_tsa)


@pytest.fixture(scope="session")
def made(request: pytest.FixtureRequest) -> Made:
    """The bundle under test: hand-made unless a test asks for ``browser`` (indirect parameter)."""
    kind = getattr(request, "param", "handmade")
    if kind == "handmade" and verifier_base.corpus() is not None:
        # The base install (tests/verifier_base.py): the full venv made this bundle beforehand.
        entry = verifier_base.load("verify")
        return Made(**entry, policy=TrustPolicy.load(entry["policy_path"]))
    return request.getfixturevalue("browser_made" if kind == "browser" else "handmade_made")  # type: ignore[no-any-return]


#: Both kinds of bundle, for the tests that must hold for what Chromium really captures too.
BOTH_KINDS = pytest.mark.parametrize(
    "made", ["handmade", pytest.param("browser", marks=pytest.mark.browser)], indirect=True
)
BROWSER_ONLY = pytest.mark.parametrize("made", [pytest.param("browser", marks=pytest.mark.browser)], indirect=True)


@pytest.fixture(scope="session")
def browser_made(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Iterator[Made]:
    """A bundle Chromium captured from the local site (HTTPS, through a redirect)."""
    chromium = _chromium()
    root = tmp_path_factory.mktemp("verify-browser")
    bundle, log = make_bundle(root, local_tsa.url, chromium, ORIGIN)
    yield _made(root, bundle, log, local_tsa)


def _failed_at(report: Report, step: int, name: str) -> None:
    failed = report.failed_step
    assert report.verdict is Verdict.FAILED, report.render_text()
    assert report.exit_code == 1
    assert failed is not None and failed.number == step, report.render_text()
    assert name in failed.detail or name in failed.files, report.render_text()
    assert len(report.steps) == step  # fail closed: nothing after the failing step ran
    text = report.render_text()
    assert f"FAILED at step {step}" in text and "What this means:" in text


# --------------------------------------------------------------------------- the happy paths


@pytest.mark.verifier
@BOTH_KINDS
def test_verified_with_the_right_policy(made: Made) -> None:
    report = verify(made.bundle, trust=made.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert report.exit_code == 0 and report.ok
    assert [s.number for s in report.steps] == list(range(1, 9)) and all(s.ok for s in report.steps)
    grades = {c.name: c.grade for c in report.claims}
    assert grades == {
        "Integrity of the preserved files": Grade.VERIFIED,
        "Recorded in the log": Grade.VERIFIED,
        "Signed time (the log's clock)": Grade.VERIFIED,
        "Independent time (RFC 3161)": Grade.VERIFIED,
        "Witnesses": Grade.NONE,
    }
    data = json.loads(report.to_json())
    assert data["verdict"] == "VERIFIED" and data["exit_code"] == 0 and len(data["steps"]) == 8
    text = report.render_text()
    assert "VERDICT: VERIFIED\n" in text and "Entry:" in text and "TSA local-tsa certifies" in text


@pytest.mark.verifier
def test_not_anchored_without_keys_names_the_fingerprints(made: Made) -> None:
    report = verify(made.bundle)
    assert report.verdict is Verdict.NOT_ANCHORED, report.render_text()
    assert report.exit_code == EXIT_NOT_ANCHORED == 3
    fps = {t.fingerprint for t in report.to_confirm}
    cert = made.tsa.issued.cert
    from evidence.timestamp import certificate_fingerprint

    assert fps == {
        f"sha256:{made.log.verifier.fingerprint()}",
        f"sha256:{made.log.timestamp_verifier.fingerprint()}",
        f"sha256:{certificate_fingerprint(cert)}",
    }
    text = report.render_text()
    for fp in fps:
        assert fp in text
    assert "VERDICT: VERIFIED BUT NOT ANCHORED IN TRUST" in text
    grades = {c.name: c.grade for c in report.claims}
    assert grades["Integrity of the preserved files"] is Grade.VERIFIED
    assert grades["Recorded in the log"] is Grade.NOT_ANCHORED
    assert grades["Independent time (RFC 3161)"] is Grade.NOT_ANCHORED


@pytest.mark.verifier
def test_log_keys_anchor_the_log_and_tsa_root_anchors_the_time(made: Made) -> None:
    keys: list[Verifier | str] = [made.log.verifier.vkey(), made.log.timestamp_verifier]
    only_log = verify(made.bundle, log_keys=keys)
    assert only_log.verdict is Verdict.NOT_ANCHORED
    grades = {c.name: c.grade for c in only_log.claims}
    assert grades["Recorded in the log"] is Grade.VERIFIED
    assert grades["Signed time (the log's clock)"] is Grade.VERIFIED
    assert grades["Independent time (RFC 3161)"] is Grade.NOT_ANCHORED
    assert [t.what for t in only_log.to_confirm] == ["Time-stamping authority certificate"]

    root = load_certificates(made.tsa.root_path)
    assert verify(made.bundle, log_keys=keys, tsa_pins=root).verdict is Verdict.VERIFIED
    # The TSA's own certificate without its root cannot anchor the token's chain.
    leaf = load_certificates(made.tsa.cert_path)
    partial = verify(made.bundle, log_keys=keys, tsa_pins=leaf)
    assert partial.verdict is Verdict.NOT_ANCHORED
    assert "root" in partial.steps[6].detail


def test_token_from_an_unpinned_tsa_is_reported_but_the_rest_stays_anchored(made: Made, make_tsa_other: Path) -> None:
    # A policy that pins another TSA only: the token is not anchored; the log still is.
    policy = TrustPolicy.parse(
        f"log {made.log.verifier.vkey()}\nwitness c {made.log.timestamp_verifier.vkey()}\nquorum none\n"
        + make_tsa_other.read_text()
    )
    report = verify(made.bundle, trust=policy)
    assert report.verdict is Verdict.NOT_ANCHORED, report.render_text()
    grades = {c.name: c.grade for c in report.claims}
    assert grades["Recorded in the log"] is Grade.VERIFIED
    assert grades["Independent time (RFC 3161)"] is Grade.NOT_ANCHORED
    assert "not signed by a time-stamping authority you pin" in report.steps[6].detail


def test_one_pinned_token_anchors_the_time_and_the_other_is_listed(
    made: Made,
    tmp_path: Path,
    make_tsa: Callable[..., RunningTSA],
) -> None:
    second = make_tsa("second-tsa")  # same root, but the policy pins only local-tsa's certificate
    both = reseal(made.bundle, tmp_path / "two.wacz", made.log, tsas=[made.tsa.config(), second.config()])
    report = verify(both, trust=made.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    tsa = next(c for c in report.claims if c.name == "Independent time (RFC 3161)")
    assert tsa.grade is Grade.VERIFIED
    assert "checkpoint.1.tsr: VERIFIED" in tsa.detail and "checkpoint.2.tsr: NOT ANCHORED" in tsa.detail
    assert [t.what for t in report.to_confirm] == ["Time-stamping authority certificate"]
    assert "not needed for this verdict" in report.render_text()


@pytest.fixture
def make_tsa_other(tsa_pki: object, tmp_path: Path) -> Path:
    from tsa.server import TestPKI

    other = TestPKI(tmp_path / "other-pki", cn="Other Root CA")
    issued = other.issue_tsa("Other TSA")
    p = tmp_path / "other.policy-lines"
    p.write_text(f"tsa-root other-root {other.root.cert_path}\ntsa other {issued.cert_path} other-root\n")
    return p


@BOTH_KINDS
def test_openssl_accepts_every_token(made: Made, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    files = members(made.bundle)
    note = tmp_path / "checkpoint.note"
    note.write_bytes(files["evidence/checkpoint.note"])
    tokens = [n for n in files if n.endswith(".tsr")]
    assert tokens
    for name in tokens:
        tsr = tmp_path / name.split("/")[-1]
        tsr.write_bytes(files[name])
        # The clean-environment check's start token is over its own message (docs/bundle-format.md).
        over = ["-data", str(note)]
        if name == "evidence/start.tsr":
            over = ["-digest", json.loads(files["evidence/clean-environment.json"])["start"]["imprint"]]
        proc = subprocess.run(
            ["openssl", "ts", "-verify", "-in", str(tsr), *over, "-CAfile", str(made.tsa.root_path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stdout + proc.stderr


@BOTH_KINDS
def test_wacz_validate_accepts_the_bundle(made: Made) -> None:
    from tools import wacz_validator

    wacz = wacz_validator()
    if wacz is None:
        pytest.skip("no wacz validator (py-wacz): set EVIDENCE_WACZ or install it into .venv-wacz")
    proc = subprocess.run([wacz, "validate", "-f", str(made.bundle)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


@pytest.mark.verifier
@BOTH_KINDS
def test_bundle_has_every_kind_of_file(made: Made) -> None:
    # The tamper tests below cover exactly these files.
    assert sorted(members(made.bundle)) == sorted(BUNDLE_FILES)


@BOTH_KINDS
def test_index_matches_the_cdxj_indexer_of_py_wacz(made: Made, tmp_path: Path) -> None:
    """The bundle's CDXJ index has the same lines as py-wacz's own indexer gives for its WARC."""
    from tools import wacz_validator

    wacz = wacz_validator()
    indexer = Path(wacz).parent / "cdxj-indexer" if wacz else None
    if indexer is None or not indexer.is_file():
        pytest.skip("no cdxj-indexer (it comes with py-wacz: .venv-wacz, see .ci/run)")
    files = members(made.bundle)
    warc = tmp_path / "data.warc.gz"
    warc.write_bytes(files["archive/data.warc.gz"])
    proc = subprocess.run([str(indexer), str(warc)], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr

    def rows(text: str) -> list[tuple[str, ...]]:
        out = []
        for line in text.splitlines():
            key, ts, data = line.split(" ", 2)
            d = json.loads(data)
            out.append((key, ts, *(str(d.get(f)) for f in ("url", "status", "mime", "digest", "offset", "length"))))
        return sorted(out)

    ours = rows(files["indexes/index.cdx"].decode())
    assert ours == rows(proc.stdout)
    assert len(ours) >= 10 and ours[0][0].startswith("1,0,0,127:")  # keys as replay tools compute them
    assert [line.split(" ", 2)[:2] for line in files["indexes/index.cdx"].decode().splitlines()] == sorted(
        line.split(" ", 2)[:2] for line in files["indexes/index.cdx"].decode().splitlines()
    )


@BROWSER_ONLY
@pytest.mark.slow
def test_bundle_replays_offline_in_pywb(made: Made, tmp_path: Path) -> None:
    """The WACZ itself replays in pywb (wb-manager unpacks it), with the test site gone."""
    from tools import Pywb, pywb_bin

    from evidence.capture import Capturer

    bin_dir = pywb_bin()
    if bin_dir is None:
        pytest.skip("pywb is not installed: make .venv-pywb (see .ci/run) or set EVIDENCE_PYWB")
    manifest = json.loads(members(made.bundle)["evidence/manifest.json"])
    stamp = "".join(c for c in manifest["capture_started"] if c.isdigit())[:14]  # pywb's 14-digit time
    with Pywb(bin_dir, tmp_path, [made.bundle]) as base, Capturer() as capturer:
        browser = capturer._ready().playwright.chromium.launch(
            executable_path=capturer.browser_info["executable"], args=["--no-sandbox"]
        )
        try:
            page = browser.new_page()
            statuses: dict[str, int] = {}
            page.on("response", lambda r: statuses.__setitem__(r.url, r.status))
            page.goto(f"{base}demo/{stamp}mp_/{manifest['final_url']}")
            page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            page.wait_for_selector("#reviews.loaded", timeout=20_000)
            page.wait_for_load_state("networkidle")
            html = page.content()
            assert 'Marketplace: designer goods (seller "bargain-brands-4u")' in html
            assert "Verified review #1" in html
            broken = page.evaluate(
                "Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
            )
            assert not broken, broken
            # The live site is gone: everything came from the archive through pywb.
            assert statuses and all(u.startswith(base) for u in statuses), sorted(statuses)
            archived = {u: code for u, code in statuses.items() if "/demo/" in u}
            assert len(archived) >= 10 and set(archived.values()) == {200}, archived
        finally:
            browser.close()


# --------------------------------------------------------------------------- tampering


def _mutate(kind: str, data: bytes) -> bytes | None:
    return {"flip": flip(data), "truncate": truncate(data), "remove": None}[kind]


@pytest.mark.verifier
@pytest.mark.parametrize("kind", ["flip", "truncate", "remove"])
@pytest.mark.parametrize("name", CONTENT_FILES)
def test_forged_change_fails_at_the_right_step(made: Made, tmp_path: Path, name: str, kind: str) -> None:
    """A forger changes a file and recomputes datapackage.json: the deeper step notices."""
    original = members(made.bundle)[name]
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={name: _mutate(kind, original)})
    report = verify(bad, trust=made.policy)
    step = expected_step(name)
    if name == "evidence/checkpoint.1.tsr" and kind == "remove":
        name = "evidence/tsa-1.pem"  # its certificates are left without their token
    _failed_at(report, step, name)


@pytest.mark.verifier
@pytest.mark.parametrize("kind", ["flip", "truncate", "remove"])
@pytest.mark.parametrize("name", BUNDLE_FILES)
def test_naive_change_fails_at_the_container_step(made: Made, tmp_path: Path, name: str, kind: str) -> None:
    original = members(made.bundle)[name]
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={name: _mutate(kind, original)}, rehash=False)
    report = verify(bad, trust=made.policy)
    if name == "datapackage.json" and report.verdict is Verdict.UNUSABLE:
        assert report.exit_code == 2 and name in report.summary  # no longer parseable at all
        return
    _failed_at(report, 1, name)


@pytest.mark.verifier
@pytest.mark.parametrize("rehash", [True, False])
@pytest.mark.parametrize("name", ["evidence/notes.txt", "archive/extra.warc.gz", "README", "evidence/tsa-2.pem"])
def test_stray_file_fails(made: Made, tmp_path: Path, name: str, rehash: bool) -> None:
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={name: b"added later\n"}, rehash=rehash)
    report = verify(bad, trust=made.policy)
    step = 1 if not rehash else (7 if name.startswith("evidence/tsa-") else 2)
    _failed_at(report, step, name)


@pytest.mark.verifier
def test_a_copy_of_a_token_under_a_new_number_fails(made: Made, tmp_path: Path) -> None:
    files = members(made.bundle)
    bad = rewrite(
        made.bundle, tmp_path / "bad.wacz", change={"evidence/checkpoint.2.tsr": files["evidence/checkpoint.1.tsr"]}
    )
    report = verify(bad, trust=made.policy)
    _failed_at(report, 7, "evidence/checkpoint.2.tsr")
    assert "is a copy of evidence/checkpoint.1.tsr" in report.failed_step.detail  # type: ignore[union-attr]
    # Copying its certificates too does not help.
    both = {
        "evidence/checkpoint.2.tsr": files["evidence/checkpoint.1.tsr"],
        "evidence/tsa-2.pem": files["evidence/tsa-1.pem"],
    }
    _failed_at(verify(rewrite(made.bundle, tmp_path / "bad2.wacz", change=both), trust=made.policy), 7, "is a copy")


def test_manifest_change_that_keeps_valid_json_fails_inclusion(made: Made, tmp_path: Path) -> None:
    files = members(made.bundle)
    manifest = json.loads(files["evidence/manifest.json"])
    salt = manifest["salt"]
    changed = files["evidence/manifest.json"].replace(
        salt.encode(), (("0" if salt[0] != "0" else "1") + salt[1:]).encode()
    )
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={"evidence/manifest.json": changed})
    _failed_at(verify(bad, trust=made.policy), 4, "evidence/manifest.json")


def test_proof_of_another_entry_fails(made: Made, tmp_path: Path) -> None:
    other = made.log.prove(0, made.size)  # same checkpoint, another entry
    assert other.checkpoint_note == members(made.bundle)["evidence/checkpoint.note"]
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={PROOF_PATH: other.to_bytes()})
    report = verify(bad, trust=made.policy)
    _failed_at(report, 4, PROOF_PATH)
    assert "another entry" in report.failed_step.detail  # type: ignore[union-attr]


def test_newer_valid_proof_of_the_same_entry_fails_on_the_time_stamp(made: Made, tmp_path: Path) -> None:
    made.log.append([f"later entry {os.getpid()}".encode()])
    newer = made.log.prove(made.entry_index, made.log.size)
    bad = rewrite(
        made.bundle,
        tmp_path / "bad.wacz",
        change={PROOF_PATH: newer.to_bytes(), "evidence/checkpoint.note": newer.checkpoint_note},
    )
    # Inclusion and signatures are fine, but the token covers the checkpoint it was made for.
    _failed_at(verify(bad, trust=made.policy), 7, "evidence/checkpoint.1.tsr")


@pytest.mark.verifier
def test_wrong_log_key_is_never_verified(made: Made, tmp_path: Path) -> None:
    impostor = Signer.generate(ORIGIN).verifier()  # same log name, another key
    report = verify(made.bundle, log_keys=[impostor])
    _failed_at(report, 5, VKEY_PATH)
    assert impostor.fingerprint() in report.failed_step.detail  # type: ignore[union-attr]

    other_log = Signer.generate("other.example/log").verifier()
    report = verify(made.bundle, log_keys=[other_log])
    assert report.verdict is Verdict.NOT_ANCHORED
    assert "other logs" in report.steps[4].detail

    policy = TrustPolicy.parse(f"log {impostor.vkey()}\nquorum none\n")
    _failed_at(verify(made.bundle, trust=policy), 5, VKEY_PATH)


def test_log_vkey_replaced_by_another_valid_key_fails(made: Made, tmp_path: Path) -> None:
    fake = Signer.generate(ORIGIN).verifier().vkey() + "\n" + made.log.timestamp_verifier.vkey() + "\n"
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={VKEY_PATH: fake.encode()})
    _failed_at(verify(bad), 5, VKEY_PATH)  # without trusted keys
    _failed_at(verify(bad, trust=made.policy), 5, VKEY_PATH)  # with them
    clock = (
        made.log.verifier.vkey() + "\n" + Signer.generate(f"{ORIGIN}/timestamp", ALG_COSIGNATURE_V1).verifier().vkey()
    )
    bad = rewrite(made.bundle, tmp_path / "bad2.wacz", change={VKEY_PATH: (clock + "\n").encode()})
    _failed_at(verify(bad), 6, VKEY_PATH)
    _failed_at(verify(bad, trust=made.policy), 6, VKEY_PATH)


# --------------------------------------------------------------------------- re-sealed forgeries


def test_resealed_bundle_verifies_only_against_its_own_log(made: Made, tmp_path: Path) -> None:
    forger = Log.create(tmp_path / "forger-log", origin=ORIGIN)  # same name, different keys
    files = members(made.bundle)
    fake = reseal(
        made.bundle,
        tmp_path / "fake.wacz",
        forger,
        sealed={"evidence/dom.html": files["evidence/dom.html"] + b"<!-- -->"},
    )
    assert verify(fake).verdict is Verdict.NOT_ANCHORED  # consistent, but only by its own keys
    _failed_at(verify(fake, trust=made.policy), 5, VKEY_PATH)


def test_witness_quorum(made: Made, tmp_path: Path) -> None:
    w1 = Signer.generate("witness-one.example", ALG_COSIGNATURE_V1)
    w2 = Signer.generate("witness-two.example", ALG_COSIGNATURE_V1)
    cosigned = reseal(made.bundle, tmp_path / "w.wacz", made.log, witnesses=[w1], tsas=[made.tsa.config()])
    base = made.policy_path.read_text().replace("quorum none\n", "")
    lines = f"witness w1 {w1.verifier().vkey()}\nwitness w2 {w2.verifier().vkey()}\n"
    one = TrustPolicy.parse(base + lines + "quorum w1\n")
    report = verify(cosigned, trust=one)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    witnesses = next(c for c in report.claims if c.name == "Witnesses")
    assert witnesses.grade is Grade.VERIFIED and "w1" in witnesses.detail
    assert "Witness w2: no cosignature" in report.steps[5].detail

    both = TrustPolicy.parse(base + lines + "group both all w1 w2\nquorum both\n")
    report = verify(cosigned, trust=both)
    _failed_at(report, 6, PROOF_PATH)
    assert "w2" in report.failed_step.detail  # type: ignore[union-attr]

    # A witness line whose signature is damaged fails closed.
    proof = TlogProof.parse(members(cosigned)[PROOF_PATH])
    note = Note.parse(proof.checkpoint_note)
    *rest, last = note.signatures
    sig = bytearray(last.signature)
    sig[-1] ^= 1
    damaged = Note(note.text, (*rest, NoteSignature(last.name, last.key_id, bytes(sig)))).to_bytes()
    new_proof = TlogProof(proof.index, proof.hashes, damaged, proof.extra).to_bytes()
    bad = rewrite(cosigned, tmp_path / "bad.wacz", change={PROOF_PATH: new_proof, "evidence/checkpoint.note": damaged})
    _failed_at(verify(bad, trust=one), 6, PROOF_PATH)


@pytest.mark.parametrize(
    ("what", "field", "value", "name"),
    [
        ("capture record", "requested_url", "https://elsewhere.example/", "evidence/capture.json"),
        ("capture record", "status", 404, "evidence/capture.json"),
        ("capture record", "started_at", "2001-01-01T00:00:00Z", "evidence/capture.json"),
    ],
)
def test_resealed_records_that_disagree_fail_step_8(
    made: Made, tmp_path: Path, what: str, field: str, value: object, name: str
) -> None:
    cap = json.loads(members(made.bundle)["evidence/capture.json"])
    cap[field] = value
    fake = reseal(made.bundle, tmp_path / "f.wacz", made.log, sealed={name: json.dumps(cap).encode()})
    _failed_at(verify(fake, trust=made.policy), 8, name)


def test_resealed_archive_without_the_page_fails_step_8(made: Made, tmp_path: Path) -> None:
    import io

    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    writer.write_record(writer.create_warcinfo_record("data.warc.gz", {"software": "forger"}))
    fake = reseal(made.bundle, tmp_path / "f.wacz", made.log, sealed={"archive/data.warc.gz": buf.getvalue()})
    _failed_at(verify(fake, trust=made.policy), 8, "archive/data.warc.gz")

    garbage = reseal(made.bundle, tmp_path / "g.wacz", made.log, sealed={"archive/data.warc.gz": b"\x1f\x8bnot gzip"})
    _failed_at(verify(garbage, trust=made.policy), 8, "archive/data.warc.gz")


def test_resealed_pages_without_the_page_fails_step_8(made: Made, tmp_path: Path) -> None:
    pages = b'{"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}\n{"url": "https://x.example/"}\n'
    fake = reseal(made.bundle, tmp_path / "f.wacz", made.log, sealed={"pages/pages.jsonl": pages})
    _failed_at(verify(fake, trust=made.policy), 8, "pages/pages.jsonl")


def test_resealed_malformed_capture_record_fails_without_a_crash(made: Made, tmp_path: Path) -> None:
    cap = json.loads(members(made.bundle)["evidence/capture.json"])
    cap["server"] = "not an object"
    cap["redirect_chain"] = ["not", "objects"]
    fake = reseal(
        made.bundle,
        tmp_path / "f.wacz",
        made.log,
        sealed={"evidence/capture.json": json.dumps(cap).encode()},
        render=False,
    )
    _failed_at(verify(fake, trust=made.policy), 8, "evidence/report.html")


def test_resealed_manifest_missing_a_required_file_fails_step_2(made: Made, tmp_path: Path) -> None:
    fake = reseal(made.bundle, tmp_path / "f.wacz", made.log, sealed={"pages/pages.jsonl": None}, render=False)
    _failed_at(verify(fake, trust=made.policy), 2, "pages/pages.jsonl")


# --------------------------------------------------------------------------- refreshed checkpoints


@dataclass(frozen=True)
class Refreshed:
    """A bundle sealed while witness w2 and every TSA were unreachable, then refreshed."""

    before: Path
    after: Path
    policy_text: str
    w1: Signer
    w2: Signer

    @property
    def policy(self) -> TrustPolicy:
        return TrustPolicy.parse(self.policy_text)


@pytest.fixture(scope="module")
def refreshed_bundle(made: Made, tmp_path_factory: pytest.TempPathFactory) -> Refreshed:
    from evidence.bundle.refresh_writer import refresh_bundle

    root = tmp_path_factory.mktemp("refreshed")
    w1 = Signer.generate("witness-one.example", ALG_COSIGNATURE_V1)
    w2 = Signer.generate("witness-two.example", ALG_COSIGNATURE_V1)
    # Sealed with w1's cosignature only and no RFC 3161 token (w2 and the TSA were down).
    before = reseal(made.bundle, root / "before.wacz", made.log, witnesses=[w1])
    # Later: the log grew, both witnesses cosigned its newer checkpoint, and it is refreshed.
    made.log.append([b"later entry %d" % i for i in range(5)])
    size = made.log.size
    note = Note.parse(made.log.checkpoint_note(size))
    made.log.add_cosignatures(size, [w.signature_line(note.text_bytes, int(time.time())) for w in (w1, w2)])
    after = root / "after.wacz"
    shutil.copy(before, after)
    outcome = refresh_bundle(after, location=str(made.log.path), log_keys=[made.log.verifier], tsas=[made.tsa.config()])
    assert outcome.changed and outcome.tokens == 1 and outcome.checkpoint.size == size
    policy_text = (
        made.policy_path.read_text().replace("quorum none\n", "")
        + f"witness w1 {w1.verifier().vkey()}\nwitness w2 {w2.verifier().vkey()}\n"
        + "group both all w1 w2\nquorum both\n"
    )
    return Refreshed(before, after, policy_text, w1, w2)


def _claim(report: Report, name: str) -> tuple[Grade, str]:
    claim = next(c for c in report.claims if c.name == name)
    return claim.grade, claim.detail


def test_refresh_supplies_the_missing_witness_and_time_stamp(refreshed_bundle: Refreshed) -> None:
    r = refreshed_bundle
    # Before the refresh: the policy's quorum (w1 and w2) is not met, and there is no independent time.
    before = verify(r.before, trust=r.policy)
    _failed_at(before, 6, PROOF_PATH)
    assert "w2" in before.failed_step.detail  # type: ignore[union-attr]
    after = verify(r.after, trust=r.policy)
    assert after.verdict is Verdict.VERIFIED, after.render_text()
    grade, detail = _claim(after, "Witnesses")
    assert grade is Grade.VERIFIED
    assert "w1 at" in detail and "w2 at" in detail and "(on refresh 1)" in detail
    assert "refreshed checkpoint(s) were counted" in detail
    step6 = after.steps[5].detail
    assert "Witness w2: cosigned at" in step6 and "refresh 1, a later checkpoint of" in step6
    grade, detail = _claim(after, "Independent time (RFC 3161)")
    assert grade is Grade.VERIFIED
    assert "The entry existed no later than" in detail and "(refresh-1.1.tsr," in detail
    assert "refresh-1.1.tsr: over refresh-1.note (refresh 1" in detail
    assert "count in step 6" in after.steps[4].detail
    # The log's own signed time still comes from the bundle's checkpoint, not from the refresh.
    assert _claim(after, "Signed time (the log's clock)") == _claim(before, "Signed time (the log's clock)")


def test_refresh_time_stamp_verifies_with_openssl(made: Made, refreshed_bundle: Refreshed, tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    files = members(refreshed_bundle.after)
    (tmp_path / "refresh.note").write_bytes(files["evidence/refresh-1.note"])
    (tmp_path / "t.tsr").write_bytes(files["evidence/refresh-1.1.tsr"])
    proc = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(tmp_path / "t.tsr"),
            "-data",
            str(tmp_path / "refresh.note"),
            "-CAfile",
            str(made.tsa.root_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and "Verification: OK" in proc.stdout, proc.stdout + proc.stderr


def test_refresh_tokens_from_an_unpinned_tsa_are_not_anchored(made: Made, refreshed_bundle: Refreshed) -> None:
    r = refreshed_bundle
    text = "\n".join(line for line in r.policy_text.splitlines() if not line.startswith(("tsa ", "tsa-root ")))
    report = verify(r.after, trust=TrustPolicy.parse(text + "\n"))
    assert report.verdict is Verdict.NOT_ANCHORED, report.render_text()
    grade, detail = _claim(report, "Independent time (RFC 3161)")
    assert grade is Grade.NOT_ANCHORED and "refresh-1.1.tsr" in detail and "existed no later" not in detail


@pytest.mark.parametrize("change", ["flip-token", "copy-token", "foreign-token", "truncate-note", "bad-cosignature"])
def test_tampered_refresh_fails_at_the_right_step(
    made: Made, refreshed_bundle: Refreshed, tmp_path: Path, change: str
) -> None:
    r = refreshed_bundle
    files = members(r.after)
    token, note = "evidence/refresh-1.1.tsr", "evidence/refresh-1.note"
    edits: dict[str, bytes | None]
    if change == "flip-token":
        edits, step, name = {token: flip(files[token])}, 7, token
    elif change == "copy-token":
        edits, step, name = {"evidence/refresh-1.2.tsr": files[token]}, 7, "evidence/refresh-1.2.tsr"
    elif change == "foreign-token":  # a genuine token, but over the bundle's own note, not the refresh
        edits = {"evidence/refresh-1.2.tsr": members(made.bundle)["evidence/checkpoint.1.tsr"]}
        step, name = 7, "evidence/refresh-1.2.tsr"
    elif change == "truncate-note":
        edits, step, name = {note: truncate(files[note])}, 5, PROOF_PATH
    else:  # w2's cosignature on the refreshed note damaged: fail closed, not "no cosignature"
        parsed = Note.parse(files[note])
        sigs = [
            NoteSignature(s.name, s.key_id, s.signature[:-1] + bytes([s.signature[-1] ^ 1]))
            if s.name == r.w2.name
            else s
            for s in parsed.signatures
        ]
        edits, step, name = {note: Note(parsed.text, tuple(sigs)).to_bytes()}, 5, PROOF_PATH
    bad = rewrite(r.after, tmp_path / "bad.wacz", change=edits)
    _failed_at(verify(bad, trust=r.policy), step, name)


def test_removing_a_refresh_only_weakens_the_claims(refreshed_bundle: Refreshed, tmp_path: Path) -> None:
    """Refresh files are additions after sealing: taking them out cannot be detected, but it
    can only take claims away, never add one."""
    r = refreshed_bundle
    files = members(r.after)
    gone = {n: None for n in files if n.startswith("evidence/refresh-1.")}
    stripped = rewrite(r.after, tmp_path / "stripped.wacz", change=gone)
    _failed_at(verify(stripped, trust=r.policy), 6, PROOF_PATH)  # back to the quorum not met
    one = TrustPolicy.parse(r.policy_text.replace("quorum both", "quorum w1"))
    no_token = rewrite(r.after, tmp_path / "no-token.wacz", change={"evidence/refresh-1.1.tsr": None})
    report = verify(no_token, trust=one)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert _claim(report, "Independent time (RFC 3161)")[0] is Grade.NONE


def test_a_bundle_sealed_while_the_tsa_was_down_gets_its_time_stamp_later(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log has not grown since: `evidence timestamp add`, then `evidence refresh`, bring the
    independent time into the bundle (a refresh of the same checkpoint, with an empty proof)."""
    from evidence_cli.main import main as cli_main
    from tsa.server import unused_port_url

    monkeypatch.setenv("EVIDENCE_HOME", str(tmp_path / "home"))
    logdir = tmp_path / "log"
    with Log.create(logdir, origin=ORIGIN) as log:
        bundle = reseal(made.bundle, tmp_path / "b.wacz", log)  # sealed with no RFC 3161 token
        keys = tmp_path / "log.vkey"
        keys.write_text(f"{log.verifier.vkey()}\n{log.timestamp_verifier.vkey()}\n")
        policy = TrustPolicy.parse(
            f"log {log.verifier.vkey()}\nwitness clock {log.timestamp_verifier.vkey()}\nquorum none\n"
            + made.tsa.policy_lines()
        )
    report = verify(bundle, trust=policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert _claim(report, "Independent time (RFC 3161)")[0] is Grade.NONE
    refresh = ["refresh", str(bundle), "--log", str(logdir), "--log-key", str(keys)]
    before = members(bundle)

    # A TSA that cannot be reached: a warning that names it, and the bundle is left as it was.
    down = unused_port_url()
    assert cli_main([*refresh, "--tsa", down]) == 0
    out, err = capsys.readouterr()
    assert "nothing newer" in out and "warning:" in err and down[len("http://") :] in err
    assert members(bundle) == before

    # The log operator adds the time-stamp to the log; the refresh brings it into the bundle.
    assert cli_main(["timestamp", "add", str(logdir), "--tsa", made.tsa.url, "--home", str(tmp_path / "home")]) == 0
    capsys.readouterr()
    assert cli_main(refresh) == 0
    assert "new RFC 3161 time-stamp(s) over the same checkpoint" in capsys.readouterr().out
    after = members(bundle)
    assert after["evidence/refresh-1.note"] == after["evidence/checkpoint.note"]
    assert after["evidence/refresh-1.consistency"] == b""
    assert cli_main(refresh) == 0  # nothing more to add
    assert "nothing newer" in capsys.readouterr().out and members(bundle) == after

    report = verify(bundle, trust=policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    grade, detail = _claim(report, "Independent time (RFC 3161)")
    assert grade is Grade.VERIFIED and "(refresh-1.1.tsr," in detail

    # Re-time-stamping (for example with a second authority) adds another refresh.
    assert cli_main([*refresh, "--tsa", made.tsa.url]) == 0
    capsys.readouterr()
    assert "evidence/refresh-2.1.tsr" in members(bundle)
    assert verify(bundle, trust=policy).verdict is Verdict.VERIFIED


def test_refreshing_many_bundles_asks_each_tsa_once_and_goes_on_after_a_bad_one(
    made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from evidence_cli.main import main as cli_main
    from tsa.server import TSAServer

    monkeypatch.setenv("EVIDENCE_HOME", str(tmp_path / "home"))
    logdir = tmp_path / "log"
    with Log.create(logdir, origin=ORIGIN) as log:
        first = reseal(made.bundle, tmp_path / "first.wacz", log)
        second = reseal(made.bundle, tmp_path / "second.wacz", log)
        key = log.verifier.vkey()
    missing = tmp_path / "missing.wacz"
    with TSAServer(made.tsa.tsa) as tsa:
        code = cli_main(
            ["refresh", str(first), str(missing), str(second), "--log", str(logdir), "--log-key", key, "--tsa", tsa.url]
        )
        assert tsa.requests == 1  # both bundles get a token over the same current note
    out, err = capsys.readouterr()
    assert code == 2 and f"error: {missing}:" in err and "Traceback" not in err
    assert out.count("added refresh 1") == 2
    tokens = [members(b)["evidence/refresh-1.1.tsr"] for b in (first, second)]
    assert tokens[0] == tokens[1]


def test_bundles_in_an_earlier_wording_still_verify(made: Made, tmp_path: Path) -> None:
    """report.html and VERIFY.txt as edition 1 wrote them (no pointer to later time-stamps)."""
    from evidence.bundle import REPORT_PATH, VERIFY_PATH, BundleView
    from evidence.report import render_report, render_verify_txt

    with Log.create(tmp_path / "log", origin=ORIGIN) as log:
        current = reseal(made.bundle, tmp_path / "current.wacz", log)  # no RFC 3161 token
        policy = TrustPolicy.parse(
            f"log {log.verifier.vkey()}\nwitness c {log.timestamp_verifier.vkey()}\nquorum none\n"
        )
    with BundleView.open(current) as view:
        old = {REPORT_PATH: render_report(view, edition=1), VERIFY_PATH: render_verify_txt(view, edition=1)}
    files = members(current)
    assert all(old[n] != files[n] for n in old)
    assert b"This bundle has no independent RFC 3161 time-stamp." in old[VERIFY_PATH]
    earlier = rewrite(current, tmp_path / "earlier.wacz", change=dict(old))
    assert verify(earlier, trust=policy).verdict is Verdict.VERIFIED
    edited = rewrite(
        current, tmp_path / "edited.wacz", change={VERIFY_PATH: old[VERIFY_PATH].replace(b"has no", b"had no")}
    )
    _failed_at(verify(edited, trust=policy), 8, VERIFY_PATH)


# --------------------------------------------------------------------------- the command


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = verify_cmd.main(argv)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    return code, text


@pytest.mark.verifier
def test_cli(made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("EVIDENCE_HOME", str(home))
    b = str(made.bundle)
    code, text = _cli([b], capsys)
    assert code == 3 and "NOT ANCHORED" in text and made.log.verifier.fingerprint() in text
    code, text = _cli([b, "--trust", str(made.policy_path)], capsys)
    assert code == 0 and "VERDICT: VERIFIED\n" in text
    code, text = _cli([b, "--trust", str(made.policy_path), "--json"], capsys)
    assert code == 0 and json.loads(text)["verdict"] == "VERIFIED"
    keyfile = tmp_path / "operator.vkey"
    keyfile.write_text(made.log.verifier.vkey() + "\n" + made.log.timestamp_verifier.vkey() + "\n")
    code, text = _cli([b, "--log-key", str(keyfile), "--tsa-cert", str(made.tsa.root_path)], capsys)
    assert code == 0, text
    code, text = _cli([b, "--log-key", made.log.verifier.vkey()], capsys)
    assert code == 3
    # The default policy in the evidence home is used when present.
    shutil.copy(made.policy_path, home / "trust.policy")
    code, text = _cli([b], capsys)
    assert code == 0 and "Using trust policy" in text and "(the default)" in text
    # Usage errors: exit 2, a message, no traceback.
    code, text = _cli([b, "--trust", str(made.policy_path), "--log-key", "x+1+y"], capsys)
    assert code == 2
    bad_policy = tmp_path / "bad.policy"
    bad_policy.write_text("log not-a-key\nquorum none\n")
    code, text = _cli([b, "--trust", str(bad_policy)], capsys)
    assert code == 2 and "line 1" in text
    code, text = _cli([b, "--log-key", "name+00000000+AAAA"], capsys)
    assert code == 2 and "error:" in text


@pytest.mark.verifier
@BOTH_KINDS
def test_evidence_verify_command(made: Made, tmp_path: Path) -> None:
    """The installed command, in its own process: exit codes and no traceback."""
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "EVIDENCE_HOME": str(tmp_path / "home")}
        cmd = [sys.executable, "-m", "evidence_cli.main", "verify", *args]
        return subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)

    ok = run(str(made.bundle), "--trust", str(made.policy_path))
    assert ok.returncode == 0 and "VERDICT: VERIFIED" in ok.stdout, ok.stdout + ok.stderr
    not_zip = tmp_path / "letter.wacz"
    not_zip.write_text("Dear court,\n")
    bad = run(str(not_zip))
    assert bad.returncode == 2 and "UNUSABLE INPUT" in bad.stdout and "Traceback" not in bad.stdout + bad.stderr


@pytest.mark.verifier
def test_cli_failed_names_the_step_and_file(made: Made, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = rewrite(made.bundle, tmp_path / "bad.wacz", change={"evidence/page.pdf": b"%PDF-1.4 forged"})
    code, text = _cli([str(bad), "--trust", str(made.policy_path)], capsys)
    assert code == 1
    assert "FAILED at step 2" in text and "evidence/page.pdf" in text and "What this means:" in text


# --------------------------------------------------------------------------- hostile input


def _zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.warc.gz", b"\0" * (16 << 20))
    return path


def _huge(path: Path) -> Path:
    write_members(path, {"datapackage.json": b"{}", "archive/data.warc.gz": b"small"})
    declare_size(path, "archive/data.warc.gz", 2 << 30)
    return path


def _deflate_damaged(path: Path) -> Path:
    from evidence.bundle.wacz import datapackage_digest

    pkg = b'{"resources": [{"path": "a.txt", "hash": "sha256:' + b"0" * 64 + b'", "bytes": 100000}]}'
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("datapackage.json", pkg, compress_type=zipfile.ZIP_STORED)
        zf.writestr("datapackage-digest.json", datapackage_digest(pkg), compress_type=zipfile.ZIP_STORED)
        zf.writestr("a.txt", os.urandom(100000))
    data = bytearray(path.read_bytes())
    start = data.index(b"a.txt", data.index(b"PK\x03\x04", 10)) + 5 + 500
    data[start : start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    return path


HOSTILE: dict[str, Callable[[Path], Path]] = {
    "not a zip": lambda p: (p.write_bytes(b"This is a text file, not a bundle.\n" * 10), p)[1],
    "empty file": lambda p: (p.write_bytes(b""), p)[1],
    "zip-slip parent": lambda p: write_members(p, {"../evil.txt": b"x", "datapackage.json": b"{}"}),
    "zip-slip absolute": lambda p: write_members(p, {"/tmp/evil.txt": b"x"}),
    "zip-slip nested": lambda p: write_members(p, {"evidence/../../evil.txt": b"x"}),
    "zip-slip backslash": lambda p: write_members(p, {"..\\evil.txt": b"x"}),
    "zip-slip drive": lambda p: write_members(p, {"C:/evil.txt": b"x"}),
    "zip bomb": _zip_bomb,
    "duplicate names": lambda p: write_members(p, [("datapackage.json", b"{}"), ("datapackage.json", b"{}")]),
    "2 GB declared": _huge,
    "malformed datapackage JSON": lambda p: write_members(p, {"datapackage.json": b'{"resources": [', "a": b""}),
    "datapackage not an object": lambda p: write_members(p, {"datapackage.json": b"[1, 2]"}),
    "no datapackage": lambda p: write_members(p, {"archive/data.warc.gz": b"x"}),
}


@pytest.mark.verifier
@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_input_is_refused_cleanly(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    scratch = tmp_path / "tmp"
    work.mkdir()
    scratch.mkdir()
    path = HOSTILE[kind](tmp_path / "input.wacz")
    monkeypatch.chdir(work)
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("EVIDENCE_HOME", str(tmp_path / "home"))
    before = tree_snapshot(tmp_path)
    report = verify(path)
    assert report.verdict is Verdict.UNUSABLE and report.exit_code == 2, report.render_text()
    assert report.summary.startswith("This file cannot be checked")
    code, text = _cli([str(path)], capsys)
    assert code == 2 and "UNUSABLE INPUT" in text
    assert tree_snapshot(tmp_path) == before  # nothing extracted anywhere
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()


@pytest.mark.verifier
def test_damaged_deflate_stream_fails_cleanly(tmp_path: Path) -> None:
    report = verify(_deflate_damaged(tmp_path / "d.wacz"))
    assert report.verdict in (Verdict.FAILED, Verdict.UNUSABLE)
    assert "a.txt" in report.render_text()


@pytest.mark.verifier
def test_missing_and_directory_inputs(tmp_path: Path) -> None:
    assert verify(tmp_path / "nope.wacz").exit_code == 2
    assert verify(tmp_path).exit_code == 2


@pytest.mark.verifier
def test_bad_arguments_raise_evidence_errors(tmp_path: Path) -> None:
    with pytest.raises(EvidenceError):
        verify(tmp_path / "x.wacz", log_keys=["not a vkey"])
    with pytest.raises(EvidenceError):
        verify(tmp_path / "x.wacz", tsa_pins=["nope"])  # type: ignore[list-item]


# --------------------------------------------------------------------------- fuzz

_FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _verify_quietly(path: Path, policy: TrustPolicy | None) -> Report:
    try:
        report = verify(path, trust=policy)
    except EvidenceError:
        raise AssertionError("verify raised for a bad bundle instead of reporting") from None
    report.render_text()
    report.to_json()
    return report


@pytest.mark.verifier
@_FUZZ
@given(data=st.data())
def test_fuzz_raw_byte_mutations(made: Made, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    raw = made.bundle.read_bytes()
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)), min_size=1, max_size=6))
    buf = bytearray(raw)
    for pos, x in edits:
        buf[pos] ^= x
    if data.draw(st.booleans()):
        buf = buf[: data.draw(st.integers(0, len(buf)))]
    p = tmp_path_factory.mktemp("fuzz") / "m.wacz"
    p.write_bytes(bytes(buf))
    _verify_quietly(p, made.policy if data.draw(st.booleans()) else None)


@pytest.mark.verifier
@_FUZZ
@given(data=st.data())
def test_fuzz_forged_member_mutations_are_never_verified(
    made: Made, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    _forged_mutation_fails(made.bundle, list(CONTENT_FILES), made.policy, tmp_path_factory, data)


def _forged_mutation_fails(
    bundle: Path, names: list[str], policy: TrustPolicy, factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """XOR up to four bytes of one member, recompute datapackage.json: the bundle must FAIL."""
    files = members(bundle)
    name = data.draw(st.sampled_from(names))
    blob = bytearray(files[name])
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(1, 255)), min_size=1, max_size=4))
    for pos, x in edits:
        blob[pos] ^= x
    assume(bytes(blob) != files[name])
    p = rewrite(bundle, factory.mktemp("fuzz") / "m.wacz", change={name: bytes(blob)})
    report = _verify_quietly(p, policy)
    assert report.verdict is Verdict.FAILED, (name, edits, report.render_text())


@_FUZZ
@given(data=st.data())
def test_fuzz_forged_refresh_mutations_are_never_verified(
    refreshed_bundle: Refreshed, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Refresh files are not sealed, but every byte of them is checked: a change fails the bundle."""
    r = refreshed_bundle
    names = sorted(n for n in members(r.after) if n.startswith("evidence/refresh-"))
    _forged_mutation_fails(r.after, names, r.policy, tmp_path_factory, data)


_NAMES = st.sampled_from([*BUNDLE_FILES, "x", "evidence/", "a/b/c.txt", "evidence/checkpoint.9.tsr"])


@pytest.mark.verifier
@pytest.mark.filterwarnings("ignore:Duplicate name")
@_FUZZ
@given(
    entries=st.lists(st.tuples(_NAMES, st.binary(max_size=300)), max_size=8),
    deflate=st.booleans(),
)
def test_fuzz_random_zips(
    tmp_path_factory: pytest.TempPathFactory, entries: list[tuple[str, bytes]], deflate: bool
) -> None:
    p = tmp_path_factory.mktemp("fuzz") / "r.wacz"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as zf:
        for name, blob in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), blob)
    report = _verify_quietly(p, None)
    assert report.verdict in (Verdict.UNUSABLE, Verdict.FAILED)


def test_a_capture_file_missing_without_a_recorded_reason_fails_step_8(made: Made, tmp_path: Path) -> None:
    # Sealed without page.pdf while capture.json still lists it as written: a silent gap.
    fake = reseal(made.bundle, tmp_path / "f.wacz", made.log, sealed={"evidence/page.pdf": None})
    _failed_at(verify(fake, trust=made.policy), 8, "evidence/page.pdf")


def test_a_capture_file_not_made_with_its_reason_verifies_with_a_warning(made: Made, tmp_path: Path) -> None:
    cap = json.loads(members(made.bundle)["evidence/capture.json"])
    cap["artifacts"] = [n for n in cap["artifacts"] if n != "page.pdf"]
    cap["artifacts_not_made"] = {"page.pdf": {"status": "off", "reason": "turned off (--no-pdf)"}}
    fine = reseal(
        made.bundle,
        tmp_path / "f.wacz",
        made.log,
        sealed={"evidence/page.pdf": None, "evidence/capture.json": json.dumps(cap).encode()},
        tsas=[made.tsa.config()],
    )
    report = verify(fine, trust=made.policy)
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert "page.pdf was not made in this capture: turned off (--no-pdf) (evidence/capture.json)." in report.warnings
    assert "page.pdf was not made" in report.render_text()
    assert "Not made in this capture" in members(fine)["evidence/report.html"].decode()
