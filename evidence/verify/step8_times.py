"""Step 8, the times: capture, log clock, cosignatures and time-stamps in an order that can be true."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from evidence.bundle import (
    MANIFEST_PATH,
    PROOF_PATH,
    TOKEN_RE,
)
from evidence.checkpoint import SignedCheckpoint
from evidence.errors import (
    EvidenceError,
)
from evidence.timestamp import (
    MAX_RESPONSE_BYTES,
    TimestampToken,
)
from evidence.verify.common import (
    CAPTURE_PATH,
    CLOCK_TOLERANCE_S,
    LATE_SIGNATURE_S,
    LONG_CAPTURE_S,
    Fail,
    Window,
    capture_time,
    span,
    when_text,
)
from evidence.verify.context import Context
from evidence.verify.step5_log_signature import Step5Result, cosigner_keys
from evidence.verify.step6_cosignatures import earliest_cosignatures


def check_times(
    ctx: Context,
    manifest: dict[str, Any],
    signed: SignedCheckpoint,
    clock_time: int,
    log: Step5Result,
    warnings: list[str],
) -> Window:
    """The capture's start and end, the log's signed time, every verified cosignature and
    every RFC 3161 genTime must be in an order that can be true, within CLOCK_TOLERANCE_S.

    An impossible order fails; a suspicious gap is a warning (docs/bundle-format.md §4).
    """
    m = manifest
    start = capture_time(m.get("capture_started"), "capture_started")
    finish = capture_time(m.get("capture_finished"), "capture_finished")
    tol = CLOCK_TOLERANCE_S
    if finish < start - tol:
        raise Fail(
            f"The capture is recorded as finished at {when_text(finish)}, {span(start - finish)} before it started "
            f"({when_text(start)}): that cannot be true, even allowing {span(tol)} for the clock being corrected.",
            MANIFEST_PATH,
            CAPTURE_PATH,
        )
    if finish - start > LONG_CAPTURE_S:
        warnings.append(
            f"The capture lasted {span(finish - start)} by the capture machine's clock ({when_text(start)} to "
            f"{when_text(finish)}); a capture normally takes seconds. The page may have changed during it."
        )
    clock = clock_time
    if finish > clock + tol:
        raise Fail(
            f"The capture's clock says it finished at {when_text(finish)}, but the log signed the checkpoint "
            f"holding its seal at {when_text(clock)}, {span(finish - clock)} earlier. A capture cannot be sealed "
            f"before it ends (tolerance for clock differences: {span(tol)}): the capture machine's clock was "
            "wrong, or its times were made up.",
            MANIFEST_PATH,
            PROOF_PATH,
        )
    if clock - finish > LATE_SIGNATURE_S:
        warnings.append(
            f"The log signed the checkpoint holding this capture's seal at {when_text(clock)}, "
            f"{span(clock - finish)} after the capture ended ({when_text(finish)}, capture machine's clock). "
            "A capture is normally sealed within seconds; until this is explained, the capture's own times rest "
            "on its machine's clock alone."
        )
    now = datetime.now(UTC).timestamp()
    if start > now + tol:
        warnings.append(f"The capture is dated {when_text(start)}, after the time on this computer ({when_text(now)}).")
    keys = cosigner_keys(ctx, log.clock_key)
    found = earliest_cosignatures(signed, log.refreshes, keys, "cosignature")
    for key, (t, where) in sorted(found.items(), key=lambda kv: kv[1][0]):
        if t < finish - tol:
            on = f" (on {where})" if where else ""
            raise Fail(
                f"{key.name} cosigned the checkpoint holding this capture's seal at {when_text(t)}{on}, "
                f"{span(finish - t)} before the capture finished ({when_text(finish)}): that cannot be true "
                f"(tolerance {span(tol)}).",
                PROOF_PATH,
                MANIFEST_PATH,
            )
    own = [n for n in ctx.v.names if TOKEN_RE.match(n)]
    stamped = [(n, True) for n in own] + [(n, False) for r in log.refreshes for n, _ in r.tokens]
    for name, on_own in stamped:
        try:
            gen = TimestampToken.parse(ctx.read(name, limit=MAX_RESPONSE_BYTES)).gen_time.timestamp()
        except (EvidenceError, ValueError, OverflowError) as e:  # checked in step 7 already
            raise Fail(f"{name} cannot be read as a time-stamp: {e}", name) from e
        if gen < finish - tol:
            raise Fail(
                f"{name} dates the log's checkpoint at {when_text(gen)}, {span(finish - gen)} before the capture "
                f"it holds had finished ({when_text(finish)}, capture machine's clock): that cannot be true "
                f"(tolerance {span(tol)}). The capture's times, or the time-stamp, are false.",
                name,
                MANIFEST_PATH,
            )
        if on_own and gen < clock - tol:
            raise Fail(
                f"{name} dates the checkpoint note at {when_text(gen)}, {span(clock - gen)} before the log's clock "
                f"signed it ({when_text(clock)}): the note cannot have existed before its own signature "
                f"(tolerance {span(tol)}).",
                name,
                PROOF_PATH,
            )
    return Window(start, finish, clock)
