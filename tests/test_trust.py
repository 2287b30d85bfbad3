"""The trust policy: C2SP tlog-policy lines plus pinned TSAs (docs/trust-policy.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from evidence.errors import FormatError, PolicyError, TimestampError
from evidence.note import ALG_COSIGNATURE_V1, ALG_ED25519, Signer, Verifier
from evidence.timestamp import request_timestamp, verify_token
from evidence.trust import MAX_ENTRIES, TrustPolicy, parse_time

if TYPE_CHECKING:
    from tsa.fixtures import RunningTSA

pytest_plugins = ["tsa.fixtures"]  # local_tsa, make_tsa, tsa_pki

LOG = Signer.generate("example.org/evidence/log", ALG_ED25519).verifier()


def _log_key() -> Verifier:
    return Signer.generate("other.example/log", ALG_ED25519).verifier()


def _witness(name: str) -> Verifier:
    return Signer.generate(name, ALG_COSIGNATURE_V1).verifier()


W = {n: _witness(f"witness.example/{n}") for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")}

# The example of c2sp.org/tlog-policy, with real keys.
EXAMPLE = f"""\
log {LOG.vkey()}

witness X1 {W["X1"].vkey()}
witness X2 {W["X2"].vkey()}
witness X3 {W["X3"].vkey()}
group X-witnesses 2 X1 X2 X3

witness Y1 {W["Y1"].vkey()}
witness Y2 {W["Y2"].vkey()}
witness Y3 {W["Y3"].vkey()}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def test_example_policy_parses() -> None:
    policy = TrustPolicy.parse(EXAMPLE)
    assert [log.origin for log in policy.logs] == ["example.org/evidence/log"]
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert [(g.name, g.threshold) for g in policy.groups] == [
        ("X-witnesses", 2),
        ("Y-witnesses", 1),
        ("X-and-Y", 2),
    ]
    assert policy.quorum == "X-and-Y"
    assert policy.tsas == ()


@pytest.mark.parametrize(
    ("cosigned", "ok"),
    [
        ({"X1", "X2", "Y3"}, True),
        ({"X1", "X2", "X3", "Y1", "Y2", "Y3"}, True),
        ({"X1", "Y1", "Y2"}, False),  # only one X
        ({"X1", "X3"}, False),  # no Y
        (set(), False),
        ({"X1", "X2", "Z9"}, False),  # unknown names count for nothing
    ],
)
def test_quorum_of_nested_groups(cosigned: set[str], ok: bool) -> None:
    result = TrustPolicy.parse(EXAMPLE).evaluate_quorum(cosigned)
    assert result.ok is ok
    assert result.cosigned <= {"X1", "X2", "X3", "Y1", "Y2", "Y3"}


def test_unmet_quorum_explains_what_is_missing() -> None:
    policy = TrustPolicy.parse(EXAMPLE)
    result = policy.evaluate_quorum({"X1", "Y2"})
    assert "The quorum X-and-Y is not met (cosigned: X1, Y2)" in result.explanation
    assert "group X-witnesses needs 2 of X1, X2, X3 and has 1 (X1)" in result.explanation
    with pytest.raises(PolicyError) as err:
        policy.require_quorum({"X1", "Y2"})
    assert err.value.message == result.explanation
    assert err.value.exit_code == 1
    assert policy.require_quorum({"X1", "X3", "Y2"}).ok


def test_quorum_none_and_single_witness() -> None:
    none = TrustPolicy.parse(f"log {LOG.vkey()}\nquorum none\n")
    assert none.evaluate_quorum([]).ok
    single = TrustPolicy.parse(f"witness solo {W['X1'].vkey()}\nquorum solo\n")
    assert not single.evaluate_quorum([]).ok
    assert single.evaluate_quorum(["solo"]).ok


def test_witness_keys_map_to_policy_names() -> None:
    policy = TrustPolicy.parse(EXAMPLE)
    stranger = _witness("stranger.example")
    assert policy.witnesses_for([W["X2"], W["Y1"], stranger]) == {"X2", "Y1"}
    assert len(policy.witness_verifiers()) == 6
    y3 = policy.witness("Y3")
    assert y3 is not None and y3.verifier == W["Y3"]
    assert policy.witness("Z9") is None


def test_logs_are_looked_up_by_origin() -> None:
    policy = TrustPolicy.parse(EXAMPLE)
    assert policy.log_verifiers("example.org/evidence/log") == (LOG,)
    assert policy.logs_for_origin("other.example/log") == ()
    with pytest.raises(PolicyError) as err:
        policy.require_log("other.example/log")
    assert "'other.example/log' is not in the trust policy" in err.value.message


def test_keys_from_a_bundle_are_displayed_not_trusted() -> None:
    policy = TrustPolicy.parse(EXAMPLE)
    assert "is the trusted log example.org/evidence/log" in policy.explain_key(LOG)
    assert "is the trusted witness X1" in policy.explain_key(W["X1"])
    other = Signer.generate("example.org/evidence/log", ALG_ED25519).verifier()
    text = policy.explain_key(other)
    assert "is NOT in the trust policy" in text and other.fingerprint() in text
    assert policy.log_verifiers(other.name) == (LOG,)  # same name, other key: not trusted


def test_comments_whitespace_and_limits() -> None:
    lines = ["# a policy", "", "   # indented comment", "\t"]
    lines += [
        f"log {Signer.generate(f'log{i}.example', ALG_ED25519).verifier().vkey()}"
        for i in range(32)
    ]
    lines += [
        f" \twitness w{i}\t{_witness(f'w{i}.example').vkey()}  https://w{i}.example/ "
        for i in range(32)
    ]
    lines += [f"group g{i} any w{i}" for i in range(32)]
    lines += ["group top 17 " + " ".join(f"g{i}" for i in range(32)), "quorum top"]
    policy = TrustPolicy.parse("\n".join(lines))  # no final newline: accepted
    assert (len(policy.logs), len(policy.witnesses), len(policy.groups)) == (32, 32, 33)
    assert policy.witnesses[0].url == "https://w0.example/"
    assert not policy.evaluate_quorum([f"w{i}" for i in range(16)]).ok
    assert policy.evaluate_quorum([f"w{i}" for i in range(17)]).ok


def test_names_are_opaque_octets() -> None:
    kelvin = "\u212a"  # KELVIN SIGN, not the letter K
    text = f"witness K {W['X1'].vkey()}\nwitness {kelvin} {W['X2'].vkey()}\nquorum {kelvin}\n"
    policy = TrustPolicy.parse(text.encode())
    assert not policy.evaluate_quorum(["K"]).ok
    assert policy.evaluate_quorum([kelvin]).ok


def _err(text: str) -> str:
    with pytest.raises(FormatError) as err:
        TrustPolicy.parse(text, source="p")
    return err.value.message


X1, X2 = W["X1"].vkey(), W["X2"].vkey()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("quorum none\nlogg x\n", "line 2: unknown keyword 'logg'"),
        (f"log {LOG.vkey()}\n", "there is no 'quorum' line"),
        ("quorum none\nquorum none\n", "line 2: a second 'quorum' line"),
        ("quorum X1\n", "the quorum 'X1' is not defined on an earlier line"),
        (f"group g any X1\nwitness X1 {X1}\nquorum g\n", "'X1', which is not defined"),
        (f"witness X1 {X1}\nwitness X1 {X2}\nquorum X1\n", "'X1' is already defined"),
        (f"witness none {X1}\nquorum none\n", "the name 'none' is reserved"),
        (f"witness X1 {X1}\ngroup g any X1 none\nquorum g\n", "which is not a witness or group"),
        (f"witness X1 {X1}\ngroup X1 any X1\nquorum X1\n", "'X1' is already defined"),
        (f"witness X1 {X1}\ngroup g 0 X1\nquorum g\n", "must be 'all', 'any' or a number"),
        (f"witness X1 {X1}\ngroup g 2 X1\nquorum g\n", "needs 2 of only 1 member"),
        (f"witness X1 {X1}\ngroup g 01 X1\nquorum g\n", "without leading zeros"),
        (f"witness X1 {X1}\ngroup g\nquorum none\n", "at least one member"),
        (f"witness X1 {X1}\ngroup g 1 X1 X1\nquorum g\n", "already a member of a group"),
        (
            f"witness X1 {X1}\nwitness X2 {X2}\ngroup a any X1 X2\ngroup b any X1\nquorum b\n",
            "line 4: 'X1' is already a member of a group",
        ),
        (f"log {W['X1'].vkey()}\nquorum none\n", "a log needs an Ed25519 checkpoint-signing key"),
        (f"witness X1 {LOG.vkey()}\nquorum none\n", "a witness needs an Ed25519 cosignature key"),
        (f"log {LOG.vkey()}\nlog {LOG.vkey()}\nquorum none\n", "listed twice"),
        (
            f"witness A {X1}\nwitness B {X1}\nquorum none\n",
            "witness 'B' has the same public key as witness 'A'",
        ),
        ("log example.org+0000abcd+AAAA\nquorum none\n", "the log key is malformed"),
        ("log\nquorum none\n", "the form is 'log <vkey> [<url>]'"),
        (f"witness X1 {X1} https://x extra\nquorum none\n", "wrong number of items"),
        ("quorum none\r\n", "line 1: contains a carriage return"),
        ("# bell \x07\nquorum none\n", "line 1: contains byte 0x07"),
        ("quorum none\n\x7f\n", "line 2: contains byte 0x7f"),
    ],
)
def test_policy_errors_name_line_and_rule(text: str, reason: str) -> None:
    assert reason in _err(text)


def test_policy_size_is_bounded() -> None:
    lines = [f"witness w{i} {_witness(f'w{i}.ex').vkey()}" for i in range(MAX_ENTRIES + 1)]
    assert f"more than {MAX_ENTRIES} witnesses" in _err("\n".join(lines) + "\nquorum none\n")


def test_parse_time_is_rfc3339() -> None:
    assert parse_time("2025-01-31T01:00:00+01:00") == dt.datetime(2025, 1, 31, tzinfo=dt.UTC)
    assert parse_time("2025-01-31t00:00:00.5z").microsecond == 500000
    for bad in ("2025-01-31", "2025-01-31T00:00:00", "2025-02-30T00:00:00Z", "yesterday"):
        with pytest.raises(FormatError):
            parse_time(bad)


# --------------------------------------------------------------------------- TSA lines


def test_tsa_lines_pin_certificates_by_file_and_fingerprint(
    local_tsa: RunningTSA, tmp_path: Path
) -> None:
    # Certificate paths are relative to the policy file's folder.
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "root.pem").write_bytes(local_tsa.pki.root.pem)
    (tmp_path / "certs" / "tsa.pem").write_bytes(local_tsa.issued.pem)
    fp = local_tsa.pinned().certificate.sha256
    (tmp_path / "trust.policy").write_text(
        f"log {LOG.vkey()}\n"
        "quorum none\n"
        "tsa-root test-root certs/root.pem\n"
        "tsa by-file certs/tsa.pem test-root not-before 2020-01-01T00:00:00Z\n"
        f"tsa-root fp-root sha256:{local_tsa.pinned().root.sha256}\n"
        f"tsa-root spare {local_tsa.root_path}\n"
    )
    policy = TrustPolicy.load(tmp_path / "trust.policy")
    [tsa] = policy.tsas
    assert tsa.name == "by-file" and tsa.certificate.sha256 == fp
    assert tsa.not_before == dt.datetime(2020, 1, 1, tzinfo=dt.UTC) and tsa.not_after is None
    assert [r.name for r in policy.tsa_roots] == ["test-root", "fp-root", "spare"]
    assert policy.tsa("by-file") is tsa

    token = request_timestamp(b"note\n", local_tsa.config())
    assert verify_token(token, b"note\n", policy.tsas).tsa.name == "by-file"

    by_fp = TrustPolicy.parse(
        f"quorum none\ntsa-root r sha256:{local_tsa.pinned().root.sha256}\n"
        f"tsa t sha256:{fp} r not-after 2999-01-01T00:00:00Z\n"
    )
    # A fingerprint-only root needs the certificate from somewhere (e.g. the bundle).
    with pytest.raises(TimestampError, match="only by its fingerprint"):
        verify_token(token, b"note\n", by_fp.tsas)
    assert verify_token(token, b"note\n", by_fp.tsas, certificates=[local_tsa.pki.root.cert])


def test_tsa_window_in_the_policy_is_enforced(local_tsa: RunningTSA) -> None:
    token = request_timestamp(b"note\n", local_tsa.config())
    policy = TrustPolicy.parse(
        f"quorum none\ntsa-root r {local_tsa.root_path}\n"
        f"tsa t {local_tsa.cert_path} r not-after 2001-01-01T00:00:00Z\n"
    )
    with pytest.raises(TimestampError, match=r"accepts TSA t .* to 2001-01-01T00:00:00Z"):
        verify_token(token, b"note\n", policy.tsas)


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ("tsa t {cert} r\n", "names the root 'r', which is not defined on an earlier line"),
        (f"witness r {X1}\ntsa t {{cert}} r\n", "names the root 'r', which is a witness"),
        ("tsa-root r {root}\ntsa t {cert}\n", "the form is 'tsa <name>"),
        ("tsa-root r {root}\ntsa t {cert} r not-after 2025-01-01\n", "not an RFC 3339"),
        ("tsa-root r {root}\ntsa t {cert} r until 2025-01-01T00:00:00Z\n", "unknown TSA option"),
        (
            "tsa-root r {root}\ntsa t {cert} r not-after 2025-01-01T00:00:00Z "
            "not-after 2026-01-01T00:00:00Z\n",
            "not-after is given twice",
        ),
        (
            "tsa-root r {root}\ntsa t {cert} r not-before 2026-01-01T00:00:00Z "
            "not-after 2025-01-01T00:00:00Z\n",
            "ends before it begins",
        ),
        ("tsa-root r sha256:abcd\n", "not a SHA-256 fingerprint"),
        ("tsa-root r missing.pem\n", "could not read the certificate file"),
        ("tsa-root r {policy}\n", "not an X.509 certificate"),
        ("tsa-root r {root}\ntsa t {cert} r\ntsa u {cert} r\n", "pinned twice"),
        ("tsa-root r {root}\ntsa r {cert} r\n", "'r' is already defined (as a TSA root)"),
        ("tsa-root r {root}\ntsa t {cert} r\nquorum t\n", "the quorum 't' is a TSA"),
        ("tsa-root r {root}\ntsa t {cert} r\ngroup g any t\n", "'t', which is not a witness"),
    ],
)
def test_tsa_line_errors(local_tsa: RunningTSA, tmp_path: Path, lines: str, reason: str) -> None:
    policy_file = tmp_path / "bad.policy"
    text = "quorum none\n" * ("quorum" not in lines) + lines.format(
        cert=local_tsa.cert_path, root=local_tsa.root_path, policy=policy_file
    )
    policy_file.write_text(text)
    with pytest.raises(FormatError) as err:
        TrustPolicy.load(policy_file)
    assert reason in err.value.message
    assert str(policy_file) in err.value.message


def test_missing_policy_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FormatError) as err:
        TrustPolicy.load(tmp_path / "trust.policy")
    assert "could not read the trust policy" in err.value.message
    assert err.value.hint is not None and "docs/trust-policy.md" in err.value.hint


def test_tlog_policy_part_round_trips(local_tsa: RunningTSA) -> None:
    urls = EXAMPLE.replace(W["X1"].vkey(), W["X1"].vkey() + " https://x1.example/witness")
    text = f"log {_log_key().vkey()} https://log.example/\n" + urls + local_tsa.policy_lines()
    policy = TrustPolicy.parse(text)
    exported = policy.to_tlog_policy()
    assert "tsa" not in exported
    again = TrustPolicy.parse(exported)
    assert (again.logs, again.witnesses, again.groups, again.quorum) == (
        policy.logs,
        policy.witnesses,
        policy.groups,
        policy.quorum,
    )
    assert again.tsas == () and len(policy.tsas) == 1
