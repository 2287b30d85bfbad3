"""RFC 9162 hashing and proofs against the public vectors, plus properties."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vectors import load, load_or_empty, params

from evidence import merkle
from evidence.errors import ConsistencyError, InclusionError


def b64(s: str | None) -> bytes:
    return base64.b64decode(s or "")


def _proof(p: list[str] | None) -> list[bytes]:
    return [b64(x) for x in (p or [])]


_INCL = load_or_empty("rfc6962", "transparency-dev-merkle_inclusion_probes.json")
_CONS = load_or_empty("rfc6962", "transparency-dev-merkle_consistency_probes.json")


def test_reference_tree_roots_and_hashes() -> None:
    ref = load("rfc6962", "reference_tree_8_leaves.json")
    leaves = [bytes.fromhex(x) for x in ref["leaf_inputs_hex"]]
    for size, want in enumerate(ref["root_by_tree_size_hex"]):
        assert merkle.root_of_leaves(leaves[:size]).hex() == want
        tree = merkle.MemoryTree([merkle.leaf_hash(x) for x in leaves[:size]])
        assert tree.root().hex() == want
    for level, hashes in enumerate(ref["node_hashes_by_level_hex"]):
        tree = merkle.MemoryTree([merkle.leaf_hash(x) for x in leaves])
        for i, h in enumerate(hashes):
            assert tree.perfect(level, i).hex() == h


def test_hasher_constants() -> None:
    assert merkle.EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert merkle.leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


def test_reference_tree_proofs_match_generation() -> None:
    ref = load("rfc6962", "reference_tree_8_leaves.json")
    leaves = [bytes.fromhex(x) for x in ref["leaf_inputs_hex"]]
    tree = merkle.MemoryTree([merkle.leaf_hash(x) for x in leaves])
    checked = 0
    for case in ref["inclusion_proofs"]:
        idx, size = case["leaf_index"], case["tree_size"]
        if idx is None:
            with pytest.raises(InclusionError):
                tree.inclusion_proof(0, size)
            continue
        want = [bytes.fromhex(h) for h in case["proof_hex"]]
        assert tree.inclusion_proof(idx, size) == want
        merkle.verify_inclusion(idx, size, bytes.fromhex(case["leaf_hash_hex"]), want, bytes.fromhex(case["root_hex"]))
        checked += 1
    for case in ref["consistency_proofs"]:
        want = [bytes.fromhex(h) for h in case["proof_hex"]]
        assert tree.consistency_proof(case["size1"], case["size2"]) == want
        r1, r2 = bytes.fromhex(case["root1_hex"]), bytes.fromhex(case["root2_hex"])
        merkle.verify_consistency(case["size1"], case["size2"], r1, r2, want)
        checked += 1
    assert checked >= 10


def test_hasher_vectors() -> None:
    for case in load("rfc6962", "reference_tree_8_leaves.json")["hasher_vectors"]:
        if "left_ascii" in case:
            got = merkle.node_hash(case["left_ascii"].encode(), case["right_ascii"].encode())
        elif "leaf_input_ascii" in case:
            got = merkle.leaf_hash(case["leaf_input_ascii"].encode())
        elif "leaf_input_hex" in case:
            got = merkle.leaf_hash(bytes.fromhex(case["leaf_input_hex"]))
        else:
            got = merkle.EMPTY_ROOT
        assert got.hex() == case["want_hex"], case["desc"]


@pytest.mark.parametrize("probe", params(_INCL and _INCL["probes"], ids=lambda p: p["file"]))
def test_inclusion_probe(probe: dict[str, Any]) -> None:
    args = (probe["leafIdx"], probe["treeSize"], b64(probe["leafHash"]), _proof(probe["proof"]), b64(probe["root"]))
    if probe["wantErr"]:
        with pytest.raises(InclusionError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


def _cons_expect_error(probe: dict[str, Any]) -> bool:
    # Documented policy difference: old size 0 with an empty proof is accepted (tlog-witness),
    # where transparency-dev/merkle always refuses it. See evidence/merkle.py.
    return bool(probe["wantErr"])


@pytest.mark.parametrize("probe", params(_CONS and _CONS["probes"], ids=lambda p: p["file"]))
def test_consistency_probe(probe: dict[str, Any]) -> None:
    args = (probe["size1"], probe["size2"], b64(probe["root1"]), b64(probe["root2"]), _proof(probe["proof"]))
    zero_policy_case = probe["size1"] == 0 and not probe["proof"]
    if zero_policy_case:
        # transparency-dev's behaviour, available as strict mode:
        with pytest.raises(ConsistencyError):
            merkle.verify_consistency(*args, strict_zero=True)
        return
    if probe["wantErr"]:
        with pytest.raises(ConsistencyError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_size_zero_policy() -> None:
    root = merkle.root_of_leaves([b"a", b"b"])
    merkle.verify_consistency(0, 2, merkle.EMPTY_ROOT, root, [])
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(0, 2, merkle.EMPTY_ROOT, root, [root])
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(0, 2, root, root, [])
    with pytest.raises(ConsistencyError):
        merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, root, [])


def _flip(b: bytes, bit: int) -> bytes:
    arr = bytearray(b)
    arr[bit // 8] ^= 1 << (bit % 8)
    return bytes(arr)


@st.composite
def tree_and_index(draw: st.DrawFn) -> tuple[merkle.MemoryTree, int, int]:
    size = draw(st.integers(min_value=1, max_value=300))
    tree = merkle.MemoryTree([merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)])
    sub = draw(st.integers(min_value=1, max_value=size))
    index = draw(st.integers(min_value=0, max_value=sub - 1))
    return tree, index, sub


@settings(max_examples=150, deadline=None)
@given(tree_and_index(), st.data())
def test_inclusion_property(case: tuple[merkle.MemoryTree, int, int], data: st.DataObject) -> None:
    tree, index, size = case
    leaf = tree.perfect(0, index)
    proof = tree.inclusion_proof(index, size)
    root = tree.root(size)
    merkle.verify_inclusion(index, size, leaf, proof, root)
    assert root == merkle.root_of_hashes([tree.perfect(0, i) for i in range(size)])
    # Any single-bit change to leaf, proof, root or index fails. (A changed *size* can still
    # verify here, e.g. index 0 of sizes 5 and 7 share a proof: RFC 9162 binds the size
    # through the signed checkpoint, so that mutation is tested in test_checkpoint.py.)
    which = data.draw(st.sampled_from(["leaf", "proof", "root", "index"]))
    with pytest.raises(InclusionError):
        if which == "leaf":
            merkle.verify_inclusion(index, size, _flip(leaf, data.draw(st.integers(0, 255))), proof, root)
        elif which == "root":
            merkle.verify_inclusion(index, size, leaf, proof, _flip(root, data.draw(st.integers(0, 255))))
        elif which == "proof":
            if not proof:
                raise InclusionError("size 1 has no proof to change")
            i = data.draw(st.integers(0, len(proof) - 1))
            bad = list(proof)
            bad[i] = _flip(bad[i], data.draw(st.integers(0, 255)))
            merkle.verify_inclusion(index, size, leaf, bad, root)
        else:
            bit = data.draw(st.integers(0, max(0, size.bit_length())))
            merkle.verify_inclusion(index ^ (1 << bit), size, leaf, proof, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 300), st.data())
def test_consistency_property(new_size: int, data: st.DataObject) -> None:
    tree = merkle.MemoryTree([merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(new_size)])
    old_size = data.draw(st.integers(1, new_size))
    proof = tree.consistency_proof(old_size, new_size)
    r1, r2 = tree.root(old_size), tree.root(new_size)
    merkle.verify_consistency(old_size, new_size, r1, r2, proof)
    which = data.draw(st.sampled_from(["old", "new", "proof"]))
    with pytest.raises(ConsistencyError):
        if which == "old":
            merkle.verify_consistency(old_size, new_size, _flip(r1, data.draw(st.integers(0, 255))), r2, proof)
        elif which == "new":
            merkle.verify_consistency(old_size, new_size, r1, _flip(r2, data.draw(st.integers(0, 255))), proof)
        elif which == "proof":
            if not proof:
                raise ConsistencyError("equal sizes: nothing to change")
            i = data.draw(st.integers(0, len(proof) - 1))
            bad = list(proof)
            bad[i] = _flip(bad[i], data.draw(st.integers(0, 255)))
            merkle.verify_consistency(old_size, new_size, r1, r2, bad)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.data())
def test_batched_inclusion_proofs_equal_single_ones(size: int, data: st.DataObject) -> None:
    tree = merkle.MemoryTree([merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)])
    indices = data.draw(st.lists(st.integers(0, size - 1), max_size=40))
    assert merkle.inclusion_proofs(tree.perfect, indices, size) == [
        merkle.inclusion_proof(tree.perfect, i, size) for i in indices
    ]
    with pytest.raises(InclusionError):
        merkle.inclusion_proofs(tree.perfect, [*indices, size], size)
