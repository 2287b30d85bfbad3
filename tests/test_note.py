"""Signed notes, keys and cosignatures against the public vectors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vectors import load

from evidence import note
from evidence.errors import FormatError, KeyFormatError, SignatureError


def test_go_keys_and_key_ids() -> None:
    d = load("signed-note", "go-sumdb-note_vectors.json")
    for k in d["keys"]:
        v = note.Verifier.from_vkey(k["vkey"])
        assert v.name == k["name"]
        assert f"{v.key_id:08x}" == k["key_id_hex"]
        assert v.vkey() == k["vkey"]
        skey = k.get("skey") or k["skey_derived_here"]
        s = note.Signer.from_skey(skey)
        assert s.verifier() == v
        assert s.skey() == skey


def test_go_signing_is_deterministic_and_opens() -> None:
    d = load("signed-note", "go-sumdb-note_vectors.json")
    peter = note.Signer.from_skey(d["keys"][0]["skey"])
    enoch = note.Signer.from_skey(d["keys"][1]["skey_derived_here"])
    signed = note.sign_note(d["note_text"], [peter])
    assert signed.to_bytes().decode() == d["signed_by_peter"]
    both = note.sign_note(d["note_text"], [peter, enoch])
    assert both.to_bytes().decode() == d["signed_by_peter_and_enoch"]

    opened = note.open_note(d["signed_by_peter"].encode(), [peter.verifier()])
    assert opened.note.text == d["note_text"]
    opened = note.open_note(d["signed_by_peter_and_enoch"].encode(), [peter.verifier()])
    assert [s.name for s in opened.unknown] == ["EnochRoot"]
    with pytest.raises(SignatureError):
        note.open_note(d["signed_by_peter_and_enoch"].encode(), [])
    with pytest.raises(SignatureError):
        note.open_note(d["invalid_signature_note"]["note"].encode(), [peter.verifier()])


def test_go_malformed_notes_rejected() -> None:
    d = load("signed-note", "go-sumdb-note_vectors.json")
    v = note.Verifier.from_vkey(d["keys"][0]["vkey"])
    for bad in d["malformed_notes_expect_reject"]:
        with pytest.raises((FormatError, SignatureError)):
            note.open_note(bad.encode(), [v])


def test_go_bad_vkeys_rejected() -> None:
    d = load("signed-note", "go-sumdb-note_vectors.json")
    for bad in d["bad_vkeys_expect_reject"]:
        text = bad.split(" (")[0]
        if text.startswith("any "):
            continue
        with pytest.raises(KeyFormatError):
            note.Verifier.from_vkey(text)
    good = d["keys"][0]["vkey"]
    # "any substring or single-byte mutation of the PeterNeumann vkey"
    for i in range(len(good)):
        with pytest.raises(KeyFormatError):
            note.Verifier.from_vkey(good[:i])
        for repl in "A+/ 0z":
            mutated = good[:i] + repl + good[i + 1 :]
            if mutated == good:
                continue
            with pytest.raises(KeyFormatError):
                note.Verifier.from_vkey(mutated)


def test_c2sp_example() -> None:
    d = load("signed-note", "c2sp-signed-note_example.json")
    v = note.Verifier.from_vkey(d["vkey"])
    opened = note.open_note(d["signed_note"].encode(), [v])
    assert opened.note.text == "This is an example message.\n"
    assert opened.note.to_bytes() == d["signed_note"].encode()


def test_keypairs_derive() -> None:
    d = load("signed-note", "keypairs_and_misc.json")
    for kp in d["keypairs_skey_to_vkey"]:
        assert note.Signer.from_skey(kp["skey"]).verifier().vkey() == kp["vkey"]
    real = d["real_checkpoint_geomys_test_log"]
    note.open_note(real["checkpoint"].encode(), [note.Verifier.from_vkey(real["vkey"])])


def test_cosignature_vectors() -> None:
    d = load("signed-note", "cosignature-v1_vectors.json")
    for case in d["deterministic_vectors"]:
        v = note.Verifier.from_vkey(case["vkey"])
        assert v.key_type == note.ALG_COSIGNATURE_V1
        signer = note.Signer(case["cosigner_name"], note.ALG_COSIGNATURE_V1, bytes.fromhex(case["ed25519_seed_hex"]))
        assert signer.verifier() == v
        opened = note.open_note(case["cosigned_note"].encode(), [v])
        (_, sig) = opened.verified[0]
        assert sig.timestamp == case["timestamp"]
        # Re-signing reproduces the signature byte for byte.
        text = opened.note.text.encode()
        assert signer.sign(text, case["timestamp"]) == sig.signature
        if "signed_message_utf8" in case:
            assert note.cosignature_message(text, case["timestamp"]) == case["signed_message_utf8"].encode()
        # The first vector's other signature lines (a static-ct 0x05) are skipped as unknown.
        assert len(opened.unknown) == len(opened.note.signatures) - 1


def test_cosignature_binds_timestamp() -> None:
    s = note.Signer.generate("witness.example", note.ALG_COSIGNATURE_V1)
    n = note.sign_note("origin\n1\n" + "A" * 43 + "=\n", [s], timestamp=1_700_000_000)
    raw = bytearray(n.signatures[0].signature)
    raw[7] ^= 1  # change the timestamp, keep the Ed25519 signature
    forged = note.Note(n.text, (note.NoteSignature(s.name, s.key_id, bytes(raw)),))
    with pytest.raises(SignatureError):
        note.open_note(forged.to_bytes(), [s.verifier()])


def test_same_key_different_types_have_different_ids() -> None:
    seed = bytes(range(32))
    a = note.Signer("k", note.ALG_ED25519, seed)
    b = note.Signer("k", note.ALG_COSIGNATURE_V1, seed)
    assert a.key_id != b.key_id


@pytest.mark.parametrize(
    "data",
    [
        b"text\r\n\n\xe2\x80\x94 k AAAAAAA=\n",
        b"\xff\xfe\n\n\xe2\x80\x94 k AAAAAAA=\n",
        b"text\n\n- k AAAAAAAA\n",
        b"text\n\n\xe2\x80\x94 k AAAA\n",
        b"text\n\n\xe2\x80\x94 k not-base64!\n",
        b"text\n\n\xe2\x80\x94 k AAAAAAAA extra\n",
        b"text\n\n\xe2\x80\x94 a+b AAAAAAAA\n",
        b"\n\n\xe2\x80\x94 k AAAAAAAA\n",
        b"text\n\n" + b"\xe2\x80\x94 k AAAAAAAA\n" * 101,
    ],
)
def test_malformed_notes(data: bytes) -> None:
    with pytest.raises(FormatError):
        note.Note.parse(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_parse_never_crashes(data: bytes) -> None:
    try:
        n = note.Note.parse(data)
    except FormatError:
        return
    assert n.to_bytes() == data


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=80), st.data())
def test_round_trip_and_bit_flips(text: str, data: st.DataObject) -> None:
    s = note.Signer.generate("log.example")
    body = text.replace("\n", " ") + "\n"
    signed = note.sign_note(body, [s]).to_bytes()
    note.open_note(signed, [s.verifier()])
    pos = data.draw(st.integers(0, len(body.encode()) - 1))
    bit = data.draw(st.integers(0, 7))
    mutated = bytearray(signed)
    mutated[pos] ^= 1 << bit
    with pytest.raises((FormatError, SignatureError)):
        note.open_note(bytes(mutated), [s.verifier()])
