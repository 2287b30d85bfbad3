"""RFC 3161 time-stamps against a real local TSA (``openssl ts -reply`` over HTTP).

Every token here comes from OpenSSL's TSA over a real HTTP connection, and every failure
is caused for real: HTTP 500, a server that accepts and never answers, junk bytes, forged
signers made with ``openssl cms``, certificates that expire during the test. No mocks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from evidence_cli.main import main as cli_main
from tsa.server import TestPKI, TSAServer, resign_token, unused_port_url

from evidence.config import TSAConfig, evidence_home, load_config, parse_config, select_tsas
from evidence.errors import FormatError, TimestampError, UsageError
from evidence.log import Log
from evidence.timestamp import (
    CertPin,
    ImprintMismatchError,
    MissingTimestampWarning,
    PinnedTSA,
    TimestampRequestError,
    TimestampToken,
    request_timestamp,
    stamp_checkpoint,
    timestamper,
    verify_token,
    verify_tokens,
)

# A signed checkpoint note (text and signature lines), as the log writes it.
NOTE = (
    "example.org/evidence/log\n"
    "42\n"
    "q6q6q6q6q6q6q6q6q6q6q6q6q6q6q6q6q6q6q6q6q6o=\n"
    "\n"
    "\u2014 example.org/evidence/log Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/"
    "Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
).encode()

if TYPE_CHECKING:  # imported by pytest as a plugin below; importing it first defeats that
    from tsa.fixtures import RunningTSA

    MakeTSA = Callable[..., RunningTSA]
pytest_plugins = ["tsa.fixtures"]  # local_tsa, make_tsa, tsa_pki


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def token(local_tsa: RunningTSA) -> TimestampToken:
    """One genuine token over NOTE from the local TSA, requested with its pins."""
    return request_timestamp(NOTE, local_tsa.config())


def _openssl_verify(tsr: bytes, data: bytes, ca: Path, tmp: Path, *extra: str) -> str:
    (tmp / "t.tsr").write_bytes(tsr)
    (tmp / "data").write_bytes(data)
    proc = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(tmp / "t.tsr"),
            "-data",
            str(tmp / "data"),
            "-CAfile",
            str(ca),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout + proc.stderr


# --------------------------------------------------------------------------- positive


def test_token_from_real_tsa_verifies(local_tsa: RunningTSA, token: TimestampToken) -> None:
    assert token.imprint == hashlib.sha256(NOTE).digest()
    assert token.imprint_algorithm == "2.16.840.1.101.3.4.2.1"
    assert token.tsa_name == local_tsa.name
    assert token.tsa_cert_sha256 == CertPin.of(local_tsa.issued.cert).sha256
    assert abs(token.gen_time - _now()) < dt.timedelta(minutes=5)
    assert token.nonce is not None

    verified = verify_token(token.der, NOTE, local_tsa.pinned())
    assert verified.tsa.name == local_tsa.name
    assert verified.gen_time == token.gen_time
    assert verified.root_certificate == local_tsa.pki.root.cert
    assert "certifies that the data existed at" in verified.summary()


def test_every_single_bit_flip_of_a_token_is_rejected(local_tsa: RunningTSA, token: TimestampToken) -> None:
    """Flip one bit at every byte of a real token in turn: none still verifies, and each
    rejection is a plain TimestampError (the CMS signature covers only part of the bytes;
    the strict DER check and the chain, certificate and signature checks cover the rest)."""
    from evidence.timestamp import der_problem

    assert der_problem(token.der) is None
    pinned = local_tsa.pinned()
    accepted = []
    for i in range(len(token.der)):
        for bit in (0x01, 0x80):
            data = bytearray(token.der)
            data[i] ^= bit
            try:
                verify_token(bytes(data), NOTE, pinned)
            except TimestampError:
                continue
            accepted.append((i, bit))
    assert not accepted, str(accepted)


def test_der_problem_names_what_is_wrong() -> None:
    from evidence.timestamp import der_problem

    assert der_problem(bytes.fromhex("3003020101")) is None
    assert "indefinite" in (der_problem(bytes.fromhex("3080020101 0000".replace(" ", ""))) or "")
    assert "shortest" in (der_problem(bytes.fromhex("308103020101")) or "")
    assert "more than its container" in (der_problem(bytes.fromhex("3004020101")) or "")
    assert "stray" in (der_problem(bytes.fromhex("300302010100")) or "")
    assert "cut off" in (der_problem(bytes.fromhex("30")) or "")
    assert "more than its container" in (der_problem(bytes.fromhex("3003020201")) or "")  # a child overruns


def test_openssl_ts_verify_accepts_the_stored_token(
    local_tsa: RunningTSA,
    token: TimestampToken,
    tmp_path: Path,
) -> None:
    out = _openssl_verify(token.der, NOTE, local_tsa.root_path, tmp_path)
    assert "Verification: OK" in out
    # ... and OpenSSL, too, refuses it for other data.
    assert "Verification: OK" not in _openssl_verify(token.der, NOTE + b"x", local_tsa.root_path, tmp_path)


def test_bare_timestamp_token_is_accepted(
    local_tsa: RunningTSA,
    token: TimestampToken,
    tmp_path: Path,
) -> None:
    (tmp_path / "r.tsr").write_bytes(token.der)
    subprocess.run(
        ["openssl", "ts", "-reply", "-in", "r.tsr", "-token_out", "-out", "token.der"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    bare = (tmp_path / "token.der").read_bytes()
    assert bare != token.der
    assert verify_token(bare, NOTE, local_tsa.pinned()).gen_time == token.gen_time


def test_several_pinned_tsas_pick_the_signer(
    local_tsa: RunningTSA,
    make_tsa: MakeTSA,
    token: TimestampToken,
) -> None:
    other = make_tsa("other")
    verified = verify_token(token, NOTE, [other.pinned(), local_tsa.pinned()])
    assert verified.tsa.name == local_tsa.name


def test_fingerprint_only_pins_resolve_from_supplied_certificates(
    local_tsa: RunningTSA,
    token: TimestampToken,
) -> None:
    pins = PinnedTSA(
        name="by-fingerprint",
        certificate=CertPin(local_tsa.pinned().certificate.sha256),
        root=CertPin("sha256:" + local_tsa.pinned().root.sha256.upper()),
    )
    with pytest.raises(TimestampError, match="only by its fingerprint"):
        verify_token(token, NOTE, pins)
    # The bundle ships the root; it counts because its fingerprint is the pinned one.
    verified = verify_token(token, NOTE, pins, certificates=[local_tsa.pki.root.cert])
    assert verified.tsa.name == "by-fingerprint"


def test_unpinned_tsa_is_checked_for_imprint_and_nonce_only(local_tsa: RunningTSA) -> None:
    got = request_timestamp(NOTE, local_tsa.config(pinned=False))
    assert got.imprint == hashlib.sha256(NOTE).digest()
    # Trust is still the verifier's decision:
    assert verify_token(got, NOTE, local_tsa.pinned()).tsa.name == local_tsa.name


def test_token_stays_valid_after_the_tsa_certificate_expires(
    make_tsa: MakeTSA,
    tmp_path: Path,
) -> None:
    expires = _now().replace(microsecond=0) + dt.timedelta(seconds=2)
    short = make_tsa("short-lived", not_after=expires)
    tok = request_timestamp(NOTE, short.config())
    assert tok.gen_time <= expires
    while _now() <= expires + dt.timedelta(milliseconds=200):
        time.sleep(0.1)
    assert short.issued.cert.not_valid_after_utc < _now()  # it has expired now

    # Validation at genTime: still valid, in this project ...
    verified = verify_token(tok.der, NOTE, short.pinned())
    assert verified.gen_time == tok.gen_time
    # ... and in OpenSSL when asked to validate at genTime; at the current time it fails.
    out_now = _openssl_verify(tok.der, NOTE, short.root_path, tmp_path)
    assert "certificate has expired" in out_now
    at = str(int(tok.gen_time.timestamp()))
    assert "Verification: OK" in _openssl_verify(tok.der, NOTE, short.root_path, tmp_path, "-attime", at)


def test_verify_tokens_reports_each_token(
    local_tsa: RunningTSA,
    token: TimestampToken,
) -> None:
    checks = verify_tokens([token.der, b"junk"], NOTE, [local_tsa.pinned()])
    assert [c.ok for c in checks] == [True, False]
    assert checks[1].error is not None and "not an RFC 3161 time-stamp" in checks[1].error


# --------------------------------------------------------------------------- negatives


def test_wrong_imprint_is_rejected_with_both_digests(
    local_tsa: RunningTSA,
    token: TimestampToken,
) -> None:
    other = NOTE.replace(b"42", b"43")
    with pytest.raises(ImprintMismatchError) as err:
        verify_token(token, other, local_tsa.pinned())
    assert err.value.expected == hashlib.sha256(other).digest()
    assert err.value.actual == token.imprint
    assert "does not cover this data" in err.value.message
    assert token.imprint.hex() in err.value.message


def test_token_from_a_different_tsa_than_pinned(
    local_tsa: RunningTSA,
    make_tsa: MakeTSA,
) -> None:
    other = make_tsa("other")  # same root, but not the pinned TSA
    tok = request_timestamp(NOTE, other.config())
    with pytest.raises(TimestampError) as err:
        verify_token(tok, NOTE, local_tsa.pinned())
    msg = err.value.message
    assert "not a time-stamping authority the trust policy pins" in msg
    assert CertPin.of(other.issued.cert).sha256 in msg
    assert err.value.hint is not None and "separate channel" in err.value.hint


def test_self_signed_impostor_tsa_is_rejected(
    local_tsa: RunningTSA,
    token: TimestampToken,
    tmp_path: Path,
) -> None:
    impostor = local_tsa.pki.self_signed_tsa(local_tsa.issued.cert.subject.rfc4514_string()[3:])
    forged = resign_token(token.der, impostor, tmp_path)
    # The forgery is a well-formed token over the right data, with the real TSA's name.
    assert TimestampToken.parse(forged).imprint == token.imprint
    assert TimestampToken.parse(forged).tsa_subject == token.tsa_subject

    with pytest.raises(TimestampError) as err:
        verify_token(forged, NOTE, local_tsa.pinned())
    assert "carries the name of the pinned TSA" in err.value.message
    assert "self-signed" in err.value.message
    # Even when someone pins the impostor's certificate, it does not chain to the root.
    careless = PinnedTSA("careless", CertPin.of(impostor.cert), CertPin.of(local_tsa.pki.root.cert))
    with pytest.raises(TimestampError, match="self-signed: it was not issued under the pinned"):
        verify_token(forged, NOTE, careless)
    assert "Verification: OK" not in _openssl_verify(forged, NOTE, local_tsa.root_path, tmp_path)


def test_tsa_under_another_root_fails_the_chain(
    local_tsa: RunningTSA,
    make_tsa: MakeTSA,
    tmp_path: Path,
) -> None:
    rogue_pki = TestPKI(tmp_path / "rogue-pki", cn="Rogue Root")
    rogue = make_tsa("rogue", pki=rogue_pki, cn="Evidence Test TSA")
    tok = request_timestamp(NOTE, rogue.config())
    # Pinned leaf but the real root: step 11 (chain to the pinned root at genTime) fails,
    # even when the rogue root is handed in among the untrusted certificates.
    pins = PinnedTSA("mixed", CertPin.of(rogue.issued.cert), CertPin.of(local_tsa.pki.root.cert))
    for extra in ([], [rogue_pki.root.cert]):
        with pytest.raises(TimestampError, match="does not verify against the pinned root"):
            verify_token(tok, NOTE, pins, certificates=extra)


@pytest.mark.parametrize(
    ("eku", "reason"),
    [
        ("noncritical", "not marked critical"),
        ("none", "no extended key usage at all"),
        ("extra", "other purposes besides time-stamping"),
    ],
)
def test_tsa_certificate_without_the_critical_eku_is_rejected(
    local_tsa: RunningTSA,
    token: TimestampToken,
    tmp_path: Path,
    eku: str,
    reason: str,
) -> None:
    # `openssl ts -reply` refuses such a signer, so the genuine TSTInfo is re-signed with
    # `openssl cms -sign`: the same claim, by a certificate with the wrong profile.
    bad = local_tsa.pki.issue_tsa(f"Bad EKU TSA {eku}", eku=eku)  # type: ignore[arg-type]
    forged = resign_token(token.der, bad, tmp_path)
    pins = PinnedTSA("bad-eku", CertPin.of(bad.cert), CertPin.of(local_tsa.pki.root.cert))
    with pytest.raises(TimestampError) as err:
        verify_token(forged, NOTE, pins)
    assert reason in err.value.message
    assert "RFC 3161 §2.3" in err.value.message


def test_gen_time_outside_the_policy_window_is_rejected(
    local_tsa: RunningTSA,
    token: TimestampToken,
) -> None:
    hour = dt.timedelta(hours=1)
    for window in ({"not_after": token.gen_time - hour}, {"not_before": token.gen_time + hour}):
        with pytest.raises(TimestampError) as err:
            verify_token(token, NOTE, local_tsa.pinned(**window))
        assert "outside the period in which the trust policy accepts" in err.value.message
    inside = local_tsa.pinned(not_before=token.gen_time - hour, not_after=token.gen_time + hour)
    assert verify_token(token, NOTE, inside)


def test_gen_time_outside_the_certificate_validity_is_rejected(make_tsa: MakeTSA) -> None:
    now = _now()
    expired = make_tsa("expired", not_before=now - dt.timedelta(days=2), not_after=now - dt.timedelta(days=1))
    tok = request_timestamp(NOTE, expired.config(pinned=False))  # OpenSSL signs anyway
    with pytest.raises(TimestampError, match="cannot vouch for a time outside its validity"):
        verify_token(tok, NOTE, expired.pinned())


@pytest.mark.parametrize(
    "mangle",
    [
        lambda der: b"",
        lambda der: b"garbage",
        lambda der: der[: len(der) // 2],
        lambda der: der + b"\x00",
        lambda der: b"\x30\x82\xff\xff" + der[4:],
    ],
    ids=["empty", "junk", "truncated", "trailing-byte", "bad-length"],
)
def test_garbage_bytes_are_rejected(
    local_tsa: RunningTSA,
    token: TimestampToken,
    mangle: Callable[[bytes], bytes],
) -> None:
    with pytest.raises(TimestampError, match="not an RFC 3161 time-stamp"):
        verify_token(mangle(token.der), NOTE, local_tsa.pinned())


def test_altered_signature_is_rejected(local_tsa: RunningTSA, token: TimestampToken) -> None:
    der = bytearray(token.der)
    der[-5] ^= 0x01  # inside the ECDSA signature, the last field of the token
    with pytest.raises(TimestampError, match="signature or certificate chain does not verify"):
        verify_token(bytes(der), NOTE, local_tsa.pinned())


def test_refused_request_is_not_a_timestamp(local_tsa: RunningTSA, tmp_path: Path) -> None:
    q = tmp_path / "sha1.tsq"
    (tmp_path / "data").write_bytes(NOTE)
    subprocess.run(
        ["openssl", "ts", "-query", "-data", str(tmp_path / "data"), "-sha1", "-out", str(q)],
        check=True,
        capture_output=True,
    )
    refusal = local_tsa.tsa.reply(q.read_bytes())  # the TSA does not accept SHA-1
    with pytest.raises(TimestampError, match=r"did not grant a time-stamp .*rejection"):
        TimestampToken.parse(refusal)


# --------------------------------------------------------------------------- requests


def _config(url: str, timeout: float = 5.0) -> TSAConfig:
    return TSAConfig(name="flaky-tsa", url=url, timeout=timeout)


def test_tsa_answering_http_500(local_tsa: RunningTSA) -> None:
    with (
        TSAServer(local_tsa.tsa, mode="error") as server,
        pytest.raises(TimestampRequestError) as err,
    ):
        request_timestamp(NOTE, _config(server.url))
    assert "flaky-tsa" in err.value.message
    assert "HTTP error 500" in err.value.message


def test_tsa_that_hangs_times_out(local_tsa: RunningTSA) -> None:
    with TSAServer(local_tsa.tsa, mode="hang") as server:
        start = time.monotonic()
        with pytest.raises(TimestampRequestError) as err:
            request_timestamp(NOTE, _config(server.url, timeout=0.3))
        elapsed = time.monotonic() - start
        assert server.requests == 1  # it accepted the request, and never answered
    assert elapsed < 3
    assert "flaky-tsa" in err.value.message
    assert "did not answer within 0.3 seconds" in err.value.message


def test_tsa_that_cannot_be_reached() -> None:
    with pytest.raises(TimestampRequestError, match="could not be reached"):
        request_timestamp(NOTE, _config(unused_port_url()))


def test_tsa_answering_garbage(local_tsa: RunningTSA) -> None:
    with (
        TSAServer(local_tsa.tsa, mode="garbage") as server,
        pytest.raises(TimestampRequestError, match="not a valid time-stamp over what was sent"),
    ):
        request_timestamp(NOTE, _config(server.url))


@pytest.mark.parametrize("pinned", [False, True])
def test_tsa_replaying_an_old_answer(
    local_tsa: RunningTSA,
    token: TimestampToken,
    pinned: bool,
) -> None:
    with TSAServer(local_tsa.tsa, mode="fixed", fixed=token.der) as server:
        cfg = local_tsa.config(pinned=pinned)
        cfg = TSAConfig(cfg.name, server.url, cfg.certificate, cfg.sha256, cfg.root, cfg.timeout)
        # The same note: imprint matches, but the nonce is the old one.
        with pytest.raises(TimestampRequestError, match="nonce"):
            request_timestamp(NOTE, cfg)
        # Another note: the imprint does not match.
        with pytest.raises(TimestampRequestError, match="digest"):
            request_timestamp(NOTE + b"other", cfg)


def test_pinned_tsa_whose_answer_does_not_verify_stores_nothing(
    local_tsa: RunningTSA,
    make_tsa: MakeTSA,
) -> None:
    other = make_tsa("other")
    cfg = TSAConfig("pinned-local", other.url, certificate=local_tsa.cert_path, root=local_tsa.root_path)
    with pytest.raises(TimestampRequestError, match="not a time-stamping authority the trust"):
        request_timestamp(NOTE, cfg)


def test_unusable_pins_are_reported_before_asking(local_tsa: RunningTSA, tmp_path: Path) -> None:
    cfg = TSAConfig("misconfigured", local_tsa.url, certificate=tmp_path / "no.pem", root=tmp_path)
    before = local_tsa.server.requests
    with pytest.raises(TimestampRequestError) as err:
        request_timestamp(NOTE, cfg)
    assert "pins configured for the time-stamping authority misconfigured" in err.value.message
    assert "no.pem" in err.value.message
    assert local_tsa.server.requests == before  # not asked


# --------------------------------------------------------------------------- the log hook


def test_log_hook_stores_tokens_and_warns_about_a_failing_tsa(
    local_tsa: RunningTSA,
    tmp_path: Path,
) -> None:
    down = TSAConfig("down-tsa", unused_port_url(), timeout=1)
    broken = TSAConfig("broken-pins", local_tsa.url, sha256="0" * 64, root=tmp_path / "none.pem")
    hook = timestamper([down, broken, local_tsa.config()])
    log = Log.create(tmp_path / "log", "example.org/evidence/test", after_checkpoint=hook)
    with log, pytest.warns(MissingTimestampWarning) as caught:
        log.append([b"entry one"])
        size = log.size
        stored = log.timestamps(size)
        note = log.checkpoint_note(size)
    assert len(caught) == 2  # one warning per failed TSA, naming it; the others still asked
    assert "checkpoint 1 got no time-stamp from TSA down-tsa" in str(caught[0].message)
    assert "TSA broken-pins" in str(caught[1].message)
    assert len(stored) == 1
    assert verify_token(stored[0], note, local_tsa.pinned()).tsa.name == local_tsa.name
    [report] = hook.reports
    assert [o.ok for o in report.outcomes] == [False, False, True]
    assert [f.tsa for f in report.failures] == ["down-tsa", "broken-pins"]


def test_checkpoint_is_kept_without_any_timestamp(local_tsa: RunningTSA, tmp_path: Path) -> None:
    with TSAServer(local_tsa.tsa, mode="error") as server:
        hook = timestamper([TSAConfig("broken-tsa", server.url)])
        log = Log.create(tmp_path / "log", "example.org/evidence/test", after_checkpoint=hook)
        with log:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert log.append([b"a", b"b"]) == [0, 1]
            assert log.size == 2
            assert log.timestamps(2) == []  # the mark: no token, nothing claimed
            assert any(issubclass(w.category, MissingTimestampWarning) for w in caught)

            # Later, with the TSA back: fill the gap.
            report = stamp_checkpoint(log, 2, [local_tsa.config()])
            assert len(report.tokens) == 1 and not report.failures
            assert len(log.timestamps(2)) == 1


def test_certificates_in_a_token_are_only_displayed(token: TimestampToken) -> None:
    certs = token.embedded_certificates()
    assert len(certs) == 1 and isinstance(certs[0], x509.Certificate)
    lines = "\n".join(token.describe())
    assert "genTime" in lines and token.imprint.hex() in lines


# --------------------------------------------------------------------------- configuration


def test_config_reads_tsas_from_evidence_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "config.toml").write_text(
        "[[tsa]]\n"
        'name = "first"\n'
        'url = "https://tsa.example/tsr"\n'
        'certificate = "tsa/first.pem"\n'
        'root = "/etc/roots/root.pem"\n'
        "timeout = 3\n"
        "[[tsa]]\n"
        'name = "second"\n'
        'url = "http://127.0.0.1:9/tsr"\n'
        'sha256 = "SHA256:' + ":".join(["AB"] * 32) + '"\n'
    )
    monkeypatch.setenv("EVIDENCE_HOME", str(tmp_path))
    assert evidence_home() == tmp_path
    cfg = load_config()
    first, second = cfg.tsas
    assert first.certificate == tmp_path / "tsa" / "first.pem"
    assert first.root == Path("/etc/roots/root.pem")
    assert first.timeout == 3.0 and first.pinned
    assert second.sha256 == "ab" * 32 and not second.pinned
    assert second.timeout == 10.0
    assert cfg.trust_policy_path == tmp_path / "trust.policy"


def test_config_defaults_and_missing_file(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path)}
    assert evidence_home(env) == tmp_path / ".local" / "share" / "evidence"
    assert evidence_home({**env, "XDG_DATA_HOME": "/x"}) == Path("/x/evidence")
    assert load_config(tmp_path / "nowhere").tsas == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[[tsa]]\nname = 'a'\nurl = 'ftp://x/'\n", "must start with http"),
        ("[[tsa]]\nname = 'a'\nurl = 'https://x/'\nsha256 = 'abc'\n", "not a SHA-256"),
        ("[[tsa]]\nname = 'a'\nurl = 'https://x/'\ntimeout = 0\n", "timeout"),
        ("[[tsa]]\nname = 'a'\nurl = 'https://x/'\ncert = 'x.pem'\n", "unknown key"),
        ("[[tsa]]\nurl = 'https://x/'\n", "needs a name"),
        ("[[tsa]]\nname='a'\nurl='https://x/'\n[[tsa]]\nname='a'\nurl='https://y/'\n", "unique"),
        ("[[tsas]]\nname = 'a'\n", "unknown setting"),
        ("tsa = 'x'\n", "array of tables"),
        ("[[tsa]\n", "not valid TOML"),
    ],
)
def test_config_errors_are_plain(tmp_path: Path, text: str, reason: str) -> None:
    with pytest.raises(FormatError, match=reason):
        parse_config(text, tmp_path)


def test_command_line_tsas_replace_the_configured_ones(tmp_path: Path) -> None:
    configured = (
        TSAConfig("a", "https://a.example/tsr", root=tmp_path / "r.pem", sha256="0" * 64),
        TSAConfig("b", "https://b.example/tsr"),
    )
    assert select_tsas(configured, []) == configured
    # A name or the URL of a configured TSA keeps its pins; other URLs come unpinned.
    picked = select_tsas(configured, ["https://a.example/tsr", "https://c.example/ts"], timeout=2)
    assert picked[0].pinned and picked[0].name == "a" and picked[0].timeout == 2
    assert picked[1] == TSAConfig("c.example/ts", "https://c.example/ts", timeout=2)
    assert select_tsas(configured, ["b"]) == (configured[1],)
    with pytest.raises(UsageError, match="neither a URL"):
        select_tsas(configured, ["nope"])


# --------------------------------------------------------------------------- command line


def _cli(*argv: str) -> int:
    """`evidence timestamp ...`, in-process through the real entry point."""
    return cli_main(["timestamp", *argv])


@pytest.fixture
def two_checkpoints(tmp_path: Path) -> Path:
    """A log with checkpoints of size 1 and 2 and no time-stamps."""
    path = tmp_path / "log"
    with Log.create(path, "example.org/evidence/cli") as log:
        log.append([b"one"])
        log.append([b"two"])
    return path


def test_cli_add_fills_gaps_and_reports_failures(
    local_tsa: RunningTSA,
    two_checkpoints: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = ["--home", str(tmp_path / "home")]
    down = unused_port_url()
    assert _cli("add", str(two_checkpoints), "--missing", "--tsa", down, *home) == 1
    err = capsys.readouterr().err
    assert f"no time-stamp from {down[len('http://') :]}" in err and "could not be reached" in err
    assert "checkpoint 1 has NO independent time-stamp" in err
    assert err.count("could not be reached") == 1  # a failed TSA is not asked again
    assert "not asking 127.0.0.1" in err and "checkpoint 2 has NO independent" in err

    assert _cli("status", str(two_checkpoints)) == 0
    out = capsys.readouterr().out
    assert "checkpoint 1: NO independent time-stamp" in out
    assert "2 checkpoint(s) lack an independent time-stamp" in out

    assert _cli("add", str(two_checkpoints), "--missing", "--tsa", local_tsa.url, *home) == 0
    out = capsys.readouterr().out
    assert "checkpoint 1: time-stamp from 127.0.0.1" in out and "(not pinned)" in out
    assert "checkpoint 2: time-stamp from" in out
    assert _cli("add", str(two_checkpoints), "--missing", "--tsa", local_tsa.url, *home) == 0
    assert "Every checkpoint already has" in capsys.readouterr().out

    # Re-time-stamping later adds a second token beside the first.
    assert _cli("add", str(two_checkpoints), "--size", "2", "--tsa", local_tsa.url, *home) == 0
    with Log.open(two_checkpoints) as log:
        assert [len(log.timestamps(s)) for s in (1, 2)] == [1, 2]


def test_cli_add_uses_config_toml_and_verifies_pinned_tsas(
    local_tsa: RunningTSA,
    two_checkpoints: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    assert _cli("add", str(two_checkpoints), "--home", str(home)) == 2
    assert "no time-stamping authority to ask" in capsys.readouterr().err

    (home / "config.toml").write_text(
        f'[[tsa]]\nname = "local"\nurl = "{local_tsa.url}"\n'
        f'certificate = "{local_tsa.cert_path}"\nroot = "{local_tsa.root_path}"\n'
    )
    assert _cli("add", str(two_checkpoints), "--home", str(home)) == 0
    out = capsys.readouterr().out
    assert "checkpoint 2: time-stamp from local at" in out and "verified against its pins" in out


def test_cli_status_verify_and_show(
    local_tsa: RunningTSA,
    make_tsa: MakeTSA,
    two_checkpoints: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = make_tsa("unpinned")
    home = ["--home", str(tmp_path)]
    assert _cli("add", str(two_checkpoints), "--tsa", local_tsa.url, "--tsa", other.url, *home) == 0
    policy = tmp_path / "trust.policy"
    policy.write_text("quorum none\n" + local_tsa.policy_lines())
    capsys.readouterr()

    assert _cli("status", str(two_checkpoints), "--policy", str(policy)) == 0
    out = capsys.readouterr().out
    assert "checkpoint 2: 2 time-stamp(s)" in out
    assert "verified: TSA local-tsa certifies that the data existed at" in out
    assert "REJECTED: The time-stamp was signed by CN=Evidence Test TSA unpinned" in out

    with Log.open(two_checkpoints) as log:
        note = log.checkpoint_note(2)
        tokens = log.timestamps(2)
    (tmp_path / "note").write_bytes(note)
    [mine] = [t for t in tokens if verify_tokens([t], note, [local_tsa.pinned()])[0].ok]
    (tmp_path / "t.tsr").write_bytes(mine)
    args = ["verify", str(tmp_path / "t.tsr"), "--note", str(tmp_path / "note")]

    assert _cli(*args, "--policy", str(policy)) == 0
    assert "Verified: TSA local-tsa certifies" in capsys.readouterr().out
    pins = ["--tsa-cert", str(local_tsa.cert_path), "--root", str(local_tsa.root_path)]
    assert _cli(*args, *pins) == 0
    capsys.readouterr()
    assert _cli(*args, *pins, "--not-after", "2001-01-01T00:00:00Z") == 1
    assert "outside the period" in capsys.readouterr().err
    assert _cli(*args) == 2
    assert "say whom to trust" in capsys.readouterr().err

    (tmp_path / "note").write_bytes(note + b"tampered")
    assert _cli(*args, "--policy", str(policy)) == 1
    assert "does not cover this data" in capsys.readouterr().err

    assert _cli("show", str(tmp_path / "t.tsr")) == 0
    out = capsys.readouterr().out
    assert "nothing here is verified or trusted" in out
    assert "certificate in the token: CN=Evidence Test TSA" in out
    (tmp_path / "junk.tsr").write_bytes(b"junk")
    assert _cli("show", str(tmp_path / "junk.tsr")) == 1
    assert "not an RFC 3161 time-stamp" in capsys.readouterr().err
