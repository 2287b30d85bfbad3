"""The by-hand checks of docs/verifying.md ("Verifying by hand"), extracted from the document
and run exactly as written (real shell, python3, unzip, sha256sum, OpenSSL), on every kind of
bundle the tool accepts: a normal one, one whose proof has an ``extra`` line, one refreshed
later, one whose checkpoint carries an extension line and a second signature under the log's
name with a log key whose base64 holds a ``+``, and one without any time-stamp."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures
from vcheck_helpers import new_log, policy_text, resign, sealed
from verify_helpers import members

from evidence.bundle import MANIFEST_PATH, PROOF_PATH, VKEY_PATH, log_entry
from evidence.checkpoint import TlogProof
from evidence.log import Log
from evidence.merkle import leaf_hash
from evidence.note import Note, Signer
from evidence.trust import TrustPolicy
from evidence.verify import Verdict, verify

DOC = Path(__file__).resolve().parent.parent / "docs" / "verifying.md"
TOOLS = ("unzip", "sha256sum", "openssl", "base64", "od", "sed")


def blocks() -> list[tuple[str, str]]:
    """The (language, code) blocks of the "Verifying by hand" section, in order."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Verifying by hand", 1)[1].split("\n## ", 1)[0]
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(sh|python)\n(.*?)```", section, re.S)]


def run_doc(bundle: Path, work: Path, tsa_root: Path | None) -> str:
    """Run every block as documented, in one folder; return everything they printed."""
    for tool in TOOLS:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    python3 = shutil.which("python3") or sys.executable
    work.mkdir()
    shutil.copy(bundle, work / "listing.wacz")
    found = blocks()
    assert found[0] == ("sh", "unzip listing.wacz -d bundle && cd bundle\n")
    subprocess.run(["unzip", "-q", "listing.wacz", "-d", "bundle"], cwd=work, check=True, timeout=60)
    here = work / "bundle"
    # What the reader obtained through a separate channel: the operator's keys, the TSA's root.
    shutil.copy(here / VKEY_PATH, here / "operator.vkey")
    if tsa_root is not None:
        shutil.copy(tsa_root, here / "tsa-root.pem")
    out = []
    for lang, code in found[1:]:
        cmd = [python3, "-c", code] if lang == "python" else ["bash", "-e", "-o", "pipefail", "-c", code]
        p = subprocess.run(cmd, cwd=here, capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, (
            f"{lang} block failed ({p.returncode}):\n{code}\n--- stdout\n{p.stdout}\n--- stderr\n{p.stderr}"
        )
        out.append(p.stdout + p.stderr)
    return "\n".join(out)


def check_output(out: str, bundle: Path, tokens: int) -> None:
    files = members(bundle)
    leaf = leaf_hash(log_entry(files[MANIFEST_PATH])).hex()
    assert leaf in out  # step 3 printed the leaf hash the verifier computes
    assert "inclusion OK" in out and "inclusion FAILED" not in out
    assert "Signature Verified Successfully" in out
    assert ": FAILED" not in out and out.count(": OK") >= len(
        [n for n in files if n.startswith(("archive/", "indexes/", "pages/", "evidence/capture"))]
    )
    assert out.count("Verification: OK") == tokens
    assert hashlib.sha256(files["evidence/checkpoint.note"]).hexdigest() in out


def _policy(log: Log, tsa: RunningTSA | None) -> TrustPolicy:
    return TrustPolicy.parse(policy_text(log, tsa_lines=tsa.policy_lines() if tsa else ""))


def test_the_documented_checks_pass_on_a_normal_bundle(tmp_path: Path, local_tsa: RunningTSA) -> None:
    log = new_log(tmp_path)
    bundle = sealed(tmp_path, log, tsas=[local_tsa.config()])
    assert verify(bundle, trust=_policy(log, local_tsa)).verdict is Verdict.VERIFIED
    check_output(run_doc(bundle, tmp_path / "w", local_tsa.root_path), bundle, tokens=1)


def test_the_documented_checks_pass_with_an_extra_line_in_the_proof(tmp_path: Path, local_tsa: RunningTSA) -> None:
    log = new_log(tmp_path)
    plain = sealed(tmp_path, log)
    bundle = resign(plain, tmp_path / "x.wacz", log, clock=int(time.time()), tsas=[local_tsa.config()], extra=b"\x01x")
    assert members(bundle)[PROOF_PATH].split(b"\n")[1].startswith(b"extra ")
    assert verify(bundle, trust=_policy(log, local_tsa)).verdict is Verdict.VERIFIED
    check_output(run_doc(bundle, tmp_path / "w", local_tsa.root_path), bundle, tokens=1)


def test_the_documented_checks_pass_on_a_refreshed_bundle(tmp_path: Path, local_tsa: RunningTSA) -> None:
    from evidence.bundle.refresh_writer import refresh_bundle

    log = new_log(tmp_path)
    bundle = sealed(tmp_path, log, tsas=[local_tsa.config()])
    log.append([b"a later entry"])
    refresh_bundle(bundle, location=str(tmp_path / "log"), log_keys=[log.verifier], tsas=[local_tsa.config()])
    assert "evidence/refresh-1.1.tsr" in members(bundle)
    assert verify(bundle, trust=_policy(log, local_tsa)).verdict is Verdict.VERIFIED
    check_output(run_doc(bundle, tmp_path / "w", local_tsa.root_path), bundle, tokens=2)


def test_the_documented_checks_pass_with_extensions_and_more_signature_lines(tmp_path: Path) -> None:
    """A log key whose base64 holds '+', a checkpoint extension line, and a second signature
    line under the log's own name (another key): all accepted by the tool."""
    for attempt in range(64):
        log = Log.create(tmp_path / f"log{attempt}", origin="vchecks.test/log")
        if "+" in log.verifier.vkey().split("+", 2)[2]:
            break
    else:
        pytest.fail("no key with '+' in 64 tries")
    log.append([b"an earlier entry"])
    plain = sealed(tmp_path, log)
    other = Signer.generate("vchecks.test/log")
    bundle = _with_extension_and_stray_line(plain, tmp_path / "e.wacz", log, other)
    report = verify(bundle, trust=_policy(log, None))
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    check_output(run_doc(bundle, tmp_path / "w", None), bundle, tokens=0)


def test_the_documented_inclusion_check_catches_a_proof_of_another_entry(tmp_path: Path) -> None:
    """The by-hand check can fail: the same bundle with the proof of the log's other entry."""
    log = new_log(tmp_path)
    bundle = sealed(tmp_path, log)
    proof = TlogProof.parse(members(bundle)[PROOF_PATH])
    wrong = log.prove(0, proof.signed_checkpoint.checkpoint.size)
    from verify_helpers import rewrite

    bad = rewrite(bundle, tmp_path / "bad.wacz", change={PROOF_PATH: wrong.to_bytes()})
    work = tmp_path / "w"
    python3 = shutil.which("python3") or sys.executable
    code = next(c for lang, c in blocks() if lang == "python")
    subprocess.run(["unzip", "-q", str(bad), "-d", str(work)], check=True, timeout=60)
    entry = log_entry(members(bad)[MANIFEST_PATH])
    (work / "entry.txt").write_bytes(entry)
    p = subprocess.run([python3, "-c", code], cwd=work, capture_output=True, text=True, timeout=60)
    assert "inclusion FAILED" in p.stdout, p.stdout + p.stderr


def _with_extension_and_stray_line(src: Path, dest: Path, log: Log, other: Signer) -> Path:
    from vcheck_helpers import _write
    from verify_helpers import _repackage

    from evidence.bundle import DATAPACKAGE, NOTE_PATH, REPORT_PATH, VERIFY_PATH, BundleView
    from evidence.bundle.wacz import Member
    from evidence.checkpoint import Checkpoint
    from evidence.report import render_report, render_verify_txt

    files = members(src)
    proof = TlogProof.parse(files[PROOF_PATH])
    cp = proof.signed_checkpoint.checkpoint
    text = Checkpoint(cp.origin, cp.size, cp.root_hash, ("x-note an extension line",)).to_text()
    log_signer, clock_signer = log._load_signers()
    msg = text.encode()
    sigs = (
        other.signature_line(msg),
        log_signer.signature_line(msg),
        clock_signer.signature_line(msg, int(time.time())),
    )
    note = Note(text, sigs).to_bytes()
    files[PROOF_PATH] = TlogProof(proof.index, proof.hashes, note, proof.extra).to_bytes()
    files[NOTE_PATH] = note
    view = BundleView.from_members([Member(n, d) for n, d in files.items()])
    files[REPORT_PATH] = render_report(view)
    files[VERIFY_PATH] = render_verify_txt(view)
    return _write(dest, _repackage(files, files[DATAPACKAGE]))
