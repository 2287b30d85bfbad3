"""Step 4: the entry is included in the log's signed checkpoint."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from evidence import merkle
from evidence._internal.words import entries
from evidence.bundle import (
    MANIFEST_PATH,
    NOTE_PATH,
    PROOF_PATH,
)
from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.errors import (
    EvidenceError,
)
from evidence.verify.common import (
    Fail,
)
from evidence.verify.context import Context
from evidence.verify.step2_manifest import Step2Result
from evidence.verify.step3_entry import Step3Result


@dataclass(frozen=True)
class Step4Result:
    """The inclusion proof, its signed checkpoint and the checkpoint note's bytes."""

    detail: str
    files: tuple[str, ...]
    proof: TlogProof
    signed: SignedCheckpoint
    note: bytes


def run(ctx: Context, sealed: Step2Result, entry: Step3Result) -> Step4Result:
    """Step 4: the inclusion proof leads from the leaf to the signed checkpoint's root."""
    raw = ctx.read(PROOF_PATH, " (the inclusion proof)")
    try:
        proof = TlogProof.parse(raw)
    except EvidenceError as e:
        raise Fail(f"{PROOF_PATH} is damaged: {e.message}.", PROOF_PATH) from e
    signed = proof.signed_checkpoint
    cp = signed.checkpoint
    note = ctx.read(NOTE_PATH, " (the signed checkpoint that the time-stamps cover)")
    if not hmac.compare_digest(note, proof.checkpoint_note):
        raise Fail(
            f"{NOTE_PATH} differs from the checkpoint inside {PROOF_PATH}; they must be the same bytes.",
            NOTE_PATH,
            PROOF_PATH,
        )
    origin = sealed.manifest["log"]["origin"]
    if origin != cp.origin:
        raise Fail(
            f"The manifest was sealed into the log {origin!r}, but the proof's checkpoint is from the log "
            f"{cp.origin!r}.",
            MANIFEST_PATH,
            PROOF_PATH,
        )
    if proof.index >= cp.size:
        raise Fail(
            f"{PROOF_PATH} is for entry {proof.index}, but its checkpoint covers only {entries(cp.size)}.",
            PROOF_PATH,
        )
    try:
        merkle.verify_inclusion(proof.index, cp.size, entry.leaf, proof.hashes, cp.root_hash)
    except EvidenceError as e:
        raise Fail(
            f"The inclusion proof in {PROOF_PATH} does not lead from this bundle's seal ({MANIFEST_PATH}) to "
            f"the checkpoint's root hash ({e.message}). Either the manifest was changed after sealing, or the "
            "proof belongs to another entry.",
            PROOF_PATH,
            MANIFEST_PATH,
        ) from e
    return Step4Result(
        f"The seal is entry {proof.index} of the log {cp.origin!r}, whose checkpoint covers {entries(cp.size)} "
        f"with root hash {cp.root_hash.hex()}; {NOTE_PATH} is that checkpoint.",
        (PROOF_PATH, NOTE_PATH),
        proof,
        signed,
        note,
    )
