"""The tlog-witness: pure request handling, real witness servers, and the client a log uses.

Servers are real `evidence witness serve` processes on 127.0.0.1 (see witness_helpers.py);
logs are real :class:`evidence.log.Log` directories. Two module-wide witnesses serve most
tests; each test trusts its own log (its own origin) on them, which a running witness
picks up from logs.json without a restart.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import socket
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from evidence_cli import witness_cmd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from witness_helpers import RunningWitness, new_witness

from evidence import merkle
from evidence.checkpoint import Checkpoint, SignedCheckpoint
from evidence.errors import UsageError
from evidence.log import Log
from evidence.note import ALG_COSIGNATURE_V1, Note, Signer, Verifier, sign_note
from evidence.witness import (
    SIZE_CONTENT_TYPE,
    AddCheckpointRequest,
    LogState,
    Reply,
    Witness,
    WitnessBadRequest,
    WitnessBadResponse,
    WitnessConfigError,
    WitnessConflict,
    WitnessError,
    WitnessForbidden,
    WitnessInconsistent,
    WitnessTooLarge,
    WitnessUnavailable,
    WitnessUnknownLog,
    check_against_latest,
    init_witness,
    origin_hash,
    parse_add_checkpoint,
    submit_checkpoint,
    trust_log,
    verify_submission,
    witness_checkpoint,
)

_counter = iter(range(1_000_000))


def _origin(tag: str) -> str:
    return f"example.org/witness-test/{tag}-{next(_counter)}"


def _log(tmp_path: Path, tag: str, entries: int = 0) -> Log:
    log = Log.create(tmp_path / f"log-{tag}", origin=_origin(tag))
    for i in range(entries):
        log.append([f"{tag} entry {i}".encode()])
    return log


def _log_signer(log: Log) -> Signer:
    return Signer.from_skey((log.keys_dir / "log.skey").read_text())


def _post(w: RunningWitness, body: bytes, **headers: str) -> requests.Response:
    return requests.post(f"{w.url}/add-checkpoint", data=body, headers=headers or None, timeout=10)


def _body(log: Log, old: int, size: int, proof: list[bytes] | None = None) -> bytes:
    if proof is None:
        proof = log.consistency(old, size) if 0 < old < size else []
    return AddCheckpointRequest(old, tuple(proof), log.checkpoint_note(size)).to_bytes()


# ============================================================================ pure (fast)


def _signed(signer: Signer, size: int, root: bytes | None = None, origin: str | None = None) -> bytes:
    tree = merkle.MemoryTree()
    for i in range(size):
        tree.append(b"%d" % i)
    cp = Checkpoint(origin or signer.name, size, tree.root() if root is None else root)
    return sign_note(cp.to_text(), [signer]).to_bytes()


LOG_SIGNER = Signer.generate("example.org/pure-log")
TRUSTED = {LOG_SIGNER.name: (LOG_SIGNER.verifier(),)}


def _tree(n: int) -> merkle.MemoryTree:
    t = merkle.MemoryTree()
    for i in range(n):
        t.append(b"%d" % i)
    return t


def test_request_round_trips() -> None:
    note = _signed(LOG_SIGNER, 7)
    proof = tuple(_tree(7).consistency_proof(3))
    body = AddCheckpointRequest(3, proof, note).to_bytes()
    assert body.startswith(b"old 3\n") and b"\n\n" + note in body
    req = parse_add_checkpoint(body)
    assert req == AddCheckpointRequest(3, proof, note)
    assert parse_add_checkpoint(req.to_bytes()) == req
    # The spec's maximum of 63 proof lines is accepted by the parser.
    assert len(parse_add_checkpoint(AddCheckpointRequest(3, (b"\x00" * 32,) * 63, note).to_bytes()).proof) == 63


@pytest.mark.parametrize(
    ("head", "why"),
    [
        (b"", "no old line"),
        (b"old\n", "no size"),
        (b"old 01\n", "leading zero"),
        (b"old -1\n", "negative"),
        (b"old  1\n", "two spaces"),
        (b"Old 1\n", "capital"),
        (b"old 1 \n", "trailing space"),
        (b"old 99999999999999999999\n", "too large"),
        (b"old 1\r\n", "CRLF"),
        (b"old 1\nnot-base64!\n", "bad base64"),
        (b"old 1\n" + base64.b64encode(b"\x00" * 31) + b"\n", "31-byte hash"),
        (b"old 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n", "non-canonical base64"),
        (b"old 1\n" + (base64.b64encode(b"\x01" * 32) + b"\n") * 64, "64 proof lines"),
        ("old 1\n\u00e9\n".encode(), "non-ASCII header"),
    ],
)
def test_malformed_request_headers_are_400(head: bytes, why: str) -> None:
    body = head + b"\n" + _signed(LOG_SIGNER, 3)
    with pytest.raises(WitnessBadRequest) as e:
        parse_add_checkpoint(body)
    assert e.value.status == 400, why


@pytest.mark.parametrize(
    "body",
    [
        b"old 3",
        b"old 3\n",
        b"old 3\n\n",
        b"old 3\n\nnot a note\n",
        b"old 3\n\nexample.org/x\n3\nnot-a-hash\n\n\xe2\x80\x94 example.org/x AAAAAAAA\n",
        b"old 3\n\nexample.org/x\n3\n" + base64.b64encode(b"\x00" * 32) + b"\n",  # no signatures
    ],
)
def test_malformed_bodies_are_400(body: bytes) -> None:
    with pytest.raises(WitnessBadRequest):
        parse_add_checkpoint(body)


def test_verify_submission_404_403_400() -> None:
    ok = parse_add_checkpoint(b"old 0\n\n" + _signed(LOG_SIGNER, 3))
    assert verify_submission(ok, TRUSTED).checkpoint.size == 3
    # Unknown origin: 404, even when signed by a trusted key.
    other = parse_add_checkpoint(b"old 0\n\n" + _signed(LOG_SIGNER, 3, origin="example.org/elsewhere"))
    with pytest.raises(WitnessUnknownLog) as e404:
        verify_submission(other, TRUSTED)
    assert e404.value.status == 404
    # Right origin, another key (same name): 403.
    impostor = Signer.generate(LOG_SIGNER.name)
    with pytest.raises(WitnessForbidden) as e403:
        verify_submission(parse_add_checkpoint(b"old 0\n\n" + _signed(impostor, 3)), TRUSTED)
    assert e403.value.status == 403
    # A trusted key's signature that does not verify: 403 (present but invalid).
    note = Note.parse(_signed(LOG_SIGNER, 3))
    sig = note.signatures[0]
    bad = Note(note.text, (type(sig)(sig.name, sig.key_id, bytes([sig.signature[0] ^ 1]) + sig.signature[1:]),))
    with pytest.raises(WitnessForbidden):
        verify_submission(parse_add_checkpoint(b"old 0\n\n" + bad.to_bytes()), TRUSTED)
    # Signatures by unknown keys are ignored.
    extra = sign_note(note.text, [LOG_SIGNER, Signer.generate("someone.else/key")]).to_bytes()
    assert verify_submission(parse_add_checkpoint(b"old 0\n\n" + extra), TRUSTED).checkpoint.size == 3
    # Old size above the checkpoint's: 400.
    with pytest.raises(WitnessBadRequest) as e400:
        verify_submission(parse_add_checkpoint(b"old 4\n\n" + _signed(LOG_SIGNER, 3)), TRUSTED)
    assert e400.value.status == 400


def _state(size: int, root: bytes | None = None) -> LogState:
    note = _signed(LOG_SIGNER, size, root)
    cp = SignedCheckpoint.parse(note).checkpoint
    return LogState(cp.origin, cp.size, cp.root_hash, note, 0)


def _decide(
    old: int, size: int, latest: LogState | None, proof: list[bytes] | None = None, root: bytes | None = None
) -> tuple[type[WitnessError] | None, int | None]:
    t = _tree(size)
    if proof is None:
        proof = t.consistency_proof(old) if 0 < old < size else []
    cp = Checkpoint(LOG_SIGNER.name, size, t.root() if root is None else root)
    req = AddCheckpointRequest(old, tuple(proof), b"")
    try:
        check_against_latest(req, cp, latest)
    except WitnessError as e:
        return type(e), getattr(e, "witness_size", None)
    return None, None


def test_every_state_decision() -> None:
    # Fresh log (never cosigned): old 0 with an empty proof is the only way in.
    assert _decide(0, 5, None) == (None, None)
    assert _decide(0, 0, None) == (None, None)
    assert _decide(3, 5, None) == (WitnessConflict, 0)
    assert _decide(0, 5, None, proof=[b"\x00" * 32]) == (WitnessInconsistent, None)
    assert _decide(0, 0, None, root=b"\x01" * 32) == (WitnessInconsistent, None)
    # Latest 5.
    s5 = _state(5)
    assert _decide(5, 9, s5) == (None, None)
    assert _decide(5, 5, s5) == (None, None)  # the same checkpoint again: cosigned again
    assert _decide(0, 9, s5) == (WitnessConflict, 5)  # bootstrap: learn the size
    assert _decide(3, 9, s5) == (WitnessConflict, 5)
    assert _decide(3, 3, s5) == (WitnessConflict, 5)  # an older checkpoint: 409, never a rollback
    assert _decide(6, 5, s5) == (WitnessBadRequest, None)
    assert _decide(5, 5, s5, root=b"\x02" * 32) == (WitnessInconsistent, None)  # same size, other root
    assert _decide(5, 9, s5, root=b"\x02" * 32) == (WitnessInconsistent, None)  # bad proof
    good = _tree(9).consistency_proof(5)
    assert _decide(5, 9, s5, proof=good[:-1]) == (WitnessInconsistent, None)
    assert _decide(5, 9, s5, proof=[*good, good[0]]) == (WitnessInconsistent, None)
    assert _decide(5, 5, s5, proof=[good[0]]) == (WitnessInconsistent, None)
    # A witness whose latest is another tree of size 5 refuses the real one at 9.
    assert _decide(5, 9, _state(5, root=b"\x03" * 32)) == (WitnessInconsistent, None)


def test_replies() -> None:
    r = Reply.from_error(WitnessConflict("x", 12))
    assert (r.status, r.body, r.content_type) == (409, b"12\n", SIZE_CONTENT_TYPE)
    r = Reply.from_error(WitnessInconsistent("the proof is bad"))
    assert (r.status, r.body) == (422, b"the proof is bad\n")
    sig = Signer.generate("w.example/w", ALG_COSIGNATURE_V1).signature_line(b"x\n", 1)
    assert Reply.cosigned([sig]) == Reply(200, sig.line().encode(), "text/plain; charset=utf-8")


@pytest.fixture(scope="module")
def fuzz_witness(tmp_path_factory: pytest.TempPathFactory) -> Witness:
    d = tmp_path_factory.mktemp("fuzz") / "w"
    init_witness(d, "witness.test/fuzz")
    trust_log(d, LOG_SIGNER.verifier().vkey())
    return Witness.open(d)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_mutated_body_gets_a_spec_status(fuzz_witness: Witness, data: st.DataObject) -> None:
    body = bytearray(_body_for_fuzz())
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        i = data.draw(st.integers(0, len(body) - 1))
        if kind == "flip":
            body[i] ^= 1 << data.draw(st.integers(0, 7))
        elif kind == "cut":
            del body[i : i + data.draw(st.integers(1, 40))]
        else:
            body[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        if not body:
            body = bytearray(b"\n")
    reply = fuzz_witness.add_checkpoint(bytes(body))
    assert reply.status in {200, 400, 403, 404, 409, 422}
    if reply.status == 409:
        assert reply.content_type == SIZE_CONTENT_TYPE and reply.body.endswith(b"\n")


_FUZZ_BODY: list[bytes] = []


def _body_for_fuzz() -> bytes:
    if not _FUZZ_BODY:
        proof = _tree(9).consistency_proof(5)
        _FUZZ_BODY.append(AddCheckpointRequest(5, tuple(proof), _signed(LOG_SIGNER, 9)).to_bytes())
    return _FUZZ_BODY[0]


def test_two_witness_objects_on_one_directory_never_roll_back(tmp_path: Path) -> None:
    """Two Witness objects stand in for two server processes: only flock serialises them."""
    d = tmp_path / "w"
    init_witness(d, "witness.test/race")
    trust_log(d, LOG_SIGNER.verifier().vkey())
    a, b = Witness.open(d), Witness.open(d)
    seen: list[int] = []

    def stall() -> None:  # runs inside the critical section: widen the race window
        state = a.state(LOG_SIGNER.name)
        seen.append(state.size if state else 0)
        threading.Event().wait(0.002)

    a._stall = b._stall = stall
    top = 24
    bodies = {n: _signed(LOG_SIGNER, n) for n in range(1, top + 1)}
    trees = _tree(top)

    def worker(w: Witness, size: int) -> None:
        old = 0
        for _ in range(50):
            proof = tuple(trees.consistency_proof(old, size)) if 0 < old < size else ()
            reply = w.add_checkpoint(AddCheckpointRequest(old, proof, bodies[size]).to_bytes())
            if reply.status == 200:
                return
            assert reply.status == 409, reply
            old = int(reply.body)
            if old > size:
                return

    threads = [threading.Thread(target=worker, args=(a if n % 2 else b, n)) for n in range(1, top + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    final = a.state(LOG_SIGNER.name)
    assert final is not None and final.size == top
    assert seen == sorted(seen), "the state moved backwards"


# ============================================================================ CLI (in-process)


def test_cli_init_and_add_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "w"
    assert witness_cmd.main(["init", str(d), "--name", "witness.test/cli"]) == 0
    out = capsys.readouterr().out
    vkey = (d / "witness.vkey").read_text().strip()
    assert vkey in out and vkey.startswith("witness.test/cli+")
    assert Verifier.from_vkey(vkey).key_type == ALG_COSIGNATURE_V1
    assert stat.S_IMODE(os.stat(d / "witness.skey").st_mode) == 0o600
    assert "PRIVATE+KEY" not in out
    assert witness_cmd.main(["init", str(d), "--name", "witness.test/cli"]) == 2  # never overwrites a key
    assert witness_cmd.main(["init", str(tmp_path / "x"), "--name", "bad name"]) == 2

    log_key = Signer.generate("example.org/cli-log").verifier().vkey()
    key_file = tmp_path / "log.vkey"
    key_file.write_text(f"# the log\n{log_key}\n")
    assert witness_cmd.main(["add-log", str(d), str(key_file)]) == 0
    assert witness_cmd.main(["add-log", str(d), log_key, "--origin", "go.sum database tree"]) == 0
    assert witness_cmd.main(["add-log", str(d), log_key]) == 0  # idempotent
    logs = Witness.open(d).trusted_logs()
    assert [k.vkey() for k in logs["example.org/cli-log"]] == [log_key]
    assert set(logs) == {"example.org/cli-log", "go.sum database tree"}
    capsys.readouterr()
    assert witness_cmd.main(["add-log", str(d), vkey]) == 2  # a cosignature key is not a log key
    assert "Ed25519 (0x01)" in capsys.readouterr().err
    assert witness_cmd.main(["add-log", str(d), "not-a-key"]) == 2
    assert witness_cmd.main(["add-log", str(tmp_path / "nowhere"), log_key]) == 2
    assert witness_cmd.main(["serve", str(tmp_path / "nowhere"), "--listen", "127.0.0.1:0"]) == 2


def test_cli_registered_in_evidence_command(tmp_path: Path) -> None:
    from evidence_cli import main as cli_main

    parser = cli_main.build_parser()
    try:
        parser.parse_args(["witness", "init", str(tmp_path), "--name", "w.example/w"])
    except SystemExit:
        pytest.skip("`evidence witness` is not registered in cli/main.py yet")
    assert cli_main.main(["witness", "init", str(tmp_path / "w"), "--name", "w.example/w"]) == 0


def test_witness_refuses_to_start_without_state(tmp_path: Path) -> None:
    d = tmp_path / "w"
    init_witness(d, "witness.test/nostate")
    shutil.rmtree(d / "state")
    with pytest.raises(WitnessConfigError, match="state"):
        Witness.open(d)


def test_damaged_state_refuses_instead_of_forgetting(tmp_path: Path) -> None:
    d = tmp_path / "w"
    init_witness(d, "witness.test/damaged")
    trust_log(d, LOG_SIGNER.verifier().vkey())
    w = Witness.open(d)
    assert w.add_checkpoint(b"old 0\n\n" + _signed(LOG_SIGNER, 3)).status == 200
    path = d / "state" / f"{origin_hash(LOG_SIGNER.name)}.json"
    state = LogState.from_json(path.read_bytes(), path)
    # The recorded size no longer matches the checkpoint it holds: refuse (500), never restart from 0.
    path.write_bytes(LogState(state.origin, 2, state.root_hash, state.checkpoint, state.updated).to_json())
    assert w.add_checkpoint(b"old 0\n\n" + _signed(LOG_SIGNER, 1)).status == 500
    path.write_bytes(b"{not json")
    assert w.add_checkpoint(b"old 0\n\n" + _signed(LOG_SIGNER, 1)).status == 500
    with pytest.raises(WitnessConfigError, match="unreadable"):
        w.state(LOG_SIGNER.name)


# ============================================================================ real servers


@pytest.fixture(scope="module")
def witnesses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningWitness, RunningWitness]]:
    base = tmp_path_factory.mktemp("witnesses")
    w1 = new_witness(base / "w1", "witness.test/one")
    w2 = new_witness(base / "w2", "witness.test/two", prefix="/tlog-witness")
    try:
        w1.start()
        w2.start()
        yield w1, w2
    finally:
        w1.stop()
        w2.stop()


@pytest.fixture
def w1(witnesses: tuple[RunningWitness, RunningWitness]) -> RunningWitness:
    return witnesses[0]


def _trust(log: Log, *ws: RunningWitness) -> None:
    for w in ws:
        trust_log(w.directory, log.verifier.vkey())


def test_two_witnesses_cosign_a_real_log(tmp_path: Path, witnesses: tuple[RunningWitness, RunningWitness]) -> None:
    log = _log(tmp_path, "happy", entries=3)
    _trust(log, *witnesses)
    keys = [w.verifier for w in witnesses]
    known: dict[str, int | None] = {w.url: None for w in witnesses}
    for round_ in range(3):
        size = log.size
        for w in witnesses:
            sigs, known[w.url] = witness_checkpoint(log, size, w.url, w.verifier, known[w.url], timeout=10)
            assert known[w.url] == size and len(sigs) == 1 and sigs[0].name == w.verifier.name
            log.add_cosignatures(size, sigs)
        signed = SignedCheckpoint.parse(log.checkpoint_note(size))
        signed.verify([log.verifier], origin=log.origin)
        cosigned = signed.cosignatures(keys)
        assert set(cosigned) == set(keys)
        assert all(abs(t - cosigned[keys[0]]) < 600 for t in cosigned.values())
        # The monitoring read serves the same cosigned checkpoint.
        for w in witnesses:
            r = requests.get(f"{w.url}/{origin_hash(log.origin)}/checkpoint", timeout=10)
            assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
            served = SignedCheckpoint.parse(r.content)
            assert served.checkpoint == signed.checkpoint and w.verifier in served.cosignatures([w.verifier])
        log.append([f"round {round_} entry {i}".encode() for i in range(round_ + 1)])
    # A client that forgot the witness's size bootstraps with old 0, learns it from 409, and resends.
    size = log.size
    sigs, known_size = witness_checkpoint(log, size, witnesses[0].url, witnesses[0].verifier, None)
    assert known_size == size and f"old=0 size={size} refused (409)" in _wait_log(witnesses[0], f"size={size}")


def _wait_log(w: RunningWitness, text: str) -> str:
    for _ in range(100):
        out = w.server_log()
        if text in out:
            return out
        threading.Event().wait(0.05)
    return w.server_log()


def test_log_hook_cosigns_every_checkpoint(tmp_path: Path, w1: RunningWitness) -> None:
    """What the log server does: after each checkpoint, ask the witness, then add the line."""
    known: dict[str, int | None] = {"size": None}

    def after(log: Log, size: int) -> None:
        sigs, known["size"] = witness_checkpoint(log, size, w1.url, w1.verifier, known["size"])
        log.add_cosignatures(size, sigs)

    log = Log.create(tmp_path / "hooked", origin=_origin("hooked"))
    _trust(log, w1)
    log.after_checkpoint = after
    for i in range(3):
        log.append([b"hooked %d" % i])
        assert w1.verifier in log.checkpoint().cosignatures([w1.verifier])
    assert known["size"] == 3


def test_status_400_garbage_and_413_oversized(tmp_path: Path, w1: RunningWitness) -> None:
    for junk in (b"", b"garbage", b"old 1\n\n", b"\x00\xff" * 10, b"old 0\n\nno checkpoint here\n"):
        r = _post(w1, junk)
        assert r.status_code == 400, (junk, r.text)
        assert r.text.endswith("\n")
    log = _log(tmp_path, "big", entries=2)
    _trust(log, w1)
    r = _post(w1, b"old 0\n" + b"A" * (200 * 1024) + b"\n\n" + log.checkpoint_note())
    assert r.status_code == 413
    with pytest.raises(WitnessTooLarge) as e:
        submit_checkpoint(w1.url, log.checkpoint_note(), 0, [b"\x00" * 32] * 5000)
    assert e.value.status == 413
    # The witness still works afterwards.
    assert witness_checkpoint(log, 2, w1.url, w1.verifier, None)[1] == 2
    # Wrong method and unknown path are plain HTTP errors, not witness answers.
    assert requests.get(f"{w1.url}/add-checkpoint", timeout=10).status_code == 405


def test_status_403_404(tmp_path: Path, w1: RunningWitness) -> None:
    log = _log(tmp_path, "trusted", entries=2)
    _trust(log, w1)
    # 404: a log the witness does not witness.
    stranger = _log(tmp_path, "stranger", entries=2)
    r = _post(w1, _body(stranger, 0, 2))
    assert r.status_code == 404
    with pytest.raises(WitnessUnknownLog) as e404:
        witness_checkpoint(stranger, 2, w1.url, w1.verifier, None)
    assert e404.value.status == 404 and "unknown origin" in e404.value.message
    # 403: same origin, another key (an impostor log).
    impostor = Log.create(tmp_path / "impostor", origin=log.origin)
    impostor.append([b"x", b"y"])
    assert _post(w1, _body(impostor, 0, 2)).status_code == 403
    with pytest.raises(WitnessForbidden):
        witness_checkpoint(impostor, 2, w1.url, w1.verifier, None)
    # 403: the trusted key's signature is damaged.
    note = Note.parse(log.checkpoint_note())
    s = note.signatures[0]
    damaged = Note(note.text, (type(s)(s.name, s.key_id, s.signature[:-1] + bytes([s.signature[-1] ^ 1])),))
    assert _post(w1, b"old 0\n\n" + damaged.to_bytes()).status_code == 403
    # Nothing was cosigned for the log by any of this.
    assert requests.get(f"{w1.url}/{origin_hash(log.origin)}/checkpoint", timeout=10).status_code == 404


def test_status_409_400_for_a_rolled_back_checkpoint(tmp_path: Path, w1: RunningWitness) -> None:
    log = _log(tmp_path, "rollback", entries=3)
    _trust(log, w1)
    log.append([b"four", b"five"])
    assert witness_checkpoint(log, 5, w1.url, w1.verifier, None)[1] == 5
    # The older checkpoint (size 3) with the size it was made from: 409, body the witness's size.
    r = _post(w1, _body(log, 3, 3))
    assert r.status_code == 409 and r.content == b"5\n"
    assert r.headers["content-type"] == "text/x.tlog.size"
    # ... claiming to come from the witness's size: 400 (old size above the checkpoint's).
    assert _post(w1, _body(log, 5, 3, proof=[])).status_code == 400
    # The client refuses before sending when it knows the witness is past this size.
    with pytest.raises(WitnessConflict) as e:
        witness_checkpoint(log, 3, w1.url, w1.verifier, 5)
    assert e.value.witness_size == 5
    # ... and after learning it from a 409.
    with pytest.raises(WitnessConflict) as e:
        witness_checkpoint(log, 3, w1.url, w1.verifier, None)
    assert e.value.witness_size == 5 and e.value.status == 409
    # A stale old size on a newer checkpoint: 409 from submit_checkpoint, carrying the size.
    log.append([b"six"])
    with pytest.raises(WitnessConflict) as e:
        submit_checkpoint(w1.url, log.checkpoint_note(6), 3, log.consistency(3, 6))
    assert e.value.witness_size == 5
    # The state did not move.
    served = SignedCheckpoint.parse(requests.get(f"{w1.url}/{origin_hash(log.origin)}/checkpoint", timeout=10).content)
    assert served.checkpoint.size == 5


def test_status_422(tmp_path: Path, w1: RunningWitness) -> None:
    log = _log(tmp_path, "proofs", entries=4)
    _trust(log, w1)
    # Non-empty proof with old size 0 (the witness is at 0 for this log).
    assert _post(w1, _body(log, 0, 4, proof=[b"\x00" * 32])).status_code == 422
    # A size-0 checkpoint whose root is not SHA-256(""), signed by the real log key.
    bogus = sign_note(Checkpoint(log.origin, 0, b"\x01" * 32).to_text(), [_log_signer(log)]).to_bytes()
    r = _post(w1, b"old 0\n\n" + bogus)
    assert r.status_code == 422 and "empty-tree root" in r.text
    assert witness_checkpoint(log, 4, w1.url, w1.verifier, None)[1] == 4
    log.append([b"five", b"six", b"seven"])
    # A damaged consistency proof.
    proof = log.consistency(4, 7)
    proof[0] = bytes([proof[0][0] ^ 1]) + proof[0][1:]
    r = _post(w1, _body(log, 4, 7, proof))
    assert r.status_code == 422 and "consistency" in r.text
    with pytest.raises(WitnessInconsistent) as e:
        submit_checkpoint(w1.url, log.checkpoint_note(7), 4, proof)
    assert e.value.status == 422
    # A truncated one, and none at all.
    assert _post(w1, _body(log, 4, 7, log.consistency(4, 7)[:-1])).status_code == 422
    assert _post(w1, _body(log, 4, 7, [])).status_code == 422
    # The right one still works.
    assert witness_checkpoint(log, 7, w1.url, w1.verifier, 4)[1] == 7


def test_forked_log_is_refused_and_kept_as_evidence(tmp_path: Path, w1: RunningWitness) -> None:
    log = _log(tmp_path, "fork", entries=3)
    _trust(log, w1)
    assert witness_checkpoint(log, 3, w1.url, w1.verifier, None)[1] == 3
    # A copy with the same origin and keys: the log operator (or a thief of its key) forks it.
    fork_dir = tmp_path / "forked"
    shutil.copytree(log.path, fork_dir)
    fork = Log.open(fork_dir)
    log.append([b"honest 4", b"honest 5"])
    fork.append([b"forked 4", b"forked 5"])
    assert witness_checkpoint(log, 5, w1.url, w1.verifier, 3)[1] == 5
    # Same size, different root: 422.
    r = _post(w1, _body(fork, 5, 5))
    assert r.status_code == 422 and "different roots" in r.text
    # A larger fork with its own (valid for the fork) proof from 5: 422.
    fork.append([b"forked 6"])
    assert _post(w1, _body(fork, 5, 6)).status_code == 422
    with pytest.raises(WitnessInconsistent):
        witness_checkpoint(fork, 6, w1.url, w1.verifier, None)  # 409 -> resend from 5 -> 422
    # From the fork point: 409 (the witness has moved on to the honest size 5).
    r = _post(w1, _body(fork, 3, 6))
    assert (r.status_code, r.content) == (409, b"5\n")
    # The log-signed fork requests were kept as evidence of misbehaviour.
    kept = sorted((w1.directory / "misbehaviour").glob(f"{origin_hash(log.origin)[:16]}-*"))
    fork_roots = {SignedCheckpoint.parse(fork.checkpoint_note(n)).checkpoint.root_hash for n in (5, 6)}
    assert {SignedCheckpoint.parse(parse_add_checkpoint(k.read_bytes()).note).checkpoint.root_hash for k in kept} == (
        fork_roots
    )
    # The honest log goes on.
    log.append([b"honest 6"])
    assert witness_checkpoint(log, 6, w1.url, w1.verifier, 5)[1] == 6


def test_client_checks_the_cosignature_and_reports_unreachable_witnesses(tmp_path: Path, w1: RunningWitness) -> None:
    log = _log(tmp_path, "client", entries=2)
    _trust(log, w1)
    other = Signer.generate("witness.test/one", ALG_COSIGNATURE_V1).verifier()  # same name, other key
    with pytest.raises(WitnessBadResponse, match="without a cosignature"):
        witness_checkpoint(log, 2, w1.url, other, None)
    with pytest.raises(UsageError):
        witness_checkpoint(log, 2, w1.url, log.verifier, None)  # a log key is not a witness key
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WitnessUnavailable) as e:
        witness_checkpoint(log, 2, f"http://127.0.0.1:{port}", w1.verifier, None, timeout=2)
    assert e.value.status is None


def test_state_survives_restart(tmp_path: Path) -> None:
    w = new_witness(tmp_path / "w", "witness.test/restart", prefix="/w")
    log = _log(tmp_path, "restart", entries=4)
    _trust(log, w)
    try:
        w.start()
        _, known = witness_checkpoint(log, 4, w.url, w.verifier, None)
        before = requests.get(f"{w.url}/{origin_hash(log.origin)}/checkpoint", timeout=10).content
        w.stop()
        log.append([b"while down"])
        w.start()
        assert requests.get(f"{w.url}/{origin_hash(log.origin)}/checkpoint", timeout=10).content == before
        r = _post(w, _body(log, 0, 5))
        assert (r.status_code, r.content) == (409, b"4\n")
        assert witness_checkpoint(log, 5, w.url, w.verifier, known)[1] == 5
        assert requests.get(f"{w.url}/{'G' * 64}/checkpoint", timeout=10).status_code == 404
        # Without the prefix there is nothing.
        assert requests.post(f"http://127.0.0.1:{w.port}/add-checkpoint", data=b"", timeout=10).status_code == 404
    finally:
        w.stop()
    state = LogState.from_json((w.directory / "state" / f"{origin_hash(log.origin)}.json").read_bytes(), w.directory)
    assert (state.origin, state.size) == (log.origin, 5)
    assert hashlib.sha256(log.origin.encode()).hexdigest() == origin_hash(log.origin)


def test_concurrent_submissions_never_roll_back(tmp_path: Path, w1: RunningWitness) -> None:
    top = 16
    log = _log(tmp_path, "race", entries=0)
    _trust(log, w1)
    for i in range(top):
        log.append([b"race %d" % i])
    notes = {n: log.checkpoint_note(n) for n in range(1, top + 1)}
    proofs = {(a, b): log.consistency(a, b) for b in range(1, top + 1) for a in range(1, b)}
    url = f"{w1.url}/add-checkpoint"
    mon_url = f"{w1.url}/{origin_hash(log.origin)}/checkpoint"
    start = threading.Barrier(top + 1)
    done = threading.Event()
    cosigned: list[int] = []
    observed: list[int] = []
    errors: list[BaseException] = []

    def worker(size: int) -> None:
        try:
            with requests.Session() as http:
                start.wait(timeout=30)
                old = 0
                for _ in range(40):
                    body = AddCheckpointRequest(old, tuple(proofs.get((old, size), [])), notes[size]).to_bytes()
                    r = http.post(url, data=body, timeout=30)
                    if r.status_code == 200:
                        cosigned.append(size)
                        return
                    assert r.status_code == 409, (size, old, r.status_code, r.text)
                    old = int(r.content)
                    if old > size:
                        return
                raise AssertionError(f"size {size} never settled")
        except BaseException as e:
            errors.append(e)

    def monitor() -> None:
        with requests.Session() as http:
            while not done.is_set():
                r = http.get(mon_url, timeout=30)
                if r.status_code == 200:
                    observed.append(SignedCheckpoint.parse(r.content).checkpoint.size)
                done.wait(0.005)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, top + 1)]
    mon = threading.Thread(target=monitor)
    for t in threads:
        t.start()
    mon.start()
    start.wait(timeout=30)
    for t in threads:
        t.join(timeout=60)
    done.set()
    mon.join(timeout=30)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)
    assert cosigned and top in cosigned
    assert observed == sorted(observed), "a monitor saw the witness's state move backwards"
    final = SignedCheckpoint.parse(requests.get(mon_url, timeout=10).content)
    assert final.checkpoint.size == top and w1.verifier in final.cosignatures([w1.verifier])
