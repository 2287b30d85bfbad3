"""Steps 7 and 8, the time bracket: the start token over the clean-environment report, and
the window [T1, T2] it and the end time-stamps put the capture in.

- :func:`check_start` (run by step 7, with step 7's own token checker): the start token
  ``evidence/start.tsr`` certifies ``SHA-256(report digest || nonce)`` of
  ``evidence/clean-environment.json`` (docs/bundle-format.md) and is graded like the
  checkpoint's tokens (signature and chain against the TSAs you pin).
- :func:`check_window` (run by step 8): T1 (the start token's time) is not after T2 (the
  earliest time-stamp over the sealed checkpoint); the capture clock's start is not before
  T1 and every WARC record date falls inside the window, within the stated tolerance.

Bundles without ``clean-environment.json`` (made before the check existed) have no
bracket; nothing here applies to them.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from evidence.bundle.format import (
    CLEAN_FORMAT,
    CLEAN_PATH,
    MANIFEST_PATH,
    START_TOKEN_PATH,
    clean_report_digest,
    start_message,
)
from evidence.errors import EvidenceError
from evidence.timestamp import MAX_RESPONSE_BYTES, TimestampToken
from evidence.verify.common import CLOCK_TOLERANCE_S, Fail, TokenOutcome, Window, span, when_text
from evidence.verify.context import Context
from evidence.verify.results import Grade

#: How step 7 checks one token: ``check_token(name, message, pem_name=..., note_path=...)``.
CheckToken = Callable[..., TokenOutcome]


@dataclass(frozen=True)
class StartStamp:
    """What the clean-environment report and its start token established."""

    outcome: TokenOutcome | None  # None: the bundle has a report but no start token
    time: float | None  # the start token's genTime (claimed, if not verified)
    verdict: str
    overrides: tuple[str, ...]
    failed_items: tuple[tuple[str, str], ...]  # (check, why) of FAIL items the user allowed


def check_start(ctx: Context, check_token: CheckToken) -> StartStamp | None:
    """The clean-environment report's start token, or None for a bundle without the report."""
    if not ctx.v.has(CLEAN_PATH):
        if ctx.v.has(START_TOKEN_PATH):
            raise Fail(
                f"{START_TOKEN_PATH} is in the bundle without {CLEAN_PATH}, which it belongs to.", START_TOKEN_PATH
            )
        return None
    report = ctx.json(CLEAN_PATH)
    if (
        not isinstance(report, dict)
        or report.get("format") != CLEAN_FORMAT
        or not isinstance(report.get("items"), list)
    ):
        raise Fail(f"{CLEAN_PATH} is not a clean-environment report ({CLEAN_FORMAT}).", CLEAN_PATH)
    start = report.get("start")
    if not isinstance(start, dict):
        raise Fail(f"{CLEAN_PATH} has no 'start' record.", CLEAN_PATH)
    digest = clean_report_digest(report)
    if not hmac.compare_digest(str(start.get("report_sha256")), digest.hex()):
        raise Fail(
            f"{CLEAN_PATH} records the digest {start.get('report_sha256')} for its checks before the first request, "
            f"but they have the digest {digest.hex()}: they were changed after the start token was asked for.",
            CLEAN_PATH,
        )
    nonce_hex = start.get("nonce")
    if not isinstance(nonce_hex, str) or not re.fullmatch(r"[0-9a-f]{64}", nonce_hex):
        raise Fail(f"{CLEAN_PATH}: the start nonce is not 32 bytes of lower-case hex.", CLEAN_PATH)
    items = [i for i in report["items"] + list(report.get("added_before_sealing") or []) if isinstance(i, dict)]
    overrides = tuple(str(i.get("check")) for i in items if i.get("overridden"))
    failed = tuple((str(i.get("check")), str(i.get("why"))) for i in items if i.get("verdict") == "FAIL")
    unallowed = [c for c, _ in failed if c not in overrides]
    if unallowed:
        raise Fail(
            f"{CLEAN_PATH} records a FAIL of the check '{unallowed[0]}' that was not allowed, yet the capture was "
            "sealed: the capture did not stop as it must.",
            CLEAN_PATH,
        )
    verdict = str(report.get("verdict"))
    named = start.get("token")
    has = ctx.v.has(START_TOKEN_PATH)
    if named is None and not has:
        return StartStamp(None, None, verdict, overrides, failed)
    if named != "start.tsr" or not has:
        missing = START_TOKEN_PATH if not has else CLEAN_PATH
        raise Fail(
            f"{CLEAN_PATH} and the bundle disagree about the start token ({START_TOKEN_PATH} "
            f"{'is missing' if not has else 'is not named in the report'}).",
            missing,
        )
    message = start_message(digest, bytes.fromhex(nonce_hex))
    outcome = check_token(START_TOKEN_PATH, message, pem_name=None, note_path=CLEAN_PATH)
    when = outcome.time.timestamp() if outcome.time is not None else _gen_time(ctx, START_TOKEN_PATH)
    return StartStamp(outcome, when, verdict, overrides, failed)


def _gen_time(ctx: Context, name: str) -> float:
    try:
        return TimestampToken.parse(ctx.read(name, limit=MAX_RESPONSE_BYTES)).gen_time.timestamp()
    except (EvidenceError, ValueError, OverflowError) as e:
        raise Fail(f"{name} cannot be read as a time-stamp: {e}", name) from e


@dataclass(frozen=True)
class Bracket:
    """The window the capture lies in, for the report."""

    start: float | None
    start_grade: str | None
    end: float | None
    end_grade: str | None
    end_token: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        from evidence.verify.common import iso

        def at(t: float | None) -> str | None:
            return iso(int(t)) if t is not None else None

        return {
            "start": at(self.start),
            "start_unix": int(self.start) if self.start is not None else None,
            "start_grade": self.start_grade,
            "end": at(self.end),
            "end_unix": int(self.end) if self.end is not None else None,
            "end_grade": self.end_grade,
            "end_token": self.end_token,
            "tolerance_s": CLOCK_TOLERANCE_S,
        }


def check_window(
    ctx: Context,
    start: StartStamp | None,
    tokens: Sequence[TokenOutcome],
    window: Window,
    warnings: list[str],
) -> tuple[Window, Bracket | None]:
    """The window [T1, T2] (see the module docstring), and the capture window narrowed to it
    for the WARC's record dates. Adds a warning for each FAIL the user allowed."""
    if start is None:
        return window, None
    for check, why in start.failed_items:
        warnings.append(
            f"The clean-environment check FAILED on '{check}' and the capture went on only because the user allowed it "
            f"on the record (--allow-unclean {check}): {why} ({CLEAN_PATH})."
        )
    tol = CLOCK_TOLERANCE_S
    ends: list[tuple[float, str, str]] = []
    for t in tokens:
        if "/" in t.name or not t.name.startswith("checkpoint."):
            continue
        name = f"evidence/{t.name}"
        when = t.time.timestamp() if t.time is not None else _gen_time(ctx, name)
        ends.append((when, t.name, t.grade.value))
    # A token from an authority you pin bounds the end; others only when there is none such.
    verified = [e for e in ends if e[2] == Grade.VERIFIED.value]
    end = min(verified or ends) if ends else None
    t1 = start.time
    grade1 = start.outcome.grade.value if start.outcome is not None else None
    if t1 is not None and window.start < t1 - tol:
        raise Fail(
            f"The capture says it started at {when_text(window.start)}, {span(t1 - window.start)} before the start "
            f"token's time {when_text(t1)}; the token is asked for before the first request, so that cannot be true "
            f"(tolerance {span(tol)}).",
            START_TOKEN_PATH,
            MANIFEST_PATH,
        )
    if t1 is not None and end is not None and t1 > end[0] + tol:
        raise Fail(
            f"The start token's time {when_text(t1)} is after the time-stamp over the sealed checkpoint "
            f"({end[1]}, {when_text(end[0])}): the window is empty (tolerance {span(tol)}).",
            START_TOKEN_PATH,
            f"evidence/{end[1]}",
        )
    low = max(window.start, t1) if t1 is not None else window.start
    high = min(window.finish, end[0]) if end is not None else window.finish
    narrowed = Window(low, max(low, high), window.clock)
    if t1 is None:
        first = "no start token (no time-stamping authority answered at the start)"
    else:
        first = f"the start token ({grade1}) at {when_text(t1)}"
    last = f"{end[1]} ({end[2]}) at {when_text(end[0])}" if end is not None else "no end time-stamp"
    length = f", {span(end[0] - t1)} long" if end is not None and t1 is not None else ""
    detail = (
        f"the capture lies between {first} and {last}{length}; its clock's start and every WARC record date fall "
        f"inside (tolerance {span(tol)})"
    )
    bracket = Bracket(
        t1,
        grade1,
        end[0] if end else None,
        end[2] if end else None,
        end[1] if end else None,
        detail,
    )
    if start.outcome is not None and start.outcome.grade is not Grade.VERIFIED:
        warnings.append(f"The start token {START_TOKEN_PATH} is {start.outcome.text}")
    return narrowed, bracket
