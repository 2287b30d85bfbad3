"""The clock-key rule has one home: :func:`evidence.checkpoint.is_clock_key`."""

from evidence.checkpoint import clock_key_name, is_clock_key
from evidence.note import ALG_COSIGNATURE_V1, ALG_ED25519, Signer


def test_clock_key_is_a_cosignature_key_named_origin_timestamp() -> None:
    origin = "example.org/log"
    assert clock_key_name(origin) == "example.org/log/timestamp"
    clock = Signer.generate("example.org/log/timestamp", ALG_COSIGNATURE_V1).verifier()
    assert is_clock_key(clock, origin)
    assert not is_clock_key(clock, "other.example/log")
    witness = Signer.generate("witness.example", ALG_COSIGNATURE_V1).verifier()
    assert not is_clock_key(witness, origin)
    log_key = Signer.generate("example.org/log/timestamp", ALG_ED25519).verifier()
    assert not is_clock_key(log_key, origin)
