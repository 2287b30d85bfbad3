"""Offline verification of a proof bundle: numbered, fail-closed steps and a graded verdict.

    from evidence.verify import verify
    from evidence.trust import TrustPolicy

    report = verify("listing.wacz", trust=TrustPolicy.load("trust.policy"))
    print(report.render_text())          # what a lawyer reads
    raise SystemExit(report.exit_code)   # 0 VERIFIED, 1 FAILED, 2 unusable input, 3 not anchored

Nothing is fetched and nothing is extracted: the bundle is read in place, member by member
(:class:`evidence.bundle.BundleView`). The steps run in this order and the first that
fails stops the check (later steps are reported as not run):

1. **Container.** The file is a safe ZIP; ``datapackage.json`` lists every other file with
   the right SHA-256 and size; ``datapackage-digest.json`` matches it.
2. **Seal.** Every file listed in ``evidence/manifest.json`` is present with the sealed
   SHA-256 and size; no file is present that is neither sealed nor one of the proof files
   added after sealing.
3. **Log entry.** The entry ``evidence-entry/v1`` is recomputed from the manifest's bytes,
   and its RFC 9162 leaf hash from the entry.
4. **Inclusion.** ``entry.tlog-proof`` leads from that leaf to the root of its signed
   checkpoint; ``checkpoint.note`` is that same checkpoint; the manifest names that log.
5. **Log signature.** The checkpoint is signed by a log key the user trusts (trust policy
   ``log`` lines, or keys given directly). Without one it is checked with the key shown in
   the bundle (``log.vkey``) and graded *not anchored in trust*. ``log.vkey`` must show the
   key that signed, in every case. Newer checkpoints added by ``evidence refresh`` are
   signed by the same key and proven to extend the bundle's tree.
6. **Cosignatures.** The log's clock cosignature (its signed time) verifies, with a trusted
   clock key or else the one in ``log.vkey``; witness cosignatures, on the checkpoint or on
   a refreshed one, meet the policy's quorum.
7. **Time-stamps.** Every RFC 3161 token covers its checkpoint note (the bundle's, or a
   refreshed one) and is signed by a time-stamping authority the user pins; a token from
   an authority nobody pinned is graded *not anchored*; ``tsa-<k>.pem`` holds exactly the
   certificates in token k; no token appears twice.
8. **Consistency.** The manifest agrees with ``capture.json`` and seals every file it
   lists as written (one the capture did not make is named with its reason and shown as
   a warning); the web archive holds the page's response with that status;
   ``pages.jsonl`` lists it; ``report.html`` and ``VERIFY.txt`` are byte for byte what
   the bundle's data regenerates.

The verdict is graded: VERIFIED (everything checks out against keys the user trusts),
VERIFIED BUT NOT ANCHORED IN TRUST (consistent, but some signature was checked only with a
key found in the bundle: the report names the fingerprints to confirm), FAILED (names the
step, the file and what it means) or UNUSABLE INPUT (not a readable bundle at all).
Five claim lines grade separately what the bundle shows: integrity, log inclusion, signed
time (the log's clock), independent time (RFC 3161) and witnesses.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from evidence import merkle
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
    BundleView,
    log_entry,
)
from evidence.checkpoint import SignedCheckpoint, TlogProof
from evidence.errors import (
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VERIFICATION_FAILED,
    BundleFormatError,
    EvidenceError,
    UsageError,
)
from evidence.note import ALG_COSIGNATURE_V1, ALG_ED25519, Verifier
from evidence.refresh import RefreshCheck, is_refresh_file
from evidence.timestamp import (
    CERTIFICATE_ERRORS,
    SHA256_OID,
    CertPin,
    PinnedTSA,
    TimestampToken,
    certificate_fingerprint,
    verify_token,
)
from evidence.trust import TrustPolicy

__all__ = [
    "EXIT_NOT_ANCHORED",
    "STEP_TITLES",
    "Claim",
    "Grade",
    "Report",
    "StepResult",
    "ToConfirm",
    "Verdict",
    "verify",
]

#: Exit status for "verified, but only against keys found in the bundle itself".
EXIT_NOT_ANCHORED = 3

STEP_TITLES: dict[int, str] = {
    1: "The bundle is a complete, undamaged WACZ container",
    2: "Every sealed file matches the manifest",
    3: "The log entry is recomputed from the manifest",
    4: "The entry is included in the log's signed checkpoint",
    5: "The checkpoint is signed by the log's key",
    6: "Cosignatures: the log's signed time and the witnesses",
    7: "Independent time-stamps (RFC 3161)",
    8: "The capture records agree with each other",
}

#: What a failure at each step means, for a lawyer.
_MEANING: dict[int, str] = {
    1: "The bundle file was damaged or altered after it was written. Do not rely on it; "
    "obtain the original bundle again from whoever made it.",
    2: "A preserved file is not the file that was sealed at capture time: it was changed, "
    "removed or added afterwards. The bundle does not prove what that file shows.",
    3: "The seal of this bundle cannot be recomputed, so nothing ties its files to the log.",
    4: "Nothing shows that this capture was recorded in the log: the proof does not match "
    "this bundle's seal. The bundle does not prove when, or that, it was preserved.",
    5: "The log's signature on its checkpoint does not check out with the key used. The proof "
    "may be forged, or the key you were given is not this log's key. Do not rely on the bundle "
    "until this is explained.",
    6: "The time signed by the log, or the witness cosignatures your trust policy requires, are "
    "missing or invalid. The log's statement about the time, or that everyone saw the same "
    "log, cannot be relied on.",
    7: "A time-stamp in the bundle does not check out: it was altered, covers other data, or "
    "was not issued as it claims. The independent proof of time cannot be relied on.",
    8: "The bundle's own records contradict each other, or the certificate of preservation "
    "(report.html / VERIFY.txt) was edited. The bundle cannot be relied on as presented.",
}

_UNUSABLE_MEANING = (
    "This file cannot serve as evidence in this form: it is not a readable proof bundle, or it is damaged or "
    "unsafe to open (nothing was extracted from it). Check that it is the file you were given, and obtain the "
    "original bundle again from whoever made it."
)

_POST_SEAL = frozenset(
    {MANIFEST_PATH, PROOF_PATH, NOTE_PATH, VKEY_PATH, REPORT_PATH, VERIFY_PATH, DATAPACKAGE, DATAPACKAGE_DIGEST}
)
#: Sealed files every bundle must have.
_REQUIRED_SEALED = (WARC_PATH, INDEX_PATH, PAGES_PATH, "evidence/capture.json")
_CAPTURE_PATH = "evidence/capture.json"
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: Errors reading a member from a ZIP (beyond BundleFormatError): CRC or size mismatches,
#: truncated data, damaged deflate or LZMA streams, unsupported compression methods.
_READ_ERRORS = (zipfile.BadZipFile, OSError, EOFError, ValueError, zlib.error, lzma.LZMAError, NotImplementedError)


# --------------------------------------------------------------------------- results


class Verdict(enum.StrEnum):
    """The overall outcome."""

    VERIFIED = "VERIFIED"
    NOT_ANCHORED = "VERIFIED BUT NOT ANCHORED IN TRUST"
    FAILED = "FAILED"
    UNUSABLE = "UNUSABLE INPUT"


class Grade(enum.StrEnum):
    """How far one claim is established."""

    VERIFIED = "VERIFIED"
    NOT_ANCHORED = "NOT ANCHORED IN TRUST"
    NONE = "NONE"
    FAILED = "FAILED"
    NOT_CHECKED = "NOT CHECKED"


@dataclass(frozen=True)
class StepResult:
    """One numbered step that ran: whether it passed, in plain words, and the files involved.

    ``meaning`` says, for a failed step, what the failure means for the evidence.
    """

    number: int
    title: str
    ok: bool
    detail: str
    files: tuple[str, ...] = ()
    meaning: str | None = None

    @property
    def file(self) -> str | None:
        """The first file involved, if any."""
        return self.files[0] if self.files else None


@dataclass(frozen=True)
class Claim:
    """One thing the bundle shows, graded on its own."""

    name: str
    grade: Grade
    detail: str


@dataclass(frozen=True)
class ToConfirm:
    """A key or certificate that was only found inside the bundle: confirm its fingerprint
    with its owner through a separate channel, then verify again trusting it."""

    what: str
    identity: str
    fingerprint: str
    how: str


@dataclass(frozen=True)
class Report:
    """The result of :func:`verify`. Never a bare bool: read :attr:`verdict` (and
    :attr:`exit_code`); :attr:`steps` holds the steps that ran, :attr:`claims` the graded
    claims, :attr:`to_confirm` the fingerprints that would anchor a NOT ANCHORED result."""

    path: str
    verdict: Verdict
    summary: str
    steps: tuple[StepResult, ...]
    claims: tuple[Claim, ...]
    to_confirm: tuple[ToConfirm, ...] = ()
    trust: str = ""
    facts: tuple[tuple[str, str], ...] = ()
    #: Things a reader must know that do not change the verdict (a suspicious time gap, a site
    #: that served the browser other content than the raw fetch, ...), in plain words.
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True only for VERIFIED."""
        return self.verdict is Verdict.VERIFIED

    @property
    def exit_code(self) -> int:
        """0 VERIFIED, 1 FAILED, 2 unusable input, 3 verified but not anchored in trust."""
        return {
            Verdict.VERIFIED: EXIT_OK,
            Verdict.FAILED: EXIT_VERIFICATION_FAILED,
            Verdict.UNUSABLE: EXIT_USAGE,
            Verdict.NOT_ANCHORED: EXIT_NOT_ANCHORED,
        }[self.verdict]

    @property
    def failed_step(self) -> StepResult | None:
        """The step that failed, if one did."""
        return next((s for s in self.steps if not s.ok), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON)."""
        return {
            "path": self.path,
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "trust": self.trust,
            "facts": dict(self.facts),
            "steps": [
                {
                    "number": s.number,
                    "title": s.title,
                    "ok": s.ok,
                    "detail": s.detail,
                    "files": list(s.files),
                    **({"meaning": s.meaning} if s.meaning else {}),
                }
                for s in self.steps
            ],
            "not_run": [{"number": n, "title": t} for n, t in STEP_TITLES.items() if n > len(self.steps)],
            "claims": [{"name": c.name, "grade": c.grade.value, "detail": c.detail} for c in self.claims],
            "to_confirm": [
                {"what": t.what, "identity": t.identity, "fingerprint": t.fingerprint, "how": t.how}
                for t in self.to_confirm
            ],
            "warnings": list(self.warnings),
        }

    def to_json(self) -> str:
        """The report as JSON text (stable key order)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def render_text(self) -> str:
        """The report for a person: steps, claims, verdict, and what to do."""
        out = [f"Verifying {self.path}", ""]
        for key, value in self.facts:
            out.append(f"  {key + ':':<26}{value}")
        if self.facts:
            out.append("")
        out.append(f"Trusted keys: {self.trust}")
        out.append("")
        for s in self.steps:
            mark = "PASS" if s.ok else "FAIL"
            out.append(f"{s.number}. [{mark}] {s.title}")
            out.extend(_wrap(s.detail, "     "))
            if not s.ok and s.files:
                out.append(f"     File: {', '.join(s.files)}")
        for n, title in STEP_TITLES.items():
            if n > len(self.steps):
                out.append(f"{n}. [not run] {title}")
        if self.claims:
            out += ["", "What this bundle shows:"]
            for c in self.claims:
                out.append(f"  {c.name:<34}{c.grade.value}")
                out.extend(_wrap(c.detail, "      "))
        if self.warnings:
            out += ["", "WARNINGS (they do not change the verdict, but a reader must know them):"]
            for w in self.warnings:
                out.extend(_wrap(f"! {w}", "  "))
        out += ["", f"VERDICT: {self.verdict.value}"]
        out.extend(_wrap(self.summary, "  "))
        failed = self.failed_step
        if failed is not None and failed.meaning:
            out.append("")
            out.extend(_wrap(f"What this means: {failed.meaning}", "  "))
        if self.to_confirm:
            if self.verdict is Verdict.VERIFIED:
                out += ["", "Also in the bundle but not anchored in trust (not needed for this verdict; confirm them"]
                out.append("with their owners through a separate channel if you want them to count too):")
            else:
                out += ["", "To anchor this result in trust, confirm these fingerprints with their owners through a"]
                out.append("separate channel (not from this bundle), then verify again trusting them:")
            for t in self.to_confirm:
                out.append(f"  - {t.what}: {t.identity}")
                out.append(f"      fingerprint {t.fingerprint}")
                out.extend(_wrap(t.how, "      "))
        return "\n".join(out) + "\n"


def _wrap(text: str, indent: str, width: int = 96) -> list[str]:
    import textwrap

    lines: list[str] = []
    for para in text.split("\n"):
        lines.extend(
            textwrap.wrap(para, width=width, initial_indent=indent, subsequent_indent=indent, break_long_words=False)
            or [indent.rstrip()]
        )
    return lines


# --------------------------------------------------------------------------- the check


class _Fail(Exception):
    """A step failed (or, with ``unusable``, the input cannot be read as a bundle)."""

    def __init__(self, detail: str, *files: str, unusable: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.files = files
        self.unusable = unusable


def _iso(ts: int | datetime) -> str:
    t = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def _cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else cert.subject.rfc4514_string()
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _cosigned_text(found: tuple[int, str] | None, *, short: bool = False) -> str:
    """How a witness's earliest cosignature over a tree holding the entry is described."""
    if found is None:
        return "no cosignature."
    ts, where = found
    if not where:
        return f"at {_iso(ts)}" if short else f"cosigned at {_iso(ts)}."
    if short:
        return f"at {_iso(ts)} (on {where.split(',')[0]})"
    return f"cosigned at {_iso(ts)}, on {where}, which contains this entry."


def _is_ca(cert: x509.Certificate) -> bool:
    if cert.subject == cert.issuer:
        return True
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


@dataclass
class _TokenOutcome:
    name: str
    grade: Grade
    text: str
    #: genTime of a token that verified against a pinned TSA (None otherwise).
    time: datetime | None = None


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
    tokens: list[_TokenOutcome] = field(default_factory=list)
    to_confirm: list[ToConfirm] = field(default_factory=list)
    #: Warnings for the report (see :attr:`Report.warnings`); steps append to it.
    warnings: list[str] = field(default_factory=list)
    #: Newer checkpoints added by ``evidence refresh``, checked in step 5.
    refreshes: tuple[RefreshCheck, ...] = ()


class _Verification:
    def __init__(
        self,
        path: Path,
        policy: TrustPolicy | None,
        keys: Sequence[Verifier],
        tsa_pins: Sequence[PinnedTSA],
        tsa_certs: Sequence[x509.Certificate],
    ) -> None:
        self.path = path
        self.policy = policy
        self.keys = tuple(keys)
        self.tsa_pins = tuple(tsa_pins)
        self.tsa_certs = tuple(tsa_certs)
        self.view: BundleView | None = None
        self.s = _State()

    # ------------------------------------------------------------------ reading

    @property
    def v(self) -> BundleView:
        assert self.view is not None
        return self.view

    def read(self, name: str, step_hint: str = "") -> bytes:
        if not self.v.has(name):
            raise _Fail(f"The bundle has no {name}{step_hint}.", name)
        try:
            return self.v.read(name)
        except BundleFormatError as e:
            raise _Fail(f"{name} cannot be read from the bundle: {e.message}", name) from e
        except _READ_ERRORS as e:
            raise _Fail(f"{name} is damaged inside the ZIP file and cannot be read ({e}).", name) from e

    def hash(self, name: str) -> tuple[str, int]:
        if name not in self.s.digests:
            try:
                self.s.digests[name] = self.v.sha256(name)
            except BundleFormatError as e:
                raise _Fail(f"{name} is damaged inside the ZIP file: {e.message}", name) from e
            except _READ_ERRORS as e:
                raise _Fail(f"{name} is damaged inside the ZIP file and cannot be read ({e}).", name) from e
        return self.s.digests[name]

    def json(self, name: str, *, unusable: bool = False) -> Any:
        data = self.read(name)
        try:
            return json.loads(data)
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise _Fail(f"{name} is not valid JSON ({e}).", name, unusable=unusable) from e

    # ------------------------------------------------------------------ run

    def run(self) -> Report:
        steps: list[StepResult] = []
        unusable: _Fail | None = None
        try:
            for number, fn in enumerate(
                (self.step1, self.step2, self.step3, self.step4, self.step5, self.step6, self.step7, self.step8),
                start=1,
            ):
                try:
                    detail, files = fn()
                except _Fail as f:
                    meaning = _MEANING[number]
                    if f.unusable:
                        unusable, meaning = f, _UNUSABLE_MEANING
                    steps.append(StepResult(number, STEP_TITLES[number], False, f.detail, tuple(f.files), meaning))
                    break
                except EvidenceError as e:
                    steps.append(StepResult(number, STEP_TITLES[number], False, e.diagnostics(), (), _MEANING[number]))
                    break
                steps.append(StepResult(number, STEP_TITLES[number], True, detail, files))
        finally:
            if self.view is not None:
                self.view.close()
        return self.report(tuple(steps), unusable)

    # ------------------------------------------------------------------ 1. container

    def step1(self) -> tuple[str, tuple[str, ...]]:
        try:
            self.view = BundleView.open(self.path)
        except BundleFormatError as e:
            raise _Fail(e.diagnostics(), unusable=True) from e
        names = set(self.v.names)
        if DATAPACKAGE not in names:
            raise _Fail(
                "The file has no datapackage.json, so it is not a WACZ bundle (or its table of contents was removed).",
                DATAPACKAGE,
                unusable=True,
            )
        pkg_bytes = self.read(DATAPACKAGE)
        pkg = self.json(DATAPACKAGE, unusable=True)
        resources = pkg.get("resources") if isinstance(pkg, dict) else None
        if not isinstance(resources, list):
            raise _Fail(
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
                or not _HEX64.fullmatch(digest[7:])
                or not isinstance(size, int)
                or isinstance(size, bool)
                or size < 0
            ):
                raise _Fail(
                    f"datapackage.json has a malformed resource entry ({str(r)[:120]}); each needs a path, a "
                    "'sha256:<64 hex digits>' hash and a size in bytes.",
                    DATAPACKAGE,
                    unusable=True,
                )
            if path in listed:
                raise _Fail(f"datapackage.json lists {path} twice; the bundle is ambiguous.", DATAPACKAGE, path)
            if path in (DATAPACKAGE, DATAPACKAGE_DIGEST):
                raise _Fail(f"datapackage.json lists {path} as one of its own resources.", DATAPACKAGE)
            listed[path] = (digest[7:], size)
        if DATAPACKAGE_DIGEST not in names:
            raise _Fail(
                "The bundle has no datapackage-digest.json, the fingerprint of its table of contents.",
                DATAPACKAGE_DIGEST,
            )
        dig = self.json(DATAPACKAGE_DIGEST)
        want = hashlib.sha256(pkg_bytes).hexdigest()
        got = dig.get("hash") if isinstance(dig, dict) else None
        if not isinstance(dig, dict) or dig.get("path") != DATAPACKAGE or not isinstance(got, str):
            raise _Fail("datapackage-digest.json does not give the SHA-256 of datapackage.json.", DATAPACKAGE_DIGEST)
        if not hmac.compare_digest(got.encode(), f"sha256:{want}".encode()):
            raise _Fail(
                f"datapackage.json has SHA-256 {want}, but datapackage-digest.json records {got[:80]}: the table "
                "of contents was changed after the bundle was written.",
                DATAPACKAGE,
                DATAPACKAGE_DIGEST,
            )
        for name in self.v.names:
            if name not in listed and name not in (DATAPACKAGE, DATAPACKAGE_DIGEST):
                raise _Fail(
                    f"{name} is in the bundle but not listed in datapackage.json: it was added after the bundle "
                    "was written.",
                    name,
                )
        for path in listed:
            if path not in names:
                raise _Fail(f"datapackage.json lists {path}, but the bundle has no such file: it was removed.", path)
        for path, (digest, size) in listed.items():
            declared = self.v.size(path)
            if declared != size:
                raise _Fail(
                    f"{path} is {declared} bytes long, but datapackage.json records {size} bytes: the file was "
                    "changed after the bundle was written.",
                    path,
                )
            actual, n = self.hash(path)
            if n != size or not hmac.compare_digest(actual, digest):
                raise _Fail(
                    f"{path} has SHA-256 {actual}, but datapackage.json records {digest}: the file was changed "
                    "after the bundle was written.",
                    path,
                )
        total = sum(s for _, s in listed.values())
        return (
            f"{len(self.v.names)} files, {total} bytes; each file matches the SHA-256 and size in datapackage.json, "
            "which matches datapackage-digest.json; no file is unlisted or missing.",
            (),
        )

    # ------------------------------------------------------------------ 2. seal

    def step2(self) -> tuple[str, tuple[str, ...]]:
        self.s.manifest_bytes = self.read(MANIFEST_PATH, " (the seal that lists every preserved file)")
        m = self.json(MANIFEST_PATH)
        if not isinstance(m, dict) or m.get("format") != MANIFEST_FORMAT:
            raise _Fail(f"{MANIFEST_PATH} is not an evidence manifest (format {MANIFEST_FORMAT}).", MANIFEST_PATH)
        log = m.get("log")
        if not isinstance(log, dict) or not isinstance(log.get("origin"), str):
            raise _Fail(f"{MANIFEST_PATH} does not name the log it was sealed into.", MANIFEST_PATH)
        if not isinstance(m.get("tool", {}), dict):
            raise _Fail(f"{MANIFEST_PATH} has a malformed 'tool' field.", MANIFEST_PATH)
        files = m.get("files")
        if not isinstance(files, list) or not files:
            raise _Fail(f"{MANIFEST_PATH} lists no sealed files.", MANIFEST_PATH)
        sealed: dict[str, tuple[str, int]] = {}
        for f in files:
            path = f.get("path") if isinstance(f, dict) else None
            digest = f.get("sha256") if isinstance(f, dict) else None
            size = f.get("size") if isinstance(f, dict) else None
            if (
                not isinstance(path, str)
                or not isinstance(digest, str)
                or not _HEX64.fullmatch(digest)
                or not isinstance(size, int)
                or isinstance(size, bool)
                or size < 0
            ):
                raise _Fail(f"{MANIFEST_PATH} has a malformed file entry ({str(f)[:120]}).", MANIFEST_PATH)
            if path in sealed:
                raise _Fail(f"{MANIFEST_PATH} seals {path} twice.", MANIFEST_PATH)
            if path in _POST_SEAL or TOKEN_RE.match(path) or TSA_CERT_RE.match(path) or is_refresh_file(path):
                raise _Fail(
                    f"{MANIFEST_PATH} claims to seal {path}, a file that can only be added after sealing.",
                    MANIFEST_PATH,
                )
            sealed[path] = (digest, size)
        self.s.manifest = m
        for path in _REQUIRED_SEALED:
            if path not in sealed:
                raise _Fail(f"{MANIFEST_PATH} does not seal {path}, which every bundle must contain.", MANIFEST_PATH)
        for path, (digest, size) in sealed.items():
            if not self.v.has(path):
                raise _Fail(
                    f"{path} was sealed at capture time (SHA-256 {digest} in {MANIFEST_PATH}) but is missing from "
                    "the bundle: the file was removed, or the manifest was altered.",
                    path,
                    MANIFEST_PATH,
                )
            actual, n = self.hash(path)
            if n != size or not hmac.compare_digest(actual, digest):
                raise _Fail(
                    f"{path} does not match its seal: its SHA-256 is {actual} ({n} bytes), but {MANIFEST_PATH} "
                    f"sealed {digest} ({size} bytes). The file, or the manifest, was changed after sealing.",
                    path,
                    MANIFEST_PATH,
                )
        for name in self.v.names:
            if name in sealed or name in _POST_SEAL or TOKEN_RE.match(name) or TSA_CERT_RE.match(name):
                continue
            if is_refresh_file(name):
                continue  # checked in step 5
            raise _Fail(
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
        raw = self.read(PROOF_PATH, " (the inclusion proof)")
        try:
            proof = TlogProof.parse(raw)
        except EvidenceError as e:
            raise _Fail(f"{PROOF_PATH} is damaged: {e.message}.", PROOF_PATH) from e
        signed = proof.signed_checkpoint
        cp = signed.checkpoint
        note = self.read(NOTE_PATH, " (the signed checkpoint that the time-stamps cover)")
        if not hmac.compare_digest(note, proof.checkpoint_note):
            raise _Fail(
                f"{NOTE_PATH} differs from the checkpoint inside {PROOF_PATH}; they must be the same bytes.",
                NOTE_PATH,
                PROOF_PATH,
            )
        origin = self.s.manifest["log"]["origin"]
        if origin != cp.origin:
            raise _Fail(
                f"The manifest was sealed into the log {origin!r}, but the proof's checkpoint is from the log "
                f"{cp.origin!r}.",
                MANIFEST_PATH,
                PROOF_PATH,
            )
        if proof.index >= cp.size:
            raise _Fail(
                f"{PROOF_PATH} is for entry {proof.index}, but its checkpoint covers only {cp.size} entries.",
                PROOF_PATH,
            )
        try:
            merkle.verify_inclusion(proof.index, cp.size, self.s.leaf, proof.hashes, cp.root_hash)
        except EvidenceError as e:
            raise _Fail(
                f"The inclusion proof in {PROOF_PATH} does not lead from this bundle's seal ({MANIFEST_PATH}) to "
                f"the checkpoint's root hash ({e.message}). Either the manifest was changed after sealing, or the "
                "proof belongs to another entry.",
                PROOF_PATH,
                MANIFEST_PATH,
            ) from e
        self.s.proof, self.s.signed, self.s.note = proof, signed, note
        return (
            f"The seal is entry {proof.index} of the log {cp.origin!r}, whose checkpoint covers {cp.size} entries "
            f"with root hash {cp.root_hash.hex()}; {NOTE_PATH} is that checkpoint.",
            (PROOF_PATH, NOTE_PATH),
        )

    # ------------------------------------------------------------------ 5. log signature

    def bundle_keys(self, origin: str) -> tuple[Verifier, Verifier]:
        raw = self.read(VKEY_PATH, " (the log's public keys)")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _Fail(f"{VKEY_PATH} is not text.", VKEY_PATH) from e
        lines = text.split("\n")
        if len(lines) != 3 or lines[2] != "":
            raise _Fail(f"{VKEY_PATH} must hold exactly two key lines (the log key, then its clock key).", VKEY_PATH)
        try:
            log_key, clock_key = Verifier.from_vkey(lines[0]), Verifier.from_vkey(lines[1])
        except EvidenceError as e:
            raise _Fail(f"{VKEY_PATH} is damaged: {e.message}", VKEY_PATH) from e
        if f"{log_key.vkey()}\n{clock_key.vkey()}\n" != text:
            raise _Fail(f"{VKEY_PATH} is not in canonical form.", VKEY_PATH)
        if log_key.key_type != ALG_ED25519 or log_key.name != origin:
            raise _Fail(f"The first key in {VKEY_PATH} is not the signing key of the log {origin!r}.", VKEY_PATH)
        if clock_key.key_type != ALG_COSIGNATURE_V1 or clock_key.name != f"{origin}/timestamp":
            raise _Fail(
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
        trusted: list[Verifier] = list(self.policy.log_verifiers(origin)) if self.policy else []
        trusted += [k for k in self.keys if k.key_type == ALG_ED25519 and k.name == origin and k not in trusted]
        if trusted:
            try:
                verified = signed.verify(trusted, origin=origin)
            except EvidenceError as e:
                fps = ", ".join(f"sha256:{k.fingerprint()}" for k in trusted)
                raise _Fail(
                    f"The checkpoint is not validly signed by the log key you trust for {origin!r} ({fps}): "
                    f"{e.message} The bundle shows the key {log_key.vkey()} (fingerprint sha256:"
                    f"{log_key.fingerprint()}). Either the key you were given is not this log's key, or the "
                    "checkpoint was not signed by the log.",
                    PROOF_PATH,
                    VKEY_PATH,
                ) from e
            signer = next(v for v, _ in verified.verified)
            if signer != log_key:
                raise _Fail(
                    f"{VKEY_PATH} shows the key {log_key.vkey()}, but the checkpoint was signed by the trusted key "
                    f"{signer.vkey()}: the key file in the bundle was altered.",
                    VKEY_PATH,
                )
            self.s.log_anchored = True
            source = (
                "your trust policy lists" if self.policy and signer in self.policy.log_verifiers(origin) else "you gave"
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
            raise _Fail(
                f"The checkpoint is not validly signed by the key shown in {VKEY_PATH} ({log_key.vkey()}): {e.message}",
                PROOF_PATH,
                VKEY_PATH,
            ) from e
        self.s.log_anchored = False
        others = sorted({k.name for k in self.keys if k.key_type == ALG_ED25519})
        if self.policy and self.policy.logs:
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
                f"Ask the operator of the log {origin!r} for its public key (vkey) and compare; then verify with "
                "--log-key or add a 'log' line to your trust policy.",
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
        keys = [k for k in self.keys if k.key_type == ALG_COSIGNATURE_V1]
        if self.policy is not None:
            keys += [w.verifier for w in self.policy.witnesses]
        if self.s.clock_key is not None:
            keys.append(self.s.clock_key)
        return list(dict.fromkeys(keys))

    def refreshed(self, signed: SignedCheckpoint, keys: Sequence[Verifier]) -> str:
        """Check checkpoints added later by ``evidence refresh`` (fail closed); describe them.

        Their cosignatures count in step 6 and their time-stamps in step 7, like those on the
        bundle's own checkpoint: each refreshed tree is proven to extend the bundle's tree,
        which holds the entry.
        """
        from evidence.refresh import check_refresh

        try:
            checks = check_refresh(self.v, keys, base=signed, cosigners=self.cosigner_keys())
        except EvidenceError as e:
            raise _Fail(
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
            f"refresh' (newest: {newest.checkpoint.size} entries); each is signed by the same key and proven "
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
            raise _Fail(f"A {what} on the checkpoint does not verify: {e.message}", PROOF_PATH) from e
        for r in self.s.refreshes:
            for k, t in r.cosignatures:
                if k in keys and (k not in found or t < found[k][0]):
                    found[k] = (t, f"refresh {r.k}, a later checkpoint of {r.checkpoint.size} entries ({r.note_path})")
        return found

    # ------------------------------------------------------------------ 6. cosignatures

    def step6(self) -> tuple[str, tuple[str, ...]]:
        assert self.s.signed is not None and self.s.clock_key is not None and self.s.log_key is not None
        signed = self.s.signed
        origin = signed.checkpoint.origin
        clock_name = f"{origin}/timestamp"
        bundle_clock = self.s.clock_key
        trusted_clock = [k for k in self.keys if k.key_type == ALG_COSIGNATURE_V1 and k.name == clock_name]
        if self.policy:
            trusted_clock += [w.verifier for w in self.policy.witnesses if w.verifier.name == clock_name]
        keys = trusted_clock or [bundle_clock]
        try:
            cos = signed.cosignatures(keys)
        except EvidenceError as e:
            raise _Fail(
                f"The log's clock cosignature on the checkpoint does not verify: {e.message}", PROOF_PATH
            ) from e
        if not cos:
            which = "the clock key you trust" if trusted_clock else f"the clock key shown in {VKEY_PATH}"
            raise _Fail(
                f"The checkpoint carries no time signed by {which} ({keys[0].vkey()}); every checkpoint of this "
                "log must carry one.",
                PROOF_PATH,
                VKEY_PATH,
            )
        key, ts = next(iter(cos.items()))
        self.s.clock_time = ts
        if trusted_clock:
            if key != bundle_clock:
                raise _Fail(
                    f"{VKEY_PATH} shows the clock key {bundle_clock.vkey()}, but the checkpoint's time was signed by "
                    f"the trusted key {key.vkey()}: the key file in the bundle was altered.",
                    VKEY_PATH,
                )
            self.s.clock_grade = Grade.VERIFIED
            self.s.clock_detail = f"The log's clock signed the checkpoint at {_iso(ts)} (a key you trust)."
        else:
            self.s.clock_grade = Grade.NOT_ANCHORED
            self.s.clock_detail = (
                f"The log's clock signed the checkpoint at {_iso(ts)}, with the clock key shown in the bundle "
                f"(sha256:{key.fingerprint()}), which you have not confirmed."
            )
            self.s.to_confirm.append(
                ToConfirm(
                    "Log clock key",
                    key.vkey(),
                    f"sha256:{key.fingerprint()}",
                    f"The log operator publishes it beside the log key (line 2 of {VKEY_PATH}); give it with "
                    "--log-key, or add it to your trust policy as a 'witness' line.",
                )
            )
        parts = [self.s.clock_detail]
        known: set[tuple[str, int]] = {(self.s.log_key.name, self.s.log_key.key_id), (key.name, key.key_id)}
        user_cosigners = [k for k in self.keys if k.key_type == ALG_COSIGNATURE_V1 and k.name != clock_name]
        if self.policy is not None:
            # Every policy witness counts toward the quorum as the policy says, the log's own clock
            # key too if the policy lists it; only the others are reported as independent witnesses.
            wkeys = [w.verifier for w in self.policy.witnesses]
            found = self.cosigned(signed, wkeys, "witness cosignature")
            wcos = {k: t for k, (t, _) in found.items()}
            known |= {(k.name, k.key_id) for k in wkeys}
            independent = [w for w in self.policy.witnesses if w.verifier.name != clock_name]
            for w in independent:
                parts.append(f"Witness {w.name}: " + _cosigned_text(found.get(w.verifier)))
            q = self.policy.evaluate_quorum(self.policy.witnesses_for(wcos))
            counted = (
                f" Cosignatures on the bundle's checkpoint and on its {len(self.s.refreshes)} refreshed "
                "checkpoint(s) were counted."
                if self.s.refreshes
                else ""
            )
            if not q.ok:
                raise _Fail(
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
                    + "; ".join(f"{w.name} {_cosigned_text(found[w.verifier], short=True)}" for w in cosigned)
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
                parts.append(f"Cosigner {k.name} (a key you gave): " + _cosigned_text(ufound.get(k)))
            if ufound and self.s.witness_grade is Grade.NONE:
                self.s.witness_grade = Grade.VERIFIED
                self.s.witness_detail = "Cosigned by " + "; ".join(
                    f"{k.name} {_cosigned_text(v, short=True)}" for k, v in ufound.items()
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
        roots = [c for c in self.tsa_certs if _is_ca(c)]
        leaves = [c for c in self.tsa_certs if not _is_ca(c)]
        leaf_pinned = any(certificate_fingerprint(c) == certificate_fingerprint(signer) for c in leaves)
        issuers = [r for r in roots if r.subject == signer.issuer or r == signer]
        if issuers:
            return [
                PinnedTSA(name=_cn(signer), certificate=CertPin.of(signer), root=CertPin.of(r)) for r in issuers
            ], None
        if leaf_pinned:
            return [], (
                "You gave this TSA's certificate but not the root certificate it chains to; give the root as well "
                "(--tsa-cert ROOT.pem) to check the token's chain."
            )
        return [], None

    def step7(self) -> tuple[str, tuple[str, ...]]:
        note = self.s.note
        numbered = sorted((int(m.group(1)), n) for n in self.v.names if (m := TOKEN_RE.match(n)))
        ks = [k for k, _ in numbered]
        if ks != list(range(1, len(ks) + 1)):
            missing = next(k for k in range(1, len(ks) + 2) if k not in ks)
            raise _Fail(
                f"The time-stamps are not numbered 1, 2, ... without gaps: evidence/checkpoint.{missing}.tsr is "
                "missing (it was removed or renamed).",
                f"evidence/checkpoint.{missing}.tsr",
            )
        for n in self.v.names:
            m = TSA_CERT_RE.match(n)
            if m and int(m.group(1)) not in ks:
                raise _Fail(
                    f"{n} belongs to time-stamp {m.group(1)}, but evidence/checkpoint.{m.group(1)}.tsr is missing.",
                    n,
                    f"evidence/checkpoint.{m.group(1)}.tsr",
                )
        refreshed = [(name, r) for r in self.s.refreshes for name, _ in r.tokens]
        if not numbered and not refreshed:
            return "The bundle carries no RFC 3161 time-stamp.", ()
        seen: dict[str, str] = {}
        for name in [n for _, n in numbered] + [n for n, _ in refreshed]:
            digest = self.hash(name)[0]
            if digest in seen:
                raise _Fail(
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
    ) -> _TokenOutcome:
        """Check one RFC 3161 token over ``note`` (the file ``note_path``).

        ``pem_name`` is the file that must hold exactly the token's certificates (tokens on
        the bundle's own checkpoint have one; those on refreshed checkpoints do not).
        """
        try:
            return self._check_token(name, note, pem_name, note_path)
        except CERTIFICATE_ERRORS as e:  # a damaged certificate inside the token, met while reading it
            raise _Fail(
                f"{name} carries a certificate that is malformed ({e!r}); it was damaged or altered.", name
            ) from e

    def _check_token(self, name: str, note: bytes, pem_name: str | None, note_path: str) -> _TokenOutcome:
        der = self.read(name)
        short = name.split("/")[-1]
        try:
            tok = TimestampToken.parse(der)
            certs = tok.embedded_certificates()
        except (EvidenceError, ValueError) as e:
            msg = e.diagnostics() if isinstance(e, EvidenceError) else str(e)
            raise _Fail(f"{name} is not a usable time-stamp: {msg}", name) from e
        expected_pem = b"".join(_pem(c) for c in certs)
        if pem_name is None:
            pass
        elif certs:
            if not self.v.has(pem_name):
                raise _Fail(f"{pem_name} (the certificates inside {short}) is missing.", pem_name, name)
            if not hmac.compare_digest(self.read(pem_name), expected_pem):
                raise _Fail(
                    f"{pem_name} is not exactly the certificates inside {short}: it was altered or belongs to another "
                    "time-stamp.",
                    pem_name,
                    name,
                )
        elif self.v.has(pem_name):
            raise _Fail(f"{pem_name} exists, but {short} carries no certificates.", pem_name, name)
        signer = next((c for c in certs if certificate_fingerprint(c) == tok.tsa_cert_sha256), None)
        pins = list(self.tsa_pins) + (list(self.policy.tsas) if self.policy else [])
        note_why: str | None = None
        if signer is not None:
            derived, note_why = self.user_pins(signer)
            pins += derived
        pool = [*certs, *self.tsa_certs]
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
                checked = verify_token(der, note, matching, certificates=self.tsa_certs)
            except EvidenceError as e:
                raise _Fail(f"{name}: {e.diagnostics()}", name) from e
            return _TokenOutcome(short, Grade.VERIFIED, f"VERIFIED: {checked.summary()}.", checked.gen_time)
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
    ) -> _TokenOutcome:
        """A token from an authority nobody pinned: check what can be checked without trust.

        If its certificate names a root the user pins as its issuer, it is checked against
        that root: a token that fails there was altered or forged (FAILED), one that passes
        is from another TSA under a trusted root (still not anchored: its own certificate is
        not pinned).
        """
        short = name.split("/")[-1]
        if tok.imprint_algorithm != SHA256_OID or not hmac.compare_digest(tok.imprint, hashlib.sha256(note).digest()):
            raise _Fail(
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
                provisional = PinnedTSA(name=_cn(signer), certificate=CertPin.of(signer), root=CertPin.of(root))
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
                    raise _Fail(f"{name} {against}: {e.diagnostics()}{forged}", name) from e
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
        return _TokenOutcome(
            short,
            Grade.NOT_ANCHORED,
            f"NOT ANCHORED: claims the time {_iso(tok.gen_time)} by {who}; it covers the checkpoint note. {why} "
            f"{checked}",
        )

    # ------------------------------------------------------------------ 8. consistency

    def step8(self) -> tuple[str, tuple[str, ...]]:
        m = self.s.manifest
        cap = self.json(_CAPTURE_PATH)
        if not isinstance(cap, dict):
            raise _Fail(f"{_CAPTURE_PATH} is not a capture record (a JSON object).", _CAPTURE_PATH)
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
                raise _Fail(
                    f"The manifest and {_CAPTURE_PATH} disagree about {what}: the manifest says {m.get(mkey)!r}, "
                    f"{_CAPTURE_PATH} ({ckey}) says {cval!r}.",
                    _CAPTURE_PATH,
                    MANIFEST_PATH,
                )
        self.check_artifacts_sealed(cap)
        url, final_url, status = m.get("url"), m.get("final_url"), m.get("status")
        targets = [u for u in (final_url, url) if isinstance(u, str) and u]
        if not targets:
            raise _Fail("The manifest records no address for the preserved page.", MANIFEST_PATH)
        found = self.warc_statuses(targets)
        ok_url = next((u for u in targets if found.get(u) and (status is None or status in found[u])), None)
        if ok_url is None:
            seen = "; ".join(f"{u}: {found[u]}" for u in targets if u in found) or "none"
            raise _Fail(
                f"The web archive {WARC_PATH} holds no response for the preserved page ({targets[0]}) with the HTTP "
                f"status {status} the manifest records (responses found for it: {seen}).",
                WARC_PATH,
            )
        self.check_pages(targets)
        from evidence.report import EDITIONS, render_report, render_verify_txt

        for path, render in ((REPORT_PATH, render_report), (VERIFY_PATH, render_verify_txt)):
            have = self.read(path)
            matched = False
            for edition in EDITIONS:  # the current wording first, then those of earlier versions
                try:
                    want = render(self.v, edition=edition)
                except EvidenceError as e:
                    raise _Fail(f"{path} cannot be regenerated from the bundle's data: {e.diagnostics()}", path) from e
                except (AttributeError, TypeError, KeyError, ValueError) as e:
                    # render_* trust the shapes of capture.json; a sealed but malformed record lands here.
                    raise _Fail(
                        f"{path} cannot be regenerated: the bundle's capture records are malformed ({e}).", path
                    ) from e
                if hmac.compare_digest(have, want):
                    matched = True
                    break
            if not matched:
                raise _Fail(
                    f"{path} is not what the bundle's data produces: it was edited after the bundle was written, so "
                    "it may state things the sealed evidence does not support.",
                    path,
                )
        return (
            f"{_CAPTURE_PATH} agrees with the manifest; {WARC_PATH} holds the response for {ok_url} with HTTP "
            f"status {status}; {PAGES_PATH} lists the page; {REPORT_PATH} and {VERIFY_PATH} are exactly what the "
            "bundle's data produces.",
            (_CAPTURE_PATH, WARC_PATH, PAGES_PATH, REPORT_PATH, VERIFY_PATH),
        )

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
                raise _Fail(
                    f"{_CAPTURE_PATH} lists {name} among the files the capture wrote, but the bundle does not seal "
                    f"{path}: a file of the capture is missing, and no reason for it is recorded.",
                    _CAPTURE_PATH,
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
            self.s.warnings.append(f"{name} was not made in this capture: {reason} ({_CAPTURE_PATH}).")

    def warc_statuses(self, targets: Sequence[str]) -> dict[str, list[int | None]]:
        from warcio.archiveiterator import ArchiveIterator

        found: dict[str, list[int | None]] = {}
        want_status = self.s.manifest.get("status")
        try:
            with self.stream(WARC_PATH) as f:
                for rec in ArchiveIterator(f):
                    if rec.rec_type != "response":
                        continue
                    uri = rec.rec_headers.get_header("WARC-Target-URI")
                    if uri not in targets:
                        continue
                    code: int | None = None
                    if rec.http_headers is not None:
                        raw = rec.http_headers.get_statuscode()
                        code = int(raw) if raw and str(raw).isdigit() else None
                    found.setdefault(uri, []).append(code)
                    if uri == targets[0] and (want_status is None or code == want_status):
                        break
        except _Fail:
            raise
        except Exception as e:  # warcio raises many kinds of errors on damaged archives
            raise _Fail(
                f"The web archive {WARC_PATH} cannot be read as a WARC file ({type(e).__name__}: {e}).", WARC_PATH
            ) from e
        return found

    @contextmanager
    def stream(self, name: str) -> Iterator[Any]:
        try:
            f = self.v.stream(name)
        except BundleFormatError as e:
            raise _Fail(e.message, name) from e
        with f:
            yield f

    def check_pages(self, targets: Sequence[str]) -> None:
        raw = self.read(PAGES_PATH)
        try:
            lines = [json.loads(x) for x in raw.decode("utf-8").splitlines() if x.strip()]
        except (UnicodeDecodeError, ValueError, RecursionError) as e:
            raise _Fail(f"{PAGES_PATH} is not a valid JSON Lines pages list ({e}).", PAGES_PATH) from e
        if not lines or not isinstance(lines[0], dict) or not str(lines[0].get("format", "")).startswith("json-pages"):
            raise _Fail(f"{PAGES_PATH} does not start with a json-pages header line.", PAGES_PATH)
        if not any(isinstance(p, dict) and p.get("url") in targets for p in lines[1:]):
            raise _Fail(f"{PAGES_PATH} does not list the preserved page {targets[0]}.", PAGES_PATH)

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
                        f"The entry existed no later than {_iso(good[0][0])} ({good[0][1]}, the earliest time-stamp "
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

    def report(self, steps: tuple[StepResult, ...], unusable: _Fail | None) -> Report:
        path = str(self.path)
        trust = _describe_trust(self.policy, self.keys, self.tsa_pins, self.tsa_certs)
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
    return _Verification(Path(path), trust, keys, pinned, certs).run()
