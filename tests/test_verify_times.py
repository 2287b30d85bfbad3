"""Step 8, time that cannot be true: capture start/end, WARC dates, the log's signed time,
witness cosignatures and RFC 3161 genTimes in an order that can be true (within
CLOCK_TOLERANCE_S); suspicious gaps are warnings. Bundles are hand-made and sealed for real."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from tsa.fixtures import RunningTSA, local_tsa, tsa_pki  # noqa: F401 - fixtures
from vcheck_helpers import FAVICON, ICON, PAGE, Rec, failed_at, new_log, now, policy_text, resign, sealed

from evidence.bundle import MANIFEST_PATH, PROOF_PATH, WARC_PATH
from evidence.log import Log
from evidence.note import ALG_COSIGNATURE_V1, Signer
from evidence.trust import TrustPolicy
from evidence.verify import CLOCK_TOLERANCE_S, Verdict, verify


def _policy(log: Log, *extra: str, tsa: RunningTSA | None = None) -> TrustPolicy:
    return TrustPolicy.parse(policy_text(log, *extra, tsa_lines=tsa.policy_lines() if tsa else ""))


def test_a_normal_capture_verifies_without_warnings(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    report = verify(sealed(tmp_path, log), trust=_policy(log))
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert report.warnings == ()
    assert "the times are in a possible order" in report.steps[7].detail


def test_capture_after_the_log_signed_fails(tmp_path: Path) -> None:
    """The capture clock 30 days after the log signed the checkpoint holding its seal."""
    log = new_log(tmp_path)
    bundle = sealed(tmp_path, log, started=now() + timedelta(days=30))
    failed_at(verify(bundle, trust=_policy(log)), 8, MANIFEST_PATH, "A capture cannot be sealed before it ends")


def test_capture_just_within_the_tolerance_verifies(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    start = now() + timedelta(seconds=CLOCK_TOLERANCE_S - 60)
    report = verify(sealed(tmp_path, log, started=start, duration=timedelta(seconds=5)), trust=_policy(log))
    assert report.verdict is Verdict.VERIFIED, report.render_text()


def test_capture_long_before_the_log_signed_is_a_warning(tmp_path: Path) -> None:
    """400 days between the capture and the log's signature: possible, but a reader must know."""
    log = new_log(tmp_path)
    report = verify(sealed(tmp_path, log, started=now() - timedelta(days=400)), trust=_policy(log))
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert len(report.warnings) == 1 and "400 days after the capture ended" in report.warnings[0]
    assert "WARNINGS" in report.render_text() and report.to_dict()["warnings"] == list(report.warnings)


def test_end_before_start_fails(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    start = now() - timedelta(minutes=20)
    bundle = sealed(tmp_path, log, started=start, finished=start - timedelta(hours=1))
    failed_at(verify(bundle, trust=_policy(log)), 8, MANIFEST_PATH, "before it started")


def test_a_clock_stepped_back_a_second_is_tolerated(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    start = now() - timedelta(minutes=1)
    bundle = sealed(tmp_path, log, started=start, finished=start - timedelta(seconds=1))
    assert verify(bundle, trust=_policy(log)).verdict is Verdict.VERIFIED


def test_a_capture_that_lasted_hours_is_a_warning(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    start = now() - timedelta(hours=3, minutes=1)
    report = verify(sealed(tmp_path, log, started=start, duration=timedelta(hours=3)), trust=_policy(log))
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert len(report.warnings) == 1 and "The capture lasted 3.0 hours" in report.warnings[0]


@pytest.mark.parametrize(
    "offset", [timedelta(days=-1), timedelta(seconds=-CLOCK_TOLERANCE_S - 5), timedelta(minutes=20)]
)
def test_a_warc_record_outside_the_capture_fails(tmp_path: Path, offset: timedelta) -> None:
    """A record dated before the capture started, or after it finished (beyond tolerance)."""
    log = new_log(tmp_path)
    start = now() - timedelta(hours=1)
    end = start + timedelta(seconds=10)
    when = start + offset if offset < timedelta(0) else end + offset
    recs = [Rec(PAGE, start + timedelta(seconds=1)), Rec(FAVICON, when, ICON, "image/x-icon")]
    bundle = sealed(tmp_path, log, started=start, finished=end, records=recs)
    failed_at(verify(bundle, trust=_policy(log)), 8, WARC_PATH, "outside the capture", FAVICON)


def test_the_warcinfo_record_is_in_the_window_too(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    start = now() - timedelta(hours=1)
    bundle = sealed(tmp_path, log, started=start, info_date=start - timedelta(days=2))
    failed_at(verify(bundle, trust=_policy(log)), 8, WARC_PATH, "warcinfo")


def test_a_warc_record_written_just_after_the_end_verifies(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    start = now() - timedelta(minutes=10)
    bundle = sealed(tmp_path, log, started=start, info_date=start + timedelta(seconds=60))
    assert verify(bundle, trust=_policy(log)).verdict is Verdict.VERIFIED


@pytest.mark.parametrize("date", ["yesterday", "2026-12-01", "2026-02-30T10:00:00Z", "2026-12-01T10:00:00+01:00"])
def test_a_warc_record_without_a_valid_date_fails(tmp_path: Path, date: str) -> None:
    import gzip

    log = new_log(tmp_path)
    bundle = sealed(tmp_path, log)
    from verify_helpers import members, reseal

    warc = members(bundle)[WARC_PATH]
    record = (
        "WARC/1.1\r\nWARC-Type: metadata\r\nWARC-Record-ID: <urn:uuid:12345678-1234-1234-1234-123456789abc>\r\n"
        f"WARC-Date: {date}\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n"
    ).encode()
    fake = reseal(bundle, tmp_path / "f.wacz", log, sealed={WARC_PATH: warc + gzip.compress(record)})
    failed_at(verify(fake, trust=_policy(log)), 8, WARC_PATH, "no valid WARC-Date")


@pytest.mark.parametrize(
    "value", [None, "", "2026-13-01T00:00:00Z", "01/12/2026 10:00", 1764547200, "\uff12026-12-01T00:00:00Z"]
)
def test_a_capture_time_that_is_not_a_time_fails(tmp_path: Path, value: object) -> None:
    log = new_log(tmp_path)
    bundle = sealed(tmp_path, log, facts={"started_at": value})
    failed_at(verify(bundle, trust=_policy(log)), 8, MANIFEST_PATH, "capture_started")


def test_a_time_stamp_before_the_capture_fails(tmp_path: Path, local_tsa: RunningTSA) -> None:
    """A log operator who back-signs: its clock agrees with a capture dated tomorrow, but the
    real TSA dates the same checkpoint today."""
    log = new_log(tmp_path)
    start = now() + timedelta(days=1)
    bundle = sealed(tmp_path, log, started=start)
    forged = resign(bundle, tmp_path / "f.wacz", log, clock=int(start.timestamp()) + 60, tsas=[local_tsa.config()])
    report = verify(forged, trust=_policy(log, tsa=local_tsa))
    failed_at(report, 8, "evidence/checkpoint.1.tsr", "before the capture it holds had finished")
    assert report.steps[6].ok and "VERIFIED" in report.steps[6].detail  # the token itself is genuine


def test_a_time_stamp_before_the_log_clock_fails(tmp_path: Path, local_tsa: RunningTSA) -> None:
    log = new_log(tmp_path)
    bundle = sealed(tmp_path, log, started=now() - timedelta(hours=1))
    forged = resign(bundle, tmp_path / "f.wacz", log, clock=int(time.time()) + 86400, tsas=[local_tsa.config()])
    failed_at(
        verify(forged, trust=_policy(log, tsa=local_tsa)), 8, "evidence/checkpoint.1.tsr", "before the log's clock"
    )


def test_a_witness_cosignature_before_the_capture_fails(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    w = Signer.generate("witness.test/w1", ALG_COSIGNATURE_V1)
    bundle = sealed(tmp_path, log, started=now() - timedelta(hours=1))
    forged = resign(
        bundle, tmp_path / "f.wacz", log, clock=int(time.time()), witnesses=[(w, int(time.time()) - 2 * 86400)]
    )
    policy = _policy(log, f"witness w1 {w.verifier().vkey()}", "quorum w1")
    report = verify(forged, trust=policy)
    failed_at(report, 8, PROOF_PATH, "witness.test/w1 cosigned", "before the capture finished")
    assert report.steps[5].ok


def test_a_witness_cosignature_after_the_capture_verifies(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    w = Signer.generate("witness.test/w1", ALG_COSIGNATURE_V1)
    bundle = sealed(tmp_path, log, started=now() - timedelta(hours=1))
    forged = resign(bundle, tmp_path / "f.wacz", log, clock=int(time.time()), witnesses=[(w, int(time.time()))])
    report = verify(forged, trust=_policy(log, f"witness w1 {w.verifier().vkey()}", "quorum w1"))
    assert report.verdict is Verdict.VERIFIED, report.render_text()


def test_a_later_refreshed_checkpoint_is_not_a_late_signature(tmp_path: Path, local_tsa: RunningTSA) -> None:
    """Refreshes carry later checkpoints by design: only the bundle's own checkpoint counts
    for the late-signature warning, and a later refresh time-stamp is fine."""
    from evidence.bundle.refresh_writer import refresh_bundle

    log = new_log(tmp_path)
    bundle = sealed(tmp_path, log, started=now() - timedelta(minutes=2))
    log.append([b"a later entry"])
    refresh_bundle(bundle, location=str(tmp_path / "log"), log_keys=[log.verifier], tsas=[local_tsa.config()])
    report = verify(bundle, trust=_policy(log, tsa=local_tsa))
    assert report.verdict is Verdict.VERIFIED, report.render_text()
    assert report.warnings == ()
    assert "refresh-1.1.tsr" in report.steps[6].detail
