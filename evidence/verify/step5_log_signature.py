"""Step 5: the checkpoint is signed by the log's key; refreshed checkpoints are checked too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from evidence._internal.words import entries
from evidence.bundle import (
    PROOF_PATH,
    VKEY_PATH,
)
from evidence.bundle.refresh import RefreshCheck
from evidence.checkpoint import SignedCheckpoint, is_clock_key
from evidence.errors import (
    EvidenceError,
)
from evidence.note import ALG_COSIGNATURE_V1, ALG_ED25519, Verifier
from evidence.verify.common import (
    Fail,
)
from evidence.verify.context import Context
from evidence.verify.results import (
    ToConfirm,
)
from evidence.verify.step4_inclusion import Step4Result


@dataclass(frozen=True)
class Step5Result:
    """The log's keys as the bundle shows them, whether the signature is anchored in the user's
    trust, and the checked refreshed checkpoints."""

    detail: str
    files: tuple[str, ...]
    log_key: Verifier
    clock_key: Verifier
    anchored: bool
    #: The "Recorded in the log" claim's detail.
    log_detail: str
    #: Newer checkpoints added by ``evidence refresh`` (they count in steps 6 and 7).
    refreshes: tuple[RefreshCheck, ...]
    to_confirm: tuple[ToConfirm, ...]


def run(ctx: Context, inclusion: Step4Result) -> Step5Result:
    """Step 5: the checkpoint is signed by the log's key (a trusted one, or else the bundle's)."""
    signed = inclusion.signed
    origin = signed.checkpoint.origin
    log_key, clock_key = bundle_keys(ctx, origin)
    trusted: list[Verifier] = list(ctx.policy.log_verifiers(origin)) if ctx.policy else []
    trusted += [k for k in ctx.keys if k.key_type == ALG_ED25519 and k.name == origin and k not in trusted]
    if trusted:
        try:
            verified = signed.verify(trusted, origin=origin)
        except EvidenceError as e:
            fps = ", ".join(f"sha256:{k.fingerprint()}" for k in trusted)
            raise Fail(
                f"The checkpoint is not validly signed by the log key you trust for {origin!r} ({fps}): "
                f"{e.message} The bundle shows the key {log_key.vkey()} (fingerprint sha256:"
                f"{log_key.fingerprint()}). Either the key you were given is not this log's key, or the "
                "checkpoint was not signed by the log.",
                PROOF_PATH,
                VKEY_PATH,
            ) from e
        signer = next(v for v, _ in verified.verified)
        if signer != log_key:
            raise Fail(
                f"{VKEY_PATH} shows the key {log_key.vkey()}, but the checkpoint was signed by the trusted key "
                f"{signer.vkey()}: the key file in the bundle was altered.",
                VKEY_PATH,
            )
        source = "your trust policy lists" if ctx.policy and signer in ctx.policy.log_verifiers(origin) else "you gave"
        detail = (
            f"The checkpoint is signed by the log key {signer.vkey()} (fingerprint sha256:{signer.fingerprint()}), "
            f"which {source}; {VKEY_PATH} shows the same key."
        )
        log_detail = f"Entry of the log {origin!r}, signed with a key you trust."
        text, refreshes = refreshed(ctx, signed, [signer], clock_key)
        return Step5Result(detail + text, (PROOF_PATH, VKEY_PATH), log_key, clock_key, True, log_detail, refreshes, ())
    try:
        signed.verify([log_key], origin=origin)
    except EvidenceError as e:
        raise Fail(
            f"The checkpoint is not validly signed by the key shown in {VKEY_PATH} ({log_key.vkey()}): {e.message}",
            PROOF_PATH,
            VKEY_PATH,
        ) from e
    others = sorted({k.name for k in ctx.keys if k.key_type == ALG_ED25519})
    if ctx.policy and ctx.policy.logs:
        why = f"Your trust policy does not list the log {origin!r}"
    elif others:
        why = f"The log keys you gave are for other logs ({', '.join(others)}), not for {origin!r}"
    else:
        why = "No trusted log key was given"
    confirm = (
        ToConfirm(
            "Log key",
            log_key.vkey(),
            f"sha256:{log_key.fingerprint()}",
            f"Ask the operator of the log {origin!r} for its verification-keys.txt (the log key and the clock "
            "key), through a channel you trust, never from this bundle; compare, then verify with --log-key "
            "verification-keys.txt or add a 'log' line to your trust policy.",
        ),
    )
    log_detail = (
        f"Entry of the log {origin!r}, signed with the key shown in the bundle (sha256:{log_key.fingerprint()}), "
        "which you have not confirmed."
    )
    text, refreshes = refreshed(ctx, signed, [log_key], clock_key)
    return Step5Result(
        f"{why}. The checkpoint is validly signed by the key shown in {VKEY_PATH}, {log_key.vkey()} (fingerprint "
        f"sha256:{log_key.fingerprint()}), but a key found inside a bundle proves nothing by itself: NOT "
        "ANCHORED IN TRUST." + text,
        (PROOF_PATH, VKEY_PATH),
        log_key,
        clock_key,
        False,
        log_detail,
        refreshes,
        confirm,
    )


def bundle_keys(ctx: Context, origin: str) -> tuple[Verifier, Verifier]:
    """The log key and the clock key that ``log.vkey`` shows, checked to be the log ``origin``'s."""
    raw = ctx.read(VKEY_PATH, " (the log's public keys)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Fail(f"{VKEY_PATH} is not text.", VKEY_PATH) from e
    lines = text.split("\n")
    if len(lines) != 3 or lines[2] != "":
        raise Fail(f"{VKEY_PATH} must hold exactly two key lines (the log key, then its clock key).", VKEY_PATH)
    try:
        log_key, clock_key = Verifier.from_vkey(lines[0]), Verifier.from_vkey(lines[1])
    except EvidenceError as e:
        raise Fail(f"{VKEY_PATH} is damaged: {e.message}", VKEY_PATH) from e
    if f"{log_key.vkey()}\n{clock_key.vkey()}\n" != text:
        raise Fail(f"{VKEY_PATH} is not in canonical form.", VKEY_PATH)
    if log_key.key_type != ALG_ED25519 or log_key.name != origin:
        raise Fail(f"The first key in {VKEY_PATH} is not the signing key of the log {origin!r}.", VKEY_PATH)
    if not is_clock_key(clock_key, origin):
        raise Fail(
            f"The second key in {VKEY_PATH} is not the clock (timestamp cosignature) key of the log {origin!r}.",
            VKEY_PATH,
        )
    return log_key, clock_key


def cosigner_keys(ctx: Context, clock_key: Verifier) -> list[Verifier]:
    """Every cosignature key this check may count: the user's, the policy's witnesses, the bundle's clock."""
    keys = [k for k in ctx.keys if k.key_type == ALG_COSIGNATURE_V1]
    if ctx.policy is not None:
        keys += [w.verifier for w in ctx.policy.witnesses]
    keys.append(clock_key)
    return list(dict.fromkeys(keys))


def refreshed(
    ctx: Context, signed: SignedCheckpoint, keys: Sequence[Verifier], clock_key: Verifier
) -> tuple[str, tuple[RefreshCheck, ...]]:
    """Check checkpoints added later by ``evidence refresh`` (fail closed); describe them.

    Their cosignatures count in step 6 and their time-stamps in step 7, like those on the
    bundle's own checkpoint: each refreshed tree is proven to extend the bundle's tree,
    which holds the entry.
    """
    from evidence.bundle.refresh import check_refresh

    try:
        checks = check_refresh(ctx.v, keys, base=signed, cosigners=cosigner_keys(ctx, clock_key))
    except EvidenceError as e:
        raise Fail(
            f"A refreshed checkpoint added to the bundle later does not check out: {e.message}",
            PROOF_PATH,
        ) from e
    if not checks:
        return "", checks
    newest = max(checks, key=lambda c: c.checkpoint.size)
    tokens = sum(len(c.tokens) for c in checks)
    return (
        f" The bundle also carries {len(checks)} newer checkpoint(s) of the same log, added later by 'evidence "
        f"refresh' (newest: {entries(newest.checkpoint.size)}); each is signed by the same key and proven "
        "append-only consistent with the checkpoint above, so it contains this entry too. Their cosignatures "
        f"count in step 6 and their {tokens} RFC 3161 time-stamp(s) in step 7.",
        checks,
    )
