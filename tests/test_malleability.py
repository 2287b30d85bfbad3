"""No proof file can be changed by one bit and still prove the same thing.

The bundle's proof files are not sealed (they are made after the seal), so their
integrity rests on what checks them: signatures, Merkle hashes and strict parsing.
These tests flip one bit (0x01 and 0x80) at every byte of a real checkpoint note, a
tlog-proof and a consistency proof in turn. Every result must be rejected, or (for a
cosignature line whose signer name or key ID was hit, which makes it a line of an
unknown key) prove strictly less. The time-stamp counterpart is in test_timestamp.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence import merkle
from evidence.bundle.refresh import format_consistency, parse_consistency
from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.errors import EvidenceError
from evidence.log import Log
from evidence.note import ALG_COSIGNATURE_V1, Note, Signer, Verifier, add_signatures

ORIGIN = "malleability.test/log"
ENTRY = b"the sealed entry"


def _flips(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    for i in range(len(data)):
        for bit in (0x01, 0x80):
            out = bytearray(data)
            out[i] ^= bit
            yield i, bit, bytes(out)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Log]:
    with Log.create(tmp_path_factory.mktemp("m") / "log", origin=ORIGIN) as lg:
        lg.append([b"first", ENTRY, b"third"])
        lg.append([b"fourth", b"fifth"])
        yield lg


def _claims(note: bytes, log_key: Verifier, cosigners: list[Verifier]) -> tuple[object, ...]:
    """What a note proves: its checkpoint, and the verified cosignatures (key -> time)."""
    signed = SignedCheckpoint.parse(note)
    signed.verify([log_key], origin=ORIGIN)
    return signed.checkpoint, sorted((v.vkey(), t) for v, t in signed.cosignatures(cosigners).items())


def test_no_bit_flip_of_a_cosigned_checkpoint_note_proves_the_same(log: Log) -> None:
    witness = Signer.generate("witness.example", ALG_COSIGNATURE_V1)
    note = Note.parse(log.checkpoint_note())
    cosigned = add_signatures(note, [witness.signature_line(note.text_bytes, int(time.time()))]).to_bytes()
    cosigners = [witness.verifier(), log.timestamp_verifier]
    genuine = _claims(cosigned, log.verifier, cosigners)
    assert len(genuine[1]) == 2  # type: ignore[arg-type]
    same = []
    for i, bit, mutated in _flips(cosigned):
        try:
            claims = _claims(mutated, log.verifier, cosigners)
        except EvidenceError:
            continue
        if claims[0] != genuine[0] or not set(claims[1]) < set(genuine[1]):  # type: ignore[call-overload]
            same.append((i, bit))
    assert not same, same


def test_no_bit_flip_of_a_tlog_proof_still_proves_the_entry_and_its_time(log: Log) -> None:
    """The proof and the log's clock cosignature on its checkpoint (what steps 4-6 check)."""

    def proves(raw: bytes) -> dict[Verifier, int]:
        proof = TlogProof.parse(raw)
        proof.verify(ENTRY, [log.verifier], origin=ORIGIN)
        return SignedCheckpoint.parse(proof.checkpoint_note).cosignatures([log.timestamp_verifier])

    raw = log.prove(1).to_bytes()
    genuine = proves(raw)
    assert list(genuine) == [log.timestamp_verifier]
    accepted = []
    for i, bit, mutated in _flips(raw):
        try:
            claims = proves(mutated)
        except EvidenceError:
            continue
        if claims == genuine:  # without the clock's time it proves less: step 6 fails it
            accepted.append((i, bit))
    assert not accepted, accepted


def test_no_bit_flip_of_a_consistency_proof_still_verifies(log: Log, tmp_path: Path) -> None:
    old, new = 3, log.size
    old_root = SignedCheckpoint.parse(log.checkpoint_note(old)).checkpoint.root_hash
    new_root = SignedCheckpoint.parse(log.checkpoint_note(new)).checkpoint.root_hash
    raw = format_consistency(log.consistency(old, new))
    merkle.verify_consistency(old, new, old_root, new_root, parse_consistency(raw, "c"))
    accepted = []
    for i, bit, mutated in _flips(raw):
        try:
            merkle.verify_consistency(old, new, old_root, new_root, parse_consistency(mutated, "c"))
        except EvidenceError:
            continue
        accepted.append((i, bit))
    assert not accepted, accepted
