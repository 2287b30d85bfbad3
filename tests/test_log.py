"""The tiled log: append, dedup, proofs, consistency, recovery, bad input."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence import merkle
from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.errors import (
    AuditError,
    EntryTooLargeError,
    FormatError,
    InclusionError,
    LogCorruptError,
    LogError,
    SignatureError,
)
from evidence.log import Log, tiles
from evidence.log.reader import LogReader, audit
from evidence.note import Note


@pytest.fixture
def log(tmp_path: Path) -> Log:
    return Log.create(tmp_path / "log", origin="example.org/test-log")


def test_create_signs_empty_checkpoint(log: Log) -> None:
    signed = log.checkpoint()
    assert signed.checkpoint.size == 0
    assert signed.checkpoint.root_hash == merkle.EMPTY_ROOT
    # Signed by the log key and cosigned (timestamped) by the log's clock key.
    assert signed.verify([log.verifier]).verified
    times = signed.cosignatures([log.timestamp_verifier])
    assert list(times) == [log.timestamp_verifier]
    assert (log.path / "checkpoint").read_bytes() == signed.to_bytes()
    assert oct((log.keys_dir / "log.skey").stat().st_mode & 0o777) == "0o600"


def test_append_prove_and_dedup(log: Log) -> None:
    assert log.append([b"one", b"two", b"three"]) == [0, 1, 2]
    assert log.append([b"two", b"four", b"four"]) == [1, 3, 3]
    assert log.size == 4
    assert log.append([]) == []
    for i, e in enumerate([b"one", b"two", b"three", b"four"]):
        assert log.entry(i) == e
        proof = log.prove(i)
        assert TlogProof.parse(proof.to_bytes()) == proof
        proof.verify(e, [log.verifier], origin=log.origin)
        with pytest.raises(InclusionError):
            proof.verify(e + b"x", [log.verifier])


def test_same_leaves_as_tessera(log: Log) -> None:
    # The same 15 entries give the same roots as the real Tessera log (vectors).
    from vectors import load

    expected = load("tlog-tiles", "tessera-testdata-log", "expected.json")
    for word in expected["leaves_utf8"]:
        log.append([word.encode()])
        size = log.size
        assert log.checkpoint().checkpoint.root_hash.hex() == expected["root_by_size_hex"][str(size)]


def test_every_size_checkpoint_kept_and_consistent(log: Log) -> None:
    sizes = [0]
    for n in (1, 5, 250, 6, 300, 1):
        log.append([os.urandom(16) for _ in range(n)])
        sizes.append(log.size)
    assert log.checkpoint_sizes() == sizes
    for a in sizes:
        for b in sizes:
            if a <= b:
                ca = SignedCheckpoint.parse(log.checkpoint_note(a)).checkpoint
                cb = SignedCheckpoint.parse(log.checkpoint_note(b)).checkpoint
                merkle.verify_consistency(a, b, ca.root_hash, cb.root_hash, log.consistency(a, b))
    # Proof against an older checkpoint.
    p = log.prove(3, size=sizes[2])
    p.verify(log.entry(3), [log.verifier])
    with pytest.raises(LogError):
        log.prove(0, size=7)  # never signed


def test_tiles_and_partials_on_disk(log: Log) -> None:
    log.append([b"%d" % i for i in range(70_000)])
    want = {t.path for t in tiles.tiles_for_size(70_000)}
    for path in want:
        assert (log.path / path).is_file(), path
    assert audit(str(log.path), [log.verifier]).entries == 70_000


def test_entry_limits(log: Log) -> None:
    log.append([b"a" * 65535, b""])
    assert log.entry(0) == b"a" * 65535 and log.entry(1) == b""
    with pytest.raises(EntryTooLargeError) as err:
        log.append([b"ok", b"a" * 65536])
    assert "65,535" in str(err.value)
    assert log.size == 2  # nothing from the refused batch was logged


def test_reader_over_directory_matches_log(log: Log) -> None:
    log.append([b"%d" % i for i in range(600)])
    reader = LogReader(str(log.path))
    signed = reader.signed_checkpoint([log.verifier])
    for i in (0, 255, 256, 599):
        assert reader.prove(i, signed) == log.prove(i)


def test_open_and_create_errors(tmp_path: Path, log: Log) -> None:
    with pytest.raises(LogError, match="already holds a log"):
        Log.create(log.path, origin="example.org/other")
    with pytest.raises(LogError, match="not a log directory"):
        Log.open(tmp_path / "nothing")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    with pytest.raises(LogError, match="not empty"):
        Log.create(tmp_path / "full", origin="example.org/x")
    with pytest.raises(LogError, match="cannot name a log"):
        Log.create(tmp_path / "new", origin="bad origin")


def test_wrong_keys_refused(tmp_path: Path, log: Log) -> None:
    other = Log.create(tmp_path / "other", origin="example.org/other")
    with pytest.raises(LogError, match="do not belong"):
        Log.open(log.path, keys_dir=other.keys_dir).append([b"x"])
    with pytest.raises(LogError, match="missing"):
        Log.open(log.path, keys_dir=tmp_path / "nokeys").append([b"x"])
    assert log.size == 0


def test_truncated_tile_detected(log: Log) -> None:
    log.append([b"%d" % i for i in range(300)])
    log.close()  # waits until the append's files are flushed and its journal is dropped
    assert not list((log.path / ".state/journal").iterdir())
    tile = log.path / "tile/0/000"
    tile.write_bytes(tile.read_bytes()[:-5])
    with pytest.raises(AuditError, match="tile/0/000"):
        audit(str(log.path), [log.verifier])
    fresh = Log.open(log.path)
    with pytest.raises(LogCorruptError, match="tile/0/000"):
        fresh.prove(3)
    # The partial tile at the edge is what appends build on: damage there stops them.
    edge = log.path / "tile/0/001.p/44"
    edge.write_bytes(edge.read_bytes()[:-1])
    with pytest.raises(LogCorruptError):
        Log.open(log.path).append([b"more"])
    assert fresh.size == 300


def test_tampered_state_refused(log: Log) -> None:
    log.append([b"a"])
    signed = log.path / ".state/signed"
    data = bytearray(signed.read_bytes())
    data[data.index(b"\n") + 1] = ord("7")  # claim a different size
    signed.write_bytes(bytes(data))
    with pytest.raises(LogCorruptError, match="damaged"):
        Log.open(log.path).append([b"b"])


def test_crash_between_commit_and_publish_is_repaired(log: Log) -> None:
    log.append([b"a", b"b"])
    good = (log.path / "checkpoint").read_bytes()
    # Simulate the public checkpoint lagging behind the commit record.
    (log.path / "checkpoint").write_bytes(log.checkpoint_note(0))
    reopened = Log.open(log.path)
    reopened.append([b"c"])
    assert reopened.size == 3
    assert SignedCheckpoint.parse(good).checkpoint.size == 2
    assert log.checkpoint_sizes() == [0, 2, 3]


def test_dedup_index_rebuilt_when_lost(log: Log) -> None:
    log.append([b"x", b"y"])
    log.close()
    shutil.rmtree(log.path / ".state/dedup")
    again = Log.open(log.path)
    assert again.append([b"y", b"z"]) == [1, 2]


def test_dedup_index_damaged_is_rebuilt(log: Log) -> None:
    log.append([b"x", b"y"])
    log.append([b"v"])
    log.close()
    runs = sorted((log.path / ".state/dedup").glob("r-*.run"))
    assert runs, "the index keeps its runs in .state/dedup"
    runs[0].write_bytes(b"this is not a run")  # wrong size: the damaged run is dropped
    (log.path / ".state/dedup/stray-file").write_bytes(b"junk")
    again = Log.open(log.path)
    assert again.append([b"x", b"w", b"v"]) == [0, 3, 2]
    assert not (log.path / ".state/dedup/stray-file").exists()
    again.close()
    # Right size, wrong bytes (what a power loss can leave of an unsynced file): the CRC-32
    # in its name catches it; the entries still keep their indices.
    run = next(r for r in (log.path / ".state/dedup").glob("r-*.run") if r.name.startswith("r-0-"))
    run.write_bytes(bytes(run.stat().st_size))
    third = Log.open(log.path)
    assert third.append([b"w", b"y", b"new"]) == [3, 1, 4]
    assert third._dedup_index().covered() == 5


def test_dedup_index_ahead_of_the_log_is_truncated(log: Log) -> None:
    """Index rows for entries that were never committed (a crash) are forgotten."""
    log.append([b"a", b"b"])
    dedup = log._dedup_index()
    dedup.insert([hashlib.sha256(b"\x00" + e).digest() for e in (b"c", b"d")], 2)  # as a crash leaves it
    assert dedup.covered() == 4
    log.close()
    again = Log.open(log.path)
    assert again.append([b"d", b"b"]) == [2, 1]  # "d" was never in the log: it gets a new index
    assert again._dedup_index().covered() == 3


def test_dedup_index_from_before_runs_is_replaced(log: Log) -> None:
    log.append([b"x", b"y"])
    log.close()
    shutil.rmtree(log.path / ".state/dedup")
    (log.path / ".state/dedup.sqlite").write_bytes(b"an index in the old format")
    again = Log.open(log.path)
    assert again.append([b"y"]) == [1]
    assert not (log.path / ".state/dedup.sqlite").exists()


def test_timestamps_stored_beside_checkpoint(log: Log) -> None:
    log.append([b"a"])
    log.add_timestamp(1, b"token-1")
    log.add_timestamp(1, b"token-2")
    log.add_timestamp(1, b"token-1")
    assert sorted(log.timestamps(1)) == [b"token-1", b"token-2"]
    assert log.timestamps(0) == []
    with pytest.raises(LogError):
        log.add_timestamp(5, b"x")


def test_after_checkpoint_hook(tmp_path: Path) -> None:
    seen: list[int] = []
    log = Log.create(tmp_path / "l", origin="example.org/hook", after_checkpoint=lambda lg, size: seen.append(size))
    log.append([b"a"])
    log.append([b"a"])  # duplicate: no new checkpoint
    log.append([b"b", b"c"])
    assert seen == [1, 3]


def test_checkpoint_size_bit_flip_breaks_signature(log: Log) -> None:
    log.append([b"%d" % i for i in range(5)])
    proof = log.prove(0)
    note = Note.parse(proof.checkpoint_note)
    lines = note.text.split("\n")
    lines[1] = str(int(lines[1]) ^ 2)  # 5 -> 7: the RFC 9162 path alone would still verify
    forged = Note("\n".join(lines), note.signatures).to_bytes()
    bad = TlogProof(proof.index, proof.hashes, forged)
    with pytest.raises(SignatureError):
        bad.verify(b"0", [log.verifier])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(1, 700), min_size=1, max_size=4), st.data())
def test_property_every_proof_verifies_and_any_bit_flip_fails(
    tmp_path_factory: pytest.TempPathFactory, batches: list[int], data: st.DataObject
) -> None:
    log = Log.create(tmp_path_factory.mktemp("plog") / "log", origin="example.org/prop")
    counter = 0
    for n in batches:
        log.append([b"entry-%d" % (counter + i) for i in range(n)])
        counter += n
    size = log.size
    index = data.draw(st.integers(0, size - 1))
    proof = log.prove(index)
    entry = log.entry(index)

    def check(p: TlogProof, e: bytes) -> None:
        # The tlog-proof steps, plus the log's own timestamp cosignature.
        p.verify(e, [log.verifier])
        if log.timestamp_verifier not in p.signed_checkpoint.cosignatures([log.timestamp_verifier]):
            raise SignatureError("timestamp cosignature missing")

    check(proof, entry)
    raw = proof.to_bytes()
    pos = data.draw(st.integers(0, len(raw) - 1))
    bit = data.draw(st.integers(0, 7))
    mutated = bytearray(raw)
    mutated[pos] ^= 1 << bit
    with pytest.raises((FormatError, InclusionError, SignatureError)):
        check(TlogProof.parse(bytes(mutated)), entry)
    e = bytearray(entry)
    e[data.draw(st.integers(0, len(e) - 1))] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(InclusionError):
        check(proof, bytes(e))


def test_add_witness_cosignatures(log: Log) -> None:
    from evidence.note import ALG_COSIGNATURE_V1, Signer

    log.append([b"a", b"b"])
    witness = Signer.generate("witness.example/w1", ALG_COSIGNATURE_V1)
    text = log.checkpoint().note.text_bytes
    line = witness.signature_line(text, 1_800_000_000)
    data = log.add_cosignatures(2, [line])
    assert log.add_cosignatures(2, [line]) == data  # idempotent
    signed = SignedCheckpoint.parse(data)
    assert signed.cosignatures([witness.verifier()]) == {witness.verifier(): 1_800_000_000}
    assert (log.path / "checkpoint").read_bytes() == data
    assert log.checkpoint_note(2) == data
    log.append([b"c"])  # the commit record kept the cosigned note and still extends
    assert log.prove(0, size=2).checkpoint_note == data
    assert audit(str(log.path), [log.verifier]).history == 3


def test_cosignatures_refused_after_timestamps(log: Log) -> None:
    from evidence.note import ALG_COSIGNATURE_V1, Signer

    log.append([b"a"])
    log.add_timestamp(1, b"token")
    witness = Signer.generate("witness.example/w2", ALG_COSIGNATURE_V1)
    with pytest.raises(LogError, match="time-stamps"):
        log.add_cosignatures(1, [witness.signature_line(log.checkpoint().note.text_bytes, 1)])


def test_recover_republishes_after_a_crash(log: Log) -> None:
    log.append([b"a", b"b"])
    good = (log.path / "checkpoint").read_bytes()
    (log.path / "checkpoint").write_bytes(log.checkpoint_note(0))  # as if killed before publishing
    reopened = Log.open(log.path)
    assert reopened.recover().to_bytes() == good
    assert (log.path / "checkpoint").read_bytes() == good
