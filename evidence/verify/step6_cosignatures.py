"""Step 6: cosignatures, the log's signed time and the witnesses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from evidence._internal.words import entries
from evidence.bundle import (
    PROOF_PATH,
    VKEY_PATH,
)
from evidence.bundle.refresh import RefreshCheck
from evidence.checkpoint import SignedCheckpoint, clock_key_name, is_clock_key
from evidence.errors import (
    EvidenceError,
)
from evidence.note import ALG_COSIGNATURE_V1, Verifier
from evidence.verify.common import (
    Fail,
    cosigned_text,
    iso,
    keep_learned,
)
from evidence.verify.context import Context
from evidence.verify.results import (
    Grade,
    ToConfirm,
)
from evidence.verify.step4_inclusion import Step4Result
from evidence.verify.step5_log_signature import Step5Result


@dataclass(frozen=True)
class Step6Result:
    """The log's signed time (the clock claim) and the witnesses claim."""

    detail: str
    files: tuple[str, ...]
    clock_time: int
    #: None if the time's key did not check out (the time is still shown in the facts).
    clock_grade: Grade | None
    clock_detail: str
    #: None until the witnesses were checked (a failed step 6 keeps only the clock).
    witness_grade: Grade | None
    witness_detail: str
    to_confirm: tuple[ToConfirm, ...]


def run(ctx: Context, inclusion: Step4Result, log: Step5Result) -> Step6Result:
    """Step 6: the log's clock cosignature, and the witnesses' cosignatures against the quorum."""
    signed = inclusion.signed
    refreshes = log.refreshes
    origin = signed.checkpoint.origin
    clock_name = clock_key_name(origin)
    bundle_clock = log.clock_key
    trusted_clock = [k for k in ctx.keys if is_clock_key(k, origin)]
    if ctx.policy:
        trusted_clock += [w.verifier for w in ctx.policy.witnesses if w.verifier.name == clock_name]
    keys = trusted_clock or [bundle_clock]
    try:
        cos = signed.cosignatures(keys)
    except EvidenceError as e:
        raise Fail(f"The log's clock cosignature on the checkpoint does not verify: {e.message}", PROOF_PATH) from e
    if not cos:
        which = "the clock key you trust" if trusted_clock else f"the clock key shown in {VKEY_PATH}"
        raise Fail(
            f"The checkpoint carries no time signed by {which} ({keys[0].vkey()}); every checkpoint of this "
            "log must carry one.",
            PROOF_PATH,
            VKEY_PATH,
        )
    key, ts = next(iter(cos.items()))
    clock_time = ts
    confirm: tuple[ToConfirm, ...] = ()
    if trusted_clock:
        if key != bundle_clock:
            altered = Fail(
                f"{VKEY_PATH} shows the clock key {bundle_clock.vkey()}, but the checkpoint's time was signed by "
                f"the trusted key {key.vkey()}: the key file in the bundle was altered.",
                VKEY_PATH,
            )
            altered.learned = Step6Result("", (), clock_time, None, "", None, "", ())  # the time, ungraded
            raise altered
        clock_grade = Grade.VERIFIED
        clock_detail = f"The log's clock signed the checkpoint at {iso(ts)} (a key you trust)."
    else:
        clock_grade = Grade.NOT_ANCHORED
        clock_detail = (
            f"The log's clock signed the checkpoint at {iso(ts)}, with the clock key shown in the bundle "
            f"(sha256:{key.fingerprint()}), which you have not confirmed."
        )
        confirm = (
            ToConfirm(
                "Log clock key",
                key.vkey(),
                f"sha256:{key.fingerprint()}",
                f"The operator of the log {origin!r} publishes it with the log key in the log's "
                "verification-keys.txt; obtain that file from the operator (never from this bundle), compare, "
                "then give it with --log-key verification-keys.txt, or add the key to your trust policy as a "
                "'witness' line.",
            ),
        )
    clock = Step6Result("", (), clock_time, clock_grade, clock_detail, None, "", confirm)
    try:
        return _witnesses(ctx, signed, refreshes, log, clock, key)
    except Exception as e:
        keep_learned(e, clock)  # the clock's grade and time stand even if the witnesses fail
        raise


def _witnesses(
    ctx: Context,
    signed: SignedCheckpoint,
    refreshes: Sequence[RefreshCheck],
    log: Step5Result,
    clock: Step6Result,
    key: Verifier,
) -> Step6Result:
    """The witnesses' and the user's cosigners' part of step 6."""
    origin = signed.checkpoint.origin
    clock_name = clock_key_name(origin)
    witness_grade: Grade
    witness_detail: str
    parts = [clock.clock_detail]
    known: set[tuple[str, int]] = {(log.log_key.name, log.log_key.key_id), (key.name, key.key_id)}
    user_cosigners = [k for k in ctx.keys if k.key_type == ALG_COSIGNATURE_V1 and not is_clock_key(k, origin)]
    if ctx.policy is not None:
        # Every policy witness counts toward the quorum as the policy says, the log's own clock
        # key too if the policy lists it; only the others are reported as independent witnesses.
        wkeys = [w.verifier for w in ctx.policy.witnesses]
        found = earliest_cosignatures(signed, refreshes, wkeys, "witness cosignature")
        wcos = {k: t for k, (t, _) in found.items()}
        known |= {(k.name, k.key_id) for k in wkeys}
        independent = [w for w in ctx.policy.witnesses if w.verifier.name != clock_name]
        for w in independent:
            parts.append(f"Witness {w.name}: " + cosigned_text(found.get(w.verifier)))
        q = ctx.policy.evaluate_quorum(ctx.policy.witnesses_for(wcos))
        counted = (
            f" Cosignatures on the bundle's checkpoint and on its {len(refreshes)} refreshed "
            "checkpoint(s) were counted."
            if refreshes
            else ""
        )
        if not q.ok:
            raise Fail(
                f"{q.explanation}{counted} Your trust policy requires these witnesses to have seen the checkpoint "
                "(or a later one that contains it).",
                PROOF_PATH,
            )
        parts.append(q.explanation + counted)
        cosigned = [w for w in independent if w.verifier in found]
        if cosigned:
            witness_grade = Grade.VERIFIED
            witness_detail = (
                "Cosigned by "
                + "; ".join(f"{w.name} {cosigned_text(found[w.verifier], short=True)}" for w in cosigned)
                + f". {q.explanation}{counted}"
            )
        else:
            witness_grade = Grade.NONE
            witness_detail = f"No independent witness you trust cosigned the checkpoint. {q.explanation}"
    else:
        witness_grade = Grade.NONE
        witness_detail = "No trust policy was given, so no witness is required or checked."
    if user_cosigners:
        ufound = earliest_cosignatures(signed, refreshes, user_cosigners, "cosignature")
        known |= {(k.name, k.key_id) for k in user_cosigners}
        for k in user_cosigners:
            parts.append(f"Cosigner {k.name} (a key you gave): " + cosigned_text(ufound.get(k)))
        if ufound and witness_grade is Grade.NONE:
            witness_grade = Grade.VERIFIED
            witness_detail = "Cosigned by " + "; ".join(
                f"{k.name} {cosigned_text(v, short=True)}" for k, v in ufound.items()
            )
    unknown = [s for s in signed.note.signatures if (s.name, s.key_id) not in known]
    if unknown:
        listed = ", ".join(f"{s.name} (key ID {s.key_id:08x})" for s in unknown)
        parts.append(f"Not checked (keys not given to this check): {listed}.")
        witness_detail += f" Also present, not checked: {listed}."
    return replace(
        clock, detail=" ".join(parts), files=(PROOF_PATH,), witness_grade=witness_grade, witness_detail=witness_detail
    )


def earliest_cosignatures(
    signed: SignedCheckpoint, refreshes: Sequence[RefreshCheck], keys: Sequence[Verifier], what: str
) -> dict[Verifier, tuple[int, str]]:
    """For each key, its earliest cosignature over a tree that holds the entry, and where it is.

    Looks at the bundle's checkpoint and at every refreshed checkpoint (already verified
    in step 5, which also failed closed on any bad cosignature there).
    """
    try:
        found = {k: (t, "") for k, t in signed.cosignatures(keys).items()}
    except EvidenceError as e:
        raise Fail(f"A {what} on the checkpoint does not verify: {e.message}", PROOF_PATH) from e
    for r in refreshes:
        for k, t in r.cosignatures:
            if k in keys and (k not in found or t < found[k][0]):
                found[k] = (t, f"refresh {r.k}, a later checkpoint of {entries(r.checkpoint.size)} ({r.note_path})")
    return found
