"""The verification run: :func:`verify` opens the bundle and runs the numbered steps in order."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from evidence import merkle
from evidence._internal import jsonstrict
from evidence._internal.timefmt import bounded_text, hidden_characters, visible_text
from evidence._internal.words import entries
from evidence.bundle import (
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    INDEX_PATH,
    MANIFEST_FORMAT,
    MANIFEST_PATH,
    NOTE_PATH,
    PAGES_PATH,
    PROOF_PATH,
    REPORT_PATH,
    TOKEN_RE,
    TSA_CERT_RE,
    VERIFY_PATH,
    VKEY_PATH,
    WARC_PATH,
    log_entry,
)
from evidence.bundle.refresh import RefreshCheck, is_refresh_file
from evidence.checkpoint import SignedCheckpoint, TlogProof, clock_key_name, is_clock_key
from evidence.errors import (
    BundleFormatError,
    EvidenceError,
    UsageError,
)
from evidence.note import ALG_COSIGNATURE_V1, ALG_ED25519, Verifier
from evidence.timestamp import (
    CERTIFICATE_ERRORS,
    MAX_RESPONSE_BYTES,
    SHA256_OID,
    CertPin,
    PinnedTSA,
    TimestampToken,
    certificate_fingerprint,
    verify_token,
)
from evidence.trust import TrustPolicy
from evidence.verify import common
from evidence.verify.common import (
    CAPTURE_PATH,
    CLOCK_TOLERANCE_S,
    HEX64,
    INDEX_FILENAME,
    LATE_SIGNATURE_S,
    LONG_CAPTURE_S,
    MAX_PAGES_LINES,
    PACKAGE_FIELDS,
    PAGES_HEADER,
    POST_SEAL,
    REQUIRED_SEALED,
    Fail,
    InflateBudget,
    PageRecord,
    TokenOutcome,
    WarcScan,
    Window,
    capture_time,
    common_name,
    cosigned_text,
    index_offset,
    internal_error,
    is_ca,
    iso,
    parse_utc,
    pem,
    plain_uri,
    same_json,
    short_json,
    span,
    warc_time,
    when_text,
)
from evidence.verify.context import Context, TrustInputs
from evidence.verify.results import (
    GRADE_KEYS,
    MEANING,
    STEP_TITLES,
    UNUSABLE_MEANING,
    Claim,
    Grade,
    Report,
    StepResult,
    ToConfirm,
    Verdict,
)


@dataclass
class _State:
    """What the steps learn, for later steps, the claims and the facts."""

    digests: dict[str, tuple[str, int]] = field(default_factory=dict)
    manifest_bytes: bytes = b""
    manifest: dict[str, Any] = field(default_factory=dict)
    leaf: bytes = b""
    proof: TlogProof | None = None
    signed: SignedCheckpoint | None = None
    note: bytes = b""
    log_key: Verifier | None = None
    clock_key: Verifier | None = None
    log_anchored: bool | None = None
    log_detail: str = ""
    clock_grade: Grade | None = None
    clock_detail: str = ""
    clock_time: int | None = None
    witness_grade: Grade | None = None
    witness_detail: str = ""
    tokens: list[TokenOutcome] = field(default_factory=list)
    to_confirm: list[ToConfirm] = field(default_factory=list)
    #: Warnings for the report (see :attr:`Report.warnings`); steps append to it.
    warnings: list[str] = field(default_factory=list)
    #: Newer checkpoints added by ``evidence refresh``, checked in step 5.
    refreshes: tuple[RefreshCheck, ...] = ()
    #: Steps that passed with nothing to check (shown as NONE).
    empty_steps: set[int] = field(default_factory=set)


class _Verification:
    """The steps of one verification and what they learn (being split into one module per step)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.s = _State()

    # ------------------------------------------------------------------ run

    def run(self) -> Report:
        steps: list[StepResult] = []
        unusable: Fail | None = None
        try:
            for number, fn in enumerate(
                (self.step1, self.step2, self.step3, self.step4, self.step5, self.step6, self.step7, self.step8),
                start=1,
            ):
                try:
                    detail, files = fn()
                except Fail as f:
                    meaning = MEANING[number]
                    if f.unusable:
                        unusable, meaning = f, UNUSABLE_MEANING
                    steps.append(StepResult(number, STEP_TITLES[number], False, f.detail, tuple(f.files), meaning))
                    break
                except EvidenceError as e:
                    steps.append(StepResult(number, STEP_TITLES[number], False, e.diagnostics(), (), MEANING[number]))
                    break
                except Exception as e:  # last resort: a defect here must end in a verdict, never a traceback
                    steps.append(internal_error(number, e))
                    break
                steps.append(
                    StepResult(number, STEP_TITLES[number], True, detail, files, empty=number in self.s.empty_steps)
                )
        finally:
            self.ctx.close()
        try:
            return self.report(tuple(steps), unusable)
        except Exception as e:  # the same guard for building the report itself
            failed = internal_error(len(steps) or 1, e)
            return Report(
                path=str(self.ctx.path),
                verdict=Verdict.FAILED,
                summary=f"Verification FAILED at step {failed.number}: {failed.detail}",
                steps=(*[s for s in steps if s.number != failed.number], failed),
                claims=(),
            )

    # ------------------------------------------------------------------ 1. container

    def step1(self) -> tuple[str, tuple[str, ...]]:
        self.ctx.open()
        names = set(self.ctx.v.names)
        if DATAPACKAGE not in names:
            raise Fail(
                "The file has no datapackage.json, so it is not a WACZ bundle (or its table of contents was removed).",
                DATAPACKAGE,
                unusable=True,
            )
        pkg_bytes = self.ctx.read(DATAPACKAGE)
        pkg = self.ctx.json(DATAPACKAGE, unusable=True)
        resources = pkg.get("resources") if isinstance(pkg, dict) else None
        if not isinstance(resources, list):
            raise Fail(
                "datapackage.json has no list of resources; it is not a WACZ table of contents.",
                DATAPACKAGE,
                unusable=True,
            )
        listed: dict[str, tuple[str, int]] = {}
        for r in resources:
            path = r.get("path") if isinstance(r, dict) else None
            digest = r.get("hash") if isinstance(r, dict) else None
            size = r.get("bytes") if isinstance(r, dict) else None
            if (
                not isinstance(path, str)
                or not isinstance(digest, str)
                or not digest.startswith("sha256:")
                or not HEX64.fullmatch(digest[7:])
                or not isinstance(size, int)
                or isinstance(size, bool)
                or size < 0
            ):
                raise Fail(
                    f"datapackage.json has a malformed resource entry ({str(r)[:120]}); each needs a path, a "
                    "'sha256:<64 hex digits>' hash and a size in bytes.",
                    DATAPACKAGE,
                    unusable=True,
                )
            if path in listed:
                raise Fail(f"datapackage.json lists {path} twice; the bundle is ambiguous.", DATAPACKAGE, path)
            if path in (DATAPACKAGE, DATAPACKAGE_DIGEST):
                raise Fail(f"datapackage.json lists {path} as one of its own resources.", DATAPACKAGE)
            listed[path] = (digest[7:], size)
        if DATAPACKAGE_DIGEST not in names:
            raise Fail(
                "The bundle has no datapackage-digest.json, the fingerprint of its table of contents.",
                DATAPACKAGE_DIGEST,
            )
        dig = self.ctx.json(DATAPACKAGE_DIGEST)
        want = hashlib.sha256(pkg_bytes).hexdigest()
        got = dig.get("hash") if isinstance(dig, dict) else None
        if not isinstance(dig, dict) or dig.get("path") != DATAPACKAGE or not isinstance(got, str):
            raise Fail("datapackage-digest.json does not give the SHA-256 of datapackage.json.", DATAPACKAGE_DIGEST)
        if not hmac.compare_digest(got.encode(), f"sha256:{want}".encode()):
            raise Fail(
                f"datapackage.json has SHA-256 {want}, but datapackage-digest.json records {got[:80]}: the table "
                "of contents was changed after the bundle was written.",
                DATAPACKAGE,
                DATAPACKAGE_DIGEST,
            )
        for name in self.ctx.v.names:
            if name not in listed and name not in (DATAPACKAGE, DATAPACKAGE_DIGEST):
                raise Fail(
                    f"{name} is in the bundle but not listed in datapackage.json: it was added after the bundle "
                    "was written.",
                    name,
                )
        for path in listed:
            if path not in names:
                raise Fail(f"datapackage.json lists {path}, but the bundle has no such file: it was removed.", path)
        for path, (digest, size) in listed.items():
            declared = self.ctx.v.size(path)
            if declared != size:
                raise Fail(
                    f"{path} is {declared} bytes long, but datapackage.json records {size} bytes: the file was "
                    "changed after the bundle was written.",
                    path,
                )
            actual, n = self.ctx.hash(path)
            if n != size or not hmac.compare_digest(actual, digest):
                raise Fail(
                    f"{path} has SHA-256 {actual}, but datapackage.json records {digest}: the file was changed "
                    "after the bundle was written.",
                    path,
                )
        total = sum(s for _, s in listed.values())
        return (
            f"{len(self.ctx.v.names)} files, {total} bytes; each file matches the SHA-256 and size in "
            "datapackage.json, which matches datapackage-digest.json; no file is unlisted or missing.",
            (),
        )

    # ------------------------------------------------------------------ 2. seal

    def step2(self) -> tuple[str, tuple[str, ...]]:
        self.s.manifest_bytes = self.ctx.read(MANIFEST_PATH, " (the seal that lists every preserved file)")
        m = self.ctx.json(MANIFEST_PATH)
        if not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT:
            raise Fail(f"{MANIFEST_PATH} is not an evidence manifest (format {MANIFEST_FORMAT}).", MANIFEST_PATH)
        log = m.get("log")
        if not isinstance(log, dict) or not isinstance(log.get("origin"), str):
            raise Fail(f"{MANIFEST_PATH} does not name the log it was sealed into.", MANIFEST_PATH)
        if not isinstance(m.get("tool", {}), dict):
            raise Fail(f"{MANIFEST_PATH} has a malformed 'tool' field.", MANIFEST_PATH)
        files = m.get("files")
        if not isinstance(files, list) or not files:
            raise Fail(f"{MANIFEST_PATH} lists no sealed files.", MANIFEST_PATH)
        sealed: dict[str, tuple[str, int]] = {}
        for f in files:
            path = f.get("path") if isinstance(f, dict) else None
            digest = f.get("sha256") if isinstance(f, dict) else None
            size = f.get("size") if isinstance(f, dict) else None
            if (
                not isinstance(path, str)
                or not isinstance(digest, str)
                or not HEX64.fullmatch(digest)
                or not isinstance(size, int)
                or isinstance(size, bool)
                or size < 0
            ):
                raise Fail(f"{MANIFEST_PATH} has a malformed file entry ({str(f)[:120]}).", MANIFEST_PATH)
            if path in sealed:
                raise Fail(f"{MANIFEST_PATH} seals {path} twice.", MANIFEST_PATH)
            if path in POST_SEAL or TOKEN_RE.match(path) or TSA_CERT_RE.match(path) or is_refresh_file(path):
                raise Fail(
                    f"{MANIFEST_PATH} claims to seal {path}, a file that can only be added after sealing.",
                    MANIFEST_PATH,
                )
            sealed[path] = (digest, size)
        self.s.manifest = m
        for path in REQUIRED_SEALED:
            if path not in sealed:
                raise Fail(f"{MANIFEST_PATH} does not seal {path}, which every bundle must contain.", MANIFEST_PATH)
        for path, (digest, size) in sealed.items():
            if not self.ctx.v.has(path):
                raise Fail(
                    f"{path} was sealed at capture time (SHA-256 {digest} in {MANIFEST_PATH}) but is missing from "
                    "the bundle: the file was removed, or the manifest was altered.",
                    path,
                    MANIFEST_PATH,
                )
            actual, n = self.ctx.hash(path)
            if n != size or not hmac.compare_digest(actual, digest):
                raise Fail(
                    f"{path} does not match its seal: its SHA-256 is {actual} ({n} bytes), but {MANIFEST_PATH} "
                    f"sealed {digest} ({size} bytes). The file, or the manifest, was changed after sealing.",
                    path,
                    MANIFEST_PATH,
                )
        for name in self.ctx.v.names:
            if name in sealed or name in POST_SEAL or TOKEN_RE.match(name) or TSA_CERT_RE.match(name):
                continue
            if is_refresh_file(name):
                continue  # checked in step 5
            raise Fail(
                f"{name} is not part of the sealed evidence: the manifest does not list it, and it is not one of "
                "the proof files added after sealing. It was added to the bundle later.",
                name,
            )
        return (
            f"All {len(sealed)} sealed files match the SHA-256 and size recorded in {MANIFEST_PATH}; nothing else "
            "is in the bundle except the proof files added after sealing.",
            (),
        )

    # ------------------------------------------------------------------ 3. entry

    def step3(self) -> tuple[str, tuple[str, ...]]:
        entry = log_entry(self.s.manifest_bytes)
        self.s.leaf = merkle.leaf_hash(entry)
        return (
            f"The manifest's SHA-256 is {hashlib.sha256(self.s.manifest_bytes).hexdigest()}; the log entry is the "
            f'two lines "{entry.decode().splitlines()[0]}" and "manifest-sha256 <that SHA-256>"; its Merkle '
            f"leaf hash is {self.s.leaf.hex()}.",
            (MANIFEST_PATH,),
        )

    # ------------------------------------------------------------------ 4. inclusion

    def step4(self) -> tuple[str, tuple[str, ...]]:
        raw = self.ctx.read(PROOF_PATH, " (the inclusion proof)")
        try:
            proof = TlogProof.parse(raw)
        except EvidenceError as e:
            raise Fail(f"{PROOF_PATH} is damaged: {e.message}.", PROOF_PATH) from e
        signed = proof.signed_checkpoint
        cp = signed.checkpoint
        note = self.ctx.read(NOTE_PATH, " (the signed checkpoint that the time-stamps cover)")
        if not hmac.compare_digest(note, proof.checkpoint_note):
            raise Fail(
                f"{NOTE_PATH} differs from the checkpoint inside {PROOF_PATH}; they must be the same bytes.",
                NOTE_PATH,
                PROOF_PATH,
            )
        origin = self.s.manifest["log"]["origin"]
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
            merkle.verify_inclusion(proof.index, cp.size, self.s.leaf, proof.hashes, cp.root_hash)
        except EvidenceError as e:
            raise Fail(
                f"The inclusion proof in {PROOF_PATH} does not lead from this bundle's seal ({MANIFEST_PATH}) to "
                f"the checkpoint's root hash ({e.message}). Either the manifest was changed after sealing, or the "
                "proof belongs to another entry.",
                PROOF_PATH,
                MANIFEST_PATH,
            ) from e
        self.s.proof, self.s.signed, self.s.note = proof, signed, note
        return (
            f"The seal is entry {proof.index} of the log {cp.origin!r}, whose checkpoint covers {entries(cp.size)} "
            f"with root hash {cp.root_hash.hex()}; {NOTE_PATH} is that checkpoint.",
            (PROOF_PATH, NOTE_PATH),
        )

    # ------------------------------------------------------------------ 5. log signature

    def bundle_keys(self, origin: str) -> tuple[Verifier, Verifier]:
        raw = self.ctx.read(VKEY_PATH, " (the log's public keys)")
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

    def step5(self) -> tuple[str, tuple[str, ...]]:
        assert self.s.signed is not None
        signed = self.s.signed
        origin = signed.checkpoint.origin
        log_key, clock_key = self.bundle_keys(origin)
        self.s.log_key, self.s.clock_key = log_key, clock_key
        trusted: list[Verifier] = list(self.ctx.policy.log_verifiers(origin)) if self.ctx.policy else []
        trusted += [k for k in self.ctx.keys if k.key_type == ALG_ED25519 and k.name == origin and k not in trusted]
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
            self.s.log_anchored = True
            source = (
                "your trust policy lists"
                if self.ctx.policy and signer in self.ctx.policy.log_verifiers(origin)
                else "you gave"
            )
            detail = (
                f"The checkpoint is signed by the log key {signer.vkey()} (fingerprint sha256:{signer.fingerprint()}), "
                f"which {source}; {VKEY_PATH} shows the same key."
            )
            self.s.log_detail = f"Entry of the log {origin!r}, signed with a key you trust."
            return detail + self.refreshed(signed, [signer]), (PROOF_PATH, VKEY_PATH)
        try:
            signed.verify([log_key], origin=origin)
        except EvidenceError as e:
            raise Fail(
                f"The checkpoint is not validly signed by the key shown in {VKEY_PATH} ({log_key.vkey()}): {e.message}",
                PROOF_PATH,
                VKEY_PATH,
            ) from e
        self.s.log_anchored = False
        others = sorted({k.name for k in self.ctx.keys if k.key_type == ALG_ED25519})
        if self.ctx.policy and self.ctx.policy.logs:
            why = f"Your trust policy does not list the log {origin!r}"
        elif others:
            why = f"The log keys you gave are for other logs ({', '.join(others)}), not for {origin!r}"
        else:
            why = "No trusted log key was given"
        self.s.to_confirm.append(
            ToConfirm(
                "Log key",
                log_key.vkey(),
                f"sha256:{log_key.fingerprint()}",
                f"Ask the operator of the log {origin!r} for its verification-keys.txt (the log key and the clock "
                "key), through a channel you trust, never from this bundle; compare, then verify with --log-key "
                "verification-keys.txt or add a 'log' line to your trust policy.",
            )
        )
        self.s.log_detail = (
            f"Entry of the log {origin!r}, signed with the key shown in the bundle (sha256:{log_key.fingerprint()}), "
            "which you have not confirmed."
        )
        return (
            f"{why}. The checkpoint is validly signed by the key shown in {VKEY_PATH}, {log_key.vkey()} (fingerprint "
            f"sha256:{log_key.fingerprint()}), but a key found inside a bundle proves nothing by itself: NOT "
            "ANCHORED IN TRUST." + self.refreshed(signed, [log_key]),
            (PROOF_PATH, VKEY_PATH),
        )

    def cosigner_keys(self) -> list[Verifier]:
        """Every cosignature key this check may count: the user's, the policy's witnesses, the bundle's clock."""
        keys = [k for k in self.ctx.keys if k.key_type == ALG_COSIGNATURE_V1]
        if self.ctx.policy is not None:
            keys += [w.verifier for w in self.ctx.policy.witnesses]
        if self.s.clock_key is not None:
            keys.append(self.s.clock_key)
        return list(dict.fromkeys(keys))

    def refreshed(self, signed: SignedCheckpoint, keys: Sequence[Verifier]) -> str:
        """Check checkpoints added later by ``evidence refresh`` (fail closed); describe them.

        Their cosignatures count in step 6 and their time-stamps in step 7, like those on the
        bundle's own checkpoint: each refreshed tree is proven to extend the bundle's tree,
        which holds the entry.
        """
        from evidence.bundle.refresh import check_refresh

        try:
            checks = check_refresh(self.ctx.v, keys, base=signed, cosigners=self.cosigner_keys())
        except EvidenceError as e:
            raise Fail(
                f"A refreshed checkpoint added to the bundle later does not check out: {e.message}",
                PROOF_PATH,
            ) from e
        self.s.refreshes = checks
        if not checks:
            return ""
        newest = max(checks, key=lambda c: c.checkpoint.size)
        tokens = sum(len(c.tokens) for c in checks)
        return (
            f" The bundle also carries {len(checks)} newer checkpoint(s) of the same log, added later by 'evidence "
            f"refresh' (newest: {entries(newest.checkpoint.size)}); each is signed by the same key and proven "
            "append-only consistent with the checkpoint above, so it contains this entry too. Their cosignatures "
            f"count in step 6 and their {tokens} RFC 3161 time-stamp(s) in step 7."
        )

    def cosigned(
        self, signed: SignedCheckpoint, keys: Sequence[Verifier], what: str
    ) -> dict[Verifier, tuple[int, str]]:
        """For each key, its earliest cosignature over a tree that holds the entry, and where it is.

        Looks at the bundle's checkpoint and at every refreshed checkpoint (already verified
        in step 5, which also failed closed on any bad cosignature there).
        """
        try:
            found = {k: (t, "") for k, t in signed.cosignatures(keys).items()}
        except EvidenceError as e:
            raise Fail(f"A {what} on the checkpoint does not verify: {e.message}", PROOF_PATH) from e
        for r in self.s.refreshes:
            for k, t in r.cosignatures:
                if k in keys and (k not in found or t < found[k][0]):
                    found[k] = (t, f"refresh {r.k}, a later checkpoint of {entries(r.checkpoint.size)} ({r.note_path})")
        return found

    # ------------------------------------------------------------------ 6. cosignatures

    def step6(self) -> tuple[str, tuple[str, ...]]:
        assert self.s.signed is not None and self.s.clock_key is not None and self.s.log_key is not None
        signed = self.s.signed
        origin = signed.checkpoint.origin
        clock_name = clock_key_name(origin)
        bundle_clock = self.s.clock_key
        trusted_clock = [k for k in self.ctx.keys if is_clock_key(k, origin)]
        if self.ctx.policy:
            trusted_clock += [w.verifier for w in self.ctx.policy.witnesses if w.verifier.name == clock_name]
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
        self.s.clock_time = ts
        if trusted_clock:
            if key != bundle_clock:
                raise Fail(
                    f"{VKEY_PATH} shows the clock key {bundle_clock.vkey()}, but the checkpoint's time was signed by "
                    f"the trusted key {key.vkey()}: the key file in the bundle was altered.",
                    VKEY_PATH,
                )
            self.s.clock_grade = Grade.VERIFIED
            self.s.clock_detail = f"The log's clock signed the checkpoint at {iso(ts)} (a key you trust)."
        else:
            self.s.clock_grade = Grade.NOT_ANCHORED
            self.s.clock_detail = (
                f"The log's clock signed the checkpoint at {iso(ts)}, with the clock key shown in the bundle "
                f"(sha256:{key.fingerprint()}), which you have not confirmed."
            )
            self.s.to_confirm.append(
                ToConfirm(
                    "Log clock key",
                    key.vkey(),
                    f"sha256:{key.fingerprint()}",
                    f"The operator of the log {origin!r} publishes it with the log key in the log's "
                    "verification-keys.txt; obtain that file from the operator (never from this bundle), compare, "
                    "then give it with --log-key verification-keys.txt, or add the key to your trust policy as a "
                    "'witness' line.",
                )
            )
        parts = [self.s.clock_detail]
        known: set[tuple[str, int]] = {(self.s.log_key.name, self.s.log_key.key_id), (key.name, key.key_id)}
        user_cosigners = [k for k in self.ctx.keys if k.key_type == ALG_COSIGNATURE_V1 and not is_clock_key(k, origin)]
        if self.ctx.policy is not None:
            # Every policy witness counts toward the quorum as the policy says, the log's own clock
            # key too if the policy lists it; only the others are reported as independent witnesses.
            wkeys = [w.verifier for w in self.ctx.policy.witnesses]
            found = self.cosigned(signed, wkeys, "witness cosignature")
            wcos = {k: t for k, (t, _) in found.items()}
            known |= {(k.name, k.key_id) for k in wkeys}
            independent = [w for w in self.ctx.policy.witnesses if w.verifier.name != clock_name]
            for w in independent:
                parts.append(f"Witness {w.name}: " + cosigned_text(found.get(w.verifier)))
            q = self.ctx.policy.evaluate_quorum(self.ctx.policy.witnesses_for(wcos))
            counted = (
                f" Cosignatures on the bundle's checkpoint and on its {len(self.s.refreshes)} refreshed "
                "checkpoint(s) were counted."
                if self.s.refreshes
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
                self.s.witness_grade = Grade.VERIFIED
                self.s.witness_detail = (
                    "Cosigned by "
                    + "; ".join(f"{w.name} {cosigned_text(found[w.verifier], short=True)}" for w in cosigned)
                    + f". {q.explanation}{counted}"
                )
            else:
                self.s.witness_grade = Grade.NONE
                self.s.witness_detail = f"No independent witness you trust cosigned the checkpoint. {q.explanation}"
        else:
            self.s.witness_grade = Grade.NONE
            self.s.witness_detail = "No trust policy was given, so no witness is required or checked."
        if user_cosigners:
            ufound = self.cosigned(signed, user_cosigners, "cosignature")
            known |= {(k.name, k.key_id) for k in user_cosigners}
            for k in user_cosigners:
                parts.append(f"Cosigner {k.name} (a key you gave): " + cosigned_text(ufound.get(k)))
            if ufound and self.s.witness_grade is Grade.NONE:
                self.s.witness_grade = Grade.VERIFIED
                self.s.witness_detail = "Cosigned by " + "; ".join(
                    f"{k.name} {cosigned_text(v, short=True)}" for k, v in ufound.items()
                )
        unknown = [s for s in signed.note.signatures if (s.name, s.key_id) not in known]
        if unknown:
            listed = ", ".join(f"{s.name} (key ID {s.key_id:08x})" for s in unknown)
            parts.append(f"Not checked (keys not given to this check): {listed}.")
            self.s.witness_detail += f" Also present, not checked: {listed}."
        return " ".join(parts), (PROOF_PATH,)

    # ------------------------------------------------------------------ 7. time-stamps

    def user_pins(self, signer: x509.Certificate) -> tuple[list[PinnedTSA], str | None]:
        """Pins derived from --tsa-cert certificates for a token's signer, or why none."""
        roots = [c for c in self.ctx.tsa_certs if is_ca(c)]
        leaves = [c for c in self.ctx.tsa_certs if not is_ca(c)]
        leaf_pinned = any(certificate_fingerprint(c) == certificate_fingerprint(signer) for c in leaves)
        issuers = [r for r in roots if r.subject == signer.issuer or r == signer]
        if issuers:
            return [
                PinnedTSA(name=common_name(signer), certificate=CertPin.of(signer), root=CertPin.of(r)) for r in issuers
            ], None
        if leaf_pinned:
            return [], (
                "You gave this TSA's certificate but not the root certificate it chains to; give the root as well "
                "(--tsa-cert ROOT.pem) to check the token's chain."
            )
        return [], None

    def step7(self) -> tuple[str, tuple[str, ...]]:
        note = self.s.note
        numbered = sorted((int(m.group(1)), n) for n in self.ctx.v.names if (m := TOKEN_RE.match(n)))
        ks = [k for k, _ in numbered]
        if ks != list(range(1, len(ks) + 1)):
            missing = next(k for k in range(1, len(ks) + 2) if k not in ks)
            raise Fail(
                f"The time-stamps are not numbered 1, 2, ... without gaps: evidence/checkpoint.{missing}.tsr is "
                "missing (it was removed or renamed).",
                f"evidence/checkpoint.{missing}.tsr",
            )
        for n in self.ctx.v.names:
            m = TSA_CERT_RE.match(n)
            if m and int(m.group(1)) not in ks:
                raise Fail(
                    f"{n} belongs to time-stamp {m.group(1)}, but evidence/checkpoint.{m.group(1)}.tsr is missing.",
                    n,
                    f"evidence/checkpoint.{m.group(1)}.tsr",
                )
        refreshed = [(name, r) for r in self.s.refreshes for name, _ in r.tokens]
        if not numbered and not refreshed:
            self.s.empty_steps.add(7)
            return (
                "The bundle carries no RFC 3161 time-stamp: there is nothing to check here, and no independent "
                "time (see the claims below).",
                (),
            )
        seen: dict[str, str] = {}
        for name in [n for _, n in numbered] + [n for n, _ in refreshed]:
            digest = self.ctx.hash(name)[0]
            if digest in seen:
                raise Fail(
                    f"{name} is a copy of {seen[digest]}: the same time-stamp twice means a file was copied into "
                    "the bundle after the fact.",
                    name,
                    seen[digest],
                )
            seen[digest] = name
        files: list[str] = []
        for k, name in numbered:
            files.append(name)
            self.s.tokens.append(self.check_token(name, note, pem_name=f"evidence/tsa-{k}.pem"))
        for name, r in refreshed:
            files.append(name)
            outcome = self.check_token(name, r.note, note_path=r.note_path)
            outcome.text = (
                f"over {r.note_path.split('/')[-1]} (refresh {r.k}, a later checkpoint of {r.checkpoint.size} "
                f"entries that contains this entry): {outcome.text}"
            )
            self.s.tokens.append(outcome)
        lines = [f"{o.name}: {o.text}" for o in self.s.tokens]
        return " ".join(lines), tuple(files)

    def check_token(
        self, name: str, note: bytes, *, pem_name: str | None = None, note_path: str = NOTE_PATH
    ) -> TokenOutcome:
        """Check one RFC 3161 token over ``note`` (the file ``note_path``).

        ``pem_name`` is the file that must hold exactly the token's certificates (tokens on
        the bundle's own checkpoint have one; those on refreshed checkpoints do not).
        """
        try:
            return self._check_token(name, note, pem_name, note_path)
        except CERTIFICATE_ERRORS as e:  # a damaged certificate inside the token, met while reading it
            raise Fail(
                f"{name} carries a certificate that is malformed ({e!r}); it was damaged or altered.", name
            ) from e

    def _check_token(self, name: str, note: bytes, pem_name: str | None, note_path: str) -> TokenOutcome:
        der = self.ctx.read(name, limit=MAX_RESPONSE_BYTES)  # what a TSA may send (evidence.timestamp)
        short = name.split("/")[-1]
        try:
            tok = TimestampToken.parse(der)
            certs = tok.embedded_certificates()
        except (EvidenceError, ValueError) as e:
            msg = e.diagnostics() if isinstance(e, EvidenceError) else str(e)
            raise Fail(f"{name} is not a usable time-stamp: {msg}", name) from e
        expected_pem = b"".join(pem(c) for c in certs)
        if pem_name is None:
            pass
        elif certs:
            if not self.ctx.v.has(pem_name):
                raise Fail(f"{pem_name} (the certificates inside {short}) is missing.", pem_name, name)
            if not hmac.compare_digest(self.ctx.read(pem_name), expected_pem):
                raise Fail(
                    f"{pem_name} is not exactly the certificates inside {short}: it was altered or belongs to another "
                    "time-stamp.",
                    pem_name,
                    name,
                )
        elif self.ctx.v.has(pem_name):
            raise Fail(f"{pem_name} exists, but {short} carries no certificates.", pem_name, name)
        signer = next((c for c in certs if certificate_fingerprint(c) == tok.tsa_cert_sha256), None)
        pins = list(self.ctx.tsa_pins) + (list(self.ctx.policy.tsas) if self.ctx.policy else [])
        note_why: str | None = None
        if signer is not None:
            derived, note_why = self.user_pins(signer)
            pins += derived
        pool = [*certs, *self.ctx.tsa_certs]
        matching = [p for p in pins if signer is not None and p.certificate.matches(signer)]
        if signer is None and pins:
            matching = pins  # the signer may be among the pinned certificates themselves
        if matching:
            unresolved = [p for p in matching if p.root.resolve(pool) is None]
            if len(unresolved) == len(matching):
                p = matching[0]
                return self.unanchored_token(
                    name,
                    tok,
                    signer,
                    note,
                    note_path,
                    f"Your trust pins TSA {p.name}, but its root certificate only by fingerprint "
                    f"sha256:{p.root.sha256} and no certificate with that fingerprint is available; give the root "
                    "certificate file to check this token.",
                )
            try:
                checked = verify_token(der, note, matching, certificates=self.ctx.tsa_certs)
            except EvidenceError as e:
                raise Fail(f"{name}: {e.diagnostics()}", name) from e
            return TokenOutcome(short, Grade.VERIFIED, f"VERIFIED: {checked.summary()}.", checked.gen_time)
        why = note_why
        if why is None and pins:
            pinned = ", ".join(f"{p.name} (sha256:{p.certificate.sha256})" for p in pins)
            why = f"It is not signed by a time-stamping authority you pin (pinned: {pinned})."
            if signer is not None:
                impostor = next(
                    (
                        p.name
                        for p in pins
                        if p.certificate.certificate is not None and p.certificate.certificate.subject == signer.subject
                    ),
                    None,
                )
                if impostor:
                    why += (
                        f" WARNING: its certificate carries the name of the pinned TSA {impostor} but is a different "
                        "certificate."
                    )
        elif why is None:
            why = "No time-stamping authority is pinned (no 'tsa' line in a trust policy, no --tsa-cert)."
        roots = [r for pin in pins if (r := pin.root.resolve(pool)) is not None]
        return self.unanchored_token(name, tok, signer, note, note_path, why, roots)

    def unanchored_token(
        self,
        name: str,
        tok: TimestampToken,
        signer: x509.Certificate | None,
        note: bytes,
        note_path: str,
        why: str,
        pinned_roots: Sequence[x509.Certificate] = (),
    ) -> TokenOutcome:
        """A token from an authority nobody pinned: check what can be checked without trust.

        If its certificate names a root the user pins as its issuer, it is checked against
        that root: a token that fails there was altered or forged (FAILED), one that passes
        is from another TSA under a trusted root (still not anchored: its own certificate is
        not pinned).
        """
        short = name.split("/")[-1]
        if tok.imprint_algorithm != SHA256_OID or not hmac.compare_digest(tok.imprint, hashlib.sha256(note).digest()):
            raise Fail(
                f"{name} does not cover the checkpoint: it certifies the digest {tok.imprint.hex()}, but "
                f"{note_path} has SHA-256 {hashlib.sha256(note).hexdigest()}.",
                name,
                note_path,
            )
        trusted_root = next((r for r in pinned_roots if signer is not None and r.subject == signer.issuer), None)
        if signer is None:
            checked = "Its signature cannot be checked: the token does not include the TSA's certificate."
        else:
            embedded_roots = [c for c in tok.embedded_certificates() if c.subject == c.issuer]
            own_root = next((r for r in embedded_roots if r.subject == signer.issuer), None)
            root = trusted_root or own_root
            if root is not None:
                # Checked as if this signer were pinned under that root: a pinned root, else the token's own.
                provisional = PinnedTSA(name=common_name(signer), certificate=CertPin.of(signer), root=CertPin.of(root))
                try:
                    verify_token(tok.der, note, provisional)
                except EvidenceError as e:
                    against = (
                        f"carries a TSA certificate issued in the name of the root you pin "
                        f"({root.subject.rfc4514_string()}), but it does not verify against that root"
                        if trusted_root is not None
                        else "does not verify even with its own certificates"
                    )
                    forged = " The time-stamp was altered or forged." if trusted_root is not None else ""
                    raise Fail(f"{name} {against}: {e.diagnostics()}{forged}", name) from e
                checked = (
                    "Its signature and chain check out against the root certificate you pin, but its own TSA "
                    "certificate is not one you pin."
                    if trusted_root is not None
                    else "Its signature and chain check out against the certificates it carries."
                )
            else:
                checked = (
                    "Its signature was not checked: that needs the TSA's root certificate, which the bundle does not "
                    "include."
                )
            self.s.to_confirm.append(
                ToConfirm(
                    "Time-stamping authority certificate",
                    f"{signer.subject.rfc4514_string()} (issued by {signer.issuer.rfc4514_string()})",
                    f"sha256:{certificate_fingerprint(signer)}",
                    "Obtain the TSA's certificate and its root certificate from the authority itself and give them "
                    "with --tsa-cert, or pin them with 'tsa-root' and 'tsa' lines in your trust policy.",
                )
            )
        who = signer.subject.rfc4514_string() if signer is not None else "an unknown signer"
        return TokenOutcome(
            short,
            Grade.NOT_ANCHORED,
            f"NOT ANCHORED: claims the time {iso(tok.gen_time)} by {who}; it covers the checkpoint note. {why} "
            f"{checked}",
        )

    # ------------------------------------------------------------------ 8. consistency

    def step8(self) -> tuple[str, tuple[str, ...]]:
        m = self.s.manifest
        cap = self.ctx.json(CAPTURE_PATH)
        if not isinstance(cap, dict):
            raise Fail(f"{CAPTURE_PATH} is not a capture record (a JSON object).", CAPTURE_PATH)
        self.capture_warnings(cap)
        self.hidden_text_warnings(cap)
        opts = cap.get("options") if isinstance(cap.get("options"), dict) else {}
        assert isinstance(opts, dict)
        self.note_not_made(cap)
        pairs = [
            ("url", "requested_url", "the requested address", cap.get("requested_url")),
            ("final_url", "final_url", "the address finally shown", cap.get("final_url")),
            ("status", "status", "the HTTP status", cap.get("status")),
            ("http_error", "http_error", "whether the server answered with an error", bool(cap.get("http_error"))),
            ("capture_started", "started_at", "the capture's start time", cap.get("started_at")),
            ("capture_finished", "finished_at", "the capture's end time", cap.get("finished_at")),
            ("case", "options.case", "the case reference", opts.get("case")),
            ("operator", "options.operator", "the operator", opts.get("operator")),
        ]
        for mkey, ckey, what, cval in pairs:
            if m.get(mkey) != cval:
                raise Fail(
                    f"The manifest and {CAPTURE_PATH} disagree about {what}: the manifest says {m.get(mkey)!r}, "
                    f"{CAPTURE_PATH} ({ckey}) says {cval!r}.",
                    CAPTURE_PATH,
                    MANIFEST_PATH,
                )
        self.check_sealed_json()
        window = self.check_times()
        self.check_artifacts_sealed(cap)
        url, final_url, status = m.get("url"), m.get("final_url"), m.get("status")
        targets = [u for u in (final_url, url) if isinstance(u, str) and u]
        if not targets:
            raise Fail("The manifest records no address for the preserved page.", MANIFEST_PATH)
        scan = self.scan_warc(targets, window)
        found = scan.statuses
        ok_url = next((u for u in targets if found.get(u) and (status is None or status in found[u])), None)
        if ok_url is None:
            seen = "; ".join(f"{u}: {found[u]}" for u in targets if u in found) or "none"
            raise Fail(
                f"The web archive {WARC_PATH} holds no response for the preserved page ({targets[0]}) with the HTTP "
                f"status {status} the manifest records (responses found for it: {seen}).",
                WARC_PATH,
            )
        self.check_index(scan)
        self.check_pages(targets, cap)
        self.check_replay(scan, cap, status)
        self.check_package()
        from evidence.report import EDITIONS, old_edition_warning, render_report, render_verify_txt

        older: list[tuple[str, int]] = []
        for path, render in ((REPORT_PATH, render_report), (VERIFY_PATH, render_verify_txt)):
            have = self.ctx.read(path)
            matched: int | None = None
            error: str | None = None
            for edition in EDITIONS:  # the current wording first, then those of earlier versions
                try:
                    want = render(self.ctx.v, edition=edition)
                except EvidenceError as e:
                    error = error or e.diagnostics()
                    continue
                except (AttributeError, TypeError, KeyError, ValueError, ArithmeticError, RecursionError) as e:
                    # render_* trust the shapes of capture.json; a sealed but malformed record lands here.
                    error = error or f"the bundle's capture records are malformed ({bounded_text(e, 300)})"
                    continue
                if hmac.compare_digest(have, want):
                    matched = edition
                    break
            if matched is None and error is not None:
                raise Fail(f"{path} cannot be regenerated from the bundle's data: {error}", path)
            if matched is None:
                raise Fail(
                    f"{path} is not what the bundle's data produces: it was edited after the bundle was written, so "
                    "it may state things the sealed evidence does not support.",
                    path,
                )
            if matched != EDITIONS[0]:
                older.append((path, matched))
        if older:
            self.s.warnings.append(old_edition_warning(older))
        return (
            f"{CAPTURE_PATH} agrees with the manifest; the times are in a possible order ({window.describe()}); "
            f"{WARC_PATH} holds the response for {ok_url} with HTTP status {status}, and its {scan.records} "
            f"records are dated within the capture; {INDEX_PATH} is exactly the index of those records "
            f"({len(scan.index)} lines); {PAGES_PATH} and {DATAPACKAGE} show exactly the sealed page, title and "
            f"dates; {REPORT_PATH} and {VERIFY_PATH} are exactly what the bundle's data produces"
            + (" (in the wording of an earlier version; see the warnings)." if older else "."),
            (CAPTURE_PATH, WARC_PATH, INDEX_PATH, PAGES_PATH, DATAPACKAGE, REPORT_PATH, VERIFY_PATH),
        )

    def capture_warnings(self, cap: dict[str, Any]) -> None:
        """What the capture itself warned about (``capture.json`` → ``warnings``: the site
        answered the browser and the raw fetch differently, the page never settled, text no
        font could draw, ...), in the report's warnings, marked as the capture's."""
        found = cap.get("warnings")
        if not isinstance(found, list):
            return
        for w in found[:100]:
            if isinstance(w, str) and w.strip():
                self.s.warnings.append(f"the capture recorded: {w.strip()[:2000]}")

    def check_artifacts_sealed(self, cap: dict[str, Any]) -> None:
        """Every file ``capture.json`` lists as written is sealed: a capture file may be
        absent only with a recorded reason (``artifacts_not_made``), never silently."""
        listed = cap.get("artifacts")
        if not isinstance(listed, list):
            return
        files = self.s.manifest.get("files")
        sealed = {f.get("path") for f in files if isinstance(f, dict)} if isinstance(files, list) else set()
        for name in listed:
            if not isinstance(name, str):
                continue
            path = WARC_PATH if name == "archive.warc.gz" else f"evidence/{name}"
            if path not in sealed:
                raise Fail(
                    f"{CAPTURE_PATH} lists {name} among the files the capture wrote, but the bundle does not seal "
                    f"{path}: a file of the capture is missing, and no reason for it is recorded.",
                    CAPTURE_PATH,
                    path,
                )

    def note_not_made(self, cap: dict[str, Any]) -> None:
        """A warning for each capture file the capture record says was not made (turned off,
        or skipped at its time limit): a missing PDF is then a recorded fact, not a gap."""
        not_made = cap.get("artifacts_not_made")
        if not isinstance(not_made, dict):
            return
        for name, why in sorted(not_made.items()):
            reason = why.get("reason") if isinstance(why, dict) else why
            self.s.warnings.append(f"{name} was not made in this capture: {reason} ({CAPTURE_PATH}).")

    @contextmanager
    def stream(self, name: str) -> Iterator[Any]:
        try:
            f = self.ctx.v.stream(name)
        except BundleFormatError as e:
            raise Fail(e.message, name) from e
        with f:
            yield f

    # ------------------------------------------------------------------ 8. strict JSON

    def check_sealed_json(self) -> None:
        """Every sealed ``.json`` file is strict JSON (one reading only; see evidence._internal.jsonstrict)."""
        for f in self.s.manifest.get("files", []):
            path = f.get("path") if isinstance(f, dict) else None
            if isinstance(path, str) and path.endswith(".json") and path != CAPTURE_PATH:
                self.ctx.json(path)

    # ------------------------------------------------------------------ 8. times

    def check_times(self) -> Window:
        """The capture's start and end, the log's signed time, every verified cosignature and
        every RFC 3161 genTime must be in an order that can be true, within CLOCK_TOLERANCE_S.

        An impossible order fails; a suspicious gap is a warning (docs/bundle-format.md §4).
        """
        m = self.s.manifest
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
            self.s.warnings.append(
                f"The capture lasted {span(finish - start)} by the capture machine's clock ({when_text(start)} to "
                f"{when_text(finish)}); a capture normally takes seconds. The page may have changed during it."
            )
        assert self.s.clock_time is not None
        clock = self.s.clock_time
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
            self.s.warnings.append(
                f"The log signed the checkpoint holding this capture's seal at {when_text(clock)}, "
                f"{span(clock - finish)} after the capture ended ({when_text(finish)}, capture machine's clock). "
                "A capture is normally sealed within seconds; until this is explained, the capture's own times rest "
                "on its machine's clock alone."
            )
        now = datetime.now(UTC).timestamp()
        if start > now + tol:
            self.s.warnings.append(
                f"The capture is dated {when_text(start)}, after the time on this computer ({when_text(now)})."
            )
        assert self.s.signed is not None
        found = self.cosigned(self.s.signed, self.cosigner_keys(), "cosignature")
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
        own = [n for n in self.ctx.v.names if TOKEN_RE.match(n)]
        stamped = [(n, True) for n in own] + [(n, False) for r in self.s.refreshes for n, _ in r.tokens]
        for name, on_own in stamped:
            try:
                gen = TimestampToken.parse(self.ctx.read(name, limit=MAX_RESPONSE_BYTES)).gen_time.timestamp()
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

    # ------------------------------------------------------------------ 8. the web archive and its index

    def scan_warc(self, targets: Sequence[str], window: Window) -> WarcScan:
        """Read the WARC once: every record's date within the capture window, the HTTP statuses
        of the page's responses, and the index lines its records must have (evidence.bundle.wacz.cdxj_line).

        Bounded: at most MAX_WARC_INFLATED bytes are decompressed, MAX_INDEX_LINES kept, and
        no line longer than MAX_WARC_LINE (nor more than MAX_WARC_LINES) read.
        """
        from urllib.parse import urljoin

        from warcio.archiveiterator import ArchiveIterator

        from evidence.bundle.surt import surt
        from evidence.bundle.wacz import cdxj_line, index_order

        found: dict[str, list[int | None]] = {}
        lines: list[tuple[str, str, int, str]] = []
        page_records: list[PageRecord] = []
        # The key replay opens the page under: that of the address pages.jsonl lists (the final
        # one; the requested address, if different, replays as the redirect it was).
        page_keys: set[str] = set()
        try:
            page_keys = {surt(targets[0])}
        except Exception:  # a sealed address no SURT can be made of: nothing can be replayed under it
            page_keys = set()
        count = 0
        low, high = window.start - CLOCK_TOLERANCE_S, window.finish + CLOCK_TOLERANCE_S
        try:
            with self.stream(WARC_PATH) as f:
                budget = InflateBudget(f)
                # Digests checked (a record cut short, or with a block or payload other than its
                # WARC-*-Digest says, is refused), as `warcio check` does.
                it = ArchiveIterator(budget, check_digests="raise")
                budget.bound_lines(it)
                for rec in it:
                    count += 1
                    if not it.reader.decompressor:
                        raise Fail(
                            f"Record {count} of {WARC_PATH} is not compressed on its own (a bundle's archive is one "
                            "gzip member per record): replay programs may read the archive differently.",
                            WARC_PATH,
                        )
                    raw_date = rec.rec_headers.get_header("WARC-Date")
                    when = warc_time(raw_date)
                    if when is None:
                        raise Fail(
                            f"Record {count} of {WARC_PATH} has no valid WARC-Date ({str(raw_date)[:40]!r}).",
                            WARC_PATH,
                        )
                    if not low <= when <= high:
                        uri = rec.rec_headers.get_header("WARC-Target-URI") or rec.rec_type
                        raise Fail(
                            f"Record {count} of {WARC_PATH} ({rec.rec_type} {str(uri)[:200]}) is dated {raw_date}, "
                            f"outside the capture ({when_text(window.start)} to {when_text(window.finish)}, tolerance "
                            f"{span(CLOCK_TOLERANCE_S)}): the archive holds something that was not recorded "
                            "during this capture.",
                            WARC_PATH,
                        )
                    uri = rec.rec_headers.get_header("WARC-Target-URI")
                    if rec.rec_type == "response" and uri in targets:
                        code: int | None = None
                        if rec.http_headers is not None:
                            raw = rec.http_headers.get_statuscode()
                            code = int(raw) if raw and str(raw).isdigit() else None
                        found.setdefault(uri, []).append(code)
                    if isinstance(uri, str) and not plain_uri(uri):
                        raise Fail(
                            f"Record {count} of {WARC_PATH} names its address as "
                            f"{short_json(visible_text(uri[:300]))}, which is not a plain URI (it has angle brackets, "
                            "white space, or invisible, control or direction-changing characters, which a browser "
                            "never leaves unencoded): replay programs would read it as different addresses, and a "
                            "reader would see another.",
                            WARC_PATH,
                        )
                    digest = None
                    if rec.rec_type in ("response", "resource", "revisit") and isinstance(uri, str) and uri:
                        try:
                            under_page = surt(uri) in page_keys
                        except Exception:
                            under_page = False
                        if under_page:
                            h = hashlib.sha256()
                            while chunk := rec.raw_stream.read(1 << 16):
                                h.update(chunk)
                            digest = h.hexdigest()
                    line = cdxj_line(rec, it.get_record_offset(), it.get_record_length(), INDEX_FILENAME)
                    short = getattr(rec.raw_stream, "limit", 0)
                    if short or it.err_count:
                        raise Fail(
                            f"Record {count} of {WARC_PATH} ({rec.rec_type} {str(uri)[:200]}) does not hold the "
                            "number of bytes its Content-Length declares"
                            + (f" ({short} bytes are missing)" if short else "")
                            + ": replay programs may read the archive differently.",
                            WARC_PATH,
                        )
                    if line is not None:
                        if len(lines) >= common.MAX_INDEX_LINES:
                            raise Fail(
                                f"{WARC_PATH} holds more than {common.MAX_INDEX_LINES} indexed records, more than this "
                                "verifier accepts (a capture of one page holds far fewer).",
                                WARC_PATH,
                            )
                        order = index_order(line, rec)
                        lines.append(order)
                        if digest is not None:
                            code2: int | None = None
                            loops = False
                            if rec.rec_type == "response" and rec.http_headers is not None:
                                raw2 = rec.http_headers.get_statuscode()
                                code2 = int(raw2) if raw2 and str(raw2).isdigit() else None
                                where = rec.http_headers.get_header("Location")
                                if code2 is not None and 300 <= code2 < 400 and where:
                                    try:
                                        loops = surt(urljoin(str(uri), str(where))) in page_keys
                                    except Exception:
                                        loops = False
                            page_records.append(
                                PageRecord(
                                    count,
                                    order,
                                    rec.rec_type,
                                    str(uri),
                                    rec.rec_headers.get_header("WARC-Evidence-Source") == "raw-fetch",
                                    code2,
                                    digest,
                                    loops,
                                )
                            )
        except Fail:
            raise
        except Exception as e:  # warcio raises many kinds of errors on damaged archives
            raise Fail(
                f"The web archive {WARC_PATH} cannot be read as a WARC file ({type(e).__name__}: {e}).", WARC_PATH
            ) from e
        lines.sort()
        page_records.sort(key=lambda r: r.order)
        return WarcScan(found, tuple(k[-1] for k in lines), count, tuple(page_records))

    def check_index(self, scan: WarcScan) -> None:
        """``indexes/index.cdx`` must be, byte for byte, the index of the WARC's records."""
        want = ("\n".join(scan.index) + "\n").encode("utf-8")
        if not self.ctx.v.has(INDEX_PATH):
            raise Fail(f"The bundle has no {INDEX_PATH}.", INDEX_PATH)
        try:
            have = self.ctx.v.read(INDEX_PATH, limit=common.MAX_INDEX_BYTES)
        except BundleFormatError as e:
            raise Fail(
                f"{INDEX_PATH} cannot be read, or is larger than this verifier accepts: {e.message}", INDEX_PATH
            ) from e
        if hmac.compare_digest(have, want):
            return
        wanted = set(scan.index)
        by_offset: dict[str, str] = {}
        for line in scan.index:
            off = index_offset(line)
            if off is not None:
                by_offset[off] = line
        try:
            got = have.decode("utf-8").split("\n")
        except UnicodeDecodeError as e:
            raise Fail(f"{INDEX_PATH} is not UTF-8 text.", INDEX_PATH) from e
        if got and got[-1] == "":
            got = got[:-1]
        seen: set[str] = set()
        for n, line in enumerate(got, start=1):
            if line in seen:
                raise Fail(
                    f"Line {n} of {INDEX_PATH} repeats an earlier line; each record is indexed once.", INDEX_PATH
                )
            seen.add(line)
            if line in wanted:
                continue
            off = index_offset(line)
            real = by_offset.get(off) if off is not None else None
            if real is None:
                raise Fail(
                    f"Line {n} of {INDEX_PATH} ({line[:200]}) does not point at an indexed record of {WARC_PATH} "
                    "(no such record starts at the offset it gives). Replay would show something the archive does "
                    "not hold as indexed.",
                    INDEX_PATH,
                    WARC_PATH,
                )
            raise Fail(
                f"Line {n} of {INDEX_PATH} ({line[:200]}) does not describe the record it points at: the record at "
                f"offset {off} of {WARC_PATH} is indexed as {real[:200]}. Replay would show the wrong thing for "
                "that address.",
                INDEX_PATH,
                WARC_PATH,
            )
        missing = [x for x in scan.index if x not in seen]
        if missing:
            parts = missing[0].split(" ", 2)
            data = jsonstrict.loads(parts[2]) if len(parts) == 3 else {}
            raise Fail(
                f"{INDEX_PATH} has no line for the record of {str(data.get('url'))[:300]} at offset "
                f"{data.get('offset')} of {WARC_PATH}; every response, resource and revisit record must be indexed "
                f"(its line would be: {missing[0][:300]}).",
                INDEX_PATH,
                WARC_PATH,
            )
        raise Fail(
            f"{INDEX_PATH} holds the right lines but not in the order (sorted) or form the index rule fixes.",
            INDEX_PATH,
        )

    # ------------------------------------------------------------------ 8. what viewers show

    def check_pages(self, targets: Sequence[str], cap: dict[str, Any]) -> None:
        """``pages/pages.jsonl``: the fixed header line, then exactly the sealed page's line."""
        from evidence.bundle import page_entry

        raw = self.ctx.read(PAGES_PATH)
        lines_in_file = raw.count(b"\n")
        if lines_in_file > MAX_PAGES_LINES:
            # Counted before anything is split or parsed: millions of short lines would take
            # minutes and gigabytes to read as JSON.
            raise Fail(
                f"{PAGES_PATH} has {lines_in_file} lines; a bundle preserves one page (a header line and one page "
                "line), so a viewer could open another.",
                PAGES_PATH,
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Fail(f"{PAGES_PATH} is not UTF-8 text.", PAGES_PATH) from e
        rows = text.split("\n")
        if rows[-1] != "" or "\r" in text or any(not r.strip() for r in rows[:-1]):
            raise Fail(f"{PAGES_PATH} must be JSON lines, each ending in a newline, with no blank line.", PAGES_PATH)
        try:
            lines = [jsonstrict.loads(x) for x in rows[:-1]]
        except (ValueError, RecursionError) as e:
            raise Fail(f"{PAGES_PATH} is not a valid JSON Lines pages list ({e}).", PAGES_PATH) from e
        if not lines or not same_json(lines[0], PAGES_HEADER):
            raise Fail(
                f"{PAGES_PATH} does not start with the header line {json.dumps(PAGES_HEADER, sort_keys=True)}.",
                PAGES_PATH,
            )
        pages = lines[1:]
        if not any(isinstance(p, dict) and p.get("url") in targets for p in pages):
            raise Fail(f"{PAGES_PATH} does not list the preserved page {targets[0]}.", PAGES_PATH)
        if len(pages) != 1:
            raise Fail(
                f"{PAGES_PATH} lists {len(pages)} pages; a bundle preserves one page, so a viewer could open another.",
                PAGES_PATH,
            )
        want, page = page_entry(cap), pages[0]
        assert isinstance(page, dict)
        for key in sorted(set(page) | set(want)):
            if key not in want:
                raise Fail(
                    f"{PAGES_PATH} gives the page a field {key!r} that the bundle format does not have.", PAGES_PATH
                )
            if key not in page or not same_json(page[key], want[key]):
                raise Fail(
                    f"{PAGES_PATH} gives the page's {key!r} as {short_json(page.get(key))}, but the sealed capture "
                    f"record gives {short_json(want[key])}; a viewer would show what the capture did not record.",
                    PAGES_PATH,
                    CAPTURE_PATH,
                )

    def check_replay(self, scan: WarcScan, cap: dict[str, Any], status: Any) -> None:
        """The record a replayer opens for the page is the page's response, and the only one it could open.

        Replay (pywb, ReplayWeb.page) looks the page's address up by its SURT key and takes the
        capture closest to the time in ``pages.jsonl`` (or to ``mainPageDate``, the capture's
        start, for a viewer opening the main page), the first in index order among equally
        close ones. Every record under that key at that distance must be a response with the
        manifest's status and the same payload (else which one a reader sees depends on the
        replayer), except the raw fetch's copy beside the browser's (compared by the capture
        itself); redirects to the address itself from another spelling are skipped; and when
        ``capture.json`` gives the SHA-256 of the page's body as the browser had it
        (``main_document.body_sha256``), the browser's record replay opens must hold exactly
        that body. (docs/bundle-format.md, "The page replay opens".)
        """
        from evidence.bundle import page_entry

        want = page_entry(cap)
        # A redirect from another spelling of the address to the address itself (http:// to
        # https://) is skipped by replayers as a self-redirect; it is not a rival of the page.
        recs = [r for r in scan.page_records if not (r.self_redirect and r.uri != want.get("url"))]
        if not recs:
            return  # scan_warc already requires a response for the page
        main = cap.get("main_document")
        body = main.get("body_sha256") if isinstance(main, dict) else None
        # The time in pages.jsonl (what ReplayWeb.page opens), and mainPageDate in
        # datapackage.json (what a viewer opening the main page may use).
        stamps = (want.get("ts"), self.s.manifest.get("capture_started"))
        parsed = [parse_utc(t) for t in stamps]
        if parsed[0] is None:
            # A replayer reads "...+14:00" (or any other form) its own way: the time must be
            # one that every reader turns into the same second.
            raise Fail(
                f"{PAGES_PATH} gives the page the time {short_json(stamps[0])}, which is not a UTC time of the form "
                "2026-01-31T12:00:00Z (from capture.json main_document.warc_date or started_at): replay programs "
                "would read it differently and open different records.",
                PAGES_PATH,
                CAPTURE_PATH,
            )

        def digits(t: float) -> str:
            d = datetime.fromtimestamp(int(t // 1), UTC)
            return f"{d.year:04d}{d.month:02d}{d.day:02d}{d.hour:02d}{d.minute:02d}{d.second:02d}"

        times = dict.fromkeys(digits(p) for p in parsed if p is not None)

        def seconds(stamp: str) -> float:
            try:
                return datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()
            except ValueError:
                return float("inf")

        def what(r: PageRecord) -> str:
            src = " (raw fetch)" if r.raw_fetch else ""
            return f"record {r.number} ({r.kind}{src} of {r.uri[:200]}, status {r.status}, payload SHA-256 {r.sha256})"

        for ts in times:
            at = seconds(ts)
            best = min(abs(seconds(r.order[1]) - at) for r in recs)
            close = [r for r in recs if abs(seconds(r.order[1]) - at) == best]
            shown = close[0]
            if shown.kind != "response" or (isinstance(status, int) and shown.status != status):
                raise Fail(
                    f"Replay of the page opens {what(shown)}, not a response with the HTTP status {status} the "
                    "manifest records: a reader replaying the archive would see something other than the preserved "
                    "page.",
                    WARC_PATH,
                    INDEX_PATH,
                )
            for r in close[1:]:
                if r.raw_fetch != shown.raw_fetch:
                    # The raw fetch's copy beside the browser's: they may differ honestly (wire
                    # bytes, cloaking); the capture compares them and warns (capture.json).
                    continue
                if r.kind != shown.kind or r.status != shown.status or r.sha256 != shown.sha256:
                    raise Fail(
                        f"The web archive holds two different records a replayer could open for the page at the "
                        f"same time: {what(shown)} and {what(r)}. Which one a reader sees depends on the replay "
                        "program, so the archive does not show one page.",
                        WARC_PATH,
                        INDEX_PATH,
                    )
            if (
                isinstance(body, str)
                and isinstance(main, dict)
                and not shown.raw_fetch
                and main.get("url") in (None, want.get("url"), shown.uri)
                and not hmac.compare_digest(body.encode(), shown.sha256.encode())
            ):
                raise Fail(
                    f"Replay of the page opens {what(shown)}, but {CAPTURE_PATH} records that the browser had a "
                    f"body with SHA-256 {short_json(body)}: the archive would show another page than the one the "
                    "capture describes.",
                    WARC_PATH,
                    CAPTURE_PATH,
                )

    def check_package(self) -> None:
        """``datapackage.json`` (not sealed) may hold only the fields the writer puts there, each
        exactly as the sealed manifest determines it; the same for ``datapackage-digest.json``."""
        from evidence.bundle import package_fields
        from evidence.bundle.wacz import WACZ_VERSION, resource_name

        pkg = self.ctx.json(DATAPACKAGE)
        assert isinstance(pkg, dict)
        unknown = sorted(set(pkg) - PACKAGE_FIELDS)
        if unknown:
            raise Fail(
                f"{DATAPACKAGE} has the field {unknown[0]!r}, which bundles never carry: it was added after sealing, "
                "and a viewer might show it.",
                DATAPACKAGE,
            )
        fields = package_fields(self.s.manifest)
        want: dict[str, Any] = {
            "profile": "data-package",
            "wacz_version": WACZ_VERSION,
            "title": fields["title"],
            "created": fields["created"],
            "software": fields["software"],
        }
        if fields["main_url"]:
            want["mainPageUrl"] = fields["main_url"]
        if fields["main_date"]:
            want["mainPageDate"] = fields["main_date"]
        for key in sorted(PACKAGE_FIELDS - {"resources"}):
            if key not in want and key in pkg:
                raise Fail(f"{DATAPACKAGE} has {key!r}, but the sealed manifest gives it no value.", DATAPACKAGE)
            if key in want and (key not in pkg or not same_json(pkg[key], want[key])):
                raise Fail(
                    f"{DATAPACKAGE} gives {key!r} as {short_json(pkg.get(key))}, but the sealed manifest makes it "
                    f"{short_json(want[key])}: it was rewritten after sealing, and WACZ viewers show it.",
                    DATAPACKAGE,
                    MANIFEST_PATH,
                )
        for r in pkg.get("resources", []):
            assert isinstance(r, dict)
            extra = sorted(set(r) - {"name", "path", "hash", "bytes"})
            if extra or r.get("name") != resource_name(str(r.get("path"))):
                what = f"the field {extra[0]!r}" if extra else f"the name {short_json(r.get('name'))}"
                raise Fail(
                    f"{DATAPACKAGE} gives the resource {r.get('path')} {what}, which the writer never does.",
                    DATAPACKAGE,
                )
        dig = self.ctx.json(DATAPACKAGE_DIGEST)
        if not isinstance(dig, dict) or set(dig) != {"path", "hash"}:
            raise Fail(f"{DATAPACKAGE_DIGEST} must hold exactly the fields 'path' and 'hash'.", DATAPACKAGE_DIGEST)

    def hidden_text_warnings(self, cap: dict[str, Any]) -> None:
        """A warning for every sealed value a reader is shown (addresses, title, case, operator,
        redirects) that holds invisible or direction-changing characters: a right-to-left
        override or a zero-width space makes an address read as another one. The text output
        and the certificate show such characters as ``[U+202E]``."""
        m = self.s.manifest
        opts = cap.get("options") if isinstance(cap.get("options"), dict) else {}
        assert isinstance(opts, dict)
        shown: list[tuple[str, Any]] = [
            ("the requested address", m.get("url")),
            ("the address finally shown", m.get("final_url")),
            ("the page title", cap.get("page_title")),
            ("the case reference", m.get("case")),
            ("the operator", m.get("operator")),
            ("the case reference in capture.json", opts.get("case")),
            ("the operator in capture.json", opts.get("operator")),
        ]
        tls = cap.get("tls")
        if isinstance(tls, dict):
            shown += [("the server certificate's subject", tls.get("subject")), ("its issuer", tls.get("issuer"))]
        chain = cap.get("redirect_chain")
        if isinstance(chain, list):
            for hop in chain[:100]:
                if isinstance(hop, dict):
                    shown += [("an address in the redirect chain", hop.get(k)) for k in ("url", "location")]
                else:
                    shown.append(("an address in the redirect chain", hop))
        seen: set[str] = set()
        for what, value in shown:
            if not isinstance(value, str) or value in seen:
                continue
            seen.add(value)
            hidden = hidden_characters(value)
            if hidden:
                self.s.warnings.append(
                    f"{what[0].upper()}{what[1:]} holds characters that are invisible or change the direction of "
                    f"text ({', '.join(hidden)}), so it can read as something it is not. Written with them "
                    f"shown: {visible_text(bounded_text(value, 500))}"
                )

    # ------------------------------------------------------------------ report

    def facts(self) -> tuple[tuple[str, str], ...]:
        m = self.s.manifest
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
            out.append(("Manifest SHA-256", hashlib.sha256(self.s.manifest_bytes).hexdigest()))
        if self.s.proof is not None and self.s.signed is not None:
            cp = self.s.signed.checkpoint
            out.append(("Log", cp.origin))
            out.append(("Entry", f"{self.s.proof.index} (of {cp.size} in the checkpoint)"))
        return tuple(out)

    def data(self) -> tuple[tuple[str, Any], ...]:
        """The facts for machines: stable snake_case keys, numbers as numbers, ISO 8601 UTC times."""
        m = self.s.manifest
        out: dict[str, Any] = {}
        if m:
            out["url"] = m.get("url")
            out["final_url"] = m.get("final_url")
            status = m.get("status")
            out["http_status"] = status if isinstance(status, int) and not isinstance(status, bool) else None
            out["capture_started"] = m.get("capture_started")
            out["case"] = m.get("case") or None
            out["operator"] = m.get("operator") or None
            out["manifest_sha256"] = hashlib.sha256(self.s.manifest_bytes).hexdigest()
        if self.s.proof is not None and self.s.signed is not None:
            cp = self.s.signed.checkpoint
            out["log_origin"] = cp.origin
            out["entry_index"] = self.s.proof.index
            out["tree_size"] = cp.size
            out["root_hash"] = cp.root_hash.hex()
        if self.s.clock_time is not None:
            out["signed_time"] = iso(self.s.clock_time)
            out["signed_time_unix"] = self.s.clock_time
        good = sorted(t.time for t in self.s.tokens if t.grade is Grade.VERIFIED and t.time is not None)
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
            for t in self.s.tokens
        ]
        return tuple(out.items())

    def claims(self, steps: Sequence[StepResult]) -> tuple[Claim, ...]:
        failed = next((s.number for s in steps if not s.ok), None)
        ran = {s.number for s in steps if s.ok}

        def grade_for(step_set: set[int], ok_grade: Grade | None, ok_detail: str) -> tuple[Grade, str]:
            if failed in step_set and ok_grade is None:
                return Grade.FAILED, f"Failed at step {failed}."
            if ok_grade is not None:
                return ok_grade, ok_detail
            return Grade.NOT_CHECKED, "Not checked: an earlier step failed."

        s = self.s
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
        if s.log_anchored is not None and 5 in ran:
            log_grade = Grade.VERIFIED if s.log_anchored else Grade.NOT_ANCHORED
        inclusion = grade_for({4, 5}, log_grade, s.log_detail)
        clock = grade_for({6}, s.clock_grade, s.clock_detail)
        witnesses = grade_for({6}, s.witness_grade if 6 in ran else None, s.witness_detail)
        if 7 in ran:
            if not s.tokens:
                tsa = (
                    Grade.NONE,
                    "The bundle carries no independent time-stamp; its time rests on the log alone. If a "
                    "time-stamping authority was down when it was sealed, 'evidence refresh' can add one now.",
                )
            else:
                good = sorted((t.time, t.name) for t in s.tokens if t.grade is Grade.VERIFIED and t.time is not None)
                detail = " ".join(f"{t.name}: {t.text}" for t in s.tokens)
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

    def report(self, steps: tuple[StepResult, ...], unusable: Fail | None) -> Report:
        path = str(self.ctx.path)
        trust = _describe_trust(self.ctx.policy, self.ctx.keys, self.ctx.tsa_pins, self.ctx.tsa_certs)
        if unusable is not None:
            return Report(
                path=path,
                verdict=Verdict.UNUSABLE,
                summary=f"This file cannot be checked as an evidence bundle: {unusable.detail}",
                steps=steps,
                claims=(),
                trust=trust,
            )
        claims = self.claims(steps)
        failed = next((s for s in steps if not s.ok), None)
        unanchored = "; ".join(c.name for c in claims if c.grade is Grade.NOT_ANCHORED)
        to_confirm = tuple(self.s.to_confirm)
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
            claims=claims,
            to_confirm=to_confirm,
            trust=trust,
            facts=self.facts(),
            data=self.data(),
            warnings=tuple(self.s.warnings),
        )


def _describe_trust(
    policy: TrustPolicy | None,
    keys: Sequence[Verifier],
    pins: Sequence[PinnedTSA],
    certs: Sequence[x509.Certificate],
) -> str:
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
    return _Verification(Context(Path(path), TrustInputs(trust, tuple(keys), tuple(pinned), tuple(certs)))).run()
