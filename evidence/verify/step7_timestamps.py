"""Step 7: independent time-stamps (RFC 3161)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from evidence.bundle import (
    NOTE_PATH,
    TOKEN_RE,
    TSA_CERT_RE,
)
from evidence.bundle.refresh import RefreshCheck
from evidence.errors import (
    EvidenceError,
)
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
from evidence.verify.common import (
    Fail,
    TokenOutcome,
    common_name,
    is_ca,
    iso,
    keep_learned,
    pem,
)
from evidence.verify.context import Context
from evidence.verify.results import (
    Grade,
    ToConfirm,
)
from evidence.verify.step4_inclusion import Step4Result
from evidence.verify.step5_log_signature import Step5Result
from evidence.verify.step7_bracket import StartStamp, check_start


@dataclass(frozen=True)
class Step7Result:
    """Each time-stamp token's grade and time; ``empty`` if the bundle carries none."""

    detail: str
    files: tuple[str, ...]
    tokens: tuple[TokenOutcome, ...]
    to_confirm: tuple[ToConfirm, ...]
    empty: bool = False
    #: The clean-environment report's start token (None: a bundle without the report).
    start: StartStamp | None = None


def run(ctx: Context, inclusion: Step4Result, log: Step5Result) -> Step7Result:
    """Step 7: every RFC 3161 token covers its checkpoint note and is graded against the pinned TSAs."""
    note = inclusion.note
    checker = _Tokens(ctx)
    tokens: list[TokenOutcome] = []
    numbered = sorted((int(m.group(1)), n) for n in ctx.v.names if (m := TOKEN_RE.match(n)))
    ks = [k for k, _ in numbered]
    if ks != list(range(1, len(ks) + 1)):
        missing = next(k for k in range(1, len(ks) + 2) if k not in ks)
        raise Fail(
            f"The time-stamps are not numbered 1, 2, ... without gaps: evidence/checkpoint.{missing}.tsr is "
            "missing (it was removed or renamed).",
            f"evidence/checkpoint.{missing}.tsr",
        )
    for n in ctx.v.names:
        m = TSA_CERT_RE.match(n)
        if m and int(m.group(1)) not in ks:
            raise Fail(
                f"{n} belongs to time-stamp {m.group(1)}, but evidence/checkpoint.{m.group(1)}.tsr is missing.",
                n,
                f"evidence/checkpoint.{m.group(1)}.tsr",
            )
    refreshed = [(name, r) for r in log.refreshes for name, _ in r.tokens]
    start = check_start(ctx, checker.check_token)
    said = f" Start token: {start.outcome.text}" if start is not None and start.outcome is not None else ""
    start_files: tuple[str, ...] = ("evidence/start.tsr",) if start is not None and start.outcome is not None else ()
    if not numbered and not refreshed:
        return Step7Result(
            "The bundle carries no RFC 3161 time-stamp over its checkpoint: there is nothing to check here, and no "
            "independent time (see the claims below)." + said,
            start_files,
            (),
            tuple(checker.to_confirm),
            empty=start is None or start.outcome is None,
            start=start,
        )
    seen: dict[str, str] = {}
    for name in [n for _, n in numbered] + [n for n, _ in refreshed]:
        digest = ctx.hash(name)[0]
        if digest in seen:
            raise Fail(
                f"{name} is a copy of {seen[digest]}: the same time-stamp twice means a file was copied into "
                "the bundle after the fact.",
                name,
                seen[digest],
            )
        seen[digest] = name
    files: list[str] = []
    try:
        _check_all(checker, tokens, files, note, numbered, refreshed)
    except Exception as e:
        keep_learned(e, Step7Result("", (), tuple(tokens), ()))  # the tokens checked so far are shown
        raise
    lines = [f"{o.name}: {o.text}" for o in tokens]
    return Step7Result(
        " ".join(lines) + said, tuple(files) + start_files, tuple(tokens), tuple(checker.to_confirm), start=start
    )


def _check_all(
    checker: _Tokens,
    tokens: list[TokenOutcome],
    files: list[str],
    note: bytes,
    numbered: Sequence[tuple[int, str]],
    refreshed: Sequence[tuple[str, RefreshCheck]],
) -> None:
    """Check every token, appending its outcome to ``tokens`` and its file to ``files``."""
    for k, name in numbered:
        files.append(name)
        tokens.append(checker.check_token(name, note, pem_name=f"evidence/tsa-{k}.pem"))
    for name, r in refreshed:
        files.append(name)
        outcome = checker.check_token(name, r.note, note_path=r.note_path)
        outcome.text = (
            f"over {r.note_path.split('/')[-1]} (refresh {r.k}, a later checkpoint of {r.checkpoint.size} "
            f"entries that contains this entry): {outcome.text}"
        )
        tokens.append(outcome)


class _Tokens:
    """Checks tokens one by one; collects the TSA certificates to confirm (this step's own list)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.to_confirm: list[ToConfirm] = []

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
            confirm = ToConfirm(
                "Time-stamping authority certificate",
                f"{signer.subject.rfc4514_string()} (issued by {signer.issuer.rfc4514_string()})",
                f"sha256:{certificate_fingerprint(signer)}",
                "Obtain the TSA's certificate and its root certificate from the authority itself and give them "
                "with --tsa-cert, or pin them with 'tsa-root' and 'tsa' lines in your trust policy.",
            )
            if confirm not in self.to_confirm:  # the start token and the checkpoint's often share a TSA
                self.to_confirm.append(confirm)
        who = signer.subject.rfc4514_string() if signer is not None else "an unknown signer"
        return TokenOutcome(
            short,
            Grade.NOT_ANCHORED,
            f"NOT ANCHORED: claims the time {iso(tok.gen_time)} by {who}; it covers the checkpoint note. {why} "
            f"{checked}",
        )
