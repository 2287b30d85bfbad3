"""A verify of any input ends in a verdict, never a traceback (issue 10, item 8).

- The reported case: an unknown 72-byte signature line whose timestamp bytes are all 0xFF
  crashed ``verify`` with an OverflowError while regenerating the report. The class: every
  place that formats a timestamp or number from untrusted input is bounded
  (:mod:`evidence._internal.timefmt`); a forger's own clock may sign the time 2**63-1.
- The last-resort guard: an unexpected exception in a step (or while building the report)
  becomes FAILED at that step, named as an internal error to report.
- Hypothesis fuzzing of signature lines, checkpoint note text and proof text asserts a
  verdict every time, and that the guard was never needed.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import handmade
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from report_helpers import with_signature_lines
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures
from verify_helpers import members, reseal, rewrite

from evidence._internal.timefmt import MAX_CALENDAR_SECONDS, bounded_text, utc_text
from evidence.bundle import NOTE_PATH, PROOF_PATH, REPORT_PATH, VERIFY_PATH, BundleView
from evidence.checkpoint import TlogProof
from evidence.errors import EvidenceError
from evidence.log import Log
from evidence.note import MAX_TIMESTAMP, Note, NoteSignature
from evidence.report import CertificateContext, render_certificate, render_report, render_verify_txt
from evidence.trust import TrustPolicy
from evidence.verify import Report, Verdict, verify

ORIGIN = "crash.test/evidence"
INTERNAL = "Internal error of the verifier"


class Made:
    def __init__(self, bare: Path, log: Log, policy: TrustPolicy, root: Path) -> None:
        self.bare, self.log, self.policy, self.root = bare, log, policy, root


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, local_tsa: RunningTSA) -> Made:
    root = tmp_path_factory.mktemp("crash")
    bundle, log = handmade.make_bundle(root, local_tsa.url, ORIGIN)  # no browser needed
    bare = rewrite(
        bundle.path, root / "bare.wacz", change={"evidence/checkpoint.1.tsr": None, "evidence/tsa-1.pem": None}
    )
    policy = TrustPolicy.parse(
        f"log {log.verifier.vkey()}\nwitness log-clock {log.timestamp_verifier.vkey()}\nquorum none\n"
    )
    return Made(bare, log, policy, root)


def _checked(path: Path, policy: TrustPolicy | None) -> Report:
    """verify(), then everything a report is shown through; none may raise, none may hit the guard."""
    try:
        report = verify(path, trust=policy)
    except EvidenceError:
        raise AssertionError("verify raised for a bad bundle instead of reporting") from None
    assert report.verdict in tuple(Verdict)
    report.render_text()
    json.loads(report.to_json())
    render_certificate(report, None, CertificateContext("b.wacz", "0" * 64, 0, "", "now", "test"))
    assert not any(INTERNAL in s.detail for s in report.steps), report.render_text()
    return report


def _failed(report: Report, step: int) -> None:
    assert report.verdict is Verdict.FAILED, report.render_text()
    assert report.failed_step is not None and report.failed_step.number == step, report.render_text()


# --------------------------------------------------------------------------- bounded formatting


def test_time_formatting_is_bounded() -> None:
    assert utc_text(0) == "1970-01-01T00:00:00Z"
    assert utc_text(MAX_CALENDAR_SECONDS) == "9999-12-31T23:59:59Z"
    for bad in (MAX_CALENDAR_SECONDS + 1, 2**64 - 1, -1, -(2**70), float("inf"), float("nan")):
        assert "not a" in utc_text(bad)
    assert bounded_text("x" * 1000).endswith("\u2026") and len(bounded_text("x" * 1000)) == 200
    import sys

    huge = int("9" * 4000)  # within the parser's limit, but str() of a larger one raises
    if hasattr(sys, "set_int_max_str_digits"):
        old = sys.get_int_max_str_digits()
        sys.set_int_max_str_digits(1000)
        try:
            assert "cannot be shown" in bounded_text(huge)
        finally:
            sys.set_int_max_str_digits(old)


def test_unknown_72_byte_line_with_an_all_ff_timestamp_never_crashes(made: Made, tmp_path: Path) -> None:
    line = NoteSignature("unknown.example/witness", 0x01020304, b"\xff" * 8 + b"\x5a" * 64)
    assert line.timestamp == 2**64 - 1
    bundle = with_signature_lines(made.bare, tmp_path / "ff.wacz", [line])
    report = _checked(bundle, made.policy)
    assert report.verdict is Verdict.VERIFIED  # an unknown line is not counted, and does not crash
    assert "unknown.example/witness (key ID 01020304)" in report.render_text()
    # The renderer that crashed: the wording of edition 2 formats every signature line's time.
    with BundleView.open(bundle) as view:
        old = render_report(view, edition=2)
        assert b"18446744073709551615 seconds after 1970-01-01 (not a possible date)" in old
        old_txt = render_verify_txt(view, edition=2)
    # A bundle in that wording still verifies (with a warning); an edited one fails at step 8.
    earlier = rewrite(bundle, tmp_path / "earlier.wacz", change={REPORT_PATH: old, VERIFY_PATH: old_txt})
    report = _checked(earlier, made.policy)
    assert report.verdict is Verdict.VERIFIED and any("edition 2" in w for w in report.warnings)
    edited = rewrite(bundle, tmp_path / "edited.wacz", change={REPORT_PATH: old.replace(b"Signed by", b"Signed  by")})
    _failed(_checked(edited, made.policy), 8)


def test_a_forged_clock_at_the_largest_time_is_graded_not_a_traceback(made: Made, tmp_path: Path) -> None:
    with Log.create(tmp_path / "forger", origin=ORIGIN) as forger:
        resealed = reseal(made.bare, tmp_path / "resealed.wacz", forger)
        _, clock = forger._load_signers()
    files = members(resealed)
    note = Note.parse(files[NOTE_PATH])
    others = tuple(s for s in note.signatures if s.name != clock.name)
    note = Note(note.text, (*others, clock.signature_line(note.text_bytes, MAX_TIMESTAMP)))
    proof = TlogProof.parse(files[PROOF_PATH])
    proof = TlogProof(proof.index, proof.hashes, note.to_bytes(), proof.extra)
    bundle = rewrite(
        resealed, tmp_path / "late.wacz", change={PROOF_PATH: proof.to_bytes(), NOTE_PATH: note.to_bytes()}
    )
    report = _checked(bundle, None)
    assert report.verdict is Verdict.NOT_ANCHORED, report.render_text()
    clock_claim = next(c for c in report.claims if c.name == "Signed time (the log's clock)")
    assert f"{MAX_TIMESTAMP} seconds after 1970-01-01 (not a possible date)" in clock_claim.detail


# --------------------------------------------------------------------------- the last-resort guard


def test_an_unexpected_exception_in_a_step_is_failed_at_that_step(made: Made, monkeypatch: pytest.MonkeyPatch) -> None:
    """A defect cannot be caused for real on purpose, so a step is made to raise."""
    from evidence.verify import step6_cosignatures

    def broken(*args: object) -> object:
        raise OverflowError("date value out of range")

    monkeypatch.setattr(step6_cosignatures, "run", broken)
    report = verify(made.bare, trust=made.policy)
    _failed(report, 6)
    assert len(report.steps) == 6 and report.exit_code == 1
    step = report.failed_step
    assert step is not None and step.detail.startswith(f"{INTERNAL} in this step (OverflowError: date value")
    assert "please report it" in step.detail and step.meaning is not None and "NOT been verified" in step.meaning
    assert "Traceback" not in report.render_text()


def test_an_unexpected_exception_while_building_the_report_is_failed(
    made: Made, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evidence.verify import grading

    def broken(*args: object) -> tuple[tuple[str, str], ...]:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(grading, "facts", broken)
    report = verify(made.bare, trust=made.policy)
    assert report.verdict is Verdict.FAILED and report.exit_code == 1
    assert report.failed_step is not None and INTERNAL in report.failed_step.detail
    report.render_text()
    report.to_json()


# --------------------------------------------------------------------------- fuzz

_FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_NAME_CHARS = st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp"), exclude_characters="\u2014+")


def _signature_line(known: list[tuple[str, int]]) -> st.SearchStrategy[NoteSignature]:
    name = st.one_of(st.text(_NAME_CHARS, min_size=1, max_size=40), st.sampled_from([n for n, _ in known]))
    key_id = st.one_of(st.integers(0, 2**32 - 1), st.sampled_from([k for _, k in known]))
    b64 = st.binary(min_size=64, max_size=64)
    cosig = st.builds(lambda ts, sig: struct.pack(">Q", ts) + sig, st.integers(0, 2**64 - 1), b64)
    sig = st.one_of(cosig, st.just(b"\xff" * 72), b64, st.binary(max_size=120))
    return st.builds(NoteSignature, name, key_id, sig)


@_FUZZ
@given(data=st.data())
def test_fuzz_signature_lines(made: Made, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    note = Note.parse(members(made.bare)[NOTE_PATH])
    known = [(s.name, s.key_id) for s in note.signatures]
    lines = data.draw(st.lists(_signature_line(known), min_size=1, max_size=4))
    policy = made.policy if data.draw(st.booleans()) else None
    baseline = verify(made.bare, trust=policy).verdict
    bundle = with_signature_lines(made.bare, tmp_path_factory.mktemp("sig") / "s.wacz", lines)
    report = _checked(bundle, policy)
    try:
        Note.parse(members(bundle)[NOTE_PATH])
    except EvidenceError:
        _failed(report, 4)  # a line no signed note may hold: the proof is damaged
        return
    if all((ln.name, ln.key_id) not in known for ln in lines):
        assert report.verdict is baseline, report.render_text()  # lines nobody checks change nothing


def _replace_line(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    i = data.draw(st.integers(0, len(lines) - 1))
    lines[i] = data.draw(
        st.one_of(
            st.text(max_size=80),
            st.integers(-(2**80), 2**80).map(str),
            st.just("9" * 5000),
            st.binary(min_size=0, max_size=48).map(lambda b: __import__("base64").b64encode(b).decode()),
        )
    )
    return "\n".join(lines)


def _insert_line(text: str, data: st.DataObject) -> str:
    lines = text.split("\n")
    i = data.draw(st.integers(0, len(lines)))
    lines.insert(i, data.draw(st.text(max_size=80)))
    return "\n".join(lines)


def _edit_chars(text: str, data: st.DataObject) -> str:
    if not text:
        return data.draw(st.text(max_size=10))
    i = data.draw(st.integers(0, len(text) - 1))
    return text[:i] + data.draw(st.text(max_size=3)) + text[i + data.draw(st.integers(0, 3)) :]


_EDITS = (_replace_line, _insert_line, _edit_chars)


@_FUZZ
@given(data=st.data())
def test_fuzz_checkpoint_note_text(made: Made, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Any change to the signed checkpoint text fails at step 4 or 5, in both copies or in one."""
    files = members(made.bare)
    note = files[NOTE_PATH].decode()
    body, _, sigs = note.partition("\n\n")
    edit = data.draw(st.sampled_from(_EDITS))
    new_body = edit(body, data)
    assume(new_body != body)
    new_note = (new_body + "\n\n" + sigs).encode("utf-8", "surrogatepass")
    proof = files[PROOF_PATH]
    head, _, _ = proof.partition(b"\n\n")
    new_proof = head + b"\n\n" + new_note
    where = data.draw(st.sampled_from(["both", "proof", "note"]))
    change = {
        "both": {PROOF_PATH: new_proof, NOTE_PATH: new_note},
        "proof": {PROOF_PATH: new_proof},
        "note": {NOTE_PATH: new_note},
    }[where]
    bundle = rewrite(made.bare, tmp_path_factory.mktemp("note") / "n.wacz", change=change)
    report = _checked(bundle, made.policy if data.draw(st.booleans()) else None)
    assert report.verdict is Verdict.FAILED, report.render_text()
    assert report.failed_step is not None and report.failed_step.number in (4, 5), report.render_text()


@_FUZZ
@given(data=st.data())
def test_fuzz_proof_text(made: Made, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Any proof text gives a verdict; one that verifies still proves the same entry in the same tree."""
    files = members(made.bare)
    proof = files[PROOF_PATH]
    original = TlogProof.parse(proof)
    head, _, note = proof.partition(b"\n\n")
    edits = data.draw(st.lists(st.sampled_from(_EDITS), min_size=1, max_size=3))
    text = head.decode()
    for edit in edits:
        text = edit(text, data)
    new_proof = text.encode("utf-8", "surrogatepass") + b"\n\n" + note
    assume(new_proof != proof)
    bundle = rewrite(made.bare, tmp_path_factory.mktemp("proof") / "p.wacz", change={PROOF_PATH: new_proof})
    report = _checked(bundle, made.policy if data.draw(st.booleans()) else None)
    if report.verdict in (Verdict.VERIFIED, Verdict.NOT_ANCHORED):
        parsed = TlogProof.parse(new_proof)
        assert (parsed.index, parsed.hashes, parsed.checkpoint_note) == (
            original.index,
            original.hashes,
            original.checkpoint_note,
        ), report.render_text()
    else:
        assert report.verdict is Verdict.FAILED and report.failed_step is not None
        assert report.failed_step.number == 4, report.render_text()
    assert hashlib.sha256(members(bundle)[PROOF_PATH]).digest() == hashlib.sha256(new_proof).digest()
