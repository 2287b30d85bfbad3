"""Hand-made bundles for the verifier's consistency checks (no browser: fast).

A test writes a capture directory itself (``capture.json`` and a WARC written with warcio,
with the times it wants) and seals it with the real :func:`evidence.bundle.seal` into a real
:class:`evidence.log.Log`, exactly as a hostile capturer could. ``resign`` then plays a
hostile log operator: it re-signs the bundle's checkpoint with the log's own keys at a
chosen clock time, adds witness cosignatures and asks a real TSA for tokens over the new note.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from verify_helpers import _repackage, members

from evidence.bundle import (
    DATAPACKAGE,
    DATAPACKAGE_DIGEST,
    NOTE_PATH,
    PROOF_PATH,
    REPORT_PATH,
    TOKEN_RE,
    TSA_CERT_RE,
    VERIFY_PATH,
    BundleView,
    seal,
)
from evidence.bundle.wacz import Member, datapackage_digest, write_zip
from evidence.checkpoint import TlogProof
from evidence.config import TSAConfig
from evidence.log import Log
from evidence.note import Note, Signer

PAGE = "https://shop.example/item/42"
FAVICON = "https://shop.example/favicon.ico"
HTML = b"<!doctype html><html><head><title>Item 42</title></head><body>10 EUR</body></html>"
ICON = b"\x00\x00\x01\x00fake icon bytes"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Rec:
    """One record to write: a response (with its request) unless ``kind`` says otherwise."""

    url: str
    date: datetime
    body: bytes = HTML
    mime: str = "text/html; charset=utf-8"
    status: str = "200 OK"
    kind: str = "response"


def warc_bytes(records: Sequence[Rec], *, info_date: datetime) -> bytes:
    """A WARC/1.1 (gzip per record) with a warcinfo record, then the given records."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=True, warc_version="1.1")
    info = w.create_warcinfo_record("archive.warc.gz", {"software": "a test"})
    info.rec_headers.replace_header("WARC-Date", iso(info_date))
    w.write_record(info)
    for r in records:
        date = iso(r.date)
        if r.kind == "response":
            http = StatusAndHeaders(
                r.status, [("Content-Type", r.mime), ("Content-Length", str(len(r.body)))], protocol="HTTP/1.1"
            )
            resp = w.create_warc_record(
                r.url,
                "response",
                payload=io.BytesIO(r.body),
                length=len(r.body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date},
            )
            req = w.create_warc_record(
                r.url,
                "request",
                payload=io.BytesIO(b""),
                length=0,
                http_headers=StatusAndHeaders("GET / HTTP/1.1", [("Host", "shop.example")], is_http_request=True),
                warc_headers_dict={"WARC-Date": date},
            )
            w.write_request_response_pair(req, resp)
        else:
            rec = w.create_warc_record(
                r.url,
                r.kind,
                payload=io.BytesIO(r.body),
                length=len(r.body),
                warc_headers_dict={"WARC-Date": date, "Content-Type": r.mime},
            )
            w.write_record(rec)
    return buf.getvalue()


def capture_dir(
    root: Path,
    *,
    started: datetime | None = None,
    duration: timedelta = timedelta(seconds=3),
    finished: datetime | None = None,
    records: Sequence[Rec] | None = None,
    info_date: datetime | None = None,
    facts: dict[str, Any] | None = None,
    capture_json: bytes | None = None,
    environment_json: bytes | None = None,
) -> Path:
    """A finished capture directory of ``PAGE`` (and its favicon), as the capturer writes it."""
    start = started or datetime.now(UTC) - timedelta(seconds=10)
    end = finished or start + duration
    recs = (
        records
        if records is not None
        else [Rec(PAGE, start + timedelta(seconds=1)), Rec(FAVICON, start + timedelta(seconds=2), ICON, "image/x-icon")]
    )
    d = root / "capture"
    d.mkdir(parents=True)
    (d / "archive.warc.gz").write_bytes(warc_bytes(recs, info_date=info_date or end))
    cap: dict[str, Any] = {
        "format": "evidence-capture/1",
        "requested_url": PAGE,
        "final_url": PAGE,
        "status": 200,
        "http_error": False,
        "page_title": "Item 42",
        "started_at": iso(start),
        "finished_at": iso(end),
        "options": {"case": "K-7", "operator": "tester"},
        "warnings": [],
    }
    cap.update(facts or {})
    (d / "capture.json").write_bytes(capture_json or (json.dumps(cap, indent=2, sort_keys=True) + "\n").encode())
    env = environment_json or b'{"browser": {"version": "none (hand-made)"}, "os": {"platform": "test"}}\n'
    (d / "environment.json").write_bytes(env)
    return d


def new_log(root: Path, origin: str = "vchecks.test/log") -> Log:
    log = Log.create(root / "log", origin=origin)
    log.append([b"an earlier entry"])
    return log


def sealed(root: Path, log: Log, *, tsas: Sequence[TSAConfig] = (), name: str = "b.wacz", **kw: Any) -> Path:
    """Seal a hand-made capture (``capture_dir`` arguments) with the real writer."""
    d = capture_dir(root, **kw)
    return seal(d, log, root / "out", name=name, tsas=tsas).path


def policy_text(log: Log, *extra: str, tsa_lines: str = "") -> str:
    lines = [f"log {log.verifier.vkey()}", f"witness log-clock {log.timestamp_verifier.vkey()}", *extra]
    if not any(x.startswith("quorum") for x in extra):
        lines.append("quorum none")
    return "\n".join(lines) + "\n" + tsa_lines


def resign(
    src: Path,
    dest: Path,
    log: Log,
    *,
    clock: int,
    witnesses: Sequence[tuple[Signer, int]] = (),
    tsas: Sequence[TSAConfig] = (),
    extra: bytes | None = None,
) -> Path:
    """The bundle with its checkpoint re-signed by the log's own keys at ``clock`` (seconds),
    cosigned by ``witnesses`` at their times, time-stamped by ``tsas``; proof ``extra`` set."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from evidence.report import render_report, render_verify_txt
    from evidence.timestamp import request_timestamp

    files = members(src)
    proof = TlogProof.parse(files[PROOF_PATH])
    note = Note.parse(proof.checkpoint_note)
    log_signer, clock_signer = log._load_signers()
    msg = note.text_bytes
    sigs = [log_signer.signature_line(msg), clock_signer.signature_line(msg, clock)]
    sigs += [w.signature_line(msg, t) for w, t in witnesses]
    note_bytes = Note(note.text, tuple(sigs)).to_bytes()
    out = {n: d for n, d in files.items() if not (TOKEN_RE.match(n) or TSA_CERT_RE.match(n))}
    out[PROOF_PATH] = TlogProof(proof.index, proof.hashes, note_bytes, extra).to_bytes()
    out[NOTE_PATH] = note_bytes
    for k, tsa in enumerate(tsas, start=1):
        token = request_timestamp(note_bytes, tsa)
        out[f"evidence/checkpoint.{k}.tsr"] = token.der
        out[f"evidence/tsa-{k}.pem"] = b"".join(c.public_bytes(Encoding.PEM) for c in token.embedded_certificates())
    view = BundleView.from_members([Member(n, d) for n, d in out.items()])
    out[REPORT_PATH] = render_report(view)
    out[VERIFY_PATH] = render_verify_txt(view)
    return _write(dest, _repackage(out, files[DATAPACKAGE]))


def _write(dest: Path, files: dict[str, bytes]) -> Path:
    from evidence.bundle.format import member_order

    order = sorted((n for n in files if n not in (DATAPACKAGE, DATAPACKAGE_DIGEST)), key=member_order)
    write_zip(dest, [Member(n, files[n]) for n in [*order, DATAPACKAGE, DATAPACKAGE_DIGEST]])
    return dest


def with_package(
    src: Path,
    dest: Path,
    edit: Callable[[dict[str, Any]], None] | None = None,
    *,
    raw: bytes | None = None,
    digest_raw: bytes | None = None,
) -> Path:
    """The bundle with datapackage.json edited (or replaced by ``raw``) and its digest recomputed
    (or replaced by ``digest_raw``): what anyone can do without touching the seal."""
    files = members(src)
    if raw is None:
        pkg = json.loads(files[DATAPACKAGE])
        if edit is not None:
            edit(pkg)
        raw = (json.dumps(pkg, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
    files[DATAPACKAGE] = raw
    files[DATAPACKAGE_DIGEST] = digest_raw if digest_raw is not None else datapackage_digest(raw)
    return _write(dest, files)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def failed_at(report: Any, step: int, name: str, *words: str) -> None:
    """The report is FAILED at ``step``, naming ``name`` (a file) and saying ``words``."""
    from evidence.verify import Verdict

    text = report.render_text()
    failed = report.failed_step
    assert report.verdict is Verdict.FAILED, text
    assert report.exit_code == 1
    assert failed is not None and failed.number == step, text
    assert len(report.steps) == step, text  # fail closed
    assert name in failed.files or name in failed.detail, text
    for w in words:
        assert w in failed.detail, text
    assert f"FAILED at step {step}" in text


def now() -> datetime:
    return datetime.now(UTC)


def reseal_manifest(src: Path, dest: Path, log: Log, edit: Callable[[bytes], bytes]) -> Path:
    """The bundle with its manifest's raw bytes edited and sealed into ``log`` again, so that
    the seal, the entry and the proof all hold (report and VERIFY.txt are kept as they were)."""
    from evidence.bundle import MANIFEST_PATH, log_entry

    files = members(src)
    manifest = edit(files[MANIFEST_PATH])
    [index] = log.append([log_entry(manifest)])
    proof = log.prove(index, log.checkpoint().checkpoint.size)
    out = {n: d for n, d in files.items() if not (TOKEN_RE.match(n) or TSA_CERT_RE.match(n))}
    out[MANIFEST_PATH] = manifest
    out[PROOF_PATH] = proof.to_bytes()
    out[NOTE_PATH] = proof.checkpoint_note
    return _write(dest, _repackage(out, files[DATAPACKAGE]))
