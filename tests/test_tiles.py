"""tlog-tiles paths and math against the public vectors; the real Tessera log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from vectors import load, load_or_empty, params, vectors_dir

from evidence import merkle
from evidence.errors import AuditError, FormatError, SignatureError
from evidence.log import tiles
from evidence.log.reader import LogReader, audit
from evidence.note import Verifier

_PATHS = load_or_empty("tlog-tiles", "tile_paths.json")


@pytest.mark.parametrize("case", params(_PATHS and _PATHS["path_build_cases"], ids=lambda c: c["want"]))
def test_path_build(case: dict[str, Any]) -> None:
    if case["fn"] == "entries_path_for_index":
        n = case["seq"] // 256
        got = tiles.entries_path(n, tiles.tile_width(0, n, case["log_size"]))
    elif case["fn"] == "entries_path":
        got = tiles.entries_path(case["n"], case["w"])
    else:
        got = tiles.tile_path(case["level"], case["n"], case["w"])
    assert got == case["want"]


def test_path_parse() -> None:
    data = load("tlog-tiles", "tile_paths.json")
    for case in data["parse_ok"]:
        tid = tiles.parse_tile_path(f"tile/{case['level']}/{case['index_path']}")
        assert (tid.level, tid.n) == (case["want_level"], case["want_index"])
        assert tid.width == (case["want_partial_width"] or 256)
    assert data["parse_must_fail"]
    for case in data["parse_must_fail"]:
        with pytest.raises(FormatError):
            tiles.parse_tile_path(f"tile/{case['level']}/{case['index_path']}")
    for example in data["go_sumdb_tile_paths_for_contrast"]["examples"]:
        with pytest.raises(FormatError):
            tiles.parse_tile_path(example.split(" ")[0])


def test_c2sp_examples() -> None:
    assert tiles.tile_path(0, 1234067) == "tile/0/x001/x234/067"
    got = {t.path for t in tiles.tiles_for_size(70_000) if t.width < 256 or t.level > 0}
    assert got == {"tile/0/273.p/112", "tile/1/000", "tile/1/001.p/17", "tile/2/000.p/1"}
    assert sum(1 for t in tiles.tiles_for_size(70_000) if t.level == 0 and t.width == 256) == 273
    assert {t.path for t in tiles.tiles_for_size(256)} == {"tile/0/000", "tile/1/000.p/1"}


@pytest.mark.parametrize(
    "bad",
    [
        "tile/0/1",
        "tile/0/x000/001",
        "tile/64/000",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/entries/000.p/007",
        "tile/00/000",
        "tile/0/../000",
        "tile/0/000/",
    ],
)
def test_bad_paths(bad: str) -> None:
    with pytest.raises(FormatError):
        tiles.parse_tile_path(bad)


def _tessera() -> tuple[Path, Verifier, dict[str, Any]]:
    d = vectors_dir("tlog-tiles", "tessera-testdata-log")
    expected = json.loads((d / "expected.json").read_text())
    return d, Verifier.from_vkey(expected["vkey"]), expected


def test_tessera_log_reads() -> None:
    d, key, expected = _tessera()
    reader = LogReader(str(d))
    signed = reader.signed_checkpoint([key])
    assert signed.checkpoint.size == 15
    leaves = [e.encode() for e in expected["leaves_utf8"]]
    assert reader.fetch_bundle(0, 15) == leaves
    for size in range(0, 16):
        cp_file = d / f"checkpoint.{size}"
        from evidence.checkpoint import SignedCheckpoint

        sc = SignedCheckpoint.parse(cp_file.read_bytes())
        sc.verify([key])
        assert sc.checkpoint.root_hash.hex() == expected["root_by_size_hex"][str(size)]
        assert reader.hashes(size).root() == sc.checkpoint.root_hash
        for i in range(size):
            proof = reader.hashes(size).inclusion_proof(i)
            merkle.verify_inclusion(i, size, merkle.leaf_hash(leaves[i]), proof, sc.checkpoint.root_hash)
        for old in range(1, size + 1):
            cons = reader.hashes(size).consistency_proof(old)
            old_root = bytes.fromhex(expected["root_by_size_hex"][str(old)])
            merkle.verify_consistency(old, size, old_root, sc.checkpoint.root_hash, cons)


def test_tessera_log_audits_clean() -> None:
    d, key, _ = _tessera()
    report = audit(str(d), [key])
    assert report.checkpoint.size == 15 and report.entries == 15


def test_tessera_audit_wrong_key() -> None:
    d, _, _ = _tessera()
    other = Verifier.from_vkey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    with pytest.raises(SignatureError):
        audit(str(d), [other])


def test_tessera_audit_rejects_any_changed_tile_byte(tmp_path: Path) -> None:
    d, key, _ = _tessera()
    files = sorted(p.relative_to(d).as_posix() for p in (d / "tile").rglob("*") if p.is_file())
    assert files
    checked = 0
    for rel in files:
        size = (d / rel).stat().st_size
        for pos in sorted({0, size // 2, size - 1}):
            copy = tmp_path / f"log{checked}"
            shutil.copytree(d, copy)
            target = copy / rel
            target.chmod(0o644)
            raw = bytearray(target.read_bytes())
            raw[pos] ^= 0x01
            target.write_bytes(bytes(raw))
            with pytest.raises(AuditError) as err:
                audit(str(copy), [key])
            assert "tile" in str(err.value)
            shutil.rmtree(copy)
            checked += 1
    assert checked >= 60


def test_bundle_encoding_limits() -> None:
    from evidence.errors import EntryTooLargeError

    assert tiles.decode_bundle(tiles.encode_bundle([b"", b"a" * 65535])) == [b"", b"a" * 65535]
    with pytest.raises(EntryTooLargeError):
        tiles.encode_bundle([b"a" * 65536])
