"""Writing proof bundles: seal a capture into the log and write a WACZ with an ``evidence/`` folder.

A bundle is a WACZ 1.1.1 file (replayable by ReplayWeb.page and pywb) with one extra
folder, ``evidence/``. Its layout, the manifest and the log entry are specified in
``docs/bundle-format.md``. In short:

- ``evidence/manifest.json`` lists the SHA-256 and size of every *sealed* file (the WARC,
  index, pages list and the capture's artifacts), the capture facts and a random salt.
- The log entry is ``evidence-entry/v1\\nmanifest-sha256 <hex>\\n``: it reveals nothing
  about the capture, and the manifest's salt keeps it unguessable.
- After the entry is logged, the proof files are added: ``entry.tlog-proof`` (inclusion
  proof and the signed checkpoint), ``checkpoint.note`` (the same checkpoint, for
  ``openssl ts -verify``), ``checkpoint.<k>.tsr`` (RFC 3161 responses over it),
  ``log.vkey``, ``tsa-<k>.pem``, ``report.html`` and ``VERIFY.txt``.

Not on the verify path: may import the format, the reader, wacz, report.derived (the
files it puts inside a bundle), the time-stamp client and the log; never capture or report.pdf.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evidence import __version__
from evidence._internal import jsonstrict
from evidence._internal.words import entries
from evidence.bundle.format import (
    ATTEMPTS_FORMAT,
    ATTEMPTS_PATH,
    CAPTURE_ARTIFACTS,
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    INDEX_PATH,
    MANIFEST_FORMAT,
    MANIFEST_PATH,
    NOTE_PATH,
    PAGES_PATH,
    PROOF_PATH,
    REPORT_PATH,
    TOOL_NAME,
    VERIFY_PATH,
    VKEY_PATH,
    WALK_FILE_RE,
    WARC_PATH,
    log_entry,
    member_order,
    package_fields,
    page_entry,
)
from evidence.bundle.reader import BundleView
from evidence.bundle.wacz import (
    Member,
    cdxj_lines,
    datapackage,
    datapackage_digest,
    iso_now,
    pages_jsonl,
    sha256_file,
    write_zip,
)
from evidence.checkpoint import Checkpoint, SignedCheckpoint
from evidence.errors import BundleFormatError, CaptureError, EvidenceError, LogError

if TYPE_CHECKING:
    from evidence.log.attempts import Attempt
    from evidence.log.remote import SealableLog


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class Bundle:
    """A written proof bundle: where it is, what it seals, and where it sits in the log."""

    path: Path
    manifest: dict[str, Any] = field(repr=False)
    manifest_sha256: str
    log_index: int
    checkpoint: Checkpoint
    log_origin: str
    url: str
    final_url: str
    status: int | None
    http_error: bool
    timestamps: int
    warnings: tuple[str, ...] = ()
    #: The index of this capture's attempt record in the log (None: no attempt was recorded).
    attempt_index: int | None = None
    #: What capture QA flagged (``capture.json`` → ``qa.flags``): the page is probably not the listing.
    qa_flags: tuple[str, ...] = ()

    def summary(self) -> str:
        cp = self.checkpoint
        lines = [
            f"{self.url} -> {self.path}",
            f"  sealed as entry {self.log_index} of the log {self.log_origin!r} (checkpoint of "
            f"{entries(cp.size)}, root {cp.root_hash.hex()[:16]}...)",
            f"  manifest SHA-256 {self.manifest_sha256}",
            f"  independent RFC 3161 time-stamps: {self.timestamps}",
        ]
        if self.http_error:
            lines.append(f"  note: the server answered HTTP {self.status}; the error page was preserved as is")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def build_manifest(
    sealed: Sequence[Member],
    facts: dict[str, Any],
    *,
    log_origin: str,
    salt: bytes | None = None,
    attempts: bool = False,
) -> bytes:
    """``evidence/manifest.json``: the leaf preimage (see docs/bundle-format.md). With
    ``attempts``, it says that the bundle carries ``evidence/attempts.json`` (so removing
    that file is caught)."""
    files = []
    for m in sorted(sealed, key=lambda m: m.path):
        digest, size = m.digest()
        files.append({"path": m.path, "sha256": digest, "size": size})
    manifest = {
        "format": MANIFEST_FORMAT,
        "salt": (salt or secrets.token_bytes(32)).hex(),
        "created": iso_now(),
        "tool": {"name": TOOL_NAME, "version": __version__},
        "log": {"origin": log_origin},
        "url": facts.get("requested_url"),
        "final_url": facts.get("final_url"),
        "status": facts.get("status"),
        "http_error": bool(facts.get("http_error")),
        "capture_started": facts.get("started_at"),
        "capture_finished": facts.get("finished_at"),
        "case": (facts.get("options") or {}).get("case"),
        "operator": (facts.get("options") or {}).get("operator"),
        "files": files,
    }
    if attempts:
        manifest["attempts"] = ATTEMPTS_FORMAT
    return _json_bytes(manifest)


def _sealed_members(capture_dir: Path, staging: Path, facts: dict[str, Any]) -> list[Member]:
    warc = capture_dir / "archive.warc.gz"
    if not warc.is_file():
        raise BundleFormatError(f"the capture in {capture_dir} has no archive.warc.gz")
    members = [Member(WARC_PATH, warc)]
    index = "\n".join(cdxj_lines(warc, "data.warc.gz")) + "\n"
    (staging / "index.cdx").write_text(index, encoding="utf-8")
    members.append(Member(INDEX_PATH, staging / "index.cdx"))
    members.append(Member(PAGES_PATH, pages_jsonl([page_entry(facts)])))
    for name in CAPTURE_ARTIFACTS:
        p = capture_dir / name
        if p.is_file():
            members.append(Member(f"evidence/{name}", p))
    for p in sorted(capture_dir.iterdir()):  # a walk's steps, step screenshots, snapshots, video
        if WALK_FILE_RE.fullmatch(f"evidence/{p.name}") and p.is_file():
            members.append(Member(f"evidence/{p.name}", p))
    return members


def capture_warnings(facts: dict[str, Any]) -> list[str]:
    """The capture's own warnings (``capture.json`` → ``warnings``), marked as such, for
    what ``seal`` reports to the user."""
    found = facts.get("warnings")
    if not isinstance(found, list):
        return []
    return [f"capture: {w}" for w in found if isinstance(w, str) and w]


def bundle_name(facts: dict[str, Any], index: int) -> str:
    from urllib.parse import urlsplit

    host = urlsplit(str(facts.get("requested_url") or "")).hostname or "page"
    host = re.sub(r"[^A-Za-z0-9.-]", "_", host)[:80]
    digits = re.sub(r"[^0-9]", "", str(facts.get("started_at") or iso_now()))
    ts = f"{digits[:8]}T{digits[8:14]}Z" if len(digits) >= 14 else "undated"
    return f"{host}-{ts}-{index}.wacz"


def seal(
    capture_dir: Path,
    log: SealableLog,
    out_dir: Path,
    *,
    name: str | None = None,
    tsas: Sequence[Any] = (),
    attempt: Attempt | None = None,
) -> Bundle:
    """Seal a finished capture directory into ``log`` and write its bundle into ``out_dir``.

    With ``attempt`` (:func:`evidence.log.attempts.attempt`), the manifest's entry is appended
    together with the attempt's ``sealed`` record, and the bundle lists that record and the
    earlier attempts of the same case in ``evidence/attempts.json``.

    The bundle file appears whole or not at all. If the entry was logged but the bundle
    could not be written (for example, the disk is full), the error says so and names
    the entry; the capture directory is left in place for a retry.
    """
    from evidence._internal.files import read_file
    from evidence.report.derived import render_report, render_verify_txt
    from evidence.timestamp import Timestamper, TimestampToken, stamp_checkpoint

    raw_facts = read_file(capture_dir / "capture.json", limit=64 << 20, what="capture record", error=CaptureError)
    try:
        facts = jsonstrict.loads(raw_facts)
    except (ValueError, RecursionError) as e:
        raise BundleFormatError(f"{capture_dir / 'capture.json'} is not valid strict JSON: {e}") from e
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".evidence-seal-{os.getpid()}-", dir=out_dir) as tmp:
        staging = Path(tmp)
        sealed = _sealed_members(capture_dir, staging, facts)
        recorded = attempt is not None and attempt.store is not None
        manifest_bytes = build_manifest(sealed, facts, log_origin=log.origin, attempts=recorded)
        entry = log_entry(manifest_bytes)
        if attempt is None:
            [index] = log.append([entry])
        else:
            index = attempt.seal_entry(entry, manifest_bytes)
        try:
            signed = log.checkpoint()
            size = signed.checkpoint.size
            tokens = log.timestamps(size)
            warnings: list[str] = capture_warnings(facts)
            if not tokens and tsas:
                # The log's own hook may have asked already when it made this checkpoint: a TSA that
                # failed there is reported, not asked a second time (a hanging one would cost twice).
                hook = getattr(log, "after_checkpoint", None)
                asked = (
                    next((r for r in reversed(hook.reports) if r.size == size), None)
                    if isinstance(hook, Timestamper)
                    else None
                )
                failures = list(asked.failures) if asked else []
                done = {o.url for o in asked.outcomes} if asked else set()
                remaining = [t for t in tsas if t.url not in done]
                if remaining:
                    failures += stamp_checkpoint(log, size, remaining).failures
                # The reason only: the next step is the one refresh command below, for this bundle.
                for f in failures:
                    reason = (f.error or "unknown").partition("\n")[0]
                    warnings.append(f"no time-stamp from {f.tsa}: {reason}")
                tokens = log.timestamps(size)
            if not tsas:
                warnings.append("no time-stamping authority is configured: the bundle has no independent time-stamp")
            proof = log.prove(index, size)
            note = proof.checkpoint_note
            proof_members = [
                Member(MANIFEST_PATH, manifest_bytes),
                Member(PROOF_PATH, proof.to_bytes()),
                Member(NOTE_PATH, note),
                Member(VKEY_PATH, (log.verifier.vkey() + "\n" + log.timestamp_verifier.vkey() + "\n").encode()),
            ]
            listed = attempt.attempts_file(size) if attempt is not None else None
            if listed is not None:
                proof_members.append(Member(ATTEMPTS_PATH, listed))
            parsed_tokens = []
            for k, der in enumerate(tokens, start=1):
                proof_members.append(Member(f"evidence/checkpoint.{k}.tsr", der))
                parsed_tokens.append(TimestampToken.parse(der))
            for k, tok in enumerate(parsed_tokens, start=1):
                pem = b"".join(_pem(c) for c in tok.embedded_certificates())
                if pem:
                    proof_members.append(Member(f"evidence/tsa-{k}.pem", pem))
            contents = BundleView.from_members(sealed + proof_members)
            proof_members.append(Member(REPORT_PATH, render_report(contents)))
            proof_members.append(Member(VERIFY_PATH, render_verify_txt(contents)))
            members = sealed + proof_members
            members = sorted(members, key=lambda m: member_order(m.path))
            pkg = datapackage(members, **package_fields(json.loads(manifest_bytes)))
            final = [*members, Member(DATAPACKAGE, pkg), Member(DATAPACKAGE_DIGEST, datapackage_digest(pkg))]
            dest = out_dir / (name or bundle_name(facts, index))
            write_zip(dest, final)
            if tsas and not tokens:
                warnings.append(
                    "the bundle has NO independent time-stamp: no time-stamping authority gave one. When one "
                    f"answers, add it with: {refresh_command(dest, tsas, log)}"
                )
        except (OSError, EvidenceError) as e:
            reason = e.diagnostics() if isinstance(e, EvidenceError) else (e.strerror or str(e))
            raise LogError(
                f"the capture was sealed as entry {index} of the log {log.origin!r}, but its bundle could "
                f"not be written: {reason}",
                hint=f"The captured files are still in {capture_dir}; free space and run the capture again.",
            ) from e
    return Bundle(
        path=dest,
        manifest=json.loads(manifest_bytes),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        log_index=index,
        checkpoint=SignedCheckpoint.parse(note).checkpoint,
        log_origin=log.origin,
        url=str(facts.get("requested_url")),
        final_url=str(facts.get("final_url")),
        status=facts.get("status"),
        http_error=bool(facts.get("http_error")),
        timestamps=len(tokens),
        warnings=tuple(warnings),
        attempt_index=attempt.recorded.index if attempt is not None and attempt.recorded is not None else None,
        qa_flags=_qa_flags(facts),
    )


def _qa_flags(facts: dict[str, Any]) -> tuple[str, ...]:
    qa = facts.get("qa")
    flags = qa.get("flags") if isinstance(qa, dict) else None
    if not isinstance(flags, list):
        return ()
    return tuple(f"{f.get('flag')}: {f.get('saw')}" for f in flags if isinstance(f, dict))


def refresh_command(bundle: Path, tsas: Sequence[Any], log: SealableLog) -> str:
    """The one command that gives ``bundle`` its missing independent time-stamp later.

    It names the TSAs that were asked (by URL: that works whether or not they are in
    config.toml) and the log, unless it is the embedded default log (``evidence refresh``
    finds that one itself)."""
    import shlex

    from evidence.config import evidence_home

    parts = ["evidence", "refresh", shlex.quote(str(bundle))]
    where = str(getattr(log, "path", "") or "")
    if where and where != str(evidence_home() / "log"):
        parts += ["--log", shlex.quote(where)]
    for t in tsas:
        url = getattr(t, "url", None) or str(t)
        parts += ["--tsa", shlex.quote(url)]
    return " ".join(parts)


_STALE = re.compile(r"\.(?:evidence-(?:seal|capture)-(\d+)-.*|.*\.(\d+)\.partial)")


def remove_stale(out_dir: Path) -> list[Path]:
    """Remove what a killed ``preserve`` left in ``out_dir``: its hidden temporary files.

    Only names this library makes (``.evidence-capture-<pid>-*``, ``.evidence-seal-<pid>-*``,
    ``.<bundle>.<pid>.partial``) whose process no longer runs are touched.
    """
    removed: list[Path] = []
    try:
        entries = list(out_dir.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _STALE.fullmatch(p.name)
        if not m:
            continue
        pid = int(m.group(1) or m.group(2))
        if pid == os.getpid() or process_alive(pid):
            continue
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process with this id runs (one we may not signal counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pem(cert: Any) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return bytes(cert.public_bytes(Encoding.PEM))


__all__ = [
    "Bundle",
    "build_manifest",
    "bundle_name",
    "capture_warnings",
    "process_alive",
    "refresh_command",
    "remove_stale",
    "seal",
    "sha256_file",
]
