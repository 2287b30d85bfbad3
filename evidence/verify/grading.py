"""The grading: the five claims, the verdict and summary, the facts, and the report built from
the steps' typed results (:class:`Learned`).

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from evidence.note import Verifier
from evidence.timestamp import (
    PinnedTSA,
)
from evidence.trust import TrustPolicy
from evidence.verify.common import (
    Fail,
    iso,
)
from evidence.verify.results import (
    GRADE_KEYS,
    Claim,
    Grade,
    Report,
    StepResult,
    Verdict,
)
from evidence.verify.step2_manifest import Step2Result
from evidence.verify.step4_inclusion import Step4Result
from evidence.verify.step5_log_signature import Step5Result
from evidence.verify.step6_cosignatures import Step6Result
from evidence.verify.step7_timestamps import Step7Result
from evidence.verify.step8_consistency import Step8Result


@dataclass(frozen=True)
class Learned:
    """What the steps established, as their results: those that passed, and what a failed step
    had established before it failed (:attr:`~evidence.verify.common.Fail.learned`)."""

    sealed: Step2Result | None = None
    inclusion: Step4Result | None = None
    log: Step5Result | None = None
    clock: Step6Result | None = None
    timestamps: Step7Result | None = None
    consistency: Step8Result | None = None


def _manifest_bytes(learned: Learned) -> bytes:
    return learned.sealed.manifest_bytes if learned.sealed is not None else b""


def facts(learned: Learned) -> tuple[tuple[str, str], ...]:
    """The facts for people: what was preserved, when, and where it is in the log."""
    m = learned.sealed.manifest if learned.sealed is not None else {}
    out: list[tuple[str, str]] = []
    if m:
        out.append(("Page requested", str(m.get("url"))))
        if m.get("final_url") != m.get("url"):
            out.append(("Page shown", str(m.get("final_url"))))
        out.append(("HTTP status", str(m.get("status"))))
        out.append(("Captured (capture clock)", str(m.get("capture_started"))))
        for key in ("case", "operator"):
            if m.get(key):
                out.append((key.capitalize(), str(m.get(key))))
        out.append(
            (
                "Manifest SHA-256",
                hashlib.sha256(_manifest_bytes(learned)).hexdigest(),
            )
        )
    if learned.inclusion is not None:
        cp = learned.inclusion.signed.checkpoint
        out.append(("Log", cp.origin))
        out.append(("Entry", f"{learned.inclusion.proof.index} (of {cp.size} in the checkpoint)"))
    attempts = learned.consistency.attempts if learned.consistency is not None else None
    if attempts is not None:
        out.append(("Attempts", attempts.text))
    bracket = learned.consistency.bracket if learned.consistency is not None else None
    if bracket is not None:
        out.append(("Capture window (independent times)", bracket.detail))
    return tuple(out)


def data(learned: Learned) -> tuple[tuple[str, Any], ...]:
    """The facts for machines: stable snake_case keys, numbers as numbers, ISO 8601 UTC times."""
    m = learned.sealed.manifest if learned.sealed is not None else {}
    out: dict[str, Any] = {}
    if m:
        out["url"] = m.get("url")
        out["final_url"] = m.get("final_url")
        status = m.get("status")
        out["http_status"] = status if isinstance(status, int) and not isinstance(status, bool) else None
        out["capture_started"] = m.get("capture_started")
        out["case"] = m.get("case") or None
        out["operator"] = m.get("operator") or None
        out["manifest_sha256"] = hashlib.sha256(
            learned.sealed.manifest_bytes if learned.sealed is not None else b""
        ).hexdigest()
    if learned.inclusion is not None:
        cp = learned.inclusion.signed.checkpoint
        out["log_origin"] = cp.origin
        out["entry_index"] = learned.inclusion.proof.index
        out["tree_size"] = cp.size
        out["root_hash"] = cp.root_hash.hex()
    attempts = learned.consistency.attempts if learned.consistency is not None else None
    if attempts is not None:
        out.update(attempts.to_data())
    if learned.clock is not None:
        out["signed_time"] = iso(learned.clock.clock_time)
        out["signed_time_unix"] = learned.clock.clock_time
    tokens = learned.timestamps.tokens if learned.timestamps is not None else ()
    good = sorted(t.time for t in tokens if t.grade is Grade.VERIFIED and t.time is not None)
    out["independent_time"] = iso(good[0]) if good else None
    out["independent_time_unix"] = int(good[0].timestamp()) if good else None
    out["timestamps"] = [
        {
            "file": t.name,
            "grade": t.grade.value,
            "status": GRADE_KEYS[t.grade],
            "time": iso(t.time) if t.time is not None else None,
            "time_unix": int(t.time.timestamp()) if t.time is not None else None,
        }
        for t in tokens
    ]
    c = learned.consistency
    if c is not None and c.bracket is not None:
        out["capture_window"] = c.bracket.to_json()
    if c is not None and c.qa_flags:
        out["qa_flags"] = list(c.qa_flags)
    start = learned.timestamps.start if learned.timestamps is not None else None
    if start is not None:
        out["clean_environment"] = {"verdict": start.verdict, "overrides": list(start.overrides)}
    return tuple(out.items())


def claims(steps: Sequence[StepResult], learned: Learned) -> tuple[Claim, ...]:
    """The five claim lines, each graded on its own."""
    failed = next((s.number for s in steps if not s.ok), None)
    ran = {s.number for s in steps if s.ok}

    def grade_for(step_set: set[int], ok_grade: Grade | None, ok_detail: str) -> tuple[Grade, str]:
        if failed in step_set and ok_grade is None:
            return Grade.FAILED, f"Failed at step {failed}."
        if ok_grade is not None:
            return ok_grade, ok_detail
        return Grade.NOT_CHECKED, "Not checked: an earlier step failed."

    log, clock_result, stamps = learned.log, learned.clock, learned.timestamps
    tokens = stamps.tokens if stamps is not None else ()
    integrity: tuple[Grade, str]
    if failed in (1, 2, 8):
        integrity = (Grade.FAILED, f"Failed at step {failed}.")
    elif {1, 2, 3, 8} <= ran:
        integrity = (
            Grade.VERIFIED,
            "Every preserved file is byte for byte the file sealed at capture time, and the records agree.",
        )
    elif {1, 2} <= ran:
        integrity = (Grade.NOT_CHECKED, "The files match their seal; the cross-checks of step 8 did not run.")
    else:
        integrity = (Grade.NOT_CHECKED, "Not checked: an earlier step failed.")
    log_grade = None
    if log is not None and 5 in ran:
        log_grade = Grade.VERIFIED if log.anchored else Grade.NOT_ANCHORED
    inclusion = grade_for({4, 5}, log_grade, log.log_detail if log is not None else "")
    clock = grade_for(
        {6},
        clock_result.clock_grade if clock_result is not None else None,
        clock_result.clock_detail if clock_result is not None else "",
    )
    witnesses = grade_for(
        {6},
        clock_result.witness_grade if clock_result is not None and 6 in ran else None,
        clock_result.witness_detail if clock_result is not None else "",
    )
    if 7 in ran:
        if not tokens:
            tsa = (
                Grade.NONE,
                "The bundle carries no independent time-stamp; its time rests on the log alone. If a "
                "time-stamping authority was down when it was sealed, 'evidence refresh' can add one now.",
            )
        else:
            good = sorted((t.time, t.name) for t in tokens if t.grade is Grade.VERIFIED and t.time is not None)
            detail = " ".join(f"{t.name}: {t.text}" for t in tokens)
            if good:
                detail = (
                    f"The entry existed no later than {iso(good[0][0])} ({good[0][1]}, the earliest time-stamp "
                    f"from an authority you pin). {detail}"
                )
            tsa = (Grade.VERIFIED if good else Grade.NOT_ANCHORED, detail)
    else:
        tsa = grade_for({7}, None, "")
    return (
        Claim("Integrity of the preserved files", *integrity),
        Claim("Recorded in the log", *inclusion),
        Claim("Signed time (the log's clock)", *clock),
        Claim("Independent time (RFC 3161)", *tsa),
        Claim("Witnesses", *witnesses),
    )


def report(path: str, trust: str, steps: tuple[StepResult, ...], unusable: Fail | None, learned: Learned) -> Report:
    """The report: verdict, summary, steps, claims, facts, what to confirm and the warnings."""
    if unusable is not None:
        return Report(
            path=path,
            verdict=Verdict.UNUSABLE,
            summary=f"This file cannot be checked as an evidence bundle: {unusable.detail}",
            steps=steps,
            claims=(),
            trust=trust,
        )
    graded = claims(steps, learned)
    failed = next((s for s in steps if not s.ok), None)
    unanchored = "; ".join(c.name for c in graded if c.grade is Grade.NOT_ANCHORED)
    to_confirm = tuple(
        t for part in (learned.log, learned.clock, learned.timestamps) if part is not None for t in part.to_confirm
    )
    if failed is not None:
        files = f" (file: {', '.join(failed.files)})" if failed.files else ""
        verdict = Verdict.FAILED
        summary = f"Verification FAILED at step {failed.number}, {failed.title.lower()}{files}: {failed.detail}"
        to_confirm = ()
    elif unanchored:
        verdict = Verdict.NOT_ANCHORED
        summary = (
            "The bundle is internally consistent: every file matches its seal, the seal is in the log's "
            "checkpoint, and the signatures check out. But some of them were checked only with keys or "
            f"certificates found inside the bundle itself ({unanchored}), which anyone could have made. "
            "Confirm the fingerprints below with their owners, then verify again trusting them."
        )
    else:
        verdict = Verdict.VERIFIED
        summary = (
            "Every check passed against keys you trust: the files are exactly those sealed at capture time, the "
            "seal is recorded in the log, and the times above are signed as stated."
        )
    return Report(
        path=path,
        verdict=verdict,
        summary=summary,
        steps=steps,
        claims=graded,
        to_confirm=to_confirm,
        trust=trust,
        facts=facts(learned),
        data=data(learned),
        warnings=learned.consistency.warnings if learned.consistency is not None else (),
    )


def describe_trust(
    policy: TrustPolicy | None,
    keys: Sequence[Verifier],
    pins: Sequence[PinnedTSA],
    certs: Sequence[x509.Certificate],
) -> str:
    """What the user trusts, in one line for the report."""
    parts = []
    if policy is not None:
        parts.append(
            f"a trust policy with {len(policy.logs)} log(s), {len(policy.witnesses)} witness(es) (quorum "
            f"{policy.quorum}) and {len(policy.tsas)} pinned TSA(s)"
        )
    if keys:
        parts.append(f"{len(keys)} key(s) you gave (" + ", ".join(f"{k.name}+{k.key_id:08x}" for k in keys) + ")")
    if pins or certs:
        parts.append(f"{len(pins) + len(certs)} TSA certificate(s) you gave")
    return "; ".join(parts) if parts else "none (no trust policy and no key given)"
