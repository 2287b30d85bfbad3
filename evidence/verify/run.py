"""The verification run: :func:`verify` opens the bundle and runs the numbered steps in order.

Each step is a function ``run(ctx, <results of the earlier steps it needs>)`` in its own module,
looked up when it runs; the first step that fails stops the check. A step's failure, or any
exception it did not expect, ends as that step's FAILED result, never as a traceback; so does
an exception while building the report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cryptography import x509

from evidence.errors import EvidenceError, UsageError
from evidence.note import Verifier
from evidence.timestamp import PinnedTSA
from evidence.trust import TrustPolicy
from evidence.verify import (
    grading,
    step1_container,
    step2_manifest,
    step3_entry,
    step4_inclusion,
    step5_log_signature,
    step6_cosignatures,
    step7_timestamps,
    step8_consistency,
)
from evidence.verify.common import Fail, internal_error
from evidence.verify.context import Context, TrustInputs
from evidence.verify.results import MEANING, STEP_TITLES, UNUSABLE_MEANING, Report, StepResult, Verdict


def _steps(ctx: Context, r: dict[int, Any]) -> tuple[Callable[[], Any], ...]:
    """The eight steps, each given the results of the earlier ones it needs (``r[n]``: step n's)."""
    return (
        lambda: step1_container.run(ctx),
        lambda: step2_manifest.run(ctx),
        lambda: step3_entry.run(ctx, r[2]),
        lambda: step4_inclusion.run(ctx, r[2], r[3]),
        lambda: step5_log_signature.run(ctx, r[4]),
        lambda: step6_cosignatures.run(ctx, r[4], r[5]),
        lambda: step7_timestamps.run(ctx, r[4], r[5]),
        lambda: step8_consistency.run(ctx, r[2], r[4], r[5], r[6], r[7]),
    )


def run(ctx: Context) -> Report:
    """Run the steps in order over ``ctx`` (closing its bundle in the end) and build the report."""
    steps: list[StepResult] = []
    unusable: Fail | None = None
    results: dict[int, Any] = {}
    try:
        for number, step in enumerate(_steps(ctx, results), start=1):
            try:
                result = step()
            except Fail as f:
                meaning = MEANING[number]
                if f.unusable:
                    unusable, meaning = f, UNUSABLE_MEANING
                steps.append(StepResult(number, STEP_TITLES[number], False, f.detail, tuple(f.files), meaning))
                _keep(results, number, f)
                break
            except EvidenceError as e:
                steps.append(StepResult(number, STEP_TITLES[number], False, e.diagnostics(), (), MEANING[number]))
                _keep(results, number, e)
                break
            except Exception as e:  # last resort: a defect here must end in a verdict, never a traceback
                steps.append(internal_error(number, e))
                _keep(results, number, e)
                break
            results[number] = result
            empty = bool(getattr(result, "empty", False))
            steps.append(StepResult(number, STEP_TITLES[number], True, result.detail, result.files, empty=empty))
    finally:
        ctx.close()
    try:
        learned = grading.Learned(
            sealed=results.get(2),
            inclusion=results.get(4),
            log=results.get(5),
            clock=results.get(6),
            timestamps=results.get(7),
            consistency=results.get(8),
        )
        trust = grading.describe_trust(ctx.policy, ctx.keys, ctx.tsa_pins, ctx.tsa_certs)
        return grading.report(str(ctx.path), trust, tuple(steps), unusable, learned)
    except Exception as e:  # the same guard for building the report itself
        failed = internal_error(len(steps) or 1, e)
        return Report(
            path=str(ctx.path),
            verdict=Verdict.FAILED,
            summary=f"Verification FAILED at step {failed.number}: {failed.detail}",
            steps=(*[s for s in steps if s.number != failed.number], failed),
            claims=(),
        )


def _keep(results: dict[int, Any], number: int, err: BaseException) -> None:
    """What a failed step had established (:func:`~evidence.verify.common.keep_learned`), for the report."""
    learned = getattr(err, "learned", None)
    if learned is not None:
        results[number] = learned


def _parse_key(key: Verifier | str) -> Verifier:
    if isinstance(key, Verifier):
        return key
    if not isinstance(key, str):
        raise UsageError(f"a log key must be a vkey string or a Verifier, not {type(key).__name__}")
    return Verifier.from_vkey(key)


def verify(
    path: str | Path,
    *,
    trust: TrustPolicy | None = None,
    log_keys: Sequence[Verifier | str] = (),
    tsa_pins: Sequence[PinnedTSA | x509.Certificate] = (),
) -> Report:
    """Verify a proof bundle offline; return a :class:`Report` (never a bare bool).

    ``trust`` is the user's trust policy (``log``, ``witness``, ``quorum``, ``tsa`` lines);
    ``log_keys`` are log and clock keys (vkeys) the user obtained from the log operator;
    ``tsa_pins`` are pinned TSAs, or certificates the user trusts for time-stamps (a CA
    certificate is trusted as a root, any other as a TSA certificate). Keys and
    certificates inside the bundle are never trusted: without trusted keys the best
    possible verdict is :attr:`Verdict.NOT_ANCHORED`, and the report names the
    fingerprints to confirm.

    Problems with the bundle never raise: the report's verdict is FAILED or UNUSABLE.
    Malformed *arguments* (a key that is not a vkey) raise :class:`~evidence.errors.KeyFormatError`
    or :class:`~evidence.errors.UsageError`.
    """
    keys = [_parse_key(k) for k in log_keys]
    pinned = [p for p in tsa_pins if isinstance(p, PinnedTSA)]
    certs = [c for c in tsa_pins if isinstance(c, x509.Certificate)]
    if len(pinned) + len(certs) != len(tsa_pins):
        raise UsageError("tsa_pins must hold PinnedTSA objects or X.509 certificates")
    if trust is not None and not isinstance(trust, TrustPolicy):
        raise UsageError(f"trust must be a TrustPolicy, not {type(trust).__name__}")
    return run(Context(Path(path), TrustInputs(trust, tuple(keys), tuple(pinned), tuple(certs))))
