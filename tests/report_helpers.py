"""Forgeries a later party can add to a bundle without touching its seal, for the report tests.

- :func:`backdated_token`: an RFC 3161 token over the bundle's checkpoint note from a
  self-made "Qualified Time-Stamping Authority", its genTime moved ``days`` into the past
  and signed again (a real ``openssl ts -reply`` token, its TSTInfo edited, re-signed with
  ``openssl cms -sign``).
- :func:`with_signature_lines`: the bundle with extra signature lines on its checkpoint
  note (in ``entry.tlog-proof`` and ``checkpoint.note`` alike), datapackage recomputed.
- :func:`pdf_text`: the text of a PDF, with ``pdftotext`` (poppler-utils).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from tsa.fixtures import start_tsa
from tsa.server import TestPKI, _der_len
from verify_helpers import members, rewrite

from evidence.bundle import NOTE_PATH, PROOF_PATH
from evidence.checkpoint import TlogProof
from evidence.note import Note, NoteSignature, add_signatures
from evidence.timestamp import request_timestamp

QUALIFIED = "Qualified Time-Stamping Authority"
_GENTIME = re.compile(rb"\x18\x0f(\d{14})Z")


def backdated_token(note: bytes, workdir: Path, *, days: int = 400, cn: str = QUALIFIED) -> tuple[bytes, dt.datetime]:
    """A granted TimeStampResp over ``note`` by a self-made TSA ``cn``, dated ``days`` back.

    Returns the DER and the (backdated) time it states.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    pki = TestPKI(workdir / "pki", cn=f"{cn} Root CA")
    tsa = start_tsa(pki, workdir / "tsa", "qualified", cn=cn)
    try:
        genuine = request_timestamp(note, tsa.config(pinned=False)).der
    finally:
        tsa.close()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        d = Path(tmp)
        (d / "in.tsr").write_bytes(genuine)

        def run(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, capture_output=True, check=True)

        run("ts", "-reply", "-in", "in.tsr", "-token_out", "-out", "token.der")
        run("cms", "-verify", "-inform", "DER", "-in", "token.der", "-noverify", "-binary", "-out", "tstinfo.der")
        info = (d / "tstinfo.der").read_bytes()
        m = _GENTIME.search(info)
        assert m is not None, "the TSTInfo has no 15-character genTime"
        when = dt.datetime.strptime(m.group(1).decode(), "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
        when -= dt.timedelta(days=days)
        info = info[: m.start(1)] + when.strftime("%Y%m%d%H%M%S").encode() + info[m.end(1) :]
        (d / "tstinfo.der").write_bytes(info)
        run(
            "cms", "-sign", "-binary", "-nodetach", "-in", "tstinfo.der",
            "-econtent_type", "1.2.840.113549.1.9.16.1.4",
            "-signer", str(tsa.issued.cert_path), "-inkey", str(tsa.issued.key_path),
            "-md", "sha256", "-nosmimecap", "-outform", "DER", "-out", "new.der",
        )  # fmt: skip
        token = (d / "new.der").read_bytes()
    body = b"\x30\x03\x02\x01\x00" + token  # PKIStatusInfo { granted }
    return b"\x30" + _der_len(len(body)) + body, when


def with_signature_lines(src: Path, dest: Path, lines: Sequence[NoteSignature]) -> Path:
    """``src`` with ``lines`` appended to its checkpoint note, in the proof and in checkpoint.note."""
    files = members(src)
    proof = TlogProof.parse(files[PROOF_PATH])
    note = add_signatures(Note.parse(proof.checkpoint_note), list(lines)).to_bytes()  # lines are not checked
    new_proof = TlogProof(proof.index, proof.hashes, note, proof.extra)
    return rewrite(src, dest, change={PROOF_PATH: new_proof.to_bytes(), NOTE_PATH: note})


def pdf_text(pdf: Path) -> str:
    """The text of a PDF (``pdftotext``, reading order), whitespace collapsed."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext is needed to read the PDF (apt-get install poppler-utils)")
    out = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True, timeout=60)
    return " ".join(out.stdout.decode("utf-8", "replace").split())


def html_text(page: bytes) -> str:
    """The visible text of an HTML page (tags dropped, entities decoded, whitespace collapsed)."""
    import html

    text = re.sub(rb"<(script|style)\b.*?</\1>", b" ", page, flags=re.S | re.I)
    text = re.sub(rb"<[^>]+>", b" ", text)
    return " ".join(html.unescape(text.decode("utf-8")).split())
